package kubelet

import (
	"bytes"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"anex.local/agent-build/agent/pkg/agentapi"
)

// LogOptions are containerLogs' query parameters, validated as the API server validates
// PodLogOptions; sinceSeconds is already turned into SinceTime.
type LogOptions struct {
	Follow     bool
	Previous   bool
	Timestamps bool
	TailLines  *int64
	LimitBytes *int64
	SinceTime  *time.Time
}

// parseLogOptions reads the kubelet's containerLogs query. now turns sinceSeconds into a time.
func parseLogOptions(q url.Values, now time.Time) (LogOptions, error) {
	var o LogOptions
	var err error
	for name, dst := range map[string]*bool{"follow": &o.Follow, "previous": &o.Previous, "timestamps": &o.Timestamps} {
		if *dst, err = boolParam(q, name); err != nil {
			return o, err
		}
	}
	if o.TailLines, err = intParam(q, "tailLines", 0); err != nil {
		return o, err
	}
	if o.LimitBytes, err = intParam(q, "limitBytes", 1); err != nil {
		return o, err
	}
	seconds, err := intParam(q, "sinceSeconds", 1)
	if err != nil {
		return o, err
	}
	if s := q.Get("sinceTime"); s != "" {
		if seconds != nil {
			return o, fmt.Errorf("at most one of sinceTime or sinceSeconds may be specified")
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return o, fmt.Errorf("sinceTime %q is not an RFC 3339 time", s)
		}
		o.SinceTime = &t
	} else if seconds != nil {
		t := now.Add(-time.Duration(*seconds) * time.Second)
		o.SinceTime = &t
	}
	return o, nil
}

func boolParam(q url.Values, name string) (bool, error) {
	s := q.Get(name)
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%s must be true or false, not %q", name, s)
	}
	return v, nil
}

func intParam(q url.Values, name string, min int64) (*int64, error) {
	s := q.Get(name)
	if s == "" {
		return nil, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%s must be an integer, not %q", name, s)
	}
	if v < min {
		return nil, fmt.Errorf("%s must be at least %d", name, min)
	}
	return &v, nil
}

// agentQuery is the agent's /v1/logs query for these options (agentapi names).
func (o LogOptions) agentQuery(container string) url.Values {
	q := url.Values{agentapi.QueryContainer: {container}}
	q.Set(agentapi.QueryPrevious, strconv.FormatBool(o.Previous))
	q.Set(agentapi.QueryFollow, strconv.FormatBool(o.Follow))
	q.Set(agentapi.QueryTimestamps, strconv.FormatBool(o.Timestamps))
	if o.TailLines != nil {
		q.Set(agentapi.QueryTailLines, strconv.FormatInt(*o.TailLines, 10))
	}
	if o.LimitBytes != nil {
		q.Set(agentapi.QueryLimitBytes, strconv.FormatInt(*o.LimitBytes, 10))
	}
	if o.SinceTime != nil {
		q.Set(agentapi.QuerySinceTime, o.SinceTime.UTC().Format(time.RFC3339Nano))
	}
	return q
}

// timeFormatOut is the kubelet's fixed-width RFC3339Nano for `timestamps=true` (CRI logs'
// RFC3339NanoFixed), as the agent writes it too.
const timeFormatOut = "2006-01-02T15:04:05.000000000Z07:00"

// renderTail applies the options to a saved tail as the kubelet applies them to a CRI log
// file: lines before sinceTime dropped, then the last tailLines kept, each with its time
// first when timestamps is set, the whole cut at limitBytes. An entry whose time cannot be
// read is kept by sinceTime (it cannot be shown to be older) and printed with its raw text.
func renderTail(entries []TailEntry, o LogOptions) []byte {
	kept := make([]TailEntry, 0, len(entries))
	for _, e := range entries {
		if o.SinceTime != nil {
			if t, err := time.Parse(time.RFC3339Nano, e.Time); err == nil && t.Before(*o.SinceTime) {
				continue
			}
		}
		kept = append(kept, e)
	}
	if o.TailLines != nil && int64(len(kept)) > *o.TailLines {
		kept = kept[int64(len(kept))-*o.TailLines:]
	}
	var out bytes.Buffer
	for _, e := range kept {
		if o.Timestamps {
			stamp := e.Time
			if t, err := time.Parse(time.RFC3339Nano, e.Time); err == nil {
				stamp = t.UTC().Format(timeFormatOut)
			}
			out.WriteString(stamp)
			out.WriteByte(' ')
		}
		out.WriteString(e.Line)
		out.WriteByte('\n')
	}
	b := out.Bytes()
	if o.LimitBytes != nil && int64(len(b)) > *o.LimitBytes {
		b = b[:*o.LimitBytes]
	}
	return b
}
