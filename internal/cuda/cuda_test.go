package cuda

import (
	"strings"
	"testing"
)

// TestOpenWithoutGPU: where no GPU is usable, Open says why; where one
// is, a device that does not exist is refused.
func TestOpenWithoutGPU(t *testing.T) {
	n, err := Count()
	if err != nil {
		if !strings.Contains(err.Error(), "libcuda") && !strings.Contains(err.Error(), "cuInit") {
			t.Errorf("Count: %v, want the driver library or its initialization named", err)
		}
		if _, err := Open(0); err == nil {
			t.Error("Open succeeded without a driver")
		}
		return
	}
	if _, err := Open(n); err == nil || !strings.Contains(err.Error(), "no such device") {
		t.Errorf("Open(%d) of %d devices: %v", n, n, err)
	}
}

func TestCStrings(t *testing.T) {
	for _, s := range []string{"", "cuInit", "kernels.cu"} {
		if got := goString(cString(s)); got != s {
			t.Errorf("round trip of %q gave %q", s, got)
		}
	}
	if goString(nil) != "" {
		t.Error("nil C string is not empty")
	}
}

// TestKernelsCompile compiles kernels.cu for Hopper with NVRTC, which
// needs no GPU: a syntax or type error in a kernel fails here, on any
// machine with the library, instead of at the first launch on a GPU.
func TestKernelsCompile(t *testing.T) {
	if err := loadNVRTC(); err != nil {
		t.Skipf("no NVRTC: %v", err)
	}
	ptx, err := compile(90)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range kernelNames {
		if !strings.Contains(string(ptx), ".entry "+name+"(") {
			t.Errorf("kernel %s is not in the PTX", name)
		}
	}
}

// TestDecodeSplits: a decode's keys split by the cache's length, not the
// position, with scratch only where there is more than one split.
func TestDecodeSplits(t *testing.T) {
	for _, c := range []struct {
		a                 Attention
		splits            int
		partial, arrivals int
	}{
		{Attention{Heads: 32, HeadDim: 128, Seqs: 1, N: 1, Start: 5, MaxKeys: 256}, 4, 4 * 32 * 4 * 130, 4 * 32},
		{Attention{Heads: 32, HeadDim: 128, Seqs: 1, N: 1, Start: 200, MaxKeys: 256}, 4, 4 * 32 * 4 * 130, 4 * 32},
		{Attention{Heads: 4, HeadDim: 16, Seqs: 2, N: 1, MaxKeys: 64}, 1, 0, 0},
		{Attention{Heads: 4, HeadDim: 16, Seqs: 2, N: 1, MaxKeys: 65}, 2, 4 * 2 * 4 * 2 * 18, 4 * 2 * 4},
		{Attention{Heads: 4, HeadDim: 16, Seqs: 1, N: 1, MaxKeys: 100000}, maxDecodeSplits, 4 * 4 * maxDecodeSplits * 18, 4 * 4},
		{Attention{Heads: 4, HeadDim: 16, Seqs: 1, N: 1, Start: 99}, 2, 4 * 4 * 2 * 18, 4 * 4}, // MaxKeys 0: Start+N
		{Attention{Heads: 4, HeadDim: 16, Seqs: 1, N: 7, MaxKeys: 4096}, 32, 0, 0},             // not a decode
	} {
		if got := decodeSplits(c.a); got != c.splits && c.a.N == 1 {
			t.Errorf("%+v: %d splits, want %d", c.a, got, c.splits)
		}
		if p, a := AttentionScratchBytes(c.a); p != c.partial || a != c.arrivals {
			t.Errorf("%+v: scratch %d, %d bytes, want %d, %d", c.a, p, a, c.partial, c.arrivals)
		}
	}
}
