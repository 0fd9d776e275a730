package convert

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/formats/hf"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
	"github.com/qtk-dev/qtk/tokenizer"
)

var tinyLlama = filepath.Join("..", "testdata", "models", "tiny-llama")

func openTiny(t *testing.T) *model.Checkpoint {
	t.Helper()
	ck, err := model.Open(tinyLlama)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ck.Close() })
	return ck
}

// calibrationTokens tokenizes the bundled WikiText-2 excerpt.
func calibrationTokens(t *testing.T, ck *model.Checkpoint) []int {
	t.Helper()
	tok, err := tokenizer.Load(ck.TokenizerPath())
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join("..", "testdata", "text", "wiki.test.excerpt.raw"))
	if err != nil {
		t.Fatal(err)
	}
	return tok.Encode(string(text), true)
}

type decidedKey struct {
	role  model.Role
	layer int
}

// TestWrittenWeightsAreTheDecidedOnes quantizes the bundled model into every
// format and checks that the weights read back from the files dequantize,
// bit for bit, to what the quantizer decided.
func TestWrittenWeightsAreTheDecidedOnes(t *testing.T) {
	ck := openTiny(t)
	tests := []struct {
		format hf.Format
		scheme quant.Scheme
		shard  int64
	}{
		{hf.GPTQ, quant.Scheme{Bits: 4, GroupSize: 128}, 2_000_000},
		{hf.GPTQ, quant.Scheme{Bits: 8, GroupSize: -1, Symmetric: true}, 0},
		{hf.AWQ, quant.Scheme{Bits: 4, GroupSize: 64}, 0},
		{hf.CompressedTensors, quant.Scheme{Bits: 4, GroupSize: 32}, 0},
		{hf.CompressedTensors, quant.Scheme{Bits: 8, GroupSize: 128, Symmetric: true}, 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "out")
			decided := map[decidedKey]*quant.Tensor{}
			_, err := Quantize(context.Background(), ck, dest, false, Options{
				Method:        RTN,
				Format:        tt.format,
				Scheme:        tt.scheme,
				MaxShardBytes: tt.shard,
				Decided:       func(role model.Role, l int, q *quant.Tensor) { decided[decidedKey{role, l}] = q },
			})
			if err != nil {
				t.Fatal(err)
			}
			back, err := model.Open(dest)
			if err != nil {
				t.Fatal(err)
			}
			defer back.Close()
			if back.Quant == nil || back.Quant.Format != tt.format {
				t.Fatalf("read back as %+v", back.Quant)
			}
			if len(decided) != 7*ck.Config.NumLayers {
				t.Fatalf("%d tensors decided, want %d", len(decided), 7*ck.Config.NumLayers)
			}
			for key, want := range decided {
				got, err := back.Float32(key.role, key.layer)
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range want.Dequantize() {
					if got[i] != v {
						t.Fatalf("%s layer %d weight %d: read %g, decided %g", key.role, key.layer, i, got[i], v)
					}
				}
			}
			// Unquantized tensors are copied unchanged.
			for _, role := range []model.Role{model.TokenEmbedding, model.Output, model.OutputNorm} {
				a, _ := ck.Tensor(role, -1)
				b, err := back.Tensor(role, -1)
				if err != nil || b.DType != a.DType || !slices.Equal(a.Data, b.Data) {
					t.Errorf("%s changed on the way (%v)", role, err)
				}
			}
			_, err = os.Stat(filepath.Join(dest, "model.safetensors.index.json"))
			if sharded := err == nil; sharded != (tt.shard > 0) {
				t.Errorf("sharded output %v, want %v", sharded, tt.shard > 0)
			}
			if _, err := os.Stat(filepath.Join(dest, "tokenizer.json")); err != nil {
				t.Errorf("tokenizer not copied: %v", err)
			}
		})
	}
}

func TestQuantizeRefusesAndLeavesNothing(t *testing.T) {
	ck := openTiny(t)
	dir := t.TempDir()
	existing := filepath.Join(dir, "exists")
	os.Mkdir(existing, 0o755)
	tests := []struct {
		name string
		dest string
		opts Options
		want string
	}{
		{"existing output", existing, Options{Method: RTN, Format: hf.GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128}}, "already exists"},
		{"bad group", filepath.Join(dir, "a"), Options{Method: RTN, Format: hf.GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 96}}, "does not divide"},
		{"bad bits", filepath.Join(dir, "b"), Options{Method: RTN, Format: hf.GPTQ, Scheme: quant.Scheme{Bits: 3, GroupSize: 128}}, "3-bit"},
		{"awq act-order", filepath.Join(dir, "c"), Options{Method: GPTQ, Format: hf.AWQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128}, GPTQ: GPTQOptions{ActOrder: true}}, "act-order"},
		{"short calibration", filepath.Join(dir, "d"), Options{Method: GPTQ, Format: hf.GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128}, Tokens: []int{1, 2, 3}}, "shorter than one window"},
		{"unknown method", filepath.Join(dir, "e"), Options{Method: "fp8", Format: hf.GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128}}, "unknown method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Quantize(context.Background(), ck, tt.dest, false, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "exists" {
		t.Fatalf("left behind: %v", entries)
	}
}

func TestQuantizeCancelledLeavesNothing(t *testing.T) {
	ck := openTiny(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Quantize(ctx, ck, filepath.Join(dir, "out"), false, Options{Method: RTN, Format: hf.GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}

// TestGPTQWritesLoadableCheckpoint runs GPTQ with act-order on a small
// calibration set and reads the result back.
func TestGPTQWritesLoadableCheckpoint(t *testing.T) {
	ck := openTiny(t)
	tokens := calibrationTokens(t, ck)
	dest := filepath.Join(t.TempDir(), "gptq")
	opts := Options{
		Method: GPTQ, Format: hf.GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128},
		Tokens: tokens,
		GPTQ:   GPTQOptions{TrueSequential: true, ActOrder: true},
	}
	opts.Calib.Samples, opts.Calib.SeqLen = 4, 128
	if _, err := Quantize(context.Background(), ck, dest, false, opts); err != nil {
		t.Fatal(err)
	}
	back, err := model.Open(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if !back.Quant.ActOrder {
		t.Error("act-order not recorded in the written config")
	}
}

// TestAWQFoldsScalesIntoNorms runs AWQ on a small calibration set: the
// written norms carry the scales, and the checkpoint loads.
func TestAWQFoldsScalesIntoNorms(t *testing.T) {
	ck := openTiny(t)
	tokens := calibrationTokens(t, ck)
	for _, thenGPTQ := range []bool{false, true} {
		dest := filepath.Join(t.TempDir(), "awq")
		opts := Options{Method: AWQ, Format: hf.AWQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128}, Tokens: tokens, Clip: true, AWQThenGPTQ: thenGPTQ}
		opts.GPTQ.TrueSequential = true
		opts.Calib.Samples, opts.Calib.SeqLen = 2, 64
		if _, err := Quantize(context.Background(), ck, dest, false, opts); err != nil {
			t.Fatal(err)
		}
		back, err := model.Open(dest)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := ck.Tensor(model.AttnNorm, 0)
		b, err := back.Tensor(model.AttnNorm, 0)
		if err != nil || b.DType != a.DType || slices.Equal(a.Data, b.Data) {
			t.Fatalf("GPTQ rounding %v: input_layernorm of layer 0 was not rescaled (err %v)", thenGPTQ, err)
		}
		back.Close()
	}
}

// TestCheckFinite: the first NaN or infinite weight is reported, however
// the rows are split over the cores.
func TestCheckFiniteNarrowRows(t *testing.T) {
	const rows, cols = 300, 7
	for _, tc := range []struct {
		bad  []int // indices spoilt, in order: NaN, +Inf, -Inf...
		want string
	}{
		{nil, ""},
		{[]int{5}, "row 0, column 5 is NaN"},
		{[]int{rows*cols - 1}, "row 299, column 6 is NaN"},
		{[]int{250*cols + 3, 70*cols + 1}, "row 70, column 1 is +Inf"},
		{[]int{200 * cols, 199*cols + 6, 1000}, "row 142, column 6 is -Inf"},
	} {
		w := make([]float32, rows*cols)
		for k, i := range tc.bad {
			w[i] = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}[k]
		}
		err := checkFinite(w, cols)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("spoilt at %v: %v, want %q", tc.bad, err, tc.want)
		}
	}
}
