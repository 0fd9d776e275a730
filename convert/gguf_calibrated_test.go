package convert

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/qtk-dev/qtk/formats/gguf"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
)

func openGGUF(t *testing.T, path string) *gguf.File {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// attnQError is Σ_t ‖(W - Ŵ)·x_t‖² for layer 0's query projection over the
// inputs x_t it sees on tokens, W the checkpoint's weight permuted as GGUF
// stores it and Ŵ the file's.
func attnQError(t *testing.T, ck *model.Checkpoint, f *gguf.File, tokens []int) float64 {
	t.Helper()
	cfg := ck.Config
	embed, _ := ck.Float32(model.TokenEmbedding, -1)
	norm, _ := ck.Float32(model.AttnNorm, 0)
	w, _ := ck.Float32(model.AttnQ, 0)
	w, _ = model.PermuteQK(w, cfg.QDim(), cfg.HiddenSize, cfg.NumHeads)
	wq, err := f.Dequantize("blk.0.attn_q.weight")
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.HiddenSize
	x := make([]float32, h)
	var sum float64
	for _, id := range tokens {
		runtime.RMSNorm(x, embed[id*h:(id+1)*h], norm, cfg.RMSNormEps)
		for r := range cfg.QDim() {
			var d float64
			for c, v := range x {
				d += float64(w[r*h+c]-wq[r*h+c]) * float64(v)
			}
			sum += d * d
		}
	}
	return sum
}

// TestCalibratedGGUF quantizes the bundled model into calibrated GGUF files
// and checks them against the plain conversion of the same type: the same
// tensors and types, the global tensors byte for byte, different linears
// with a lower output error for GPTQ, and folded norms for AWQ.
func TestCalibratedGGUF(t *testing.T) {
	ck := openTiny(t)
	tokens := calibrationTokens(t, ck)
	for _, typ := range []string{"q4_0", "q4_k_m"} {
		plainPath := filepath.Join(t.TempDir(), "plain.gguf")
		if _, err := WriteGGUF(context.Background(), ck, plainPath, GGUFOptions{Type: typ}); err != nil {
			t.Fatal(err)
		}
		plain := openGGUF(t, plainPath)
		for _, method := range []Method{GPTQ, AWQ} {
			t.Run(typ+"/"+string(method), func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "calibrated.gguf")
				opts := Options{Method: method, Tokens: tokens, Clip: method == AWQ}
				opts.GPTQ.TrueSequential, opts.GPTQ.ActOrder = true, true
				// GPTQ needs more calibration tokens than channels (256) not
				// to overfit; AWQ's searches are slower and need fewer.
				opts.Calib.Samples, opts.Calib.SeqLen = 16, 128
				if method == AWQ {
					opts.Calib.Samples, opts.Calib.SeqLen = 4, 64
				}
				if _, err := QuantizeGGUF(context.Background(), ck, out, GGUFOptions{Type: typ}, opts); err != nil {
					t.Fatal(err)
				}
				f := openGGUF(t, out)
				if len(f.Tensors()) != len(plain.Tensors()) || len(f.Metadata()) != len(plain.Metadata()) {
					t.Fatalf("%d tensors and %d keys, plain conversion %d and %d", len(f.Tensors()), len(f.Metadata()), len(plain.Tensors()), len(plain.Metadata()))
				}
				for _, ti := range plain.Tensors() {
					got, ok := f.Tensor(ti.Name)
					if !ok || got.Type != ti.Type {
						t.Errorf("%s: %v, plain %s", ti.Name, got.Type, ti.Type)
						continue
					}
					a, _ := f.TensorData(ti.Name)
					b, _ := plain.TensorData(ti.Name)
					same := bytes.Equal(a, b)
					switch ti.Name {
					case "token_embd.weight", "output_norm.weight", "output.weight":
						if !same {
							t.Errorf("%s differs from the plain conversion", ti.Name)
						}
					case "blk.1.ffn_up.weight":
						if same {
							t.Errorf("%s is the plain conversion's", ti.Name)
						}
					case "blk.0.attn_norm.weight":
						if same != (method == GPTQ) {
							t.Errorf("%s: same as plain %v with %s", ti.Name, same, method)
						}
					}
				}
				if method == GPTQ {
					got, base := attnQError(t, ck, f, tokens[:256]), attnQError(t, ck, plain, tokens[:256])
					t.Logf("layer 0 attn_q output error %.4g, plain %.4g", got, base)
					if got >= base {
						t.Errorf("layer 0 attn_q output error %.4g, not below the plain conversion's %.4g", got, base)
					}
				}
			})
		}
	}
}

func TestCalibratedGGUFRefusesAndLeavesNothing(t *testing.T) {
	ck := openTiny(t)
	tokens := calibrationTokens(t, ck)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.gguf")
	calib := Options{Method: GPTQ, Tokens: tokens}
	calib.Calib.Samples, calib.Calib.SeqLen = 2, 64
	for name, tc := range map[string]struct {
		typ  string
		opts Options
	}{
		"rtn":           {"q4_0", Options{Method: RTN}},
		"type q8_0":     {"q8_0", calib},
		"no tokens":     {"q4_0", Options{Method: GPTQ}},
		"awq then gptq": {"q4_0", Options{Method: GPTQ, Tokens: tokens, AWQThenGPTQ: true}},
	} {
		if _, err := QuantizeGGUF(context.Background(), ck, out, GGUFOptions{Type: tc.typ}, tc.opts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := QuantizeGGUF(ctx, ck, out, GGUFOptions{Type: "q4_0"}, calib); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}
