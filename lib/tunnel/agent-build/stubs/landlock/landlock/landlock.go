// Package landlock stands in for github.com/landlock-lsm/go-landlock/landlock in anex's
// wireproxy build. It offers exactly the API wireproxy v1.0.9 calls (cmd/wireproxy/main.go:
// V1/V4, BestEffort, RestrictPaths, RestrictNet, RODirs/ROFiles/RWFiles, IgnoreIfMissing,
// BindTCP/ConnectTCP) and restricts nothing, so the built binary applies no Landlock rules:
// no `bind: permission denied` for [TCPClientTunnel] (wireproxy's lockNetwork grants connect
// where bind is needed), and no file-read sandbox either. Written for anex; no upstream code
// copied. Rationale: docs/adr/0008-self-built-agent-binaries.md.
package landlock

// Rule is anything RestrictPaths / RestrictNet accept.
type Rule interface {
	anexNoLandlock()
}

// Config names a Landlock ABI level; every restriction through it is a no-op.
type Config struct {
	abi int
}

// V1 and V4 are the ABI levels wireproxy asks for.
var (
	V1 = Config{abi: 1}
	V4 = Config{abi: 4}
)

// BestEffort returns the same no-op config.
func (c Config) BestEffort() Config { return c }

// RestrictPaths restricts nothing and always succeeds.
func (c Config) RestrictPaths(rules ...Rule) error { return nil }

// RestrictNet restricts nothing and always succeeds.
func (c Config) RestrictNet(rules ...Rule) error { return nil }

// FSRule records the paths wireproxy names, for nothing but the type's sake.
type FSRule struct {
	paths []string
}

func (FSRule) anexNoLandlock() {}

// IgnoreIfMissing returns the rule unchanged.
func (r FSRule) IgnoreIfMissing() FSRule { return r }

// RODirs is a path rule that is never applied.
func RODirs(paths ...string) FSRule { return FSRule{paths: paths} }

// ROFiles is a path rule that is never applied.
func ROFiles(paths ...string) FSRule { return FSRule{paths: paths} }

// RWFiles is a path rule that is never applied.
func RWFiles(paths ...string) FSRule { return FSRule{paths: paths} }

// NetRule records a port, for nothing but the type's sake.
type NetRule struct {
	port uint16
}

func (NetRule) anexNoLandlock() {}

// BindTCP is a network rule that is never applied.
func BindTCP(port uint16) NetRule { return NetRule{port: port} }

// ConnectTCP is a network rule that is never applied.
func ConnectTCP(port uint16) NetRule { return NetRule{port: port} }
