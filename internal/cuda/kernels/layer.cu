// Kernels of the device-resident decoder layer: RMSNorm, RoPE, causal
// grouped-query attention, SwiGLU and the element-wise steps between
// them. Activations are float32 row-major [rows × width]; element counts
// that may pass 2³¹ are long long. The kernels of a decode step wait for
// the grids before them (chained_launch.cu) and are launched with PDL.

// zero_floats sets x[0, n) to zero.
extern "C" __global__ void zero_floats(float* x, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        x[i] = 0.0f;
    }
}

// add_into adds y to x element-wise over n values: the residual add.
extern "C" __global__ void add_into(float* x, const float* y, long long n) {
    grid_dependents_launch();
    grid_dependency_wait();
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        x[i] += y[i];
    }
}

// add_bias adds bias [cols] to every row of x [rows × cols].
extern "C" __global__ void add_bias(float* x, const float* bias, long long rows, int cols) {
    grid_dependents_launch();
    grid_dependency_wait();
    long long total = rows * cols;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        x[i] += bias[i % cols];
    }
}

// rms_norm writes x / sqrt(mean(x²) + eps) · weight for each row of x
// [rows × cols], one block per row; with residual not null it first adds
// residual's row into x's (the residual add before a norm, fused). The
// mean of squares is summed in double, as the CPU runtime does.
// blockDim.x is a multiple of 32, at most 1024; dst overlaps neither x
// nor residual.
//
// A thread holds up to NORM_HELD columns of the row (i = thread + k·blockDim.x)
// in registers: their weights are requested before the wait for the
// kernels before it (weights no kernel writes), their x and residual all
// at once after it, so that a decode step's norm waits for memory once
// rather than once a column. Columns past those go through a loop.
#define NORM_HELD 8
extern "C" __global__ void rms_norm(float* __restrict__ dst, float* __restrict__ x,
                                    const float* __restrict__ residual, const float* __restrict__ weight, int cols,
                                    double eps) {
    const int n = blockDim.x;
    float w[NORM_HELD], v[NORM_HELD];
#pragma unroll
    for (int k = 0; k < NORM_HELD; k++) {
        const int i = threadIdx.x + k * n;
        w[k] = i < cols ? weight[i] : 0.0f;
    }
    grid_dependents_launch();
    grid_dependency_wait();
    __shared__ double partial[32];
    float* row = x + (long long)blockIdx.x * cols;
    const float* add = residual ? residual + (long long)blockIdx.x * cols : nullptr;
    float* out = dst + (long long)blockIdx.x * cols;
#pragma unroll
    for (int k = 0; k < NORM_HELD; k++) {
        const int i = threadIdx.x + k * n;
        v[k] = i < cols ? row[i] : 0.0f;
    }
    if (add) {
#pragma unroll
        for (int k = 0; k < NORM_HELD; k++) {
            const int i = threadIdx.x + k * n;
            if (i < cols) {
                v[k] += add[i];
                row[i] = v[k];
            }
        }
    }
    double ss = 0.0;
#pragma unroll
    for (int k = 0; k < NORM_HELD; k++) {
        ss += (double)v[k] * v[k];  // zero past the row
    }
    for (int i = threadIdx.x + NORM_HELD * n; i < cols; i += n) {
        float u = row[i];
        if (add) {
            u += add[i];
            row[i] = u;  // read back below by this same thread
        }
        ss += (double)u * u;
    }
    for (int off = 16; off > 0; off >>= 1) {
        ss += __shfl_down_sync(0xffffffffu, ss, off);
    }
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) {
        partial[warp] = ss;
    }
    __syncthreads();
    if (warp == 0) {
        ss = lane < (int)(blockDim.x / 32) ? partial[lane] : 0.0;
        for (int off = 16; off > 0; off >>= 1) {
            ss += __shfl_down_sync(0xffffffffu, ss, off);
        }
        if (lane == 0) {
            partial[0] = ss;
        }
    }
    __syncthreads();
    float inv = (float)(1.0 / sqrt(partial[0] / cols + eps));
#pragma unroll
    for (int k = 0; k < NORM_HELD; k++) {
        const int i = threadIdx.x + k * n;
        if (i < cols) {
            out[i] = w[k] * (v[k] * inv);
        }
    }
    for (int i = threadIdx.x + NORM_HELD * n; i < cols; i += n) {
        out[i] = weight[i] * (row[i] * inv);
    }
}

// rope rotates, in place, the heads query and kv_heads key heads at the
// start of each row of qkv [rows × stride] by the angles of the row's
// position start + row % n (rows are sequences of n tokens; start_at,
// when not null, adds the int at it to start), in the rotate-half layout:
// dimension j pairs with j + head_dim/2. The angle is rounded to float32
// before its cosine and sine, as transformers does.
//
// With kv not null, the rotated keys and the values that follow them in
// the row (q, then k, then v, kv_heads·head_dim each) are also stored in
// the cache kv [seqs × max_len × 2 × kv_heads·head_dim] (for each
// sequence and position the key, then the value), row r being sequence
// r / n: the thread of a key pair copies the value pair beside it.
extern "C" __global__ void rope(float* qkv, const float* inv_freq, long long rows, int n, const int* start_at,
                                int start, int heads, int kv_heads, int head_dim, int stride, float* kv,
                                int max_len) {
    grid_dependents_launch();
    grid_dependency_wait();
    if (start_at) {
        start += *start_at;
    }
    const int half = head_dim / 2;
    const int q_dim = heads * head_dim, kv_dim = kv_heads * head_dim;
    const long long per_row = (long long)(heads + kv_heads) * half;
    const long long total = rows * per_row;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        const long long r = i / per_row;
        const int rem = (int)(i % per_row);
        const int head = rem / half, j = rem % half;
        const int pos = start + (int)(r % n);
        const float angle = (float)pos * inv_freq[j];
        double s, c;
        sincos((double)angle, &s, &c);
        const float cs = (float)c, sn = (float)s;
        float* v = qkv + r * stride + (long long)head * head_dim;
        const float x1 = v[j], x2 = v[j + half];
        const float y1 = x1 * cs - x2 * sn, y2 = x2 * cs + x1 * sn;
        v[j] = y1;
        v[j + half] = y2;
        if (kv && head >= heads) {
            const int g = head - heads;
            float* key = kv + ((r / n) * max_len + pos) * 2 * kv_dim + (long long)g * head_dim;
            const float* value = qkv + r * stride + q_dim + kv_dim + (long long)g * head_dim;
            key[j] = y1;
            key[j + half] = y2;
            key[kv_dim + j] = value[j];
            key[kv_dim + j + half] = value[j + half];
        }
    }
}

// swiglu writes silu(gate)·up for each row of gate_up [rows × 2·ffn],
// whose rows hold gate then up, to dst [rows × ffn].
extern "C" __global__ void swiglu(float* dst, const float* gate_up, long long rows, int ffn) {
    grid_dependents_launch();
    grid_dependency_wait();
    long long total = rows * ffn;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        long long r = i / ffn;
        int c = (int)(i % ffn);
        float g = gate_up[r * 2 * ffn + c];
        float u = gate_up[r * 2 * ffn + ffn + c];
        dst[i] = g / (1.0f + expf(-g)) * u;
    }
}

#define ATT_QUERIES 32        // queries of one block
#define ATT_KEYS 32           // keys of one shared-memory tile
#define ATT_MAX_HEAD_DIM 128  // the largest head_dim; a multiple of 4
#define ATT_PER (ATT_MAX_HEAD_DIM / 4)
#define ATT_NEG_INF __int_as_float(0xff800000)  // NVRTC has no math.h INFINITY

// attention writes the causal attention output of n new tokens of each of
// seqs sequences to out [seqs·n × heads·head_dim]. Queries (after RoPE)
// are the first heads·head_dim values of each row of qkv [seqs·n ×
// q_stride]. The key of sequence s, position p, KV head g is at
// keys + s·key_seq_stride + p·key_pos_stride + g·head_dim, its value
// value_offset further: the same kernel reads the rows of qkv
// (calibration windows) or a cache. Token t of a sequence sits at
// position start + t and sees positions 0 … start + t.
//
// A block of 128 threads serves ATT_QUERIES queries of one head of one
// sequence (grid: query tiles × heads × seqs), four threads a query,
// each holding every fourth dimension. Keys and values pass through
// shared memory ATT_KEYS at a time and the softmax is accumulated online
// (running maximum and sum), so any length fits. head_dim is a multiple
// of 4, at most ATT_MAX_HEAD_DIM; heads is a multiple of kv_heads.
extern "C" __global__ void attention(float* out, const float* qkv, const float* keys, int n, int start,
                                     int heads, int kv_heads, int head_dim, int q_stride,
                                     long long key_seq_stride, int key_pos_stride, int value_offset,
                                     float scale) {
    __shared__ float ks[ATT_KEYS][ATT_MAX_HEAD_DIM];
    __shared__ float vs[ATT_KEYS][ATT_MAX_HEAD_DIM];
    const int per = head_dim / 4;
    const int tid = threadIdx.x;
    const int lane = tid & 3;
    const int qi = blockIdx.x * ATT_QUERIES + (tid >> 2);
    const int head = blockIdx.y;
    const long long seq = blockIdx.z;
    const int group = head / (heads / kv_heads);
    const bool active = qi < n;
    const int qpos = start + qi;

    float q[ATT_PER], acc[ATT_PER];
    const float* qrow = qkv + (seq * n + (active ? qi : 0)) * (long long)q_stride + (long long)head * head_dim;
#pragma unroll
    for (int i = 0; i < ATT_PER; i++) {
        q[i] = (active && i < per) ? qrow[lane + 4 * i] : 0.0f;
        acc[i] = 0.0f;
    }
    float m = ATT_NEG_INF, l = 0.0f;
    // Keys [0, keys_end) are seen by some query of the block.
    const int last = min((int)(blockIdx.x + 1) * ATT_QUERIES, n) - 1;
    const int keys_end = start + last + 1;
    const float* kbase = keys + seq * key_seq_stride + (long long)group * head_dim;

    for (int k0 = 0; k0 < keys_end; k0 += ATT_KEYS) {
        __syncthreads();  // the previous tile is consumed
        for (int e = tid; e < ATT_KEYS * head_dim; e += blockDim.x) {
            int kr = e / head_dim, d = e % head_dim;
            float kval = 0.0f, vval = 0.0f;
            if (k0 + kr < keys_end) {
                const float* p = kbase + (long long)(k0 + kr) * key_pos_stride + d;
                kval = p[0];
                vval = p[value_offset];
            }
            ks[kr][d] = kval;
            vs[kr][d] = vval;
        }
        __syncthreads();

        float s[ATT_KEYS];
        float tile_max = ATT_NEG_INF;
#pragma unroll
        for (int j = 0; j < ATT_KEYS; j++) {
            float part = 0.0f;
#pragma unroll
            for (int i = 0; i < ATT_PER; i++) {
                if (i < per) {
                    part += q[i] * ks[j][lane + 4 * i];
                }
            }
            // The four threads of a query sum their parts in the same
            // order, so all four hold the same score.
            part += __shfl_xor_sync(0xffffffffu, part, 1);
            part += __shfl_xor_sync(0xffffffffu, part, 2);
            s[j] = (active && k0 + j <= qpos) ? part * scale : ATT_NEG_INF;
            tile_max = fmaxf(tile_max, s[j]);
        }
        float m_new = fmaxf(m, tile_max);
        if (m_new == ATT_NEG_INF) {
            continue;  // nothing visible yet (an inactive query)
        }
        float corr = expf(m - m_new);  // 0 on the first visible tile
        l *= corr;
#pragma unroll
        for (int i = 0; i < ATT_PER; i++) {
            acc[i] *= corr;
        }
#pragma unroll
        for (int j = 0; j < ATT_KEYS; j++) {
            float p = expf(s[j] - m_new);  // 0 where masked
            l += p;
#pragma unroll
            for (int i = 0; i < ATT_PER; i++) {
                if (i < per) {
                    acc[i] += p * vs[j][lane + 4 * i];
                }
            }
        }
        m = m_new;
    }
    if (active) {
        float inv = 1.0f / l;
        float* orow = out + (seq * n + qi) * (long long)heads * head_dim + (long long)head * head_dim;
#pragma unroll
        for (int i = 0; i < ATT_PER; i++) {
            if (i < per) {
                orow[lane + 4 * i] = acc[i] * inv;
            }
        }
    }
}
