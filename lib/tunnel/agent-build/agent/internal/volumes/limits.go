package volumes

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Limit is an emptyDir with a sizeLimit: its directory and its limit in bytes.
type Limit struct {
	Name  string
	Dir   string
	Bytes int64
}

// Message is kubelet's eviction message for an emptyDir over its limit
// (pkg/kubelet/eviction/helpers.go emptyDirMessageFmt, without its trailing space), with the
// limit in bytes as the bootstrap answer gave it where kubelet prints the Quantity.
func Message(l Limit) string {
	return fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q.", l.Name, fmt.Sprint(l.Bytes))
}

// Watch measures each limited emptyDir every interval, as kubelet's eviction manager does
// (localStorageEviction, every housekeeping period of 10 s), and calls exceeded once with the
// first one over its limit; it returns then, or when ctx ends.
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

// Usage is the bytes of the regular files below dir; symlinks are not followed (what they
// point to is not the volume's).
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

// tmpfsMagic is TMPFS_MAGIC (linux/magic.h).
const tmpfsMagic = 0x01021994

// isTmpfs: dir is a tmpfs this process can write to (a read-only or foreign /dev/shm is not).
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
