// Package deadman stops the workload when the control plane no longer wants the pod, or
// cannot be reached for too long: a machine nobody watches must not keep billing.
package deadman

import (
	"context"
	"fmt"
	"time"
)

// Asker answers whether the pod is still wanted (endpoint.Client.Alive).
type Asker func(ctx context.Context) (alive bool, reason string, err error)

// Watch asks every interval; it returns the reason to stop, or "" when ctx ends first.
func Watch(ctx context.Context, ask Asker, interval, unreachableFor time.Duration, now func() time.Time) string {
	lastOK := now()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return ""
		case <-ticker.C:
		}
		alive, reason, err := ask(ctx)
		switch {
		case err == nil && !alive:
			return reason
		case err == nil:
			lastOK = now()
		case now().Sub(lastOK) >= unreachableFor:
			return fmt.Sprintf("control plane unreachable for %ds", int(now().Sub(lastOK).Seconds()))
		}
	}
}
