/* layers/pool.c: MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d.
 *
 *   out[x] = max / mean over t < k of in[x*s + t*d - p]   (d = 1 for avg)
 *   L_out = floor or ceil((L + 2p - d*(k-1) - 1)/s) + 1, and in ceil mode
 *   the last window must start inside the input or the left padding.
 *
 * PyTorch 1.13 checks these in three places, each with its own wording:
 * max_pool1d's own CPU path (check_max_pool1d), avg_pool1d (which runs
 * avg_pool2d on an unsqueezed input), and the 2-d kernels'
 * pool2d_shape_check. Each check is reproduced where PyTorch has it. */
#include "layers.h"

#include <stdlib.h>
#include <string.h>

enum { KERNEL, STRIDE, PADDING, DILATION, RETURN_INDICES, MAX_CEIL };
enum { AKERNEL = 0, ASTRIDE, APADDING, ACEIL, ACOUNT, ADIVISOR };

static const ArgSpec maxpool_args[] = {
    {"kernel_size", A_INTS, 1}, {"stride", A_OPTINTS, 0},
    {"padding", A_INTS, 0},     {"dilation", A_INTS, 0},
    {"return_indices", A_BOOL, 0}, {"ceil_mode", A_BOOL, 0}, {0, 0, 0}};

static const ArgSpec avgpool1d_args[] = {
    {"kernel_size", A_INTS, 1}, {"stride", A_OPTINTS, 0},
    {"padding", A_INTS, 0},     {"ceil_mode", A_BOOL, 0},
    {"count_include_pad", A_BOOL, 0}, {0, 0, 0}};

static const ArgSpec avgpool2d_args[] = {
    {"kernel_size", A_INTS, 1}, {"stride", A_OPTINTS, 0},
    {"padding", A_INTS, 0},     {"ceil_mode", A_BOOL, 0},
    {"count_include_pad", A_BOOL, 0}, {"divisor_override", A_INT, 0},
    {0, 0, 0}};

static int is_max(const Layer *l) {
  return l->kind == &kind_MaxPool1d || l->kind == &kind_MaxPool2d;
}

static int pool_parse(Layer *l, const ArgVal *v, Diag *d) {
  LayerArgs *a = &l->a;
  int nsp = l->kind->nsp, max = is_max(l);
  const ArgVal *stride = &v[max ? STRIDE : ASTRIDE];
  for (int i = 0; i < nsp; i++) {
    a->kernel[i] = v[KERNEL].i[i];
    a->stride[i] = stride->set ? stride->i[i] : a->kernel[i];
    a->padding[i] = arg_int(&v[max ? PADDING : APADDING], 0, i);
    a->dilation[i] = max ? arg_int(&v[DILATION], 1, i) : 1;
    a->pad_lo[i] = a->pad_hi[i] = a->padding[i];
  }
  if (max) {
    a->ceil_mode = v[MAX_CEIL].set && v[MAX_CEIL].b;
    if (v[RETURN_INDICES].set && v[RETURN_INDICES].b) {
      layer_error(d, l, "return_indices=True is not supported: the layer "
                  "would return a tuple (output, indices)");
      return -1;
    }
  } else {
    a->ceil_mode = v[ACEIL].set && v[ACEIL].b;
    a->count_include_pad = v[ACOUNT].set ? v[ACOUNT].b : 1;
    if (nsp == 2 && v[ADIVISOR].set) {
      a->divisor_override = v[ADIVISOR].i[0];
      if (a->divisor_override == 0) {
        layer_error(d, l, "divisor must be not zero");
        return -1;
      }
    }
  }
  return 0;
}

static void too_small(Diag *d, Layer *l, const char *torch_msg, int nsp,
                      const int64_t *len, const int64_t *out) {
  LayerArgs *a = &l->a;
  Buf b = {0};
  if (torch_msg) buf_printf(&b, "%s: ", torch_msg);
  else buf_printf(&b, "Output size is too small: ");
  for (int i = 0, first = 1; i < nsp; i++) {
    if (out[i] >= 1) continue;
    char *f = layer_len_formula(layer_dim_name(nsp, i), len[i], a->padding[i],
                                a->padding[i], a->dilation[i], a->kernel[i],
                                a->stride[i], a->ceil_mode, out[i]);
    buf_printf(&b, "%s%s", first ? "" : ", ", f);
    free(f);
    first = 0;
  }
  layer_error(d, l, "%s", b.s);
  buf_free(&b);
}

/* max_pool1d on the CPU without autograd (check_max_pool1d). */
static int maxpool1d_shape(Layer *l, Diag *d) {
  LayerArgs *a = &l->a;
  Shape in = l->in;
  if (in.n != 2 && in.n != 3) {
    char *s = shape_str(&in);
    layer_error(d, l, "max_pool1d() Expected 2D or 3D input, but got %s", s);
    free(s);
    return -1;
  }
  if (a->kernel[0] <= 0) {
    layer_error(d, l, "max_pool1d() kernel_size must be greater than zero, "
                "but got %lld", (long long)a->kernel[0]);
    return -1;
  }
  if (a->stride[0] <= 0) {
    layer_error(d, l, "max_pool1d() stride must be greater than zero, but "
                "got %lld", (long long)a->stride[0]);
    return -1;
  }
  if (a->padding[0] < 0) {
    layer_error(d, l, "max_pool1d() padding must be non-negative, but got "
                "%lld", (long long)a->padding[0]);
    return -1;
  }
  if (a->padding[0] > a->kernel[0] / 2) {
    layer_error(d, l, "max_pool1d() padding should be at most half of kernel "
                "size, but got padding=%lld and kernel_size=%lld",
                (long long)a->padding[0], (long long)a->kernel[0]);
    return -1;
  }
  if (a->dilation[0] <= 0) {
    layer_error(d, l, "max_pool1d() dilation must be greater than zero, but "
                "got %lld", (long long)a->dilation[0]);
    return -1;
  }
  int64_t len = in.d[in.n - 1], o;
  if (layer_output_len(d, l, "L_out", len, a->padding[0], a->padding[0],
                       a->dilation[0], a->kernel[0], a->stride[0],
                       a->ceil_mode, &o)) {
    if (o < 0) {
      char *msg = mc_format("max_pool1d() Invalid computed output size: %lld",
                            (long long)o);
      too_small(d, l, msg, 1, &len, &o);
      free(msg);
    } else {
      too_small(d, l, NULL, 1, &len, &o);
    }
    return -1;
  }
  l->out = in;
  l->out.d[in.n - 1] = o;
  return 0;
}

/* The 2-d kernels (max_pool2d, avg_pool2d) and avg_pool1d through them:
 * pooling_output_shape, then pool2d_shape_check. `h` and `w` index the
 * 2-d view of this layer's arguments (avg_pool1d: kernel (1, k)). */
static int pool2d_check(Layer *l, Diag *d, const Shape *in4, int nsp,
                        int64_t *oh, int64_t *ow) {
  LayerArgs *a = &l->a;
  int64_t k[2], s[2], p[2], dl[2];
  for (int i = 0; i < 2; i++) {
    int j = nsp == 2 ? i : 0;
    int real = nsp == 2 || i == 1;
    k[i] = real ? a->kernel[j] : 1;
    s[i] = real ? a->stride[j] : 1;
    p[i] = real ? a->padding[j] : 0;
    dl[i] = real ? a->dilation[j] : 1;
  }
  for (int i = 0; i < 2; i++) {
    if (s[i] == 0) {
      layer_error(d, l, "stride should not be zero");
      return -1;
    }
    if (p[i] < 0) {
      layer_error(d, l, "pad must be non-negative, but got pad: %lld",
                  (long long)p[i]);
      return -1;
    }
    if (p[i] > k[i] / 2) {
      layer_error(d, l, "pad should be at most half of kernel size, but got "
                  "pad=%lld and kernel_size=%lld", (long long)p[i],
                  (long long)k[i]);
      return -1;
    }
  }
  int n = in4->n;
  int64_t len[2] = {in4->d[n - 2], in4->d[n - 1]}, out[2];
  int small = 0;
  for (int i = 0; i < 2; i++)
    small |= layer_output_len(d, l, "", len[i], p[i], p[i], dl[i], k[i],
                              s[i], a->ceil_mode, &out[i]);
  if (k[0] <= 0 || k[1] <= 0) {
    layer_error(d, l, "kernel size should be greater than zero, but got kH: "
                "%lld kW: %lld", (long long)k[0], (long long)k[1]);
    return -1;
  }
  if (s[0] <= 0 || s[1] <= 0) {
    layer_error(d, l, "stride should be greater than zero, but got dH: %lld "
                "dW: %lld", (long long)s[0], (long long)s[1]);
    return -1;
  }
  if (dl[0] <= 0 || dl[1] <= 0) {
    layer_error(d, l, "dilation should be greater than zero, but got "
                "dilationH: %lld dilationW: %lld", (long long)dl[0],
                (long long)dl[1]);
    return -1;
  }
  if (k[1] / 2 < p[1] || k[0] / 2 < p[0]) {
    layer_error(d, l, "pad should be smaller than or equal to half of kernel "
                "size, but got padW = %lld, padH = %lld, kW = %lld, kH = %lld",
                (long long)p[1], (long long)p[0], (long long)k[1],
                (long long)k[0]);
    return -1;
  }
  if (small) {
    int64_t planes = in4->d[n - 3];
    char *msg = mc_format("Given input size: (%lldx%lldx%lld). Calculated "
                          "output size: (%lldx%lldx%lld). Output size is too "
                          "small", (long long)planes, (long long)len[0],
                          (long long)len[1], (long long)planes,
                          (long long)out[0], (long long)out[1]);
    if (nsp == 2) too_small(d, l, msg, 2, len, out);
    else too_small(d, l, msg, 1, len + 1, out + 1);
    free(msg);
    return -1;
  }
  *oh = out[0];
  *ow = out[1];
  return 0;
}

static int pool_shape(Layer *l, Diag *d) {
  Shape in = l->in;
  int nsp = l->kind->nsp;
  if (l->kind == &kind_MaxPool1d) return maxpool1d_shape(l, d);
  if (nsp == 1) {
    if (in.n != 2 && in.n != 3) {
      layer_error(d, l, "Expected 2 to 3 dimensions, but got %d-dimensional "
                  "tensor for argument #1 'self' (while checking arguments "
                  "for avg_pool1d)", in.n);
      return -1;
    }
    Shape in4 = in; /* avg_pool2d(self.unsqueeze(-2)) */
    in4.d[in4.n] = in4.d[in4.n - 1];
    in4.d[in4.n - 1] = 1;
    in4.n++;
    int64_t oh, ow;
    if (pool2d_check(l, d, &in4, 1, &oh, &ow)) return -1;
    l->out = in;
    l->out.d[in.n - 1] = ow;
  } else {
    if (in.n != 3 && in.n != 4) {
      char *s = shape_str(&in);
      if (is_max(l))
        layer_error(d, l, "non-empty 3D or 4D (batch mode) tensor expected "
                    "for input");
      else
        layer_error(d, l, "non-empty 3D or 4D (batch mode) tensor expected "
                    "for input");
      free(s);
      return -1;
    }
    int64_t oh, ow;
    if (pool2d_check(l, d, &in, 2, &oh, &ow)) return -1;
    l->out = in;
    l->out.d[in.n - 2] = oh;
    l->out.d[in.n - 1] = ow;
  }
  return layer_check_size(d, l, &l->out);
}

static int pool_finish(Layer *l, Diag *d) {
  if (pool_shape(l, d)) return -1;
  int64_t window = 1;
  for (int i = 0; i < l->kind->nsp; i++) window *= l->a.kernel[i];
  l->macs = 0; /* comparisons and adds, not multiply-accumulates */
  (void)window;
  return 0;
}

const LayerKind kind_MaxPool1d = {"MaxPool1d", 1, maxpool_args, 0, pool_parse,
                                  pool_finish};
const LayerKind kind_MaxPool2d = {"MaxPool2d", 2, maxpool_args, 0, pool_parse,
                                  pool_finish};
const LayerKind kind_AvgPool1d = {"AvgPool1d", 1, avgpool1d_args, 0,
                                  pool_parse, pool_finish};
const LayerKind kind_AvgPool2d = {"AvgPool2d", 2, avgpool2d_args, 0,
                                  pool_parse, pool_finish};
