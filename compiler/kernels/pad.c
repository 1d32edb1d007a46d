/* kernels/pad.c: the padding layers (ZeroPad, ConstantPad, ReflectionPad,
 * ReplicationPad 1d/2d) as one copy loop.
 *
 * Each padded dimension gets a table of the input index every output
 * index reads (-1: the constant), computed here with the index rules of
 * PyTorch's reflection and replication kernels; the body is one copy
 * loop. The one lowering, naive enough to be the reference too. */
#include "kernels/kernel.h"

#include <stdlib.h>

enum { PM_CONSTANT, PM_REFLECT, PM_REPLICATE };

/* The input index output j of a dimension of length w reads, or -1. */
static int64_t pad_src(int mode, int64_t j, int64_t w, int64_t lo) {
  int64_t i0 = lo < 0 ? -lo : 0, o0 = lo > 0 ? lo : 0, ip;
  if (mode == PM_CONSTANT) {
    ip = j - lo;
    return ip >= 0 && ip < w ? ip : -1;
  }
  if (mode == PM_REFLECT)
    ip = j < lo ? 2 * lo - j : j < w + lo ? j : 2 * (w + lo - 1) - j;
  else
    ip = j < lo ? lo : j < w + lo ? j : w + lo - 1;
  return ip - o0 + i0;
}

static void pad_emit(Emit *e, const Op *op) {
  const Layer *l = op->main;
  int nd = l->a.pad_dims;
  int mode = l->a.pad_mode == PAD_REFLECT     ? PM_REFLECT
             : l->a.pad_mode == PAD_REPLICATE ? PM_REPLICATE
                                              : PM_CONSTANT;
  int first = l->in.n - nd;
  static const char *const var[3] = {"i0", "i1", "i2"};
  int64_t isz = 1, osz = 1;
  for (int k = 0; k < nd; k++) {
    int64_t w = l->in.d[first + k], o = l->out.d[first + k];
    isz *= w;
    osz *= o;
    Buf s = {0};
    for (int64_t j = 0; j < o; j++)
      buf_printf(&s, "%s%lld", j ? ", " : "",
                 (long long)pad_src(mode, j, w, l->a.pad_lo[k]));
    em(e, "static const int src%d[%lld] = {%s}; /* dim %d */", k,
       (long long)o, s.s, first + k);
    buf_free(&s);
  }
  char *value = em_float((float)l->a.pad_value);
  em(e, "for (int p = 0; p < %lld; p++) { /* plane */",
     (long long)(shape_numel(&l->in) / isz));
  em(e, "const float *xp = x + p * %lld;", (long long)isz);
  em(e, "float *yp = y + p * %lld;", (long long)osz);
  Buf idx = {0}, oidx = {0}, cond = {0};
  for (int k = 0; k < nd; k++) {
    int64_t ostride = 1, istride = 1;
    for (int q = k + 1; q < nd; q++) {
      ostride *= l->out.d[first + q];
      istride *= l->in.d[first + q];
    }
    em(e, "for (int %s = 0; %s < %lld; %s++)", var[k], var[k],
       (long long)l->out.d[first + k], var[k]);
    buf_printf(&oidx, "%s%s * %lld", k ? " + " : "", var[k],
               (long long)ostride);
    buf_printf(&idx, "%ssrc%d[%s] * %lld", k ? " + " : "", k, var[k],
               (long long)istride);
    buf_printf(&cond, "%ssrc%d[%s] < 0", k ? " || " : "", k, var[k]);
  }
  e->depth++;
  if (mode == PM_CONSTANT)
    em(e, "yp[%s] = %s ? %s : xp[%s];", oidx.s, cond.s, value, idx.s);
  else
    em(e, "yp[%s] = xp[%s];", oidx.s, idx.s);
  e->depth--;
  em_epilogue(e, op, "yp", osz);
  em(e, "}");
  buf_free(&idx);
  buf_free(&oidx);
  buf_free(&cond);
  free(value);
}

static int pad_fits(const Program *p, const Op *op, Target t, char *why,
                    size_t n) {
  (void)p, (void)t;
  if (!op->main || op->main->kind->family != FAM_PAD) return 0;
  snprintf(why, n, "loops over the output");
  return 1;
}

const Kernel kernel_pad = {"pad-copy", KERNELS_FAST | KERNELS_REFERENCE,
                           pad_fits, NULL, NULL, NULL, pad_emit};
