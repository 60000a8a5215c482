package deadman

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"anex.local/agent-build/agent/internal/endpoint"
)

func TestWatch(t *testing.T) {
	cases := []struct {
		name            string
		answers         []error
		answer          endpoint.Answer
		want            string
		wantGrace       time.Duration
		wantUnreachable bool
	}{
		{"the control plane says the pod is gone", []error{nil}, endpoint.Answer{Reason: "gone"}, "gone", 0, false},
		{"a deletion with grace left", []error{nil}, endpoint.Answer{Reason: "gone", Grace: 25 * time.Second}, "gone", 25 * time.Second, false},
		{"unreachable past the limit", []error{errors.New("down"), errors.New("down"), errors.New("down")}, endpoint.Answer{Alive: true}, "control plane unreachable for", 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			ask := func(context.Context) (endpoint.Answer, error) {
				err := c.answers[min(calls, len(c.answers)-1)]
				calls++
				return c.answer, err
			}
			start := time.Now()
			// Every tick advances the fake clock by a second; the limit is two seconds.
			now := func() time.Time { return start.Add(time.Duration(calls) * time.Second) }
			got, stopped := Watch(context.Background(), ask, time.Millisecond, 2*time.Second, now)
			if !stopped || !strings.HasPrefix(got.Reason, c.want) || got.Grace != c.wantGrace || got.Unreachable != c.wantUnreachable {
				t.Fatalf("got %+v (stopped %v), want reason prefix %q grace %s unreachable %v", got, stopped, c.want, c.wantGrace, c.wantUnreachable)
			}
		})
	}
}

func TestWatchStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ask := func(context.Context) (endpoint.Answer, error) { return endpoint.Answer{Alive: true}, nil }
	if got, stopped := Watch(ctx, ask, time.Hour, time.Hour, time.Now); stopped {
		t.Fatalf("stop %+v after cancel, want none", got)
	}
}
