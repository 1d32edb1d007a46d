/* kernels/pad_runs.c: a constant padding (ZeroPad, ConstantPad 1d/2d)
 * that only adds, as runs: per plane, the rows before and after the
 * input's are the constant, and each input row is copied between its
 * runs of the constant, so every loop is a fill or a contiguous copy
 * (kernels/pad.c's index tables, which also crop, reflect and replicate,
 * stay the reference). The values are pad.c's, bit for bit. */
#include "kernels/kernel.h"

#include <stdlib.h>

static int runs_fits(const Program *p, const Op *op, Target t, char *why,
                     size_t n) {
  (void)p, (void)t;
  if (!op->main || op->main->kind->family != FAM_PAD) return 0;
  const Layer *l = op->main;
  if (l->a.pad_mode != PAD_ZEROS) return 0; /* reflect, replicate */
  if (l->a.pad_dims < 1 || l->a.pad_dims > 2) return 0;
  for (int k = 0; k < l->a.pad_dims; k++)
    if (l->a.pad_lo[k] < 0 || l->a.pad_hi[k] < 0) return 0; /* a crop */
  snprintf(why, n, "runs: per row the constant, the input row, the "
           "constant");
  return 1;
}

static void runs_emit(Emit *e, const Op *op) {
  const Layer *l = op->main;
  int nd = l->a.pad_dims, first = op->in.n - nd;
  /* rows: the padded dimension before the last (1 row for a 1-D pad) */
  int64_t ih = nd == 2 ? op->in.d[first] : 1, iw = op->in.d[op->in.n - 1];
  int64_t top = nd == 2 ? l->a.pad_lo[0] : 0;
  int64_t bottom = nd == 2 ? l->a.pad_hi[0] : 0;
  int64_t left = l->a.pad_lo[nd - 1], right = l->a.pad_hi[nd - 1];
  int64_t ow = iw + left + right, osz = (ih + top + bottom) * ow;
  char *v = em_float((float)l->a.pad_value);
  em(e, "for (int p = 0; p < %lld; p++) { /* plane */",
     (long long)(shape_numel(&op->in) / (ih * iw)));
  em(e, "const float *xp = x + p * %lld;", (long long)(ih * iw));
  em(e, "float *yp = y + p * %lld;", (long long)osz);
  if (top)
    em(e, "for (int i = 0; i < %lld; i++) yp[i] = %s; /* rows above */",
       (long long)(top * ow), v);
  if (ih > 1) {
    em_for(e, "r", ih, "input row");
    em(e, "float *yr = yp + (r + %lld) * %lld;", (long long)top,
       (long long)ow);
    em(e, "const float *xr = xp + r * %lld;", (long long)iw);
  } else {
    em(e, "float *yr = yp + %lld;", (long long)(top * ow));
    em(e, "const float *xr = xp;");
  }
  if (left) em(e, "for (int i = 0; i < %lld; i++) yr[i] = %s;",
               (long long)left, v);
  em(e, "for (int i = 0; i < %lld; i++) yr[%lld + i] = xr[i];",
     (long long)iw, (long long)left);
  if (right) em(e, "for (int i = %lld; i < %lld; i++) yr[i] = %s;",
                (long long)(left + iw), (long long)ow, v);
  if (ih > 1) em(e, "}");
  if (bottom)
    em(e, "for (int i = %lld; i < %lld; i++) yp[i] = %s; /* rows below */",
       (long long)((top + ih) * ow), (long long)osz, v);
  em_epilogue(e, op, "yp", osz);
  em(e, "}");
  free(v);
}

const Kernel kernel_pad_runs = {"pad-runs", KERNELS_FAST, runs_fits, NULL,
                                NULL, NULL, runs_emit};
