// Package volumes makes a pod's mounts on the rented machine before anything of the pod runs
// (docs/agent-protocol.md "Volumes", ADR 0017): the files of secret, configMap, downwardAPI and
// projected volumes, and emptyDir directories. A rented container may not mount, so each mount
// is a copy under the agent's work directory with the mount path a symlink to it — or a bind
// mount where the image already has content at the path and the host allows it; otherwise the
// start fails naming the volume and the path. Nothing here logs a file's content: they are
// Secret values.
//
// Layout: <Dir>/volumes/<name> is an emptyDir (shared by all its mounts); <Dir>/volumes/<name>/<i>
// holds the files of mount i (the mount's place in the list: the same volume mounted twice may
// differ, a downwardAPI volume names each container's resources).
package volumes

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"anex.local/agent-build/agent/internal/endpoint"
)

// Options say where the mounts go.
type Options struct {
	// Root prefixes every mount path: "" on a real machine; the simulator's machine directory
	// where machines run without their own root (ANEX_AGENT_ROOT, tests only).
	Root string
	// Dir is the agent's work directory: the copies live in Dir/volumes.
	Dir string
	// PodUID names the pod's directory in /dev/shm for emptyDir medium Memory.
	PodUID string
	// Shm is where Memory emptyDirs go when it is a writable tmpfs (default /dev/shm).
	Shm string
	// Logf says what the pod should know (names and paths only); nil: silent.
	Logf func(format string, args ...any)
}

// Made is what Prepare leaves for the agent's lifetime.
type Made struct {
	// Limits are the emptyDirs with a sizeLimit, for Watch.
	Limits []Limit
	// shm is the pod's directory in Shm, when a Memory emptyDir lives there.
	shm string
}

// Release gives back the memory of Memory emptyDirs (kubelet removes a pod's emptyDirs with
// the pod; a tmpfs shared with the host keeps them otherwise). Call it when nothing of the pod runs.
func (m Made) Release() {
	if m.shm != "" {
		_ = os.RemoveAll(m.shm)
	}
}

// volumeName is a DNS label, as the API server requires: it names a directory here.
var volumeName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Prepare makes every mount, parents before what is mounted inside them (the container
// runtime's order), and only then takes write permission from the read-only ones, so a mount
// inside a read-only one can still be made. On an error the pod must not start.
func Prepare(vols []endpoint.Volume, o Options) (Made, error) {
	if o.Shm == "" {
		o.Shm = "/dev/shm"
	}
	m := &maker{o: o, empty: map[string]string{}}
	for _, i := range byDepth(vols) {
		if err := m.mount(i, vols[i]); err != nil {
			m.made.Release()
			return Made{}, err
		}
	}
	for _, seal := range m.seals {
		if err := seal(); err != nil {
			m.made.Release()
			return Made{}, err
		}
	}
	return m.made, nil
}

// maker is one Prepare: the emptyDirs made so far and what to do once all mounts exist.
type maker struct {
	o     Options
	made  Made
	empty map[string]string
	seals []func() error
}

func (m *maker) mount(i int, v endpoint.Volume) error {
	if err := check(v); err != nil {
		return err
	}
	target := filepath.Join(m.o.Root, filepath.Clean(v.Path))
	backing := filepath.Join(m.o.Dir, "volumes", v.Name, strconv.Itoa(i))
	switch {
	case v.EmptyDir != nil:
		dir, err := m.emptyDir(v)
		if err != nil {
			return err
		}
		return m.link(v, dir, target, true)
	case v.File != nil:
		file, err := writeOne(v, backing)
		if err != nil {
			return err
		}
		return m.link(v, file, target, false)
	default:
		if err := writeFiles(v, backing); err != nil {
			return err
		}
		if v.ReadOnly {
			m.seals = append(m.seals, func() error { return readOnlyDirs(backing) })
		}
		return m.link(v, backing, target, true)
	}
}

// check refuses what the control plane should never send: it would write outside the volume.
func check(v endpoint.Volume) error {
	switch {
	case !volumeName.MatchString(v.Name) || len(v.Name) > 63:
		return fmt.Errorf("volume %q: the name is not a DNS label", v.Name)
	case !path.IsAbs(v.Path):
		return fmt.Errorf("volume %q: mount path %q is not absolute", v.Name, v.Path)
	case v.SubPath != "" && v.EmptyDir == nil:
		return fmt.Errorf("volume %q: subPath is for emptyDir; a file of a volume comes as file", v.Name)
	}
	if v.SubPath != "" {
		if err := relative(v.SubPath); err != nil {
			return fmt.Errorf("volume %q: subPath %w", v.Name, err)
		}
	}
	return nil
}

// relative refuses what could escape a volume's directory.
func relative(p string) error {
	if p == "" || path.IsAbs(p) {
		return fmt.Errorf("%q must be a relative path", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fmt.Errorf("%q must not contain '..'", p)
		}
	}
	return nil
}

// byDepth is the mounts' order: fewer path components first (containerd sorts mounts so), else
// as given.
func byDepth(vols []endpoint.Volume) []int {
	order := make([]int, len(vols))
	for i := range order {
		order[i] = i
	}
	depth := func(i int) int { return strings.Count(path.Clean(vols[i].Path), "/") }
	sort.SliceStable(order, func(a, b int) bool { return depth(order[a]) < depth(order[b]) })
	return order
}

// emptyDir is the directory all mounts of the volume share, or its subPath below it.
func (m *maker) emptyDir(v endpoint.Volume) (string, error) {
	dir, ok := m.empty[v.Name]
	if !ok {
		var err error
		if dir, err = m.newEmptyDir(v); err != nil {
			return "", err
		}
		m.empty[v.Name] = dir
		if v.EmptyDir.SizeLimitBytes > 0 {
			m.made.Limits = append(m.made.Limits, Limit{Name: v.Name, Dir: dir, Bytes: v.EmptyDir.SizeLimitBytes})
		}
	}
	if v.SubPath == "" {
		return dir, nil
	}
	sub := filepath.Join(dir, filepath.Clean(v.SubPath))
	if err := os.MkdirAll(sub, 0o777); err != nil {
		return "", fmt.Errorf("volume %q: subPath %s: %w", v.Name, v.SubPath, err)
	}
	return sub, nil
}

func (m *maker) newEmptyDir(v endpoint.Volume) (string, error) {
	dir := filepath.Join(m.o.Dir, "volumes", v.Name)
	if v.EmptyDir.Medium == "Memory" {
		if isTmpfs(m.o.Shm) {
			m.made.shm = filepath.Join(m.o.Shm, "anex-"+m.o.PodUID)
			dir = filepath.Join(m.made.shm, v.Name)
		} else {
			m.logf("warning: volume %q: %s is not a writable tmpfs here, so medium Memory falls back to disk (%s)", v.Name, m.o.Shm, dir)
		}
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return "", fmt.Errorf("volume %q: %w", v.Name, err)
	}
	// kubelet's emptyDir is world-writable: the pod's processes may run as any user.
	if err := os.Chmod(dir, 0o777); err != nil {
		return "", fmt.Errorf("volume %q: %w", v.Name, err)
	}
	return dir, nil
}

func (m *maker) logf(format string, args ...any) {
	if m.o.Logf != nil {
		m.o.Logf(format, args...)
	}
}
