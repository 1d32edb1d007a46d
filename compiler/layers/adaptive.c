/* layers/adaptive.c: AdaptiveAvgPool1d, AdaptiveAvgPool2d.
 *
 *   out[i] = mean of in[floor(i*L/O) .. ceil((i+1)*L/O) - 1]
 *
 * PyTorch 1.13 runs adaptive_avg_pool1d as adaptive_avg_pool2d on an
 * unsqueezed input; the checks and their wording follow that path. */
#include "layers.h"

#include <stdlib.h>

static const ArgSpec adaptive_args[] = {{"output_size", A_INTS, 1},
                                        {0, 0, 0}};

static int adaptive_parse(Layer *l, const ArgVal *v, Diag *d) {
  (void)l, (void)v, (void)d; /* output_size is read by the shape rule */
  return 0;
}

static int adaptive_shape(Layer *l, Diag *d) {
  const ArgVal *o = &l->arg[0];
  int nsp = l->kind->nsp;
  Shape in = l->in;
  int n = o->is_tuple ? o->n : 1; /* as the C++ kernel receives it */
  int64_t size[2];
  if (nsp == 1) {
    if (in.n != 2 && in.n != 3) {
      layer_error(d, l, "Expected 2 to 3 dimensions, but got %d-dimensional "
                  "tensor for argument #1 'self' (while checking arguments "
                  "for adaptive_avg_pool1d)", in.n);
      return -1;
    }
    if (n != 1) {
      layer_error(d, l, "adaptive_avg_pool1d() argument 'output_size' should "
                  "contain one int (got %d)", n);
      return -1;
    }
    size[0] = 1; /* adaptive_avg_pool2d(unsqueeze(-2), {1, o}) */
    size[1] = o->i[0];
  } else {
    /* F.adaptive_avg_pool2d's _list_with_default for a tuple */
    if (o->is_tuple && in.n <= o->n) {
      layer_error(d, l, "Input dimension should be at least %d", o->n + 1);
      return -1;
    }
    if (o->is_tuple && o->n != 2) {
      layer_error(d, l, "adaptive_avg_pool2d: output_size must be 2");
      return -1;
    }
    size[0] = o->i[0];
    size[1] = o->is_tuple ? o->i[1] : o->i[0];
  }
  if (size[0] < 0 || size[1] < 0) {
    layer_error(d, l, "adaptive_avg_pool2d: elements of output_size must be "
                "greater than or equal to 0 but received {%lld, %lld}",
                (long long)size[0], (long long)size[1]);
    return -1;
  }
  if (nsp == 2 && in.n != 3 && in.n != 4) {
    char *s = shape_str(&in);
    layer_error(d, l, "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but "
                "got %s", s);
    free(s);
    return -1;
  }
  l->out = in;
  for (int i = 0; i < nsp; i++) {
    int64_t v = size[2 - nsp + i];
    l->a.output_size[i] = v;
    l->out.d[in.n - nsp + i] = v;
    if (v == 0) {
      layer_error(d, l, "Output size is too small: output_size=%lld gives an "
                  "empty output", (long long)v);
      return -1;
    }
  }
  return layer_check_size(d, l, &l->out);
}

#define ADAPTIVE1D_FORMULA                                                 \
  "y[p, t] = mean of x[p, floor(t * L / n) .. ceil((t + 1) * L / n) - 1]"
#define ADAPTIVE2D_FORMULA                                                 \
  "y[p, oy, ox] = mean of x[p, floor(oy * H / h) .. ceil((oy + 1) * H / "  \
  "h) - 1, floor(ox * W / w) .. ceil((ox + 1) * W / w) - 1]"

const LayerKind kind_AdaptiveAvgPool1d = {
    "AdaptiveAvgPool1d", 1, adaptive_args, 0, adaptive_parse, adaptive_shape,
    ADAPTIVE1D_FORMULA, ROLE_OP, FAM_ADAPTIVE, 0, NULL, NULL};
const LayerKind kind_AdaptiveAvgPool2d = {
    "AdaptiveAvgPool2d", 2, adaptive_args, 0, adaptive_parse, adaptive_shape,
    ADAPTIVE2D_FORMULA, ROLE_OP, FAM_ADAPTIVE, 0, NULL, NULL};
