package cuda

import (
	"strings"
	"testing"
	"unsafe"
)

// TestLaunchConfigLayout: the launch structures match the driver's
// CUlaunchConfig and CUlaunchAttribute on 64-bit Linux.
func TestLaunchConfigLayout(t *testing.T) {
	var cfg launchConfig
	var attr launchAttribute
	for _, c := range []struct {
		what      string
		got, want uintptr
	}{
		{"sizeof(CUlaunchConfig)", unsafe.Sizeof(cfg), 56},
		{"offsetof(sharedMemBytes)", unsafe.Offsetof(cfg.sharedBytes), 24},
		{"offsetof(hStream)", unsafe.Offsetof(cfg.stream), 32},
		{"offsetof(attrs)", unsafe.Offsetof(cfg.attrs), 40},
		{"offsetof(numAttrs)", unsafe.Offsetof(cfg.numAttrs), 48},
		{"sizeof(CUlaunchAttribute)", unsafe.Sizeof(attr), 72},
		{"offsetof(value)", unsafe.Offsetof(attr.value), 8},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
}

// TestKernelsWaitForGrids: compiled for Hopper, the kernels carry the
// instructions of programmatic dependent launch (which the guards in
// chained_launch.cu leave out before it).
func TestKernelsWaitForGrids(t *testing.T) {
	if err := loadNVRTC(); err != nil {
		t.Skipf("no NVRTC: %v", err)
	}
	ptx, err := compile(90)
	if err != nil {
		t.Fatal(err)
	}
	for _, instr := range []string{"griddepcontrol.wait", "griddepcontrol.launch_dependents"} {
		if !strings.Contains(string(ptx), instr) {
			t.Errorf("no %s in the PTX", instr)
		}
	}
}

// TestAttentionRopeRefused: RoPE fused into the attention serves a decode
// (one token a sequence) with all its frequencies, and nothing else; the
// checks come before any launch.
func TestAttentionRopeRefused(t *testing.T) {
	base := Attention{Heads: 4, KVHeads: 2, HeadDim: 16, Seqs: 1, QStride: 128, KeyPosStride: 64, ValueOffset: 32, MaxKeys: 8}
	for _, c := range []struct {
		what string
		a    func(a Attention) Attention
		want string
	}{
		{"prefill", func(a Attention) Attention { a.N, a.RopeInvFreq = 3, Buffer{ptr: 256, bytes: 32}; return a }, "only into a decode"},
		{"short frequencies", func(a Attention) Attention { a.N, a.RopeInvFreq = 1, Buffer{ptr: 256, bytes: 16}; return a }, "RoPE frequencies"},
	} {
		var ctx Ctx
		q := Buffer{ptr: 1024, bytes: 4096}
		a := c.a(base)
		if a.N == 1 {
			a.Partial, a.Arrived = Buffer{ptr: 4096, bytes: 1 << 20}, Buffer{ptr: 8192, bytes: 1 << 10}
		}
		err := ctx.Attention(q, q, q, a)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.what, err, c.want)
		}
	}
}
