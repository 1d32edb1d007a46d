/* kernels/linear.c: Linear as loops, two lowerings.
 *
 * axpy (the usual): per row of the input, the outputs start at the bias
 * and each input feature adds its row of weights: the weights are stored
 * transposed, [in][out], so the inner loop runs over contiguous outputs
 * and weights, which compilers vectorise.
 * dot (few outputs, e.g. a classifier head): each output is one dot
 * product, summed in 16 partial sums that vectorise, then added up. */

#include "kernels/kernel.h"

#include <stdlib.h>

#define DOT_LANES 16 /* partial sums of the dot lowering */

extern const Kernel kernel_linear_dot;

static int is_linear(const Op *op) {
  return op->main && op->main->kind->family == FAM_LINEAR;
}

/* Few outputs: one dot product each, in DOT_LANES partial sums that
 * vectorise; otherwise the inner loop runs over the outputs. */
static int dot_fits(const Program *p, const Op *op, Target t, char *why,
                    size_t n) {
  (void)p, (void)t;
  if (!is_linear(op)) return 0;
  int64_t in = op->main->a.in, out = op->main->a.out;
  if (!(out < 16 && in >= DOT_LANES)) return 0;
  snprintf(why, n, "dot: %lld outputs, each a dot product of %lld in %d "
           "partial sums", (long long)out, (long long)in, DOT_LANES);
  return 1;
}

static int axpy_fits(const Program *p, const Op *op, Target t, char *why,
                     size_t n) {
  (void)p, (void)t;
  if (!is_linear(op)) return 0;
  snprintf(why, n, "axpy: each input feature adds its row of %lld "
           "weights to the outputs", (long long)op->main->a.out);
  return 1;
}

static void linear_pack(Program *p, Op *op) {
  (void)p;
  const Layer *l = op->main;
  int64_t in = l->a.in, out = l->a.out;
  int dot = op->kernel == &kernel_linear_dot;
  float *w, *b;
  pack_folded(op, &w, &b, out, in);
  float *wt = w;
  if (!dot) {
    wt = mc_alloc(sizeof(float) * (size_t)(in * out > 0 ? in * out : 1));
    for (int64_t o = 0; o < out; o++)
      for (int64_t i = 0; i < in; i++) wt[i * out + o] = w[o * in + i];
    free(w);
  }
  pack_add(op, "weight", wt, in * out,
           mc_format("%s.weight [%lld, %lld]%s%s%s, %s", l->prefix,
                     (long long)out, (long long)in,
                     op->bn ? ", times " : "", op->bn ? op->bn->prefix : "",
                     op->bn ? "'s scale" : "",
                     dot ? "layout [out][in]" : "stored transposed: [in][out]"));
  if (b) pack_add(op, "bias", b, out, pack_bias_what(op, ""));
}

static void linear_emit(Emit *e, const Op *op) {
  const Layer *l = op->main;
  const LayerArgs *a = &l->a;
  int64_t in = a->in, out = a->out, rows = shape_numel(&l->in) / (in ? in : 1);
  int dot = op->kernel == &kernel_linear_dot;
  const char *wn = op_array(op, "weight"), *bn = op_array(op, "bias");
  em_use(e, EH_FMA);
  if (rows > 1) {
    em_for(e, "r", rows, "row");
    em(e, "const float *xr = x + r * %lld;", (long long)in);
    em(e, "float *yr = y + r * %lld;", (long long)out);
  } else { /* gcc vectorises less inside a loop that runs once */
    em(e, "{");
    em(e, "const float *xr = x;");
    em(e, "float *yr = y;");
  }
  if (dot) {
    int64_t vin = in / DOT_LANES * DOT_LANES;
    /* One block per output: gcc vectorises the partial sums of straight
     * blocks, not of a loop over the outputs. */
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
  } else {
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
  }
  em(e, "}");
}

const Kernel kernel_linear_dot = {"linear-dot", KERNELS_FAST, dot_fits, NULL,
                                  NULL, linear_pack, linear_emit};
const Kernel kernel_linear_axpy = {"linear-axpy", KERNELS_FAST, axpy_fits,
                                   NULL, NULL, linear_pack, linear_emit};
