// Kernels of AWQ's searches (package awq): the fake quantization of
// scaled weights, the clip search's candidate errors, and the reductions
// both searches score with. Every rounding is package quant's: the group
// parameters come from sweep.cu's sweep_fit (quant.Scheme.RangeParams),
// products and quotients are rounded on their own (no fused
// multiply-adds, IEEE division), so that a weight quantizes here to the
// bits it does on the CPU.

// Defined in sweep.cu, compiled in the same program.
__device__ void sweep_fit(float lo, float hi, int maxq, int symmetric, int min_zero, int bf16_scales,
                          float* scale, unsigned char* zero);

// Threads of the blocks that reduce to one double per block.
#define AWQ_REDUCE_THREADS 256

__device__ float awq_warp_min(float v) {
    for (int off = 16; off > 0; off >>= 1) {
        v = fminf(v, __shfl_xor_sync(0xffffffffu, v, off));
    }
    return v;
}

__device__ float awq_warp_max(float v) {
    for (int off = 16; off > 0; off >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
    }
    return v;
}

__device__ double awq_warp_sum(double v) {
    for (int off = 16; off > 0; off >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, off);
    }
    return v;
}

// awq_block_sum returns the sum of v over the block to thread 0 (the
// other threads get a partial sum). Every thread of the block calls it;
// blockDim.x is a multiple of 32, at most 1024.
__device__ double awq_block_sum(double v) {
    __shared__ double warps[32];
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    v = awq_warp_sum(v);
    if (lane == 0) {
        warps[warp] = v;
    }
    __syncthreads();
    if (warp == 0) {
        v = lane < (int)(blockDim.x / 32) ? warps[lane] : 0.0;
        v = awq_warp_sum(v);
    }
    return v;
}

// awq_group_range sets lo and hi, in every lane of the warp, to the least
// and the greatest of the group_size values wr[j]·sr[j] (wr[j] where sr is
// null), the lanes taking every 32nd.
__device__ void awq_group_range(const float* wr, const float* sr, int group_size, int lane, float* lo, float* hi) {
    const float inf = __int_as_float(0x7f800000);
    float l = inf, h = -inf;
    for (int j = lane; j < group_size; j += 32) {
        const float v = sr ? __fmul_rn(wr[j], sr[j]) : wr[j];
        l = fminf(l, v);
        h = fmaxf(h, v);
    }
    *lo = awq_warp_min(l);
    *hi = awq_warp_max(h);
}

// awq_level is quant.Quantize(x, scale, zero, maxq).
__device__ int awq_level(float x, float scale, int zero, int maxq) {
    return (int)fminf(fmaxf(rintf(__fdiv_rn(x, scale)) + (float)zero, 0.0f), (float)maxq);
}

// awq_dequantized is quant.Dequantize(quant.Quantize(x, scale, zero, maxq)).
__device__ float awq_dequantized(float x, float scale, int zero, int maxq) {
    return __fmul_rn((float)(awq_level(x, scale, zero, maxq) - zero), scale);
}

// awq_fake_quant sets dst = Q(w·diag(s))·diag(1/s) for w [rows × in]:
// every row's groups of group_size channels (group_size divides in) are
// scaled by s [in], given min-max parameters, rounded onto the grid,
// dequantized and divided by s again (package awq's fakeQuant). One warp
// per group; blockDim.x is a multiple of 32.
extern "C" __global__ void awq_fake_quant(float* __restrict__ dst, const float* __restrict__ w,
                                          const float* __restrict__ s, long long rows, int in, int group_size,
                                          int maxq, int symmetric, int min_zero, int bf16_scales) {
    const int groups = in / group_size;
    const int lane = threadIdx.x % 32;
    const long long total = rows * groups;
    const long long stride = (long long)gridDim.x * blockDim.x / 32;
    for (long long k = (blockIdx.x * (long long)blockDim.x + threadIdx.x) / 32; k < total; k += stride) {
        const long long r = k / groups;
        const int c0 = (int)(k % groups) * group_size;
        const float* wr = w + r * in + c0;
        const float* sr = s + c0;
        float lo, hi;
        awq_group_range(wr, sr, group_size, lane, &lo, &hi);
        float scale;
        unsigned char zero;
        sweep_fit(lo, hi, maxq, symmetric, min_zero, bf16_scales, &scale, &zero);
        float* dr = dst + r * in + c0;
        for (int j = lane; j < group_size; j += 32) {
            dr[j] = __fdiv_rn(awq_dequantized(__fmul_rn(wr[j], sr[j]), scale, zero, maxq), sr[j]);
        }
    }
}

// awq_clip_deltas writes, for the clip search of w [rows × in], the
// error ŵ - w of every group under each of the candidates shrunk ranges:
// candidate c clamps the group to ±absmax·(1 - c/steps), absmax its
// largest |w|, and quantizes the clamped weights with their min-max
// parameters (package awq's clipLinear). d is [groups × candidates × rows
// × group_size]: for group g and candidate c, a [rows × group_size]
// matrix. One warp per row and group; blockDim.x is a multiple of 32.
extern "C" __global__ void awq_clip_deltas(float* __restrict__ d, const float* __restrict__ w, int rows, int in,
                                           int group_size, int candidates, int steps, int maxq, int symmetric,
                                           int min_zero, int bf16_scales) {
    const int groups = in / group_size;
    const int lane = threadIdx.x % 32;
    const long long total = (long long)rows * groups;
    const long long stride = (long long)gridDim.x * blockDim.x / 32;
    for (long long k = (blockIdx.x * (long long)blockDim.x + threadIdx.x) / 32; k < total; k += stride) {
        const int r = (int)(k / groups);
        const int g = (int)(k % groups);
        const float* wr = w + (long long)r * in + (long long)g * group_size;
        float lo, hi;
        awq_group_range(wr, nullptr, group_size, lane, &lo, &hi);
        const float absmax = fmaxf(fmaxf(hi, -lo), 0.0f);
        for (int c = 0; c < candidates; c++) {
            const float m = __fmul_rn(absmax, (float)(1.0 - (double)c / (double)steps));
            float scale;
            unsigned char zero;
            sweep_fit(fminf(fmaxf(lo, -m), m), fminf(fmaxf(hi, -m), m), maxq, symmetric, min_zero, bf16_scales,
                      &scale, &zero);
            float* dr = d + (((long long)g * candidates + c) * rows + r) * group_size;
            for (int j = lane; j < group_size; j += 32) {
                const float v = wr[j];
                dr[j] = __fsub_rn(awq_dequantized(fminf(fmaxf(v, -m), m), scale, zero, maxq), v);
            }
        }
    }
}

// awq_row_mean_squares sets, for each row (b, r) of e [blocks × rows × n],
// loss[b·out + row0 + r] to the mean of its squares, summed in double.
// One warp per row; blockDim.x is a multiple of 32.
extern "C" __global__ void awq_row_mean_squares(double* __restrict__ loss, const float* __restrict__ e, int blocks,
                                                int rows, int n, int out, int row0) {
    const int lane = threadIdx.x % 32;
    const long long total = (long long)blocks * rows;
    const long long stride = (long long)gridDim.x * blockDim.x / 32;
    for (long long k = (blockIdx.x * (long long)blockDim.x + threadIdx.x) / 32; k < total; k += stride) {
        const float* er = e + k * n;
        double sum = 0.0;
        for (int t = lane; t < n; t += 32) {
            const double v = er[t];
            sum += v * v;
        }
        sum = awq_warp_sum(sum);
        if (lane == 0) {
            const long long b = k / rows, r = k % rows;
            loss[b * out + row0 + r] = sum / n;
        }
    }
}

// awq_sq_diff_partials writes to partial[blockIdx.x] this block's share
// of the sum over i < n of (a[i] - b[i])², the difference rounded to
// float, its square and the sum in double. blockDim.x is
// AWQ_REDUCE_THREADS.
extern "C" __global__ void awq_sq_diff_partials(double* __restrict__ partial, const float* __restrict__ a,
                                                const float* __restrict__ b, long long n) {
    double sum = 0.0;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const double d = __fsub_rn(a[i], b[i]);
        sum += d * d;
    }
    sum = awq_block_sum(sum);
    if (threadIdx.x == 0) {
        partial[blockIdx.x] = sum;
    }
}

// awq_add_partials adds the count partial sums, in a fixed order, to
// acc[0]. One block of AWQ_REDUCE_THREADS threads.
extern "C" __global__ void awq_add_partials(double* acc, const double* __restrict__ partial, int count) {
    double sum = 0.0;
    for (int i = threadIdx.x; i < count; i += blockDim.x) {
        sum += partial[i];
    }
    sum = awq_block_sum(sum);
    if (threadIdx.x == 0) {
        acc[0] += sum;
    }
}

// awq_abs_column_partials writes to partial[blockIdx.y·cols + c] the sum
// of |x[r, c]| in double over slice blockIdx.y of the rows of x [rows ×
// cols], the rows cut into gridDim.y slices.
extern "C" __global__ void awq_abs_column_partials(double* __restrict__ partial, const float* __restrict__ x,
                                                   long long rows, int cols) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) {
        return;
    }
    const long long per = (rows + gridDim.y - 1) / gridDim.y;
    const long long r0 = blockIdx.y * per;
    const long long r1 = min(rows, r0 + per);
    double sum = 0.0;
    for (long long r = r0; r < r1; r++) {
        sum += fabs((double)x[r * cols + c]);
    }
    partial[(long long)blockIdx.y * cols + c] = sum;
}

// awq_add_column_partials adds the slices partial sums of every column
// c < cols, in slice order, to sum[c].
extern "C" __global__ void awq_add_column_partials(double* __restrict__ sum, const double* __restrict__ partial,
                                                   int slices, int cols) {
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += gridDim.x * blockDim.x) {
        double acc = 0.0;
        for (int s = 0; s < slices; s++) {
            acc += partial[(long long)s * cols + c];
        }
        sum[c] += acc;
    }
}

// awq_gather_rows copies count rows of src [· × cols], rows first,
// first+step, first+2·step, ..., to dst [count × cols].
extern "C" __global__ void awq_gather_rows(float* __restrict__ dst, const float* __restrict__ src, long long first,
                                           long long step, long long count, int cols) {
    const long long total = count * cols;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        const long long k = i / cols, c = i % cols;
        dst[i] = src[(first + k * step) * cols + c];
    }
}

// awq_dot_partials writes to partial[blockIdx.x] this block's share of
// the sum over i < n of a[i]·b[i], each product and the sum in double.
// blockDim.x is AWQ_REDUCE_THREADS.
extern "C" __global__ void awq_dot_partials(double* __restrict__ partial, const float* __restrict__ a,
                                            const float* __restrict__ b, long long n) {
    double sum = 0.0;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        sum += (double)a[i] * (double)b[i];
    }
    sum = awq_block_sum(sum);
    if (threadIdx.x == 0) {
        partial[blockIdx.x] = sum;
    }
}

// awq_sub_into subtracts y from x element-wise over n values.
extern "C" __global__ void awq_sub_into(float* x, const float* y, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        x[i] = __fsub_rn(x[i], y[i]);
    }
}

// The scaled layer's steps (package awq's fold, clip and final rounding,
// on weights kept on the device).

// awq_scale_columns multiplies column c of w [rows × cols] by s[c].
extern "C" __global__ void awq_scale_columns(float* w, const float* __restrict__ s, long long rows, int cols) {
    const long long total = rows * cols;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        w[i] = __fmul_rn(w[i], s[i % cols]);
    }
}

// awq_divide_rows divides row r of w [rows × cols] by s[r].
extern "C" __global__ void awq_divide_rows(float* w, const float* __restrict__ s, long long rows, int cols) {
    const long long total = rows * cols;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        w[i] = __fdiv_rn(w[i], s[i / cols]);
    }
}

// awq_clamp_groups clamps group g of row r of w [rows × in] to
// ±absmax·(1 - chosen[g·rows + r]/steps), absmax the group's largest
// |w|; groups whose choice is 0 keep their range. One warp per group;
// blockDim.x is a multiple of 32.
extern "C" __global__ void awq_clamp_groups(float* w, const int* __restrict__ chosen, int rows, int in,
                                            int group_size, int steps) {
    const int groups = in / group_size;
    const int lane = threadIdx.x % 32;
    const long long total = (long long)rows * groups;
    const long long stride = (long long)gridDim.x * blockDim.x / 32;
    for (long long k = (blockIdx.x * (long long)blockDim.x + threadIdx.x) / 32; k < total; k += stride) {
        const int r = (int)(k / groups);
        const int g = (int)(k % groups);
        const int c = chosen[(long long)g * rows + r];
        if (c == 0) {
            continue;  // the same k, so the same choice, for the whole warp
        }
        float* wr = w + (long long)r * in + (long long)g * group_size;
        float absmax = 0.0f;
        for (int j = lane; j < group_size; j += 32) {
            absmax = fmaxf(absmax, fabsf(wr[j]));
        }
        absmax = awq_warp_max(absmax);
        const float m = __fmul_rn(absmax, (float)(1.0 - (double)c / (double)steps));
        for (int j = lane; j < group_size; j += 32) {
            wr[j] = fminf(fmaxf(wr[j], -m), m);
        }
    }
}

// awq_round quantizes every group of w [rows × in] with its min-max
// parameters (package quant's RTN): the codes to q [rows × in], one byte
// each, the scales and zero points to scales and zeros [rows × groups].
// One warp per group; blockDim.x is a multiple of 32.
extern "C" __global__ void awq_round(unsigned char* __restrict__ q, float* __restrict__ scales,
                                     unsigned char* __restrict__ zeros, const float* __restrict__ w, long long rows,
                                     int in, int group_size, int maxq, int symmetric, int min_zero, int bf16_scales) {
    const int groups = in / group_size;
    const int lane = threadIdx.x % 32;
    const long long total = rows * groups;
    const long long stride = (long long)gridDim.x * blockDim.x / 32;
    for (long long k = (blockIdx.x * (long long)blockDim.x + threadIdx.x) / 32; k < total; k += stride) {
        const long long r = k / groups;
        const int c0 = (int)(k % groups) * group_size;
        const float* wr = w + r * in + c0;
        float lo, hi;
        awq_group_range(wr, nullptr, group_size, lane, &lo, &hi);
        float scale;
        unsigned char zero;
        sweep_fit(lo, hi, maxq, symmetric, min_zero, bf16_scales, &scale, &zero);
        if (lane == 0) {
            scales[k] = scale;
            zeros[k] = zero;
        }
        unsigned char* qr = q + r * in + c0;
        for (int j = lane; j < group_size; j += 32) {
            qr[j] = (unsigned char)awq_level(wr[j], scale, zero, maxq);
        }
    }
}

// awq_causal_softmax turns each row i of the scores s [rows × n] of the
// queries of windows of n tokens (row r is query r mod n of its window)
// into the softmax of its first i+1 values, the keys the query sees, and
// zeroes the rest. One warp per row; blockDim.x is a multiple of 32.
extern "C" __global__ void awq_causal_softmax(float* s, long long rows, int n) {
    const float neg_inf = __int_as_float(0xff800000);
    const int lane = threadIdx.x % 32;
    const long long stride = (long long)gridDim.x * blockDim.x / 32;
    for (long long k = (blockIdx.x * (long long)blockDim.x + threadIdx.x) / 32; k < rows; k += stride) {
        const int seen = (int)(k % n) + 1;
        float* sr = s + k * n;
        float m = neg_inf;
        for (int j = lane; j < seen; j += 32) {
            m = fmaxf(m, sr[j]);
        }
        m = awq_warp_max(m);
        float sum = 0.0f;
        for (int j = lane; j < seen; j += 32) {
            const float e = expf(sr[j] - m);
            sr[j] = e;
            sum += e;
        }
        for (int off = 16; off > 0; off >>= 1) {
            sum += __shfl_xor_sync(0xffffffffu, sum, off);
        }
        const float inv = 1.0f / sum;
        for (int j = lane; j < n; j += 32) {
            sr[j] = j < seen ? sr[j] * inv : 0.0f;
        }
    }
}
