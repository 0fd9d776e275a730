package compute

import (
	"fmt"

	"github.com/qtk-dev/qtk/internal/cuda"
)

// TensorGram is a Gram that also takes its inputs from a Resident
// backend's device memory (the GPU backend's Gram).
type TensorGram interface {
	Gram
	// AddTensor is Add for x [rows×n] held in the first rows·n elements
	// of a Tensor of the same backend, without copying it to the host.
	AddTensor(x Tensor, rows int, keep, scale float64) error
}

// CopyTensor copies the first n elements of src to dst, two Tensors of
// the same Resident backend, on its device.
func CopyTensor(dst, src Tensor, n int) error {
	d, okd := dst.(*gpuTensor)
	s, oks := src.(*gpuTensor)
	switch {
	case !okd || !oks || d.g != s.g:
		return fmt.Errorf("compute: copy between tensors of different devices")
	case n < 0 || n > d.n || n > s.n:
		return fmt.Errorf("compute: copy of %d elements between tensors of %d and %d", n, s.n, d.n)
	}
	return d.g.dev.Do(func(c *cuda.Ctx) error {
		if err := d.live(); err != nil {
			return err
		}
		if err := s.live(); err != nil {
			return err
		}
		return c.Copy(d.buf, s.buf, 4*n)
	})
}

// TensorView returns the n elements of t from off on, as a Tensor sharing
// t's memory on the device: valid while t is, not to be released.
func TensorView(t Tensor, off, n int) (Tensor, error) {
	gt, ok := t.(*gpuTensor)
	switch {
	case !ok:
		return nil, fmt.Errorf("compute: view of a tensor of no device")
	case off < 0 || n < 0 || off+n > gt.n:
		return nil, fmt.Errorf("compute: view of %d elements from %d of a tensor of %d", n, off, gt.n)
	}
	return &gpuTensor{g: gt.g, n: n, mem: gt.mem, buf: gt.buf.Offset(4 * off), view: true}, nil
}
