package gptq

import (
	"cmp"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/quant"
)

// openGPU returns the first GPU as a backend that sweeps, skipping the
// test where there is none.
func openGPU(tb testing.TB) compute.Backend {
	tb.Helper()
	g, err := compute.OpenCUDA(0)
	if err != nil {
		tb.Skipf("no GPU: %v", err)
	}
	tb.Cleanup(g.Close)
	if _, ok := g.(compute.Sweeper); !ok {
		tb.Fatalf("%s does not sweep", g.Name())
	}
	return g
}

// sweepDiff compares two quantizations of w: the fraction of codes and
// of group parameters that differ, and the relative difference of their
// output errors ‖(W-Ŵ)·Xᵀ‖ on x.
func sweepDiff(a, b *quant.Tensor, w, x []float32, rows int) (codes, params, outErr float64) {
	for i, q := range a.Q {
		if q != b.Q[i] {
			codes++
		}
	}
	for i, s := range a.Scale {
		if s != b.Scale[i] || a.Zero[i] != b.Zero[i] {
			params++
		}
	}
	ea := math.Sqrt(outputError(w, a.Dequantize(), a.Out, a.In, x, rows))
	eb := math.Sqrt(outputError(w, b.Dequantize(), b.Out, b.In, x, rows))
	return codes / float64(len(a.Q)), params / float64(len(a.Scale)), math.Abs(ea-eb) / eb
}

// outErrTolerance bounds the relative change of the output error that
// code flips at rounding boundaries may cause. 8-bit codes are 16 times
// finer than 4-bit ones: a flip is as many times likelier, and moves its
// row's path as much against a smaller error.
func outErrTolerance(s quant.Scheme) float64 {
	if s.Bits == 8 {
		return 1e-2
	}
	return 1e-3
}

// deviceSweepCases are the shapes and options the device's sweep is
// checked on.
var deviceSweepCases = []deviceSweepCase{
	// One block: exact.
	{37, 96, Options{Scheme: scheme4(32)}, false},
	{50, 128, Options{Scheme: scheme4(-1), ActOrder: true}, false},
	{33, 128, Options{Scheme: quant.Scheme{Bits: 4, GroupSize: 32, Symmetric: true}}, false},
	{33, 128, Options{Scheme: quant.Scheme{Bits: 4, GroupSize: 64, MinZero: 1}, ActOrder: true}, false},
	{33, 128, Options{Scheme: quant.Scheme{Bits: 8, GroupSize: 32, BF16Scales: true}}, true},
	{64, 128, Options{Scheme: scheme4(16), ActOrder: true, StaticGroups: true}, true},
	// Several blocks, a partial last one, groups across blocks.
	{64, 512, Options{Scheme: scheme4(128)}, false},
	{64, 512, Options{Scheme: scheme4(128), ActOrder: true}, true},
	{64, 512, Options{Scheme: quant.Scheme{Bits: 8, GroupSize: 128}}, false},
	{37, 200, Options{Scheme: scheme4(-1)}, false},
	{37, 200, Options{Scheme: scheme4(50)}, false},
	{37, 200, Options{Scheme: scheme4(50), ActOrder: true}, false},
	{37, 200, Options{Scheme: scheme4(50), ActOrder: true, StaticGroups: true}, true},
	{40, 512, Options{Scheme: scheme4(256)}, false},
	{300, 384, Options{Scheme: scheme4(128), BlockSize: 96}, false},
	{300, 384, Options{Scheme: quant.Scheme{Bits: 4, GroupSize: 64, Symmetric: true}, ActOrder: true}, false},
}

type deviceSweepCase struct {
	out, in int
	o       Options
	dead    bool // a few input channels are always zero
}

// inputs returns the case's weights and rows calibration inputs, zeroing
// the dead channels where it has them.
func (tc deviceSweepCase) inputs(rows int) (w, x []float32) {
	w, x, _ = calibrated(uint64(tc.out*tc.in), tc.out, tc.in, rows)
	if tc.dead {
		for r := range rows {
			x[r*tc.in+3], x[r*tc.in+tc.in-5] = 0, 0
		}
	}
	return w, x
}

// TestDeviceSweepMatchesCPU runs the sweep on the GPU and on the CPU from
// one plan. Within the first block both round exactly alike, so matrices
// of one block must agree exactly; after it, the lazy updates sum in
// another order and a code may flip at a rounding boundary (and the rest
// of its row follow another, equally good, path), which must stay rare
// and leave the output error as it was.
func TestDeviceSweepMatchesCPU(t *testing.T) {
	gpu := openGPU(t)
	for _, tc := range deviceSweepCases {
		exact := tc.in <= cmp.Or(tc.o.BlockSize, DefaultBlockSize)
		t.Run(fmt.Sprintf("%dx%d/%s", tc.out, tc.in, optName(tc.o)), func(t *testing.T) {
			const rows = 1024
			w, x := tc.inputs(rows)
			h := NewHessian(tc.in)
			h.Add(x, rows)
			if err := checkInputs(w, tc.out, tc.in, h, Options{Scheme: tc.o.Scheme}); err != nil {
				t.Fatal(err)
			}
			o, err := tc.o.resolved()
			if err != nil {
				t.Fatal(err)
			}
			p, err := newPlan(h, o)
			if err != nil {
				t.Fatal(err)
			}
			cpuGrid := newSchemeGrid(tc.out, tc.in, groupIndex(p.perm, o), o)
			cpuLoss, err := newSweep(w, tc.out, tc.in, p, cpuGrid, o).runCPU()
			if err != nil {
				t.Fatal(err)
			}
			o.Backend = gpu
			gpuGrid := newSchemeGrid(tc.out, tc.in, groupIndex(p.perm, o), o)
			s := newSweep(w, tc.out, tc.in, p, gpuGrid, o)
			job, why := s.deviceJob()
			if why != "" {
				t.Fatalf("sweep kept on the CPU: %s", why)
			}
			gpuLoss, err := s.runOn(gpu.(compute.Sweeper), job)
			if err != nil {
				t.Fatal(err)
			}
			checkTensor(t, gpuGrid.t, tc.out, tc.in, o.Scheme)
			codes, params, outErr := sweepDiff(gpuGrid.t, cpuGrid.t, w, x, rows)
			lossErr := math.Abs(gpuLoss-cpuLoss) / cpuLoss
			t.Logf("codes differing %.3g%%, group parameters %.3g%%, output error %.3g relative, loss %v vs %v",
				100*codes, 100*params, outErr, gpuLoss, cpuLoss)
			if exact {
				if codes != 0 || params != 0 || lossErr > 1e-12 {
					t.Errorf("one block: the GPU's sweep differs from the CPU's")
				}
				return
			}
			if codes > 0.01 || params > 0.01 || outErr > outErrTolerance(o.Scheme) || lossErr > outErrTolerance(o.Scheme) {
				t.Errorf("the GPU's sweep differs from the CPU's beyond float32 summation order")
			}
		})
	}
}

// TestQuantizeOnGPU: Quantize on the GPU backend sweeps there, and gives
// what it gives on the CPU.
func TestQuantizeOnGPU(t *testing.T) {
	gpu := openGPU(t)
	const out, in, rows = 256, 640, 1024
	w, x, h := calibrated(12, out, in, rows)
	o := Options{Scheme: scheme4(128), ActOrder: true}
	cpu, err := Quantize(w, out, in, h, o)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	o.Backend = gpu
	o.Log = func(format string, args ...any) { fmt.Fprintf(&log, format+"\n", args...) }
	res, err := Quantize(w, out, in, h, o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "on the CPU") {
		t.Fatalf("the sweep stayed on the CPU: %s", log.String())
	}
	checkTensor(t, res.Tensor, out, in, o.Scheme)
	codes, params, outErr := sweepDiff(res.Tensor, cpu.Tensor, w, x, rows)
	t.Logf("codes differing %.3g%%, group parameters %.3g%%, output error %.3g relative, loss %v vs %v",
		100*codes, 100*params, outErr, res.Loss, cpu.Loss)
	if codes > 0.01 || params > 0.01 || outErr > 1e-3 || math.Abs(res.Loss-cpu.Loss) > 1e-3*cpu.Loss {
		t.Error("Quantize on the GPU differs from Quantize on the CPU beyond float32 summation order")
	}
}

// hostFactoring is a GPU backend whose Factorizer is hidden: Quantize
// reads H to the host and factorizes it from there.
type hostFactoring struct {
	compute.Backend
	compute.Sweeper
}

// TestDeviceFactorMatchesHost: with the Hessian accumulated on the GPU,
// Quantize factorizes it there and gives the codes it gives when H and U
// travel through the host: the same doubles go into the same cuSOLVER
// calls, and U is rounded to float32 alike.
func TestDeviceFactorMatchesHost(t *testing.T) {
	gpu := openGPU(t)
	viaHost := hostFactoring{gpu, gpu.(compute.Sweeper)}
	for _, tc := range deviceSweepCases {
		t.Run(fmt.Sprintf("%dx%d/%s", tc.out, tc.in, optName(tc.o)), func(t *testing.T) {
			const rows = 1024
			w, x := tc.inputs(rows)
			h := NewHessianOn(gpu, tc.in)
			defer h.Release()
			h.Add(x, rows)
			var log strings.Builder
			o := tc.o
			o.Backend = gpu
			o.Log = func(format string, args ...any) { fmt.Fprintf(&log, format+"\n", args...) }
			onDevice, err := Quantize(w, tc.out, tc.in, h, o)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log.String(), "factorized on the device") || h.h != nil {
				t.Fatalf("H left the device; log %q", log.String())
			}
			o.Backend = viaHost
			host, err := Quantize(w, tc.out, tc.in, h, o)
			if err != nil {
				t.Fatal(err)
			}
			checkTensor(t, onDevice.Tensor, tc.out, tc.in, o.Scheme)
			codes, params, _ := sweepDiff(onDevice.Tensor, host.Tensor, w, x, rows)
			if codes != 0 || params != 0 || onDevice.Loss != host.Loss || onDevice.Damp != host.Damp {
				t.Errorf("codes differing %.3g%%, group parameters %.3g%%, loss %v vs %v, damp %v vs %v; want the same",
					100*codes, 100*params, onDevice.Loss, host.Loss, onDevice.Damp, host.Damp)
			}
		})
	}
}
