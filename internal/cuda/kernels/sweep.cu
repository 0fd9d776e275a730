// GPTQ's column sweep (Frantar et al., 2022, Algorithm 1) inside one
// block of columns, for package quant's integer grid with min-max group
// parameters. The lazy update of the columns after the block is a GEMM
// (internal/cuda/sweep.go). Every operation is rounded as package gptq's
// CPU sweep rounds it (no fused multiply-adds, IEEE division), so that
// the two agree but for the summation order of the lazy updates.

// Rows of the weight matrix per thread block, one per thread, and the
// most columns a block of the sweep may have (SweepMaxBlock in Go).
#define SWEEP_ROWS 32
#define SWEEP_MAX_BLOCK 128
// Row stride of the shared tile: one more than the rows, so that loading
// it along columns and reading it along rows are both free of bank
// conflicts.
#define SWEEP_TILE_STRIDE (SWEEP_ROWS + 1)

// sweep_round_shift returns v >> s rounded to nearest, ties to even;
// 0 < s < 32 (internal/half's roundShift).
__device__ unsigned int sweep_round_shift(unsigned int v, unsigned int s) {
    unsigned int q = v >> s;
    unsigned int rem = v & ((1u << s) - 1u);
    unsigned int half = 1u << (s - 1u);
    if (rem > half || (rem == half && (q & 1u))) {
        q++;
    }
    return q;
}

// sweep_round_f16 rounds a finite non-negative float to the nearest
// binary16 value, ties to even, and widens it back (internal/half's
// F32ToF16 then F16ToF32).
__device__ float sweep_round_f16(float f) {
    unsigned int b = __float_as_uint(f);
    int e = (int)((b >> 23) & 0xffu) - 127 + 15;
    unsigned int frac = b & 0x7fffffu;
    unsigned int h;
    if (e >= 0x1f) {
        h = 0x7c00u;
    } else if (e <= 0) {
        h = e < -10 ? 0u : sweep_round_shift(frac | 0x800000u, (unsigned int)(14 - e));
    } else {
        h = sweep_round_shift(((unsigned int)e << 23) | frac, 13u);
    }
    unsigned int exp = (h >> 10) & 0x1fu;
    unsigned int mant = h & 0x3ffu;
    if (exp == 0u) {
        return (float)mant * 0x1p-24f;
    }
    if (exp == 0x1fu) {
        return __uint_as_float(0x7f800000u | (mant << 13));
    }
    return __uint_as_float(((exp + 127u - 15u) << 23) | (mant << 13));
}

// sweep_round_scale is quant.Scheme.RoundScale: the nearest value of the
// scale dtype, kept positive and finite.
__device__ float sweep_round_scale(float scale, int bf16_scales) {
    if (bf16_scales) {
        float r = __uint_as_float(sweep_round_shift(__float_as_uint(fminf(scale, 0x1.fep127f)), 16u) << 16);
        return r <= 0.0f ? __uint_as_float(1u << 16) : r;
    }
    float r = sweep_round_f16(fminf(scale, 65504.0f));
    return r <= 0.0f ? 0x1p-24f : r;
}

// sweep_fit sets the scale and zero point that map [lo, hi] onto the grid
// of maxq+1 integers (quant.Scheme.RangeParams).
__device__ void sweep_fit(float lo, float hi, int maxq, int symmetric, int min_zero, int bf16_scales,
                          float* scale, unsigned char* zero) {
    const float min_scale = 1e-5f;
    float fmaxq = (float)maxq;
    if (symmetric) {
        float half = (float)((maxq + 1) / 2);
        *scale = sweep_round_scale(fmaxf(__fdiv_rn(fmaxf(-lo, hi), half - 1.0f), min_scale), bf16_scales);
        *zero = (unsigned char)((maxq + 1) / 2);
        return;
    }
    float s = sweep_round_scale(__fdiv_rn(fmaxf(__fsub_rn(hi, lo), min_scale), fmaxq), bf16_scales);
    float z = rintf(__fdiv_rn(-lo, s));
    float min_z = (float)min_zero;
    if (z < min_z) {
        z = min_z;
        s = fmaxf(s, sweep_round_scale(__fdiv_rn(hi, fmaxq - min_z), bf16_scales));
    } else if (z > fmaxq) {
        z = fmaxq;
        s = fmaxf(s, sweep_round_scale(__fdiv_rn(-lo, fmaxq), bf16_scales));
    }
    *scale = s;
    *zero = (unsigned char)z;
}

// gptq_sweep_block quantizes the n <= SWEEP_MAX_BLOCK columns [i1, i1+n)
// of w [out×in] (processing order, as updated by the blocks before), one
// row per thread, SWEEP_ROWS rows per thread block. For each column j:
//   - with dynamic groups, when j starts a group, the parameters of group
//     j/group_size are fitted by min-max over w[r, j:j+group_size] (w as it was when
//     the block began, as in the reference);
//   - the row's running weight x is rounded onto the grid of its group
//     col_group[j], the code stored in q[r, j];
//   - err = (x - dequantized)/U[j][j] goes to e[r, j-i1] and to the loss;
//   - the rest of the block absorbs it: x[j+1:] -= err·U[j, j+1:i1+n].
// u is U [in×in] row-major (upper triangle read); scale and zero are
// [out×groups], read and, with dynamic groups, written; loss[r] gains the
// sum of err² over the block.
extern "C" __global__ void gptq_sweep_block(const float* __restrict__ w, const float* __restrict__ u,
                                            float* __restrict__ e, unsigned char* __restrict__ q,
                                            float* scale, unsigned char* zero,
                                            const int* __restrict__ col_group, double* __restrict__ loss,
                                            int out, int in, int i1, int n, int groups, int group_size,
                                            int dynamic, int maxq, int symmetric, int min_zero, int bf16_scales) {
    // x of every row of the block, column-major: tile[k*SWEEP_TILE_STRIDE + row].
    // Column k holds the scaled error once column k is done.
    __shared__ float tile[SWEEP_MAX_BLOCK * SWEEP_TILE_STRIDE];
    __shared__ unsigned char codes[SWEEP_MAX_BLOCK * SWEEP_TILE_STRIDE];
    const int t = threadIdx.x;
    const int r0 = blockIdx.x * SWEEP_ROWS;
    const int rows = min(SWEEP_ROWS, out - r0);

    // Load the block's weights, consecutive threads on consecutive columns.
    for (int i = t; i < rows * n; i += SWEEP_ROWS) {
        int row = i / n, k = i % n;
        tile[k * SWEEP_TILE_STRIDE + row] = w[(size_t)(r0 + row) * in + i1 + k];
    }
    __syncthreads();

    if (t < rows) {
        const int r = r0 + t;
        const float* wr = w + (size_t)r * in;
        const float fmaxq = (float)maxq;
        double row_loss = 0.0;
        for (int c = 0; c < n; c++) {
            const int j = i1 + c;
            const size_t at = (size_t)r * groups + col_group[j];
            if (dynamic && j % group_size == 0) {
                float lo = wr[j], hi = wr[j];
                for (int k = 1; k < group_size; k++) {
                    float v = wr[j + k];
                    lo = fminf(lo, v);
                    hi = fmaxf(hi, v);
                }
                const size_t fit = (size_t)r * groups + j / group_size;
                sweep_fit(lo, hi, maxq, symmetric, min_zero, bf16_scales, &scale[fit], &zero[fit]);
            }
            const float s = scale[at];
            const int z = zero[at];
            const float x = tile[c * SWEEP_TILE_STRIDE + t];
            const float level = fminf(fmaxf(rintf(__fdiv_rn(x, s)) + (float)z, 0.0f), fmaxq);
            const unsigned char code = (unsigned char)level;
            const float dequantized = __fmul_rn((float)((int)code - z), s);
            const float err = __fdiv_rn(__fsub_rn(x, dequantized), u[(size_t)j * in + j]);
            codes[c * SWEEP_TILE_STRIDE + t] = code;
            tile[c * SWEEP_TILE_STRIDE + t] = err;
            row_loss = __dadd_rn(row_loss, __dmul_rn((double)err, (double)err));
            const float* urow = u + (size_t)j * in + i1;
#pragma unroll 4
            for (int k = c + 1; k < n; k++) {
                float* xk = &tile[k * SWEEP_TILE_STRIDE + t];
                *xk = __fsub_rn(*xk, __fmul_rn(err, urow[k]));
            }
        }
        loss[r] += row_loss;
    }
    __syncthreads();

    // Store the errors and codes, consecutive threads on consecutive columns.
    for (int i = t; i < rows * n; i += SWEEP_ROWS) {
        int row = i / n, k = i % n;
        e[(size_t)(r0 + row) * n + k] = tile[k * SWEEP_TILE_STRIDE + row];
        q[(size_t)(r0 + row) * in + i1 + k] = codes[k * SWEEP_TILE_STRIDE + row];
    }
}
