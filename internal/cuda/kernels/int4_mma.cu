// The batch-1 4-bit GEMV of decoding on the tensor cores, over a layout of
// the codes packed for them (Int4MMA in int4_mma.go):
//   codes  uint4 [out/16 × in/64 × 32]: for each tile of 16 rows and each
//          chunk of 64 columns, lane ℓ's four words, one per 16-column
//          tile t of the chunk, each word being ℓ's A fragment of
//          mma.m16n8k16 (rows g = ℓ/4 and g + 8, j = ℓ%4) in the nibble
//          order int4_half_codes unpacks: nibbles (0,4) row g, (1,5) row
//          g + 8 at chunk columns 16j + 4t + {0,1}; (2,6) row g, (3,7) row
//          g + 8 at 16j + 4t + {2,3};
//   params float4 [out/16 × groups × 8]: for each tile, group and g,
//          (s, 1024 + z) of row g and (s/16, 1024 + 16·z) of row g + 8, s
//          the group's scale and z its zero point.
// So a lane takes its B fragment of tile t (x at 16j + 4t + {0,1} and
// {2,3}) from 16 consecutive columns of x, and its A fragment from its
// word without a shuffle: or-ing a nibble into the float16 1024 gives
// 1024 + code (row g) or 1024 + 16·code (row g + 8), both exact. The
// tensor cores sum those times x in float32; the offset goes with the
// sum of the chunk's x (as float16), which the params fold in with the
// scale and zero: for row g, s·(C - (1024 + z)·Σx) = s·Σ(code - z)·x.
// Column n of the mma's B is row n of x (lanes 4n..4n+3 carry it), so
// that up to 8 rows of x share each product; the columns past the rows
// of x, whatever those lanes hold, land in accumulators unused.

// mma_int4_tile adds the product of one 16×16 tile of codes (word w, as
// above) and x's B fragment (b0, b1) into d: d[0] row g, d[2] row g + 8.
__device__ __forceinline__ void mma_int4_tile(float d[4], unsigned w, unsigned b0, unsigned b1) {
    const unsigned h = w >> 8;
    const unsigned a0 = (w & 0x000F000Fu) | 0x64006400u, a1 = (w & 0x00F000F0u) | 0x64006400u;
    const unsigned a2 = (h & 0x000F000Fu) | 0x64006400u, a3 = (h & 0x00F000F0u) | 0x64006400u;
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// stage_x_mma writes the B rows of x [B × in] as float16 into xs (row b
// from xs[b·in/8] on, 8 columns a uint4, in order) and the float32 sum of
// each 64-column chunk of those float16 values into sums (row b from
// sums[b·in/64]). The block's threads each take 8 columns, requesting U
// words before converting them; the 8 threads of a chunk are lanes of one
// warp (blockDim.x a multiple of 32, in of 64), whose sums meet by shuffle.
template <int B, int U>
__device__ void stage_x_mma(uint4* xs, float* sums, const float* x, int in) {
    const float4* xv = reinterpret_cast<const float4*>(x);
    const int words = B * in / 8; // row b's words follow row b - 1's, in x as in xs
    for (int base = 0; base < words; base += U * blockDim.x) {
        float4 a[U], b[U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int w = base + u * blockDim.x + threadIdx.x;
            if (w < words) {
                a[u] = xv[2 * w];
                b[u] = xv[2 * w + 1];
            }
        }
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int w = base + u * blockDim.x + threadIdx.x;
            uint4 h = make_uint4(0, 0, 0, 0);
            if (w < words) {
                h = make_uint4(half2_of(a[u].x, a[u].y), half2_of(a[u].z, a[u].w), half2_of(b[u].x, b[u].y),
                               half2_of(b[u].z, b[u].w));
                xs[w] = h;
            }
            float s = half2_sum(h.x) + half2_sum(h.y) + half2_sum(h.z) + half2_sum(h.w);
            s += __shfl_xor_sync(0xFFFFFFFFu, s, 1);
            s += __shfl_xor_sync(0xFFFFFFFFu, s, 2);
            s += __shfl_xor_sync(0xFFFFFFFFu, s, 4);
            if (w < words && w % 8 == 0) {
                sums[w / 8] = s;
            }
        }
    }
}

// int4_gemv_mma sets y[b][r] = Σ_j W[r][j]·x[b][j] for the B ≤ 8 rows of x
// [B × in] (columns in the order of the codes, 16-byte aligned; out a
// multiple of 16, in of 64). Block k computes the 16 rows from 16k; its W
// warps take the chunks warp, warp + W, …, each keeping D chunks' codes and
// params in flight: a chunk's loads are requested as the chunk D before it
// is summed. Launched with PDL, a block requests its first chunks
// (weights, which no kernel writes) before it waits for the kernels
// before it.
template <int W, int D, int B>
__device__ void int4_gemv_mma(float* y, const float* x, const uint4* codes, const float4* params, int out, int in,
                              int groups, int chunks_per_group) {
    extern __shared__ uint4 xs[]; // B·in/8 words of float16 x, then B·in/64 float sums
    __shared__ float partial[W][B][16];
    const int chunks = in / 64;
    float* sums = reinterpret_cast<float*>(xs + B * in / 8);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, j = lane % 4;
    // The row of x this lane's B fragment carries (column g of B), and the
    // two whose results it holds (columns 2j and 2j + 1 of C); rows past
    // B read row 0 or B - 1, their results unused.
    const uint4* xg = xs + (g < B ? g : 0) * (in / 8);
    const float* s0 = sums + min(2 * j, B - 1) * chunks;
    const float* s1 = sums + min(2 * j + 1, B - 1) * chunks;
    const uint4* tc = codes + (long long)blockIdx.x * chunks * 32 + lane;
    const float4* tp = params + (long long)blockIdx.x * groups * 8 + g;
    uint4 q[D];
    float4 p[D];
    // load requests chunk c's codes and params into slot i.
    auto load = [&](int i, int c) {
        q[i] = __ldg(tc + (long long)c * 32);
        p[i] = __ldg(tp + (c / chunks_per_group) * 8);
    };
#pragma unroll
    for (int i = 0; i < D; i++) {
        const int c = warp + i * W;
        if (c < chunks) {
            load(i, c);
        }
    }
    grid_dependents_launch();
    grid_dependency_wait();
    stage_x_mma<B, 4>(xs, sums, x, in);
    __syncthreads();
    // acc[h][k]: row g + 8h of the tile, row 2j + k of x.
    float acc[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
    // step sums chunk c, held in slot i, into acc, and requests the chunk
    // D·W on in its place.
    auto step = [&](int i, int c) {
        const uint4 xa = xg[8 * c + 2 * j], xb = xg[8 * c + 2 * j + 1];
        float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        mma_int4_tile(d, q[i].x, xa.x, xa.y);
        mma_int4_tile(d, q[i].y, xa.z, xa.w);
        mma_int4_tile(d, q[i].z, xb.x, xb.y);
        mma_int4_tile(d, q[i].w, xb.z, xb.w);
        const float sx0 = s0[c];
        acc[0][0] = fmaf(p[i].x, fmaf(-p[i].y, sx0, d[0]), acc[0][0]);
        acc[1][0] = fmaf(p[i].z, fmaf(-p[i].w, sx0, d[2]), acc[1][0]);
        if (B > 1) {
            const float sx1 = s1[c];
            acc[0][1] = fmaf(p[i].x, fmaf(-p[i].y, sx1, d[1]), acc[0][1]);
            acc[1][1] = fmaf(p[i].z, fmaf(-p[i].w, sx1, d[3]), acc[1][1]);
        }
        if (c + D * W < chunks) {
            load(i, c + D * W);
        }
    };
    // Full rounds of D chunks run without a branch between their sums, so
    // that the D chains of tensor-core products overlap.
    int base = warp;
    for (; base + (D - 1) * W < chunks; base += D * W) {
#pragma unroll
        for (int i = 0; i < D; i++) {
            step(i, base + i * W);
        }
    }
#pragma unroll
    for (int i = 0; i < D; i++) {
        if (base + i * W < chunks) {
            step(i, base + i * W);
        }
    }
#pragma unroll
    for (int k = 0; k < 2; k++) {
        if (2 * j + k < B) {
            partial[warp][2 * j + k][g] = acc[0][k];
            partial[warp][2 * j + k][g + 8] = acc[1][k];
        }
    }
    __syncthreads();
    if (threadIdx.x < 16 * B) {
        const int b = threadIdx.x / 16, r = threadIdx.x % 16;
        float v = 0.0f;
#pragma unroll
        for (int w = 0; w < W; w++) {
            v += partial[w][b][r];
        }
        y[(long long)b * out + blockIdx.x * 16 + r] = v;
    }
}

#define INT4_MMA_ARGS                                                                                              \
    float *y, const float *x, const uint4 *__restrict__ codes, const float4 *__restrict__ params, int out, int in, \
        int groups, int chunks_per_group
#define INT4_MMA_CALL y, x, codes, params, out, in, groups, chunks_per_group

// The entry points int4_mma_w<W>d<D>_<B>: W warps a block, D chunks in
// flight a warp, B rows of x. For one row, after BenchmarkQuantGEMVVariants
// on an H100: 8 warps with 8 chunks each for weights of at least as many
// columns as rows, with 4 for the others (more blocks, fewer registers);
// more rows take 8 warps with 4 chunks.
extern "C" __global__ void __launch_bounds__(256) int4_mma_w8d8_1(INT4_MMA_ARGS) {
    int4_gemv_mma<8, 8, 1>(INT4_MMA_CALL);
}
extern "C" __global__ void __launch_bounds__(256) int4_mma_w8d4_1(INT4_MMA_ARGS) {
    int4_gemv_mma<8, 4, 1>(INT4_MMA_CALL);
}
extern "C" __global__ void __launch_bounds__(256) int4_mma_w8d4_2(INT4_MMA_ARGS) {
    int4_gemv_mma<8, 4, 2>(INT4_MMA_CALL);
}
extern "C" __global__ void __launch_bounds__(256) int4_mma_w8d4_3(INT4_MMA_ARGS) {
    int4_gemv_mma<8, 4, 3>(INT4_MMA_CALL);
}
extern "C" __global__ void __launch_bounds__(256) int4_mma_w8d4_4(INT4_MMA_ARGS) {
    int4_gemv_mma<8, 4, 4>(INT4_MMA_CALL);
}
extern "C" __global__ void __launch_bounds__(256) int4_mma_w8d4_5(INT4_MMA_ARGS) {
    int4_gemv_mma<8, 4, 5>(INT4_MMA_CALL);
}
extern "C" __global__ void __launch_bounds__(256) int4_mma_w8d4_6(INT4_MMA_ARGS) {
    int4_gemv_mma<8, 4, 6>(INT4_MMA_CALL);
}
extern "C" __global__ void __launch_bounds__(256) int4_mma_w8d4_7(INT4_MMA_ARGS) {
    int4_gemv_mma<8, 4, 7>(INT4_MMA_CALL);
}
extern "C" __global__ void __launch_bounds__(256) int4_mma_w8d4_8(INT4_MMA_ARGS) {
    int4_gemv_mma<8, 4, 8>(INT4_MMA_CALL);
}

// store_weight and store_weight4 store one and four values of a
// dequantized weight as float32 or as float16 bits.
__device__ __forceinline__ void store_weight(float* w, float v) { *w = v; }
__device__ __forceinline__ void store_weight(unsigned short* w, float v) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    *w = h;
}
__device__ __forceinline__ void store_weight4(float* w, const float v[4]) {
    *reinterpret_cast<float4*>(w) = make_float4(v[0], v[1], v[2], v[3]);
}
__device__ __forceinline__ void store_weight4(unsigned short* w, const float v[4]) {
    *reinterpret_cast<uint2*>(w) = make_uint2(half2_of(v[0], v[1]), half2_of(v[2], v[3]));
}

// dequantize_mma writes the weight w [out×in] in the layer's column order
// from the tensor-core layout, as float32 (T float) or float16 bits (T
// unsigned short): w[r][perm[j]] = (code - zero)·scale of column j of the
// codes. A word holds 4 consecutive columns of rows g and g + 8 of a tile
// (16j + 4t .. +3 of its chunk, lane 4g + j, word t), and a row's quads of
// columns are its words in order: each thread takes one word, so that a
// warp's loads are consecutive and its stores too within each of the two
// rows.
template <typename T>
__device__ void dequantize_mma(T* w, const unsigned* codes, const float4* params, const int* perm, int out, int in,
                               int groups, int chunks_per_group) {
    const int quads = in / 4, chunks = in / 64;
    const long long total = (long long)(out / 2) * quads;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        const int pair = (int)(i / quads), q = (int)(i - (long long)pair * quads);
        const int tile = pair / 8, g = pair % 8, r = 16 * tile + g, c = q / 16;
        const unsigned word = codes[((long long)tile * chunks + c) * 128 + 16 * g + q % 16];
        const float4 p = params[((long long)tile * groups + c / chunks_per_group) * 8 + g];
        float v0[4], v1[4]; // rows g and g + 8
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int n = 4 * (e & 1) + 2 * (e >> 1); // row g's nibble of column e; row g + 8's is n + 1
            v0[e] = (1024.0f + __uint2float_rn((word >> (4 * n)) & 0xFu) - p.y) * p.x;
            v1[e] = (1024.0f + 16.0f * __uint2float_rn((word >> (4 * n + 4)) & 0xFu) - p.w) * p.z;
        }
        T* w0 = w + (long long)r * in;
        T* w1 = w0 + 8LL * in;
        const int j0 = 4 * q;
        if (perm) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                store_weight(w0 + perm[j0 + e], v0[e]);
                store_weight(w1 + perm[j0 + e], v1[e]);
            }
        } else {
            store_weight4(w0 + j0, v0);
            store_weight4(w1 + j0, v1);
        }
    }
}

#define DEQUANTIZE_MMA_ARGS                                                                                         \
    const unsigned *codes, const float4 *params, const int *perm, int out, int in, int groups, int chunks_per_group
#define DEQUANTIZE_MMA_CALL codes, params, perm, out, in, groups, chunks_per_group

// int4_dequantize_mma writes the weight as float32, int4_dequantize_mma_half
// as float16 (for the products of float16 operands of prefill).
extern "C" __global__ void int4_dequantize_mma(float* w, DEQUANTIZE_MMA_ARGS) {
    dequantize_mma(w, DEQUANTIZE_MMA_CALL);
}
extern "C" __global__ void int4_dequantize_mma_half(unsigned short* w, DEQUANTIZE_MMA_ARGS) {
    dequantize_mma(w, DEQUANTIZE_MMA_CALL);
}

// floats_to_half writes the n float32 values of x times scale as float16
// bits to h, two a thread (n even, both 8-byte aligned).
extern "C" __global__ void floats_to_half(unsigned* h, const float2* x, long long pairs, float scale) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < pairs;
         i += (long long)gridDim.x * blockDim.x) {
        const float2 v = x[i];
        h[i] = half2_of(scale * v.x, scale * v.y);
    }
}
