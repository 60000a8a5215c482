package kubelet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"sync"
	"time"

	"anex.local/agent-build/agent/pkg/agentapi"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// podSession bridges the kubelet streaming library's callbacks (Executor, Attacher,
// PortForwarder) to one pod's agent at its VPN address.
type podSession struct {
	agents *Agents
	vpn    string
}

func (p *podSession) ExecInContainer(ctx context.Context, _ string, _ string, container string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	q := url.Values{agentapi.QueryContainer: {container}, agentapi.QueryCommand: cmd}
	return p.stream(ctx, agentapi.PathExec, q, in, out, errOut, tty, resize)
}

func (p *podSession) AttachContainer(ctx context.Context, _ string, _ string, container string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	q := url.Values{agentapi.QueryContainer: {container}}
	return p.stream(ctx, agentapi.PathAttach, q, in, out, errOut, tty, resize)
}

// stream opens the agent's anex-stream/1 upgrade and pumps frames both ways until the agent's
// final status, which becomes the library's answer: nil for exit code 0, a utilexec.ExitError
// for another code (so `kubectl exec` exits with it), an error for a command that could not run.
func (p *podSession) stream(ctx context.Context, path string, q url.Values, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	q.Set(agentapi.QueryStdin, strconv.FormatBool(in != nil))
	q.Set(agentapi.QueryTTY, strconv.FormatBool(tty))
	conn, err := p.agents.Upgrade(ctx, p.vpn, path, q, agentapi.UpgradeStream)
	if err != nil {
		return err
	}
	defer conn.Close()
	// The client going away ends the agent's side too.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	var writeMu sync.Mutex
	send := func(channel byte, payload []byte) error {
		writeMu.Lock()
		defer writeMu.Unlock()
		return agentapi.WriteFrame(conn, channel, payload)
	}
	done := make(chan struct{})
	defer close(done)
	if in != nil {
		go func() {
			buf := make([]byte, 32*1024)
			for {
				n, err := in.Read(buf)
				if n > 0 {
					if send(agentapi.ChannelStdin, buf[:n]) != nil {
						return
					}
				}
				if err != nil {
					// EOF or a reset client stream: either way no more input.
					_ = send(agentapi.ChannelStdinClosed, nil)
					return
				}
			}
		}()
	}
	if resize != nil {
		go func() {
			for {
				select {
				case <-done:
					return
				case size, ok := <-resize:
					if !ok {
						return
					}
					payload, _ := json.Marshal(agentapi.Resize{Width: size.Width, Height: size.Height})
					if send(agentapi.ChannelResize, payload) != nil {
						return
					}
				}
			}
		}()
	}
	for {
		channel, payload, err := agentapi.ReadFrame(conn)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return errors.New("the agent closed the stream without a final status")
			}
			return fmt.Errorf("reading from the agent: %w", err)
		}
		switch channel {
		case agentapi.ChannelStdout:
			if out != nil {
				if _, err := out.Write(payload); err != nil {
					return err
				}
			}
		case agentapi.ChannelStderr:
			// With a tty the library opens no stderr stream; the pty merges both anyway.
			w := errOut
			if w == nil {
				w = out
			}
			if w != nil {
				if _, err := w.Write(payload); err != nil {
					return err
				}
			}
		case agentapi.ChannelStatus:
			var status agentapi.Status
			if err := json.Unmarshal(payload, &status); err != nil {
				return fmt.Errorf("unreadable final status from the agent: %v", err)
			}
			switch {
			case status.Error != "":
				return errors.New(status.Error)
			case status.ExitCode == nil:
				return errors.New("the agent's final status has neither an exit code nor an error")
			case *status.ExitCode == 0:
				return nil
			default:
				return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", *status.ExitCode), Code: *status.ExitCode}
			}
		default:
			// Unknown channels are ignored: a newer agent may add some.
		}
	}
}

// PortForward opens the pod's port through the agent (Agents.OpenPort) and splices it with
// the client's data stream. The agent's refusal (an undeclared port) is returned, and the
// library writes it on the pair's error stream.
func (p *podSession) PortForward(ctx context.Context, _ string, _ string, port int32, stream io.ReadWriteCloser) error {
	conn, err := p.agents.OpenPort(ctx, p.vpn, int(port))
	if err != nil {
		var refused *AgentRefusal
		if errors.As(err, &refused) {
			return fmt.Errorf("port %d: %s", port, refused.Message)
		}
		return fmt.Errorf("port %d: %w", port, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	// A torn-down stream is the connection's end, not the pair's error: kubectl reports a
	// pair error on every later connection too.
	_ = conn.Splice(stream)
	return nil
}
