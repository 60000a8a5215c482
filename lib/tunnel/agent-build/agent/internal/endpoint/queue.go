package endpoint

import (
	"context"
	"sync"
	"time"
)

// Queue delivers status reports in order without blocking the caller: the supervisor keeps
// the workload running while a report waits for a slow or absent control plane. Reports
// beyond the queue's capacity are dropped (and counted): a later report says more anyway,
// and the final one is sent by the caller after Close.
type Queue struct {
	send    func(context.Context, Report) error
	reports chan Report
	done    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex
	closed  bool
	dropped int
	logf    func(format string, args ...any)
}

// NewQueue starts delivering through send (one report at a time, in order).
func NewQueue(send func(context.Context, Report) error, capacity int, logf func(string, ...any)) *Queue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{
		send: send, reports: make(chan Report, capacity), done: make(chan struct{}),
		ctx: ctx, cancel: cancel, logf: logf,
	}
	go q.deliver()
	return q
}

func (q *Queue) deliver() {
	defer close(q.done)
	for r := range q.reports {
		if q.ctx.Err() != nil {
			q.mu.Lock()
			q.dropped++
			q.mu.Unlock()
			continue
		}
		if err := q.send(q.ctx, r); err != nil {
			q.logf("status report '%s' not delivered: %v", r.State, err)
			if q.ctx.Err() != nil {
				// Abandoned in flight by Close: counted with the rest.
				q.mu.Lock()
				q.dropped++
				q.mu.Unlock()
			}
		}
	}
}

// Send queues r; it never blocks. After Close it does nothing.
func (q *Queue) Send(r Report) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	select {
	case q.reports <- r:
	default:
		q.dropped++
	}
}

// Close stops taking reports and waits up to wait for the queued ones; what is still queued
// then is abandoned. It returns how many reports were dropped or abandoned.
func (q *Queue) Close(wait time.Duration) int {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.reports)
	}
	q.mu.Unlock()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-q.done:
	case <-timer.C:
		q.cancel()
		<-q.done
	}
	q.cancel()
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}
