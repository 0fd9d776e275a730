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
