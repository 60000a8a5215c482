package kubelet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"anex.local/kubelet/internal/forward"
)

// postForward sends POST /forward/<path> to the ground's anex-kubelet as a forwarder does
// (without the splice) and returns the status and body of a refusal.
func (g *ground) postForward(t *testing.T, path, token string, upgrade bool) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.kubelet.URL+"/forward/"+path, nil)
	if upgrade {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", forward.UpgradeTCP)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := g.client(nil, nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// The forward route's refusals, each with its status and a line saying why. None asks a
// SubjectAccessReview: the route is not nodes/proxy, and an admin token opens nothing.
func TestForwardRouteRefusals(t *testing.T) {
	g := newGround(t)
	cases := []struct {
		name, path, token string
		noUpgrade         bool
		want              int
		wantBody          string
	}{
		{name: "no token", path: gpuUID + "/8080", want: 401, wantBody: "Unauthorized: no bearer token"},
		{name: "a token TokenReview refuses", path: gpuUID + "/8080", token: "forged", want: 401, wantBody: `bearer token refused by TokenReview for audience "anex-kubelet": invalid bearer token`},
		{name: "the forwarder's token for the API server's audience", path: gpuUID + "/8080", token: "fwd-api-aud", want: 401, wantBody: `token audiences ["https://kubernetes.default.svc"] is invalid for the target audiences ["anex-kubelet"]`},
		{name: "an authenticator that ignores the audience", path: gpuUID + "/8080", token: "fwd-lax", want: 401, wantBody: `the token is not bound to audience "anex-kubelet" (TokenReview: [https://kubernetes.default.svc])`},
		{name: "a cluster admin's token (not for the audience)", path: gpuUID + "/8080", token: "admin-token", want: 401, wantBody: `is invalid for the target audiences ["anex-kubelet"]`},
		{name: "another ServiceAccount with the audience", path: gpuUID + "/8080", token: "reader-fwd-aud", want: 403, wantBody: `Forbidden: user "system:serviceaccount:default:reader" is not the forwarder ServiceAccount system:serviceaccount:anex:anex-forwarder`},
		{name: "another pod's forwarder", path: gpuUID + "/8080", token: "fwd-gone", want: 403, wantBody: "Forbidden: the token is bound to pod anex-fwd-" + goneUID + ", not to anex-fwd-" + gpuUID + " (a forwarder reaches only its own pod)"},
		{name: "a forwarder token bound to no pod", path: gpuUID + "/8080", token: "fwd-no-pod", want: 403, wantBody: "the token is bound to no pod, not to anex-fwd-" + gpuUID},
		{name: "port 0", path: gpuUID + "/0", token: "fwd-gpu", want: 400, wantBody: `port "0" is not a TCP port (1-65535)`},
		{name: "port 70000", path: gpuUID + "/70000", token: "fwd-gpu", want: 400, wantBody: `port "70000" is not a TCP port`},
		{name: "a port name", path: gpuUID + "/http", token: "fwd-gpu", want: 400, wantBody: `port "http" is not a TCP port`},
		{name: "no upgrade", path: gpuUID + "/8080", token: "fwd-gpu", noUpgrade: true, want: 400, wantBody: "the forward route needs Connection: Upgrade and Upgrade: anex-tcp/1"},
		{name: "a pod without a peer", path: noneUID + "/8080", token: "fwd-none", want: 404, wantBody: "pod " + noneUID + " has no machine with a tunnel (no peer), so its port 8080 cannot be reached"},
		{name: "a port the pod did not declare", path: gpuUID + "/9999", token: "fwd-gpu", want: 403, wantBody: "the agent of pod " + gpuUID + " refused port 9999: port 9999 is not a containerPort of the pod"},
		{name: "an unreachable agent", path: goneUID + "/8080", token: "fwd-gone", want: 502, wantBody: "cannot reach the agent of pod " + goneUID + ": agent unreachable at 10.99.0.8:10250"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := g.postForward(t, tc.path, tc.token, !tc.noUpgrade)
			if status != tc.want || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("got %d %q, want %d containing %q", status, body, tc.want, tc.wantBody)
			}
			if tc.token != "" && strings.Contains(body, tc.token) {
				t.Fatalf("the answer %q repeats the token", body)
			}
		})
	}
	if calls := g.api.calls(); len(calls) != 0 {
		t.Fatalf("the forward route asked SubjectAccessReviews %v; it must not go through nodes/proxy", calls)
	}
	g.api.mu.Lock()
	defer g.api.mu.Unlock()
	for _, audiences := range g.api.reviews {
		if len(audiences) != 1 || audiences[0] != "anex-kubelet" {
			t.Fatalf("a TokenReview asked for audiences %v, want [anex-kubelet]", audiences)
		}
	}
}

// Without a forwarder ServiceAccount (no flag, no $POD_NAMESPACE) the route refuses everyone,
// saying why, before any TokenReview.
func TestForwardRouteUnconfigured(t *testing.T) {
	g := newGround(t)
	for _, auth := range []*ForwarderAuth{nil, {Kube: g.server.Kube, Audience: "anex-kubelet"}} {
		s := &Server{Kube: g.server.Kube, Nodes: g.server.Nodes, Endpoint: g.server.Endpoint, Agents: g.server.Agents, Authn: g.server.Authn, Authz: g.server.Authz, Forwarders: auth}
		req := httptest.NewRequest(http.MethodPost, "/forward/"+gpuUID+"/8080", nil)
		req.Header.Set("Authorization", "Bearer fwd-gpu")
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != 403 || !strings.Contains(rec.Body.String(), "forwarding is not configured here (no --forwarder-service-account and no $POD_NAMESPACE)") {
			t.Fatalf("got %d %q", rec.Code, rec.Body.String())
		}
	}
	if len(g.api.reviews) != 0 {
		t.Fatalf("TokenReviews %v for an unconfigured route", g.api.reviews)
	}
}

// A successful review is cached by the token's hash and the audience, as the Authenticator
// caches; identity and pod are still checked on every request.
func TestForwarderAuthCache(t *testing.T) {
	g := newGround(t)
	auth := &ForwarderAuth{Kube: g.server.Kube, ServiceAccount: "anex/anex-forwarder", Audience: "anex-kubelet", TokenTTL: time.Minute}
	check := func(uid string) error {
		req := httptest.NewRequest(http.MethodPost, "/forward/"+uid+"/8080", nil)
		req.Header.Set("Authorization", "Bearer fwd-gpu")
		return auth.Check(req, uid)
	}
	for range 3 {
		if err := check(gpuUID); err != nil {
			t.Fatal(err)
		}
	}
	if err := check(goneUID); err == nil || !strings.Contains(err.Error(), "not to anex-fwd-"+goneUID) {
		t.Fatalf("a cached token opened another pod: %v", err)
	}
	if n := len(g.api.reviews); n != 1 {
		t.Fatalf("%d TokenReviews, want 1 (cached)", n)
	}
	// Another audience is another cache entry.
	auth.Audience = "other"
	var refused *forwardRefusal
	if err := check(gpuUID); !errors.As(err, &refused) || refused.status != http.StatusUnauthorized {
		t.Fatalf("the token bound to anex-kubelet, asked for audience other: %v, want 401", err)
	}
	if n := len(g.api.reviews); n != 2 {
		t.Fatalf("%d TokenReviews, want 2", n)
	}
}

// syncBuffer is a log sink read while the forwarder writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startForwarder runs a real `anex-kubelet forward` for uid against the ground's
// anex-kubelet, each port bound on a free loopback port; it returns the address per port.
func startForwarder(t *testing.T, g *ground, uid, tokenFile string, ports []int, logs io.Writer) func(port int) string {
	t.Helper()
	f, err := forward.Listen(forward.Config{
		PodUID: uid, Ports: ports, ListenAddress: "127.0.0.1", KubeletURL: g.kubelet.URL, TokenFile: tokenFile,
		Log:    slog.New(slog.NewTextHandler(logs, nil)),
		Listen: func(network, _ string) (net.Listener, error) { return net.Listen(network, "127.0.0.1:0") },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return func(port int) string { return f.Addr(port).String() }
}

func writeToken(t *testing.T, file, token string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// expectReset: the forwarder refused the connection with a reset, not an empty answer.
func expectReset(t *testing.T, address string) {
	t.Helper()
	conn, err := net.Dial("tcp", address)
	if errors.Is(err, syscall.ECONNRESET) {
		return // reset before the dial saw the connection established
	}
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(conn)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read %q, %v; want a connection reset", got, err)
	}
}

// End to end: a client → `anex-kubelet forward` → TLS, POST /forward → anex-kubelet →
// anex-tcp/1 → the fake agent's port, bytes both ways; the client's half-close reaches the
// pod's server, which still answers.
func TestForwardEndToEnd(t *testing.T) {
	g := newGround(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeToken(t, tokenFile, "fwd-gpu")
	var logs syncBuffer
	addr := startForwarder(t, g, gpuUID, tokenFile, []int{8080, 9000, 9999}, &logs)

	big := bytes.Repeat([]byte("abcdefghij"), 100_000) // 1 MB each way
	cases := []struct {
		name string
		port int
		send []byte
		want string
	}{
		{name: "a line and its answer", port: 8080, send: []byte("ping\n"), want: "pong ping\n"},
		{name: "an answer after the client's EOF", port: 9000, send: []byte("hello world"), want: "HELLO WORLD"},
		{name: "a megabyte both ways", port: 9000, send: big, want: string(bytes.ToUpper(big))},
		{name: "nothing sent, an empty answer", port: 9000, send: nil, want: ""},
	}
	// Both agent kinds: one that speaks the framed stream, and one from before it (anex-kubelet
	// falls back to the raw stream on its 426).
	for _, rawOnly := range []bool{false, true} {
		g.agent.rawOnly.Store(rawOnly)
		kind := "framed agent"
		if rawOnly {
			kind = "raw-only agent"
		}
		for _, tc := range cases {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				conn, err := net.Dial("tcp", addr(tc.port))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
				errs := make(chan error, 1)
				go func() {
					_, err := conn.Write(tc.send)
					if err == nil && tc.port == 9000 {
						err = conn.(*net.TCPConn).CloseWrite()
					}
					errs <- err
				}()
				got, err := io.ReadAll(conn)
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				if werr := <-errs; werr != nil {
					t.Fatalf("write: %v", werr)
				}
				if string(got) != tc.want {
					t.Fatalf("got %d bytes %.40q, want %d bytes %.40q", len(got), got, len(tc.want), tc.want)
				}
			})
		}
	}
	g.agent.rawOnly.Store(false)

	t.Run("the token file is read on every connection", func(t *testing.T) {
		g.api.mu.Lock()
		delete(g.api.tokens, "fwd-gpu") // expired: the kubelet rotated the projected token
		g.api.mu.Unlock()
		writeToken(t, tokenFile, "fwd-gpu-rotated")
		conn, err := net.Dial("tcp", addr(8080))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
		fmt.Fprint(conn, "rotated\n")
		got, _ := io.ReadAll(conn)
		if string(got) != "pong rotated\n" {
			t.Fatalf("with the rotated token: %q", got)
		}
	})

	t.Run("a refused token resets the connection and logs the status", func(t *testing.T) {
		writeToken(t, tokenFile, "fwd-gpu") // no longer valid
		expectReset(t, addr(8080))
		waitForLog(t, &logs, `msg="connection refused by anex-kubelet" port=8080`, "status=401")
	})

	t.Run("an undeclared port resets the connection and logs the agent's refusal", func(t *testing.T) {
		writeToken(t, tokenFile, "fwd-gpu-rotated")
		expectReset(t, addr(9999))
		waitForLog(t, &logs, "port=9999", "status=403", "port 9999 is not a containerPort of the pod")
	})

	for _, secret := range []string{"fwd-gpu", "fwd-gpu-rotated"} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("the log holds the token %q:\n%s", secret, logs.String())
		}
	}
}

// waitForLog waits for a line holding every part.
func waitForLog(t *testing.T, logs *syncBuffer, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(logs.String(), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no log line with %q in:\n%s", parts, logs.String())
}
