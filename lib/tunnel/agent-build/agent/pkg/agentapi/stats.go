package agentapi

// Stats is the answer of GET PathStats (JSON): what the machine's pod uses now, cheap to
// measure. GPUs is absent when the machine has no nvidia-smi.
type Stats struct {
	// Time is when the figures were read (RFC 3339, UTC).
	Time   string      `json:"time"`
	CPU    CPUStats    `json:"cpu"`
	Memory MemoryStats `json:"memory"`
	GPUs   []GPUStats  `json:"gpus,omitempty"`
}

// CPUStats: the pod's processes (the agent and everything it started), from /proc.
type CPUStats struct {
	// UsageCoreSeconds is the CPU time used so far (user + system), cumulative.
	UsageCoreSeconds float64 `json:"usageCoreSeconds"`
}

// MemoryStats: the pod's processes' resident memory and the machine's, from /proc.
type MemoryStats struct {
	// WorkingSetBytes is the resident set of the pod's processes, summed.
	WorkingSetBytes uint64 `json:"workingSetBytes"`
	// MachineTotalBytes and MachineAvailableBytes are /proc/meminfo's MemTotal and MemAvailable.
	MachineTotalBytes     uint64 `json:"machineTotalBytes"`
	MachineAvailableBytes uint64 `json:"machineAvailableBytes"`
}

// GPUStats is one GPU as nvidia-smi reports it.
type GPUStats struct {
	Index              int     `json:"index"`
	Name               string  `json:"name"`
	UtilizationPercent float64 `json:"utilizationPercent"`
	MemoryUsedBytes    uint64  `json:"memoryUsedBytes"`
	MemoryTotalBytes   uint64  `json:"memoryTotalBytes"`
}
