package kubelet

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// User is an authenticated caller, as the kubelet's authenticators describe it.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// ClientCA holds the CA bundle client certificates are verified against: --client-ca's file,
// else the `client-ca-file` of kube-system/extension-apiserver-authentication (what the
// kubelet and aggregated API servers trust), re-read by Refresh so a rotated CA is picked up.
type ClientCA struct {
	File string
	Kube kubernetes.Interface

	mu     sync.RWMutex
	pool   *x509.CertPool
	source string
}

const (
	authConfigMapNamespace = "kube-system"
	authConfigMapName      = "extension-apiserver-authentication"
	authConfigMapKey       = "client-ca-file"
)

// Refresh re-reads the bundle. On failure the previous bundle stays (a transient API error
// must not lock the API server out), and the error says why.
func (c *ClientCA) Refresh(ctx context.Context) error {
	var pem []byte
	var source string
	if c.File != "" {
		data, err := os.ReadFile(c.File)
		if err != nil {
			return fmt.Errorf("client CA: %w", err)
		}
		pem, source = data, c.File
	} else {
		cm, err := c.Kube.CoreV1().ConfigMaps(authConfigMapNamespace).Get(ctx, authConfigMapName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("client CA: ConfigMap %s/%s: %w", authConfigMapNamespace, authConfigMapName, err)
		}
		data, ok := cm.Data[authConfigMapKey]
		if !ok {
			return fmt.Errorf("client CA: ConfigMap %s/%s has no %s", authConfigMapNamespace, authConfigMapName, authConfigMapKey)
		}
		pem, source = []byte(data), "ConfigMap "+authConfigMapNamespace+"/"+authConfigMapName
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("client CA: no PEM certificate in %s", source)
	}
	c.mu.Lock()
	c.pool, c.source = pool, source
	c.mu.Unlock()
	return nil
}

// Pool is the current bundle; nil when none was ever read (client certificates then fail).
func (c *ClientCA) Pool() *x509.CertPool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.pool
}

// AuthError is a refused authentication: 401 with a message naming what was missing.
type AuthError struct{ Reason string }

func (e *AuthError) Error() string { return "Unauthorized: " + e.Reason }

// Authenticator does what the kubelet's --client-ca-file plus --authentication-token-webhook
// do: a client certificate verified against the client CA (user = CN, groups = O), else a
// bearer token checked with a TokenReview.
type Authenticator struct {
	CA   *ClientCA
	Kube kubernetes.Interface
	// TokenTTL caches a successful TokenReview (the kubelet's default is 2 minutes); 0 = no cache.
	TokenTTL time.Duration
	Now      func() time.Time

	cache ttlCache[*User]
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Authenticate names the caller of r or says why it cannot (*AuthError, or an API error).
func (a *Authenticator) Authenticate(r *http.Request) (*User, error) {
	var certProblem string
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		user, err := a.verifyCert(r.TLS.PeerCertificates)
		if err == nil {
			return user, nil
		}
		certProblem = err.Error()
	}
	token, hasToken := bearer(r)
	if !hasToken {
		if certProblem != "" {
			return nil, &AuthError{Reason: certProblem + ", and no bearer token"}
		}
		return nil, &AuthError{Reason: "no client certificate and no bearer token"}
	}
	return a.reviewToken(r.Context(), token)
}

func (a *Authenticator) verifyCert(chain []*x509.Certificate) (*User, error) {
	pool := a.CA.Pool()
	if pool == nil {
		return nil, errors.New("a client certificate, but no client CA is loaded to verify it")
	}
	intermediates := x509.NewCertPool()
	for _, c := range chain[1:] {
		intermediates.AddCert(c)
	}
	leaf := chain[0]
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         pool,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CurrentTime:   a.now(),
	})
	if err != nil {
		return nil, fmt.Errorf("client certificate %q not accepted: %v", leaf.Subject.CommonName, err)
	}
	if leaf.Subject.CommonName == "" {
		return nil, errors.New("client certificate has no common name")
	}
	return &User{Name: leaf.Subject.CommonName, Groups: append([]string(nil), leaf.Subject.Organization...)}, nil
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func (a *Authenticator) reviewToken(ctx context.Context, token string) (*User, error) {
	sum := sha256.Sum256([]byte(token))
	key := hex.EncodeToString(sum[:])
	if user, ok := a.cache.get(key, a.now()); ok {
		return user, nil
	}
	review, err := a.Kube.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("TokenReview failed: %w", err)
	}
	if !review.Status.Authenticated {
		reason := review.Status.Error
		if reason == "" {
			reason = "not authenticated"
		}
		return nil, &AuthError{Reason: "bearer token refused by TokenReview: " + reason}
	}
	u := review.Status.User
	user := &User{Name: u.Username, UID: u.UID, Groups: u.Groups, Extra: map[string][]string{}}
	for k, v := range u.Extra {
		user.Extra[k] = v
	}
	if a.TokenTTL > 0 {
		a.cache.put(key, user, a.now().Add(a.TokenTTL))
	}
	return user, nil
}

// Authorizer asks the API server, with a SubjectAccessReview, whether a user may do verb on
// nodes/<subresource> of a node (the kubelet's --authorization-mode=Webhook).
type Authorizer struct {
	Kube kubernetes.Interface
	// AllowTTL caches an allowed answer (the kubelet's default is 5 minutes); 0 = no cache.
	AllowTTL time.Duration
	Now      func() time.Time

	cache ttlCache[bool]
}

// Decision is one SubjectAccessReview's answer.
type Decision struct {
	Allowed bool
	Reason  string
}

func (z *Authorizer) now() time.Time {
	if z.Now != nil {
		return z.Now()
	}
	return time.Now()
}

// Authorize reviews verb on nodes/<subresource> named node for u.
func (z *Authorizer) Authorize(ctx context.Context, u *User, verb, node, subresource string) (Decision, error) {
	groups := append([]string(nil), u.Groups...)
	sort.Strings(groups)
	key := strings.Join([]string{u.Name, u.UID, strings.Join(groups, ","), fmt.Sprint(u.Extra), verb, node, subresource}, "\x00")
	if _, ok := z.cache.get(key, z.now()); ok {
		return Decision{Allowed: true}, nil
	}
	extra := map[string]authorizationv1.ExtraValue{}
	for k, v := range u.Extra {
		extra[k] = v
	}
	sar, err := z.Kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   u.Name,
			UID:    u.UID,
			Groups: u.Groups,
			Extra:  extra,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb:        verb,
				Version:     "v1",
				Resource:    "nodes",
				Subresource: subresource,
				Name:        node,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		if apierrors.IsForbidden(err) {
			return Decision{}, fmt.Errorf("SubjectAccessReview refused to anex-kubelet (does its ServiceAccount have system:auth-delegator?): %w", err)
		}
		return Decision{}, fmt.Errorf("SubjectAccessReview failed: %w", err)
	}
	d := Decision{Allowed: sar.Status.Allowed && !sar.Status.Denied, Reason: sar.Status.Reason}
	if d.Allowed && z.AllowTTL > 0 {
		z.cache.put(key, true, z.now().Add(z.AllowTTL))
	}
	return d, nil
}

// ttlCache is a small map with expiry; entries are dropped when read expired and swept
// when it grows, so a stream of distinct tokens cannot grow it without bound.
type ttlCache[V any] struct {
	mu      sync.Mutex
	entries map[string]ttlEntry[V]
}

type ttlEntry[V any] struct {
	value   V
	expires time.Time
}

const ttlCacheMax = 4096

func (c *ttlCache[V]) get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !now.Before(e.expires) {
		delete(c.entries, key)
		var zero V
		return zero, false
	}
	return e.value, true
}

func (c *ttlCache[V]) put(key string, value V, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]ttlEntry[V]{}
	}
	if len(c.entries) >= ttlCacheMax {
		now := time.Now()
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= ttlCacheMax {
			clear(c.entries)
		}
	}
	c.entries[key] = ttlEntry[V]{value: value, expires: expires}
}

// verbFor is the kubelet's mapping of an HTTP method to an API verb.
func verbFor(method string) string {
	switch method {
	case http.MethodPost:
		return "create"
	case http.MethodGet, http.MethodHead:
		return "get"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return ""
}

// subresourcesFor is the kubelet's mapping of a path to the nodes subresources it checks, in
// order, the first allowed one sufficing (pkg/kubelet/server/auth.go with
// KubeletFineGrainedAuthz: /runningpods/ is nodes/pods, falling back to nodes/proxy).
func subresourcesFor(path string) []string {
	switch {
	case isSubpath(path, "/runningpods"):
		return []string{"pods", "proxy"}
	case isSubpath(path, "/stats"):
		return []string{"stats"}
	case isSubpath(path, "/metrics"):
		return []string{"metrics"}
	case isSubpath(path, "/logs"):
		return []string{"log"}
	}
	return []string{"proxy"}
}

func isSubpath(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}
