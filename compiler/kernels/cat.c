/* kernels/cat.c: torch.cat along a dim, with the activations fused after
 * it. One lowering, in both kernel sets: for each block of the dims before
 * `dim`, each input's slab copied after the previous one's. */
#include "kernels/kernel.h"

#include <stdlib.h>

static int cat_fits(const Program *p, const Op *op, Target t, char *why,
                    size_t n) {
  (void)p, (void)t;
  if (op->top != N_CAT) return 0;
  snprintf(why, n, "cat: %d slabs copied per block", op->nsrc);
  return 1;
}

static void cat_emit(Emit *e, const Op *op) {
  int64_t dim = op->node->dim, outer = 1, inner = 1;
  for (int j = 0; j < dim; j++) outer *= op->out.d[j];
  for (int j = (int)dim + 1; j < op->out.n; j++) inner *= op->out.d[j];
  int64_t row = op->out.d[dim] * inner, off = 0;
  em_for(e, "o", outer, "block of the dims before the cat's");
  for (int k = 0; k < op->nsrc; k++) {
    char buf[8];
    const char *x = op_src_name(op, k, buf, sizeof buf);
    int64_t len = op->ins[k].d[dim] * inner;
    char *v = mc_format("%s[o * %lld + i]", x, (long long)len);
    char *chain = em_act_chain(e, op, v);
    em(e, "for (int i = 0; i < %lld; i++) y[o * %lld + %lld + i] = %s;",
       (long long)len, (long long)row, (long long)off, chain);
    free(chain);
    free(v);
    off += len;
  }
  em(e, "}");
}

const Kernel kernel_cat = {"cat", KERNELS_FAST | KERNELS_REFERENCE, cat_fits,
                           NULL, NULL, NULL, cat_emit};
