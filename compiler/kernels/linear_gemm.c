/* kernels/linear_gemm.c: Linear over a batch of rows, as a blocked
 * matrix multiply.
 *
 * Blocks of 8 rows x 32 outputs are accumulated in registers (AVX-512:
 * 16 zmm, where the compiler targets AVX-512): for each input feature, the
 * block's 32 weights are loaded once and used by all 8 rows, where the
 * axpy lowering reloads and stores its row of outputs per feature.
 * Elsewhere (and under TinyCC, which keeps no array in registers) the
 * rows run one by one in the axpy order. Weights are stored transposed,
 * [in][out], as for axpy. Each output is its bias plus the products in
 * input order on every path, so the paths agree bit for bit where both
 * fuse (or both do not fuse) the multiply-adds. The last block of 32
 * outputs overlaps the one before when the outputs are not a multiple of
 * 32 (the outputs in both are computed twice, the same way); the rows
 * past the last block of 8 take the axpy loop. */
#include "kernels/linear.h"

#include <stdlib.h>

#define GEMM_ROWS 8  /* rows per block */
#define GEMM_COLS 32 /* outputs per block: two zmm */

static int64_t gemm_rows(const Op *op) {
  int64_t in = op->main->a.in;
  return shape_numel(&op->main->in) / (in ? in : 1);
}

static int gemm_fits(const Program *p, const Op *op, Target t, char *why,
                     size_t n) {
  if (t != TARGET_GENERIC) return 0; /* tuned for x86; cortex-m has its own */
  (void)p, (void)t;
  if (!linear_is(op)) return 0;
  int64_t rows = gemm_rows(op), out = op->main->a.out;
  if (rows < GEMM_ROWS || out < GEMM_COLS) return 0;
  snprintf(why, n, "gemm: %lld rows x %lld outputs in register blocks of "
           "%d x %d, each weight loaded once per block",
           (long long)rows, (long long)out, GEMM_ROWS, GEMM_COLS);
  return 1;
}

static void gemm_pack(Program *p, Op *op) {
  (void)p;
  linear_pack(op, 1);
}

/* The rows [from, to) one by one: the outputs start at the bias and
 * each input feature adds its row of weights (the axpy order). */
static void emit_rows(Emit *e, const char *wn, const char *bn, int64_t from,
                      int64_t to, int64_t in, int64_t out, const char *what) {
  em(e, "for (int r = %lld; r < %lld; r++) { /* %s */", (long long)from,
     (long long)to, what);
  em(e, "const float *xr = x + r * %lld;", (long long)in);
  em(e, "float *yr = y + r * %lld;", (long long)out);
  if (bn) em(e, "for (int o = 0; o < %lld; o++) yr[o] = %s[o];",
             (long long)out, bn);
  else em(e, "for (int o = 0; o < %lld; o++) yr[o] = 0.0f;", (long long)out);
  em(e, "for (int i = 0; i < %lld; i++) {", (long long)in);
  em(e, "const float xi = xr[i];");
  em(e, "const float *w = %s + i * %lld;", wn, (long long)out);
  em(e, "for (int o = 0; o < %lld; o++) yr[o] = MC_FMA(xi, w[o], yr[o]);",
     (long long)out);
  em(e, "}");
  em(e, "}");
}

static void gemm_emit(Emit *e, const Op *op) {
  int64_t in = op->main->a.in, out = op->main->a.out, rows = gemm_rows(op);
  int64_t rb = rows / GEMM_ROWS * GEMM_ROWS, ob = out / GEMM_COLS * GEMM_COLS;
  const char *wn = op_array(op, "weight"), *bn = op_array(op, "bias");
  long long IN = in, OUT = out, R = GEMM_ROWS, C = GEMM_COLS;
  em_use(e, EH_FMA);
  em_use(e, EH_AVX512);
  em(e, "#if MC_AVX512");
  em(e, "for (int r0 = 0; r0 < %lld; r0 += %lld) { /* blocks of %lld rows */",
     (long long)rb, R, R);
  em(e, "const float *xb = x + r0 * %lld;", IN);
  em(e, "float *yb = y + r0 * %lld;", OUT);
  if (ob == out) {
    em(e, "for (int o0 = 0; o0 < %lld; o0 += %lld) { /* %lld outputs */",
       OUT, C, C);
  } else { /* the last block overlaps the one before: same sums again */
    em(e, "for (int b = 0; b < %lld; b++) { /* blocks of %lld outputs */",
       (long long)(ob / GEMM_COLS + 1), C);
    em(e, "const int o0 = b < %lld ? b * %lld : %lld;",
       (long long)(ob / GEMM_COLS), C, OUT - C);
  }
  em(e, "__m512 acc[%lld][2];", R);
  em(e, "for (int s = 0; s < %lld; s++)", R);
  if (bn)
    em(e, "  for (int h = 0; h < 2; h++) acc[s][h] = "
       "_mm512_loadu_ps(%s + o0 + 16 * h);", bn);
  else
    em(e, "  for (int h = 0; h < 2; h++) acc[s][h] = _mm512_setzero_ps();");
  em(e, "for (int i = 0; i < %lld; i++) {", IN);
  em(e, "const float *w = %s + i * %lld + o0;", wn, OUT);
  em(e, "const __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + 16);");
  em(e, "for (int s = 0; s < %lld; s++) {", R);
  em(e, "const __m512 xv = _mm512_set1_ps(xb[s * %lld + i]);", IN);
  em(e, "acc[s][0] = _mm512_fmadd_ps(xv, w0, acc[s][0]);");
  em(e, "acc[s][1] = _mm512_fmadd_ps(xv, w1, acc[s][1]);");
  em(e, "}");
  em(e, "}");
  em(e, "for (int s = 0; s < %lld; s++)", R);
  em(e, "  for (int h = 0; h < 2; h++) "
     "_mm512_storeu_ps(yb + s * %lld + o0 + 16 * h, acc[s][h]);", OUT);
  em(e, "}");
  em(e, "}");
  if (rb < rows) emit_rows(e, wn, bn, rb, rows, in, out, "the last rows");
  em(e, "#else");
  emit_rows(e, wn, bn, 0, rows, in, out, "row by row");
  em(e, "#endif");
  em_epilogue(e, op, "y", rows * out);
}

const Kernel kernel_linear_gemm = {"linear-gemm", KERNELS_FAST, gemm_fits,
                                   NULL, NULL, gemm_pack, gemm_emit};
