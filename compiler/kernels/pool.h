/* kernels/pool.h: what the lowerings of MaxPool1d/2d, AvgPool1d/2d and
 * the adaptive pools share (kernels/pool_inside.c, pool_taps.c,
 * pool_plane.c, adaptive.c; the code in kernels/pool.c).
 *
 * Each plane (every leading index: sample and channel, or the one
 * leading dim MaxPool2d pools a 3-D tensor over) is pooled over its last
 * nsp dims. */
#ifndef MODELC_KERNELS_POOL_H
#define MODELC_KERNELS_POOL_H

#include "kernels/kernel.h"

typedef struct PoolDims {
  int nsp;
  int64_t planes, isz, osz;
  Taps t;
} PoolDims;

int pool_is(const Op *op); /* a MaxPool or AvgPool op */
void pool_dims(const Layer *l, PoolDims *pd);
/* Open the loop over planes: xp and yp are the plane's input and output. */
void pool_head(Emit *e, const Op *op, PoolDims *pd);

#define POOL_SIDE 16 /* planes summed side by side (one output per plane) */
/* Every plane (planes of isz inputs, at least POOL_SIDE of them) summed
 * whole in input order, then divided as `div` says (" / 125.0f"): the
 * outputs y[p], with the op's activations. */
void pool_plane_sums(Emit *e, const Op *op, int64_t isz, int64_t planes,
                     const char *div);

#endif
