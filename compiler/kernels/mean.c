/* kernels/mean.c: Tensor.mean over dims (keepdim or not), with the
 * activations fused after it. One lowering, in both kernel sets: a loop
 * nest over the kept dims around one over the reduced dims, summed in
 * double and divided once (PyTorch sums float32 pairwise; both are within
 * the tolerance of SPEC.md). */
#include "kernels/kernel.h"

#include <stdlib.h>

static int mean_fits(const Program *p, const Op *op, Target t, char *why,
                     size_t n) {
  (void)p, (void)t;
  if (op->top != N_MEAN) return 0;
  snprintf(why, n, "mean: a sum over the reduced dims per output");
  return 1;
}

static void mean_emit(Emit *e, const Op *op) {
  const Node *nd = op->node;
  const Shape *in = &op->in;
  static const char *const var[] = {"i0", "i1", "i2", "i3", "i4", "i5",
                                    "i6", "i7"};
  int red[MC_MAXDIM] = {0};
  int64_t stride[MC_MAXDIM], acc = 1, count = 1;
  for (int j = 0; j < nd->ndims; j++) red[nd->dims[j]] = 1;
  for (int j = in->n - 1; j >= 0; j--) {
    stride[j] = acc;
    acc *= in->d[j];
    if (red[j]) count *= in->d[j];
  }
  Lin lx = {0};
  int open = 0;
  for (int j = 0; j < in->n; j++) /* the kept dims */
    if (!red[j] && in->d[j] > 1) {
      em(e, "for (int %s = 0; %s < %lld; %s++) {", var[j], var[j],
         (long long)in->d[j], var[j]);
      lin_add(&lx, var[j], stride[j]);
      open++;
    }
  /* the reduced dims trailing: each sum is over count contiguous floats,
   * taken 8 at a time into 8 partial sums (which vectorise), the last
   * count % 8 into the first partial sums, added pairwise at the end */
  int trailing = 1, seen = 0;
  for (int j = 0; j < in->n; j++) {
    if (red[j]) seen = 1;
    else if (seen && in->d[j] > 1) trailing = 0;
  }
  if (trailing && count >= 32) {
    int64_t full = count / 8 * 8;
    char *base = lin_str(&lx);
    em(e, "const float *xs = x + %s;", base);
    free(base);
    em(e, "double p[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};");
    em(e, "for (int i = 0; i < %lld; i += 8)", (long long)full);
    em(e, "  for (int k = 0; k < 8; k++) p[k] += (double)xs[i + k];");
    if (full < count)
      em(e, "for (int k = 0; k < %lld; k++) p[k] += (double)xs[%lld + k];",
         (long long)(count - full), (long long)full);
    em(e, "double s = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + "
       "(p[6] + p[7]));");
    char *v = mc_format("(float)(s / %lld.0)", (long long)count);
    char *chain = em_act_chain(e, op, v);
    em(e, "*y++ = %s;", chain);
    for (int j = 0; j < open; j++) em(e, "}");
    free(chain), free(v);
    return;
  }
  em(e, "double s = 0.0;");
  int inner = 0;
  for (int j = 0; j < in->n; j++) /* the reduced dims */
    if (red[j] && in->d[j] > 1) {
      em(e, "for (int %s = 0; %s < %lld; %s++)", var[j], var[j],
         (long long)in->d[j], var[j]);
      lin_add(&lx, var[j], stride[j]);
      e->depth++;
      inner++;
    }
  char *xi = lin_str(&lx);
  em(e, "s += (double)x[%s];", xi);
  e->depth -= inner;
  char *v = mc_format("(float)(s / %lld.0)", (long long)count);
  char *chain = em_act_chain(e, op, v);
  em(e, "*y++ = %s;", chain);
  for (int j = 0; j < open; j++) em(e, "}");
  free(chain), free(v), free(xi);
}

const Kernel kernel_mean = {"mean", KERNELS_FAST | KERNELS_REFERENCE,
                            mean_fits, NULL, NULL, NULL, mean_emit};
