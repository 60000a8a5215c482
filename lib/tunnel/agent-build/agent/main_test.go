package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"anex.local/agent-build/agent/internal/marker"
)

const podUID = "6f1c2d3e-0000-4000-8000-000000000001"

// fakeEndpoint answers like lib/tunnel/endpoint (no tunnel: the demo's transport 'none').
type fakeEndpoint struct {
	mu         sync.Mutex
	bootstrap  map[string]any
	bootstraps int
	reports    []map[string]any
	refuse     int
	config     map[string]any
	// alive is the pod-alive answer body; empty: {"alive":true}
	alive string
}

func (f *fakeEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	switch r.URL.Path {
	case "/v1/bootstrap":
		f.bootstraps++
		if f.refuse != 0 {
			w.WriteHeader(f.refuse)
			w.Write([]byte(`{"error":"bootstrap token rejected (used)"}`))
			return
		}
		json.Unmarshal(body, &f.bootstrap)
		json.NewEncoder(w).Encode(f.config)
	case "/v1/status":
		if r.Header.Get("Authorization") != "Bearer status-credential" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var report map[string]any
		json.Unmarshal(body, &report)
		f.reports = append(f.reports, report)
		w.Write([]byte(`{"ok":true}`))
	case "/v1/pod-alive":
		if f.alive != "" {
			w.Write([]byte(f.alive))
			return
		}
		w.Write([]byte(`{"alive":true}`))
	default:
		http.NotFound(w, r)
	}
}

func setEnv(t *testing.T, url string) {
	t.Setenv("ANEX_AGENT_URL", url)
	t.Setenv("ANEX_BOOTSTRAP_TOKEN", "one-time-token_123")
	t.Setenv("ANEX_POD_UID", podUID)
	t.Setenv("ANEX_AGENT_INSECURE", "1")
	t.Setenv("ANEX_AGENT_DIR", t.TempDir())
}

func TestRunsThePodCommandAndReportsItsEnd(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	work := filepath.Join(t.TempDir(), "app")
	f := &fakeEndpoint{config: map[string]any{
		"version": 1, "podUid": podUID, "statusCredential": "status-credential",
		"argv":       []string{"sh", "-c", `printf '%s|%s|%s' "$GREETING" "$(pwd)" "${ANEX_BOOTSTRAP_TOKEN:-none}" > "$OUT"; exit 7`},
		"env":        map[string]string{"GREETING": "hello", "OUT": out, "bad-name": "x"},
		"workingDir": work, "restartPolicy": "Never", "aliveIntervalSeconds": 60,
	}}
	server := httptest.NewServer(f)
	defer server.Close()
	setEnv(t, server.URL)

	if code := run(); code != 7 {
		t.Fatalf("exit %d, want the workload's 7", code)
	}
	got, _ := os.ReadFile(out)
	if string(got) != "hello|"+work+"|none" {
		t.Fatalf("workload saw %q (env, workingDir, and no token)", got)
	}
	if f.bootstrap["token"] != "one-time-token_123" || f.bootstrap["format"] != "json" || f.bootstrap["podUid"] != podUID {
		t.Fatalf("bootstrap body %v", f.bootstrap)
	}
	if key, _ := f.bootstrap["publicKey"].(string); len(key) != 44 {
		t.Fatalf("no agent-made public key in %v", f.bootstrap)
	}
	states := []string{}
	for _, r := range f.reports {
		states = append(states, r["state"].(string))
	}
	if strings.Join(states, ",") != "started,exited" || f.reports[1]["exitCode"] != float64(7) {
		t.Fatalf("reports %v", f.reports)
	}
}

// states lists the reports' states, with the run and exit code where given.
func (f *fakeEndpoint) states() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []string{}
	for _, r := range f.reports {
		s := r["state"].(string)
		if run, ok := r["restartCount"]; ok {
			s += fmt.Sprintf("#%v", run)
		}
		if code, ok := r["exitCode"]; ok {
			s += fmt.Sprintf("=%v", code)
		}
		if in, ok := r["restartInSeconds"]; ok {
			s += fmt.Sprintf("+%vs", in)
		}
		out = append(out, s)
	}
	return strings.Join(out, ",")
}

func TestRestartsInPlaceUnderOnFailureAndReportsEveryRun(t *testing.T) {
	count := filepath.Join(t.TempDir(), "runs")
	f := &fakeEndpoint{config: map[string]any{
		"version": 1, "podUid": podUID, "statusCredential": "status-credential",
		// exits 3 twice, then succeeds
		"argv":          []string{"sh", "-c", `echo x >> "$COUNT"; [ "$(wc -l < "$COUNT")" -ge 3 ] || exit 3`},
		"env":           map[string]string{"COUNT": count},
		"restartPolicy": "OnFailure", "aliveIntervalSeconds": 60,
		"backoff": map[string]int{"initialSeconds": 1, "maxSeconds": 2, "resetSeconds": 600},
	}}
	server := httptest.NewServer(f)
	defer server.Close()
	setEnv(t, server.URL)

	if code := run(); code != 0 {
		t.Fatalf("exit %d, want the last run's 0", code)
	}
	want := "started#0,exited#0=3+0s,started#1,exited#1=3+1s,started#2,exited#2=0"
	if got := f.states(); got != want {
		t.Fatalf("reports %s, want %s", got, want)
	}
}

func TestAStopAskedByTheControlPlaneIsGracefulAndReportedAsTheEnd(t *testing.T) {
	out := filepath.Join(t.TempDir(), "checkpoint")
	f := &fakeEndpoint{alive: `{"alive":false,"graceSeconds":10}`, config: map[string]any{
		"version": 1, "podUid": podUID, "statusCredential": "status-credential",
		"argv":          []string{"sh", "-c", `trap 'echo saved > "$OUT"; exit 0' TERM; while :; do sleep 0.1; done`},
		"env":           map[string]string{"OUT": out},
		"restartPolicy": "Always", "aliveIntervalSeconds": 1,
		"preStop": map[string]any{"exec": map[string]any{"command": []string{"sh", "-c", `echo prestop > "$OUT.pre"`}}},
	}}
	server := httptest.NewServer(f)
	defer server.Close()
	setEnv(t, server.URL)

	if code := run(); code != 0 {
		t.Fatalf("exit %d, want the trap's 0", code)
	}
	for _, file := range []string{out, out + ".pre"} {
		if _, err := os.Stat(file); err != nil {
			t.Fatalf("%s not written: the stop was not graceful", file)
		}
	}
	// Always, yet no restart: the control plane's stop is the end.
	if got, want := f.states(), "started#0,exited#0=0"; got != want {
		t.Fatalf("reports %s, want %s", got, want)
	}
}

func TestARefusedBootstrapIsFinal(t *testing.T) {
	f := &fakeEndpoint{refuse: http.StatusUnauthorized}
	server := httptest.NewServer(f)
	defer server.Close()
	setEnv(t, server.URL)
	if code := run(); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if len(f.reports) != 0 {
		t.Fatalf("reports %v after a refused bootstrap", f.reports)
	}
}

// The bootstrap names the agent's instance with the id its provider sets in the variable
// ANEX_INSTANCE_ID_ENV names (Vast CONTAINER_ID, RunPod RUNPOD_POD_ID): the endpoint binds the
// token to that instance (ADR 0021).
func TestTheBootstrapNamesTheInstanceItsProviderSets(t *testing.T) {
	cases := []struct{ name, variable, id, want string }{
		{"vast", "CONTAINER_ID", "31337", "31337"},
		{"runpod", "RUNPOD_POD_ID", "abc123xyz", "abc123xyz"},
		{"none declared", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeEndpoint{config: map[string]any{
				"version": 1, "podUid": podUID, "statusCredential": "status-credential",
				"argv": []string{"true"}, "env": map[string]string{}, "restartPolicy": "Never", "aliveIntervalSeconds": 60,
			}}
			server := httptest.NewServer(f)
			defer server.Close()
			setEnv(t, server.URL)
			t.Setenv("ANEX_INSTANCE_ID", "")
			t.Setenv("ANEX_INSTANCE_ID_ENV", c.variable)
			if c.variable != "" {
				t.Setenv(c.variable, c.id)
			}
			if code := run(); code != 0 {
				t.Fatalf("exit %d, want 0", code)
			}
			got, sent := f.bootstrap["instanceId"]
			if c.want == "" && sent {
				t.Fatalf("instanceId %v sent with no variable named", got)
			}
			if c.want != "" && got != c.want {
				t.Fatalf("instanceId %v, want %q", got, c.want)
			}
		})
	}
}

func TestInputsAreChecked(t *testing.T) {
	cases := []struct{ name, key, value, want string }{
		{"http without the insecure flag", "ANEX_AGENT_INSECURE", "", "ANEX_AGENT_URL must be an https:// URL"},
		{"a malformed pod UID", "ANEX_POD_UID", "not-a-uid", "ANEX_POD_UID=not-a-uid is not a pod UID"},
		{"a malformed token", "ANEX_BOOTSTRAP_TOKEN", "a b", "ANEX_BOOTSTRAP_TOKEN is missing or malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			setEnv(t, "http://127.0.0.1:9")
			t.Setenv(c.key, c.value)
			in, err := readInputs()
			if err == nil && c.key == "ANEX_AGENT_INSECURE" {
				_, err = newClient(in)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if os.Getenv("ANEX_BOOTSTRAP_TOKEN") != "" {
				t.Fatal("the token is still in the environment")
			}
		})
	}
}

// A provider may start the same container again (RunPod restarts it when its main process
// ends, runpod audit #7): the second agent must not present the spent token nor run the
// workload twice, and reports the recorded end again with the kept credential.
func TestARestartedContainerReportsTheEndAgainAndRunsNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "runs")
	f := &fakeEndpoint{config: map[string]any{
		"version": 1, "podUid": podUID, "statusCredential": "status-credential",
		"argv":          []string{"sh", "-c", `echo ran >> "$OUT"; exit 3`},
		"env":           map[string]string{"OUT": out},
		"restartPolicy": "Never", "aliveIntervalSeconds": 60,
	}}
	server := httptest.NewServer(f)
	defer server.Close()
	setEnv(t, server.URL)

	if code := run(); code != 3 {
		t.Fatalf("first start: exit %d, want the workload's 3", code)
	}
	// The container's env is the same on a restart: the token is there again.
	t.Setenv("ANEX_BOOTSTRAP_TOKEN", "one-time-token_123")
	if code := run(); code != 3 {
		t.Fatalf("restart: exit %d, want the recorded 3", code)
	}
	if f.bootstraps != 1 {
		t.Fatalf("%d bootstraps, want 1: the restart must not present the spent token", f.bootstraps)
	}
	if runs, _ := os.ReadFile(out); string(runs) != "ran\n" {
		t.Fatalf("workload runs %q, want exactly one", runs)
	}
	states := []string{}
	for _, r := range f.reports {
		states = append(states, fmt.Sprintf("%v:%v", r["state"], r["exitCode"]))
	}
	if strings.Join(states, ",") != "started:<nil>,exited:3,exited:3" {
		t.Fatalf("reports %v", f.reports)
	}
	if reason, _ := f.reports[2]["reason"].(string); !strings.Contains(reason, "restarted") {
		t.Fatalf("the repeated report does not say why: %v", f.reports[2])
	}
}

func TestARestartAfterAnUnfinishedBootstrapStaysQuiet(t *testing.T) {
	f := &fakeEndpoint{refuse: http.StatusUnauthorized}
	server := httptest.NewServer(f)
	defer server.Close()
	setEnv(t, server.URL)
	if code := run(); code != 1 {
		t.Fatalf("first start: exit %d, want 1", code)
	}
	t.Setenv("ANEX_BOOTSTRAP_TOKEN", "one-time-token_123")
	if code := run(); code != 1 {
		t.Fatalf("restart: exit %d, want 1", code)
	}
	if f.bootstraps != 1 || len(f.reports) != 0 {
		t.Fatalf("%d bootstraps and reports %v, want 1 and none", f.bootstraps, f.reports)
	}
}

func TestARestartReportsAnUnrecordedEndAsUnknown(t *testing.T) {
	dir := t.TempDir()
	mark, _, err := marker.Claim(marker.Path(dir, podUID), podUID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The first start bootstrapped, then the container was killed before the workload ended.
	if err := mark.Update(func(s *marker.State) { s.Credential = "status-credential" }); err != nil {
		t.Fatal(err)
	}
	f := &fakeEndpoint{}
	server := httptest.NewServer(f)
	defer server.Close()
	setEnv(t, server.URL)
	t.Setenv("ANEX_AGENT_DIR", dir)
	if code := run(); code != 137 {
		t.Fatalf("exit %d, want 137", code)
	}
	if f.bootstraps != 0 || len(f.reports) != 1 || f.reports[0]["state"] != "exited" || f.reports[0]["exitCode"] != float64(137) {
		t.Fatalf("%d bootstraps, reports %v; want none and exited 137", f.bootstraps, f.reports)
	}
}

// containers lists the reports as "container:state" (the app container's with no prefix).
func (f *fakeEndpoint) containers() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []string{}
	for _, r := range f.reports {
		s := r["state"].(string)
		if c, ok := r["container"].(string); ok {
			s = c + ":" + s
		}
		out = append(out, s)
	}
	return strings.Join(out, ",")
}

func TestProtocol4MakesTheVolumesAndRunsTheInitContainerBeforeTheApp(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(t.TempDir(), "out")
	f := &fakeEndpoint{config: map[string]any{
		"version": 1, "podUid": podUID, "statusCredential": "status-credential",
		"volumes": []map[string]any{
			{"name": "hf", "path": "/etc/hf", "readOnly": true, "files": []map[string]any{
				{"path": "token", "mode": 0o400, "data": "c2VjcmV0"}, // "secret"
			}},
			{"name": "work", "path": "/work", "emptyDir": map[string]any{}},
		},
		"initContainers": []map[string]any{
			{"name": "setup", "argv": []string{"sh", "-c", `cp "$ROOT/etc/hf/token" "$ROOT/work/copied"`}, "env": map[string]string{"ROOT": root}},
		},
		"argv":          []string{"sh", "-c", `printf '%s|%s' "$(cat "$ROOT/work/copied")" "$(stat -L -c %a "$ROOT/etc/hf/token")" > "$OUT"`},
		"env":           map[string]string{"ROOT": root, "OUT": out},
		"restartPolicy": "Never", "aliveIntervalSeconds": 60,
	}}
	server := httptest.NewServer(f)
	defer server.Close()
	setEnv(t, server.URL)
	t.Setenv("ANEX_AGENT_ROOT", root)

	if code := run(); code != 0 {
		t.Fatalf("exit %d, reports %s", code, f.containers())
	}
	if got, _ := os.ReadFile(out); string(got) != "secret|400" {
		t.Fatalf("the app saw %q: want the file the init container copied, and the file's mode", got)
	}
	if got, want := f.containers(), "setup:started,setup:exited,started,exited"; got != want {
		t.Fatalf("reports %s, want %s", got, want)
	}
}

func TestProtocol4AFailedInitContainerUnderNeverEndsThePodWithoutTheApp(t *testing.T) {
	out := filepath.Join(t.TempDir(), "never")
	f := &fakeEndpoint{config: map[string]any{
		"version": 1, "podUid": podUID, "statusCredential": "status-credential",
		"initContainers": []map[string]any{{"name": "setup", "argv": []string{"sh", "-c", "exit 4"}, "env": map[string]string{}}},
		"argv":           []string{"sh", "-c", `touch "$OUT"`},
		"env":            map[string]string{"OUT": out},
		"restartPolicy":  "Never", "aliveIntervalSeconds": 60,
	}}
	server := httptest.NewServer(f)
	defer server.Close()
	setEnv(t, server.URL)

	if code := run(); code != 4 {
		t.Fatalf("exit %d, want the init container's 4", code)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("the app container ran after its init container failed")
	}
	if got, want := f.containers(), "setup:started,setup:exited"; got != want {
		t.Fatalf("reports %s, want %s (no app report: the init container's end is the pod's)", got, want)
	}
}

func TestProtocol4AnEmptyDirOverItsLimitEvictsThePod(t *testing.T) {
	evictionInterval = 50 * time.Millisecond
	defer func() { evictionInterval = 10 * time.Second }()
	root := t.TempDir()
	f := &fakeEndpoint{config: map[string]any{
		"version": 1, "podUid": podUID, "statusCredential": "status-credential",
		"volumes": []map[string]any{{"name": "scratch", "path": "/scratch", "emptyDir": map[string]any{"sizeLimitBytes": 8}}},
		// A sidecar that ignores SIGTERM: an eviction leaves no grace, so it is killed after
		// kubelet's minimum 2 s, not after the pod's 30 s.
		"initContainers": []map[string]any{{"name": "proxy", "restartPolicy": "Always", "env": map[string]string{},
			"argv": []string{"sh", "-c", `trap '' TERM; while :; do sleep 0.05; done`}}},
		"argv":          []string{"sh", "-c", `printf 0123456789 > "$ROOT/scratch/big"; while :; do sleep 0.05; done`},
		"env":           map[string]string{"ROOT": root},
		"restartPolicy": "Always", "aliveIntervalSeconds": 60, "terminationGracePeriodSeconds": 30,
	}}
	server := httptest.NewServer(f)
	defer server.Close()
	setEnv(t, server.URL)
	t.Setenv("ANEX_AGENT_ROOT", root)

	began := time.Now()
	if code := run(); code != 1 {
		t.Fatalf("exit %d, want 1 after an eviction", code)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Fatalf("the eviction took %s: the sidecar got the pod's grace, not what was left of none", took)
	}
	if got, want := f.containers(), "proxy:started,started,proxy:exited,evicted"; got != want {
		t.Fatalf("reports %s, want %s", got, want)
	}
	f.mu.Lock()
	last := f.reports[len(f.reports)-1]
	f.mu.Unlock()
	if last["reason"] != "Evicted" || last["message"] != `Usage of EmptyDir volume "scratch" exceeds the limit "8".` {
		t.Fatalf("last report %v, want the eviction in kubelet's words", last)
	}
}

func TestProtocol4SidecarsRunAlongsideTheAppAndStopAfterIt(t *testing.T) {
	out := filepath.Join(t.TempDir(), "seen")
	f := &fakeEndpoint{config: map[string]any{
		"version": 1, "podUid": podUID, "statusCredential": "status-credential",
		"initContainers": []map[string]any{{"name": "proxy", "restartPolicy": "Always", "env": map[string]string{"OUT": out},
			"argv": []string{"sh", "-c", `echo up > "$OUT"; trap 'exit 0' TERM; while :; do sleep 0.05; done`}}},
		// The app sees the sidecar running: it started before the app (its process, at least:
		// without a startup probe the file may come a moment later).
		"argv":          []string{"sh", "-c", `for i in $(seq 100); do test -s "$OUT" && exit 0; sleep 0.02; done; exit 1`},
		"env":           map[string]string{"OUT": out},
		"restartPolicy": "Never", "aliveIntervalSeconds": 60,
	}}
	server := httptest.NewServer(f)
	defer server.Close()
	setEnv(t, server.URL)

	if code := run(); code != 0 {
		t.Fatalf("exit %d, reports %s", code, f.containers())
	}
	// The app's end is the last report; the sidecar's final exit comes before it.
	if got, want := f.containers(), "proxy:started,started,proxy:exited,exited"; got != want {
		t.Fatalf("reports %s, want %s", got, want)
	}
}

func TestRestartReport(t *testing.T) {
	code := func(c int) *int { return &c }
	cases := []struct {
		name     string
		previous marker.State
		report   string
		exit     int
	}{
		{"the app's recorded end", marker.State{ExitCode: code(3)}, "exited code=3", 3},
		{"a failed init container's end", marker.State{ExitCode: code(4), Container: "setup"}, "exited code=4 container=setup", 4},
		{"an eviction", marker.State{Evicted: "Usage of EmptyDir volume \"s\" exceeds the limit \"8\"."}, "evicted reason=Evicted", 1},
		{"the agent's failure", marker.State{Failed: "no tunnel"}, "failed reason=no tunnel", 1},
		{"nothing recorded", marker.State{}, "exited code=137", 137},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, exit := restartReport(&c.previous)
			got := r.State
			if r.ExitCode != nil {
				got += fmt.Sprintf(" code=%d", *r.ExitCode)
			}
			if r.Container != "" {
				got += " container=" + r.Container
			}
			if r.State != "exited" {
				got += " reason=" + r.Reason
			}
			if got != c.report || exit != c.exit {
				t.Fatalf("report %q exit %d, want %q exit %d", got, exit, c.report, c.exit)
			}
			if r.State == "evicted" && r.Message != c.previous.Evicted {
				t.Fatalf("message %q, want the recorded one", r.Message)
			}
		})
	}
}
