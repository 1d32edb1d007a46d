/* kernels/pool_plane.c: an AvgPool whose one window is the whole plane
 * (the global average pool of a DS-CNN, written nn.AvgPool2d{{25, 5}}).
 *
 * Each plane's inputs are summed in window order, as PyTorch's avg_pool2d
 * sums them, and the sum divided once by the window size (or by
 * divisor_override); 16 planes side by side (pool_plane_sums). */
#include "kernels/pool.h"

#include <stdlib.h>

/* No padding, each window dim the input's: one output per plane. */
static int whole_plane(const PoolDims *pd) {
  for (int i = 0; i < pd->nsp; i++)
    if (pd->t.P[i] || pd->t.K[i] != pd->t.I[i] || pd->t.O[i] != 1) return 0;
  return pd->planes >= POOL_SIDE;
}

static int plane_fits(const Program *p, const Op *op, Target t, char *why,
                      size_t n) {
  (void)p, (void)t;
  if (!op->main || op->main->kind->family != FAM_AVGPOOL) return 0;
  PoolDims pd;
  pool_dims(op->main, &pd);
  if (!whole_plane(&pd)) return 0;
  snprintf(why, n, "the window is the whole plane: one sum per plane, %d "
           "planes side by side", POOL_SIDE);
  return 1;
}

static void plane_emit(Emit *e, const Op *op) {
  const Layer *l = op->main;
  PoolDims pd;
  pool_dims(l, &pd);
  int64_t d = l->a.divisor_override ? l->a.divisor_override : pd.isz;
  char *div = mc_format(" / %lld.0f", (long long)d);
  pool_plane_sums(e, op, pd.isz, pd.planes, div);
  free(div);
}

const Kernel kernel_pool_plane = {"pool-plane", KERNELS_FAST, plane_fits,
                                  NULL, NULL, NULL, plane_emit};
