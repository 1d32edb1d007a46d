/* kernels/batchnorm.c: a BatchNorm that could not be folded.
 *
 * A BatchNorm after a Conv or Linear is folded into its weights (lower.c
 * decides, pack.c folds). Here it runs on its own: with running statistics as
 * y = x * scale[c] + shift[c], scale and shift computed at compile time
 * as PyTorch computes them (alpha = weight / sqrt(var + eps), beta = bias
 * - mean * alpha); without, with the batch's own mean and biased variance,
 * accumulated in double. */

#include "kernels/kernel.h"

#include <stdlib.h>

static void bn_pack(Program *p, Op *op) {
  (void)p;
  const Layer *l = op->main;
  int64_t c = l->in.d[1];
  if (l->a.track_running_stats) {
    float *scale = mc_alloc(sizeof(float) * (size_t)c);
    float *shift = mc_alloc(sizeof(float) * (size_t)c);
    pack_bn_affine(l, scale, shift, c);
    pack_add(op, "scale", scale, c,
             mc_format("%s: weight / sqrt(running_var + eps)", l->prefix));
    pack_add(op, "shift", shift, c,
             mc_format("%s: bias - running_mean * scale", l->prefix));
  } else if (l->a.affine) {
    pack_add(op, "weight", pack_copy(&l->param[P_WEIGHT]), c,
             mc_format("%s.weight [%lld]", l->prefix, (long long)c));
    pack_add(op, "bias", pack_copy(&l->param[P_BIAS]), c,
             mc_format("%s.bias [%lld]", l->prefix, (long long)c));
  }
}

static void bn_emit(Emit *e, const Op *op) {
  const Layer *l = op->main;
  const LayerArgs *a = &l->a;
  int64_t n = l->in.d[0], c = l->in.d[1];
  int64_t inner = shape_numel(&l->in) / (n * c);
  if (a->track_running_stats) {
    const char *sn = op_array(op, "scale"), *hn = op_array(op, "shift");
    em(e, "for (int n = 0; n < %lld; n++)", (long long)n);
    e->depth++;
    em_for(e, "c", c, "");
    em(e, "const float *xc = x + (n * %lld + c) * %lld;", (long long)c,
       (long long)inner);
    em(e, "float *yc = y + (n * %lld + c) * %lld;", (long long)c,
       (long long)inner);
    char *chain = em_act_chain(e, op, "(xc[i] * s + h)");
    em(e, "const float s = %s[c], h = %s[c];", sn, hn);
    em(e, "for (int i = 0; i < %lld; i++) yc[i] = %s;", (long long)inner,
       chain);
    free(chain);
    em(e, "}");
    e->depth--;
    return;
  }
  const char *wn = op_array(op, "weight"), *bn = op_array(op, "bias");
  char *eps = em_float((float)a->eps);
  em(e, "/* no running statistics: normalise with the batch's own */");
  em_for(e, "c", c, "");
  em(e, "double sum = 0.0, sq = 0.0;");
  em_for(e, "n", n, "");
  em(e, "const float *xc = x + (n * %lld + c) * %lld;", (long long)c,
     (long long)inner);
  em(e, "for (int i = 0; i < %lld; i++) sum += xc[i];", (long long)inner);
  em(e, "}");
  em(e, "const double mean = sum / %lld.0;", (long long)(n * inner));
  em_for(e, "n", n, "");
  em(e, "const float *xc = x + (n * %lld + c) * %lld;", (long long)c,
     (long long)inner);
  em_for(e, "i", inner, "");
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
  char *chain = em_act_chain(e, op, "(yc[i] * s + h)");
  em_for(e, "n", n, "");
  em(e, "const float *xc = x + (n * %lld + c) * %lld;", (long long)c,
     (long long)inner);
  em(e, "float *yc = y + (n * %lld + c) * %lld;", (long long)c,
     (long long)inner);
  free(chain);
  chain = em_act_chain(e, op, "(xc[i] * s + h)");
  em(e, "for (int i = 0; i < %lld; i++) yc[i] = %s;", (long long)inner, chain);
  free(chain);
  em(e, "}");
  em(e, "}");
  free(eps);
}

static int bn_fits(const Program *p, const Op *op, Target t, char *why,
                   size_t n) {
  (void)p, (void)t;
  if (!op->main || op->main->kind->family != FAM_NORM) return 0;
  snprintf(why, n, "loops over the output");
  return 1;
}

/* The only lowering: as naive as the reference needs, so both sets. */
const Kernel kernel_batchnorm = {
    "batchnorm-loops", KERNELS_FAST | KERNELS_REFERENCE,
    bn_fits, NULL, NULL, bn_pack, bn_emit};
