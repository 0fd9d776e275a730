package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/formats/safetensors"
	"github.com/qtk-dev/qtk/quant"
)

func TestNewConfig(t *testing.T) {
	tests := []struct {
		f    Format
		s    quant.Scheme
		want Config
		err  string
	}{
		{f: GPTQ, s: quant.Scheme{Bits: 4, GroupSize: 128},
			want: Config{Format: GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128, MinZero: 1}}},
		{f: GPTQ, s: quant.Scheme{Bits: 8, GroupSize: -1, Symmetric: true},
			want: Config{Format: GPTQ, Scheme: quant.Scheme{Bits: 8, GroupSize: -1, Symmetric: true}}},
		{f: AWQ, s: quant.Scheme{Bits: 4, GroupSize: 64},
			want: Config{Format: AWQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 64}}},
		{f: CompressedTensors, s: quant.Scheme{Bits: 4, GroupSize: 128, Symmetric: true},
			want: Config{Format: CompressedTensors, Scheme: quant.Scheme{Bits: 4, GroupSize: 128, Symmetric: true}, ScaleDType: safetensors.F16}},
		{f: CompressedTensors, s: quant.Scheme{Bits: 8, GroupSize: 32, BF16Scales: true},
			want: Config{Format: CompressedTensors, Scheme: quant.Scheme{Bits: 8, GroupSize: 32, BF16Scales: true}, ScaleDType: safetensors.BF16}},
		{f: AWQ, s: quant.Scheme{Bits: 8, GroupSize: 128}, err: "awq: 8-bit weights: AWQ GEMM stores 4-bit only"},
		{f: GPTQ, s: quant.Scheme{Bits: 4, GroupSize: 128, BF16Scales: true}, err: "gptq: scales are float16"},
		{f: GPTQ, s: quant.Scheme{Bits: 3, GroupSize: 128}, err: "gptq: 3-bit weights: unsupported quantization"},
		{f: "exl2", s: quant.Scheme{Bits: 4, GroupSize: 128}, err: `format "exl2": unsupported quantization`},
	}
	for _, tt := range tests {
		got, err := NewConfig(tt.f, tt.s)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("NewConfig(%s, %+v) error %v, want %q", tt.f, tt.s, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("NewConfig(%s, %+v) = %+v, %v; want %+v", tt.f, tt.s, got, err, tt.want)
		}
	}
}

func TestQuantizationConfigJSON(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{
			name: "gptq",
			c:    Config{Format: GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128, MinZero: 1}},
			want: `{"bits":4,"group_size":128,"damp_percent":0.01,"desc_act":false,"static_groups":false,"sym":false,"true_sequential":true,"lm_head":false,"model_name_or_path":null,"model_file_base_name":null,"quant_method":"gptq","checkpoint_format":"gptq"}`,
		},
		{
			name: "gptq v2 act-order symmetric",
			c:    Config{Format: GPTQ, Scheme: quant.Scheme{Bits: 8, GroupSize: -1, Symmetric: true}, ActOrder: true, GPTQv2: true, LMHead: true},
			want: `{"bits":8,"group_size":-1,"damp_percent":0.01,"desc_act":true,"static_groups":false,"sym":true,"true_sequential":true,"lm_head":true,"model_name_or_path":null,"model_file_base_name":null,"quant_method":"gptq","checkpoint_format":"gptq_v2"}`,
		},
		{
			name: "awq",
			c:    Config{Format: AWQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128}},
			want: `{"quant_method":"awq","zero_point":true,"group_size":128,"bits":4,"version":"gemm","modules_to_not_convert":null}`,
		},
		{
			name: "compressed-tensors",
			c:    Config{Format: CompressedTensors, Scheme: quant.Scheme{Bits: 4, GroupSize: 128, Symmetric: true}},
			want: `{"config_groups":{"group_0":{"targets":["Linear"],"weights":{"num_bits":4,"type":"int","symmetric":true,"group_size":128,"strategy":"group","block_structure":null,"dynamic":false,"actorder":null,"observer":"minmax","observer_kwargs":{}},"input_activations":null,"output_activations":null}},"format":"pack-quantized","global_compression_ratio":null,"ignore":["lm_head"],"kv_cache_scheme":null,"quant_method":"compressed-tensors","quantization_status":"compressed"}`,
		},
		{
			name: "compressed-tensors channel asymmetric",
			c:    Config{Format: CompressedTensors, Scheme: quant.Scheme{Bits: 8, GroupSize: -1}, LMHead: true, Ignore: []string{"re:.*vision.*"}},
			want: `{"config_groups":{"group_0":{"targets":["Linear"],"weights":{"num_bits":8,"type":"int","symmetric":false,"group_size":null,"strategy":"channel","block_structure":null,"dynamic":false,"actorder":null,"observer":"minmax","observer_kwargs":{}},"input_activations":null,"output_activations":null}},"format":"pack-quantized","global_compression_ratio":null,"ignore":["re:.*vision.*"],"kv_cache_scheme":null,"quant_method":"compressed-tensors","quantization_status":"compressed"}`,
		},
		{
			name: "compressed-tensors act-order",
			c:    Config{Format: CompressedTensors, Scheme: quant.Scheme{Bits: 4, GroupSize: 32}, ActOrder: true},
			want: `{"config_groups":{"group_0":{"targets":["Linear"],"weights":{"num_bits":4,"type":"int","symmetric":false,"group_size":32,"strategy":"group","block_structure":null,"dynamic":false,"actorder":"group","observer":"minmax","observer_kwargs":{}},"input_activations":null,"output_activations":null}},"format":"pack-quantized","global_compression_ratio":null,"ignore":["lm_head"],"kv_cache_scheme":null,"quant_method":"compressed-tensors","quantization_status":"compressed"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qc, err := tt.c.QuantizationConfig()
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(qc)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	// An asymmetric v1 config whose scheme allows zero point 0 would
	// write files the packer refuses.
	c := Config{Format: GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128}}
	if _, err := c.QuantizationConfig(); err == nil {
		t.Error("asymmetric GPTQ v1 without MinZero: no error")
	}
}

// TestConfigRoundTrip writes every round-trip config and parses it back.
func TestConfigRoundTrip(t *testing.T) {
	for _, c := range roundTripConfigs() {
		qc, err := c.QuantizationConfig()
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(qc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseConfig([]byte(fmt.Sprintf(`{"model_type":"llama","quantization_config":%s}`, data)))
		if err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		// What the JSON cannot say: the scale dtype is in the tensors,
		// and AWQ stores a symmetric scheme's zero points like any other.
		want := c
		want.ScaleDType = ""
		want.Scheme.BF16Scales = false
		if c.Format == AWQ {
			want.Scheme.Symmetric = false
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s parses to %+v, want %+v", data, got, want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		json string
		want Config
	}{
		{
			name: "AutoGPTQ quantize_config.json",
			json: `{"bits": 4, "group_size": 128, "damp_percent": 0.01, "desc_act": false, "static_groups": false, "sym": true,
				"true_sequential": true, "model_name_or_path": "out", "model_file_base_name": "model", "quant_method": "gptq", "checkpoint_format": "gptq"}`,
			want: Config{Format: GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128, Symmetric: true}},
		},
		{
			name: "GPTQModel config.json",
			json: `{"architectures": ["LlamaForCausalLM"], "quantization_config": {"bits": 4, "checkpoint_format": "gptq", "desc_act": true,
				"group_size": 128, "lm_head": false, "meta": {"damp_auto_increment": 0.0025, "damp_percent": 0.01, "mse": 0.0,
				"quantizer": ["gptqmodel:2.2.0"], "static_groups": false, "true_sequential": true, "uri": "https://github.com/modelcloud/gptqmodel"},
				"pack_dtype": "int32", "quant_method": "gptq", "sym": false}, "torch_dtype": "float16"}`,
			want: Config{Format: GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128, MinZero: 1}, ActOrder: true},
		},
		{
			name: "GPTQModel v2 format",
			json: `{"bits": 8, "group_size": -1, "desc_act": false, "sym": false, "lm_head": true, "format": "gptq_v2", "quant_method": "gptq", "dynamic": {}}`,
			want: Config{Format: GPTQ, Scheme: quant.Scheme{Bits: 8, GroupSize: -1}, GPTQv2: true, LMHead: true},
		},
		{
			name: "transformers GPTQConfig",
			json: `{"quantization_config": {"batch_size": 1, "bits": 4, "block_name_to_quantize": null, "cache_block_outputs": true, "damp_percent": 0.1,
				"dataset": "c4", "desc_act": false, "exllama_config": {"version": 1}, "group_size": 128, "max_input_length": null, "model_seqlen": null,
				"module_name_preceding_first_block": null, "modules_in_block_to_quantize": null, "pad_token_id": null, "quant_method": "gptq",
				"sym": true, "tokenizer": null, "true_sequential": true, "use_cuda_fp16": false, "use_exllama": true}}`,
			want: Config{Format: GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128, Symmetric: true}},
		},
		{
			name: "GPTQ with AutoGPTQ defaults",
			json: `{"quant_method": "gptq", "w_bit": 4, "q_group_size": 64}`,
			want: Config{Format: GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 64, Symmetric: true}, ActOrder: true},
		},
		{
			name: "AutoAWQ for transformers",
			json: `{"quantization_config": {"quant_method": "awq", "zero_point": true, "group_size": 128, "bits": 4, "version": "gemm",
				"modules_to_not_convert": null, "backend": "autoawq", "do_fuse": false, "fuse_max_seq_len": null}}`,
			want: Config{Format: AWQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128}},
		},
		{
			name: "AutoAWQ quant_config.json",
			json: `{"zero_point": true, "q_group_size": 64, "w_bit": 4, "version": "GEMM", "modules_to_not_convert": ["visual"]}`,
			want: Config{Format: AWQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 64}, Ignore: []string{"visual"}},
		},
		{
			name: "llm-compressor W4A16",
			json: `{"quantization_config": {"config_groups": {"group_0": {"format": "pack-quantized", "input_activations": null,
				"output_activations": null, "targets": ["Linear"], "weights": {"actorder": null, "block_structure": null, "dynamic": false,
				"group_size": 128, "num_bits": 4, "observer": "minmax", "observer_kwargs": {}, "scale_dtype": null, "strategy": "group",
				"symmetric": true, "type": "int", "zp_dtype": null}}}, "format": "pack-quantized", "global_compression_ratio": null,
				"ignore": ["lm_head"], "kv_cache_scheme": null, "quant_method": "compressed-tensors", "quantization_status": "compressed",
				"sparsity_config": {}, "transform_config": {}, "version": "0.12.2"}}`,
			want: Config{Format: CompressedTensors, Scheme: quant.Scheme{Bits: 4, GroupSize: 128, Symmetric: true}},
		},
		{
			name: "llm-compressor W4A16_ASYM act-order",
			json: `{"quantization_config": {"config_groups": {"group_0": {"format": "pack-quantized", "input_activations": null,
				"output_activations": null, "targets": ["Linear"], "weights": {"actorder": "group", "dynamic": false, "group_size": 32, "num_bits": 4,
				"strategy": "group", "symmetric": false, "type": "int"}}}, "format": "mixed-precision",
				"ignore": ["lm_head", "re:.*mlp.gate$"], "quant_method": "compressed-tensors", "quantization_status": "compressed"}}`,
			want: Config{Format: CompressedTensors, Scheme: quant.Scheme{Bits: 4, GroupSize: 32}, ActOrder: true, Ignore: []string{"re:.*mlp.gate$"}},
		},
		{
			name: "compression_config, channel, static actorder",
			json: `{"compression_config": {"config_groups": {"group_0": {"targets": ["Linear"], "weights": {"num_bits": 8,
				"strategy": "channel", "actorder": "static"}}}, "format": "pack-quantized", "quant_method": "compressed-tensors",
				"ignore": []}}`,
			want: Config{Format: CompressedTensors, Scheme: quant.Scheme{Bits: 8, GroupSize: -1, Symmetric: true}, LMHead: true, Ignore: nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Config
			var err error
			if strings.Contains(tt.json, `"quantization_config"`) || strings.Contains(tt.json, `"compression_config"`) {
				got, err = ParseConfig([]byte(tt.json))
			} else {
				got, err = ParseQuantizationConfig([]byte(tt.json))
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	ct := func(weights string, extra string) string {
		return `{"quantization_config": {"quant_method": "compressed-tensors", "format": "pack-quantized", ` + extra +
			`"config_groups": {"group_0": {"targets": ["Linear"], "weights": ` + weights + `}}}}`
	}
	w4 := `{"num_bits": 4, "strategy": "group", "group_size": 128}`
	tests := []struct {
		name        string
		json        string
		want        string
		unsupported bool
	}{
		{"not quantized", `{"model_type": "llama"}`, "config.json has no quantization_config", false},
		{"not JSON", `{"quantization_config": `, "config.json: not a JSON object", false},
		{"not an object", `{"quantization_config": [1]}`, "quantization_config: not a JSON object", false},
		{"other method", `{"quantization_config": {"quant_method": "bitsandbytes"}}`, `quant_method "bitsandbytes": unsupported`, true},
		{"no method", `{"quantization_config": {"bits": 4}}`, "quantization_config: no quant_method", false},
		{"gptq 3-bit", `{"quantization_config": {"quant_method": "gptq", "bits": 3, "group_size": 128}}`, "gptq: 3-bit weights: unsupported", true},
		{"gptq bits not a number", `{"quantization_config": {"quant_method": "gptq", "bits": "4", "group_size": 128}}`, `gptq: bits: "4" is not an integer`, false},
		{"gptq no group size", `{"quantization_config": {"quant_method": "gptq", "bits": 4}}`, "gptq: no group_size or q_group_size", false},
		{"gptq marlin", `{"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128, "checkpoint_format": "marlin"}}`, `checkpoint format "marlin": unsupported`, true},
		{"gptq dynamic", `{"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128, "dynamic": {"-:.*lm_head": {}}}}`, "per-module overrides (dynamic): unsupported", true},
		{"gptq sym not a boolean", `{"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128, "sym": 1}}`, "sym: 1 is not a boolean", false},
		{"awq gemv", `{"quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemv_fast"}}`, `version "gemv_fast" (qtk reads the GEMM layout): unsupported`, true},
		{"awq 8-bit", `{"quantization_config": {"quant_method": "awq", "bits": 8, "group_size": 128}}`, "awq: 8-bit weights", true},
		{"ct float", `{"quantization_config": {"quant_method": "compressed-tensors", "format": "float-quantized", "config_groups": {"g": {"targets": ["Linear"], "weights": {"num_bits": 8, "type": "float"}}}}}`, `format "float-quantized" (qtk reads pack-quantized): unsupported`, true},
		{"ct W8A8", `{"quantization_config": {"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups": {"g": {"targets": ["Linear"], "weights": {"num_bits": 4, "group_size": 128}, "input_activations": {"num_bits": 8}}}}}`, "input_activations are quantized: unsupported", true},
		{"ct two groups", `{"quantization_config": {"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups": {"a": {}, "b": {}}}}`, "2 config groups (qtk reads one): unsupported", true},
		{"ct frozen", ct(w4, `"quantization_status": "frozen", `), `quantization_status "frozen": weights are not packed: unsupported`, true},
		{"ct kv cache", ct(w4, `"kv_cache_scheme": {"num_bits": 8}, `), "kv_cache_scheme: unsupported", true},
		{"ct float weights", ct(`{"num_bits": 4, "type": "float", "group_size": 16, "strategy": "tensor_group"}`, ""), `weights: type "float": unsupported`, true},
		{"ct tensor strategy", ct(`{"num_bits": 4, "strategy": "tensor"}`, ""), `weights: strategy "tensor": unsupported`, true},
		{"ct group without size", ct(`{"num_bits": 4, "strategy": "group"}`, ""), "weights: strategy group without a positive group_size", false},
		{"ct dynamic", ct(`{"num_bits": 4, "strategy": "group", "group_size": 128, "dynamic": true}`, ""), "weights: dynamic quantization: unsupported", true},
		{"ct targets", `{"quantization_config": {"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups": {"g": {"targets": ["re:.*q_proj"], "weights": {"num_bits": 4}}}}}`, `targets ["re:.*q_proj"] (qtk reads ["Linear"]): unsupported`, true},
		{"ct act-order per channel", ct(`{"num_bits": 4, "strategy": "channel", "actorder": "group"}`, ""), `actorder "group" needs a positive group size`, false},
		{"ct no weights", `{"quantization_config": {"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups": {"g": {"targets": ["Linear"]}}}}`, "no weights", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if errors.Is(err, ErrUnsupported) != tt.unsupported {
				t.Errorf("errors.Is(%v, ErrUnsupported) = %v", err, !tt.unsupported)
			}
		})
	}
}
