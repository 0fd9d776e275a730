package main

import (
	"fmt"
	"os"
	"time"
)

// progress reports a long loop on stderr: a line redrawn in place on a
// terminal, and a line per tenth of the work otherwise.
type progress struct {
	what     string
	tty      bool
	start    time.Time
	lastTick int
	drawn    bool
}

func newProgress(what string) *progress {
	tty := false
	if info, err := os.Stderr.Stat(); err == nil {
		tty = info.Mode()&os.ModeCharDevice != 0
	}
	return &progress{what: what, tty: tty, start: time.Now()}
}

func (p *progress) update(done, total int) {
	elapsed := time.Since(p.start)
	eta := time.Duration(float64(elapsed) / float64(done) * float64(total-done)).Round(time.Second)
	line := fmt.Sprintf("%s %d/%d, %s elapsed, ETA %s", p.what, done, total, elapsed.Round(time.Second), eta)
	if p.tty {
		fmt.Fprintf(os.Stderr, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	if tick := done * 10 / total; tick > p.lastTick || done == total {
		p.lastTick = tick
		fmt.Fprintln(os.Stderr, line)
	}
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(os.Stderr)
		p.drawn = false
	}
}
