package endpoint

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"anex.local/agent-build/agent/internal/logbuf"
)

const podUID = "6f1c2a4e-0000-4000-8000-000000000001"

func runWith(lines ...string) *logbuf.Run {
	b := logbuf.New(0)
	b.SetClock(func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC) })
	r := b.Begin(2)
	for _, line := range lines {
		stream := logbuf.Stdout
		if strings.HasPrefix(line, "!") {
			stream, line = logbuf.Stderr, line[1:]
		}
		_, _ = r.Writer(stream).Write([]byte(line + "\n"))
	}
	r.End()
	return r
}

func TestTailOf(t *testing.T) {
	kib := strings.Repeat("k", 1024)
	many := func(n int, line string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = line
		}
		return out
	}
	cases := []struct {
		name      string
		lines     []string
		container string
		entries   int
		dropped   int
		firstLine string
	}{
		{"everything fits", []string{"one", "!two"}, "", 2, 0, "one"},
		{"64 KiB of text: the newest lines", append([]string{"old"}, many(70, kib)...), "", 64, 7, kib},
		// -1: as many as the JSON body's bound allows (checked below)
		{"short lines: the JSON body stays under the endpoint's 80 KiB", many(6000, ""), "side", -1, -1, ""},
		{"the JSON body bound with some text", many(3000, "ab"), "", -1, -1, "ab"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tail := TailOf(podUID, c.container, runWith(c.lines...))
			if c.entries < 0 {
				// full: one more line would not fit
				one := len(encode(tail.Entries[0])) + 1
				if len(encode(tail))+one <= TailBodyBytes || tail.Dropped != len(c.lines)-len(tail.Entries) {
					t.Fatalf("%d entries (%d bytes), %d dropped: not full", len(tail.Entries), len(encode(tail)), tail.Dropped)
				}
				c.entries, c.dropped = len(tail.Entries), tail.Dropped
			}
			if len(tail.Entries) != c.entries || tail.Dropped != c.dropped {
				t.Fatalf("%d entries, %d dropped; want %d, %d", len(tail.Entries), tail.Dropped, c.entries, c.dropped)
			}
			if tail.Entries[0].L != c.firstLine || tail.Run != 2 || tail.Container != c.container {
				t.Fatalf("tail %+v", tail.Entries[0])
			}
			body := encode(tail)
			if len(body) > TailBodyBytes {
				t.Fatalf("body %d bytes", len(body))
			}
			text := 0
			for _, e := range tail.Entries {
				text += len(e.L)
			}
			if text > TailTextBytes {
				t.Fatalf("text %d bytes", text)
			}
		})
	}
	t.Run("the wire format", func(t *testing.T) {
		got := string(encode(TailOf(podUID, "", runWith("a<b", "!c"))))
		want := `{"podUid":"` + podUID + `","run":2,"entries":[{"t":"2026-01-02T03:04:05.12Z","s":"stdout","l":"a<b"},{"t":"2026-01-02T03:04:05.12Z","s":"stderr","l":"c"}],"dropped":0}`
		if got != want {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
	t.Run("bytes that are not UTF-8", func(t *testing.T) {
		tail := TailOf(podUID, "", runWith("a\xffb"))
		if tail.Entries[0].L != "a\uFFFDb" {
			t.Fatalf("%q", tail.Entries[0].L)
		}
	})
}

func TestSendLogs(t *testing.T) {
	cases := []struct {
		name    string
		answers []int
		calls   int
		err     string
		// then: a second tail's calls
		then int
	}{
		{"delivered", []int{200, 200}, 1, "", 1},
		{"retried after a 503", []int{503, 200, 200}, 2, "", 1},
		{"a refusal is final", []int{401, 401}, 1, "HTTP 401", 1},
		{"an older endpoint (404): said once, never sent again", []int{404}, 1, "does not take log tails", 0},
		{"an older endpoint (501)", []int{501}, 1, "does not take log tails", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			var auth []string
			var bodies []LogTail
			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				if r.URL.Path != "/v1/logs" {
					w.WriteHeader(http.StatusTeapot)
					return
				}
				var body LogTail
				raw, _ := io.ReadAll(r.Body)
				_ = json.Unmarshal(raw, &body)
				bodies = append(bodies, body)
				auth = append(auth, r.Header.Get("Authorization"))
				calls++
				w.WriteHeader(c.answers[calls-1])
				_, _ = w.Write([]byte(`{}`))
			}))
			defer server.Close()
			client, err := New(Options{URL: server.URL, Insecure: true})
			if err != nil {
				t.Fatal(err)
			}
			client.Sleep = func(context.Context, time.Duration) {}
			client.UseCredential("cred")
			err = client.SendLogs(context.Background(), TailOf(podUID, "", runWith("hello")), 3)
			if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("error %v, want %q", err, c.err)
			}
			if c.err == "does not take log tails" && !errors.Is(err, ErrLogsUnsupported) {
				t.Fatalf("error %v is not ErrLogsUnsupported", err)
			}
			if calls != c.calls || auth[0] != "Bearer cred" || bodies[0].Entries[0].L != "hello" || bodies[0].PodUID != podUID {
				t.Fatalf("%d calls (want %d), auth %q, body %+v", calls, c.calls, auth, bodies[0])
			}
			before := calls
			if err := client.SendLogs(context.Background(), TailOf(podUID, "", runWith("again")), 1); err != nil && c.then == 0 {
				t.Fatalf("a second tail to an older endpoint: %v", err)
			}
			if calls-before != c.then {
				t.Fatalf("the second tail made %d calls, want %d", calls-before, c.then)
			}
		})
	}
}

// A tail queued before a report is delivered before it.
func TestQueueDeliversTailsInOrderWithReports(t *testing.T) {
	var mu sync.Mutex
	var order []string
	q := NewQueue(func(_ context.Context, r Report) error {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, "report "+r.State)
		return nil
	}, 8, t.Logf).WithLogs(func(_ context.Context, tail LogTail) error {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, "logs "+tail.Entries[0].L)
		return nil
	})
	q.Send(Report{State: "started"})
	q.SendLogs(TailOf(podUID, "", runWith("bye")))
	q.Send(Report{State: "exited"})
	if dropped := q.Close(5 * time.Second); dropped != 0 {
		t.Fatalf("%d dropped", dropped)
	}
	if got := strings.Join(order, ", "); got != "report started, logs bye, report exited" {
		t.Fatalf("order: %s", got)
	}
}
