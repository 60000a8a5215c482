// Package nodeapi is the agent API (docs/adr/0023-kubelet-api.md §4, wire contract in
// pkg/agentapi): what anex-kubelet asks the machine for `kubectl logs|exec|attach|
// port-forward|top`. It listens on 127.0.0.1 only; wireproxy's [TCPServerTunnel] exposes it on
// the pod's VPN address, which only the gateway can reach (ADR 0020). Nothing here is
// authenticated: loopback plus the tunnel are the boundary, as for the kubelet's own
// read-only surfaces behind the API server.
//
// Errors answer text/plain with a sentence naming what was wrong: 400 for a bad query value
// (the parameter and the accepted form), 404 for an unknown container (naming the ones that
// exist), 403 for a port the pod does not declare.
package nodeapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"anex.local/agent-build/agent/internal/logbuf"
	"anex.local/agent-build/agent/pkg/agentapi"
)

// Container is one container the agent runs.
type Container struct {
	// Name is the init container's or sidecar's name; "" for the app container (the agent is
	// never told its name: the caller sends container= empty for spec.containers[0]).
	Name string
	// Env is its complete environment ("K=V") and WorkingDir its working directory: an exec
	// runs in both.
	Env        []string
	WorkingDir string
	Logs       *logbuf.Buffer
}

// Server serves the agent API for one pod.
type Server struct {
	Containers []Container
	// Ports are the pod's declared containerPorts, the only ones port-forward reaches.
	Ports []int
	Logf  func(format string, args ...any)
	// Stats measures the pod (nil: ReadStats).
	Stats func(ctx context.Context) agentapi.Stats
}

// Addr is where the agent API listens: loopback only, in every transport mode.
var Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(agentapi.Port))

// Serve listens on addr and serves until ctx ends. A port already taken is returned as an
// error at once (the caller logs it: the pod runs on without its API).
func (s *Server) Serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	go s.ServeListener(ctx, ln)
	return nil
}

// ServeListener serves on ln until ctx ends.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) {
	server := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = server.Close()
	}()
	_ = server.Serve(ln)
}

// Handler routes the agent API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+agentapi.PathLogs, s.logs)
	mux.HandleFunc("POST "+agentapi.PathExec, s.exec)
	mux.HandleFunc("POST "+agentapi.PathAttach, s.attach)
	mux.HandleFunc("POST "+agentapi.PathPortForward, s.portForward)
	mux.HandleFunc("GET "+agentapi.PathStats, s.stats)
	return mux
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

func refuse(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, format+"\n", args...)
}

// container finds the container the query names, or answers 404.
func (s *Server) container(w http.ResponseWriter, r *http.Request) (*Container, bool) {
	name := r.URL.Query().Get(agentapi.QueryContainer)
	for i := range s.Containers {
		if s.Containers[i].Name == name {
			return &s.Containers[i], true
		}
	}
	names := []string{}
	for _, c := range s.Containers {
		if c.Name == "" {
			names = append(names, `"" (the app container)`)
		} else {
			names = append(names, strconv.Quote(c.Name))
		}
	}
	refuse(w, http.StatusNotFound, "container %q is not in this pod; its containers are %s", name, strings.Join(names, ", "))
	return nil, false
}

// query reads the query parameters kept by name, refusing a bad one with 400.
type query struct {
	w   http.ResponseWriter
	r   *http.Request
	bad bool
}

func (q *query) boolean(name string) bool {
	raw := q.r.URL.Query().Get(name)
	if raw == "" || q.bad {
		return false
	}
	v, err := strconv.ParseBool(raw)
	if err != nil {
		q.fail("query parameter %s=%q: expected true or false", name, raw)
	}
	return v
}

// integer reads a whole number >= least; absent: fallback.
func (q *query) integer(name string, least, fallback int64) int64 {
	raw := q.r.URL.Query().Get(name)
	if raw == "" || q.bad {
		return fallback
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || v < least {
		q.fail("query parameter %s=%q: expected a whole number >= %d", name, raw, least)
	}
	return v
}

func (q *query) time(name string) time.Time {
	raw := q.r.URL.Query().Get(name)
	if raw == "" || q.bad {
		return time.Time{}
	}
	v, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		q.fail("query parameter %s=%q: expected an RFC 3339 time such as 2026-01-02T15:04:05Z", name, raw)
	}
	return v
}

func (q *query) fail(format string, args ...any) {
	if !q.bad {
		q.bad = true
		refuse(q.w, http.StatusBadRequest, format, args...)
	}
}

// logs answers GET /v1/logs: the container's output with kubelet's options.
func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	q := &query{w: w, r: r}
	previous := q.boolean(agentapi.QueryPrevious)
	o := logbuf.Options{
		Follow:     q.boolean(agentapi.QueryFollow),
		TailLines:  int(q.integer(agentapi.QueryTailLines, 0, -1)),
		Since:      q.time(agentapi.QuerySinceTime),
		Timestamps: q.boolean(agentapi.QueryTimestamps),
		LimitBytes: q.integer(agentapi.QueryLimitBytes, 1, 0),
	}
	if q.bad {
		return
	}
	c, ok := s.container(w, r)
	if !ok {
		return
	}
	run := c.Logs.Current()
	if previous {
		run = c.Logs.Previous()
	}
	switch {
	case run == nil && previous:
		// kubelet's words for the same case
		refuse(w, http.StatusBadRequest, "previous terminated container %s not found", describe(c))
		return
	case run == nil:
		refuse(w, http.StatusBadRequest, "container %s is waiting to start", describe(c))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if flusher, ok := w.(http.Flusher); ok {
		o.Flush = flusher.Flush
		flusher.Flush()
	}
	_ = run.Read(r.Context(), w, o)
}

func describe(c *Container) string {
	if c.Name == "" {
		return "(the app container)"
	}
	return strconv.Quote(c.Name)
}

// upgrade checks the request asks for token, then hijacks the connection and answers 101.
// The reader holds what the client sent after its request (it may not wait for the 101).
func upgrade(w http.ResponseWriter, r *http.Request, token string) (net.Conn, *bufio.Reader, bool) {
	if !headerHas(r.Header, "Connection", "upgrade") || !strings.EqualFold(r.Header.Get("Upgrade"), token) {
		w.Header().Set("Upgrade", token)
		refuse(w, http.StatusUpgradeRequired, "%s needs the headers Connection: Upgrade and Upgrade: %s", r.URL.Path, token)
		return nil, nil, false
	}
	hijacker, ok := w.(http.Hijacker)
	if !ok {
		refuse(w, http.StatusInternalServerError, "this connection cannot be upgraded")
		return nil, nil, false
	}
	conn, rw, err := hijacker.Hijack()
	if err != nil {
		return nil, nil, false
	}
	_ = conn.SetDeadline(time.Time{})
	if _, err := fmt.Fprintf(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", token); err != nil {
		_ = conn.Close()
		return nil, nil, false
	}
	return conn, rw.Reader, true
}

func headerHas(h http.Header, name, token string) bool {
	for _, value := range h.Values(name) {
		for _, part := range strings.Split(value, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// declared is the pod's declared ports, sorted, without repeats.
func (s *Server) declared() []int {
	ports := append([]int(nil), s.Ports...)
	sort.Ints(ports)
	return slices.Compact(ports)
}

// portForward answers POST /v1/port-forward: the raw stream to 127.0.0.1:port.
func (s *Server) portForward(w http.ResponseWriter, r *http.Request) {
	q := &query{w: w, r: r}
	port := q.integer(agentapi.QueryPort, 1, 0)
	if !q.bad && (port == 0 || port > 65535) {
		q.fail("query parameter %s=%q: expected a port number 1-65535", agentapi.QueryPort, r.URL.Query().Get(agentapi.QueryPort))
	}
	if q.bad {
		return
	}
	declared := s.declared()
	if !slices.Contains(declared, int(port)) {
		list := "none"
		if len(declared) > 0 {
			parts := make([]string, len(declared))
			for i, p := range declared {
				parts[i] = strconv.Itoa(p)
			}
			list = strings.Join(parts, ", ")
		}
		refuse(w, http.StatusForbidden, "port %d is not a containerPort this pod declares (declared: %s); only declared ports are forwarded", port, list)
		return
	}
	target, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), 5*time.Second)
	if err != nil {
		refuse(w, http.StatusBadGateway, "nothing answers on port %d of the pod: %v", port, errors.Unwrap(err))
		return
	}
	// anex-kubelet asks for the framed stream (it carries half-closes across wireproxy,
	// agentapi/tcpframes.go); the raw one stays for gateways from before it.
	token := agentapi.UpgradeTCP
	if strings.EqualFold(r.Header.Get("Upgrade"), agentapi.UpgradeTCPFramed) {
		token = agentapi.UpgradeTCPFramed
	}
	conn, buffered, ok := upgrade(w, r, token)
	if !ok {
		_ = target.Close()
		return
	}
	if token == agentapi.UpgradeTCPFramed {
		if err := agentapi.SpliceFramed(target, &bufferedConn{Conn: conn, reader: buffered}); err != nil {
			s.logf("port-forward to port %d ended: %v", port, err)
		}
		return
	}
	splice(conn, buffered, target)
}

// bufferedConn reads what the client sent with its request first (it sits in the reader).
type bufferedConn struct {
	net.Conn
	reader *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.reader.Read(p) }

// splice copies both ways until both directions ended, passing on half-closes.
func splice(conn net.Conn, buffered *bufio.Reader, target net.Conn) {
	done := make(chan struct{}, 2)
	go func() {
		_, _ = buffered.WriteTo(target)
		closeWrite(target)
		done <- struct{}{}
	}()
	go func() {
		buf := make([]byte, 32*1024)
		for {
			n, err := target.Read(buf)
			if n > 0 {
				if _, werr := conn.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		closeWrite(conn)
		done <- struct{}{}
	}()
	<-done
	<-done
	_ = conn.Close()
	_ = target.Close()
}

func closeWrite(c net.Conn) {
	if tcp, ok := c.(interface{ CloseWrite() error }); ok {
		_ = tcp.CloseWrite()
		return
	}
	_ = c.Close()
}
