/* kernels/pool.c: MaxPool1d/2d and AvgPool1d/2d as loops, two lowerings.
 *
 * Each plane (every leading index: sample and channel, or the one
 * leading dim MaxPool2d pools a 3-D tensor over) is pooled over its last
 * nsp dims. Every tap updates the outputs whose window holds it inside the
 * input (em_taps): max pooling never sees padding, which PyTorch skips
 * too; average pooling then divides each sum by its window's divisor,
 * computed here as PyTorch's avg_pool2d computes it. */

#include "kernels/kernel.h"

#include <stdlib.h>
#include <string.h>

typedef struct PoolDims {
  int nsp;
  int64_t planes, isz, osz;
  Taps t;
} PoolDims;

static void pool_dims(const Layer *l, PoolDims *pd) {
  const LayerArgs *a = &l->a;
  int nsp = l->kind->nsp, avg = l->kind->family == FAM_AVGPOOL;
  memset(pd, 0, sizeof *pd);
  pd->nsp = nsp;
  pd->t.nsp = nsp;
  pd->isz = pd->osz = 1;
  for (int i = 0; i < nsp; i++) {
    pd->t.I[i] = l->in.d[l->in.n - nsp + i];
    pd->t.O[i] = l->out.d[l->out.n - nsp + i];
    pd->t.K[i] = a->kernel[i];
    pd->t.S[i] = a->stride[i];
    pd->t.D[i] = avg ? 1 : a->dilation[i];
    pd->t.P[i] = a->padding[i];
    pd->isz *= pd->t.I[i];
    pd->osz *= pd->t.O[i];
  }
  pd->planes = shape_numel(&l->in) / pd->isz;
}

/* ctx: 1 while no tap is printed yet and the windows have no padding, so
 * tap 0 is inside every window; if tap 0 comes first, unrolled, it stores
 * instead of combining (2). Anything else (3, or 0 with padding) needs the
 * outputs initialised first. */
static void max_stmt(Emit *e, const char *y, const char *x, const char *k,
                     void *ctx) {
  int *first = ctx;
  if (*first == 1 && strcmp(k, "0") == 0) {
    em(e, "yp[%s] = xp[%s];", y, x);
  } else {
    em(e, "yp[%s] = mc_maxf(yp[%s], xp[%s]);", y, y, x);
    em_use(e, EH_MAXF);
  }
  if (*first == 1) *first = strcmp(k, "0") == 0 ? 2 : 3;
}

static void sum_stmt(Emit *e, const char *y, const char *x, const char *k,
                     void *ctx) {
  int *first = ctx;
  if (*first == 1 && strcmp(k, "0") == 0) em(e, "yp[%s] = xp[%s];", y, x);
  else em(e, "yp[%s] += xp[%s];", y, x);
  if (*first == 1) *first = strcmp(k, "0") == 0 ? 2 : 3;
}

/* avg_pool2d's divisor along one dim, for output position o. */
static int64_t avg_factor(const Layer *l, const PoolDims *pd, int i,
                          int64_t o) {
  int64_t start = o * pd->t.S[i] - pd->t.P[i];
  int64_t end = start + pd->t.K[i];
  if (end > pd->t.I[i] + pd->t.P[i]) end = pd->t.I[i] + pd->t.P[i];
  int64_t pool = end - start;
  if (start < 0) start = 0;
  if (end > pd->t.I[i]) end = pd->t.I[i];
  return l->a.count_include_pad ? pool : end - start;
}

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

static int is_pool(const Op *op) {
  return op->main && (op->main->kind->family == FAM_MAXPOOL ||
                      op->main->kind->family == FAM_AVGPOOL);
}

static int inside_fits(const Program *p, const Op *op, Target t, char *why,
                       size_t n) {
  (void)p, (void)t;
  if (!is_pool(op)) return 0;
  PoolDims pd;
  pool_dims(op->main, &pd);
  if (!windows_inside(&pd)) return 0;
  snprintf(why, n, "per output: every window is inside the input, its "
           "taps unrolled");
  return 1;
}

static int taps_fits(const Program *p, const Op *op, Target t, char *why,
                     size_t n) {
  (void)p, (void)t;
  if (!is_pool(op)) return 0;
  snprintf(why, n, "loops over the output");
  return 1;
}

static void pool_head(Emit *e, const Op *op, PoolDims *pd) {
  pool_dims(op->main, pd);
  em_for(e, "p", pd->planes, "plane");
  em(e, "const float *xp = x + p * %lld;", (long long)pd->isz);
  em(e, "float *yp = y + p * %lld;", (long long)pd->osz);
}

static void inside_emit(Emit *e, const Op *op) {
  PoolDims pd;
  pool_head(e, op, &pd);
  emit_inside(e, op, &pd, op->main->kind->family == FAM_AVGPOOL);
  em(e, "}");
}

static void taps_emit(Emit *e, const Op *op) {
  const Layer *l = op->main;
  int avg = l->kind->family == FAM_AVGPOOL;
  PoolDims pd;
  pool_head(e, op, &pd);
  /* Without padding the first tap of every window is inside the input
   * (ceil_mode's last window starts inside it too): it initialises. */
  int first = 1;
  for (int i = 0; i < pd.nsp; i++) first &= pd.t.P[i] == 0;
  TapPrinter pr = {NULL, avg ? sum_stmt : max_stmt, &first};
  Emit taps = {0};
  taps.depth = e->depth;
  int n = em_taps(&taps, &pd.t, &pr);
  for (int h = 0; h < EH_NHELPERS; h++) e->uses[h] |= taps.uses[h];
  if (first != 2)
    em(e, "for (int i = 0; i < %lld; i++) yp[i] = %s;", (long long)pd.osz,
       avg ? "0.0f" : "-INFINITY");
  if (taps.b.s) buf_printf(&e->b, "%s", taps.b.s);
  buf_free(&taps.b);
  if (!n) em(e, "(void)xp; /* every tap reads padding */");
  if (avg && l->a.divisor_override) {
    em(e, "for (int i = 0; i < %lld; i++) yp[i] /= %lld.0f;",
       (long long)pd.osz, (long long)l->a.divisor_override);
  } else if (avg) {
    /* The divisor is a product of one factor per dim. */
    static const char *const var[2][2] = {{"t"}, {"oy", "ox"}};
    int constant = 1;
    int64_t f0[2];
    for (int i = 0; i < pd.nsp; i++) {
      f0[i] = avg_factor(l, &pd, i, 0);
      for (int64_t o = 0; o < pd.t.O[i]; o++) {
        int64_t f = avg_factor(l, &pd, i, o);
        if (f <= 0) f = 1; /* an empty window: its sum 0 stays 0 */
        if (f != f0[i]) constant = 0;
      }
    }
    if (constant) {
      int64_t div = 1;
      for (int i = 0; i < pd.nsp; i++) div *= f0[i] > 0 ? f0[i] : 1;
      em(e, "for (int i = 0; i < %lld; i++) yp[i] /= %lld.0f;",
         (long long)pd.osz, (long long)div);
    } else {
      Buf expr = {0};
      for (int i = 0; i < pd.nsp; i++) {
        Buf b = {0};
        for (int64_t o = 0; o < pd.t.O[i]; o++) {
          int64_t f = avg_factor(l, &pd, i, o);
          buf_printf(&b, "%s%lld", o ? ", " : "", (long long)(f > 0 ? f : 1));
        }
        em(e, "static const int div_%s[%lld] = {%s};", var[pd.nsp - 1][i],
           (long long)pd.t.O[i], b.s);
        buf_free(&b);
        buf_printf(&expr, "%sdiv_%s[%s]", i ? " * " : "", var[pd.nsp - 1][i],
                   var[pd.nsp - 1][i]);
      }
      if (pd.nsp == 1) {
        em(e, "for (int t = 0; t < %lld; t++) yp[t] /= (float)(%s);",
           (long long)pd.osz, expr.s);
      } else {
        em(e, "for (int oy = 0; oy < %lld; oy++)", (long long)pd.t.O[0]);
        em(e, "  for (int ox = 0; ox < %lld; ox++)", (long long)pd.t.O[1]);
        em(e, "    yp[oy * %lld + ox] /= (float)(%s);", (long long)pd.t.O[1],
           expr.s);
      }
      buf_free(&expr);
    }
  }
  em_epilogue(e, op, "yp", pd.osz);
  em(e, "}");
}

const Kernel kernel_pool_inside = {"pool-inside", KERNELS_FAST, inside_fits,
                                   NULL, NULL, NULL, inside_emit};
const Kernel kernel_pool_taps = {"pool-taps", KERNELS_FAST, taps_fits, NULL,
                                 NULL, NULL, taps_emit};
