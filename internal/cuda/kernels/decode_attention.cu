// Attention of one new token per sequence (decode), split over the key
// range so that short and long contexts alike spread over the device
// (flash-decoding): each block reduces a part of the keys to a running
// maximum, sum and weighted sum of values, and the last block of a head
// to finish merges the parts. The position may be read from device
// memory, so that one recorded launch serves every step.

#define DEC_WARPS 8   // warps of a block
#define DEC_UNROLL 4  // keys a warp loads before using them
#define DEC_MAX_HEAD_DIM 128
#define DEC_NEG_INF __int_as_float(0xff800000)

// combine_splits merges the splits parts [splits × (head_dim + 2)] of one
// head, written by other blocks (read past the L1 cache, which does not
// see them), into out [head_dim].
__device__ void combine_splits(float* out, const volatile float* part, int head_dim, int splits) {
    const int width = head_dim + 2;
    float top = DEC_NEG_INF;
    for (int s = 0; s < splits; s++) {
        top = fmaxf(top, part[s * width]);
    }
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float sum = 0.0f, value = 0.0f;
        for (int s = 0; s < splits; s++) {
            const float m = part[s * width];
            if (m != DEC_NEG_INF) {  // a split past the keys adds nothing
                const float f = expf(m - top);
                sum += part[s * width + 1] * f;
                value += part[s * width + 2 + d] * f;
            }
        }
        out[d] = value / sum;  // split 0 holds key 0: sum > 0
    }
}

// decode_attention writes the attention output of the one new token of
// each of seqs sequences. Its position is start, plus *start_at when
// start_at is not null, and it sees positions 0 … position. Queries, keys
// and values are laid out as for attention (layer.cu), with n = 1. The
// keys are split into gridDim.x parts of equal length (grid: splits ×
// heads × seqs), and the output goes to out [seqs × heads·head_dim]. With
// more than one split each block writes its (max, sum, weighted
// values[head_dim]) to partial [seqs × heads × splits × (head_dim + 2)]
// and counts itself in arrived [seqs × heads] (zero before the launch);
// the last block of a head to arrive merges the head's parts and sets its
// count back to zero for the next launch.
//
// A warp takes DEC_UNROLL keys at a time, each lane holding four
// dimensions (float4 loads of 16-byte aligned rows); head_dim is a
// multiple of 4, at most DEC_MAX_HEAD_DIM; blockDim.x is 32·DEC_WARPS.
//
// With ROPE (decode_attention_rope), qkv holds the token's q, k and v
// before RoPE (a row of [heads | kv_heads | kv_heads] heads of head_dim,
// head_dim even) and the kernel does what rope (layer.cu) does first: each
// block rotates its query head and its KV head's key as rope does, using
// them in place of the cache's entry at the position, and the first split
// of the first query head of each KV head stores the key and value into
// the cache keys at the position for the steps after.
template <bool ROPE>
__device__ void decode_attend(float* out, float* partial, unsigned* arrived, const float* qkv, float* keys,
                              const float* inv_freq, const int* start_at, int start, int heads, int kv_heads,
                              int head_dim, int q_stride, long long key_seq_stride, int key_pos_stride,
                              int value_offset, float scale) {
    grid_dependents_launch();
    grid_dependency_wait();
    __shared__ float warp_max[DEC_WARPS], warp_sum[DEC_WARPS];
    __shared__ float warp_acc[DEC_WARPS][DEC_MAX_HEAD_DIM];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int split = blockIdx.x, splits = gridDim.x, head = blockIdx.y;
    const long long seq = blockIdx.z;
    const int group = head / (heads / kv_heads);
    const int len = start + (start_at ? *start_at : 0) + 1;
    const int chunk = (len + splits - 1) / splits;
    const int begin = split * chunk, end = min(len, begin + chunk);
    const bool holds = 4 * lane < head_dim;  // lanes past head_dim/4 hold zeros
    const float4 zero4 = make_float4(0.0f, 0.0f, 0.0f, 0.0f);

    // The query and, with ROPE, the key and value at the position.
    __shared__ __align__(16) float rotated_q[DEC_MAX_HEAD_DIM], current_k[DEC_MAX_HEAD_DIM],
        current_v[DEC_MAX_HEAD_DIM];
    const int pos = len - 1;
    if (ROPE) {
        const int half = head_dim / 2, q_dim = heads * head_dim, kv_dim = kv_heads * head_dim;
        const float* qh = qkv + seq * q_stride + (long long)head * head_dim;
        const float* kh = qkv + seq * q_stride + q_dim + (long long)group * head_dim;
        const float* vh = kh + kv_dim;
        for (int j = threadIdx.x; j < half; j += blockDim.x) {
            const float angle = (float)pos * inv_freq[j];
            double sd, cd;
            sincos((double)angle, &sd, &cd);
            const float cs = (float)cd, sn = (float)sd;
            float x1 = qh[j], x2 = qh[j + half];
            rotated_q[j] = x1 * cs - x2 * sn;
            rotated_q[j + half] = x2 * cs + x1 * sn;
            x1 = kh[j];
            x2 = kh[j + half];
            current_k[j] = x1 * cs - x2 * sn;
            current_k[j + half] = x2 * cs + x1 * sn;
            current_v[j] = vh[j];
            current_v[j + half] = vh[j + half];
        }
        __syncthreads();
        if (split == 0 && head % (heads / kv_heads) == 0) {
            float* entry = keys + seq * key_seq_stride + (long long)pos * key_pos_stride + (long long)group * head_dim;
            for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
                entry[d] = current_k[d];
                entry[value_offset + d] = current_v[d];
            }
        }
    }
    const float4 q = !holds ? zero4
                     : ROPE ? *reinterpret_cast<const float4*>(rotated_q + 4 * lane)
                            : *reinterpret_cast<const float4*>(qkv + seq * q_stride + (long long)head * head_dim + 4 * lane);
    const float* kbase = keys + seq * key_seq_stride + (long long)group * head_dim + 4 * lane;
    float m = DEC_NEG_INF, l = 0.0f;
    float4 acc = zero4;
    for (int k0 = begin + warp * DEC_UNROLL; k0 < end; k0 += DEC_WARPS * DEC_UNROLL) {
        float4 kv[DEC_UNROLL], vv[DEC_UNROLL];
#pragma unroll
        for (int u = 0; u < DEC_UNROLL; u++) {
            const bool ok = holds && k0 + u < end;
            const float* at = kbase + (long long)(k0 + u) * key_pos_stride;
            kv[u] = ok ? *reinterpret_cast<const float4*>(at) : zero4;
            vv[u] = ok ? *reinterpret_cast<const float4*>(at + value_offset) : zero4;
            if (ROPE && ok && k0 + u == pos) { // not in the cache before this launch ends
                kv[u] = *reinterpret_cast<const float4*>(current_k + 4 * lane);
                vv[u] = *reinterpret_cast<const float4*>(current_v + 4 * lane);
            }
        }
        float s[DEC_UNROLL];
        float tile_max = DEC_NEG_INF;
#pragma unroll
        for (int u = 0; u < DEC_UNROLL; u++) {
            float d = q.x * kv[u].x + q.y * kv[u].y + q.z * kv[u].z + q.w * kv[u].w;
#pragma unroll
            for (int off = 16; off > 0; off >>= 1) {
                d += __shfl_xor_sync(0xffffffffu, d, off);
            }
            s[u] = k0 + u < end ? d * scale : DEC_NEG_INF;
            tile_max = fmaxf(tile_max, s[u]);
        }
        // k0 < end, so s[0] and tile_max are finite.
        const float m_new = fmaxf(m, tile_max);
        const float corr = expf(m - m_new);  // 0 on the warp's first keys
        l *= corr;
        acc.x *= corr;
        acc.y *= corr;
        acc.z *= corr;
        acc.w *= corr;
#pragma unroll
        for (int u = 0; u < DEC_UNROLL; u++) {
            const float p = expf(s[u] - m_new);  // 0 past the end
            l += p;
            acc.x += p * vv[u].x;
            acc.y += p * vv[u].y;
            acc.z += p * vv[u].z;
            acc.w += p * vv[u].w;
        }
        m = m_new;
    }
    if (lane == 0) {
        warp_max[warp] = m;
        warp_sum[warp] = l;
    }
    if (holds) {
        warp_acc[warp][4 * lane] = acc.x;
        warp_acc[warp][4 * lane + 1] = acc.y;
        warp_acc[warp][4 * lane + 2] = acc.z;
        warp_acc[warp][4 * lane + 3] = acc.w;
    }
    __syncthreads();
    float block_max = DEC_NEG_INF;
    for (int w = 0; w < DEC_WARPS; w++) {
        block_max = fmaxf(block_max, warp_max[w]);
    }
    const long long sh = seq * heads + head;
    float* part = partial + sh * splits * (head_dim + 2);
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float sum = 0.0f, value = 0.0f;
        for (int w = 0; w < DEC_WARPS; w++) {
            if (warp_max[w] != DEC_NEG_INF) {  // a warp without keys adds nothing
                const float f = expf(warp_max[w] - block_max);
                sum += warp_sum[w] * f;
                value += warp_acc[w][d] * f;
            }
        }
        if (splits == 1) {
            out[sh * head_dim + d] = value / sum;  // the one split holds key 0: sum > 0
        } else {
            float* mine = part + split * (head_dim + 2);
            if (d == 0) {
                mine[0] = block_max;  // -inf for a split past the keys
                mine[1] = sum;
            }
            mine[2 + d] = value;
        }
    }
    if (splits == 1) {
        return;
    }
    // The last block to arrive sees every part: each block's writes are
    // made visible device-wide before it counts itself.
    __shared__ bool last;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
        last = atomicAdd(arrived + sh, 1u) == (unsigned)splits - 1;
    }
    __syncthreads();
    if (!last) {
        return;
    }
    __threadfence();
    combine_splits(out + sh * head_dim, part, head_dim, splits);
    if (threadIdx.x == 0) {
        arrived[sh] = 0;
    }
}

#define DECODE_ATTENTION_ARGS                                                                                    \
    float *out, float *partial, unsigned *arrived, const float *qkv, float *keys, const int *start_at, int start, \
        int heads, int kv_heads, int head_dim, int q_stride, long long key_seq_stride, int key_pos_stride,        \
        int value_offset, float scale
extern "C" __global__ void decode_attention(DECODE_ATTENTION_ARGS) {
    decode_attend<false>(out, partial, arrived, qkv, keys, nullptr, start_at, start, heads, kv_heads, head_dim,
                         q_stride, key_seq_stride, key_pos_stride, value_offset, scale);
}

// decode_attention_rope: decode_attend with ROPE, inv_freq [head_dim/2]
// the inverse frequencies as for rope.
extern "C" __global__ void decode_attention_rope(DECODE_ATTENTION_ARGS, const float* inv_freq) {
    decode_attend<true>(out, partial, arrived, qkv, keys, inv_freq, start_at, start, heads, kv_heads, head_dim,
                        q_stride, key_seq_stride, key_pos_stride, value_offset, scale);
}
