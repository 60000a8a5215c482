package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// assertNoSecrets checks that logs never show the prefix or a JWT.
func assertNoSecrets(t *testing.T, logs string) {
	t.Helper()
	for _, s := range []string{secretPrefix, jwtHeaderPrefix, "eyJ"} {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain %q:\n%s", s, logs)
		}
	}
}

// udpEcho answers every datagram with itself and counts them.
func udpEcho(t *testing.T) (netip.AddrPort, *atomic.Int64) {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	var n atomic.Int64
	go func() {
		buf := make([]byte, 65535)
		for {
			k, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			n.Add(1)
			_, _ = pc.WriteToUDPAddrPort(buf[:k], from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort(), &n
}

type testPKI struct {
	pool              *x509.CertPool
	certFile, keyFile string
}

// newPKI makes a CA and a server certificate for 127.0.0.1 and localhost, written to files.
func newPKI(t *testing.T) testPKI {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, leafKey := key(), key()
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "gateway"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(leafKey)
	dir := t.TempDir()
	p := testPKI{pool: x509.NewCertPool(), certFile: filepath.Join(dir, "tls.crt"), keyFile: filepath.Join(dir, "tls.key")}
	p.pool.AddCert(caCert)
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	if err := os.WriteFile(p.certFile, chain, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startServer serves on a free port (or on addr if given); pki != nil means wss.
func startServer(t *testing.T, echo netip.AddrPort, pki *testPKI, addr string, mod func(*serverConfig)) (serverURL, *syncBuffer) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	r, _ := parseRestriction(echo.String())
	cfg := serverConfig{prefixes: []string{"other", secretPrefix}, restrictTo: []restriction{r}, maxTunnels: 8,
		pingEvery: 200 * time.Millisecond, log: log.New(logs, "", 0)}
	scheme := "ws"
	if pki != nil {
		cfg.listen.tls, cfg.certFile, cfg.keyFile, scheme = true, pki.certFile, pki.keyFile, "wss"
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	u, err := parseServerURL(scheme+"://"+ln.Addr().String(), "", false)
	if err != nil {
		t.Fatal(err)
	}
	return u, logs
}

// startClient runs a client forwarding to echo and returns its UDP address.
func startClient(t *testing.T, server serverURL, echo netip.AddrPort, roots *x509.CertPool, options string) (netip.AddrPort, *syncBuffer) {
	t.Helper()
	spec, err := parseTunnelSpec("udp://127.0.0.1:0:" + echo.String() + options)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	bound := make(chan netip.AddrPort, 1)
	cfg := clientConfig{server: server, prefix: secretPrefix, tunnels: []tunnelSpec{spec}, roots: roots,
		pingEvery: 200 * time.Millisecond, log: log.New(logs, "", 0), ready: func(a []netip.AddrPort) { bound <- a[0] }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runClient(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runClient: %v", err)
		}
	})
	select {
	case a := <-bound:
		return a, logs
	case err := <-done:
		t.Fatalf("client stopped: %v", err)
	}
	return netip.AddrPort{}, nil
}

// exchange sends p to addr from a fresh socket and returns the first answer within wait.
func exchange(t *testing.T, conn *net.UDPConn, addr netip.AddrPort, p []byte, wait time.Duration) ([]byte, error) {
	t.Helper()
	if _, err := conn.WriteToUDPAddrPort(p, addr); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65535)
	n, _, err := conn.ReadFromUDPAddrPort(buf)
	return buf[:n], err
}

func localUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestEchoEndToEnd(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "ws", true: "wss"}[useTLS], func(t *testing.T) {
			echo, _ := udpEcho(t)
			var pki *testPKI
			var roots *x509.CertPool
			if useTLS {
				p := newPKI(t)
				pki, roots = &p, p.pool
			}
			srv, srvLogs := startServer(t, echo, pki, "", nil)
			local, cliLogs := startClient(t, srv, echo, roots, "?timeout_sec=0")
			conn := localUDP(t)
			big := bytes.Repeat([]byte("0123456789abcdef"), 60000/16) // 16-bit length frames
			for _, msg := range [][]byte{[]byte("hello"), make([]byte, 1400), big, []byte("bye")} {
				got, err := exchange(t, conn, local, msg, 5*time.Second)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("echo of %d bytes: got %d bytes, %v", len(msg), len(got), err)
				}
			}
			// Pings (every 200 ms here) flow both ways and keep the tunnel up.
			time.Sleep(700 * time.Millisecond)
			if got, err := exchange(t, conn, local, []byte("after pings"), 5*time.Second); err != nil || string(got) != "after pings" {
				t.Fatalf("after pings: %q, %v", got, err)
			}
			if !strings.Contains(srvLogs.String(), "opened") || !strings.Contains(cliLogs.String(), "connected via") {
				t.Errorf("missing connect logs:\nserver:\n%s\nclient:\n%s", srvLogs, cliLogs)
			}
			assertNoSecrets(t, srvLogs.String()+cliLogs.String())
		})
	}
}

// rawUpgrade sends an upgrade request by hand and returns the response and the connection.
func rawUpgrade(t *testing.T, srv serverURL, path, protocol string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	req := "GET " + path + " HTTP/1.1\r\nHost: " + srv.hostHeader + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if protocol != "" {
		req += "Sec-WebSocket-Protocol: " + protocol + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	return resp, conn, br
}

func bearer(t *testing.T, p, host string, port uint16) string {
	t.Helper()
	token, err := encodeJWT(claims{ID: newUUID(), P: json.RawMessage(p), R: host, RP: port})
	if err != nil {
		t.Fatal(err)
	}
	return "v1, " + jwtHeaderPrefix + token
}

func TestServerRejects(t *testing.T) {
	echo, _ := udpEcho(t)
	srv, logs := startServer(t, echo, nil, "", nil)
	udp := `{"Udp":{"timeout":null}}`
	ip, port := echo.Addr().String(), echo.Port()
	good := "/" + secretPrefix + "/events"
	tests := []struct {
		name, path, protocol string
		want                 int
		reason               string
	}{
		{"good", good, bearer(t, udp, ip, port), 101, "opened"},
		{"wrong prefix", "/wrong/events", bearer(t, udp, ip, port), 400, "path prefix not allowed"},
		{"prefix only", "/" + secretPrefix, bearer(t, udp, ip, port), 400, "path is not"},
		{"no events suffix", "/" + secretPrefix + "/x", bearer(t, udp, ip, port), 400, "path is not"},
		{"no JWT", good, "v1", 400, "no tunnel JWT"},
		{"garbage JWT", good, "v1, " + jwtHeaderPrefix + "a.b.c", 400, "undecodable"},
		{"localhost is not 127.0.0.1", good, bearer(t, udp, "localhost", port), 403, "not in --restrict-to"},
		{"other port", good, bearer(t, udp, ip, port+1), 403, "not in --restrict-to"},
		{"reverse udp", good, bearer(t, `{"ReverseUdp":{"timeout":null}}`, ip, port), 403, "reverse tunnel"},
		{"reverse tcp", good, bearer(t, `"ReverseTcp"`, ip, port), 403, "reverse tunnel"},
		{"tcp", good, bearer(t, `{"Tcp":{"proxy_protocol":false}}`, ip, port), 403, "only Udp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, conn, _ := rawUpgrade(t, srv, tc.path, tc.protocol)
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == 101 && (resp.Header.Get("Sec-WebSocket-Protocol") != "v1" ||
				resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") { // RFC 6455's example
				t.Errorf("101 headers %v", resp.Header)
			}
			_ = conn.Close()
			waitFor(t, "log: "+tc.reason, func() bool { return strings.Contains(logs.String(), tc.reason) })
		})
	}
	resp, conn, _ := rawUpgrade(t, srv, good, "")
	_ = conn.Close()
	if resp.StatusCode != 400 {
		t.Errorf("no Sec-WebSocket-Protocol: %d", resp.StatusCode)
	}
	plain, err := http.Get("http://" + srv.addr + good)
	if err != nil || plain.StatusCode != 400 {
		t.Errorf("plain GET: %v %v", plain, err)
	}
	assertNoSecrets(t, logs.String())
}

// A client that masks its frames (RFC 6455, unlike upstream's) is served too.
func TestServerAcceptsMaskedFrames(t *testing.T) {
	echo, _ := udpEcho(t)
	srv, _ := startServer(t, echo, nil, "", nil)
	resp, conn, br := rawUpgrade(t, srv, "/"+secretPrefix+"/events", bearer(t, `{"Udp":{"timeout":null}}`, echo.Addr().String(), echo.Port()))
	if resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	payload, key := []byte("masked datagram"), [4]byte{0xA1, 0xB2, 0xC3, 0xD4}
	frame := []byte{0x80 | opBinary, 0x80 | byte(len(payload))}
	frame = append(frame, key[:]...)
	for i, b := range payload {
		frame = append(frame, b^key[i&3])
	}
	if _, err := conn.Write(frame); err != nil {
		t.Fatal(err)
	}
	ws := newWSConn(conn, br, time.Second)
	got, err := ws.readMessage()
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("echo %q, %v", got, err)
	}
}

func TestServerTunnelLimit(t *testing.T) {
	echo, _ := udpEcho(t)
	srv, logs := startServer(t, echo, nil, "", func(c *serverConfig) { c.maxTunnels = 1 })
	path, proto := "/"+secretPrefix+"/events", bearer(t, `{"Udp":{"timeout":null}}`, echo.Addr().String(), echo.Port())
	if resp, _, _ := rawUpgrade(t, srv, path, proto); resp.StatusCode != 101 {
		t.Fatalf("first tunnel: %d", resp.StatusCode)
	}
	if resp, _, _ := rawUpgrade(t, srv, path, proto); resp.StatusCode != 503 {
		t.Errorf("second tunnel: %d, want 503", resp.StatusCode)
	}
	waitFor(t, "limit log", func() bool { return strings.Contains(logs.String(), "too many tunnels (limit 1)") })
}

func TestClientRefusesUnverifiableCertificate(t *testing.T) {
	echo, received := udpEcho(t)
	p := newPKI(t)
	srv, _ := startServer(t, echo, &p, "", nil)
	other := newPKI(t) // the client trusts a different CA
	local, logs := startClient(t, srv, echo, other.pool, "")
	conn := localUDP(t)
	if got, err := exchange(t, conn, local, []byte("must not pass"), 1500*time.Millisecond); err == nil {
		t.Fatalf("got an answer %q through an unverified server", got)
	}
	if received.Load() != 0 {
		t.Errorf("the echo target received %d datagrams", received.Load())
	}
	l := logs.String()
	if !strings.Contains(l, "connect attempt 1 failed") || !strings.Contains(l, "certificate") {
		t.Errorf("client logs:\n%s", l)
	}
	assertNoSecrets(t, l)
}

// The client reconnects after a failed attempt once the backoff (1 s) has passed.
func TestClientReconnects(t *testing.T) {
	echo, _ := udpEcho(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there yet
	u, _ := parseServerURL("ws://"+addr, "", false)
	local, logs := startClient(t, u, echo, nil, "?timeout_sec=0")
	conn := localUDP(t)
	if _, err := exchange(t, conn, local, []byte("lost"), 300*time.Millisecond); err == nil {
		t.Fatal("answer without a server")
	}
	waitFor(t, "failed attempt", func() bool { return strings.Contains(logs.String(), "connect attempt 1 failed") })
	startServer(t, echo, nil, addr, nil)
	waitFor(t, "echo after reconnect", func() bool {
		got, err := exchange(t, conn, local, []byte("again"), 200*time.Millisecond)
		return err == nil && string(got) == "again"
	})
}

func TestClientIdleTimeout(t *testing.T) {
	echo, _ := udpEcho(t)
	srv, srvLogs := startServer(t, echo, nil, "", nil)
	spec, _ := parseTunnelSpec("udp://127.0.0.1:0:" + echo.String())
	spec.timeout = 300 * time.Millisecond // timeout_sec has whole seconds; shorter here
	logs := &syncBuffer{}
	bound := make(chan netip.AddrPort, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = runClient(ctx, clientConfig{server: srv, prefix: secretPrefix, tunnels: []tunnelSpec{spec}, pingEvery: time.Second,
			log: log.New(logs, "", 0), ready: func(a []netip.AddrPort) { bound <- a[0] }})
	}()
	local := <-bound
	conn := localUDP(t)
	if got, err := exchange(t, conn, local, []byte("x"), 5*time.Second); err != nil || string(got) != "x" {
		t.Fatalf("echo: %q %v", got, err)
	}
	waitFor(t, "idle close", func() bool {
		return strings.Contains(logs.String(), "without datagrams") && strings.Contains(srvLogs.String(), "closed")
	})
	// A new datagram opens a new connection.
	if got, err := exchange(t, conn, local, []byte("y"), 5*time.Second); err != nil || string(got) != "y" {
		t.Fatalf("echo after idle: %q %v", got, err)
	}
}

// run() exits 0 when its context ends (what SIGTERM/SIGINT do in main).
func TestRunStopsGracefully(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"server", "--restrict-to", "127.0.0.1:51820", "ws://127.0.0.1:0"},
			env(map[string]string{envServerPrefix: secretPrefix}), io.Discard, &stderr)
	}()
	waitFor(t, "server start", func() bool { return strings.Contains(stderr.String(), "listening") })
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop")
	}
	assertNoSecrets(t, stderr.String())
}

// What an upstream server sees from our client: its request, and data frames that are not
// masked (upstream's server does not unmask; a masked datagram would reach WireGuard scrambled).
func TestClientWireFormat(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	type seen struct {
		req   *http.Request
		frame []byte
		err   error
	}
	got := make(chan seen, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			got <- seen{err: err}
			return
		}
		defer func() { _ = conn.Close() }()
		br := bufio.NewReader(conn)
		req, err := http.ReadRequest(br)
		if err != nil {
			got <- seen{err: err}
			return
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: "+acceptKey(req.Header.Get("Sec-WebSocket-Key"))+"\r\nSec-WebSocket-Protocol: v1\r\n\r\n")
		frame := make([]byte, 2+len("datagram"))
		_, err = io.ReadFull(br, frame)
		got <- seen{req: req, frame: frame, err: err}
	}()
	u, _ := parseServerURL("ws://"+ln.Addr().String(), "", false)
	echo := netip.MustParseAddrPort("127.0.0.1:51820")
	local, _ := startClient(t, u, echo, nil, "?timeout_sec=0")
	_, _ = exchange(t, localUDP(t), local, []byte("datagram"), 10*time.Millisecond)
	var s seen
	select {
	case s = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	r := s.req
	proto, token, _ := strings.Cut(r.Header.Get("Sec-WebSocket-Protocol"), jwtHeaderPrefix)
	if r.Method != "GET" || r.URL.Path != "/"+secretPrefix+"/events" || r.Host != u.hostHeader || proto != "v1, " ||
		r.Header.Get("Sec-WebSocket-Version") != "13" || !headerHas(r.Header, "Upgrade", "websocket") || !headerHas(r.Header, "Connection", "upgrade") {
		t.Errorf("request %s %s, headers %v", r.Method, r.URL, r.Header)
	}
	if c, err := decodeJWT(token); err != nil || c.R != "127.0.0.1" || c.RP != 51820 || string(c.P) != `{"Udp":{"timeout":null}}` {
		t.Errorf("JWT claims %+v, %v", c, err)
	}
	want := append([]byte{0x80 | opBinary, byte(len("datagram"))}, "datagram"...) // FIN, binary, no mask bit
	if !bytes.Equal(s.frame, want) {
		t.Errorf("frame % x, want % x", s.frame, want)
	}
}

// A renewed certificate (cert-manager rewriting the Secret) is served without a restart.
func TestCertReload(t *testing.T) {
	first, second := newPKI(t), newPKI(t)
	logs := &syncBuffer{}
	c, err := newCertReloader(first.certFile, first.keyFile, log.New(logs, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := c.get(nil)
	for _, f := range [][2]string{{second.certFile, first.certFile}, {second.keyFile, first.keyFile}} {
		b, _ := os.ReadFile(f[0])
		if err := os.WriteFile(f[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if same, _ := c.get(nil); same != before {
		t.Error("reloaded before the 10 s check interval")
	}
	c.checked = time.Time{} // as if 10 s had passed
	after, _ := c.get(nil)
	if after == before || !bytes.Equal(after.Leaf.Raw, mustLeaf(t, second.certFile)) {
		t.Errorf("certificate not reloaded; logs:\n%s", logs)
	}
	if _, err := newCertReloader(filepath.Join(t.TempDir(), "missing.crt"), first.keyFile, log.New(io.Discard, "", 0)); err == nil ||
		!strings.Contains(err.Error(), "--tls-certificate") {
		t.Errorf("missing file: %v", err)
	}
}

func mustLeaf(t *testing.T, file string) []byte {
	t.Helper()
	b, _ := os.ReadFile(file)
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM", file)
	}
	return block.Bytes
}
