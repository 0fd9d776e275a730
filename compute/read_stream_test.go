package compute

import (
	"testing"

	"github.com/qtk-dev/qtk/internal/cuda"
)

// TestReadStream: the read ceiling of the GEMV benchmarks reads every word
// it is given: a buffer of zeros whose last 16 bytes hold ReadStreamMark
// makes exactly one block write the mark, and a mark past the bytes read
// makes none.
func TestReadStream(t *testing.T) {
	be, err := OpenCUDA(0)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	defer be.Close()
	g := be.(*gpu)
	for _, tc := range []struct {
		words, read, marked int // uint4 words in the buffer, read, written
	}{
		{1, 1, 1},
		{1000, 1000, 1},
		{1 << 20, 1<<20 - 3, 0},
		{1<<20 + 5, 1<<20 + 5, 1},
	} {
		src := make([]int32, 4*tc.words)
		mark := uint32(cuda.ReadStreamMark)
		src[len(src)-4] = int32(mark)
		sink := make([]int32, cuda.ReadStreamBlocks)
		err := g.dev.Do(func(c *cuda.Ctx) error {
			s, err := c.Alloc(16 * tc.words)
			if err != nil {
				return err
			}
			defer c.Free(s)
			d, err := c.Alloc(4 * cuda.ReadStreamBlocks)
			if err != nil {
				return err
			}
			defer c.Free(d)
			if err := upload(g, c, s, src); err != nil {
				return err
			}
			if err := upload(g, c, d, sink); err != nil {
				return err
			}
			if err := c.ReadStream(d, s, 16*tc.read); err != nil {
				return err
			}
			return download(g, c, sink, d)
		})
		if err != nil {
			t.Fatal(err)
		}
		marked := 0
		for b, v := range sink {
			switch uint32(v) {
			case 0:
			case mark:
				marked++
			default:
				t.Errorf("%d of %d words: block %d wrote %#x", tc.read, tc.words, b, uint32(v))
			}
		}
		if marked != tc.marked {
			t.Errorf("%d of %d words: %d blocks wrote the mark, want %d", tc.read, tc.words, marked, tc.marked)
		}
	}
}
