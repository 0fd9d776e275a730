package cuda

import "fmt"

// ReadStreamBlocks is the grid of ReadStream: sink holds a word for each.
const ReadStreamBlocks = 512

// ReadStreamMark is the xor of the words one thread of ReadStream reads
// that makes its block write it to sink.
const ReadStreamMark = 0x9E3779B9

// ReadStream reads the first bytes (a multiple of 16) of src on a grid of
// ReadStreamBlocks blocks, launched with programmatic dependent launch, and
// writes sink[b] only where a thread of block b read words whose xor is
// ReadStreamMark: memory traffic without arithmetic, the ceiling that
// benchmarks set the GEMV against.
func (c *Ctx) ReadStream(sink, src Buffer, bytes int) error {
	if bytes <= 0 || bytes%16 != 0 || src.ptr%16 != 0 || src.bytes < uintptr(bytes) || sink.bytes < 4*ReadStreamBlocks {
		return fmt.Errorf("read stream: %d bytes of a buffer of %d at %#x, sink of %d bytes", bytes, src.bytes, src.ptr, sink.bytes)
	}
	return c.LaunchGridPDL("read_stream", Dim{X: ReadStreamBlocks}, Dim{X: 256}, 0, sink, src, int64(bytes/16))
}
