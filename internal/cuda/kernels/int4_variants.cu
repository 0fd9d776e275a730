// Alternative 4-bit GEMV kernels for one row of x (decode), over the layout
// of int4.cu, measured side by side with int4_gemv_1 and the float16
// kernels of int4_half.cu (BenchmarkQuantGEMVVariants in compute). Each
// takes int4_gemv_1's arguments; Int4GEMVVariant in int4_variants.go knows
// their launches.

// stage_x_float copies x [in] into xs as it is.
__device__ void stage_x_float(uint4* xs, const float* x, int in) {
    const uint4* xv = reinterpret_cast<const uint4*>(x);
    for (int i = threadIdx.x; i < in / 4; i += blockDim.x) {
        xs[i] = __ldg(xv + i);
    }
}

// --- Rows per block, a chunk of 32 columns per thread (int4_gemv's split),
// x staged in shared memory once per block, while the codes of each
// thread's first chunk are on their way.

// Int4DotFloat is int4_gemv's float32 arithmetic (int4_dot32) on x staged
// as float32.
struct Int4DotFloat {
    static __device__ void stage(uint4* xs, const float* x, int in) { stage_x_float(xs, x, in); }
    static __device__ float dot32(uint4 q, const uint4* xs, int chunk, float zero) {
        const float4* xv = reinterpret_cast<const float4*>(xs) + 8 * chunk;
        float4 v[8];
#pragma unroll
        for (int k = 0; k < 8; k++) {
            v[k] = xv[k];
        }
        return int4_dot32(q, v, zero);
    }
};

// Int4DotHalf multiplies in float16 pairs (int4_half_dot32), x staged as
// it is.
struct Int4DotHalf {
    static __device__ void stage(uint4* xs, const float* x, int in) { stage_x_half(xs, x, in, 1.0f); }
    static __device__ float dot32(uint4 q, const uint4* xs, int chunk, float zero) {
        return int4_half_dot32(q, xs, chunk, zero);
    }
};

// int4_gemv_staged sets y[r] = Σ_j W[r][j]·x[j]. Block k computes rows
// kR … kR+R-1 with INT4_WARPS warps; thread i takes chunks i, i + blockDim,
// … of every row.
template <int R, class Dot>
__device__ void int4_gemv_staged(float* y, const float* x, const uint4* codes, const float2* params, int out,
                                 int in, int groups, int chunks_per_group) {
    extern __shared__ uint4 xs[];
    __shared__ float partial[INT4_WARPS][R];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int r0 = blockIdx.x * R;
    const int chunks = in / 32;
    long long row[R];
#pragma unroll
    for (int i = 0; i < R; i++) {
        row[i] = min(r0 + i, out - 1); // rows past the end read the last one, unused
    }
    uint4 q[R];
    float2 p[R];
    auto load = [&](int c) {
#pragma unroll
        for (int i = 0; i < R; i++) {
            q[i] = __ldg(codes + row[i] * chunks + c);
            p[i] = __ldg(params + row[i] * groups + c / chunks_per_group);
        }
    };
    int c = threadIdx.x;
    if (c < chunks) {
        load(c);
    }
    Dot::stage(xs, x, in);
    __syncthreads();
    float acc[R];
#pragma unroll
    for (int i = 0; i < R; i++) {
        acc[i] = 0.0f;
    }
    while (c < chunks) {
#pragma unroll
        for (int i = 0; i < R; i++) {
            acc[i] = fmaf(p[i].x, Dot::dot32(q[i], xs, c, p[i].y), acc[i]);
        }
        c += blockDim.x;
        if (c < chunks) {
            load(c);
        }
    }
#pragma unroll
    for (int i = 0; i < R; i++) {
        float v = acc[i];
#pragma unroll
        for (int d = 16; d > 0; d /= 2) {
            v += __shfl_xor_sync(0xFFFFFFFFu, v, d);
        }
        if (lane == 0) {
            partial[warp][i] = v;
        }
    }
    __syncthreads();
    if (threadIdx.x < R && r0 + threadIdx.x < out) {
        float v = 0.0f;
#pragma unroll
        for (int w = 0; w < INT4_WARPS; w++) {
            v += partial[w][threadIdx.x];
        }
        y[r0 + threadIdx.x] = v;
    }
}

// Launched with INT4_WARPS·32 threads, ceil(out/R) blocks and the staged x
// as dynamic shared memory (4·in bytes for float, 2·in for half).
extern "C" __global__ void __launch_bounds__(INT4_WARPS * 32, 4) int4_gemv_v_float8(INT4_GEMV_ARGS) {
    int4_gemv_staged<8, Int4DotFloat>(INT4_GEMV_CALL);
}
extern "C" __global__ void __launch_bounds__(INT4_WARPS * 32, 4) int4_gemv_v_half8(INT4_GEMV_ARGS) {
    int4_gemv_staged<8, Int4DotHalf>(INT4_GEMV_CALL);
}

// --- Tensor cores: mma.sync m16n8k16, float16 (code - zero) times float16
// x, float32 sums. A tile is 16 rows × 128 columns (4 chunks); lane l of a
// warp, in quad g = l/4 at t = l%4, holds chunk t of the tile's rows g and
// g+8. A product's 16 k-values are the columns of one word of each of the
// quad's four chunks: for lane t, k = 2t, 2t+1 are the word's codes 0 and 4
// (1 and 5 for k = 2t+8, 2t+9; codes 2,6 and 3,7 in a second product),
// the order of int4_half_codes and of stage_x_half, and every column of B
// is x, so that C's column 0 (and all others) is the rows' sums. A tile's
// 128 columns lie in one group (chunks_per_group a multiple of 4, or one
// group), whose scale multiplies the tile's sums in float32.

#define MMA_WARPS 4 // warps of a block, splitting the tiles of its rows

__device__ __forceinline__ void mma_16816(float c[4], const unsigned a[4], unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// int4_gemv_mma sets y[r] = Σ_j W[r][j]·x[j]. Block k computes rows
// 16T·k … 16T·k+16T-1 (T tiles of 16 rows); warp w takes the 128-column
// steps w, w + MMA_WARPS, … in batches of S, requesting the codes of a
// batch before the previous batch is used.
template <int T, int S>
__device__ void int4_gemv_mma(float* y, const float* x, const uint4* codes, const float2* params, int out, int in,
                              int groups, int chunks_per_group) {
    extern __shared__ uint4 xs[];
    __shared__ float partial[MMA_WARPS][16 * T];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int r0 = blockIdx.x * 16 * T;
    const int chunks = in / 32, steps = (chunks + 3) / 4;
    // row[i][h]: row g + 8h of tile i, clamped (rows past the end read the last one, unused).
    long long row[T][2];
#pragma unroll
    for (int i = 0; i < T; i++) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
            row[i][h] = min(r0 + 16 * i + 8 * h + g, out - 1);
        }
    }
    // load fetches the codes and params of steps s, s + MMA_WARPS, … (S of
    // them) into q and p; chunks past the end get codes and zero points 0,
    // so that their (code - zero) are 0 (and finite: their x is read as 0).
    auto load = [&](int s, uint4 (&q)[S][T][2], float2 (&p)[S][T][2]) {
#pragma unroll
        for (int b = 0; b < S; b++) {
            const int step = s + b * MMA_WARPS, c = 4 * step + t;
#pragma unroll
            for (int i = 0; i < T; i++) {
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    if (c < chunks) {
                        q[b][i][h] = __ldg(codes + row[i][h] * chunks + c);
                        p[b][i][h] = __ldg(params + row[i][h] * groups + 4 * step / chunks_per_group);
                    } else {
                        q[b][i][h] = make_uint4(0u, 0u, 0u, 0u);
                        p[b][i][h] = make_float2(0.0f, 0.0f);
                    }
                }
            }
        }
    };
    uint4 q[S][T][2];
    float2 p[S][T][2];
    int s = warp;
    load(s, q, p);
    stage_x_half(xs, x, in, 1.0f);
    __syncthreads();
    float acc[T][2];
#pragma unroll
    for (int i = 0; i < T; i++) {
        acc[i][0] = acc[i][1] = 0.0f;
    }
    for (; s < steps; s += S * MMA_WARPS) {
        uint4 qn[S][T][2];
        float2 pn[S][T][2];
        if (s + S * MMA_WARPS < steps) {
            load(s + S * MMA_WARPS, qn, pn);
        }
#pragma unroll
        for (int b = 0; b < S; b++) {
            const int c = 4 * (s + b * MMA_WARPS) + t;
            // Lanes past the last chunk multiply their (stale) codes by zeros;
            // whole steps past the end are skipped by every lane alike.
            if (4 * (s + b * MMA_WARPS) < chunks) {
                float sums[T][4];
#pragma unroll
                for (int i = 0; i < T; i++) {
                    sums[i][0] = sums[i][1] = sums[i][2] = sums[i][3] = 0.0f;
                }
                Int4ZeroHalf z[T][2];
#pragma unroll
                for (int i = 0; i < T; i++) {
                    z[i][0] = int4_zero_half(p[b][i][0].y);
                    z[i][1] = int4_zero_half(p[b][i][1].y);
                }
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    const uint4 xv = c < chunks ? xs[4 * c + k] : make_uint4(0u, 0u, 0u, 0u);
#pragma unroll
                    for (int i = 0; i < T; i++) {
                        const uint4 lo = q[b][i][0], hi = q[b][i][1]; // rows g and g + 8
                        const unsigned wl[4] = {lo.x, lo.y, lo.z, lo.w}, wh[4] = {hi.x, hi.y, hi.z, hi.w};
                        unsigned dl[4], dh[4];
                        int4_half_codes(wl[k], z[i][0], dl);
                        int4_half_codes(wh[k], z[i][1], dh);
                        const unsigned a1[4] = {dl[0], dh[0], dl[1], dh[1]};
                        const unsigned a2[4] = {dl[2], dh[2], dl[3], dh[3]};
                        mma_16816(sums[i], a1, xv.x, xv.y);
                        mma_16816(sums[i], a2, xv.z, xv.w);
                    }
                }
#pragma unroll
                for (int i = 0; i < T; i++) {
                    acc[i][0] = fmaf(p[b][i][0].x, sums[i][0], acc[i][0]); // C[g][2t]
                    acc[i][1] = fmaf(p[b][i][1].x, sums[i][2], acc[i][1]); // C[g+8][2t]
                }
            }
        }
#pragma unroll
        for (int b = 0; b < S; b++) {
#pragma unroll
            for (int i = 0; i < T; i++) {
                q[b][i][0] = qn[b][i][0];
                q[b][i][1] = qn[b][i][1];
                p[b][i][0] = pn[b][i][0];
                p[b][i][1] = pn[b][i][1];
            }
        }
    }
    // Every lane of a quad holds its rows' full sums over the warp's steps.
    if (t == 0) {
#pragma unroll
        for (int i = 0; i < T; i++) {
            partial[warp][16 * i + g] = acc[i][0];
            partial[warp][16 * i + g + 8] = acc[i][1];
        }
    }
    __syncthreads();
    for (int r = threadIdx.x; r < 16 * T; r += blockDim.x) {
        if (r0 + r < out) {
            float v = 0.0f;
#pragma unroll
            for (int w = 0; w < MMA_WARPS; w++) {
                v += partial[w][r];
            }
            y[r0 + r] = v;
        }
    }
}

// Launched with MMA_WARPS·32 threads, ceil(out/16T) blocks and x staged as
// float16 (2·in bytes) in dynamic shared memory.
extern "C" __global__ void __launch_bounds__(MMA_WARPS * 32, 6) int4_gemv_v_mma1x2(INT4_GEMV_ARGS) {
    int4_gemv_mma<1, 2>(INT4_GEMV_CALL);
}
extern "C" __global__ void __launch_bounds__(MMA_WARPS * 32, 4) int4_gemv_v_mma1x4(INT4_GEMV_ARGS) {
    int4_gemv_mma<1, 4>(INT4_GEMV_CALL);
}
extern "C" __global__ void __launch_bounds__(MMA_WARPS * 32, 4) int4_gemv_v_mma2x2(INT4_GEMV_ARGS) {
    int4_gemv_mma<2, 2>(INT4_GEMV_CALL);
}
