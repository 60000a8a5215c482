package endpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"anex.local/agent-build/agent/internal/logbuf"
)

// Limits of a log tail (docs/agent-protocol.md "Log tails"; the endpoint refuses more:
// lib/tunnel/endpoint/logs.ts and http.ts MAX_LOG_BODY_BYTES).
const (
	// TailTextBytes bounds the lines' text together.
	TailTextBytes = 64 * 1024
	// TailEntries bounds the number of lines.
	TailEntries = 5000
	// TailBodyBytes bounds the JSON body (the endpoint reads 80 KiB; many short lines cost more
	// in JSON than in text).
	TailBodyBytes = 78 * 1024
)

// TailEntry is one line of a tail.
type TailEntry struct {
	T string `json:"t"`
	S string `json:"s"`
	L string `json:"l"`
}

// LogTail is the body of POST /v1/logs: the newest lines of one ended run. Its text is the
// user's: never log it.
type LogTail struct {
	PodUID string `json:"podUid"`
	// Container: an init container or sidecar; empty: the app container.
	Container string      `json:"container,omitempty"`
	Run       int         `json:"run"`
	Entries   []TailEntry `json:"entries"`
	// Dropped counts the run's lines not in Entries (older ones).
	Dropped int `json:"dropped"`
}

func (t LogTail) describe() string {
	if t.Container == "" {
		return "the app container"
	}
	return "container " + t.Container
}

// TailOf is the newest lines of run that fit the limits, oldest first.
func TailOf(podUID, container string, run *logbuf.Run) LogTail {
	entries, dropped := run.Snapshot()
	tail := LogTail{PodUID: podUID, Container: container, Run: run.Number, Entries: []TailEntry{}}
	body := len(encode(LogTail{PodUID: podUID, Container: container, Run: run.Number, Entries: []TailEntry{}, Dropped: dropped + len(entries)}))
	text := 0
	picked := []TailEntry{}
	for i := len(entries) - 1; i >= 0 && len(picked) < TailEntries; i-- {
		e := entries[i]
		one := TailEntry{T: e.Time.UTC().Format(time.RFC3339Nano), S: e.Stream, L: validText(e.Text)}
		size := len(encode(one)) + 1 // and a comma
		if text+len(one.L) > TailTextBytes || body+size > TailBodyBytes {
			break
		}
		text += len(one.L)
		body += size
		picked = append(picked, one)
	}
	for i := len(picked) - 1; i >= 0; i-- {
		tail.Entries = append(tail.Entries, picked[i])
	}
	tail.Dropped = dropped + len(entries) - len(picked)
	return tail
}

// validText is text as JSON carries it: bytes that are not UTF-8 become U+FFFD (as
// encoding/json would make them, but counted here), at most logbuf.MaxLine bytes.
func validText(text string) string {
	if utf8.ValidString(text) {
		return text
	}
	text = strings.ToValidUTF8(text, "\uFFFD")
	for len(text) > logbuf.MaxLine {
		_, size := utf8.DecodeLastRuneInString(text)
		text = text[:len(text)-size]
	}
	return text
}

func encode(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// the endpoint counts bytes of JSON as sent: no \u003c for every '<'
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// ErrLogsUnsupported: the endpoint does not take log tails (404 or 501: an older endpoint).
var ErrLogsUnsupported = fmt.Errorf("the agent endpoint does not take log tails (an endpoint older than ADR 0023): tails are not sent")

// SendLogs sends a run's log tail with the status credential, like Report: up to attempts
// tries for no answer and 5xx, a 4xx is final. An endpoint that answers 404 or 501 does not
// know the route: ErrLogsUnsupported once, and later tails are not sent at all (nil).
func (c *Client) SendLogs(ctx context.Context, t LogTail, attempts int) error {
	if c.logsOff.Load() {
		return nil
	}
	body := encode(t)
	var last error
	for attempt := 1; attempt <= attempts; attempt++ {
		code, answer, err := c.do(ctx, http.MethodPost, "/v1/logs", body)
		switch {
		case err == nil && code/100 == 2:
			return nil
		case err == nil && (code == http.StatusNotFound || code == http.StatusNotImplemented):
			if c.logsOff.Swap(true) {
				return nil
			}
			return ErrLogsUnsupported
		case err == nil && code/100 == 4:
			return &StatusError{Code: code, Body: clip(answer)}
		case err != nil:
			last = err
		default:
			last = fmt.Errorf("HTTP %d", code)
		}
		if attempt < attempts {
			c.Sleep(ctx, time.Duration(attempt)*time.Second)
		}
	}
	return fmt.Errorf("log tail not delivered: %v", last)
}
