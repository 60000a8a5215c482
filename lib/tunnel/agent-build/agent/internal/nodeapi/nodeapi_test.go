package nodeapi

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
	"testing"
	"time"

	"anex.local/agent-build/agent/internal/logbuf"
	"anex.local/agent-build/agent/pkg/agentapi"
)

var env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "GREETING=hello from the container"}

// serve starts a server on a free loopback port; it returns the address.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go s.ServeListener(ctx, ln)
	return ln.Addr().String()
}

// pod is a server for an app container and a sidecar, each with a log buffer.
func pod(t *testing.T, ports ...int) (*Server, string) {
	t.Helper()
	dir := t.TempDir()
	s := &Server{
		Containers: []Container{
			{Env: env, WorkingDir: dir, Logs: logbuf.New(0)},
			{Name: "sidecar", Env: env, Logs: logbuf.New(0)},
		},
		Ports: ports,
		Logf:  t.Logf,
	}
	return s, serve(t, s)
}

// result is what an exec stream carried.
type result struct {
	stdout, stderr string
	status         agentapi.Status
}

// execute runs an exec, sends input frames, and reads to the status frame.
func execute(t *testing.T, addr string, query url.Values, input func(conn net.Conn)) (result, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	reader, err := agentapi.Upgrade(conn, agentapi.PathExec+"?"+query.Encode(), agentapi.UpgradeStream)
	if err != nil {
		return result{}, err
	}
	if input != nil {
		input(conn)
	}
	var out result
	for {
		channel, payload, err := agentapi.ReadFrame(reader)
		if err != nil {
			t.Fatalf("stream ended without a status frame: %v (so far %+v)", err, out)
		}
		switch channel {
		case agentapi.ChannelStdout:
			out.stdout += string(payload)
		case agentapi.ChannelStderr:
			out.stderr += string(payload)
		case agentapi.ChannelStatus:
			if err := json.Unmarshal(payload, &out.status); err != nil {
				t.Fatal(err)
			}
			return out, nil
		}
	}
}

func command(argv ...string) url.Values {
	q := url.Values{}
	for _, a := range argv {
		q.Add(agentapi.QueryCommand, a)
	}
	return q
}

func code(s agentapi.Status) string {
	if s.ExitCode == nil {
		return "error: " + s.Error
	}
	return strconv.Itoa(*s.ExitCode)
}

func TestExec(t *testing.T) {
	_, addr := pod(t)
	stdin := func(data string) func(net.Conn) {
		return func(conn net.Conn) {
			_ = agentapi.WriteFrame(conn, agentapi.ChannelStdin, []byte(data))
			_ = agentapi.WriteFrame(conn, agentapi.ChannelStdinClosed, nil)
		}
	}
	cases := []struct {
		name     string
		query    url.Values
		extra    map[string]string
		input    func(net.Conn)
		stdout   string
		stderr   string
		wantCode string
	}{
		{"the issue's example prints 42", command("sh", "-c", "echo $((6*7))"), nil, nil, "42\n", "", "0"},
		{"the container's env", command("sh", "-c", `echo "$GREETING"`), nil, nil, "hello from the container\n", "", "0"},
		{"the container's working dir", command("sh", "-c", `[ "$PWD" != / ] && basename "$PWD" | grep -q . && echo in-dir`), nil, nil, "in-dir\n", "", "0"},
		{"stderr and an exit code", command("sh", "-c", "echo oops >&2; exit 3"), nil, nil, "", "oops\n", "3"},
		{"stdin", command("sh", "-c", "tr a-z A-Z"), map[string]string{agentapi.QueryStdin: "true"}, stdin("shout\n"), "SHOUT\n", "", "0"},
		{"killed by a signal: 128 + n", command("sh", "-c", "kill -9 $$"), nil, nil, "", "", "137"},
		{"a program that is not there", command("no-such-program-anex"), nil, nil, "", "", `error: exec: "no-such-program-anex": executable file not found in $PATH`},
		{"not a terminal without tty", command("sh", "-c", "test -t 0 || echo no-tty"), nil, nil, "no-tty\n", "", "0"},
		{"the sidecar's container", command("sh", "-c", "echo side"), map[string]string{agentapi.QueryContainer: "sidecar"}, nil, "side\n", "", "0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range c.query {
				q[k] = v
			}
			for k, v := range c.extra {
				q.Set(k, v)
			}
			got, err := execute(t, addr, q, c.input)
			if err != nil {
				t.Fatal(err)
			}
			if got.stdout != c.stdout || got.stderr != c.stderr || code(got.status) != c.wantCode {
				t.Fatalf("stdout %q stderr %q status %s; want %q %q %s", got.stdout, got.stderr, code(got.status), c.stdout, c.stderr, c.wantCode)
			}
		})
	}
}

func TestExecUnderAPty(t *testing.T) {
	_, addr := pod(t)
	q := command("sh", "-c", `test -t 0 && echo is-a-terminal; stty size`)
	q.Set(agentapi.QueryTTY, "true")
	q.Set(agentapi.QueryStdin, "true")
	got, err := execute(t, addr, q, func(conn net.Conn) {
		payload, _ := json.Marshal(agentapi.Resize{Width: 120, Height: 40})
		_ = agentapi.WriteFrame(conn, agentapi.ChannelResize, payload)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The resize may land before or after stty reads the size; the terminal is there either way.
	if !strings.Contains(got.stdout, "is-a-terminal") || code(got.status) != "0" {
		t.Fatalf("stdout %q status %s", got.stdout, code(got.status))
	}
	// An interactive shell under the pty: what is typed runs, and the size set is the size seen.
	q = command("sh")
	q.Set(agentapi.QueryTTY, "true")
	q.Set(agentapi.QueryStdin, "true")
	got, err = execute(t, addr, q, func(conn net.Conn) {
		payload, _ := json.Marshal(agentapi.Resize{Width: 97, Height: 31})
		_ = agentapi.WriteFrame(conn, agentapi.ChannelResize, payload)
		time.Sleep(100 * time.Millisecond)
		_ = agentapi.WriteFrame(conn, agentapi.ChannelStdin, []byte("stty size; tty; exit 5\n"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.stdout, "31 97") || !strings.Contains(got.stdout, "/dev/") || code(got.status) != "5" {
		t.Fatalf("stdout %q status %s", got.stdout, code(got.status))
	}
}

// Closing the stream kills the command's whole process group.
func TestExecStreamCloseKillsTheProcessGroup(t *testing.T) {
	_, addr := pod(t)
	pidFile := t.TempDir() + "/pid"
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := agentapi.Upgrade(conn, agentapi.PathExec+"?"+command("sh", "-c", "sleep 60 & echo $! > "+pidFile+"; echo started; wait").Encode(), agentapi.UpgradeStream)
	if err != nil {
		t.Fatal(err)
	}
	if _, payload, err := agentapi.ReadFrame(reader); err != nil || string(payload) != "started\n" {
		t.Fatalf("%q %v", payload, err)
	}
	raw, _ := os.ReadFile(pidFile)
	child, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	if child == 0 {
		t.Fatal("no child pid")
	}
	_ = conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for processAlive(child) {
		if time.Now().After(deadline) {
			t.Fatalf("the background child %d outlived the stream", child)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// a zombie has ended; only its parent has not reaped it yet
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

func TestRefusals(t *testing.T) {
	_, addr := pod(t, 8080)
	cases := []struct {
		name, method, target, upgrade string
		code                          int
		says                          string
	}{
		{"unknown container", "GET", agentapi.PathLogs + "?container=web", "", 404, `container "web" is not in this pod; its containers are "" (the app container), "sidecar"`},
		{"bad tailLines", "GET", agentapi.PathLogs + "?tailLines=-3", "", 400, `query parameter tailLines="-3": expected a whole number >= 0`},
		{"bad sinceTime", "GET", agentapi.PathLogs + "?sinceTime=yesterday", "", 400, "query parameter sinceTime=\"yesterday\": expected an RFC 3339 time"},
		{"bad limitBytes", "GET", agentapi.PathLogs + "?limitBytes=0", "", 400, "query parameter limitBytes=\"0\": expected a whole number >= 1"},
		{"bad follow", "GET", agentapi.PathLogs + "?follow=maybe", "", 400, `query parameter follow="maybe": expected true or false`},
		{"no run yet", "GET", agentapi.PathLogs, "", 400, "container (the app container) is waiting to start"},
		{"no previous run", "GET", agentapi.PathLogs + "?previous=true", "", 400, "previous terminated container (the app container) not found"},
		{"exec without a command", "POST", agentapi.PathExec, agentapi.UpgradeStream, 400, "query parameter command: expected the command"},
		{"exec without the upgrade", "POST", agentapi.PathExec + "?command=true", "", 426, "Upgrade: anex-stream/1"},
		{"exec in an unknown container", "POST", agentapi.PathExec + "?command=true&container=nope", agentapi.UpgradeStream, 404, `container "nope" is not in this pod`},
		{"an undeclared port", "POST", agentapi.PathPortForward + "?port=9999", agentapi.UpgradeTCP, 403, "port 9999 is not a containerPort this pod declares (declared: 8080)"},
		{"a port that is not a number", "POST", agentapi.PathPortForward + "?port=http", agentapi.UpgradeTCP, 400, `query parameter port="http": expected a whole number >= 1`},
		{"a port above 65535", "POST", agentapi.PathPortForward + "?port=70000", agentapi.UpgradeTCP, 400, "expected a port number 1-65535"},
		{"attach with stdin", "POST", agentapi.PathAttach + "?stdin=true", agentapi.UpgradeStream, 400, "runs without stdin and without a terminal"},
		{"a wrong method", "GET", agentapi.PathExec, "", 405, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, "http://"+addr+c.target, nil)
			if c.upgrade != "" {
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Upgrade", c.upgrade)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			if res.StatusCode != c.code || !strings.Contains(string(body), c.says) {
				t.Fatalf("HTTP %d %q, want %d containing %q", res.StatusCode, body, c.code, c.says)
			}
		})
	}
}

// servePort is the pod's server on a loopback port: serve runs for each connection, which is
// closed after it.
func servePort(t *testing.T, serve func(net.Conn)) (net.Listener, int) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				serve(conn)
			}()
		}
	}()
	return listener, listener.Addr().(*net.TCPAddr).Port
}

func TestPortForward(t *testing.T) {
	listener, port := servePort(t, func(conn net.Conn) {
		line, _ := bufio.NewReader(conn).ReadString('\n')
		_, _ = fmt.Fprintf(conn, "server got %s", line)
	})
	_, addr := pod(t, port)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	reader, err := agentapi.Upgrade(conn, fmt.Sprintf("%s?port=%d", agentapi.PathPortForward, port), agentapi.UpgradeTCP)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(conn, "ping\n")
	answer, err := io.ReadAll(reader)
	if err != nil || string(answer) != "server got ping\n" {
		t.Fatalf("%q %v", answer, err)
	}

	// A declared port nobody listens on: 502, said before any upgrade.
	listener.Close()
	conn2, _ := net.Dial("tcp", addr)
	defer conn2.Close()
	_, err = agentapi.Upgrade(conn2, fmt.Sprintf("%s?port=%d", agentapi.PathPortForward, port), agentapi.UpgradeTCP)
	var refused *agentapi.UpgradeError
	if !errors.As(err, &refused) || refused.Code != 502 || !strings.Contains(refused.Message, "nothing answers on port") {
		t.Fatalf("%v", err)
	}
}

// The framed stream (anex-tcp/2): a client's half-close reaches the pod's server as EOF,
// which answers after it (a request-then-EOF server, as an HTTP/1.0 exchange), and the
// server's close comes back as the end frame.
func TestPortForwardFramed(t *testing.T) {
	_, port := servePort(t, func(conn net.Conn) {
		request, _ := io.ReadAll(conn) // until the client's half-close
		_, _ = fmt.Fprintf(conn, "server got %q after EOF", request)
	})
	_, addr := pod(t, port)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	reader, err := agentapi.Upgrade(conn, fmt.Sprintf("%s?port=%d", agentapi.PathPortForward, port), agentapi.UpgradeTCPFramed)
	if err != nil {
		t.Fatal(err)
	}
	if err := agentapi.WriteFrame(conn, agentapi.ChannelTCPData, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if err := agentapi.WriteFrame(conn, agentapi.ChannelTCPEnd, nil); err != nil {
		t.Fatal(err)
	}
	var answer []byte
	for {
		channel, payload, err := agentapi.ReadFrame(reader)
		if err != nil {
			t.Fatalf("before the end frame: %v (so far %q)", err, answer)
		}
		if channel == agentapi.ChannelTCPEnd {
			break
		}
		if channel != agentapi.ChannelTCPData {
			t.Fatalf("frame on channel %d", channel)
		}
		answer = append(answer, payload...)
	}
	if string(answer) != `server got "ping" after EOF` {
		t.Fatalf("answer %q", answer)
	}
}

func TestLogs(t *testing.T) {
	s, addr := pod(t)
	app := s.Containers[0].Logs
	first := app.Begin(0)
	_, _ = first.Writer(logbuf.Stdout).Write([]byte("first run\n"))
	run := app.Begin(1)
	_, _ = run.Writer(logbuf.Stdout).Write([]byte("one\ntwo\n"))
	_, _ = run.Writer(logbuf.Stderr).Write([]byte("three\n"))
	get := func(query string) string {
		res, err := http.Get("http://" + addr + agentapi.PathLogs + query)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("HTTP %d %s %q", res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		return string(body)
	}
	cases := []struct{ query, want string }{
		{"", "one\ntwo\nthree\n"},
		{"?tailLines=1", "three\n"},
		{"?previous=true", "first run\n"},
		{"?limitBytes=5", "one\nt"},
		{"?container=sidecar&tailLines=0", ""},
	}
	s.Containers[1].Logs.Begin(0)
	for _, c := range cases {
		if got := get(c.query); got != c.want {
			t.Errorf("%s: %q, want %q", c.query, got, c.want)
		}
	}
	if got := get("?timestamps=true&tailLines=1"); !strings.HasSuffix(got, "Z three\n") || len(got) != len(logbuf.TimeFormat)+len(" three\n")-len("Z07:00")+1 {
		t.Errorf("timestamps: %q", got)
	}

	// follow: a line printed after the request arrives, then the stream ends with the run.
	res, err := http.Get("http://" + addr + agentapi.PathLogs + "?follow=true&tailLines=0")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	lines := bufio.NewReader(res.Body)
	go func() {
		time.Sleep(100 * time.Millisecond)
		_, _ = run.Writer(logbuf.Stdout).Write([]byte("printed later\n"))
		time.Sleep(100 * time.Millisecond)
		run.End()
	}()
	line, err := lines.ReadString('\n')
	if err != nil || line != "printed later\n" {
		t.Fatalf("%q %v", line, err)
	}
	if rest, err := io.ReadAll(lines); err != nil || len(rest) != 0 {
		t.Fatalf("after the run ended: %q %v", rest, err)
	}
}

func TestAttachStreamsOutputUntilTheRunEnds(t *testing.T) {
	s, addr := pod(t)
	run := s.Containers[0].Logs.Begin(0)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	reader, err := agentapi.Upgrade(conn, agentapi.PathAttach, agentapi.UpgradeStream)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		// until the attach has seen a line (it starts watching at some point after the 101)
		for i := 0; i < 100 && !run.Ended(); i++ {
			_, _ = run.Writer(logbuf.Stderr).Write([]byte("tick\n"))
			time.Sleep(20 * time.Millisecond)
		}
	}()
	channel, payload, err := agentapi.ReadFrame(reader)
	if err != nil || channel != agentapi.ChannelStderr || string(payload) != "tick\n" {
		t.Fatalf("%d %q %v", channel, payload, err)
	}
	run.End()
	for {
		channel, payload, err = agentapi.ReadFrame(reader)
		if err != nil {
			t.Fatalf("no status frame: %v", err)
		}
		if channel == agentapi.ChannelStatus {
			break
		}
	}
	if string(payload) != "{}" {
		t.Fatalf("status %s", payload)
	}
}

func TestStats(t *testing.T) {
	_, addr := pod(t)
	res, err := http.Get("http://" + addr + agentapi.PathStats)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var stats agentapi.Stats
	if err := json.NewDecoder(res.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	if stats.CPU.UsageCoreSeconds < 0 || stats.Memory.WorkingSetBytes == 0 || stats.Memory.MachineTotalBytes < stats.Memory.MachineAvailableBytes || stats.Memory.MachineTotalBytes == 0 {
		t.Fatalf("%+v", stats)
	}
	if _, err := time.Parse(time.RFC3339, stats.Time); err != nil {
		t.Fatal(err)
	}
}

func TestParseGPUs(t *testing.T) {
	cases := []struct {
		csv  string
		want string
	}{
		{"0, NVIDIA A100-SXM4-80GB, 37, 1024, 81920\n1, NVIDIA A100-SXM4-80GB, 0, 0, 81920\n",
			"[{0 NVIDIA A100-SXM4-80GB 37 1073741824 85899345920} {1 NVIDIA A100-SXM4-80GB 0 0 85899345920}]"},
		{"0, Tesla T4, [N/A], 1, 2\n", "[]"},
		{"", "[]"},
	}
	for _, c := range cases {
		got := parseGPUs(c.csv)
		if fmt.Sprint(got) != c.want && !(len(got) == 0 && c.want == "[]") {
			t.Errorf("%q: %v, want %s", c.csv, got, c.want)
		}
	}
}
