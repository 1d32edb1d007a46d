/* kernels/linear_axpy.c: Linear, the usual lowering.
 *
 * Per row of the input, the outputs start at the bias and each input
 * feature adds its row of weights: the weights are stored transposed,
 * [in][out], so the inner loop runs over contiguous outputs and weights,
 * which compilers vectorise. */
#include "kernels/linear.h"

#include <stdlib.h>

static int axpy_fits(const Program *p, const Op *op, Target t, char *why,
                     size_t n) {
  (void)p, (void)t;
  if (!linear_is(op)) return 0;
  snprintf(why, n, "axpy: each input feature adds its row of %lld "
           "weights to the outputs", (long long)op->main->a.out);
  return 1;
}

static void axpy_pack(Program *p, Op *op) {
  (void)p;
  linear_pack(op, 1);
}

static void axpy_emit(Emit *e, const Op *op) {
  int64_t in = op->main->a.in, out = op->main->a.out;
  const char *wn = op_array(op, "weight"), *bn = op_array(op, "bias");
  linear_open_row(e, op);
  if (bn) em(e, "for (int o = 0; o < %lld; o++) yr[o] = %s[o];",
             (long long)out, bn);
  else em(e, "for (int o = 0; o < %lld; o++) yr[o] = 0.0f;", (long long)out);
  em_for(e, "i", in, "input feature");
  em(e, "const float xi = xr[i];");
  em(e, "const float *w = %s + i * %lld;", wn, (long long)out);
  em(e, "for (int o = 0; o < %lld; o++) yr[o] = MC_FMA(xi, w[o], yr[o]);",
     (long long)out);
  em(e, "}");
  em_epilogue(e, op, "yr", out);
  em(e, "}");
}

const Kernel kernel_linear_axpy = {"linear-axpy", KERNELS_FAST, axpy_fits,
                                   NULL, NULL, axpy_pack, axpy_emit};
