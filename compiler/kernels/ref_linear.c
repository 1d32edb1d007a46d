/* kernels/ref_linear.c: the reference lowering of Linear.
 *
 *   y[r, o] = bias[o] + sum over i of weight[o, i] * x[r, i]
 *
 * one output at a time, the inputs in order, the weights in PyTorch's
 * layout with any BatchNorm folded in. */
#include "kernels/kernel.h"

#include <stdlib.h>

static int ref_linear_fits(const Program *p, const Op *op, Target t,
                           char *why, size_t n) {
  (void)p, (void)t;
  if (!op->main || op->main->kind->family != FAM_LINEAR) return 0;
  snprintf(why, n, "reference: one output at a time, a sum over the "
           "inputs in order");
  return 1;
}

static void ref_linear_pack(Program *p, Op *op) {
  (void)p;
  const Layer *l = op->main;
  float *w, *b;
  pack_folded(op, &w, &b, l->a.out, l->a.in);
  pack_add(op, "weight", w, l->a.out * l->a.in,
           mc_format("%s.weight [%lld, %lld]%s%s%s, layout [out][in]",
                     l->prefix, (long long)l->a.out, (long long)l->a.in,
                     op->bn ? ", times " : "", op->bn ? op->bn->prefix : "",
                     op->bn ? "'s scale" : ""));
  if (b) pack_add(op, "bias", b, l->a.out, pack_bias_what(op, ""));
}

static void ref_linear_emit(Emit *e, const Op *op) {
  const Layer *l = op->main;
  int64_t in = l->a.in, out = l->a.out;
  int64_t rows = shape_numel(&l->in) / (in ? in : 1);
  const char *wn = op_array(op, "weight"), *bn = op_array(op, "bias");
  em_for(e, "r", rows, "row");
  em_for(e, "o", out, "output feature");
  if (bn) em(e, "float acc = %s[o];", bn);
  else em(e, "float acc = 0.0f;");
  em(e, "for (int i = 0; i < %lld; i++) acc += %s[o * %lld + i] * x[r * "
     "%lld + i];", (long long)in, wn, (long long)in, (long long)in);
  char *chain = em_act_chain(e, op, "acc");
  em(e, "y[r * %lld + o] = %s;", (long long)out, chain);
  free(chain);
  em(e, "}");
  em(e, "}");
}

const Kernel kernel_ref_linear = {"reference-linear", KERNELS_REFERENCE,
                                  ref_linear_fits, NULL, NULL,
                                  ref_linear_pack, ref_linear_emit};
