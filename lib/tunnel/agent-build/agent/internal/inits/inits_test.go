package inits

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"anex.local/agent-build/agent/internal/endpoint"
	"anex.local/agent-build/agent/internal/supervise"
)

// recorder keeps the reports in order, as "container state[ code][ +restart]".
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) report(rep endpoint.Report) {
	line := rep.Container + " " + rep.State
	if rep.ExitCode != nil {
		line += fmt.Sprintf(" %d", *rep.ExitCode)
	}
	if rep.RestartInSeconds != nil {
		line += fmt.Sprintf(" +%ds", *rep.RestartInSeconds)
	}
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

func spec(t *testing.T, policy string, rec *recorder, containers ...endpoint.InitContainer) Spec {
	return Spec{
		Containers: containers,
		PodPolicy:  policy,
		Backoff:    supervise.Backoff{Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond, Reset: time.Minute},
		Grace:      2 * time.Second,
		Env: func(own map[string]string) []string {
			env := []string{"PATH=" + os.Getenv("PATH")}
			for k, v := range own {
				env = append(env, k+"="+v)
			}
			return env
		},
		Report: rec.report,
		Logf:   t.Logf,
	}
}

func sh(name, script string) endpoint.InitContainer {
	return endpoint.InitContainer{Name: name, Argv: []string{"sh", "-c", script}, Env: map[string]string{}}
}

func TestInitContainersRunInOrderAndSidecarsAlongside(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	side := sh("proxy", fmt.Sprintf("echo up > %s/proxy; trap 'exit 0' TERM; while :; do sleep 0.05; done", dir))
	side.RestartPolicy = "Always"
	first := sh("setup", fmt.Sprintf("test ! -e %[1]s/proxy && echo one > %[1]s/setup", dir))
	// Started (no startup probe) means the process runs: its file may come a moment later.
	second := sh("check", fmt.Sprintf("test -e %[1]s/setup && for i in $(seq 100); do test -e %[1]s/proxy && exit 0; sleep 0.02; done; exit 1", dir))
	result := Run(context.Background(), spec(t, "Never", rec, first, side, second), make(chan supervise.Order))
	t.Cleanup(func() { result.Sidecars.Stop(time.Second) })
	if result.Failed != nil || result.Stopped != nil || result.StartErr != nil {
		t.Fatalf("result = %+v, reports %v", result, rec.all())
	}
	result.Sidecars.Stop(time.Second)
	want := []string{"setup started", "setup exited 0", "proxy started", "check started", "check exited 0", "proxy exited 0"}
	if got := rec.all(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("reports = %v, want %v", got, want)
	}
}

func TestAFailedInitContainerFailsThePodUnderNever(t *testing.T) {
	rec := &recorder{}
	side := sh("proxy", "trap 'exit 0' TERM; while :; do sleep 0.05; done")
	side.RestartPolicy = "Always"
	result := Run(context.Background(), spec(t, "Never", rec, side, sh("setup", "exit 3"), sh("never", "true")), make(chan supervise.Order))
	t.Cleanup(func() { result.Sidecars.Stop(time.Second) })
	if result.Failed == nil || result.FailedName != "setup" || result.Failed.Code != 3 {
		t.Fatalf("result = %+v", result)
	}
	// The caller stops the sidecars (with what is left of the grace).
	result.Sidecars.Stop(time.Second)
	got := strings.Join(rec.all(), "|")
	if !strings.Contains(got, "setup exited 3|proxy exited ") || strings.Contains(got, "never") {
		t.Fatalf("reports = %s: want setup's final exit, the sidecar stopped, nothing after", got)
	}
}

func TestAFailedInitContainerIsRestartedInPlaceOtherwise(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	rec := &recorder{}
	// Fails twice, then succeeds.
	script := fmt.Sprintf("echo x >> %[1]s; test $(wc -l < %[1]s) -ge 3", count)
	result := Run(context.Background(), spec(t, "Always", rec, sh("setup", script)), make(chan supervise.Order))
	t.Cleanup(func() { result.Sidecars.Stop(time.Second) })
	if result.Failed != nil || result.Stopped != nil {
		t.Fatalf("result = %+v", result)
	}
	want := []string{"setup started", "setup exited 1 +0s", "setup started", "setup exited 1 +0s", "setup started", "setup exited 0"}
	if got := rec.all(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("reports = %v, want %v", got, want)
	}
}

func TestAStopDuringInitializationEndsIt(t *testing.T) {
	rec := &recorder{}
	stops := make(chan supervise.Order, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		stops <- supervise.Order{Grace: time.Second}
	}()
	result := Run(context.Background(), spec(t, "Always", rec, sh("slow", "sleep 30"), sh("never", "true")), stops)
	t.Cleanup(func() { result.Sidecars.Stop(time.Second) })
	if result.Stopped == nil {
		t.Fatalf("result = %+v, want Stopped", result)
	}
	if got := strings.Join(rec.all(), "|"); strings.Contains(got, "never") {
		t.Fatalf("reports = %s: nothing may start after a stop", got)
	}
}

func TestASidecarThatCannotStartEndsInitialization(t *testing.T) {
	rec := &recorder{}
	side := endpoint.InitContainer{Name: "proxy", Argv: []string{"/nonexistent/proxy"}, RestartPolicy: "Always"}
	result := Run(context.Background(), spec(t, "Always", rec, side, sh("never", "true")), make(chan supervise.Order))
	t.Cleanup(func() { result.Sidecars.Stop(time.Second) })
	if result.StartErr == nil {
		t.Fatalf("result = %+v, want StartErr", result)
	}
	if got := strings.Join(rec.all(), "|"); strings.Contains(got, "never") {
		t.Fatalf("reports = %s: nothing may start after a sidecar that cannot", got)
	}
}

// A sidecar holds the next container until it has started: its process runs and its startup
// probe passed — not until it is ready (KEP-753).
func TestTheNextContainerWaitsForTheSidecarsStartupProbeOnly(t *testing.T) {
	dir := t.TempDir()
	up := filepath.Join(dir, "up")
	rec := &recorder{}
	side := sh("proxy", fmt.Sprintf("sleep 0.3; touch %s; trap 'exit 0' TERM; while :; do sleep 0.05; done", up))
	side.RestartPolicy = "Always"
	exec := func(argv ...string) *endpoint.Probe {
		return &endpoint.Probe{Handler: endpoint.Handler{Exec: &endpoint.ExecAction{Command: argv}}, PeriodSeconds: 1, FailureThreshold: 30}
	}
	side.Probes = &endpoint.Probes{
		Startup:   exec("test", "-e", up),
		Readiness: exec("false"), // never ready: must not hold initialization
	}
	// Bounded: gated on readiness, initialization would wait forever.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	result := Run(ctx, spec(t, "Never", rec, side, sh("next", "test -e "+up)), make(chan supervise.Order))
	t.Cleanup(func() { result.Sidecars.Stop(time.Second) })
	if result.Failed != nil || result.Stopped != nil || result.StartErr != nil {
		t.Fatalf("result = %+v, reports %v: next ran before the sidecar's startup probe passed", result, rec.all())
	}
}

func TestSidecarsAreRestartedAndStoppedInReverseOrder(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	rec := &recorder{}
	// first exits once at the start, then keeps running: restarted whatever its exit code.
	first := sh("first", fmt.Sprintf("echo x >> %[1]s; test $(wc -l < %[1]s) -ge 2 || exit 0; trap 'exit 0' TERM; while :; do sleep 0.05; done", count))
	first.RestartPolicy = "Always"
	second := sh("second", "trap 'exit 0' TERM; while :; do sleep 0.05; done")
	second.RestartPolicy = "Always"
	result := Run(context.Background(), spec(t, "Never", rec, first, second), make(chan supervise.Order))
	t.Cleanup(func() { result.Sidecars.Stop(time.Second) })
	if result.Failed != nil || result.Stopped != nil || result.StartErr != nil {
		t.Fatalf("result = %+v", result)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(strings.Join(rec.all(), "|"), "first exited 0 +0s|first started") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	result.Sidecars.Stop(time.Second)
	got := rec.all()
	// Names and states only: a SIGTERM that comes before the restarted shell set its trap ends it with 143.
	want := []string{"second exited", "first exited"}
	tail := got[len(got)-2:]
	for i := range tail {
		tail[i] = strings.Join(strings.Fields(tail[i])[:2], " ")
	}
	if strings.Join(tail, "|") != strings.Join(want, "|") {
		t.Fatalf("reports = %v: want the sidecar restarted, then stopped last to first (%v)", got, want)
	}
	if !strings.Contains(strings.Join(got, "|"), "first exited 0 +0s|first started") {
		t.Fatalf("reports = %v: want first restarted in place after its exit", got)
	}
}
