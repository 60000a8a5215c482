package agentapi

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// The framed port-forward stream (UpgradeTCPFramed). The agent API is reached through
// wireproxy's [TCPServerTunnel], which ends a connection only once both directions have
// ended and never passes a half-close on (wireproxy v1.0.9 routine.go, tcpServerForward:
// two connForward copies, then Close of both). A client that sends its request and
// half-closes (an HTTP/1.0 client, `nc -N`, a readiness probe's connect-and-close) would then
// hang: its FIN stops at wireproxy and the pod's server never sees EOF. Framing the stream
// carries the half-close inside it, whatever the tunnel does with TCP's.
//
// Each direction is a sequence of frames (WriteFrame's codec): ChannelTCPData with bytes,
// then one ChannelTCPEnd (empty) when the sender's side has no more to send. A stream that
// ends without ChannelTCPEnd was cut (the tunnel or a peer broke), and both sides are torn
// down, as a reset would.
const (
	ChannelTCPData byte = 1
	ChannelTCPEnd  byte = 255
)

// tcpChunk bounds one data frame (well under MaxFrame).
const tcpChunk = 32 << 10

// SpliceFramed copies between plain (a byte stream: the pod's port on the agent's side, the
// client's stream on the gateway's) and framed (the UpgradeTCPFramed stream) until both
// directions have ended, then closes both. plain's EOF is sent as ChannelTCPEnd;
// ChannelTCPEnd received half-closes plain (CloseWrite where it has one, else Close: a
// stream whose Close is a half-close, as an SPDY or WebSocket port-forward stream's). A
// read or write error on either side, a frame on an unknown channel, or framed ending
// without ChannelTCPEnd tears both down at once. It returns why the stream was torn down, or
// nil when both directions ended cleanly.
func SpliceFramed(plain, framed io.ReadWriteCloser) error {
	var once sync.Once
	var cause error
	abort := func(err error) {
		once.Do(func() {
			cause = err
			_ = plain.Close()
			_ = framed.Close()
		})
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // plain → framed
		defer wg.Done()
		buf := make([]byte, tcpChunk)
		for {
			n, err := plain.Read(buf)
			if n > 0 {
				if werr := WriteFrame(framed, ChannelTCPData, buf[:n]); werr != nil {
					abort(fmt.Errorf("sending to the framed stream: %w", werr))
					return
				}
			}
			if errors.Is(err, io.EOF) {
				if werr := WriteFrame(framed, ChannelTCPEnd, nil); werr != nil {
					abort(fmt.Errorf("sending the end of the stream: %w", werr))
				}
				return
			}
			if err != nil {
				abort(fmt.Errorf("reading the plain stream: %w", err))
				return
			}
		}
	}()
	go func() { // framed → plain
		defer wg.Done()
		for {
			channel, payload, err := ReadFrame(framed)
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = errors.New("the framed stream ended without its end frame")
				}
				abort(err)
				return
			}
			switch channel {
			case ChannelTCPData:
				if _, err := plain.Write(payload); err != nil {
					abort(fmt.Errorf("writing to the plain stream: %w", err))
					return
				}
			case ChannelTCPEnd:
				if hc, ok := plain.(interface{ CloseWrite() error }); ok {
					if err := hc.CloseWrite(); err != nil {
						abort(fmt.Errorf("half-closing the plain stream: %w", err))
					}
					return
				}
				_ = plain.Close()
				return
			default:
				abort(fmt.Errorf("a frame on unknown channel %d", channel))
				return
			}
		}
	}()
	wg.Wait()
	abort(nil)
	return cause
}
