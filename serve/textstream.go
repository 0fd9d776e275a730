package serve

import (
	"strings"
)

// textStream turns generated token ids into text as they arrive and cuts it
// at the first stop string. Text is only released once it can no longer
// change: the tail that could be the start of a stop string, or an
// incomplete UTF-8 character (decoded as U+FFFD), is held back until the
// next token settles it.
type textStream struct {
	decode func(ids []int) string
	stops  []string
	ids    []int
	text   string // decoded text of ids, cut at a stop string once one is found
	sent   int    // bytes of text already released
	// checked is how much of text has been searched for stop strings.
	checked int
	stopped bool
}

func newTextStream(decode func([]int) string, stops []string) *textStream {
	return &textStream{decode: decode, stops: stops}
}

// add appends a token and returns the text it releases, and whether a stop
// string has now appeared (the text then ends before it, and further tokens
// are ignored).
func (ts *textStream) add(id int) (delta string, stopped bool) {
	if ts.stopped {
		return "", true
	}
	ts.ids = append(ts.ids, id)
	ts.text = ts.decode(ts.ids)
	if cut, ok := ts.findStop(); ok {
		ts.text = ts.text[:cut]
		ts.stopped = true
		return ts.release(len(ts.text)), true
	}
	return ts.release(ts.settled()), false
}

// flush releases everything held back; call it when the sequence ends.
func (ts *textStream) flush() string { return ts.release(len(ts.text)) }

// release returns text[sent:end] and marks it sent.
func (ts *textStream) release(end int) string {
	if end <= ts.sent {
		return ""
	}
	delta := ts.text[ts.sent:end]
	ts.sent = end
	return delta
}

// findStop returns where the earliest stop string begins, searching only
// text that could hold one that was not there before.
func (ts *textStream) findStop() (int, bool) {
	longest := 0
	for _, s := range ts.stops {
		longest = max(longest, len(s))
	}
	from := max(0, min(ts.checked, len(ts.text))-longest+1)
	ts.checked = len(ts.text)
	best := -1
	for _, s := range ts.stops {
		if i := strings.Index(ts.text[from:], s); i >= 0 && (best < 0 || from+i < best) {
			best = from + i
		}
	}
	return best, best >= 0
}

// settled is the length of the text that no later token can change.
func (ts *textStream) settled() int {
	end := len(ts.text)
	// An incomplete character decodes as U+FFFD until its last byte comes.
	for strings.HasSuffix(ts.text[:end], "\uFFFD") {
		end -= len("\uFFFD")
	}
	// Hold back a tail that a stop string begins with.
	hold := 0
	for _, s := range ts.stops {
		for n := min(len(s)-1, end); n > hold; n-- {
			if strings.HasSuffix(ts.text[:end], s[:n]) {
				hold = n
				break
			}
		}
	}
	return end - hold
}
