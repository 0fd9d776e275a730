package linalg

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// ParallelFor calls f on consecutive chunks [lo, hi) of [0, n), each at
// most grain long, from up to GOMAXPROCS goroutines that take the next
// chunk when they finish one; it returns when all chunks are done. Chunks
// are handed out from the end of the range, where the triangular updates
// of the factorizations have the most work, so that the last ones to
// finish are small. Chunk bounds don't depend on the number of
// goroutines, so neither do results that are deterministic per chunk.
func ParallelFor(n, grain int, f func(lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	chunks := (n + grain - 1) / grain
	var next atomic.Int64
	work := func() {
		for {
			c := chunks - int(next.Add(1))
			if c < 0 {
				return
			}
			f(c*grain, min((c+1)*grain, n))
		}
	}
	workers := min(runtime.GOMAXPROCS(0), chunks)
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}
