package cuda

import (
	"bytes"
	"testing"
)

// TestCopyParallel: copyParallel copies what copy copies, however the
// lengths split over the cores.
func TestCopyParallel(t *testing.T) {
	for _, c := range []struct{ dst, src int }{
		{0, 10}, {10, 0}, {100, 100}, {parallelCopyBytes, parallelCopyBytes},
		{3*parallelCopyBytes + 7, 5*parallelCopyBytes + 1}, {9*parallelCopyBytes + 3, 9*parallelCopyBytes + 3},
		{17 * parallelCopyBytes, 2*parallelCopyBytes + 5},
	} {
		src := make([]byte, c.src)
		for i := range src {
			src[i] = byte(i*7 + i>>11)
		}
		got, want := make([]byte, c.dst), make([]byte, c.dst)
		for i := range got {
			got[i], want[i] = 0xee, 0xee
		}
		if n, wn := copyParallel(got, src), copy(want, src); n != wn || !bytes.Equal(got, want) {
			t.Errorf("dst %d, src %d bytes: copied %d (want %d), equal %v", c.dst, c.src, n, wn, bytes.Equal(got, want))
		}
	}
}
