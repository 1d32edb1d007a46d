/* peak.c: single-core FP32 peak, measured with an FMA loop (for make bench).
 *
 *   gcc -O3 -march=native -ffp-contract=fast [-mprefer-vector-width=512] \
 *       tools/peak.c -o peak && ./peak [SECONDS]
 *
 * Plain C: NACC independent accumulators, each updated acc = acc * m + a per
 * iteration. The inner loop has constant bounds, so gcc unrolls it, keeps the
 * accumulators in vector registers and contracts each multiply-add into one
 * FMA (vfmadd...ps). NACC is chosen so there are enough independent chains to
 * hide the FMA latency on two FMA ports without running out of registers
 * (32 vector registers with AVX-512, 16 with AVX2). Each update is 2 FLOPs.
 * Prints "peak: X GFLOP/s" (best of several timed runs). The runs are timed
 * in this thread's CPU time, not wall time: on a machine shared with other
 * work, a wall-clock run that gets descheduled reads far below the peak
 * (half of it was seen with 5 busy processes on 2 cores). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__AVX512F__)
#define NACC 192 /* 12 zmm (or 24 ymm) */
#elif defined(__AVX__)
#define NACC 96 /* 12 ymm */
#else
#define NACC 48 /* 12 xmm */
#endif

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* noipa: one call is one timed run, with the accumulators in registers; gcc
 * must not treat it as a pure function and move or merge calls across the
 * clock reads. */
__attribute__((noipa)) static float fma_loop(long iters, float m, float a) {
  float acc[NACC];
  for (int j = 0; j < NACC; j++) acc[j] = (float)j * 1e-3f;
  for (long i = 0; i < iters; i++)
    for (int j = 0; j < NACC; j++) acc[j] = acc[j] * m + a;
  float s = 0;
  for (int j = 0; j < NACC; j++) s += acc[j];
  return s;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 0.3;
  /* volatile: gcc must not fold the loop away or know m and a. */
  volatile float vm = 0.999999f, va = 1e-6f;
  float m = vm, a = va;
  long iters = 1000;
  double t;
  /* calibrate to ~seconds/5 per run */
  for (;;) {
    double t0 = now_s();
    float s = fma_loop(iters, m, a);
    t = now_s() - t0;
    if (s != s) return 1;
    if (t > seconds / 5 || iters > (1L << 40)) break;
    iters *= 2;
  }
  double best = 0;
  float sink = 0;
  for (int r = 0; r < 5; r++) {
    double t0 = now_s();
    sink += fma_loop(iters, m, a);
    t = now_s() - t0;
    double gf = 2.0 * NACC * (double)iters / t / 1e9;
    if (gf > best) best = gf;
  }
  printf("peak: %.1f GFLOP/s (%d accumulators, checksum %g)\n", best, NACC,
         (double)sink);
  return 0;
}
