package workload

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func wait(t *testing.T, p *Process) int {
	t.Helper()
	select {
	case code := <-p.Done():
		return code
	case <-time.After(20 * time.Second):
		t.Fatal("the workload did not end")
		return -1
	}
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		name string
		argv []string
		want int
	}{
		{"zero", []string{"sh", "-c", "exit 0"}, 0},
		{"non-zero", []string{"sh", "-c", "exit 7"}, 7},
		{"killed by a signal", []string{"sh", "-c", "kill -9 $$"}, 128 + 9},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Start(Spec{Argv: c.argv, Env: []string{"PATH=/usr/bin:/bin"}})
			if err != nil {
				t.Fatal(err)
			}
			if got := wait(t, p); got != c.want {
				t.Fatalf("exit code %d, want %d", got, c.want)
			}
		})
	}
}

func TestSignalReachesTheWholeGroup(t *testing.T) {
	p, err := Start(Spec{Argv: []string{"sh", "-c", "sleep 30 & wait"}, Env: []string{"PATH=/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	p.Signal(syscall.SIGTERM)
	if got := wait(t, p); got != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit code %d, want %d", got, 128+int(syscall.SIGTERM))
	}
}

func TestEnvAndWorkingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "work", "dir")
	out := filepath.Join(t.TempDir(), "out")
	p, err := Start(Spec{
		Argv:       []string{"sh", "-c", `printf '%s %s' "$GREETING" "$(pwd)" > "$OUT"`},
		Env:        []string{"PATH=/usr/bin:/bin", "GREETING=hi", "OUT=" + out},
		WorkingDir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, p)
	got, _ := os.ReadFile(out)
	if string(got) != "hi "+dir {
		t.Fatalf("got %q", got)
	}
}

func TestRefusesWhatARuntimeCannotStart(t *testing.T) {
	cases := []struct {
		argv []string
		want string
	}{
		{nil, "the pod has no command to run"},
		{[]string{"no-such-program-anex"}, `exec: "no-such-program-anex": executable file not found in $PATH`},
		{[]string{"/no/such/file"}, `exec: "/no/such/file": stat /no/such/file: no such file or directory`},
	}
	for _, c := range cases {
		_, err := Start(Spec{Argv: c.argv, Env: []string{"PATH=/usr/bin:/bin"}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%v: error %v, want %q", c.argv, err, c.want)
		}
	}
}

// lockedBuffer collects output written by the copying goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestOutputIsTeedToTheLogBuffer(t *testing.T) {
	cases := []struct {
		name             string
		script           string
		wantOut, wantErr string
	}{
		{"both streams", "echo out; echo err >&2", "out\n", "err\n"},
		{"the last output before the exit", "printf 'a\\nb'; exit 3", "a\nb", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errs lockedBuffer
			p, err := Start(Spec{Argv: []string{"sh", "-c", c.script}, Env: []string{"PATH=/usr/bin:/bin"}, Stdout: &out, Stderr: &errs})
			if err != nil {
				t.Fatal(err)
			}
			wait(t, p)
			if out.String() != c.wantOut || errs.String() != c.wantErr {
				t.Fatalf("stdout %q stderr %q", out.String(), errs.String())
			}
		})
	}
}

func TestABackgroundedChildDoesNotHoldTheEnd(t *testing.T) {
	var out lockedBuffer
	started := time.Now()
	p, err := Start(Spec{Argv: []string{"sh", "-c", "sleep 30 & echo parent done"}, Env: []string{"PATH=/usr/bin:/bin"}, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Signal(syscall.SIGKILL)
	if code := wait(t, p); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if took := time.Since(started); took > 10*time.Second {
		t.Fatalf("the run's end waited %s for the child", took)
	}
	if out.String() != "parent done\n" {
		t.Fatalf("stdout %q", out.String())
	}
}
