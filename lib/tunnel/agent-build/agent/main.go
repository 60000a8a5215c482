// Command anex-agent is what a rented machine runs for a pod: the launch stub downloads it
// from the agent endpoint, checks its SHA-256 and execs it (lib/tunnel/agent/stub.ts).
//
//  1. POST the one-time bootstrap token to the agent endpoint (verified TLS; http:// only
//     with ANEX_AGENT_INSECURE=1) with its own WireGuard public key, and get the pod's
//     configuration back: the effective argv, env and workingDir, and the tunnel, if any.
//  2. With a tunnel: download wireproxy (and wstunnel where UDP is blocked), verify their
//     SHA-256, start them, wait for wireproxy's /readyz.
//  3. Make the pod's volumes (internal/volumes: files from Secrets and ConfigMaps, emptyDirs)
//     and run its init containers and sidecars in order (internal/inits), protocol 4.
//  4. Keep the pod's container as a kubelet would (internal/supervise, docs/agent-protocol.md):
//     run its command, restart it in place on kubelet's back-off when the restart policy says
//     so, run its probes, and report every run (started, exited, ready, unhealthy); the final
//     exited(code), or failed(reason) when the agent itself fails.
//  5. Stops: when the endpoint says the pod is gone (a deletion, with its grace), or on
//     SIGTERM/SIGINT (the pod's terminationGracePeriodSeconds), run preStop, SIGTERM the
//     workload, SIGKILL it when the grace is over, report the exit — as the final exit when
//     the control plane asked, as failed when the host did (the provider stopped the
//     container: a host event, not the workload's end). Dead-man's switch: when
//     the endpoint cannot be reached for the configured time, stop the workload, report
//     failed (one try) and exit; a control plane that is away for less keeps it running.
//  6. Restarts: before spending the token it leaves a marker in the container's filesystem
//     (internal/marker). A provider that starts the same container again (RunPod restarts a
//     container whose main process ended) starts an agent that finds the marker: it does not
//     spend the token again nor run the workload twice, but reports the recorded end again
//     (exited(code), or exited 137 when the end was never recorded) with the kept status
//     credential — or, without one, says so and exits.
//
// Environment (set by the reconciler at launch; never printed):
//
//	ANEX_AGENT_URL        agent endpoint base URL (https://…)
//	ANEX_BOOTSTRAP_TOKEN  one-time token; removed from the environment before anything runs
//	ANEX_POD_UID          the pod's UID
//	ANEX_INSTANCE_ID      optional: this instance's provider id (bound to the token)
//	ANEX_INSTANCE_ID_ENV  optional: the name of the variable holding the instance id instead
//	ANEX_AGENT_INSECURE=1 allow http:// URLs (tests and local mode only)
//	ANEX_AGENT_CA_FILE    optional CA bundle for the endpoint's certificate
//	ANEX_AGENT_DIR        optional work directory (default: a fresh private temp dir); the
//	                      restart marker lives here when set, else in the temp dir ($TMPDIR)
//	ANEX_AGENT_ROOT       tests only: prefix of every volume mount path (the simulator's
//	                      machines without their own root run in a directory)
//
// Exit status: the workload's exit code, or 1 when the agent itself failed; after a restart,
// the recorded exit code (137 when unknown, 1 after an agent failure).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"anex.local/agent-build/agent/internal/binaries"
	"anex.local/agent-build/agent/internal/deadman"
	"anex.local/agent-build/agent/internal/endpoint"
	"anex.local/agent-build/agent/internal/inits"
	"anex.local/agent-build/agent/internal/logbuf"
	"anex.local/agent-build/agent/internal/marker"
	"anex.local/agent-build/agent/internal/nodeapi"
	"anex.local/agent-build/agent/internal/supervise"
	"anex.local/agent-build/agent/internal/tunnel"
	"anex.local/agent-build/agent/internal/volumes"
	"anex.local/agent-build/agent/internal/workload"
)

const version = "4"

var (
	podUIDPattern     = regexp.MustCompile(`^[0-9a-f-]{36}$`)
	tokenPattern      = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	instanceIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]*$`)
	envNamePattern    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func main() {
	os.Exit(run())
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "anex-agent: "+format+"\n", args...)
}

// inputs are the agent's own settings, read once from the environment.
type inputs struct {
	url, token, podUID, instanceID, caFile, dir string
	insecure                                    bool
}

func readInputs() (inputs, error) {
	in := inputs{
		url:        os.Getenv("ANEX_AGENT_URL"),
		token:      os.Getenv("ANEX_BOOTSTRAP_TOKEN"),
		podUID:     os.Getenv("ANEX_POD_UID"),
		instanceID: os.Getenv("ANEX_INSTANCE_ID"),
		caFile:     os.Getenv("ANEX_AGENT_CA_FILE"),
		dir:        os.Getenv("ANEX_AGENT_DIR"),
		insecure:   os.Getenv("ANEX_AGENT_INSECURE") == "1",
	}
	// The token is for the bootstrap only: nothing the agent starts may see it.
	_ = os.Unsetenv("ANEX_BOOTSTRAP_TOKEN")
	if name := os.Getenv("ANEX_INSTANCE_ID_ENV"); in.instanceID == "" && name != "" {
		if !envNamePattern.MatchString(name) {
			return in, fmt.Errorf("ANEX_INSTANCE_ID_ENV=%s is not a variable name", name)
		}
		in.instanceID = os.Getenv(name)
	}
	switch {
	case in.url == "":
		return in, fmt.Errorf("ANEX_AGENT_URL is not set (expected https://<agent endpoint>)")
	case in.podUID == "":
		return in, fmt.Errorf("ANEX_POD_UID is not set")
	case !podUIDPattern.MatchString(in.podUID):
		return in, fmt.Errorf("ANEX_POD_UID=%s is not a pod UID", in.podUID)
	case !tokenPattern.MatchString(in.token):
		return in, fmt.Errorf("ANEX_BOOTSTRAP_TOKEN is missing or malformed (expected base64url)")
	case !instanceIDPattern.MatchString(in.instanceID):
		return in, fmt.Errorf("instance id contains characters other than A-Z a-z 0-9 . _ : -")
	}
	return in, nil
}

func run() int {
	in, err := readInputs()
	if err != nil {
		logf("error: %v", err)
		return 1
	}
	client, err := newClient(in)
	if err != nil {
		logf("error: %v", err)
		return 1
	}
	mark, previous, err := claimMarker(in)
	if previous != nil {
		return restarted(client, in.podUID, previous)
	}
	if err != nil {
		logf("warning: cannot leave a restart marker (%v): a restart of this container would present the spent token again", err)
	}
	dir, err := workDir(in.dir)
	if err != nil {
		logf("error: cannot use a work directory: %v", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	keys, err := tunnel.NewKeyPair()
	if err != nil {
		logf("error: cannot make a WireGuard key pair: %v", err)
		return 1
	}
	config, err := client.Bootstrap(ctx, endpoint.BootstrapRequest{
		Token: in.token, PodUID: in.podUID, InstanceID: in.instanceID, PublicKey: keys.Public,
		Arch: runtime.GOARCH, Format: "json", AgentVersion: version,
	}, 6, func(line string) { logf("%s", line) })
	in.token = ""
	if err != nil {
		if status, ok := err.(*endpoint.StatusError); ok {
			logf("error: bootstrap refused (HTTP %d): %s", status.Code, status.Body)
		} else {
			logf("error: %v", err)
		}
		return 1
	}
	a := &agent{in: in, client: client, config: config, dir: dir, keys: keys, mark: mark}
	a.makeLogs()
	a.remember(func(s *marker.State) { s.Credential = config.StatusCredential })
	return a.serve(ctx)
}

// unknownExit is the exit code reported when the workload's end was never recorded
// (lib/reconcile/status.ts UNKNOWN_EXIT: Kubernetes' ContainerStatusUnknown).
const unknownExit = 137

// restarted handles a second start of this container: the token is spent and the workload ran
// (or was being run) by the first start. It reports what the first start recorded, again.
func restarted(client *endpoint.Client, podUID string, previous *marker.State) int {
	logf("this container was started again (its provider restarted it after its main process ended; RunPod does): "+
		"the one-time bootstrap token was spent at %s, so the workload does not run again", previous.ClaimedAt)
	if previous.Credential == "" {
		logf("the first start did not finish its bootstrap, so no status credential was kept: nothing to report; exiting")
		return 1
	}
	report, code := restartReport(previous)
	client.UseCredential(previous.Credential)
	if err := client.Report(context.Background(), podUID, report, 5); err != nil {
		logf("status report '%s' not delivered: %v", report.State, err)
	} else {
		logf("reported '%s' again", report.State)
	}
	return code
}

// restartReport is what a restarted agent reports, and its exit status.
func restartReport(previous *marker.State) (endpoint.Report, int) {
	switch {
	case previous.Evicted != "":
		return endpoint.Report{State: "evicted", Reason: "Evicted", Message: previous.Evicted}, 1
	case previous.ExitCode != nil:
		code := *previous.ExitCode
		// Container: the init container whose failure was the pod's end (protocol 4).
		return endpoint.Report{
			State: "exited", ExitCode: &code, Container: previous.Container,
			Reason: "the container was restarted after the workload ended",
		}, code
	case previous.Failed != "":
		return endpoint.Report{State: "failed", Reason: previous.Failed}, 1
	}
	code := unknownExit
	return endpoint.Report{
		State: "exited", ExitCode: &code,
		Reason: "the container was restarted before the workload's end was recorded (the agent or the container was killed); its exit code is unknown",
	}, code
}

// claimMarker claims the restart marker in the work directory when one is set, else in the
// temp directory: places in the container's filesystem, which survives a restart.
func claimMarker(in inputs) (*marker.Marker, *marker.State, error) {
	dir := in.dir
	if dir == "" {
		dir = os.TempDir()
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	return marker.Claim(marker.Path(dir, in.podUID), in.podUID, time.Now())
}

func newClient(in inputs) (*endpoint.Client, error) {
	return endpoint.New(endpoint.Options{URL: in.url, Insecure: in.insecure, CAFile: in.caFile})
}

func workDir(dir string) (string, error) {
	if dir == "" {
		return os.MkdirTemp("", "anex-agent-")
	}
	return dir, os.MkdirAll(dir, 0o700)
}

// agent is one bootstrapped pod: its tunnel, its workload and its reports.
type agent struct {
	in      inputs
	client  *endpoint.Client
	config  *endpoint.Config
	dir     string
	keys    tunnel.KeyPair
	helpers tunnel.Helpers
	// mark is this start's restart marker; nil when none could be written
	mark *marker.Marker
	// logs is each container's output by name ("": the app container), made by serve.
	logs map[string]*logbuf.Buffer
}

// makeLogs makes a log buffer for the app container and each init container and sidecar.
func (a *agent) makeLogs() {
	a.logs = map[string]*logbuf.Buffer{"": logbuf.New(0)}
	for _, c := range a.config.InitContainers {
		a.logs[c.Name] = logbuf.New(0)
	}
}

// remember records in the restart marker what a restarted agent must know.
func (a *agent) remember(change func(*marker.State)) {
	if err := a.mark.Update(change); err != nil {
		logf("warning: cannot update the restart marker: %v", err)
	}
}

func (a *agent) report(ctx context.Context, r endpoint.Report, attempts int) {
	if err := a.client.Report(ctx, a.in.podUID, r, attempts); err != nil {
		logf("status report '%s' not delivered: %v", r.State, err)
	}
}

// fail reports the agent's own failure and ends it with status 1.
func (a *agent) fail(ctx context.Context, reason string) int {
	logf("error: %s", reason)
	a.remember(func(s *marker.State) { s.Failed = reason })
	a.report(ctx, endpoint.Report{State: "failed", Reason: reason}, 5)
	a.helpers.Stop()
	return 1
}

func (a *agent) serve(ctx context.Context) int {
	tunnelled := "without a tunnel"
	if a.config.Wireproxy != nil {
		tunnelled = "through the tunnel"
	}
	// argv[0] only: arguments may carry what the pod's owner considers secret.
	logf("agent %s bootstrapped pod %s; running %q %s", version, a.in.podUID, first(a.config.Argv), tunnelled)
	// Before the tunnel: wireproxy forwards <VPN address>:10250 here (ADR 0023 §4).
	a.serveAPI(ctx)
	if a.config.Wireproxy != nil {
		if err := a.startTunnel(ctx); err != nil {
			return a.fail(ctx, err.Error())
		}
		logf("tunnel ready")
	}
	// The pod's files and directories before anything of it runs (names only in the log).
	made, err := volumes.Prepare(a.config.Volumes, volumes.Options{
		Root: os.Getenv("ANEX_AGENT_ROOT"), Dir: a.dir, PodUID: a.in.podUID, Logf: logf,
	})
	if err != nil {
		return a.fail(ctx, err.Error())
	}
	// Deferred: it runs after finish, when nothing of the pod runs any more.
	defer made.Release()
	queue := endpoint.NewQueue(func(ctx context.Context, r endpoint.Report) error {
		return a.client.Report(ctx, a.in.podUID, r, 5)
	}, 256, logf).WithLogs(func(ctx context.Context, t endpoint.LogTail) error {
		return a.client.SendLogs(ctx, t, 5)
	})
	// A run's tail goes into the queue before the run's exited report (ADR 0023 §5); the last
	// run's before the final report too, which is sent after the queue is drained.
	ended := func(name string, run *logbuf.Run) { queue.SendLogs(endpoint.TailOf(a.in.podUID, name, run)) }
	orders := newOrders()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)
	watch, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		for {
			select {
			case <-watch.Done():
				return
			case sig := <-signals:
				// The provider (or whoever runs the container) stops it: the pod's grace.
				orders.give(cause{signal: sig.String()}, a.grace())
			}
		}
	}()
	go func() {
		interval := seconds(a.config.AliveInterval, 10)
		ask := func(ctx context.Context) (endpoint.Answer, error) { return a.client.Alive(ctx, a.in.podUID) }
		if stop, ok := deadman.Watch(watch, ask, interval, seconds(a.config.DeadMan, 1800), time.Now); ok {
			logf("stopping: %s", stop.Reason)
			grace := stop.Grace
			if stop.Unreachable {
				grace = a.grace()
			}
			orders.give(cause{deadman: &stop}, grace)
		}
	}()
	go volumes.Watch(watch, made.Limits, evictionInterval, func(l volumes.Limit) {
		message := volumes.Message(l)
		logf("evicting the pod: %s", message)
		orders.give(cause{evicted: message}, 0)
	})
	initialized := inits.Run(ctx, inits.Spec{
		Containers: a.config.InitContainers, PodPolicy: a.config.RestartPolicy, Backoff: a.backoff(),
		Grace: a.grace(), Env: a.envOf, Report: queue.Send, Logf: logf,
		Logs: func(name string) *logbuf.Buffer { return a.logs[name] }, Ended: ended,
	}, orders.c)
	var outcome supervise.Outcome
	switch {
	case initialized.StartErr != nil:
		outcome = supervise.Outcome{StartErr: initialized.StartErr}
	case initialized.Failed != nil:
		// Reported as the init container's final exit: the control plane fails the pod.
		outcome = *initialized.Failed
	case initialized.Stopped != nil:
		outcome = *initialized.Stopped
	default:
		outcome = supervise.Run(ctx, supervise.Spec{
			Workload:      workload.Spec{Argv: a.config.Argv, Env: a.envOf(a.config.Env), WorkingDir: a.config.WorkingDir},
			RestartPolicy: a.config.RestartPolicy,
			Backoff:       a.backoff(),
			Probes:        a.config.Probes,
			PreStop:       a.config.PreStop,
			Grace:         a.grace(),
			Report:        queue.Send,
			Logf:          logf,
			Logs:          a.logs[""],
			Ended:         func(run *logbuf.Run) { ended("", run) },
		}, orders.c)
	}
	// Sidecars go after the app container (kubelet), in reverse order, within what is left of
	// a stop's grace (0 after an eviction: 2 s each), else the pod's.
	initialized.Sidecars.Stop(orders.left(a.grace()))
	stopWatch()
	why := orders.cause()
	if initialized.Failed != nil {
		why.initFailed = initialized.FailedName
	}
	// Earlier reports first (the endpoint ignores a report about an older run than it has),
	// but not for long when the control plane is away.
	wait := 30 * time.Second
	if why.deadman != nil && why.deadman.Unreachable {
		wait = time.Second
	}
	if dropped := queue.Close(wait); dropped > 0 {
		logf("%d status reports were not delivered", dropped)
	}
	return a.finish(ctx, outcome, why)
}

// cause is what stopped the workload from outside, if anything did.
type cause struct {
	signal  string
	deadman *deadman.Stop
	// evicted: kubelet's eviction message (an emptyDir over its sizeLimit)
	evicted string
	// initFailed: the init container that failed under restartPolicy Never (already reported)
	initFailed string
}

// evictionInterval is how often emptyDir usage is measured (kubelet's housekeeping: 10 s).
var evictionInterval = 10 * time.Second

// orders hands the supervisor one stop order: the first cause wins.
type orders struct {
	c     chan supervise.Order
	mu    sync.Mutex
	first *cause
	// deadline is when the first order's grace runs out.
	deadline time.Time
}

func newOrders() *orders { return &orders{c: make(chan supervise.Order, 1)} }

func (o *orders) give(why cause, grace time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.first != nil {
		return
	}
	o.first = &why
	o.deadline = time.Now().Add(grace)
	o.c <- supervise.Order{Grace: grace}
}

// left is what remains of the stop order's grace, or fallback when none was given.
func (o *orders) left(fallback time.Duration) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.first == nil {
		return fallback
	}
	return max(0, time.Until(o.deadline))
}

func (o *orders) cause() cause {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.first == nil {
		return cause{}
	}
	return *o.first
}

// grace is the pod's terminationGracePeriodSeconds (kubelet's default 30 s).
func (a *agent) grace() time.Duration {
	if g := a.config.TerminationGracePeriodSeconds; g != nil && *g >= 0 {
		return time.Duration(*g) * time.Second
	}
	return 30 * time.Second
}

// backoff is the endpoint's restart back-off, else kubelet's.
func (a *agent) backoff() supervise.Backoff {
	b := a.config.Backoff
	if b == nil || b.InitialSeconds <= 0 || b.MaxSeconds <= 0 {
		return supervise.KubeletBackoff
	}
	reset := b.ResetSeconds
	if reset <= 0 {
		reset = 2 * b.MaxSeconds
	}
	return supervise.Backoff{
		Initial: time.Duration(b.InitialSeconds) * time.Second,
		Max:     time.Duration(b.MaxSeconds) * time.Second,
		Reset:   time.Duration(reset) * time.Second,
	}
}

// finish reports the workload's final end and ends the agent with its exit status.
func (a *agent) finish(ctx context.Context, outcome supervise.Outcome, why cause) int {
	defer a.helpers.Stop()
	if outcome.StartErr != nil {
		return a.fail(ctx, outcome.StartErr.Error())
	}
	if why.deadman != nil && why.deadman.Unreachable {
		// Unreachable for that long already: one last try, not a minute of retries.
		reason := "stopped by the dead-man's switch: " + why.deadman.Reason
		a.remember(func(s *marker.State) { s.Failed = reason })
		a.report(ctx, endpoint.Report{State: "failed", Reason: reason}, 1)
		return 1
	}
	code := outcome.Code
	if why.evicted != "" {
		a.remember(func(s *marker.State) { s.Evicted = why.evicted })
		a.report(ctx, endpoint.Report{State: "evicted", Reason: "Evicted", Message: why.evicted}, 5)
		return 1
	}
	if why.initFailed != "" {
		logf("init container %s failed: the pod fails without its app container", why.initFailed)
		a.remember(func(s *marker.State) { s.ExitCode, s.Container = &code, why.initFailed })
		return code
	}
	if why.signal != "" {
		// Nobody at anex asked for this stop: the host stopped the container (the provider
		// stopping or losing the machine). Not the workload's end: the control plane decides.
		reason := fmt.Sprintf("the host stopped the container (%s) while run %d ran; the workload exited with code %d", why.signal, outcome.Run, code)
		logf("%s", reason)
		a.remember(func(s *marker.State) { s.Failed = reason })
		a.report(ctx, endpoint.Report{State: "failed", Reason: reason}, 2)
		return code
	}
	switch {
	case why.deadman != nil:
		logf("run %d stopped as the control plane asked, exit code %d", outcome.Run, code)
	default:
		logf("run %d exited with code %d (restartPolicy %s: no restart)", outcome.Run, code, a.config.RestartPolicy)
	}
	a.remember(func(s *marker.State) { s.ExitCode = &code })
	a.report(ctx, endpoint.Report{State: "exited", ExitCode: &code, RestartCount: &outcome.Run, Reason: outcome.Reason}, 5)
	return code
}

// serveAPI starts the agent API on 127.0.0.1:10250 until ctx ends. A port already taken is
// said, not fatal: the pod runs on without kubectl logs/exec (its log tails still go out).
func (a *agent) serveAPI(ctx context.Context) {
	server := &nodeapi.Server{
		Containers: []nodeapi.Container{{Env: a.envOf(a.config.Env), WorkingDir: a.config.WorkingDir, Logs: a.logs[""]}},
		Ports:      a.config.Ports,
		Logf:       logf,
	}
	for _, c := range a.config.InitContainers {
		server.Containers = append(server.Containers, nodeapi.Container{
			Name: c.Name, Env: a.envOf(c.Env), WorkingDir: c.WorkingDir, Logs: a.logs[c.Name],
		})
		server.Ports = append(server.Ports, c.Ports...)
	}
	if err := server.Serve(ctx, nodeapi.Addr); err != nil {
		logf("warning: the agent API cannot listen on %s (%v): kubectl logs, exec and port-forward will not reach this pod", nodeapi.Addr, err)
		return
	}
	logf("agent API on %s (reachable through the tunnel only)", nodeapi.Addr)
}

func (a *agent) startTunnel(ctx context.Context) error {
	check := func(url string) error { return endpoint.CheckURL("a binary URL", url, a.in.insecure) }
	base := a.helperEnv(nil)
	if ws := a.config.Wstunnel; ws != nil {
		path, err := binaries.Fetch(ctx, a.client.HTTP(), a.dir, pin(ws.Binary), check)
		if err != nil {
			return err
		}
		logf("wstunnel verified (sha256 %s)", ws.Binary.SHA256)
		if _, err := a.helpers.Start(path, ws.Args, a.helperEnv(ws.Env)); err != nil {
			return fmt.Errorf("cannot start wstunnel: %w", err)
		}
	}
	wp := a.config.Wireproxy
	path, err := binaries.Fetch(ctx, a.client.HTTP(), a.dir, pin(wp.Binary), check)
	if err != nil {
		return err
	}
	logf("wireproxy verified (sha256 %s)", wp.Binary.SHA256)
	conf, err := tunnel.WriteConfig(a.dir, wp.Config, endpoint.PrivateKeyPlaceholder, a.keys.Private)
	if err != nil {
		return err
	}
	port := a.config.HealthPort
	if port == 0 {
		port = 9080
	}
	proc, err := a.helpers.Start(path, []string{"-s", "-c", conf, "-i", fmt.Sprintf("127.0.0.1:%d", port)}, base)
	if err != nil {
		return fmt.Errorf("cannot start wireproxy: %w", err)
	}
	err = tunnel.WaitReady(ctx, proc, port, seconds(a.config.ReadyTimeout, 120))
	// wireproxy has read its config (or failed): the key need not stay on disk.
	_ = os.Remove(conf)
	return err
}

func first(argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	return argv[0]
}

func pin(b endpoint.Binary) binaries.Pin {
	return binaries.Pin{Name: b.Name, URL: b.URL, SHA256: b.SHA256, Format: b.Format}
}

// helperEnv is the agent's environment (token already removed) plus extra.
func (a *agent) helperEnv(extra map[string]string) []string {
	return merge(os.Environ(), extra)
}

// envOf is a container's environment: the agent's own with the container's env over it; names
// a process environment cannot carry are dropped, and said so (names only, never values).
func (a *agent) envOf(vars map[string]string) []string {
	usable := map[string]string{}
	for name, value := range vars {
		if envNamePattern.MatchString(name) {
			usable[name] = value
		} else {
			logf("skipping env entry with an invalid name")
		}
	}
	return merge(os.Environ(), usable)
}

func merge(base []string, extra map[string]string) []string {
	out := make([]string, 0, len(base)+len(extra))
	for _, entry := range base {
		name, _, _ := strings.Cut(entry, "=")
		if _, overridden := extra[name]; !overridden {
			out = append(out, entry)
		}
	}
	names := make([]string, 0, len(extra))
	for name := range extra {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, name+"="+extra[name])
	}
	return out
}

func seconds(value, fallback int) time.Duration {
	if value <= 0 {
		value = fallback
	}
	return time.Duration(value) * time.Second
}
