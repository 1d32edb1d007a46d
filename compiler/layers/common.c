/* layers/common.c: what every layer file shares: errors with the layer
 * prefix, dimension wrapping, output-length formulas, parameter shapes. */
#include "layers.h"

#include <stdarg.h>
#include <stdlib.h>

void layer_error(Diag *d, const Layer *l, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *msg = mc_alloc((size_t)(n < 0 ? 0 : n) + 1);
  va_start(ap, fmt);
  vsnprintf(msg, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap);
  va_end(ap);
  char *pre = layer_prefix(l);
  diag_error(d, &l->loc, "%s: %s", pre, msg);
  free(pre);
  free(msg);
}

/* PyTorch's maybe_wrap_dim: dim in [-ndim, ndim-1]; a 0-d tensor counts
 * as 1-d. */
int layer_norm_dim(Diag *d, const Layer *l, int64_t dim, int ndim,
                   int64_t *out) {
  int64_t n = ndim > 0 ? ndim : 1;
  if (dim < -n || dim > n - 1) {
    layer_error(d, l, "Dimension out of range (expected to be in range of "
                "[%lld, %lld], but got %lld)", (long long)-n,
                (long long)(n - 1), (long long)dim);
    return -1;
  }
  *out = dim < 0 ? dim + n : dim;
  return 0;
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

/* PyTorch's pooling_output_shape_pad_lr (and the convolution formula when
 * ceil_mode is 0): floor((len + lo + hi - dil*(k-1) - 1 [+ s-1]) / s) + 1,
 * and in ceil mode the last window must start inside the input or the left
 * padding. A result below 1 returns -1; the caller reports it, with
 * layer_len_formula. (d, l and `what`, the length's name, are for that
 * message; unused here.) */
int layer_output_len(Diag *d, const Layer *l, const char *what, int64_t len,
                     int64_t lo, int64_t hi, int64_t dil, int64_t k,
                     int64_t stride, int ceil_mode, int64_t *out) {
  (void)d, (void)l, (void)what;
  int64_t num = len + lo + hi - dil * (k - 1) - 1;
  int64_t o = floor_div(num + (ceil_mode ? stride - 1 : 0), stride) + 1;
  if (ceil_mode && (o - 1) * stride >= len + lo) o--;
  *out = o;
  return o >= 1 ? 0 : -1;
}

/* "L_out = floor((1 + 2*0 - 1*(2-1) - 1)/2 + 1) = 0" */
char *layer_len_formula(const char *what, int64_t len, int64_t lo, int64_t hi,
                        int64_t dil, int64_t k, int64_t stride, int ceil_mode,
                        int64_t result) {
  char pad[64];
  if (lo == hi)
    snprintf(pad, sizeof pad, "2*%lld", (long long)lo);
  else
    snprintf(pad, sizeof pad, "%lld + %lld", (long long)lo, (long long)hi);
  return mc_format("%s = %s((%lld + %s - %lld*(%lld-1) - 1)/%lld + 1) = %lld",
                   what, ceil_mode ? "ceil" : "floor", (long long)len, pad,
                   (long long)dil, (long long)k, (long long)stride,
                   (long long)result);
}

/* Every output dimension must be at least 1 (PyTorch would return an
 * empty tensor). */
int layer_check_size(Diag *d, const Layer *l, const Shape *s) {
  for (int i = 0; i < s->n; i++)
    if (s->d[i] < 1) {
      char *str = shape_str(s);
      layer_error(d, l, "Output size is too small: the output would be %s",
                  str);
      free(str);
      return -1;
    }
  if (shape_numel(s) < 0) {
    layer_error(d, l, "the output is too large");
    return -1;
  }
  return 0;
}

void layer_set_param(Layer *l, int which, int n, const int64_t *dims) {
  Param *p = &l->param[which];
  p->used = 1;
  p->shape.n = n;
  for (int i = 0; i < n; i++) p->shape.d[i] = dims[i];
}

/* Spatial names for formulas: L for 1-d; H, W for 2-d; D, H, W for 3-d. */
const char *layer_dim_name(int nsp, int i) {
  static const char *const names[4][3] = {
      {"L_out", "", ""}, {"L_out", "", ""}, {"H_out", "W_out", ""},
      {"D_out", "H_out", "W_out"}};
  return names[nsp][i];
}
