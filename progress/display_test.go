package progress

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by the given steps, one per call.
type fakeClock struct {
	t     time.Time
	steps []time.Duration
}

func (c *fakeClock) now() time.Time {
	if len(c.steps) > 0 {
		c.t = c.t.Add(c.steps[0])
		c.steps = c.steps[1:]
	}
	return c.t
}

type report struct {
	done, total int
	after       time.Duration // time since the previous report
}

func TestDisplay(t *testing.T) {
	tests := []struct {
		name    string
		tty     bool
		reports []report
		want    []string // substrings, in order
		lines   int      // newline-terminated lines written
		absent  string
	}{
		{"terminal bar redrawn in place", true,
			[]report{{0, 4, 0}, {1, 4, 2 * time.Second}, {2, 4, 2 * time.Second}, {4, 4, 4 * time.Second}},
			[]string{"\r\033[Klayers [" + strings.Repeat(".", 24) + "] 0/4   0% 0s, ETA -",
				"\r\033[Klayers [######" + strings.Repeat(".", 18) + "] 1/4  25% 2s, ETA 6s",
				"2/4  50% 4s, ETA 4s",
				"\r\033[Klayers [" + strings.Repeat("#", 24) + "] 4/4 100% 8s\n"},
			1, "level="},
		{"log: first, every interval, last", false,
			[]report{{0, 1000, 0}, {1, 1000, time.Second}, {2, 1000, LogInterval}, {3, 1000, time.Second}, {1000, 1000, time.Second}},
			[]string{"step=layers done=0 total=1000 elapsed=0\n",
				"step=layers done=2 total=1000 elapsed=6 eta=2994\n",
				"step=layers done=1000 total=1000 elapsed=8\n"},
			3, "\r"},
		{"log: a fast step logs its first and last line", false,
			[]report{{0, 1000, 0}, {500, 1000, time.Millisecond}, {1000, 1000, time.Millisecond}},
			[]string{"done=0 total=1000", "done=1000 total=1000"},
			2, "done=500"},
		{"log: a step of few units logs each", false,
			[]report{{0, 4, 0}, {1, 4, time.Millisecond}, {2, 4, time.Millisecond}, {4, 4, time.Millisecond}},
			[]string{"done=0 total=4", "done=1 total=4", "done=2 total=4", "done=4 total=4"},
			4, "\r"},
		{"done past total is clamped", true,
			[]report{{7, 4, time.Second}},
			[]string{"4/4 100%"}, 1, "7/4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				},
			}))
			d := NewDisplay(&out, tt.tty, logger)
			clock := &fakeClock{t: time.Unix(0, 0)}
			d.now = clock.now
			for _, r := range tt.reports {
				clock.steps = append(clock.steps, r.after)
				d.Func().Report("layers", r.done, r.total)
			}
			got := out.String()
			rest := got
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output %q: missing %q (in order)", got, w)
				}
				rest = rest[i+len(w):]
			}
			if n := strings.Count(got, "\n"); n != tt.lines {
				t.Errorf("output %q: %d lines, want %d", got, n, tt.lines)
			}
			if strings.Contains(got, tt.absent) {
				t.Errorf("output %q contains %q", got, tt.absent)
			}
		})
	}
}

func TestDisplayLogAboveBar(t *testing.T) {
	var out bytes.Buffer
	d := NewDisplay(&out, true, nil)
	d.Report("eval", 1, 2)
	d.Write([]byte("a log line\n"))
	want := "\r\033[Keval [############............] 1/2  50% 0s, ETA 0s" +
		"\r\033[Ka log line\n" +
		"eval [############............] 1/2  50% 0s, ETA 0s"
	if out.String() != want {
		t.Fatalf("got %q\nwant %q", out.String(), want)
	}
}

func TestFuncNilAndPrefixed(t *testing.T) {
	var f Func
	f.Report("ignored", 1, 2) // must not panic
	if f.Prefixed("x") != nil {
		t.Fatal("prefixing a nil Func gives a Func")
	}
	var got string
	f = func(step string, done, total int) { got = step }
	f.Prefixed("small-rtn").Report("windows", 1, 2)
	if got != "small-rtn: windows" {
		t.Fatalf("step %q", got)
	}
}
