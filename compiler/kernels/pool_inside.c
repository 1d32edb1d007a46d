/* kernels/pool_inside.c: a pool whose windows all lie inside the input.
 *
 * No padding, and ceil_mode adds no window that runs past the input: each
 * output reads all its taps, so one loop over the outputs with the taps
 * unrolled inside vectorises and keeps the running max (NaN-keeping,
 * mc_maxf) or sum in a register. */
#include "kernels/pool.h"

#include <stdlib.h>


/* Every window inside the input (no padding, and ceil_mode adds no window
 * that runs past it): each output reads all its taps, so one loop over the
 * outputs with the taps unrolled inside vectorises and keeps the running
 * max in a register. */
static int windows_inside(const PoolDims *pd) {
  int64_t taps = 1;
  for (int i = 0; i < pd->nsp; i++) {
    const Taps *t = &pd->t;
    if (t->P[i] || (t->O[i] - 1) * t->S[i] + (t->K[i] - 1) * t->D[i] >= t->I[i])
      return 0;
    taps *= t->K[i];
  }
  return taps <= 16;
}

static void emit_inside(Emit *e, const Op *op, const PoolDims *pd, int avg) {
  const Layer *l = op->main;
  const Taps *t = &pd->t;
  int two = pd->nsp == 2;
  if (two) {
    em(e, "for (int oy = 0; oy < %lld; oy++)", (long long)t->O[0]);
    em(e, "  for (int ox = 0; ox < %lld; ox++) {", (long long)t->O[1]);
  } else {
    em_for(e, "t", t->O[0], "");
  }
  int64_t ky_n = two ? t->K[0] : 1, kx_n = t->K[two];
  int64_t iw = t->I[two];
  for (int64_t ky = 0; ky < ky_n; ky++)
    for (int64_t kx = 0; kx < kx_n; kx++) {
      Lin at = {0};
      if (two) {
        lin_add(&at, "oy", t->S[0] * iw);
        lin_add(&at, NULL, ky * t->D[0] * iw);
        lin_add(&at, "ox", t->S[1]);
      } else {
        lin_add(&at, "t", t->S[0]);
      }
      lin_add(&at, NULL, kx * t->D[two]);
      char *ix = lin_str(&at);
      if (ky == 0 && kx == 0) em(e, "float m = xp[%s];", ix);
      else if (avg) em(e, "m += xp[%s];", ix);
      else em(e, "m = mc_maxf(m, xp[%s]);", ix);
      free(ix);
    }
  if (!avg && ky_n * kx_n > 1) em_use(e, EH_MAXF);
  char *chain;
  if (avg) {
    int64_t div = l->a.divisor_override ? l->a.divisor_override
                                        : ky_n * kx_n;
    char *q = mc_format("m / %lld.0f", (long long)div);
    chain = em_act_chain(e, op, q);
    free(q);
  } else {
    chain = em_act_chain(e, op, "m");
  }
  char *yi = two ? mc_format("oy * %lld + ox", (long long)t->O[1])
                 : mc_strdup("t");
  em(e, "yp[%s] = %s;", yi, chain);
  free(yi);
  free(chain);
  em(e, "}");
}

static int inside_fits(const Program *p, const Op *op, Target t, char *why,
                       size_t n) {
  (void)p, (void)t;
  if (!pool_is(op)) return 0;
  PoolDims pd;
  pool_dims(op->main, &pd);
  if (!windows_inside(&pd)) return 0;
  snprintf(why, n, "per output: every window is inside the input, its "
           "taps unrolled");
  return 1;
}

static void inside_emit(Emit *e, const Op *op) {
  PoolDims pd;
  pool_head(e, op, &pd);
  emit_inside(e, op, &pd, op->main->kind->family == FAM_AVGPOOL);
  em(e, "}");
}

const Kernel kernel_pool_inside = {"pool-inside", KERNELS_FAST, inside_fits,
                                   NULL, NULL, NULL, inside_emit};
