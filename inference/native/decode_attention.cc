// ai.xtts DecodeAttention (KV cache fp32) and DecodeAttentionHalfCache (KV cache fp16): the decode step's
// attention as onnxruntime custom operators, on the CPU and the CUDA execution providers, registered on
// every session the addon opens (registerDecodeAttention). The step graph gpt_step_static_xattn*
// (trainer/xtts/export/static_fused.py) has one per layer.
//
//   inputs   q, k, v        float [S, H * dh]     this step's query, key and value (bias added)
//            cache_k/_v     T [S, H, M, dh]       the layer's cache (T: float, or float16 for ...HalfCache)
//            length         int64 [S]             row s's valid columns, [0, length[s])
//            active         bool [S]              rows that take a step
//   outputs  out            float [S, H * dh]     attention output (heads concatenated); 0 for inactive rows
//            cache_k/_v_out T [S, H, M, dh]       the cache with the active rows' new column length[s]
//                                                 written: bound by the caller to the inputs' buffers (then
//                                                 nothing else is copied); otherwise the op copies the
//                                                 input first
//   attributes num_heads (int), scale (float)
//   An active row's length must be in [0, M): the CPU kernel fails the run otherwise; the CUDA kernel, which
//   does not read lengths back to the host, leaves such a row as an inactive one (never writes past a row).
//
// Per active row and head: the new K/V rounded to T and written at column length[s]; scores q . K_j * scale
// over columns [0, length[s]] in fp32; softmax; out = sum_j p_j V_j in fp32. Each row reads its own
// columns only (onnxruntime's DecoderMaskedMultiHeadAttention reads every row to one bound), and an fp16
// cache keeps fp32 arithmetic (its fp16 kernel computes in fp16, which changed greedy codes:
// xtts.bench.kv_precision). The CUDA kernel is decode_attention.cu, loaded from the fatbin next to the addon
// through the driver API (no CUDA headers or link here, as in ort_device.cc).
#include <dlfcn.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "onnxruntime_c_api.h"

namespace xattn {

namespace {

const OrtApi* api() {
  static const OrtApi* a = OrtGetApiBase()->GetApi(ORT_API_VERSION);
  return a;
}

OrtStatus* fail(const std::string& msg) { return api()->CreateStatus(ORT_FAIL, ("DecodeAttention: " + msg).c_str()); }

uint16_t toHalf(float f) {
  // IEEE binary16, round to nearest even (the CUDA kernel's __float2half_rn).
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0));
  if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to infinity
  if (absx < 0x38800000u) {                                                 // subnormal or zero in half
    if (absx < 0x33000000u) return static_cast<uint16_t>(sign);
    const uint32_t mant = (absx & 0x7fffffu) | 0x800000u;
    const int shift = 126 - static_cast<int>(absx >> 23);  // 14..24
    uint32_t r = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (r & 1))) r++;
    return static_cast<uint16_t>(sign | r);
  }
  uint32_t r = absx - 0x38000000u;  // rebias 127 -> 15
  const uint32_t rest = r & 0x1fffu;
  r >>= 13;
  if (rest > 0x1000u || (rest == 0x1000u && (r & 1))) r++;
  return static_cast<uint16_t>(sign | r);
}

float fromHalf(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu;
  uint32_t x;
  if (e == 0) {
    if (m == 0) {
      x = sign;
    } else {  // subnormal
      float f = std::ldexp(static_cast<float>(m), -24);
      return sign ? -f : f;
    }
  } else if (e == 31) {
    x = sign | 0x7f800000u | (m << 13);
  } else {
    x = sign | ((e + 112) << 23) | (m << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

struct FloatCache {
  using T = float;
  static T to(float x) { return x; }
  static float from(T x) { return x; }
};
struct HalfCache {
  using T = uint16_t;
  static T to(float x) { return toHalf(x); }
  static float from(T x) { return fromHalf(x); }
};

// ---------- the CUDA kernel, through the driver API ----------

struct Driver {
  int (*ctxGetCurrent)(void**) = nullptr;
  int (*moduleLoadData)(void**, const void*) = nullptr;
  int (*moduleGetFunction)(void**, void*, const char*) = nullptr;
  int (*launch)(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void*, void**,
                void**) = nullptr;
  int (*copyAsync)(uint64_t, uint64_t, size_t, void*) = nullptr;
  int (*funcSetAttribute)(void*, int, int) = nullptr;
  std::string error;
};

const Driver& driver() {
  static const Driver d = [] {
    Driver r;
    void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
      r.error = "the CUDA driver (libcuda.so.1) could not be loaded";
      return r;
    }
    r.ctxGetCurrent = reinterpret_cast<int (*)(void**)>(dlsym(h, "cuCtxGetCurrent"));
    r.moduleLoadData = reinterpret_cast<int (*)(void**, const void*)>(dlsym(h, "cuModuleLoadData"));
    r.moduleGetFunction = reinterpret_cast<int (*)(void**, void*, const char*)>(dlsym(h, "cuModuleGetFunction"));
    r.launch = reinterpret_cast<int (*)(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                                        void*, void**, void**)>(dlsym(h, "cuLaunchKernel"));
    r.copyAsync = reinterpret_cast<int (*)(uint64_t, uint64_t, size_t, void*)>(dlsym(h, "cuMemcpyDtoDAsync_v2"));
    r.funcSetAttribute = reinterpret_cast<int (*)(void*, int, int)>(dlsym(h, "cuFuncSetAttribute"));
    if (!r.ctxGetCurrent || !r.moduleLoadData || !r.moduleGetFunction || !r.launch || !r.copyAsync ||
        !r.funcSetAttribute)
      r.error = "libcuda.so.1 lacks the module and launch calls";
    return r;
  }();
  return d;
}

// The fatbin's path: build/decode_attention.fatbin beside this addon (found through dladdr).
std::string fatbinPath() {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&fatbinPath), &info) || !info.dli_fname) return "decode_attention.fatbin";
  std::string self = info.dli_fname;
  const size_t slash = self.rfind('/');
  return (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) + "/decode_attention.fatbin";
}

// The kernels per CUDA context, loaded on first use.
struct Kernels {
  void* f32 = nullptr;
  void* f16 = nullptr;
};

OrtStatus* kernelsFor(Kernels* out) {
  const Driver& d = driver();
  if (!d.error.empty()) return fail(d.error);
  void* ctx = nullptr;
  if (d.ctxGetCurrent(&ctx) != 0 || !ctx) return fail("no current CUDA context on the thread running the op");
  static std::mutex mu;
  static std::map<void*, Kernels> loaded;
  static std::vector<char> image;
  std::lock_guard<std::mutex> lock(mu);
  auto it = loaded.find(ctx);
  if (it != loaded.end()) {
    *out = it->second;
    return nullptr;
  }
  if (image.empty()) {
    const std::string path = fatbinPath();
    std::ifstream f(path, std::ios::binary);
    image.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    if (image.empty())
      return fail(path + " is missing or empty: the addon was built without a CUDA toolkit (nvcc); run "
                         "npm run build:native where one is installed");
  }
  void* module = nullptr;
  int rc = d.moduleLoadData(&module, image.data());
  if (rc != 0) return fail("cuModuleLoadData failed with CUDA error " + std::to_string(rc) + " (no code for this GPU?)");
  Kernels k;
  if (d.moduleGetFunction(&k.f32, module, "xtts_decode_attention_f32") != 0 ||
      d.moduleGetFunction(&k.f16, module, "xtts_decode_attention_f16") != 0)
    return fail("the fatbin lacks the xtts_decode_attention kernels");
  loaded[ctx] = k;
  *out = k;
  return nullptr;
}

// Threads per block: 128 where the blocks (rows x heads) fill the GPU; more where they are few (one row:
// 16 blocks on a GPU of 132 SMs), so that a block's columns are read by more threads at once (at one row
// and 1,000 columns, 128 threads take 32 passes of 8 columns each; 1,024 take 4 of 64).
unsigned threadsFor(int64_t blocks) { return blocks >= 512 ? 128 : blocks >= 128 ? 256 : blocks >= 32 ? 512 : 1024; }

// ---------- the op ----------

struct Kernel {
  int64_t heads = 0;
  float scale = 0;
  bool cuda = false;
  bool half = false;
};

struct Op {
  OrtCustomOp base;
  const char* name;
  bool cuda;
  bool half;
};

const Op& opOf(const OrtCustomOp* o) { return *reinterpret_cast<const Op*>(o); }

struct Shape {
  std::vector<int64_t> dims;
  ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  size_t count() const {
    size_t n = 1;
    for (int64_t d : dims) n *= static_cast<size_t>(d);
    return n;
  }
};

OrtStatus* shapeOf(const OrtValue* v, Shape* s) {
  OrtTensorTypeAndShapeInfo* info = nullptr;
  if (OrtStatus* st = api()->GetTensorTypeAndShape(v, &info)) return st;
  size_t n = 0;
  OrtStatus* st = api()->GetDimensionsCount(info, &n);
  if (!st) {
    s->dims.resize(n);
    st = api()->GetDimensions(info, s->dims.data(), n);
  }
  if (!st) st = api()->GetTensorElementType(info, &s->type);
  api()->ReleaseTensorTypeAndShapeInfo(info);
  return st;
}

template <typename C>
void computeCpu(const float* q, const float* k, const float* v, typename C::T* ck, typename C::T* cv,
                const int64_t* length, const bool* active, float* out, int64_t rows, int64_t heads, int64_t maxLen,
                int64_t dh, float scale) {
  std::vector<float> scores(static_cast<size_t>(maxLen));
  const int64_t width = heads * dh;
  for (int64_t s = 0; s < rows; s++) {
    for (int64_t h = 0; h < heads; h++) {
      float* o = out + s * width + h * dh;
      if (!active[s]) {
        std::fill(o, o + dh, 0.f);
        continue;
      }
      const int64_t len = length[s];
      typename C::T* kc = ck + (s * heads + h) * maxLen * dh;
      typename C::T* vc = cv + (s * heads + h) * maxLen * dh;
      for (int64_t i = 0; i < dh; i++) {
        kc[len * dh + i] = C::to(k[s * width + h * dh + i]);
        vc[len * dh + i] = C::to(v[s * width + h * dh + i]);
      }
      const float* qh = q + s * width + h * dh;
      float m = -INFINITY;
      for (int64_t j = 0; j <= len; j++) {
        float d = 0;
        for (int64_t i = 0; i < dh; i++) d += qh[i] * C::from(kc[j * dh + i]);
        scores[j] = d * scale;
        m = std::max(m, scores[j]);
      }
      float sum = 0;
      for (int64_t j = 0; j <= len; j++) sum += (scores[j] = std::exp(scores[j] - m));
      std::fill(o, o + dh, 0.f);
      for (int64_t j = 0; j <= len; j++)
        for (int64_t i = 0; i < dh; i++) o[i] += scores[j] * C::from(vc[j * dh + i]);
      for (int64_t i = 0; i < dh; i++) o[i] /= sum;
    }
  }
}

OrtStatus* compute(void* self, OrtKernelContext* ctx) {
  const Kernel& kn = *static_cast<Kernel*>(self);
  const OrtApi* a = api();
  const OrtValue* in[7] = {};
  for (size_t i = 0; i < 7; i++)
    if (OrtStatus* st = a->KernelContext_GetInput(ctx, i, &in[i])) return st;
  Shape q, kc, len;
  if (OrtStatus* st = shapeOf(in[0], &q)) return st;
  if (OrtStatus* st = shapeOf(in[3], &kc)) return st;
  if (OrtStatus* st = shapeOf(in[5], &len)) return st;
  if (q.dims.size() != 2 || kc.dims.size() != 4) return fail("q must be [S, H * dh] and cache_k [S, H, M, dh]");
  const int64_t rows = q.dims[0], heads = kc.dims[1], maxLen = kc.dims[2], dh = kc.dims[3];
  if (kc.dims[0] != rows || heads != kn.heads || heads * dh != q.dims[1] || len.count() != static_cast<size_t>(rows))
    return fail("q [" + std::to_string(q.dims[0]) + ", " + std::to_string(q.dims[1]) + "] does not fit cache_k [" +
                std::to_string(kc.dims[0]) + ", " + std::to_string(heads) + ", " + std::to_string(maxLen) + ", " +
                std::to_string(dh) + "] with num_heads " + std::to_string(kn.heads));
  OrtValue* outs[3] = {};
  const int64_t outDims[2] = {rows, heads * dh};
  if (OrtStatus* st = a->KernelContext_GetOutput(ctx, 0, outDims, 2, &outs[0])) return st;
  for (size_t i = 1; i < 3; i++)
    if (OrtStatus* st = a->KernelContext_GetOutput(ctx, i, kc.dims.data(), kc.dims.size(), &outs[i])) return st;
  void* p[7] = {};
  for (size_t i = 0; i < 7; i++)
    if (OrtStatus* st = a->GetTensorMutableData(const_cast<OrtValue*>(in[i]), &p[i])) return st;
  void* o[3] = {};
  for (size_t i = 0; i < 3; i++)
    if (OrtStatus* st = a->GetTensorMutableData(outs[i], &o[i])) return st;
  const size_t cacheBytes = kc.count() * (kn.half ? 2 : 4);
  if (!kn.cuda) {
    // Not bound in place: the output starts as the input.
    for (size_t i = 1; i < 3; i++)
      if (o[i] != p[i + 2]) std::memcpy(o[i], p[i + 2], cacheBytes);
    const auto* q32 = static_cast<const float*>(p[0]);
    const auto* k32 = static_cast<const float*>(p[1]);
    const auto* v32 = static_cast<const float*>(p[2]);
    const auto* l64 = static_cast<const int64_t*>(p[5]);
    const auto* act = static_cast<const bool*>(p[6]);
    for (int64_t s = 0; s < rows; s++)
      if (act[s] && (l64[s] < 0 || l64[s] >= maxLen))
        return fail("row " + std::to_string(s) + " is active with length " + std::to_string(l64[s]) +
                    ", outside [0, " + std::to_string(maxLen) + ")");
    if (kn.half)
      computeCpu<HalfCache>(q32, k32, v32, static_cast<uint16_t*>(o[1]), static_cast<uint16_t*>(o[2]), l64, act,
                            static_cast<float*>(o[0]), rows, heads, maxLen, dh, kn.scale);
    else
      computeCpu<FloatCache>(q32, k32, v32, static_cast<float*>(o[1]), static_cast<float*>(o[2]), l64, act,
                             static_cast<float*>(o[0]), rows, heads, maxLen, dh, kn.scale);
    return nullptr;
  }
  // CUDA. The kernel's groups of dh / 4 threads share a warp: dh / 4 must be a power of two up to 32.
  const int64_t group = dh / 4;
  if (dh % 4 != 0 || group > 32 || (group & (group - 1)) != 0)
    return fail("head dim " + std::to_string(dh) + " is not 4 times a power of two up to 128");
  Kernels ks;
  if (OrtStatus* st = kernelsFor(&ks)) return st;
  void* stream = nullptr;
  if (OrtStatus* st = a->KernelContext_GetGPUComputeStream(ctx, &stream)) return st;
  const Driver& d = driver();
  for (size_t i = 1; i < 3; i++)
    if (o[i] != p[i + 2]) {
      const int rc = d.copyAsync(reinterpret_cast<uint64_t>(o[i]), reinterpret_cast<uint64_t>(p[i + 2]), cacheBytes,
                                 stream);
      if (rc != 0) return fail("cuMemcpyDtoDAsync failed with CUDA error " + std::to_string(rc));
    }
  int iHeads = static_cast<int>(heads), iMax = static_cast<int>(maxLen), iDh = static_cast<int>(dh);
  float scale = kn.scale;
  void* args[] = {&p[0], &p[1], &p[2], &o[1], &o[2], &p[5], &p[6], &o[0], &iHeads, &iMax, &iDh, &scale};
  const unsigned threads = threadsFor(rows * heads);
  // Shared memory: the scores [M], then [groups, dh] partial sums (4 * threads floats).
  const unsigned shared = static_cast<unsigned>((maxLen + 4 * threads) * sizeof(float));
  void* fn = kn.half ? ks.f16 : ks.f32;
  if (shared > 48 * 1024) {
    constexpr int kMaxDynamicShared = 8;  // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
    d.funcSetAttribute(fn, kMaxDynamicShared, static_cast<int>(shared));
  }
  const int rc = d.launch(fn, static_cast<unsigned>(heads), static_cast<unsigned>(rows), 1, threads, 1, 1, shared,
                          stream, args, nullptr);
  if (rc != 0) return fail("cuLaunchKernel failed with CUDA error " + std::to_string(rc));
  return nullptr;
}

OrtStatus* ORT_API_CALL createKernel(const OrtCustomOp* o, const OrtApi* a, const OrtKernelInfo* info, void** out) {
  auto* k = new Kernel();
  k->cuda = opOf(o).cuda;
  k->half = opOf(o).half;
  OrtStatus* st = a->KernelInfoGetAttribute_int64(info, "num_heads", &k->heads);
  if (!st) st = a->KernelInfoGetAttribute_float(info, "scale", &k->scale);
  if (!st && k->heads <= 0) st = fail("num_heads must be positive");
  if (st) {
    delete k;
    return st;
  }
  *out = k;
  return nullptr;
}

const char* ORT_API_CALL opName(const OrtCustomOp* o) { return opOf(o).name; }
const char* ORT_API_CALL opProvider(const OrtCustomOp* o) {
  return opOf(o).cuda ? "CUDAExecutionProvider" : "CPUExecutionProvider";
}
ONNXTensorElementDataType ORT_API_CALL inputType(const OrtCustomOp* o, size_t i) {
  if (i == 3 || i == 4) return opOf(o).half ? ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  if (i == 5) return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;
  if (i == 6) return ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL;
  return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
}
size_t ORT_API_CALL inputCount(const OrtCustomOp*) { return 7; }
ONNXTensorElementDataType ORT_API_CALL outputType(const OrtCustomOp* o, size_t i) {
  if (i == 0) return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  return opOf(o).half ? ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
}
size_t ORT_API_CALL outputCount(const OrtCustomOp*) { return 3; }
void ORT_API_CALL destroyKernel(void* k) { delete static_cast<Kernel*>(k); }
OrtCustomOpInputOutputCharacteristic ORT_API_CALL required(const OrtCustomOp*, size_t) {
  return INPUT_OUTPUT_REQUIRED;
}
OrtMemType ORT_API_CALL inputMemory(const OrtCustomOp*, size_t) { return OrtMemTypeDefault; }
int ORT_API_CALL one(const OrtCustomOp*) { return 1; }
int ORT_API_CALL zero(const OrtCustomOp*) { return 0; }
int ORT_API_CALL endVersion(const OrtCustomOp*) { return 1 << 30; }

Op makeOp(const char* name, bool cuda, bool half) {
  Op op{};
  op.name = name;
  op.cuda = cuda;
  op.half = half;
  OrtCustomOp& b = op.base;
  b.version = ORT_API_VERSION;
  b.GetName = opName;
  b.GetExecutionProviderType = opProvider;
  b.GetInputType = inputType;
  b.GetInputTypeCount = inputCount;
  b.GetOutputType = outputType;
  b.GetOutputTypeCount = outputCount;
  b.KernelDestroy = destroyKernel;
  b.GetInputCharacteristic = required;
  b.GetOutputCharacteristic = required;
  b.GetInputMemoryType = inputMemory;
  b.GetVariadicInputMinArity = one;
  b.GetVariadicInputHomogeneity = zero;
  b.GetVariadicOutputMinArity = one;
  b.GetVariadicOutputHomogeneity = zero;
  b.CreateKernelV2 = createKernel;
  b.KernelComputeV2 = compute;
  b.GetStartVersion = one;
  b.GetEndVersion = endVersion;
  return op;
}

}  // namespace

// Adds the ai.xtts domain (both ops, CPU and CUDA kernels) to a session's options. The domain is made once
// and kept for the process: onnxruntime reads it whenever a session using it is created.
OrtStatus* registerDecodeAttention(OrtSessionOptions* so) {
  static Op ops[] = {makeOp("DecodeAttention", false, false), makeOp("DecodeAttention", true, false),
                     makeOp("DecodeAttentionHalfCache", false, true), makeOp("DecodeAttentionHalfCache", true, true)};
  static OrtCustomOpDomain* domain = nullptr;
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (!domain) {
    OrtCustomOpDomain* d = nullptr;
    if (OrtStatus* st = api()->CreateCustomOpDomain("ai.xtts", &d)) return st;
    for (Op& op : ops)
      if (OrtStatus* st = api()->CustomOpDomain_Add(d, &op.base)) {
        api()->ReleaseCustomOpDomain(d);
        return st;
      }
    domain = d;
  }
  return api()->AddCustomOpDomain(so, domain);
}

}  // namespace xattn
