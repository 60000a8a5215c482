package volumes

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"anex.local/agent-build/agent/internal/endpoint"
)

// defaultMode is kubelet's defaultMode (0644) for a file given without one.
const defaultMode = 0o644

// writeFiles writes a files volume's copy into dir: exactly the files given.
func writeFiles(v endpoint.Volume, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("volume %q: %w", v.Name, err)
	}
	seen := map[string]bool{}
	for _, f := range v.Files {
		if err := relative(f.Path); err != nil {
			return fmt.Errorf("volume %q: file %w", v.Name, err)
		}
		clean := path.Clean(f.Path)
		if seen[clean] {
			return fmt.Errorf("volume %q: file %q is given twice", v.Name, f.Path)
		}
		seen[clean] = true
		file := filepath.Join(dir, clean)
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return fmt.Errorf("volume %q: file %q: %w", v.Name, f.Path, err)
		}
		if err := write(file, f.Data, f.Mode, v.ReadOnly); err != nil {
			return fmt.Errorf("volume %q: file %q: %w", v.Name, f.Path, err)
		}
	}
	return nil
}

// writeOne writes the one file of a file mount into dir, under the mount path's base name
// (what `ls -l` of the symlink's target shows).
func writeOne(v endpoint.Volume, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("volume %q: %w", v.Name, err)
	}
	file := filepath.Join(dir, path.Base(v.Path))
	if err := write(file, v.File.Data, v.File.Mode, v.ReadOnly); err != nil {
		return "", fmt.Errorf("volume %q: %s: %w", v.Name, v.Path, err)
	}
	return file, nil
}

// write writes a file with exactly its mode (the umask does not apply, as with kubelet's
// atomic writer); read-only takes the write bits away.
func write(file, data string, mode int, readOnly bool) error {
	bytes, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return errors.New("its data is not base64")
	}
	perm := fs.FileMode(mode) & fs.ModePerm
	if mode == 0 {
		perm = defaultMode
	}
	if readOnly {
		perm &^= 0o222
	}
	// Private while written: a Secret's bytes are never readable under a wider mode than given.
	if err := os.WriteFile(file, bytes, 0o600); err != nil {
		return err
	}
	return os.Chmod(file, perm)
}

// readOnlyDirs makes the directories of a read-only copy 0555 (root can still write: without
// a mount there is no read-only file system to give).
func readOnlyDirs(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(p, 0o555)
		}
		return nil
	})
}
