package convert

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/qtk-dev/qtk/formats/hf"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
	"github.com/qtk-dev/qtk/sizing"
)

// TestGGUFTensorBytesOfKnownShapes checks the per-type sizes for the
// Llama-2-7B and Llama-3-8B shapes, worked out by hand. Norms are F32 in
// every type (65 of 4096 values: 1,064,960 bytes). Blocks: Q8_0 34 bytes
// per 32 values, Q4_0 18, Q4_1 20; Q4_K 144 and Q6_K 210 per 256. The
// head becomes Q6_K except at Q8_0 (and F16/BF16); at Q4_K_M, attn_v and
// ffn_down are Q6_K in 16 of the 32 layers (llama.cpp's use_more_bits:
// the first and last 4, and every third between).
//
// Llama-2-7B: embedding and head 131,072,000 values each, the decoder's
// linears 6,476,005,376. Q8_0: (2·131,072,000 + 6,476,005,376)/32·34 +
// 1,064,960 = 7,160,348,672. Q4_0: (131,072,000 + 6,476,005,376)/32·18 +
// 131,072,000/256·210 + 1,064,960 = 3,825,065,984.
func TestGGUFTensorBytesOfKnownShapes(t *testing.T) {
	llama2 := `{"model_type":"llama","hidden_size":4096,"intermediate_size":11008,"num_hidden_layers":32,
		"num_attention_heads":32,"vocab_size":32000}`
	llama3 := `{"model_type":"llama","hidden_size":4096,"intermediate_size":14336,"num_hidden_layers":32,
		"num_attention_heads":32,"num_key_value_heads":8,"vocab_size":128256}`
	tests := []struct {
		config, typ string
		want        int64
	}{
		{llama2, "f16", 13_477_363_712}, // 2·6,738,149,376 + 1,064,960
		{llama2, "bf16", 13_477_363_712},
		{llama2, "q8_0", 7_160_348_672},
		{llama2, "q4_0", 3_825_065_984},
		{llama2, "q4_1", 4_238_008_320},
		{llama2, "q6_k", 5_528_453_120},
		{llama2, "q4_k_m", 4_080_263_168},
		{llama3, "f16", 16_061_054_976},
		{llama3, "q8_0", 8_532_934_656},
		{llama3, "q4_0", 4_653_375_488},
		{llama3, "q4_1", 5_122_416_640},
		{llama3, "q6_k", 6_588_170_240},
		{llama3, "q4_k_m", 4_912_898_048},
	}
	for _, tt := range tests {
		cfg, err := model.ParseConfig([]byte(tt.config))
		if err != nil {
			t.Fatal(err)
		}
		got, err := GGUFTensorBytes(cfg, tt.typ)
		if err != nil || got != tt.want {
			t.Errorf("%d-layer %d-vocab %s: %d bytes (%v), want %d", cfg.NumLayers, cfg.VocabSize, tt.typ, got, err, tt.want)
		}
	}
}

// TestSizesMatchWrittenFiles: the computed sizes are what the writers
// actually produce for the bundled model.
func TestSizesMatchWrittenFiles(t *testing.T) {
	for _, typ := range []string{"f16", "q8_0", "q4_k_m"} {
		ck, f := writeTinyGGUF(t, typ)
		var written int64
		for _, ti := range f.Tensors() {
			data, err := f.TensorData(ti.Name)
			if err != nil {
				t.Fatal(err)
			}
			written += int64(len(data))
		}
		if want, err := GGUFTensorBytes(ck.Config, typ); err != nil || want != written {
			t.Errorf("gguf %s: computed %d bytes (%v), written %d", typ, want, err, written)
		}
	}
	ck := openTiny(t)
	scheme := quant.Scheme{Bits: 4, GroupSize: 64}
	for _, format := range []hf.Format{hf.GPTQ, hf.AWQ, hf.CompressedTensors} {
		dest := filepath.Join(t.TempDir(), "out")
		if _, err := Quantize(context.Background(), ck, dest, false, Options{Method: RTN, Format: format, Scheme: scheme}); err != nil {
			t.Fatal(err)
		}
		back, err := model.Open(dest)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := back.StoredTensors()
		if err != nil {
			t.Fatal(err)
		}
		var written int64
		for _, st := range stored {
			written += int64(len(st.Data))
		}
		back.Close()
		want, err := sizing.HFWeightBytes(ck.Config, format, scheme, sizing.DTypeBytes(ck.Config.DType))
		if err != nil || want != written {
			t.Errorf("%s: computed %d bytes (%v), written %d", format, want, err, written)
		}
	}
}

// TestConfigFromGGUF reads back the hyperparameters WriteGGUF stored.
func TestConfigFromGGUF(t *testing.T) {
	ck, f := writeTinyGGUF(t, "q8_0")
	got, err := model.ConfigFromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	want := ck.Config
	if got.ModelType != want.ModelType || got.NumLayers != want.NumLayers || got.HiddenSize != want.HiddenSize ||
		got.IntermediateSize != want.IntermediateSize || got.NumHeads != want.NumHeads || got.NumKVHeads != want.NumKVHeads ||
		got.HeadDim != want.HeadDim || got.VocabSize != want.VocabSize || got.MaxPositions != want.MaxPositions ||
		got.TieWordEmbeddings != want.TieWordEmbeddings || got.ParamCount() != want.ParamCount() {
		t.Fatalf("read back %+v, want %+v", got, want)
	}
}

// TestFormatSizesNamesWhatItCannotWrite: a group size that does not divide
// the input channels makes the INT4 layouts unavailable, not an error.
func TestFormatSizesNamesWhatItCannotWrite(t *testing.T) {
	cfg := openTiny(t).Config
	tests := []struct {
		groupSize   int
		unavailable int
	}{{128, 0}, {96, 3}}
	for _, tt := range tests {
		sizes := FormatSizes(cfg, tt.groupSize)
		if len(sizes) != 1+3+len(GGUFTypes()) {
			t.Fatalf("%d formats", len(sizes))
		}
		n := 0
		for _, s := range sizes {
			switch {
			case s.Unavailable != "":
				n++
			case s.Bytes <= 0 || s.BitsPerWeight <= 0:
				t.Errorf("group %d: %+v", tt.groupSize, s)
			}
		}
		if n != tt.unavailable {
			t.Errorf("group %d: %d formats unavailable, want %d", tt.groupSize, n, tt.unavailable)
		}
	}
}
