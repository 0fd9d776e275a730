package cuda

import (
	"fmt"
	"sync"
	"unsafe"
)

// The driver API (libcuda), as far as qtk uses it. Handles and device
// pointers are uintptr; CUresult is a C int.
var (
	cuInit                    func(flags uint32) int32
	cuGetErrorName            func(status int32, name **byte) int32
	cuDeviceGetCount          func(count *int32) int32
	cuDeviceGet               func(dev *int32, ordinal int32) int32
	cuDeviceGetName           func(name *byte, size int32, dev int32) int32
	cuDeviceGetAttribute      func(v *int32, attr int32, dev int32) int32
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) int32
	cuDevicePrimaryCtxRelease func(dev int32) int32
	cuCtxSetCurrent           func(ctx uintptr) int32
	cuCtxSynchronize          func() int32
	cuMemAlloc                func(ptr *uintptr, size uintptr) int32
	cuMemFree                 func(ptr uintptr) int32
	cuMemGetInfo              func(free, total *uintptr) int32
	cuMemAllocHost            func(p *unsafe.Pointer, size uintptr) int32
	cuMemFreeHost             func(p unsafe.Pointer) int32
	cuMemcpyHtoD              func(dst uintptr, src unsafe.Pointer, size uintptr) int32
	cuMemcpyDtoH              func(dst unsafe.Pointer, src uintptr, size uintptr) int32
	cuMemcpyDtoD              func(dst, src uintptr, size uintptr) int32
	cuModuleLoadData          func(mod *uintptr, image unsafe.Pointer) int32
	cuModuleGetFunction       func(fn *uintptr, mod uintptr, name *byte) int32
	cuLaunchKernel            func(fn uintptr, gx, gy, gz, bx, by, bz, shmem uint32, stream uintptr, params *unsafe.Pointer, extra *unsafe.Pointer) int32
	cuFuncSetAttribute        func(fn uintptr, attr int32, value int32) int32
)

// Device attributes (CUdevice_attribute).
const (
	attrComputeMajor         = 75
	attrComputeMinor         = 76
	attrMaxSharedOptinBlock  = 97 // the most shared memory a block may opt in to
	funcAttrMaxDynamicShared = 8  // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
)

var driver struct {
	once sync.Once
	err  error
	lib  uintptr // libcuda's handle
}

// loadDriver binds libcuda once per process and initializes it.
func loadDriver() error {
	driver.once.Do(func() {
		lib, err := open("libcuda.so.1", "libcuda.so")
		if err != nil {
			driver.err = fmt.Errorf("no NVIDIA driver: %w", err)
			return
		}
		driver.lib = lib
		driver.err = bind(lib, "libcuda", []symbol{
			{&cuInit, "cuInit"},
			{&cuGetErrorName, "cuGetErrorName"},
			{&cuDeviceGetCount, "cuDeviceGetCount"},
			{&cuDeviceGet, "cuDeviceGet"},
			{&cuDeviceGetName, "cuDeviceGetName"},
			{&cuDeviceGetAttribute, "cuDeviceGetAttribute"},
			{&cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"},
			{&cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"},
			{&cuCtxSetCurrent, "cuCtxSetCurrent"},
			{&cuCtxSynchronize, "cuCtxSynchronize"},
			{&cuMemAlloc, "cuMemAlloc_v2"},
			{&cuMemFree, "cuMemFree_v2"},
			{&cuMemGetInfo, "cuMemGetInfo_v2"},
			{&cuMemAllocHost, "cuMemAllocHost_v2"},
			{&cuMemFreeHost, "cuMemFreeHost"},
			{&cuMemcpyHtoD, "cuMemcpyHtoD_v2"},
			{&cuMemcpyDtoH, "cuMemcpyDtoH_v2"},
			{&cuMemcpyDtoD, "cuMemcpyDtoD_v2"},
			{&cuModuleLoadData, "cuModuleLoadData"},
			{&cuModuleGetFunction, "cuModuleGetFunction"},
			{&cuLaunchKernel, "cuLaunchKernel"},
			{&cuFuncSetAttribute, "cuFuncSetAttribute"},
		})
		if driver.err == nil {
			driver.err = check("cuInit", cuInit(0))
		}
	})
	return driver.err
}

// check turns a CUresult into an error naming the call.
func check(call string, status int32) error {
	if status == 0 {
		return nil
	}
	name := "unknown error"
	var p *byte
	if cuGetErrorName != nil && cuGetErrorName(status, &p) == 0 && p != nil {
		name = goString(p)
	}
	return fmt.Errorf("%s: %s (%d)", call, name, status)
}

// goString copies a NUL-terminated C string.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	var b []byte
	for q := unsafe.Pointer(p); *(*byte)(q) != 0; q = unsafe.Add(q, 1) {
		b = append(b, *(*byte)(q))
	}
	return string(b)
}

// cString returns s NUL-terminated.
func cString(s string) *byte {
	b := append([]byte(s), 0)
	return &b[0]
}
