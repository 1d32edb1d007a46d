/* layers/conv.c: Conv1d, Conv2d, Conv3d.
 *
 *   out[n, o, x] = bias[o] + sum_{c in group(o), t} w[o, c, t] * in[n, c, x*s + t*d - p]
 *   L_out = floor((L + 2p - d*(k-1) - 1)/s + 1)
 *
 * Arguments, defaults and errors as torch.nn.Conv*d in PyTorch 1.13: the
 * constructor's checks (_ConvNd.__init__), F.pad for the non-zero padding
 * modes, then the forward checks of check_shape_forward. */
#include "layers.h"

#include <stdlib.h>
#include <string.h>

enum { IN, OUT, KERNEL, STRIDE, PADDING, DILATION, GROUPS, BIAS, MODE };

static const ArgSpec conv_args[] = {
    {"in_channels", A_INT, 1}, {"out_channels", A_INT, 1},
    {"kernel_size", A_INTS, 1}, {"stride", A_INTS, 0},
    {"padding", A_PADDING, 0}, {"dilation", A_INTS, 0},
    {"groups", A_INT, 0},      {"bias", A_BIAS, 0},
    {"padding_mode", A_STR, 0}, {0, 0, 0}};

static const char *const mode_names[] = {"zeros", "reflect", "replicate",
                                         "circular"};

/* _ConvNd.__init__: the checks PyTorch makes when the module is built. */
static int conv_parse(Layer *l, const ArgVal *v, Diag *d) {
  LayerArgs *a = &l->a;
  a->in = v[IN].i[0];
  a->out = v[OUT].i[0];
  a->groups = arg_int(&v[GROUPS], 1, 0);
  a->bias = v[BIAS].set ? v[BIAS].b : 1;
  if (a->groups <= 0) {
    layer_error(d, l, "groups must be a positive integer");
    return -1;
  }
  if (a->in % a->groups != 0) {
    layer_error(d, l, "in_channels must be divisible by groups");
    return -1;
  }
  if (a->out % a->groups != 0) {
    layer_error(d, l, "out_channels must be divisible by groups");
    return -1;
  }
  a->pad_string = PADS_NUM;
  if (v[PADDING].s) {
    if (strcmp(v[PADDING].s, "same") == 0) {
      a->pad_string = PADS_SAME;
    } else if (strcmp(v[PADDING].s, "valid") == 0) {
      a->pad_string = PADS_VALID;
    } else {
      layer_error(d, l, "Invalid padding string '%s', should be one of "
                  "{'valid', 'same'}", v[PADDING].s);
      return -1;
    }
    for (int i = 0; a->pad_string == PADS_SAME && v[STRIDE].set &&
                    i < v[STRIDE].n; i++)
      if (v[STRIDE].i[i] != 1) {
        layer_error(d, l, "padding='same' is not supported for strided "
                    "convolutions");
        return -1;
      }
  }
  a->pad_mode = PAD_ZEROS;
  if (v[MODE].set) {
    int found = 0;
    for (int m = 0; m < 4; m++)
      if (strcmp(v[MODE].s, mode_names[m]) == 0) a->pad_mode = m, found = 1;
    if (!found) {
      layer_error(d, l, "padding_mode must be one of {'zeros', 'reflect', "
                  "'replicate', 'circular'}, but got padding_mode='%s'",
                  v[MODE].s);
      return -1;
    }
  }
  /* torch.empty((out, in // groups, *kernel_size)) */
  Shape w = {2 + v[KERNEL].n, {a->out, a->in / a->groups}};
  for (int i = 0; i < v[KERNEL].n; i++) w.d[2 + i] = v[KERNEL].i[i];
  for (int i = 0; i < w.n; i++)
    if (w.d[i] < 0) {
      char *str = shape_str(&w);
      layer_error(d, l, "Trying to create tensor with negative dimension "
                  "%lld: %s", (long long)w.d[i], str);
      free(str);
      return -1;
    }
  return 0;
}

/* A raw list argument: the bound tuple or the default repeated nsp times. */
static List list_of(const ArgVal *v, int nsp, int64_t dflt) {
  List r = {nsp, {0}};
  if (v->set) {
    r.n = v->n;
    memcpy(r.v, v->i, sizeof r.v);
  } else {
    for (int i = 0; i < nsp; i++) r.v[i] = dflt;
  }
  return r;
}

static char *list_str(const List *x) {
  Shape s = {x->n, {0}};
  memcpy(s.d, x->v, sizeof(int64_t) * (size_t)x->n);
  return shape_str(&s);
}

static int64_t at(const List *x, int i) {
  return x->n == 1 ? x->v[0] : x->v[i];
}

/* The pads F.pad gets: two per dimension of a kernel or padding list
 * (a List holds one per dimension). */
typedef struct Pads {
  int n;
  int64_t v[2 * MC_MAXDIM];
} Pads;

/* F.pad(input, pads, mode) for reflect, replicate and circular, as
 * PyTorch 1.13's _pad_enum and its kernels check it. Pads the shape in
 * place: pads[0], pads[1] apply to the last dimension, and so on. */
static int emulate_pad(Layer *l, Shape *s, const Pads *pads, Diag *d) {
  int n = s->n, np = pads->n, half = np / 2;
  PadMode mode = l->a.pad_mode;
  char *str;
  if (np > 2 * n) {
    layer_error(d, l, "Padding length too large");
    return -1;
  }
  int ok = (np == 2 && (n == 2 || n == 3)) || (np == 4 && (n == 3 || n == 4)) ||
           (np == 6 && (n == 4 || n == 5));
  if (!ok) {
    layer_error(d, l, "Only 2D, 3D, 4D, 5D padding with non-constant padding "
                "are supported for now");
    return -1;
  }
  if (mode == PAD_REFLECT) {
    for (int j = 0; j < half; j++) { /* W, then H, then D */
      int dim = n - 1 - j;
      int64_t lo = pads->v[2 * j], hi = pads->v[2 * j + 1];
      if (lo < s->d[dim] && hi < s->d[dim]) continue;
      str = half == 2 ? mc_format("%d", n) : shape_str(s);
      layer_error(d, l, "Argument #%d: Padding size should be less than the "
                  "corresponding input dimension, but got: padding (%lld, "
                  "%lld) at dimension %d of input %s", 4 + 2 * j,
                  (long long)lo, (long long)hi, dim, str);
      free(str);
      return -1;
    }
  }
  if (mode == PAD_CIRCULAR) {
    int nd = n - 2;
    if (np != 2 * nd) {
      layer_error(d, l, "Invalid padding size, expected %d but got %d",
                  2 * nd, np);
      return -1;
    }
    for (int i = 0; i < nd; i++) {
      int64_t lo = pads->v[2 * (nd - i - 1)], hi = pads->v[2 * (nd - i - 1) + 1];
      int64_t size = s->d[2 + i];
      if (lo > size || hi > size) {
        layer_error(d, l, "Padding value causes wrapping around more than "
                    "once.");
        return -1;
      }
      if (size + lo + hi < 0) {
        layer_error(d, l, "Negative padding value is resulting in an empty "
                    "dimension.");
        return -1;
      }
    }
  }
  for (int j = 0; j < half; j++) s->d[n - 1 - j] += pads->v[2 * j] +
                                                     pads->v[2 * j + 1];
  for (int j = 0; j < half; j++)
    if (s->d[n - 1 - j] < 1) {
      layer_error(d, l, "Output size is too small: padding leaves dimension "
                  "%d empty", n - 1 - j);
      return -1;
    }
  return 0;
}

/* The weight's rank differs from the input's. check_shape_forward puts a
 * space before the weight's sizes, _convolution_mode does not. */
static int rank_mismatch(Layer *l, const Shape *w, const Shape *in,
                         const char *space, Diag *d) {
  char *ws = shape_str(w), *is = shape_str(in);
  layer_error(d, l, "Expected %d-dimensional input for %d-dimensional "
              "weight%s%s, but got %d-dimensional input of size %s instead",
              w->n, w->n, space, ws, in->n, is);
  free(ws);
  free(is);
  return -1;
}

/* at::_convolution's expand_param_if_needed. */
static int expand(Layer *l, List *x, const char *name, int dim, Diag *d) {
  if (x->n == dim) return 0;
  if (x->n == 1) {
    for (int i = 1; i < dim; i++) x->v[i] = x->v[0];
    x->n = dim;
    return 0;
  }
  char *str = list_str(x);
  layer_error(d, l, "expected %s to be a single integer value or a list of "
              "%d values to match the convolution dimensions, but got "
              "%s=%s", name, dim, name, str);
  free(str);
  return -1;
}

static void dims_text(char *buf, size_t n, const int64_t *v, int count) {
  size_t off = 0;
  buf[0] = 0;
  for (int i = 0; i < count && off < n; i++)
    off += (size_t)snprintf(buf + off, n - off, "%s%lld", i ? " x " : "",
                            (long long)v[i]);
}

/* The forward of nn.Conv*d in PyTorch 1.13: F.pad for the non-zero modes,
 * the rank check of conv*d, _convolution_mode for "same"/"valid",
 * _convolution's parameter expansion, then check_shape_forward. */
static int conv_shape(Layer *l, Diag *d) {
  LayerArgs *a = &l->a;
  const ArgVal *v = l->arg;
  int nsp = l->kind->nsp;
  List kernel = list_of(&v[KERNEL], nsp, 0);
  List stride = list_of(&v[STRIDE], nsp, 1);
  List dil = list_of(&v[DILATION], nsp, 1);
  List pad = list_of(&v[PADDING], nsp, 0);
  int dim = kernel.n; /* weight.dim() - 2 */
  int64_t extra_hi[MC_MAXDIM] = {0}; /* asymmetric "same": right side */
  Shape in = l->in;
  char *str;
  int unbatched = 0;

  if (a->pad_string != PADS_NUM) pad.n = 0;
  if (a->pad_mode != PAD_ZEROS) {
    /* _reversed_padding_repeated_twice */
    Pads pads = {0, {0}};
    if (a->pad_string == PADS_NUM) {
      pads.n = 2 * pad.n;
      for (int i = 0; i < pad.n; i++)
        pads.v[2 * i] = pads.v[2 * i + 1] = pad.v[pad.n - 1 - i];
    } else {
      pads.n = 2 * kernel.n;
      for (int i = 0; a->pad_string == PADS_SAME && i < kernel.n &&
                      i < dil.n; i++) {
        int64_t total = dil.v[i] * (kernel.v[i] - 1);
        int64_t left = total >= 0 ? total / 2 : -((-total + 1) / 2);
        int j = kernel.n - 1 - i;
        pads.v[2 * j] = left;
        pads.v[2 * j + 1] = total - left;
      }
    }
    /* Circular padding of an unbatched input fails in PyTorch 1.13 only
     * because its kernel wants a batch; modelc pads it as a batch of 1. */
    if (a->pad_mode == PAD_CIRCULAR && in.n == nsp + 1 &&
        pads.n == 2 * (in.n - 1)) {
      memmove(in.d + 1, in.d, sizeof(int64_t) * (size_t)in.n);
      in.d[0] = 1;
      in.n++;
      unbatched = 1;
    }
    if (emulate_pad(l, &in, &pads, d)) return -1;
    for (int i = 0; i < nsp && pads.n == 2 * nsp; i++) {
      a->fpad_lo[i] = pads.v[2 * (nsp - 1 - i)];
      a->fpad_hi[i] = pads.v[2 * (nsp - 1 - i) + 1];
    }
    if (unbatched) {
      memmove(in.d, in.d + 1, sizeof(int64_t) * (size_t)(in.n - 1));
      in.n--;
    }
    a->pad_string = PADS_NUM;
    pad.n = nsp;
    memset(pad.v, 0, sizeof pad.v);
  }
  if (in.n != nsp + 1 && in.n != nsp + 2) {
    str = shape_str(&in);
    layer_error(d, l, "Expected %dD (unbatched) or %dD (batched) input to "
                "conv%dd, but got input of size: %s", nsp + 1, nsp + 2, nsp,
                str);
    free(str);
    return -1;
  }
  unbatched = in.n == nsp + 1;
  if (unbatched) { /* PyTorch unsqueezes a batch of 1 */
    memmove(in.d + 1, in.d, sizeof(int64_t) * (size_t)in.n);
    in.d[0] = 1;
    in.n++;
  }
  Shape w = {dim + 2, {a->out, a->in / a->groups}};
  for (int i = 0; i < dim; i++) w.d[2 + i] = kernel.v[i];

  if (a->pad_string == PADS_SAME) { /* _convolution_mode, "same" */
    if (w.n != in.n) return rank_mismatch(l, &w, &in, "", d);
    if (stride.n != dim && stride.n != 1) {
      layer_error(d, l, "stride cannot broadcast to %d dimensions", dim);
      return -1;
    }
    if (dil.n != dim && dil.n != 1) {
      layer_error(d, l, "dilation cannot broadcast to %d dimensions", dim);
      return -1;
    }
    /* Pad the odd amount on the input, the rest symmetrically. */
    pad.n = dim;
    for (int i = 0; i < dim; i++) {
      int64_t total = at(&dil, i) * (kernel.v[i] - 1);
      int64_t left = total / 2, right = total - left; /* C division */
      pad.v[i] = left < right ? left : right;
      extra_hi[i] = (left > right ? left : right) - pad.v[i];
      in.d[2 + i] += extra_hi[i];
    }
  } else if (a->pad_string == PADS_VALID) {
    pad.n = 1;
    pad.v[0] = 0;
  }
  if (expand(l, &stride, "stride", dim, d) ||
      expand(l, &pad, "padding", dim, d) ||
      expand(l, &dil, "dilation", dim, d))
    return -1;
  if (nsp > 1 && dim != nsp) { /* conv2d/3d pass output_padding of nsp 0s */
    List op = {nsp, {0}};
    if (expand(l, &op, "output_padding", dim, d)) return -1;
  }
  /* check_shape_forward */
  for (int i = 0; i < dim; i++)
    if (pad.v[i] < 0) {
      layer_error(d, l, "negative padding is not supported");
      return -1;
    }
  for (int i = 0; i < dim; i++)
    if (stride.v[i] <= 0) {
      layer_error(d, l, "non-positive stride is not supported");
      return -1;
    }
  for (int i = 0; i < dim; i++)
    if (dil.v[i] <= 0) {
      /* PyTorch 1.13's words depend on the backend it picks: with one
       * sample and one group, the dilated kernel's check, which sees a
       * 1-D convolution as a 2-D one of height 1. */
      if (in.d[0] == 1 && a->groups == 1) {
        Buf b = {0};
        for (int k = nsp == 1 ? -1 : 0; k < dim; k++)
          buf_printf(&b, "%s%lld", b.len ? ", " : "",
                     (long long)(k < 0 ? 1 : dil.v[k]));
        layer_error(d, l, "dilation should be greater than zero, but got "
                    "[%s]", b.s);
        buf_free(&b);
      } else {
        layer_error(d, l, "non-positive dilation is not supported");
      }
      return -1;
    }
  if (w.n != in.n) return rank_mismatch(l, &w, &in, " ", d);
  char *ws = shape_str(&w);
  if (a->out < a->groups) {
    layer_error(d, l, "Given groups=%lld, expected weight to be at least "
                "%lld at dimension 0, but got weight of size %s instead",
                (long long)a->groups, (long long)a->groups, ws);
    free(ws);
    return -1;
  }
  if (in.d[1] != a->in) {
    str = shape_str(&in);
    layer_error(d, l, "Given groups=%lld, weight of size %s, expected "
                "input%s to have %lld channels, but got %lld channels "
                "instead", (long long)a->groups, ws, str,
                (long long)(w.d[1] * a->groups), (long long)in.d[1]);
    free(str);
    free(ws);
    return -1;
  }
  free(ws);
  int64_t psize[MC_MAXDIM], ksize[MC_MAXDIM];
  int bad = 0;
  for (int i = 0; i < dim; i++) {
    psize[i] = in.d[2 + i] + 2 * pad.v[i];
    ksize[i] = dil.v[i] * (kernel.v[i] - 1) + 1;
    bad |= psize[i] < ksize[i];
  }
  if (bad) {
    char ps[160], ks[160];
    dims_text(ps, sizeof ps, psize, dim);
    dims_text(ks, sizeof ks, ksize, dim);
    layer_error(d, l, "Calculated padded input size per channel: (%s). "
                "Kernel size: (%s). Kernel size can't be greater than actual "
                "input size", ps, ks);
    return -1;
  }
  for (int i = 0; i < dim; i++)
    if (kernel.v[i] <= 0) {
      str = list_str(&kernel);
      layer_error(d, l, "kernel size should be greater than zero, but got "
                  "kernel_size=%s", str);
      free(str);
      return -1;
    }
  /* Valid: every list has nsp entries now. */
  Shape out = in;
  out.d[1] = a->out;
  for (int i = 0; i < nsp; i++) {
    a->kernel[i] = kernel.v[i];
    a->stride[i] = stride.v[i];
    a->dilation[i] = dil.v[i];
    a->padding[i] = pad.v[i];
    a->pad_lo[i] = pad.v[i];
    a->pad_hi[i] = pad.v[i] + extra_hi[i];
    if (l->a.pad_mode != PAD_ZEROS) { /* F.pad did it: recover the sides */
      a->pad_lo[i] = a->pad_hi[i] = 0;
    }
    int64_t o;
    layer_output_len(d, l, "", in.d[2 + i] - extra_hi[i], a->pad_lo[i],
                     a->pad_hi[i], a->dilation[i], a->kernel[i], a->stride[i],
                     0, &o);
    out.d[2 + i] = o;
  }
  if (layer_check_size(d, l, &out)) return -1;
  /* A padding mode other than zeros builds the padded sample: its size
   * (channels times each padded length) must not overflow either. */
  if (l->a.pad_mode != PAD_ZEROS) {
    int64_t padded = a->in;
    for (int i = 0; i < nsp; i++)
      if (!mc_mul64(padded, in.d[2 + i] + a->fpad_lo[i] + a->fpad_hi[i],
                    &padded) || padded > MC_MAX_NUMEL) {
        layer_error(d, l, "the padded input is too large (more than 2^40 "
                    "elements per sample)");
        return -1;
      }
  }
  if (unbatched) {
    memmove(out.d, out.d + 1, sizeof(int64_t) * (size_t)(out.n - 1));
    out.n--;
  }
  l->out = out;
  layer_set_param(l, P_WEIGHT, w.n, w.d);
  if (a->bias) layer_set_param(l, P_BIAS, 1, &a->out);
  int64_t per_out = w.d[1];
  for (int i = 0; i < nsp; i++) per_out = mc_satmul(per_out, a->kernel[i]);
  l->nparams = mc_satadd(mc_satmul(a->out, per_out), a->bias ? a->out : 0);
  l->macs = mc_satmul(shape_numel(&l->out), per_out);
  return 0;
}

/* The formula each generated function's comment gives, with the
 * output's own indices (s: stride, d: dilation, p: padding). */
#define CONV1D_FORMULA                                                     \
  "y[n, o, t] = bias[o] + sum over c < in/groups and taps k of "           \
  "weight[o, c, k] * x[n, group(o) * in/groups + c, t * s + k * d - p]"
#define CONV2D_FORMULA                                                     \
  "y[n, o, oy, ox] = bias[o] + sum over c < in/groups and taps ky, kx "    \
  "of weight[o, c, ky, kx] * x[n, group(o) * in/groups + c, "              \
  "oy * s[0] + ky * d[0] - p[0], ox * s[1] + kx * d[1] - p[1]]"
#define CONV3D_FORMULA                                                     \
  "y[n, o, oz, oy, ox] = bias[o] + sum over c < in/groups and taps kz, "   \
  "ky, kx of weight[o, c, kz, ky, kx] * x[n, group(o) * in/groups + c, "   \
  "oz * s[0] + kz * d[0] - p[0], oy * s[1] + ky * d[1] - p[1], "           \
  "ox * s[2] + kx * d[2] - p[2]]"

const LayerKind kind_Conv1d = {"Conv1d", 1, conv_args, 0, conv_parse,
                               conv_shape, CONV1D_FORMULA, ROLE_OP, FAM_CONV,
                               KF_FOLDS_BN | KF_INIT_KAIMING, NULL, NULL};
const LayerKind kind_Conv2d = {"Conv2d", 2, conv_args, 0, conv_parse,
                               conv_shape, CONV2D_FORMULA, ROLE_OP, FAM_CONV,
                               KF_FOLDS_BN | KF_INIT_KAIMING, NULL, NULL};
const LayerKind kind_Conv3d = {"Conv3d", 3, conv_args, 0, conv_parse,
                               conv_shape, CONV3D_FORMULA, ROLE_OP, FAM_CONV,
                               KF_FOLDS_BN | KF_INIT_KAIMING, NULL, NULL};
