package cuda

import (
	"runtime"
	"sync"
)

// parallelCopyBytes is the least a goroutine of copyParallel copies.
const parallelCopyBytes = 4 << 20

// copyParallel is copy(dst, src) spread over the cores in pieces of at
// least parallelCopyBytes: one core copies between ordinary and
// page-locked memory more slowly than the bus carries the page-locked
// stage to and from the device.
func copyParallel(dst, src []byte) int {
	n := min(len(dst), len(src))
	pieces := min(runtime.GOMAXPROCS(0), n/parallelCopyBytes)
	if pieces <= 1 {
		return copy(dst, src)
	}
	step := (n + pieces - 1) / pieces
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		wg.Go(func() { copy(dst[lo:hi], src[lo:hi]) })
	}
	wg.Wait()
	return n
}
