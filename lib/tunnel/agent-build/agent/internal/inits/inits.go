// Package inits runs a pod's init containers and sidecars before its app container, the way
// the kubelet does (pkg/kubelet/kuberuntime computeInitContainerActions; KEP-753 sidecars;
// docs/agent-protocol.md "initContainers"): in order; a regular init container runs to
// completion before the next one starts — restarted in place on failure with the pod's back-off,
// or, under restartPolicy Never, failing the pod; a sidecar (restartPolicy Always) is started,
// kept running (restarted on any exit) and the next one starts once it has started (its startup
// probe passed, if it has one). Sidecars are stopped after the app container, in reverse order.
// Every report carries the container's name.
package inits

import (
	"context"
	"sync"
	"time"

	"anex.local/agent-build/agent/internal/endpoint"
	"anex.local/agent-build/agent/internal/logbuf"
	"anex.local/agent-build/agent/internal/supervise"
	"anex.local/agent-build/agent/internal/workload"
)

// Spec is the pod's init containers and what they share with the app container.
type Spec struct {
	Containers []endpoint.InitContainer
	// PodPolicy is the pod's restartPolicy (Always, OnFailure, Never).
	PodPolicy string
	Backoff   supervise.Backoff
	// Grace is the pod's terminationGracePeriodSeconds.
	Grace time.Duration
	// Env builds a container's complete environment from its own variables.
	Env    func(map[string]string) []string
	Report func(endpoint.Report)
	Logf   func(format string, args ...any)
	// Logs, when set, is a container's log buffer (by name); Ended is told each run's end
	// (supervise.Spec.Logs and Ended).
	Logs  func(name string) *logbuf.Buffer
	Ended func(name string, run *logbuf.Run)
}

// Result is how initialization ended. With none of Failed, Stopped or StartErr set, the app
// container may start. The sidecars started so far run in every case until the caller stops
// them (Sidecars.Stop): only it knows what is left of a stop's grace, and kubelet stops them
// after the app container either way.
type Result struct {
	Sidecars *Sidecars
	// Failed is the outcome of a regular init container that failed under restartPolicy Never
	// (its final exited is reported already).
	Failed *supervise.Outcome
	// FailedName names it.
	FailedName string
	// Stopped: a stop order arrived during initialization (the last outcome).
	Stopped *supervise.Outcome
	// StartErr: an init container could not be started at all.
	StartErr error
}

// Run runs the init containers in order; stops is the pod's stop-order channel.
func Run(ctx context.Context, spec Spec, stops <-chan supervise.Order) Result {
	sidecars := &Sidecars{report: spec.Report}
	for _, c := range spec.Containers {
		if c.RestartPolicy == "Always" {
			started, one := sidecars.start(ctx, spec, c)
			select {
			case <-started:
			case <-one.ended:
				// Its supervision ended before it ever started: it could not be started at all.
				if one.outcome.StartErr != nil {
					return Result{Sidecars: sidecars, StartErr: one.outcome.StartErr}
				}
				return Result{Sidecars: sidecars, Stopped: &one.outcome}
			case <-stops:
				return Result{Sidecars: sidecars, Stopped: &supervise.Outcome{Code: 137, Stopped: true}}
			case <-ctx.Done():
				return Result{Sidecars: sidecars, Stopped: &supervise.Outcome{Code: 137}}
			}
			continue
		}
		// kubelet restarts a failed init container unless the pod's policy is Never; one that
		// succeeded is done whatever the policy (computeInitContainerActions).
		policy := "OnFailure"
		if spec.PodPolicy == "Never" {
			policy = "Never"
		}
		outcome := supervise.Run(ctx, containerSpec(spec, c, policy, spec.Report, nil), stops)
		switch {
		case outcome.StartErr != nil:
			return Result{Sidecars: sidecars, StartErr: outcome.StartErr}
		case outcome.Stopped:
			return Result{Sidecars: sidecars, Stopped: &outcome}
		}
		code, run := outcome.Code, outcome.Run
		spec.Report(endpoint.Report{State: "exited", Container: c.Name, ExitCode: &code, RestartCount: &run, Reason: outcome.Reason})
		if code != 0 {
			spec.Logf("init container %s exited with code %d (restartPolicy Never): the pod fails", c.Name, code)
			return Result{Sidecars: sidecars, Failed: &outcome, FailedName: c.Name}
		}
		spec.Logf("init container %s completed", c.Name)
	}
	return Result{Sidecars: sidecars}
}

// containerSpec is one init container's supervision; its reports carry its name.
func containerSpec(spec Spec, c endpoint.InitContainer, policy string, report func(endpoint.Report), started func(int)) supervise.Spec {
	var logs *logbuf.Buffer
	if spec.Logs != nil {
		logs = spec.Logs(c.Name)
	}
	var ended func(*logbuf.Run)
	if spec.Ended != nil {
		ended = func(run *logbuf.Run) { spec.Ended(c.Name, run) }
	}
	return supervise.Spec{
		Workload:      workload.Spec{Argv: c.Argv, Env: spec.Env(c.Env), WorkingDir: c.WorkingDir},
		RestartPolicy: policy,
		Backoff:       spec.Backoff,
		Probes:        c.Probes,
		PreStop:       c.PreStop,
		Grace:         spec.Grace,
		Report: func(r endpoint.Report) {
			r.Container = c.Name
			report(r)
		},
		Logf:    func(format string, args ...any) { spec.Logf(c.Name+": "+format, args...) },
		Started: started,
		Logs:    logs,
		Ended:   ended,
	}
}

// Sidecars are the running sidecars, in start order.
type Sidecars struct {
	mu      sync.Mutex
	running []*sidecar
	report  func(endpoint.Report)
}

type sidecar struct {
	name  string
	stops chan supervise.Order
	// ended closes when its supervision returns; outcome is set before.
	ended   chan struct{}
	outcome supervise.Outcome
}

// start runs c under restartPolicy Always; the channel closes once its first run has started
// (kubelet's Started: the process runs and its startup probe, if any, passed).
func (s *Sidecars) start(ctx context.Context, spec Spec, c endpoint.InitContainer) (<-chan struct{}, *sidecar) {
	started := make(chan struct{})
	var once sync.Once
	one := &sidecar{name: c.Name, stops: make(chan supervise.Order, 1), ended: make(chan struct{})}
	s.mu.Lock()
	s.running = append(s.running, one)
	s.mu.Unlock()
	cs := containerSpec(spec, c, "Always", spec.Report, func(int) { once.Do(func() { close(started) }) })
	go func() {
		one.outcome = supervise.Run(ctx, cs, one.stops)
		close(one.ended)
	}()
	return started, one
}

// Stop stops the sidecars in reverse order within grace, what is left of the pod's (each gets
// at least the supervisor's 2 s after SIGTERM, as kubelet gives), and reports each one's final
// end. A nil Sidecars, or one already stopped, does nothing.
func (s *Sidecars) Stop(grace time.Duration) {
	if s == nil {
		return
	}
	s.mu.Lock()
	running := s.running
	s.running = nil
	s.mu.Unlock()
	deadline := time.Now().Add(grace)
	for i := len(running) - 1; i >= 0; i-- {
		one := running[i]
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		select {
		case one.stops <- supervise.Order{Grace: left}:
		default:
		}
		<-one.ended
		outcome := one.outcome
		if outcome.StartErr != nil {
			continue
		}
		code, run := outcome.Code, outcome.Run
		s.report(endpoint.Report{State: "exited", Container: one.name, ExitCode: &code, RestartCount: &run, Reason: outcome.Reason})
	}
}
