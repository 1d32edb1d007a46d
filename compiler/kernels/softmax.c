/* kernels/softmax.c: Softmax and LogSoftmax over one dim, stably: the
 * max is subtracted first, as PyTorch's CPU kernel does. */
#include "kernels/kernel.h"

#include <stdlib.h>

static void softmax_emit(Emit *e, const Op *op) {
  const Layer *l = op->main;
  int64_t dim = l->a.dim, n = l->in.d[dim], outer = 1, inner = 1;
  for (int i = 0; i < dim; i++) outer *= l->in.d[i];
  for (int i = (int)dim + 1; i < l->in.n; i++) inner *= l->in.d[i];
  int log = (l->kind->flags & KF_LOG) != 0;
  em(e, "for (int a = 0; a < %lld; a++)", (long long)outer);
  em(e, "  for (int b = 0; b < %lld; b++) {", (long long)inner);
  e->depth++;
  em(e, "const float *xa = x + a * %lld + b;", (long long)(n * inner));
  em(e, "float *ya = y + a * %lld + b;", (long long)(n * inner));
  char *xi = mc_format("xa[i * %lld]", (long long)inner);
  if (inner == 1) {
    free(xi);
    xi = mc_strdup("xa[i]");
  }
  const char *yi = inner == 1 ? "ya[i]" : NULL;
  char *yis = yi ? NULL : mc_format("ya[i * %lld]", (long long)inner);
  if (!yi) yi = yis;
  em(e, "float max = xa[0], sum = 0.0f;");
  em(e, "for (int i = 1; i < %lld; i++) if (%s > max) max = %s;",
     (long long)n, xi, xi);
  em(e, "for (int i = 0; i < %lld; i++) sum += expf(%s - max);", (long long)n,
     xi);
  char *val = log ? mc_format("%s - max - logsum", xi)
                  : mc_format("expf(%s - max) / sum", xi);
  char *chain = em_act_chain(e, op, val);
  if (log) em(e, "const float logsum = logf(sum);");
  em(e, "for (int i = 0; i < %lld; i++) %s = %s;", (long long)n, yi, chain);
  free(chain);
  free(val);
  free(xi);
  free(yis);
  em(e, "}");
}

static int softmax_fits(const Program *p, const Op *op, Target t, char *why,
                        size_t n) {
  (void)p, (void)t;
  if (!op->main || op->main->kind->family != FAM_SOFTMAX) return 0;
  snprintf(why, n, "loops over the output");
  return 1;
}

/* The only lowering: as naive as the reference needs, so both sets. */
const Kernel kernel_softmax = {
    "softmax-loops", KERNELS_FAST | KERNELS_REFERENCE,
    softmax_fits, NULL, NULL, NULL, softmax_emit};
