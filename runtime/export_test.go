package runtime

import "github.com/qtk-dev/qtk/compute"

// NewFakeResident returns the host-memory test double of a Resident
// backend to the package's external tests.
func NewFakeResident() compute.Resident { return newFakeResident() }

// halfCPU is the CPU backend holding its float16 weights (a head) as the
// GPU does, rounded to float16 (widened back for the CPU's products): the
// reference of a model whose head a device holds in float16.
type halfCPU struct{ compute.Backend }

// The GPU holds a weight whose width is not a multiple of 8 in float32.
func (halfCPU) NewHalfLinear(w []float32, out, in int) (compute.Linear, error) {
	if in%8 != 0 {
		return compute.CPU.NewLinear(w, out, in)
	}
	return compute.CPU.NewLinear(compute.HalfRounded(w[:out*in]), out, in)
}

// NewHalfHeadCPU returns halfCPU to the package's external tests.
func NewHalfHeadCPU() compute.Backend { return halfCPU{compute.CPU} }
