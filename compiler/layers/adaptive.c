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
  for (int i = 0; i < l->kind->nsp; i++) l->a.output_size[i] = v[0].i[i];
  return 0;
}

static int adaptive_shape(Layer *l, Diag *d) {
  int nsp = l->kind->nsp;
  Shape in = l->in;
  if (nsp == 1 && in.n != 2 && in.n != 3) {
    layer_error(d, l, "Expected 2 to 3 dimensions, but got %d-dimensional "
                "tensor for argument #1 'self' (while checking arguments for "
                "adaptive_avg_pool1d)", in.n);
    return -1;
  }
  if (nsp == 2 && in.n != 3 && in.n != 4) {
    char *s = shape_str(&in);
    layer_error(d, l, "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but "
                "got %s", s);
    free(s);
    return -1;
  }
  for (int i = 0; i < nsp; i++)
    if (l->a.output_size[i] < 0) {
      Buf b = {0};
      buf_printf(&b, "adaptive_avg_pool2d: elements of output_size must be "
                 "greater than or equal to 0 but received {");
      if (nsp == 1) buf_printf(&b, "1, ");
      for (int j = 0; j < nsp; j++)
        buf_printf(&b, "%s%lld", j ? ", " : "",
                   (long long)l->a.output_size[j]);
      buf_printf(&b, "}");
      layer_error(d, l, "%s", b.s);
      buf_free(&b);
      return -1;
    }
  l->out = in;
  for (int i = 0; i < nsp; i++) {
    l->out.d[in.n - nsp + i] = l->a.output_size[i];
    if (l->a.output_size[i] == 0) {
      layer_error(d, l, "Output size is too small: output_size=%lld gives an "
                  "empty output", (long long)l->a.output_size[i]);
      return -1;
    }
  }
  return layer_check_size(d, l, &l->out);
}

const LayerKind kind_AdaptiveAvgPool1d = {"AdaptiveAvgPool1d", 1,
                                          adaptive_args, 0, adaptive_parse,
                                          adaptive_shape};
const LayerKind kind_AdaptiveAvgPool2d = {"AdaptiveAvgPool2d", 2,
                                          adaptive_args, 0, adaptive_parse,
                                          adaptive_shape};
