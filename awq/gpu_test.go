package awq

import (
	"math"
	"slices"
	"testing"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/quant"
	"github.com/qtk-dev/qtk/runtime"
)

// The tests here need a GPU (compute.OpenCUDA(0)) and skip without one:
// the device searches against the host's.

// gpuBackend returns the first GPU, or skips.
func gpuBackend(t *testing.T) compute.AWQSearcher {
	t.Helper()
	be, err := compute.OpenCUDA(0)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	t.Cleanup(be.Close)
	return be.(compute.AWQSearcher)
}

// TestGPUCaptureMatchesHost checks the device pass over the calibration
// tokens against the host's: the same mean |x| and samples, to float32
// rounding.
func TestGPUCaptureMatchesHost(t *testing.T) {
	be := gpuBackend(t)
	tl := loadLayer(t, 1, 4, 64, true)
	opts := captureOptions{step: 3}
	opts.keep[oIn], opts.keep[downIn] = true, true
	fp := runtime.NewLayer(tl.cfg, tl.w)
	host, err := capture(tl.cfg, &tl.w, fp, tl.acts, opts)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := newDeviceSearch(tl.cfg, &tl.w, tl.acts, Options{Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	if dev == nil {
		t.Fatal("tiny-llama's layer is not searched on the device")
	}
	defer dev.release()
	got, err := dev.capture(opts)
	if err != nil {
		t.Fatal(err)
	}
	if got.tokens != host.tokens || got.samples != host.samples {
		t.Fatalf("device captured %d tokens, %d samples; host %d, %d", got.tokens, got.samples, host.tokens, host.samples)
	}
	for s := range numSites {
		if e := relErr(got.absMean[s], host.absMean[s]); e > 1e-5 {
			t.Errorf("site %d: mean |x| differs by %.3g relative", s, e)
		}
		if len(got.sample[s]) != len(host.sample[s]) {
			t.Fatalf("site %d: %d sampled values, host %d", s, len(got.sample[s]), len(host.sample[s]))
		}
		if e := relErr(got.sample[s], host.sample[s]); e > 1e-5 {
			t.Errorf("site %d: samples differ by %.3g relative", s, e)
		}
	}
}

// firstMin returns the index of the first least value of v at each of
// rows positions: v[(i·rows) + r] for candidate i.
func firstMin(v []float64, candidates, rows, r int) int {
	best := 0
	for i := 1; i < candidates; i++ {
		if v[i*rows+r] < v[best*rows+r] {
			best = i
		}
	}
	return best
}

// TestGPUClipMatchesHost checks that the device's clip losses choose the
// host's candidates on random data, but where two candidates' host
// losses are equal to float32 rounding.
func TestGPUClipMatchesHost(t *testing.T) {
	be := gpuBackend(t)
	const out, in, n = 48, 256, 64
	rng := newRand(4)
	w := make([]float32, out*in)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
		if rng.IntN(20) == 0 {
			w[i] *= 6
		}
	}
	x := make([]float32, n*in)
	for i := range x {
		x[i] = float32(rng.NormFloat64()) * float32(1+i%in%5)
	}
	for _, scheme := range []quant.Scheme{
		{Bits: 4, GroupSize: 32},
		{Bits: 4, GroupSize: 128, Symmetric: true},
		{Bits: 4, GroupSize: -1},
	} {
		host := clipLosses(w, out, in, x, scheme)
		dev, err := be.ClipLosses(w, out, in, x, n, scheme, clipCandidates, clipSteps)
		if err != nil {
			t.Fatal(err)
		}
		groups := in / clipGroupSize(in, scheme)
		clipped := 0
		for g := range groups {
			h, d := host[g*clipCandidates*out:(g+1)*clipCandidates*out], dev[g*clipCandidates*out:(g+1)*clipCandidates*out]
			for r := range out {
				hi, di := firstMin(h, clipCandidates, out, r), firstMin(d, clipCandidates, out, r)
				if hi > 0 {
					clipped++
				}
				if hi != di && math.Abs(h[hi*out+r]-h[di*out+r]) > 1e-5*h[hi*out+r] {
					t.Errorf("%+v row %d group %d: device chose candidate %d, host %d (host losses %v, %v)",
						scheme, r, g, di, hi, h[hi*out+r], h[di*out+r])
				}
			}
		}
		if clipped == 0 {
			t.Errorf("%+v: no group was clipped: the test shows nothing", scheme)
		}
		hw, dw := slices.Clone(w), slices.Clone(w)
		hr, dr := applyClip(hw, out, in, host, n, scheme), applyClip(dw, out, in, dev, n, scheme)
		t.Logf("%+v: host %+v, device %+v", scheme, hr, dr)
	}
}

// TestGPULayerMatchesCPU runs AWQ on tiny-llama's first layer on the CPU
// and on the GPU: the same ratio for every group, losses equal to float32
// rounding, clip searches and layer outputs alike.
func TestGPULayerMatchesCPU(t *testing.T) {
	be := gpuBackend(t)
	for _, expandKV := range []bool{false, true} {
		tl := loadLayer(t, 0, 4, 128, expandKV)
		opts := Options{Scheme: scheme4g64, Clip: true, Log: t.Logf}
		cw, gw := tl.w, tl.w
		cpu, err := Layer(tl.cfg, &cw, tl.acts, opts)
		if err != nil {
			t.Fatal(err)
		}
		opts.Backend = be
		gpu, err := Layer(tl.cfg, &gw, tl.acts, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(gpu.Scales) != len(cpu.Scales) || len(gpu.Clips) != len(cpu.Clips) {
			t.Fatalf("expandKV %v: %d scale groups and %d clips on the GPU, %d and %d on the CPU", expandKV, len(gpu.Scales), len(gpu.Clips), len(cpu.Scales), len(cpu.Clips))
		}
		for i, c := range cpu.Scales {
			g := gpu.Scales[i]
			if g.Best != c.Best {
				t.Errorf("expandKV %v, %v: GPU ratio %v, CPU %v; losses %v and %v", expandKV, c.Linears, g.Ratio, c.Ratio, g.Losses, c.Losses)
			}
			for j := range c.Losses {
				if math.Abs(g.Losses[j]-c.Losses[j]) > 1e-3*c.Losses[j] {
					t.Errorf("expandKV %v, %v, grid point %d: GPU loss %.6g, CPU %.6g", expandKV, c.Linears, j, g.Losses[j], c.Losses[j])
				}
			}
		}
		for i, c := range cpu.Clips {
			g := gpu.Clips[i]
			if math.Abs(float64(g.Clipped-c.Clipped)) > 0.01*float64(c.Groups)+1 || math.Abs(g.ErrAfter-c.ErrAfter) > 1e-2*c.ErrAfter {
				t.Errorf("expandKV %v, clip %s: GPU %+v, CPU %+v", expandKV, c.Linear, g, c)
			}
		}
		want := tl.outputs(t, tl.w)
		cm := mse(tl.outputs(t, dequantized(cw, cpu.Tensors)), want)
		gm := mse(tl.outputs(t, dequantized(gw, gpu.Tensors)), want)
		t.Logf("expandKV %v: layer output MSE CPU %.5g, GPU %.5g", expandKV, cm, gm)
		if math.Abs(gm-cm) > 0.02*cm {
			t.Errorf("expandKV %v: layer output MSE on the GPU %.5g, CPU %.5g", expandKV, gm, cm)
		}
	}
}

// TestGPULayerTF32 runs the GPU search with TF32 products: it logs how
// far its losses and choices move from float32's, and fails only where the
// result is worse than plain RTN.
func TestGPULayerTF32(t *testing.T) {
	be := gpuBackend(t)
	tl := loadLayer(t, 0, 4, 128, true)
	w32, wtf := tl.w, tl.w
	opts := Options{Scheme: scheme4g64, Clip: true, Backend: be}
	f32, err := Layer(tl.cfg, &w32, tl.acts, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.TF32 = true
	tf, err := Layer(tl.cfg, &wtf, tl.acts, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range f32.Scales {
		g := tf.Scales[i]
		var worst float64
		for j := range f.Losses {
			worst = max(worst, math.Abs(g.Losses[j]-f.Losses[j])/f.Losses[j])
		}
		t.Logf("%v: ratio %v with TF32, %v with float32; losses up to %.3g apart", f.Linears, g.Ratio, f.Ratio, worst)
	}
	want := tl.outputs(t, tl.w)
	rtn := mse(tl.outputs(t, rtnLayer(t, tl.cfg, tl.w, scheme4g64)), want)
	got := mse(tl.outputs(t, dequantized(wtf, tf.Tensors)), want)
	t.Logf("layer output MSE: RTN %.5g, AWQ with TF32 %.5g", rtn, got)
	if !(got < rtn) {
		t.Errorf("AWQ with TF32 products: layer output MSE %.5g, not below RTN's %.5g", got, rtn)
	}
}

// TestGPUCaptureAdvances checks that the device pass asked to advance
// its inputs leaves the float layer's output there, as the CPU runtime
// computes it.
func TestGPUCaptureAdvances(t *testing.T) {
	be := gpuBackend(t)
	tl := loadLayer(t, 1, 3, 48, false)
	x, err := be.NewTensor(len(tl.acts.X) * len(tl.acts.X[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Release()
	for i, win := range tl.acts.X {
		v, err := compute.TensorView(x, i*len(win), len(win))
		if err == nil {
			err = v.Upload(win)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	dev, err := newDeviceSearch(tl.cfg, &tl.w, tl.acts, Options{Backend: be, DeviceInputs: x, AdvanceDeviceInputs: true})
	if err != nil || dev == nil {
		t.Fatalf("device search: %v (nil: %v)", err, dev == nil)
	}
	defer dev.release()
	if _, err := dev.capture(captureOptions{}); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, x.Len())
	if err := x.Download(got); err != nil {
		t.Fatal(err)
	}
	if err := tl.acts.Advance(runtime.NewLayer(tl.cfg, tl.w)); err != nil {
		t.Fatal(err)
	}
	want := slices.Concat(tl.acts.X...)
	if e := relErr(got, want); !(e < 1e-5) {
		t.Errorf("advanced activations differ by %.3g relative", e)
	}
}

// TestGPURoundOnDeviceMatchesHost runs AWQ on tiny-llama's first layer on
// the GPU twice, the fold, clip and rounding of the linears on the host
// and then on the device (Options.RoundOnDevice): the same searches must
// give the same codes, scales and zero points bit for bit, the same
// norms, and no float linears from the device.
func TestGPURoundOnDeviceMatchesHost(t *testing.T) {
	be := gpuBackend(t)
	for _, expandKV := range []bool{false, true} { // with v→o where expanded
		tl := loadLayer(t, 0, 4, 128, expandKV)
		opts := Options{Scheme: scheme4g64, Clip: true, Backend: be}
		hw, dw := tl.w, tl.w
		host, err := Layer(tl.cfg, &hw, tl.acts, opts)
		if err != nil {
			t.Fatal(err)
		}
		opts.RoundOnDevice = true
		dev, err := Layer(tl.cfg, &dw, tl.acts, opts)
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range host.Scales {
			if d := dev.Scales[i]; d.Best != h.Best {
				t.Fatalf("expandKV %v, %v: ratio %v, then %v: the searches differ between runs", expandKV, h.Linears, h.Ratio, d.Ratio)
			}
		}
		for i, h := range host.Clips {
			if d := dev.Clips[i]; d != h {
				t.Errorf("expandKV %v: clip on the host %+v, on the device %+v", expandKV, h, d)
			}
		}
		for _, r := range linearRoles {
			h, d := host.Tensors[r], dev.Tensors[r]
			if d.Out != h.Out || d.In != h.In || d.Scheme != h.Scheme || !slices.Equal(d.GIdx, h.GIdx) {
				t.Fatalf("expandKV %v, %s: device tensor [%d×%d] %+v, host [%d×%d] %+v", expandKV, r, d.Out, d.In, d.Scheme, h.Out, h.In, h.Scheme)
			}
			if i := firstDifference(d.Q, h.Q); i >= 0 {
				t.Errorf("expandKV %v, %s: code %d (row %d) is %d on the device, %d on the host", expandKV, r, i, i/h.In, d.Q[i], h.Q[i])
			}
			if i := firstDifference(d.Scale, h.Scale); i >= 0 {
				t.Errorf("expandKV %v, %s: scale %d is %v on the device, %v on the host", expandKV, r, i, d.Scale[i], h.Scale[i])
			}
			if i := firstDifference(d.Zero, h.Zero); i >= 0 {
				t.Errorf("expandKV %v, %s: zero point %d is %d on the device, %d on the host", expandKV, r, i, d.Zero[i], h.Zero[i])
			}
			if tensor(&dw, r) != nil {
				t.Errorf("expandKV %v, %s: float weights came back from the device", expandKV, r)
			}
		}
		for r := range fields {
			if _, linear := inputOf[r]; !linear && firstDifference(tensor(&dw, r), tensor(&hw, r)) >= 0 {
				t.Errorf("expandKV %v: %s differs between the host's fold and the device's", expandKV, r)
			}
		}
	}
}

// firstDifference returns the first index where a and b differ, or where
// one ends, or -1 if they are equal.
func firstDifference[T comparable](a, b []T) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}
