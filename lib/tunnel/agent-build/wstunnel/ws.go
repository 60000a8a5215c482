package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// A minimal RFC 6455 framing layer. It exists (instead of github.com/coder/websocket) because
// upstream's default wire format is not what a strict library speaks: upstream's client sends
// unmasked frames and upstream's server does not unmask (fastwebsockets with auto_apply_mask
// off, wstunnel's --websocket-mask-frame defaults to false). A strict client's masked frames
// would reach WireGuard XOR-scrambled, and a strict server refuses upstream's unmasked ones.

const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA

	// maxMessage bounds one message (= one UDP datagram, at most 65,507 bytes of payload).
	maxMessage   = 64 << 10
	writeTimeout = 10 * time.Second
	wsGUID       = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
)

// wsConn is an upgraded WebSocket connection carrying one datagram per binary message.
// Reads happen on one goroutine; writes may come from several and are serialised.
type wsConn struct {
	conn     net.Conn
	br       *bufio.Reader // may hold bytes read past the HTTP handshake
	readIdle time.Duration // no frame at all for this long means the peer is gone

	wmu       sync.Mutex
	wbuf      []byte
	closeOnce sync.Once
}

func newWSConn(conn net.Conn, br *bufio.Reader, pingEvery time.Duration) *wsConn {
	// Three unanswered pings, as upstream tolerates, plus slack for a slow peer.
	return &wsConn{conn: conn, br: br, readIdle: 3*pingEvery + 5*time.Second}
}

// acceptKey is the Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// writeFrame sends one unmasked, final frame. Unmasked in both directions: that is what
// upstream sends and what its server expects (see above).
func (c *wsConn) writeFrame(op byte, payload []byte) error {
	return c.writeFrameWithin(op, payload, writeTimeout)
}

func (c *wsConn) writeFrameWithin(op byte, payload []byte, timeout time.Duration) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := append(c.wbuf[:0], 0x80|op)
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xFFFF:
		b = append(b, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	// One buffer, one write: over TLS that is one record per datagram, not two.
	b = append(b, payload...)
	c.wbuf = b
	_ = c.conn.SetWriteDeadline(time.Now().Add(timeout))
	_, err := c.conn.Write(b)
	return err
}

func (c *wsConn) writeMessage(p []byte) error { return c.writeFrame(opBinary, p) }
func (c *wsConn) ping() error                 { return c.writeFrame(opPing, nil) }

// close sends a normal-closure frame (best effort, briefly: a dead peer must not hold up a
// shutdown) and closes the connection; idempotent.
func (c *wsConn) close() {
	c.closeOnce.Do(func() {
		_ = c.writeFrameWithin(opClose, []byte{0x03, 0xE8}, time.Second) // 1000: normal closure
		_ = c.conn.Close()
	})
}

// readMessage returns the next data message, answering pings on the way. Text messages are
// data too (upstream forwards any data frame); fragmented messages are reassembled.
func (c *wsConn) readMessage() ([]byte, error) {
	var msg []byte
	fragmented := false
	for {
		if c.readIdle > 0 {
			_ = c.conn.SetReadDeadline(time.Now().Add(c.readIdle))
		}
		fin, op, payload, err := c.readFrame()
		if err != nil {
			return nil, err
		}
		switch op {
		case opPing:
			if err := c.writeFrame(opPong, payload); err != nil {
				return nil, err
			}
		case opPong:
			// Only proves the peer is alive; the read deadline has been pushed already.
		case opClose:
			c.close()
			return nil, io.EOF
		case opText, opBinary:
			if fragmented {
				return nil, errors.New("websocket: new message inside a fragmented one")
			}
			if fin {
				return payload, nil
			}
			msg, fragmented = payload, true
		case opContinuation:
			if !fragmented {
				return nil, errors.New("websocket: continuation frame without a message")
			}
			if len(msg)+len(payload) > maxMessage {
				return nil, fmt.Errorf("websocket: message exceeds the %d-byte limit", maxMessage)
			}
			msg = append(msg, payload...)
			if fin {
				return msg, nil
			}
		default:
			return nil, fmt.Errorf("websocket: unknown opcode %#x", op)
		}
	}
}

// readFrame reads one frame; a masked payload is unmasked, so RFC-conformant clients (which
// mask) work as well as upstream's (which do not).
func (c *wsConn) readFrame() (fin bool, op byte, payload []byte, err error) {
	var h [14]byte
	if _, err = io.ReadFull(c.br, h[:2]); err != nil {
		return
	}
	fin, op = h[0]&0x80 != 0, h[0]&0x0F
	if h[0]&0x70 != 0 {
		return fin, op, nil, errors.New("websocket: reserved bits set (no extension was negotiated)")
	}
	masked := h[1]&0x80 != 0
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		if _, err = io.ReadFull(c.br, h[2:4]); err != nil {
			return
		}
		n = uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		if _, err = io.ReadFull(c.br, h[2:10]); err != nil {
			return
		}
		n = binary.BigEndian.Uint64(h[2:10])
	}
	if op >= opClose && (!fin || n > 125) {
		return fin, op, nil, errors.New("websocket: invalid control frame")
	}
	if n > maxMessage {
		return fin, op, nil, fmt.Errorf("websocket: frame of %d bytes exceeds the %d-byte limit", n, maxMessage)
	}
	var key [4]byte
	if masked {
		if _, err = io.ReadFull(c.br, key[:]); err != nil {
			return
		}
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(c.br, payload); err != nil {
		return
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i&3]
		}
	}
	return fin, op, payload, nil
}
