/* kernels/map.c: an op with no main layer: the activations of the model's
 * input (which is never written), or a copy when every layer is a no-op. */
#include "kernels/kernel.h"

#include <stdlib.h>

static int map_fits(const Program *p, const Op *op, Target t, char *why,
                    size_t n) {
  (void)p, (void)t;
  if (op->main || op->top) return 0;
  snprintf(why, n, "%s", op->nact ? "elementwise" : "copy");
  return 1;
}

static void map_emit(Emit *e, const Op *op) {
  char *chain = em_act_chain(e, op, "x[i]");
  em(e, "for (int i = 0; i < %lld; i++) y[i] = %s;",
     (long long)shape_numel(&op->out), chain);
  free(chain);
}

/* The only lowering: as naive as the reference needs, so both sets. */
const Kernel kernel_map = {
    "map", KERNELS_FAST | KERNELS_REFERENCE,
    map_fits, NULL, NULL, NULL, map_emit};
