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
  if (is_max(l)) {
    a->ceil_mode = v[MAX_CEIL].set && v[MAX_CEIL].b;
    if (v[RETURN_INDICES].set && v[RETURN_INDICES].b) {
      layer_error(d, l, "return_indices=True is not supported: the layer "
                  "would return a tuple (output, indices)");
      return -1;
    }
  } else {
    a->ceil_mode = v[ACEIL].set && v[ACEIL].b;
    a->count_include_pad = v[ACOUNT].set ? v[ACOUNT].b : 1;
  }
  return 0;
}

/* An argument as the C++ kernel receives it: n values (stride: 0 when
 * None), a Python int becoming one value. */
static List raw(const ArgVal *v, int64_t dflt, int none) {
  List r = {none ? 0 : 1, {dflt}};
  if (v->set) {
    r.n = v->is_tuple ? v->n : 1;
    for (int i = 0; i < r.n; i++) r.v[i] = v->i[i];
  }
  return r;
}

static int64_t at(const List *x, int i) {
  return x->n == 1 ? x->v[0] : x->v[i];
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
  const ArgVal *v = l->arg;
  Shape in = l->in;
  List k = raw(&v[KERNEL], 0, 0), s = raw(&v[STRIDE], 0, 1),
       p = raw(&v[PADDING], 0, 0), dl = raw(&v[DILATION], 1, 0);
  if (in.n != 2 && in.n != 3) {
    char *str = shape_str(&in);
    layer_error(d, l, "max_pool1d: Expected 2D or 3D (batch mode) tensor with "
                "optional 0 dim batch size for input, but got:%s", str);
    free(str);
    return -1;
  }
  if (k.n != 1) {
    layer_error(d, l, "max_pool1d() kernel_size must be an int, list of ints "
                "or tuple of ints of size 1 but got size %d", k.n);
    return -1;
  }
  if (s.n > 1) {
    layer_error(d, l, "max_pool1d() stride must be None, an int, list of "
                "ints, or tuple of ints of size 1 but got size %d", s.n);
    return -1;
  }
  if (p.n != 1) {
    layer_error(d, l, "max_pool1d() padding must be an int, list of ints, or "
                "tuple of ints of size 1 but got size %d", p.n);
    return -1;
  }
  if (dl.n != 1) {
    layer_error(d, l, "max_pool1d() dilation must be an int, list of ints or "
                "tuple of ints of size 1 but got size %d", dl.n);
    return -1;
  }
  a->kernel[0] = k.v[0];
  a->stride[0] = s.n ? s.v[0] : k.v[0];
  a->padding[0] = a->pad_lo[0] = a->pad_hi[0] = p.v[0];
  a->dilation[0] = dl.v[0];
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
    char *msg = o < 0 ? mc_format("max_pool1d() Invalid computed output "
                                  "size: %lld", (long long)o) : NULL;
    too_small(d, l, msg, 1, &len, &o);
    free(msg);
    return -1;
  }
  l->out = in;
  l->out.d[in.n - 1] = o;
  return 0;
}

/* The 2-d kernels: pooling_output_shape's checks for H then W, then
 * pool2d_shape_check. avg_pool1d arrives here with kernel (1, k). */
static int pool2d_check(Layer *l, Diag *d, const Shape *in4, int64_t k[2],
                        int64_t s[2], int64_t p[2], int64_t dl[2],
                        int64_t out[2]) {
  LayerArgs *a = &l->a;
  int n = in4->n;
  int64_t len[2] = {in4->d[n - 2], in4->d[n - 1]};
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
    layer_output_len(d, l, "", len[i], p[i], p[i], dl[i], k[i], s[i],
                     a->ceil_mode, &out[i]);
  }
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
  if (n != 3 && n != 4) {
    char *str = shape_str(in4);
    layer_error(d, l, "Expected 3D or 4D (batch mode) tensor with optional 0 "
                "dim batch size for input, but got:%s", str);
    free(str);
    return -1;
  }
  if (k[1] / 2 < p[1] || k[0] / 2 < p[0]) {
    layer_error(d, l, "pad should be smaller than or equal to half of kernel "
                "size, but got padW = %lld, padH = %lld, kW = %lld, kH = %lld",
                (long long)p[1], (long long)p[0], (long long)k[1],
                (long long)k[0]);
    return -1;
  }
  if (out[0] < 1 || out[1] < 1) {
    int64_t planes = in4->d[n - 3];
    char *msg = mc_format("Given input size: (%lldx%lldx%lld). Calculated "
                          "output size: (%lldx%lldx%lld). Output size is too "
                          "small", (long long)planes, (long long)len[0],
                          (long long)len[1], (long long)planes,
                          (long long)out[0], (long long)out[1]);
    if (l->kind->nsp == 2) too_small(d, l, msg, 2, len, out);
    else too_small(d, l, msg, 1, len + 1, out + 1);
    free(msg);
    return -1;
  }
  return 0;
}

/* Check a 2-d pool argument's length: 1 or 2 values (stride: or none). */
static int len2(Layer *l, Diag *d, const List *x, int none_ok,
                const char *msg) {
  if (x->n == 1 || x->n == 2 || (none_ok && x->n == 0)) return 0;
  layer_error(d, l, "%s", msg);
  return -1;
}

static int pool2d_shape(Layer *l, Diag *d) {
  LayerArgs *a = &l->a;
  const ArgVal *v = l->arg;
  Shape in = l->in;
  int max = is_max(l);
  const char *fn = max ? "max_pool2d" : "avg_pool2d";
  List k = raw(&v[KERNEL], 0, 0), s = raw(&v[max ? STRIDE : ASTRIDE], 0, 1),
       p = raw(&v[max ? PADDING : APADDING], 0, 0),
       dl = max ? raw(&v[DILATION], 1, 0) : (List){1, {1}};
  char msg[160];
  snprintf(msg, sizeof msg, "%s: kernel_size must either be a single int, or "
           "a tuple of two ints", fn);
  if (len2(l, d, &k, 0, msg)) return -1;
  snprintf(msg, sizeof msg, "%s: stride must either be omitted, a single "
           "int, or a tuple of two ints", fn);
  if (len2(l, d, &s, 1, msg)) return -1;
  snprintf(msg, sizeof msg, max ? "%s: padding must be either be a single "
           "int, or a tuple of two ints" : "%s: padding must either be a "
           "single int, or a tuple of two ints", fn);
  if (len2(l, d, &p, 0, msg)) return -1;
  snprintf(msg, sizeof msg, "%s: dilation must be either a single int, or a "
           "tuple of two ints", fn);
  if (max && len2(l, d, &dl, 0, msg)) return -1;
  if (!max && v[ADIVISOR].set) {
    a->divisor_override = v[ADIVISOR].i[0];
    if (a->divisor_override == 0) {
      layer_error(d, l, "divisor must be not zero");
      return -1;
    }
  }
  if (max && in.n != 3 && in.n != 4) {
    layer_error(d, l, "non-empty 3D or 4D (batch mode) tensor expected for "
                "input");
    return -1;
  }
  if (!max && in.n < 3) { /* input.size(-3) */
    layer_error(d, l, "Dimension out of range (expected to be in range of "
                "[%d, %d], but got -3)", -in.n, in.n - 1);
    return -1;
  }
  int64_t kk[2], ss[2], pp[2], dd[2], out[2];
  for (int i = 0; i < 2; i++) {
    kk[i] = at(&k, i);
    ss[i] = s.n ? at(&s, i) : kk[i];
    pp[i] = at(&p, i);
    dd[i] = at(&dl, i);
    a->kernel[i] = kk[i];
    a->stride[i] = ss[i];
    a->padding[i] = a->pad_lo[i] = a->pad_hi[i] = pp[i];
    a->dilation[i] = dd[i];
  }
  if (pool2d_check(l, d, &in, kk, ss, pp, dd, out)) return -1;
  l->out = in;
  l->out.d[in.n - 2] = out[0];
  l->out.d[in.n - 1] = out[1];
  return 0;
}

/* avg_pool1d: its own rank and length checks, then avg_pool2d on the
 * input unsqueezed at -2 with kernel (1, k), stride (1, s), pad (0, p). */
static int avgpool1d_shape(Layer *l, Diag *d) {
  LayerArgs *a = &l->a;
  const ArgVal *v = l->arg;
  Shape in = l->in;
  if (in.n != 2 && in.n != 3) {
    layer_error(d, l, "Expected 2 to 3 dimensions, but got %d-dimensional "
                "tensor for argument #1 'self' (while checking arguments for "
                "avg_pool1d)", in.n);
    return -1;
  }
  List k = raw(&v[AKERNEL], 0, 0), s = raw(&v[ASTRIDE], 0, 1),
       p = raw(&v[APADDING], 0, 0);
  if (s.n == 0) s = k;
  const List *lists[3] = {&k, &s, &p};
  const char *names[3] = {"kernel_size", "stride", "padding"};
  for (int i = 0; i < 3; i++)
    if (lists[i]->n != 1) {
      layer_error(d, l, "avg_pool1d() argument '%s' should contain one int "
                  "(got %d)", names[i], lists[i]->n);
      return -1;
    }
  a->kernel[0] = k.v[0];
  a->stride[0] = s.v[0];
  a->padding[0] = a->pad_lo[0] = a->pad_hi[0] = p.v[0];
  a->dilation[0] = 1;
  Shape in4 = in;
  in4.d[in4.n] = in4.d[in4.n - 1];
  in4.d[in4.n - 1] = 1;
  in4.n++;
  int64_t kk[2] = {1, k.v[0]}, ss[2] = {1, s.v[0]}, pp[2] = {0, p.v[0]},
          dd[2] = {1, 1}, out[2];
  if (pool2d_check(l, d, &in4, kk, ss, pp, dd, out)) return -1;
  l->out = in;
  l->out.d[in.n - 1] = out[1];
  return 0;
}

static int pool_shape(Layer *l, Diag *d) {
  int r;
  if (l->kind == &kind_MaxPool1d) r = maxpool1d_shape(l, d);
  else if (l->kind == &kind_AvgPool1d) r = avgpool1d_shape(l, d);
  else r = pool2d_shape(l, d);
  if (r) return -1;
  l->macs = 0; /* comparisons and adds, no multiply-accumulates */
  return layer_check_size(d, l, &l->out);
}

/* p: every leading index (sample and channel); s: stride, d: dilation,
 * pad: padding. */
#define MAXPOOL1D_FORMULA                                                  \
  "y[p, t] = max over taps k inside the input of x[p, t * s + k * d - "    \
  "pad]"
#define MAXPOOL2D_FORMULA                                                  \
  "y[p, oy, ox] = max over taps ky, kx inside the input of x[p, "          \
  "oy * s[0] + ky * d[0] - pad[0], ox * s[1] + kx * d[1] - pad[1]]"
#define AVGPOOL1D_FORMULA                                                  \
  "y[p, t] = (sum over taps k inside the input of x[p, t * s + k - pad]) " \
  "/ divisor(t)"
#define AVGPOOL2D_FORMULA                                                  \
  "y[p, oy, ox] = (sum over taps ky, kx inside the input of x[p, "         \
  "oy * s[0] + ky - pad[0], ox * s[1] + kx - pad[1]]) / divisor(oy, ox)"

const LayerKind kind_MaxPool1d = {"MaxPool1d", 1, maxpool_args, 0, pool_parse,
                                  pool_shape, MAXPOOL1D_FORMULA, ROLE_OP,
                                  FAM_MAXPOOL, 0, NULL, NULL};
const LayerKind kind_MaxPool2d = {"MaxPool2d", 2, maxpool_args, 0, pool_parse,
                                  pool_shape, MAXPOOL2D_FORMULA, ROLE_OP,
                                  FAM_MAXPOOL, 0, NULL, NULL};
const LayerKind kind_AvgPool1d = {"AvgPool1d", 1, avgpool1d_args, 0,
                                  pool_parse, pool_shape, AVGPOOL1D_FORMULA,
                                  ROLE_OP, FAM_AVGPOOL, 0, NULL, NULL};
const LayerKind kind_AvgPool2d = {"AvgPool2d", 2, avgpool2d_args, 0,
                                  pool_parse, pool_shape, AVGPOOL2D_FORMULA,
                                  ROLE_OP, FAM_AVGPOOL, 0, NULL, NULL};
