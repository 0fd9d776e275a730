package hf

import (
	"fmt"

	"github.com/qtk-dev/qtk/formats/safetensors"
	"github.com/qtk-dev/qtk/quant"
)

// Format is a checkpoint layout for quantized linear layers, named by its
// quant_method.
type Format string

// The formats qtk reads and writes.
const (
	GPTQ              Format = "gptq"
	AWQ               Format = "awq"
	CompressedTensors Format = "compressed-tensors"
)

// Config is how a checkpoint's linear layers are quantized: what a reader
// learns from config.json's quantization_config, and what a writer needs
// to pack layers and write that object.
type Config struct {
	Format Format
	// Scheme is the scheme of the stored tensors. For GPTQ v1 with an
	// asymmetric scheme MinZero is 1; for compressed-tensors with BF16
	// scales BF16Scales is set (by NewConfig; a parsed config cannot know).
	Scheme quant.Scheme
	// ActOrder: g_idx tensors are stored and used (GPTQ desc_act,
	// compressed-tensors actorder "group"). AWQ has none.
	ActOrder bool
	// GPTQv2: GPTQ zero points are stored as they are
	// (checkpoint_format "gptq_v2") rather than v1's zero-1.
	GPTQv2 bool
	// ScaleDType is the compressed-tensors weight_scale dtype written, F16
	// or BF16; GPTQ and AWQ always write F16. Empty after parsing: readers
	// take the dtype from each tensor.
	ScaleDType safetensors.DType
	// LMHead: lm_head is quantized too. GPTQ records it as "lm_head";
	// compressed-tensors by leaving "lm_head" out of ignore; AWQ never
	// quantizes it.
	LMHead bool
	// Ignore lists other modules left unquantized, as the format writes
	// them (compressed-tensors "ignore" entries, which may be "re:"
	// patterns; AWQ modules_to_not_convert). GPTQ has no such list.
	Ignore []string
}

// NewConfig returns the Config for writing format f with scheme s, the
// scheme adjusted to what the format stores: GPTQ (v1) gets MinZero 1 for
// an asymmetric scheme, compressed-tensors writes BF16 scales when
// s.BF16Scales is set. Quantize with the returned Config's Scheme.
func NewConfig(f Format, s quant.Scheme) (Config, error) {
	c := Config{Format: f, Scheme: s}
	switch f {
	case GPTQ:
		if !s.Symmetric {
			c.Scheme.MinZero = max(c.Scheme.MinZero, 1)
		}
	case AWQ:
	case CompressedTensors:
		c.ScaleDType = safetensors.F16
		if s.BF16Scales {
			c.ScaleDType = safetensors.BF16
		}
	default:
		return Config{}, fmt.Errorf("format %q: %w", f, ErrUnsupported)
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// validate checks what the format can express, independently of any
// layer's shape.
func (c Config) validate() error {
	s := c.Scheme
	if s.Bits != 4 && s.Bits != 8 {
		return fmt.Errorf("%s: %d-bit weights: %w", c.Format, s.Bits, ErrUnsupported)
	}
	if s.GroupSize == 0 || s.GroupSize < -1 {
		return fmt.Errorf("%s: group size %d: use a positive size or -1", c.Format, s.GroupSize)
	}
	switch c.Format {
	case GPTQ:
		if s.BF16Scales {
			return fmt.Errorf("gptq: scales are float16; BF16Scales does not apply")
		}
		if len(c.Ignore) > 0 {
			return fmt.Errorf("gptq: no list of unquantized modules (ignore %v): %w", c.Ignore, ErrUnsupported)
		}
	case AWQ:
		if s.Bits != 4 {
			return fmt.Errorf("awq: %d-bit weights: AWQ GEMM stores 4-bit only: %w", s.Bits, ErrUnsupported)
		}
		if s.BF16Scales {
			return fmt.Errorf("awq: scales are float16; BF16Scales does not apply")
		}
		if c.ActOrder {
			return fmt.Errorf("awq: no g_idx, so no act-order: %w", ErrUnsupported)
		}
		if c.LMHead {
			return fmt.Errorf("awq: lm_head is never quantized: %w", ErrUnsupported)
		}
		if c.GPTQv2 {
			return fmt.Errorf("awq: GPTQv2 applies to GPTQ only")
		}
	case CompressedTensors:
		if c.ActOrder && s.GroupSize <= 0 {
			return fmt.Errorf("compressed-tensors: actorder \"group\" needs a positive group size")
		}
		if c.GPTQv2 {
			return fmt.Errorf("compressed-tensors: GPTQv2 applies to GPTQ only")
		}
	default:
		return fmt.Errorf("format %q: %w", c.Format, ErrUnsupported)
	}
	return nil
}

func (c Config) gptqOptions() GPTQOptions { return GPTQOptions{ActOrder: c.ActOrder, V2: c.GPTQv2} }
func (c Config) compressedOptions() CompressedOptions {
	return CompressedOptions{ActOrder: c.ActOrder, ScaleDType: c.ScaleDType}
}

// Plan returns the tensors a layer of shape [out, in] packs into, in the
// order [Pack] returns them, without data: what a writer declares before
// quantizing.
func Plan(c Config, out, in int) ([]Packed, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if out <= 0 || in <= 0 {
		return nil, fmt.Errorf("%s: shape [%d, %d] is not positive", c.Format, out, in)
	}
	if err := c.Scheme.Validate(in); err != nil {
		return nil, fmt.Errorf("%s: %w", c.Format, err)
	}
	var ps []Packed
	var err error
	switch c.Format {
	case GPTQ:
		ps, err = gptqLayout(out, in, c.Scheme)
	case AWQ:
		ps, err = awqLayout(out, in, c.Scheme)
	default:
		ps, err = compressedLayout(out, in, c.Scheme, c.compressedOptions())
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Format, err)
	}
	return ps, nil
}

// Pack packs one layer in the config's format ([PackGPTQ], [PackAWQ] or
// [PackCompressed]).
func Pack(c Config, t *quant.Tensor) ([]Packed, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	switch c.Format {
	case GPTQ:
		return PackGPTQ(t, c.gptqOptions())
	case AWQ:
		return PackAWQ(t)
	default:
		return PackCompressed(t, c.compressedOptions())
	}
}

// Unpack reads one layer of shape [out, in] in the config's format
// ([UnpackGPTQ], [UnpackAWQ] or [UnpackCompressed]).
func Unpack(c Config, get Source, out, in int) (*quant.Tensor, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	switch c.Format {
	case GPTQ:
		return UnpackGPTQ(get, out, in, c.Scheme, c.gptqOptions())
	case AWQ:
		return UnpackAWQ(get, out, in, c.Scheme)
	default:
		return UnpackCompressed(get, out, in, c.Scheme, c.compressedOptions())
	}
}
