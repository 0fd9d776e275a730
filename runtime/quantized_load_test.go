package runtime_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/convert"
	"github.com/qtk-dev/qtk/formats/hf"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
	"github.com/qtk-dev/qtk/runtime"
	"github.com/qtk-dev/qtk/tokenizer"
)

// widened hides a checkpoint's quantized tensors: every weight is read
// dequantized to float32, the runtime's path before it held quantized
// weights.
type widened struct{ model.Weights }

// TestQuantizedCheckpointLogits loads quantized checkpoints of tiny-llama
// (RTN in each format, GPTQ with act-order) with the weights held
// quantized and compares the logits of a prompt and of decoded tokens
// with those of the dequantized model: on the CPU identical for the
// prompt and within float32 rounding for the decoded tokens (whose 4-bit
// products are computed from the codes), within float16 rounding on a GPU
// (whose 4-bit products of one row multiply in float16 pairs).
func TestQuantizedCheckpointLogits(t *testing.T) {
	tiny := filepath.Join("..", "testdata", "models", "tiny-llama")
	ck, err := model.Open(tiny)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	tok, err := tokenizer.Load(ck.TokenizerPath())
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join("..", "testdata", "text", "wiki.test.excerpt.raw"))
	if err != nil {
		t.Fatal(err)
	}
	tokens := tok.Encode(string(text[:20000]), true)
	var gpu compute.Backend
	if g, err := compute.OpenCUDA(0); err == nil {
		defer g.Close()
		gpu = g
	} else {
		t.Logf("no GPU: %v", err)
	}
	for _, tc := range []struct {
		name string
		opts convert.Options
	}{
		{"rtn-gptq", convert.Options{Method: convert.RTN, Format: hf.GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128}}},
		{"rtn-awq", convert.Options{Method: convert.RTN, Format: hf.AWQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 64}}},
		{"rtn-compressed", convert.Options{Method: convert.RTN, Format: hf.CompressedTensors, Scheme: quant.Scheme{Bits: 4, GroupSize: 32}}},
		{"rtn-gptq-8bit", convert.Options{Method: convert.RTN, Format: hf.GPTQ, Scheme: quant.Scheme{Bits: 8, GroupSize: -1, Symmetric: true}}},
		{"gptq-act-order", convert.Options{Method: convert.GPTQ, Format: hf.GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128},
			Tokens: tokens, GPTQ: convert.GPTQOptions{ActOrder: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), tc.name)
			tc.opts.Calib.Samples, tc.opts.Calib.SeqLen = 2, 64
			if _, err := convert.Quantize(context.Background(), ck, dest, false, tc.opts); err != nil {
				t.Fatal(err)
			}
			qck, err := model.Open(dest)
			if err != nil {
				t.Fatal(err)
			}
			defer qck.Close()
			want := logitsOf(t, compute.CPU, widened{qck}, tokens[:24])
			got := logitsOf(t, compute.CPU, qck, tokens[:24])
			prompt := (len(want) / 24) * (24 - decoded)
			if !slices.Equal(got[:prompt], want[:prompt]) {
				t.Error("cpu: prompt logits with quantized weights differ from the dequantized model's")
			}
			if e := relativeError(got[prompt:], want[prompt:]); !(e < 1e-5) {
				t.Errorf("cpu: decoded logits with quantized weights differ from the dequantized model's by %g (relative)", e)
			}
			// The whole forward pass on a resident backend: the test
			// double on the host, and the GPU when there is one.
			if e := relativeError(logitsOf(t, runtime.NewFakeResident(), qck, tokens[:24]), want); !(e < 1e-5) {
				t.Errorf("resident test double: logits differ from the CPU's by %g (relative)", e)
			}
			if gpu == nil {
				return
			}
			// The GPU holds the head in float16: so does the reference.
			want = logitsOf(t, runtime.NewHalfHeadCPU(), widened{qck}, tokens[:24])
			// Products of one row multiply in float16 pairs on the GPU.
			e := relativeError(logitsOf(t, gpu, qck, tokens[:24]), want)
			t.Logf("%s: logits %.3g off the CPU's (relative)", gpu.Name(), e)
			if !(e < 5e-3) {
				t.Errorf("%s: logits differ from the CPU's by %g (relative)", gpu.Name(), e)
			}
		})
	}
}

// relativeError is |got - want| / |want|.
func relativeError(got, want []float32) float64 {
	var d, w float64
	for i := range want {
		d += (float64(got[i]) - float64(want[i])) * (float64(got[i]) - float64(want[i]))
		w += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(d / w)
}

// decoded is the number of tokens logitsOf runs one at a time, after the
// prompt.
const decoded = 4

// logitsOf loads w on be and returns the logits of a prompt of all but
// the last decoded tokens (one product of many rows) followed by those of
// the last decoded one by one (products of one row), through the model's
// Sequence: on the device when be runs whole layers.
func logitsOf(t *testing.T, be compute.Backend, w model.Weights, tokens []int) []float32 {
	t.Helper()
	m, err := runtime.LoadOn(be, w)
	if err != nil {
		t.Fatal(err)
	}
	vocab := m.Config.VocabSize
	s, err := m.NewSequence(len(tokens))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	prompt := len(tokens) - decoded
	logits := make([]float32, len(tokens)*vocab)
	if err := s.Forward(tokens[:prompt], 0, logits); err != nil {
		t.Fatal(err)
	}
	for i := prompt; i < len(tokens); i++ {
		if err := s.Forward(tokens[i:i+1], 0, logits[i*vocab:]); err != nil {
			t.Fatal(err)
		}
	}
	return logits
}
