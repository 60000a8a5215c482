package volumes

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"anex.local/agent-build/agent/internal/endpoint"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// options roots a test's mounts in temp dirs; Shm is a plain directory (not a tmpfs).
func options(t *testing.T) Options {
	t.Helper()
	return Options{Root: t.TempDir(), Dir: t.TempDir(), PodUID: "uid-1", Shm: t.TempDir(), Logf: t.Logf}
}

func read(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	return string(b)
}

func mode(t *testing.T, file string) os.FileMode {
	t.Helper()
	info, err := os.Stat(file)
	if err != nil {
		t.Fatalf("stat %s: %v", file, err)
	}
	return info.Mode().Perm()
}

func files(fs ...endpoint.File) []endpoint.File { return fs }

func TestPrepareWritesTheFilesWithTheirModesAtTheMountPath(t *testing.T) {
	o := options(t)
	_, err := Prepare([]endpoint.Volume{
		// A mount inside another comes first here: made after its parent all the same, and
		// before the parent loses its write permission.
		{Name: "cfg", Path: "/etc/hf/extra.conf", File: &endpoint.FileData{Mode: 0o600, Data: b64("extra")}},
		{Name: "hf", Path: "/etc/hf", ReadOnly: true, Files: files(
			endpoint.File{Path: "token", Mode: 0o400, Data: b64("secret")},
			endpoint.File{Path: "sub/dir/x", Mode: 0o644, Data: b64("x")},
			endpoint.File{Path: "nomode", Data: b64("d")},
		)},
		{Name: "cfg", Path: "/etc/app.conf", File: &endpoint.FileData{Mode: 0o644, Data: b64("mode=train")}},
	}, o)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		file, content string
		mode          os.FileMode
	}{
		{"/etc/hf/token", "secret", 0o400},
		{"/etc/hf/sub/dir/x", "x", 0o444}, // readOnly takes the write bits away
		{"/etc/hf/nomode", "d", 0o444},    // kubelet's defaultMode 0644, read-only
		{"/etc/hf/sub", "", 0o555},        // and a read-only volume's directories are 0555
		{"/etc/app.conf", "mode=train", 0o644},
		{"/etc/hf/extra.conf", "extra", 0o600},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			file := filepath.Join(o.Root, c.file)
			if c.content != "" {
				if got := read(t, file); got != c.content {
					t.Errorf("content = %q, want %q", got, c.content)
				}
			}
			if got := mode(t, file); got != c.mode {
				t.Errorf("mode = %o, want %o", got, c.mode)
			}
		})
	}
	// The copies live under the work dir, by volume name.
	if target, _ := os.Readlink(filepath.Join(o.Root, "/etc/hf")); !strings.HasPrefix(target, filepath.Join(o.Dir, "volumes", "hf")+"/") {
		t.Errorf("/etc/hf links to %q, want a directory under %s/volumes/hf", target, o.Dir)
	}
	t.Cleanup(func() {
		_ = filepath.WalkDir(o.Dir, func(p string, _ os.DirEntry, _ error) error { return os.Chmod(p, 0o755) })
	})
}

func TestPrepareRefusesWhatWouldEscapeTheVolume(t *testing.T) {
	file := func(p string) []endpoint.File { return files(endpoint.File{Path: p, Data: b64("x")}) }
	cases := []struct {
		name string
		vol  endpoint.Volume
		want string
	}{
		{"a .. component", endpoint.Volume{Name: "v", Path: "/v", Files: file("a/../../x")}, "must not contain '..'"},
		{"an absolute file path", endpoint.Volume{Name: "v", Path: "/v", Files: file("/etc/passwd")}, "must be a relative path"},
		{"an empty file path", endpoint.Volume{Name: "v", Path: "/v", Files: file("")}, "must be a relative path"},
		{"a file given twice", endpoint.Volume{Name: "v", Path: "/v", Files: append(file("a"), file("./a")...)}, `file "./a" is given twice`},
		{"a relative mount path", endpoint.Volume{Name: "v", Path: "v", Files: file("a")}, "is not absolute"},
		{"data that is not base64", endpoint.Volume{Name: "v", Path: "/v", Files: files(endpoint.File{Path: "a", Data: "%%%"})}, "not base64"},
		{"a subPath that escapes", endpoint.Volume{Name: "v", Path: "/v", SubPath: "../up", EmptyDir: &endpoint.EmptyDir{}}, "must not contain '..'"},
		{"a subPath on files", endpoint.Volume{Name: "v", Path: "/v", SubPath: "a", Files: file("a")}, "subPath is for emptyDir"},
		{"a name that is a path", endpoint.Volume{Name: "../v", Path: "/v", EmptyDir: &endpoint.EmptyDir{}}, "not a DNS label"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := options(t)
			_, err := Prepare([]endpoint.Volume{c.vol}, o)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `volume "`+c.vol.Name+`"`) {
				t.Fatalf("err = %v, want one naming the volume and %q", err, c.want)
			}
			if _, err := os.Lstat(filepath.Join(o.Root, "v")); err == nil {
				t.Fatal("the mount path was made despite the refusal")
			}
		})
	}
}

// What the image has at a mount path decides how the mount is made.
func TestTheImagesContentAtTheMountPath(t *testing.T) {
	cfg := files(endpoint.File{Path: "a", Data: b64("1")})
	one := &endpoint.FileData{Data: b64("1")}
	cases := []struct {
		name  string
		image func(t *testing.T, target string) // what the image has at target
		vol   endpoint.Volume
		// symlink: the path becomes a link; bind: the path needs a bind mount (refused without
		// privilege); refused: never possible
		want string
	}{
		{"nothing: a symlink", func(*testing.T, string) {}, endpoint.Volume{Files: cfg}, "symlink"},
		{"an empty directory: replaced by a symlink", mkdir, endpoint.Volume{Files: cfg}, "symlink"},
		{"a symlink: replaced", link("/nowhere"), endpoint.Volume{Files: cfg}, "symlink"},
		{"a directory with content: bind", full, endpoint.Volume{Files: cfg}, "bind"},
		{"a file, for a file: bind", file, endpoint.Volume{File: one}, "bind"},
		{"a file, for a directory: refused", file, endpoint.Volume{Files: cfg}, "is a file in the image; a directory cannot be mounted over it"},
		{"a directory, for a file: refused", full, endpoint.Volume{File: one}, "is a directory in the image; a file cannot be mounted over it"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := options(t)
			target := filepath.Join(o.Root, "/opt/app")
			c.image(t, target)
			c.vol.Name, c.vol.Path = "cfg", "/opt/app"
			_, err := Prepare([]endpoint.Volume{c.vol}, o)
			switch {
			case c.want == "symlink":
				if err != nil {
					t.Fatal(err)
				}
				if info, _ := os.Lstat(target); info == nil || info.Mode()&os.ModeSymlink == 0 {
					t.Fatal("the mount path is not a symlink")
				}
			case c.want == "bind" && os.Geteuid() == 0:
				// As root the bind mount works (the simulator's isolated machines run as root).
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = syscall.Unmount(target, 0) })
			case c.want == "bind":
				if err == nil || !strings.Contains(err.Error(), `volume "cfg": /opt/app exists in the image and is not empty, and this container may not mount over it (operation not permitted)`) {
					t.Fatalf("err = %v, want the clear refusal", err)
				}
				return
			default:
				if err == nil || !strings.Contains(err.Error(), `volume "cfg": /opt/app `+c.want) {
					t.Fatalf("err = %v, want %q", err, c.want)
				}
				return
			}
			if got := read(t, filepath.Join(target, map[bool]string{true: "a", false: ""}[c.vol.File == nil])); got != "1" {
				t.Fatalf("the mount shows %q", got)
			}
		})
	}
}

func mkdir(t *testing.T, target string) {
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
}

func full(t *testing.T, target string) {
	mkdir(t, target)
	if err := os.WriteFile(filepath.Join(target, "main.py"), []byte("print()"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func file(t *testing.T, target string) {
	mkdir(t, filepath.Dir(target))
	if err := os.WriteFile(target, []byte("image"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func link(to string) func(*testing.T, string) {
	return func(t *testing.T, target string) {
		mkdir(t, filepath.Dir(target))
		if err := os.Symlink(to, target); err != nil {
			t.Fatal(err)
		}
	}
}

// The refusal's words where mount(2) is refused, whoever runs the test.
func TestABindMountRefusedSaysWhichVolumeWhereAndWhy(t *testing.T) {
	mount = func(string, string, string, uintptr, string) error { return syscall.EPERM }
	defer func() { mount = syscall.Mount }()
	o := options(t)
	full(t, filepath.Join(o.Root, "/etc/app"))
	_, err := Prepare([]endpoint.Volume{{Name: "cfg", Path: "/etc/app", Files: files(endpoint.File{Path: "a", Data: b64("1")})}}, o)
	want := `volume "cfg": /etc/app exists in the image and is not empty, and this container may not mount over it (operation not permitted)`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestAReadOnlyBindMountIsRemountedReadOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("bind mounts need root")
	}
	o := options(t)
	target := filepath.Join(o.Root, "/etc/app")
	full(t, target)
	_, err := Prepare([]endpoint.Volume{{Name: "cfg", Path: "/etc/app", ReadOnly: true, Files: files(endpoint.File{Path: "a", Data: b64("1")})}}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(target, 0) })
	// Root ignores permissions, not a read-only mount.
	if err := os.WriteFile(filepath.Join(target, "b"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("write as root: %v, want EROFS", err)
	}
}

func TestEmptyDirIsSharedByItsMountsAndSubPaths(t *testing.T) {
	o := options(t)
	made, err := Prepare([]endpoint.Volume{
		{Name: "scratch", Path: "/scratch", EmptyDir: &endpoint.EmptyDir{SizeLimitBytes: 10}},
		{Name: "scratch", Path: "/cache", SubPath: "a/b", EmptyDir: &endpoint.EmptyDir{SizeLimitBytes: 10}},
	}, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(o.Root, "/cache/x"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(o.Root, "/scratch/a/b/x")); got != "hi" {
		t.Fatalf("the subPath mount is not the volume's sub-directory: %q", got)
	}
	if got := mode(t, filepath.Join(o.Dir, "volumes", "scratch")); got != 0o777 {
		t.Fatalf("the emptyDir is %o, want kubelet's 0777", got)
	}
	if len(made.Limits) != 1 || made.Limits[0].Name != "scratch" || made.Limits[0].Bytes != 10 {
		t.Fatalf("limits = %+v, want the one emptyDir once", made.Limits)
	}
}

func TestMemoryEmptyDir(t *testing.T) {
	memory := &endpoint.EmptyDir{Medium: "Memory"}
	t.Run("without a tmpfs: on disk, and said", func(t *testing.T) {
		o := options(t) // Shm is a plain temp dir here
		var said []string
		o.Logf = func(format string, args ...any) { said = append(said, format) }
		if _, err := Prepare([]endpoint.Volume{{Name: "shm", Path: "/dev/shm/work", EmptyDir: memory}}, o); err != nil {
			t.Fatal(err)
		}
		target, err := os.Readlink(filepath.Join(o.Root, "/dev/shm/work"))
		if err != nil || target != filepath.Join(o.Dir, "volumes", "shm") {
			t.Fatalf("link = %q (%v), want the work dir's volumes/shm", target, err)
		}
		if len(said) != 1 || !strings.Contains(said[0], "falls back to disk") {
			t.Fatalf("logged %q, want one warning about the fallback", said)
		}
	})
	t.Run("on a tmpfs: there, given back by Release", func(t *testing.T) {
		if !isTmpfs("/dev/shm") {
			t.Skip("/dev/shm is not a writable tmpfs here")
		}
		o := options(t)
		o.Shm, o.PodUID = "/dev/shm", "test-"+filepath.Base(o.Dir)
		made, err := Prepare([]endpoint.Volume{{Name: "shm", Path: "/w", EmptyDir: memory}}, o)
		if err != nil {
			t.Fatal(err)
		}
		pod := "/dev/shm/anex-" + o.PodUID
		defer os.RemoveAll(pod)
		if target, _ := os.Readlink(filepath.Join(o.Root, "/w")); target != pod+"/shm" {
			t.Fatalf("link = %q, want %s/shm", target, pod)
		}
		made.Release()
		if _, err := os.Stat(pod); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s is still there after Release (%v)", pod, err)
		}
	})
}

func TestUsageCountsRegularFilesOnly(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(outside, make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		setup func(dir string) error
		want  int64
	}{
		{"empty", func(string) error { return nil }, 0},
		{"files in sub-directories", func(dir string) error {
			if err := os.MkdirAll(filepath.Join(dir, "a/b"), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, "a/b/x"), make([]byte, 7), 0o644); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "y"), make([]byte, 5), 0o644)
		}, 12},
		{"a symlink is not followed", func(dir string) error { return os.Symlink(outside, filepath.Join(dir, "l")) }, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := c.setup(dir); err != nil {
				t.Fatal(err)
			}
			if got := Usage(dir); got != c.want {
				t.Fatalf("usage = %d, want %d", got, c.want)
			}
		})
	}
}

func TestWatchCallsOnceWhenAnEmptyDirGoesOverItsLimit(t *testing.T) {
	dir := t.TempDir()
	limit := Limit{Name: "scratch", Dir: dir, Bytes: 4}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hit := make(chan Limit, 2)
	done := make(chan struct{})
	// At the limit is not over it (kubelet: usage > limit).
	if err := os.WriteFile(filepath.Join(dir, "at"), []byte("1234"), 0o644); err != nil {
		t.Fatal(err)
	}
	go func() {
		Watch(ctx, []Limit{limit}, 10*time.Millisecond, func(l Limit) { hit <- l })
		close(done)
	}()
	time.Sleep(50 * time.Millisecond)
	if len(hit) != 0 {
		t.Fatal("evicted at the limit, not over it")
	}
	if err := os.WriteFile(filepath.Join(dir, "more"), []byte("5"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-hit:
		if got, want := Message(l), `Usage of EmptyDir volume "scratch" exceeds the limit "4".`; got != want {
			t.Fatalf("message = %q, want %q", got, want)
		}
	case <-ctx.Done():
		t.Fatal("the limit was never noticed")
	}
	<-done
	if len(hit) != 0 {
		t.Fatal("exceeded was called more than once")
	}
}
