package hf

import (
	"errors"
	"fmt"
	"slices"

	"github.com/qtk-dev/qtk/formats/safetensors"
)

// Packed is one stored tensor of a quantized linear layer. Its full name
// in a checkpoint is the layer's module name, a dot, and Suffix.
type Packed struct {
	Suffix string // "qweight", "weight_scale", ...
	DType  safetensors.DType
	Shape  []int
	Data   []byte // little-endian, row-major; nil from [Plan]
}

// Source returns one stored tensor of the layer being unpacked, by suffix,
// as the safetensors reader returns it. Unpackers ask only for the tensors
// the format and options require, so a missing one is an error.
type Source func(suffix string) (safetensors.Tensor, error)

// TensorGetter is what [ModuleSource] reads from:
// *safetensors.Checkpoint satisfies it.
type TensorGetter interface {
	Tensor(name string) (safetensors.Tensor, error)
}

// ModuleSource returns the Source of the layer named module
// ("model.layers.0.self_attn.q_proj") in a checkpoint.
func ModuleSource(c TensorGetter, module string) Source {
	return func(suffix string) (safetensors.Tensor, error) {
		return c.Tensor(module + "." + suffix)
	}
}

// PackedSource serves packed tensors as a Source, to check what a writer
// is about to write by unpacking it.
func PackedSource(ps []Packed) Source {
	return func(suffix string) (safetensors.Tensor, error) {
		for _, p := range ps {
			if p.Suffix == suffix {
				return safetensors.Tensor{Name: suffix, DType: p.DType, Shape: slices.Clone(p.Shape), Data: p.Data}, nil
			}
		}
		return safetensors.Tensor{}, fmt.Errorf("no packed tensor %q", suffix)
	}
}

var (
	// ErrFormat is wrapped by every unpacking error about the stored
	// tensors themselves (dtype, shape, size or values), as opposed to the
	// caller's arguments or a failing Source.
	ErrFormat = errors.New("malformed quantized tensor")

	// ErrUnsupported is wrapped by errors for configurations qtk does not
	// read or write (another format, bit width or kernel layout).
	ErrUnsupported = errors.New("unsupported quantization")

	// ErrGPTQv1Zero is wrapped by the error for packing a zero point of 0
	// as GPTQ v1, which stores zero-1 and has no room for -1. Quantize
	// with Scheme.MinZero = 1 (as [NewConfig] sets) to avoid it.
	ErrGPTQv1Zero = errors.New("GPTQ v1 cannot store a zero point of 0")
)

// formatError describes one problem with stored data; it unwraps to
// ErrFormat and its message names the problem only.
type formatError struct{ msg string }

func (e *formatError) Error() string { return e.msg }
func (e *formatError) Unwrap() error { return ErrFormat }

func errFormat(format string, args ...any) error {
	return &formatError{fmt.Sprintf(format, args...)}
}
