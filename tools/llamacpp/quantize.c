// quantize.c: quantize a GGUF file with llama.cpp's own quantizer
// (llama_model_quantize in libllama, the function behind llama-quantize),
// to check that qtk reads llama.cpp-made files and agrees with llama.cpp's
// perplexity on them.
//
// Usage: quantize IN.gguf OUT.gguf TYPE [--threads N]
// TYPE: q4_0 q4_1 q5_0 q5_1 q8_0 q3_k_m q4_k_s q4_k_m q5_k_m q6_k
// (llama.h enum llama_ftype).
//
// As in ppl.c no llama.h is needed: the parameter struct is an opaque buffer
// filled by llama_model_quantize_default_params; only its first two fields
// (nthread, ftype) are set, after checking the defaults look as expected
// (nthread 0, ftype LLAMA_FTYPE_MOSTLY_Q8_0, output and token-embedding types
// equal, quantize_output_tensor true), so a library with another layout
// fails loudly. Build: see README.md.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { _Alignas(8) unsigned char b[1024]; } params_blob;

void llama_backend_init(void);
params_blob llama_model_quantize_default_params(void);
uint32_t llama_model_quantize(const char *in, const char *out, const params_blob *params);

static const struct { const char *name; int32_t ftype; } ftypes[] = {
	{"q4_0", 2}, {"q4_1", 3}, {"q8_0", 7}, {"q5_0", 8}, {"q5_1", 9},
	{"q3_k_m", 12}, {"q4_k_s", 14}, {"q4_k_m", 15}, {"q5_k_m", 17}, {"q6_k", 18},
};

int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: %s IN.gguf OUT.gguf TYPE [--threads N]\n", argv[0]);
		return 2;
	}
	int32_t ftype = -1, threads = 2;
	for (size_t i = 0; i < sizeof ftypes / sizeof ftypes[0]; i++)
		if (!strcmp(argv[3], ftypes[i].name)) ftype = ftypes[i].ftype;
	if (ftype < 0) {
		fprintf(stderr, "unknown type %s\n", argv[3]);
		return 2;
	}
	for (int i = 4; i + 1 < argc; i += 2)
		if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);

	llama_backend_init();
	params_blob p = llama_model_quantize_default_params();
	int32_t *u = (int32_t *)p.b;
	// nthread, ftype, output_tensor_type, token_embedding_type, then the
	// bools allow_requantize, quantize_output_tensor.
	if (u[0] != 0 || u[1] != 7 || u[2] != u[3] || p.b[16] != 0 || p.b[17] != 1) {
		fprintf(stderr, "unexpected llama_model_quantize_params layout (defaults %d %d %d %d %d %d)\n",
			u[0], u[1], u[2], u[3], p.b[16], p.b[17]);
		return 1;
	}
	u[0] = threads;
	u[1] = ftype;
	uint32_t rc = llama_model_quantize(argv[1], argv[2], &p);
	if (rc != 0) {
		fprintf(stderr, "llama_model_quantize failed (%u)\n", rc);
		return 1;
	}
	return 0;
}
