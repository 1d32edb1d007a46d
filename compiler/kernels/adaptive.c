/* kernels/adaptive.c: AdaptiveAvgPool1d/2d as loops over tabled windows.
 *
 * Output o of a dim of length L pooled to n averages the inputs
 * [floor(o * L / n), ceil((o + 1) * L / n)): windows of uneven sizes,
 * tabled per dim. PyTorch divides the sum by each dim's window length in
 * turn, and so does the generated code. */

#include "kernels/kernel.h"

#include <stdlib.h>

#define ADAPTIVE_SIDE 16 /* planes summed side by side (global pool) */

/* Pooled to one output per plane: ADAPTIVE_SIDE planes at a time, each
 * summed in the same order as the window loops (so the same bits), but
 * side by side, so the additions of different planes overlap instead of
 * waiting on one another; with AVX-512, 16 inputs of the 16 planes are
 * transposed in registers so each vector add takes one input of all 16. */
static void emit_global(Emit *e, const Op *op, int nsp, const int64_t *I,
                        int64_t isz, int64_t planes) {
  int64_t full = planes / ADAPTIVE_SIDE * ADAPTIVE_SIDE;
  Buf div = {0};
  for (int i = 0; i < nsp; i++) buf_printf(&div, " / (float)%lld", (long long)I[i]);
  em(e, "/* the whole plane: %d planes summed side by side, each in "
     "window order */", ADAPTIVE_SIDE);
  for (int part = 0; part < 2; part++) {
    int64_t a = part ? full : 0, b = part ? planes : full;
    int64_t w = part ? planes - full : ADAPTIVE_SIDE;
    if (a == b) continue;
    if (part)
      em(e, "{ const int p0 = %lld; /* the last %lld planes */",
         (long long)a, (long long)w);
    else
      em(e, "for (int p0 = 0; p0 < %lld; p0 += %d) {", (long long)b,
         ADAPTIVE_SIDE);
    em(e, "float sum[%lld];", (long long)w);
    int64_t i16 = isz / 16 * 16; /* inputs taken 16 x 16 */
    if (!part && i16) {
      /* 16 planes x 16 inputs transposed in registers, so one vector
       * holds input i of the 16 planes and the sums go on in order */
      em_use(e, EH_AVX512);
      em(e, "#if MC_AVX512");
      em(e, "__m512 s = _mm512_setzero_ps();");
      em(e, "for (int i0 = 0; i0 < %lld; i0 += 16) {", (long long)i16);
      em(e, "__m512 a[16], b[16];");
      em(e, "for (int k = 0; k < 16; k++) a[k] = _mm512_loadu_ps(x + (p0 + "
         "k) * %lld + i0);", (long long)isz);
      em_transpose16(e);
      em(e, "for (int i = 0; i < 16; i++) s = _mm512_add_ps(s, a[i]);");
      em(e, "}");
      em(e, "_mm512_storeu_ps(sum, s);");
      if (i16 < isz) {
        em(e, "for (int i = %lld; i < %lld; i++)", (long long)i16,
           (long long)isz);
        em(e, "  for (int k = 0; k < 16; k++) sum[k] += x[(p0 + k) * %lld + "
           "i];", (long long)isz);
      }
      em(e, "#else");
    }
    em(e, "for (int k = 0; k < %lld; k++) sum[k] = 0.0f;", (long long)w);
    em(e, "for (int i = 0; i < %lld; i++) /* iy * IW + ix, in order */",
       (long long)isz);
    em(e, "  for (int k = 0; k < %lld; k++) sum[k] += x[(p0 + k) * %lld + i];",
       (long long)w, (long long)isz);
    if (!part && i16) em(e, "#endif");
    em(e, "for (int k = 0; k < %lld; k++) y[p0 + k] = sum[k]%s;",
       (long long)w, div.s);
    em(e, "}");
  }
  buf_free(&div);
  em_epilogue(e, op, "y", planes);
}

static void adaptive_emit(Emit *e, const Op *op) {
  const Layer *l = op->main;
  int nsp = l->kind->nsp;
  static const char *const var[2][2] = {{"t"}, {"oy", "ox"}};
  int64_t I[2] = {1, 1}, O[2] = {1, 1}, isz = 1, osz = 1;
  for (int i = 0; i < nsp; i++) {
    I[i] = l->in.d[l->in.n - nsp + i];
    O[i] = l->out.d[l->out.n - nsp + i];
    isz *= I[i];
    osz *= O[i];
  }
  int64_t planes = shape_numel(&l->in) / isz;
  if (osz == 1 && planes >= ADAPTIVE_SIDE) {
    emit_global(e, op, nsp, I, isz, planes);
    return;
  }
  for (int i = 0; i < nsp; i++) {
    Buf s = {0}, en = {0};
    for (int64_t o = 0; o < O[i]; o++) {
      int64_t a = o * I[i] / O[i], b = ((o + 1) * I[i] + O[i] - 1) / O[i];
      buf_printf(&s, "%s%lld", o ? ", " : "", (long long)a);
      buf_printf(&en, "%s%lld", o ? ", " : "", (long long)b);
    }
    const char *v = var[nsp - 1][i];
    em(e, "static const int start_%s[%lld] = {%s};", v, (long long)O[i], s.s);
    em(e, "static const int end_%s[%lld] = {%s};", v, (long long)O[i], en.s);
    buf_free(&s);
    buf_free(&en);
  }
  em_for(e, "p", planes, "plane");
  em(e, "const float *xp = x + p * %lld;", (long long)isz);
  em(e, "float *yp = y + p * %lld;", (long long)osz);
  if (nsp == 1) {
    em_for(e, "t", O[0], "");
    em(e, "float sum = 0.0f;");
    em(e, "for (int i = start_t[t]; i < end_t[t]; i++) sum += xp[i];");
    em(e, "yp[t] = sum / (float)(end_t[t] - start_t[t]);");
    em(e, "}");
  } else {
    em(e, "for (int oy = 0; oy < %lld; oy++)", (long long)O[0]);
    em_for(e, "ox", O[1], "");
    em(e, "float sum = 0.0f;");
    em(e, "for (int iy = start_oy[oy]; iy < end_oy[oy]; iy++)");
    em(e, "  for (int ix = start_ox[ox]; ix < end_ox[ox]; ix++)");
    em(e, "    sum += xp[iy * %lld + ix];", (long long)I[1]);
    em(e, "yp[oy * %lld + ox] = sum / (float)(end_oy[oy] - start_oy[oy]) / "
       "(float)(end_ox[ox] - start_ox[ox]);", (long long)O[1]);
    em(e, "}");
  }
  em_epilogue(e, op, "yp", osz);
  em(e, "}");
}

static int adaptive_fits(const Program *p, const Op *op, Target t, char *why,
                         size_t n) {
  (void)p, (void)t;
  if (!op->main || op->main->kind->family != FAM_ADAPTIVE) return 0;
  const Layer *l = op->main;
  int nsp = l->kind->nsp;
  int64_t isz = 1, osz = 1;
  for (int i = 0; i < nsp; i++) {
    isz *= l->in.d[l->in.n - nsp + i];
    osz *= l->out.d[l->out.n - nsp + i];
  }
  if (osz == 1 && shape_numel(&l->in) / isz >= ADAPTIVE_SIDE)
    snprintf(why, n, "one sum per plane, %d planes side by side",
             ADAPTIVE_SIDE);
  else
    snprintf(why, n, "loops over the output");
  return 1;
}

/* The only lowering: as naive as the reference needs, so both sets. */
const Kernel kernel_adaptive = {
    "adaptive-loops", KERNELS_FAST | KERNELS_REFERENCE,
    adaptive_fits, NULL, NULL, NULL, adaptive_emit};
