/* pack.c: the weight arrays of the generated code.
 *
 * After the weights are loaded, each op's kernel lays out the arrays it
 * reads (pack in kernels/): a BatchNorm folded into a Conv or Linear is
 * folded here, in one place, as PyTorch's fuse_conv_bn_weights computes
 * it (alpha = weight / sqrt(var + eps), in double); every array is named
 * l<layer index>_<what> and carries a comment naming the PyTorch keys it
 * comes from and its layout. */
#include "modelc.h"
#include "kernels/kernel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

float *pack_copy(const Param *p) {
  int64_t n = shape_numel(&p->shape);
  float *f = mc_alloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
  memcpy(f, p->data, sizeof(float) * (size_t)(n > 0 ? n : 0));
  return f;
}

/* BatchNorm's y = (x - mean) / sqrt(var + eps) * gamma + beta, folded
 * into the [c][per] weights and the bias of the layer before it. */
static void fold_bn(const Layer *bn, float *w, float *b, int64_t c,
                    int64_t per) {
  const float *g = bn->a.affine ? bn->param[P_WEIGHT].data : NULL;
  const float *beta = bn->a.affine ? bn->param[P_BIAS].data : NULL;
  const float *mean = bn->param[P_RUNNING_MEAN].data;
  const float *var = bn->param[P_RUNNING_VAR].data;
  for (int64_t o = 0; o < c; o++) {
    double alpha = (g ? g[o] : 1.0) / sqrt((double)var[o] + bn->a.eps);
    double shift = (beta ? beta[o] : 0.0) - mean[o] * alpha;
    for (int64_t j = 0; j < per; j++)
      w[o * per + j] = (float)(w[o * per + j] * alpha);
    b[o] = (float)(b[o] * alpha + shift);
  }
}

void pack_folded(const Op *op, float **w, float **b, int64_t c, int64_t per) {
  const Layer *l = op->main;
  *w = pack_copy(&l->param[P_WEIGHT]);
  *b = l->param[P_BIAS].used ? pack_copy(&l->param[P_BIAS]) : NULL;
  if (!op->bn) return;
  if (!*b) *b = mc_alloc(sizeof(float) * (size_t)(c > 0 ? c : 1));
  fold_bn(op->bn, *w, *b, c, per);
}

void pack_bn_affine(const Layer *bn, float *scale, float *shift, int64_t c) {
  for (int64_t i = 0; i < c; i++) scale[i] = 1.0f, shift[i] = 0.0f;
  fold_bn(bn, scale, shift, c, 1);
}

void pack_add(Op *op, const char *suffix, float *data, int64_t n,
              char *what) {
  op->params =
      mc_realloc(op->params, sizeof(OpParam) * (size_t)(op->nparams + 1));
  OpParam *p = &op->params[op->nparams++];
  p->name = mc_format("l%d_%s", op->pidx, suffix);
  p->what = what;
  p->data = data;
  p->n = n;
  p->as_bytes = n >= MC_BYTES_FROM;
}

const char *op_array(const Op *op, const char *suffix) {
  if (op->shares) op = op->shares; /* a layer called again */
  char want[64];
  snprintf(want, sizeof want, "l%d_%s", op->pidx, suffix);
  for (int i = 0; i < op->nparams; i++)
    if (strcmp(op->params[i].name, want) == 0) return op->params[i].name;
  return NULL;
}

char *pack_bias_what(const Op *op, const char *extra) {
  const Layer *l = op->main;
  int has = l->param[P_BIAS].used;
  if (op->bn)
    return mc_format("%s%s folded with %s's running statistics and "
                     "affine%s", has ? l->prefix : "no bias",
                     has ? ".bias" : "", op->bn->prefix, extra);
  if (has)
    return mc_format("%s.bias [%lld]%s", l->prefix,
                     (long long)l->param[P_BIAS].shape.d[0], extra);
  return mc_format("no bias: zeros%s", extra);
}

void pack_program(Program *p) {
  if (p->chunk) /* the chunk model reads the user's model's weights */
    model_chunk_weights(p->user, p->chunk);
  for (int i = 0; i < p->nops; i++) {
    Op *op = &p->ops[i];
    if (op->own) /* this call's copy of the layer reads its parameters */
      for (int k = 0; k < P_COUNT; k++)
        op->own->param[k].data = op->orig->param[k].data;
    if (op->kernel && op->kernel->pack && !op->shares) op->kernel->pack(p, op);
  }
  p->packed = 1;
}
