package gptq

import (
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/compute"
)

// hostTensor is a Tensor of no device.
type hostTensor []float32

func (t hostTensor) Len() int                 { return len(t) }
func (t hostTensor) Upload([]float32) error   { return nil }
func (t hostTensor) Download([]float32) error { return nil }
func (t hostTensor) Release()                 {}

var _ compute.Tensor = hostTensor(nil)

// TestAddTensorNeedsADeviceGram: the CPU's Gram takes no device tensors,
// which the Hessian reports instead of adding nothing silently.
func TestAddTensorNeedsADeviceGram(t *testing.T) {
	h := NewHessian(4)
	h.AddTensor(hostTensor(make([]float32, 8)), 2)
	if err := h.Err(); err == nil || !strings.Contains(err.Error(), "device tensors") {
		t.Errorf("AddTensor on the CPU: %v", err)
	}
	if h.N() != 0 {
		t.Errorf("%d rows counted", h.N())
	}
}

// TestAddTensorOnGPU: AddTensor gives the Hessian Add gives for the
// same rows, on the GPU.
func TestAddTensorOnGPU(t *testing.T) {
	be, err := compute.OpenCUDA(0)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	defer be.Close()
	const in, rows = 8, 5
	x := make([]float32, rows*in)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	byAdd, byTensor := NewHessianOn(be, in), NewHessianOn(be, in)
	defer byAdd.Release()
	defer byTensor.Release()
	xt, err := be.(compute.Resident).NewTensor(len(x))
	if err != nil {
		t.Fatal(err)
	}
	defer xt.Release()
	if err := xt.Upload(x); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		byAdd.Add(x, rows)
		byTensor.AddTensor(xt, rows)
	}
	want, err := byAdd.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	got, err := byTensor.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	if byTensor.N() != byAdd.N() {
		t.Errorf("%d rows counted, Add counts %d", byTensor.N(), byAdd.N())
	}
	for i := range in {
		for j := i; j < in; j++ {
			if got[i*in+j] != want[i*in+j] {
				t.Errorf("H[%d][%d] = %v, Add gives %v", i, j, got[i*in+j], want[i*in+j])
			}
		}
	}
}
