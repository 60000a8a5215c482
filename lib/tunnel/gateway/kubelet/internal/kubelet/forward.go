package kubelet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"anex.local/kubelet/internal/forward"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The forward route (docs/adr/0024-services-reach-anex-pods.md): a forwarder pod
// `anex-fwd-<uid>` (`anex-kubelet forward`, internal/forward) sends
//
//	POST /forward/<uid>/<port>   Connection: Upgrade, Upgrade: anex-tcp/1, Authorization: Bearer <token>
//
// and gets 101 and the raw byte stream to the pod's port through the agent's
// /v1/port-forward. It is not a kubelet path and does not go through nodes/proxy: only the
// forwarder ServiceAccount's tokens, bound to the audience and to the forwarder pod of that
// very uid, open it. Answers: 401 missing, refused or wrongly-bound token; 403 another
// identity or another pod's forwarder, the route unconfigured, or the agent refusing the
// port (an undeclared one); 400 a bad port or no upgrade; 404 no machine for the uid;
// 502 the agent unreachable; 503 the API server or the peer list unavailable.

// PodNameExtra is the TokenReview extra naming the pod a projected token is bound to.
const PodNameExtra = "authentication.kubernetes.io/pod-name"

// ForwarderPodPrefix + uid is the forwarder pod's name (lib/reconcile/forwarders.ts).
const ForwarderPodPrefix = "anex-fwd-"

// ForwarderAuth authenticates forwarder pods: a bearer token reviewed with the audience,
// whose user is the forwarder ServiceAccount and whose pod is the uid's forwarder.
type ForwarderAuth struct {
	Kube kubernetes.Interface
	// ServiceAccount is "<namespace>/<name>"; empty: every request is refused.
	ServiceAccount string
	Audience       string
	// TokenTTL caches a successful review (keyed by the token's hash and the audience).
	TokenTTL time.Duration
	Now      func() time.Time

	cache ttlCache[*User]
}

// ParseServiceAccount splits "<namespace>/<name>".
func ParseServiceAccount(s string) (namespace, name string, err error) {
	namespace, name, ok := strings.Cut(s, "/")
	if !ok || namespace == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("%q is not <namespace>/<name>", s)
	}
	return namespace, name, nil
}

func (a *ForwarderAuth) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// forwardRefusal is an answer of the route other than 101.
type forwardRefusal struct {
	status  int
	message string
}

func (e *forwardRefusal) Error() string { return e.message }

func refuse(status int, format string, args ...any) *forwardRefusal {
	return &forwardRefusal{status: status, message: fmt.Sprintf(format, args...)}
}

// Check admits the request for the uid or says why not (*forwardRefusal).
func (a *ForwarderAuth) Check(r *http.Request, uid string) error {
	if a == nil || a.ServiceAccount == "" {
		return refuse(http.StatusForbidden, "Forbidden: forwarding is not configured here (no --forwarder-service-account and no $POD_NAMESPACE)")
	}
	namespace, name, err := ParseServiceAccount(a.ServiceAccount)
	if err != nil {
		return refuse(http.StatusForbidden, "Forbidden: --forwarder-service-account %v", err)
	}
	token, ok := bearer(r)
	if !ok {
		return refuse(http.StatusUnauthorized, "Unauthorized: no bearer token (the forward route takes a forwarder's ServiceAccount token)")
	}
	user, err := a.review(r.Context(), token)
	if err != nil {
		return err
	}
	want := "system:serviceaccount:" + namespace + ":" + name
	if user.Name != want {
		return refuse(http.StatusForbidden, "Forbidden: user %q is not the forwarder ServiceAccount %s", user.Name, want)
	}
	pods := user.Extra[PodNameExtra]
	if len(pods) != 1 || pods[0] != ForwarderPodPrefix+uid {
		got := "no pod"
		if len(pods) > 0 {
			got = "pod " + strings.Join(pods, ",")
		}
		return refuse(http.StatusForbidden, "Forbidden: the token is bound to %s, not to %s%s (a forwarder reaches only its own pod)", got, ForwarderPodPrefix, uid)
	}
	return nil
}

func (a *ForwarderAuth) review(ctx context.Context, token string) (*User, error) {
	sum := sha256.Sum256([]byte(token))
	key := hex.EncodeToString(sum[:]) + "\x00" + a.Audience
	if user, ok := a.cache.get(key, a.now()); ok {
		return user, nil
	}
	review, err := a.Kube.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: []string{a.Audience}},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, refuse(http.StatusServiceUnavailable, "cannot authenticate the request: TokenReview failed: %v", err)
	}
	if !review.Status.Authenticated {
		reason := review.Status.Error
		if reason == "" {
			reason = "not authenticated"
		}
		return nil, refuse(http.StatusUnauthorized, "Unauthorized: bearer token refused by TokenReview for audience %q: %s", a.Audience, reason)
	}
	// An authenticator that does not know audiences may say yes anyway; the answer must name ours.
	if !slices.Contains(review.Status.Audiences, a.Audience) {
		return nil, refuse(http.StatusUnauthorized, "Unauthorized: the token is not bound to audience %q (TokenReview: %v)", a.Audience, review.Status.Audiences)
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

func (s *Server) serveForward(w http.ResponseWriter, r *http.Request) {
	uid, portText := r.PathValue("uid"), r.PathValue("port")
	conn, err := s.openForward(r, uid, portText)
	if err != nil {
		var refused *forwardRefusal
		if !errors.As(err, &refused) {
			refused = refuse(http.StatusInternalServerError, "%v", err)
		}
		s.log().Info("forward refused", "pod", uid, "port", portText, "status", refused.status, "reason", refused.message)
		http.Error(w, refused.message, refused.status)
		return
	}
	client, buffered, err := http.NewResponseController(w).Hijack()
	if err != nil {
		_ = conn.Close()
		http.Error(w, "cannot switch protocols: "+err.Error(), http.StatusInternalServerError)
		return
	}
	// The server's header deadline may still be set on the hijacked connection.
	_ = client.SetDeadline(time.Time{})
	if _, err := buffered.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + forward.UpgradeTCP + "\r\n\r\n"); err == nil {
		err = buffered.Flush()
	}
	if err != nil {
		_ = client.Close()
		_ = conn.Close()
		return
	}
	// Bytes the forwarder sent right after its request head may sit in the reader.
	if err := conn.Splice(&forward.BufferedConn{Conn: client, Reader: buffered.Reader}); err != nil {
		s.log().Debug("forwarded connection torn down", "pod", uid, "port", portText, "error", err)
	}
}

// openForward checks the request and opens the agent's port, or says why not.
func (s *Server) openForward(r *http.Request, uid, portText string) (*PortStream, error) {
	if err := s.Forwarders.Check(r, uid); err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return nil, refuse(http.StatusBadRequest, "port %q is not a TCP port (1-65535)", portText)
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), forward.UpgradeTCP) || !headerHasToken(r.Header, "Connection", "upgrade") {
		return nil, refuse(http.StatusBadRequest, "the forward route needs Connection: Upgrade and Upgrade: %s", forward.UpgradeTCP)
	}
	vpn, ok, err := s.Endpoint.PeerAddress(r.Context(), uid)
	if err != nil {
		s.log().Warn("peer list unavailable", "error", err)
		return nil, refuse(http.StatusServiceUnavailable, "cannot read the tunnel's peer list: %v", err)
	}
	if !ok {
		return nil, refuse(http.StatusNotFound, "pod %s has no machine with a tunnel (no peer), so its port %d cannot be reached", uid, port)
	}
	// Not the request's context: it ends when the handler returns, and the stream outlives it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 40*time.Second)
	defer cancel()
	conn, err := s.Agents.OpenPort(ctx, vpn, port)
	if err != nil {
		var refused *AgentRefusal
		if errors.As(err, &refused) {
			return nil, refuse(http.StatusForbidden, "the agent of pod %s refused port %d: %s", uid, port, refused.Message)
		}
		return nil, refuse(http.StatusBadGateway, "cannot reach the agent of pod %s: %v", uid, err)
	}
	return conn, nil
}

// headerHasToken: one of the header's comma-separated values is token (case-insensitive).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}
