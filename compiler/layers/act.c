/* layers/act.c: elementwise activations, Softmax and LogSoftmax over a
 * dim, and the inference no-ops Dropout and Identity. Shapes pass through
 * unchanged. */
#include "layers.h"

#include <stdlib.h>
#include <string.h>

static const ArgSpec inplace_args[] = {{"inplace", A_BOOL, 0}, {0, 0, 0}};
static const ArgSpec no_args[] = {{0, 0, 0}};
static const ArgSpec leaky_args[] = {
    {"negative_slope", A_NUM, 0}, {"inplace", A_BOOL, 0}, {0, 0, 0}};
static const ArgSpec elu_args[] = {
    {"alpha", A_NUM, 0}, {"inplace", A_BOOL, 0}, {0, 0, 0}};
static const ArgSpec gelu_args[] = {{"approximate", A_STR, 0}, {0, 0, 0}};
static const ArgSpec softmax_args[] = {{"dim", A_INT, 0}, {0, 0, 0}};
static const ArgSpec dropout_args[] = {
    {"p", A_NUM, 0}, {"inplace", A_BOOL, 0}, {0, 0, 0}};

static int act_parse(Layer *l, const ArgVal *v, Diag *d) {
  LayerArgs *a = &l->a;
  const LayerKind *k = l->kind;
  if (k == &kind_LeakyReLU) a->negative_slope = v[0].set ? v[0].num : 0.01;
  if (k == &kind_ELU) a->alpha = v[0].set ? v[0].num : 1.0;
  if (k == &kind_GELU) {
    a->approximate_tanh = v[0].set && strcmp(v[0].s, "tanh") == 0;
    if (v[0].set && !a->approximate_tanh && strcmp(v[0].s, "none") != 0) {
      layer_error(d, l, "approximate argument must be either none or tanh.");
      return -1;
    }
  }
  if (k == &kind_Softmax || k == &kind_LogSoftmax) {
    a->has_dim = v[0].set;
    a->dim = v[0].set ? v[0].i[0] : 0;
  }
  if (k == &kind_Dropout) {
    a->p = v[0].set ? v[0].num : 0.5;
    if (a->p < 0 || a->p > 1) {
      char *p = mc_pyfloat(a->p, v[0].num_is_int);
      layer_error(d, l, "dropout probability has to be between 0 and 1, but "
                  "got %s", p);
      free(p);
      return -1;
    }
  }
  return 0;
}

/* PyTorch's _get_softmax_dim for dim=None. */
static int implicit_dim(int ndim) {
  return (ndim == 0 || ndim == 1 || ndim == 3) ? 0 : 1;
}

static int act_shape(Layer *l, Diag *d) {
  LayerArgs *a = &l->a;
  l->out = l->in;
  if (l->kind == &kind_Softmax || l->kind == &kind_LogSoftmax) {
    if (!a->has_dim) {
      a->dim = implicit_dim(l->in.n);
      diag_warning(d, &l->loc, "%s: Implicit dimension choice for %s has "
                   "been deprecated. Change the call to include dim=X as an "
                   "argument. (PyTorch picks dim=%lld for a %d-d input)",
                   l->kind->name, l->kind == &kind_Softmax ? "softmax"
                                                           : "log_softmax",
                   (long long)a->dim, l->in.n);
      diag_hint(d, &l->loc, "write nn.%s{dim = %lld}", l->kind->name,
                (long long)a->dim);
    }
    int64_t dim;
    if (layer_norm_dim(d, l, a->dim, l->in.n, &dim)) return -1;
    a->dim = dim;
  }
  return 0;
}

#define ACT(kind, args) \
  const LayerKind kind_##kind = {#kind, 0, args, 0, act_parse, act_shape};

ACT(ReLU, inplace_args)
ACT(ReLU6, inplace_args)
ACT(LeakyReLU, leaky_args)
ACT(ELU, elu_args)
ACT(Sigmoid, no_args)
ACT(Tanh, no_args)
ACT(GELU, gelu_args)
ACT(SiLU, inplace_args)
ACT(Softmax, softmax_args)
ACT(LogSoftmax, softmax_args)
ACT(Dropout, dropout_args)

/* nn.Identity(*args, **kwargs) takes and ignores anything. */
const LayerKind kind_Identity = {"Identity", 0, no_args, 1, act_parse,
                                 act_shape};
