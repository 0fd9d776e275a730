package cuda

import (
	"os"
	"sync"
	"unsafe"
)

// Programmatic dependent launch (PDL, compute capability 9.0 on): a
// kernel launched with the attribute below may start before the kernel
// ahead of it in the stream has ended, so that its prologue (launch,
// loads of weights) overlaps that kernel's tail. In a recorded stream the
// driver turns it into a programmatic edge of the graph.

// cuLaunchKernelEx (CUDA 12.0 on) is bound on first use, so that an older
// driver still serves everything else.
var cuLaunchKernelEx func(config *launchConfig, fn uintptr, params *unsafe.Pointer, extra *unsafe.Pointer) int32

var launchExAPI struct {
	once sync.Once
	err  error
}

func loadLaunchEx() error {
	launchExAPI.once.Do(func() {
		launchExAPI.err = bind(driver.lib, "libcuda", []symbol{{&cuLaunchKernelEx, "cuLaunchKernelEx"}})
	})
	return launchExAPI.err
}

// launchConfig is the driver's CUlaunchConfig (56 bytes on 64-bit Linux).
type launchConfig struct {
	gridX, gridY, gridZ    uint32
	blockX, blockY, blockZ uint32
	sharedBytes            uint32
	stream                 uintptr
	attrs                  *launchAttribute
	numAttrs               uint32
}

// launchAttribute is the driver's CUlaunchAttribute: an id, padding to 8
// bytes, and a union of 64 bytes whose first int is the value used here.
type launchAttribute struct {
	id    uint32
	_     uint32
	value [8]uint64
}

// CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION.
const launchAttrProgrammaticStreamSerialization = 6

// NoPDLEnv names an environment variable that, set to 1, turns
// programmatic dependent launch off (every launch is a plain one).
const NoPDLEnv = "QTK_NO_PDL"

// pdlAvailable reports whether a device of compute capability arch can
// launch kernels with programmatic dependent launch.
func pdlAvailable(arch int) bool {
	return arch >= 90 && os.Getenv(NoPDLEnv) != "1" && loadLaunchEx() == nil
}

// PDL reports whether LaunchGridPDL launches with programmatic dependent
// launch. It turns false for good if the driver refuses a launch so.
func (c *Ctx) PDL() bool { return c.pdl }

// SetPDL turns programmatic dependent launch off, or back on where the
// device has it, and returns whether it was on (for benchmarks comparing
// the two).
func (c *Ctx) SetPDL(on bool) bool {
	was := c.pdl
	c.pdl = on && c.pdlAvailable
	return was
}
