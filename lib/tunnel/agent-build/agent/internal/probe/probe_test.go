package probe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"anex.local/agent-build/agent/internal/endpoint"
)

var testEnv = Env{Vars: []string{"PATH=/usr/bin:/bin"}}

func execHandler(argv ...string) endpoint.Handler {
	return endpoint.Handler{Exec: &endpoint.ExecAction{Command: argv}}
}

// portOf is the port a test server listens on.
func portOf(t *testing.T, rawURL string) int {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func TestCheckExec(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		handler endpoint.Handler
		env     Env
		ok      bool
		message string // the whole failure message (empty on success)
	}{
		{"exit 0", execHandler("true"), testEnv, true, ""},
		{"exit 1 without output", execHandler("sh", "-c", "exit 1"), testEnv, false, `command "sh -c exit 1" exited with 1`},
		{"the output is the message", execHandler("sh", "-c", "echo 'not yet' >&2; exit 3"), testEnv, false, "not yet"},
		{"the workload's environment and directory", execHandler("sh", "-c", `test "$GREETING" = hi && test "$(pwd)" = "$WANT"`),
			Env{Vars: []string{"PATH=/usr/bin:/bin", "GREETING=hi", "WANT=" + dir}, Dir: dir}, true, ""},
		{"through the container's PATH only", execHandler("true"), Env{Vars: []string{"PATH=" + dir}}, false,
			`exec: "true": executable file not found in $PATH`},
		{"no command", execHandler(), testEnv, false, "exec probe has no command"},
		{"no handler", endpoint.Handler{}, testEnv, false, "the probe has no handler"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, message := Check(context.Background(), c.handler, 5*time.Second, c.env)
			if ok != c.ok || message != c.message {
				t.Fatalf("Check = %v, %q; want %v, %q", ok, message, c.ok, c.message)
			}
		})
	}
}

func TestCheckHTTPGet(t *testing.T) {
	// Another host for a redirect (all of 127/8 is the loopback on Linux).
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	listener, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	other.Listener = listener
	other.Start()
	defer other.Close()

	var mu sync.Mutex
	var seen http.Header
	var seenHost string
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	mux.HandleFunc("/missing", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) })
	mux.HandleFunc("/not-modified", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotModified) })
	mux.HandleFunc("/here", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/fail", http.StatusFound) })
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen, seenHost = r.Header.Clone(), r.Host
		mu.Unlock()
	})
	server := httptest.NewServer(mux)
	defer server.Close()
	tlsServer := httptest.NewTLSServer(mux)
	defer tlsServer.Close()
	port, tlsPort := portOf(t, server.URL), portOf(t, tlsServer.URL)

	get := func(path string) endpoint.Handler {
		return endpoint.Handler{HTTPGet: &endpoint.HTTPGet{Path: path, Port: port, Scheme: "HTTP"}}
	}
	cases := []struct {
		name    string
		handler endpoint.Handler
		timeout time.Duration
		ok      bool
		message string // contained in the failure message
	}{
		{"200", get("/ok"), time.Second, true, ""},
		{"a path without its slash", get("ok"), time.Second, true, ""},
		{"500", get("/fail"), time.Second, false, "HTTP probe failed with statuscode: 500"},
		{"404", get("/missing"), time.Second, false, "HTTP probe failed with statuscode: 404"},
		{"a 3xx that is not a redirect succeeds", get("/not-modified"), time.Second, true, ""},
		{"a redirect on the same host is followed", get("/here"), time.Second, false, "HTTP probe failed with statuscode: 500"},
		// kubelet does not follow a redirect to another host: the 3xx is the answer, a success.
		{"a redirect to another host is a success", get("/elsewhere"), time.Second, true, ""},
		{"at most 10 redirects", get("/loop"), time.Second, false, "stopped after 10 redirects"},
		{"timeout", get("/slow"), 200 * time.Millisecond, false, "context deadline exceeded"},
		{"HTTPS without verifying the certificate", endpoint.Handler{HTTPGet: &endpoint.HTTPGet{Path: "/ok", Port: tlsPort, Scheme: "HTTPS"}}, time.Second, true, ""},
		{"HTTPS 500", endpoint.Handler{HTTPGet: &endpoint.HTTPGet{Path: "/fail", Port: tlsPort, Scheme: "https"}}, time.Second, false, "HTTP probe failed with statuscode: 500"},
		{"host given", endpoint.Handler{HTTPGet: &endpoint.HTTPGet{Path: "/ok", Port: port, Host: "127.0.0.1", Scheme: "HTTP"}}, time.Second, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			began := time.Now()
			ok, message := Check(context.Background(), c.handler, c.timeout, testEnv)
			if ok != c.ok {
				t.Fatalf("Check = %v (%q), want %v", ok, message, c.ok)
			}
			if c.ok && message != "" {
				t.Fatalf("a success with message %q", message)
			}
			if !c.ok && !strings.Contains(message, c.message) {
				t.Fatalf("message %q, want it to contain %q", message, c.message)
			}
			if elapsed := time.Since(began); elapsed > c.timeout+time.Second {
				t.Fatalf("took %s with a timeout of %s", elapsed, c.timeout)
			}
		})
	}

	t.Run("headers", func(t *testing.T) {
		h := endpoint.Handler{HTTPGet: &endpoint.HTTPGet{Path: "/headers", Port: port, Scheme: "HTTP", HTTPHeaders: []endpoint.HTTPHeader{
			{Name: "X-Probe", Value: "one"},
			{Name: "X-Probe", Value: "two"},
			{Name: "Authorization", Value: "Bearer abc"},
			{Name: "Host", Value: "app.example"},
		}}}
		if ok, message := Check(context.Background(), h, time.Second, testEnv); !ok {
			t.Fatalf("failed: %s", message)
		}
		mu.Lock()
		defer mu.Unlock()
		if got := seen.Values("X-Probe"); len(got) != 2 || got[0] != "one" || got[1] != "two" {
			t.Errorf("X-Probe %q, want [one two]", got)
		}
		if got := seen.Get("Authorization"); got != "Bearer abc" {
			t.Errorf("Authorization %q", got)
		}
		if got := seen.Get("User-Agent"); got != "kube-probe/anex" {
			t.Errorf("User-Agent %q", got)
		}
		if seenHost != "app.example" {
			t.Errorf("Host %q, want app.example", seenHost)
		}
	})
}

func TestCheckTCPSocket(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			_ = conn.Close()
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	_ = closed.Close()

	cases := []struct {
		name    string
		socket  endpoint.TCPSocket
		ok      bool
		message string
	}{
		{"listening (host defaults to 127.0.0.1)", endpoint.TCPSocket{Port: listener.Addr().(*net.TCPAddr).Port}, true, ""},
		{"listening, host given", endpoint.TCPSocket{Port: listener.Addr().(*net.TCPAddr).Port, Host: "127.0.0.1"}, true, ""},
		{"closed port", endpoint.TCPSocket{Port: closedPort}, false, "connection refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			socket := c.socket
			ok, message := Check(context.Background(), endpoint.Handler{TCPSocket: &socket}, time.Second, testEnv)
			if ok != c.ok || !strings.Contains(message, c.message) || (c.ok && message != "") {
				t.Fatalf("Check = %v, %q; want %v, containing %q", ok, message, c.ok, c.message)
			}
		})
	}
}

func TestCheckTimeout(t *testing.T) {
	t.Run("exec", func(t *testing.T) {
		began := time.Now()
		ok, message := Check(context.Background(), execHandler("sleep", "5"), 200*time.Millisecond, testEnv)
		elapsed := time.Since(began)
		if ok || message != `command "sleep 5" timed out` {
			t.Fatalf("Check = %v, %q", ok, message)
		}
		if elapsed > 2*time.Second {
			t.Fatalf("took %s with a timeout of 200ms", elapsed)
		}
	})

	t.Run("exec kills what the command started", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "late")
		env := Env{Vars: []string{"PATH=/usr/bin:/bin", "FILE=" + file}}
		ok, _ := Check(context.Background(), execHandler("sh", "-c", `(sleep 1; touch "$FILE") & wait`), 200*time.Millisecond, env)
		if ok {
			t.Fatal("a timed-out command succeeded")
		}
		time.Sleep(1500 * time.Millisecond)
		if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the command's child outlived the timeout: %v", err)
		}
	})

	t.Run("a cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		began := time.Now()
		if ok, _ := Check(ctx, execHandler("sleep", "5"), 5*time.Second, testEnv); ok {
			t.Fatal("succeeded")
		}
		if elapsed := time.Since(began); elapsed > 2*time.Second {
			t.Fatalf("took %s after the context ended", elapsed)
		}
	})

	t.Run("sleep handler", func(t *testing.T) {
		cases := []struct {
			seconds int
			timeout time.Duration
			least   time.Duration
			most    time.Duration
		}{
			{1, 5 * time.Second, time.Second, 2 * time.Second},
			{5, 200 * time.Millisecond, 200 * time.Millisecond, time.Second},
		}
		for _, c := range cases {
			began := time.Now()
			ok, message := Check(context.Background(), endpoint.Handler{Sleep: &endpoint.Sleep{Seconds: c.seconds}}, c.timeout, testEnv)
			elapsed := time.Since(began)
			if !ok || message != "" {
				t.Fatalf("sleep %d: Check = %v, %q", c.seconds, ok, message)
			}
			if elapsed < c.least || elapsed > c.most {
				t.Fatalf("sleep %d within %s took %s", c.seconds, c.timeout, elapsed)
			}
		}
	})
}

func intp(v int) *int { return &v }

func TestTimingOf(t *testing.T) {
	cases := []struct {
		name  string
		probe endpoint.Probe
		want  Timing
	}{
		{"kubelet's defaults", endpoint.Probe{}, Timing{Period: 10 * time.Second, Timeout: time.Second, Success: 1, Failure: 3}},
		{"negative is the default", endpoint.Probe{PeriodSeconds: -1, TimeoutSeconds: -2, SuccessThreshold: -1, FailureThreshold: -1},
			Timing{Period: 10 * time.Second, Timeout: time.Second, Success: 1, Failure: 3}},
		{"as given", endpoint.Probe{InitialDelaySeconds: 4, PeriodSeconds: 2, TimeoutSeconds: 3, SuccessThreshold: 2, FailureThreshold: 5, TerminationGracePeriodSeconds: intp(9)},
			Timing{InitialDelay: 4 * time.Second, Period: 2 * time.Second, Timeout: 3 * time.Second, Success: 2, Failure: 5}},
		{"partly given", endpoint.Probe{PeriodSeconds: 1, FailureThreshold: 1},
			Timing{Period: time.Second, Timeout: time.Second, Success: 1, Failure: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			probe := c.probe
			if got := TimingOf(&probe); got != c.want {
				t.Fatalf("TimingOf = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestLoopCountsConsecutiveResults(t *testing.T) {
	results := []bool{true, true, false, false, false, true, false}
	want := []Attempt{
		{OK: true, Successes: 1},
		{OK: true, Successes: 2},
		{OK: false, Message: "no 2", Failures: 1},
		{OK: false, Message: "no 3", Failures: 2},
		{OK: false, Message: "no 4", Failures: 3},
		{OK: true, Successes: 1},
		{OK: false, Message: "no 6", Failures: 1},
	}
	calls := 0
	check := func(context.Context) (bool, string) {
		i := calls
		calls++
		if results[i] {
			return true, ""
		}
		return false, "no " + strconv.Itoa(i)
	}
	var got []Attempt
	began := time.Now()
	Loop(context.Background(), Timing{InitialDelay: 100 * time.Millisecond, Period: 20 * time.Millisecond}, check, func(a Attempt) bool {
		if len(got) == 0 && time.Since(began) < 100*time.Millisecond {
			t.Errorf("the first check came %s after the start, before the initial delay", time.Since(began))
		}
		got = append(got, a)
		return len(got) == len(results) // done
	})
	if calls != len(results) {
		t.Fatalf("%d checks after the verdict said done at %d", calls, len(results))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("attempt %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// Six periods at least between the seven checks.
	if elapsed := time.Since(began); elapsed < 100*time.Millisecond+6*20*time.Millisecond {
		t.Errorf("seven checks took only %s", elapsed)
	}
}

func TestLoopEndsWithTheContext(t *testing.T) {
	cases := []struct {
		name   string
		timing Timing
		check  func(context.Context) (bool, string)
		// verdicts is how many results reach the verdict before the context ends.
		verdicts int
	}{
		{"during the initial delay", Timing{InitialDelay: time.Hour, Period: time.Hour},
			func(context.Context) (bool, string) { return true, "" }, 0},
		{"during a period", Timing{Period: time.Hour},
			func(context.Context) (bool, string) { return false, "no" }, 1},
		{"a check the context ended is not a result", Timing{Period: time.Hour},
			func(ctx context.Context) (bool, string) { <-ctx.Done(); return false, "cancelled" }, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			verdicts := 0
			began := time.Now()
			Loop(ctx, c.timing, c.check, func(Attempt) bool { verdicts++; return false })
			if elapsed := time.Since(began); elapsed > 2*time.Second {
				t.Fatalf("Loop returned %s after the start, the context ended at 200ms", elapsed)
			}
			if verdicts != c.verdicts {
				t.Fatalf("%d verdicts, want %d", verdicts, c.verdicts)
			}
		})
	}
}
