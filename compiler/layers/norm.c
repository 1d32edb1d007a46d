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

#define BN_FORMULA                                                         \
  "y[n, c, ...] = (x[n, c, ...] - mean[c]) / sqrt(var[c] + eps) * "        \
  "weight[c] + bias[c]"

const LayerKind kind_BatchNorm1d = {"BatchNorm1d", 1, bn_args, 0, bn_parse,
                                    bn_shape, BN_FORMULA, ROLE_BN, FAM_NORM, 0,
                                    NULL, NULL};
const LayerKind kind_BatchNorm2d = {"BatchNorm2d", 2, bn_args, 0, bn_parse,
                                    bn_shape, BN_FORMULA, ROLE_BN, FAM_NORM, 0,
                                    NULL, NULL};
