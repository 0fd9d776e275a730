package cuda

import (
	"fmt"
	"math"
	"unsafe"
)

// Dim3 is a CUDA grid or block size; zero components count as 1.
type Dim3 struct{ X, Y, Z int }

func (d Dim3) sizes() (x, y, z uint32) {
	return uint32(max(d.X, 1)), uint32(max(d.Y, 1)), uint32(max(d.Z, 1))
}

// LaunchGrid runs kernel name on grid blocks of block threads with shared
// bytes of dynamic shared memory. args are the kernel's parameters, each a
// Buffer, int32, int64, float32 or float64.
func (c *Ctx) LaunchGrid(name string, grid, block Dim3, shared int, args ...any) error {
	fn, ok := c.kernels[name]
	if !ok {
		return fmt.Errorf("cuLaunchKernel: no kernel %s", name)
	}
	if min(grid.X, grid.Y, grid.Z) < 0 || grid.X > math.MaxInt32 || grid.Y > 65535 || grid.Z > 65535 {
		return fmt.Errorf("cuLaunchKernel(%s): grid %v out of range", name, grid)
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
	var p *unsafe.Pointer
	if len(params) > 0 {
		p = &params[0]
	}
	gx, gy, gz := grid.sizes()
	bx, by, bz := block.sizes()
	return check("cuLaunchKernel("+name+")", cuLaunchKernel(fn, gx, gy, gz, bx, by, bz, uint32(shared), 0, p, nil))
}
