package volumes

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"anex.local/agent-build/agent/internal/endpoint"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

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

func TestPrepareWritesFilesWithTheirModesAtTheMountPath(t *testing.T) {
	o := options(t)
	_, err := Prepare([]endpoint.Volume{
		{Name: "hf", Path: "/etc/hf", ReadOnly: true, Files: []endpoint.File{
			{Path: "token", Mode: 0o400, Data: b64("secret")},
			{Path: "sub/dir/x", Mode: 0o644, Data: b64("x")},
		}},
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
		{"/etc/app.conf", "mode=train", 0o644},
	}
	for _, c := range cases {
		file := filepath.Join(o.Root, c.file)
		if got := read(t, file); got != c.content {
			t.Errorf("%s = %q, want %q", c.file, got, c.content)
		}
		if got := mode(t, file); got != c.mode {
			t.Errorf("%s mode = %o, want %o", c.file, got, c.mode)
		}
	}
}

func TestPrepareRefusesPathsThatEscapeTheVolume(t *testing.T) {
	cases := []struct {
		name string
		vol  endpoint.Volume
		want string
	}{
		{"dot-dot", endpoint.Volume{Name: "v", Path: "/v", Files: []endpoint.File{{Path: "../x", Data: b64("x")}}}, "must not contain '..'"},
		{"absolute", endpoint.Volume{Name: "v", Path: "/v", Files: []endpoint.File{{Path: "/etc/passwd", Data: b64("x")}}}, "must be a relative path"},
		{"twice", endpoint.Volume{Name: "v", Path: "/v", Files: []endpoint.File{{Path: "a", Data: b64("1")}, {Path: "./a", Data: b64("2")}}}, "given twice"},
		{"relative mount path", endpoint.Volume{Name: "v", Path: "v", Files: nil}, "is not absolute"},
		{"not base64", endpoint.Volume{Name: "v", Path: "/v", Files: []endpoint.File{{Path: "a", Data: "%%%"}}}, "not base64"},
		{"subPath escapes", endpoint.Volume{Name: "v", Path: "/v", SubPath: "../up", EmptyDir: &endpoint.EmptyDir{}}, "must not contain '..'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Prepare([]endpoint.Volume{c.vol}, options(t))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `volume "v"`) {
				t.Fatalf("err = %v, want one naming the volume and %q", err, c.want)
			}
		})
	}
}

func TestEmptyDirIsSharedByItsMountsAndSubPaths(t *testing.T) {
	o := options(t)
	limits, err := Prepare([]endpoint.Volume{
		{Name: "scratch", Path: "/scratch", EmptyDir: &endpoint.EmptyDir{SizeLimitBytes: 10}},
		{Name: "scratch", Path: "/cache", SubPath: "cache", EmptyDir: &endpoint.EmptyDir{SizeLimitBytes: 10}},
	}, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(o.Root, "/cache/x"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(o.Root, "/scratch/cache/x")); got != "hi" {
		t.Fatalf("the subPath mount is not the volume's sub-directory: %q", got)
	}
	if len(limits) != 1 || limits[0].Name != "scratch" || limits[0].Bytes != 10 {
		t.Fatalf("limits = %+v, want the one emptyDir once", limits)
	}
}

func TestMemoryEmptyDirFallsBackToDiskWithoutATmpfs(t *testing.T) {
	o := options(t) // Shm is a plain temp dir here, not a tmpfs
	_, err := Prepare([]endpoint.Volume{{Name: "shm", Path: "/dev/shm/work", EmptyDir: &endpoint.EmptyDir{Medium: "Memory"}}}, o)
	if err != nil {
		t.Fatal(err)
	}
	target, err := os.Readlink(filepath.Join(o.Root, "/dev/shm/work"))
	if err != nil || !strings.HasPrefix(target, o.Dir) {
		t.Fatalf("link = %q (%v), want a directory under the agent's work dir", target, err)
	}
	if isTmpfs("/dev/shm") {
		o.Shm = "/dev/shm"
		o.Root = t.TempDir()
		if _, err := Prepare([]endpoint.Volume{{Name: "shm", Path: "/w", EmptyDir: &endpoint.EmptyDir{Medium: "Memory"}}}, o); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll("/dev/shm/anex-uid-1")
		if target, _ := os.Readlink(filepath.Join(o.Root, "/w")); !strings.HasPrefix(target, "/dev/shm/anex-uid-1/") {
			t.Fatalf("on a tmpfs the link should go to /dev/shm, got %q", target)
		}
	}
}

func TestAMountPathTheImageFillsNeedsABindMount(t *testing.T) {
	o := options(t)
	full := filepath.Join(o.Root, "/opt/app")
	if err := os.MkdirAll(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(full, "main.py"), []byte("print()"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Prepare([]endpoint.Volume{{Name: "cfg", Path: "/opt/app", Files: []endpoint.File{{Path: "a", Data: b64("1")}}}}, o)
	if os.Geteuid() != 0 {
		if err == nil || !strings.Contains(err.Error(), `volume "cfg": /opt/app exists in the image and is not empty, and this container may not mount over it`) {
			t.Fatalf("err = %v, want the clear refusal", err)
		}
		return
	}
	// As root the bind mount works (the simulator's isolated machines run as root).
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscallUnmount(full) }()
	if got := read(t, filepath.Join(full, "a")); got != "1" {
		t.Fatalf("bind-mounted file = %q", got)
	}
}

func TestAnEmptyDirectoryOfTheImageIsReplaced(t *testing.T) {
	o := options(t)
	if err := os.MkdirAll(filepath.Join(o.Root, "/etc/empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare([]endpoint.Volume{{Name: "c", Path: "/etc/empty", Files: []endpoint.File{{Path: "f", Data: b64("v")}}}}, o); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(o.Root, "/etc/empty/f")); got != "v" {
		t.Fatalf("file = %q", got)
	}
}

func TestWatchCallsOnceWhenAnEmptyDirGoesOverItsLimit(t *testing.T) {
	dir := t.TempDir()
	limit := Limit{Name: "scratch", Dir: dir, Bytes: 4}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hit := make(chan Limit, 2)
	done := make(chan struct{})
	go func() {
		Watch(ctx, []Limit{limit}, 10*time.Millisecond, func(l Limit) { hit <- l })
		close(done)
	}()
	if err := os.WriteFile(filepath.Join(dir, "big"), []byte("12345"), 0o644); err != nil {
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

func syscallUnmount(target string) error { return syscall.Unmount(target, 0) }
