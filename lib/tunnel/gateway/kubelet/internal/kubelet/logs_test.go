package kubelet

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

func ptr[T any](v T) *T { return &v }

var savedRun = []TailEntry{
	{Time: "2026-12-04T10:00:00.000000001Z", Stream: "stdout", Line: "loading model"},
	{Time: "2026-12-04T10:00:05Z", Stream: "stderr", Line: "warning: fp16"},
	{Time: "2026-12-04T10:00:10.5Z", Stream: "stdout", Line: "serving on :8080"},
	{Time: "2026-12-04T10:00:20Z", Stream: "stdout", Line: "shutting down"},
}

// The saved tail with the kubelet's options: since, then tail, then timestamps, then the
// byte limit.
func TestRenderTail(t *testing.T) {
	since := time.Date(2026, 12, 4, 10, 0, 5, 0, time.UTC)
	cases := []struct {
		name string
		opts LogOptions
		want string
	}{
		{"everything", LogOptions{}, "loading model\nwarning: fp16\nserving on :8080\nshutting down\n"},
		{"tailLines 2", LogOptions{TailLines: ptr[int64](2)}, "serving on :8080\nshutting down\n"},
		{"tailLines 0", LogOptions{TailLines: ptr[int64](0)}, ""},
		{"sinceTime keeps the line at that instant", LogOptions{SinceTime: &since}, "warning: fp16\nserving on :8080\nshutting down\n"},
		{"sinceTime then tailLines", LogOptions{SinceTime: &since, TailLines: ptr[int64](1)}, "shutting down\n"},
		{"timestamps", LogOptions{TailLines: ptr[int64](2), Timestamps: true}, "2026-12-04T10:00:10.500000000Z serving on :8080\n2026-12-04T10:00:20.000000000Z shutting down\n"},
		{"limitBytes cuts mid-line", LogOptions{LimitBytes: ptr[int64](20)}, "loading model\nwarnin"},
		{"limitBytes counts the timestamps", LogOptions{Timestamps: true, LimitBytes: ptr[int64](31)}, "2026-12-04T10:00:00.000000001Z "},
		{"timestamps are fixed-width as the kubelet's", LogOptions{Timestamps: true, TailLines: ptr[int64](1)}, "2026-12-04T10:00:20.000000000Z shutting down\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(renderTail(savedRun, tc.opts)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseLogOptions(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		query   string
		want    LogOptions
		wantErr string
	}{
		{query: "", want: LogOptions{}},
		{query: "follow=true&previous=1&timestamps=true&tailLines=10&limitBytes=500", want: LogOptions{Follow: true, Previous: true, Timestamps: true, TailLines: ptr[int64](10), LimitBytes: ptr[int64](500)}},
		{query: "sinceSeconds=90", want: LogOptions{SinceTime: ptr(now.Add(-90 * time.Second))}},
		{query: "sinceTime=2026-12-04T11:00:00Z", want: LogOptions{SinceTime: ptr(time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC))}},
		{query: "sinceTime=2026-12-04T11:00:00Z&sinceSeconds=5", wantErr: "at most one of sinceTime or sinceSeconds"},
		{query: "sinceSeconds=0", wantErr: "sinceSeconds must be at least 1"},
		{query: "tailLines=-1", wantErr: "tailLines must be at least 0"},
		{query: "limitBytes=0", wantErr: "limitBytes must be at least 1"},
		{query: "follow=maybe", wantErr: `follow must be true or false, not "maybe"`},
		{query: "sinceTime=yesterday", wantErr: "not an RFC 3339 time"},
	}
	for _, tc := range cases {
		q, _ := url.ParseQuery(tc.query)
		got, err := parseLogOptions(q, now)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err %v, want %q", tc.query, err, tc.wantErr)
			}
			continue
		}
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(tc.want)
		if err != nil || string(gotJSON) != string(wantJSON) {
			t.Errorf("%q: %s (err %v), want %s", tc.query, gotJSON, err, wantJSON)
		}
	}
}

// containerLogs: live from the agent while the machine answers, from the saved tail after,
// and honest errors when neither can answer.
func TestContainerLogs(t *testing.T) {
	g := newGround(t)
	// The machine of "gone" is unreachable (the dialer refuses 10.99.0.8): its saved tails answer.
	g.endpoint.tails[goneUID+"//false"] = StoredTail{Entries: savedRun}
	g.endpoint.tails[goneUID+"//true"] = StoredTail{Entries: []TailEntry{{Time: "2026-12-04T09:00:00Z", Stream: "stdout", Line: "first run"}}}
	g.endpoint.tails[goneUID+"/setup/false"] = StoredTail{Entries: []TailEntry{{Time: "2026-12-04T09:59:00Z", Stream: "stdout", Line: "setup done"}}}
	cases := []struct {
		name, path string
		want       int
		wantBody   string
	}{
		{"live", "/containerLogs/default/gpu/app", 200, "live line 1\n"},
		{"saved tail of a gone machine", "/containerLogs/default/gone/app?tailLines=2&timestamps=true", 200, "2026-12-04T10:00:10.500000000Z serving on :8080\n2026-12-04T10:00:20.000000000Z shutting down\n"},
		{"saved tail since a time, limited", "/containerLogs/default/gone/app?sinceTime=2026-12-04T10:00:10Z&limitBytes=7", 200, "serving"},
		{"saved tail of the previous run", "/containerLogs/default/gone/app?previous=true", 200, "first run\n"},
		{"saved tail of an init container", "/containerLogs/default/gone/setup", 200, "setup done\n"},
		{"bad options", "/containerLogs/default/gone/app?tailLines=x", 400, "tailLines must be an integer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := g.get(t, tc.path, "admin-token")
			if status != tc.want || body != tc.wantBody && !(tc.want != 200 && strings.Contains(body, tc.wantBody)) {
				t.Fatalf("got %d %q, want %d %q", status, body, tc.want, tc.wantBody)
			}
		})
	}

	// Neither the machine nor a saved tail.
	delete(g.endpoint.tails, goneUID+"//false")
	status, body := g.get(t, "/containerLogs/default/gone/app", "admin-token")
	if status != 400 || !strings.Contains(body, `the machine of pod default/gone is gone and no log tail was saved for the container's container "app"`) {
		t.Fatalf("no tail: %d %q", status, body)
	}
	// Running without a tunnel, nothing saved yet: 400 with the reason (ADR 0023 §6: the API
	// server passes a 400's body to kubectl); once a tail is saved it answers.
	status, body = g.get(t, "/containerLogs/default/no-tunnel/app", "admin-token")
	if status != 400 || !strings.Contains(body, "runs without a tunnel; only the log tail saved at exit is served") {
		t.Fatalf("no tunnel: %d %q", status, body)
	}
	g.endpoint.tails[noneUID+"//false"] = StoredTail{Entries: savedRun[:1]}
	if status, body = g.get(t, "/containerLogs/default/no-tunnel/app", "admin-token"); status != 200 || body != "loading model\n" {
		t.Fatalf("no tunnel, saved tail: %d %q", status, body)
	}
}

// The live route passes the options on in the agent's names; sinceSeconds arrives as a
// sinceTime. follow streams: the first line arrives before the agent writes the second.
func TestContainerLogsLive(t *testing.T) {
	g := newGround(t)
	g.agent.followGap = 2 * time.Second
	before := time.Now()
	req, _ := http.NewRequest(http.MethodGet, g.kubelet.URL+"/containerLogs/default/gpu/app?follow=true&tailLines=5&sinceSeconds=60&timestamps=true&limitBytes=100&previous=false", nil)
	req.Header.Set("Authorization", "Bearer admin-token")
	resp, err := g.client(nil, nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reader := bufio.NewReader(resp.Body)
	first, _ := reader.ReadString('\n')
	if first != "live line 1\n" || time.Since(before) > 1500*time.Millisecond {
		t.Fatalf("first line %q after %v: not streamed", first, time.Since(before))
	}
	second, _ := reader.ReadString('\n')
	if second != "live line 2\n" {
		t.Fatalf("second line %q", second)
	}
	g.agent.mu.Lock()
	query, _ := url.ParseQuery(g.agent.logQuery[0])
	g.agent.mu.Unlock()
	since, err := time.Parse(time.RFC3339Nano, query.Get("sinceTime"))
	if err != nil || since.Before(before.Add(-61*time.Second)) || since.After(time.Now().Add(-59*time.Second)) {
		t.Fatalf("sinceTime %q from sinceSeconds=60 (err %v)", query.Get("sinceTime"), err)
	}
	// The app container is the agent's unnamed one.
	for name, want := range map[string]string{"container": "", "follow": "true", "tailLines": "5", "timestamps": "true", "limitBytes": "100", "previous": "false"} {
		if query.Get(name) != want {
			t.Errorf("agent query %s=%q, want %q", name, query.Get(name), want)
		}
	}
}

// runningpods, stats/summary and metrics/resource answer valid documents.
func TestNodeLevelRoutes(t *testing.T) {
	g := newGround(t)
	status, body := g.get(t, "/runningpods/", "admin-token")
	var pods corev1.PodList
	if status != 200 || json.Unmarshal([]byte(body), &pods) != nil || pods.Kind != "PodList" {
		t.Fatalf("runningpods: %d %s", status, body)
	}
	var names []string
	for _, p := range pods.Items {
		names = append(names, p.Name)
		if len(p.Spec.Containers) != 1 || p.Spec.Containers[0].Image != "vllm/vllm-openai" {
			t.Errorf("pod %s containers %+v", p.Name, p.Spec.Containers)
		}
	}
	if strings.Join(names, ",") != "gpu,no-tunnel" {
		t.Fatalf("running pods %v, want the running pods of the anex node only", names)
	}

	status, body = g.get(t, "/stats/summary", "admin-token")
	var summary statsv1alpha1.Summary
	if status != 200 || json.Unmarshal([]byte(body), &summary) != nil {
		t.Fatalf("summary: %d %s", status, body)
	}
	if summary.Node.NodeName != nodeName || len(summary.Pods) != 3 {
		t.Fatalf("summary node %q, %d pods", summary.Node.NodeName, len(summary.Pods))
	}
	byName := map[string]statsv1alpha1.PodStats{}
	for _, p := range summary.Pods {
		byName[p.PodRef.Name] = p
	}
	gpu := byName["gpu"]
	if gpu.CPU == nil || *gpu.CPU.UsageCoreNanoSeconds != 9500000000 || gpu.Memory == nil || *gpu.Memory.WorkingSetBytes != 1048576 || *gpu.Memory.AvailableBytes != 4294967296 || !gpu.CPU.Time.Equal(&metav1.Time{Time: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}) {
		t.Fatalf("gpu pod figures %+v", gpu)
	}
	if len(gpu.Containers) != 1 || gpu.Containers[0].Name != "app" {
		t.Fatalf("gpu containers %+v", gpu.Containers)
	}
	if byName["gone"].CPU != nil || byName["no-tunnel"].CPU != nil {
		t.Fatal("pods whose agents cannot answer have no figures")
	}

	// The kubelet's resource metrics: the gpu pod's figures, stamped with the agent's time
	// (metrics-server's rate needs the stamp); the pods whose agents cannot answer have none.
	status, body = g.get(t, "/metrics/resource", "admin-token")
	if status != 200 || !strings.HasSuffix(body, "resource_scrape_error 0\n") {
		t.Fatalf("metrics: %d %s", status, body)
	}
	for _, want := range []string{
		"# TYPE container_cpu_usage_seconds_total counter\n" +
			`container_cpu_usage_seconds_total{container="app",pod="gpu",namespace="default"} 9.5 1796378400000` + "\n",
		"# TYPE container_memory_working_set_bytes gauge\n" +
			`container_memory_working_set_bytes{container="app",pod="gpu",namespace="default"} 1048576 1796378400000` + "\n",
		`pod_cpu_usage_seconds_total{pod="gpu",namespace="default"} 9.5 1796378400000` + "\n",
		`pod_memory_working_set_bytes{pod="gpu",namespace="default"} 1048576 1796378400000` + "\n",
		"# TYPE node_cpu_usage_seconds_total counter\n# HELP node_memory_working_set_bytes",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, `pod="no-tunnel"`) || strings.Contains(body, `pod="gone"`) {
		t.Errorf("metrics have samples of pods without figures:\n%s", body)
	}
}

// renderResourceMetrics: every family declared once, samples under their family, label values
// escaped, a failed listing a scrape error.
func TestRenderResourceMetrics(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC))
	cpu, memory := uint64(1_250_000_000), uint64(4096)
	figures := &statsv1alpha1.Summary{Pods: []statsv1alpha1.PodStats{{
		PodRef: statsv1alpha1.PodReference{Name: "odd\"name", Namespace: "ns"},
		CPU:    &statsv1alpha1.CPUStats{Time: at, UsageCoreNanoSeconds: &cpu},
		Memory: &statsv1alpha1.MemoryStats{Time: at, WorkingSetBytes: &memory},
		Containers: []statsv1alpha1.ContainerStats{{
			Name: "c", StartTime: at,
			CPU:    &statsv1alpha1.CPUStats{Time: at, UsageCoreNanoSeconds: &cpu},
			Memory: &statsv1alpha1.MemoryStats{Time: at, WorkingSetBytes: &memory},
		}},
	}}}
	for _, tc := range []struct {
		name    string
		summary *statsv1alpha1.Summary
		want    []string
		absent  []string
	}{
		{"no pods", &statsv1alpha1.Summary{}, []string{"resource_scrape_error 0\n"}, []string{"{"}},
		{"listing failed", nil, []string{"resource_scrape_error 1\n"}, []string{"{"}},
		{"a pod with figures", figures, []string{
			"# TYPE container_cpu_usage_seconds_total counter\n" + `container_cpu_usage_seconds_total{container="c",pod="odd\"name",namespace="ns"} 1.25 1796378400000` + "\n",
			"# TYPE container_start_time_seconds gauge\n" + `container_start_time_seconds{container="c",pod="odd\"name",namespace="ns"} 1.7963784e+09` + "\n",
			`pod_memory_working_set_bytes{pod="odd\"name",namespace="ns"} 4096 1796378400000` + "\n",
			"resource_scrape_error 0\n",
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := renderResourceMetrics(tc.summary)
			for _, family := range []string{"container_cpu_usage_seconds_total", "container_memory_working_set_bytes", "container_start_time_seconds", "node_cpu_usage_seconds_total", "node_memory_working_set_bytes", "pod_cpu_usage_seconds_total", "pod_memory_working_set_bytes", "resource_scrape_error"} {
				if n := strings.Count(out, "# TYPE "+family+" "); n != 1 {
					t.Errorf("family %s declared %d times", family, n)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("lacks %q:\n%s", w, out)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(out, a) {
					t.Errorf("has %q:\n%s", a, out)
				}
			}
		})
	}
}
