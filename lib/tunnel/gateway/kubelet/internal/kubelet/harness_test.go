package kubelet

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"anex.local/agent-build/agent/pkg/agentapi"
	"anex.local/kubelet/internal/forward"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// testCA is a CA with the key to sign client certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// clientCert issues a client certificate (PEM cert, PEM key) for user cn in groups.
func (ca *testCA) clientCert(t *testing.T, cn string, groups ...string) ([]byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn, Organization: groups},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// sarCall is one SubjectAccessReview the fake API server answered.
type sarCall struct {
	User, Verb, Node, Subresource string
}

// fakeAPI is an httptest API server answering what anex-kubelet asks: pods (get, list by
// node), nodes by label, TokenReviews, SubjectAccessReviews and the client CA ConfigMap.
type fakeAPI struct {
	mu     sync.Mutex
	pods   []corev1.Pod
	nodes  []corev1.Node
	tokens map[string]authenticationv1.UserInfo
	// allow decides a SubjectAccessReview
	allow func(c sarCall) bool
	sars  []sarCall
	// audiences a token is bound to (default: the API server's, apiAudience); a lax token's
	// authenticator ignores the audiences asked for, as one that does not know them may.
	audiences map[string][]string
	lax       map[string]bool
	// reviews holds each TokenReview's spec.audiences
	reviews [][]string
	caPEM   []byte
	server  *httptest.Server
}

func (f *fakeAPI) calls() []sarCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sarCall(nil), f.sars...)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method == http.MethodPost && r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "fake API server reads JSON only, not "+r.Header.Get("Content-Type"), http.StatusUnsupportedMediaType)
		return
	}
	write := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	notFound := func(kind, name string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		write(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure", Reason: metav1.StatusReasonNotFound, Code: 404, Message: fmt.Sprintf("%s %q not found", kind, name), Details: &metav1.StatusDetails{Name: name, Kind: kind}})
	}
	switch {
	case r.Method == http.MethodGet && len(parts) == 6 && parts[2] == "namespaces" && parts[4] == "pods":
		for _, p := range f.pods {
			if p.Namespace == parts[3] && p.Name == parts[5] {
				write(p)
				return
			}
		}
		notFound("pods", parts[5])
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/pods":
		node := strings.TrimPrefix(r.URL.Query().Get("fieldSelector"), "spec.nodeName=")
		list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}}
		for _, p := range f.pods {
			if p.Spec.NodeName == node {
				list.Items = append(list.Items, p)
			}
		}
		write(list)
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/nodes":
		write(corev1.NodeList{TypeMeta: metav1.TypeMeta{Kind: "NodeList", APIVersion: "v1"}, Items: f.nodes})
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication":
		if f.caPEM == nil {
			notFound("configmaps", "extension-apiserver-authentication")
			return
		}
		write(corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "extension-apiserver-authentication", Namespace: "kube-system"}, Data: map[string]string{"client-ca-file": string(f.caPEM)}})
	case r.Method == http.MethodPost && r.URL.Path == "/apis/authentication.k8s.io/v1/tokenreviews":
		var review authenticationv1.TokenReview
		_ = json.NewDecoder(r.Body).Decode(&review)
		f.reviews = append(f.reviews, review.Spec.Audiences)
		review.Status = f.review(review.Spec)
		write(review)
	case r.Method == http.MethodPost && r.URL.Path == "/apis/authorization.k8s.io/v1/subjectaccessreviews":
		var sar authorizationv1.SubjectAccessReview
		_ = json.NewDecoder(r.Body).Decode(&sar)
		a := sar.Spec.ResourceAttributes
		call := sarCall{User: sar.Spec.User, Verb: a.Verb, Node: a.Name, Subresource: a.Subresource}
		if a.Resource != "nodes" || a.Version != "v1" {
			http.Error(w, "unexpected resource "+a.Resource, http.StatusBadRequest)
			return
		}
		f.sars = append(f.sars, call)
		sar.Status.Allowed = f.allow(call)
		if !sar.Status.Allowed {
			sar.Status.Reason = fmt.Sprintf("no RBAC policy matched %s on nodes/%s", call.User, call.Subresource)
		}
		write(sar)
	default:
		http.Error(w, "fake API server: no route "+r.Method+" "+r.URL.String(), http.StatusNotFound)
	}
}

// apiAudience is the API server's own audience (--api-audiences), which a token without
// another binding has.
const apiAudience = "https://kubernetes.default.svc"

// review answers a TokenReview as the API server does: an audience-bound token is
// authenticated only for a requested audience it is bound to, and status.audiences is the
// intersection (the token's audiences when none is requested).
func (f *fakeAPI) review(spec authenticationv1.TokenReviewSpec) authenticationv1.TokenReviewStatus {
	u, ok := f.tokens[spec.Token]
	if !ok {
		return authenticationv1.TokenReviewStatus{Error: "invalid bearer token"}
	}
	bound := f.audiences[spec.Token]
	if bound == nil {
		bound = []string{apiAudience}
	}
	granted := bound
	if len(spec.Audiences) > 0 && !f.lax[spec.Token] {
		granted = nil
		for _, a := range spec.Audiences {
			if slices.Contains(bound, a) {
				granted = append(granted, a)
			}
		}
	}
	if len(granted) == 0 {
		return authenticationv1.TokenReviewStatus{Error: fmt.Sprintf("invalid bearer token, token audiences %q is invalid for the target audiences %q", bound, spec.Audiences)}
	}
	return authenticationv1.TokenReviewStatus{Authenticated: true, User: u, Audiences: granted}
}

// fakeEndpoint is the agent endpoint: the peer list and saved log tails, behind the token.
type fakeEndpoint struct {
	token string
	mu    sync.Mutex
	peers map[string]string
	// tails by "uid/container/previous"
	tails map[string]StoredTail
}

func (f *fakeEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/v1/peers":
		type peer struct {
			PublicKey string   `json:"publicKey"`
			Address   string   `json:"address"`
			PodUID    string   `json:"podUid"`
			Allow     []string `json:"allow"`
		}
		list := struct {
			Peers []peer `json:"peers"`
		}{Peers: []peer{}}
		for uid, addr := range f.peers {
			list.Peers = append(list.Peers, peer{PublicKey: "k", Address: addr, PodUID: uid, Allow: []string{}})
		}
		_ = json.NewEncoder(w).Encode(list)
	case "/v1/logs":
		q := r.URL.Query()
		tail, ok := f.tails[q.Get("pod")+"/"+q.Get("container")+"/"+q.Get("previous")]
		if !ok {
			http.Error(w, `{"error":"no log tail saved"}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(tail)
	default:
		http.NotFound(w, r)
	}
}

// fakeAgent is the agent API of one machine: logs, exec (running the command here), a
// port-forward to an echo on port 8080 only, stats.
type fakeAgent struct {
	mu        sync.Mutex
	logQuery  []string
	followGap time.Duration
	// rawOnly: an agent from before the framed port-forward stream (it answers 426 to
	// anex-tcp/2, as the real agent's upgrade check does for a token it does not know).
	rawOnly atomic.Bool
}

// portConn switches to the port-forward protocol the request asks for and returns the plain
// byte stream of the pod's port as the agent's server sees it: the raw connection, or for
// the framed stream one end of a loopback TCP pair whose other end is spliced with the
// frames by the agent API's own codec (half-closes included). The reader holds bytes that
// came with the request.
func (a *fakeAgent) portConn(w http.ResponseWriter, r *http.Request) (net.Conn, *bufio.Reader, bool) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), agentapi.UpgradeTCPFramed) {
		conn, buf := switchProtocols(w, agentapi.UpgradeTCP)
		return conn, buf.Reader, true
	}
	if a.rawOnly.Load() {
		w.Header().Set("Upgrade", agentapi.UpgradeTCP)
		http.Error(w, "this route needs Upgrade: "+agentapi.UpgradeTCP, http.StatusUpgradeRequired)
		return nil, nil, false
	}
	conn, buf := switchProtocols(w, agentapi.UpgradeTCPFramed)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	inner, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	server := <-accepted
	go func() {
		_ = agentapi.SpliceFramed(inner, &forward.BufferedConn{Conn: conn, Reader: buf.Reader})
	}()
	return server, bufio.NewReader(server), true
}

func (a *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case agentapi.PathLogs:
		a.mu.Lock()
		a.logQuery = append(a.logQuery, r.URL.RawQuery)
		a.mu.Unlock()
		_, _ = io.WriteString(w, "live line 1\n")
		if r.URL.Query().Get(agentapi.QueryFollow) == "true" {
			http.NewResponseController(w).Flush()
			time.Sleep(a.followGap)
			_, _ = io.WriteString(w, "live line 2\n")
		}
	case agentapi.PathStats:
		_, _ = io.WriteString(w, `{"time":"2026-12-04T10:00:00Z","cpu":{"usageCoreSeconds":9.5},"memory":{"workingSetBytes":1048576,"machineTotalBytes":8589934592,"machineAvailableBytes":4294967296}}`)
	case agentapi.PathExec:
		a.exec(w, r)
	case agentapi.PathPortForward:
		switch port := r.URL.Query().Get(agentapi.QueryPort); port {
		case "8080": // answers a line
			conn, buf, ok := a.portConn(w, r)
			if !ok {
				return
			}
			defer conn.Close()
			line, _ := buf.ReadString('\n')
			_, _ = io.WriteString(conn, "pong "+line)
		case "9000": // answers after the client's EOF: everything it sent, upper-cased
			conn, buf, ok := a.portConn(w, r)
			if !ok {
				return
			}
			defer conn.Close()
			all, _ := io.ReadAll(buf)
			_, _ = conn.Write(bytes.ToUpper(all))
		default:
			http.Error(w, "port "+port+" is not a containerPort of the pod", http.StatusForbidden)
		}
	default:
		http.NotFound(w, r)
	}
}

func switchProtocols(w http.ResponseWriter, protocol string) (net.Conn, *bufio.ReadWriter) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + protocol + "\r\n\r\n")
	_ = buf.Flush()
	return conn, buf
}

type frameWriter struct {
	send    func(byte, []byte) error
	channel byte
}

func (f frameWriter) Write(p []byte) (int, error) {
	if err := f.send(f.channel, append([]byte(nil), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// exec runs the command on this machine and speaks anex-stream/1 as the agent does.
func (a *fakeAgent) exec(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != agentapi.UpgradeStream {
		http.Error(w, "upgrade to "+agentapi.UpgradeStream+" needed", http.StatusBadRequest)
		return
	}
	// As the agent: the app container is the unnamed one; the machine runs no other here.
	if c := r.URL.Query().Get(agentapi.QueryContainer); c != "" {
		http.Error(w, "container "+c+" not found (containers: the app container)", http.StatusNotFound)
		return
	}
	argv := r.URL.Query()[agentapi.QueryCommand]
	withStdin := r.URL.Query().Get(agentapi.QueryStdin) == "true"
	conn, buf := switchProtocols(w, agentapi.UpgradeStream)
	defer conn.Close()
	var mu sync.Mutex
	send := func(ch byte, p []byte) error {
		mu.Lock()
		defer mu.Unlock()
		return agentapi.WriteFrame(conn, ch, p)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = frameWriter{send, agentapi.ChannelStdout}
	cmd.Stderr = frameWriter{send, agentapi.ChannelStderr}
	stdin, _ := cmd.StdinPipe()
	if !withStdin {
		stdin.Close()
	}
	go func() {
		for {
			ch, p, err := agentapi.ReadFrame(buf.Reader)
			if err != nil {
				return
			}
			switch ch {
			case agentapi.ChannelStdin:
				_, _ = stdin.Write(p)
			case agentapi.ChannelStdinClosed:
				stdin.Close()
			}
		}
	}()
	code := 0
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			payload, _ := json.Marshal(agentapi.Status{Error: err.Error()})
			_ = send(agentapi.ChannelStatus, payload)
			return
		}
		code = exit.ExitCode()
	}
	payload, _ := json.Marshal(agentapi.Status{ExitCode: &code})
	_ = send(agentapi.ChannelStatus, payload)
}

// recordingDialer dials the fake agent whatever the address, recording it.
type recordingDialer struct {
	target string
	mu     sync.Mutex
	dialed []string
	refuse map[string]bool
}

func (d *recordingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	d.dialed = append(d.dialed, address)
	refuse := d.refuse[address]
	d.mu.Unlock()
	if refuse {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("no route to host")}
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, d.target)
}

func (d *recordingDialer) addresses() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dialed...)
}

// ground is one anex-kubelet with its fake API server, endpoint and agent.
type ground struct {
	api      *fakeAPI
	endpoint *fakeEndpoint
	agent    *fakeAgent
	dialer   *recordingDialer
	kubelet  *httptest.Server
	ca       *testCA
	server   *Server
}

const (
	nodeName = "anex-vast"
	gpuUID   = "11111111-1111-1111-1111-111111111111"
	goneUID  = "22222222-2222-2222-2222-222222222222"
	noneUID  = "33333333-3333-3333-3333-333333333333"
	otherUID = "44444444-4444-4444-4444-444444444444"
)

func testPod(name, uid, node string, phase corev1.PodPhase) corev1.Pod {
	return corev1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(uid), CreationTimestamp: metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))},
		Spec: corev1.PodSpec{
			NodeName:       node,
			InitContainers: []corev1.Container{{Name: "setup", Image: "busybox"}},
			Containers:     []corev1.Container{{Name: "app", Image: "vllm/vllm-openai", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}},
		},
		Status: corev1.PodStatus{Phase: phase},
	}
}

// forwarderSAUser is the forwarder ServiceAccount the ground's anex-kubelet accepts.
const forwarderSAUser = "system:serviceaccount:anex:anex-forwarder"

// forwarderUser is what TokenReview says of the projected token of uid's forwarder pod.
func forwarderUser(uid string) authenticationv1.UserInfo {
	return authenticationv1.UserInfo{
		Username: forwarderSAUser,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:anex"},
		Extra: map[string]authenticationv1.ExtraValue{
			PodNameExtra:                           {ForwarderPodPrefix + uid},
			"authentication.kubernetes.io/pod-uid": {"f0f0f0f0-" + uid[9:]},
		},
	}
}

func newGround(t *testing.T) *ground {
	t.Helper()
	g := &ground{ca: newTestCA(t, "cluster-client-ca")}
	g.api = &fakeAPI{
		pods: []corev1.Pod{
			testPod("gpu", gpuUID, nodeName, corev1.PodRunning),
			testPod("gone", goneUID, nodeName, corev1.PodSucceeded),
			testPod("no-tunnel", noneUID, nodeName, corev1.PodRunning),
			testPod("elsewhere", otherUID, "kind-worker", corev1.PodRunning),
		},
		nodes: []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: nodeName}}},
		tokens: map[string]authenticationv1.UserInfo{
			"admin-token":    {Username: "admin", Groups: []string{"system:masters"}},
			"reader-token":   {Username: "system:serviceaccount:default:reader", Groups: []string{"system:serviceaccounts"}},
			"stats-sa-token": {Username: "system:serviceaccount:kube-system:metrics-server"},
			// forwarders' projected tokens (audience anex-kubelet, bound to their pod)
			"fwd-gpu":         forwarderUser(gpuUID),
			"fwd-gpu-rotated": forwarderUser(gpuUID),
			"fwd-gone":        forwarderUser(goneUID),
			"fwd-none":        forwarderUser(noneUID),
			"fwd-no-pod":      {Username: forwarderSAUser},
			"fwd-api-aud":     forwarderUser(gpuUID),
			"fwd-lax":         forwarderUser(gpuUID),
			"reader-fwd-aud":  {Username: "system:serviceaccount:default:reader"},
		},
		audiences: map[string][]string{
			"fwd-gpu": {"anex-kubelet"}, "fwd-gpu-rotated": {"anex-kubelet"}, "fwd-gone": {"anex-kubelet"},
			"fwd-none": {"anex-kubelet"}, "fwd-no-pod": {"anex-kubelet"}, "reader-fwd-aud": {"anex-kubelet"},
		},
		lax: map[string]bool{"fwd-lax": true},
		allow: func(c sarCall) bool {
			switch c.User {
			case "admin", "system:kube-apiserver":
				return true
			case "system:serviceaccount:kube-system:metrics-server":
				return c.Subresource == "stats" || c.Subresource == "metrics"
			}
			return false
		},
		caPEM: g.ca.pem,
	}
	g.api.server = httptest.NewServer(g.api)
	t.Cleanup(g.api.server.Close)

	tokenFile := filepath.Join(t.TempDir(), "peers-token")
	if err := os.WriteFile(tokenFile, []byte("gateway-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g.endpoint = &fakeEndpoint{token: "gateway-secret", peers: map[string]string{gpuUID: "10.99.0.7", goneUID: "10.99.0.8"}, tails: map[string]StoredTail{}}
	endpoint := httptest.NewServer(g.endpoint)
	t.Cleanup(endpoint.Close)

	g.agent = &fakeAgent{followGap: 200 * time.Millisecond}
	agent := httptest.NewServer(g.agent)
	t.Cleanup(agent.Close)
	g.dialer = &recordingDialer{target: agent.Listener.Addr().String(), refuse: map[string]bool{"10.99.0.8:10250": true}}

	// JSON, so the fake can read the reviews (client-go may prefer a binary encoding).
	kube := kubernetes.NewForConfigOrDie(&rest.Config{Host: g.api.server.URL, ContentConfig: rest.ContentConfig{ContentType: "application/json"}})
	ca := &ClientCA{Kube: kube}
	if err := ca.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.server = &Server{
		Kube:     kube,
		Nodes:    &LabelledNodes{Kube: kube, Selector: DefaultNodeSelector},
		Endpoint: &Endpoint{URL: endpoint.URL, TokenFile: tokenFile, PeersTTL: time.Nanosecond},
		Agents:   &Agents{Dialer: g.dialer},
		Authn:    &Authenticator{CA: ca, Kube: kube},
		Authz:    &Authorizer{Kube: kube},
		Forwarders: &ForwarderAuth{
			Kube: kube, ServiceAccount: "anex/anex-forwarder", Audience: "anex-kubelet",
		},
	}
	cert, err := SelfSignedCert([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	g.kubelet = httptest.NewUnstartedServer(g.server.Handler())
	g.kubelet.TLS = ServerTLS(cert)
	g.kubelet.StartTLS()
	t.Cleanup(g.kubelet.Close)
	return g
}

// restConfig is a client of the kubelet API with the API server's client certificate.
func (g *ground) restConfig(t *testing.T) *rest.Config {
	certPEM, keyPEM := g.ca.clientCert(t, "system:kube-apiserver", "system:masters")
	return &rest.Config{Host: g.kubelet.URL, TLSClientConfig: rest.TLSClientConfig{Insecure: true, CertData: certPEM, KeyData: keyPEM}}
}

// client is an HTTPS client with an optional client certificate.
func (g *ground) client(certPEM, keyPEM []byte) *http.Client {
	cfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test kubelet's certificate is self-signed
	if certPEM != nil {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			panic(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}

// get sends GET path with the admin token and returns status and body.
func (g *ground) get(t *testing.T, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, g.kubelet.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := g.client(nil, nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func mustParseCert(t *testing.T, certPEM []byte) []*x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return []*x509.Certificate{cert}
}
