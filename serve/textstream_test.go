package serve

import (
	"strings"
	"testing"
)

// TestTextStream feeds "tokens" that are pieces of text (decode joins them)
// and checks what is released after each, and when a stop string ends it.
func TestTextStream(t *testing.T) {
	cases := []struct {
		name    string
		pieces  []string
		stops   []string
		deltas  []string // released after each piece
		flushed string   // released by flush at the end
		stopped int      // index of the piece that completes a stop string, -1 for none
	}{
		{"no stops", []string{"a", "b", "c"}, nil, []string{"a", "b", "c"}, "", -1},
		{"stop inside a piece", []string{"ab", "cSTOPd"}, []string{"STOP"}, []string{"ab", "c"}, "", 1},
		{"stop across pieces is held back", []string{"xS", "T", "OPy"}, []string{"STOP"}, []string{"x", "", ""}, "", 2},
		{"false start released", []string{"xS", "T", "x"}, []string{"STOP"}, []string{"x", "", "STx"}, "", -1},
		{"held tail flushed at the end", []string{"ab", "ST"}, []string{"STOP"}, []string{"ab", ""}, "ST", -1},
		{"earliest of several stops", []string{"one two", " three"}, []string{"three", "two"}, []string{"one ", ""}, "", 0},
		{"incomplete character held", []string{"a\uFFFD", "é"}, nil, []string{"a", "é"}, "", -1},
	}
	for _, c := range cases {
		var ids []int
		ts := newTextStream(func(ids []int) string {
			var b strings.Builder
			for _, id := range ids {
				p := c.pieces[id]
				// An incomplete character is completed by the next piece.
				if id+1 < len(ids) {
					p = strings.TrimSuffix(p, "\uFFFD")
				}
				b.WriteString(p)
			}
			return b.String()
		}, c.stops)
		stoppedAt := -1
		for i := range c.pieces {
			ids = append(ids, i)
			delta, stopped := ts.add(i)
			if stopped && stoppedAt < 0 {
				stoppedAt = i
			}
			if i < len(c.deltas) && delta != c.deltas[i] {
				t.Errorf("%s: piece %d released %q, want %q", c.name, i, delta, c.deltas[i])
			}
			if stopped {
				break
			}
		}
		if flushed := ts.flush(); flushed != c.flushed || stoppedAt != c.stopped {
			t.Errorf("%s: flushed %q, stopped at %d; want %q, %d", c.name, flushed, stoppedAt, c.flushed, c.stopped)
		}
	}
}
