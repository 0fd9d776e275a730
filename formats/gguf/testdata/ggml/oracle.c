// oracle.c: a command-line bridge to llama.cpp's quantizers, used to make
// and check qtk's known-answer files. It is never built by Go.
//
// It reads little-endian float32 values (quantize) or encoded blocks
// (dequantize) on stdin and writes the result on stdout:
//
//	oracle quantize TYPE ROWLEN < values.f32 > blocks.bin
//	oracle dequantize TYPE COUNT < blocks.bin > values.f32
//
// TYPE is the ggml type number. quantize calls ggml_quantize_chunk without
// an importance matrix, as llama-quantize does, which runs the reference
// quantizers quantize_row_*_ref. Build it against any libggml-base.so,
// for instance the one in the npm package @node-llama-cpp/linux-x64:
//
//	cc -O2 -o oracle oracle.c -L$LIB -lggml-base -Wl,-rpath,$LIB
//
// then run the tests with QTK_GGML_ORACLE=$PWD/oracle (see oracle_test.go).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Declarations of the libggml-base functions used, written out so that no
// ggml header is needed; ggml's enums are passed as int.
size_t ggml_quantize_chunk(int type, const float *src, void *dst, int64_t start,
                           int64_t nrows, int64_t n_per_row, const float *imatrix);
size_t ggml_row_size(int type, int64_t ne);
void ggml_fp16_to_fp32_row(const uint16_t *x, float *y, int64_t n);
void ggml_bf16_to_fp32_row(const uint16_t *x, float *y, int64_t n);
void dequantize_row_q4_0(const void *x, float *y, int64_t k);
void dequantize_row_q4_1(const void *x, float *y, int64_t k);
void dequantize_row_q5_0(const void *x, float *y, int64_t k);
void dequantize_row_q5_1(const void *x, float *y, int64_t k);
void dequantize_row_q8_0(const void *x, float *y, int64_t k);
void dequantize_row_q4_K(const void *x, float *y, int64_t k);
void dequantize_row_q6_K(const void *x, float *y, int64_t k);

static void *read_all(size_t *n) {
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		size_t got = fread(buf + len, 1, cap - len, stdin);
		if (got == 0) {
			break;
		}
		len += got;
	}
	*n = len;
	return buf;
}

static int dequantize(int type, const void *src, float *dst, int64_t n) {
	switch (type) {
	case 0: memcpy(dst, src, 4 * n); break;
	case 1: ggml_fp16_to_fp32_row(src, dst, n); break;
	case 30: ggml_bf16_to_fp32_row(src, dst, n); break;
	case 2: dequantize_row_q4_0(src, dst, n); break;
	case 3: dequantize_row_q4_1(src, dst, n); break;
	case 6: dequantize_row_q5_0(src, dst, n); break;
	case 7: dequantize_row_q5_1(src, dst, n); break;
	case 8: dequantize_row_q8_0(src, dst, n); break;
	case 12: dequantize_row_q4_K(src, dst, n); break;
	case 14: dequantize_row_q6_K(src, dst, n); break;
	default: return -1;
	}
	return 0;
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: oracle quantize|dequantize TYPE ROWLEN|COUNT\n");
		return 2;
	}
	int type = atoi(argv[2]);
	int64_t n = atoll(argv[3]);
	size_t size;
	void *in = read_all(&size);
	if (strcmp(argv[1], "quantize") == 0) {
		int64_t total = size / 4, rows = total / n;
		if (n <= 0 || total % n != 0) {
			fprintf(stderr, "oracle: %zu bytes are not whole rows of %lld values\n", size, (long long)n);
			return 1;
		}
		size_t out_size = ggml_row_size(type, n) * rows;
		void *out = malloc(out_size + 1);
		size_t got = ggml_quantize_chunk(type, in, out, 0, rows, n, NULL);
		if (got != out_size) {
			fprintf(stderr, "oracle: quantized to %zu bytes, want %zu\n", got, out_size);
			return 1;
		}
		fwrite(out, 1, out_size, stdout);
		return 0;
	}
	if (strcmp(argv[1], "dequantize") == 0) {
		if (size != ggml_row_size(type, n)) {
			fprintf(stderr, "oracle: %zu bytes do not hold %lld values of type %d\n", size, (long long)n, type);
			return 1;
		}
		float *out = malloc(4 * n + 4);
		if (dequantize(type, in, out, n) != 0) {
			fprintf(stderr, "oracle: no dequantizer for type %d\n", type);
			return 1;
		}
		fwrite(out, 4, n, stdout);
		return 0;
	}
	fprintf(stderr, "oracle: unknown mode %s\n", argv[1]);
	return 2;
}
