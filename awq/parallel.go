package awq

import "github.com/qtk-dev/qtk/internal/linalg"

// parallelGrain is about how many values one chunk of a parallel loop
// over a layer's weights handles.
const parallelGrain = 1 << 16

// forRows calls f on consecutive ranges [lo, hi) of rows rows of rowLen
// values, from up to GOMAXPROCS goroutines: the host's passes over a
// layer's weights (hundreds of MB at 7B shapes). f must only touch its
// rows, so that results do not depend on the split.
func forRows(rows, rowLen int, f func(lo, hi int)) {
	linalg.ParallelFor(rows, max(1, parallelGrain/max(1, rowLen)), f)
}
