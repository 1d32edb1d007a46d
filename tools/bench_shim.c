/* bench_shim.c: a timing entry point around one generated model, for
 * tools/bench.py (make bench). Compiled into a shared library together with
 * the generated NAME.c:
 *
 *   gcc -O3 -march=native -std=c99 -shared -fPIC -Ibuild/bench \
 *       -DMODEL=seed_cnn1d_b1 -DUMODEL=SEED_CNN1D_B1 \
 *       build/bench/seed_cnn1d_b1.c tools/bench_shim.c -o seed_cnn1d_b1.so
 *
 * It uses only the generated header's API: NAME_forward_ws and the
 * UPPERNAME_INPUT_SIZE / _OUTPUT_SIZE / _WORKSPACE_SIZE macros. The buffers
 * are 64-byte aligned; the input is a fixed pseudo-random N(0,1)-ish fill
 * until mc_set_input replaces it. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STR_(x) #x
#define STR(x) STR_(x)
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#include STR(MODEL.h)

#define FORWARD CAT(MODEL, _forward_ws)
#define IN_SIZE CAT(UMODEL, _INPUT_SIZE)
#define OUT_SIZE CAT(UMODEL, _OUTPUT_SIZE)
#define WS_SIZE CAT(UMODEL, _WORKSPACE_SIZE)

static float *in_buf, *out_buf;
static void *ws_buf;

static void *alloc64(size_t bytes) {
  void *p = NULL;
  bytes = (bytes + 63) / 64 * 64;
  if (bytes == 0) bytes = 64;
  if (posix_memalign(&p, 64, bytes)) abort();
  memset(p, 0, bytes);
  return p;
}

static void setup(void) {
  if (in_buf) return;
  in_buf = alloc64(sizeof(float) * (size_t)IN_SIZE);
  out_buf = alloc64(sizeof(float) * (size_t)OUT_SIZE);
  ws_buf = alloc64((size_t)WS_SIZE);
  unsigned long s = 12345;
  for (long i = 0; i < (long)IN_SIZE; i++) {
    /* sum of 4 uniforms, centred and scaled: roughly N(0, 1) */
    float v = 0;
    for (int k = 0; k < 4; k++) {
      s = s * 6364136223846793005UL + 1442695040888963407UL;
      v += (float)((s >> 40) & 0xffffff) / 16777216.0f;
    }
    in_buf[i] = (v - 2.0f) * 1.7320508f;
  }
}

long mc_input_size(void) { return (long)IN_SIZE; }
long mc_output_size(void) { return (long)OUT_SIZE; }
long mc_workspace_size(void) { return (long)WS_SIZE; }

void mc_set_input(const float *x) {
  setup();
  memcpy(in_buf, x, sizeof(float) * (size_t)IN_SIZE);
}

void mc_get_output(float *y) {
  setup();
  memcpy(y, out_buf, sizeof(float) * (size_t)OUT_SIZE);
}

/* Run the model iters times back to back; return the elapsed nanoseconds. */
double mc_bench(long iters) {
  struct timespec t0, t1;
  setup();
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < iters; i++) FORWARD(in_buf, out_buf, ws_buf);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0.tv_sec) * 1e9 +
         (double)(t1.tv_nsec - t0.tv_nsec);
}
