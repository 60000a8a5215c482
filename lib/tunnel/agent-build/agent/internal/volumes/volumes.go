// Package volumes makes a pod's mounts on the rented machine before anything of the pod runs
// (docs/agent-protocol.md "volumes", ADR 0017): the files of secret, configMap, downwardAPI and
// projected volumes, and emptyDir directories. There are no privileged mounts in a rented
// container, so each mount is a copy under the agent's work directory and the mount path a
// symlink to it — or a bind mount where the path already has content and the host allows it;
// otherwise the start fails naming the volume and the path. Nothing here logs a file's content:
// they are Secret values.
package volumes

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

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
	// Shm is where Memory emptyDirs go when it is a tmpfs (default /dev/shm).
	Shm  string
	Logf func(format string, args ...any)
}

// Limit is an emptyDir with a sizeLimit: its directory and its limit in bytes.
type Limit struct {
	Name  string
	Dir   string
	Bytes int64
}

// Prepare makes every mount in order; the emptyDirs with a sizeLimit come back for Watch.
func Prepare(vols []endpoint.Volume, o Options) ([]Limit, error) {
	if o.Shm == "" {
		o.Shm = "/dev/shm"
	}
	var limits []Limit
	empty := map[string]string{}
	for i, v := range vols {
		if !path.IsAbs(v.Path) {
			return nil, fmt.Errorf("volume %q: mount path %q is not absolute", v.Name, v.Path)
		}
		target := filepath.Join(o.Root, filepath.Clean(v.Path))
		var err error
		switch {
		case v.EmptyDir != nil:
			backing, ok := empty[v.Name]
			if !ok {
				backing, err = emptyDir(v, o)
				if err != nil {
					return nil, err
				}
				empty[v.Name] = backing
				if v.EmptyDir.SizeLimitBytes > 0 {
					limits = append(limits, Limit{Name: v.Name, Dir: backing, Bytes: v.EmptyDir.SizeLimitBytes})
				}
			}
			dir := backing
			if v.SubPath != "" {
				if err := relative(v.SubPath); err != nil {
					return nil, fmt.Errorf("volume %q: subPath: %w", v.Name, err)
				}
				dir = filepath.Join(backing, v.SubPath)
				if err := os.MkdirAll(dir, 0o777); err != nil {
					return nil, fmt.Errorf("volume %q: %w", v.Name, err)
				}
			}
			err = link(v, dir, target, true)
		case v.File != nil:
			var backing string
			backing, err = writeOne(v, filepath.Join(o.Dir, "volumes", fmt.Sprintf("%d-%s", i, v.Name)))
			if err == nil {
				err = link(v, backing, target, false)
			}
		default:
			var backing string
			backing, err = writeFiles(v, filepath.Join(o.Dir, "volumes", fmt.Sprintf("%d-%s", i, v.Name)))
			if err == nil {
				err = link(v, backing, target, true)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return limits, nil
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

func writeFiles(v endpoint.Volume, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("volume %q: %w", v.Name, err)
	}
	seen := map[string]bool{}
	for _, f := range v.Files {
		if err := relative(f.Path); err != nil {
			return "", fmt.Errorf("volume %q: file %w", v.Name, err)
		}
		clean := path.Clean(f.Path)
		if seen[clean] {
			return "", fmt.Errorf("volume %q: file %q is given twice", v.Name, f.Path)
		}
		seen[clean] = true
		file := filepath.Join(dir, clean)
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return "", fmt.Errorf("volume %q: %w", v.Name, err)
		}
		if err := write(file, f.Data, f.Mode, v.ReadOnly); err != nil {
			return "", fmt.Errorf("volume %q: file %q: %w", v.Name, f.Path, err)
		}
	}
	if v.ReadOnly {
		// Directories without write permission (root can still write: no read-only mount here).
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(p, 0o555)
			}
			return nil
		})
	}
	return dir, nil
}

func writeOne(v endpoint.Volume, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("volume %q: %w", v.Name, err)
	}
	file := filepath.Join(dir, path.Base(v.Path))
	if err := write(file, v.File.Data, v.File.Mode, v.ReadOnly); err != nil {
		return "", fmt.Errorf("volume %q: %w", v.Name, err)
	}
	return file, nil
}

func write(file, data string, mode int, readOnly bool) error {
	bytes, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return errors.New("its data is not base64")
	}
	perm := fs.FileMode(mode) & fs.ModePerm
	if mode == 0 {
		perm = 0o644
	}
	if readOnly {
		perm &^= 0o222
	}
	if err := os.WriteFile(file, bytes, 0o600); err != nil {
		return err
	}
	return os.Chmod(file, perm)
}

// emptyDir makes the directory all mounts of the volume share.
func emptyDir(v endpoint.Volume, o Options) (string, error) {
	dir := filepath.Join(o.Dir, "volumes", "emptydir-"+v.Name)
	if v.EmptyDir.Medium == "Memory" {
		if isTmpfs(o.Shm) {
			dir = filepath.Join(o.Shm, "anex-"+o.PodUID, v.Name)
		} else if o.Logf != nil {
			o.Logf("volume %q: %s is not a writable tmpfs here; medium Memory falls back to disk", v.Name, o.Shm)
		}
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return "", fmt.Errorf("volume %q: %w", v.Name, err)
	}
	_ = os.Chmod(dir, 0o777) // kubelet's emptyDir is world-writable
	return dir, nil
}

// tmpfsMagic is TMPFS_MAGIC (linux/magic.h).
const tmpfsMagic = 0x01021994

func isTmpfs(dir string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || int64(st.Type) != tmpfsMagic {
		return false
	}
	probe, err := os.CreateTemp(dir, ".anex-probe-")
	if err != nil {
		return false
	}
	_ = probe.Close()
	_ = os.Remove(probe.Name())
	return true
}

// link makes target show backing: a symlink where target is absent or an empty directory,
// else a bind mount (which needs CAP_SYS_ADMIN), else an error naming the volume and the path.
func link(v endpoint.Volume, backing, target string, dir bool) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("volume %q: cannot make %s: %w", v.Name, filepath.Dir(v.Path), err)
	}
	info, err := os.Lstat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return symlink(v, backing, target)
	case err != nil:
		return fmt.Errorf("volume %q: %s: %w", v.Name, v.Path, err)
	case info.Mode()&fs.ModeSymlink != 0:
		_ = os.Remove(target)
		return symlink(v, backing, target)
	case info.IsDir() && isEmpty(target):
		if err := os.Remove(target); err == nil {
			return symlink(v, backing, target)
		}
	}
	if info.IsDir() != dir {
		kind := "a file"
		if info.IsDir() {
			kind = "a directory"
		}
		return fmt.Errorf("volume %q: %s is %s in the image", v.Name, v.Path, kind)
	}
	if err := syscall.Mount(backing, target, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("volume %q: %s exists in the image and is not empty, and this container may not mount over it (%v)", v.Name, v.Path, err)
	}
	return nil
}

func symlink(v endpoint.Volume, backing, target string) error {
	if err := os.Symlink(backing, target); err != nil {
		return fmt.Errorf("volume %q: cannot link %s: %w", v.Name, v.Path, err)
	}
	return nil
}

func isEmpty(dir string) bool {
	entries, err := os.ReadDir(dir)
	return err == nil && len(entries) == 0
}

// Message is kubelet's eviction message for an emptyDir over its limit.
func Message(l Limit) string {
	return fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q.", l.Name, fmt.Sprint(l.Bytes))
}

// Watch measures each limited emptyDir every interval, as kubelet's eviction manager does, and
// calls exceeded once with the first one over its limit; it returns then, or when ctx ends.
func Watch(ctx context.Context, limits []Limit, every time.Duration, exceeded func(Limit)) {
	if len(limits) == 0 {
		return
	}
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			for _, l := range limits {
				if Usage(l.Dir) > l.Bytes {
					exceeded(l)
					return
				}
			}
		}
	}
}

// Usage is the bytes of the regular files below dir (symlinks not followed).
func Usage(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}
