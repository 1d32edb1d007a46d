/* kernels/adaptive.c: AdaptiveAvgPool1d/2d as loops over tabled windows.
 *
 * Output o of a dim of length L pooled to n averages the inputs
 * [floor(o * L / n), ceil((o + 1) * L / n)): windows of uneven sizes,
 * tabled per dim. PyTorch divides the sum by each dim's window length in
 * turn, and so does the generated code. */

#include "kernels/pool.h"

#include <stdlib.h>

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
  if (osz == 1 && planes >= POOL_SIDE) {
    /* PyTorch divides by each dim's window length in turn */
    Buf div = {0};
    for (int i = 0; i < nsp; i++)
      buf_printf(&div, " / (float)%lld", (long long)I[i]);
    pool_plane_sums(e, op, isz, planes, div.s);
    buf_free(&div);
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
  if (osz == 1 && shape_numel(&l->in) / isz >= POOL_SIDE)
    snprintf(why, n, "one sum per plane, %d planes side by side",
             POOL_SIDE);
  else
    snprintf(why, n, "loops over the output");
  return 1;
}

/* The only lowering: as naive as the reference needs, so both sets. */
const Kernel kernel_adaptive = {
    "adaptive-loops", KERNELS_FAST | KERNELS_REFERENCE,
    adaptive_fits, NULL, NULL, NULL, adaptive_emit};
