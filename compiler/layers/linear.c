/* layers/linear.c: Linear, on the last dimension of an input of any rank.
 *
 *   out[..., o] = bias[o] + sum_i weight[o, i] * in[..., i] */
#include "layers.h"

#include <stdlib.h>
#include <string.h>

static const ArgSpec linear_args[] = {{"in_features", A_INT, 1},
                                      {"out_features", A_INT, 1},
                                      {"bias", A_BIAS, 0},
                                      {0, 0, 0}};

static int linear_parse(Layer *l, const ArgVal *v, Diag *d) {
  LayerArgs *a = &l->a;
  a->in = v[0].i[0];
  a->out = v[1].i[0];
  a->bias = v[2].set ? v[2].b : 1;
  if (a->in < 0 || a->out < 0) {
    int64_t bad = a->out < 0 ? a->out : a->in;
    layer_error(d, l, "Trying to create tensor with negative dimension %lld: "
                "[%lld, %lld]", (long long)bad, (long long)a->out,
                (long long)a->in);
    return -1;
  }
  return 0;
}

static int linear_shape(Layer *l, Diag *d) {
  LayerArgs *a = &l->a;
  const Shape *in = &l->in;
  int64_t last = in->d[in->n - 1];
  if (last != a->in) {
    int64_t rows = shape_numel(in) / last;
    layer_error(d, l, "mat1 and mat2 shapes cannot be multiplied (%lldx%lld "
                "and %lldx%lld)", (long long)rows, (long long)last,
                (long long)a->in, (long long)a->out);
    if (in->n >= 3 && l->index > 0)
      diag_hint(d, &l->loc, "insert nn.Flatten{} before nn.Linear to "
                "flatten %s", "the features");
    return -1;
  }
  l->out = *in;
  l->out.d[in->n - 1] = a->out;
  if (a->out == 0) {
    layer_error(d, l, "Output size is too small: out_features=0 gives an "
                "empty output");
    return -1;
  }
  if (layer_check_size(d, l, &l->out)) return -1;
  int64_t w[2] = {a->out, a->in};
  layer_set_param(l, P_WEIGHT, 2, w);
  if (a->bias) layer_set_param(l, P_BIAS, 1, &a->out);
  l->nparams = mc_satadd(mc_satmul(a->out, a->in), a->bias ? a->out : 0);
  l->macs = mc_satmul(shape_numel(&l->out), a->in);
  return 0;
}

/* ------------------------------------------------------------- lowering
 *
 * axpy (the usual): per row of the input, the outputs start at the bias
 * and each input feature adds its row of weights: the weights are stored
 * transposed, [in][out], so the inner loop runs over contiguous outputs
 * and weights, which compilers vectorise.
 * dot (few outputs, e.g. a classifier head): each output is one dot
 * product, summed in 16 partial sums that vectorise, then added up. */

#define DOT_LANES 16 /* partial sums of the dot lowering */

static void linear_emit(Emit *e, const Op *op) {
  const Layer *l = op->main;
  const LayerArgs *a = &l->a;
  int64_t in = a->in, out = a->out, rows = shape_numel(&l->in) / (in ? in : 1);
  /* Few outputs: one dot product each, in DOT_LANES partial sums that
   * vectorise; otherwise the inner loop runs over the outputs. */
  int dot = out < 16 && in >= DOT_LANES;
  float *w = em_copy(&l->param[P_WEIGHT]);
  float *b = l->param[P_BIAS].used ? em_copy(&l->param[P_BIAS]) : NULL;
  if (op->bn) b = em_fold_bn(op, w, b, out, in);
  float *wt = w;
  if (!dot) {
    wt = mc_alloc(sizeof(float) * (size_t)(in * out > 0 ? in * out : 1));
    for (int64_t o = 0; o < out; o++)
      for (int64_t i = 0; i < in; i++) wt[i * out + o] = w[o * in + i];
    free(w);
  }
  char *what = mc_format("%s.weight [%lld, %lld]%s%s, %s", l->prefix,
                         (long long)out, (long long)in,
                         op->bn ? " times the scale of " : "",
                         op->bn ? op->bn->prefix : "",
                         dot ? "layout [out][in]"
                             : "stored transposed: [in][out]");
  char *bwhat = !b ? NULL
                : op->bn ? mc_format("%s%s folded with %s's statistics",
                                     a->bias ? l->prefix : "no bias",
                                     a->bias ? ".bias" : "", op->bn->prefix)
                         : mc_format("%s.bias [%lld]", l->prefix,
                                     (long long)out);
  const char *wn = em_param(e, op, "weight", wt, in * out, what);
  const char *bn = b ? em_param(e, op, "bias", b, out, bwhat) : NULL;
  free(what);
  free(bwhat);
  em_use(e, EH_FMA);
  if (rows > 1) {
    em(e, "for (int r = 0; r < %lld; r++) { /* row */", (long long)rows);
    em(e, "const float *xr = x + r * %lld;", (long long)in);
    em(e, "float *yr = y + r * %lld;", (long long)out);
  } else { /* gcc vectorises less inside a loop that runs once */
    em(e, "{");
    em(e, "const float *xr = x;");
    em(e, "float *yr = y;");
  }
  if (dot) {
    int64_t vin = in / DOT_LANES * DOT_LANES;
    em_explain(e, op, "dot: %lld outputs, each a dot product of %lld in %d "
               "partial sums", (long long)out, (long long)in, DOT_LANES);
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
      char *chain = em_act_chain(op, "sum");
      em(e, "yr[%lld] = %s;", (long long)o, chain);
      free(chain);
      em(e, "}");
    }
  } else {
    em_explain(e, op, "axpy: each input feature adds its row of %lld "
               "weights to the outputs", (long long)out);
    if (bn) em(e, "for (int o = 0; o < %lld; o++) yr[o] = %s[o];",
               (long long)out, bn);
    else em(e, "for (int o = 0; o < %lld; o++) yr[o] = 0.0f;", (long long)out);
    em(e, "for (int i = 0; i < %lld; i++) { /* input feature */",
       (long long)in);
    em(e, "const float xi = xr[i];");
    em(e, "const float *w = %s + i * %lld;", wn, (long long)out);
    em(e, "for (int o = 0; o < %lld; o++) yr[o] = MC_FMA(xi, w[o], yr[o]);",
       (long long)out);
    em(e, "}");
    em_epilogue(e, op, "yr", out);
  }
  em(e, "}");
}

const LayerKind kind_Linear = {
    "Linear", 0, linear_args, 0, linear_parse, linear_shape,
    "y[..., o] = bias[o] + sum over i of weight[o, i] * x[..., i]", ROLE_OP,
    linear_emit, NULL, NULL};
