package endpoint

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// numbered is report i: its order is in RestartCount.
func numbered(i int) Report { return Report{State: "started", RestartCount: &i} }

// sink records what a queue delivers.
type sink struct {
	mu        sync.Mutex
	delivered []int
	logs      []string
}

func (s *sink) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs = append(s.logs, fmt.Sprintf(format, args...))
}

func (s *sink) record(r Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delivered = append(s.delivered, *r.RestartCount)
}

func (s *sink) got() ([]int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.delivered...), append([]string(nil), s.logs...)
}

func TestQueueDeliversInOrder(t *testing.T) {
	cases := []struct {
		name     string
		reports  int
		capacity int
		delay    time.Duration // how long each delivery takes
		failing  int           // this report's delivery fails (-1: none)
	}{
		{"fast", 100, 128, 0, -1},
		{"slow deliveries", 20, 32, 5 * time.Millisecond, -1},
		{"a failed delivery does not stop the next ones", 10, 16, time.Millisecond, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &sink{}
			q := NewQueue(func(ctx context.Context, r Report) error {
				time.Sleep(c.delay)
				if *r.RestartCount == c.failing {
					return errors.New("HTTP 503")
				}
				s.record(r)
				return nil
			}, c.capacity, s.logf)
			for i := 0; i < c.reports; i++ {
				q.Send(numbered(i))
			}
			if dropped := q.Close(10 * time.Second); dropped != 0 {
				t.Fatalf("Close = %d, want 0 dropped", dropped)
			}
			q.Send(numbered(c.reports)) // after Close: nothing
			delivered, logs := s.got()
			var want []int
			for i := 0; i < c.reports; i++ {
				if i != c.failing {
					want = append(want, i)
				}
			}
			if fmt.Sprint(delivered) != fmt.Sprint(want) {
				t.Fatalf("delivered %v, want %v", delivered, want)
			}
			if c.failing >= 0 {
				if len(logs) != 1 || logs[0] != "status report 'started' not delivered: HTTP 503" {
					t.Fatalf("logs %q", logs)
				}
			} else if len(logs) != 0 {
				t.Fatalf("logs %q", logs)
			}
		})
	}
}

// stuck is a delivery that hangs until its context ends (a control plane that does not answer).
type stuck struct {
	entered chan int
	s       sink
}

func newStuck() *stuck { return &stuck{entered: make(chan int, 100)} }

func (st *stuck) send(ctx context.Context, r Report) error {
	st.entered <- *r.RestartCount
	<-ctx.Done()
	return ctx.Err()
}

func TestQueueSendNeverBlocks(t *testing.T) {
	cases := []struct {
		capacity, sent int
	}{
		{capacity: 1, sent: 5},
		{capacity: 4, sent: 50},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("capacity %d", c.capacity), func(t *testing.T) {
			st := newStuck()
			q := NewQueue(st.send, c.capacity, st.s.logf)
			q.Send(numbered(0))
			select {
			case got := <-st.entered:
				if got != 0 {
					t.Fatalf("first delivery is report %d", got)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the first report was not taken")
			}
			// The delivery hangs: the queue fills up, then further reports are dropped, at once.
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				for i := 1; i <= c.sent; i++ {
					q.Send(numbered(i))
				}
			}()
			select {
			case <-sent:
			case <-time.After(2 * time.Second):
				t.Fatal("Send blocked behind a stuck delivery")
			}
			began := time.Now()
			dropped := q.Close(200 * time.Millisecond)
			if elapsed := time.Since(began); elapsed < 200*time.Millisecond || elapsed > 3*time.Second {
				t.Fatalf("Close took %s with a wait of 200ms", elapsed)
			}
			// Everything was lost: the one in flight, the queued ones, the overflow.
			if want := 1 + c.sent; dropped != want {
				t.Fatalf("Close = %d dropped, want %d", dropped, want)
			}
			select {
			case got := <-st.entered:
				t.Fatalf("report %d was delivered after Close gave up", got)
			default:
			}
		})
	}
}

func TestQueueCloseWaitsForTheQueued(t *testing.T) {
	// A slow control plane that does answer: Close waits for what is queued.
	release := make(chan struct{})
	s := &sink{}
	q := NewQueue(func(ctx context.Context, r Report) error {
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.record(r)
		return nil
	}, 8, s.logf)
	for i := 0; i < 3; i++ {
		q.Send(numbered(i))
	}
	time.AfterFunc(300*time.Millisecond, func() { close(release) })
	began := time.Now()
	if dropped := q.Close(5 * time.Second); dropped != 0 {
		t.Fatalf("Close = %d, want 0", dropped)
	}
	if elapsed := time.Since(began); elapsed < 250*time.Millisecond || elapsed > 3*time.Second {
		t.Fatalf("Close returned after %s; the deliveries ended at 300ms", elapsed)
	}
	if delivered, _ := s.got(); fmt.Sprint(delivered) != "[0 1 2]" {
		t.Fatalf("delivered %v", delivered)
	}
}

func TestQueueCloseAbandonsAStuckDelivery(t *testing.T) {
	st := newStuck()
	q := NewQueue(st.send, 8, st.s.logf)
	for i := 0; i < 3; i++ {
		q.Send(numbered(i))
	}
	<-st.entered
	began := time.Now()
	dropped := q.Close(300 * time.Millisecond)
	elapsed := time.Since(began)
	if elapsed < 300*time.Millisecond || elapsed > 3*time.Second {
		t.Fatalf("Close took %s with a wait of 300ms", elapsed)
	}
	if dropped != 3 {
		t.Fatalf("Close = %d, want 3 (one in flight, two queued)", dropped)
	}
	_, logs := st.s.got()
	if len(logs) != 1 || !strings.Contains(logs[0], "context canceled") {
		t.Fatalf("logs %q", logs)
	}
	// A second Close is harmless and says the same.
	if again := q.Close(time.Second); again != 3 {
		t.Fatalf("second Close = %d", again)
	}
}
