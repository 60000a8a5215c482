package nodeapi

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"

	"anex.local/agent-build/agent/internal/logbuf"
	"anex.local/agent-build/agent/internal/workload"
	"anex.local/agent-build/agent/pkg/agentapi"
)

// drain is how long the end of an exec waits for output still in its pipes after the command
// exited (a backgrounded child may hold them open).
const drain = time.Second

// frames writes frames from several goroutines, one at a time.
type frames struct {
	mu   sync.Mutex
	conn net.Conn
}

func (f *frames) write(channel byte, payload []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return agentapi.WriteFrame(f.conn, channel, payload)
}

func (f *frames) status(s agentapi.Status) {
	payload, _ := json.Marshal(s)
	_ = f.write(agentapi.ChannelStatus, payload)
}

// channelWriter is an io.Writer whose writes become frames on one channel (split at MaxFrame).
type channelWriter struct {
	f       *frames
	channel byte
}

func (c channelWriter) Write(p []byte) (int, error) {
	for written := 0; written < len(p); {
		n := min(len(p)-written, agentapi.MaxFrame)
		if err := c.f.write(c.channel, p[written:written+n]); err != nil {
			return written, err
		}
		written += n
	}
	return len(p), nil
}

// exec answers POST /v1/exec: the command runs in the container's environment and working
// directory (as the agent's own user: the container's), in its own process group — with tty,
// a new session on a pty — and the stream ends with a status frame. The process group is
// killed when the stream closes first.
func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	q := &query{w: w, r: r}
	stdin := q.boolean(agentapi.QueryStdin)
	tty := q.boolean(agentapi.QueryTTY)
	argv := r.URL.Query()[agentapi.QueryCommand]
	if !q.bad && (len(argv) == 0 || argv[0] == "") {
		q.fail("query parameter %s: expected the command, one parameter per argument (command=sh&command=-c&command=…)", agentapi.QueryCommand)
	}
	if q.bad {
		return
	}
	c, ok := s.container(w, r)
	if !ok {
		return
	}
	conn, buffered, ok := upgrade(w, r, agentapi.UpgradeStream)
	if !ok {
		return
	}
	defer conn.Close()
	f := &frames{conn: conn}
	code, err := s.run(c, argv, stdin, tty, f, buffered)
	if err != nil {
		f.status(agentapi.Status{Error: err.Error()})
		return
	}
	f.status(agentapi.Status{ExitCode: &code})
}

// run runs argv and returns its exit code (128 + signal when a signal ended it), or why it
// could not start.
func (s *Server) run(c *Container, argv []string, stdin, tty bool, f *frames, in *bufio.Reader) (int, error) {
	path, err := workload.LookPath(argv[0], workload.EnvValue(c.Env, "PATH"))
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = c.Env
	if c.WorkingDir != "" {
		cmd.Dir = c.WorkingDir
	}
	// stdinW receives stdin frames; resize changes the pty's size.
	var stdinW io.WriteCloser
	var resize func(agentapi.Resize)
	var outputs sync.WaitGroup
	if tty {
		// pty.Start gives the command a new session with the pty as its controlling terminal:
		// its own process group, as Setpgid would.
		term, err := pty.Start(cmd)
		if err != nil {
			return 0, err
		}
		// Setsize reads the descriptor without os.File's guard: not while Close runs.
		var sizing sync.Mutex
		closed := false
		defer func() {
			sizing.Lock()
			defer sizing.Unlock()
			closed = true
			_ = term.Close()
		}()
		stdinW = term
		resize = func(size agentapi.Resize) {
			sizing.Lock()
			defer sizing.Unlock()
			if !closed {
				_ = pty.Setsize(term, &pty.Winsize{Rows: size.Height, Cols: size.Width})
			}
		}
		outputs.Go(func() { _, _ = io.Copy(channelWriter{f, agentapi.ChannelStdout}, term) })
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if stdin {
			pipe, err := cmd.StdinPipe()
			if err != nil {
				return 0, err
			}
			stdinW = pipe
		}
		outR, outW, err := os.Pipe()
		if err != nil {
			return 0, err
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			_ = outR.Close()
			_ = outW.Close()
			return 0, err
		}
		cmd.Stdout, cmd.Stderr = outW, errW
		err = cmd.Start()
		_ = outW.Close()
		_ = errW.Close()
		if err != nil {
			_ = outR.Close()
			_ = errR.Close()
			return 0, err
		}
		outputs.Go(func() { _, _ = io.Copy(channelWriter{f, agentapi.ChannelStdout}, outR); _ = outR.Close() })
		outputs.Go(func() { _, _ = io.Copy(channelWriter{f, agentapi.ChannelStderr}, errR); _ = errR.Close() })
	}
	pgid := cmd.Process.Pid
	exited := make(chan struct{})
	// The caller's frames: stdin, its end, resizes. The stream closing first kills the
	// command's process group (kubelet's exec ends with its stream).
	go func() {
		for {
			channel, payload, err := agentapi.ReadFrame(in)
			if err != nil {
				select {
				case <-exited:
				default:
					_ = syscall.Kill(-pgid, syscall.SIGKILL)
				}
				return
			}
			switch channel {
			case agentapi.ChannelStdin:
				if stdinW != nil {
					_, _ = stdinW.Write(payload)
				}
			case agentapi.ChannelStdinClosed:
				if stdinW != nil && !tty {
					_ = stdinW.Close()
				} else if tty {
					// a terminal has no end of input but ^D
					_, _ = stdinW.Write([]byte{4})
				}
			case agentapi.ChannelResize:
				var size agentapi.Resize
				if resize != nil && json.Unmarshal(payload, &size) == nil {
					resize(size)
				}
			}
		}
	}()
	_ = cmd.Wait()
	close(exited)
	copied := make(chan struct{})
	go func() {
		outputs.Wait()
		close(copied)
	}()
	timer := time.NewTimer(drain)
	defer timer.Stop()
	select {
	case <-copied:
	case <-timer.C:
	}
	return exitCode(cmd.ProcessState), nil
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

// attach answers POST /v1/attach: the container's output from now on, as frames, until its
// run ends ({} status: the run's exit code is in the pod's status). anex starts containers
// without stdin or a terminal, so stdin and tty are refused, as the kubelet refuses them for a
// container without `stdin: true` or `tty: true`.
func (s *Server) attach(w http.ResponseWriter, r *http.Request) {
	q := &query{w: w, r: r}
	stdin := q.boolean(agentapi.QueryStdin)
	tty := q.boolean(agentapi.QueryTTY)
	if q.bad {
		return
	}
	c, ok := s.container(w, r)
	if !ok {
		return
	}
	if stdin || tty {
		refuse(w, http.StatusBadRequest, "attach with stdin or tty: container %s runs without stdin and without a terminal on anex (exec -it works)", describe(c))
		return
	}
	run := c.Logs.Current()
	if run == nil {
		refuse(w, http.StatusBadRequest, "container %s is waiting to start", describe(c))
		return
	}
	if run.Ended() {
		refuse(w, http.StatusBadRequest, "container %s is not running", describe(c))
		return
	}
	conn, buffered, ok := upgrade(w, r, agentapi.UpgradeStream)
	if !ok {
		return
	}
	defer conn.Close()
	f := &frames{conn: conn}
	// not r.Context(): the connection is hijacked, the request is over for net/http
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The caller closing its side ends the attach.
	go func() {
		for {
			if _, _, err := agentapi.ReadFrame(buffered); err != nil {
				cancel()
				return
			}
		}
	}()
	err := run.Watch(ctx, func(e logbuf.Entry) error {
		channel := agentapi.ChannelStdout
		if e.Stream == logbuf.Stderr {
			channel = agentapi.ChannelStderr
		}
		text := e.Text
		if !e.Partial {
			text += "\n"
		}
		return f.write(channel, []byte(text))
	})
	if err != nil {
		// the caller left, or its connection broke: nobody to tell
		return
	}
	f.status(agentapi.Status{})
}
