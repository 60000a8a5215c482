package agentapi

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	cases := []struct {
		name    string
		channel byte
		payload []byte
	}{
		{"stdout line", ChannelStdout, []byte("42\n")},
		{"empty stdin close", ChannelStdinClosed, nil},
		{"status json", ChannelStatus, []byte(`{"exitCode":0}`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteFrame(&buf, c.channel, c.payload); err != nil {
				t.Fatal(err)
			}
			channel, payload, err := ReadFrame(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if channel != c.channel || !bytes.Equal(payload, c.payload) {
				t.Fatalf("got channel %d payload %q, want %d %q", channel, payload, c.channel, c.payload)
			}
			if _, _, err := ReadFrame(&buf); !errors.Is(err, io.EOF) {
				t.Fatalf("after the last frame: %v, want io.EOF", err)
			}
		})
	}
}

func TestFrameRefusals(t *testing.T) {
	huge := []byte{ChannelStdout, 0xff, 0xff, 0xff, 0xff}
	cut := []byte{ChannelStdout, 0, 0, 0, 9, 'a', 'b'}
	cases := []struct {
		name  string
		input []byte
		want  error
	}{
		{"announced size above MaxFrame", huge, ErrFrameTooLarge},
		{"payload cut short", cut, io.ErrUnexpectedEOF},
		{"header cut short", []byte{1, 0}, io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := ReadFrame(bytes.NewReader(c.input)); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if err := WriteFrame(io.Discard, ChannelStdout, make([]byte, MaxFrame+1)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("write of an oversized frame: %v", err)
	}
}
