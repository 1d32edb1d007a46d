/* harness.c: a host-side main for one generated model, for tests and
 * benchmarks. Build it with the model's files:
 *
 *   cc -O2 -Iruntime -Igenerated -DMODEL=seed_cnn1d -DUMODEL=SEED_CNN1D \
 *      -DMODEL_H='"seed_cnn1d.h"' tools/harness.c runtime/npy.c \
 *      generated/seed_cnn1d.c -lm -o seed_cnn1d
 *   ./seed_cnn1d IN.npy OUT.npy [REPEAT]
 *
 * Reads the input (its element count must be MODEL's input size), runs
 * MODEL_forward_ws with a workspace of its own, writes the output as a
 * flat .npy of MODEL's output size, and with REPEAT > 0 prints the median
 * time per inference in nanoseconds over REPEAT runs after a warm-up. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npy.h"
#include MODEL_H

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FORWARD_WS CAT(MODEL, _forward_ws)
#define INPUT_SIZE CAT(UMODEL, _INPUT_SIZE)
#define OUTPUT_SIZE CAT(UMODEL, _OUTPUT_SIZE)
#define WORKSPACE_SIZE CAT(UMODEL, _WORKSPACE_SIZE)

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s IN.npy OUT.npy [REPEAT]\n", argv[0]);
    return 2;
  }
  float *in;
  int ndim;
  int64_t shape[NPY_MAX_DIMS], n = 1;
  char err[256];
  if (npy_read(argv[1], &in, &ndim, shape, err, sizeof err)) {
    fprintf(stderr, "%s: %s\n", argv[1], err);
    return 1;
  }
  for (int i = 0; i < ndim; i++) n *= shape[i];
  if (n != INPUT_SIZE) {
    fprintf(stderr, "%s: %lld elements, the model takes %d\n", argv[1],
            (long long)n, INPUT_SIZE);
    return 1;
  }
  float *out = malloc(sizeof(float) * OUTPUT_SIZE);
  void *ws = malloc(WORKSPACE_SIZE + 64);
  FORWARD_WS(in, out, ws);
  int64_t oshape[1] = {OUTPUT_SIZE};
  if (npy_write(argv[2], out, 1, oshape, err, sizeof err)) {
    fprintf(stderr, "%s: %s\n", argv[2], err);
    return 1;
  }
  int repeat = argc > 3 ? atoi(argv[3]) : 0;
  if (repeat > 0) {
    double *t = malloc(sizeof(double) * (size_t)repeat);
    for (int i = 0; i < repeat; i++) {
      double t0 = now_ns();
      FORWARD_WS(in, out, ws);
      t[i] = now_ns() - t0;
    }
    qsort(t, (size_t)repeat, sizeof(double), cmp_double);
    printf("%.1f\n", t[repeat / 2]);
    free(t);
  }
  free(in);
  free(out);
  free(ws);
  return 0;
}
