package forward

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
)

// Splice copies bytes both ways between a and b until both directions are done, then closes
// both. A side whose reads end cleanly (EOF: its peer half-closed) has the other side's write
// half closed, so that peer sees EOF too and can still answer (an HTTP/1.0 client, `nc -N`,
// a request-then-response protocol). A read or write error tears both down at once: a reset
// on one side must not leave the other hanging. Sides without CloseWrite are closed whole.
func Splice(a, b net.Conn) {
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			_ = a.Close()
			_ = b.Close()
		})
	}
	var wg sync.WaitGroup
	wg.Add(2)
	pump := func(dst, src net.Conn) {
		defer wg.Done()
		if _, err := io.Copy(dst, src); err != nil {
			closeBoth()
			return
		}
		if CloseWrite(dst) != nil {
			closeBoth()
		}
	}
	go pump(a, b)
	go pump(b, a)
	wg.Wait()
	closeBoth()
}

// CloseWrite half-closes c when it can (TCP: FIN; TLS: close_notify); an error otherwise.
func CloseWrite(c net.Conn) error {
	if hc, ok := c.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return errNoHalfClose
}

var errNoHalfClose = errors.New("the connection cannot be half-closed")

// BufferedConn is a connection whose first bytes may already sit in a bufio.Reader (read
// together with an HTTP head before 101 Switching Protocols): reads drain the reader first,
// writes and CloseWrite go to the connection.
type BufferedConn struct {
	net.Conn
	Reader *bufio.Reader
}

func (c *BufferedConn) Read(p []byte) (int, error) { return c.Reader.Read(p) }

// CloseWrite half-closes the underlying connection.
func (c *BufferedConn) CloseWrite() error { return CloseWrite(c.Conn) }
