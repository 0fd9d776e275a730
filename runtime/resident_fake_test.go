package runtime

import (
	"fmt"
	"math"

	"github.com/qtk-dev/qtk/compute"
)

// fakeResident is a compute.Resident that keeps its tensors in host memory
// and runs layers with the runtime's CPU maths written out plainly: a test
// double of a GPU backend, so that what ResidentState does around the
// layers (cache layout, positions, chunks, head, final norm) is checked
// without a GPU. It counts the calls a step makes. Its decode steps
// (compute.StepRecorder) run the layers and the head one after the other.
type fakeResident struct {
	compute.Backend // the CPU: linears and products
	calls           fakeCalls
}

type fakeCalls struct {
	tensors, uploads, downloads, steps, layers, heads int
}

func newFakeResident() *fakeResident { return &fakeResident{Backend: compute.CPU} }

type fakeTensor struct {
	f    *fakeResident
	data []float32
}

func (t *fakeTensor) Len() int { return len(t.data) }

func (t *fakeTensor) Upload(src []float32) error {
	if len(src) > len(t.data) {
		return fmt.Errorf("fake: upload of %d values into %d", len(src), len(t.data))
	}
	t.f.calls.uploads++
	copy(t.data, src)
	return nil
}

func (t *fakeTensor) Download(dst []float32) error {
	if len(dst) > len(t.data) {
		return fmt.Errorf("fake: download of %d values from %d", len(dst), len(t.data))
	}
	t.f.calls.downloads++
	copy(dst, t.data)
	return nil
}

func (t *fakeTensor) Release() { t.data = nil }

func (f *fakeResident) NewTensor(n int) (compute.Tensor, error) {
	f.calls.tensors++
	return &fakeTensor{f: f, data: make([]float32, n)}, nil
}

func (f *fakeResident) MatMulLinear(l compute.Linear, dst, x compute.Tensor, rows int) error {
	f.calls.heads++
	l.MatMul(dst.(*fakeTensor).data, x.(*fakeTensor).data, rows)
	return l.Err()
}

func (f *fakeResident) NewDecodeStep(d compute.DecodeStep) (compute.Step, error) {
	if len(d.KV) != len(d.Layers) {
		return nil, fmt.Errorf("fake: %d caches for %d layers", len(d.KV), len(d.Layers))
	}
	return &fakeStep{f: f, d: d}, nil
}

type fakeStep struct {
	f *fakeResident
	d compute.DecodeStep
}

func (st *fakeStep) Run(pos int, embedding, hidden, logits []float32) error {
	st.f.calls.steps++
	if err := st.d.X.Upload(embedding); err != nil {
		return err
	}
	for l, ly := range st.d.Layers {
		if err := ly.Forward(st.d.X, 1, 1, pos, st.d.KV[l], st.d.MaxLen, nil); err != nil {
			return err
		}
	}
	if err := st.f.MatMulLinear(st.d.Head, st.d.Logits, st.d.X, 1); err != nil {
		return err
	}
	if err := st.d.X.Download(hidden); err != nil {
		return err
	}
	return st.d.Logits.Download(logits)
}

func (*fakeStep) Release() {}

func (f *fakeResident) NewLayer(shape compute.LayerShape, w compute.ResidentWeights) (compute.ResidentLayer, error) {
	return &fakeLayer{f: f, s: shape, w: w}, nil
}

type fakeLayer struct {
	f *fakeResident
	s compute.LayerShape
	w compute.ResidentWeights
}

func (*fakeLayer) Release() {}

func (ly *fakeLayer) Forward(xt compute.Tensor, seqs, n, start int, kvt compute.Tensor, maxLen int, input func(string, compute.Tensor, int) error) error {
	ly.f.calls.layers++
	s, w := ly.s, ly.w
	h, hd, ffn := s.Hidden, s.HeadDim, s.FFN
	qDim, kvDim := s.Heads*hd, s.KVHeads*hd
	stride := qDim + 2*kvDim
	rows := seqs * n
	x := xt.(*fakeTensor).data
	var kv []float32
	switch {
	case input != nil:
		return fmt.Errorf("fake: no hooks")
	case len(x) < rows*h:
		return fmt.Errorf("fake: x holds %d values, need %d", len(x), rows*h)
	case kvt == nil && start != 0:
		return fmt.Errorf("fake: start %d without a cache", start)
	case kvt != nil:
		kv = kvt.(*fakeTensor).data
		if start+n > maxLen || len(kv) < seqs*maxLen*2*kvDim {
			return fmt.Errorf("fake: cache of %d values for %d sequences of %d positions, %d+%d", len(kv), seqs, maxLen, start, n)
		}
	}
	eps := float64(s.NormEps)
	normed := make([]float32, rows*h)
	rmsNorm(normed, x, w.InputNorm, rows, eps)
	qkv := make([]float32, rows*stride)
	w.QKV.MatMul(qkv, normed, rows)
	if w.QKVBias != nil {
		addBias(qkv, w.QKVBias, rows)
	}
	half := hd / 2
	cos, sin := make([]float32, half), make([]float32, half)
	for r := range rows {
		pos := start + r%n
		for i, f := range s.InvFreq {
			angle := float64(float32(pos) * f)
			cos[i], sin[i] = float32(math.Cos(angle)), float32(math.Sin(angle))
		}
		for head := range s.Heads + s.KVHeads {
			rotate(qkv[r*stride+head*hd:r*stride+(head+1)*hd], cos, sin)
		}
	}
	// key and value return a sequence's key and value vectors of KV head g
	// at position p: from the cache, or from the sequence's own rows.
	key := func(seq, g, p int) []float32 {
		if kv != nil {
			at := ((seq*maxLen+p)*2)*kvDim + g*hd
			return kv[at : at+hd]
		}
		at := (seq*n+p)*stride + qDim + g*hd
		return qkv[at : at+hd]
	}
	value := func(seq, g, p int) []float32 {
		if kv != nil {
			at := ((seq*maxLen+p)*2+1)*kvDim + g*hd
			return kv[at : at+hd]
		}
		at := (seq*n+p)*stride + qDim + kvDim + g*hd
		return qkv[at : at+hd]
	}
	if kv != nil {
		for r := range rows {
			seq, pos := r/n, start+r%n
			for g := range s.KVHeads {
				copy(key(seq, g, pos), qkv[r*stride+qDim+g*hd:])
				copy(value(seq, g, pos), qkv[r*stride+qDim+kvDim+g*hd:])
			}
		}
	}
	attn := make([]float32, rows*qDim)
	scale := float32(1 / math.Sqrt(float64(hd)))
	for r := range rows {
		seq, t := r/n, r%n
		last := t // the last visible position
		if kv != nil {
			last += start
		}
		scores := make([]float32, last+1)
		for head := range s.Heads {
			g := head / (s.Heads / s.KVHeads)
			q := qkv[r*stride+head*hd : r*stride+(head+1)*hd]
			for p := range scores {
				var dot float32
				for i, k := range key(seq, g, p) {
					dot += q[i] * k
				}
				scores[p] = dot * scale
			}
			softmaxPrefix(scores, len(scores))
			out := attn[r*qDim+head*hd : r*qDim+(head+1)*hd]
			for p, prob := range scores {
				for i, v := range value(seq, g, p) {
					out[i] += prob * v
				}
			}
		}
	}
	proj := make([]float32, rows*h)
	w.O.MatMul(proj, attn, rows)
	addInto(x[:rows*h], proj)
	rmsNorm(normed, x, w.PostNorm, rows, eps)
	gateUp := make([]float32, rows*2*ffn)
	w.GateUp.MatMul(gateUp, normed, rows)
	act := make([]float32, rows*ffn)
	swiGLU(act, gateUp, rows, ffn)
	w.Down.MatMul(proj, act, rows)
	addInto(x[:rows*h], proj)
	return nil
}
