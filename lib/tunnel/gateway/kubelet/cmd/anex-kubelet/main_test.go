package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The command lines refused before anything is served, each naming what is wrong.
func TestCommandLineErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	forward := func(extra ...string) []string {
		return append([]string{"forward", "--pod-uid", "11111111-1111-1111-1111-111111111111", "--kubelet-url", "https://anex-kubelet.anex.svc:10250", "--token-file", "/t", "--listen-address", "127.0.0.1"}, extra...)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"a port taken", forward("--ports", port), "cannot listen on port " + port + " (127.0.0.1:" + port + ")"},
		{"a port that is not a number", forward("--ports", "8080,http"), `--ports: "http" is not a port number`},
		{"no ports", forward(), "--ports names no port"},
		{"an http kubelet URL", append(forward("--ports", "8080"), "--kubelet-url", "http://anex-kubelet:10250"), "must be https://<host>:<port>"},
		{"a missing CA file", forward("--ports", "8080", "--ca-file", "/no/such/ca.pem"), "--ca-file: open /no/such/ca.pem"},
		{"a stray argument to forward", forward("--ports", "8080", "extra"), `forward: unexpected argument "extra"`},
		{"an unknown subcommand", []string{"proxy"}, `unexpected argument "proxy" (the only subcommand is forward)`},
		{"a malformed forwarder ServiceAccount", []string{"--forwarder-service-account", "anex-forwarder"}, `--forwarder-service-account: "anex-forwarder" is not <namespace>/<name>`},
		{"an empty audience", []string{"--forwarder-service-account", "anex/anex-forwarder", "--forwarder-audience", ""}, "--forwarder-audience must not be empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := dispatch(tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestDefaultForwarderServiceAccount(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "anex")
	if got := defaultForwarderSA(); got != "anex/anex-forwarder" {
		t.Fatalf("with $POD_NAMESPACE: %q", got)
	}
	t.Setenv("POD_NAMESPACE", "")
	if got := defaultForwarderSA(); got != "" {
		t.Fatalf("without $POD_NAMESPACE: %q", got)
	}
}

// The built command: `forward` exits non-zero naming a port it cannot bind, and SIGTERM
// ends a serving forwarder with status 0.
func TestForwardProcess(t *testing.T) {
	binary := filepath.Join(t.TempDir(), "anex-kubelet")
	build := exec.Command("go", "build", "-o", binary, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	takenPort := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	args := func(port string) []string {
		return []string{"forward", "--pod-uid", "11111111-1111-1111-1111-111111111111", "--ports", port, "--kubelet-url", "https://127.0.0.1:1", "--token-file", "/t", "--listen-address", "127.0.0.1", "--shutdown-grace", "1s"}
	}
	var stderr bytes.Buffer
	cmd := exec.Command(binary, args(takenPort)...)
	cmd.Stderr = &stderr
	err = cmd.Run()
	taken.Close()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(stderr.String(), "anex-kubelet: cannot listen on port "+takenPort) {
		t.Fatalf("a taken port: %v, stderr %q", err, stderr.String())
	}

	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freePort := strconv.Itoa(free.Addr().(*net.TCPAddr).Port)
	free.Close()
	stderr.Reset()
	cmd = exec.Command(binary, args(freePort)...)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+freePort)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the forwarder never listened: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after SIGTERM: %v, stderr %s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the forwarder did not exit after SIGTERM")
	}
	if !strings.Contains(stderr.String(), `msg=forwarding pod=11111111-1111-1111-1111-111111111111 ports=[`+freePort+`]`) {
		t.Fatalf("no start-up line: %s", stderr.String())
	}
	_ = os.Remove(binary)
}
