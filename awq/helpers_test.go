package awq

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/qtk-dev/qtk/calibrate"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
	"github.com/qtk-dev/qtk/tokenizer"
)

var (
	tinyLlama = filepath.Join("..", "testdata", "models", "tiny-llama")
	wikiText  = filepath.Join("..", "testdata", "text", "wiki.test.excerpt.raw")
)

// newRand returns a deterministic generator for a test.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

// testLayer is one decoder layer of the bundled tiny-llama with the
// calibration activations at its input.
type testLayer struct {
	cfg  *model.Config
	w    runtime.LayerWeights
	acts *calibrate.Activations
}

// loadLayer reads layer l of tiny-llama and walks windows × seqLen tokens
// of the WikiText excerpt through the float layers before it. With
// expandKV, every layer gets one kv head per query head (each kv head's
// rows repeated for the query heads sharing it): the same function
// without grouped-query attention, so that v→o is searched.
func loadLayer(t testing.TB, l, windows, seqLen int, expandKV bool) testLayer {
	t.Helper()
	ck, err := model.Open(tinyLlama)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ck.Close() })
	tok, err := tokenizer.Load(ck.TokenizerPath())
	if err != nil {
		t.Fatal(err)
	}
	text, err := calibrate.ReadText(wikiText)
	if err != nil {
		t.Fatal(err)
	}
	wins, err := calibrate.Windows(tok.Encode(text, true), calibrate.Options{Samples: windows, SeqLen: seqLen})
	if err != nil {
		t.Fatal(err)
	}
	gqa, cfg := ck.Config, ck.Config
	if expandKV {
		mha := *cfg
		mha.NumKVHeads = cfg.NumHeads
		cfg = &mha
		expanded := *ck
		expanded.Config = cfg
		ck = &expanded
	}
	acts, err := calibrate.Embed(ck, wins)
	if err != nil {
		t.Fatal(err)
	}
	read := func(i int) runtime.LayerWeights {
		w, err := runtime.ReadLayer(ck, i)
		if err != nil {
			t.Fatal(err)
		}
		if expandKV {
			w.K = repeatHeads(w.K, gqa, cfg)
			w.V = repeatHeads(w.V, gqa, cfg)
		}
		return w
	}
	for i := range l {
		if err := acts.Advance(runtime.NewLayer(cfg, read(i))); err != nil {
			t.Fatal(err)
		}
	}
	return testLayer{cfg: cfg, w: read(l), acts: acts}
}

// repeatHeads returns the k or v weights of gqa [kvDim × hidden] with one
// head per query head of mha, repeating each kv head for the query heads
// that share it.
func repeatHeads(w []float32, gqa, mha *model.Config) []float32 {
	h, hd := gqa.HiddenSize, gqa.HeadDim
	rep := gqa.NumHeads / gqa.NumKVHeads
	out := make([]float32, 0, mha.KVDim()*h)
	for q := range gqa.NumHeads {
		g := q / rep
		out = append(out, w[g*hd*h:(g+1)*hd*h]...)
	}
	return out
}

// outputs runs the layer built from w on every calibration window and
// returns what it adds to the residual stream, windows end to end.
func (tl testLayer) outputs(t testing.TB, w runtime.LayerWeights) []float32 {
	t.Helper()
	ly := runtime.NewLayer(tl.cfg, w)
	var out []float32
	for _, x := range tl.acts.X {
		y := append([]float32(nil), x...)
		if err := tl.acts.Runner().Run(ly, y, nil); err != nil {
			t.Fatal(err)
		}
		for i := range y {
			y[i] -= x[i]
		}
		out = append(out, y...)
	}
	return out
}

// relErr returns ‖got - want‖ / ‖want‖.
func relErr(got, want []float32) float64 {
	var d, n float64
	for i, w := range want {
		e := float64(got[i]) - float64(w)
		d += e * e
		n += float64(w) * float64(w)
	}
	return math.Sqrt(d / n)
}

// mse returns the mean squared difference of got and want.
func mse(got, want []float32) float64 {
	var d float64
	for i, w := range want {
		e := float64(got[i]) - float64(w)
		d += e * e
	}
	return d / float64(len(want))
}
