package cuda

import (
	"fmt"
	"math"
	"unsafe"
)

// launchGrid runs kernel name on grid blocks of block threads with shmem
// bytes of dynamic shared memory. args are the kernel's parameters in
// order, each a Buffer, int32, float32 or float64.
func (c *Ctx) launchGrid(name string, grid, block, shmem int, args ...any) error {
	fn, ok := c.kernels[name]
	if !ok {
		return fmt.Errorf("cuLaunchKernel: no kernel %s", name)
	}
	vals := make([]uint64, len(args))
	params := make([]unsafe.Pointer, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case Buffer:
			vals[i] = uint64(v.ptr)
		case int32:
			vals[i] = uint64(uint32(v))
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
	return check("cuLaunchKernel("+name+")", cuLaunchKernel(fn, uint32(grid), 1, 1, uint32(block), 1, 1, uint32(shmem), c.stream, first, nil))
}
