// Package synth writes checkpoints of real LLaMA-family shapes filled with
// seeded random weights: speed can then be measured at real sizes without
// downloading a model. Their text output is noise; their shapes, dtypes,
// config and tokenizer are those of a real checkpoint.
package synth

import (
	"fmt"
	"slices"
	"strings"
)

// Shape is the architecture of a model family member, from its published
// config.json.
type Shape struct {
	ModelType    string
	Hidden       int
	Intermediate int
	Layers       int
	Heads        int
	KVHeads      int
	Vocab        int
	MaxPositions int
	RopeTheta    float64
	RMSNormEps   float64
}

// Shapes are the models synth can imitate.
var Shapes = map[string]Shape{
	"llama-2-7b":  {"llama", 4096, 11008, 32, 32, 32, 32000, 4096, 10000, 1e-5},
	"llama-2-13b": {"llama", 5120, 13824, 40, 40, 40, 32000, 4096, 10000, 1e-5},
	"llama-2-70b": {"llama", 8192, 28672, 80, 64, 8, 32000, 4096, 10000, 1e-5},
	"llama-3-8b":  {"llama", 4096, 14336, 32, 32, 8, 128256, 8192, 500000, 1e-5},
	"llama-3-70b": {"llama", 8192, 28672, 80, 64, 8, 128256, 8192, 500000, 1e-5},
	// tiny is for tests: every part of a real checkpoint, at a few
	// hundred kilobytes.
	"tiny": {"llama", 64, 160, 2, 4, 2, 320, 256, 10000, 1e-5},
}

// ShapeNames lists the names of Shapes, sorted.
func ShapeNames() []string {
	var names []string
	for n := range Shapes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Lookup returns the shape of name.
func Lookup(name string) (Shape, error) {
	s, ok := Shapes[strings.ToLower(name)]
	if !ok {
		return Shape{}, fmt.Errorf("no model shape %q: want one of %s", name, strings.Join(ShapeNames(), ", "))
	}
	return s, nil
}

// HeadDim is the width of one attention head.
func (s Shape) HeadDim() int { return s.Hidden / s.Heads }
