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
 * past the last block take the axpy loop.
 *
 * Fewer than 32 outputs (an autoencoder's bottleneck, a classifier over a
 * batch) fill one or two zmm per row, the lanes past the last output
 * masked off in loads and stores; up to 16 outputs, the blocks are of 16
 * rows, so that 16 accumulators still share each weight load. */
#include "kernels/linear.h"

#include <stdlib.h>

#define GEMM_ROWS 8   /* rows per block (twice as many with one zmm a row) */
#define GEMM_LANES 16 /* outputs per zmm; a block is two zmm wide */

static int64_t gemm_rows(const Op *op) {
  int64_t in = op->main->a.in;
  return shape_numel(&op->main->in) / (in ? in : 1);
}

/* The block shape, decided from the op alone: rows per block and zmm per
 * row (16 outputs each). */
static void gemm_block(const Op *op, int *r, int *h) {
  int64_t rows = gemm_rows(op), out = op->main->a.out;
  *h = out <= GEMM_LANES ? 1 : 2;
  *r = *h == 1 && rows >= 2 * GEMM_ROWS ? 2 * GEMM_ROWS : GEMM_ROWS;
}

static int gemm_fits(const Program *p, const Op *op, Target t, char *why,
                     size_t n) {
  if (t != TARGET_GENERIC) return 0; /* tuned for x86; cortex-m has its own */
  (void)p, (void)t;
  if (!linear_is(op)) return 0;
  int64_t rows = gemm_rows(op), out = op->main->a.out;
  if (rows < GEMM_ROWS || out < 1) return 0;
  int r, h;
  gemm_block(op, &r, &h);
  snprintf(why, n, "gemm: %lld rows x %lld outputs in register blocks of "
           "%d x %d%s, each weight loaded once per block",
           (long long)rows, (long long)out, r, GEMM_LANES * h,
           out < GEMM_LANES * h ? " (lanes past the outputs masked)" : "");
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
  int R, H;
  gemm_block(op, &R, &H);
  int64_t C = GEMM_LANES * H, rb = rows / R * R, ob = out / C * C;
  int masked = out < C; /* then one block of outputs, its last zmm masked */
  const char *wn = op_array(op, "weight"), *bn = op_array(op, "bias");
  long long IN = in, OUT = out;
  em_use(e, EH_FMA);
  em_use(e, EH_AVX512);
  em(e, "#if MC_AVX512");
  if (masked) /* the lanes of the last zmm that hold outputs */
    em(e, "const __mmask16 m = (__mmask16)0x%llx;",
       (unsigned long long)((1u << (out - GEMM_LANES * (H - 1))) - 1));
  em(e, "for (int r0 = 0; r0 < %lld; r0 += %d) { /* blocks of %d rows */",
     (long long)rb, R, R);
  em(e, "const float *xb = x + r0 * %lld;", IN);
  em(e, "float *yb = y + r0 * %lld;", OUT);
  if (masked) {
    em(e, "{ /* the %lld outputs */", OUT);
  } else if (ob == out) {
    em(e, "for (int o0 = 0; o0 < %lld; o0 += %lld) { /* %lld outputs */",
       OUT, (long long)C, (long long)C);
  } else { /* the last block overlaps the one before: same sums again */
    em(e, "for (int b = 0; b < %lld; b++) { /* blocks of %lld outputs */",
       (long long)(ob / C + 1), (long long)C);
    em(e, "const int o0 = b < %lld ? b * %lld : %lld;", (long long)(ob / C),
       (long long)C, OUT - C);
  }
  /* zmm h of a row holds outputs o0 + 16 h on (one block when masked:
   * o0 is 0); the last one masked, when masked */
  const char *o0 = masked ? "" : " + o0";
  static const char *const off[2] = {"", " + 16"};
  em(e, "__m512 acc[%d][%d];", R, H);
  em(e, "for (int s = 0; s < %d; s++) {", R);
  for (int h = 0; h < H; h++) {
    int mh = masked && h == H - 1;
    if (bn && mh)
      em(e, "acc[s][%d] = _mm512_maskz_loadu_ps(m, %s%s%s);", h, bn, o0,
         off[h]);
    else if (bn)
      em(e, "acc[s][%d] = _mm512_loadu_ps(%s%s%s);", h, bn, o0, off[h]);
    else
      em(e, "acc[s][%d] = _mm512_setzero_ps();", h);
  }
  em(e, "}");
  em(e, "for (int i = 0; i < %lld; i++) {", IN);
  em(e, "const float *w = %s + i * %lld%s;", wn, OUT, o0);
  for (int h = 0; h < H; h++)
    em(e, "const __m512 w%d = %s(%sw%s);", h,
       masked && h == H - 1 ? "_mm512_maskz_loadu_ps" : "_mm512_loadu_ps",
       masked && h == H - 1 ? "m, " : "", off[h]);
  em(e, "for (int s = 0; s < %d; s++) {", R);
  em(e, "const __m512 xv = _mm512_set1_ps(xb[s * %lld + i]);", IN);
  for (int h = 0; h < H; h++)
    em(e, "acc[s][%d] = _mm512_fmadd_ps(xv, w%d, acc[s][%d]);", h, h, h);
  em(e, "}");
  em(e, "}");
  em(e, "for (int s = 0; s < %d; s++) {", R);
  for (int h = 0; h < H; h++) {
    if (masked && h == H - 1)
      em(e, "_mm512_mask_storeu_ps(yb + s * %lld%s, m, acc[s][%d]);", OUT,
         off[h], h);
    else
      em(e, "_mm512_storeu_ps(yb + s * %lld%s%s, acc[s][%d]);", OUT, o0,
         off[h], h);
  }
  em(e, "}");
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
