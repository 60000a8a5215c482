// Package workload runs the pod's container command and reports how it ended, the way a
// container runtime would: argv[0] found through the container's PATH, the exit code, or
// 128 + the signal number when a signal ended it.
package workload

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Spec is what to run.
type Spec struct {
	Argv []string
	// Env is the complete environment, "K=V".
	Env        []string
	WorkingDir string
	// Stdout and Stderr, when set, also receive the workload's output (the log buffer); the
	// agent's own stdout and stderr always do (the provider's log).
	Stdout, Stderr io.Writer
}

// Process is a started workload.
type Process struct {
	cmd  *exec.Cmd
	done chan int
	// copied closes when every output pipe reached its end
	copied chan struct{}
}

// drain is how long the end of a run waits for its output still in the pipes: a child that
// outlives the workload and keeps them open must not hold the run's end.
const drain = time.Second

// Start runs the workload in its own process group (so a stop reaches its children too).
// A program that cannot be found or started is an error, with the runtime's words.
func Start(spec Spec) (*Process, error) {
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return nil, errors.New("the pod has no command to run")
	}
	path, err := LookPath(spec.Argv[0], EnvValue(spec.Env, "PATH"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, spec.Argv[1:]...)
	cmd.Args[0] = spec.Argv[0]
	cmd.Env = spec.Env
	cmd.Stdin = nil
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if spec.WorkingDir != "" {
		if err := os.MkdirAll(spec.WorkingDir, 0o755); err != nil {
			return nil, fmt.Errorf("workingDir %s: %w", spec.WorkingDir, err)
		}
		cmd.Dir = spec.WorkingDir
	}
	var copies []func()
	if spec.Stdout != nil || spec.Stderr != nil {
		// Our own pipes, not exec's: exec's copying would make Wait wait for every process
		// holding them, and a backgrounded child would hold the run's end.
		if cmd.Stdout, copies, err = tee(os.Stdout, spec.Stdout, copies); err != nil {
			return nil, err
		}
		if cmd.Stderr, copies, err = tee(os.Stderr, spec.Stderr, copies); err != nil {
			closeFiles(cmd.Stdout)
			return nil, err
		}
	}
	err = cmd.Start()
	// The child has its copies of the write ends; ours would keep the pipes open for ever.
	closeFiles(cmd.Stdout, cmd.Stderr)
	if err != nil {
		for _, copy := range copies {
			go copy()
		}
		return nil, fmt.Errorf("exec %q: %w", spec.Argv[0], err)
	}
	p := &Process{cmd: cmd, done: make(chan int, 1), copied: make(chan struct{})}
	var copying sync.WaitGroup
	for _, copy := range copies {
		copying.Go(copy)
	}
	go func() {
		copying.Wait()
		close(p.copied)
	}()
	go func() {
		_ = cmd.Wait()
		timer := time.NewTimer(drain)
		select {
		case <-p.copied:
		case <-timer.C:
		}
		timer.Stop()
		p.done <- exitCode(cmd.ProcessState)
	}()
	return p, nil
}

// tee makes a pipe whose reader copies to primary and to extra (when set); it returns the
// write end for the child and adds the copy to copies.
func tee(primary *os.File, extra io.Writer, copies []func()) (*os.File, []func(), error) {
	if extra == nil {
		// Not ours: closeFiles leaves the agent's own stdout and stderr alone.
		return primary, copies, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, copies, fmt.Errorf("cannot make an output pipe: %w", err)
	}
	return w, append(copies, func() {
		defer r.Close()
		buf := make([]byte, 32*1024)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				// The provider's log first; a failing write there does not stop the buffer.
				_, _ = primary.Write(buf[:n])
				_, _ = extra.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}), nil
}

// closeFiles closes the pipe write ends among files (never the agent's stdout or stderr).
func closeFiles(files ...io.Writer) {
	for _, f := range files {
		if file, ok := f.(*os.File); ok && file != os.Stdout && file != os.Stderr {
			_ = file.Close()
		}
	}
}

// Done yields the exit code once.
func (p *Process) Done() <-chan int { return p.done }

// Signal sends sig to the workload's process group.
func (p *Process) Signal(sig syscall.Signal) {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

func exitCode(state *os.ProcessState) int {
	if state == nil {
		return 1
	}
	if status, ok := state.Sys().(syscall.WaitStatus); ok && status.Signaled() {
		return 128 + int(status.Signal())
	}
	return state.ExitCode()
}

// LookPath finds name as the container runtime would: a path as is, else through path (the container's PATH).
func LookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		if isExecutable(name) {
			return name, nil
		}
		return "", fmt.Errorf("exec: %q: stat %s: no such file or directory", name, name)
	}
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	for _, dir := range filepath.SplitList(path) {
		candidate := filepath.Join(dir, name)
		if isExecutable(candidate) {
			return candidate, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}

// EnvValue is the last value of key in env ("K=V" entries).
func EnvValue(env []string, key string) string {
	value := ""
	for _, entry := range env {
		if k, v, ok := strings.Cut(entry, "="); ok && k == key {
			value = v
		}
	}
	return value
}
