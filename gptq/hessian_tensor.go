package gptq

import (
	"fmt"
	"math"

	"github.com/qtk-dev/qtk/compute"
)

// AddTensor is Add for calibration inputs x [rows×in] held on a Resident
// backend's device, the Hessian's own (see NewHessianOn): the rows are
// folded in there, without a copy to the host.
func (h *Hessian) AddTensor(x compute.Tensor, rows int) {
	if h.err != nil || rows == 0 {
		return
	}
	g, ok := h.gram.(compute.TensorGram)
	switch {
	case !ok:
		h.err = fmt.Errorf("gptq: hessian add: the backend's Gram takes no device tensors")
		return
	case rows < 0 || rows > math.MaxInt/h.in || x.Len() < rows*h.in:
		h.err = fmt.Errorf("gptq: hessian add: tensor of %d values for %d rows of %d channels", x.Len(), rows, h.in)
		return
	}
	total := h.n + rows
	h.stale()
	if err := g.AddTensor(x, rows, float64(h.n)/float64(total), 2/float64(total)); err != nil {
		h.err = fmt.Errorf("gptq: hessian add: %w", err)
		return
	}
	h.n = total
}
