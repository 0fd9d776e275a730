package hf_test

import (
	"encoding/json"
	"fmt"

	"github.com/qtk-dev/qtk/formats/hf"
	"github.com/qtk-dev/qtk/quant"
)

// A converter picks a format and scheme once, quantizes every linear
// layer with the Config's scheme, and streams the packed tensors.
func ExampleNewConfig() {
	cfg, err := hf.NewConfig(hf.GPTQ, quant.Scheme{Bits: 4, GroupSize: 32})
	if err != nil {
		panic(err)
	}
	fmt.Printf("quantize with %+v\n", cfg.Scheme) // MinZero 1: v1 cannot store zero 0

	// Declare: names, dtypes and shapes are known before any data.
	const module, out, in = "model.layers.0.mlp.up_proj", 64, 32
	plan, err := hf.Plan(cfg, out, in)
	if err != nil {
		panic(err)
	}
	for _, p := range plan {
		fmt.Println(module+"."+p.Suffix, p.DType, p.Shape)
	}

	// Quantize and pack one layer; Data then goes to the writer.
	w := make([]float32, out*in)
	for i := range w {
		w[i] = float32(i%7-3) / 100
	}
	q, err := quant.RTN(w, out, in, cfg.Scheme, quant.RTNOptions{})
	if err != nil {
		panic(err)
	}
	packed, err := hf.Pack(cfg, q)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(packed), "tensors packed")

	// config.json's quantization_config (and GPTQ's quantize_config.json).
	qc, err := cfg.QuantizationConfig()
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(qc)
	fmt.Println(string(b))
	// Output:
	// quantize with {Bits:4 GroupSize:32 Symmetric:false MinZero:1 BF16Scales:false}
	// model.layers.0.mlp.up_proj.qweight I32 [4 64]
	// model.layers.0.mlp.up_proj.qzeros I32 [1 8]
	// model.layers.0.mlp.up_proj.scales F16 [1 64]
	// model.layers.0.mlp.up_proj.g_idx I32 [32]
	// 4 tensors packed
	// {"bits":4,"group_size":32,"damp_percent":0.01,"desc_act":false,"static_groups":false,"sym":false,"true_sequential":true,"lm_head":false,"model_name_or_path":null,"model_file_base_name":null,"quant_method":"gptq","checkpoint_format":"gptq"}
}

// A reader recognizes the format from config.json and unpacks each layer
// through a Source over the checkpoint.
func ExampleParseConfig() {
	cfg, err := hf.ParseConfig([]byte(`{"quantization_config": {"quant_method": "awq", "zero_point": true,
		"group_size": 128, "bits": 4, "version": "gemm", "modules_to_not_convert": null}}`))
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s %+v\n", cfg.Format, cfg.Scheme)
	// With a checkpoint c from safetensors.OpenCheckpoint:
	//	q, err := hf.Unpack(cfg, hf.ModuleSource(c, "model.layers.0.mlp.up_proj"), out, in)
	// Output:
	// awq {Bits:4 GroupSize:128 Symmetric:false MinZero:0 BF16Scales:false}
}
