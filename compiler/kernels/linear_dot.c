/* kernels/linear_dot.c: Linear with few outputs (a classifier head).
 *
 * Each output is one dot product, summed in 16 partial sums that
 * vectorise, then added up; weights in PyTorch's layout, [out][in]. One
 * block per output: gcc vectorises the partial sums of straight blocks,
 * not of a loop over the outputs. */
#include "kernels/linear.h"

#include <stdlib.h>

#define DOT_LANES 16 /* partial sums */

static int dot_fits(const Program *p, const Op *op, Target t, char *why,
                    size_t n) {
  (void)p, (void)t;
  if (!linear_is(op)) return 0;
  int64_t in = op->main->a.in, out = op->main->a.out;
  if (!(out < 16 && in >= DOT_LANES)) return 0;
  snprintf(why, n, "dot: %lld outputs, each a dot product of %lld in %d "
           "partial sums", (long long)out, (long long)in, DOT_LANES);
  return 1;
}

static void dot_pack(Program *p, Op *op) {
  (void)p;
  linear_pack(op, 0);
}

static void dot_emit(Emit *e, const Op *op) {
  int64_t in = op->main->a.in, out = op->main->a.out;
  const char *wn = op_array(op, "weight"), *bn = op_array(op, "bias");
  int64_t vin = in / DOT_LANES * DOT_LANES;
  linear_open_row(e, op);
  for (int64_t o = 0; o < out; o++) {
    em(e, "{ /* output feature %lld */", (long long)o);
    em(e, "const float *w = %s + %lld;", wn, (long long)(o * in));
    if (bn) em(e, "float part[%d], sum = %s[%lld];", DOT_LANES, bn,
               (long long)o);
    else em(e, "float part[%d], sum = 0.0f;", DOT_LANES);
    em(e, "for (int l = 0; l < %d; l++) part[l] = 0.0f;", DOT_LANES);
    em(e, "for (int i = 0; i < %lld; i += %d)", (long long)vin, DOT_LANES);
    em(e, "  for (int l = 0; l < %d; l++) part[l] = MC_FMA(xr[i + l], "
       "w[i + l], part[l]);", DOT_LANES);
    if (vin < in)
      em(e, "for (int i = %lld; i < %lld; i++) sum = MC_FMA(xr[i], w[i], "
         "sum);", (long long)vin, (long long)in);
    em(e, "for (int l = 0; l < %d; l++) sum += part[l];", DOT_LANES);
    char *chain = em_act_chain(e, op, "sum");
    em(e, "yr[%lld] = %s;", (long long)o, chain);
    free(chain);
    em(e, "}");
  }
  em(e, "}");
}

const Kernel kernel_linear_dot = {"linear-dot", KERNELS_FAST, dot_fits, NULL,
                                  NULL, dot_pack, dot_emit};
