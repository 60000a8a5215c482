// Package deadman stops the workload when the control plane no longer wants the pod, or
// cannot be reached for too long: a machine nobody watches must not keep billing.
package deadman

import (
	"context"
	"fmt"
	"time"

	"anex.local/agent-build/agent/internal/endpoint"
)

// Asker answers whether the pod is still wanted (endpoint.Client.Alive).
type Asker func(ctx context.Context) (endpoint.Answer, error)

// Stop is why, and how gently, the workload is to be stopped.
type Stop struct {
	Reason string
	// Grace is what the control plane left for a graceful stop (a deletion's grace period).
	Grace time.Duration
	// Unreachable: the control plane could not be asked for too long (no grace was given).
	Unreachable bool
}

// Watch asks every interval; it returns the stop order, or false when ctx ends first.
func Watch(ctx context.Context, ask Asker, interval, unreachableFor time.Duration, now func() time.Time) (Stop, bool) {
	lastOK := now()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return Stop{}, false
		case <-ticker.C:
		}
		answer, err := ask(ctx)
		switch {
		case err == nil && !answer.Alive:
			return Stop{Reason: answer.Reason, Grace: answer.Grace}, true
		case err == nil:
			lastOK = now()
		case now().Sub(lastOK) >= unreachableFor:
			reason := fmt.Sprintf("control plane unreachable for %ds", int(now().Sub(lastOK).Seconds()))
			return Stop{Reason: reason, Unreachable: true}, true
		}
	}
}
