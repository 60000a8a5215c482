package kubelet

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
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
	pods, err := s.podsServed(r.Context(), nodes)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	summary := statsv1alpha1.Summary{
		Node: statsv1alpha1.NodeStats{StartTime: metav1.NewTime(s.started)},
		Pods: []statsv1alpha1.PodStats{},
	}
	if len(nodes) > 0 {
		summary.Node.NodeName = nodes[0]
	}
	figures := make([]*agentStats, len(pods))
	var mu sync.Mutex
	s.forEachPeer(r.Context(), pods, func(i int, vpn string) {
		st := s.agentStats(r.Context(), vpn)
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
	writeJSON(w, summary)
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

// resourceMetricsHeader is /metrics/resource without samples: the families metrics-server
// reads, declared, so a scrape parses and finds nothing rather than failing.
var resourceMetricsHeader = strings.Join([]string{
	"# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds",
	"# TYPE container_cpu_usage_seconds_total counter",
	"# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes",
	"# TYPE container_memory_working_set_bytes gauge",
	"# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds",
	"# TYPE container_start_time_seconds gauge",
	"# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds",
	"# TYPE node_cpu_usage_seconds_total counter",
	"# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes",
	"# TYPE node_memory_working_set_bytes gauge",
	"# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds",
	"# TYPE pod_cpu_usage_seconds_total counter",
	"# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes",
	"# TYPE pod_memory_working_set_bytes gauge",
	"# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise",
	"# TYPE resource_scrape_error gauge",
	"resource_scrape_error 0",
	"",
}, "\n")

func (s *Server) serveResourceMetrics(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.nodeLevel(w, r); !ok {
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = io.WriteString(w, resourceMetricsHeader)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
