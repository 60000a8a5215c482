package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	tunnelSpecForm  = "udp://[BIND:]PORT:HOST:PORT[?timeout_sec=N]"
	serverURLForm   = "wss://HOST[:PORT] (or ws:// without TLS)"
	connectTimeout  = 10 * time.Second // upstream's timeout_connect
	defaultPing     = 30 * time.Second // upstream's default websocket ping frequency
	defaultUDPIdle  = 30 * time.Second // upstream's timeout_sec default
	maxBackoff      = 30 * time.Second
	stableAfter     = 10 * time.Second // a connection that lived this long resets the backoff
	peerQueueLength = 256
)

// tunnelSpec is one -L: listen on UDP at bind, forward to host:port through the server.
type tunnelSpec struct {
	bind    netip.AddrPort
	host    string        // as sent in the JWT "r": upstream's url::Host form, IPv6 in brackets
	port    uint16        // "rp"
	timeout time.Duration // idle timeout per local peer; 0 = none (timeout_sec=0)
}

func (t tunnelSpec) remote() string { return t.host + ":" + strconv.Itoa(int(t.port)) }

// claims is the JWT content of one connection: a fresh id each time, as upstream.
func (t tunnelSpec) claims() claims {
	return claims{ID: newUUID(), P: udpProtocol(t.timeout), R: t.host, RP: t.port}
}

// parseTunnelSpec follows upstream's parse_local_bind / parse_tunnel_dest for udp://, except
// that an unparsable timeout_sec is an error here rather than silently 30 s.
func parseTunnelSpec(arg string) (tunnelSpec, error) {
	bad := func(why string) (tunnelSpec, error) {
		return tunnelSpec{}, fmt.Errorf("-L %q: %s; want %s", arg, why, tunnelSpecForm)
	}
	rest, ok := strings.CutPrefix(arg, "udp://")
	if !ok {
		if scheme, _, found := strings.Cut(arg, "://"); found {
			return bad(fmt.Sprintf("protocol %q is not supported, only udp", scheme))
		}
		return bad("missing udp://")
	}
	bind := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return bad("bad IPv6 bind address")
		}
		ip, err := netip.ParseAddr(rest[1:end])
		if err != nil || !ip.Is6() {
			return bad("bad IPv6 bind address")
		}
		bind, rest = ip, rest[end+1:]
	} else if first, after, found := strings.Cut(rest, ":"); found {
		// As upstream: a leading IPv4 address is the bind address, anything else is the port.
		if ip, err := netip.ParseAddr(first); err == nil && ip.Is4() {
			bind, rest = ip, after
		}
	}
	portStr, dest, _ := strings.Cut(strings.TrimPrefix(rest, ":"), ":")
	lport, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return bad(fmt.Sprintf("bad local port %q", portStr))
	}
	u, err := url.Parse("udp://" + dest)
	if err != nil || u.Hostname() == "" || u.Port() == "" || u.User != nil || u.Path != "" || u.Fragment != "" {
		return bad(fmt.Sprintf("bad destination %q", dest))
	}
	rport, err := strconv.ParseUint(u.Port(), 10, 16)
	if err != nil {
		return bad(fmt.Sprintf("bad destination port %q", u.Port()))
	}
	spec := tunnelSpec{bind: netip.AddrPortFrom(bind, uint16(lport)), port: uint16(rport), timeout: defaultUDPIdle}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && ip.Is6() {
		spec.host = "[" + ip.String() + "]"
	} else {
		spec.host = strings.ToLower(u.Hostname()) // url::Host lowercases domains
	}
	q := u.Query()
	for k := range q {
		if k != "timeout_sec" {
			return bad(fmt.Sprintf("unknown option %q (only timeout_sec)", k))
		}
	}
	if v, found := q["timeout_sec"]; found {
		secs, err := strconv.ParseUint(v[0], 10, 32)
		if err != nil {
			return bad(fmt.Sprintf("timeout_sec %q is not a number of seconds", v[0]))
		}
		spec.timeout = time.Duration(secs) * time.Second // 0 disables it, as upstream
	}
	return spec, nil
}

// serverURL is where the client connects: scheme, TCP address and Host header.
type serverURL struct {
	tls        bool
	hostname   string // TLS server name
	addr       string // host:port to dial
	hostHeader string
}

func (s serverURL) String() string {
	if s.tls {
		return "wss://" + s.hostHeader
	}
	return "ws://" + s.hostHeader
}

// parseServerURL reads the client's server URL or, with listen, the server's listen URL (where
// port 0, any free port, makes sense).
func parseServerURL(arg, form string, listen bool) (serverURL, error) {
	u, err := url.Parse(arg)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Hostname() == "" {
		return serverURL{}, fmt.Errorf("server URL %q: want %s", arg, form)
	}
	// No path, query or credentials: the path prefix is a secret and belongs in the environment.
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		// Not echoed whole: what follows the host may well be the secret prefix.
		return serverURL{}, fmt.Errorf("server URL %s://%s/...: no path, query or user allowed (the path prefix goes in -P or the environment); want %s", u.Scheme, u.Host, form)
	}
	s := serverURL{tls: u.Scheme == "wss", hostname: u.Hostname(), hostHeader: u.Host}
	port := u.Port()
	if port == "" {
		port = map[bool]string{true: "443", false: "80"}[s.tls]
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && !listen) {
		return serverURL{}, fmt.Errorf("server URL %q: bad port; want %s", arg, form)
	}
	s.addr = net.JoinHostPort(s.hostname, port)
	return s, nil
}

type clientConfig struct {
	server    serverURL
	prefix    string // secret: never logged
	tunnels   []tunnelSpec
	roots     *x509.CertPool // nil: the system roots (SSL_CERT_FILE honoured); tests inject a CA
	pingEvery time.Duration
	log       *log.Logger
	ready     func([]netip.AddrPort) // tests: the bound addresses
}

// runClient listens on every -L and relays until ctx ends.
func runClient(ctx context.Context, cfg clientConfig) error {
	var conns []*net.UDPConn
	var bound []netip.AddrPort
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for _, spec := range cfg.tunnels {
		pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(spec.bind))
		if err != nil {
			return fmt.Errorf("cannot listen on udp %s: %w", spec.bind, err)
		}
		conns = append(conns, pc)
		bound = append(bound, pc.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	if cfg.ready != nil {
		cfg.ready(bound)
	}
	var wg sync.WaitGroup
	for i, spec := range cfg.tunnels {
		t := &udpTunnel{cfg: &cfg, spec: spec, pc: conns[i], peers: map[netip.AddrPort]*peer{}}
		cfg.log.Printf("client: listening on udp %s, forwarding to %s via %s", bound[i], spec.remote(), cfg.server)
		wg.Go(func() { t.serve(ctx) })
	}
	<-ctx.Done()
	for _, c := range conns {
		_ = c.Close() // unblocks serve
	}
	wg.Wait()
	return nil
}

// udpTunnel is one -L listener; each local source address (peer) gets its own WebSocket.
type udpTunnel struct {
	cfg   *clientConfig
	spec  tunnelSpec
	pc    *net.UDPConn
	mu    sync.Mutex
	peers map[netip.AddrPort]*peer
	wg    sync.WaitGroup
}

type peer struct {
	addr netip.AddrPort
	in   chan []byte // datagrams from the local peer
}

func (t *udpTunnel) serve(ctx context.Context) {
	defer t.wg.Wait()
	buf := make([]byte, 65535)
	for {
		n, from, err := t.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				t.cfg.log.Printf("client: udp %s: %v", t.spec.bind, err)
			}
			return
		}
		d := append([]byte(nil), buf[:n]...)
		t.mu.Lock()
		p := t.peers[from]
		if p == nil {
			p = &peer{addr: from, in: make(chan []byte, peerQueueLength)}
			t.peers[from] = p
			t.wg.Go(func() { t.runPeer(ctx, p) })
		}
		select {
		case p.in <- d:
		default: // queue full (server slow or unreachable): drop, WireGuard retransmits
		}
		t.mu.Unlock()
	}
}

func backoff(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	return min(time.Second<<min(failures-1, 5), maxBackoff)
}

// runPeer connects on the first datagram and relays; after a failure or drop, datagrams are
// dropped until the backoff has passed, then the next one reconnects.
func (t *udpTunnel) runPeer(ctx context.Context, p *peer) {
	idle := newIdleTimer(t.spec.timeout)
	defer idle.Stop()
	failures := 0
	var notBefore time.Time
	for {
		var first []byte
		select {
		case <-ctx.Done():
			return
		case <-idle.C():
			t.forget(p)
			return
		case first = <-p.in:
			idle.Reset()
		}
		if time.Now().Before(notBefore) {
			continue
		}
		ws, err := t.cfg.dial(ctx, t.spec)
		if err != nil {
			failures++
			notBefore = time.Now().Add(backoff(failures))
			t.cfg.log.Printf("client: %s -> %s: connect attempt %d failed: %v (dropping datagrams for %s)",
				p.addr, t.spec.remote(), failures, err, backoff(failures))
			continue
		}
		t.cfg.log.Printf("client: %s -> %s: connected via %s", p.addr, t.spec.remote(), t.cfg.server)
		start := time.Now()
		idled, err := t.relay(ctx, p, ws, first, idle)
		switch {
		case idled:
			t.cfg.log.Printf("client: %s -> %s: closed after %s without datagrams", p.addr, t.spec.remote(), t.spec.timeout)
			t.forget(p)
			return
		case ctx.Err() != nil:
			return
		}
		if time.Since(start) >= stableAfter {
			failures = 0
		} else {
			failures++ // a connection that keeps dropping backs off like one that fails
		}
		notBefore = time.Now().Add(backoff(failures))
		t.cfg.log.Printf("client: %s -> %s: connection lost: %v", p.addr, t.spec.remote(), describe(err, "the server"))
	}
}

func (t *udpTunnel) forget(p *peer) {
	t.mu.Lock()
	delete(t.peers, p.addr)
	t.mu.Unlock()
}

// relay returns when the connection ends (err), ctx ends, or the peer went idle (idled).
func (t *udpTunnel) relay(ctx context.Context, p *peer, ws *wsConn, first []byte, idle *idleTimer) (idled bool, err error) {
	defer ws.close()
	done := make(chan error, 1)
	go func() {
		for {
			msg, err := ws.readMessage()
			if err != nil {
				done <- err
				return
			}
			_, _ = t.pc.WriteToUDPAddrPort(msg, p.addr) // a lost datagram is WireGuard's to retransmit
		}
	}()
	if err := ws.writeMessage(first); err != nil {
		return false, err
	}
	ping := time.NewTicker(t.cfg.pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case err := <-done:
			return false, err
		case <-idle.C():
			return true, nil
		case d := <-p.in:
			idle.Reset()
			if err := ws.writeMessage(d); err != nil {
				return false, err
			}
		case <-ping.C:
			if err := ws.ping(); err != nil {
				return false, err
			}
		}
	}
}

// describe says why a connection ended; peer is the other side ("the server", "the client").
func describe(err error, peer string) string {
	if errors.Is(err, io.EOF) {
		return "closed by " + peer
	}
	return err.Error()
}

// dial opens one tunnel: TCP, TLS (always verified), then the upgrade request with the JWT.
// Errors name the server and the failing step, never the path prefix or the JWT.
func (cfg *clientConfig) dial(ctx context.Context, spec tunnelSpec) (*wsConn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.server.addr)
	if err != nil {
		return nil, err
	}
	if cfg.server.tls {
		tc := tls.Client(conn, &tls.Config{
			ServerName: cfg.server.hostname,
			RootCAs:    cfg.roots,
			MinVersion: tls.VersionTLS12,
			NextProtos: []string{"http/1.1"}, // as upstream's wss client
		})
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("TLS with %s: %w", cfg.server.addr, err)
		}
		conn = tc
	}
	ws, err := cfg.upgrade(ctx, conn, spec)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return ws, nil
}

func (cfg *clientConfig) upgrade(ctx context.Context, conn net.Conn, spec tunnelSpec) (*wsConn, error) {
	token, err := encodeJWT(spec.claims())
	if err != nil {
		return nil, err
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	// The request upstream's client sends (websocket.rs connect), byte for byte in substance.
	req := "GET /" + cfg.prefix + "/events HTTP/1.1\r\n" +
		"Host: " + cfg.server.hostHeader + "\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: v1, " + jwtHeaderPrefix + token + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, fmt.Errorf("sending the upgrade request to %s: %w", cfg.server.addr, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, fmt.Errorf("reading the upgrade response from %s: %w", cfg.server.addr, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("server %s refused the tunnel: HTTP %s", cfg.server.addr, resp.Status)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") || resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) {
		return nil, fmt.Errorf("server %s answered 101 without a valid WebSocket upgrade", cfg.server.addr)
	}
	_ = conn.SetDeadline(time.Time{})
	return newWSConn(conn, br, cfg.pingEvery), nil
}

// idleTimer is a stoppable timer whose channel is nil (never fires) when there is no timeout.
type idleTimer struct {
	d time.Duration
	t *time.Timer
}

func newIdleTimer(d time.Duration) *idleTimer {
	it := &idleTimer{d: d}
	if d > 0 {
		it.t = time.NewTimer(d)
	}
	return it
}

func (it *idleTimer) C() <-chan time.Time {
	if it.t == nil {
		return nil
	}
	return it.t.C
}

// Reset restarts the countdown; since Go 1.23 Reset needs no drain.
func (it *idleTimer) Reset() {
	if it.t != nil {
		it.t.Reset(it.d)
	}
}

func (it *idleTimer) Stop() {
	if it.t != nil {
		it.t.Stop()
	}
}
