package forward

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const uid = "11111111-1111-1111-1111-111111111111"

// fakeKubelet is anex-kubelet's forward route as the forwarder sees it: it records each
// request, and answers 101 then upper-cases what it reads until EOF (so the client's
// half-close must reach it), or refuses with the status and message set.
type fakeKubelet struct {
	mu       sync.Mutex
	requests []*http.Request
	status   int
	message  string
	upgrade  string
	// release ends held streams (hold: answer only once released)
	hold    bool
	release chan struct{}
}

func (k *fakeKubelet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	k.requests = append(k.requests, r)
	status, message, upgrade, hold := k.status, k.message, k.upgrade, k.hold
	k.mu.Unlock()
	if status != 0 {
		http.Error(w, message, status)
		return
	}
	if upgrade == "" {
		upgrade = UpgradeTCP
	}
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + upgrade + "\r\n\r\n")
	_ = buf.Flush()
	if hold {
		<-k.release
	}
	all, _ := io.ReadAll(buf)
	_, _ = conn.Write(bytes.ToUpper(all))
}

func (k *fakeKubelet) seen() []*http.Request {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]*http.Request(nil), k.requests...)
}

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

type rig struct {
	kubelet   *fakeKubelet
	server    *httptest.Server
	tokenFile string
	logs      *syncBuffer
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{kubelet: &fakeKubelet{release: make(chan struct{})}, logs: &syncBuffer{}}
	r.server = httptest.NewTLSServer(r.kubelet)
	t.Cleanup(r.server.Close)
	r.tokenFile = filepath.Join(t.TempDir(), "token")
	r.writeToken(t, "token-one")
	return r
}

func (r *rig) writeToken(t *testing.T, token string) {
	t.Helper()
	if err := os.WriteFile(r.tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) config(ports ...int) Config {
	return Config{
		PodUID: uid, Ports: ports, ListenAddress: "127.0.0.1", KubeletURL: r.server.URL, TokenFile: r.tokenFile,
		Log:    slog.New(slog.NewTextHandler(r.logs, nil)),
		Listen: func(network, _ string) (net.Listener, error) { return net.Listen(network, "127.0.0.1:0") },
	}
}

// start listens and serves until the test ends (or stop is called); done closes when Serve returns.
func start(t *testing.T, cfg Config) (f *Forwarder, stop func(), done <-chan struct{}) {
	t.Helper()
	f, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() { _ = f.Serve(ctx); close(finished) }()
	t.Cleanup(func() { cancel(); <-finished })
	return f, cancel, finished
}

// exchange sends data, half-closes, and returns the answer up to EOF.
func exchange(t *testing.T, address, data string) (string, error) {
	t.Helper()
	conn, err := net.Dial("tcp", address)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, data); err != nil {
		return "", err
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		return "", err
	}
	got, err := io.ReadAll(conn)
	return string(got), err
}

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

func TestValidate(t *testing.T) {
	good := Config{PodUID: uid, Ports: []int{8080, 9000}, KubeletURL: "https://anex-kubelet.anex.svc:10250", TokenFile: "/var/run/secrets/anex-forwarder/token"}
	cases := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"the contract's example", func(*Config) {}, ""},
		{"a URL without a port", func(c *Config) { c.KubeletURL = "https://anex-kubelet.anex.svc" }, ""},
		{"no uid", func(c *Config) { c.PodUID = "" }, `--pod-uid "" is not a pod UID`},
		{"a uid with a slash", func(c *Config) { c.PodUID = "a/b" }, `--pod-uid "a/b" is not a pod UID`},
		{"no ports", func(c *Config) { c.Ports = nil }, "--ports names no port"},
		{"port 0", func(c *Config) { c.Ports = []int{0} }, "--ports: 0 is not a TCP port (1-65535)"},
		{"port 65536", func(c *Config) { c.Ports = []int{80, 65536} }, "--ports: 65536 is not a TCP port"},
		{"a port twice", func(c *Config) { c.Ports = []int{80, 80} }, "--ports: 80 is named twice"},
		{"http", func(c *Config) { c.KubeletURL = "http://anex-kubelet:10250" }, `--kubelet-url "http://anex-kubelet:10250" must be https://<host>:<port> (the token travels on it)`},
		{"a path", func(c *Config) { c.KubeletURL = "https://anex-kubelet:10250/forward" }, "must be https://<host>:<port>"},
		{"no URL", func(c *Config) { c.KubeletURL = "" }, "must be https://<host>:<port>"},
		{"no token file", func(c *Config) { c.TokenFile = "" }, "--token-file is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.change(&c)
			err := c.Validate()
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// A port that cannot be bound is named, and the ports bound before it are released.
func TestListenNamesThePortItCannotBind(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freePort := free.Addr().(*net.TCPAddr).Port
	free.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	_, err = Listen(Config{PodUID: uid, Ports: []int{freePort, takenPort}, ListenAddress: "127.0.0.1", KubeletURL: "https://127.0.0.1:1", TokenFile: "/t"})
	want := "cannot listen on port " + strconv.Itoa(takenPort) + " (127.0.0.1:" + strconv.Itoa(takenPort) + "): "
	if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("err %v, want one containing %q (address in use)", err, want)
	}
	again, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(freePort))
	if err != nil {
		t.Fatalf("port %d was not released: %v", freePort, err)
	}
	again.Close()
}

// Each connection: the request the contract names, with the token read from the file at
// that moment; the bytes cross both ways and the client's half-close reaches the far end.
func TestForwardRequestAndTokenRotation(t *testing.T) {
	r := newRig(t)
	f, _, _ := start(t, r.config(8080, 9000))
	for i, step := range []struct{ token, port, data string }{
		{"token-one", "8080", "hello"},
		{"token-two", "9000", "rotated"},
	} {
		r.writeToken(t, step.token)
		port, _ := strconv.Atoi(step.port)
		got, err := exchange(t, f.Addr(port).String(), step.data)
		if err != nil || got != strings.ToUpper(step.data) {
			t.Fatalf("connection %d: %q, %v", i, got, err)
		}
		req := r.kubelet.seen()[i]
		checks := map[string][2]string{
			"method":        {req.Method, http.MethodPost},
			"path":          {req.URL.Path, "/forward/" + uid + "/" + step.port},
			"Connection":    {req.Header.Get("Connection"), "Upgrade"},
			"Upgrade":       {req.Header.Get("Upgrade"), "anex-tcp/1"},
			"Authorization": {req.Header.Get("Authorization"), "Bearer " + step.token},
		}
		for what, c := range checks {
			if c[0] != c[1] {
				t.Fatalf("connection %d: %s %q, want %q", i, what, c[0], c[1])
			}
		}
	}
}

// expectReset: the client sees a reset, not an empty answer.
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

// Whatever goes wrong before the stream, the client's connection is reset and one line says
// why, without the token.
func TestRefusalsResetAndLog(t *testing.T) {
	cases := []struct {
		name    string
		arrange func(t *testing.T, r *rig, c *Config)
		want    []string
	}{
		{"anex-kubelet refuses", func(_ *testing.T, r *rig, _ *Config) {
			r.kubelet.status, r.kubelet.message = 403, "Forbidden: the token is bound to pod anex-fwd-x"
		}, []string{`msg="connection refused by anex-kubelet"`, "port=8080", "status=403", `message="Forbidden: the token is bound to pod anex-fwd-x"`}},
		{"another upgrade", func(_ *testing.T, r *rig, _ *Config) { r.kubelet.upgrade = "websocket" }, []string{`msg="connection not forwarded"`, `switched to \"websocket\", not \"anex-tcp/1\"`}},
		{"no token file", func(t *testing.T, r *rig, _ *Config) { _ = os.Remove(r.tokenFile) }, []string{`msg="connection not forwarded"`, "cannot read the token file", "no such file or directory"}},
		{"an empty token file", func(t *testing.T, r *rig, _ *Config) { r.writeToken(t, "  ") }, []string{"the token file", "is empty"}},
		{"anex-kubelet down", func(t *testing.T, r *rig, c *Config) {
			l, _ := net.Listen("tcp", "127.0.0.1:0")
			c.KubeletURL = "https://" + l.Addr().String()
			l.Close()
		}, []string{"cannot reach anex-kubelet at 127.0.0.1:", "connection refused"}},
		{"anex-kubelet silent", func(t *testing.T, r *rig, c *Config) {
			l, _ := net.Listen("tcp", "127.0.0.1:0") // accepts (backlog) and never answers
			t.Cleanup(func() { l.Close() })
			c.KubeletURL, c.HandshakeTimeout = "https://"+l.Addr().String(), 300*time.Millisecond
		}, []string{`msg="connection not forwarded"`, "port=8080", "cannot reach anex-kubelet"}},
		{"anex-kubelet takes the request and says nothing", func(t *testing.T, r *rig, c *Config) {
			quiet := make(chan struct{})
			s := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-quiet }))
			t.Cleanup(func() { close(quiet); s.Close() })
			c.KubeletURL, c.HandshakeTimeout = s.URL, 300*time.Millisecond
		}, []string{`msg="connection not forwarded"`, "did not answer within 300ms"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.writeToken(t, "secret-token")
			c := r.config(8080)
			tc.arrange(t, r, &c)
			f, _, _ := start(t, c)
			expectReset(t, f.Addr(8080).String())
			waitForLog(t, r.logs, tc.want...)
			if strings.Contains(r.logs.String(), "secret-token") {
				t.Fatalf("the log holds the token:\n%s", r.logs.String())
			}
		})
	}
}

// With --ca-file anex-kubelet's certificate is verified: its own CA passes, another fails.
func TestCAFile(t *testing.T) {
	r := newRig(t)
	dir := t.TempDir()
	own := filepath.Join(dir, "own.pem")
	_ = os.WriteFile(own, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.server.Certificate().Raw}), 0o600)
	// Another self-signed certificate for the same address (httptest's servers all share one).
	otherFile := filepath.Join(dir, "other.pem")
	_ = os.WriteFile(otherFile, selfSigned(t), 0o600)

	tlsOwn, err := ClientTLS(own, r.server.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := r.config(8080)
	c.TLS = tlsOwn
	f, _, _ := start(t, c)
	if got, err := exchange(t, f.Addr(8080).String(), "verified"); err != nil || got != "VERIFIED" {
		t.Fatalf("with its CA: %q, %v", got, err)
	}

	tlsOther, err := ClientTLS(otherFile, r.server.URL)
	if err != nil {
		t.Fatal(err)
	}
	c = r.config(8080)
	c.TLS = tlsOther
	f, _, _ = start(t, c)
	expectReset(t, f.Addr(8080).String())
	waitForLog(t, r.logs, "cannot reach anex-kubelet", "certificate")

	if _, err := ClientTLS(filepath.Join(dir, "missing.pem"), r.server.URL); err == nil || !strings.Contains(err.Error(), "--ca-file") {
		t.Fatalf("a missing CA file: %v", err)
	}
	_ = os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("junk"), 0o600)
	if _, err := ClientTLS(filepath.Join(dir, "junk.pem"), r.server.URL); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Fatalf("a CA file without PEM: %v", err)
	}
}

// SIGTERM: no new connection is accepted; an open one may finish within the grace, and one
// still open when the grace is over is closed.
func TestShutdown(t *testing.T) {
	for _, tc := range []struct {
		name     string
		finishes bool
	}{{"a connection that finishes in the grace", true}, {"one that does not", false}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.kubelet.hold = true
			c := r.config(8080)
			c.Grace = 500 * time.Millisecond
			f, stop, done := start(t, c)
			address := f.Addr(8080).String()
			conn, err := net.Dial("tcp", address)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
			_, _ = io.WriteString(conn, "late")
			_ = conn.(*net.TCPConn).CloseWrite()
			for len(r.kubelet.seen()) == 0 {
				time.Sleep(10 * time.Millisecond)
			}
			stopped := time.Now()
			stop()
			deadline := time.Now().Add(5 * time.Second)
			for {
				probe, err := net.Dial("tcp", address)
				if err != nil {
					break // no longer accepting
				}
				probe.Close()
				if time.Now().After(deadline) {
					t.Fatal("still accepting after SIGTERM")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if tc.finishes {
				close(r.kubelet.release)
				got, err := io.ReadAll(conn)
				if err != nil || string(got) != "LATE" {
					t.Fatalf("the open connection after SIGTERM: %q, %v", got, err)
				}
				<-done
				if waited := time.Since(stopped); waited > 400*time.Millisecond {
					t.Fatalf("Serve returned %s after SIGTERM, though the connection had finished", waited)
				}
				return
			}
			<-done
			if waited := time.Since(stopped); waited < 500*time.Millisecond {
				t.Fatalf("Serve returned %s after SIGTERM, before the grace", waited)
			}
			if got, _ := io.ReadAll(conn); len(got) != 0 {
				t.Fatalf("read %q from a connection closed at the end of the grace", got)
			}
			close(r.kubelet.release)
			waitForLog(t, r.logs, "grace over; closing the connections still open")
		})
	}
}

// Splice: a half-close crosses, and a reset on one side tears down the other.
func TestSpliceResetTearsDown(t *testing.T) {
	a1, a2 := tcpPair(t)
	b1, b2 := tcpPair(t)
	done := make(chan struct{})
	go func() { Splice(a2, b1); close(done) }()
	_ = a1.(*net.TCPConn).SetLinger(0)
	a1.Close() // RST
	_ = b2.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(b2); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the other side: %v", err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Splice did not return after a reset")
	}
}

func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	c1, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c2 := <-accepted
	t.Cleanup(func() { c1.Close(); c2.Close() })
	return c1, c2
}

// selfSigned is a PEM certificate for 127.0.0.1 that no server here holds the key of.
func selfSigned(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "not-anex-kubelet"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, BasicConstraintsValid: true, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
