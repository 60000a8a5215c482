package kubelet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"anex.local/agent-build/agent/pkg/agentapi"
	"anex.local/kubelet/internal/forward"
)

// AgentDialer opens TCP connections to agents' VPN addresses. In the gateway pod a plain
// net.Dialer reaches them through wg0; tests inject one that dials a local fake agent.
type AgentDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// ErrAgentUnreachable wraps a failed dial: the machine is gone or its tunnel is down, which
// the logs route answers from the stored tail instead.
var ErrAgentUnreachable = errors.New("agent unreachable")

// AgentRefusal is an agent's non-success answer (an undeclared port, an unknown container).
type AgentRefusal struct {
	Status  int
	Message string
}

func (e *AgentRefusal) Error() string {
	return fmt.Sprintf("the agent refused (HTTP %d): %s", e.Status, e.Message)
}

// Agents calls the agent API of a machine at its VPN address (ADR 0023 §4). Plain HTTP: the
// WireGuard tunnel is the channel's security, and only the gateway pod can reach the address.
type Agents struct {
	Dialer AgentDialer
	Port   int
	client *http.Client
	once   sync.Once
}

func (a *Agents) address(vpn string) string {
	port := a.Port
	if port == 0 {
		port = agentapi.Port
	}
	return net.JoinHostPort(vpn, strconv.Itoa(port))
}

func (a *Agents) dial(ctx context.Context, vpn string) (net.Conn, error) {
	conn, err := a.Dialer.DialContext(ctx, "tcp", a.address(vpn))
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrAgentUnreachable, a.address(vpn), err)
	}
	return conn, nil
}

func (a *Agents) httpClient() *http.Client {
	a.once.Do(func() {
		a.client = &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				host, _, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				return a.dial(ctx, host)
			},
			// A machine that went away answers nothing through the tunnel: a pooled
			// connection to it would hold a request until the header timeout before the
			// saved tail is served, so every request dials afresh (the connect timeout
			// decides) and a live agent that says nothing is given up on after 10 s.
			DisableKeepAlives:     true,
			ResponseHeaderTimeout: 10 * time.Second,
			DisableCompression:    true,
		}}
	})
	return a.client
}

// Get sends GET path?query to the agent at vpn. A non-2xx answer is an *AgentRefusal; a
// failed dial wraps ErrAgentUnreachable. The caller closes the body.
func (a *Agents) Get(ctx context.Context, vpn, path string, query url.Values) (*http.Response, error) {
	u := url.URL{Scheme: "http", Host: a.address(vpn), Path: path, RawQuery: query.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.httpClient().Do(req)
	if err != nil {
		if errors.Is(err, ErrAgentUnreachable) {
			return nil, err
		}
		return nil, fmt.Errorf("agent at %s: %w", a.address(vpn), err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, refusal(resp)
	}
	return resp, nil
}

func refusal(resp *http.Response) *AgentRefusal {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return &AgentRefusal{Status: resp.StatusCode, Message: strings.TrimSpace(string(body))}
}

// Upgraded is an agent connection after 101 Switching Protocols: reads go through the
// buffered reader (it may hold bytes that arrived with the response), writes and
// CloseWrite (the pod's server sees EOF and may still answer) to the conn.
type Upgraded = forward.BufferedConn

// Upgrade sends POST path?query with `Upgrade: protocol` and returns the switched connection.
func (a *Agents) Upgrade(ctx context.Context, vpn, path string, query url.Values, protocol string) (*Upgraded, error) {
	conn, err := a.dial(ctx, vpn)
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "http", Host: a.address(vpn), Path: path, RawQuery: query.Encode()}
	req, err := http.NewRequest(http.MethodPost, u.String(), nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", protocol)
	// The handshake must not hang on a machine that accepts and says nothing; the stream
	// itself has no deadline (an interactive shell may idle).
	deadline := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("agent at %s: %w", a.address(vpn), err)
	}
	reader := bufio.NewReader(conn)
	resp, err := http.ReadResponse(reader, req)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("agent at %s: %w", a.address(vpn), err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer conn.Close()
		return nil, refusal(resp)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), protocol) {
		conn.Close()
		return nil, fmt.Errorf("agent at %s switched to %q, not %q", a.address(vpn), resp.Header.Get("Upgrade"), protocol)
	}
	_ = conn.SetDeadline(time.Time{})
	return &Upgraded{Conn: conn, Reader: reader}, nil
}

// PortStream is an open connection to a port of the pod, through its agent's
// /v1/port-forward: framed (agentapi.UpgradeTCPFramed, so half-closes cross wireproxy) with
// agents that speak it, raw (UpgradeTCP) with agents from before it.
type PortStream struct {
	conn   *Upgraded
	framed bool
}

// OpenPort opens the pod's port through the agent at vpn: the framed stream first, the raw
// one when the agent answers 426 (it predates the framed stream). Refusals are
// *AgentRefusal; a failed dial wraps ErrAgentUnreachable.
func (a *Agents) OpenPort(ctx context.Context, vpn string, port int) (*PortStream, error) {
	q := url.Values{agentapi.QueryPort: {strconv.Itoa(port)}}
	conn, err := a.Upgrade(ctx, vpn, agentapi.PathPortForward, q, agentapi.UpgradeTCPFramed)
	var refused *AgentRefusal
	if errors.As(err, &refused) && refused.Status == http.StatusUpgradeRequired {
		conn, err = a.Upgrade(ctx, vpn, agentapi.PathPortForward, q, agentapi.UpgradeTCP)
		if err != nil {
			return nil, err
		}
		return &PortStream{conn: conn}, nil
	}
	if err != nil {
		return nil, err
	}
	return &PortStream{conn: conn, framed: true}, nil
}

// Close ends the stream without splicing it.
func (p *PortStream) Close() error { return p.conn.Close() }

// Splice copies between plain (the client's side) and the pod's port until the exchange is
// over, then closes both. Framed: both directions end on their own, half-closes carried
// (agentapi.SpliceFramed). Raw: the agent's side ending ends everything, since wireproxy
// passes no half-close on and an agent's EOF means its connection is gone.
func (p *PortStream) Splice(plain io.ReadWriteCloser) error {
	if p.framed {
		return agentapi.SpliceFramed(plain, p.conn)
	}
	defer p.conn.Close()
	go func() {
		_, _ = io.Copy(p.conn, plain)
		// The client finished sending: half-close so the server sees EOF and can answer.
		_ = p.conn.CloseWrite()
	}()
	_, _ = io.Copy(plain, p.conn)
	return plain.Close()
}

// Endpoint is the agent endpoint (the control plane's HTTP API): the peer list that maps a
// pod UID to its VPN address, and the log tails saved when runs ended. Both with the
// gateway's credential, read from its file on every call so a rotated secret is picked up.
type Endpoint struct {
	URL       string
	TokenFile string
	Client    *http.Client
	// PeersTTL is how long a fetched peer list answers lookups.
	PeersTTL time.Duration
	Now      func() time.Time

	mu      sync.Mutex
	peers   map[string]string
	fetched time.Time
}

// EndpointError is a failed call to the agent endpoint, without the credential.
type EndpointError struct {
	Route   string
	Status  int
	Message string
}

func (e *EndpointError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("agent endpoint %s: %s", e.Route, e.Message)
	}
	return fmt.Sprintf("agent endpoint %s answered HTTP %d: %s", e.Route, e.Status, e.Message)
}

func (e *Endpoint) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Endpoint) get(ctx context.Context, route string, query url.Values) (*http.Response, error) {
	if e.URL == "" {
		return nil, &EndpointError{Route: route, Message: "no --agent-url configured"}
	}
	token, err := os.ReadFile(e.TokenFile)
	if err != nil {
		return nil, &EndpointError{Route: route, Message: fmt.Sprintf("cannot read the gateway token file %s: %v", e.TokenFile, errors.Unwrap(err))}
	}
	u := strings.TrimSuffix(e.URL, "/") + route
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &EndpointError{Route: route, Message: err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	client := e.Client
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, &EndpointError{Route: route, Message: err.Error()}
	}
	return resp, nil
}

// PeerAddress is the VPN address of the pod's agent, from the endpoint's peer list; false
// when the pod has no peer (transport none, or its machine is gone).
func (e *Endpoint) PeerAddress(ctx context.Context, podUID string) (string, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ttl := e.PeersTTL
	if ttl == 0 {
		ttl = 5 * time.Second
	}
	if e.peers == nil || e.now().Sub(e.fetched) >= ttl {
		peers, err := e.fetchPeers(ctx)
		if err != nil {
			return "", false, err
		}
		e.peers, e.fetched = peers, e.now()
	}
	address, ok := e.peers[podUID]
	return address, ok, nil
}

func (e *Endpoint) fetchPeers(ctx context.Context) (map[string]string, error) {
	resp, err := e.get(ctx, "/v1/peers", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		r := refusal(resp)
		return nil, &EndpointError{Route: "/v1/peers", Status: r.Status, Message: r.Message}
	}
	var list struct {
		Peers []struct {
			Address string `json:"address"`
			PodUID  string `json:"podUid"`
		} `json:"peers"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&list); err != nil {
		return nil, &EndpointError{Route: "/v1/peers", Message: "unreadable peer list: " + err.Error()}
	}
	peers := make(map[string]string, len(list.Peers))
	for _, p := range list.Peers {
		// Only an IPv4 address is dialed: the list is ours, but a malformed entry must not
		// turn into a host name lookup.
		if ip := net.ParseIP(p.Address); ip != nil && ip.To4() != nil && p.PodUID != "" {
			peers[p.PodUID] = ip.String()
		}
	}
	return peers, nil
}

// TailEntry is one saved line: RFC 3339 time, stream, text without its newline.
type TailEntry struct {
	Time   string `json:"t"`
	Stream string `json:"s"`
	Line   string `json:"l"`
}

// StoredTail is the saved tail of one run (ADR 0023 §5).
type StoredTail struct {
	Entries []TailEntry `json:"entries"`
	Dropped int64       `json:"dropped"`
}

// StoredTail fetches the saved log tail of a run; nil when none is saved (404). container ""
// is the app container (the endpoint's convention: the agent never names it).
func (e *Endpoint) StoredTail(ctx context.Context, podUID, container string, previous bool) (*StoredTail, error) {
	query := url.Values{"pod": {podUID}, "previous": {strconv.FormatBool(previous)}}
	if container != "" {
		query.Set("container", container)
	}
	resp, err := e.get(ctx, "/v1/logs", query)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, nil
	default:
		r := refusal(resp)
		return nil, &EndpointError{Route: "/v1/logs", Status: r.Status, Message: r.Message}
	}
	var tail StoredTail
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&tail); err != nil {
		return nil, &EndpointError{Route: "/v1/logs", Message: "unreadable log tail: " + err.Error()}
	}
	return &tail, nil
}
