package kubelet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	utilexec "k8s.io/utils/exec"
)

type executorFactory func(t *testing.T, g *ground, u *url.URL) remotecommand.Executor

// The two ways a client reaches a kubelet's exec: SPDY/3.1 (what the API server speaks to
// kubelets, translating kubectl's WebSocket) and the WebSocket channel protocol v4 (the
// newest the kubelet's streaming server offers; v5 is the API server's side).
var executors = map[string]executorFactory{
	"SPDY": func(t *testing.T, g *ground, u *url.URL) remotecommand.Executor {
		e, err := remotecommand.NewSPDYExecutor(g.restConfig(t), http.MethodPost, u)
		if err != nil {
			t.Fatal(err)
		}
		return e
	},
	"WebSocket v4": func(t *testing.T, g *ground, u *url.URL) remotecommand.Executor {
		e, err := remotecommand.NewWebSocketExecutorForProtocols(g.restConfig(t), http.MethodGet, u.String(), "v4.channel.k8s.io")
		if err != nil {
			t.Fatal(err)
		}
		return e
	},
}

func execURL(g *ground, path string, cmd []string, stdin bool) *url.URL {
	u, _ := url.Parse(g.kubelet.URL + path)
	q := url.Values{"command": cmd, "output": {"1"}, "error": {"1"}}
	if stdin {
		q.Set("input", "1")
	}
	u.RawQuery = q.Encode()
	return u
}

// exec end to end: client-go's executors → anex-kubelet (the kubelet's streaming library) →
// anex-stream/1 → a fake agent that runs the command here. Output, stdin, stderr and the
// exit code all cross both bridges.
func TestExec(t *testing.T) {
	g := newGround(t)
	cases := []struct {
		name       string
		path       string
		cmd        []string
		stdin      string
		wantOut    string
		wantErr    string
		wantCode   int
		wantFailed string
		spdyOnly   bool
	}{
		{name: "prints 42", path: "/exec/default/gpu/app", cmd: []string{"sh", "-c", "echo $((6*7))"}, wantOut: "42\n"},
		{name: "the uid route", path: "/exec/default/gpu/" + gpuUID + "/app", cmd: []string{"sh", "-c", "echo $((6*7))"}, wantOut: "42\n"},
		// One line, not until EOF: the v4 WebSocket protocol cannot say stdin ended (v5's
		// CLOSE signal does, and the kubelet's library does not speak v5).
		{name: "stdin reaches the command", path: "/exec/default/gpu/app", cmd: []string{"sh", "-c", `read l; echo "$l" | tr a-z A-Z`}, stdin: "hello\n", wantOut: "HELLO\n"},
		{name: "stdin until its end", path: "/exec/default/gpu/app", cmd: []string{"sh", "-c", "tr a-z A-Z"}, stdin: "hello\nworld\n", wantOut: "HELLO\nWORLD\n", spdyOnly: true},
		{name: "stderr and the exit code", path: "/exec/default/gpu/app", cmd: []string{"sh", "-c", "echo oops >&2; exit 3"}, wantErr: "oops\n", wantCode: 3},
		{name: "a command that cannot start", path: "/exec/default/gpu/app", cmd: []string{"/no/such/binary"}, wantFailed: "no such file or directory"},
	}
	for name, factory := range executors {
		for _, tc := range cases {
			if tc.spdyOnly && name != "SPDY" {
				continue // stdin's end is a v5 WebSocket signal (see above)
			}
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				e := factory(t, g, execURL(g, tc.path, tc.cmd, tc.stdin != ""))
				var out, errOut bytes.Buffer
				opts := remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut}
				if tc.stdin != "" {
					opts.Stdin = strings.NewReader(tc.stdin)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				err := e.StreamWithContext(ctx, opts)
				switch {
				case tc.wantCode != 0:
					var exit utilexec.ExitError
					if !errors.As(err, &exit) || exit.ExitStatus() != tc.wantCode {
						t.Fatalf("err %v (%T), want exit code %d", err, err, tc.wantCode)
					}
				case tc.wantFailed != "":
					if err == nil || !strings.Contains(err.Error(), tc.wantFailed) {
						t.Fatalf("err %v, want one containing %q", err, tc.wantFailed)
					}
				case err != nil:
					t.Fatalf("exec: %v (stderr %q)", err, errOut.String())
				}
				if out.String() != tc.wantOut || errOut.String() != tc.wantErr {
					t.Fatalf("stdout %q stderr %q, want %q %q", out.String(), errOut.String(), tc.wantOut, tc.wantErr)
				}
			})
		}
	}
	if !slices.Contains(g.dialer.addresses(), "10.99.0.7:10250") {
		t.Fatalf("the agent was dialed at %v, want the pod's VPN address 10.99.0.7:10250", g.dialer.addresses())
	}
}

// What cannot be streamed is refused before any upgrade, with the reason.
func TestExecRefusals(t *testing.T) {
	g := newGround(t)
	cases := []struct {
		name, path string
		want       int
		wantBody   string
	}{
		{"a pod without a tunnel", "/exec/default/no-tunnel/app?command=true&output=1", 503, "pod default/no-tunnel runs without a tunnel, so exec is not available"},
		{"a pod whose machine is gone", "/exec/default/gone/app?command=true&output=1", 404, "pod default/gone has no machine any more, so exec is not available"},
		{"a pod on another node", "/exec/default/elsewhere/app?command=true&output=1", 404, "pod default/elsewhere not found on the anex nodes served here"},
		{"a pod that does not exist", "/exec/default/nope/app?command=true&output=1", 404, "pod default/nope not found"},
		{"a wrong uid", "/exec/default/gpu/" + otherUID + "/app?command=true&output=1", 404, "not found"},
		{"an unknown container", "/exec/default/gpu/sidecar?command=true&output=1", 404, `container "sidecar" not found in pod default/gpu`},
		{"no command", "/exec/default/gpu/app?output=1", 400, "exec needs a command"},
		{"no stream", "/exec/default/gpu/app?command=true", 400, "you must specify at least 1 of stdin, stdout, stderr"},
		{"port-forward without a tunnel", "/portForward/default/no-tunnel", 503, "port-forward is not available"},
	}
	delete(g.endpoint.peers, goneUID) // its machine is destroyed: no peer any more
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, g.kubelet.URL+tc.path, nil)
			req.Header.Set("Authorization", "Bearer admin-token")
			resp, err := g.client(nil, nil).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.want || !strings.Contains(string(body), tc.wantBody) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, body, tc.want, tc.wantBody)
			}
		})
	}
}

// port-forward end to end with client-go's port forwarder over SPDY: a local port reaches
// the agent's anex-tcp/1 stream to the container's port and back.
func TestPortForward(t *testing.T) {
	g := newGround(t)
	transport, upgrader, err := spdy.RoundTripperFor(g.restConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(g.kubelet.URL + "/portForward/default/gpu")
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	stop, ready := make(chan struct{}), make(chan struct{})
	defer close(stop)
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:8080"}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = pf.ForwardPorts() }()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("port forwarder not ready")
	}
	ports, _ := pf.GetPorts()
	for i := range 2 { // two connections over one forwarding session
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "ping %d\n", i)
		got, _ := io.ReadAll(conn)
		conn.Close()
		if string(got) != fmt.Sprintf("pong ping %d\n", i) {
			t.Fatalf("connection %d: %q", i, got)
		}
	}
}

// The agent refuses an undeclared port; the refusal is what the library puts on the
// stream pair's error stream.
func TestPortForwardRefusedPort(t *testing.T) {
	g := newGround(t)
	session := &podSession{agents: g.server.Agents, vpn: "10.99.0.7"}
	client, server := net.Pipe()
	defer client.Close()
	err := session.PortForward(t.Context(), "gpu_default", gpuUID, 9999, server)
	if err == nil || err.Error() != "port 9999: port 9999 is not a containerPort of the pod" {
		t.Fatalf("err %v", err)
	}
	// And an unreachable machine says so.
	session.vpn = "10.99.0.8"
	err = session.PortForward(t.Context(), "gone_default", goneUID, 8080, server)
	if !errors.Is(err, ErrAgentUnreachable) || !strings.Contains(err.Error(), "10.99.0.8:10250") {
		t.Fatalf("err %v", err)
	}
}
