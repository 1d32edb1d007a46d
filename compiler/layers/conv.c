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

static int conv_parse(Layer *l, const ArgVal *v, Diag *d) {
  LayerArgs *a = &l->a;
  int nsp = l->kind->nsp;
  a->in = v[IN].i[0];
  a->out = v[OUT].i[0];
  a->groups = arg_int(&v[GROUPS], 1, 0);
  a->bias = v[BIAS].set ? v[BIAS].b : 1;
  for (int i = 0; i < nsp; i++) {
    a->kernel[i] = v[KERNEL].i[i];
    a->stride[i] = arg_int(&v[STRIDE], 1, i);
    a->dilation[i] = arg_int(&v[DILATION], 1, i);
    a->padding[i] = v[PADDING].s ? 0 : arg_int(&v[PADDING], 0, i);
  }
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
    for (int i = 0; a->pad_string == PADS_SAME && i < nsp; i++)
      if (a->stride[i] != 1) {
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
  int64_t wdims[5] = {a->out, a->in / a->groups};
  for (int i = 0; i < nsp; i++) wdims[2 + i] = a->kernel[i];
  for (int i = 0; i < nsp + 2; i++)
    if (wdims[i] < 0) {
      Shape s = {nsp + 2, {0}};
      memcpy(s.d, wdims, sizeof(int64_t) * (size_t)(nsp + 2));
      char *str = shape_str(&s);
      layer_error(d, l, "Trying to create tensor with negative dimension "
                  "%lld: %s", (long long)wdims[i], str);
      free(str);
      return -1;
    }
  /* Resolved padding per side: "same" splits d*(k-1) with the odd one
   * on the right, as _ConvNd does. */
  for (int i = 0; i < nsp; i++) {
    if (a->pad_string == PADS_SAME) {
      int64_t total = a->dilation[i] * (a->kernel[i] - 1);
      a->pad_lo[i] = total / 2;
      a->pad_hi[i] = total - total / 2;
    } else {
      a->pad_lo[i] = a->pad_hi[i] = a->padding[i];
    }
  }
  return 0;
}

static void dims_text(char *buf, size_t n, const int64_t *v, int count) {
  size_t off = 0;
  buf[0] = 0;
  for (int i = 0; i < count && off < n; i++)
    off += (size_t)snprintf(buf + off, n - off, "%s%lld", i ? " x " : "",
                            (long long)v[i]);
}

/* F.pad(input, pads, mode) for reflect, replicate and circular. */
static int check_pad(Layer *l, const Shape *in, int nsp, Diag *d) {
  LayerArgs *a = &l->a;
  int first = in->n - nsp;
  for (int i = 0; i < nsp; i++) {
    int64_t size = in->d[first + i], lo = a->pad_lo[i], hi = a->pad_hi[i];
    if (a->pad_mode == PAD_REFLECT && (lo >= size || hi >= size)) {
      char *str = shape_str(in);
      layer_error(d, l, "Argument #4: Padding size should be less than the "
                  "corresponding input dimension, but got: padding (%lld, "
                  "%lld) at dimension %d of input %s", (long long)lo,
                  (long long)hi, first + i, str);
      free(str);
      return -1;
    }
    if (a->pad_mode == PAD_CIRCULAR && (lo > size || hi > size)) {
      layer_error(d, l, "Padding value causes wrapping around more than "
                  "once.");
      return -1;
    }
  }
  return 0;
}

static int conv_shape(Layer *l, Diag *d) {
  LayerArgs *a = &l->a;
  int nsp = l->kind->nsp;
  Shape in = l->in;
  if (in.n != nsp + 1 && in.n != nsp + 2) {
    char *str = shape_str(&in);
    layer_error(d, l, "Expected %dD (unbatched) or %dD (batched) input to "
                "conv%dd, but got input of size: %s", nsp + 1, nsp + 2, nsp,
                str);
    free(str);
    return -1;
  }
  int batched = in.n == nsp + 2;
  if (!batched) { /* PyTorch unsqueezes a batch of 1 */
    memmove(in.d + 1, in.d, sizeof(int64_t) * (size_t)in.n);
    in.d[0] = 1;
    in.n++;
  }
  /* The padded input, as the convolution sees it. */
  Shape padded = in;
  int64_t lo[3], hi[3];
  for (int i = 0; i < nsp; i++) {
    padded.d[2 + i] += a->pad_lo[i] + a->pad_hi[i];
    lo[i] = a->pad_lo[i];
    hi[i] = a->pad_hi[i];
  }
  if (a->pad_mode != PAD_ZEROS) {
    if (check_pad(l, &in, nsp, d)) return -1;
    in = padded;
    for (int i = 0; i < nsp; i++) lo[i] = hi[i] = 0;
  }
  for (int i = 0; i < nsp; i++)
    if (lo[i] < 0 || hi[i] < 0) {
      layer_error(d, l, "negative padding is not supported");
      return -1;
    }
  for (int i = 0; i < nsp; i++)
    if (a->stride[i] <= 0) {
      layer_error(d, l, "non-positive stride is not supported");
      return -1;
    }
  for (int i = 0; i < nsp; i++)
    if (a->dilation[i] <= 0) {
      layer_error(d, l, "dilation should be greater than zero");
      return -1;
    }
  Shape w = {nsp + 2, {a->out, a->in / a->groups}};
  for (int i = 0; i < nsp; i++) w.d[2 + i] = a->kernel[i];
  char *wstr = shape_str(&w);
  if (a->out < a->groups) {
    layer_error(d, l, "Given groups=%lld, expected weight to be at least "
                "%lld at dimension 0, but got weight of size %s instead",
                (long long)a->groups, (long long)a->groups, wstr);
    free(wstr);
    return -1;
  }
  if (in.d[1] != a->in) {
    char *istr = shape_str(&in);
    layer_error(d, l, "Given groups=%lld, weight of size %s, expected "
                "input%s to have %lld channels, but got %lld channels "
                "instead", (long long)a->groups, wstr, istr,
                (long long)(w.d[1] * a->groups), (long long)in.d[1]);
    free(istr);
    free(wstr);
    return -1;
  }
  free(wstr);
  int64_t psize[3], ksize[3];
  int bad = 0;
  for (int i = 0; i < nsp; i++) {
    psize[i] = in.d[2 + i] + lo[i] + hi[i];
    ksize[i] = a->dilation[i] * (a->kernel[i] - 1) + 1;
    bad |= psize[i] < ksize[i];
  }
  if (bad) {
    char ps[128], ks[128];
    dims_text(ps, sizeof ps, psize, nsp);
    dims_text(ks, sizeof ks, ksize, nsp);
    layer_error(d, l, "Calculated padded input size per channel: (%s). "
                "Kernel size: (%s). Kernel size can't be greater than actual "
                "input size", ps, ks);
    return -1;
  }
  Shape out = in;
  out.d[1] = a->out;
  for (int i = 0; i < nsp; i++) {
    int64_t o;
    const char *name = layer_dim_name(nsp, i);
    if (layer_output_len(d, l, name, in.d[2 + i], lo[i], hi[i],
                         a->dilation[i], a->kernel[i], a->stride[i], 0, &o)) {
      char *f = layer_len_formula(name, in.d[2 + i], lo[i], hi[i],
                                  a->dilation[i], a->kernel[i], a->stride[i],
                                  0, o);
      layer_error(d, l, "Output size is too small: %s", f);
      free(f);
      return -1;
    }
    out.d[2 + i] = o;
  }
  if (layer_check_size(d, l, &out)) return -1;
  if (!batched) {
    memmove(out.d, out.d + 1, sizeof(int64_t) * (size_t)(out.n - 1));
    out.n--;
  }
  l->out = out;
  layer_set_param(l, P_WEIGHT, w.n, w.d);
  if (a->bias) layer_set_param(l, P_BIAS, 1, &a->out);
  int64_t per_out = w.d[1], n;
  for (int i = 0; i < nsp; i++) per_out *= a->kernel[i];
  l->nparams = a->out * per_out + (a->bias ? a->out : 0);
  n = shape_numel(&l->out);
  l->macs = n * per_out;
  return 0;
}

const LayerKind kind_Conv1d = {"Conv1d", 1, conv_args, 0, conv_parse,
                               conv_shape};
const LayerKind kind_Conv2d = {"Conv2d", 2, conv_args, 0, conv_parse,
                               conv_shape};
const LayerKind kind_Conv3d = {"Conv3d", 3, conv_args, 0, conv_parse,
                               conv_shape};
