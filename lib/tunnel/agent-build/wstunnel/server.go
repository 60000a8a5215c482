package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	restrictForm      = "HOST:PORT (e.g. 127.0.0.1:51820, [::1]:51820, localhost:51820)"
	listenURLForm     = "ws://ADDR:PORT or wss://ADDR:PORT (e.g. wss://[::]:8443)"
	defaultMaxTunnels = 1024
)

// restriction is one --restrict-to. As upstream: an IP literal matches that address only (a
// /32 or /128), anything else matches that exact name, so localhost does not match 127.0.0.1.
type restriction struct {
	host string
	ip   netip.Addr // valid iff host is an IP literal
	port uint16
}

func parseRestriction(arg string) (restriction, error) {
	i := strings.LastIndexByte(arg, ':')
	if i < 0 {
		return restriction{}, fmt.Errorf("--restrict-to %q: want %s", arg, restrictForm)
	}
	host := strings.Trim(arg[:i], "[]")
	port, err := strconv.ParseUint(arg[i+1:], 10, 16)
	if host == "" || err != nil {
		return restriction{}, fmt.Errorf("--restrict-to %q: want %s", arg, restrictForm)
	}
	r := restriction{host: host, port: uint16(port)}
	if ip, err := netip.ParseAddr(host); err == nil {
		r.ip = ip
	}
	return r, nil
}

// target is the address to dial if the requested r:rp matches, else "".
func (r restriction) target(host string, port uint16) string {
	if port != r.port {
		return ""
	}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		if r.ip.IsValid() && ip == r.ip {
			return netip.AddrPortFrom(ip, port).String()
		}
		return ""
	}
	if !r.ip.IsValid() && strings.ToLower(host) == r.host {
		return net.JoinHostPort(r.host, strconv.Itoa(int(port)))
	}
	return ""
}

type serverConfig struct {
	listen     serverURL
	certFile   string
	keyFile    string
	prefixes   []string // secrets: never logged
	restrictTo []restriction
	maxTunnels int
	pingEvery  time.Duration
	log        *log.Logger
}

type server struct {
	cfg      serverConfig
	ctx      context.Context
	prefixes [][32]byte
	slots    chan struct{}
	tunnels  sync.WaitGroup
}

func runServer(ctx context.Context, cfg serverConfig) error {
	ln, err := net.Listen("tcp", cfg.listen.addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", cfg.listen.addr, err)
	}
	return serve(ctx, cfg, ln)
}

// serve answers tunnel requests on ln until ctx ends, then closes every tunnel.
func serve(ctx context.Context, cfg serverConfig, ln net.Listener) error {
	s := &server{cfg: cfg, ctx: ctx, slots: make(chan struct{}, cfg.maxTunnels)}
	for _, p := range cfg.prefixes {
		s.prefixes = append(s.prefixes, sha256.Sum256([]byte(p)))
	}
	if cfg.listen.tls {
		certs, err := newCertReloader(cfg.certFile, cfg.keyFile, cfg.log)
		if err != nil {
			_ = ln.Close()
			return err
		}
		// HTTP/1.1 only: the WebSocket upgrade needs it (upstream's HTTP/2 transport is not offered).
		ln = tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}, GetCertificate: certs.get})
	}
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: connectTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          cfg.log, // its lines start "http: ", e.g. TLS handshake errors
	}
	var dests []string
	for _, r := range cfg.restrictTo {
		dests = append(dests, net.JoinHostPort(r.host, strconv.Itoa(int(r.port))))
	}
	cfg.log.Printf("server: listening on %s://%s, tunnels only to udp %s, %d path prefix(es)",
		map[bool]string{true: "wss", false: "ws"}[cfg.listen.tls], ln.Addr(), strings.Join(dests, ", "), len(cfg.prefixes))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx) // hijacked tunnels are not its business: they end on ctx
	s.tunnels.Wait()
	return nil
}

func (s *server) reject(w http.ResponseWriter, r *http.Request, code int, reason string) {
	s.cfg.log.Printf("server: rejected %s: HTTP %d: %s", r.RemoteAddr, code, reason)
	w.Header().Set("Connection", "close")
	http.Error(w, http.StatusText(code), code)
}

// ServeHTTP checks a tunnel request in upstream's order (upgrade, path, prefix, JWT,
// destination), dials the UDP target, then upgrades and relays.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.tunnels.Add(1)
	defer s.tunnels.Done()
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		s.reject(w, r, http.StatusServiceUnavailable, fmt.Sprintf("too many tunnels (limit %d)", cap(s.slots)))
		return
	}
	if r.Method != http.MethodGet || !headerHas(r.Header, "Connection", "upgrade") || !headerHas(r.Header, "Upgrade", "websocket") {
		s.reject(w, r, http.StatusBadRequest, "not a WebSocket upgrade request")
		return
	}
	prefix, ok := pathPrefix(r.URL.EscapedPath())
	if !ok {
		s.reject(w, r, http.StatusBadRequest, "path is not /PREFIX/...events")
		return
	}
	if !s.prefixAllowed(prefix) {
		s.reject(w, r, http.StatusBadRequest, "path prefix not allowed") // the prefix itself is never logged
		return
	}
	_, token, found := strings.Cut(r.Header.Get("Sec-WebSocket-Protocol"), jwtHeaderPrefix)
	if !found {
		s.reject(w, r, http.StatusBadRequest, "no tunnel JWT in Sec-WebSocket-Protocol")
		return
	}
	c, err := decodeJWT(strings.TrimSpace(token))
	if err != nil {
		s.reject(w, r, http.StatusBadRequest, "undecodable tunnel JWT: "+err.Error())
		return
	}
	proto, err := protocolName(c.P)
	if err != nil {
		s.reject(w, r, http.StatusBadRequest, "undecodable tunnel JWT: "+err.Error())
		return
	}
	dest := c.R + ":" + strconv.Itoa(int(c.RP))
	switch {
	case strings.HasPrefix(proto, "Reverse"):
		s.reject(w, r, http.StatusForbidden, fmt.Sprintf("reverse tunnel %s to %s refused", proto, dest))
		return
	case proto != "Udp":
		s.reject(w, r, http.StatusForbidden, fmt.Sprintf("protocol %s to %s refused (only Udp)", proto, dest))
		return
	}
	target := ""
	for _, rs := range s.cfg.restrictTo {
		if target = rs.target(c.R, c.RP); target != "" {
			break
		}
	}
	if target == "" {
		s.reject(w, r, http.StatusForbidden, fmt.Sprintf("destination %s not in --restrict-to", dest))
		return
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if key == "" || r.Header.Get("Sec-WebSocket-Version") != "13" {
		s.reject(w, r, http.StatusBadRequest, "missing Sec-WebSocket-Key or Sec-WebSocket-Version 13")
		return
	}
	udp, err := net.DialTimeout("udp", target, connectTimeout)
	if err != nil {
		s.reject(w, r, http.StatusBadGateway, fmt.Sprintf("cannot reach udp %s: %v", target, err))
		return
	}
	defer func() { _ = udp.Close() }()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		s.cfg.log.Printf("server: tunnel %s from %s: cannot take over the connection: %v", c.ID, r.RemoteAddr, err)
		return
	}
	_ = conn.SetDeadline(time.Time{})
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + acceptKey(key) + "\r\nSec-WebSocket-Protocol: v1\r\n\r\n")
	if err := brw.Flush(); err != nil {
		_ = conn.Close()
		return
	}
	ws := newWSConn(conn, brw.Reader, s.cfg.pingEvery)
	s.cfg.log.Printf("server: tunnel %s from %s to udp %s opened", c.ID, r.RemoteAddr, target)
	err = s.relay(ws, udp)
	s.cfg.log.Printf("server: tunnel %s from %s closed: %v", c.ID, r.RemoteAddr, describe(err, "the client"))
}

// relay copies datagrams both ways until either side ends or the server stops.
func (s *server) relay(ws *wsConn, udp net.Conn) error {
	defer ws.close()
	errc := make(chan error, 2)
	go func() {
		for {
			msg, err := ws.readMessage()
			if err != nil {
				errc <- err
				return
			}
			// Only a closed socket ends the tunnel: ICMP refusals, EMSGSIZE or ENOBUFS lose one
			// datagram, which WireGuard retransmits.
			if _, err := udp.Write(msg); errors.Is(err, net.ErrClosed) {
				errc <- err
				return
			}
		}
	}()
	go func() {
		buf := make([]byte, 65535)
		for {
			n, err := udp.Read(buf)
			if errors.Is(err, syscall.ECONNREFUSED) {
				// ICMP port unreachable for an earlier datagram: the target is restarting. Keep
				// the tunnel; WireGuard retransmits.
				continue
			}
			if err == nil {
				err = ws.writeMessage(buf[:n])
			}
			if err != nil {
				errc <- err
				return
			}
		}
	}()
	ping := time.NewTicker(s.cfg.pingEvery)
	defer ping.Stop()
	for {
		select {
		case err := <-errc:
			_ = udp.Close() // unblocks the other copier
			return err
		case <-ping.C:
			if err := ws.ping(); err != nil {
				return err
			}
		case <-s.ctx.Done():
			return errors.New("server shutting down")
		}
	}
}

// prefixAllowed compares digests in constant time, so neither the prefix nor its length leaks
// through timing, and checks every allowed prefix.
func (s *server) prefixAllowed(p string) bool {
	h := sha256.Sum256([]byte(p))
	ok := 0
	for _, a := range s.prefixes {
		ok |= subtle.ConstantTimeCompare(h[:], a[:])
	}
	return ok == 1
}

// pathPrefix mirrors upstream's extract_path_prefix: "/PREFIX/<anything ending in events>".
func pathPrefix(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return "", false
	}
	prefix, tail, ok := strings.Cut(rest, "/")
	return prefix, ok && strings.HasSuffix(tail, "events")
}

// headerHas reports whether a comma-separated header holds token (case-insensitive).
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// certReloader serves the certificate files and picks up a renewal (cert-manager rewrites
// the mounted Secret) without a restart, as upstream's TLS reloader does.
type certReloader struct {
	certFile, keyFile string
	log               *log.Logger
	mu                sync.Mutex
	cert              *tls.Certificate
	stamp             string
	checked           time.Time
}

func newCertReloader(certFile, keyFile string, l *log.Logger) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, log: l}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-certificate %s / --tls-private-key %s: %w", certFile, keyFile, err)
	}
	c.cert, c.stamp, c.checked = &cert, c.fileStamp(), time.Now()
	return c, nil
}

func (c *certReloader) fileStamp() string {
	var b strings.Builder
	for _, f := range []string{c.certFile, c.keyFile} {
		if fi, err := os.Stat(f); err == nil {
			fmt.Fprintf(&b, "%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		}
	}
	return b.String()
}

func (c *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.checked) < 10*time.Second {
		return c.cert, nil
	}
	c.checked = time.Now()
	if stamp := c.fileStamp(); stamp != c.stamp {
		cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
		if err != nil {
			// Likely caught mid-rewrite: keep serving the old pair and retry on a later check.
			c.log.Printf("server: certificate files changed but do not load (%v); keeping the previous certificate", err)
			return c.cert, nil
		}
		c.cert, c.stamp = &cert, stamp
		c.log.Printf("server: reloaded the TLS certificate from %s", c.certFile)
	}
	return c.cert, nil
}
