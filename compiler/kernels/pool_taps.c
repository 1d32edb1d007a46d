/* kernels/pool_taps.c: any pool, tap by tap.
 *
 * Every tap updates the outputs whose window holds it inside the input
 * (em_taps): max pooling never sees padding, which PyTorch skips too;
 * average pooling then divides each sum by its window's divisor, computed
 * here as PyTorch's avg_pool2d computes it. */
#include "kernels/pool.h"

#include <stdlib.h>
#include <string.h>


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

static int taps_fits(const Program *p, const Op *op, Target t, char *why,
                     size_t n) {
  (void)p, (void)t;
  if (!pool_is(op)) return 0;
  snprintf(why, n, "loops over the output");
  return 1;
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

const Kernel kernel_pool_taps = {"pool-taps", KERNELS_FAST, taps_fits, NULL,
                                 NULL, NULL, taps_emit};
