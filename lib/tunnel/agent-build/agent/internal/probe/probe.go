// Package probe runs a container's probe and preStop handlers on the machine, the way the
// kubelet does (pkg/kubelet/prober): exec in the container's environment, httpGet (2xx and
// 3xx succeed, certificates are not verified), tcpSocket (a connection opens), grpc (the
// standard health service answers SERVING). Failures are
// worded as kubelet words them, so `kubectl describe` reads the same.
package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"anex.local/agent-build/agent/internal/endpoint"
	"anex.local/agent-build/agent/internal/workload"
)

// Env is where exec handlers run: the workload's environment and working directory.
type Env struct {
	Vars []string
	Dir  string
}

// Check runs h once within timeout: true, or false with the failure in kubelet's words.
func Check(ctx context.Context, h endpoint.Handler, timeout time.Duration, env Env) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case h.Exec != nil:
		return execCheck(ctx, h.Exec.Command, env)
	case h.HTTPGet != nil:
		return httpCheck(ctx, h.HTTPGet, timeout)
	case h.TCPSocket != nil:
		return tcpCheck(ctx, h.TCPSocket)
	case h.GRPC != nil:
		return grpcCheck(ctx, h.GRPC, timeout)
	case h.Sleep != nil:
		sleep(ctx, time.Duration(h.Sleep.Seconds)*time.Second)
		return true, ""
	}
	return false, "the probe has no handler"
}

func execCheck(ctx context.Context, command []string, env Env) (bool, string) {
	if len(command) == 0 {
		return false, "exec probe has no command"
	}
	path, err := workload.LookPath(command[0], workload.EnvValue(env.Vars, "PATH"))
	if err != nil {
		return false, err.Error()
	}
	cmd := exec.Command(path, command[1:]...)
	cmd.Args[0] = command[0]
	cmd.Env = env.Vars
	cmd.Dir = env.Dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// Its own process group, so a timeout kills what it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return false, err.Error()
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return false, fmt.Sprintf("command %q timed out", strings.Join(command, " "))
	}
	if err == nil {
		return true, ""
	}
	text := strings.TrimSpace(clip(out.String(), 10*1024))
	if text == "" {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			text = fmt.Sprintf("command %q exited with %d", strings.Join(command, " "), exit.ExitCode())
		} else {
			text = err.Error()
		}
	}
	return false, text
}

func httpCheck(ctx context.Context, get *endpoint.HTTPGet, timeout time.Duration) (bool, string) {
	scheme := "http"
	if strings.EqualFold(get.Scheme, "HTTPS") {
		scheme = "https"
	}
	path := get.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	url := fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host(get.Host), strconv.Itoa(get.Port)), path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("User-Agent", "kube-probe/anex")
	for _, h := range get.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			// kubelet does not verify a probe's certificate, nor use the pod's proxy.
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
			Proxy:             nil,
			DisableKeepAlives: true,
		},
		// kubelet follows redirects on the same host only (at most 10); a redirect to another
		// host ends the probe with the 3xx, a success (pkg/probe/http RedirectChecker).
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Hostname() != via[0].URL.Hostname() {
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return nil
		},
	}
	res, err := client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer res.Body.Close()
	if res.StatusCode >= 200 && res.StatusCode < 400 {
		return true, ""
	}
	return false, fmt.Sprintf("HTTP probe failed with statuscode: %d", res.StatusCode)
}

func tcpCheck(ctx context.Context, socket *endpoint.TCPSocket) (bool, string) {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(host(socket.Host), strconv.Itoa(socket.Port)))
	if err != nil {
		return false, err.Error()
	}
	_ = conn.Close()
	return true, ""
}

func host(h string) string {
	if h == "" {
		return "127.0.0.1"
	}
	return h
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func sleep(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// Timing is a probe's schedule and thresholds, with kubelet's defaults for zero values.
type Timing struct {
	InitialDelay, Period, Timeout time.Duration
	Success, Failure              int
}

// TimingOf reads p's timing (kubelet's defaults: period 10 s, timeout 1 s, thresholds 1 and 3).
func TimingOf(p *endpoint.Probe) Timing {
	t := Timing{
		InitialDelay: time.Duration(p.InitialDelaySeconds) * time.Second,
		Period:       time.Duration(p.PeriodSeconds) * time.Second,
		Timeout:      time.Duration(p.TimeoutSeconds) * time.Second,
		Success:      p.SuccessThreshold,
		Failure:      p.FailureThreshold,
	}
	if t.Period <= 0 {
		t.Period = 10 * time.Second
	}
	if t.Timeout <= 0 {
		t.Timeout = time.Second
	}
	if t.Success <= 0 {
		t.Success = 1
	}
	if t.Failure <= 0 {
		t.Failure = 3
	}
	return t
}

// Attempt is one probe result with the run of results it ends.
type Attempt struct {
	OK bool
	// Message is the failure in kubelet's words (empty on success).
	Message string
	// Successes and Failures count the consecutive results of this kind, this one included.
	Successes, Failures int
}

// Loop runs check after the initial delay and then every period until ctx ends or verdict
// returns true (done). Consecutive counts are kept for the thresholds.
func Loop(ctx context.Context, t Timing, check func(context.Context) (bool, string), verdict func(Attempt) bool) {
	sleep(ctx, t.InitialDelay)
	successes, failures := 0, 0
	for ctx.Err() == nil {
		ok, message := check(ctx)
		if ctx.Err() != nil {
			return
		}
		if ok {
			successes, failures = successes+1, 0
		} else {
			successes, failures = 0, failures+1
		}
		if verdict(Attempt{OK: ok, Message: message, Successes: successes, Failures: failures}) {
			return
		}
		sleep(ctx, t.Period)
	}
}
