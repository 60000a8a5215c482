// Package logbuf keeps a container's output the way the kubelet's log files do
// (docs/adr/0023-kubelet-api.md §5): one bounded buffer per run, the current run and the one
// before it, each line time-stamped and tagged with its stream as in the CRI log format
// (`<RFC3339Nano> <stream> <P|F> <text>`). Reads follow kubelet's ReadLogs
// (pkg/kubelet/kuberuntime/logs): tailLines counts entries from the end, sinceTime skips older
// entries, timestamps prefixes each entry with its RFC3339NanoFixed time and a space,
// limitBytes cuts the output at that many bytes, and follow streams new entries until the run
// ends.
package logbuf

import (
	"bytes"
	"context"
	"io"
	"sync"
	"time"
	"unicode/utf8"
)

// Streams of an entry.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// MaxLine is the longest entry text: a longer line is split into partial entries, as
// container runtimes split at their 16 KiB read buffer (CRI tag P). The endpoint refuses
// longer lines (lib/tunnel/endpoint/logs.ts LOG_LINE_MAX_BYTES).
const MaxLine = 16 * 1024

// DefaultRunBytes is the text a run keeps before its oldest entries are dropped.
const DefaultRunBytes = 4 << 20

// TimeFormat is how a timestamp prefixes a line (kubelet's timeFormatOut, RFC3339NanoFixed):
// fixed width, so prefixed lines sort as text.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Entry is one line (or one piece of a line longer than MaxLine).
type Entry struct {
	// Time is when the line was read, UTC.
	Time   time.Time
	Stream string
	// Text is the line without its newline.
	Text string
	// Partial: the line goes on in the next entry of the same stream (CRI tag P); no newline
	// follows it on output.
	Partial bool
}

// Buffer is one container's output: its current run and the one before.
type Buffer struct {
	mu       sync.Mutex
	current  *Run
	previous *Run
	limit    int
	now      func() time.Time
}

// New makes an empty buffer keeping at most limit bytes of text per run (DefaultRunBytes when
// limit <= 0).
func New(limit int) *Buffer {
	if limit <= 0 {
		limit = DefaultRunBytes
	}
	return &Buffer{limit: limit, now: time.Now}
}

// SetClock replaces the clock (tests).
func (b *Buffer) SetClock(now func() time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = now
}

// Begin starts run number (its restartCount): the current run, ended if it was not, becomes
// the previous one (kubelet keeps one previous container's log).
func (b *Buffer) Begin(number int) *Run {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.current != nil {
		b.current.End()
		b.previous = b.current
	}
	b.current = &Run{Number: number, limit: b.limit, now: b.now, changed: make(chan struct{})}
	return b.current
}

// Current is the run in progress or the last one; nil before the first run.
func (b *Buffer) Current() *Run {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.current
}

// Previous is the run before the current one; nil when there was none.
func (b *Buffer) Previous() *Run {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.previous
}

// Run is one run's output.
type Run struct {
	// Number is the run's restartCount.
	Number int
	limit  int
	now    func() time.Time

	mu sync.Mutex
	// entries[head:] are kept; seq is the sequence number of entries[head].
	entries []Entry
	head    int
	seq     int
	bytes   int
	dropped int
	ended   bool
	// changed is closed (and replaced) whenever an entry is added or the run ends.
	changed chan struct{}
	// pending holds each stream's line read so far without its newline.
	pending map[string][]byte
}

// Writer is what the run's stream writes to: bytes are cut into lines at newlines (and at
// MaxLine); a line without its newline waits for more or for End.
func (r *Run) Writer(stream string) io.Writer { return streamWriter{r, stream} }

type streamWriter struct {
	r      *Run
	stream string
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.r.write(w.stream, p)
	return len(p), nil
}

func (r *Run) write(stream string, p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending == nil {
		r.pending = map[string][]byte{}
	}
	line := append(r.pending[stream], p...)
	at := r.now().UTC()
	added := false
split:
	for {
		end := bytes.IndexByte(line, '\n')
		switch {
		case end >= 0 && end <= MaxLine:
			r.add(Entry{Time: at, Stream: stream, Text: string(line[:end])})
			line = line[end+1:]
		case len(line) > MaxLine:
			cut := utf8Cut(line, MaxLine)
			r.add(Entry{Time: at, Stream: stream, Text: string(line[:cut]), Partial: true})
			line = line[cut:]
		default:
			break split
		}
		added = true
	}
	r.pending[stream] = append([]byte(nil), line...)
	if added {
		r.notify()
	}
}

// utf8Cut is where to cut b at most max bytes in without splitting a UTF-8 sequence (a
// sequence that is not valid UTF-8 is cut anywhere).
func utf8Cut(b []byte, max int) int {
	for cut := max; cut > max-utf8.UTFMax && cut > 0; cut-- {
		if utf8.RuneStart(b[cut]) {
			return cut
		}
	}
	return max
}

// add appends e and drops the oldest entries beyond the limit. Called with r.mu held.
func (r *Run) add(e Entry) {
	r.entries = append(r.entries, e)
	r.bytes += len(e.Text)
	for r.bytes > r.limit && r.head < len(r.entries)-1 {
		r.bytes -= len(r.entries[r.head].Text)
		r.entries[r.head] = Entry{}
		r.head++
		r.seq++
		r.dropped++
	}
	if r.head > 1024 && r.head*2 > len(r.entries) {
		r.entries = append([]Entry(nil), r.entries[r.head:]...)
		r.head = 0
	}
}

func (r *Run) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// End ends the run: what a stream wrote without a final newline becomes a line, and followers
// stop once they have read everything. Later writes (a child that outlived the run still
// printing) are kept but not followed. Ending twice does nothing.
func (r *Run) End() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return
	}
	r.flush()
	r.ended = true
	r.notify()
}

func (r *Run) flush() {
	at := r.now().UTC()
	for _, stream := range []string{Stdout, Stderr} {
		if line := r.pending[stream]; len(line) > 0 {
			r.add(Entry{Time: at, Stream: stream, Text: string(line)})
			r.pending[stream] = nil
		}
	}
}

// Ended reports whether the run has ended.
func (r *Run) Ended() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended
}

// Snapshot is every kept entry, oldest first, and how many older ones were dropped.
func (r *Run) Snapshot() ([]Entry, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Entry(nil), r.entries[r.head:]...), r.dropped
}

// Options are a read's kubelet log options.
type Options struct {
	// TailLines: only the last n entries (negative: all).
	TailLines int
	// Since: only entries at or after this time (zero: all).
	Since time.Time
	// LimitBytes: stop after this many bytes of output (0: no limit).
	LimitBytes int64
	// Timestamps: prefix each line with its TimeFormat time and a space.
	Timestamps bool
	// Follow: after what is there, stream new entries until the run ends or ctx does.
	Follow bool
	// Flush, when set, is called after each batch written (an HTTP response's Flush).
	Flush func()
}

// Read writes the run's output to w as Options say.
func (r *Run) Read(ctx context.Context, w io.Writer, o Options) error {
	r.mu.Lock()
	next := r.seq
	if o.TailLines >= 0 {
		next = max(r.seq, r.seq+len(r.entries)-r.head-o.TailLines)
	}
	r.mu.Unlock()
	out := &limited{w: w, left: o.LimitBytes}
	err := r.each(ctx, next, o.Follow, func(e Entry) error {
		if !o.Since.IsZero() && e.Time.Before(o.Since) {
			return nil
		}
		return out.entry(e, o.Timestamps)
	}, o.Flush)
	if err == errLimit {
		return nil
	}
	return err
}

// Watch calls fn with each entry added from now on, until the run ends (nil), ctx ends or fn
// fails (their error): what an attach streams.
func (r *Run) Watch(ctx context.Context, fn func(Entry) error) error {
	r.mu.Lock()
	next := r.seq + len(r.entries) - r.head
	r.mu.Unlock()
	return r.each(ctx, next, true, fn, nil)
}

// each calls fn with the entries from sequence number next on; with follow, also with those
// added later until the run ends. flush, when set, follows each batch.
func (r *Run) each(ctx context.Context, next int, follow bool, fn func(Entry) error, flush func()) error {
	for {
		r.mu.Lock()
		if next < r.seq {
			// Dropped while a follower was slow: it goes on from the oldest kept entry.
			next = r.seq
		}
		batch := append([]Entry(nil), r.entries[r.head+next-r.seq:]...)
		next += len(batch)
		done, changed := r.ended, r.changed
		r.mu.Unlock()
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(batch) > 0 && flush != nil {
			flush()
		}
		if !follow || done {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// errLimit ends a read at LimitBytes.
var errLimit = &limitError{}

type limitError struct{}

func (*limitError) Error() string { return "limitBytes reached" }

type limited struct {
	w    io.Writer
	left int64
	// partial: the previous entry was a partial one (no timestamp before its continuation)
	partial bool
}

func (l *limited) entry(e Entry, timestamps bool) error {
	line := make([]byte, 0, len(e.Text)+len(TimeFormat)+2)
	if timestamps && !l.partial {
		line = append(append(line, e.Time.Format(TimeFormat)...), ' ')
	}
	line = append(line, e.Text...)
	if !e.Partial {
		line = append(line, '\n')
	}
	l.partial = e.Partial
	if l.left > 0 && int64(len(line)) >= l.left {
		_, err := l.w.Write(line[:l.left])
		l.left = 0
		if err != nil {
			return err
		}
		return errLimit
	}
	if l.left > 0 {
		l.left -= int64(len(line))
	}
	_, err := l.w.Write(line)
	return err
}
