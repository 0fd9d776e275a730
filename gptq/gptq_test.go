package gptq

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/quant"
)

func scheme4(groupSize int) quant.Scheme { return quant.Scheme{Bits: 4, GroupSize: groupSize} }

// optName names a subtest after the options that matter.
func optName(o Options) string {
	s := fmt.Sprintf("b%d_g%d", o.Scheme.Bits, o.Scheme.GroupSize)
	for _, f := range []struct {
		on   bool
		name string
	}{{o.Scheme.Symmetric, "sym"}, {o.ActOrder, "actorder"}, {o.StaticGroups, "static"}} {
		if f.on {
			s += "_" + f.name
		}
	}
	if o.BlockSize != 0 {
		s += fmt.Sprintf("_block%d", o.BlockSize)
	}
	if o.Damp != 0 {
		s += fmt.Sprintf("_damp%g", o.Damp)
	}
	return s
}

// calibrated returns a random weight [out×in], correlated calibration
// inputs [rows×in] and their Hessian.
func calibrated(seed uint64, out, in, rows int) (w, x []float32, h *Hessian) {
	rng := newRand(seed)
	w = randn(rng, out*in)
	x = correlatedInputs(rng, rows, in)
	h = NewHessian(in)
	for r0 := 0; r0 < rows; r0 += 512 {
		r1 := min(r0+512, rows)
		h.Add(x[r0*in:r1*in], r1-r0)
	}
	return w, x, h
}

// TestMatchesReference compares Quantize with a plain float64
// transcription of the reference algorithm, over group sizes smaller and
// larger than the block, act-order and static groups.
func TestMatchesReference(t *testing.T) {
	const out, in = 24, 192
	w, _, h := calibrated(2, out, in, 400)
	for _, o := range []Options{
		{Scheme: scheme4(-1)},
		{Scheme: scheme4(32), BlockSize: 48},
		{Scheme: scheme4(64), BlockSize: 32},
		{Scheme: quant.Scheme{Bits: 4, GroupSize: 32, Symmetric: true}, BlockSize: 64},
		{Scheme: quant.Scheme{Bits: 8, GroupSize: 96}, BlockSize: 40},
		{Scheme: scheme4(32), BlockSize: 48, ActOrder: true},
		{Scheme: scheme4(64), BlockSize: 48, ActOrder: true, StaticGroups: true},
		{Scheme: scheme4(32), BlockSize: 48, StaticGroups: true},
		{Scheme: scheme4(-1), ActOrder: true, Damp: 0.1},
	} {
		t.Run(optName(o), func(t *testing.T) {
			res, err := Quantize(w, out, in, h, o)
			if err != nil {
				t.Fatal(err)
			}
			checkTensor(t, res.Tensor, out, in, o.Scheme)
			got := res.Tensor.Dequantize()
			want, loss := referenceGPTQ(w, out, in, h.full(), o)
			differ := 0
			for i := range got {
				if got[i] != want[i] {
					differ++
				}
			}
			// float32 against float64 arithmetic flips the odd rounding.
			t.Logf("%d of %d weights differ, loss %v vs %v", differ, len(got), res.Loss, loss)
			if differ > len(got)/500 {
				t.Errorf("%d of %d weights differ from the reference", differ, len(got))
			}
			if math.Abs(res.Loss-loss) > 1e-4*loss {
				t.Errorf("loss %v, reference %v", res.Loss, loss)
			}
		})
	}
}

// TestDiagonalHessianIsRTN: with a diagonal H the factor U is diagonal, so
// no error reaches another column and nothing is updated; every weight is
// then rounded on its group's min-max grid, exactly as round-to-nearest
// does (with act-order, on groups taken in order of decreasing H_cc).
func TestDiagonalHessianIsRTN(t *testing.T) {
	const out, in = 8, 128
	rng := newRand(3)
	w := randn(rng, out*in)
	hd := make([]float64, in*in)
	for c := range in {
		hd[c*in+c] = 0.1 + rng.Float64()
	}
	h := hessianOf(hd, in)
	for _, o := range []Options{
		{Scheme: scheme4(-1)},
		{Scheme: scheme4(32)},
		{Scheme: quant.Scheme{Bits: 4, GroupSize: 16, Symmetric: true}, BlockSize: 40},
		{Scheme: quant.Scheme{Bits: 8, GroupSize: 64}},
		{Scheme: scheme4(32), StaticGroups: true},
		{Scheme: scheme4(32), ActOrder: true, StaticGroups: true},
		{Scheme: scheme4(32), ActOrder: true},
		{Scheme: scheme4(-1), ActOrder: true},
	} {
		t.Run(optName(o), func(t *testing.T) {
			res, err := Quantize(w, out, in, h, o)
			if err != nil {
				t.Fatal(err)
			}
			var perm []int
			if o.ActOrder && !o.StaticGroups {
				perm = processingOrder(func() []float64 {
					d := make([]float64, in)
					for c := range d {
						d[c] = hd[c*in+c]
					}
					return d
				}(), true)
			}
			want := rtn(w, out, in, o.Scheme, perm)
			got := res.Tensor
			if !slices.Equal(got.Q, want.Q) || !slices.Equal(got.Scale, want.Scale) ||
				!slices.Equal(got.Zero, want.Zero) || !slices.Equal(got.GIdx, want.GIdx) {
				t.Error("GPTQ with a diagonal Hessian differs from round-to-nearest")
			}
		})
	}
}

// TestBeatsRTN checks GPTQ's purpose: on correlated inputs it changes the
// layer's outputs much less than round-to-nearest.
func TestBeatsRTN(t *testing.T) {
	const out, in, rows = 64, 256, 2048
	w, x, h := calibrated(4, out, in, rows)
	for _, o := range []Options{
		{Scheme: scheme4(-1)},
		{Scheme: scheme4(128)},
		{Scheme: quant.Scheme{Bits: 4, GroupSize: 32, Symmetric: true}},
		{Scheme: scheme4(128), ActOrder: true},
		{Scheme: scheme4(128), ActOrder: true, StaticGroups: true},
		{Scheme: scheme4(128), StaticGroups: true},
	} {
		t.Run(optName(o), func(t *testing.T) {
			res, err := Quantize(w, out, in, h, o)
			if err != nil {
				t.Fatal(err)
			}
			checkTensor(t, res.Tensor, out, in, o.Scheme)
			if o.ActOrder && !o.StaticGroups {
				checkActOrderGroups(t, res.Tensor, h)
			} else if !slices.Equal(res.Tensor.GIdx, rtn(w, 1, in, o.Scheme, nil).GIdx) {
				t.Error("GIdx is not c / GroupSize")
			}
			gptqErr := outputError(w, res.Tensor.Dequantize(), out, in, x, rows)
			rtnErr := outputError(w, rtn(w, out, in, o.Scheme, nil).Dequantize(), out, in, x, rows)
			t.Logf("output error: GPTQ %.4g, RTN %.4g (ratio %.3f)", gptqErr, rtnErr, gptqErr/rtnErr)
			if gptqErr > 0.8*rtnErr {
				t.Errorf("GPTQ output error %.4g is not 20%% below RTN's %.4g", gptqErr, rtnErr)
			}
		})
	}
}

// checkActOrderGroups checks act-order group indices: channels are grouped
// by decreasing H_cc.
func checkActOrderGroups(t *testing.T, q *quant.Tensor, h *Hessian) {
	t.Helper()
	for a := range q.In {
		for b := range q.In {
			if q.GIdx[a] < q.GIdx[b] && h.at(a, a) < h.at(b, b) {
				t.Fatalf("channel %d (H=%v) is in group %d, before channel %d (H=%v) in group %d",
					a, h.at(a, a), q.GIdx[a], b, h.at(b, b), q.GIdx[b])
			}
		}
	}
}

// TestLossIsProxyError checks Result.Loss against its closed form: the
// sweep leaves W - Ŵ = Uᵀ·err row by row, and UᵀU = H⁻¹, so
// Σ err²/2 = ½ Σ_rows (w-ŵ)ᵀ·H·(w-ŵ) with H damped.
func TestLossIsProxyError(t *testing.T) {
	const out, in = 16, 128
	w, _, h := calibrated(5, out, in, 300)
	o := Options{Scheme: scheme4(32), ActOrder: true, BlockSize: 32}
	res, err := Quantize(w, out, in, h, o)
	if err != nil {
		t.Fatal(err)
	}
	hf := h.full()
	mean := 0.0
	for c := range in {
		mean += hf[c*in+c] / in
	}
	for c := range in {
		hf[c*in+c] += res.Damp * mean
	}
	wq := res.Tensor.Dequantize()
	want := 0.0
	for r := range out {
		for i := range in {
			di := float64(w[r*in+i] - wq[r*in+i])
			for j := range in {
				want += di * hf[i*in+j] * float64(w[r*in+j]-wq[r*in+j]) / 2
			}
		}
	}
	if math.Abs(res.Loss-want) > 1e-3*want {
		t.Errorf("Loss %v, ½ tr((W-Ŵ)H(W-Ŵ)ᵀ) = %v", res.Loss, want)
	}
}

// TestBlockSize: with one group per row the block size only changes the
// order of float32 operations.
func TestBlockSize(t *testing.T) {
	const out, in = 32, 160
	w, _, h := calibrated(6, out, in, 500)
	base, err := Quantize(w, out, in, h, Options{Scheme: scheme4(-1), BlockSize: in})
	if err != nil {
		t.Fatal(err)
	}
	for _, bs := range []int{1, 7, 64, 1000} {
		res, err := Quantize(w, out, in, h, Options{Scheme: scheme4(-1), BlockSize: bs})
		if err != nil {
			t.Fatal(err)
		}
		differ := 0
		for i, q := range res.Tensor.Q {
			if q != base.Tensor.Q[i] {
				differ++
			}
		}
		if differ > len(res.Tensor.Q)/200 || math.Abs(res.Loss-base.Loss) > 1e-3*base.Loss {
			t.Errorf("block size %d: %d weights differ, loss %v vs %v", bs, differ, res.Loss, base.Loss)
		}
	}
}

// TestDeterministic: results don't depend on the number of threads.
func TestDeterministic(t *testing.T) {
	const out, in = 100, 256
	w, _, h := calibrated(7, out, in, 300)
	o := Options{Scheme: scheme4(64), ActOrder: true}
	var results []Result
	for _, procs := range []int{1, 2, 3} {
		old := runtime.GOMAXPROCS(procs)
		res, err := Quantize(w, out, in, h, o)
		runtime.GOMAXPROCS(old)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	for _, r := range results[1:] {
		if !slices.Equal(r.Tensor.Q, results[0].Tensor.Q) || !slices.Equal(r.Tensor.Scale, results[0].Tensor.Scale) || r.Loss != results[0].Loss {
			t.Error("results depend on GOMAXPROCS")
		}
	}
}

// TestDeadColumns: channels whose inputs are always zero get zero weights
// before quantization, as in the reference.
func TestDeadColumns(t *testing.T) {
	const out, in, rows = 8, 64, 200
	rng := newRand(8)
	w := randn(rng, out*in)
	for r := range out {
		w[r*in+5] = 100 // would dominate its group's range if kept
	}
	x := correlatedInputs(rng, rows, in)
	for r := range rows {
		x[r*in+5] = 0
	}
	h := NewHessian(in)
	h.Add(x, rows)
	for _, o := range []Options{{Scheme: scheme4(16)}, {Scheme: scheme4(16), ActOrder: true}, {Scheme: scheme4(16), StaticGroups: true}} {
		res, err := Quantize(w, out, in, h, o)
		if err != nil {
			t.Fatal(err)
		}
		wq := res.Tensor.Dequantize()
		for r := range out {
			if wq[r*in+5] != 0 {
				t.Errorf("%s: dead weight [%d, 5] dequantizes to %v, want 0", optName(o), r, wq[r*in+5])
			}
			if s := res.Tensor.Scale[r*4+int(res.Tensor.GIdx[5])]; s > 1 {
				t.Errorf("%s: dead weight still widened its group: scale %v", optName(o), s)
			}
		}
	}
}

// TestDamping: a singular H is handled by the default damping; an
// indefinite one makes Quantize raise the damping and say so; a hopeless
// one fails.
func TestDamping(t *testing.T) {
	const in = 64
	rng := newRand(9)
	x := randn(rng, 16*in) // 16 rows: H has rank 16
	singular := NewHessian(in)
	singular.Add(x, 16)
	shifted := func(f float64) *Hessian {
		h := hessianOf(singular.full(), in)
		mean := 0.0
		for c := range in {
			mean += h.at(c, c) / in
		}
		for c := range in {
			h.h[c*in+c] -= f * mean
		}
		return h
	}
	negative := make([]float64, in*in)
	for c := range in {
		negative[c*in+c] = -1
	}
	for _, tc := range []struct {
		name     string
		h        *Hessian
		damp     float64
		wantDamp float64
		wantLog  []string
		wantErr  string
	}{
		{name: "singular", h: singular, wantDamp: 0.01},
		{name: "indefinite", h: shifted(0.05), wantDamp: 0.1, wantLog: []string{"damp raised to 0.1"}},
		{name: "very indefinite", h: shifted(0.3), wantDamp: 1, wantLog: []string{"damp raised to 0.1", "damp raised to 1"}},
		{name: "from a higher damp", h: shifted(0.05), damp: 0.03, wantDamp: 0.3, wantLog: []string{"damp raised to 0.3"}},
		{name: "negative", h: hessianOf(negative, in), wantLog: []string{"damp raised to 0.1", "damp raised to 1"}, wantErr: "not positive definite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log []string
			o := Options{Scheme: scheme4(32), Damp: tc.damp, Log: func(format string, args ...any) {
				log = append(log, fmt.Sprintf(format, args...))
			}}
			res, err := Quantize(randn(rng, 4*in), 4, in, tc.h, o)
			if len(log) != len(tc.wantLog) {
				t.Fatalf("log %q, want %d lines", log, len(tc.wantLog))
			}
			for i, want := range tc.wantLog {
				if !strings.Contains(log[i], want) {
					t.Errorf("log line %q, want it to mention %q", log[i], want)
				}
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(res.Damp-tc.wantDamp) > 1e-12 {
				t.Errorf("Damp = %v, want %v", res.Damp, tc.wantDamp)
			}
			checkTensor(t, res.Tensor, 4, in, o.Scheme)
		})
	}
}

func TestQuantizeErrors(t *testing.T) {
	const out, in = 4, 32
	w, _, h := calibrated(10, out, in, 50)
	nanW := slices.Clone(w)
	nanW[37] = float32(math.NaN())
	infH := hessianOf(h.full(), in)
	infH.h[3*in+7] = math.Inf(1)
	ok := Options{Scheme: scheme4(16)}
	for _, tc := range []struct {
		name    string
		w       []float32
		out, in int
		h       *Hessian
		o       Options
		want    string
	}{
		{"zero rows", nil, 0, in, h, ok, "not positive"},
		{"short weights", w[:out*in-1], out, in, h, ok, "weights for shape"},
		{"nil hessian", w, out, in, nil, ok, "no hessian"},
		{"hessian size", w, out, in, NewHessian(in + 1), ok, "33 input channels"},
		{"empty hessian", w, out, in, NewHessian(in), ok, "no calibration rows"},
		{"group size", w, out, in, h, Options{Scheme: scheme4(12)}, "does not divide"},
		{"bits", w, out, in, h, Options{Scheme: quant.Scheme{Bits: 3, GroupSize: 16}}, "bits"},
		{"negative damp", w, out, in, h, Options{Scheme: scheme4(16), Damp: -0.1}, "damp"},
		{"NaN damp", w, out, in, h, Options{Scheme: scheme4(16), Damp: math.NaN()}, "damp"},
		{"damp above max", w, out, in, h, Options{Scheme: scheme4(16), Damp: 2}, "damp"},
		{"negative block", w, out, in, h, Options{Scheme: scheme4(16), BlockSize: -1}, "block size"},
		{"NaN weight", nanW, out, in, h, ok, "row 1, column 5"},
		{"infinite hessian", w, out, in, infH, ok, "non-finite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Quantize(tc.w, tc.out, tc.in, tc.h, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestInputsUnchanged: Quantize reads w and h only.
func TestInputsUnchanged(t *testing.T) {
	const out, in = 8, 64
	w, _, h := calibrated(11, out, in, 100)
	w0, h0 := slices.Clone(w), h.full()
	if _, err := Quantize(w, out, in, h, Options{Scheme: scheme4(32), ActOrder: true}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w, w0) || !slices.Equal(h.full(), h0) {
		t.Error("Quantize modified its inputs")
	}
}

// TestSmallShapes runs odd sizes through Quantize and the reference.
func TestSmallShapes(t *testing.T) {
	for _, sh := range []struct{ out, in, gs int }{{1, 1, -1}, {3, 5, -1}, {2, 65, 13}, {5, 130, 65}} {
		t.Run(fmt.Sprintf("%dx%d_g%d", sh.out, sh.in, sh.gs), func(t *testing.T) {
			w, _, h := calibrated(12, sh.out, sh.in, 2*sh.in+3)
			o := Options{Scheme: scheme4(sh.gs), ActOrder: true, BlockSize: 16}
			res, err := Quantize(w, sh.out, sh.in, h, o)
			if err != nil {
				t.Fatal(err)
			}
			checkTensor(t, res.Tensor, sh.out, sh.in, o.Scheme)
			want, loss := referenceGPTQ(w, sh.out, sh.in, h.full(), o)
			differ := 0
			for i, v := range res.Tensor.Dequantize() {
				if v != want[i] {
					differ++
				}
			}
			if differ > 1 || math.Abs(res.Loss-loss) > 1e-4*loss+1e-12 {
				t.Errorf("%d weights differ from the reference; loss %v vs %v", differ, res.Loss, loss)
			}
		})
	}
}

// TestClipSearchOnOutliers: on weights with a few large outliers per
// group, picking group parameters by the weighted clip search lowers the
// layer's output error against plain min-max parameters.
func TestClipSearchOnOutliers(t *testing.T) {
	const out, in, rows = 64, 256, 2048
	w, x, h := calibrated(7, out, in, rows)
	rng := newRand(8)
	for r := 0; r < out; r++ {
		for k := 0; k < 2; k++ {
			w[r*in+rng.IntN(in)] *= 8
		}
	}
	for _, static := range []bool{false, true} {
		base := Options{Scheme: scheme4(64), ActOrder: true, StaticGroups: static}
		clipped := base
		clipped.Clip = &quant.ClipSearch{}
		plain, err := Quantize(w, out, in, h, base)
		if err != nil {
			t.Fatal(err)
		}
		withClip, err := Quantize(w, out, in, h, clipped)
		if err != nil {
			t.Fatal(err)
		}
		checkTensor(t, withClip.Tensor, out, in, base.Scheme)
		ePlain := outputError(w, plain.Tensor.Dequantize(), out, in, x, rows)
		eClip := outputError(w, withClip.Tensor.Dequantize(), out, in, x, rows)
		t.Logf("static %v: output error %.4g min-max, %.4g clip search", static, ePlain, eClip)
		if eClip >= ePlain {
			t.Errorf("static %v: clip search error %.4g not below min-max %.4g", static, eClip, ePlain)
		}
	}
}

// TestRefitScalesLowersError: re-solving the group scales for the chosen
// codes lowers the layer's calibration error, which it minimizes.
func TestRefitScalesLowersError(t *testing.T) {
	const out, in, rows = 48, 256, 2048
	w, x, h := calibrated(11, out, in, rows)
	for _, actOrder := range []bool{false, true} {
		base := Options{Scheme: scheme4(64), ActOrder: actOrder}
		refit := base
		refit.RefitScales = true
		plain, err := Quantize(w, out, in, h, base)
		if err != nil {
			t.Fatal(err)
		}
		better, err := Quantize(w, out, in, h, refit)
		if err != nil {
			t.Fatal(err)
		}
		checkTensor(t, better.Tensor, out, in, base.Scheme)
		if !slices.Equal(plain.Tensor.Q, better.Tensor.Q) {
			t.Fatal("the refit changed the integer codes")
		}
		ePlain := outputError(w, plain.Tensor.Dequantize(), out, in, x, rows)
		eRefit := outputError(w, better.Tensor.Dequantize(), out, in, x, rows)
		t.Logf("act-order %v: output error %.5g, refit %.5g", actOrder, ePlain, eRefit)
		if eRefit >= ePlain {
			t.Errorf("act-order %v: refit error %.5g not below %.5g", actOrder, eRefit, ePlain)
		}
	}
}

// TestSharedHessian: weights quantized one after another against one
// Hessian (which keeps its factorization) get what each gets against a
// Hessian of its own, and more inputs make the factorization anew.
func TestSharedHessian(t *testing.T) {
	const out, in = 40, 128
	w1, x, shared := calibrated(9, out, in, 300)
	w2, _, _ := calibrated(10, out, in, 1)
	fresh := func() *Hessian {
		h := NewHessian(in)
		h.Add(x, 300)
		return h
	}
	for _, o := range []Options{{Scheme: scheme4(32)}, {Scheme: scheme4(32), ActOrder: true}, {Scheme: scheme4(32), Damp: 0.1}} {
		for _, w := range [][]float32{w1, w2} {
			got, err := Quantize(w, out, in, shared, o)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Quantize(w, out, in, fresh(), o)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Tensor.Q, want.Tensor.Q) || got.Loss != want.Loss {
				t.Errorf("%+v: a shared Hessian gives other codes (loss %g, alone %g)", o, got.Loss, want.Loss)
			}
		}
	}
	before, err := Quantize(w1, out, in, shared, Options{Scheme: scheme4(32)})
	if err != nil {
		t.Fatal(err)
	}
	shared.Add(x[:50*in], 50)
	after, err := Quantize(w1, out, in, shared, Options{Scheme: scheme4(32)})
	if err != nil {
		t.Fatal(err)
	}
	if after.Loss == before.Loss {
		t.Error("the factorization was not made anew after Add")
	}
}
