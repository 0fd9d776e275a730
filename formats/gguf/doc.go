// Package gguf reads and writes GGUF files, the model format of llama.cpp,
// and encodes and decodes the ggml tensor types qtk produces.
//
// # Layout
//
// A GGUF file (specification: ggml's docs/gguf.md) is little-endian:
//
//	"GGUF"  u32 version  u64 tensor_count  u64 kv_count
//	kv_count × (string key, u32 value type, value)
//	tensor_count × (string name, u32 n_dims, n_dims × u64 dim, u32 ggml type, u64 offset)
//	zero padding to the alignment (general.alignment, default 32)
//	tensor data, each tensor at its offset from here, a multiple of the alignment
//
// Strings are a u64 length and that many bytes. A value is a scalar (u8,
// i8, u16, i16, u32, i32, f32, bool, string, u64, i64, f64) or an array:
// u32 element type, u64 count, elements; arrays may nest.
//
// # Dimension order
//
// Tensor dimensions are ggml's ne, innermost first: [TensorInfo.Dims][0]
// is the row length, the contiguous dimension along which quantization
// blocks run. A PyTorch or safetensors weight of shape [out, in] is
// declared with dims in, out, and its bytes are the same row-major data;
// [TensorInfo.Shape] gives the outermost-first order back.
//
// # Reading
//
// [Open] memory-maps a file and [Parse] reads one held in memory; both
// validate the whole header before returning: counts and lengths against
// the bytes left (before allocating), the limits below, value and tensor
// types, that rows hold whole blocks, sizes against overflow, and that every
// tensor's data lies aligned within the file and overlaps no other. Errors
// for malformed files wrap [ErrFormat] and name the file and byte offset.
// Tensor data is never copied: [File.TensorData] returns a slice of the
// file; [File.Dequantize] decodes it.
//
// # Writing
//
// A [Writer] takes every metadata value and tensor declaration first, then
// the tensors' data in declared order, streamed, and renames the finished
// file into place on Close. Metadata keys are written in the order they
// were set, tensors in the order declared: the same calls give the same
// bytes. The Writer does not add llama.cpp's required keys
// (general.architecture, general.quantization_version for quantized files,
// ...): that is the converter's job.
//
// # Codecs
//
// [Encode] and [Decode] convert between float32 values and F32, F16, BF16,
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K and Q6_K blocks. Encoding reproduces
// llama.cpp's reference quantizers (quantize_row_*_ref, the path of
// llama-quantize without an importance matrix) and decoding its
// dequantize_row_* functions, bit for bit: float32 arithmetic in the same
// order, each operation rounded on its own, round-half-even nearest_int,
// F16 scales rounded to nearest even. testdata/ggml holds known answers
// made by llama.cpp itself, and oracle_test.go compares against a live
// libggml-base when one is available.
package gguf
