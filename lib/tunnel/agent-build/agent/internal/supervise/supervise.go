// Package supervise keeps one container's process running the way the kubelet keeps a
// container (docs/agent-protocol.md, ADR 0014): it starts the workload, restarts it in place
// after it ends when the restart policy says so — on kubelet's CrashLoopBackOff schedule —
// runs its startup, readiness and liveness probes, and stops it gracefully (preStop, SIGTERM,
// SIGKILL when the grace runs out) when told to. It reports every run through Spec.Report;
// the final end is the caller's to report (it also reports an agent failure or a stop by the
// dead-man's switch).
package supervise

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"anex.local/agent-build/agent/internal/endpoint"
	"anex.local/agent-build/agent/internal/logbuf"
	"anex.local/agent-build/agent/internal/probe"
	"anex.local/agent-build/agent/internal/workload"
)

// Backoff is the restart back-off: the first restart at once, then Initial doubling to Max;
// a run that lasted at least Reset starts the schedule over (kubelet forgets its back-off
// entry after 2 × max, 10 min).
type Backoff struct {
	Initial, Max, Reset time.Duration
}

// KubeletBackoff is kubelet's CrashLoopBackOff (pkg/kubelet/kubelet.go: 10 s, 300 s).
var KubeletBackoff = Backoff{Initial: 10 * time.Second, Max: 300 * time.Second, Reset: 600 * time.Second}

// Spec is the container to keep.
type Spec struct {
	Workload      workload.Spec
	RestartPolicy string
	Backoff       Backoff
	Probes        *endpoint.Probes
	PreStop       *endpoint.Handler
	// Grace is the pod's terminationGracePeriodSeconds: the grace of a stop the agent decides
	// itself (a failed liveness probe without its own grace, the provider stopping the container).
	Grace time.Duration
	// Report sends one report; it must not block for long (a queue).
	Report func(endpoint.Report)
	Logf   func(format string, args ...any)
	// Started, when set, is told once per run that the run has started in kubelet's sense
	// (ContainerStatus.Started): the process runs and its startup probe, if any, passed. A
	// sidecar gates the next init container on it (KEP-753); "ready" cannot serve, as with a
	// readiness probe it comes later or never.
	Started func(run int)
	// Logs, when set, keeps each run's output (ADR 0023 §5): a run begins a new buffer run,
	// the one before becomes the previous.
	Logs *logbuf.Buffer
	// Ended, when set, is told that a run's process has ended and its output is complete,
	// before the run's exited report is sent (the log tail goes first).
	Ended func(*logbuf.Run)
}

// Order tells the supervisor to stop the workload within Grace (0: SIGTERM, then SIGKILL after 2 s).
type Order struct {
	Grace time.Duration
}

// Outcome is how the supervision ended.
type Outcome struct {
	// Code is the last run's exit code (128 + signal when a signal ended it).
	Code int
	// Run is the last run's number (restartCount).
	Run int
	// Reason is kubelet's terminated reason of the last run (Completed, Error, Unhealthy).
	Reason string
	// Stopped: an Order ended it.
	Stopped bool
	// StartErr: the first run could not start at all (nothing ran).
	StartErr error
	// ran is how long the last run lasted (the back-off reset).
	ran time.Duration
}

// minKill is how long SIGTERM is given when no grace is left: kubelet's minimum is 2 s.
const minKill = 2 * time.Second

// Restarts reports whether a run that ended with code is started again under policy.
func Restarts(policy string, code int) bool {
	return policy == "Always" || (policy == "OnFailure" && code != 0)
}

// Schedule is the back-off state: the wait before the next restart.
type Schedule struct {
	b    Backoff
	next time.Duration
	used bool
}

// NewSchedule starts a back-off schedule.
func NewSchedule(b Backoff) *Schedule { return &Schedule{b: b} }

// Wait is the wait before restarting after a run that lasted ran; it advances the schedule.
func (s *Schedule) Wait(ran time.Duration) time.Duration {
	if s.used && ran >= s.b.Reset {
		s.used, s.next = false, 0
	}
	wait := s.next
	if !s.used {
		wait, s.used = 0, true
		s.next = s.b.Initial
		return wait
	}
	s.next = min(s.next*2, s.b.Max)
	return wait
}

// Run keeps the container until it ends for good or an order arrives on stops.
func Run(ctx context.Context, spec Spec, stops <-chan Order) Outcome {
	schedule := NewSchedule(spec.Backoff)
	last := Outcome{}
	for run := 0; ; run++ {
		w := spec.Workload
		var output *logbuf.Run
		if spec.Logs != nil {
			output = spec.Logs.Begin(run)
			w.Stdout, w.Stderr = output.Writer(logbuf.Stdout), output.Writer(logbuf.Stderr)
		}
		proc, err := workload.Start(w)
		if err != nil {
			if output != nil {
				output.End()
			}
			if run == 0 {
				return Outcome{StartErr: err}
			}
			// kubelet: a container that cannot be started again is terminated with StartError, 128.
			spec.Logf("run %d could not start: %v", run, err)
			last = Outcome{Code: 128, Run: run, Reason: "StartError"}
		} else {
			spec.Report(endpoint.Report{State: "started", RestartCount: intp(run)})
			if spec.Probes == nil || spec.Probes.Startup == nil {
				spec.started(run)
			}
			last = supervise(ctx, spec, proc, run, stops)
			if output != nil {
				output.End()
				if spec.Ended != nil {
					spec.Ended(output)
				}
			}
			if last.Stopped {
				return last
			}
		}
		if !Restarts(spec.RestartPolicy, last.Code) {
			return last
		}
		wait := schedule.Wait(last.ran)
		spec.Logf("run %d exited with code %d (restartPolicy %s): restarting in %s", run, last.Code, spec.RestartPolicy, wait)
		spec.Report(endpoint.Report{
			State: "exited", ExitCode: intp(last.Code), RestartCount: intp(run),
			RestartInSeconds: intp(int(wait / time.Second)), Reason: last.Reason,
		})
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-stops:
			timer.Stop()
			last.Stopped = true
			return last
		case <-ctx.Done():
			timer.Stop()
			return last
		}
	}
}

// runEnd is a run's end plus how long it ran (for the back-off reset).
type runEnd = Outcome

// supervise watches one run: its exit, its probes, a stop order.
func supervise(ctx context.Context, spec Spec, proc *workload.Process, run int, stops <-chan Order) runEnd {
	started := time.Now()
	probeCtx, stopProbes := context.WithCancel(ctx)
	kills := make(chan kill, 1)
	var wg sync.WaitGroup
	startProbes(probeCtx, &wg, spec, run, kills)
	defer func() {
		stopProbes()
		wg.Wait()
	}()
	reason := ""
	for {
		select {
		case code := <-proc.Done():
			return finished(code, run, reason, started)
		case k := <-kills:
			// A failed liveness or startup probe: kill and, by the policy, restart (kubelet).
			spec.Logf("%s probe failed %d times: stopping run %d", k.probe, k.failures, run)
			reason = "Unhealthy"
			stopProbes()
			code := stop(ctx, spec, proc, k.grace)
			return finished(code, run, reason, started)
		case order := <-stops:
			stopProbes()
			code := stop(ctx, spec, proc, order.Grace)
			end := finished(code, run, reason, started)
			end.Stopped = true
			return end
		}
	}
}

func finished(code, run int, reason string, started time.Time) runEnd {
	if reason == "" {
		reason = "Error"
		if code == 0 {
			reason = "Completed"
		}
	}
	return runEnd{Code: code, Run: run, Reason: reason, ran: time.Since(started)}
}

// stop runs preStop within the grace, sends SIGTERM, and SIGKILL when the grace is over.
func stop(ctx context.Context, spec Spec, proc *workload.Process, grace time.Duration) int {
	deadline := time.Now().Add(grace)
	if spec.PreStop != nil && grace > 0 {
		env := probe.Env{Vars: spec.Workload.Env, Dir: spec.Workload.WorkingDir}
		if ok, message := probe.Check(ctx, *spec.PreStop, grace, env); !ok {
			spec.Logf("preStop hook failed: %s", message)
		}
	}
	proc.Signal(syscall.SIGTERM)
	left := time.Until(deadline)
	if left < minKill {
		left = minKill
	}
	timer := time.NewTimer(left)
	defer timer.Stop()
	select {
	case code := <-proc.Done():
		return code
	case <-timer.C:
		spec.Logf("the workload did not stop within its grace period: SIGKILL")
		proc.Signal(syscall.SIGKILL)
		return <-proc.Done()
	}
}

type kill struct {
	probe    string
	failures int
	grace    time.Duration
}

// startProbes runs the run's probes: startup first; readiness and liveness once it passed.
func startProbes(ctx context.Context, wg *sync.WaitGroup, spec Spec, run int, kills chan<- kill) {
	p := spec.Probes
	if p == nil || (p.Startup == nil && p.Readiness == nil && p.Liveness == nil) {
		return
	}
	env := probe.Env{Vars: spec.Workload.Env, Dir: spec.Workload.WorkingDir}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if p.Startup != nil {
			if !startup(ctx, spec, p.Startup, run, env, kills) {
				return
			}
			spec.started(run)
		}
		if p.Readiness == nil {
			// Gated by the startup probe only: ready once it passed.
			spec.Report(endpoint.Report{State: "ready", Ready: boolp(true), RestartCount: intp(run)})
		} else {
			wg.Add(1)
			go func() {
				defer wg.Done()
				readiness(ctx, spec, p.Readiness, run, env)
			}()
		}
		if p.Liveness != nil {
			liveness(ctx, spec, p.Liveness, run, env, kills)
		}
	}()
}

func check(h endpoint.Handler, t probe.Timing, env probe.Env) func(context.Context) (bool, string) {
	return func(ctx context.Context) (bool, string) { return probe.Check(ctx, h, t.Timeout, env) }
}

func unhealthy(spec Spec, kind string, run int, message string) {
	label := map[string]string{"startup": "Startup", "readiness": "Readiness", "liveness": "Liveness"}[kind]
	spec.Report(endpoint.Report{
		State: "unhealthy", Probe: kind, RestartCount: intp(run),
		Reason: fmt.Sprintf("%s probe failed: %s", label, message),
	})
}

// startup reports whether the startup probe passed (false: it failed for good, or ctx ended).
func startup(ctx context.Context, spec Spec, p *endpoint.Probe, run int, env probe.Env, kills chan<- kill) bool {
	t := probe.TimingOf(p)
	passed := false
	probe.Loop(ctx, t, check(p.Handler, t, env), func(a probe.Attempt) bool {
		if a.OK {
			passed = true
			return true
		}
		unhealthy(spec, "startup", run, a.Message)
		if a.Failures >= t.Failure {
			sendKill(ctx, kills, kill{probe: "startup", failures: a.Failures, grace: probeGrace(spec, p)})
			return true
		}
		return false
	})
	return passed
}

func readiness(ctx context.Context, spec Spec, p *endpoint.Probe, run int, env probe.Env) {
	t := probe.TimingOf(p)
	ready := false
	probe.Loop(ctx, t, check(p.Handler, t, env), func(a probe.Attempt) bool {
		if !a.OK {
			unhealthy(spec, "readiness", run, a.Message)
		}
		switch {
		case a.OK && !ready && a.Successes >= t.Success:
			ready = true
		case !a.OK && ready && a.Failures >= t.Failure:
			ready = false
		default:
			return false
		}
		spec.Report(endpoint.Report{State: "ready", Ready: boolp(ready), RestartCount: intp(run)})
		return false
	})
}

func liveness(ctx context.Context, spec Spec, p *endpoint.Probe, run int, env probe.Env, kills chan<- kill) {
	t := probe.TimingOf(p)
	probe.Loop(ctx, t, check(p.Handler, t, env), func(a probe.Attempt) bool {
		if a.OK {
			return false
		}
		unhealthy(spec, "liveness", run, a.Message)
		if a.Failures >= t.Failure {
			sendKill(ctx, kills, kill{probe: "liveness", failures: a.Failures, grace: probeGrace(spec, p)})
			return true
		}
		return false
	})
}

func sendKill(ctx context.Context, kills chan<- kill, k kill) {
	select {
	case kills <- k:
	case <-ctx.Done():
	}
}

// probeGrace is the probe's own terminationGracePeriodSeconds, else the pod's.
func probeGrace(spec Spec, p *endpoint.Probe) time.Duration {
	if p.TerminationGracePeriodSeconds != nil {
		return time.Duration(*p.TerminationGracePeriodSeconds) * time.Second
	}
	return spec.Grace
}

func (s Spec) started(run int) {
	if s.Started != nil {
		s.Started(run)
	}
}

func intp(v int) *int    { return &v }
func boolp(v bool) *bool { return &v }
