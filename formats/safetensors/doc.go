// Package safetensors reads and writes model weights in the safetensors
// format.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON describing every tensor (dtype, shape and a byte range within the data
// section), then the data section itself:
//
//	{"__metadata__": {"format": "pt"},
//	 "lm_head.weight": {"dtype": "BF16", "shape": [4096, 256], "data_offsets": [0, 2097152]}, ...}
//
// [Open] memory-maps a file and validates its header completely: every
// tensor's byte range must lie in the data section, match its dtype and
// shape, and the ranges must tile the data section without gaps or overlaps.
// Tensor data is never copied: [Tensor.Data] aliases the mapping, and
// [Tensor.Float32] widens it into a new slice.
//
// [OpenCheckpoint] opens a Hugging Face checkpoint directory, sharded
// (model.safetensors.index.json) or not (model.safetensors).
//
// [NewWriter] writes a checkpoint, sharded or not, streaming one tensor at a
// time; files appear under their final names only once the whole checkpoint
// is written.
package safetensors
