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
	second := sh("check", fmt.Sprintf("test -e %[1]s/setup && test -e %[1]s/proxy", dir))
	result := Run(context.Background(), spec(t, "Never", rec, first, side, second), make(chan supervise.Order))
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
	if result.Failed == nil || result.FailedName != "setup" || result.Failed.Code != 3 {
		t.Fatalf("result = %+v", result)
	}
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
	if result.StartErr == nil {
		t.Fatalf("result = %+v, want StartErr", result)
	}
}
