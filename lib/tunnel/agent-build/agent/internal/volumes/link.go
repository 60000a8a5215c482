package volumes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"anex.local/agent-build/agent/internal/endpoint"
)

// link makes target show backing, the way a mount hides what the image had there:
//   - target absent, a symlink, or an empty directory: target becomes a symlink to backing
//     (nothing of the image is hidden that a mount would have shown);
//   - target with content (a non-empty directory, a file): a bind mount, which needs
//     CAP_SYS_ADMIN; without it the pod cannot start, and the error says which volume, which
//     path and why;
//   - a directory where a file is mounted or the reverse: refused, as the runtime refuses it.
func (m *maker) link(v endpoint.Volume, backing, target string, dir bool) error {
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
		// The image's symlink is replaced, not followed: its target stays as the image has it.
		if err := os.Remove(target); err != nil {
			return fmt.Errorf("volume %q: cannot replace the image's symlink %s: %w", v.Name, v.Path, err)
		}
		return symlink(v, backing, target)
	case info.IsDir() && isEmpty(target):
		if err := os.Remove(target); err != nil {
			return fmt.Errorf("volume %q: cannot replace the empty directory %s: %w", v.Name, v.Path, err)
		}
		return symlink(v, backing, target)
	case info.IsDir() != dir:
		return fmt.Errorf("volume %q: %s is %s in the image; %s cannot be mounted over it", v.Name, v.Path, kind(info.IsDir()), kind(dir))
	}
	return m.bind(v, backing, target)
}

// mount is mount(2); tests replace it to see a refusal where they run as root.
var mount = syscall.Mount

func (m *maker) bind(v endpoint.Volume, backing, target string) error {
	if err := mount(backing, target, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("volume %q: %s exists in the image and is not empty, and this container may not mount over it (%v)", v.Name, v.Path, err)
	}
	m.logf("volume %q: %s had content in the image: bind-mounted over it", v.Name, v.Path)
	if v.ReadOnly {
		// A read-only bind is a remount of the bind (mount(2)), made after the other mounts,
		// which may go inside it. Refused (a user namespace's locked flags), the copy without
		// write permission is what the symlinked mounts give too: said, not fatal.
		m.seals = append(m.seals, func() error {
			flags := uintptr(syscall.MS_BIND | syscall.MS_REMOUNT | syscall.MS_RDONLY)
			if err := mount("", target, "", flags, ""); err != nil {
				m.logf("warning: volume %q: %s stays a writable mount (read-only remount refused: %v); its files have no write permission", v.Name, v.Path, err)
			}
			return nil
		})
	}
	return nil
}

func kind(dir bool) string {
	if dir {
		return "a directory"
	}
	return "a file"
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
