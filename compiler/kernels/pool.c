/* kernels/pool.c: the code the two pooling lowerings share. */
#include "kernels/pool.h"

#include <string.h>

int pool_is(const Op *op) {
  return op->main && (op->main->kind->family == FAM_MAXPOOL ||
                      op->main->kind->family == FAM_AVGPOOL);
}

void pool_dims(const Layer *l, PoolDims *pd) {
  const LayerArgs *a = &l->a;
  int nsp = l->kind->nsp, avg = l->kind->family == FAM_AVGPOOL;
  memset(pd, 0, sizeof *pd);
  pd->nsp = nsp;
  pd->t.nsp = nsp;
  pd->isz = pd->osz = 1;
  for (int i = 0; i < nsp; i++) {
    pd->t.I[i] = l->in.d[l->in.n - nsp + i];
    pd->t.O[i] = l->out.d[l->out.n - nsp + i];
    pd->t.K[i] = a->kernel[i];
    pd->t.S[i] = a->stride[i];
    pd->t.D[i] = avg ? 1 : a->dilation[i];
    pd->t.P[i] = a->padding[i];
    pd->isz *= pd->t.I[i];
    pd->osz *= pd->t.O[i];
  }
  pd->planes = shape_numel(&l->in) / pd->isz;
}

void pool_head(Emit *e, const Op *op, PoolDims *pd) {
  pool_dims(op->main, pd);
  em_for(e, "p", pd->planes, "plane");
  em(e, "const float *xp = x + p * %lld;", (long long)pd->isz);
  em(e, "float *yp = y + p * %lld;", (long long)pd->osz);
}
