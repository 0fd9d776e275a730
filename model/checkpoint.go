package model

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/qtk-dev/qtk/formats/safetensors"
)

// Checkpoint is a Hugging Face model directory: config.json, the tokenizer
// and the safetensors weights, checked against what the architecture needs.
type Checkpoint struct {
	Dir     string
	Config  *Config
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
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	weights, err := safetensors.OpenCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	ck := &Checkpoint{Dir: dir, Config: cfg, weights: weights}
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

// Float32 returns a role's tensor widened to float32.
func (ck *Checkpoint) Float32(role Role, layer int) ([]float32, error) {
	t, err := ck.Tensor(role, layer)
	if err != nil {
		return nil, err
	}
	return t.Float32()
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
