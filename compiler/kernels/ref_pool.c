/* kernels/ref_pool.c: the reference lowering of MaxPool1d/2d and
 * AvgPool1d/2d.
 *
 * One output at a time over its window, taps in order: max pooling takes
 * the NaN-keeping max of the taps inside the input (mc_maxf), average
 * pooling their sum divided as PyTorch's avg_pool2d divides it: by
 * divisor_override, else by the window clipped to the padded input
 * (count_include_pad) or to the input itself. */
#include "kernels/kernel.h"

#include <stdlib.h>

static int is_pool(const Op *op) {
  return op->main && (op->main->kind->family == FAM_MAXPOOL ||
                      op->main->kind->family == FAM_AVGPOOL);
}

static int ref_pool_fits(const Program *p, const Op *op, Target t, char *why,
                         size_t n) {
  (void)p, (void)t;
  if (!is_pool(op)) return 0;
  snprintf(why, n, "reference: one output at a time over its window");
  return 1;
}

static void ref_pool_emit(Emit *e, const Op *op) {
  static const char *const ov[2] = {"oy", "ox"};
  static const char *const kv[2] = {"ky", "kx"};
  static const char *const iv[2] = {"iy", "ix"};
  const Layer *l = op->main;
  const LayerArgs *a = &l->a;
  int nsp = l->kind->nsp, d0 = 2 - nsp;
  int avg = l->kind->family == FAM_AVGPOOL;
  int64_t I[2], O[2], isz = 1, osz = 1;
  for (int i = 0; i < nsp; i++) {
    I[i] = l->in.d[l->in.n - nsp + i];
    O[i] = l->out.d[l->out.n - nsp + i];
    isz *= I[i], osz *= O[i];
  }
  em_for(e, "p", shape_numel(&l->in) / isz, "plane");
  for (int i = 0; i < nsp; i++) em_for(e, ov[d0 + i], O[i], NULL);
  em(e, avg ? "float acc = 0.0f;" : "float acc = -INFINITY;");
  for (int i = 0; i < nsp; i++) {
    const char *k = kv[d0 + i], *ix = iv[d0 + i];
    em_for(e, k, a->kernel[i], NULL);
    em(e, "const int %s = %s * %lld + %s * %lld - %lld;", ix, ov[d0 + i],
       (long long)a->stride[i], k, (long long)(avg ? 1 : a->dilation[i]),
       (long long)a->padding[i]);
    em(e, "if (%s >= 0 && %s < %lld) { /* else padding */", ix, ix,
       (long long)I[i]);
  }
  Buf xi = {0};
  buf_printf(&xi, "p * %lld", (long long)isz);
  for (int i = 0; i < nsp; i++)
    buf_printf(&xi, " + %s * %lld", iv[d0 + i],
               (long long)(i + 1 < nsp ? I[i + 1] : 1));
  if (avg) {
    em(e, "acc += x[%s];", xi.s);
  } else {
    em(e, "acc = mc_maxf(acc, x[%s]);", xi.s);
    em_use(e, EH_MAXF);
  }
  buf_free(&xi);
  for (int i = 0; i < 2 * nsp; i++) em(e, "}");
  if (avg && a->divisor_override) {
    em(e, "acc /= %lld.0f;", (long long)a->divisor_override);
  } else if (avg) {
    Buf f = {0};
    for (int i = 0; i < nsp; i++) {
      const char *o = ov[d0 + i];
      /* avg_pool2d: the window clipped to the padded input, then to the
       * input */
      em(e, "int lo_%s = %s * %lld - %lld, hi_%s = lo_%s + %lld;", o, o,
         (long long)a->stride[i], (long long)a->padding[i], o, o,
         (long long)a->kernel[i]);
      em(e, "if (hi_%s > %lld) hi_%s = %lld;", o,
         (long long)(I[i] + a->padding[i]), o,
         (long long)(I[i] + a->padding[i]));
      em(e, "const int all_%s = hi_%s - lo_%s;", o, o, o);
      em(e, "if (lo_%s < 0) lo_%s = 0;", o, o);
      em(e, "if (hi_%s > %lld) hi_%s = %lld;", o, (long long)I[i], o,
         (long long)I[i]);
      if (a->count_include_pad)
        buf_printf(&f, "%sall_%s", i ? " * " : "", o);
      else
        buf_printf(&f, "%s(hi_%s - lo_%s)", i ? " * " : "", o, o);
    }
    em(e, "acc /= (float)(%s);", f.s);
    buf_free(&f);
  }
  Buf yi = {0};
  buf_printf(&yi, "p * %lld", (long long)osz);
  for (int i = 0; i < nsp; i++)
    buf_printf(&yi, " + %s * %lld", ov[d0 + i],
               (long long)(i + 1 < nsp ? O[i + 1] : 1));
  char *chain = em_act_chain(e, op, "acc");
  em(e, "y[%s] = %s;", yi.s, chain);
  free(chain);
  buf_free(&yi);
  for (int i = 0; i < nsp; i++) em(e, "}");
  em(e, "}");
}

const Kernel kernel_ref_pool = {"reference-pool", KERNELS_REFERENCE,
                                ref_pool_fits, NULL, NULL, NULL,
                                ref_pool_emit};
