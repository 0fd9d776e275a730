package runtime

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/qtk-dev/qtk/model"
)

// naiveForward is a direct float64 transcription of the LLaMA forward pass
// (RMSNorm, rotate-half RoPE, causal GQA attention, SwiGLU), written for
// clarity, not speed. It returns logits [len(tokens) × vocab].
func naiveForward(t *testing.T, ck *model.Checkpoint, tokens []int) []float64 {
	cfg := ck.Config
	h, hd, n := cfg.HiddenSize, cfg.HeadDim, len(tokens)
	get := func(role model.Role, l int) []float32 {
		w, err := ck.Float32(role, l)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	matvec := func(w []float32, x []float64, rows int) []float64 {
		y := make([]float64, rows)
		for r := range y {
			for c, v := range x {
				y[r] += float64(w[r*len(x)+c]) * v
			}
		}
		return y
	}
	norm := func(x []float64, w []float32) []float64 {
		var ss float64
		for _, v := range x {
			ss += v * v
		}
		inv := 1 / math.Sqrt(ss/float64(len(x))+cfg.RMSNormEps)
		y := make([]float64, len(x))
		for i := range x {
			y[i] = x[i] * inv * float64(w[i])
		}
		return y
	}
	inv := cfg.InvFrequencies()
	rotate := func(v []float64, pos int) {
		half := hd / 2
		for i := 0; i < half; i++ {
			angle := float64(pos) * inv[i]
			c, s := math.Cos(angle), math.Sin(angle)
			x1, x2 := v[i], v[i+half]
			v[i], v[i+half] = x1*c-x2*s, x2*c+x1*s
		}
	}
	emb := get(model.TokenEmbedding, -1)
	xs := make([][]float64, n)
	for i, id := range tokens {
		xs[i] = make([]float64, h)
		for j := range xs[i] {
			xs[i][j] = float64(emb[id*h+j])
		}
	}
	rep := cfg.NumHeads / cfg.NumKVHeads
	for l := 0; l < cfg.NumLayers; l++ {
		wq, wk, wv, wo := get(model.AttnQ, l), get(model.AttnK, l), get(model.AttnV, l), get(model.AttnO, l)
		qs, ks, vs := make([][]float64, n), make([][]float64, n), make([][]float64, n)
		for i := range xs {
			in := norm(xs[i], get(model.AttnNorm, l))
			qs[i], ks[i], vs[i] = matvec(wq, in, cfg.QDim()), matvec(wk, in, cfg.KVDim()), matvec(wv, in, cfg.KVDim())
			for hq := 0; hq < cfg.NumHeads; hq++ {
				rotate(qs[i][hq*hd:(hq+1)*hd], i)
			}
			for g := 0; g < cfg.NumKVHeads; g++ {
				rotate(ks[i][g*hd:(g+1)*hd], i)
			}
		}
		for i := range xs {
			attn := make([]float64, cfg.QDim())
			for hq := 0; hq < cfg.NumHeads; hq++ {
				g := hq / rep
				scores := make([]float64, i+1)
				max := math.Inf(-1)
				for j := 0; j <= i; j++ {
					for d := 0; d < hd; d++ {
						scores[j] += qs[i][hq*hd+d] * ks[j][g*hd+d]
					}
					scores[j] /= math.Sqrt(float64(hd))
					max = math.Max(max, scores[j])
				}
				var sum float64
				for j := range scores {
					scores[j] = math.Exp(scores[j] - max)
					sum += scores[j]
				}
				for j, p := range scores {
					for d := 0; d < hd; d++ {
						attn[hq*hd+d] += p / sum * vs[j][g*hd+d]
					}
				}
			}
			for j, v := range matvec(wo, attn, h) {
				xs[i][j] += v
			}
			in := norm(xs[i], get(model.FFNNorm, l))
			gate, up := matvec(get(model.FFNGate, l), in, cfg.IntermediateSize), matvec(get(model.FFNUp, l), in, cfg.IntermediateSize)
			for j := range gate {
				gate[j] = gate[j] / (1 + math.Exp(-gate[j])) * up[j]
			}
			for j, v := range matvec(get(model.FFNDown, l), gate, h) {
				xs[i][j] += v
			}
		}
	}
	head := get(model.Output, -1)
	var logits []float64
	for i := range xs {
		logits = append(logits, matvec(head, norm(xs[i], get(model.OutputNorm, -1)), cfg.VocabSize)...)
	}
	return logits
}

// TestForwardMatchesNaive checks the runtime's float32 forward pass against
// the float64 transcription above on a prompt of the bundled model.
func TestForwardMatchesNaive(t *testing.T) {
	dir := filepath.Join("..", "testdata", "models", "tiny-llama")
	ck, err := model.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	m, err := Load(ck)
	if err != nil {
		t.Fatal(err)
	}
	tokens := []int{1892, 326, 748, 259, 602, 12, 499, 324, 17, 4000}
	want := naiveForward(t, ck, tokens)
	got := make([]float32, len(want))
	if err := m.NewState(len(tokens)).Forward(tokens, 0, got); err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, w := range want {
		worst = math.Max(worst, math.Abs(float64(got[i])-w))
	}
	if worst > 1e-4 {
		t.Fatalf("worst logit difference from the float64 forward: %.3g, want ≤ 1e-4", worst)
	}
	t.Logf("worst logit difference from the float64 forward: %.3g", worst)
}
