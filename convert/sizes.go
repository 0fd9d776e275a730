package convert

import (
	"fmt"
	"strings"

	"github.com/qtk-dev/qtk/formats/hf"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
	"github.com/qtk-dev/qtk/sizing"
)

// GGUFTensorBytes is the tensor data WriteGGUF writes for cfg at a file
// type (f16, q4_k_m, ...), with the same per-tensor type choice; the file
// adds its metadata, vocabulary and alignment padding.
func GGUFTensorBytes(cfg *model.Config, fileType string) (int64, error) {
	ft, ok := ggufFileTypes[strings.ToLower(fileType)]
	if !ok {
		return 0, fmt.Errorf("unsupported GGUF type %q (want one of %s)", fileType, strings.Join(GGUFTypes(), ", "))
	}
	var total int64
	for _, spec := range cfg.Tensors() {
		t, _, err := ggufTensorType(ft, spec, cfg)
		if err != nil {
			return 0, err
		}
		rows, rowLen := int64(1), int64(spec.Shape[len(spec.Shape)-1])
		for _, d := range spec.Shape[:len(spec.Shape)-1] {
			rows *= int64(d)
		}
		size, err := t.RowSize(rowLen)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", spec.Name, err)
		}
		total += rows * size
	}
	if cfg.Rope.Type == "llama3" {
		total += 4 * int64(len(ropeFreqFactors(cfg))) // WriteGGUF's F32 rope_freqs.weight
	}
	return total, nil
}

// FormatSize is the weight size of a model in one storage format.
type FormatSize struct {
	Format        string  `json:"format"`
	Bytes         int64   `json:"bytes"`
	BitsPerWeight float64 `json:"bits_per_weight"`
	// Unavailable says why qtk cannot write the model in this format.
	Unavailable string `json:"unavailable,omitempty"`
}

// FormatSizes lists the weight bytes of cfg in every format qtk writes:
// fp16, the HF INT4 layouts (asymmetric, groupSize input channels per
// scale; tensors that are not quantized stay at 2 bytes a value) and each
// GGUF type (tensor data only). A format the model's shapes do not fit is
// listed with the reason.
func FormatSizes(cfg *model.Config, groupSize int) []FormatSize {
	params := float64(cfg.ParamCount())
	var out []FormatSize
	add := func(name string, bytes int64, err error) {
		if err != nil {
			out = append(out, FormatSize{Format: name, Unavailable: err.Error()})
			return
		}
		out = append(out, FormatSize{Format: name, Bytes: bytes, BitsPerWeight: 8 * float64(bytes) / params})
	}
	add("fp16", sizing.FloatWeightBytes(cfg, 2), nil)
	scheme := quant.Scheme{Bits: 4, GroupSize: groupSize}
	for _, f := range []hf.Format{hf.GPTQ, hf.AWQ, hf.CompressedTensors} {
		bytes, err := sizing.HFWeightBytes(cfg, f, scheme, 2)
		add(fmt.Sprintf("%s int4 g%d", f, groupSize), bytes, err)
	}
	for _, typ := range GGUFTypes() {
		bytes, err := GGUFTensorBytes(cfg, typ)
		add("gguf "+typ, bytes, err)
	}
	return out
}
