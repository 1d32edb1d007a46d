/* ort_bench.c: ONNX Runtime as a peer in `make bench`, through its C API.
 * tools/bench.py compiles this into a shared library and loads it with
 * ctypes, the way it loads tools/bench_shim.c around modelc's C:
 *
 *   gcc -O2 -std=c99 -shared -fPIC tools/ort_bench.c \
 *       -o build/ort/ort_bench.so -ldl
 *
 * The npm package onnxruntime-node ships libonnxruntime.so.1 but no C
 * header, so this file declares the little it uses. The library is opened
 * with dlopen (ort_load), nothing links against it.
 *
 * The C API is one entry point, OrtGetApiBase(), returning a struct of two
 * function pointers (GetApi, GetVersionString); GetApi(version) returns a
 * `struct OrtApi`, which is nothing but function pointers in a fixed order.
 * ONNX Runtime only appends to that struct, so a member keeps its position
 * in every later version. The positions below were counted by hand in
 * onnxruntime's include/onnxruntime/core/session/onnxruntime_c_api.h
 * (struct OrtApi, first member CreateStatus = 0, one per function-pointer
 * member, ORT_CLASS_RELEASE(X) counting as one member ReleaseX).
 * ort_load checks them at run time: it creates a status through
 * CreateStatus, reads back its code and message through GetErrorCode and
 * GetErrorMessage, and ort_open later checks that the session reports one
 * input and one output and that the output value's data pointer is the
 * buffer it was created on. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The ORT API version asked for: 1.31's own. An older library returns
 * NULL for it; then ort_load tries older versions down to 13, since every
 * member used here exists from version 1 on. */
#define ORT_API_VERSION_WANTED 31

/* Enum values from the same header. */
enum { ORT_LOGGING_LEVEL_ERROR = 3 };
enum { ORT_INVALID_ARGUMENT = 2 };
enum { ORT_SEQUENTIAL = 0 };
enum { ORT_ENABLE_ALL = 99 };
enum { OrtArenaAllocator = 1 };
enum { OrtMemTypeDefault = 0 };
enum { ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT = 1 };

typedef void Status; /* OrtStatus*: NULL means success */
typedef void (*Fn)(void);
typedef struct ApiBase {
  const Fn *(*GetApi)(uint32_t version);
  const char *(*GetVersionString)(void);
} ApiBase;

/* The members of struct OrtApi used here: position (see above) and type.
 * The opaque Ort* handles are all void * here. */
#define POS_CreateStatus 0
typedef Status *(*T_CreateStatus)(int code, const char *msg);
#define POS_GetErrorCode 1
typedef int (*T_GetErrorCode)(const Status *status);
#define POS_GetErrorMessage 2
typedef const char *(*T_GetErrorMessage)(const Status *status);
#define POS_CreateEnv 3
typedef Status *(*T_CreateEnv)(int log_level, const char *logid, void **env);
#define POS_DisableTelemetryEvents 6
typedef Status *(*T_DisableTelemetryEvents)(const void *env);
#define POS_CreateSession 7
typedef Status *(*T_CreateSession)(const void *env, const char *model_path,
                                   const void *options, void **session);
#define POS_Run 9
typedef Status *(*T_Run)(void *session, const void *run_options,
                         const char *const *input_names, void *const *inputs,
                         size_t ninputs, const char *const *output_names,
                         size_t noutputs, void **outputs);
#define POS_CreateSessionOptions 10
typedef Status *(*T_CreateSessionOptions)(void **options);
#define POS_SetSessionExecutionMode 13
typedef Status *(*T_SetSessionExecutionMode)(void *options, int mode);
#define POS_SetSessionGraphOptimizationLevel 23
typedef Status *(*T_SetSessionGraphOptimizationLevel)(void *options, int level);
#define POS_SetIntraOpNumThreads 24
typedef Status *(*T_SetIntraOpNumThreads)(void *options, int n);
#define POS_SetInterOpNumThreads 25
typedef Status *(*T_SetInterOpNumThreads)(void *options, int n);
#define POS_SessionGetInputCount 30
typedef Status *(*T_SessionGetInputCount)(const void *session, size_t *n);
#define POS_SessionGetOutputCount 31
typedef Status *(*T_SessionGetOutputCount)(const void *session, size_t *n);
#define POS_CreateTensorWithDataAsOrtValue 49
typedef Status *(*T_CreateTensorWithDataAsOrtValue)(const void *meminfo,
                                                    void *data, size_t bytes,
                                                    const int64_t *shape,
                                                    size_t rank, int elem_type,
                                                    void **value);
#define POS_GetTensorMutableData 51
typedef Status *(*T_GetTensorMutableData)(void *value, void **data);
#define POS_CreateCpuMemoryInfo 69
typedef Status *(*T_CreateCpuMemoryInfo)(int allocator_type, int mem_type,
                                         void **meminfo);
#define POS_ReleaseStatus 93
typedef void (*T_ReleaseStatus)(Status *status);
#define POS_ReleaseSessionOptions 100
typedef void (*T_ReleaseSessionOptions)(void *options);

/* API(Run) is the Run member of the table, with its type. */
#define API(name) ((T_##name)api[POS_##name])

static const Fn *api;
static char errbuf[512];

/* Every API call that returns a status goes through here. */
static int ok(Status *st, const char *what) {
  if (!st) return 1;
  const char *msg = API(GetErrorMessage)(st);
  snprintf(errbuf, sizeof errbuf, "%s: %s", what, msg ? msg : "(no message)");
  API(ReleaseStatus)(st);
  return 0;
}

const char *ort_error(void) {
  return errbuf;
}

static void *env, *meminfo;

/* Opens the library, gets the API table and the environment. Returns the
 * API version obtained (> 0), or 0 with ort_error() set. version receives
 * the library's version string. */
int ort_load(const char *lib, char *version, int vlen) {
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(errbuf, sizeof errbuf, "dlopen: %s", dlerror());
    return 0;
  }
  const ApiBase *(*get_base)(void);
  *(void **)&get_base = dlsym(h, "OrtGetApiBase");
  if (!get_base) {
    snprintf(errbuf, sizeof errbuf, "%s has no OrtGetApiBase", lib);
    return 0;
  }
  const ApiBase *base = get_base();
  snprintf(version, (size_t)vlen, "%s", base->GetVersionString());
  int v = ORT_API_VERSION_WANTED;
  for (; v >= 13 && !(api = base->GetApi((uint32_t)v)); v--) {
  }
  if (!api) {
    snprintf(errbuf, sizeof errbuf, "GetApi: no API version 13..%d in ORT %s",
             ORT_API_VERSION_WANTED, version);
    return 0;
  }
  /* Sanity check of the first positions: a status round trip. */
  Status *st = API(CreateStatus)(ORT_INVALID_ARGUMENT, "modelc probe");
  int code = API(GetErrorCode)(st);
  const char *msg = API(GetErrorMessage)(st);
  int good =
      code == ORT_INVALID_ARGUMENT && msg && strcmp(msg, "modelc probe") == 0;
  API(ReleaseStatus)(st);
  if (!good) {
    snprintf(errbuf, sizeof errbuf,
             "the OrtApi layout of ORT %s is not the expected one", version);
    return 0;
  }
  if (!ok(API(CreateEnv)(ORT_LOGGING_LEVEL_ERROR, "modelc-bench", &env),
          "CreateEnv") ||
      !ok(API(DisableTelemetryEvents)(env), "DisableTelemetryEvents") ||
      !ok(API(CreateCpuMemoryInfo)(OrtArenaAllocator, OrtMemTypeDefault,
                                   &meminfo),
          "CreateCpuMemoryInfo"))
    return 0;
  return v;
}

#define MAXSESS 64
typedef struct Sess {
  void *session, *in_val, *out_val;
  float *in, *out;
  long in_n, out_n;
} Sess;
static Sess sess[MAXSESS];
static int nsess;

static float *alloc64(long n) {
  void *p = NULL;
  size_t bytes = ((size_t)n * sizeof(float) + 63) / 64 * 64;
  if (posix_memalign(&p, 64, bytes ? bytes : 64)) return NULL;
  memset(p, 0, bytes ? bytes : 64);
  return p;
}

/* A session on model_path (one float input "input", one float output
 * "output", shapes given), with its input and output values preallocated
 * on our own buffers. Returns a handle >= 0, or -1 with ort_error() set. */
int ort_open(const char *model_path, const int64_t *in_shape, int in_rank,
             const int64_t *out_shape, int out_rank) {
  if (!api || nsess == MAXSESS) {
    snprintf(errbuf, sizeof errbuf, "ort_open: %s",
             api ? "too many sessions" : "not loaded");
    return -1;
  }
  Sess *s = &sess[nsess];
  void *opt = NULL;
  if (!ok(API(CreateSessionOptions)(&opt), "CreateSessionOptions") ||
      !ok(API(SetIntraOpNumThreads)(opt, 1), "SetIntraOpNumThreads") ||
      !ok(API(SetInterOpNumThreads)(opt, 1), "SetInterOpNumThreads") ||
      !ok(API(SetSessionExecutionMode)(opt, ORT_SEQUENTIAL),
          "SetSessionExecutionMode") ||
      !ok(API(SetSessionGraphOptimizationLevel)(opt, ORT_ENABLE_ALL),
          "SetSessionGraphOptimizationLevel") ||
      !ok(API(CreateSession)(env, model_path, opt, &s->session),
          "CreateSession"))
    return -1;
  API(ReleaseSessionOptions)(opt);
  size_t nin = 0, nout = 0;
  if (!ok(API(SessionGetInputCount)(s->session, &nin),
          "SessionGetInputCount") ||
      !ok(API(SessionGetOutputCount)(s->session, &nout),
          "SessionGetOutputCount"))
    return -1;
  if (nin != 1 || nout != 1) {
    snprintf(errbuf, sizeof errbuf,
             "%s: %zu inputs and %zu outputs, expected 1 and 1", model_path,
             nin, nout);
    return -1;
  }
  s->in_n = s->out_n = 1;
  for (int i = 0; i < in_rank; i++)
    s->in_n *= (long)in_shape[i];
  for (int i = 0; i < out_rank; i++)
    s->out_n *= (long)out_shape[i];
  s->in = alloc64(s->in_n);
  s->out = alloc64(s->out_n);
  if (!s->in || !s->out) {
    snprintf(errbuf, sizeof errbuf, "out of memory");
    return -1;
  }
  if (!ok(API(CreateTensorWithDataAsOrtValue)(
              meminfo, s->in, sizeof(float) * (size_t)s->in_n, in_shape,
              (size_t)in_rank, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &s->in_val),
          "CreateTensorWithDataAsOrtValue") ||
      !ok(API(CreateTensorWithDataAsOrtValue)(
              meminfo, s->out, sizeof(float) * (size_t)s->out_n, out_shape,
              (size_t)out_rank, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
              &s->out_val),
          "CreateTensorWithDataAsOrtValue"))
    return -1;
  /* The last check of the positions: the output value wraps our buffer. */
  void *data = NULL;
  if (!ok(API(GetTensorMutableData)(s->out_val, &data), "GetTensorMutableData"))
    return -1;
  if (data != s->out) {
    snprintf(errbuf, sizeof errbuf,
             "GetTensorMutableData: not the preallocated buffer");
    return -1;
  }
  return nsess++;
}

static const char *const in_names[] = {"input"};
static const char *const out_names[] = {"output"};

static int run_once(Sess *s) {
  return ok(API(Run)(s->session, NULL, in_names, &s->in_val, 1, out_names, 1,
                     &s->out_val),
            "Run");
}

/* Copies x into the input, runs once, copies the output into y. */
int ort_run(int h, const float *x, float *y) {
  Sess *s = &sess[h];
  memcpy(s->in, x, sizeof(float) * (size_t)s->in_n);
  if (!run_once(s)) return -1;
  memcpy(y, s->out, sizeof(float) * (size_t)s->out_n);
  return 0;
}

/* Runs the session iters times back to back on its current input; returns
 * the elapsed nanoseconds, or -1 on an error. */
double ort_bench(int h, long iters) {
  Sess *s = &sess[h];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < iters; i++)
    if (!run_once(s)) return -1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0.tv_sec) * 1e9 +
         (double)(t1.tv_nsec - t0.tv_nsec);
}
