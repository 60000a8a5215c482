package supervise

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"anex.local/agent-build/agent/internal/endpoint"
	"anex.local/agent-build/agent/internal/logbuf"
	"anex.local/agent-build/agent/internal/workload"
)

const testPath = "PATH=/usr/bin:/bin"

// fast is a back-off short enough for tests; restartInSeconds reads 0 for all its waits.
var fast = Backoff{Initial: 100 * time.Millisecond, Max: 200 * time.Millisecond, Reset: time.Hour}

func TestScheduleWait(t *testing.T) {
	ms := time.Millisecond
	b := Backoff{Initial: 100 * ms, Max: 400 * ms, Reset: time.Second}
	cases := []struct {
		name  string
		ran   []time.Duration // each run's length, in order
		waits []time.Duration // the wait after each
	}{
		{"first restart at once, then doubling to the cap", []time.Duration{0, 0, 0, 0, 0, 0},
			[]time.Duration{0, 100 * ms, 200 * ms, 400 * ms, 400 * ms, 400 * ms}},
		{"a run of Reset starts over", []time.Duration{0, 0, 0, time.Second, 0, 0},
			[]time.Duration{0, 100 * ms, 200 * ms, 0, 100 * ms, 200 * ms}},
		{"a run just short of Reset does not", []time.Duration{0, 0, 999 * ms, 0},
			[]time.Duration{0, 100 * ms, 200 * ms, 400 * ms}},
		{"a long first run is still a first restart", []time.Duration{time.Hour, 0},
			[]time.Duration{0, 100 * ms}},
		{"long runs only: always at once", []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second},
			[]time.Duration{0, 0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NewSchedule(b)
			for i, ran := range c.ran {
				if got := s.Wait(ran); got != c.waits[i] {
					t.Fatalf("wait %d (after a run of %s) = %s, want %s", i, ran, got, c.waits[i])
				}
			}
		})
	}
	t.Run("kubelet's", func(t *testing.T) {
		s := NewSchedule(KubeletBackoff)
		var got []string
		for range 8 {
			got = append(got, s.Wait(time.Second).String())
		}
		if want := "[0s 10s 20s 40s 1m20s 2m40s 5m0s 5m0s]"; fmt.Sprint(got) != want {
			t.Fatalf("waits %v, want %s", got, want)
		}
	})
}

func TestRestarts(t *testing.T) {
	cases := []struct {
		policy string
		code   int
		want   bool
	}{
		{"Always", 0, true},
		{"Always", 1, true},
		{"OnFailure", 0, false},
		{"OnFailure", 1, true},
		{"OnFailure", 137, true},
		{"Never", 0, false},
		{"Never", 1, false},
		{"", 1, false},
	}
	for _, c := range cases {
		if got := Restarts(c.policy, c.code); got != c.want {
			t.Errorf("Restarts(%q, %d) = %v, want %v", c.policy, c.code, got, c.want)
		}
	}
}

// describe is a report in one line, for comparing sequences.
func describe(r endpoint.Report) string {
	s := r.State
	if r.RestartCount != nil {
		s += fmt.Sprintf(" run=%d", *r.RestartCount)
	}
	if r.ExitCode != nil {
		s += fmt.Sprintf(" code=%d", *r.ExitCode)
	}
	if r.RestartInSeconds != nil {
		s += fmt.Sprintf(" in=%d", *r.RestartInSeconds)
	}
	if r.Ready != nil {
		s += fmt.Sprintf(" ready=%t", *r.Ready)
	}
	if r.Probe != "" {
		s += " probe=" + r.Probe
	}
	if r.Reason != "" {
		s += " reason=" + r.Reason
	}
	return s
}

// harness runs a supervisor in the background and records its reports.
type harness struct {
	t       *testing.T
	stops   chan Order
	ended   chan struct{}
	outcome Outcome
	began   time.Time

	mu      sync.Mutex
	reports []string
	changed chan struct{} // closed at each report
}

func start(t *testing.T, spec Spec) *harness {
	t.Helper()
	h := &harness{t: t, stops: make(chan Order, 1), ended: make(chan struct{}), changed: make(chan struct{}), began: time.Now()}
	var quiet atomic.Bool
	spec.Report = h.report
	spec.Logf = func(format string, args ...any) {
		if !quiet.Load() {
			t.Logf("supervise: "+format, args...)
		}
	}
	go func() {
		h.outcome = Run(context.Background(), spec, h.stops)
		close(h.ended)
	}()
	t.Cleanup(func() {
		// Whatever happened, leave no workload behind.
		select {
		case h.stops <- Order{}:
		default:
		}
		select {
		case <-h.ended:
		case <-time.After(10 * time.Second):
			t.Error("the supervisor did not end after a stop order")
		}
		quiet.Store(true)
	})
	return h
}

func (h *harness) report(r endpoint.Report) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reports = append(h.reports, describe(r))
	close(h.changed)
	h.changed = make(chan struct{})
}

func (h *harness) seen() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.reports...)
}

// await waits for a report described as want (or starting with it, when want ends with "…").
func (h *harness) await(want string, within time.Duration) {
	h.t.Helper()
	deadline := time.After(within)
	for {
		h.mu.Lock()
		for _, r := range h.reports {
			if r == want || (strings.HasSuffix(want, "…") && strings.HasPrefix(r, strings.TrimSuffix(want, "…"))) {
				h.mu.Unlock()
				return
			}
		}
		changed := h.changed
		h.mu.Unlock()
		select {
		case <-changed:
		case <-h.ended:
			h.t.Fatalf("the supervisor ended (%+v) without reporting %q; reports %q", h.outcome, want, h.seen())
		case <-deadline:
			h.t.Fatalf("no report %q within %s; reports %q", want, within, h.seen())
		}
	}
}

func (h *harness) stop(o Order) { h.stops <- o }

func (h *harness) wait(within time.Duration) Outcome {
	h.t.Helper()
	select {
	case <-h.ended:
		return h.outcome
	case <-time.After(within):
		h.t.Fatalf("the supervisor did not end within %s; reports %q", within, h.seen())
		return Outcome{}
	}
}

// expectReports compares the reports seen with want (want ending with "…": a prefix).
func expectReports(t *testing.T, got, want []string) {
	t.Helper()
	if n := len(want); n > 0 && want[n-1] == "…" {
		want = want[:n-1]
		if len(got) > len(want) {
			got = got[:len(want)]
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("reports:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func expectOutcome(t *testing.T, got, want Outcome) {
	t.Helper()
	got.ran = 0
	if got.StartErr != nil || got != want {
		t.Fatalf("outcome %+v, want %+v", got, want)
	}
}

func shSpec(script string, env ...string) workload.Spec {
	return workload.Spec{Argv: []string{"sh", "-c", script}, Env: append([]string{testPath}, env...)}
}

// untilThird fails until it has been run three times already: the 4th run (run 3) succeeds.
const untilThird = `n=$(cat "$COUNT" 2>/dev/null | wc -l); if [ "$n" -ge 3 ]; then exit 0; fi; echo run >> "$COUNT"; sleep "${LENGTH:-0}"; exit 1`

func TestRestartInPlace(t *testing.T) {
	cases := []struct {
		name    string
		policy  string
		script  string
		env     []string
		backoff Backoff
		// stopAfter: send a stop order once this report is seen ("" none).
		stopAfter string
		reports   []string
		outcome   Outcome
		least     time.Duration // the whole supervision took at least this long
	}{
		{
			name: "OnFailure until a success, on the back-off schedule", policy: "OnFailure", script: untilThird,
			backoff: Backoff{Initial: time.Second, Max: 2 * time.Second, Reset: time.Hour},
			reports: []string{
				"started run=0",
				"exited run=0 code=1 in=0 reason=Error",
				"started run=1",
				"exited run=1 code=1 in=1 reason=Error",
				"started run=2",
				"exited run=2 code=1 in=2 reason=Error",
				"started run=3",
			},
			outcome: Outcome{Code: 0, Run: 3, Reason: "Completed"},
			least:   3 * time.Second,
		},
		{
			// Each run lasts 300 ms ≥ Reset: the schedule starts over every time.
			name: "runs that last Reset restart at once", policy: "OnFailure", script: untilThird, env: []string{"LENGTH=0.3"},
			backoff: Backoff{Initial: 2 * time.Second, Max: 4 * time.Second, Reset: 300 * time.Millisecond},
			reports: []string{
				"started run=0",
				"exited run=0 code=1 in=0 reason=Error",
				"started run=1",
				"exited run=1 code=1 in=0 reason=Error",
				"started run=2",
				"exited run=2 code=1 in=0 reason=Error",
				"started run=3",
			},
			outcome: Outcome{Code: 0, Run: 3, Reason: "Completed"},
			least:   900 * time.Millisecond,
		},
		{
			name: "Never: one run, the end is the caller's to report", policy: "Never", script: "exit 7", backoff: fast,
			reports: []string{"started run=0"},
			outcome: Outcome{Code: 7, Run: 0, Reason: "Error"},
		},
		{
			name: "Never after a success", policy: "Never", script: "exit 0", backoff: fast,
			reports: []string{"started run=0"},
			outcome: Outcome{Code: 0, Run: 0, Reason: "Completed"},
		},
		{
			name: "OnFailure after a success", policy: "OnFailure", script: "exit 0", backoff: fast,
			reports: []string{"started run=0"},
			outcome: Outcome{Code: 0, Run: 0, Reason: "Completed"},
		},
		{
			name: "a signal's code", policy: "Never", script: "kill -9 $$", backoff: fast,
			reports: []string{"started run=0"},
			outcome: Outcome{Code: 128 + 9, Run: 0, Reason: "Error"},
		},
		{
			name: "Always restarts a success too", policy: "Always", script: "exit 0",
			backoff:   Backoff{Initial: time.Second, Max: time.Second, Reset: time.Hour},
			stopAfter: "started run=1",
			reports: []string{
				"started run=0",
				"exited run=0 code=0 in=0 reason=Completed",
				"started run=1",
				"…",
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			count := filepath.Join(t.TempDir(), "count")
			h := start(t, Spec{
				Workload:      shSpec(c.script, append([]string{"COUNT=" + count}, c.env...)...),
				RestartPolicy: c.policy,
				Backoff:       c.backoff,
			})
			if c.stopAfter != "" {
				h.await(c.stopAfter, 8*time.Second)
				h.stop(Order{})
				out := h.wait(8 * time.Second)
				if !out.Stopped || out.StartErr != nil {
					t.Fatalf("outcome %+v, want Stopped", out)
				}
				expectReports(t, h.seen(), c.reports)
				return
			}
			out := h.wait(9 * time.Second)
			expectReports(t, h.seen(), c.reports)
			expectOutcome(t, out, c.outcome)
			if elapsed := time.Since(h.began); elapsed < c.least {
				t.Fatalf("took %s, the back-off alone is %s", elapsed, c.least)
			}
		})
	}
}

func TestStartErrorOnTheFirstRun(t *testing.T) {
	cases := []struct {
		argv []string
		want string
	}{
		{[]string{"no-such-program-anex"}, `exec: "no-such-program-anex": executable file not found in $PATH`},
		{[]string{"/no/such/file"}, `exec: "/no/such/file": stat /no/such/file: no such file or directory`},
		{nil, "the pod has no command to run"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.argv), func(t *testing.T) {
			h := start(t, Spec{Workload: workload.Spec{Argv: c.argv, Env: []string{testPath}}, RestartPolicy: "Always", Backoff: fast})
			out := h.wait(5 * time.Second)
			if out.StartErr == nil || out.StartErr.Error() != c.want {
				t.Fatalf("StartErr %v, want %q", out.StartErr, c.want)
			}
			if out.Stopped || out.Run != 0 || out.Code != 0 {
				t.Fatalf("outcome %+v", out)
			}
			expectReports(t, h.seen(), nil)
		})
	}
}

func TestStartErrorOnALaterRun(t *testing.T) {
	// The program removes itself: the restart cannot start it (kubelet: StartError, 128).
	program := filepath.Join(t.TempDir(), "once")
	if err := os.WriteFile(program, []byte("#!/bin/sh\nrm \"$0\"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	h := start(t, Spec{
		Workload:      workload.Spec{Argv: []string{program}, Env: []string{testPath}},
		RestartPolicy: "OnFailure",
		Backoff:       Backoff{Initial: 2 * time.Second, Max: 2 * time.Second, Reset: time.Hour},
	})
	h.await("exited run=1…", 5*time.Second)
	h.stop(Order{}) // during the 2 s back-off
	out := h.wait(5 * time.Second)
	expectReports(t, h.seen(), []string{
		"started run=0",
		"exited run=0 code=1 in=0 reason=Error",
		"exited run=1 code=128 in=2 reason=StartError",
	})
	expectOutcome(t, out, Outcome{Code: 128, Run: 1, Reason: "StartError", Stopped: true})
}

// stoppable is a workload that says it is up (the file $UP) once its TERM trap is set.
func stoppable(trap string) string {
	return fmt.Sprintf(`trap '%s' TERM; touch "$UP"; while :; do sleep 0.1; done`, trap)
}

func awaitFile(t *testing.T, path string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %s", path, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGracefulStop(t *testing.T) {
	execPreStop := &endpoint.Handler{Exec: &endpoint.ExecAction{Command: []string{"sh", "-c", `echo prestop >> "$OUT"`}}}
	cases := []struct {
		name    string
		trap    string
		preStop *endpoint.Handler
		grace   time.Duration
		code    int
		out     string // what $OUT holds after the stop
		least   time.Duration
		most    time.Duration
	}{
		{name: "SIGTERM, handled", trap: `echo saved >> "$OUT"; exit 0`, grace: 5 * time.Second,
			code: 0, out: "saved\n", most: 2 * time.Second},
		{name: "SIGTERM, not handled", trap: "-", grace: 5 * time.Second,
			code: 128 + 15, most: 2 * time.Second},
		{name: "SIGTERM ignored: SIGKILL after the grace (at least 2 s)", trap: "", grace: time.Second,
			code: 128 + 9, least: minKill, most: 4 * time.Second},
		{name: "SIGTERM ignored: SIGKILL after the grace", trap: "", grace: 3 * time.Second,
			code: 128 + 9, least: 3 * time.Second, most: 5 * time.Second},
		{name: "stop now: SIGTERM, SIGKILL after 2 s", trap: "", grace: 0,
			code: 128 + 9, least: minKill, most: 4 * time.Second},
		{name: "preStop runs before SIGTERM", trap: `echo term >> "$OUT"; exit 0`, preStop: execPreStop, grace: 5 * time.Second,
			code: 0, out: "prestop\nterm\n", most: 2 * time.Second},
		{name: "a sleep preStop delays SIGTERM", trap: `echo term >> "$OUT"; exit 0`, preStop: &endpoint.Handler{Sleep: &endpoint.Sleep{Seconds: 1}}, grace: 5 * time.Second,
			code: 0, out: "term\n", least: time.Second, most: 3 * time.Second},
		{name: "a preStop is cut at the grace", trap: `echo term >> "$OUT"; exit 0`,
			preStop: &endpoint.Handler{Exec: &endpoint.ExecAction{Command: []string{"sh", "-c", `sleep 5; echo late >> "$OUT"`}}}, grace: time.Second,
			code: 0, out: "term\n", least: time.Second, most: 3 * time.Second},
		{name: "a failing preStop does not prevent SIGTERM", trap: `echo term >> "$OUT"; exit 0`,
			preStop: &endpoint.Handler{Exec: &endpoint.ExecAction{Command: []string{"false"}}}, grace: 5 * time.Second,
			code: 0, out: "term\n", most: 2 * time.Second},
		{name: "stop now skips preStop", trap: `echo term >> "$OUT"; exit 0`, preStop: execPreStop, grace: 0,
			code: 0, out: "term\n", most: 2 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			up, out := filepath.Join(dir, "up"), filepath.Join(dir, "out")
			script := stoppable(c.trap)
			if c.trap == "-" {
				script = `touch "$UP"; while :; do sleep 0.1; done`
			}
			h := start(t, Spec{
				Workload:      shSpec(script, "UP="+up, "OUT="+out),
				RestartPolicy: "Always",
				Backoff:       fast,
				PreStop:       c.preStop,
				Grace:         time.Hour, // the order's grace counts, not the pod's
			})
			awaitFile(t, up, 5*time.Second)
			began := time.Now()
			h.stop(Order{Grace: c.grace})
			got := h.wait(10 * time.Second)
			elapsed := time.Since(began)
			reason := "Error"
			if c.code == 0 {
				reason = "Completed"
			}
			expectOutcome(t, got, Outcome{Code: c.code, Run: 0, Reason: reason, Stopped: true})
			// Stopped: no exited report, the final end is the caller's.
			expectReports(t, h.seen(), []string{"started run=0"})
			if elapsed < c.least || elapsed > c.most {
				t.Fatalf("the stop took %s, want %s to %s", elapsed, c.least, c.most)
			}
			if c.out != "" {
				if got := read(t, out); got != c.out {
					t.Fatalf("$OUT holds %q, want %q", got, c.out)
				}
			} else if _, err := os.Stat(out); err == nil {
				t.Fatalf("$OUT holds %q, want nothing", read(t, out))
			}
		})
	}
}

func TestStopDuringTheBackoff(t *testing.T) {
	h := start(t, Spec{
		Workload:      shSpec("exit 3"),
		RestartPolicy: "Always",
		Backoff:       Backoff{Initial: 5 * time.Second, Max: 5 * time.Second, Reset: time.Hour},
	})
	h.await("exited run=1 code=3 in=5 reason=Error", 5*time.Second)
	began := time.Now()
	h.stop(Order{Grace: time.Minute})
	out := h.wait(2 * time.Second)
	if elapsed := time.Since(began); elapsed > time.Second {
		t.Fatalf("the stop took %s with nothing running", elapsed)
	}
	expectOutcome(t, out, Outcome{Code: 3, Run: 1, Reason: "Error", Stopped: true})
	expectReports(t, h.seen(), []string{
		"started run=0",
		"exited run=0 code=3 in=0 reason=Error",
		"started run=1",
		"exited run=1 code=3 in=5 reason=Error",
	})
}

func execProbe(failureThreshold int, argv ...string) *endpoint.Probe {
	return &endpoint.Probe{
		Handler:       endpoint.Handler{Exec: &endpoint.ExecAction{Command: argv}},
		PeriodSeconds: 1, FailureThreshold: failureThreshold,
	}
}

func TestLivenessFailureKillsTheRun(t *testing.T) {
	const unhealthy = `unhealthy run=%d probe=liveness reason=Liveness probe failed: command "false" exited with 1`
	cases := []struct {
		name      string
		policy    string
		stopAfter string
		reports   []string
		outcome   Outcome
	}{
		{
			name: "Always: restarted", policy: "Always", stopAfter: "started run=1",
			reports: []string{
				"started run=0",
				"ready run=0 ready=true", // no readiness probe: ready when started
				fmt.Sprintf(unhealthy, 0),
				"exited run=0 code=143 in=0 reason=Unhealthy",
				"started run=1",
				"…",
			},
		},
		{
			name: "Never: the end", policy: "Never",
			reports: []string{
				"started run=0",
				"ready run=0 ready=true",
				fmt.Sprintf(unhealthy, 0),
			},
			outcome: Outcome{Code: 143, Run: 0, Reason: "Unhealthy"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := start(t, Spec{
				Workload:      shSpec("while :; do sleep 0.1; done"),
				RestartPolicy: c.policy,
				Backoff:       Backoff{Initial: 2 * time.Second, Max: 2 * time.Second, Reset: time.Hour},
				Probes:        &endpoint.Probes{Liveness: execProbe(1, "false")},
				Grace:         5 * time.Second,
			})
			if c.stopAfter != "" {
				h.await(c.stopAfter, 8*time.Second)
				h.stop(Order{})
				if out := h.wait(8 * time.Second); !out.Stopped || out.Run < 1 {
					t.Fatalf("outcome %+v, want Stopped in run 1 or later", out)
				}
				expectReports(t, h.seen(), c.reports)
				return
			}
			out := h.wait(8 * time.Second)
			expectReports(t, h.seen(), c.reports)
			expectOutcome(t, out, c.outcome)
		})
	}
}

func TestLivenessProbeGrace(t *testing.T) {
	// The probe's own terminationGracePeriodSeconds overrides the pod's (an hour here).
	dir := t.TempDir()
	up := filepath.Join(dir, "up")
	grace := 3
	liveness := execProbe(1, "sh", "-c", `test ! -f "$UP"`)
	liveness.TerminationGracePeriodSeconds = &grace
	h := start(t, Spec{
		Workload:      shSpec(stoppable(""), "UP="+up),
		RestartPolicy: "Never",
		Backoff:       fast,
		Probes:        &endpoint.Probes{Liveness: liveness},
		Grace:         time.Hour,
	})
	h.await("unhealthy run=0 probe=liveness…", 5*time.Second)
	began := time.Now()
	out := h.wait(8 * time.Second)
	if elapsed := time.Since(began); elapsed < 2500*time.Millisecond || elapsed > 5*time.Second {
		t.Fatalf("killed %s after the failure, the probe's grace is 3 s", elapsed)
	}
	expectOutcome(t, out, Outcome{Code: 137, Run: 0, Reason: "Unhealthy"})
}

func TestReadinessProbe(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	h := start(t, Spec{
		Workload:      shSpec("while :; do sleep 0.1; done", "READY_FILE="+ready),
		RestartPolicy: "Always",
		Backoff:       fast,
		Probes:        &endpoint.Probes{Readiness: execProbe(1, "sh", "-c", `test -f "$READY_FILE"`)},
	})
	// Not ready at the start: the failures are reported, readiness is not (it has not changed).
	h.await(`unhealthy run=0 probe=readiness reason=Readiness probe failed: command "sh -c test -f \"$READY_FILE\"" exited with 1`, 5*time.Second)
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.await("ready run=0 ready=true", 5*time.Second)
	if err := os.Remove(ready); err != nil {
		t.Fatal(err)
	}
	h.await("ready run=0 ready=false", 5*time.Second)
	h.stop(Order{})
	out := h.wait(5 * time.Second)
	expectOutcome(t, out, Outcome{Code: 143, Run: 0, Reason: "Error", Stopped: true})
	// A failing readiness probe never kills; ready reports only when readiness changed.
	var readies []string
	for _, r := range h.seen() {
		if strings.HasPrefix(r, "ready") || strings.HasPrefix(r, "exited") || strings.HasPrefix(r, "started") {
			readies = append(readies, r)
		}
	}
	expectReports(t, readies, []string{"started run=0", "ready run=0 ready=true", "ready run=0 ready=false"})
}

func TestStartupProbe(t *testing.T) {
	t.Run("passed: ready, the liveness probe starts", func(t *testing.T) {
		h := start(t, Spec{
			Workload:      shSpec("while :; do sleep 0.1; done"),
			RestartPolicy: "Never",
			Backoff:       fast,
			Probes: &endpoint.Probes{
				Startup:  execProbe(1, "true"),
				Liveness: execProbe(1, "sh", "-c", "echo dead; exit 1"),
			},
			Grace: time.Second,
		})
		out := h.wait(8 * time.Second)
		expectReports(t, h.seen(), []string{
			"started run=0",
			"ready run=0 ready=true",
			"unhealthy run=0 probe=liveness reason=Liveness probe failed: dead",
		})
		expectOutcome(t, out, Outcome{Code: 143, Run: 0, Reason: "Unhealthy"})
	})
	t.Run("failed: killed, never ready, liveness never run", func(t *testing.T) {
		h := start(t, Spec{
			Workload:      shSpec("while :; do sleep 0.1; done"),
			RestartPolicy: "Never",
			Backoff:       fast,
			Probes: &endpoint.Probes{
				Startup:   execProbe(1, "sh", "-c", "echo not started; exit 1"),
				Readiness: execProbe(1, "true"),
				Liveness:  execProbe(1, "false"),
			},
			Grace: time.Second,
		})
		out := h.wait(8 * time.Second)
		expectReports(t, h.seen(), []string{
			"started run=0",
			"unhealthy run=0 probe=startup reason=Startup probe failed: not started",
		})
		expectOutcome(t, out, Outcome{Code: 143, Run: 0, Reason: "Unhealthy"})
	})
}

// Started is kubelet's Started: the process runs and its startup probe passed — not readiness,
// which a sidecar with a readiness probe that never passes would otherwise wait for forever.
func TestStartedFollowsTheStartupProbeNotReadiness(t *testing.T) {
	never := execProbe(1, "false")
	cases := []struct {
		name    string
		probes  *endpoint.Probes
		started bool
	}{
		{"no probes: when the process runs", nil, true},
		{"a readiness probe that never passes does not hold it", &endpoint.Probes{Readiness: never}, true},
		{"after the startup probe passed, readiness aside", &endpoint.Probes{Startup: execProbe(1, "true"), Readiness: never}, true},
		{"never, when the startup probe fails", &endpoint.Probes{Startup: execProbe(3, "false")}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runs := make(chan int, 4)
			h := start(t, Spec{
				Workload:      shSpec("while :; do sleep 0.1; done"),
				RestartPolicy: "Never",
				Backoff:       fast,
				Probes:        c.probes,
				Grace:         time.Second,
				Started:       func(run int) { runs <- run },
			})
			select {
			case run := <-runs:
				if !c.started || run != 0 {
					t.Fatalf("Started(%d), want started=%t for run 0; reports %q", run, c.started, h.seen())
				}
			case <-time.After(1500 * time.Millisecond):
				if c.started {
					t.Fatalf("Started was not called; reports %q", h.seen())
				}
			}
			h.stop(Order{})
			h.wait(5 * time.Second)
		})
	}
}

// Each run's output goes to its own log buffer run, complete when Ended is told, and Ended
// comes before the run's exited report (the log tail is sent first).
func TestRunsOutputGoesToTheLogBuffer(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	logs := logbuf.New(0)
	// the harness, once start has returned it (the supervisor starts inside start)
	var hp atomic.Pointer[harness]
	ended := []string{}
	spec := Spec{
		Workload:      shSpec(`echo "run $(cat "$COUNT" 2>/dev/null | wc -l)"; echo oops >&2; `+untilThird, "COUNT="+count),
		RestartPolicy: "OnFailure",
		Backoff:       fast,
		Logs:          logs,
		Ended: func(r *logbuf.Run) {
			entries, _ := r.Snapshot()
			texts := []string{}
			for _, e := range entries {
				texts = append(texts, e.Stream+":"+strings.TrimSpace(e.Text))
			}
			// two pipes: the order between the streams is the scheduler's
			sort.Strings(texts)
			ended = append(ended, fmt.Sprintf("run=%d ended=%t %s reports=%d", r.Number, r.Ended(), strings.Join(texts, ","), len(harnessOf(&hp).seen())))
		},
	}
	h := start(t, spec)
	hp.Store(h)
	out := h.wait(9 * time.Second)
	expectOutcome(t, out, Outcome{Code: 0, Run: 3, Reason: "Completed"})
	// reports before each Ended: started run=0 (1); started, exited run=0, started run=1 (3); …
	want := []string{
		"run=0 ended=true stderr:oops,stdout:run 0 reports=1",
		"run=1 ended=true stderr:oops,stdout:run 1 reports=3",
		"run=2 ended=true stderr:oops,stdout:run 2 reports=5",
		"run=3 ended=true stderr:oops,stdout:run 3 reports=7",
	}
	if strings.Join(ended, "\n") != strings.Join(want, "\n") {
		t.Fatalf("ended:\n  %s\nwant:\n  %s", strings.Join(ended, "\n  "), strings.Join(want, "\n  "))
	}
	if logs.Current().Number != 3 || logs.Previous().Number != 2 {
		t.Fatalf("current %d previous %d, want 3 and 2", logs.Current().Number, logs.Previous().Number)
	}
}

func harnessOf(p *atomic.Pointer[harness]) *harness {
	for p.Load() == nil {
		time.Sleep(time.Millisecond)
	}
	return p.Load()
}
