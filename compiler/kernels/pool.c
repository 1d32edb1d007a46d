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

/* Pooled to one output per plane: POOL_SIDE planes at a time, each summed
 * in the same order as the window loops (so the same bits), but side by
 * side, so the additions of different planes overlap instead of waiting
 * on one another; with AVX-512, 16 inputs of the 16 planes are transposed
 * in registers so each vector add takes one input of all 16. Each sum is
 * then divided as `div` says (" / 125.0f"). */
void pool_plane_sums(Emit *e, const Op *op, int64_t isz, int64_t planes,
                     const char *div) {
  int64_t full = planes / POOL_SIDE * POOL_SIDE;
  em(e, "/* the whole plane: %d planes summed side by side, each in "
     "window order */", POOL_SIDE);
  for (int part = 0; part < 2; part++) {
    int64_t a = part ? full : 0, b = part ? planes : full;
    int64_t w = part ? planes - full : POOL_SIDE;
    if (a == b) continue;
    if (part)
      em(e, "{ const int p0 = %lld; /* the last %lld planes */",
         (long long)a, (long long)w);
    else
      em(e, "for (int p0 = 0; p0 < %lld; p0 += %d) {", (long long)b,
         POOL_SIDE);
    em(e, "float sum[%lld];", (long long)w);
    int64_t i16 = isz / 16 * 16; /* inputs taken 16 x 16 */
    if (!part && i16) {
      /* 16 planes x 16 inputs transposed in registers, so one vector
       * holds input i of the 16 planes and the sums go on in order */
      em_use(e, EH_AVX512);
      em(e, "#if MC_AVX512");
      em(e, "__m512 s = _mm512_setzero_ps();");
      em(e, "for (int i0 = 0; i0 < %lld; i0 += 16) {", (long long)i16);
      em(e, "__m512 a[16], b[16];");
      em(e, "for (int k = 0; k < 16; k++) a[k] = _mm512_loadu_ps(x + (p0 + "
         "k) * %lld + i0);", (long long)isz);
      em_transpose16(e);
      em(e, "for (int i = 0; i < 16; i++) s = _mm512_add_ps(s, a[i]);");
      em(e, "}");
      em(e, "_mm512_storeu_ps(sum, s);");
      if (i16 < isz) {
        em(e, "for (int i = %lld; i < %lld; i++)", (long long)i16,
           (long long)isz);
        em(e, "  for (int k = 0; k < 16; k++) sum[k] += x[(p0 + k) * %lld + "
           "i];", (long long)isz);
      }
      em(e, "#else");
    }
    em(e, "for (int k = 0; k < %lld; k++) sum[k] = 0.0f;", (long long)w);
    em(e, "for (int i = 0; i < %lld; i++) /* iy * IW + ix, in order */",
       (long long)isz);
    em(e, "  for (int k = 0; k < %lld; k++) sum[k] += x[(p0 + k) * %lld + i];",
       (long long)w, (long long)isz);
    if (!part && i16) em(e, "#endif");
    em(e, "for (int k = 0; k < %lld; k++) y[p0 + k] = sum[k]%s;",
       (long long)w, div);
    em(e, "}");
  }
  em_epilogue(e, op, "y", planes);
}
