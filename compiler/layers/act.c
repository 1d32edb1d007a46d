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

/* ------------------------------------------------------------- lowering
 *
 * Each activation is a one-line function of v, fused into the op that
 * produces its input; the expressions follow PyTorch's CPU kernels (a NaN
 * stays NaN through ReLU and ReLU6, as through clamp). Softmax and
 * LogSoftmax run over one dim, stably: the max is subtracted first. */

static char *act_expr(const Layer *l) {
  const LayerKind *k = l->kind;
  if (k == &kind_ReLU) return mc_strdup("v < 0.0f ? 0.0f : v");
  if (k == &kind_ReLU6)
    return mc_strdup("v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v");
  if (k == &kind_Sigmoid) return mc_strdup("1.0f / (1.0f + expf(-v))");
  if (k == &kind_Tanh) return mc_strdup("tanhf(v)");
  /* PyTorch: x * min(max(x + 3, 0), 6) / 6, and min(max(x + 3, 0), 6) / 6;
   * here times the float nearest 1/6 (0x3e2aaaab), within an ulp of the
   * division: a vector division costs as much as the rest of the layer's
   * epilogue (ONNX Runtime multiplies too). */
  if (k == &kind_Hardswish)
    return mc_strdup("v * (v + 3.0f < 0.0f ? 0.0f : v + 3.0f > 6.0f ? 6.0f "
                     ": v + 3.0f) * 0.16666667f");
  if (k == &kind_Hardsigmoid)
    return mc_strdup("(v + 3.0f < 0.0f ? 0.0f : v + 3.0f > 6.0f ? 6.0f : "
                     "v + 3.0f) * 0.16666667f");
  if (k == &kind_SiLU) return mc_strdup("v / (1.0f + expf(-v))");
  if (k == &kind_GELU && l->a.approximate_tanh)
    return mc_strdup("0.5f * v * (1.0f + tanhf(0.7978845608f * (v + "
                     "0.044715f * v * v * v)))");
  if (k == &kind_GELU)
    return mc_strdup("0.5f * v * (1.0f + erff(v * 0.7071067812f))");
  char *c = em_float((float)(k == &kind_ELU ? l->a.alpha
                                            : l->a.negative_slope));
  char *s = k == &kind_ELU ? mc_format("v > 0.0f ? v : (%s) * expm1f(v)", c)
                           : mc_format("v > 0.0f ? v : v * (%s)", c);
  free(c);
  return s;
}

/* The AVX-512 forms of ReLU, ReLU6, Hardswish and Hardsigmoid, with the
 * scalar expressions' bits: max(0, t) and min(6, t) return t when t is
 * NaN (the second operand when unordered), and the clamp gives 0 and 6
 * exactly where the comparisons do; the products are the same IEEE
 * operations in the same order. */
static char *act_vec(const Layer *l, const char *v) {
  const LayerKind *k = l->kind;
  if (k == &kind_ReLU)
    return mc_format("_mm512_max_ps(_mm512_setzero_ps(), %s)", v);
  char *clamp; /* ReLU6 of v, or of v + 3 */
  if (k == &kind_ReLU6)
    clamp = mc_format("_mm512_min_ps(_mm512_set1_ps(6.0f), _mm512_max_ps("
                      "_mm512_setzero_ps(), %s))", v);
  else
    clamp = mc_format("_mm512_min_ps(_mm512_set1_ps(6.0f), _mm512_max_ps("
                      "_mm512_setzero_ps(), _mm512_add_ps(%s, "
                      "_mm512_set1_ps(3.0f))))", v);
  char *s = k == &kind_ReLU6 ? mc_strdup(clamp)
            : k == &kind_Hardswish
                ? mc_format("_mm512_mul_ps(_mm512_mul_ps(%s, %s), "
                            "_mm512_set1_ps(0.16666667f))", v, clamp)
                : mc_format("_mm512_mul_ps(%s, _mm512_set1_ps(0.16666667f))",
                            clamp);
  free(clamp);
  return s;
}

#define ACT(kind, args, flags, vec)                                      \
  const LayerKind kind_##kind = {#kind,     0,        args,     0,          \
                                 act_parse, act_shape, NULL,    ROLE_ACT,   \
                                 FAM_ACT,   flags,     act_expr, vec};

ACT(ReLU, inplace_args, KF_RELU, act_vec)
ACT(ReLU6, inplace_args, 0, act_vec)
ACT(LeakyReLU, leaky_args, 0, NULL)
ACT(ELU, elu_args, 0, NULL)
ACT(Sigmoid, no_args, 0, NULL)
ACT(Tanh, no_args, 0, NULL)
ACT(GELU, gelu_args, 0, NULL)
ACT(SiLU, inplace_args, 0, NULL)
ACT(Hardswish, inplace_args, 0, act_vec)
ACT(Hardsigmoid, inplace_args, 0, act_vec)

const LayerKind kind_Softmax = {
    "Softmax", 0, softmax_args, 0, act_parse, act_shape,
    "y[a, i, b] = exp(x[a, i, b] - max) / sum over j of exp(x[a, j, b] - "
    "max)", ROLE_OP, FAM_SOFTMAX, KF_IN_PLACE, NULL, NULL};
const LayerKind kind_LogSoftmax = {
    "LogSoftmax", 0, softmax_args, 0, act_parse, act_shape,
    "y[a, i, b] = x[a, i, b] - max - log(sum over j of exp(x[a, j, b] - "
    "max))", ROLE_OP, FAM_SOFTMAX, KF_IN_PLACE | KF_LOG, NULL, NULL};
const LayerKind kind_Dropout = {"Dropout", 0, dropout_args, 0, act_parse,
                                act_shape, NULL, ROLE_NOOP, FAM_NOOP, 0, NULL,
                                NULL};

/* nn.Identity(*args, **kwargs) takes and ignores anything. */
const LayerKind kind_Identity = {"Identity", 0, no_args, 1, act_parse,
                                 act_shape, NULL, ROLE_NOOP, FAM_NOOP, 0, NULL,
                                 NULL};
