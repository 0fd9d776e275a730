package hf

import "fmt"

// The quantization_config objects qtk writes, field for field as the
// reference tools write them; json.Marshal keeps the field order below.
// Fields that describe the quantization run rather than the stored layout
// (damp_percent, true_sequential, observer) get the reference defaults
// and may be set by the caller.

// GPTQQuantConfig is AutoGPTQ's quantize_config.json, which is also the
// quantization_config of config.json (auto_gptq/quantization/config.py),
// plus GPTQModel's lm_head, which vLLM reads.
type GPTQQuantConfig struct {
	Bits              int     `json:"bits"`
	GroupSize         int     `json:"group_size"`
	DampPercent       float64 `json:"damp_percent"`
	DescAct           bool    `json:"desc_act"`
	StaticGroups      bool    `json:"static_groups"`
	Sym               bool    `json:"sym"`
	TrueSequential    bool    `json:"true_sequential"`
	LMHead            bool    `json:"lm_head"`
	ModelNameOrPath   *string `json:"model_name_or_path"`
	ModelFileBaseName *string `json:"model_file_base_name"`
	QuantMethod       string  `json:"quant_method"`      // "gptq"
	CheckpointFormat  string  `json:"checkpoint_format"` // "gptq" (v1) or "gptq_v2"
}

// AWQQuantConfig is AutoAWQ's to_transformers_dict form
// (awq/models/_config.py), which transformers and vLLM read.
type AWQQuantConfig struct {
	QuantMethod         string   `json:"quant_method"` // "awq"
	ZeroPoint           bool     `json:"zero_point"`
	GroupSize           int      `json:"group_size"`
	Bits                int      `json:"bits"`
	Version             string   `json:"version"` // "gemm"
	ModulesToNotConvert []string `json:"modules_to_not_convert"`
}

// CompressedQuantConfig is compressed-tensors' QuantizationConfig
// (quantization/quant_config.py) with one config group.
type CompressedQuantConfig struct {
	ConfigGroups           map[string]CompressedScheme `json:"config_groups"`
	Format                 string                      `json:"format"` // "pack-quantized"
	GlobalCompressionRatio *float64                    `json:"global_compression_ratio"`
	Ignore                 []string                    `json:"ignore"`
	KVCacheScheme          *CompressedArgs             `json:"kv_cache_scheme"`
	QuantMethod            string                      `json:"quant_method"`        // "compressed-tensors"
	QuantizationStatus     string                      `json:"quantization_status"` // "compressed"
}

// CompressedScheme is compressed-tensors' QuantizationScheme. Only fields
// every version knows are written: its pydantic models forbid unknown
// ones.
type CompressedScheme struct {
	Targets           []string        `json:"targets"`
	Weights           *CompressedArgs `json:"weights"`
	InputActivations  *CompressedArgs `json:"input_activations"`
	OutputActivations *CompressedArgs `json:"output_activations"`
}

// CompressedArgs is compressed-tensors' QuantizationArgs.
type CompressedArgs struct {
	NumBits        int            `json:"num_bits"`
	Type           string         `json:"type"` // "int"
	Symmetric      bool           `json:"symmetric"`
	GroupSize      *int           `json:"group_size"` // null for strategy "channel"
	Strategy       string         `json:"strategy"`   // "group" or "channel"
	BlockStructure []int          `json:"block_structure"`
	Dynamic        bool           `json:"dynamic"`
	ActOrder       *string        `json:"actorder"` // null or "group"
	Observer       string         `json:"observer"`
	ObserverKwargs map[string]any `json:"observer_kwargs"`
}

// QuantizationConfig returns the quantization_config object for
// config.json: a *GPTQQuantConfig (also the content of GPTQ's
// quantize_config.json), *AWQQuantConfig or *CompressedQuantConfig.
func (c Config) QuantizationConfig() (any, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	s := c.Scheme
	switch c.Format {
	case GPTQ:
		if !s.Symmetric && !c.GPTQv2 && s.MinZero < 1 {
			return nil, fmt.Errorf("gptq: an asymmetric v1 scheme needs MinZero 1 (use NewConfig)")
		}
		format := "gptq"
		if c.GPTQv2 {
			format = "gptq_v2"
		}
		return &GPTQQuantConfig{
			Bits:             s.Bits,
			GroupSize:        s.GroupSize,
			DampPercent:      0.01,
			DescAct:          c.ActOrder,
			Sym:              s.Symmetric,
			TrueSequential:   true,
			LMHead:           c.LMHead,
			QuantMethod:      string(GPTQ),
			CheckpointFormat: format,
		}, nil
	case AWQ:
		// Symmetric tensors store their zero points (2^(bits-1)) like any
		// others: AutoAWQ's GEMM layer always has qzeros.
		return &AWQQuantConfig{
			QuantMethod:         string(AWQ),
			ZeroPoint:           true,
			GroupSize:           s.GroupSize,
			Bits:                s.Bits,
			Version:             "gemm",
			ModulesToNotConvert: c.Ignore,
		}, nil
	default:
		args := &CompressedArgs{
			NumBits:        s.Bits,
			Type:           "int",
			Symmetric:      s.Symmetric,
			Strategy:       "channel",
			Observer:       "minmax",
			ObserverKwargs: map[string]any{},
		}
		if s.GroupSize > 0 {
			args.GroupSize = &s.GroupSize
			args.Strategy = "group"
		}
		if c.ActOrder {
			group := "group"
			args.ActOrder = &group
		}
		ignore := []string{}
		if !c.LMHead {
			ignore = append(ignore, "lm_head")
		}
		ignore = append(ignore, c.Ignore...)
		return &CompressedQuantConfig{
			ConfigGroups: map[string]CompressedScheme{
				"group_0": {Targets: []string{"Linear"}, Weights: args},
			},
			Format:             "pack-quantized",
			Ignore:             ignore,
			QuantMethod:        string(CompressedTensors),
			QuantizationStatus: "compressed",
		}, nil
	}
}
