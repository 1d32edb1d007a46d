/* kernels/taps.c: the loops of a sliding window, each tap over the
 * outputs it reads inside the input (see Taps in kernel.h). Shared by the
 * convolution and pooling kernels. */
#include "kernels/kernel.h"

#include <stdlib.h>

static int64_t ceil_div(int64_t a, int64_t b) { /* b > 0 */
  return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

/* The output positions [lo, hi) for which tap k reads inside the input. */
static void tap_range(const Taps *t, int i, int64_t k, int64_t *lo,
                      int64_t *hi) {
  int64_t a = ceil_div(t->P[i] - k * t->D[i], t->S[i]);
  int64_t b = ceil_div(t->I[i] + t->P[i] - k * t->D[i], t->S[i]);
  int64_t lim_lo = t->A[i], lim_hi = t->B[i] ? t->B[i] : t->O[i];
  *lo = a < lim_lo ? lim_lo : a;
  *hi = b > lim_hi ? lim_hi : b;
  if (*hi < *lo) *hi = *lo;
}

static const char *const out_var[3][3] = {
    {"t"}, {"oy", "ox"}, {"oz", "oy", "ox"}};
static const char *const tap_var[3][3] = {
    {"k"}, {"ky", "kx"}, {"kz", "ky", "kx"}};

#define UNROLL_TAPS 4

static int taps_rec(Emit *e, const Taps *t, const TapPrinter *pr, int dim,
                    int64_t *kval, int64_t *lo, int64_t *hi) {
  int n = t->nsp, count = 0;
  if (dim == n) {
    for (int i = 0; i < n; i++)
      if (lo[i] >= hi[i]) return 0; /* the tap reads only padding */
    Lin y = {0}, x = {0}, k = {0};
    int64_t ystr = 1, xstr = 1, kstr = 1;
    for (int i = n - 1; i >= 0; i--) {
      lin_add(&y, out_var[n - 1][i], ystr);
      lin_add(&x, out_var[n - 1][i], t->S[i] * xstr);
      if (kval[i] < 0) {
        lin_add(&x, tap_var[n - 1][i], t->D[i] * xstr);
        lin_add(&k, tap_var[n - 1][i], kstr);
      } else {
        lin_add(&x, NULL, kval[i] * t->D[i] * xstr);
        lin_add(&k, NULL, kval[i] * kstr);
      }
      lin_add(&x, NULL, -t->P[i] * xstr);
      ystr *= t->O[i];
      xstr *= t->I[i];
      kstr *= t->K[i];
    }
    char *ys = lin_str(&y), *xs = lin_str(&x), *ks = lin_str(&k);
    int braces = pr->pre != NULL;
    if (braces) {
      em(e, "{");
      pr->pre(e, ks, pr->ctx);
    }
    for (int i = 0; i < n; i++)
      em(e, "for (int %s = %lld; %s < %lld; %s++)", out_var[n - 1][i],
         (long long)lo[i], out_var[n - 1][i], (long long)hi[i],
         out_var[n - 1][i]), e->depth++;
    pr->stmt(e, ys, xs, ks, pr->ctx);
    e->depth -= n;
    if (braces) em(e, "}");
    free(ys);
    free(xs);
    free(ks);
    return 1;
  }
  /* Consecutive taps with the same output range form a group. */
  for (int64_t k0 = 0; k0 < t->K[dim];) {
    int64_t l0, h0, k1 = k0 + 1;
    tap_range(t, dim, k0, &l0, &h0);
    for (;; k1++) {
      int64_t l1, h1;
      if (k1 == t->K[dim]) break;
      tap_range(t, dim, k1, &l1, &h1);
      if (l1 != l0 || h1 != h0) break;
    }
    lo[dim] = l0;
    hi[dim] = h0;
    if (k1 - k0 > UNROLL_TAPS && l0 < h0) {
      const char *v = tap_var[n - 1][dim];
      em(e, "for (int %s = %lld; %s < %lld; %s++) {", v, (long long)k0, v,
         (long long)k1, v);
      kval[dim] = -1;
      count += taps_rec(e, t, pr, dim + 1, kval, lo, hi);
      em(e, "}");
    } else {
      for (int64_t k = k0; k < k1; k++) {
        kval[dim] = k;
        count += taps_rec(e, t, pr, dim + 1, kval, lo, hi);
      }
    }
    k0 = k1;
  }
  return count;
}

int em_taps(Emit *e, const Taps *t, const TapPrinter *pr) {
  int64_t kval[3] = {0}, lo[3] = {0}, hi[3] = {0};
  return taps_rec(e, t, pr, 0, kval, lo, hi);
}

