package cuda

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// Device is one GPU, owned by a goroutine locked to its OS thread. Every
// use goes through Do; a Device is safe for concurrent use, calls being
// served one at a time.
type Device struct {
	Ordinal int
	Name    string
	// Arch is the compute capability as major·10+minor (90 on Hopper).
	Arch int
	// TotalBytes is the device memory.
	TotalBytes uint64

	work      chan func()
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	ctx       *Ctx
}

// Ctx is the device as seen from its owning goroutine, inside Do: the
// only place CUDA is called from.
type Ctx struct {
	dev     int32
	context uintptr
	module  uintptr
	kernels map[string]uintptr
	blas    uintptr // cuBLAS handle, created on first use
	solver  uintptr // cuSOLVER handle, created on first use
	stream  uintptr // where kernels are launched: 0, or a stream being recorded (see Record)
	frees   uint64  // buffers freed so far (see Frees)
	decode  string  // the GEMV layout of one row Int4GEMV runs, "" for the one by shape (see SetInt4Decode)
	// maxShared is the dynamic shared memory a block may opt in to;
	// sharedOptin the amount each kernel has opted in to so far.
	maxShared   int
	sharedOptin map[uintptr]int
	// pdl: LaunchGridPDL uses programmatic dependent launch, which the
	// device has when pdlAvailable (see pdl.go).
	// pdlDefaultRefused: the driver refused it on the default stream.
	pdl, pdlAvailable, pdlDefaultRefused bool
}

// Count returns the number of CUDA devices, or an error when the driver
// cannot be loaded.
func Count() (int, error) {
	if err := loadDriver(); err != nil {
		return 0, err
	}
	var n int32
	if err := check("cuDeviceGetCount", cuDeviceGetCount(&n)); err != nil {
		return 0, err
	}
	return int(n), nil
}

// Open takes GPU ordinal, retains its primary context on a new owner
// goroutine and compiles the kernels for its architecture.
func Open(ordinal int) (*Device, error) {
	n, err := Count()
	if err != nil {
		return nil, err
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("cuda:%d: no such device (%d found)", ordinal, n)
	}
	d := &Device{Ordinal: ordinal, work: make(chan func()), quit: make(chan struct{}), done: make(chan struct{})}
	started := make(chan error)
	go d.own(started)
	if err := <-started; err != nil {
		return nil, fmt.Errorf("cuda:%d: %w", ordinal, err)
	}
	return d, nil
}

// own is the owner goroutine: it sets the context current on its thread
// and runs the work sent by Do until Close.
func (d *Device) own(started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c, err := d.start()
	started <- err
	if err != nil {
		return
	}
	d.ctx = c
	for {
		select {
		case f := <-d.work:
			f()
		case <-d.quit:
			c.release()
			close(d.done)
			return
		}
	}
}

func (d *Device) start() (*Ctx, error) {
	c := &Ctx{kernels: map[string]uintptr{}, sharedOptin: map[uintptr]int{}}
	if err := check("cuDeviceGet", cuDeviceGet(&c.dev, int32(d.Ordinal))); err != nil {
		return nil, err
	}
	name := make([]byte, 256)
	if err := check("cuDeviceGetName", cuDeviceGetName(&name[0], int32(len(name)), c.dev)); err != nil {
		return nil, err
	}
	d.Name = goString(&name[0])
	var major, minor int32
	if err := check("cuDeviceGetAttribute", cuDeviceGetAttribute(&major, attrComputeMajor, c.dev)); err != nil {
		return nil, err
	}
	if err := check("cuDeviceGetAttribute", cuDeviceGetAttribute(&minor, attrComputeMinor, c.dev)); err != nil {
		return nil, err
	}
	d.Arch = int(major*10 + minor)
	var optin int32
	if err := check("cuDeviceGetAttribute", cuDeviceGetAttribute(&optin, attrMaxSharedOptinBlock, c.dev)); err != nil {
		return nil, err
	}
	c.maxShared = max(int(optin), maxBlockShared)
	if err := check("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain(&c.context, c.dev)); err != nil {
		return nil, err
	}
	if err := check("cuCtxSetCurrent", cuCtxSetCurrent(c.context)); err != nil {
		cuDevicePrimaryCtxRelease(c.dev)
		return nil, err
	}
	var free, total uintptr
	if err := check("cuMemGetInfo", cuMemGetInfo(&free, &total)); err != nil {
		cuDevicePrimaryCtxRelease(c.dev)
		return nil, err
	}
	d.TotalBytes = uint64(total)
	if err := c.loadKernels(d.Arch); err != nil {
		cuDevicePrimaryCtxRelease(c.dev)
		return nil, err
	}
	c.pdlAvailable = pdlAvailable(d.Arch)
	c.pdl = c.pdlAvailable
	return c, nil
}

func (c *Ctx) release() {
	if c.blas != 0 {
		cublasDestroy(c.blas)
	}
	if c.solver != 0 {
		cusolverDnDestroy(c.solver)
	}
	cuDevicePrimaryCtxRelease(c.dev)
}

// Do runs f on the owner goroutine and returns its error.
func (d *Device) Do(f func(c *Ctx) error) error {
	errc := make(chan error, 1)
	select {
	case d.work <- func() { errc <- f(d.ctx) }:
	case <-d.done:
		return fmt.Errorf("cuda:%d: device is closed", d.Ordinal)
	}
	return <-errc
}

// Close ends the owner goroutine and releases the context. Buffers not
// freed before are released with it.
func (d *Device) Close() {
	d.closeOnce.Do(func() { close(d.quit) })
	<-d.done
}

// Buffer is a block of device memory.
type Buffer struct {
	ptr   uintptr
	bytes uintptr
}

// Bytes is the size of the buffer.
func (b Buffer) Bytes() int { return int(b.bytes) }

// Offset returns the buffer from byte off on.
func (b Buffer) Offset(off int) Buffer {
	return Buffer{ptr: b.ptr + uintptr(off), bytes: b.bytes - uintptr(off)}
}

// Alloc allocates bytes of device memory.
func (c *Ctx) Alloc(bytes int) (Buffer, error) {
	var p uintptr
	if err := check(fmt.Sprintf("cuMemAlloc(%d bytes)", bytes), cuMemAlloc(&p, uintptr(max(bytes, 1)))); err != nil {
		return Buffer{}, err
	}
	return Buffer{ptr: p, bytes: uintptr(bytes)}, nil
}

// Free releases a buffer; freeing the zero Buffer does nothing.
func (c *Ctx) Free(b Buffer) error {
	if b.ptr == 0 {
		return nil
	}
	c.frees++
	return check("cuMemFree", cuMemFree(b.ptr))
}

// Frees counts the buffers freed so far: while it stays the same, every
// buffer a Graph recorded earlier launched its kernels on is still held.
func (c *Ctx) Frees() uint64 { return c.frees }

// MemInUse returns the device memory in use, by every process.
func (c *Ctx) MemInUse() (uint64, error) {
	var free, total uintptr
	if err := check("cuMemGetInfo", cuMemGetInfo(&free, &total)); err != nil {
		return 0, err
	}
	return uint64(total - free), nil
}

// Download copies the start of src into dst.
func Download[T uint8 | uint16 | int32 | uint32 | float32 | float64](c *Ctx, dst []T, src Buffer) error {
	n := uintptr(len(dst)) * unsafe.Sizeof(dst[0])
	if n > src.bytes {
		return fmt.Errorf("cuMemcpyDtoH: %d bytes from a buffer of %d", n, src.bytes)
	}
	if n == 0 {
		return nil
	}
	return check("cuMemcpyDtoH", cuMemcpyDtoH(unsafe.Pointer(unsafe.SliceData(dst)), src.ptr, n))
}

// Copy copies the first bytes of src to dst, on the device.
func (c *Ctx) Copy(dst, src Buffer, bytes int) error {
	if uintptr(bytes) > dst.bytes || uintptr(bytes) > src.bytes {
		return fmt.Errorf("cuMemcpyDtoD: %d bytes between buffers of %d and %d", bytes, src.bytes, dst.bytes)
	}
	return check("cuMemcpyDtoD", cuMemcpyDtoD(dst.ptr, src.ptr, uintptr(bytes)))
}

// Pinned is page-locked host memory: copies between it and the device run
// at the full speed of the bus, where copies from ordinary (pageable)
// memory are staged by the driver.
type Pinned struct {
	ptr   unsafe.Pointer
	bytes int
}

// Bytes is the size of the buffer.
func (p Pinned) Bytes() int { return p.bytes }

// AllocPinned allocates bytes of page-locked host memory.
func (c *Ctx) AllocPinned(bytes int) (Pinned, error) {
	var p unsafe.Pointer
	if err := check(fmt.Sprintf("cuMemAllocHost(%d bytes)", bytes), cuMemAllocHost(&p, uintptr(max(bytes, 1)))); err != nil {
		return Pinned{}, err
	}
	return Pinned{ptr: p, bytes: bytes}, nil
}

// FreePinned releases page-locked memory; the zero Pinned is ignored.
func (c *Ctx) FreePinned(p Pinned) error {
	if p.ptr == nil {
		return nil
	}
	return check("cuMemFreeHost", cuMemFreeHost(p.ptr))
}

// UploadVia copies src into dst through the page-locked stage, in pieces
// of the stage's size.
func UploadVia[T uint8 | uint16 | int32 | uint32 | float32 | float64](c *Ctx, dst Buffer, src []T, stage Pinned) error {
	b := asBytes(src)
	if uintptr(len(b)) > dst.bytes {
		return fmt.Errorf("cuMemcpyHtoD: %d bytes into a buffer of %d", len(b), dst.bytes)
	}
	st := unsafe.Slice((*byte)(stage.ptr), stage.bytes)
	for off := 0; off < len(b); off += stage.bytes {
		n := copyParallel(st, b[off:])
		if err := check("cuMemcpyHtoD", cuMemcpyHtoD(dst.ptr+uintptr(off), stage.ptr, uintptr(n))); err != nil {
			return err
		}
	}
	return nil
}

// DownloadVia copies the start of src into dst through the page-locked
// stage.
func DownloadVia[T uint8 | uint16 | int32 | uint32 | float32 | float64](c *Ctx, dst []T, src Buffer, stage Pinned) error {
	b := asBytes(dst)
	if uintptr(len(b)) > src.bytes {
		return fmt.Errorf("cuMemcpyDtoH: %d bytes from a buffer of %d", len(b), src.bytes)
	}
	st := unsafe.Slice((*byte)(stage.ptr), stage.bytes)
	for off := 0; off < len(b); off += stage.bytes {
		n := min(stage.bytes, len(b)-off)
		if err := check("cuMemcpyDtoH", cuMemcpyDtoH(stage.ptr, src.ptr+uintptr(off), uintptr(n))); err != nil {
			return err
		}
		copyParallel(b[off:off+n], st)
	}
	return nil
}

func asBytes[T uint8 | uint16 | int32 | uint32 | float32 | float64](x []T) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(x))), len(x)*int(unsafe.Sizeof(x[0])))
}

// Synchronize waits for all work queued on the device.
func (c *Ctx) Synchronize() error { return check("cuCtxSynchronize", cuCtxSynchronize()) }
