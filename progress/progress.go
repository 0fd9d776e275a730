// Package progress carries the progress of long steps (calibration and
// quantization layer by layer, evaluation windows, conversion) from the
// packages doing the work to whoever shows it. Library code only calls a
// Func; Display draws it on a terminal or logs it.
package progress

// Func receives progress: done of total units of step are finished. A
// step is reported first with done 0 (so its start time is known) and
// last with done == total.
type Func func(step string, done, total int)

// Report calls f when it is set, so callers need not check for nil.
func (f Func) Report(step string, done, total int) {
	if f != nil {
		f(step, done, total)
	}
}

// Prefixed returns a Func that reports each step as "prefix: step", to
// tell apart the same step run on several inputs.
func (f Func) Prefixed(prefix string) Func {
	if f == nil {
		return nil
	}
	return func(step string, done, total int) { f(prefix+": "+step, done, total) }
}
