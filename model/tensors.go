package model

import "fmt"

// Role names what a tensor does, independent of any file format's naming.
type Role string

// The roles of a LLaMA-family decoder. Per-layer roles carry a layer index
// beside them wherever they are used.
const (
	TokenEmbedding Role = "token_embedding"
	OutputNorm     Role = "output_norm"
	Output         Role = "output"

	AttnNorm  Role = "attn_norm"
	AttnQ     Role = "attn_q"
	AttnK     Role = "attn_k"
	AttnV     Role = "attn_v"
	AttnO     Role = "attn_o"
	AttnQBias Role = "attn_q_bias"
	AttnKBias Role = "attn_k_bias"
	AttnVBias Role = "attn_v_bias"
	AttnOBias Role = "attn_o_bias"
	FFNNorm   Role = "ffn_norm"
	FFNGate   Role = "ffn_gate"
	FFNUp     Role = "ffn_up"
	FFNDown   Role = "ffn_down"
	FFNGateB  Role = "ffn_gate_bias"
	FFNUpB    Role = "ffn_up_bias"
	FFNDownB  Role = "ffn_down_bias"
)

// TensorSpec is one tensor an architecture needs.
type TensorSpec struct {
	Role  Role
	Layer int // -1 for tensors outside the decoder layers
	Name  string
	Shape []int
	// Linear marks the weight matrix of a linear layer ([out, in]), the
	// tensors quantizers act on.
	Linear bool
}

// hfNames maps each role to its Hugging Face tensor name; per-layer names
// take the layer index.
var hfNames = map[Role]string{
	TokenEmbedding: "model.embed_tokens.weight",
	OutputNorm:     "model.norm.weight",
	Output:         "lm_head.weight",
	AttnNorm:       "model.layers.%d.input_layernorm.weight",
	AttnQ:          "model.layers.%d.self_attn.q_proj.weight",
	AttnK:          "model.layers.%d.self_attn.k_proj.weight",
	AttnV:          "model.layers.%d.self_attn.v_proj.weight",
	AttnO:          "model.layers.%d.self_attn.o_proj.weight",
	AttnQBias:      "model.layers.%d.self_attn.q_proj.bias",
	AttnKBias:      "model.layers.%d.self_attn.k_proj.bias",
	AttnVBias:      "model.layers.%d.self_attn.v_proj.bias",
	AttnOBias:      "model.layers.%d.self_attn.o_proj.bias",
	FFNNorm:        "model.layers.%d.post_attention_layernorm.weight",
	FFNGate:        "model.layers.%d.mlp.gate_proj.weight",
	FFNUp:          "model.layers.%d.mlp.up_proj.weight",
	FFNDown:        "model.layers.%d.mlp.down_proj.weight",
	FFNGateB:       "model.layers.%d.mlp.gate_proj.bias",
	FFNUpB:         "model.layers.%d.mlp.up_proj.bias",
	FFNDownB:       "model.layers.%d.mlp.down_proj.bias",
}

// HFName returns the Hugging Face name of a role's tensor.
func HFName(role Role, layer int) string {
	if layer < 0 {
		return hfNames[role]
	}
	return fmt.Sprintf(hfNames[role], layer)
}

// Tensors lists every tensor the configured architecture needs, in
// checkpoint order: embedding, then each layer, then the final norm and head.
func (c *Config) Tensors() []TensorSpec {
	h, q, kv, ff := c.HiddenSize, c.QDim(), c.KVDim(), c.IntermediateSize
	global := func(role Role, linear bool, shape ...int) TensorSpec {
		return TensorSpec{Role: role, Layer: -1, Name: HFName(role, -1), Shape: shape, Linear: linear}
	}
	specs := []TensorSpec{global(TokenEmbedding, false, c.VocabSize, h)}
	for l := 0; l < c.NumLayers; l++ {
		add := func(role Role, linear bool, shape ...int) {
			specs = append(specs, TensorSpec{Role: role, Layer: l, Name: HFName(role, l), Shape: shape, Linear: linear})
		}
		add(AttnNorm, false, h)
		add(AttnQ, true, q, h)
		add(AttnK, true, kv, h)
		add(AttnV, true, kv, h)
		add(AttnO, true, h, q)
		if c.QKVBias {
			add(AttnQBias, false, q)
			add(AttnKBias, false, kv)
			add(AttnVBias, false, kv)
		}
		if c.OBias {
			add(AttnOBias, false, h)
		}
		add(FFNNorm, false, h)
		add(FFNGate, true, ff, h)
		add(FFNUp, true, ff, h)
		add(FFNDown, true, h, ff)
		if c.MLPBias {
			add(FFNGateB, false, ff)
			add(FFNUpB, false, ff)
			add(FFNDownB, false, h)
		}
	}
	specs = append(specs, global(OutputNorm, false, h))
	if !c.TieWordEmbeddings {
		specs = append(specs, global(Output, true, c.VocabSize, h))
	}
	return specs
}

// ParamCount is the number of parameters the tensors of Tensors hold.
func (c *Config) ParamCount() int64 {
	var n int64
	for _, s := range c.Tensors() {
		p := int64(1)
		for _, d := range s.Shape {
			p *= int64(d)
		}
		n += p
	}
	return n
}

// ggufNames maps each role to its GGUF tensor name (gguf-py constants.py
// TENSOR_NAMES); per-layer names take the layer index.
var ggufNames = map[Role]string{
	TokenEmbedding: "token_embd.weight",
	OutputNorm:     "output_norm.weight",
	Output:         "output.weight",
	AttnNorm:       "blk.%d.attn_norm.weight",
	AttnQ:          "blk.%d.attn_q.weight",
	AttnK:          "blk.%d.attn_k.weight",
	AttnV:          "blk.%d.attn_v.weight",
	AttnO:          "blk.%d.attn_output.weight",
	AttnQBias:      "blk.%d.attn_q.bias",
	AttnKBias:      "blk.%d.attn_k.bias",
	AttnVBias:      "blk.%d.attn_v.bias",
	AttnOBias:      "blk.%d.attn_output.bias",
	FFNNorm:        "blk.%d.ffn_norm.weight",
	FFNGate:        "blk.%d.ffn_gate.weight",
	FFNUp:          "blk.%d.ffn_up.weight",
	FFNDown:        "blk.%d.ffn_down.weight",
}

// GGUFName returns the GGUF name of a role's tensor; false for roles GGUF
// has no name for (the FFN biases).
func GGUFName(role Role, layer int) (string, bool) {
	tmpl, ok := ggufNames[role]
	if !ok {
		return "", false
	}
	if layer < 0 {
		return tmpl, true
	}
	return fmt.Sprintf(tmpl, layer), true
}
