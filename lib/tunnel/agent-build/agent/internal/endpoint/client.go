package endpoint

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Client talks to one agent endpoint. Its zero value is not usable: use New.
type Client struct {
	base       string
	http       *http.Client
	credential string
	// logsOff: the endpoint answered 404 or 501 to a log tail; no more are sent.
	logsOff atomic.Bool
	// Sleep is replaced in tests; it returns early when ctx ends.
	Sleep func(ctx context.Context, d time.Duration)
}

// Options are the endpoint settings of the agent's environment.
type Options struct {
	// URL is the endpoint's base URL: https://…, or http://… only when Insecure.
	URL      string
	Insecure bool
	// CAFile is an extra CA bundle for the endpoint's certificate (PEM), when set.
	CAFile string
}

// New checks the URL's scheme against the options and builds a client that verifies TLS.
func New(o Options) (*Client, error) {
	if err := CheckURL("ANEX_AGENT_URL", o.URL, o.Insecure); err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// The pod's env is not ours: a proxy it names must never carry the token.
	transport.Proxy = nil
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ANEX_AGENT_CA_FILE: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ANEX_AGENT_CA_FILE=%s holds no PEM certificate", o.CAFile)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   60 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("more than 3 redirects")
			}
			return CheckURL("redirect", req.URL.String(), o.Insecure)
		},
	}
	return &Client{base: strings.TrimRight(o.URL, "/"), http: client, Sleep: sleep}, nil
}

// CheckURL accepts https:// URLs, and http:// ones only when insecure is allowed.
func CheckURL(what, url string, insecure bool) error {
	switch {
	case strings.HasPrefix(url, "https://"):
		return nil
	case strings.HasPrefix(url, "http://") && insecure:
		return nil
	}
	return fmt.Errorf("%s must be an https:// URL (http:// only with ANEX_AGENT_INSECURE=1)", what)
}

// HTTP is the client's http.Client (downloads use the same TLS and redirect rules).
func (c *Client) HTTP() *http.Client { return c.http }

// BootstrapRequest is the body of POST /v1/bootstrap.
type BootstrapRequest struct {
	Token        string `json:"token"`
	PodUID       string `json:"podUid"`
	InstanceID   string `json:"instanceId,omitempty"`
	PublicKey    string `json:"publicKey,omitempty"`
	Arch         string `json:"arch"`
	Format       string `json:"format"`
	AgentVersion string `json:"agentVersion"`
}

// StatusError is an answer the endpoint gave on purpose (4xx): retrying does not help.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body) }

// Bootstrap spends the one-time token. No answer, 429 and 5xx are retried (attempts, with
// a growing wait); any other refusal is final and returned as *StatusError.
func (c *Client) Bootstrap(ctx context.Context, req BootstrapRequest, attempts int, log func(string)) (*Config, error) {
	body, _ := json.Marshal(req)
	var last error
	for attempt := 1; attempt <= attempts; attempt++ {
		code, answer, err := c.do(ctx, http.MethodPost, "/v1/bootstrap", body)
		switch {
		case err == nil && code == http.StatusOK:
			var config Config
			if err := json.Unmarshal(answer, &config); err != nil {
				return nil, fmt.Errorf("bootstrap answer is not a config: %w", err)
			}
			if config.StatusCredential == "" {
				return nil, errors.New("bootstrap answer has no status credential")
			}
			c.credential = config.StatusCredential
			return &config, nil
		case err == nil && code != http.StatusTooManyRequests && code < 500:
			return nil, &StatusError{Code: code, Body: clip(answer)}
		case err != nil:
			last = err
		default:
			last = fmt.Errorf("HTTP %d", code)
		}
		if attempt < attempts {
			wait := time.Duration(attempt*5) * time.Second
			log(fmt.Sprintf("bootstrap: endpoint answered %v; retrying in %s", last, wait))
			c.Sleep(ctx, wait)
		}
	}
	return nil, fmt.Errorf("bootstrap failed after %d attempts (last: %v)", attempts, last)
}

// UseCredential signs later requests with a status credential an earlier start of this
// container received (a restarted agent cannot bootstrap again: the token is spent).
func (c *Client) UseCredential(credential string) { c.credential = credential }

// Report is one status report (lib/tunnel/endpoint/types.ts StatusReport).
type Report struct {
	State    string `json:"state"`
	ExitCode *int   `json:"exitCode,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// RestartCount is the run the report is about (protocol 3): 0 for the first start.
	RestartCount *int `json:"restartCount,omitempty"`
	// RestartInSeconds, on exited: the next run starts after this long (absent: the final end).
	RestartInSeconds *int `json:"restartInSeconds,omitempty"`
	// Ready, on ready: the run's readiness.
	Ready *bool `json:"ready,omitempty"`
	// Probe, on unhealthy: startup, readiness or liveness.
	Probe string `json:"probe,omitempty"`
	// Container (protocol 4): the init container or sidecar the report is about; empty: the app's.
	Container string `json:"container,omitempty"`
	// Message (protocol 4), on evicted: kubelet's words.
	Message string `json:"message,omitempty"`
}

// Report sends a status report with the credential from the bootstrap, trying up to
// attempts times; a 4xx is final. Best effort: the caller decides whether failure matters.
func (c *Client) Report(ctx context.Context, podUID string, r Report, attempts int) error {
	payload := map[string]any{"podUid": podUID, "state": r.State}
	if r.ExitCode != nil {
		payload["exitCode"] = *r.ExitCode
	}
	if r.Reason != "" {
		payload["reason"] = clipText(r.Reason, 500)
	}
	if r.RestartCount != nil {
		payload["restartCount"] = *r.RestartCount
	}
	if r.RestartInSeconds != nil {
		payload["restartInSeconds"] = *r.RestartInSeconds
	}
	if r.Ready != nil {
		payload["ready"] = *r.Ready
	}
	if r.Probe != "" {
		payload["probe"] = r.Probe
	}
	if r.Container != "" {
		payload["container"] = r.Container
	}
	if r.Message != "" {
		payload["message"] = clipText(r.Message, 500)
	}
	body, _ := json.Marshal(payload)
	var last error
	for attempt := 1; attempt <= attempts; attempt++ {
		code, answer, err := c.do(ctx, http.MethodPost, "/v1/status", body)
		switch {
		case err == nil && code/100 == 2:
			return nil
		case err == nil && code/100 == 4:
			return &StatusError{Code: code, Body: clip(answer)}
		case err != nil:
			last = err
		default:
			last = fmt.Errorf("HTTP %d", code)
		}
		if attempt < attempts {
			c.Sleep(ctx, time.Duration(attempt)*time.Second)
		}
	}
	return fmt.Errorf("status report %q not delivered: %v", r.State, last)
}

// Answer is the pod-alive answer: keep running, or stop within Grace (protocol 3).
type Answer struct {
	Alive  bool
	Grace  time.Duration
	Reason string
}

// Alive asks whether the pod is still wanted: an Answer when the endpoint answered about the
// pod (not alive also for 401, 404 and 410: it no longer knows the pod; then no grace), or an
// error when it could not be asked.
func (c *Client) Alive(ctx context.Context, podUID string) (Answer, error) {
	code, answer, err := c.do(ctx, http.MethodGet, "/v1/pod-alive?podUid="+podUID, nil)
	if err != nil {
		return Answer{}, err
	}
	switch code {
	case http.StatusOK:
		var body struct {
			Alive        bool `json:"alive"`
			GraceSeconds int  `json:"graceSeconds"`
		}
		if err := json.Unmarshal(answer, &body); err != nil {
			return Answer{}, fmt.Errorf("pod-alive answer: %w", err)
		}
		return Answer{
			Alive:  body.Alive,
			Grace:  time.Duration(max(0, body.GraceSeconds)) * time.Second,
			Reason: "the control plane says this pod is gone",
		}, nil
	case http.StatusUnauthorized, http.StatusNotFound, http.StatusGone:
		return Answer{Reason: fmt.Sprintf("the control plane no longer knows this pod (HTTP %d)", code)}, nil
	}
	return Answer{}, fmt.Errorf("HTTP %d", code)
}

func (c *Client) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, reader)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.credential != "" {
		req.Header.Set("Authorization", "Bearer "+c.credential)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, redact(err, c.base)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, answer, err
}

// redact keeps transport errors short: they name the endpoint, never a query string.
func redact(err error, base string) error {
	var urlErr interface{ Unwrap() error }
	if errors.As(err, &urlErr) {
		return fmt.Errorf("%s unreachable: %v", base, urlErr.Unwrap())
	}
	return err
}

func clip(body []byte) string { return clipText(string(body), 500) }

func clipText(text string, max int) string {
	text = strings.TrimSpace(text)
	if len(text) > max {
		return text[:max]
	}
	return text
}

func sleep(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}
