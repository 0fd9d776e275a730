// Package hf packs quantized linear layers ([quant.Tensor]) into the INT4
// and INT8 layouts Hugging Face checkpoints use, and unpacks them again:
//
//   - GPTQ (AutoGPTQ, GPTQModel, transformers, vLLM "gptq"): qweight,
//     qzeros, scales and g_idx; v1 stores zero points minus one.
//   - AWQ GEMM (AutoAWQ, transformers, vLLM "awq"): qweight and qzeros
//     packed along the output dimension in AWQ's interleaved order, scales.
//   - compressed-tensors pack-quantized (llm-compressor, vLLM):
//     weight_packed, weight_scale, weight_shape, and weight_zero_point and
//     weight_g_idx when the scheme needs them.
//
// A layer packs into a list of [Packed] tensors, each named by the suffix
// that follows the layer's module name ("model.layers.0.mlp.up_proj" +
// ".qweight"), so a checkpoint writer can declare them up front ([Plan]
// gives names, dtypes and shapes before any data exists) and stream them
// one layer at a time. Unpacking reads a layer's tensors through a
// [Source] and validates every dtype, shape and value, since it parses
// untrusted files; its errors about stored data wrap [ErrFormat].
//
// A [Config] says which format and [quant.Scheme] a checkpoint uses.
// [ParseConfig] recognizes one from config.json, [NewConfig] prepares one
// for writing (adjusting the scheme to what the format can store), and
// [Config.QuantizationConfig] gives the quantization_config object to put
// in config.json (and, for GPTQ, in quantize_config.json).
package hf
