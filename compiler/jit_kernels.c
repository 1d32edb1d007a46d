/* jit_kernels.c: the host microkernels of modelc run (see jit_kernels.h).
 *
 * TinyCC keeps every local in memory and has no vector code, so the hot
 * loops of a model it compiles run 50 to 150 times slower than gcc -O3's.
 * The JIT's source calls these instead, for the tiles of the lowerings
 * that kernels/jit_*.c stand in for: this file is built with gcc -O3 and
 * -ffp-contract=off (Makefile), and on x86-64 once per instruction set
 * (target_clones: AVX-512, AVX2, baseline), chosen when modelc starts.
 *
 * Vectorising changes no result: a vector holds 16 output positions of
 * one channel, each lane its own sum, added in the scalar order; nothing
 * is summed across lanes, and no multiply-add is fused. */
#include "jit_kernels.h"

#include <string.h>

#if defined(__clang__) /* clang fuses a * b + c within an expression */
#pragma STDC FP_CONTRACT OFF
#endif

const char mcj_prototypes[] =
    "/* modelc's own microkernels (gcc -O3, no fused multiply-add), bound\n"
    " * by modelc run: the same sums in the same order as the C they stand\n"
    " * in for (see compiler/jit_kernels.h) */\n"
    "void mcj_conv_block(float *y, const float *x, const float *w,\n"
    "    const float *b, const int *tap, int nc, int nt, int kw, int width,\n"
    "    long xs, long ys, int p0, int p1, int iw, int ow, int relu);\n"
    "void mcj_linear_axpy(float *y, const float *x, const float *w,\n"
    "    const float *b, int in, int out);\n"
    "void mcj_combine16(float *y, long ys, long ls, const float *x,\n"
    "    const long *xo, const float *a, int nq, int n, const float *b,\n"
    "    int relu);\n"
    "void mcj_copy(float *y, long ys, const float *x, long xs, long n);\n";

#define TILE 16 /* positions per vector */

#if defined(__GNUC__) && !defined(__clang__)
#define MCJ_VECTOR 1
/* 16 floats: one zmm, or two ymm, or four xmm, as the clone targets. */
typedef float V16 __attribute__((vector_size(64)));
typedef int I16 __attribute__((vector_size(64)));
#define MCJ_INLINE static inline __attribute__((always_inline))
#if defined(__x86_64__)
#define MCJ_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MCJ_CLONES
#endif
#else
#define MCJ_VECTOR 0
#define MCJ_INLINE static inline
#define MCJ_CLONES
#endif

#if MCJ_VECTOR

MCJ_INLINE V16 load16(const float *p) {
  V16 v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* The first n < 16 floats at p, the other lanes zero. */
MCJ_INLINE V16 load_n(const float *p, int n) {
  V16 v = {0};
  memcpy(&v, p, sizeof(float) * (size_t)n);
  return v;
}

/* v < 0 ? 0 : v in each lane: NaN and -0 stay. */
MCJ_INLINE V16 relu16(V16 v) {
  V16 zero = {0};
  I16 neg = v < zero;
  return (V16)((I16)v & ~neg);
}

/* One tile: channels j0 .. j0 + W - 1 of the block at the positions
 * s .. s + n - 1 (n == TILE, or fewer when the interior is that short). */
MCJ_INLINE void tile(const int W, float *y, const float *x, const float *w,
                     const float *b, const int *tap, int nc, int nt, int kw,
                     int width, long xs, long ys, int j0, int s, int n,
                     int iw, int ow, int relu) {
  V16 acc[16];
#pragma GCC unroll 16
  for (int j = 0; j < W; j++) {
    V16 init = {0};
    acc[j] = b ? init + b[j0 + j] : init;
  }
  for (int c = 0; c < nc; c++) { /* input channel */
    const float *xc = x + c * xs + s;
    const float *wc = w + (long)c * kw * width + j0;
    for (int q = 0; q < nt; q++) { /* tap, in the lowering's order */
      const V16 xv = n == TILE ? load16(xc + tap[2 * q])
                               : load_n(xc + tap[2 * q], n);
      const float *wq = wc + (long)tap[2 * q + 1] * width;
#pragma GCC unroll 16
      for (int j = 0; j < W; j++) acc[j] = wq[j] * xv + acc[j];
    }
  }
  for (int j = 0; j < W; j++) {
    float out[TILE];
    V16 v = relu ? relu16(acc[j]) : acc[j];
    float *yj = y + (j0 + j) * ys;
    memcpy(out, &v, sizeof out);
    if (iw >= s + n && ow >= s + n) { /* one row, all stored: contiguous */
      memcpy(yj + s, out, sizeof(float) * (size_t)n);
      continue;
    }
    for (int i = 0; i < n; i++) { /* rows as wide as the input's */
      int p = s + i, col = p % iw;
      if (col < ow) yj[(p / iw) * ow + col] = out[i];
    }
  }
}

/* All tiles of channels j0 .. j0 + W - 1: full tiles, the last one
 * overlapping the one before (recomputing the same values) when the
 * positions are not a multiple of 16. */
MCJ_INLINE void block_w(const int W, float *y, const float *x, const float *w,
                        const float *b, const int *tap, int nc, int nt, int kw,
                        int width, long xs, long ys, int j0, int p0, int p1,
                        int iw, int ow, int relu) {
  if (p1 - p0 < TILE) {
    tile(W, y, x, w, b, tap, nc, nt, kw, width, xs, ys, j0, p0, p1 - p0, iw,
         ow, relu);
    return;
  }
  for (int t0 = p0; t0 < p1; t0 += TILE) {
    int s = p1 - t0 < TILE ? p1 - TILE : t0;
    tile(W, y, x, w, b, tap, nc, nt, kw, width, xs, ys, j0, s, TILE, iw, ow,
         relu);
  }
}

MCJ_CLONES
void mcj_conv_block(float *y, const float *x, const float *w, const float *b,
                    const int *tap, int nc, int nt, int kw, int width,
                    long xs, long ys, int p0, int p1, int iw, int ow,
                    int relu) {
  /* the channels in chunks of 16, 8, 4, 2, 1: each output is its own sum */
  for (int j0 = 0; j0 < width;) {
    int left = width - j0;
    if (left >= 16) {
      block_w(16, y, x, w, b, tap, nc, nt, kw, width, xs, ys, j0, p0, p1, iw,
              ow, relu);
      j0 += 16;
    } else if (left >= 8) {
      block_w(8, y, x, w, b, tap, nc, nt, kw, width, xs, ys, j0, p0, p1, iw,
              ow, relu);
      j0 += 8;
    } else if (left >= 4) {
      block_w(4, y, x, w, b, tap, nc, nt, kw, width, xs, ys, j0, p0, p1, iw,
              ow, relu);
      j0 += 4;
    } else if (left >= 2) {
      block_w(2, y, x, w, b, tap, nc, nt, kw, width, xs, ys, j0, p0, p1, iw,
              ow, relu);
      j0 += 2;
    } else {
      block_w(1, y, x, w, b, tap, nc, nt, kw, width, xs, ys, j0, p0, p1, iw,
              ow, relu);
      j0 += 1;
    }
  }
}

/* The outputs in blocks of 64 held in registers across the inputs. */
MCJ_INLINE void axpy_block(const int W, float *y, const float *x,
                           const float *w, const float *b, int in, int out,
                           int o0) {
  V16 acc[4];
#pragma GCC unroll 4
  for (int v = 0; v < W; v++)
    acc[v] = b ? load16(b + o0 + 16 * v) : (V16){0};
  for (int i = 0; i < in; i++) {
    const float *wi = w + (long)i * out + o0;
#pragma GCC unroll 4
    for (int v = 0; v < W; v++) acc[v] = x[i] * load16(wi + 16 * v) + acc[v];
  }
  for (int v = 0; v < W; v++) memcpy(y + o0 + 16 * v, &acc[v], sizeof acc[v]);
}

MCJ_CLONES
void mcj_linear_axpy(float *y, const float *x, const float *w, const float *b,
                     int in, int out) {
  int o0 = 0;
  for (; o0 + 64 <= out; o0 += 64) axpy_block(4, y, x, w, b, in, out, o0);
  for (; o0 + 16 <= out; o0 += 16) axpy_block(1, y, x, w, b, in, out, o0);
  for (int o = o0; o < out; o++) { /* the last out % 16 */
    float acc = b ? b[o] : 0.0f;
    for (int i = 0; i < in; i++) acc = x[i] * w[(long)i * out + o] + acc;
    y[o] = acc;
  }
}

MCJ_CLONES
void mcj_combine16(float *y, long ys, long ls, const float *x,
                   const long *xo, const float *a, int nq, int n,
                   const float *b, int relu) {
  for (int q = 0; q < nq; q++) {
    V16 s = {0};
    int first = 1;
    for (int i = 0; i < n; i++) {
      float c = a[q * n + i], m = c < 0 ? -c : c;
      if (c == 0) continue;
      V16 t = load16(x + xo[i]);
      if (m != 1) t = m * t;
      if (first) s = c < 0 ? -t : t;
      else s = c < 0 ? s - t : s + t;
      first = 0;
    }
    if (b) s = s + b[0];
    if (relu) s = relu16(s);
    float out[TILE];
    memcpy(out, &s, sizeof out);
    for (int l = 0; l < TILE; l++) y[q * ys + l * ls] = out[l];
  }
}

#else /* no vector extensions: the same sums, one position at a time */

void mcj_conv_block(float *y, const float *x, const float *w, const float *b,
                    const int *tap, int nc, int nt, int kw, int width,
                    long xs, long ys, int p0, int p1, int iw, int ow,
                    int relu) {
  for (int j = 0; j < width; j++)
    for (int p = p0; p < p1; p++) {
      int col = p % iw;
      if (col >= ow) continue;
      float acc = b ? b[j] : 0.0f;
      for (int c = 0; c < nc; c++)
        for (int q = 0; q < nt; q++)
          acc = w[((long)c * kw + tap[2 * q + 1]) * width + j] *
                    x[c * xs + tap[2 * q] + p] + acc;
      y[j * ys + (p / iw) * ow + col] = relu && acc < 0.0f ? 0.0f : acc;
    }
}

void mcj_linear_axpy(float *y, const float *x, const float *w, const float *b,
                     int in, int out) {
  for (int o = 0; o < out; o++) {
    float acc = b ? b[o] : 0.0f;
    for (int i = 0; i < in; i++) acc = x[i] * w[(long)i * out + o] + acc;
    y[o] = acc;
  }
}

void mcj_combine16(float *y, long ys, long ls, const float *x,
                   const long *xo, const float *a, int nq, int n,
                   const float *b, int relu) {
  for (int q = 0; q < nq; q++)
    for (int l = 0; l < TILE; l++) {
      float s = 0.0f;
      int first = 1;
      for (int i = 0; i < n; i++) {
        float c = a[q * n + i], m = c < 0 ? -c : c, t = x[xo[i] + l];
        if (c == 0) continue;
        if (m != 1) t = m * t;
        if (first) s = c < 0 ? -t : t;
        else s = c < 0 ? s - t : s + t;
        first = 0;
      }
      if (b) s = s + b[0];
      y[q * ys + l * ls] = relu && s < 0.0f ? 0.0f : s;
    }
}

#endif

void mcj_copy(float *y, long ys, const float *x, long xs, long n) {
  if (ys == 1 && xs == 1) {
    memcpy(y, x, sizeof(float) * (size_t)n);
    return;
  }
  for (long i = 0; i < n; i++) y[i * ys] = x[i * xs];
}
