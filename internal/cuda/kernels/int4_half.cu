// The batch-1 4-bit GEMV of decoding, in float16 pairs over the layout of
// int4.cu, in the layouts BenchmarkQuantGEMVVariants (compute) compares.

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

__device__ __forceinline__ unsigned hadd2(unsigned a, unsigned b) {
    unsigned d;
    asm("add.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
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
// {(x0,x4), (x1,x5), (x2,x6), (x3,x7)}. All the block's threads take part,
// each requesting U words before it converts them, so that a thread waits
// for memory ceil(in/8 / (U·blockDim.x)) times, not in/8 / blockDim.x.
// x is read as it is in memory (not through the read-only cache), since a
// kernel launched with PDL reads it after an earlier kernel wrote it.
template <int U>
__device__ void stage_x_half(uint4* xs, const float* x, int in, float scale) {
    const float4* xv = reinterpret_cast<const float4*>(x);
    const int words = in / 8;
    for (int w0 = threadIdx.x; w0 < words; w0 += U * blockDim.x) {
        float4 a[U], b[U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int w = w0 + u * blockDim.x;
            if (w < words) {
                a[u] = xv[2 * w];
                b[u] = xv[2 * w + 1];
            }
        }
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int w = w0 + u * blockDim.x;
            if (w < words) {
                xs[w] = make_uint4(half2_of(a[u].x * scale, b[u].x * scale), half2_of(a[u].y * scale, b[u].y * scale),
                                   half2_of(a[u].z * scale, b[u].z * scale), half2_of(a[u].w * scale, b[u].w * scale));
            }
        }
    }
}

// int4_half_dot32 returns the sum over the 32 columns of chunk of
// (code - zero)·x, the codes in the four words of q, x staged by
// stage_x_half: per word, four fused multiply-adds of half2 (code - zero)
// by half2 x; two words' sums added in float16 (so at most 8 products add
// up in float16 per half), then promoted to float32.
__device__ __forceinline__ float int4_half_dot32(uint4 q, const uint4* xs, int chunk, float zero) {
    const Int4ZeroHalf z = int4_zero_half(zero);
    const unsigned words[4] = {q.x, q.y, q.z, q.w};
    unsigned p[4];
#pragma unroll
    for (int k = 0; k < 4; k++) {
        const uint4 xv = xs[4 * chunk + k];
        unsigned d[4];
        int4_half_codes(words[k], z, d);
        p[k] = hfma2(d[0], xv.x, 0u);
        p[k] = hfma2(d[1], xv.y, p[k]);
        p[k] = hfma2(d[2], xv.z, p[k]);
        p[k] = hfma2(d[3], xv.w, p[k]);
    }
    return half2_sum(hadd2(p[0], p[1])) + half2_sum(hadd2(p[2], p[3]));
}

// x is staged scaled by INT4_HALF_X_SCALE and the sums divided by it:
// powers of two, exact, that move the float16 range down so that a sum of
// 8 products (code - zero)·x (|code - zero| ≤ 15) overflows only past
// |x| ≈ 69900 instead of ≈ 546. Values below 2^-7 become subnormal, their
// absolute rounding 2^-17, negligible in a row's sum.
#define INT4_HALF_X_SCALE 0.0078125f

// int4_gemv_half sets y[r] = Σ_j W[r][j]·x[j] for one row x [in] (columns
// in the order of the codes, 16-byte aligned), in float16 pairs summed in
// float32. Block b computes the G·R rows from b·G·R on, in G groups of R
// rows: thread t of a group takes the 32-column chunks t, t + 32W, … of
// each of its rows. x is staged once per block, as float16, in dynamic
// shared memory (2·in bytes), U words a thread at a time.
//
// Launched with PDL, a block requests the codes and parameters of its
// first chunks (weights, which no kernel writes), lets the next kernel
// launch, and only then waits for the kernels before it to end, so that
// its loads overlap their tail.
template <int R, int W, int G, int U>
__device__ void int4_gemv_half(float* y, const float* x, const uint4* codes, const float2* params, int out, int in,
                               int groups, int chunks_per_group) {
    extern __shared__ uint4 xs[];
    __shared__ float partial[G][W][R];
    constexpr int threads = 32 * W; // of a row group
    const int group = threadIdx.x / threads, t = threadIdx.x % threads, warp = t / 32, lane = t % 32;
    const int chunks = in / 32, r0 = (blockIdx.x * G + group) * R;
    int row[R];
#pragma unroll
    for (int i = 0; i < R; i++) {
        row[i] = min(r0 + i, out - 1); // rows past the end read the last one, unused
    }
    uint4 q[R];
    float2 p[R];
    // load requests chunk c of the rows.
    auto load = [&](int c) {
#pragma unroll
        for (int i = 0; i < R; i++) {
            q[i] = __ldg(codes + (long long)row[i] * chunks + c);
            p[i] = __ldg(params + (long long)row[i] * groups + c / chunks_per_group);
        }
    };
    if (t < chunks) {
        load(t);
    }
    grid_dependents_launch();
    grid_dependency_wait();
    stage_x_half<U>(xs, x, in, INT4_HALF_X_SCALE);
    __syncthreads();
    float acc[R];
#pragma unroll
    for (int i = 0; i < R; i++) {
        acc[i] = 0.0f;
    }
    for (int c = t; c < chunks; c += threads) {
#pragma unroll
        for (int i = 0; i < R; i++) {
            acc[i] = fmaf(p[i].x, int4_half_dot32(q[i], xs, c, p[i].y), acc[i]);
        }
        if (c + threads < chunks) {
            load(c + threads);
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
            y[r] = v * (1.0f / INT4_HALF_X_SCALE);
        }
    }
}

// The layouts of int4_gemv_half, entry points int4_gemv_v_<name> (see
// int4Variants in int4_variants.go, whose int4DecodeVariant picks the one
// decoding uses by the weight's shape): h8r is 8 rows and 4 warps a block,
// up to 128 registers a thread; h16r two groups of 8 rows and 4 warps, x
// staged once for 16 rows, also up to 128 registers a thread (2 blocks an
// SM). Both stage x 4 words a thread at a time. (Capping h16r at 80
// registers, 3 blocks an SM, halved its speed on an H100; computing on one
// chunk while the next one's codes load, or a grid of one block an SM,
// were slower too: bench/RESULTS.md.)
extern "C" __global__ void __launch_bounds__(128, 4) int4_gemv_v_h8r(INT4_GEMV_ARGS) {
    int4_gemv_half<8, 4, 1, 4>(INT4_GEMV_CALL);
}
extern "C" __global__ void __launch_bounds__(256, 2) int4_gemv_v_h16r(INT4_GEMV_ARGS) {
    int4_gemv_half<8, 4, 2, 4>(INT4_GEMV_CALL);
}
