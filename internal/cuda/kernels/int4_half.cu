// The batch-1 4-bit GEMV of decoding, in float16 pairs over the layout of
// int4.cu, and the float16 helpers it shares with int4_variants.cu.

// Half-precision helpers (inline PTX: NVRTC has no cuda_fp16.h everywhere).

// half2_of packs lo and hi, rounded to float16, into one word (lo in the
// low 16 bits, as a half2 holds its first element).
__device__ __forceinline__ unsigned half2_of(float lo, float hi) {
    unsigned h;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(h) : "f"(hi), "f"(lo));
    return h;
}

__device__ __forceinline__ unsigned hsub2(unsigned a, unsigned b) {
    unsigned d;
    asm("sub.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    return d;
}

__device__ __forceinline__ unsigned hfma2(unsigned a, unsigned b, unsigned c) {
    unsigned d;
    asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}

// half2_sum returns the sum of the two halves of h, in float32.
__device__ __forceinline__ float half2_sum(unsigned h) {
    float lo, hi;
    asm("{\n\t.reg .f16 l, h;\n\tmov.b32 {l, h}, %2;\n\tcvt.f32.f16 %0, l;\n\tcvt.f32.f16 %1, h;\n\t}"
        : "=f"(lo), "=f"(hi)
        : "r"(h));
    return lo + hi;
}

// The codes of a word as four half2 of (code - zero), exact: or-ing a code
// into the float16 1024 (0x6400, whose last mantissa bit is worth 1) gives
// 1024 + code, and 1024 + 16·code for the code one nibble up. A word's
// codes 0..7 come out paired (0,4), (1,5), (2,6), (3,7), the order in which
// x is staged (x_half_word).
struct Int4ZeroHalf {
    unsigned biased;  // half2 of 1024 + zero
    unsigned shifted; // half2 of -(64 + zero)
};

__device__ __forceinline__ Int4ZeroHalf int4_zero_half(float zero) {
    const unsigned b = half2_of(1024.0f + zero, 1024.0f + zero);
    const float s = -(64.0f + zero);
    return {b, half2_of(s, s)};
}

// int4_half_codes sets d[0..3] to the half2 (code - zero) of the pairs
// (0,4), (1,5), (2,6), (3,7) of word w.
__device__ __forceinline__ void int4_half_codes(unsigned w, Int4ZeroHalf z, unsigned d[4]) {
    const unsigned sixteenth = 0x2C002C00u; // half2 of 1/16
    const unsigned h = w >> 8;
    d[0] = hsub2((w & 0x000F000Fu) | 0x64006400u, z.biased);
    d[1] = hfma2((w & 0x00F000F0u) | 0x64006400u, sixteenth, z.shifted);
    d[2] = hsub2((h & 0x000F000Fu) | 0x64006400u, z.biased);
    d[3] = hfma2((h & 0x00F000F0u) | 0x64006400u, sixteenth, z.shifted);
}

// stage_x_half writes x [in]·scale into xs as float16, one uint4 per word
// of 8 columns 8w..8w+7, paired as int4_half_codes pairs the codes:
// {(x0,x4), (x1,x5), (x2,x6), (x3,x7)}. All the block's threads take part.
// x is read as it is in memory (not through the read-only cache), since a
// kernel launched with PDL reads it after an earlier kernel wrote it.
__device__ void stage_x_half(uint4* xs, const float* x, int in, float scale) {
    const float4* xv = reinterpret_cast<const float4*>(x);
    for (int w = threadIdx.x; w < in / 8; w += blockDim.x) {
        const float4 a = xv[2 * w], b = xv[2 * w + 1];
        xs[w] = make_uint4(half2_of(a.x * scale, b.x * scale), half2_of(a.y * scale, b.y * scale),
                           half2_of(a.z * scale, b.z * scale), half2_of(a.w * scale, b.w * scale));
    }
}

// int4_half_dot32 returns the sum over the 32 columns of chunk of
// (code - zero)·x, the codes in the four words of q, x staged by
// stage_x_half: per word, four fused multiply-adds of half2 (code - zero)
// by half2 x, their sum promoted to float32 (so at most 4 products add up
// in float16 per half).
__device__ __forceinline__ float int4_half_dot32(uint4 q, const uint4* xs, int chunk, float zero) {
    const Int4ZeroHalf z = int4_zero_half(zero);
    const unsigned words[4] = {q.x, q.y, q.z, q.w};
    float s = 0.0f;
#pragma unroll
    for (int k = 0; k < 4; k++) {
        const uint4 xv = xs[4 * chunk + k];
        unsigned d[4];
        int4_half_codes(words[k], z, d);
        unsigned p = hfma2(d[0], xv.x, 0u);
        p = hfma2(d[1], xv.y, p);
        p = hfma2(d[2], xv.z, p);
        p = hfma2(d[3], xv.w, p);
        s += half2_sum(p);
    }
    return s;
}


// x is staged scaled by INT4_HALF_X_SCALE and the sums divided by it:
// powers of two, exact, that move the float16 range down so that a sum of
// 4 products (code - zero)·x (|code - zero| ≤ 15) overflows only past
// |x| ≈ 17000 instead of ≈ 1090. Values below 2^-10 become subnormal,
// their absolute rounding 2^-20, negligible in a row's sum.
#define INT4_HALF_X_SCALE 0.0625f

// stage_x_norm stages RMSNorm(x)·weight as stage_x_half stages x: x /
// sqrt(mean(x²) + eps) · weight, the mean of squares summed in double and
// the product rounded as rms_norm (layer.cu) rounds it. Every block of a
// product computes the norm of the row itself, so that the norm costs no
// launch of its own. blockDim.x is a multiple of 32, at most 1024.
__device__ void stage_x_norm(uint4* xs, const float* x, const float* weight, int in, double eps, float scale) {
    __shared__ double partial[32];
    __shared__ float inv_shared;
    const float4* xv = reinterpret_cast<const float4*>(x);
    const float4* wv = reinterpret_cast<const float4*>(weight);
    double ss = 0.0;
    for (int i = threadIdx.x; i < in / 4; i += blockDim.x) {
        const float4 v = xv[i];
        ss += (double)v.x * v.x + (double)v.y * v.y + (double)v.z * v.z + (double)v.w * v.w;
    }
    for (int d = 16; d > 0; d /= 2) {
        ss += __shfl_xor_sync(0xFFFFFFFFu, ss, d);
    }
    if (threadIdx.x % 32 == 0) {
        partial[threadIdx.x / 32] = ss;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        double total = 0.0;
        for (int w = 0; w < (int)(blockDim.x / 32); w++) {
            total += partial[w];
        }
        inv_shared = (float)(1.0 / sqrt(total / in + eps));
    }
    __syncthreads();
    const float inv = inv_shared;
    for (int w = threadIdx.x; w < in / 8; w += blockDim.x) {
        const float4 a = xv[2 * w], b = xv[2 * w + 1], ga = __ldg(wv + 2 * w), gb = __ldg(wv + 2 * w + 1);
        xs[w] = make_uint4(half2_of(ga.x * (a.x * inv) * scale, gb.x * (b.x * inv) * scale),
                           half2_of(ga.y * (a.y * inv) * scale, gb.y * (b.y * inv) * scale),
                           half2_of(ga.z * (a.z * inv) * scale, gb.z * (b.z * inv) * scale),
                           half2_of(ga.w * (a.w * inv) * scale, gb.w * (b.w * inv) * scale));
    }
}

// silu_times returns silu(g)·u as swiglu (layer.cu) computes it.
__device__ __forceinline__ float silu_times(float g, float u) { return g / (1.0f + expf(-g)) * u; }

// stage_x_swiglu stages silu(gate)·up as stage_x_half stages x, gate_up
// [2·in] holding gate then up: the SwiGLU of the down projection's input,
// computed by every block of the product instead of a launch of its own.
__device__ void stage_x_swiglu(uint4* xs, const float* gate_up, int in, float scale) {
    const float4* gv = reinterpret_cast<const float4*>(gate_up);
    const float4* uv = reinterpret_cast<const float4*>(gate_up + in);
    for (int w = threadIdx.x; w < in / 8; w += blockDim.x) {
        const float4 ga = gv[2 * w], gb = gv[2 * w + 1], ua = uv[2 * w], ub = uv[2 * w + 1];
        xs[w] = make_uint4(half2_of(silu_times(ga.x, ua.x) * scale, silu_times(gb.x, ub.x) * scale),
                           half2_of(silu_times(ga.y, ua.y) * scale, silu_times(gb.y, ub.y) * scale),
                           half2_of(silu_times(ga.z, ua.z) * scale, silu_times(gb.z, ub.z) * scale),
                           half2_of(silu_times(ga.w, ua.w) * scale, silu_times(gb.w, ub.w) * scale));
    }
}

// What int4_gemv_half multiplies: x as it is, RMSNorm(x)·norm, or the
// SwiGLU of x = gate_up.
enum Int4Input { INT4_X, INT4_NORM_X, INT4_SWIGLU_X };

// int4_gemv_half sets y[r] = Σ_j W[r][j]·x[j] for one row x [in] (columns
// in the order of the codes, 16-byte aligned), in float16 pairs summed in
// float32, x being the input In makes of the argument (see Int4Input;
// norm and eps serve INT4_NORM_X); with ADD it adds the sums into y
// instead (the residual add after a projection). A block is G row groups
// of W warps; group h computes the R rows (blockIdx.x·G + h)·R …, thread t
// of a group taking the 32-column chunks t, t + 32W, … of each of them
// (with PIPE, requesting the codes of its next chunk before it sums one:
// twice the registers). x is staged once per block, as float16, in
// dynamic shared memory (2·in bytes).
//
// Launched with PDL, a block requests the codes and parameters of its
// first chunks (weights, which no kernel writes), lets the next kernel
// launch, and only then waits for the kernels before it to end, so that
// its loads overlap their tail.
template <int R, int W, int G, bool PIPE, Int4Input In, bool ADD>
__device__ void int4_gemv_half(float* y, const float* x, const uint4* codes, const float2* params, int out, int in,
                               int groups, int chunks_per_group, const float* norm, double eps) {
    extern __shared__ uint4 xs[];
    __shared__ float partial[G][W][R];
    constexpr int threads = 32 * W; // of a row group
    const int group = threadIdx.x / threads, t = threadIdx.x % threads, warp = t / 32, lane = t % 32;
    const int r0 = (blockIdx.x * G + group) * R;
    const int chunks = in / 32;
    long long row[R];
#pragma unroll
    for (int i = 0; i < R; i++) {
        row[i] = min(r0 + i, out - 1); // rows past the end read the last one, unused
    }
    uint4 q[R];
    float2 p[R];
    auto load = [&](int c, uint4(&qd)[R], float2(&pd)[R]) {
#pragma unroll
        for (int i = 0; i < R; i++) {
            qd[i] = __ldg(codes + row[i] * chunks + c);
            pd[i] = __ldg(params + row[i] * groups + c / chunks_per_group);
        }
    };
    int c = t;
    if (c < chunks) {
        load(c, q, p);
    }
    grid_dependents_launch();
    grid_dependency_wait();
    if constexpr (In == INT4_NORM_X) {
        stage_x_norm(xs, x, norm, in, eps, INT4_HALF_X_SCALE);
    } else if constexpr (In == INT4_SWIGLU_X) {
        stage_x_swiglu(xs, x, in, INT4_HALF_X_SCALE);
    } else {
        stage_x_half(xs, x, in, INT4_HALF_X_SCALE);
    }
    __syncthreads();
    float acc[R];
#pragma unroll
    for (int i = 0; i < R; i++) {
        acc[i] = 0.0f;
    }
    while (c < chunks) {
        const int next = c + threads;
        uint4 qn[R];
        float2 pn[R];
        if (PIPE && next < chunks) {
            load(next, qn, pn); // on their way while chunk c is summed
        }
#pragma unroll
        for (int i = 0; i < R; i++) {
            acc[i] = fmaf(p[i].x, int4_half_dot32(q[i], xs, c, p[i].y), acc[i]);
        }
        if (next < chunks) {
            if (PIPE) {
#pragma unroll
                for (int i = 0; i < R; i++) {
                    q[i] = qn[i];
                    p[i] = pn[i];
                }
            } else {
                load(next, q, p);
            }
        }
        c = next;
    }
#pragma unroll
    for (int i = 0; i < R; i++) {
        float v = acc[i];
#pragma unroll
        for (int d = 16; d > 0; d /= 2) {
            v += __shfl_xor_sync(0xFFFFFFFFu, v, d);
        }
        if (lane == 0) {
            partial[group][warp][i] = v;
        }
    }
    __syncthreads();
    if (threadIdx.x < G * R) {
        const int h = threadIdx.x / R, i = threadIdx.x % R, r = (blockIdx.x * G + h) * R + i;
        if (r < out) {
            float v = 0.0f;
#pragma unroll
            for (int w = 0; w < W; w++) {
                v += partial[h][w][i];
            }
            v *= 1.0f / INT4_HALF_X_SCALE;
            if (ADD) {
                y[r] += v;
            } else {
                y[r] = v;
            }
        }
    }
}

// The layouts of int4_gemv_half, entry points int4_gemv_v_<name> (see
// int4Variants in int4_variants.go, which names the one decoding uses):
// h8 is 8 rows and 4 warps a block; h8w8 8 rows and 8 warps, more loads in
// flight per row for wide inputs; h16 two groups of 8 rows and 4 warps,
// x staged once for 16 rows; h8p is h8 with its loads a chunk ahead.
extern "C" __global__ void __launch_bounds__(128, 6) int4_gemv_v_h8(INT4_GEMV_ARGS) {
    int4_gemv_half<8, 4, 1, false, INT4_X, false>(INT4_GEMV_CALL, nullptr, 0.0);
}
extern "C" __global__ void __launch_bounds__(256, 3) int4_gemv_v_h8w8(INT4_GEMV_ARGS) {
    int4_gemv_half<8, 8, 1, false, INT4_X, false>(INT4_GEMV_CALL, nullptr, 0.0);
}
extern "C" __global__ void __launch_bounds__(256, 3) int4_gemv_v_h16(INT4_GEMV_ARGS) {
    int4_gemv_half<8, 4, 2, false, INT4_X, false>(INT4_GEMV_CALL, nullptr, 0.0);
}
extern "C" __global__ void __launch_bounds__(128, 4) int4_gemv_v_h8p(INT4_GEMV_ARGS) {
    int4_gemv_half<8, 4, 1, true, INT4_X, false>(INT4_GEMV_CALL, nullptr, 0.0);
}

// The fused products of a decode step (int4_decode.go; int4Fused there
// matches INT4_FUSED_ROWS, INT4_FUSED_WARPS): q, k, v and gate, up of the
// normed residual stream (int4_gemv_norm), o added into it (int4_gemv_add),
// down of the SwiGLU of gate, up added into it (int4_gemv_swiglu_add).
#define INT4_FUSED_ROWS 8
#define INT4_FUSED_WARPS 4
#define INT4_FUSED_PIPE false
#define INT4_FUSED_ARGS INT4_GEMV_ARGS, const float *norm, double eps
#define INT4_FUSED_CALL INT4_GEMV_CALL, norm, eps
extern "C" __global__ void __launch_bounds__(32 * INT4_FUSED_WARPS, 6) int4_gemv_norm(INT4_FUSED_ARGS) {
    int4_gemv_half<INT4_FUSED_ROWS, INT4_FUSED_WARPS, 1, INT4_FUSED_PIPE, INT4_NORM_X, false>(INT4_FUSED_CALL);
}
extern "C" __global__ void __launch_bounds__(32 * INT4_FUSED_WARPS, 6) int4_gemv_add(INT4_FUSED_ARGS) {
    int4_gemv_half<INT4_FUSED_ROWS, INT4_FUSED_WARPS, 1, INT4_FUSED_PIPE, INT4_X, true>(INT4_FUSED_CALL);
}
extern "C" __global__ void __launch_bounds__(32 * INT4_FUSED_WARPS, 6) int4_gemv_swiglu_add(INT4_FUSED_ARGS) {
    int4_gemv_half<INT4_FUSED_ROWS, INT4_FUSED_WARPS, 1, INT4_FUSED_PIPE, INT4_SWIGLU_X, true>(INT4_FUSED_CALL);
}
