package compute

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// resident returns the GPU as a Resident backend, or skips.
func resident(t testing.TB) Resident {
	t.Helper()
	g, err := OpenCUDA(0)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	t.Cleanup(g.Close)
	return g.(Resident)
}

func TestResidentShapeChecks(t *testing.T) {
	good := LayerShape{Hidden: 64, Heads: 4, KVHeads: 2, HeadDim: 16, FFN: 96, NormEps: 1e-5, InvFreq: make([]float32, 8)}
	lin := &gpuLinear{}
	weights := func() ResidentWeights {
		return ResidentWeights{QKV: lin, O: lin, GateUp: lin, Down: lin, InputNorm: make([]float32, 64), PostNorm: make([]float32, 64)}
	}
	for _, c := range []struct {
		name  string
		edit  func(*LayerShape, *ResidentWeights)
		wants string // in the error; "" for none
	}{
		{"good", func(*LayerShape, *ResidentWeights) {}, ""},
		{"bias", func(_ *LayerShape, w *ResidentWeights) { w.QKVBias = make([]float32, 128) }, ""},
		{"zero hidden", func(s *LayerShape, _ *ResidentWeights) { s.Hidden = 0 }, "positive"},
		{"uneven groups", func(s *LayerShape, _ *ResidentWeights) { s.KVHeads = 3 }, "evenly"},
		{"head dim 6", func(s *LayerShape, _ *ResidentWeights) { s.HeadDim = 6; s.InvFreq = make([]float32, 3) }, "head dim"},
		{"head dim 256", func(s *LayerShape, _ *ResidentWeights) { s.HeadDim = 256; s.InvFreq = make([]float32, 128) }, "head dim"},
		{"frequencies", func(s *LayerShape, _ *ResidentWeights) { s.InvFreq = s.InvFreq[:7] }, "inverse frequencies"},
		{"NaN epsilon", func(s *LayerShape, _ *ResidentWeights) { s.NormEps = float32(math.NaN()) }, "epsilon"},
		{"short norm", func(_ *LayerShape, w *ResidentWeights) { w.PostNorm = w.PostNorm[:63] }, "norms"},
		{"bias length", func(_ *LayerShape, w *ResidentWeights) { w.QKVBias = make([]float32, 127) }, "bias"},
		{"no down yet", func(_ *LayerShape, w *ResidentWeights) { w.Down = nil }, ""},
	} {
		s, w := good, weights()
		c.edit(&s, &w)
		err := s.check(w)
		if (err == nil) != (c.wants == "") || err != nil && !strings.Contains(err.Error(), c.wants) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.wants)
		}
	}
}

func TestResidentForwardChecks(t *testing.T) {
	s := LayerShape{Hidden: 8, Heads: 2, KVHeads: 1, HeadDim: 4}
	kvPer := 2 * s.kvDim() // per sequence and position
	for _, c := range []struct {
		name                                string
		xLen, seqs, n, start, kvLen, maxLen int
		ok                                  bool
	}{
		{"windows", 3 * 5 * 8, 3, 5, 0, -1, 0, true},
		{"cache", 2 * 8, 2, 1, 6, 2 * 7 * kvPer, 7, true},
		{"no sequences", 8, 0, 1, 0, -1, 0, false},
		{"negative start", 8, 1, 1, -1, 7 * kvPer, 7, false},
		{"too many sequences", 65536 * 8, 65536, 1, 0, -1, 0, false},
		{"short x", 3*5*8 - 1, 3, 5, 0, -1, 0, false},
		{"start without cache", 8, 1, 1, 2, -1, 0, false},
		{"past the cache", 2 * 8, 2, 1, 7, 2 * 7 * kvPer, 7, false},
		{"short cache", 2 * 8, 2, 1, 0, 2*7*kvPer - 1, 7, false},
	} {
		err := checkForward(s, c.xLen, c.seqs, c.n, c.start, c.kvLen, c.maxLen)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// TestTensorsNeedADevice: tensors of no device are refused.
func TestTensorsNeedADevice(t *testing.T) {
	if err := CopyTensor(nil, nil, 0); err == nil {
		t.Error("copy between nil tensors accepted")
	}
	if _, err := TensorView(nil, 0, 0); err == nil {
		t.Error("view of a nil tensor accepted")
	}
}

// TestResidentTensor: upload, device copy, product and download.
func TestResidentTensor(t *testing.T) {
	r := resident(t)
	rng := rand.New(rand.NewPCG(4, 4))
	const rows, out, in = 37, 19, 64
	x, w := randn(rng, rows*in), randn(rng, out*in)
	a, err := r.NewTensor(rows * in)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	zeros := make([]float32, rows*in)
	if err := a.Download(zeros); err != nil {
		t.Fatal(err)
	}
	for i, v := range zeros {
		if v != 0 {
			t.Fatalf("new tensor holds %v at %d", v, i)
		}
	}
	if err := a.Upload(x); err != nil {
		t.Fatal(err)
	}
	b, err := r.NewTensor(rows*in + 5)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	if err := CopyTensor(b, a, rows*in); err != nil {
		t.Fatal(err)
	}
	l, err := r.NewLinear(w, out, in)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	dst, err := r.NewTensor(rows * out)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Release()
	if err := r.MatMulLinear(l, dst, b, rows); err != nil {
		t.Fatal(err)
	}
	got, want := make([]float32, rows*out), make([]float32, rows*out)
	if err := dst.Download(got); err != nil {
		t.Fatal(err)
	}
	l.MatMul(want, x, rows)
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	if e := relErr(got, want); !(e <= 1e-6) {
		t.Errorf("device product differs from the host one by %g", e)
	}
	// A view writes into its tensor at its offset.
	v, err := TensorView(b, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Upload([]float32{7, 8, 9}); err != nil {
		t.Fatal(err)
	}
	v.Release() // does nothing to b
	head := make([]float32, 9)
	if err := b.Download(head); err != nil {
		t.Fatal(err)
	}
	if want := append(append(append([]float32(nil), x[:5]...), 7, 8, 9), x[8]); !slices.Equal(head, want) {
		t.Errorf("after a view's upload: %v, want %v", head, want)
	}
	if _, err := TensorView(b, rows*in, 6); err == nil {
		t.Error("view past the end accepted")
	}
	if err := a.Upload(make([]float32, rows*in+1)); err == nil {
		t.Error("upload past the end accepted")
	}
	if err := r.MatMulLinear(l, dst, b, rows+1); err == nil {
		t.Error("product past the end of the output accepted")
	}
	a.Release()
	if err := a.Upload(x[:1]); err == nil {
		t.Error("upload after Release accepted")
	}
}

// TestResidentGramAddTensor: AddTensor folds device rows into H exactly
// as Add folds the same rows from the host.
func TestResidentGramAddTensor(t *testing.T) {
	r := resident(t)
	rng := rand.New(rand.NewPCG(5, 5))
	const n = 96
	host, err := r.NewGram(n)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Release()
	dev, err := r.NewGram(n)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Release()
	x, err := r.NewTensor(300 * n)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Release()
	for _, b := range []struct {
		rows        int
		keep, scale float64
	}{{300, 0, 2.0 / 300}, {17, 300.0 / 317, 2.0 / 317}, {128, 317.0 / 445, 2.0 / 445}} {
		rows := randn(rng, b.rows*n)
		if err := host.Add(rows, b.rows, b.keep, b.scale); err != nil {
			t.Fatal(err)
		}
		if err := x.Upload(rows); err != nil {
			t.Fatal(err)
		}
		if err := dev.(TensorGram).AddTensor(x, b.rows, b.keep, b.scale); err != nil {
			t.Fatal(err)
		}
	}
	want, err := host.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	got, err := dev.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		for j := i; j < n; j++ {
			if got[i*n+j] != want[i*n+j] {
				t.Fatalf("H[%d][%d] = %v, Add gives %v", i, j, got[i*n+j], want[i*n+j])
			}
		}
	}
	if err := dev.(TensorGram).AddTensor(x, 301, 1, 1); err == nil {
		t.Error("rows past the end of the tensor accepted")
	}
}
