// Products with weights held in IEEE half precision (float16): the
// output head of a resident model, whose bytes halve against float32.
// A weight [out × in] is uint16 bits, row-major, in a multiple of 8 and
// rows 16-byte aligned.

// half_to_float widens the float16 in the low 16 bits of h. Shifting the
// exponent and mantissa into a float's places and scaling by 2^112 (the
// difference of the exponent biases) is exact for normal and subnormal
// values; infinities and NaNs, absent from weights, are not kept.
__device__ __forceinline__ float half_to_float(unsigned h) {
    const float f = __uint_as_float((h & 0x7fffu) << 13) * 0x1.0p112f;
    return __uint_as_float(__float_as_uint(f) | ((h & 0x8000u) << 16));
}

// half_dot8 returns the sum over 8 columns of w·x, the weights in the
// four words of w (column 2k in the low half of word k), x in lo, hi.
__device__ __forceinline__ float half_dot8(uint4 w, float4 lo, float4 hi) {
    float s = half_to_float(w.x) * lo.x;
    s = fmaf(half_to_float(w.x >> 16), lo.y, s);
    s = fmaf(half_to_float(w.y), lo.z, s);
    s = fmaf(half_to_float(w.y >> 16), lo.w, s);
    s = fmaf(half_to_float(w.z), hi.x, s);
    s = fmaf(half_to_float(w.z >> 16), hi.y, s);
    s = fmaf(half_to_float(w.w), hi.z, s);
    s = fmaf(half_to_float(w.w >> 16), hi.w, s);
    return s;
}

#define HALF_WARP_ROWS 4  // rows of the weight one warp computes; halfWarpRows in half.go

// half_gemv sets y[b][r] = Σ_j W[r][j]·x[b][j] for the B rows of x
// [B × in] (16-byte aligned). Each warp computes HALF_WARP_ROWS rows of
// W, its lanes taking the 8-column chunks of the rows in turn, so that
// each chunk of x a lane loads serves every row of the warp.
template <int B>
__device__ void half_gemv(float* y, const float* x, const uint4* w, int out, int in) {
    grid_dependents_launch(); // launched with PDL (chained_launch.cu)
    grid_dependency_wait();
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int r0 = (blockIdx.x * (blockDim.x / 32) + warp) * HALF_WARP_ROWS;
    if (r0 >= out) {
        return;
    }
    const int chunks = in / 8;
    float acc[B][HALF_WARP_ROWS];
#pragma unroll
    for (int b = 0; b < B; b++) {
#pragma unroll
        for (int i = 0; i < HALF_WARP_ROWS; i++) {
            acc[b][i] = 0.0f;
        }
    }
    for (int c = lane; c < chunks; c += 32) {
        uint4 wv[HALF_WARP_ROWS];
#pragma unroll
        for (int i = 0; i < HALF_WARP_ROWS; i++) {
            const long long r = min(r0 + i, out - 1);  // rows past the end load the last one, unused
            wv[i] = __ldg(w + r * chunks + c);
        }
#pragma unroll
        for (int b = 0; b < B; b++) {
            const float4* xb = reinterpret_cast<const float4*>(x + (long long)b * in) + 2 * c;
            const float4 lo = __ldg(xb), hi = __ldg(xb + 1);
#pragma unroll
            for (int i = 0; i < HALF_WARP_ROWS; i++) {
                acc[b][i] += half_dot8(wv[i], lo, hi);
            }
        }
    }
#pragma unroll
    for (int b = 0; b < B; b++) {
#pragma unroll
        for (int i = 0; i < HALF_WARP_ROWS; i++) {
            float v = acc[b][i];
#pragma unroll
            for (int d = 16; d > 0; d /= 2) {
                v += __shfl_xor_sync(0xFFFFFFFFu, v, d);
            }
            if (lane == 0 && r0 + i < out) {
                y[(long long)b * out + r0 + i] = v;
            }
        }
    }
}

// half_gemv_B: half_gemv for B rows of x, one entry point per count.
#define HALF_GEMV_ARGS float *y, const float *x, const uint4 *w, int out, int in
extern "C" __global__ void half_gemv_1(HALF_GEMV_ARGS) { half_gemv<1>(y, x, w, out, in); }
extern "C" __global__ void half_gemv_2(HALF_GEMV_ARGS) { half_gemv<2>(y, x, w, out, in); }
extern "C" __global__ void half_gemv_3(HALF_GEMV_ARGS) { half_gemv<3>(y, x, w, out, in); }
extern "C" __global__ void half_gemv_4(HALF_GEMV_ARGS) { half_gemv<4>(y, x, w, out, in); }
extern "C" __global__ void half_gemv_5(HALF_GEMV_ARGS) { half_gemv<5>(y, x, w, out, in); }
extern "C" __global__ void half_gemv_6(HALF_GEMV_ARGS) { half_gemv<6>(y, x, w, out, in); }
extern "C" __global__ void half_gemv_7(HALF_GEMV_ARGS) { half_gemv<7>(y, x, w, out, in); }
extern "C" __global__ void half_gemv_8(HALF_GEMV_ARGS) { half_gemv<8>(y, x, w, out, in); }
