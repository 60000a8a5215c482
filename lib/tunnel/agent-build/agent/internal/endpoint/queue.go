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
//
// Log tails (SendLogs) travel in the same queue, so a run's tail reaches the endpoint before
// the run's exited report queued after it.
type Queue struct {
	send     func(context.Context, Report) error
	sendLogs func(context.Context, LogTail) error
	reports  chan item
	done     chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	mu       sync.Mutex
	closed   bool
	dropped  int
	logf     func(format string, args ...any)
}

// NewQueue starts delivering through send (one report at a time, in order).
func NewQueue(send func(context.Context, Report) error, capacity int, logf func(string, ...any)) *Queue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{
		send: send, reports: make(chan item, capacity), done: make(chan struct{}),
		ctx: ctx, cancel: cancel, logf: logf,
	}
	go q.deliver()
	return q
}

// item is a report or a log tail.
type item struct {
	report Report
	logs   *LogTail
}

// WithLogs sets how SendLogs delivers; without it, log tails are dropped. Call it before the
// first SendLogs.
func (q *Queue) WithLogs(send func(context.Context, LogTail) error) *Queue {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sendLogs = send
	return q
}

func (q *Queue) deliver() {
	defer close(q.done)
	for it := range q.reports {
		if it.logs != nil {
			q.deliverLogs(*it.logs)
			continue
		}
		r := it.report
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

// deliverLogs sends one tail; a tail that is not delivered is not counted with the reports.
func (q *Queue) deliverLogs(t LogTail) {
	q.mu.Lock()
	send := q.sendLogs
	q.mu.Unlock()
	if send == nil || q.ctx.Err() != nil {
		return
	}
	if err := send(q.ctx, t); err != nil {
		q.logf("log tail of %s run %d not delivered: %v", t.describe(), t.Run, err)
	}
}

// Send queues r; it never blocks. After Close it does nothing.
func (q *Queue) Send(r Report) { q.put(item{report: r}) }

// SendLogs queues a run's log tail; it never blocks. After Close it does nothing.
func (q *Queue) SendLogs(t LogTail) { q.put(item{logs: &t}) }

func (q *Queue) put(it item) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	select {
	case q.reports <- it:
	default:
		if it.logs == nil {
			q.dropped++
		} else {
			q.logf("log tail of %s run %d dropped: the report queue is full", it.logs.describe(), it.logs.Run)
		}
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
