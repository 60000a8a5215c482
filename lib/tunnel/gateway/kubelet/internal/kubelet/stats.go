package kubelet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"anex.local/agent-build/agent/pkg/agentapi"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// agentStats are the kubelet's figures from the agent's GET /v1/stats (agentapi.Stats: the
// process tree's cumulative CPU and resident memory, for the machine the pod has to itself).
// An unreachable agent or an unreadable answer leaves the pod listed without them.
type agentStats struct {
	CPU    *statsv1alpha1.CPUStats
	Memory *statsv1alpha1.MemoryStats
}

const statsTimeout = 3 * time.Second

// serveSummary answers /stats/summary with a valid Summary: the first node served (all of
// them share this address, so the document cannot tell which one was asked), and every pod
// served with whatever figures its agent gives.
func (s *Server) serveSummary(w http.ResponseWriter, r *http.Request) {
	nodes, ok := s.nodeLevel(w, r)
	if !ok {
		return
	}
	summary, err := s.summary(r.Context(), nodes)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, summary)
}

// summary gathers the Summary of the pods on the given nodes, asking their agents at once.
func (s *Server) summary(ctx context.Context, nodes []string) (*statsv1alpha1.Summary, error) {
	pods, err := s.podsServed(ctx, nodes)
	if err != nil {
		return nil, err
	}
	summary := &statsv1alpha1.Summary{
		Node: statsv1alpha1.NodeStats{StartTime: metav1.NewTime(s.started)},
		Pods: []statsv1alpha1.PodStats{},
	}
	if len(nodes) > 0 {
		summary.Node.NodeName = nodes[0]
	}
	figures := make([]*agentStats, len(pods))
	var mu sync.Mutex
	s.forEachPeer(ctx, pods, func(i int, vpn string) {
		st := s.agentStats(ctx, vpn)
		mu.Lock()
		figures[i] = st
		mu.Unlock()
	})
	for i, pod := range pods {
		start := pod.CreationTimestamp
		if pod.Status.StartTime != nil {
			start = *pod.Status.StartTime
		}
		ps := statsv1alpha1.PodStats{
			PodRef:     statsv1alpha1.PodReference{Name: pod.Name, Namespace: pod.Namespace, UID: string(pod.UID)},
			StartTime:  start,
			Containers: []statsv1alpha1.ContainerStats{},
		}
		if st := figures[i]; st != nil {
			ps.CPU, ps.Memory = st.CPU, st.Memory
			// The machine runs the app container alone: its figures are the container's.
			if len(pod.Spec.Containers) > 0 {
				ps.Containers = append(ps.Containers, statsv1alpha1.ContainerStats{
					Name: pod.Spec.Containers[0].Name, StartTime: start, CPU: st.CPU, Memory: st.Memory,
				})
			}
		}
		summary.Pods = append(summary.Pods, ps)
	}
	return summary, nil
}

func (s *Server) agentStats(ctx context.Context, vpn string) *agentStats {
	ctx, cancel := context.WithTimeout(ctx, statsTimeout)
	defer cancel()
	resp, err := s.Agents.Get(ctx, vpn, agentapi.PathStats, nil)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var raw agentapi.Stats
	if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&raw) != nil {
		return nil
	}
	at := metav1.NewTime(s.now())
	if t, err := time.Parse(time.RFC3339Nano, raw.Time); err == nil {
		at = metav1.NewTime(t)
	}
	coreNanoSeconds := uint64(raw.CPU.UsageCoreSeconds * 1e9)
	workingSet := raw.Memory.WorkingSetBytes
	st := &agentStats{
		CPU:    &statsv1alpha1.CPUStats{Time: at, UsageCoreNanoSeconds: &coreNanoSeconds},
		Memory: &statsv1alpha1.MemoryStats{Time: at, WorkingSetBytes: &workingSet, UsageBytes: &workingSet},
	}
	if raw.Memory.MachineAvailableBytes > 0 {
		available := raw.Memory.MachineAvailableBytes
		st.Memory.AvailableBytes = &available
	}
	return st
}

// resourceFamily is one metric family of /metrics/resource, as the kubelet declares it.
type resourceFamily struct {
	name, help, kind string
}

// The families metrics-server reads, in the kubelet's order; each is declared even without
// samples, so a scrape parses and finds nothing rather than failing.
var (
	containerCPUFamily    = resourceFamily{"container_cpu_usage_seconds_total", "Cumulative cpu time consumed by the container in core-seconds", "counter"}
	containerMemoryFamily = resourceFamily{"container_memory_working_set_bytes", "Current working set of the container in bytes", "gauge"}
	containerStartFamily  = resourceFamily{"container_start_time_seconds", "Start time of the container since unix epoch in seconds", "gauge"}
	nodeCPUFamily         = resourceFamily{"node_cpu_usage_seconds_total", "Cumulative cpu time consumed by the node in core-seconds", "counter"}
	nodeMemoryFamily      = resourceFamily{"node_memory_working_set_bytes", "Current working set of the node in bytes", "gauge"}
	podCPUFamily          = resourceFamily{"pod_cpu_usage_seconds_total", "Cumulative cpu time consumed by the pod in core-seconds", "counter"}
	podMemoryFamily       = resourceFamily{"pod_memory_working_set_bytes", "Current working set of the pod in bytes", "gauge"}
	scrapeErrorFamily     = resourceFamily{"resource_scrape_error", "1 if there was an error while getting container metrics, 0 otherwise", "gauge"}
)

// serveResourceMetrics answers /metrics/resource as the kubelet's resource metrics collector
// writes it (k8s.io/kubernetes pkg/kubelet/metrics/collectors/resource_metrics.go): per
// container and per pod the cumulative CPU core-seconds and the working set, each sample
// stamped with the time its figure was read (metrics-server computes `kubectl top`'s rate
// from two stamped samples), and the container's start time. The virtual node is no machine
// and has no figures of its own, so its node_* families stay empty. resource_scrape_error is
// 1 only when the pods cannot be listed.
func (s *Server) serveResourceMetrics(w http.ResponseWriter, r *http.Request) {
	nodes, ok := s.nodeLevel(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	summary, err := s.summary(r.Context(), nodes)
	if err != nil {
		s.log().Warn("resource metrics without pods", "error", err)
		summary = nil
	}
	_, _ = io.WriteString(w, renderResourceMetrics(summary))
}

// renderResourceMetrics is the text exposition of the summary's figures: each family's HELP
// and TYPE, then its samples. A nil summary is a failed scrape (resource_scrape_error 1).
func renderResourceMetrics(summary *statsv1alpha1.Summary) string {
	samples := map[string]*strings.Builder{}
	add := func(f resourceFamily, labels, value string, at *metav1.Time) {
		b := samples[f.name]
		if b == nil {
			b = &strings.Builder{}
			samples[f.name] = b
		}
		fmt.Fprintf(b, "%s{%s} %s", f.name, labels, value)
		if at != nil {
			fmt.Fprintf(b, " %d", at.UnixMilli())
		}
		b.WriteByte('\n')
	}
	scrapeError := "1"
	if summary != nil {
		scrapeError = "0"
		for _, pod := range summary.Pods {
			podLabels := fmt.Sprintf(`pod="%s",namespace="%s"`, escapeLabel(pod.PodRef.Name), escapeLabel(pod.PodRef.Namespace))
			for _, c := range pod.Containers {
				labels := fmt.Sprintf(`container="%s",%s`, escapeLabel(c.Name), podLabels)
				if c.StartTime.Unix() > 0 {
					add(containerStartFamily, labels, float(float64(c.StartTime.UnixNano())/1e9), nil)
				}
				if c.CPU != nil && c.CPU.UsageCoreNanoSeconds != nil {
					add(containerCPUFamily, labels, float(float64(*c.CPU.UsageCoreNanoSeconds)/1e9), &c.CPU.Time)
				}
				if c.Memory != nil && c.Memory.WorkingSetBytes != nil {
					add(containerMemoryFamily, labels, strconv.FormatUint(*c.Memory.WorkingSetBytes, 10), &c.Memory.Time)
				}
			}
			if pod.CPU != nil && pod.CPU.UsageCoreNanoSeconds != nil {
				add(podCPUFamily, podLabels, float(float64(*pod.CPU.UsageCoreNanoSeconds)/1e9), &pod.CPU.Time)
			}
			if pod.Memory != nil && pod.Memory.WorkingSetBytes != nil {
				add(podMemoryFamily, podLabels, strconv.FormatUint(*pod.Memory.WorkingSetBytes, 10), &pod.Memory.Time)
			}
		}
	}
	var out strings.Builder
	for _, f := range []resourceFamily{containerCPUFamily, containerMemoryFamily, containerStartFamily, nodeCPUFamily, nodeMemoryFamily, podCPUFamily, podMemoryFamily, scrapeErrorFamily} {
		fmt.Fprintf(&out, "# HELP %s [STABLE] %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.kind)
		if b := samples[f.name]; b != nil {
			out.WriteString(b.String())
		}
	}
	fmt.Fprintf(&out, "%s %s\n", scrapeErrorFamily.name, scrapeError)
	return out.String()
}

func float(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// escapeLabel escapes a label value as the text exposition format requires (\\, \", \n).
func escapeLabel(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
