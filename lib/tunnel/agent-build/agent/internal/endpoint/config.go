// Package endpoint is the agent's side of the anex agent endpoint: bootstrap (the one-time
// token buys the pod's configuration), status reports and the pod-alive question. Every
// request goes over verified TLS, or plain HTTP only when the caller allowed it (tests and
// local mode on loopback). Nothing here logs a token, a credential or a key.
package endpoint

// Binary is one architecture's download of a helper the agent runs (wireproxy, wstunnel).
type Binary struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	URL     string `json:"url"`
	SHA256  string `json:"sha256"`
	// "binary" or "tar.gz"
	Format string `json:"format"`
}

// Config is the bootstrap answer (lib/tunnel/endpoint/agent-config.ts AgentConfig).
// It holds secrets (the status credential, maybe a private key): never log it.
type Config struct {
	Version          int               `json:"version"`
	PodUID           string            `json:"podUid"`
	Address          string            `json:"address"`
	PrivateKeySource string            `json:"privateKeySource"`
	Wireproxy        *Wireproxy        `json:"wireproxy,omitempty"`
	Wstunnel         *Wstunnel         `json:"wstunnel,omitempty"`
	HealthPort       int               `json:"healthPort"`
	ReadyTimeout     int               `json:"readyTimeoutSeconds"`
	AliveInterval    int               `json:"aliveIntervalSeconds"`
	DeadMan          int               `json:"deadManSeconds"`
	Argv             []string          `json:"argv"`
	Env              map[string]string `json:"env"`
	WorkingDir       string            `json:"workingDir,omitempty"`
	RestartPolicy    string            `json:"restartPolicy"`
	StatusCredential string            `json:"statusCredential"`
	// Protocol 3 (docs/agent-protocol.md); absent from older endpoints: defaults apply.
	Backoff                       *Backoff `json:"backoff,omitempty"`
	Probes                        *Probes  `json:"probes,omitempty"`
	PreStop                       *Handler `json:"preStop,omitempty"`
	TerminationGracePeriodSeconds *int     `json:"terminationGracePeriodSeconds,omitempty"`
	// Protocol 4: the pod's mounts (files hold Secret values: never log them) and its init
	// containers and sidecars, run in order before the app container.
	Volumes        []Volume        `json:"volumes,omitempty"`
	InitContainers []InitContainer `json:"initContainers,omitempty"`
	// Ports are the app container's declared containerPorts (ADR 0023): the only ports the
	// agent API forwards to. Absent from older endpoints: none declared.
	Ports []int `json:"ports,omitempty"`
}

// Volume is one mount: exactly one of Files, File, EmptyDir is set.
type Volume struct {
	Name     string    `json:"name"`
	Path     string    `json:"path"`
	ReadOnly bool      `json:"readOnly,omitempty"`
	SubPath  string    `json:"subPath,omitempty"`
	Files    []File    `json:"files,omitempty"`
	File     *FileData `json:"file,omitempty"`
	EmptyDir *EmptyDir `json:"emptyDir,omitempty"`
}

// File is one file of a volume: its path below the mount, its mode, its bytes (base64).
type File struct {
	Path string `json:"path"`
	Mode int    `json:"mode"`
	Data string `json:"data"`
}

// FileData is a mount that is one file (a subPath naming a file of the volume).
type FileData struct {
	Mode int    `json:"mode"`
	Data string `json:"data"`
}

// EmptyDir is a directory that starts empty; Medium "Memory" lives in /dev/shm.
type EmptyDir struct {
	Medium         string `json:"medium,omitempty"`
	SizeLimitBytes int64  `json:"sizeLimitBytes,omitempty"`
}

// InitContainer is an init container, or a sidecar (RestartPolicy "Always"), in the pod's image.
type InitContainer struct {
	Name          string            `json:"name"`
	Argv          []string          `json:"argv"`
	Env           map[string]string `json:"env"`
	WorkingDir    string            `json:"workingDir,omitempty"`
	RestartPolicy string            `json:"restartPolicy,omitempty"`
	Probes        *Probes           `json:"probes,omitempty"`
	PreStop       *Handler          `json:"preStop,omitempty"`
	// Ports are its declared containerPorts (a sidecar's server), when the endpoint sends them.
	Ports []int `json:"ports,omitempty"`
}

// Backoff is the restart back-off in place, in seconds (kubelet's: 10, 300, 600).
type Backoff struct {
	InitialSeconds int `json:"initialSeconds"`
	MaxSeconds     int `json:"maxSeconds"`
	ResetSeconds   int `json:"resetSeconds"`
}

// Probes are the container's probes, run on this machine.
type Probes struct {
	Startup   *Probe `json:"startup,omitempty"`
	Readiness *Probe `json:"readiness,omitempty"`
	Liveness  *Probe `json:"liveness,omitempty"`
}

// Handler is one action: exactly one field is set (named ports already resolved).
type Handler struct {
	Exec      *ExecAction `json:"exec,omitempty"`
	HTTPGet   *HTTPGet    `json:"httpGet,omitempty"`
	TCPSocket *TCPSocket  `json:"tcpSocket,omitempty"`
	GRPC      *GRPC       `json:"grpc,omitempty"`
	Sleep     *Sleep      `json:"sleep,omitempty"`
}

type ExecAction struct {
	Command []string `json:"command"`
}

type HTTPGet struct {
	Path        string       `json:"path"`
	Port        int          `json:"port"`
	Host        string       `json:"host,omitempty"`
	Scheme      string       `json:"scheme"`
	HTTPHeaders []HTTPHeader `json:"httpHeaders,omitempty"`
}

type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type TCPSocket struct {
	Port int    `json:"port"`
	Host string `json:"host,omitempty"`
}

type GRPC struct {
	Port    int    `json:"port"`
	Service string `json:"service,omitempty"`
}

type Sleep struct {
	Seconds int `json:"seconds"`
}

// Probe is a Handler with kubelet's timing.
type Probe struct {
	Handler
	InitialDelaySeconds           int  `json:"initialDelaySeconds"`
	PeriodSeconds                 int  `json:"periodSeconds"`
	TimeoutSeconds                int  `json:"timeoutSeconds"`
	SuccessThreshold              int  `json:"successThreshold"`
	FailureThreshold              int  `json:"failureThreshold"`
	TerminationGracePeriodSeconds *int `json:"terminationGracePeriodSeconds,omitempty"`
}

// Wireproxy is the tunnel's user-space WireGuard: its config (with the private-key
// placeholder when the agent made its own key) and where to download it.
type Wireproxy struct {
	Config string `json:"config"`
	Binary Binary `json:"binary"`
}

// Wstunnel carries WireGuard's UDP over a WebSocket where the provider blocks UDP. Env holds
// the path prefix, a secret: it is passed in the environment only, never in argv.
type Wstunnel struct {
	Args   []string          `json:"args"`
	Env    map[string]string `json:"env"`
	Binary Binary            `json:"binary"`
}

// PrivateKeyPlaceholder stands for the agent's own private key in Wireproxy.Config
// (lib/tunnel/wireproxy-config.ts PRIVATE_KEY_PLACEHOLDER).
const PrivateKeyPlaceholder = "@ANEX_WG_PRIVATE_KEY@"
