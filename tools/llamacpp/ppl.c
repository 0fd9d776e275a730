// ppl.c: llama.cpp's perplexity on a GGUF file, computed with llama.cpp itself
// (libllama), following llama-perplexity's protocol for -c 512:
//
//   tokens = llama_tokenize(text, add_special=true, parse_special=false)
//   n_chunk = n_tokens / 512; for each chunk the first token is replaced by BOS
//   when the vocab adds BOS; the 512 tokens are decoded as one sequence with a
//   cleared KV cache; positions 256..510 are scored against the next token
//   (log-softmax in double). ppl = exp(mean NLL).
//
// Usage: ppl MODEL.gguf TEXT [--max-chunks N] [--threads N]
//
// The CPU backends (libggml-cpu-*.so) are loaded from $GGML_BACKEND_DIR if set,
// else from ggml's default search path.
//
// No llama.h is needed: the few functions used are declared below. The
// parameter structs are treated as opaque byte buffers (larger than the real
// structs): they are only obtained from llama_*_default_params and passed back
// by value as the last argument, and only the leading fields of
// llama_context_params are set; their order (see main) is checked against the
// library's defaults, since it changes between llama.cpp versions.
// This relies on the x86-64 SysV ABI (structs > 16 bytes go through memory).
// Build: see README.md.
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int32_t llama_token;
typedef int32_t llama_pos;
typedef int32_t llama_seq_id;
struct llama_model;
struct llama_context;
struct llama_vocab;
struct llama_memory;

typedef struct { _Alignas(8) unsigned char b[1024]; } params_blob;

struct llama_batch {
	int32_t n_tokens;
	llama_token *token;
	float *embd;
	llama_pos *pos;
	int32_t *n_seq_id;
	llama_seq_id **seq_id;
	int8_t *logits;
};

void llama_backend_init(void);
void ggml_backend_load_all_from_path(const char *dir); // libggml
void ggml_backend_load_all(void);
params_blob llama_model_default_params(void);
params_blob llama_context_default_params(void);
struct llama_model *llama_model_load_from_file(const char *path, params_blob params);
struct llama_context *llama_init_from_model(struct llama_model *model, params_blob params);
const struct llama_vocab *llama_model_get_vocab(const struct llama_model *model);
int32_t llama_vocab_n_tokens(const struct llama_vocab *vocab);
llama_token llama_vocab_bos(const struct llama_vocab *vocab);
bool llama_vocab_get_add_bos(const struct llama_vocab *vocab);
int32_t llama_tokenize(const struct llama_vocab *vocab, const char *text, int32_t text_len,
                       llama_token *tokens, int32_t n_tokens_max, bool add_special,
                       bool parse_special);
struct llama_batch llama_batch_init(int32_t n_tokens, int32_t embd, int32_t n_seq_max);
void llama_batch_free(struct llama_batch batch);
int32_t llama_decode(struct llama_context *ctx, struct llama_batch batch);
float *llama_get_logits_ith(struct llama_context *ctx, int32_t i);
struct llama_memory *llama_get_memory(const struct llama_context *ctx);
void llama_memory_clear(struct llama_memory *mem, bool data);
uint32_t llama_n_ctx(const struct llama_context *ctx);
void llama_free(struct llama_context *ctx);
void llama_model_free(struct llama_model *model);

enum { N_CTX = 512 };

static char *read_file(const char *path, long *n) {
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	*n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc(*n + 1);
	if (fread(buf, 1, *n, f) != (size_t)*n) {
		fprintf(stderr, "short read on %s\n", path);
		exit(1);
	}
	buf[*n] = 0;
	fclose(f);
	return buf;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: %s MODEL.gguf TEXT [--max-chunks N] [--threads N]\n", argv[0]);
		return 2;
	}
	int max_chunks = -1, threads = 8;
	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--max-chunks")) max_chunks = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
	}

	const char *bdir = getenv("GGML_BACKEND_DIR");
	if (bdir) ggml_backend_load_all_from_path(bdir);
	else ggml_backend_load_all();
	llama_backend_init();
	params_blob mp = llama_model_default_params();
	struct llama_model *model = llama_model_load_from_file(argv[1], mp);
	if (!model) {
		fprintf(stderr, "failed to load %s\n", argv[1]);
		return 1;
	}
	params_blob cp = llama_context_default_params();
	// Leading fields of llama_context_params in this library (checked against
	// the defaults: 512, 2048, 512, 1, 0, 0, 1, 4, 4):
	// n_ctx, n_batch, n_ubatch, n_seq_max, n_rs_seq, n_outputs_max,
	// n_outputs_max_per_seq, n_threads, n_threads_batch.
	uint32_t *u = (uint32_t *)cp.b;
	if (!(u[0] == 512 && u[3] == 1 && u[4] == 0 && u[6] == 1 && u[7] == u[8] && u[7] > 0)) {
		fprintf(stderr, "unexpected llama_context_params layout (defaults %u %u %u %u %u %u %u %u %u);"
		                " adjust the field indices in ppl.c to this llama.cpp version\n",
		        u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8]);
		return 1;
	}
	u[0] = N_CTX; // n_ctx
	u[1] = N_CTX; // n_batch
	u[2] = N_CTX; // n_ubatch
	u[3] = 1;     // n_seq_max
	u[5] = N_CTX; // n_outputs_max: all 512 positions return logits
	u[6] = N_CTX; // n_outputs_max_per_seq
	u[7] = threads; // n_threads
	u[8] = threads; // n_threads_batch
	struct llama_context *ctx = llama_init_from_model(model, cp);
	if (!ctx) {
		fprintf(stderr, "failed to create context\n");
		return 1;
	}
	if (llama_n_ctx(ctx) != N_CTX) {
		fprintf(stderr, "n_ctx is %u, want %d\n", llama_n_ctx(ctx), N_CTX);
		return 1;
	}
	const struct llama_vocab *vocab = llama_model_get_vocab(model);
	const int n_vocab = llama_vocab_n_tokens(vocab);
	const bool add_bos = llama_vocab_get_add_bos(vocab);
	const llama_token bos = llama_vocab_bos(vocab);

	long text_len;
	char *text = read_file(argv[2], &text_len);
	int32_t cap = (int32_t)(text_len + 16);
	llama_token *tokens = malloc(sizeof(llama_token) * cap);
	int32_t n_tokens = llama_tokenize(vocab, text, (int32_t)text_len, tokens, cap, true, false);
	if (n_tokens < 0) {
		fprintf(stderr, "tokenize failed (%d)\n", n_tokens);
		return 1;
	}
	printf("file tokens: %d (add_bos=%d, bos=%d, n_vocab=%d)\n", n_tokens, add_bos, bos, n_vocab);
	fflush(stdout);

	int n_chunk = n_tokens / N_CTX;
	if (max_chunks >= 0 && max_chunks < n_chunk) n_chunk = max_chunks;
	const int first = N_CTX / 2;
	struct llama_batch batch = llama_batch_init(N_CTX, 0, 1);
	double nll = 0;
	long count = 0;
	for (int c = 0; c < n_chunk; c++) {
		const int start = c * N_CTX;
		llama_memory_clear(llama_get_memory(ctx), true);
		batch.n_tokens = N_CTX;
		for (int i = 0; i < N_CTX; i++) {
			batch.token[i] = tokens[start + i];
			batch.pos[i] = i;
			batch.n_seq_id[i] = 1;
			batch.seq_id[i][0] = 0;
			batch.logits[i] = 1;
		}
		if (add_bos) batch.token[0] = bos;
		if (llama_decode(ctx, batch) != 0) {
			fprintf(stderr, "decode failed at chunk %d\n", c);
			return 1;
		}
		for (int i = first; i < N_CTX - 1; i++) {
			const float *lg = llama_get_logits_ith(ctx, i);
			double mx = lg[0];
			for (int v = 1; v < n_vocab; v++)
				if (lg[v] > mx) mx = lg[v];
			double sum = 0;
			for (int v = 0; v < n_vocab; v++) sum += exp((double)lg[v] - mx);
			const llama_token tgt = tokens[start + i + 1];
			nll += -((double)lg[tgt] - mx - log(sum));
			count++;
		}
		if ((c + 1) % 50 == 0) {
			fprintf(stderr, "[%d/%d] ppl %.4f\n", c + 1, n_chunk, exp(nll / count));
		}
	}
	printf("chunks: %d, scored tokens: %ld\n", n_chunk, count);
	printf("ppl: %.4f\n", exp(nll / count));
	llama_batch_free(batch);
	llama_free(ctx);
	llama_model_free(model);
	free(tokens);
	free(text);
	return 0;
}
