// Package workload runs the pod's container command and reports how it ended, the way a
// container runtime would: argv[0] found through the container's PATH, the exit code, or
// 128 + the signal number when a signal ended it.
package workload

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Spec is what to run.
type Spec struct {
	Argv []string
	// Env is the complete environment, "K=V".
	Env        []string
	WorkingDir string
}

// Process is a started workload.
type Process struct {
	cmd  *exec.Cmd
	done chan int
}

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
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %q: %w", spec.Argv[0], err)
	}
	p := &Process{cmd: cmd, done: make(chan int, 1)}
	go func() {
		_ = cmd.Wait()
		p.done <- exitCode(cmd.ProcessState)
	}()
	return p, nil
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
