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

const LayerKind kind_Linear = {
    "Linear", 0, linear_args, 0, linear_parse, linear_shape,
    "y[..., o] = bias[o] + sum over i of weight[o, i] * x[..., i]", ROLE_OP,
    FAM_LINEAR, KF_FOLDS_BN | KF_INIT_KAIMING, NULL, NULL};
