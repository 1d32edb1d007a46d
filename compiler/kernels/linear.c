/* kernels/linear.c: the code the two Linear lowerings share. */
#include "kernels/linear.h"

#include <stdlib.h>

int linear_is(const Op *op) {
  return op->main && op->main->kind->family == FAM_LINEAR;
}

void linear_pack(Op *op, int transposed) {
  const Layer *l = op->main;
  int64_t in = l->a.in, out = l->a.out;
  float *w, *b;
  pack_folded(op, &w, &b, out, in);
  float *wt = w;
  if (transposed) {
    wt = mc_alloc(sizeof(float) * (size_t)(in * out > 0 ? in * out : 1));
    for (int64_t o = 0; o < out; o++)
      for (int64_t i = 0; i < in; i++) wt[i * out + o] = w[o * in + i];
    free(w);
  }
  pack_add(op, "weight", wt, in * out,
           mc_format("%s.weight [%lld, %lld]%s%s%s, %s", l->prefix,
                     (long long)out, (long long)in,
                     op->bn ? ", times " : "", op->bn ? op->bn->prefix : "",
                     op->bn ? "'s scale" : "",
                     transposed ? "stored transposed: [in][out]"
                                : "layout [out][in]"));
  if (b) pack_add(op, "bias", b, out, pack_bias_what(op, ""));
}

void linear_open_row(Emit *e, const Op *op) {
  int64_t in = op->main->a.in, out = op->main->a.out;
  int64_t rows = shape_numel(&op->main->in) / (in ? in : 1);
  em_use(e, EH_FMA);
  if (rows > 1) {
    em_for(e, "r", rows, "row");
    em(e, "const float *xr = x + r * %lld;", (long long)in);
    em(e, "float *yr = y + r * %lld;", (long long)out);
  } else { /* gcc vectorises less inside a loop that runs once */
    em(e, "{");
    em(e, "const float *xr = x;");
    em(e, "float *yr = y;");
  }
}
