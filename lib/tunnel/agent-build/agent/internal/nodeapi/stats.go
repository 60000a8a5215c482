package nodeapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"anex.local/agent-build/agent/pkg/agentapi"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux ABI Go
// supports (sysconf(_SC_CLK_TCK) is not reachable without cgo).
const clockTicks = 100

// stats answers GET /v1/stats.
func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	measure := s.Stats
	if measure == nil {
		measure = ReadStats
	}
	body, _ := json.Marshal(measure(r.Context()))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(body, '\n'))
}

// ReadStats measures the agent's process tree from /proc, the machine's memory from
// /proc/meminfo, and its GPUs with nvidia-smi when the machine has it (else none).
func ReadStats(ctx context.Context) agentapi.Stats {
	stats := agentapi.Stats{Time: time.Now().UTC().Format(time.RFC3339)}
	ticks, pages := treeUsage("/proc", os.Getpid())
	stats.CPU.UsageCoreSeconds = float64(ticks) / clockTicks
	stats.Memory.WorkingSetBytes = pages * uint64(os.Getpagesize())
	stats.Memory.MachineTotalBytes, stats.Memory.MachineAvailableBytes = meminfo("/proc/meminfo")
	stats.GPUs = gpus(ctx)
	return stats
}

// process is what /proc/<pid>/stat and statm say of one process.
type process struct {
	ppid  int
	ticks uint64
	pages uint64
}

// treeUsage sums the CPU ticks (utime + stime) and resident pages of root and its descendants.
func treeUsage(proc string, root int) (ticks, pages uint64) {
	entries, _ := os.ReadDir(proc)
	all := map[int]process{}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, ok := readProcess(filepath.Join(proc, e.Name()))
		if !ok {
			continue
		}
		all[pid] = p
		children[p.ppid] = append(children[p.ppid], pid)
	}
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if p, ok := all[pid]; ok {
			ticks += p.ticks
			pages += p.pages
		}
		queue = append(queue, children[pid]...)
	}
	return ticks, pages
}

func readProcess(dir string) (process, bool) {
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return process{}, false
	}
	// the command name may hold spaces and parentheses: the fields start after the last ')'
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return process{}, false
	}
	fields := strings.Fields(string(stat[end+1:]))
	// fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15
	if len(fields) < 13 {
		return process{}, false
	}
	ppid, _ := strconv.Atoi(fields[1])
	utime, _ := strconv.ParseUint(fields[11], 10, 64)
	stime, _ := strconv.ParseUint(fields[12], 10, 64)
	p := process{ppid: ppid, ticks: utime + stime}
	if statm, err := os.ReadFile(filepath.Join(dir, "statm")); err == nil {
		if f := strings.Fields(string(statm)); len(f) > 1 {
			p.pages, _ = strconv.ParseUint(f[1], 10, 64)
		}
	}
	return p, true
}

// meminfo is MemTotal and MemAvailable in bytes.
func meminfo(path string) (total, available uint64) {
	file, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer file.Close()
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 2 {
			continue
		}
		kib, _ := strconv.ParseUint(fields[1], 10, 64)
		switch fields[0] {
		case "MemTotal:":
			total = kib * 1024
		case "MemAvailable:":
			available = kib * 1024
		}
	}
	return total, available
}

// gpus asks nvidia-smi, when there is one, within 5 s; nil otherwise.
func gpus(ctx context.Context) []agentapi.GPUStats {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path,
		"--query-gpu=index,name,utilization.gpu,memory.used,memory.total", "--format=csv,noheader,nounits").Output()
	if err != nil {
		return nil
	}
	return parseGPUs(string(out))
}

// parseGPUs reads nvidia-smi's CSV (memory in MiB); a line it cannot read is skipped.
func parseGPUs(csv string) []agentapi.GPUStats {
	var out []agentapi.GPUStats
	for line := range strings.Lines(csv) {
		f := strings.Split(strings.TrimSpace(line), ",")
		if len(f) != 5 {
			continue
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		index, err1 := strconv.Atoi(f[0])
		util, err2 := strconv.ParseFloat(f[2], 64)
		used, err3 := strconv.ParseUint(f[3], 10, 64)
		total, err4 := strconv.ParseUint(f[4], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			continue
		}
		out = append(out, agentapi.GPUStats{
			Index: index, Name: f[1], UtilizationPercent: util,
			MemoryUsedBytes: used << 20, MemoryTotalBytes: total << 20,
		})
	}
	return out
}
