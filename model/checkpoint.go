package model

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/qtk-dev/qtk/formats/hf"
	"github.com/qtk-dev/qtk/formats/safetensors"
	"github.com/qtk-dev/qtk/quant"
)

// Checkpoint is a Hugging Face model directory: config.json, the tokenizer
// and the safetensors weights, checked against what the architecture needs.
type Checkpoint struct {
	Dir    string
	Config *Config
	// Quant describes how the linear layers are quantized; nil when the
	// checkpoint is not quantized.
	Quant   *hf.Config
	weights *safetensors.Checkpoint
}

// ignoredTensors are buffers some exporters save beside the weights; they
// are derived from the config, so qtk does not read them.
var ignoredTensors = []string{".rotary_emb.inv_freq"}

// Open reads a model directory and checks that its weights hold exactly the
// tensors the configured architecture needs, with the right shapes and a
// floating-point dtype.
func Open(dir string) (*Checkpoint, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s: not a model directory (expected config.json and *.safetensors inside)", dir)
	}
	configPath := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(configPath)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", configPath, err)
	}
	var qc *hf.Config
	switch parsed, err := hf.ParseConfig(data); {
	case err == nil:
		qc = &parsed
	case !errors.Is(err, hf.ErrNotQuantized):
		return nil, fmt.Errorf("%s: %w", configPath, err)
	}
	weights, err := safetensors.OpenCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	ck := &Checkpoint{Dir: dir, Config: cfg, Quant: qc, weights: weights}
	if err := ck.check(); err != nil {
		weights.Close()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return ck, nil
}

// check verifies presence, shape and dtype of every needed tensor, and
// rejects tensors the architecture does not use.
func (ck *Checkpoint) check() error {
	needed := map[string]bool{}
	for _, spec := range ck.Config.Tensors() {
		if ck.quantized(spec) {
			planned, err := hf.Plan(*ck.Quant, spec.Shape[0], spec.Shape[1])
			if err != nil {
				return fmt.Errorf("%s: %w", spec.Name, err)
			}
			module := moduleName(spec.Name)
			for _, p := range planned {
				name := module + "." + p.Suffix
				needed[name] = true
				if _, err := ck.weights.Tensor(name); err != nil {
					return fmt.Errorf("missing tensor %s (needed by the %s quantization)", name, ck.Quant.Format)
				}
			}
			continue
		}
		needed[spec.Name] = true
		t, err := ck.weights.Tensor(spec.Name)
		if err != nil {
			return fmt.Errorf("missing tensor %s (needed by %s with this config)", spec.Name, ck.Config.ModelType)
		}
		if !slices.Equal(t.Shape, spec.Shape) {
			return fmt.Errorf("tensor %s has shape %v, config.json implies %v", spec.Name, t.Shape, spec.Shape)
		}
		switch t.DType {
		case safetensors.F32, safetensors.F16, safetensors.BF16:
		default:
			return fmt.Errorf("tensor %s has dtype %s; weights must be F32, F16 or BF16", spec.Name, t.DType)
		}
	}
	for _, name := range ck.weights.Names() {
		if needed[name] || isIgnored(name) {
			continue
		}
		if name == HFName(Output, -1) && ck.Config.TieWordEmbeddings {
			continue // a tied head saved anyway: the embedding is used
		}
		return fmt.Errorf("unexpected tensor %s (not part of a %s model with this config)", name, ck.Config.ModelType)
	}
	return nil
}

// quantized reports whether a tensor is stored in the checkpoint's
// quantized layout rather than as a plain weight.
func (ck *Checkpoint) quantized(spec TensorSpec) bool {
	if ck.Quant == nil || !spec.Linear {
		return false
	}
	if spec.Role == Output {
		return ck.Quant.LMHead
	}
	module := moduleName(spec.Name)
	for _, ignored := range ck.Quant.Ignore {
		if ignored == module || strings.HasSuffix(module, "."+ignored) {
			return false
		}
	}
	return true
}

// moduleName strips ".weight" from a tensor name.
func moduleName(tensor string) string { return strings.TrimSuffix(tensor, ".weight") }

func isIgnored(name string) bool {
	for _, suffix := range ignoredTensors {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// Tensor returns the raw tensor of a role; layer is -1 for global tensors.
// For a tied head it returns the embedding.
func (ck *Checkpoint) Tensor(role Role, layer int) (safetensors.Tensor, error) {
	if role == Output && ck.Config.TieWordEmbeddings {
		role = TokenEmbedding
	}
	return ck.weights.Tensor(HFName(role, layer))
}

// Float32 returns a role's tensor widened to float32; quantized weights are
// dequantized.
func (ck *Checkpoint) Float32(role Role, layer int) ([]float32, error) {
	if q, err := ck.QuantTensor(role, layer); q != nil || err != nil {
		if err != nil {
			return nil, err
		}
		return q.Dequantize(), nil
	}
	t, err := ck.Tensor(role, layer)
	if err != nil {
		return nil, err
	}
	return t.Float32()
}

// QuantTensor returns the quantized tensor of a role, or nil when the role
// is not stored quantized.
func (ck *Checkpoint) QuantTensor(role Role, layer int) (*quant.Tensor, error) {
	if role == Output && ck.Config.TieWordEmbeddings {
		return nil, nil
	}
	for _, spec := range ck.Config.Tensors() {
		if spec.Role != role || spec.Layer != layer {
			continue
		}
		if !ck.quantized(spec) {
			return nil, nil
		}
		module := moduleName(spec.Name)
		q, err := hf.Unpack(*ck.Quant, hf.ModuleSource(ck.weights, module), spec.Shape[0], spec.Shape[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", module, err)
		}
		return q, nil
	}
	return nil, fmt.Errorf("no tensor %s for layer %d", role, layer)
}

// StoredTensors lists every tensor in the checkpoint's files, sorted by name.
func (ck *Checkpoint) StoredTensors() ([]safetensors.Tensor, error) {
	var out []safetensors.Tensor
	for _, name := range ck.weights.Names() {
		t, err := ck.weights.Tensor(name)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// TokenizerPath is the checkpoint's tokenizer.json.
func (ck *Checkpoint) TokenizerPath() string { return filepath.Join(ck.Dir, "tokenizer.json") }

// Close releases the mapped weight files.
func (ck *Checkpoint) Close() error {
	if ck.weights == nil {
		return errors.New("checkpoint already closed")
	}
	err := ck.weights.Close()
	ck.weights = nil
	return err
}
