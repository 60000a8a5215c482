package agentapi

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// tcpPair is two ends of one loopback TCP connection (half-closes work, as on the real path).
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	dialed, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	other := <-accepted
	if other == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() {
		_ = dialed.Close()
		_ = other.Close()
	})
	return dialed.(*net.TCPConn), other.(*net.TCPConn)
}

// path is the real topology: client ⇄ [gateway SpliceFramed] ⇄ framed link ⇄ [agent
// SpliceFramed] ⇄ server. It returns the client's and the server's ends and the two splices'
// results.
func path(t *testing.T) (client, server *net.TCPConn, results chan error) {
	t.Helper()
	client, gatewayPlain := tcpPair(t)
	gatewayFramed, agentFramed := tcpPair(t)
	agentPlain, server := tcpPair(t)
	results = make(chan error, 2)
	go func() { results <- SpliceFramed(gatewayPlain, gatewayFramed) }()
	go func() { results <- SpliceFramed(agentPlain, agentFramed) }()
	return client, server, results
}

func readAll(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading to EOF: %v", err)
	}
	return string(b)
}

func waitResults(t *testing.T, results chan error) []error {
	t.Helper()
	var out []error
	for range 2 {
		select {
		case err := <-results:
			out = append(out, err)
		case <-time.After(5 * time.Second):
			t.Fatal("a splice did not end")
		}
	}
	return out
}

// A client that sends its request and half-closes gets the answer: the server sees EOF
// through both splices and answers after it.
func TestSpliceFramedCarriesHalfCloses(t *testing.T) {
	client, server, results := path(t)
	if _, err := client.Write([]byte("GET / HTTP/1.0\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := client.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, server); got != "GET / HTTP/1.0\r\n\r\n" {
		t.Fatalf("server read %q", got)
	}
	if _, err := server.Write([]byte("HTTP/1.0 200 OK\r\n\r\nanswer")); err != nil {
		t.Fatal(err)
	}
	if err := server.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, client); got != "HTTP/1.0 200 OK\r\n\r\nanswer" {
		t.Fatalf("client read %q", got)
	}
	for _, err := range waitResults(t, results) {
		if err != nil {
			t.Fatalf("a clean exchange ended with %v", err)
		}
	}
}

// Bytes arrive whole and in order both ways, in chunks larger than one frame.
func TestSpliceFramedLargeBothWays(t *testing.T) {
	client, server, results := path(t)
	up, down := make([]byte, 1<<20+7), make([]byte, 1<<20+13)
	_, _ = rand.Read(up)
	_, _ = rand.Read(down)
	go func() {
		_, _ = client.Write(up)
		_ = client.CloseWrite()
	}()
	go func() {
		_, _ = server.Write(down)
		_ = server.CloseWrite()
	}()
	gotUp, gotDown := make(chan []byte, 1), make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(server); gotUp <- b }()
	go func() { b, _ := io.ReadAll(client); gotDown <- b }()
	if b := <-gotUp; !bytes.Equal(b, up) {
		t.Fatalf("server got %d bytes, want %d equal ones", len(b), len(up))
	}
	if b := <-gotDown; !bytes.Equal(b, down) {
		t.Fatalf("client got %d bytes, want %d equal ones", len(b), len(down))
	}
	waitResults(t, results)
}

// A framed stream that is cut, or speaks nonsense, tears the plain side down (no half-open
// connection is left to a broken tunnel) and says why.
func TestSpliceFramedTearsDown(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(framed *net.TCPConn)
		want    string
	}{
		{"cut without its end frame", func(f *net.TCPConn) { _ = f.Close() }, "without its end frame"},
		{"a frame on an unknown channel", func(f *net.TCPConn) { _ = WriteFrame(f, 9, []byte("x")) }, "unknown channel 9"},
		{"a frame cut short", func(f *net.TCPConn) { _, _ = f.Write([]byte{ChannelTCPData, 0, 0, 0, 9, 'x'}); _ = f.Close() }, "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, plain := tcpPair(t)
			framed, remote := tcpPair(t)
			result := make(chan error, 1)
			go func() { result <- SpliceFramed(plain, framed) }()
			tc.breakIt(remote)
			select {
			case err := <-result:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want an error with %q", err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the splice did not end")
			}
			_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := client.Read(make([]byte, 1)); err == nil {
				t.Fatal("the client's connection is still open")
			}
		})
	}
}
