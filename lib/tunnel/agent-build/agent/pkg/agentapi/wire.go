// Package agentapi is the agent API's wire contract (docs/adr/0023-kubelet-api.md §4), shared
// by the agent that serves it on the rented machine and anex-kubelet that calls it through the
// tunnel. Only the contract lives here: routes, query parameters, upgrade tokens and the
// frame codec of the exec/attach stream.
package agentapi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Port is where the agent API listens on the machine's loopback and, through wireproxy's
// [TCPServerTunnel], on the pod's VPN address.
const Port = 10250

// Routes (version 1).
const (
	PathLogs        = "/v1/logs"
	PathExec        = "/v1/exec"
	PathAttach      = "/v1/attach"
	PathPortForward = "/v1/port-forward"
	PathStats       = "/v1/stats"
)

// Upgrade tokens: the exec/attach frame stream, the raw port-forward byte stream, and the
// framed one (tcpframes.go) that carries half-closes across wireproxy.
const (
	UpgradeStream    = "anex-stream/1"
	UpgradeTCP       = "anex-tcp/1"
	UpgradeTCPFramed = "anex-tcp/2"
)

// Query parameters, named as the kubelet names them where it has a name.
const (
	QueryContainer  = "container"
	QueryPrevious   = "previous"
	QueryFollow     = "follow"
	QueryTailLines  = "tailLines"
	QuerySinceTime  = "sinceTime" // RFC 3339 (nano) time
	QueryTimestamps = "timestamps"
	QueryLimitBytes = "limitBytes"
	QueryCommand    = "command" // repeated, one per argv element
	QueryStdin      = "stdin"
	QueryTTY        = "tty"
	QueryPort       = "port"
)

// Channel numbers of a frame (the first three as in Kubernetes' channel protocols).
const (
	ChannelStdin       byte = 0
	ChannelStdout      byte = 1
	ChannelStderr      byte = 2
	ChannelStatus      byte = 3   // final frame: JSON Status
	ChannelResize      byte = 4   // JSON Resize
	ChannelStdinClosed byte = 255 // empty payload: no more stdin
)

// MaxFrame bounds one frame's payload: a peer announcing more is refused, not trusted.
const MaxFrame = 1 << 20

// Status is the payload of the final ChannelStatus frame: the command's exit code, or why it
// could not run.
type Status struct {
	ExitCode *int   `json:"exitCode,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Resize is the payload of a ChannelResize frame (a terminal's new size).
type Resize struct {
	Width  uint16 `json:"width"`
	Height uint16 `json:"height"`
}

// ErrFrameTooLarge is returned by ReadFrame for a frame above MaxFrame.
var ErrFrameTooLarge = errors.New("agentapi: frame larger than MaxFrame")

// WriteFrame writes one frame: [channel u8][length u32 big endian][payload].
func WriteFrame(w io.Writer, channel byte, payload []byte) error {
	if len(payload) > MaxFrame {
		return ErrFrameTooLarge
	}
	header := make([]byte, 5, 5+len(payload))
	header[0] = channel
	binary.BigEndian.PutUint32(header[1:], uint32(len(payload)))
	_, err := w.Write(append(header, payload...))
	return err
}

// ReadFrame reads one frame. io.EOF only when the stream ended between frames; a stream cut
// inside a frame is io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader) (channel byte, payload []byte, err error) {
	var header [5]byte
	if _, err = io.ReadFull(r, header[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("agentapi: frame header cut short: %w", err)
		}
		return 0, nil, err
	}
	size := binary.BigEndian.Uint32(header[1:])
	if size > MaxFrame {
		return 0, nil, ErrFrameTooLarge
	}
	payload = make([]byte, size)
	if _, err = io.ReadFull(r, payload); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return header[0], payload, nil
}
