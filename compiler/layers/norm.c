/* layers/norm.c: BatchNorm1d, BatchNorm2d at inference.
 *
 *   out[n, c, ...] = (in - running_mean[c]) / sqrt(running_var[c] + eps)
 *                    * weight[c] + bias[c]
 *
 * With track_running_stats=False PyTorch normalises with the statistics
 * of the batch itself, even in eval(). */
#include "layers.h"

#include <math.h>
#include <stdlib.h>

enum { FEATURES, EPS, MOMENTUM, AFFINE, TRACK };

static const ArgSpec bn_args[] = {
    {"num_features", A_INT, 1}, {"eps", A_NUM, 0}, {"momentum", A_OPTNUM, 0},
    {"affine", A_BOOL, 0}, {"track_running_stats", A_BOOL, 0}, {0, 0, 0}};

static int bn_parse(Layer *l, const ArgVal *v, Diag *d) {
  LayerArgs *a = &l->a;
  a->in = a->out = v[FEATURES].i[0];
  a->eps = v[EPS].set ? v[EPS].num : 1e-5;
  a->momentum = v[MOMENTUM].set ? v[MOMENTUM].num : 0.1;
  a->affine = v[AFFINE].set ? v[AFFINE].b : 1;
  a->track_running_stats = v[TRACK].set ? v[TRACK].b : 1;
  if (a->in < 0) {
    layer_error(d, l, "Trying to create tensor with negative dimension %lld: "
                "[%lld]", (long long)a->in, (long long)a->in);
    return -1;
  }
  return 0;
}

static int bn_shape(Layer *l, Diag *d) {
  LayerArgs *a = &l->a;
  const Shape *in = &l->in;
  if (l->kind->nsp == 1 && in->n != 2 && in->n != 3) {
    layer_error(d, l, "expected 2D or 3D input (got %dD input)", in->n);
    return -1;
  }
  if (l->kind->nsp == 2 && in->n != 4) {
    layer_error(d, l, "expected 4D input (got %dD input)", in->n);
    return -1;
  }
  int64_t c = in->d[1];
  /* Without running statistics PyTorch normalises with the batch's own,
   * as in training, and F.batch_norm's _verify_batch_size applies. */
  if (!a->track_running_stats && shape_numel(in) / c == 1) {
    char *str = shape_str(in);
    layer_error(d, l, "Expected more than 1 value per channel when training, "
                "got input size torch.Size(%s)", str);
    free(str);
    return -1;
  }
  if (a->track_running_stats && c != a->in) {
    layer_error(d, l, "running_mean should contain %lld elements not %lld",
                (long long)c, (long long)a->in);
    return -1;
  }
  if (a->affine && c != a->in) {
    layer_error(d, l, "weight should contain %lld elements not %lld",
                (long long)c, (long long)a->in);
    return -1;
  }
  l->out = *in;
  if (a->affine) {
    layer_set_param(l, P_WEIGHT, 1, &a->in);
    layer_set_param(l, P_BIAS, 1, &a->in);
  }
  if (a->track_running_stats) {
    layer_set_param(l, P_RUNNING_MEAN, 1, &a->in);
    layer_set_param(l, P_RUNNING_VAR, 1, &a->in);
  }
  l->nparams = a->affine ? 2 * a->in : 0;
  l->macs = shape_numel(in);
  return 0;
}

/* ------------------------------------------------------------- lowering
 *
 * A BatchNorm after a Conv or Linear is folded into its weights (lower.c,
 * em_fold_bn). Here it runs on its own: with running statistics as
 * y = x * scale[c] + shift[c], scale and shift computed at compile time
 * as PyTorch computes them (alpha = weight / sqrt(var + eps), beta = bias
 * - mean * alpha); without, with the batch's own mean and biased variance,
 * accumulated in double. */

static void bn_emit(Emit *e, const Op *op) {
  const Layer *l = op->main;
  const LayerArgs *a = &l->a;
  int64_t n = l->in.d[0], c = l->in.d[1];
  int64_t inner = shape_numel(&l->in) / (n * c);
  if (a->track_running_stats) {
    float *scale = mc_alloc(sizeof(float) * (size_t)c);
    float *shift = mc_alloc(sizeof(float) * (size_t)c);
    const Param *p = l->param;
    for (int64_t i = 0; i < c; i++) {
      double alpha = (a->affine ? p[P_WEIGHT].data[i] : 1.0) /
                     sqrt((double)p[P_RUNNING_VAR].data[i] + a->eps);
      scale[i] = (float)alpha;
      shift[i] = (float)((a->affine ? p[P_BIAS].data[i] : 0.0) -
                         p[P_RUNNING_MEAN].data[i] * alpha);
    }
    char *w1 = mc_format("%s: weight / sqrt(running_var + eps)", l->prefix);
    char *w2 = mc_format("%s: bias - running_mean * scale", l->prefix);
    const char *sn = em_param(e, op, "scale", scale, c, w1);
    const char *hn = em_param(e, op, "shift", shift, c, w2);
    free(w1);
    free(w2);
    em(e, "for (int n = 0; n < %lld; n++)", (long long)n);
    e->depth++;
    em(e, "for (int c = 0; c < %lld; c++) {", (long long)c);
    em(e, "const float *xc = x + (n * %lld + c) * %lld;", (long long)c,
       (long long)inner);
    em(e, "float *yc = y + (n * %lld + c) * %lld;", (long long)c,
       (long long)inner);
    char *chain = em_act_chain(op, "(xc[i] * s + h)");
    em(e, "const float s = %s[c], h = %s[c];", sn, hn);
    em(e, "for (int i = 0; i < %lld; i++) yc[i] = %s;", (long long)inner,
       chain);
    free(chain);
    em(e, "}");
    e->depth--;
    return;
  }
  const char *wn = NULL, *bn = NULL;
  if (a->affine) {
    char *w1 = mc_format("%s.weight [%lld]", l->prefix, (long long)c);
    char *w2 = mc_format("%s.bias [%lld]", l->prefix, (long long)c);
    wn = em_param(e, op, "weight", em_copy(&l->param[P_WEIGHT]), c, w1);
    bn = em_param(e, op, "bias", em_copy(&l->param[P_BIAS]), c, w2);
    free(w1);
    free(w2);
  }
  char *eps = em_float((float)a->eps);
  em(e, "/* no running statistics: normalise with the batch's own */");
  em(e, "for (int c = 0; c < %lld; c++) {", (long long)c);
  em(e, "double sum = 0.0, sq = 0.0;");
  em(e, "for (int n = 0; n < %lld; n++) {", (long long)n);
  em(e, "const float *xc = x + (n * %lld + c) * %lld;", (long long)c,
     (long long)inner);
  em(e, "for (int i = 0; i < %lld; i++) sum += xc[i];", (long long)inner);
  em(e, "}");
  em(e, "const double mean = sum / %lld.0;", (long long)(n * inner));
  em(e, "for (int n = 0; n < %lld; n++) {", (long long)n);
  em(e, "const float *xc = x + (n * %lld + c) * %lld;", (long long)c,
     (long long)inner);
  em(e, "for (int i = 0; i < %lld; i++) {", (long long)inner);
  em(e, "const double d = xc[i] - mean;");
  em(e, "sq += d * d;");
  em(e, "}");
  em(e, "}");
  em(e, "const float invstd = (float)(1.0 / sqrt(sq / %lld.0 + %.17g));",
     (long long)(n * inner), a->eps);
  if (a->affine) {
    em(e, "const float s = invstd * %s[c];", wn);
    em(e, "const float h = %s[c] - (float)mean * s;", bn);
  } else {
    em(e, "const float s = invstd;");
    em(e, "const float h = -(float)mean * s;");
  }
  char *chain = em_act_chain(op, "(yc[i] * s + h)");
  em(e, "for (int n = 0; n < %lld; n++) {", (long long)n);
  em(e, "const float *xc = x + (n * %lld + c) * %lld;", (long long)c,
     (long long)inner);
  em(e, "float *yc = y + (n * %lld + c) * %lld;", (long long)c,
     (long long)inner);
  free(chain);
  chain = em_act_chain(op, "(xc[i] * s + h)");
  em(e, "for (int i = 0; i < %lld; i++) yc[i] = %s;", (long long)inner, chain);
  free(chain);
  em(e, "}");
  em(e, "}");
  free(eps);
}

#define BN_FORMULA                                                         \
  "y[n, c, ...] = (x[n, c, ...] - mean[c]) / sqrt(var[c] + eps) * "        \
  "weight[c] + bias[c]"

const LayerKind kind_BatchNorm1d = {"BatchNorm1d", 1, bn_args, 0, bn_parse,
                                    bn_shape, BN_FORMULA, ROLE_BN, bn_emit,
                                    NULL, NULL};
const LayerKind kind_BatchNorm2d = {"BatchNorm2d", 2, bn_args, 0, bn_parse,
                                    bn_shape, BN_FORMULA, ROLE_BN, bn_emit,
                                    NULL, NULL};
