package gguf

// Limits of what the reader accepts and the writer writes. They follow
// llama.cpp's reader (ggml/src/gguf.cpp) where it has one, so that what qtk
// writes llama.cpp can load.
const (
	// Magic is the first four bytes of every GGUF file.
	Magic = "GGUF"

	// Version is the GGUF version the Writer writes. The reader accepts
	// versions 2 and 3, which share one layout; version 3 only added
	// big-endian files, which the reader refuses.
	Version = 3

	// DefaultAlignment is the alignment of tensor data when the file has
	// no general.alignment key.
	DefaultAlignment = 32

	// AlignmentKey is the metadata key that sets the alignment of tensor
	// data; its value must be a u32 power of two.
	AlignmentKey = "general.alignment"

	// MaxStringLen is the longest string, in bytes, of a key or value
	// (ggml's GGUF_MAX_STRING_LENGTH).
	MaxStringLen = 1 << 30

	// MaxArrayLen is the most elements one array may have (ggml's
	// GGUF_MAX_ARRAY_ELEMENTS).
	MaxArrayLen = 1 << 30

	// MaxArrayDepth is how deeply arrays may nest: 1 allows arrays of
	// scalars only. llama.cpp itself reads no nested arrays.
	MaxArrayDepth = 8

	// MaxKeyLen is the longest metadata key in bytes (the specification's
	// 2^16-1).
	MaxKeyLen = 1<<16 - 1

	// MaxTensorNameLen is the longest tensor name in bytes: llama.cpp keeps
	// names in a 64-byte buffer with a terminating NUL (GGML_MAX_NAME).
	MaxTensorNameLen = 63

	// MaxDims is the most dimensions a tensor may have (GGML_MAX_DIMS).
	MaxDims = 4
)

// Smallest encodings, used to bound counts before allocating: a key-value
// pair has a key length, a key of at least one byte, a value type and a
// value of at least one byte; a tensor info has a name length, a name of at
// least one byte, a dimension count, one dimension, a type and an offset.
const (
	minKVSize         = 8 + 1 + 4 + 1
	minTensorInfoSize = 8 + 1 + 4 + 8 + 4 + 8
)
