package logbuf

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)

// clock returns t0, t0+1s, t0+2s, … one step per reading.
func clock() func() time.Time {
	n := 0
	return func() time.Time {
		n++
		return t0.Add(time.Duration(n-1) * time.Second)
	}
}

func texts(entries []Entry) []string {
	out := []string{}
	for _, e := range entries {
		mark := ""
		if e.Partial {
			mark = "+"
		}
		out = append(out, e.Stream[3:4]+":"+e.Text+mark)
	}
	return out
}

func TestLineSplitting(t *testing.T) {
	long := strings.Repeat("x", MaxLine)
	// a 3-byte rune straddling the cut goes whole into the next piece
	straddle := strings.Repeat("y", MaxLine-1) + "€z"
	cases := []struct {
		name   string
		writes []struct{ stream, data string }
		want   []string
	}{
		{"lines in one write", []struct{ stream, data string }{{Stdout, "a\nb\n"}}, []string{"o:a", "o:b"}},
		{"a line over two writes", []struct{ stream, data string }{{Stdout, "he"}, {Stdout, "llo\n"}}, []string{"o:hello"}},
		{"streams keep their own pending line", []struct{ stream, data string }{{Stdout, "out"}, {Stderr, "err\n"}, {Stdout, "put\n"}}, []string{"e:err", "o:output"}},
		{"empty line", []struct{ stream, data string }{{Stdout, "\n"}}, []string{"o:"}},
		{"no newline at the end: a line at End", []struct{ stream, data string }{{Stderr, "tail"}}, []string{"e:tail"}},
		{"a line of exactly MaxLine is one entry", []struct{ stream, data string }{{Stdout, long + "\n"}}, []string{"o:" + long}},
		{"a longer line is split into partial entries", []struct{ stream, data string }{{Stdout, long + "ab\n"}}, []string{"o:" + long + "+", "o:ab"}},
		{"split without splitting a rune", []struct{ stream, data string }{{Stdout, straddle + "\n"}}, []string{"o:" + strings.Repeat("y", MaxLine-1) + "+", "o:€z"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := New(0).Begin(0)
			for _, w := range c.writes {
				if n, err := run.Writer(w.stream).Write([]byte(w.data)); err != nil || n != len(w.data) {
					t.Fatalf("write: %d, %v", n, err)
				}
			}
			run.End()
			entries, dropped := run.Snapshot()
			if got := strings.Join(texts(entries), "|"); got != strings.Join(c.want, "|") {
				t.Fatalf("entries\n got %.200q\nwant %.200q", got, strings.Join(c.want, "|"))
			}
			if dropped != 0 {
				t.Fatalf("dropped %d", dropped)
			}
		})
	}
}

func TestCapDropsOldestAndCounts(t *testing.T) {
	b := New(10)
	run := b.Begin(0)
	_, _ = run.Writer(Stdout).Write([]byte("aaaa\nbbbb\ncccc\n"))
	entries, dropped := run.Snapshot()
	if got := strings.Join(texts(entries), "|"); got != "o:bbbb|o:cccc" || dropped != 1 {
		t.Fatalf("got %s, dropped %d", got, dropped)
	}
}

func TestBeginRotatesCurrentToPrevious(t *testing.T) {
	b := New(0)
	if b.Current() != nil || b.Previous() != nil {
		t.Fatal("a new buffer has runs")
	}
	first := b.Begin(0)
	_, _ = first.Writer(Stdout).Write([]byte("one\nunfinished"))
	second := b.Begin(1)
	third := b.Begin(2)
	if !first.Ended() || !second.Ended() || third.Ended() {
		t.Fatal("Begin must end the run it replaces")
	}
	if b.Previous() != second || b.Current() != third || b.Previous().Number != 1 {
		t.Fatal("previous is the run before the current one")
	}
	entries, _ := first.Snapshot()
	if got := strings.Join(texts(entries), "|"); got != "o:one|o:unfinished" {
		t.Fatalf("the replaced run's pending line is kept: %s", got)
	}
}

func TestRead(t *testing.T) {
	b := New(0)
	b.SetClock(clock())
	run := b.Begin(0)
	for _, w := range []struct{ stream, data string }{
		{Stdout, "one\n"}, {Stderr, "two\n"}, {Stdout, "three\n"}, {Stdout, strings.Repeat("p", MaxLine) + "q\n"},
	} {
		_, _ = run.Writer(w.stream).Write([]byte(w.data))
	}
	run.End()
	ts := func(i int) string { return t0.Add(time.Duration(i) * time.Second).Format(TimeFormat) }
	long := strings.Repeat("p", MaxLine) + "q\n"
	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"everything", Options{TailLines: -1}, "one\ntwo\nthree\n" + long},
		{"tailLines counts entries from the end", Options{TailLines: 3}, "three\n" + long},
		{"tailLines 0", Options{TailLines: 0}, ""},
		{"tailLines above the count", Options{TailLines: 100}, "one\ntwo\nthree\n" + long},
		{"sinceTime skips older entries", Options{TailLines: -1, Since: t0.Add(2 * time.Second)}, "three\n" + long},
		{"sinceTime between entries", Options{TailLines: -1, Since: t0.Add(1500 * time.Millisecond)}, "three\n" + long},
		{"timestamps: one prefix per line, not per piece", Options{TailLines: 3, Timestamps: true}, ts(2) + " three\n" + ts(3) + " " + long},
		{"limitBytes cuts inside a line", Options{TailLines: -1, LimitBytes: 6}, "one\ntw"},
		{"limitBytes at a line's end", Options{TailLines: -1, LimitBytes: 8}, "one\ntwo\n"},
		{"limitBytes counts the prefix", Options{TailLines: -1, LimitBytes: 10, Timestamps: true}, ts(0)[:10]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run.Read(context.Background(), &out, c.o); err != nil {
				t.Fatal(err)
			}
			if out.String() != c.want {
				t.Fatalf("\n got %.120q\nwant %.120q", out.String(), c.want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe to read while a follower writes.
type syncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{mu: make(chan struct{}, 1)} }
func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.buf.Write(p)
}
func (s *syncBuffer) String() string {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.buf.String()
}

func TestFollowStreamsNewLinesUntilTheRunEnds(t *testing.T) {
	run := New(0).Begin(0)
	_, _ = run.Writer(Stdout).Write([]byte("before\n"))
	out := newSyncBuffer()
	done := make(chan error, 1)
	go func() { done <- run.Read(context.Background(), out, Options{TailLines: -1, Follow: true}) }()
	waitFor(t, func() bool { return out.String() == "before\n" })
	_, _ = run.Writer(Stderr).Write([]byte("after\n"))
	waitFor(t, func() bool { return out.String() == "before\nafter\n" })
	select {
	case <-done:
		t.Fatal("follow ended while the run runs")
	case <-time.After(50 * time.Millisecond):
	}
	_, _ = run.Writer(Stdout).Write([]byte("last words"))
	run.End()
	select {
	case err := <-done:
		if err != nil || out.String() != "before\nafter\nlast words\n" {
			t.Fatalf("%v, %q", err, out.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end with the run")
	}
}

func TestFollowEndsWithTheContext(t *testing.T) {
	run := New(0).Begin(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run.Read(ctx, &bytes.Buffer{}, Options{TailLines: -1, Follow: true}) }()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("want the context's error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end with its context")
	}
}

func TestFollowOfAnEndedRunReturnsAtOnce(t *testing.T) {
	run := New(0).Begin(0)
	_, _ = run.Writer(Stdout).Write([]byte("x\n"))
	run.End()
	var out bytes.Buffer
	if err := run.Read(context.Background(), &out, Options{TailLines: -1, Follow: true}); err != nil || out.String() != "x\n" {
		t.Fatalf("%v %q", err, out.String())
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWatchSeesOnlyNewEntries(t *testing.T) {
	run := New(0).Begin(0)
	_, _ = run.Writer(Stdout).Write([]byte("old\n"))
	got := make(chan string, 8)
	done := make(chan error, 1)
	go func() {
		done <- run.Watch(context.Background(), func(e Entry) error {
			got <- e.Stream + ":" + e.Text
			return nil
		})
	}()
	// Watch starts at some point after "old": write until it has seen a line.
	deadline := time.Now().Add(5 * time.Second)
	first := ""
	for first == "" && time.Now().Before(deadline) {
		_, _ = run.Writer(Stderr).Write([]byte("new\n"))
		select {
		case first = <-got:
		case <-time.After(10 * time.Millisecond):
		}
	}
	if first != "stderr:new" {
		t.Fatalf("first entry watched %q", first)
	}
	run.End()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not end with the run")
	}
}
