// Package tunnel starts the pod's tunnel into the cluster: the wstunnel client where UDP is
// blocked, then wireproxy with the agent's own private key, and waits for wireproxy's
// /readyz (its CheckAlive ping through the tunnel).
package tunnel

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// KeyPair is a WireGuard (X25519) key pair, base64 as wg(8) prints it.
type KeyPair struct{ Private, Public string }

// NewKeyPair makes the agent's own key pair: the private key never leaves the machine.
func NewKeyPair() (KeyPair, error) {
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return KeyPair{}, err
	}
	return KeyPair{
		Private: base64.StdEncoding.EncodeToString(key.Bytes()),
		Public:  base64.StdEncoding.EncodeToString(key.PublicKey().Bytes()),
	}, nil
}

// Helpers are the tunnel's processes; Stop ends them.
type Helpers struct{ procs []*exec.Cmd }

// Stop sends SIGTERM to every helper still running.
func (h *Helpers) Stop() {
	for _, cmd := range h.procs {
		if cmd.Process != nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
	}
}

// Start runs a helper with exactly env as its environment (nothing inherited: the pod's env
// and the agent's token stay out of it); stdout/stderr go to the agent's stderr.
func (h *Helpers) Start(path string, args []string, env []string) (*exec.Cmd, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	h.procs = append(h.procs, cmd)
	go func() { _ = cmd.Wait() }()
	return cmd, nil
}

// WriteConfig writes wireproxy's config with the private key put in place of the
// placeholder (mode 0600), and returns its path.
func WriteConfig(dir, template, placeholder, privateKey string) (string, error) {
	config := template
	if strings.Contains(template, "PrivateKey = "+placeholder) {
		if privateKey == "" {
			return "", fmt.Errorf("the endpoint expected an agent-generated key but none was made")
		}
		config = strings.Replace(template, "PrivateKey = "+placeholder, "PrivateKey = "+privateKey, 1)
	}
	path := filepath.Join(dir, "wireproxy.conf")
	return path, os.WriteFile(path, []byte(config), 0o600)
}

// WaitReady polls http://127.0.0.1:<port>/readyz until it answers 200, the process exits, or
// timeout passes.
func WaitReady(ctx context.Context, proc *exec.Cmd, port int, timeout time.Duration) error {
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{Proxy: nil}}
	deadline := time.Now().Add(timeout)
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	for {
		if proc.ProcessState != nil || (proc.Process != nil && proc.Process.Signal(syscall.Signal(0)) != nil) {
			return fmt.Errorf("wireproxy exited during start-up")
		}
		if res, err := client.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("tunnel not ready after %ds (gateway unreachable?)", int(timeout.Seconds()))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
