package cuda

import (
	"fmt"
	"math"
	"runtime"
	"unsafe"
)

// Dim is the shape of a launch's grid (in blocks) or of its blocks (in
// threads); a zero Y or Z counts as 1.
type Dim struct{ X, Y, Z int }

func (d Dim) sizes() (x, y, z uint32) {
	return uint32(d.X), uint32(max(d.Y, 1)), uint32(max(d.Z, 1))
}

// LaunchGrid runs kernel name on a grid of blocks of threads with shared
// bytes of dynamic shared memory. Each argument is a Buffer, int32,
// int64, float32 or float64: the kernel's parameter types, in order.
func (c *Ctx) LaunchGrid(name string, grid, block Dim, shared int, args ...any) error {
	return c.launchGrid(name, grid, block, shared, false, args)
}

// LaunchGridPDL is LaunchGrid with programmatic dependent launch where
// the device has it (see [Ctx.PDL]): the kernel may start while the one
// before it in the stream still runs, once that one has executed
// griddepcontrol.launch_dependents (or ended). Only kernels that execute
// griddepcontrol.wait (grid_dependency_wait in kernels/chained_launch.cu)
// before they read or write memory earlier kernels write may be launched
// so; loads of data no kernel writes (weights) may come before the wait.
func (c *Ctx) LaunchGridPDL(name string, grid, block Dim, shared int, args ...any) error {
	return c.launchGrid(name, grid, block, shared, c.pdl && !(c.stream == 0 && c.pdlDefaultRefused), args)
}

func (c *Ctx) launchGrid(name string, grid, block Dim, shared int, pdl bool, args []any) error {
	fn, ok := c.kernels[name]
	if !ok {
		return fmt.Errorf("cuLaunchKernel: no kernel %s", name)
	}
	if grid.X <= 0 || block.X <= 0 || grid.Y < 0 || grid.Z < 0 || block.Y < 0 || block.Z < 0 || shared < 0 || shared > c.maxShared {
		return fmt.Errorf("cuLaunchKernel(%s): grid %+v, block %+v, %d shared bytes", name, grid, block, shared)
	}
	if shared > maxBlockShared && c.sharedOptin[fn] < shared {
		// More than a block gets by default: the kernel must opt in.
		if err := check("cuFuncSetAttribute("+name+")", cuFuncSetAttribute(fn, funcAttrMaxDynamicShared, int32(shared))); err != nil {
			return err
		}
		c.sharedOptin[fn] = shared
	}
	vals := make([]uint64, len(args))
	params := make([]unsafe.Pointer, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case Buffer:
			vals[i] = uint64(v.ptr)
		case int32:
			vals[i] = uint64(uint32(v))
		case int64:
			vals[i] = uint64(v)
		case float32:
			vals[i] = uint64(math.Float32bits(v))
		case float64:
			vals[i] = math.Float64bits(v)
		default:
			return fmt.Errorf("cuLaunchKernel(%s): argument %d of type %T", name, i, a)
		}
		params[i] = unsafe.Pointer(&vals[i])
	}
	var first *unsafe.Pointer
	if len(params) > 0 {
		first = &params[0]
	}
	gx, gy, gz := grid.sizes()
	bx, by, bz := block.sizes()
	if pdl {
		attr := launchAttribute{id: launchAttrProgrammaticStreamSerialization}
		attr.value[0] = 1 // programmaticStreamSerializationAllowed
		cfg := launchConfig{gx, gy, gz, bx, by, bz, uint32(shared), c.stream, &attr, 1}
		status := cuLaunchKernelEx(&cfg, fn, first, nil)
		runtime.KeepAlive(&attr)
		runtime.KeepAlive(vals)
		if status == 0 {
			return nil
		}
		// The driver refuses the attribute: launch as usual from now on,
		// on the default stream only if that is where it was refused.
		if c.stream == 0 {
			c.pdlDefaultRefused = true
		} else {
			c.pdl = false
		}
	}
	err := check("cuLaunchKernel("+name+")", cuLaunchKernel(fn, gx, gy, gz, bx, by, bz, uint32(shared), c.stream, first, nil))
	runtime.KeepAlive(vals)
	return err
}
