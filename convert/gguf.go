package convert

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/qtk-dev/qtk/formats/gguf"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/progress"
)

// GGUFOptions configures WriteGGUF.
type GGUFOptions struct {
	// Type is the file type: f16, bf16, q8_0, q4_0, q4_1, q4_k_m or q6_k.
	Type  string
	Force bool   // replace an existing output file
	Name  string // general.name; the model directory's name when empty
	Log   func(format string, args ...any)
	// Progress receives the tensors written.
	Progress progress.Func
}

// GGUFReport summarizes a conversion.
type GGUFReport struct {
	Arch      string         `json:"arch"`
	Type      string         `json:"type"`
	Tensors   int            `json:"tensors"`
	TypeCount map[string]int `json:"tensor_types"`
	Fallbacks int            `json:"fallbacks"`
	Bytes     int64          `json:"bytes"`
	Seconds   float64        `json:"seconds"`
}

// ggufFileType describes one --type: its base ggml type and llama.cpp's
// LLAMA_FTYPE number (llama.h enum llama_ftype), stored as general.file_type.
type ggufFileType struct {
	base  gguf.Type
	ftype uint32
}

var ggufFileTypes = map[string]ggufFileType{
	"f16":    {gguf.TypeF16, 1},   // LLAMA_FTYPE_MOSTLY_F16
	"q4_0":   {gguf.TypeQ4_0, 2},  // LLAMA_FTYPE_MOSTLY_Q4_0
	"q4_1":   {gguf.TypeQ4_1, 3},  // LLAMA_FTYPE_MOSTLY_Q4_1
	"q8_0":   {gguf.TypeQ8_0, 7},  // LLAMA_FTYPE_MOSTLY_Q8_0
	"q4_k_m": {gguf.TypeQ4_K, 15}, // LLAMA_FTYPE_MOSTLY_Q4_K_M
	"q6_k":   {gguf.TypeQ6_K, 18}, // LLAMA_FTYPE_MOSTLY_Q6_K
	"bf16":   {gguf.TypeBF16, 32}, // LLAMA_FTYPE_MOSTLY_BF16
}

// GGUFTypes lists the accepted --type values.
func GGUFTypes() []string {
	return []string{"f16", "bf16", "q8_0", "q4_0", "q4_1", "q4_k_m", "q6_k"}
}

// ggufArch returns llama.cpp's architecture for a model_type.
func ggufArch(cfg *model.Config) (string, error) {
	switch cfg.ModelType {
	case "llama", "mistral":
		if cfg.MLPBias {
			return "", fmt.Errorf("%s with mlp_bias: llama.cpp's llama architecture has no FFN biases", cfg.ModelType)
		}
		return "llama", nil
	case "qwen2":
		if cfg.OBias || cfg.MLPBias {
			return "", errors.New("qwen2 with o_proj or MLP biases: llama.cpp's qwen2 architecture has none")
		}
		return "qwen2", nil
	}
	return "", fmt.Errorf("model_type %q has no GGUF mapping (llama, mistral, qwen2)", cfg.ModelType)
}

// useMoreBits is llama-quant.cpp's use_more_bits: the layers whose attn_v
// and ffn_down Q4_K_M keeps at Q6_K (the first and last eighth, and every
// third layer between).
func useMoreBits(i, n int) bool {
	return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2
}

// ggufTensorType chooses a tensor's type as llama.cpp's llama-quantize does
// (src/llama-quant.cpp, llama_tensor_get_type and the fallback after it),
// for a model quantized from F16/BF16 without an importance matrix. It
// reports whether the row length forced a fallback type.
func ggufTensorType(ft ggufFileType, spec model.TensorSpec, cfg *model.Config) (gguf.Type, bool, error) {
	// 1-D tensors (norms, biases) stay F32: llama-quant.cpp quantizes only
	// tensors with ggml_n_dims >= 2, and convert_hf_to_gguf.py writes 1-D
	// tensors as F32 for every outtype.
	if len(spec.Shape) < 2 {
		return gguf.TypeF32, false, nil
	}
	t := ft.base
	// F16 and BF16 files are not passed through llama_tensor_get_type
	// (llama-quant.cpp calls it only for quantized default types).
	if t == gguf.TypeF16 || t == gguf.TypeBF16 {
		return t, false, nil
	}
	rowLen := spec.Shape[len(spec.Shape)-1]
	isOutput := spec.Role == model.Output || (spec.Role == model.TokenEmbedding && cfg.TieWordEmbeddings)
	switch {
	case isOutput:
		// llama-quant.cpp: "output.weight" (or token_embd when the model
		// has no output tensor, sharing it) becomes Q8_0 when its rows do
		// not hold whole blocks of the base type, otherwise Q6_K unless the
		// base is Q8_0.
		if rowLen%t.BlockSize() != 0 {
			t = gguf.TypeQ8_0
		} else if t != gguf.TypeQ8_0 {
			t = gguf.TypeQ6_K
		}
	case spec.Role == model.AttnV && ft.ftype == 15:
		// llama-quant.cpp, attn_v: Q4_K_M uses Q6_K where
		// use_more_bits(i_attention_wv, n_attention_wv).
		if useMoreBits(spec.Layer, cfg.NumLayers) {
			t = gguf.TypeQ6_K
		}
		// llama-quant.cpp raises Q4_K attn_v to Q5_K for LLM_TYPE_70B
		// (80-layer llama); qtk has no Q5_K encoder.
		if cfg.NumLayers == 80 && t == gguf.TypeQ4_K {
			return 0, false, errors.New("an 80-layer llama at q4_k_m needs Q5_K attn_v tensors (llama-quant.cpp's 70B rule), which qtk cannot encode")
		}
	case spec.Role == model.FFNDown && ft.ftype == 15:
		// llama-quant.cpp, ffn_down: Q4_K_M (non-Falcon) uses Q6_K where
		// use_more_bits(i_layer, n_layer).
		if useMoreBits(spec.Layer, cfg.NumLayers) {
			t = gguf.TypeQ6_K
		}
	}
	// token_embd (untied) keeps the base type for these file types
	// (llama-quant.cpp changes it only for IQ*/TQ* types).
	if rowLen%t.BlockSize() == 0 {
		return t, false, nil
	}
	// llama-quant.cpp, convert_incompatible_tensor: K-quants whose rows are
	// not a multiple of 256 fall back (Q4_K→Q5_0, Q6_K→Q8_0), and to F16 if
	// that still does not fit; other types are an error.
	switch t {
	case gguf.TypeQ4_K:
		t = gguf.TypeQ5_0
	case gguf.TypeQ6_K:
		t = gguf.TypeQ8_0
	default:
		return 0, false, fmt.Errorf("%s: rows of %d values do not hold whole %s blocks of %d", spec.Name, rowLen, t, t.BlockSize())
	}
	if rowLen%t.BlockSize() != 0 {
		t = gguf.TypeF16
	}
	return t, true, nil
}

// ropeFreqFactors returns llama.cpp's rope_freqs.weight for llama3 RoPE
// scaling: per dimension pair, the unscaled inverse frequency over the
// scaled one (convert_hf_to_gguf.py LlamaModel.generate_extra_tensors).
func ropeFreqFactors(cfg *model.Config) []float32 {
	scaled := cfg.InvFrequencies()
	out := make([]float32, len(scaled))
	for i, f := range scaled {
		base := 1 / math.Pow(cfg.Rope.Theta, float64(2*i)/float64(cfg.HeadDim))
		out[i] = float32(base / f)
	}
	return out
}

type ggufTensor struct {
	spec  model.TensorSpec
	name  string
	typ   gguf.Type
	dims  []int64
	extra []float32 // data of a tensor that is not in the checkpoint
}

// WriteGGUF converts a checkpoint to a GGUF file at out, streaming one
// tensor at a time; the file appears only once complete. ctx is checked
// between tensors.
func WriteGGUF(ctx context.Context, ck *model.Checkpoint, out string, opts GGUFOptions) (*GGUFReport, error) {
	start := time.Now()
	g, err := createGGUF(ck, out, opts)
	if err != nil {
		return nil, err
	}
	defer g.w.Abort()
	const step = "convert tensors"
	opts.Progress.Report(step, 0, len(g.plan))
	for i, p := range g.plan {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := g.writeFromCheckpoint(ck, p); err != nil {
			return nil, err
		}
		opts.Progress.Report(step, i+1, len(g.plan))
	}
	return g.close(ctx, start)
}

// ggufOutput is a GGUF file being written: every tensor is declared and
// the metadata set; the data follow in plan order.
type ggufOutput struct {
	w    *gguf.Writer
	path string
	cfg  *model.Config
	arch string
	plan []ggufTensor
	rep  *GGUFReport
}

// createGGUF plans the tensors of a GGUF file of ck at out, sets its
// metadata and declares its tensors. The caller writes the data, then
// closes it, or aborts the writer.
func createGGUF(ck *model.Checkpoint, out string, opts GGUFOptions) (*ggufOutput, error) {
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	ft, ok := ggufFileTypes[strings.ToLower(opts.Type)]
	if !ok {
		return nil, fmt.Errorf("unsupported GGUF type %q (want one of %s)", opts.Type, strings.Join(GGUFTypes(), ", "))
	}
	if ck.Quant != nil {
		return nil, fmt.Errorf("%s: already quantized (%s); convert the original checkpoint", ck.Dir, ck.Quant.Format)
	}
	if !opts.Force {
		if _, err := os.Stat(out); err == nil {
			return nil, fmt.Errorf("%s exists (use --force to replace it)", out)
		}
	}
	cfg := ck.Config
	arch, err := ggufArch(cfg)
	if err != nil {
		return nil, err
	}
	vocab, err := LoadGGUFVocab(ck.Dir, cfg.VocabSize)
	if err != nil {
		return nil, err
	}
	if len(cfg.EOSTokenIDs) > 0 {
		vocab.EOS = cfg.EOSTokenIDs[0]
	}
	if vocab.BOS < 0 && cfg.BOSTokenID >= 0 {
		vocab.BOS = cfg.BOSTokenID
	}

	// Plan every tensor first: the writer needs all declarations up front.
	rep := &GGUFReport{Arch: arch, Type: strings.ToLower(opts.Type), TypeCount: map[string]int{}}
	var plan []ggufTensor
	var fallbacks []string
	for _, spec := range cfg.Tensors() {
		name, ok := model.GGUFName(spec.Role, spec.Layer)
		if !ok {
			return nil, fmt.Errorf("%s: no GGUF name for role %s", spec.Name, spec.Role)
		}
		t, fell, err := ggufTensorType(ft, spec, cfg)
		if err != nil {
			return nil, err
		}
		if fell {
			fallbacks = append(fallbacks, fmt.Sprintf("%s→%s", name, t))
		}
		dims := make([]int64, len(spec.Shape))
		for i, d := range spec.Shape {
			dims[len(dims)-1-i] = int64(d)
		}
		plan = append(plan, ggufTensor{spec: spec, name: name, typ: t, dims: dims})
	}
	var ropeKeys []gguf.KV
	switch cfg.Rope.Type {
	case "", "default":
	case "linear":
		ropeKeys = append(ropeKeys,
			gguf.KV{Key: arch + ".rope.scaling.type", Value: gguf.Scalar("linear")},
			gguf.KV{Key: arch + ".rope.scaling.factor", Value: gguf.Scalar(float32(cfg.Rope.Factor))})
	case "llama3":
		if arch != "llama" {
			return nil, fmt.Errorf("llama3 RoPE scaling on %s: llama.cpp reads rope_freqs only for llama", arch)
		}
		f := ropeFreqFactors(cfg)
		plan = append(plan, ggufTensor{name: "rope_freqs.weight", typ: gguf.TypeF32, dims: []int64{int64(len(f))}, extra: f,
			spec: model.TensorSpec{Name: "rope_freqs.weight", Layer: -1}})
	default:
		return nil, fmt.Errorf("RoPE type %q has no GGUF mapping", cfg.Rope.Type)
	}
	if len(fallbacks) > 0 {
		logf("%d of %d tensors fall back from their K-quant (rows not a multiple of 256, as llama-quantize does): %s",
			len(fallbacks), len(plan), strings.Join(fallbacks, ", "))
	}
	rep.Fallbacks = len(fallbacks)

	w, err := gguf.NewWriter(out)
	if err != nil {
		return nil, err
	}
	g := &ggufOutput{w: w, path: out, cfg: cfg, arch: arch, plan: plan, rep: rep}
	if err := g.declare(ck, opts, ft, vocab, ropeKeys); err != nil {
		w.Abort()
		return nil, err
	}
	return g, nil
}

// declare sets the file's metadata and declares its tensors.
func (g *ggufOutput) declare(ck *model.Checkpoint, opts GGUFOptions, ft ggufFileType, vocab *GGUFVocab, ropeKeys []gguf.KV) error {
	w, cfg, arch := g.w, g.cfg, g.arch
	var setErr error
	set := func(key string, v gguf.Value) {
		if setErr == nil {
			setErr = w.Set(key, v)
		}
	}
	name := opts.Name
	if name == "" {
		name = filepath.Base(filepath.Clean(ck.Dir))
	}
	set("general.architecture", gguf.Scalar(arch))
	set("general.name", gguf.Scalar(name))
	set("general.file_type", gguf.Scalar(ft.ftype))
	if ft.base != gguf.TypeF16 && ft.base != gguf.TypeBF16 {
		set("general.quantization_version", gguf.Scalar(uint32(2)))
	}
	u := func(key string, x int) { set(arch+"."+key, gguf.Scalar(uint32(x))) }
	u("context_length", cfg.MaxPositions)
	u("embedding_length", cfg.HiddenSize)
	u("block_count", cfg.NumLayers)
	u("feed_forward_length", cfg.IntermediateSize)
	u("rope.dimension_count", cfg.HeadDim)
	u("attention.head_count", cfg.NumHeads)
	u("attention.head_count_kv", cfg.NumKVHeads)
	set(arch+".attention.layer_norm_rms_epsilon", gguf.Scalar(float32(cfg.RMSNormEps)))
	set(arch+".rope.freq_base", gguf.Scalar(float32(cfg.Rope.Theta)))
	u("vocab_size", cfg.VocabSize)
	if cfg.HeadDim*cfg.NumHeads != cfg.HiddenSize {
		// llama.cpp derives the head size from embedding_length/head_count
		// unless these are set.
		u("attention.key_length", cfg.HeadDim)
		u("attention.value_length", cfg.HeadDim)
	}
	for _, kv := range ropeKeys {
		set(kv.Key, kv.Value)
	}
	vocab.Set(set)
	if setErr != nil {
		return setErr
	}
	for _, p := range g.plan {
		if err := w.Declare(p.name, p.typ, p.dims...); err != nil {
			return err
		}
		g.rep.TypeCount[p.typ.String()]++
	}
	return nil
}

// qkHeads returns the number of heads whose rows llama.cpp's llama
// architecture interleaves in a tensor (see PermuteQK), 0 for none.
func (g *ggufOutput) qkHeads(spec model.TensorSpec) int {
	if g.arch != "llama" {
		return 0
	}
	switch spec.Role {
	case model.AttnQ, model.AttnQBias:
		return g.cfg.NumHeads
	case model.AttnK, model.AttnKBias:
		return g.cfg.NumKVHeads
	}
	return 0
}

// writeFloat32 writes tensor p from its values in Hugging Face layout.
func (g *ggufOutput) writeFloat32(p ggufTensor, data []float32) error {
	if nHead := g.qkHeads(p.spec); nHead > 0 {
		cols := 1
		if len(p.spec.Shape) == 2 {
			cols = p.spec.Shape[1]
		}
		var err error
		if data, err = model.PermuteQK(data, p.spec.Shape[0], cols, nHead); err != nil {
			return fmt.Errorf("%s: %w", p.spec.Name, err)
		}
	}
	if err := g.w.WriteFloat32(p.name, data); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	return nil
}

// writeFromCheckpoint writes tensor p as ck holds it (or its computed data,
// for a tensor the checkpoint does not have).
func (g *ggufOutput) writeFromCheckpoint(ck *model.Checkpoint, p ggufTensor) error {
	data := p.extra
	if data == nil {
		var err error
		if data, err = ck.Float32(p.spec.Role, p.spec.Layer); err != nil {
			return err
		}
	}
	return g.writeFloat32(p, data)
}

// writeEncoded writes tensor p from its rows already encoded as its type,
// in Hugging Face row order.
func (g *ggufOutput) writeEncoded(p ggufTensor, data []byte) error {
	if nHead := g.qkHeads(p.spec); nHead > 0 {
		rows := p.spec.Shape[0]
		if len(data)%rows != 0 {
			return fmt.Errorf("%s: %d bytes do not split into %d rows", p.name, len(data), rows)
		}
		var err error
		if data, err = model.PermuteQK(data, rows, len(data)/rows, nHead); err != nil {
			return fmt.Errorf("%s: %w", p.spec.Name, err)
		}
	}
	if err := g.w.WriteTensor(p.name, data); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	return nil
}

// close completes the file and fills in the report.
func (g *ggufOutput) close(ctx context.Context, start time.Time) (*GGUFReport, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := g.w.Close(); err != nil {
		return nil, err
	}
	if st, err := os.Stat(g.path); err == nil {
		g.rep.Bytes = st.Size()
	}
	g.rep.Tensors = len(g.plan)
	g.rep.Seconds = time.Since(start).Seconds()
	return g.rep, nil
}
