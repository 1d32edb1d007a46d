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

/* ------------------------------------------------------------- lowering
 *
 * Output o of a dim of length L pooled to n averages the inputs
 * [floor(o * L / n), ceil((o + 1) * L / n)): windows of uneven sizes,
 * tabled per dim. PyTorch divides the sum by each dim's window length in
 * turn, and so does the generated code. */

static void adaptive_emit(Emit *e, const Op *op) {
  const Layer *l = op->main;
  int nsp = l->kind->nsp;
  static const char *const var[2][2] = {{"t"}, {"oy", "ox"}};
  int64_t I[2], O[2], isz = 1, osz = 1;
  for (int i = 0; i < nsp; i++) {
    I[i] = l->in.d[l->in.n - nsp + i];
    O[i] = l->out.d[l->out.n - nsp + i];
    isz *= I[i];
    osz *= O[i];
  }
  for (int i = 0; i < nsp; i++) {
    Buf s = {0}, en = {0};
    for (int64_t o = 0; o < O[i]; o++) {
      int64_t a = o * I[i] / O[i], b = ((o + 1) * I[i] + O[i] - 1) / O[i];
      buf_printf(&s, "%s%lld", o ? ", " : "", (long long)a);
      buf_printf(&en, "%s%lld", o ? ", " : "", (long long)b);
    }
    const char *v = var[nsp - 1][i];
    em(e, "static const int start_%s[%lld] = {%s};", v, (long long)O[i], s.s);
    em(e, "static const int end_%s[%lld] = {%s};", v, (long long)O[i], en.s);
    buf_free(&s);
    buf_free(&en);
  }
  em(e, "for (int p = 0; p < %lld; p++) { /* plane */",
     (long long)(shape_numel(&l->in) / isz));
  em(e, "const float *xp = x + p * %lld;", (long long)isz);
  em(e, "float *yp = y + p * %lld;", (long long)osz);
  if (nsp == 1) {
    em(e, "for (int t = 0; t < %lld; t++) {", (long long)O[0]);
    em(e, "float sum = 0.0f;");
    em(e, "for (int i = start_t[t]; i < end_t[t]; i++) sum += xp[i];");
    em(e, "yp[t] = sum / (float)(end_t[t] - start_t[t]);");
    em(e, "}");
  } else {
    em(e, "for (int oy = 0; oy < %lld; oy++)", (long long)O[0]);
    em(e, "for (int ox = 0; ox < %lld; ox++) {", (long long)O[1]);
    em(e, "float sum = 0.0f;");
    em(e, "for (int iy = start_oy[oy]; iy < end_oy[oy]; iy++)");
    em(e, "  for (int ix = start_ox[ox]; ix < end_ox[ox]; ix++)");
    em(e, "    sum += xp[iy * %lld + ix];", (long long)I[1]);
    em(e, "yp[oy * %lld + ox] = sum / (float)(end_oy[oy] - start_oy[oy]) / "
       "(float)(end_ox[ox] - start_ox[ox]);", (long long)O[1]);
    em(e, "}");
  }
  em_epilogue(e, op, "yp", osz);
  em(e, "}");
}

#define ADAPTIVE_FORMULA                                                   \
  "y[p, t] = mean of x[p, floor(t * L / n) .. ceil((t + 1) * L / n) - 1]"

const LayerKind kind_AdaptiveAvgPool1d = {
    "AdaptiveAvgPool1d", 1, adaptive_args, 0, adaptive_parse, adaptive_shape,
    ADAPTIVE_FORMULA, ROLE_OP, adaptive_emit, NULL, NULL};
const LayerKind kind_AdaptiveAvgPool2d = {
    "AdaptiveAvgPool2d", 2, adaptive_args, 0, adaptive_parse, adaptive_shape,
    ADAPTIVE_FORMULA, ROLE_OP, adaptive_emit, NULL, NULL};
