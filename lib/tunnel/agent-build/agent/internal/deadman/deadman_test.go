package deadman

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWatch(t *testing.T) {
	cases := []struct {
		name    string
		answers []error
		alive   bool
		want    string
	}{
		{"the control plane says the pod is gone", []error{nil}, false, "gone"},
		{"unreachable past the limit", []error{errors.New("down"), errors.New("down"), errors.New("down")}, true, "control plane unreachable for"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			ask := func(context.Context) (bool, string, error) {
				err := c.answers[min(calls, len(c.answers)-1)]
				calls++
				return c.alive, "gone", err
			}
			start := time.Now()
			// Every tick advances the fake clock by a second; the limit is two seconds.
			now := func() time.Time { return start.Add(time.Duration(calls) * time.Second) }
			got := Watch(context.Background(), ask, time.Millisecond, 2*time.Second, now)
			if len(got) < len(c.want) || got[:len(c.want)] != c.want {
				t.Fatalf("reason %q, want prefix %q", got, c.want)
			}
		})
	}
}

func TestWatchStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ask := func(context.Context) (bool, string, error) { return true, "", nil }
	if got := Watch(ctx, ask, time.Hour, time.Hour, time.Now); got != "" {
		t.Fatalf("reason %q after cancel, want none", got)
	}
}
