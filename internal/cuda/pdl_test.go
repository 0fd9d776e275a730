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
