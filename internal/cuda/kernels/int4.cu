// 4-bit weights of linear layers. A weight [out×in] is held as
//   codes  uint32 [out × in/8]: word w of a row holds the codes of its
//          columns 8w..8w+7, column 8w+k in bits 4k..4k+3;
//   params float2 [out × groups]: each group's (scale, zero point);
//   perm   int32 [in] or null: column j of the codes is column perm[j] of
//          the layer (act-order checkpoints, whose groups are not runs of
//          columns, are reordered so that they are).
// Groups are runs of group_len columns; in is a multiple of 32 and
// group_len a multiple of 32 or in, so that the 32 codes one lane loads
// (16 bytes) share a group. The weight is (code - zero) · scale.

// 0x4B000000 is the float 2^23, whose last mantissa bit is worth 1: or-ing
// a code shifted by 4k bits into it gives exactly 2^23 + code·16^k, and
// subtracting 2^23 + zero·16^k leaves (code - zero)·16^k, without an
// integer conversion or a shift per code.
__device__ __forceinline__ float int4_biased(unsigned word, unsigned mask) {
    return __uint_as_float((word & mask) | 0x4B000000u);
}

// int4_dot32 returns the sum over 32 columns of (code - zero)·x, the codes
// in the four words of q, x in xv[0..7].
__device__ __forceinline__ float int4_dot32(uint4 q, const float4* xv, float zero) {
    const float z0 = 8388608.0f + zero, z1 = fmaf(zero, 16.0f, 8388608.0f),
                z2 = fmaf(zero, 256.0f, 8388608.0f), z3 = fmaf(zero, 4096.0f, 8388608.0f);
    const unsigned words[4] = {q.x, q.y, q.z, q.w};
    float p0 = 0.0f, p1 = 0.0f, p2 = 0.0f, p3 = 0.0f; // partial sums of (code - zero)·16^k·x
#pragma unroll
    for (int k = 0; k < 4; k++) {
        const unsigned lo = words[k], hi = words[k] >> 16;
        const float4 a = xv[2 * k], b = xv[2 * k + 1];
        p0 = fmaf(int4_biased(lo, 0xFu) - z0, a.x, p0);
        p1 = fmaf(int4_biased(lo, 0xF0u) - z1, a.y, p1);
        p2 = fmaf(int4_biased(lo, 0xF00u) - z2, a.z, p2);
        p3 = fmaf(int4_biased(lo, 0xF000u) - z3, a.w, p3);
        p0 = fmaf(int4_biased(hi, 0xFu) - z0, b.x, p0);
        p1 = fmaf(int4_biased(hi, 0xF0u) - z1, b.y, p1);
        p2 = fmaf(int4_biased(hi, 0xF00u) - z2, b.z, p2);
        p3 = fmaf(int4_biased(hi, 0xF000u) - z3, b.w, p3);
    }
    return p0 + p1 * (1.0f / 16.0f) + p2 * (1.0f / 256.0f) + p3 * (1.0f / 4096.0f);
}

// Warps of a GEMV block: they share the block's rows of the weight, each
// taking every INT4_WARPS-th chunk of 32 columns, and add up their sums at
// the end. Splitting the columns as well as the rows gives a 4096-row
// weight thousands of warps, enough loads in flight to keep memory busy.
#define INT4_WARPS 4

// int4_gemv sets y[b][r] = Σ_j W[r][j]·x[b][j] for the B rows of x
// [B × in] (columns in the order of the codes, 16-byte aligned). Block k
// computes rows kR … kR+R-1 of W; its lanes take the 32-column chunks of
// those rows in turn. Every 32 values of x a lane loads serve R rows.
template <int B, int R>
__device__ void int4_gemv(float* y, const float* x, const uint4* codes, const float2* params, int out, int in,
                          int groups, int chunks_per_group) {
    __shared__ float partial[INT4_WARPS][R * B];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int r0 = blockIdx.x * R;
    const int chunks = in / 32;
    float acc[R][B];
#pragma unroll
    for (int i = 0; i < R; i++) {
#pragma unroll
        for (int b = 0; b < B; b++) {
            acc[i][b] = 0.0f;
        }
    }
    for (int c = warp * 32 + lane; c < chunks; c += INT4_WARPS * 32) {
        const int g = c / chunks_per_group;
        uint4 q[R];
        float2 p[R];
#pragma unroll
        for (int i = 0; i < R; i++) {
            const long long r = min(r0 + i, out - 1); // rows past the end load the last one, unused
            q[i] = __ldg(codes + r * chunks + c);
            p[i] = __ldg(params + r * groups + g);
        }
#pragma unroll
        for (int b = 0; b < B; b++) {
            const float4* xb = reinterpret_cast<const float4*>(x + (long long)b * in) + 8 * c;
            float4 xv[8];
#pragma unroll
            for (int k = 0; k < 8; k++) {
                xv[k] = __ldg(xb + k);
            }
#pragma unroll
            for (int i = 0; i < R; i++) {
                acc[i][b] = fmaf(p[i].x, int4_dot32(q[i], xv, p[i].y), acc[i][b]);
            }
        }
    }
#pragma unroll
    for (int i = 0; i < R; i++) {
#pragma unroll
        for (int b = 0; b < B; b++) {
            float v = acc[i][b];
#pragma unroll
            for (int d = 16; d > 0; d /= 2) {
                v += __shfl_xor_sync(0xFFFFFFFFu, v, d);
            }
            if (lane == 0) {
                partial[warp][i * B + b] = v;
            }
        }
    }
    __syncthreads();
    for (int t = threadIdx.x; t < R * B; t += blockDim.x) {
        const int i = t / B, b = t % B;
        if (r0 + i < out) {
            float v = 0.0f;
#pragma unroll
            for (int w = 0; w < INT4_WARPS; w++) {
                v += partial[w][t];
            }
            y[(long long)b * out + r0 + i] = v;
        }
    }
}

// int4_gemv_B: int4_gemv for B rows of x, one entry point per count, with
// the rows per block of int4BlockRows in int4.go (fewer as B grows, to
// keep the accumulators in registers). Blocks are INT4_WARPS warps.
#define INT4_GEMV_ARGS                                                                                     \
    float *y, const float *x, const uint4 *codes, const float2 *params, int out, int in, int groups, \
        int chunks_per_group
#define INT4_GEMV_CALL y, x, codes, params, out, in, groups, chunks_per_group
extern "C" __global__ void int4_gemv_1(INT4_GEMV_ARGS) { int4_gemv<1, 8>(INT4_GEMV_CALL); }
extern "C" __global__ void int4_gemv_2(INT4_GEMV_ARGS) { int4_gemv<2, 4>(INT4_GEMV_CALL); }
extern "C" __global__ void int4_gemv_3(INT4_GEMV_ARGS) { int4_gemv<3, 2>(INT4_GEMV_CALL); }
extern "C" __global__ void int4_gemv_4(INT4_GEMV_ARGS) { int4_gemv<4, 2>(INT4_GEMV_CALL); }
extern "C" __global__ void int4_gemv_5(INT4_GEMV_ARGS) { int4_gemv<5, 1>(INT4_GEMV_CALL); }
extern "C" __global__ void int4_gemv_6(INT4_GEMV_ARGS) { int4_gemv<6, 1>(INT4_GEMV_CALL); }
extern "C" __global__ void int4_gemv_7(INT4_GEMV_ARGS) { int4_gemv<7, 1>(INT4_GEMV_CALL); }
extern "C" __global__ void int4_gemv_8(INT4_GEMV_ARGS) { int4_gemv<8, 1>(INT4_GEMV_CALL); }

// int4_dequantize writes the float32 weight w [out×in] in the layer's
// column order: w[r][perm[j]] = (code - zero)·scale of column j of the
// codes. Each thread takes a word (8 columns) at a time, stored as two
// float4 where the columns keep their order.
extern "C" __global__ void int4_dequantize(float* w, const unsigned* codes, const float2* params, const int* perm,
                                           int out, int in, int groups, int group_len) {
    const int words = in / 8;
    const long long total = (long long)out * words;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        const long long r = i / words;
        const int j0 = (int)(i - r * words) * 8;
        const unsigned word = codes[i];
        const float2 p = params[r * groups + j0 / group_len]; // the 8 columns share a group
        float v[8];
#pragma unroll
        for (int k = 0; k < 8; k++) {
            v[k] = (__uint2float_rn((word >> (4 * k)) & 0xFu) - p.y) * p.x;
        }
        if (perm) {
#pragma unroll
            for (int k = 0; k < 8; k++) {
                w[r * in + perm[j0 + k]] = v[k];
            }
        } else { // 32 aligned bytes (in is a multiple of 32)
            float4* d = reinterpret_cast<float4*>(w + r * in + j0);
            d[0] = make_float4(v[0], v[1], v[2], v[3]);
            d[1] = make_float4(v[4], v[5], v[6], v[7]);
        }
    }
}

// gather_columns sets dst[b][j] = x[b][perm[j]] for the rows [rows × n].
extern "C" __global__ void gather_columns(float* dst, const float* x, const int* perm, int rows, int n) {
    const long long total = (long long)rows * n;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        const long long b = i / n;
        dst[i] = x[b * n + perm[i % n]];
    }
}
