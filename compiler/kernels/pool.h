/* kernels/pool.h: what the two loop lowerings of MaxPool1d/2d and
 * AvgPool1d/2d share (kernels/pool_inside.c, kernels/pool_taps.c; the
 * code in kernels/pool.c).
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

#endif
