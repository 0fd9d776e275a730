package convert

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/qtk-dev/qtk/calibrate"
	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/formats/hf"
	"github.com/qtk-dev/qtk/gptq"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
	"github.com/qtk-dev/qtk/runtime"
)

// residentGPU returns the GPU backend, or skips.
func residentGPU(t *testing.T) compute.Backend {
	t.Helper()
	be, err := compute.OpenCUDA(0)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	t.Cleanup(be.Close)
	return be
}

// hostOnly hides that a backend is Resident: calibration then runs on the
// CPU runtime with the projections on the backend. It still sweeps there.
type hostOnly struct {
	compute.Backend
	compute.Sweeper
}

func relDiff(got, want []float64) float64 {
	var d, w float64
	for i := range want {
		d += (got[i] - want[i]) * (got[i] - want[i])
		w += want[i] * want[i]
	}
	return math.Sqrt(d / w)
}

// TestResidentCalibrationMatchesHost: on the device, every stage's Hessians
// and the advanced activations equal those of the CPU runtime's passes.
func TestResidentCalibrationMatchesHost(t *testing.T) {
	be := residentGPU(t)
	ck := openTiny(t)
	cfg := ck.Config
	windows, err := calibrate.Windows(calibrationTokens(t, ck), calibrate.Options{Samples: 5, SeqLen: 40})
	if err != nil {
		t.Fatal(err)
	}
	acts, err := calibrate.Embed(ck, windows)
	if err != nil {
		t.Fatal(err)
	}
	w, err := runtime.ReadLayer(ck, 0)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Method: GPTQ, Backend: be}
	dev, err := newDeviceCalibration(cfg, acts, &opts)
	if err != nil || dev == nil {
		t.Fatalf("device calibration: %v (nil: %v)", err, dev == nil)
	}
	defer dev.release()
	dev.chunk = 2 // chunks of windows, the last one shorter
	dl := dev.layer(&w)
	defer dl.release()

	for _, stage := range gptqStages(true) {
		host := stageHessians(cfg, stage, compute.CPU)
		if err := observeHessians(cfg, w, acts, host, compute.CPU); err != nil {
			t.Fatal(err)
		}
		device := stageHessians(cfg, stage, be)
		if err := dl.observe(device); err != nil {
			t.Fatal(err)
		}
		for input, h := range host {
			if device[input].N() != h.N() {
				t.Errorf("%v %s: %d rows on the device, %d on the host", stage, input, device[input].N(), h.N())
			}
			if e := hessianDiff(t, device[input], h); !(e < 1e-5) {
				t.Errorf("%v %s: Hessians differ by %.3g", stage, input, e)
			}
		}
		releaseAll(host)
		releaseAll(device)
	}

	if err := dl.advance(); err != nil {
		t.Fatal(err)
	}
	got := make([][]float32, len(acts.X))
	for i := range got {
		got[i] = make([]float32, len(acts.X[i]))
	}
	if err := dev.download(got); err != nil {
		t.Fatal(err)
	}
	if err := acts.Advance(runtime.NewLayer(cfg, w)); err != nil {
		t.Fatal(err)
	}
	var flatGot, flatWant []float64
	for i := range got {
		for j := range got[i] {
			flatGot = append(flatGot, float64(got[i][j]))
			flatWant = append(flatWant, float64(acts.X[i][j]))
		}
	}
	if e := relDiff(flatGot, flatWant); !(e < 1e-5) {
		t.Errorf("advanced activations differ by %.3g", e)
	}
}

// hessianDiff is the relative difference of the upper triangles of two
// Hessians of the same size.
func hessianDiff(t *testing.T, a, b *gptq.Hessian) float64 {
	t.Helper()
	ma, err := a.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	mb, err := b.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	n := a.In()
	var ua, ub []float64
	for i := range n {
		ua = append(ua, ma[i*n+i:(i+1)*n]...)
		ub = append(ub, mb[i*n+i:(i+1)*n]...)
	}
	return relDiff(ua, ub)
}

// TestResidentGPTQMatchesHostPasses quantizes the bundled model with its
// calibration passes on the device and on the CPU runtime (projections on
// the GPU both times): the decided weights agree up to the codes that
// float32 rounding differences flip.
func TestResidentGPTQMatchesHostPasses(t *testing.T) {
	be := residentGPU(t)
	ck := openTiny(t)
	tokens := calibrationTokens(t, ck)
	run := func(be compute.Backend) map[decidedKey]*quant.Tensor {
		decided := map[decidedKey]*quant.Tensor{}
		opts := Options{Method: GPTQ, Format: hf.GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128}, Tokens: tokens, Backend: be,
			GPTQ:    GPTQOptions{TrueSequential: true, Damp: 0.01, BlockSize: 128},
			Decided: func(role model.Role, l int, q *quant.Tensor) { decided[decidedKey{role, l}] = q }}
		opts.Calib.Samples, opts.Calib.SeqLen = 4, 64
		if _, err := Quantize(context.Background(), ck, filepath.Join(t.TempDir(), "out"), false, opts); err != nil {
			t.Fatal(err)
		}
		return decided
	}
	device, host := run(be), run(hostOnly{be, be.(compute.Sweeper)})
	if len(device) != len(host) || len(host) == 0 {
		t.Fatalf("%d tensors decided on the device, %d on the host", len(device), len(host))
	}
	// Both runs see the same Hessians up to float32 summation order (see
	// TestResidentCalibrationMatchesHost), but GPTQ's error feedback
	// turns a last-bit difference into other codes, and the calibration
	// here is small: the decisions themselves differ about as much as
	// unrelated roundings would (some 0.1-0.2 of the weights' norm) past
	// the first stage. What must agree is how well each run quantized:
	// the distance of its weights from the original ones.
	rel := func(a, b []float32) float64 {
		var d, w float64
		for i := range a {
			d += (float64(a[i]) - float64(b[i])) * (float64(a[i]) - float64(b[i]))
			w += float64(b[i]) * float64(b[i])
		}
		return math.Sqrt(d / w)
	}
	for k, h := range host {
		orig, err := ck.Float32(k.role, k.layer)
		if err != nil {
			t.Fatal(err)
		}
		want, got := h.Dequantize(), device[k].Dequantize()
		eHost, eDev := rel(want, orig), rel(got, orig)
		t.Logf("%s of layer %d: decisions differ by %.3g; error %.4g on the device, %.4g on the host", k.role, k.layer, rel(got, want), eDev, eHost)
		if !(math.Abs(eDev-eHost) <= 0.05*eHost) {
			t.Errorf("%s of layer %d: quantization error %.4g with device passes, %.4g with host passes", k.role, k.layer, eDev, eHost)
		}
	}
}

// countingResident is a Resident backend that counts the uses of its
// device and fails them.
type countingResident struct {
	compute.Backend
	uses *int
}

func (c countingResident) NewTensor(int) (compute.Tensor, error) {
	*c.uses++
	return nil, errors.New("no device")
}

func (c countingResident) NewLayer(compute.LayerShape, compute.ResidentWeights) (compute.ResidentLayer, error) {
	*c.uses++
	return nil, errors.New("no device")
}

func (c countingResident) MatMulLinear(compute.Linear, compute.Tensor, compute.Tensor, int) error {
	*c.uses++
	return errors.New("no device")
}

// TestDeviceCalibrationOnlyForGPTQ: the activations go to the device only
// for GPTQ on a Resident backend that runs the model's layers (and for AWQ
// on one that also runs its searches, which this one does not).
func TestDeviceCalibrationOnlyForGPTQ(t *testing.T) {
	ck := openTiny(t)
	acts := &calibrate.Activations{X: [][]float32{make([]float32, 4*ck.Config.HiddenSize)}}
	wide := *ck.Config
	wide.HeadDim = 256
	uses := 0
	resident := countingResident{compute.CPU, &uses}
	for _, c := range []struct {
		name string
		cfg  *model.Config
		acts *calibrate.Activations
		opts Options
	}{
		{"cpu", ck.Config, acts, Options{Method: GPTQ, Backend: compute.CPU}},
		{"rtn", ck.Config, nil, Options{Method: RTN, Backend: resident}},
		{"awq", ck.Config, acts, Options{Method: AWQ, Backend: resident}},
		{"head dim 256", &wide, acts, Options{Method: GPTQ, Backend: resident}},
	} {
		d, err := newDeviceCalibration(c.cfg, c.acts, &c.opts)
		if d != nil || err != nil || uses != 0 {
			t.Errorf("%s: %v, %v, %d uses of the device; want the CPU runtime's passes", c.name, d, err, uses)
		}
	}
	_, err := newDeviceCalibration(ck.Config, acts, &Options{Method: GPTQ, Backend: resident})
	if err == nil || uses == 0 {
		t.Errorf("GPTQ on a Resident backend: %v after %d uses of the device", err, uses)
	}
}

// residentViaHost hides that a Resident backend factorizes GPTQ's
// Hessians on its device: they are read to the host and factorized from
// there, as before it did.
type residentViaHost struct {
	compute.Resident
	compute.Sweeper
}

// TestResidentFactorOnDeviceWritesTheSameBytes quantizes the bundled model with the
// reference GPTQ recipe on the GPU, its Hessians factorized on the device
// and through the host: the same doubles go into the same cuSOLVER calls
// both times, so every output file must be the same.
func TestResidentFactorOnDeviceWritesTheSameBytes(t *testing.T) {
	be := residentGPU(t)
	ck := openTiny(t)
	tokens := calibrationTokens(t, ck)
	dir := t.TempDir()
	run := func(name string, be compute.Backend) string {
		opts := Options{Method: GPTQ, Format: hf.GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128}, Tokens: tokens, Backend: be,
			GPTQ: GPTQOptions{TrueSequential: true, Damp: 0.01, BlockSize: 128}}
		opts.Calib.Samples, opts.Calib.SeqLen = 4, 64
		dest := filepath.Join(dir, name)
		if _, err := Quantize(context.Background(), ck, dest, false, opts); err != nil {
			t.Fatal(err)
		}
		return dest
	}
	onDevice := run("device", be)
	viaHost := run("host", residentViaHost{be.(compute.Resident), be.(compute.Sweeper)})
	compareDirs(t, viaHost, onDevice)
}
