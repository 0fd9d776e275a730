package model

import (
	"fmt"
	"slices"
	"strings"

	"github.com/qtk-dev/qtk/formats/gguf"
)

// GGUF is a model held in one GGUF file, llama.cpp's format: the
// hyperparameters come from its metadata and the tensors are decoded to
// float32 on request, with the codecs of formats/gguf. Files written by
// qtk convert and by llama.cpp's own tools read alike.
type GGUF struct {
	Path   string
	Config *Config
	// File is the parsed file, also holding the tokenizer metadata.
	File *gguf.File
}

// OpenGGUF maps a GGUF file and checks that it holds exactly the tensors
// its metadata implies, with the right shapes and types qtk can decode.
func OpenGGUF(path string) (*GGUF, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	cfg, err := ConfigFromGGUF(f)
	if err == nil {
		err = checkGGUFTensors(f, cfg)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &GGUF{Path: path, Config: cfg, File: f}, nil
}

// checkGGUFTensors verifies presence, shape and type of every needed
// tensor, and rejects tensors the architecture does not use.
func checkGGUFTensors(f *gguf.File, cfg *Config) error {
	needed := map[string]bool{ropeFreqsTensor: cfg.Rope.Type == "freq_factors"}
	for _, spec := range cfg.Tensors() {
		name, ok := GGUFName(spec.Role, spec.Layer)
		if !ok {
			return fmt.Errorf("%s has no GGUF tensor name", spec.Name)
		}
		needed[name] = true
		t, ok := f.Tensor(name)
		if !ok {
			return fmt.Errorf("missing tensor %s (needed by %s with this metadata)", name, cfg.ModelType)
		}
		shape := make([]int, len(t.Dims))
		for i, d := range t.Shape() {
			shape[i] = int(d)
		}
		if !slices.Equal(shape, spec.Shape) {
			return fmt.Errorf("tensor %s has shape %v, the metadata implies %v", name, shape, spec.Shape)
		}
		if !t.Type.HasCodec() {
			var names []string
			for _, c := range gguf.CodecTypes() {
				names = append(names, c.String())
			}
			return fmt.Errorf("tensor %s is %s, which qtk cannot decode (supported: %s)", name, t.Type, strings.Join(names, ", "))
		}
	}
	for _, t := range f.Tensors() {
		if !needed[t.Name] {
			return fmt.Errorf("unexpected tensor %s (not part of a %s model with this metadata)", t.Name, cfg.ModelType)
		}
	}
	return nil
}

// ModelConfig returns the hyperparameters read from the metadata.
func (g *GGUF) ModelConfig() *Config { return g.Config }

// Float32 decodes a role's tensor. The query and key rows of the llama
// architecture are stored in llama.cpp's interleaved RoPE order and are
// brought back to Hugging Face's.
func (g *GGUF) Float32(role Role, layer int) ([]float32, error) {
	if role == Output && g.Config.TieWordEmbeddings {
		role = TokenEmbedding
	}
	name, ok := GGUFName(role, layer)
	if !ok {
		return nil, fmt.Errorf("%s: no GGUF tensor for %s", g.Path, role)
	}
	data, err := g.File.Dequantize(name)
	if err != nil {
		return nil, err
	}
	heads := 0
	switch role {
	case AttnQ, AttnQBias:
		heads = g.Config.NumHeads
	case AttnK, AttnKBias:
		heads = g.Config.NumKVHeads
	}
	if heads == 0 || g.Config.ModelType != "llama" {
		return data, nil
	}
	t, _ := g.File.Tensor(name)
	rows := int(t.Shape()[0])
	if data, err = UnpermuteQK(data, rows, len(data)/rows, heads); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", g.Path, name, err)
	}
	return data, nil
}

// Close unmaps the file.
func (g *GGUF) Close() error { return g.File.Close() }
