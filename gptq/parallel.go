package gptq

import "github.com/qtk-dev/qtk/internal/linalg"

// parallelFor is linalg.ParallelFor: chunks of [0, n) over the cores.
func parallelFor(n, grain int, f func(lo, hi int)) { linalg.ParallelFor(n, grain, f) }
