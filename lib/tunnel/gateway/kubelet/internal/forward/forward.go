// Package forward is `anex-kubelet forward`, the forwarder pod of one anex pod: its IP is the
// anex pod's status.podIP, so Services, headless DNS and anything that dials a pod IP reach
// the pod's declared ports through it (docs/adr/0024-services-reach-anex-pods.md).
//
// Contract (ADR 0024; lib/reconcile/forwarders.ts writes the pod that runs it):
//
//		anex-kubelet forward --pod-uid <uid> --ports <p1,p2,...> --kubelet-url https://<host>:<port>
//		    --token-file <path> [--listen-address 0.0.0.0] [--ca-file <pem>] [--shutdown-grace 10s]
//
//	  - It listens on every port of --ports on --listen-address, and exits non-zero naming the
//	    port when one cannot be bound.
//	  - Each accepted connection reads the token from --token-file afresh (a projected
//	    ServiceAccount token is rotated by the kubelet), dials --kubelet-url over TLS and sends
//	    `POST /forward/<uid>/<port>` with `Connection: Upgrade`, `Upgrade: anex-tcp/1` and
//	    `Authorization: Bearer <token>`. On 101 the bytes are spliced both ways with half-close.
//	    On anything else the client's connection is reset (RST: the client sees the refusal at
//	    once instead of an empty answer) and one line is logged with the status and message,
//	    never the token.
//	  - SIGTERM (the context ending) stops accepting; open connections get --shutdown-grace to
//	    finish, then are closed.
package forward

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// UpgradeTCP is the upgrade token of the forwarded byte stream, the same the agent's
// /v1/port-forward speaks (agentapi.UpgradeTCP).
const UpgradeTCP = "anex-tcp/1"

// Path is the route on anex-kubelet: Path + "<uid>/<port>".
const Path = "/forward/"

// Config is one forwarder.
type Config struct {
	PodUID        string
	Ports         []int
	ListenAddress string
	// KubeletURL is anex-kubelet's base URL, https://<host>:<port>.
	KubeletURL string
	TokenFile  string
	// TLS for the connection to anex-kubelet (see ClientTLS).
	TLS *tls.Config
	// Grace is how long open connections may finish after the context ends (default 10 s).
	Grace time.Duration
	Log   *slog.Logger
	// Listen binds a port (default net.Listen); tests bind elsewhere than the port named.
	Listen func(network, address string) (net.Listener, error)
	// HandshakeTimeout bounds dialing anex-kubelet and its answer (default 45 s: anex-kubelet
	// itself gives the agent 10 s to connect and 30 s to answer).
	HandshakeTimeout time.Duration
}

var uidPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,62}$`)

// Validate says what is wrong with the configuration, naming the flag.
func (c *Config) Validate() error {
	if !uidPattern.MatchString(c.PodUID) {
		return fmt.Errorf("--pod-uid %q is not a pod UID (letters, digits and dashes)", c.PodUID)
	}
	if len(c.Ports) == 0 {
		return errors.New("--ports names no port (e.g. --ports 8080,9000)")
	}
	seen := map[int]bool{}
	for _, p := range c.Ports {
		if p < 1 || p > 65535 {
			return fmt.Errorf("--ports: %d is not a TCP port (1-65535)", p)
		}
		if seen[p] {
			return fmt.Errorf("--ports: %d is named twice", p)
		}
		seen[p] = true
	}
	if _, err := kubeletHost(c.KubeletURL); err != nil {
		return err
	}
	if c.TokenFile == "" {
		return errors.New("--token-file is required (the projected ServiceAccount token)")
	}
	return nil
}

// kubeletHost is host:port of an https:// base URL without a path.
func kubeletHost(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("--kubelet-url %q must be https://<host>:<port> (the token travels on it)", raw)
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// ClientTLS is the TLS configuration for anex-kubelet. With a CA file its certificate is
// verified against it for the URL's host. Without one it is not verified, on purpose: the
// only secret sent is the forwarder's projected ServiceAccount token, which is bound to the
// audience anex-kubelet (the API server refuses it for anything else, and so does any other
// service that reviews tokens with its own audience) and to this forwarder pod (it dies with
// the pod and lets anex-kubelet open nothing but this pod's declared ports). Someone who can
// intercept the cluster network between a forwarder and the gateway could see the forwarded
// bytes anyway; verifying needs a serving certificate the forwarder can check, which a
// self-signed anex-kubelet does not have.
func ClientTLS(caFile, kubeletURL string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	if caFile == "" {
		cfg.InsecureSkipVerify = true //nolint:gosec // see above: the token is audience- and pod-bound
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", caFile)
	}
	u, err := url.Parse(kubeletURL)
	if err != nil {
		return nil, fmt.Errorf("--kubelet-url: %w", err)
	}
	cfg.RootCAs, cfg.ServerName = pool, u.Hostname()
	return cfg, nil
}

// Forwarder holds the bound ports; Serve forwards their connections.
type Forwarder struct {
	cfg       Config
	host      string
	log       *slog.Logger
	listeners map[int]net.Listener

	wg sync.WaitGroup
}

// Listen validates the configuration and binds every port, or says which cannot be bound.
func Listen(cfg Config) (*Forwarder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host, _ := kubeletHost(cfg.KubeletURL)
	if cfg.TLS == nil {
		tlsCfg, err := ClientTLS("", cfg.KubeletURL)
		if err != nil {
			return nil, err
		}
		cfg.TLS = tlsCfg
	}
	if cfg.Grace == 0 {
		cfg.Grace = 10 * time.Second
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = 45 * time.Second
	}
	listen := cfg.Listen
	if listen == nil {
		listen = net.Listen
	}
	f := &Forwarder{cfg: cfg, host: host, log: cfg.Log, listeners: map[int]net.Listener{}}
	if f.log == nil {
		f.log = slog.Default()
	}
	for _, port := range cfg.Ports {
		address := net.JoinHostPort(cfg.ListenAddress, strconv.Itoa(port))
		l, err := listen("tcp", address)
		if err != nil {
			f.closeListeners()
			return nil, fmt.Errorf("cannot listen on port %d (%s): %w", port, address, err)
		}
		f.listeners[port] = l
	}
	return f, nil
}

// Addr is where the port is bound.
func (f *Forwarder) Addr(port int) net.Addr {
	if l, ok := f.listeners[port]; ok {
		return l.Addr()
	}
	return nil
}

func (f *Forwarder) closeListeners() {
	for _, l := range f.listeners {
		_ = l.Close()
	}
}

// Serve forwards connections until ctx ends, then lets open ones finish for the grace and
// closes the rest. It returns once every connection is closed.
func (f *Forwarder) Serve(ctx context.Context) error {
	// hard ends the connections still open when the grace is over.
	hard, cancelHard := context.WithCancel(context.Background())
	defer cancelHard()
	var accepting sync.WaitGroup
	for port, l := range f.listeners {
		accepting.Add(1)
		go func() {
			defer accepting.Done()
			f.accept(ctx, hard, port, l)
		}()
	}
	f.log.Info("forwarding", "pod", f.cfg.PodUID, "ports", f.cfg.Ports, "kubelet", f.cfg.KubeletURL)
	<-ctx.Done()
	f.closeListeners()
	accepting.Wait()
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(f.cfg.Grace):
		f.log.Info("grace over; closing the connections still open", "grace", f.cfg.Grace)
		cancelHard()
		<-done
	}
	return nil
}

func (f *Forwarder) accept(ctx, hard context.Context, port int, l net.Listener) {
	backoff := 5 * time.Millisecond
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and retry, as net/http does.
			f.log.Warn("accept failed; retrying", "port", port, "error", err, "in", backoff)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		f.wg.Add(1)
		go f.handle(hard, port, conn)
	}
}

func (f *Forwarder) handle(ctx context.Context, port int, client net.Conn) {
	defer f.wg.Done()
	stop := context.AfterFunc(ctx, func() { _ = client.Close() })
	defer stop()
	upstream, err := f.open(ctx, port)
	if err != nil {
		f.refuse(client, port, err)
		return
	}
	stopUpstream := context.AfterFunc(ctx, func() { _ = upstream.Close() })
	defer stopUpstream()
	Splice(client, upstream)
}

// Refusal is anex-kubelet's non-101 answer.
type Refusal struct {
	Status  int
	Message string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("anex-kubelet answered HTTP %d: %s", r.Status, r.Message)
}

// refuse resets the client's connection and logs one line (never the token).
func (f *Forwarder) refuse(client net.Conn, port int, err error) {
	if tcp, ok := client.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // close sends RST
	}
	_ = client.Close()
	var refused *Refusal
	if errors.As(err, &refused) {
		f.log.Warn("connection refused by anex-kubelet", "port", port, "client", client.RemoteAddr().String(), "status", refused.Status, "message", refused.Message)
		return
	}
	f.log.Warn("connection not forwarded", "port", port, "client", client.RemoteAddr().String(), "error", err.Error())
}

// open asks anex-kubelet for the pod's port and returns the switched connection.
func (f *Forwarder) open(ctx context.Context, port int) (net.Conn, error) {
	raw, err := os.ReadFile(f.cfg.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read the token file: %w", err)
	}
	token := strings.TrimSpace(string(raw))
	if token == "" {
		return nil, fmt.Errorf("the token file %s is empty", f.cfg.TokenFile)
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.HandshakeTimeout)
	defer cancel()
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}, Config: f.cfg.TLS}
	conn, err := dialer.DialContext(ctx, "tcp", f.host)
	if err != nil {
		return nil, fmt.Errorf("cannot reach anex-kubelet at %s: %w", f.host, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	u := url.URL{Scheme: "https", Host: f.host, Path: Path + url.PathEscape(f.cfg.PodUID) + "/" + strconv.Itoa(port)}
	req, err := http.NewRequest(http.MethodPost, u.String(), nil)
	if err != nil {
		stop()
		_ = conn.Close()
		return nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", UpgradeTCP)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("User-Agent", "anex-kubelet-forward")
	reader := bufio.NewReader(conn)
	resp, err := roundTrip(conn, reader, req)
	if !stop() {
		// The context ended: the connection is closed whatever the round trip said.
		_ = conn.Close()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("anex-kubelet at %s did not answer within %s", f.host, f.cfg.HandshakeTimeout)
		}
		return nil, errors.New("the forwarder is stopping")
	}
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("anex-kubelet at %s: %w", f.host, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		_ = conn.Close()
		return nil, &Refusal{Status: resp.StatusCode, Message: strings.TrimSpace(string(body))}
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), UpgradeTCP) {
		_ = conn.Close()
		return nil, fmt.Errorf("anex-kubelet at %s switched to %q, not %q", f.host, resp.Header.Get("Upgrade"), UpgradeTCP)
	}
	return &BufferedConn{Conn: conn, Reader: reader}, nil
}

func roundTrip(conn net.Conn, reader *bufio.Reader, req *http.Request) (*http.Response, error) {
	if err := req.Write(conn); err != nil {
		return nil, err
	}
	return http.ReadResponse(reader, req)
}
