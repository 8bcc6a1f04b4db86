// The decode step's attention over a KV cache that stays where it is (decode_attention.cc registers it
// with onnxruntime as ai.xtts DecodeAttention / DecodeAttentionHalfCache): built by build.sh with nvcc
// into build/decode_attention.fatbin when a CUDA toolkit is there, and loaded through the driver API
// (cuModuleLoadData) on first use, so the addon itself links no CUDA library.
//
// Why our own kernel: onnxruntime's DecoderMaskedMultiHeadAttention reads every row up to one bound for
// the whole batch (the longest row's length), and its fp16 form also does its arithmetic in fp16, which
// changed greedy codes (xtts.bench.kv_precision); this one reads each row only up to its own length and
// keeps an fp16 cache's keys and values in fp32 arithmetic.
//
// One block per (head, row); blockDim.x threads in groups of dh / 4, one group per cache column at a
// time (4 consecutive values per thread: one 16-byte load of fp32, 8 bytes of fp16). Per block:
//   if !active[s]: out = 0, nothing written;
//   else: the new K/V (rounded to the cache's type) written at column length[s]; scores over columns
//   [0, length[s]] (the new one last) in fp32, scaled; softmax; out = sum_j p_j v_j in fp32.
#include <cuda_fp16.h>
#include <stdint.h>

namespace {

__device__ __forceinline__ float4 load4(const float* p) { return *reinterpret_cast<const float4*>(p); }

__device__ __forceinline__ float4 load4(const __half* p) {
  const uint2 raw = *reinterpret_cast<const uint2*>(p);
  const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&raw.x));
  const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&raw.y));
  return make_float4(a.x, a.y, b.x, b.y);
}

__device__ __forceinline__ float toCache(float x, float*) { return x; }
__device__ __forceinline__ __half toCache(float x, __half*) { return __float2half_rn(x); }

// Columns handled per group per pass: the loads of UNROLL columns are issued before their reductions.
constexpr int UNROLL = 4;

template <typename T>
__device__ void attend(const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
                       T* __restrict__ cacheK, T* __restrict__ cacheV, const int64_t* __restrict__ length,
                       const bool* __restrict__ active, float* __restrict__ out, int heads, int maxLen, int dh,
                       float scale) {
  extern __shared__ float shared[];
  const int h = blockIdx.x, s = blockIdx.y, tid = threadIdx.x;
  const int width = heads * dh;
  const float* qh = q + (size_t)s * width + h * dh;
  float* oh = out + (size_t)s * width + h * dh;
  const int64_t len64 = length[s];  // valid columns before this step's; the new one goes at column len
  // An active row always has a column left (the step's `room`); a length outside [0, M) is treated as an
  // inactive row rather than written past the row's cache (the CPU kernel refuses it with an error).
  if (!active[s] || len64 < 0 || len64 >= maxLen) {
    for (int i = tid; i < dh; i += blockDim.x) oh[i] = 0.f;
    return;
  }
  const int len = (int)len64;
  const size_t base = ((size_t)s * heads + h) * (size_t)maxLen * dh;
  T* kc = cacheK + base;
  T* vc = cacheV + base;
  const float* kh = k + (size_t)s * width + h * dh;
  const float* vh = v + (size_t)s * width + h * dh;
  for (int i = tid; i < dh; i += blockDim.x) {
    kc[(size_t)len * dh + i] = toCache(kh[i], kc);
    vc[(size_t)len * dh + i] = toCache(vh[i], vc);
  }
  __syncthreads();  // the new column is read back below (global writes are visible to the block after this)

  const int n = len + 1;
  const int group = dh / 4, groups = blockDim.x / group;
  const int g = tid / group, lane = tid % group;
  float* scores = shared;                  // [maxLen]
  float* partial = shared + maxLen;        // [groups, dh], then [32] for the block reductions
  const float4 qv = load4(qh + lane * 4);

  for (int j0 = 0; j0 < n; j0 += groups * UNROLL) {
    float d[UNROLL];
#pragma unroll
    for (int u = 0; u < UNROLL; u++) {
      const int j = j0 + u * groups + g;
      d[u] = 0.f;
      if (j < n) {
        const float4 kv = load4(kc + (size_t)j * dh + lane * 4);
        d[u] = qv.x * kv.x + qv.y * kv.y + qv.z * kv.z + qv.w * kv.w;
      }
    }
#pragma unroll
    for (int u = 0; u < UNROLL; u++) {
      // Every thread of the warp runs these shuffles (no thread has left the loop: its bounds are the block's).
      for (int off = group / 2; off > 0; off >>= 1) d[u] += __shfl_xor_sync(0xffffffffu, d[u], off);
      const int j = j0 + u * groups + g;
      if (lane == 0 && j < n) scores[j] = d[u] * scale;
    }
  }
  __syncthreads();

  // Block max and sum over the n scores (warp shuffles, then one value per warp in `partial`).
  const int warps = blockDim.x / 32, wid = tid / 32, wl = tid % 32;
  float m = -INFINITY;
  for (int j = tid; j < n; j += blockDim.x) m = fmaxf(m, scores[j]);
  for (int off = 16; off > 0; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
  if (wl == 0) partial[wid] = m;
  __syncthreads();
  m = partial[0];
  for (int w = 1; w < warps; w++) m = fmaxf(m, partial[w]);
  __syncthreads();
  float sum = 0.f;
  for (int j = tid; j < n; j += blockDim.x) {
    const float e = __expf(scores[j] - m);
    scores[j] = e;
    sum += e;
  }
  for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  if (wl == 0) partial[wid] = sum;
  __syncthreads();
  sum = 0.f;
  for (int w = 0; w < warps; w++) sum += partial[w];
  __syncthreads();

  float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
  for (int j = g; j < n; j += groups) {
    const float p = scores[j];
    const float4 vv = load4(vc + (size_t)j * dh + lane * 4);
    acc.x += p * vv.x;
    acc.y += p * vv.y;
    acc.z += p * vv.z;
    acc.w += p * vv.w;
  }
  float* mine = partial + g * dh + lane * 4;
  mine[0] = acc.x;
  mine[1] = acc.y;
  mine[2] = acc.z;
  mine[3] = acc.w;
  __syncthreads();
  const float inv = 1.f / sum;
  for (int i = tid; i < dh; i += blockDim.x) {
    float t = 0.f;
    for (int w = 0; w < groups; w++) t += partial[w * dh + i];
    oh[i] = t * inv;
  }
}

}  // namespace

extern "C" __global__ void xtts_decode_attention_f32(const float* q, const float* k, const float* v, float* cacheK,
                                                     float* cacheV, const int64_t* length, const bool* active,
                                                     float* out, int heads, int maxLen, int dh, float scale) {
  attend<float>(q, k, v, cacheK, cacheV, length, active, out, heads, maxLen, dh, scale);
}

extern "C" __global__ void xtts_decode_attention_f16(const float* q, const float* k, const float* v, __half* cacheK,
                                                     __half* cacheV, const int64_t* length, const bool* active,
                                                     float* out, int heads, int maxLen, int dh, float scale) {
  attend<__half>(q, k, v, cacheK, cacheV, length, active, out, heads, maxLen, dh, scale);
}
