// ort_device.node: device-resident tensors and IoBinding runs over onnxruntime's C API.
//
// onnxruntime-node hands every output back in host memory, so a decode loop that feeds its KV cache
// from one run() to the next copies the whole cache over PCIe twice per run. This addon opens its own
// sessions (in the same libonnxruntime.so.1 as onnxruntime-node) and runs them with an IoBinding whose
// inputs and outputs may stay in the session's device memory: an output bound to the device comes back
// as a DeviceTensor that the next run takes as an input without a copy.
//
// Only onnxruntime_c_api.h is used (no C++ API, no CUDA runtime): host <-> CUDA copies go through
// onnxruntime too, as a run of a one-node Identity graph on the session's device (see Copier).
//
// JS surface (wrapped and typed by index.ts):
//   ortVersion: string, apiVersion: number
//   new Session(path | modelBytes, {device, deviceId, threads, cudaGraph, cpuMemArena, config, providerOptions,
//               copyWithGraph, name, ownThread, streamPriority, smCount, sharedArena, dims})
//     .inputs / .outputs: [{name, type, shape}]   .device: 'cpu' | 'cuda'   .sms: [got, of device] | null
//     .alloc(type, dims, data?) -> Tensor          zero-filled, or holding data (a typed array)
//     .run(inputs, outputs) -> Promise<{name: Tensor | {type, dims, data}}>
//         inputs: {name: Tensor | {type, dims, data}}  (host data is copied in by onnxruntime)
//         outputs: {name: 'device' | 'cpu' | Tensor}   (a Tensor: written in place, fixed shape)
//     .bind(inputs, outputs) -> Binding                 device Tensors only; an output may be an input's Tensor
//     .release()
//   (options.dims: {name: size} free-dimension overrides)
//   Tensor: .type .dims .device .released .address  .upload(typedArray, {offset}?)
//           .download(typedArray?, {offset}?) | .download({offset, length}) -> typedArray  .release()
//   Binding: .run(times = 1) -> Promise<void>  .running .graphId  .release()
//
// Errors are JS Errors with `code` (ERR_ORT_<onnxruntime's code>, ERR_NATIVE_ARGUMENT, ERR_NATIVE_RELEASED,
// ERR_NATIVE_BUSY) and a message naming the input, output or argument at fault.
#include <dlfcn.h>
#include <node_api.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <set>
#include <thread>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "onnxruntime_c_api.h"

namespace xattn {
// decode_attention.cc: the ai.xtts domain's DecodeAttention ops, added to every session this addon opens.
OrtStatus* registerDecodeAttention(OrtSessionOptions* so);
}  // namespace xattn

namespace {

const OrtApi* ort = nullptr;
OrtEnv* env = nullptr;

// ---------- errors ----------

// A failure to report to JS: code and message.
struct Failure : std::runtime_error {
  std::string code;
  Failure(std::string c, const std::string& m) : std::runtime_error(m), code(std::move(c)) {}
};

const char* ortCodeName(OrtErrorCode c) {
  switch (c) {
    case ORT_FAIL: return "FAIL";
    case ORT_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case ORT_NO_SUCHFILE: return "NO_SUCHFILE";
    case ORT_NO_MODEL: return "NO_MODEL";
    case ORT_ENGINE_ERROR: return "ENGINE_ERROR";
    case ORT_RUNTIME_EXCEPTION: return "RUNTIME_EXCEPTION";
    case ORT_INVALID_PROTOBUF: return "INVALID_PROTOBUF";
    case ORT_MODEL_LOADED: return "MODEL_LOADED";
    case ORT_NOT_IMPLEMENTED: return "NOT_IMPLEMENTED";
    case ORT_INVALID_GRAPH: return "INVALID_GRAPH";
    case ORT_EP_FAIL: return "EP_FAIL";
    default: return "UNKNOWN";
  }
}

// Throws a Failure carrying onnxruntime's message when status is an error; `what` says what was tried.
void check(OrtStatus* status, const std::string& what) {
  if (!status) return;
  std::string msg = ort->GetErrorMessage(status);
  std::string code = std::string("ERR_ORT_") + ortCodeName(ort->GetErrorCode(status));
  ort->ReleaseStatus(status);
  throw Failure(code, what + ": " + msg);
}

[[noreturn]] void bad(const std::string& msg) { throw Failure("ERR_NATIVE_ARGUMENT", msg); }

void throwJs(napi_env e, const Failure& f) { napi_throw_error(e, f.code.c_str(), f.what()); }

napi_value makeError(napi_env e, const std::string& code, const std::string& msg) {
  napi_value c, m, err;
  napi_create_string_utf8(e, code.c_str(), code.size(), &c);
  napi_create_string_utf8(e, msg.c_str(), msg.size(), &m);
  napi_create_error(e, c, m, &err);
  return err;
}

// N-API calls that fail only on misuse of the API (a wrong type where the wrapper checked it).
#define NAPI(call)                                                          \
  do {                                                                      \
    if ((call) != napi_ok) bad(std::string("Node-API call failed: " #call)); \
  } while (0)

// ---------- element types ----------

struct TypeInfo {
  const char* name;
  ONNXTensorElementDataType ort;
  napi_typedarray_type js;
  size_t size;
};
const TypeInfo kTypes[] = {
    {"float32", ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, napi_float32_array, 4},
    {"float16", ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16, napi_uint16_array, 2},
    {"int64", ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64, napi_bigint64_array, 8},
    {"int32", ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32, napi_int32_array, 4},
    {"bool", ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL, napi_uint8_array, 1},
    {"uint8", ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8, napi_uint8_array, 1},
    {"int8", ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8, napi_int8_array, 1},
    {"float64", ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE, napi_float64_array, 8},
};

const TypeInfo* typeByOrt(ONNXTensorElementDataType t) {
  for (const auto& x : kTypes)
    if (x.ort == t) return &x;
  return nullptr;
}
const TypeInfo& typeByName(const std::string& n) {
  for (const auto& x : kTypes)
    if (n == x.name) return x;
  bad("unsupported tensor type '" + n + "' (float32, float16, int64, int32, bool, uint8, int8, float64)");
}
const char* ortTypeName(ONNXTensorElementDataType t) {
  const TypeInfo* x = typeByOrt(t);
  return x ? x->name : "unsupported";
}

std::string dimsText(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); i++) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

size_t elementCount(const std::vector<int64_t>& dims) {
  size_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) bad("negative dimension in " + dimsText(dims));
    n *= static_cast<size_t>(d);
  }
  return n;
}

// ---------- the Identity graph used for copies ----------

// Protocol Buffers wire format, enough for a ModelProto of one Identity node.
struct Pb {
  std::string b;
  void varint(uint64_t v) {
    while (v >= 0x80) {
      b.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    b.push_back(static_cast<char>(v));
  }
  void tag(int field, int wire) { varint((static_cast<uint64_t>(field) << 3) | wire); }
  void num(int field, uint64_t v) {
    tag(field, 0);
    varint(v);
  }
  void bytes(int field, const std::string& s) {
    tag(field, 2);
    varint(s.size());
    b += s;
  }
};

// ModelProto{ir_version 8, opset 13, graph{Identity x -> y}} with x, y tensors of `elem` and any shape.
std::string identityModel(ONNXTensorElementDataType elem) {
  Pb tensorType;
  tensorType.num(1, static_cast<uint64_t>(elem));  // TypeProto.Tensor.elem_type
  Pb type;
  type.bytes(1, tensorType.b);  // TypeProto.tensor_type
  auto valueInfo = [&](const char* name) {
    Pb v;
    v.bytes(1, name);
    v.bytes(2, type.b);
    return v.b;
  };
  Pb node;
  node.bytes(1, "x");
  node.bytes(2, "y");
  node.bytes(3, "copy");
  node.bytes(4, "Identity");
  Pb graph;
  graph.bytes(1, node.b);
  graph.bytes(2, "copy");
  graph.bytes(11, valueInfo("x"));
  graph.bytes(12, valueInfo("y"));
  Pb opset;
  opset.bytes(1, "");
  opset.num(2, 13);
  Pb model;
  model.num(1, 8);
  model.bytes(7, graph.b);
  model.bytes(8, opset.b);
  return model.b;
}

// ---------- sessions and tensors ----------

struct IoInfo {
  std::string name;
  ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;  // UNDEFINED: not a tensor
  std::vector<int64_t> dims;                                                 // -1: symbolic
  std::vector<std::string> symbols;
};

struct SessionCore;

// An OrtValue and who allocated it. The shared_ptr to its session keeps the allocator alive.
struct TensorCore {
  OrtValue* value = nullptr;
  std::shared_ptr<SessionCore> owner;
  ONNXTensorElementDataType type;
  std::vector<int64_t> dims;
  bool onDevice = false;  // in the session's device memory (false: host memory, the CPU provider's)
  // A view (Tensor.view): the tensor whose memory this one's OrtValue points into, kept alive with it.
  std::shared_ptr<TensorCore> parent;
  int busy = 0;           // runs in flight that use it (counted on the JS thread that owns it)
  size_t bytes() const { return elementCount(dims) * typeByOrt(type)->size; }
  void* data() const {
    void* p = nullptr;
    check(ort->GetTensorMutableData(value, &p), "reading a tensor's address");
    return p;
  }
  ~TensorCore() {
    if (value) ort->ReleaseValue(value);
  }
};

// Elements [offset, offset + product(dims)) of t as an OrtValue of shape dims over the same memory, in
// t's own memory (device or host): not owned, t must outlive it. Partial copies and Tensor.view use it.
OrtValue* valueOver(const TensorCore& t, size_t offset, const std::vector<int64_t>& dims) {
  const OrtMemoryInfo* mi = nullptr;
  check(ort->GetTensorMemoryInfo(t.value, &mi), "reading a tensor's memory info");
  const size_t es = typeByOrt(t.type)->size;
  OrtValue* v = nullptr;
  check(ort->CreateTensorWithDataAsOrtValue(mi, static_cast<char*>(t.data()) + offset * es, elementCount(dims) * es,
                                            dims.data(), dims.size(), t.type, &v),
        "a view of a tensor");
  return v;
}

// One thread that runs the tasks given to it, in order: where every run of a session that must stay on
// one thread goes (SessionCore::ownThread). onnxruntime's CUDA provider keeps a captured CUDA graph per
// thread, so runs of a cudaGraph session spread over libuv's pool would capture a graph on every pool
// thread, and a capture beside another session's run breaks both; Node-API offers no pinned thread.
class OneThread {
 public:
  OneThread() : worker([this] { loop(); }) {}
  ~OneThread() {
    {
      std::lock_guard<std::mutex> l(m);
      stop = true;
    }
    cv.notify_all();
    worker.join();
  }
  // Runs f on this thread and waits for it (the caller is a libuv pool thread doing the run's work);
  // an exception f throws comes back to the caller.
  void run(const std::function<void()>& f) {
    std::mutex dm;
    std::condition_variable dcv;
    bool done = false;
    std::exception_ptr failed;
    {
      std::lock_guard<std::mutex> l(m);
      tasks.push_back([&] {
        try {
          f();
        } catch (...) {
          failed = std::current_exception();
        }
        std::lock_guard<std::mutex> dl(dm);
        done = true;
        dcv.notify_all();
      });
    }
    cv.notify_all();
    std::unique_lock<std::mutex> dl(dm);
    dcv.wait(dl, [&] { return done; });
    if (failed) std::rethrow_exception(failed);
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> t;
      {
        std::unique_lock<std::mutex> l(m);
        cv.wait(l, [this] { return stop || !tasks.empty(); });
        if (tasks.empty()) return;
        t = std::move(tasks.front());
        tasks.pop_front();
      }
      t();
    }
  }
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::function<void()>> tasks;
  bool stop = false;
  std::thread worker;
};

// The CUDA runtime's few stream and copy calls, from the libcudart onnxruntime's CUDA provider has loaded (no
// CUDA headers or link here: the addon builds on hosts without the toolkit): `streamPriority`'s stream and
// the copies between host and device (SessionCore::copyByRuntime, which falls back to graph runs without them).
struct Cudart {
  int (*setDevice)(int) = nullptr;
  int (*priorityRange)(int*, int*) = nullptr;
  int (*createWithPriority)(void**, unsigned, int) = nullptr;
  int (*destroy)(void*) = nullptr;
  int (*createWithFlags)(void**, unsigned) = nullptr;
  int (*memcpyAsync)(void*, const void*, size_t, int, void*) = nullptr;
  int (*memcpy2DAsync)(void*, size_t, const void*, size_t, size_t, size_t, int, void*) = nullptr;
  int (*synchronize)(void*) = nullptr;
  std::string error;
};

const Cudart& cudart() {
  static const Cudart c = [] {
    Cudart r;
    void* h = nullptr;
    for (const char* name : {"libcudart.so.13", "libcudart.so.12", "libcudart.so"})
      if ((h = dlopen(name, RTLD_NOW | RTLD_GLOBAL))) break;
    if (!h) {
      r.error = "no libcudart.so.13, .12 or libcudart.so could be loaded";
      return r;
    }
    r.setDevice = reinterpret_cast<int (*)(int)>(dlsym(h, "cudaSetDevice"));
    r.priorityRange = reinterpret_cast<int (*)(int*, int*)>(dlsym(h, "cudaDeviceGetStreamPriorityRange"));
    r.createWithPriority = reinterpret_cast<int (*)(void**, unsigned, int)>(dlsym(h, "cudaStreamCreateWithPriority"));
    r.destroy = reinterpret_cast<int (*)(void*)>(dlsym(h, "cudaStreamDestroy"));
    r.createWithFlags = reinterpret_cast<int (*)(void**, unsigned)>(dlsym(h, "cudaStreamCreateWithFlags"));
    r.memcpyAsync = reinterpret_cast<int (*)(void*, const void*, size_t, int, void*)>(dlsym(h, "cudaMemcpyAsync"));
    r.synchronize = reinterpret_cast<int (*)(void*)>(dlsym(h, "cudaStreamSynchronize"));
    r.memcpy2DAsync = reinterpret_cast<int (*)(void*, size_t, const void*, size_t, size_t, size_t, int, void*)>(
        dlsym(h, "cudaMemcpy2DAsync"));
    if (!r.setDevice || !r.priorityRange || !r.createWithPriority || !r.destroy) r.error = "libcudart lacks the stream calls";
    return r;
  }();
  return c;
}

// The CUDA driver's green-context calls (CUDA 12.4+), from the driver's libcuda, for `smCount`: a stream whose
// kernels run on a partition of the device's SMs only. Declared here by hand, like libcudart's calls above;
// the resource structs are only ever passed back to the driver (in buffers larger than any CUDA version's
// CUdevResource), except the SM count read at its documented offset for the log.
struct CudaDriver {
  int (*init)(unsigned) = nullptr;
  int (*deviceGet)(int*, int) = nullptr;
  int (*getDevResource)(int, void*, int) = nullptr;
  int (*smSplitByCount)(void*, unsigned*, const void*, void*, unsigned, unsigned) = nullptr;
  int (*generateDesc)(void**, void*, unsigned) = nullptr;
  int (*greenCtxCreate)(void**, void*, int, unsigned) = nullptr;
  int (*greenStreamCreate)(void**, void*, unsigned, int) = nullptr;
  int (*streamDestroy)(void*) = nullptr;
  std::string error;
};

const CudaDriver& cudaDriver() {
  static const CudaDriver d = [] {
    CudaDriver r;
    void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
      r.error = "the CUDA driver (libcuda.so.1) could not be loaded";
      return r;
    }
    r.init = reinterpret_cast<int (*)(unsigned)>(dlsym(h, "cuInit"));
    r.deviceGet = reinterpret_cast<int (*)(int*, int)>(dlsym(h, "cuDeviceGet"));
    r.getDevResource = reinterpret_cast<int (*)(int, void*, int)>(dlsym(h, "cuDeviceGetDevResource"));
    r.smSplitByCount = reinterpret_cast<int (*)(void*, unsigned*, const void*, void*, unsigned, unsigned)>(
        dlsym(h, "cuDevSmResourceSplitByCount"));
    r.generateDesc = reinterpret_cast<int (*)(void**, void*, unsigned)>(dlsym(h, "cuDevResourceGenerateDesc"));
    r.greenCtxCreate = reinterpret_cast<int (*)(void**, void*, int, unsigned)>(dlsym(h, "cuGreenCtxCreate"));
    r.greenStreamCreate = reinterpret_cast<int (*)(void**, void*, unsigned, int)>(dlsym(h, "cuGreenCtxStreamCreate"));
    r.streamDestroy = reinterpret_cast<int (*)(void*)>(dlsym(h, "cuStreamDestroy_v2"));
    if (!r.init || !r.deviceGet || !r.getDevResource || !r.smSplitByCount || !r.generateDesc || !r.greenCtxCreate ||
        !r.greenStreamCreate || !r.streamDestroy)
      r.error = "this CUDA driver has no green contexts (they need CUDA 12.4 or later)";
    return r;
  }();
  return d;
}

// One green context per (device, SMs asked), made on first use and kept for the process: every session
// asking for that partition gets a stream of its own in it (their runs still overlap one another).
struct GreenPartition {
  void* ctx = nullptr;
  unsigned sms = 0;     // SMs the partition got (the driver rounds the count up to its granularity)
  unsigned total = 0;   // SMs of the device
};

GreenPartition greenPartition(int deviceId, unsigned smCount) {
  static std::mutex m;
  static std::map<std::pair<int, unsigned>, GreenPartition> made;
  std::lock_guard<std::mutex> l(m);
  auto it = made.find({deviceId, smCount});
  if (it != made.end()) return it->second;
  const CudaDriver& d = cudaDriver();
  if (!d.error.empty()) throw std::runtime_error(d.error);
  // Larger than CUdevResource in any CUDA version so far (about 144 bytes in 13.x), 8-byte aligned.
  alignas(16) static thread_local unsigned char input[4096], result[4096], remaining[4096];
  std::memset(input, 0, sizeof input);
  std::memset(result, 0, sizeof result);
  std::memset(remaining, 0, sizeof remaining);
  constexpr int kSmResource = 1;              // CU_DEV_RESOURCE_TYPE_SM
  constexpr size_t kSmCountOffset = 4 + 92;   // CUdevResource: type, _internal_padding[92], then sm.smCount
  int dev = 0;
  unsigned groups = 1;
  void* desc = nullptr;
  GreenPartition p;
  int rc = d.init(0);
  const char* step = "cuInit";
  if (!rc) rc = d.deviceGet(&dev, deviceId), step = "cuDeviceGet";
  if (!rc) rc = d.getDevResource(dev, input, kSmResource), step = "cuDeviceGetDevResource";
  if (!rc) rc = d.smSplitByCount(result, &groups, input, remaining, 0, smCount), step = "cuDevSmResourceSplitByCount";
  if (!rc && groups < 1) rc = -1, step = "cuDevSmResourceSplitByCount (no group of that many SMs)";
  if (!rc) rc = d.generateDesc(&desc, result, 1), step = "cuDevResourceGenerateDesc";
  if (!rc) rc = d.greenCtxCreate(&p.ctx, desc, dev, 1 /* CU_GREEN_CTX_DEFAULT_STREAM */), step = "cuGreenCtxCreate";
  if (rc)
    throw std::runtime_error(std::string(step) + " failed (CUresult " + std::to_string(rc) + ") for " +
                             std::to_string(smCount) + " SMs on device " + std::to_string(deviceId));
  std::memcpy(&p.total, input + kSmCountOffset, sizeof p.total);
  std::memcpy(&p.sms, result + kSmCountOffset, sizeof p.sms);
  made[{deviceId, smCount}] = p;
  return p;
}

// The runtime copy's state for the process (SessionCore::copy): its streams by device, and whether its
// first copy was checked against a graph run's.
struct RuntimeCopy {
  enum State { kUnchecked, kChecking, kGood, kBroken };
  std::mutex m;
  std::map<int, void*> streams;
  std::atomic<int> state{kUnchecked};
};

RuntimeCopy& runtimeCopy() {
  static RuntimeCopy r;
  return r;
}

struct SessionCore {
  std::string path;
  void* stream = nullptr;  // options.streamPriority or smCount: the session's own CUDA stream (user_compute_stream)
  bool greenStream = false;  // the stream is a green context's (options.smCount), destroyed through the driver
  unsigned smsGot = 0, smsOfDevice = 0;  // options.smCount: the partition's SMs and the device's
  bool cuda = false;
  bool cudaGraph = false;  // enable_cuda_graph: each binding replays its own graph (gpu_graph_id), run() none
  int graphIds = 0;        // the last gpu_graph_id given to a binding (0 is onnxruntime's own)
  int deviceId = 0;
  OrtSession* session = nullptr;
  OrtMemoryInfo* hostInfo = nullptr;    // plain CPU memory (host outputs, host inputs)
  OrtMemoryInfo* deviceInfo = nullptr;  // where device tensors live: CUDA, or CPU for a CPU session
  OrtAllocator* deviceAlloc = nullptr;  // the session's allocator for deviceInfo
  bool ownAlloc = false;
  bool copyWithGraph = false;           // copies through an Identity run (always on CUDA)
  OrtSessionOptions* copyOptions = nullptr;
  std::map<ONNXTensorElementDataType, OrtSession*> copiers;
  std::mutex copyLock;
  std::vector<IoInfo> inputs, outputs;
  std::string fixedDims;  // the free-dimension overrides, "name=size, ..." (for error messages)
  // With options.ownThread (implied by cudaGraph) every run and binding run of the session happens on
  // this one thread; else on whichever libuv pool thread takes it.
  std::unique_ptr<OneThread> ownThread;
  std::mutex threadsLock;
  std::set<std::thread::id> runThreads;  // the threads its runs ran on (the runThreads property)

  // Runs f, one of this session's runs: on its own thread when it has one; notes the thread.
  void onItsThread(const std::function<void()>& f) {
    auto body = [&] {
      {
        std::lock_guard<std::mutex> l(threadsLock);
        runThreads.insert(std::this_thread::get_id());
      }
      f();
    };
    if (ownThread)
      ownThread->run(body);
    else
      body();
  }

  ~SessionCore() {
    ownThread.reset();  // joins it (no run is in flight: each holds the session alive)
    for (auto& c : copiers) ort->ReleaseSession(c.second);
    if (copyOptions) ort->ReleaseSessionOptions(copyOptions);
    if (ownAlloc && deviceAlloc) ort->ReleaseAllocator(deviceAlloc);
    if (deviceInfo) ort->ReleaseMemoryInfo(deviceInfo);
    if (hostInfo) ort->ReleaseMemoryInfo(hostInfo);
    if (session) ort->ReleaseSession(session);
    if (stream) greenStream ? cudaDriver().streamDestroy(stream) : cudart().destroy(stream);
  }

  const IoInfo* input(const std::string& n) const {
    for (const auto& i : inputs)
      if (i.name == n) return &i;
    return nullptr;
  }
  const IoInfo* output(const std::string& n) const {
    for (const auto& i : outputs)
      if (i.name == n) return &i;
    return nullptr;
  }

  OrtSession* copier(ONNXTensorElementDataType t) {
    std::lock_guard<std::mutex> g(copyLock);
    auto it = copiers.find(t);
    if (it != copiers.end()) return it->second;
    std::string model = identityModel(t);
    OrtSession* s = nullptr;
    check(ort->CreateSessionFromArray(env, model.data(), model.size(), copyOptions, &s),
          "opening the copy graph");
    copiers[t] = s;
    return s;
  }

  // On CUDA, a copy by the runtime's cudaMemcpyAsync on a non-blocking stream of the addon's own, then a
  // wait for that stream: the GPU's copy engines move the bytes, so the copy does not wait for SMs that
  // other sessions' kernels hold (a copy through an Identity graph run does: on an H200 serving 64 streams,
  // the decode's 7 to 8 small copies a window took 18 to 41 ms beside HiFi-GAN). False where libcudart's
  // calls are not there or fail (copy() then marks the runtime copy broken and uses graph runs).
  bool copyByRuntime(void* device, void* host, size_t bytes, bool toDevice) {
    RuntimeCopy& r = runtimeCopy();
    std::lock_guard<std::mutex> l(r.m);
    const Cudart& c = cudart();
    if (!c.error.empty() || !c.createWithFlags || !c.memcpyAsync || !c.synchronize) return false;
    int rc = c.setDevice(deviceId);
    void*& stream = r.streams[deviceId];
    if (!rc && !stream) rc = c.createWithFlags(&stream, 1 /* cudaStreamNonBlocking */);
    // cudaMemcpyHostToDevice 1, cudaMemcpyDeviceToHost 2; from or to pageable memory the driver stages it.
    if (!rc) rc = toDevice ? c.memcpyAsync(device, host, bytes, 1, stream) : c.memcpyAsync(host, device, bytes, 2, stream);
    if (!rc) rc = c.synchronize(stream);
    if (rc && r.state == RuntimeCopy::kGood)
      throw std::runtime_error("a copy between host and device failed (cudaError " + std::to_string(rc) + ")");
    return rc == 0;
  }

  // dst <- src through one run of the Identity graph; one of them is a device tensor.
  void copyByRun(OrtValue* src, OrtValue* dst, ONNXTensorElementDataType t) {
    OrtSession* s = copier(t);
    OrtIoBinding* b = nullptr;
    check(ort->CreateIoBinding(s, &b), "copy: creating an IoBinding");
    OrtStatus* st = ort->BindInput(b, "x", src);
    if (!st) st = ort->BindOutput(b, "y", dst);
    if (!st) st = ort->RunWithBinding(s, nullptr, b);
    if (!st) st = ort->SynchronizeBoundOutputs(b);
    ort->ReleaseIoBinding(b);
    check(st, "copy between host and device");
  }

  // Host memory as an OrtValue (not owned).
  OrtValue* hostValue(void* p, size_t bytes, const std::vector<int64_t>& dims, ONNXTensorElementDataType t) {
    OrtValue* v = nullptr;
    check(ort->CreateTensorWithDataAsOrtValue(hostInfo, p, bytes, dims.data(), dims.size(), t, &v),
          "wrapping host memory");
    return v;
  }

  // A new tensor in device memory holding the host bytes at p, allocated by onnxruntime for the output of
  // an Identity run bound to the device: for a session whose allocator could not be had (CreateAllocator).
  OrtValue* allocByRun(const void* p, size_t bytes, const std::vector<int64_t>& dims, ONNXTensorElementDataType t) {
    static uint64_t empty = 0;
    OrtValue* src = hostValue(const_cast<void*>(bytes ? p : &empty), bytes, dims, t);
    OrtSession* s = nullptr;
    OrtIoBinding* b = nullptr;
    OrtValue** values = nullptr;
    size_t count = 0;
    OrtAllocator* a = nullptr;
    OrtStatus* st = nullptr;
    try {
      s = copier(t);
    } catch (...) {
      ort->ReleaseValue(src);
      throw;
    }
    st = ort->CreateIoBinding(s, &b);
    if (!st) st = ort->BindInput(b, "x", src);
    if (!st) st = ort->BindOutputToDevice(b, "y", deviceInfo);
    if (!st) st = ort->RunWithBinding(s, nullptr, b);
    if (!st) st = ort->SynchronizeBoundOutputs(b);
    if (!st) st = ort->GetAllocatorWithDefaultOptions(&a);
    if (!st) st = ort->GetBoundOutputValues(b, a, &values, &count);
    OrtValue* out = nullptr;
    if (!st && count == 1) out = values[0];
    else if (!st) st = ort->CreateStatus(ORT_FAIL, "the copy graph returned no output");
    if (values) a->Free(a, values);
    if (b) ort->ReleaseIoBinding(b);
    ort->ReleaseValue(src);
    check(st, "allocating a tensor on the device");
    return out;
  }

  // Elements [offset, offset + count) of a device tensor as an OrtValue of shape [count] over the same
  // memory (not owned): what a partial copy binds.
  OrtValue* viewOf(const TensorCore& t, size_t offset, size_t count) {
    return valueOver(t, offset, {static_cast<int64_t>(count)});
  }

  // Host -> device (or <- with toDevice false) of `count` elements at element `offset` of t, from/to p.
  void copy(TensorCore& t, void* p, size_t count, size_t offset, bool toDevice) {
    if (count == 0) return;
    const size_t es = typeByOrt(t.type)->size;
    if (t.onDevice && cuda && !copyWithGraph) {
      char* at = static_cast<char*>(t.data()) + offset * es;
      // The process's first runtime copy is checked against a graph run's (read back, or read again), so a
      // runtime copy that moved the wrong bytes is never used: every copy then goes through graph runs.
      RuntimeCopy& rc = runtimeCopy();
      bool checking = false;
      {
        std::lock_guard<std::mutex> l(rc.m);
        checking = rc.state == RuntimeCopy::kUnchecked;
        if (checking) rc.state = RuntimeCopy::kChecking;
      }
      if (!checking && rc.state == RuntimeCopy::kGood && copyByRuntime(at, p, count * es, toDevice)) return;
      if (checking) {
        bool good = false;
        try {
          if (copyByRuntime(at, p, count * es, toDevice)) {
            std::vector<char> again(count * es);
            copyByGraph(t, again.data(), count, offset, false);
            good = std::memcmp(again.data(), p, count * es) == 0;
          }
        } catch (...) {
          good = false;
        }
        {
          std::lock_guard<std::mutex> l(rc.m);
          rc.state = good ? RuntimeCopy::kGood : RuntimeCopy::kBroken;
        }
        if (good) return;
      }
    }
    copyByGraph(t, p, count, offset, toDevice);
  }

  // The copy without the runtime: a memcpy in host memory, else a run of a one-node graph (copyByRun).
  void copyByGraph(TensorCore& t, void* p, size_t count, size_t offset, bool toDevice) {
    const size_t es = typeByOrt(t.type)->size;
    if (!t.onDevice || (!cuda && !copyWithGraph)) {
      char* at = static_cast<char*>(t.data()) + offset * es;
      if (toDevice)
        std::memcpy(at, p, count * es);
      else
        std::memcpy(p, at, count * es);
      return;
    }
    const bool whole = offset == 0 && count == elementCount(t.dims);
    OrtValue* view = nullptr;
    OrtValue* host = nullptr;
    try {
      view = whole ? nullptr : viewOf(t, offset, count);
      std::vector<int64_t> flat{static_cast<int64_t>(count)};
      host = hostValue(p, count * es, whole ? t.dims : flat, t.type);
      OrtValue* dev = whole ? t.value : view;
      if (toDevice)
        copyByRun(host, dev, t.type);
      else
        copyByRun(dev, host, t.type);
    } catch (...) {
      if (view) ort->ReleaseValue(view);
      if (host) ort->ReleaseValue(host);
      throw;
    }
    if (view) ort->ReleaseValue(view);
    ort->ReleaseValue(host);
  }

  void upload(TensorCore& dst, const void* p, size_t count, size_t offset = 0) {
    copy(dst, const_cast<void*>(p), count, offset, true);
  }

  void download(TensorCore& src, void* p, size_t count, size_t offset = 0) { copy(src, p, count, offset, false); }

  // Rows of bytes into device tensors (CopyItem, Block in bytes), from device tensors or host memory: on a CPU
  // session by memmove; on CUDA by the runtime's cudaMemcpy2DAsync on the addon's copy stream, all of them,
  // then one wait for that stream (as copyByRuntime: the copy engines, not behind other sessions' kernels).
  // False, nothing copied, where the runtime copy is not the process's copy path (not yet checked, broken,
  // or copies through graph runs): the caller then takes another way.
  struct Block {
    size_t dst, dstPitch, src, srcPitch, width, rows;
  };
  struct CopyItem {
    char* dst;
    const char* src;
    bool srcOnDevice;
    std::vector<Block> blocks;
  };
  bool copyBlocks(const std::vector<CopyItem>& items) {
    if (!cuda) {
      for (const CopyItem& it : items)
        for (const Block& b : it.blocks)
          for (size_t r = 0; r < b.rows; r++)
            std::memmove(it.dst + b.dst + r * b.dstPitch, it.src + b.src + r * b.srcPitch, b.width);
      return true;
    }
    RuntimeCopy& rc = runtimeCopy();
    if (copyWithGraph || rc.state != RuntimeCopy::kGood) return false;
    std::lock_guard<std::mutex> l(rc.m);
    const Cudart& c = cudart();
    if (!c.error.empty() || !c.memcpy2DAsync || !c.synchronize) return false;
    void* stream = rc.streams[deviceId];  // made by the checked first copy
    if (!stream) return false;
    int err = c.setDevice(deviceId);
    for (const CopyItem& it : items)
      for (const Block& b : it.blocks) {
        // cudaMemcpyDeviceToDevice 3, cudaMemcpyHostToDevice 1 (pageable host memory: staged by the driver)
        if (!err)
          err = c.memcpy2DAsync(it.dst + b.dst, b.dstPitch, it.src + b.src, b.srcPitch, b.width, b.rows,
                                it.srcOnDevice ? 3 : 1, stream);
      }
    int waited = c.synchronize(stream);
    if (err || waited)
      throw std::runtime_error("a copy into device tensors failed (cudaError " + std::to_string(err ? err : waited) + ")");
    return true;
  }
};

std::shared_ptr<TensorCore> wrapValue(OrtValue* v, std::shared_ptr<SessionCore> owner, bool onDevice) {
  auto t = std::make_shared<TensorCore>();
  t->value = v;
  t->owner = std::move(owner);
  t->onDevice = onDevice;
  OrtTensorTypeAndShapeInfo* info = nullptr;
  check(ort->GetTensorTypeAndShape(v, &info), "reading an output's type");
  ONNXTensorElementDataType et;
  size_t n = 0;
  OrtStatus* st = ort->GetTensorElementType(info, &et);
  if (!st) st = ort->GetDimensionsCount(info, &n);
  t->dims.resize(n);
  if (!st) st = ort->GetDimensions(info, t->dims.data(), n);
  ort->ReleaseTensorTypeAndShapeInfo(info);
  check(st, "reading an output's shape");
  t->type = et;
  return t;
}

// ---------- JS helpers ----------

std::string str(napi_env e, napi_value v, const std::string& what) {
  napi_valuetype vt;
  NAPI(napi_typeof(e, v, &vt));
  if (vt != napi_string) bad(what + " must be a string");
  size_t n = 0;
  NAPI(napi_get_value_string_utf8(e, v, nullptr, 0, &n));
  std::string s(n, '\0');
  NAPI(napi_get_value_string_utf8(e, v, s.data(), n + 1, &n));
  return s;
}

napi_value jsStr(napi_env e, const std::string& s) {
  napi_value v;
  NAPI(napi_create_string_utf8(e, s.c_str(), s.size(), &v));
  return v;
}

napi_value jsNum(napi_env e, double d) {
  napi_value v;
  NAPI(napi_create_double(e, d, &v));
  return v;
}

bool has(napi_env e, napi_value o, const char* k) {
  bool r = false;
  NAPI(napi_has_named_property(e, o, k, &r));
  return r;
}

napi_value get(napi_env e, napi_value o, const char* k) {
  napi_value v;
  NAPI(napi_get_named_property(e, o, k, &v));
  return v;
}

napi_valuetype typeOf(napi_env e, napi_value v) {
  napi_valuetype t;
  NAPI(napi_typeof(e, v, &t));
  return t;
}

// An optional property: absent or undefined -> false.
bool opt(napi_env e, napi_value o, const char* k, napi_value* out) {
  if (!has(e, o, k)) return false;
  *out = get(e, o, k);
  napi_valuetype t = typeOf(e, *out);
  return t != napi_undefined && t != napi_null;
}

double number(napi_env e, napi_value v, const std::string& what) {
  if (typeOf(e, v) != napi_number) bad(what + " must be a number");
  double d;
  NAPI(napi_get_value_double(e, v, &d));
  return d;
}

// d as a count or an offset: refused unless a non-negative integer that a double holds exactly (at most
// 2^53, so the conversion is defined).
int64_t nonNegativeInteger(double d, const std::string& what) {
  if (!(d >= 0) || d > 9007199254740992.0 || d != static_cast<double>(static_cast<int64_t>(d)))
    bad(what + " must be a non-negative integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

bool boolean(napi_env e, napi_value v, const std::string& what) {
  if (typeOf(e, v) != napi_boolean) bad(what + " must be a boolean");
  bool b;
  NAPI(napi_get_value_bool(e, v, &b));
  return b;
}

std::vector<int64_t> dimsOf(napi_env e, napi_value v, const std::string& what) {
  bool isArr = false;
  NAPI(napi_is_array(e, v, &isArr));
  if (!isArr) bad(what + " must be an array of dimensions");
  uint32_t n;
  NAPI(napi_get_array_length(e, v, &n));
  std::vector<int64_t> d(n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value x;
    NAPI(napi_get_element(e, v, i, &x));
    const std::string at = what + "[" + std::to_string(i) + "]";
    d[i] = nonNegativeInteger(number(e, x, at), at);
  }
  return d;
}

struct View {
  void* data;
  size_t bytes;
  napi_typedarray_type type;
  size_t length;
};

View typedArray(napi_env e, napi_value v, const std::string& what) {
  bool is = false;
  NAPI(napi_is_typedarray(e, v, &is));
  if (!is) bad(what + " must be a typed array");
  View r;
  napi_value ab;
  size_t off;
  NAPI(napi_get_typedarray_info(e, v, &r.type, &r.length, &r.data, &ab, &off));
  size_t per = 1;
  for (const auto& t : kTypes)
    if (t.js == r.type) per = t.size;
  r.bytes = r.length * per;
  return r;
}

const char* jsArrayName(napi_typedarray_type t) {
  switch (t) {
    case napi_float32_array: return "Float32Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_int8_array: return "Int8Array";
    case napi_float64_array: return "Float64Array";
    default: return "another typed array";
  }
}

// Checks that a typed array can hold a tensor of `t` with `count` elements.
void fits(const View& v, const TypeInfo& t, size_t count, const std::string& what) {
  if (v.type != t.js)
    bad(what + ": a " + t.name + " tensor takes a " + jsArrayName(t.js) + ", got a " + jsArrayName(v.type));
  if (v.length != count)
    bad(what + ": " + std::to_string(v.length) + " elements for " + std::to_string(count) + " in the tensor");
}

napi_value newTypedArray(napi_env e, const TypeInfo& t, size_t count, void** data) {
  napi_value ab, arr;
  NAPI(napi_create_arraybuffer(e, count * t.size, data, &ab));
  NAPI(napi_create_typedarray(e, t.js, count, ab, 0, &arr));
  return arr;
}

napi_value dimsArray(napi_env e, const std::vector<int64_t>& dims) {
  napi_value a;
  NAPI(napi_create_array_with_length(e, dims.size(), &a));
  for (size_t i = 0; i < dims.size(); i++) NAPI(napi_set_element(e, a, i, jsNum(e, static_cast<double>(dims[i]))));
  return a;
}

// ---------- JS classes ----------

// Per JS environment (the main thread and each worker thread that loads the addon has its own): the
// Tensor class, to make and recognise tensors. Kept as the environment's instance data.
struct AddonData {
  napi_ref tensorCtor = nullptr;
  napi_ref bindingCtor = nullptr;
};

napi_value tensorClass(napi_env e) {
  void* p = nullptr;
  NAPI(napi_get_instance_data(e, &p));
  if (!p) bad("the addon is not initialised in this thread");
  napi_value ctor;
  NAPI(napi_get_reference_value(e, static_cast<AddonData*>(p)->tensorCtor, &ctor));
  return ctor;
}

napi_value bindingClass(napi_env e) {
  void* p = nullptr;
  NAPI(napi_get_instance_data(e, &p));
  if (!p) bad("the addon is not initialised in this thread");
  napi_value ctor;
  NAPI(napi_get_reference_value(e, static_cast<AddonData*>(p)->bindingCtor, &ctor));
  return ctor;
}

struct TensorBox {
  std::shared_ptr<TensorCore> core;
};
struct SessionBox {
  std::shared_ptr<SessionCore> core;
};

template <typename Box>
Box* unwrapThis(napi_env e, napi_callback_info info, size_t* argc, napi_value* argv, napi_value* self) {
  NAPI(napi_get_cb_info(e, info, argc, argv, self, nullptr));
  void* p = nullptr;
  if (napi_unwrap(e, *self, &p) != napi_ok || !p) bad("not called on a native object");
  return static_cast<Box*>(p);
}

std::shared_ptr<TensorCore> liveTensor(TensorBox* b) {
  if (!b->core) throw Failure("ERR_NATIVE_RELEASED", "tensor used after release()");
  return b->core;
}

std::shared_ptr<SessionCore> liveSession(SessionBox* b) {
  if (!b->core) throw Failure("ERR_NATIVE_RELEASED", "session used after release()");
  return b->core;
}

// The TensorBox of a JS value, or null when it is not one of ours.
TensorBox* asTensor(napi_env e, napi_value v) {
  if (typeOf(e, v) != napi_object) return nullptr;
  napi_value ctor = tensorClass(e);
  bool is = false;
  NAPI(napi_instanceof(e, v, ctor, &is));
  if (!is) return nullptr;
  void* p = nullptr;
  if (napi_unwrap(e, v, &p) != napi_ok) return nullptr;
  return static_cast<TensorBox*>(p);
}

napi_value newTensor(napi_env e, std::shared_ptr<TensorCore> core) {
  napi_value obj;
  NAPI(napi_new_instance(e, tensorClass(e), 0, nullptr, &obj));
  void* p = nullptr;
  NAPI(napi_unwrap(e, obj, &p));
  static_cast<TensorBox*>(p)->core = std::move(core);
  return obj;
}

// Wraps a C++ body: Failures become JS exceptions.
template <typename F>
napi_value guard(napi_env e, F&& f) {
  try {
    return f();
  } catch (const Failure& x) {
    throwJs(e, x);
  } catch (const std::exception& x) {
    napi_throw_error(e, "ERR_NATIVE", x.what());
  }
  return nullptr;
}

napi_value undefinedValue(napi_env e) {
  napi_value u;
  napi_get_undefined(e, &u);
  return u;
}

// --- Tensor ---

napi_value TensorNew(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    napi_value self;
    NAPI(napi_get_cb_info(e, info, nullptr, nullptr, &self, nullptr));
    auto* box = new TensorBox();
    NAPI(napi_wrap(
        e, self, box, [](napi_env, void* p, void*) { delete static_cast<TensorBox*>(p); }, nullptr, nullptr));
    return self;
  });
}

napi_value TensorType(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    napi_value self;
    auto t = liveTensor(unwrapThis<TensorBox>(e, info, nullptr, nullptr, &self));
    return jsStr(e, ortTypeName(t->type));
  });
}

napi_value TensorDims(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    napi_value self;
    auto t = liveTensor(unwrapThis<TensorBox>(e, info, nullptr, nullptr, &self));
    return dimsArray(e, t->dims);
  });
}

napi_value TensorDevice(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    napi_value self;
    auto t = liveTensor(unwrapThis<TensorBox>(e, info, nullptr, nullptr, &self));
    return jsStr(e, t->onDevice && t->owner && t->owner->cuda ? "cuda" : "cpu");
  });
}

// The address of the tensor's first element (a BigInt): for checks that a buffer stayed where it was.
napi_value TensorAddress(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    napi_value self, r;
    auto t = liveTensor(unwrapThis<TensorBox>(e, info, nullptr, nullptr, &self));
    NAPI(napi_create_bigint_uint64(e, reinterpret_cast<uint64_t>(t->data()), &r));
    return r;
  });
}

// A range of `length` elements at `offset` must lie inside the tensor's `count`.
void within(size_t offset, size_t length, size_t count, const std::string& what) {
  if (offset > count || length > count - offset)
    bad(what + ": " + std::to_string(length) + " elements at offset " + std::to_string(offset) + " run past the " +
        std::to_string(count) + " in the tensor");
}

// view(offset, dims): elements [offset, offset + product(dims)) of the tensor as a tensor of shape dims
// over the same memory (no copy): what binds one layer of a [layers, ...] state to a graph's per-layer
// input and output. The view keeps the tensor's memory alive until both are released; runs and copies
// through either see the other's writes (StaticGpt never has both in flight at once).
napi_value TensorView(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    size_t argc = 2;
    napi_value argv[2], self;
    auto t = liveTensor(unwrapThis<TensorBox>(e, info, &argc, argv, &self));
    if (argc < 2) bad("view(offset, dims): offset and dims are required");
    const size_t offset = static_cast<size_t>(nonNegativeInteger(number(e, argv[0], "view(offset)"), "view(offset)"));
    auto dims = dimsOf(e, argv[1], "view(dims)");
    within(offset, elementCount(dims), elementCount(t->dims), "view(" + std::to_string(offset) + ", " + dimsText(dims) + ")");
    auto c = wrapValue(valueOver(*t, offset, dims), t->owner, t->onDevice);
    c->parent = t;
    return newTensor(e, c);
  });
}

napi_value TensorReleased(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    napi_value self, r;
    auto* box = unwrapThis<TensorBox>(e, info, nullptr, nullptr, &self);
    NAPI(napi_get_boolean(e, !box->core, &r));
    return r;
  });
}

// release() of a tensor or a session: drops the JS object's hold on its core (the finalizer then has nothing left to do).
template <class Box>
napi_value Release(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    napi_value self;
    unwrapThis<Box>(e, info, nullptr, nullptr, &self)->core.reset();
    return undefinedValue(e);
  });
}

// A tensor that a run in flight uses cannot be read or written from the host.
void idle(const TensorCore& t, const std::string& what) {
  if (t.busy)
    throw Failure("ERR_NATIVE_BUSY", what + ": the tensor is in use by a run in progress (await the run first)");
}

// {offset, length} of a partial copy (elements). Absent fields keep the defaults given.
void rangeOf(napi_env e, napi_value o, const std::string& what, size_t* offset, size_t* length, bool withLength) {
  if (typeOf(e, o) != napi_object) bad(what + " must be an object");
  napi_value v;
  auto count = [&](const char* k) {
    const std::string at = what + "." + k;
    return static_cast<size_t>(nonNegativeInteger(number(e, v, at), at));
  };
  if (opt(e, o, "offset", &v)) *offset = count("offset");
  if (withLength && opt(e, o, "length", &v)) *length = count("length");
}

// upload(data) or upload(data, {offset}): data's elements to the tensor's, from element `offset`.
napi_value TensorUpload(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    size_t argc = 2;
    napi_value argv[2], self;
    auto t = liveTensor(unwrapThis<TensorBox>(e, info, &argc, argv, &self));
    if (argc < 1) bad("upload(data): data is missing");
    const TypeInfo& ti = *typeByOrt(t->type);
    size_t count = elementCount(t->dims);
    View v = typedArray(e, argv[0], "upload(data)");
    bool partial = argc >= 2 && typeOf(e, argv[1]) != napi_undefined;
    size_t offset = 0;
    if (partial) {
      rangeOf(e, argv[1], "upload(data, options)", &offset, nullptr, false);
      fits(v, ti, v.length, "upload(data)");
      within(offset, v.length, count, "upload(data, {offset})");
    } else {
      fits(v, ti, count, "upload(data)");
    }
    idle(*t, "upload(data)");
    t->owner->upload(*t, v.data, v.length, offset);
    return undefinedValue(e);
  });
}

// copyBlocks(items): rows of elements into device tensors, all at once, with one wait on CUDA (a joining
// stream's keys, values and state rows into its slot of the decode state). items: an array of
// [dst, src, blocks]: dst a device tensor; src a device tensor of the same device and type, or a typed
// array of dst's type (host memory); blocks a Float64Array of sextuples (dstOffset, dstPitch, srcOffset,
// srcPitch, width, rows) in elements: for r < rows, elements [dstOffset + r * dstPitch, + width) of dst
// become those at srcOffset + r * srcPitch of src. Every item is checked before anything is copied. Returns
// whether it copied: false on CUDA where the runtime copy is not the process's copy path (copyPath()).
napi_value CopyBlocks(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    size_t argc = 1;
    napi_value argv[1], r;
    NAPI(napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr));
    bool isArray = false;
    if (argc >= 1) NAPI(napi_is_array(e, argv[0], &isArray));
    if (!isArray) bad("copyBlocks(items): items must be an array of [dst, src, blocks]");
    uint32_t n = 0;
    NAPI(napi_get_array_length(e, argv[0], &n));
    std::vector<SessionCore::CopyItem> items;
    std::vector<std::shared_ptr<TensorCore>> held;
    std::shared_ptr<SessionCore> owner;
    for (uint32_t i = 0; i < n; i++) {
      const std::string what = "copyBlocks(items): item " + std::to_string(i);
      napi_value item, dv, sv, bv;
      NAPI(napi_get_element(e, argv[0], i, &item));
      bool ok = false;
      NAPI(napi_is_array(e, item, &ok));
      uint32_t len = 0;
      if (ok) NAPI(napi_get_array_length(e, item, &len));
      if (!ok || len != 3) bad(what + " must be [dst, src, blocks]");
      NAPI(napi_get_element(e, item, 0, &dv));
      NAPI(napi_get_element(e, item, 1, &sv));
      NAPI(napi_get_element(e, item, 2, &bv));
      TensorBox* db = asTensor(e, dv);
      if (!db) bad(what + ": dst must be a device tensor");
      auto dst = liveTensor(db);
      if (!dst->onDevice) bad(what + ": dst must be a device tensor (alloc, a run's output)");
      if (owner && (owner->cuda != dst->owner->cuda || owner->deviceId != dst->owner->deviceId))
        bad(what + ": dst is on another device than item 0's");
      if (!owner) owner = dst->owner;
      const TypeInfo& ti = *typeByOrt(dst->type);
      const size_t es = ti.size, dn = elementCount(dst->dims);
      SessionCore::CopyItem ci{static_cast<char*>(dst->data()), nullptr, false, {}};
      size_t sn = 0;
      if (TensorBox* sb = asTensor(e, sv)) {
        auto src = liveTensor(sb);
        if (!src->onDevice) bad(what + ": src must be a device tensor or a typed array");
        if (src->type != dst->type) bad(what + ": src is " + typeByOrt(src->type)->name + ", dst " + ti.name);
        if (src->owner->cuda != dst->owner->cuda || src->owner->deviceId != dst->owner->deviceId)
          bad(what + ": src and dst are on different devices");
        idle(*src, what + " (src)");
        ci.src = static_cast<const char*>(src->data());
        ci.srcOnDevice = dst->owner->cuda;
        sn = elementCount(src->dims);
        held.push_back(src);
      } else {
        View v = typedArray(e, sv, what + " (src)");
        if (v.type != ti.js) bad(what + ": src's typed array does not hold " + ti.name);
        ci.src = static_cast<const char*>(v.data);
        ci.srcOnDevice = false;
        sn = v.length;
      }
      View bl = typedArray(e, bv, what + " (blocks)");
      if (bl.type != napi_float64_array || bl.length % 6 != 0)
        bad(what + ": blocks must be a Float64Array of sextuples (dstOffset, dstPitch, srcOffset, srcPitch, width, rows)");
      const double* q = static_cast<const double*>(bl.data);
      static const char* const fields[6] = {"dstOffset", "dstPitch", "srcOffset", "srcPitch", "width", "rows"};
      for (size_t k = 0; k < bl.length; k += 6) {
        const std::string bw = what + ", block " + std::to_string(k / 6);
        size_t f[6];
        for (int x = 0; x < 6; x++) f[x] = static_cast<size_t>(nonNegativeInteger(q[k + x], bw + "'s " + fields[x]));
        const size_t width = f[4], rows = f[5];
        if (rows == 0 || width == 0) continue;
        if (rows > 1 && (f[1] < width || f[3] < width)) bad(bw + ": a pitch is below the width");
        within(f[0], (rows - 1) * f[1] + width, dn, bw + " in dst");
        within(f[2], (rows - 1) * f[3] + width, sn, bw + " in src");
        ci.blocks.push_back({f[0] * es, f[1] * es, f[2] * es, f[3] * es, width * es, rows});
      }
      idle(*dst, what + " (dst)");
      held.push_back(dst);
      items.push_back(std::move(ci));
    }
    const bool copied = owner ? owner->copyBlocks(items) : true;
    NAPI(napi_get_boolean(e, copied, &r));
    return r;
  });
}

// download(), download(into), download(into, {offset}), download({offset, length}): the tensor's elements
// [offset, offset + length) in a new typed array or in `into` (whose length is the count then).
napi_value TensorDownload(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    size_t argc = 2;
    napi_value argv[2], self;
    auto t = liveTensor(unwrapThis<TensorBox>(e, info, &argc, argv, &self));
    const TypeInfo& ti = *typeByOrt(t->type);
    size_t count = elementCount(t->dims);
    napi_value into = nullptr, range = nullptr;
    for (size_t i = 0; i < argc && i < 2; i++) {
      if (typeOf(e, argv[i]) == napi_undefined) continue;
      bool isArr = false;
      NAPI(napi_is_typedarray(e, argv[i], &isArr));
      if (i == 0 && isArr)
        into = argv[i];
      else if (!range && typeOf(e, argv[i]) == napi_object && !isArr)
        range = argv[i];
      else
        bad("download(into?, options?): into must be a typed array, options an object {offset, length}");
    }
    size_t offset = 0, length = count;
    bool partial = range != nullptr;
    if (partial) {
      rangeOf(e, range, "download(options)", &offset, &length, into == nullptr);
      if (into == nullptr && !has(e, range, "length")) length = offset <= count ? count - offset : 0;
    }
    napi_value out;
    void* p = nullptr;
    if (into) {
      View v = typedArray(e, into, "download(into)");
      fits(v, ti, partial ? v.length : count, "download(into)");
      length = v.length;
      out = into;
      p = v.data;
    }
    within(offset, length, count, "download({offset, length})");
    if (!into) out = newTypedArray(e, ti, length, &p);
    idle(*t, "download()");
    t->owner->download(*t, p, length, offset);
    return out;
  });
}

// --- Session ---

std::vector<IoInfo> ioInfo(OrtSession* s, bool inputs) {
  OrtAllocator* a = nullptr;
  check(ort->GetAllocatorWithDefaultOptions(&a), "default allocator");
  size_t n = 0;
  check(inputs ? ort->SessionGetInputCount(s, &n) : ort->SessionGetOutputCount(s, &n), "counting inputs");
  std::vector<IoInfo> r(n);
  for (size_t i = 0; i < n; i++) {
    char* name = nullptr;
    check(inputs ? ort->SessionGetInputName(s, i, a, &name) : ort->SessionGetOutputName(s, i, a, &name),
          "reading a name");
    r[i].name = name;
    check(ort->AllocatorFree(a, name), "freeing a name");
    OrtTypeInfo* ti = nullptr;
    check(inputs ? ort->SessionGetInputTypeInfo(s, i, &ti) : ort->SessionGetOutputTypeInfo(s, i, &ti),
          "reading a type");
    const OrtTensorTypeAndShapeInfo* tt = nullptr;
    OrtStatus* st = ort->CastTypeInfoToTensorInfo(ti, &tt);
    if (!st && tt) {
      size_t k = 0;
      st = ort->GetTensorElementType(tt, &r[i].type);
      if (!st) st = ort->GetDimensionsCount(tt, &k);
      r[i].dims.resize(k);
      std::vector<const char*> sym(k, nullptr);
      if (!st) st = ort->GetDimensions(tt, r[i].dims.data(), k);
      if (!st) st = ort->GetSymbolicDimensions(tt, sym.data(), k);
      for (size_t j = 0; j < k && !st; j++) r[i].symbols.push_back(sym[j] ? sym[j] : "");
    }
    ort->ReleaseTypeInfo(ti);
    check(st, "reading a shape");
  }
  return r;
}

napi_value ioArray(napi_env e, const std::vector<IoInfo>& io) {
  napi_value arr;
  NAPI(napi_create_array_with_length(e, io.size(), &arr));
  for (size_t i = 0; i < io.size(); i++) {
    napi_value o, shape;
    NAPI(napi_create_object(e, &o));
    NAPI(napi_set_named_property(e, o, "name", jsStr(e, io[i].name)));
    NAPI(napi_set_named_property(e, o, "type", jsStr(e, io[i].type ? ortTypeName(io[i].type) : "?")));
    NAPI(napi_create_array_with_length(e, io[i].dims.size(), &shape));
    for (size_t j = 0; j < io[i].dims.size(); j++) {
      int64_t d = io[i].dims[j];
      const std::string& s = io[i].symbols[j];
      NAPI(napi_set_element(e, shape, j, d >= 0 ? jsNum(e, static_cast<double>(d)) : jsStr(e, s.empty() ? "?" : s)));
    }
    NAPI(napi_set_named_property(e, o, "shape", shape));
    NAPI(napi_set_element(e, arr, i, o));
  }
  return arr;
}

// One CUDA arena per device for the sessions opened with `sharedArena`, registered on the process's OrtEnv
// (onnxruntime's environment allocators): those sessions take their device memory from it instead of an
// arena each. Several sessions whose runs come in turn (HiFi-GAN's bucket sessions, the prefill) then reuse
// one another's freed memory, where arenas of their own each kept their own peak. It grows by what is
// asked (arena_extend_strategy kSameAsRequested), as the engine's sessions' own arenas do.
void registerSharedArena(int deviceId) {
  static std::mutex mu;
  static std::set<int> done;
  std::lock_guard<std::mutex> lock(mu);
  if (done.count(deviceId)) return;
  OrtMemoryInfo* mem = nullptr;
  check(ort->CreateMemoryInfo("Cuda", OrtArenaAllocator, deviceId, OrtMemTypeDefault, &mem), "options.sharedArena");
  OrtArenaCfg* cfg = nullptr;
  const char* keys[] = {"arena_extend_strategy"};
  const size_t values[] = {1};  // kSameAsRequested
  OrtStatus* st = ort->CreateArenaCfgV2(keys, values, 1, &cfg);
  if (!st) {
    const std::string id = std::to_string(deviceId);
    const char* pk[] = {"device_id"};
    const char* pv[] = {id.c_str()};
    st = ort->CreateAndRegisterAllocatorV2(env, "CUDAExecutionProvider", mem, cfg, pk, pv, 1);
    ort->ReleaseArenaCfg(cfg);
  }
  ort->ReleaseMemoryInfo(mem);
  check(st, "options.sharedArena: the shared CUDA arena");
  done.insert(deviceId);
}

napi_value SessionNew(napi_env e, napi_callback_info info) {
  return guard(e, [&]() -> napi_value {
    size_t argc = 2;
    napi_value argv[2], self;
    NAPI(napi_get_cb_info(e, info, &argc, argv, &self, nullptr));
    if (argc < 1) bad("Session(path, options): path is missing");
    auto core = std::make_shared<SessionCore>();
    // A path, or the model's bytes (a Uint8Array: a graph built in memory).
    bool isBytes = false;
    NAPI(napi_is_typedarray(e, argv[0], &isBytes));
    std::string bytes;
    if (isBytes) {
      View b = typedArray(e, argv[0], "model bytes");
      if (b.type != napi_uint8_array) bad("model bytes must be a Uint8Array");
      bytes.assign(static_cast<const char*>(b.data), b.bytes);
      core->path = "(graph in memory)";
    } else {
      core->path = str(e, argv[0], "path");
    }
    napi_value o = nullptr, v;
    if (argc >= 2 && typeOf(e, argv[1]) == napi_object) o = argv[1];
    std::string device = "cpu";
    int threads = 0;
    bool cudaGraph = false, arena = true, ownThread = false, sharedArena = false;
    std::string priority;  // "" (onnxruntime's own stream) or "high"
    unsigned smCount = 0;  // 0: every SM; else the session's stream in a green context of that many SMs
    std::vector<std::pair<std::string, std::string>> config, provider;
    std::vector<std::pair<std::string, int64_t>> dims;  // free-dimension overrides by name
    std::string profile;  // options.profile: onnxruntime's profiling, its file's name prefix
    auto entries = [&](napi_value obj, const std::string& what, std::vector<std::pair<std::string, std::string>>& into) {
      if (typeOf(e, obj) != napi_object) bad(what + " must be an object of strings");
      napi_value keys;
      NAPI(napi_get_property_names(e, obj, &keys));
      uint32_t n;
      NAPI(napi_get_array_length(e, keys, &n));
      for (uint32_t i = 0; i < n; i++) {
        napi_value k, val;
        NAPI(napi_get_element(e, keys, i, &k));
        NAPI(napi_get_property(e, obj, k, &val));
        std::string ks = str(e, k, what + " key");
        into.emplace_back(ks, str(e, val, what + "." + ks));
      }
    };
    if (o) {
      if (opt(e, o, "device", &v)) device = str(e, v, "options.device");
      if (device != "cpu" && device != "cuda") bad("options.device must be 'cpu' or 'cuda', got '" + device + "'");
      if (opt(e, o, "deviceId", &v)) core->deviceId = static_cast<int>(number(e, v, "options.deviceId"));
      if (opt(e, o, "threads", &v)) threads = static_cast<int>(number(e, v, "options.threads"));
      if (opt(e, o, "cudaGraph", &v)) cudaGraph = boolean(e, v, "options.cudaGraph");
      if (opt(e, o, "ownThread", &v)) ownThread = boolean(e, v, "options.ownThread");
      if (opt(e, o, "sharedArena", &v)) sharedArena = boolean(e, v, "options.sharedArena");
      if (opt(e, o, "streamPriority", &v)) {
        priority = str(e, v, "options.streamPriority");
        if (priority != "high" && priority != "normal")
          bad("options.streamPriority must be 'high' or 'normal', got '" + priority + "'");
        if (priority == "normal") priority.clear();
      }
      if (opt(e, o, "smCount", &v)) {
        double n = number(e, v, "options.smCount");
        if (!(n >= 1) || n != static_cast<double>(static_cast<unsigned>(n)))
          bad("options.smCount must be a positive integer, got " + std::to_string(n));
        smCount = static_cast<unsigned>(n);
      }
      if (opt(e, o, "cpuMemArena", &v)) arena = boolean(e, v, "options.cpuMemArena");
      if (opt(e, o, "copyWithGraph", &v)) core->copyWithGraph = boolean(e, v, "options.copyWithGraph");
      if (opt(e, o, "name", &v)) core->path = str(e, v, "options.name");
      if (opt(e, o, "config", &v)) entries(v, "options.config", config);
      if (opt(e, o, "profile", &v)) {
        profile = str(e, v, "options.profile");
        if (profile.empty()) bad("options.profile must be a file name prefix, not empty");
      }
      if (opt(e, o, "providerOptions", &v)) entries(v, "options.providerOptions", provider);
      if (opt(e, o, "dims", &v)) {
        if (typeOf(e, v) != napi_object) bad("options.dims must be an object of sizes by dimension name");
        napi_value keys;
        NAPI(napi_get_property_names(e, v, &keys));
        uint32_t n;
        NAPI(napi_get_array_length(e, keys, &n));
        for (uint32_t i = 0; i < n; i++) {
          napi_value k, val;
          NAPI(napi_get_element(e, keys, i, &k));
          NAPI(napi_get_property(e, v, k, &val));
          std::string ks = str(e, k, "options.dims key");
          double d = number(e, val, "options.dims." + ks);
          if (!(d >= 1) || d != static_cast<double>(static_cast<int64_t>(d)))
            bad("options.dims." + ks + " must be a positive integer, got " + std::to_string(d));
          dims.emplace_back(ks, static_cast<int64_t>(d));
        }
      }
    }
    if (cudaGraph && device != "cuda") bad("options.cudaGraph needs options.device 'cuda'");
    if (sharedArena && device != "cuda") bad("options.sharedArena needs options.device 'cuda'");
    if (sharedArena) registerSharedArena(core->deviceId);
    if (!priority.empty() && device != "cuda") bad("options.streamPriority needs options.device 'cuda'");
    if (smCount && device != "cuda") bad("options.smCount needs options.device 'cuda'");
    if (smCount && !priority.empty()) bad("options.smCount and options.streamPriority cannot be combined");
    if (smCount && cudaGraph) bad("options.smCount and options.cudaGraph cannot be combined");
    if (!priority.empty()) {
      // The session's kernels on a stream of the device's highest priority: where another session's
      // long kernels (HiFi-GAN's convolutions) keep the device busy, the scheduler gives this stream's
      // blocks the SMs first as they free up.
      const Cudart& c = cudart();
      if (!c.error.empty()) bad("options.streamPriority: " + c.error);
      int least = 0, greatest = 0;
      void* stream = nullptr;
      int rc = c.setDevice(core->deviceId);
      if (!rc) rc = c.priorityRange(&least, &greatest);
      if (!rc) rc = c.createWithPriority(&stream, 1 /* cudaStreamNonBlocking */, greatest);
      if (rc) bad("options.streamPriority: a CUDA stream could not be made (cudaError " + std::to_string(rc) + ")");
      core->stream = stream;
    }
    if (smCount) {
      // The session's kernels on a partition of the device's SMs (a green context's stream): another
      // session's short kernels (the decode step's) then always find the other SMs free, instead of waiting
      // for these long ones (HiFi-GAN's convolutions) to leave the SMs they fill. Memory is the device's.
      GreenPartition p;
      try {
        p = greenPartition(core->deviceId, smCount);
      } catch (const std::exception& x) {
        bad(std::string("options.smCount: ") + x.what());
      }
      void* stream = nullptr;
      int rc = cudaDriver().greenStreamCreate(&stream, p.ctx, 1 /* CU_STREAM_NON_BLOCKING */, 0);
      if (rc) bad("options.smCount: cuGreenCtxStreamCreate failed (CUresult " + std::to_string(rc) + ")");
      core->stream = stream;
      core->greenStream = true;
      core->smsGot = p.sms;
      core->smsOfDevice = p.total;
    }
    core->cuda = device == "cuda";
    core->cudaGraph = cudaGraph;
    if (ownThread || cudaGraph) core->ownThread = std::make_unique<OneThread>();

    // The session and the Identity copier get the same provider setup.
    auto makeOptions = [&](bool main) {
      OrtSessionOptions* so = nullptr;
      check(ort->CreateSessionOptions(&so), "session options");
      try {
        if (threads > 0) check(ort->SetIntraOpNumThreads(so, threads), "options.threads");
        if (!arena) check(ort->DisableCpuMemArena(so), "options.cpuMemArena");
        if (main)
          for (auto& kv : config)
            check(ort->AddSessionConfigEntry(so, kv.first.c_str(), kv.second.c_str()), "options.config." + kv.first);
        if (main) check(xattn::registerDecodeAttention(so), "the ai.xtts operators");
        if (main && !profile.empty()) check(ort->EnableProfiling(so, profile.c_str()), "options.profile");
        if (main && sharedArena)
          check(ort->AddSessionConfigEntry(so, "session.use_env_allocators", "1"), "options.sharedArena");
        if (main)
          for (auto& kv : dims)
            check(ort->AddFreeDimensionOverrideByName(so, kv.first.c_str(), kv.second), "options.dims." + kv.first);
        if (core->cuda) {
          OrtCUDAProviderOptionsV2* cu = nullptr;
          check(ort->CreateCUDAProviderOptions(&cu), "CUDA provider options");
          std::vector<std::string> keys{"device_id"}, vals{std::to_string(core->deviceId)};
          if (main && cudaGraph) keys.push_back("enable_cuda_graph"), vals.push_back("1");
          for (auto& kv : provider) keys.push_back(kv.first), vals.push_back(kv.second);
          std::vector<const char*> k, val;
          for (size_t i = 0; i < keys.size(); i++) k.push_back(keys[i].c_str()), val.push_back(vals[i].c_str());
          OrtStatus* st = ort->UpdateCUDAProviderOptions(cu, k.data(), val.data(), k.size());
          if (!st && main && core->stream)
            st = ort->UpdateCUDAProviderOptionsWithValue(cu, "user_compute_stream", core->stream);
          if (!st) st = ort->SessionOptionsAppendExecutionProvider_CUDA_V2(so, cu);
          ort->ReleaseCUDAProviderOptions(cu);
          check(st, "the CUDA execution provider (are libonnxruntime_providers_cuda.so and CUDA/cuDNN there?)");
        }
      } catch (...) {
        ort->ReleaseSessionOptions(so);
        throw;
      }
      return so;
    };
    OrtSessionOptions* so = makeOptions(true);
    OrtStatus* st = isBytes ? ort->CreateSessionFromArray(env, bytes.data(), bytes.size(), so, &core->session)
                            : ort->CreateSession(env, core->path.c_str(), so, &core->session);
    ort->ReleaseSessionOptions(so);
    check(st, core->path + ": could not open on " + device);
    core->copyOptions = makeOptions(false);
    core->inputs = ioInfo(core->session, true);
    core->outputs = ioInfo(core->session, false);
    // onnxruntime fixes the overridden dimensions of the inputs (their type info gives the sizes); the
    // outputs keep the names, so the same sizes are put there for the checks of outputs given to write into.
    for (auto& kv : dims) {
      core->fixedDims += (core->fixedDims.empty() ? "" : ", ") + kv.first + "=" + std::to_string(kv.second);
      for (auto& io : core->outputs)
        for (size_t i = 0; i < io.dims.size(); i++)
          if (io.dims[i] < 0 && io.symbols[i] == kv.first) io.dims[i] = kv.second;
    }
    check(ort->CreateCpuMemoryInfo(OrtDeviceAllocator, OrtMemTypeDefault, &core->hostInfo), "host memory info");
    if (core->cuda) {
      check(ort->CreateMemoryInfo("Cuda", OrtDeviceAllocator, core->deviceId, OrtMemTypeDefault, &core->deviceInfo),
            "CUDA memory info");
      // The session's own CUDA allocator; without one (a device onnxruntime does not match to it), tensors
      // are allocated by a run of the copy graph instead (allocByRun).
      OrtStatus* st = ort->CreateAllocator(core->session, core->deviceInfo, &core->deviceAlloc);
      if (st) {
        ort->ReleaseStatus(st);
        core->deviceAlloc = nullptr;
      } else {
        core->ownAlloc = true;
      }
    } else {
      check(ort->CreateCpuMemoryInfo(OrtDeviceAllocator, OrtMemTypeDefault, &core->deviceInfo), "CPU memory info");
      check(ort->GetAllocatorWithDefaultOptions(&core->deviceAlloc), "the CPU allocator");
    }
    auto* box = new SessionBox{core};
    NAPI(napi_wrap(
        e, self, box, [](napi_env, void* p, void*) { delete static_cast<SessionBox*>(p); }, nullptr, nullptr));
    return self;
  });
}

napi_value SessionInputs(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    napi_value self;
    return ioArray(e, liveSession(unwrapThis<SessionBox>(e, info, nullptr, nullptr, &self))->inputs);
  });
}

// options.smCount: [SMs of the session's partition, SMs of the device]; null without one.
napi_value SessionSms(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    napi_value self;
    auto s = liveSession(unwrapThis<SessionBox>(e, info, nullptr, nullptr, &self));
    napi_value r;
    if (!s->greenStream) {
      NAPI(napi_get_null(e, &r));
      return r;
    }
    NAPI(napi_create_array_with_length(e, 2, &r));
    NAPI(napi_set_element(e, r, 0, jsNum(e, s->smsGot)));
    NAPI(napi_set_element(e, r, 1, jsNum(e, s->smsOfDevice)));
    return r;
  });
}

napi_value SessionOutputs(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    napi_value self;
    return ioArray(e, liveSession(unwrapThis<SessionBox>(e, info, nullptr, nullptr, &self))->outputs);
  });
}

napi_value SessionDevice(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    napi_value self;
    return jsStr(e, liveSession(unwrapThis<SessionBox>(e, info, nullptr, nullptr, &self))->cuda ? "cuda" : "cpu");
  });
}

// The arguments of alloc and allocHost (`what`): (type, dims, data?), checked, and the tensor's core.
struct AllocArgs {
  std::shared_ptr<SessionCore> s;
  const TypeInfo* t;
  std::vector<int64_t> dims;
  View v{};
  bool withData = false;
  std::shared_ptr<TensorCore> core;
};

AllocArgs allocArgs(napi_env e, napi_callback_info info, const std::string& what, bool onDevice) {
  size_t argc = 3;
  napi_value argv[3], self;
  AllocArgs a;
  a.s = liveSession(unwrapThis<SessionBox>(e, info, &argc, argv, &self));
  if (argc < 2) bad(what + "(type, dims, data?): type and dims are required");
  a.t = &typeByName(str(e, argv[0], what + "(type)"));
  a.dims = dimsOf(e, argv[1], what + "(dims)");
  a.withData = argc >= 3 && typeOf(e, argv[2]) != napi_undefined;
  if (a.withData) {
    a.v = typedArray(e, argv[2], what + "(data)");
    fits(a.v, *a.t, elementCount(a.dims), what + "(data)");
  }
  a.core = std::make_shared<TensorCore>();
  a.core->owner = a.s;
  a.core->type = a.t->ort;
  a.core->dims = a.dims;
  a.core->onDevice = onDevice;
  return a;
}

napi_value SessionAlloc(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    AllocArgs a = allocArgs(e, info, "alloc", true);
    auto& s = a.s;
    const TypeInfo& t = *a.t;
    const auto& dims = a.dims;
    size_t count = elementCount(dims);
    const View& v = a.v;
    const bool withData = a.withData;
    auto core = a.core;
    if (!s->deviceAlloc || s->copyWithGraph) {
      std::vector<uint8_t> zeros(withData ? 0 : core->bytes());
      core->value = s->allocByRun(withData ? v.data : zeros.data(), withData ? v.bytes : zeros.size(), dims, t.ort);
      return newTensor(e, core);
    }
    OrtValue* val = nullptr;
    check(ort->CreateTensorAsOrtValue(s->deviceAlloc, dims.data(), dims.size(), t.ort, &val),
          "allocating a " + std::string(t.name) + " tensor " + dimsText(dims));
    core->value = val;
    if (withData) {
      s->upload(*core, v.data, v.length);
    } else if (!s->cuda && !s->copyWithGraph) {
      std::memset(core->data(), 0, core->bytes());
    } else {
      // Zeros go up in pieces of at most 64 MiB: a copy runs through the copier's Identity graph, which
      // takes its input to the device in a buffer of its own arena first, and that arena keeps what it
      // took (one piece, instead of a second copy of an 8 GB cache), as the host keeps one piece of zeros.
      const size_t es = typeByOrt(t.ort)->size;
      const size_t piece = std::max<size_t>(1, (size_t{64} << 20) / es);
      std::vector<uint8_t> zeros(std::min(count, piece) * es);
      for (size_t at = 0; at < count; at += piece) s->upload(*core, zeros.data(), std::min(piece, count - at), at);
    }
    return newTensor(e, core);
  });
}

// allocHost(type, dims, data?): a zero-filled (or data's) tensor in host memory that a binding may take
// as an input: for a graph input onnxruntime reads on the host (an operator's CPU input, such as
// DecoderMaskedMultiHeadAttention's past_sequence_length) its value changes with an upload between
// runs (not under a captured CUDA graph, which replays the value it captured); an input the graph reads
// on the device is copied there by each run.
napi_value SessionAllocHost(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    AllocArgs a = allocArgs(e, info, "allocHost", false);
    OrtAllocator* cpu = nullptr;
    check(ort->GetAllocatorWithDefaultOptions(&cpu), "the CPU allocator");
    OrtValue* val = nullptr;
    check(ort->CreateTensorAsOrtValue(cpu, a.dims.data(), a.dims.size(), a.t->ort, &val),
          "allocating a host " + std::string(a.t->name) + " tensor " + dimsText(a.dims));
    a.core->value = val;
    std::memset(a.core->data(), 0, a.core->bytes());
    if (a.withData) std::memcpy(a.core->data(), a.v.data, a.core->bytes());
    return newTensor(e, a.core);
  });
}

// --- run ---

enum class Where { Device, Host, Given };

struct RunJob {
  std::shared_ptr<SessionCore> s;
  std::vector<std::string> inNames, outNames;
  std::vector<std::shared_ptr<TensorCore>> inTensors;  // keep device inputs alive
  std::vector<OrtValue*> inValues;                     // borrowed (device) or owned (host wrappers)
  std::vector<bool> inOwned;
  std::vector<napi_ref> hostRefs;  // host typed arrays read during the run
  std::vector<Where> outWhere;
  std::vector<std::shared_ptr<TensorCore>> outGiven;
  std::vector<napi_ref> outGivenRefs;  // the JS tensor objects given as outputs (returned as they are)
  // results
  std::vector<OrtValue*> results;  // one per output, in outNames order
  std::string errCode, errMsg;
  napi_deferred deferred = nullptr;
  napi_async_work work = nullptr;
  OrtRunOptions* runOptions = nullptr;  // a CUDA-graph session's run() captures nothing (gpu_graph_id -1)

  // The device tensors the run reads or writes: busy (no host copies) until it completes.
  void hold(int d) {
    for (auto& t : inTensors) t->busy += d;
    for (auto& t : outGiven)
      if (t) t->busy += d;
  }

  ~RunJob() {
    if (runOptions) ort->ReleaseRunOptions(runOptions);
    for (size_t i = 0; i < inValues.size(); i++)
      if (inOwned[i] && inValues[i]) ort->ReleaseValue(inValues[i]);
    for (OrtValue* v : results)
      if (v) ort->ReleaseValue(v);
  }
};

std::string expectText(const IoInfo& io) {
  std::string s = std::string(ortTypeName(io.type)) + " [";
  for (size_t i = 0; i < io.dims.size(); i++) {
    if (i) s += ", ";
    s += io.dims[i] >= 0 ? std::to_string(io.dims[i]) : (io.symbols[i].empty() ? "?" : io.symbols[i]);
  }
  return s + "]";
}

void checkAgainst(const SessionCore& s, const IoInfo& io, ONNXTensorElementDataType t,
                  const std::vector<int64_t>& dims, const std::string& what) {
  if (io.type == ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED) bad(what + " is not a tensor in the graph");
  bool ok = t == io.type && dims.size() == io.dims.size();
  for (size_t i = 0; ok && i < dims.size(); i++)
    if (io.dims[i] >= 0 && io.dims[i] != dims[i]) ok = false;
  if (!ok)
    bad(what + " is " + ortTypeName(t) + " " + dimsText(dims) + ", the graph wants " + expectText(io) +
        (s.fixedDims.empty() ? "" : " (dims fixed at open: " + s.fixedDims + ")"));
}

void runExecuteHere(RunJob* j);
void runExecute(napi_env, void* data) {
  auto* j = static_cast<RunJob*>(data);
  j->s->onItsThread([&] { runExecuteHere(j); });
}
void runExecuteHere(RunJob* j) {
  OrtIoBinding* b = nullptr;
  OrtStatus* st = ort->CreateIoBinding(j->s->session, &b);
  for (size_t i = 0; !st && i < j->inNames.size(); i++) st = ort->BindInput(b, j->inNames[i].c_str(), j->inValues[i]);
  for (size_t i = 0; !st && i < j->outNames.size(); i++) {
    const char* n = j->outNames[i].c_str();
    switch (j->outWhere[i]) {
      case Where::Device: st = ort->BindOutputToDevice(b, n, j->s->deviceInfo); break;
      case Where::Host: st = ort->BindOutputToDevice(b, n, j->s->hostInfo); break;
      case Where::Given: st = ort->BindOutput(b, n, j->outGiven[i]->value); break;
    }
  }
  if (!st) st = ort->RunWithBinding(j->s->session, j->runOptions, b);
  if (!st) st = ort->SynchronizeBoundOutputs(b);
  OrtAllocator* a = nullptr;
  if (!st) st = ort->GetAllocatorWithDefaultOptions(&a);
  char* names = nullptr;
  size_t* lengths = nullptr;
  size_t count = 0;
  OrtValue** values = nullptr;
  size_t vcount = 0;
  if (!st) st = ort->GetBoundOutputNames(b, a, &names, &lengths, &count);
  if (!st) st = ort->GetBoundOutputValues(b, a, &values, &vcount);
  if (!st) {
    // Bound outputs come back in binding order; match them by name all the same.
    j->results.assign(j->outNames.size(), nullptr);
    size_t off = 0;
    for (size_t i = 0; i < count; i++) {
      std::string n(names + off, lengths[i]);
      off += lengths[i];
      bool placed = false;
      for (size_t k = 0; k < j->outNames.size() && i < vcount; k++)
        if (!placed && j->outNames[k] == n && !j->results[k]) {
          j->results[k] = values[i];
          values[i] = nullptr;
          placed = true;
        }
    }
    for (size_t i = 0; i < vcount; i++)
      if (values[i]) ort->ReleaseValue(values[i]);
    for (size_t k = 0; k < j->outNames.size(); k++)
      if (!j->results[k]) {
        j->errCode = "ERR_NATIVE";
        j->errMsg = j->s->path + ": run returned no output '" + j->outNames[k] + "'";
      }
  }
  if (names) a->Free(a, names);
  if (lengths) a->Free(a, lengths);
  if (values) a->Free(a, values);
  if (b) ort->ReleaseIoBinding(b);
  if (st) {
    j->errCode = std::string("ERR_ORT_") + ortCodeName(ort->GetErrorCode(st));
    j->errMsg = j->s->path + ": run failed: " + ort->GetErrorMessage(st);
    ort->ReleaseStatus(st);
  }
}

void runComplete(napi_env e, napi_status, void* data) {
  std::unique_ptr<RunJob> j(static_cast<RunJob*>(data));
  j->hold(-1);
  for (napi_ref r : j->hostRefs) napi_delete_reference(e, r);
  std::vector<napi_value> given(j->outGivenRefs.size(), nullptr);
  for (size_t i = 0; i < j->outGivenRefs.size(); i++) {
    if (j->outGivenRefs[i]) napi_get_reference_value(e, j->outGivenRefs[i], &given[i]);
    if (j->outGivenRefs[i]) napi_delete_reference(e, j->outGivenRefs[i]);
  }
  napi_delete_async_work(e, j->work);
  if (!j->errMsg.empty()) {
    napi_reject_deferred(e, j->deferred, makeError(e, j->errCode, j->errMsg));
    return;
  }
  try {
    napi_value out;
    NAPI(napi_create_object(e, &out));
    for (size_t k = 0; k < j->outNames.size(); k++) {
      napi_value v;
      if (j->outWhere[k] == Where::Given) {
        v = given[k];
      } else {
        // The TensorCore owns the value from here on (also when wrapValue fails and releases it).
        OrtValue* value = j->results[k];
        j->results[k] = nullptr;
        auto t = wrapValue(value, j->s, j->outWhere[k] == Where::Device);
        if (j->outWhere[k] == Where::Device) {
          v = newTensor(e, t);
        } else {
          const TypeInfo* ti = typeByOrt(t->type);
          if (!ti) bad("output '" + j->outNames[k] + "' has an unsupported element type");
          size_t n = elementCount(t->dims);
          void* p = nullptr;
          napi_value arr = newTypedArray(e, *ti, n, &p);
          if (n) std::memcpy(p, t->data(), n * ti->size);
          NAPI(napi_create_object(e, &v));
          NAPI(napi_set_named_property(e, v, "type", jsStr(e, ti->name)));
          NAPI(napi_set_named_property(e, v, "dims", dimsArray(e, t->dims)));
          NAPI(napi_set_named_property(e, v, "data", arr));
        }
      }
      NAPI(napi_set_named_property(e, out, j->outNames[k].c_str(), v));
    }
    napi_resolve_deferred(e, j->deferred, out);
  } catch (const Failure& f) {
    napi_reject_deferred(e, j->deferred, makeError(e, f.code, f.what()));
  }
}

napi_value SessionRun(napi_env e, napi_callback_info info) {
  return guard(e, [&]() -> napi_value {
    size_t argc = 2;
    napi_value argv[2], self;
    auto s = liveSession(unwrapThis<SessionBox>(e, info, &argc, argv, &self));
    if (argc < 2 || typeOf(e, argv[0]) != napi_object || typeOf(e, argv[1]) != napi_object)
      bad("run(inputs, outputs): both must be objects keyed by name");
    auto j = std::make_unique<RunJob>();
    j->s = s;
    auto cleanupRefs = [&] {
      for (napi_ref r : j->hostRefs) napi_delete_reference(e, r);
      j->hostRefs.clear();
      for (napi_ref r : j->outGivenRefs)
        if (r) napi_delete_reference(e, r);
      j->outGivenRefs.clear();
    };
    try {
      napi_value keys;
      uint32_t n;
      NAPI(napi_get_property_names(e, argv[0], &keys));
      NAPI(napi_get_array_length(e, keys, &n));
      std::vector<std::string> missing;
      for (uint32_t i = 0; i < n; i++) {
        napi_value k, v;
        NAPI(napi_get_element(e, keys, i, &k));
        std::string name = str(e, k, "input name");
        NAPI(napi_get_property(e, argv[0], k, &v));
        const IoInfo* io = s->input(name);
        std::string what = "input '" + name + "'";
        if (!io) {
          std::string known;
          for (const auto& x : s->inputs) known += (known.empty() ? "" : ", ") + x.name;
          bad(s->path + ": unknown " + what + " (the graph's inputs: " + known + ")");
        }
        if (TensorBox* tb = asTensor(e, v)) {
          if (!tb->core) throw Failure("ERR_NATIVE_RELEASED", what + ": tensor used after release()");
          if (tb->core->owner && tb->core->owner->cuda != s->cuda)
            bad(what + ": a tensor of a " + (tb->core->owner->cuda ? "cuda" : "cpu") + " session fed to a " +
                (s->cuda ? "cuda" : "cpu") + " session");
          checkAgainst(*s, *io, tb->core->type, tb->core->dims, what);
          j->inTensors.push_back(tb->core);
          j->inValues.push_back(tb->core->value);
          j->inOwned.push_back(false);
        } else {
          if (typeOf(e, v) != napi_object || !has(e, v, "type") || !has(e, v, "dims") || !has(e, v, "data"))
            bad(what + " must be a DeviceTensor or a host tensor {type, dims, data}");
          const TypeInfo& t = typeByName(str(e, get(e, v, "type"), what + ".type"));
          auto dims = dimsOf(e, get(e, v, "dims"), what + ".dims");
          napi_value arr = get(e, v, "data");
          View view = typedArray(e, arr, what + ".data");
          fits(view, t, elementCount(dims), what);
          checkAgainst(*s, *io, t.ort, dims, what);
          napi_ref r;
          NAPI(napi_create_reference(e, arr, 1, &r));
          j->hostRefs.push_back(r);
          // onnxruntime reads a zero-byte buffer's address too: give it a valid one.
          static uint64_t empty = 0;
          j->inValues.push_back(s->hostValue(view.bytes ? view.data : &empty, view.bytes, dims, t.ort));
          j->inOwned.push_back(true);
        }
        j->inNames.push_back(name);
      }
      for (const auto& x : s->inputs)
        if (std::find(j->inNames.begin(), j->inNames.end(), x.name) == j->inNames.end())
          missing.push_back(x.name + " (" + expectText(x) + ")");
      if (!missing.empty()) {
        std::string m;
        for (auto& x : missing) m += (m.empty() ? "" : ", ") + x;
        bad(s->path + ": missing input " + m);
      }

      NAPI(napi_get_property_names(e, argv[1], &keys));
      NAPI(napi_get_array_length(e, keys, &n));
      if (n == 0) bad("run(inputs, outputs): name at least one output");
      for (uint32_t i = 0; i < n; i++) {
        napi_value k, v;
        NAPI(napi_get_element(e, keys, i, &k));
        std::string name = str(e, k, "output name");
        NAPI(napi_get_property(e, argv[1], k, &v));
        const IoInfo* io = s->output(name);
        std::string what = "output '" + name + "'";
        if (!io) {
          std::string known;
          for (const auto& x : s->outputs) known += (known.empty() ? "" : ", ") + x.name;
          bad(s->path + ": unknown " + what + " (the graph's outputs: " + known + ")");
        }
        if (TensorBox* tb = asTensor(e, v)) {
          if (!tb->core) throw Failure("ERR_NATIVE_RELEASED", what + ": tensor used after release()");
          if (tb->core->owner.get() != s.get() && tb->core->owner && tb->core->owner->cuda != s->cuda)
            bad(what + ": a tensor of another device");
          checkAgainst(*s, *io, tb->core->type, tb->core->dims, what);
          j->outWhere.push_back(Where::Given);
          j->outGiven.push_back(tb->core);
          napi_ref r;
          NAPI(napi_create_reference(e, v, 1, &r));
          j->outGivenRefs.push_back(r);
        } else {
          std::string w = typeOf(e, v) == napi_string ? str(e, v, what) : "";
          if (w != "device" && w != "cpu") bad(what + " must be 'device', 'cpu' or a DeviceTensor to write into");
          j->outWhere.push_back(w == "device" ? Where::Device : Where::Host);
          j->outGiven.push_back(nullptr);
          j->outGivenRefs.push_back(nullptr);
        }
        j->outNames.push_back(name);
      }
      if (s->cudaGraph) {
        check(ort->CreateRunOptions(&j->runOptions), "run options");
        check(ort->AddRunConfigEntry(j->runOptions, "gpu_graph_id", "-1"), "run options: gpu_graph_id");
      }
    } catch (...) {
      cleanupRefs();
      throw;
    }
    napi_value promise;
    NAPI(napi_create_promise(e, &j->deferred, &promise));
    napi_value resource = jsStr(e, "ort_device.run");
    NAPI(napi_create_async_work(e, nullptr, resource, runExecute, runComplete, j.get(), &j->work));
    if (napi_queue_async_work(e, j->work) != napi_ok) {
      napi_delete_async_work(e, j->work);
      cleanupRefs();
      bad("could not queue the run");
    }
    j->hold(1);
    j.release();
    return promise;
  });
}

// --- bindings: one IoBinding run many times ---

// Device tensors bound once to a session's inputs and outputs (an output may be bound to the tensor of an
// input: written in place), run any number of times with the same IoBinding. On a session with
// enable_cuda_graph each binding has its own gpu_graph_id, so onnxruntime captures its graph once and
// replays it: the addresses never change.
struct BindingCore {
  std::shared_ptr<SessionCore> s;
  OrtIoBinding* binding = nullptr;
  OrtRunOptions* runOptions = nullptr;
  std::vector<std::shared_ptr<TensorCore>> tensors;  // every tensor bound, held for the binding's life
  bool running = false;
  int graphId = -1;
  ~BindingCore() {
    if (binding) ort->ReleaseIoBinding(binding);
    if (runOptions) ort->ReleaseRunOptions(runOptions);
  }
};
struct BindingBox {
  std::shared_ptr<BindingCore> core;
};

struct BindingJob {
  std::shared_ptr<BindingCore> b;
  int64_t times = 1;
  std::string errCode, errMsg;
  napi_deferred deferred = nullptr;
  napi_async_work work = nullptr;
  void hold(int d) {
    for (auto& t : b->tensors) t->busy += d;
  }
};

void bindingExecute(napi_env, void* data) {
  auto* j = static_cast<BindingJob*>(data);
  OrtStatus* st = nullptr;
  j->b->s->onItsThread([&] {
    for (int64_t i = 0; !st && i < j->times; i++)
      st = ort->RunWithBinding(j->b->s->session, j->b->runOptions, j->b->binding);
    if (!st && j->times > 0) st = ort->SynchronizeBoundOutputs(j->b->binding);
  });
  if (st) {
    j->errCode = std::string("ERR_ORT_") + ortCodeName(ort->GetErrorCode(st));
    j->errMsg = j->b->s->path + ": run failed: " + ort->GetErrorMessage(st);
    ort->ReleaseStatus(st);
  }
}

void bindingComplete(napi_env e, napi_status, void* data) {
  std::unique_ptr<BindingJob> j(static_cast<BindingJob*>(data));
  j->hold(-1);
  j->b->running = false;
  napi_delete_async_work(e, j->work);
  if (!j->errMsg.empty())
    napi_reject_deferred(e, j->deferred, makeError(e, j->errCode, j->errMsg));
  else
    napi_resolve_deferred(e, j->deferred, undefinedValue(e));
}

napi_value bindingClass(napi_env e);

// memoryStats(): the statistics of the allocator the session's outputs and activations take memory from,
// as onnxruntime keeps them (AllocatorGetStats; its arena's Limit, InUse, TotalAllocated, MaxInUse,
// NumAllocs, NumArenaExtensions, MaxAllocSize ...), in numbers; {} for an allocator that keeps none.
// On CUDA the session's own device allocator (its arena); on CPU one made for the session's CPU memory.
napi_value SessionMemoryStats(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    napi_value self, r;
    auto s = liveSession(unwrapThis<SessionBox>(e, info, nullptr, nullptr, &self));
    OrtAllocator* a = s->cuda ? s->deviceAlloc : nullptr;
    bool made = false;
    if (!a) {
      OrtMemoryInfo* cpu = nullptr;
      check(ort->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &cpu), "CPU memory info");
      OrtStatus* st = ort->CreateAllocator(s->session, cpu, &a);
      ort->ReleaseMemoryInfo(cpu);
      if (st) {
        ort->ReleaseStatus(st);
        a = nullptr;
      } else {
        made = true;
      }
    }
    NAPI(napi_create_object(e, &r));
    if (!a) return r;
    OrtKeyValuePairs* kv = nullptr;
    OrtStatus* st = ort->AllocatorGetStats(a, &kv);
    if (made) ort->ReleaseAllocator(a);
    check(st, "memoryStats: the allocator's statistics");
    const char* const* keys = nullptr;
    const char* const* values = nullptr;
    size_t n = 0;
    ort->GetKeyValuePairs(kv, &keys, &values, &n);
    for (size_t i = 0; i < n; i++) NAPI(napi_set_named_property(e, r, keys[i], jsNum(e, std::strtod(values[i], nullptr))));
    ort->ReleaseKeyValuePairs(kv);
    return r;
  });
}

// endProfiling(): with options.profile, ends onnxruntime's profiling of the session and answers the path of
// the JSON file it wrote (a Chrome trace: each run, and each node's time on the calling thread).
napi_value SessionEndProfiling(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    napi_value self, r;
    auto s = liveSession(unwrapThis<SessionBox>(e, info, nullptr, nullptr, &self));
    OrtAllocator* a = nullptr;
    check(ort->GetAllocatorWithDefaultOptions(&a), "the default allocator");
    char* out = nullptr;
    check(ort->SessionEndProfiling(s->session, a, &out), "endProfiling");
    std::string path = out ? out : "";
    if (out) a->Free(a, out);
    NAPI(napi_create_string_utf8(e, path.c_str(), path.size(), &r));
    return r;
  });
}

// How many threads this session's runs have run on (1 with ownThread or cudaGraph, once it has run).
napi_value SessionRunThreads(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    napi_value self, r;
    auto s = liveSession(unwrapThis<SessionBox>(e, info, nullptr, nullptr, &self));
    std::lock_guard<std::mutex> l(s->threadsLock);
    NAPI(napi_create_uint32(e, static_cast<uint32_t>(s->runThreads.size()), &r));
    return r;
  });
}

napi_value SessionBind(napi_env e, napi_callback_info info) {
  return guard(e, [&]() -> napi_value {
    size_t argc = 2;
    napi_value argv[2], self;
    auto s = liveSession(unwrapThis<SessionBox>(e, info, &argc, argv, &self));
    if (argc < 2 || typeOf(e, argv[0]) != napi_object || typeOf(e, argv[1]) != napi_object)
      bad("bind(inputs, outputs): both must be objects of DeviceTensors keyed by name");
    auto b = std::make_shared<BindingCore>();
    b->s = s;
    std::vector<std::string> inNames, outNames;
    std::vector<std::shared_ptr<TensorCore>> ins, outs;
    auto each = [&](napi_value obj, bool input) {
      napi_value keys;
      uint32_t n;
      NAPI(napi_get_property_names(e, obj, &keys));
      NAPI(napi_get_array_length(e, keys, &n));
      for (uint32_t i = 0; i < n; i++) {
        napi_value k, v;
        NAPI(napi_get_element(e, keys, i, &k));
        std::string name = str(e, k, input ? "input name" : "output name");
        NAPI(napi_get_property(e, obj, k, &v));
        std::string what = std::string(input ? "input '" : "output '") + name + "'";
        const IoInfo* io = input ? s->input(name) : s->output(name);
        if (!io) {
          std::string known;
          for (const auto& x : input ? s->inputs : s->outputs) known += (known.empty() ? "" : ", ") + x.name;
          bad(s->path + ": unknown " + what + " (the graph's " + (input ? "inputs: " : "outputs: ") + known + ")");
        }
        TensorBox* tb = asTensor(e, v);
        if (!tb) bad(what + " must be a DeviceTensor (a binding takes no {type, dims, data} host inputs; allocHost makes a host tensor it takes)");
        if (!tb->core) throw Failure("ERR_NATIVE_RELEASED", what + ": tensor used after release()");
        // A host tensor of this session (allocHost) may be an input; everything else is in its device memory.
        const bool hostInput = input && !tb->core->onDevice && tb->core->owner == s;
        if (!hostInput && (!tb->core->onDevice || !tb->core->owner || tb->core->owner->cuda != s->cuda))
          bad(what + ": not a tensor in this session's device memory (" + (s->cuda ? "cuda" : "cpu") + ")");
        checkAgainst(*s, *io, tb->core->type, tb->core->dims, what);
        if (!input)
          for (size_t o = 0; o < outs.size(); o++)
            if (outs[o] == tb->core) bad(what + ": the tensor is bound to output '" + outNames[o] + "' already");
        (input ? inNames : outNames).push_back(name);
        (input ? ins : outs).push_back(tb->core);
      }
    };
    each(argv[0], true);
    each(argv[1], false);
    std::string missing;
    for (const auto& x : s->inputs)
      if (std::find(inNames.begin(), inNames.end(), x.name) == inNames.end())
        missing += (missing.empty() ? "" : ", ") + x.name + " (" + expectText(x) + ")";
    if (!missing.empty()) bad(s->path + ": bind: missing input " + missing);
    if (outNames.empty()) bad("bind(inputs, outputs): name at least one output");
    check(ort->CreateIoBinding(s->session, &b->binding), "bind: creating an IoBinding");
    for (size_t i = 0; i < ins.size(); i++)
      check(ort->BindInput(b->binding, inNames[i].c_str(), ins[i]->value), "bind: input '" + inNames[i] + "'");
    for (size_t i = 0; i < outs.size(); i++)
      check(ort->BindOutput(b->binding, outNames[i].c_str(), outs[i]->value), "bind: output '" + outNames[i] + "'");
    b->tensors = ins;
    b->tensors.insert(b->tensors.end(), outs.begin(), outs.end());
    if (s->cudaGraph) {
      b->graphId = ++s->graphIds;
      check(ort->CreateRunOptions(&b->runOptions), "run options");
      check(ort->AddRunConfigEntry(b->runOptions, "gpu_graph_id", std::to_string(b->graphId).c_str()),
            "run options: gpu_graph_id");
    }
    napi_value obj;
    NAPI(napi_new_instance(e, bindingClass(e), 0, nullptr, &obj));
    void* p = nullptr;
    NAPI(napi_unwrap(e, obj, &p));
    static_cast<BindingBox*>(p)->core = b;
    return obj;
  });
}

napi_value BindingNew(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    napi_value self;
    NAPI(napi_get_cb_info(e, info, nullptr, nullptr, &self, nullptr));
    auto* box = new BindingBox();
    NAPI(napi_wrap(
        e, self, box, [](napi_env, void* p, void*) { delete static_cast<BindingBox*>(p); }, nullptr, nullptr));
    return self;
  });
}

std::shared_ptr<BindingCore> liveBinding(BindingBox* b) {
  if (!b->core) throw Failure("ERR_NATIVE_RELEASED", "binding used after release()");
  return b->core;
}

// run(times = 1): the session `times` times back to back on a pool thread; resolves when the last is done.
napi_value BindingRun(napi_env e, napi_callback_info info) {
  return guard(e, [&]() -> napi_value {
    size_t argc = 1;
    napi_value argv[1], self;
    auto b = liveBinding(unwrapThis<BindingBox>(e, info, &argc, argv, &self));
    int64_t times = 1;
    if (argc >= 1 && typeOf(e, argv[0]) != napi_undefined) {
      times = nonNegativeInteger(number(e, argv[0], "run(times)"), "run(times)");
    }
    if (b->running) throw Failure("ERR_NATIVE_BUSY", b->s->path + ": the binding is running already (await its run)");
    auto j = std::make_unique<BindingJob>();
    j->b = b;
    j->times = times;
    napi_value promise;
    NAPI(napi_create_promise(e, &j->deferred, &promise));
    NAPI(napi_create_async_work(e, nullptr, jsStr(e, "ort_device.bindingRun"), bindingExecute, bindingComplete,
                                j.get(), &j->work));
    if (napi_queue_async_work(e, j->work) != napi_ok) {
      napi_delete_async_work(e, j->work);
      bad("could not queue the run");
    }
    b->running = true;
    j->hold(1);
    j.release();
    return promise;
  });
}

napi_value BindingRunning(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    napi_value self, r;
    auto* box = unwrapThis<BindingBox>(e, info, nullptr, nullptr, &self);
    NAPI(napi_get_boolean(e, box->core && box->core->running, &r));
    return r;
  });
}

napi_value BindingGraphId(napi_env e, napi_callback_info info) {
  return guard(e, [&] {
    napi_value self;
    return jsNum(e, liveBinding(unwrapThis<BindingBox>(e, info, nullptr, nullptr, &self))->graphId);
  });
}

// ---------- module ----------

// copyPath(): how this process copies between host and CUDA memory (SessionCore::copy): "runtime"
// (cudaMemcpyAsync, its first copy checked against a graph run's), "graph" (graph runs: the runtime copy
// is not there or failed its check), "unchecked" (no such copy yet, or none on CUDA).
napi_value CopyPath(napi_env e, napi_callback_info) {
  int s = runtimeCopy().state.load();
  return jsStr(e, s == RuntimeCopy::kGood ? "runtime" : s == RuntimeCopy::kBroken ? "graph" : "unchecked");
}

napi_value Init(napi_env e, napi_value exports) {
  const OrtApiBase* base = OrtGetApiBase();
  ort = base->GetApi(ORT_API_VERSION);
  if (!ort) {
    std::string m = std::string("libonnxruntime ") + base->GetVersionString() +
                    " does not provide C API version " + std::to_string(ORT_API_VERSION) +
                    " (the headers this addon was built with): rebuild against the library's own headers";
    napi_throw_error(e, "ERR_NATIVE_ORT_VERSION", m.c_str());
    return nullptr;
  }
  static std::mutex envLock;  // worker threads may load the addon at the same time
  std::lock_guard<std::mutex> g(envLock);
  if (!env) {
    // One environment per process: when onnxruntime-node has made one, onnxruntime hands back the same.
    OrtStatus* st = ort->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "ort_device", &env);
    if (st) {
      std::string m = std::string("creating the onnxruntime environment: ") + ort->GetErrorMessage(st);
      ort->ReleaseStatus(st);
      napi_throw_error(e, "ERR_ORT_ENV", m.c_str());
      return nullptr;
    }
  }
  return guard(e, [&] {
    napi_property_descriptor tprops[] = {
        {"type", nullptr, nullptr, TensorType, nullptr, nullptr, napi_default, nullptr},
        {"dims", nullptr, nullptr, TensorDims, nullptr, nullptr, napi_default, nullptr},
        {"device", nullptr, nullptr, TensorDevice, nullptr, nullptr, napi_default, nullptr},
        {"released", nullptr, nullptr, TensorReleased, nullptr, nullptr, napi_default, nullptr},
        {"address", nullptr, nullptr, TensorAddress, nullptr, nullptr, napi_default, nullptr},
        {"upload", nullptr, TensorUpload, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"view", nullptr, TensorView, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"download", nullptr, TensorDownload, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"release", nullptr, Release<TensorBox>, nullptr, nullptr, nullptr, napi_default, nullptr},
    };
    napi_value tcls;
    NAPI(napi_define_class(e, "Tensor", NAPI_AUTO_LENGTH, TensorNew, nullptr, sizeof(tprops) / sizeof(tprops[0]),
                           tprops, &tcls));
    napi_property_descriptor bprops[] = {
        {"run", nullptr, BindingRun, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"running", nullptr, nullptr, BindingRunning, nullptr, nullptr, napi_default, nullptr},
        {"graphId", nullptr, nullptr, BindingGraphId, nullptr, nullptr, napi_default, nullptr},
        {"release", nullptr, Release<BindingBox>, nullptr, nullptr, nullptr, napi_default, nullptr},
    };
    napi_value bcls;
    NAPI(napi_define_class(e, "Binding", NAPI_AUTO_LENGTH, BindingNew, nullptr, sizeof(bprops) / sizeof(bprops[0]),
                           bprops, &bcls));
    auto* data = new AddonData();
    NAPI(napi_create_reference(e, tcls, 1, &data->tensorCtor));
    NAPI(napi_create_reference(e, bcls, 1, &data->bindingCtor));
    NAPI(napi_set_instance_data(
        e, data,
        [](napi_env env, void* p, void*) {
          auto* d = static_cast<AddonData*>(p);
          napi_delete_reference(env, d->tensorCtor);
          napi_delete_reference(env, d->bindingCtor);
          delete d;
        },
        nullptr));
    napi_property_descriptor sprops[] = {
        {"inputs", nullptr, nullptr, SessionInputs, nullptr, nullptr, napi_default, nullptr},
        {"outputs", nullptr, nullptr, SessionOutputs, nullptr, nullptr, napi_default, nullptr},
        {"device", nullptr, nullptr, SessionDevice, nullptr, nullptr, napi_default, nullptr},
        {"sms", nullptr, nullptr, SessionSms, nullptr, nullptr, napi_default, nullptr},
        {"alloc", nullptr, SessionAlloc, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"allocHost", nullptr, SessionAllocHost, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"run", nullptr, SessionRun, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"bind", nullptr, SessionBind, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"runThreads", nullptr, nullptr, SessionRunThreads, nullptr, nullptr, napi_default, nullptr},
        {"memoryStats", nullptr, SessionMemoryStats, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"endProfiling", nullptr, SessionEndProfiling, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"release", nullptr, Release<SessionBox>, nullptr, nullptr, nullptr, napi_default, nullptr},
    };
    napi_value scls;
    NAPI(napi_define_class(e, "Session", NAPI_AUTO_LENGTH, SessionNew, nullptr, sizeof(sprops) / sizeof(sprops[0]),
                           sprops, &scls));
    NAPI(napi_set_named_property(e, exports, "Session", scls));
    NAPI(napi_set_named_property(e, exports, "Tensor", tcls));
    NAPI(napi_set_named_property(e, exports, "Binding", bcls));
    NAPI(napi_set_named_property(e, exports, "ortVersion", jsStr(e, base->GetVersionString())));
    NAPI(napi_set_named_property(e, exports, "apiVersion", jsNum(e, ORT_API_VERSION)));
    napi_value copyPath;
    NAPI(napi_create_function(e, "copyPath", NAPI_AUTO_LENGTH, CopyPath, nullptr, &copyPath));
    NAPI(napi_set_named_property(e, exports, "copyPath", copyPath));
    napi_value copyBlocks;
    NAPI(napi_create_function(e, "copyBlocks", NAPI_AUTO_LENGTH, CopyBlocks, nullptr, &copyBlocks));
    NAPI(napi_set_named_property(e, exports, "copyBlocks", copyBlocks));
    return exports;
  });
}

}  // namespace

NAPI_MODULE(ort_device, Init)
