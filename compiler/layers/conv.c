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

/* F.pad(input, pads, mode) for reflect, replicate and circular, as
 * PyTorch 1.13's _pad_enum and its kernels check it. Pads the shape in
 * place: pads[0], pads[1] apply to the last dimension, and so on. */
static int emulate_pad(Layer *l, Shape *s, const List *pads, Diag *d) {
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
    List pads = {0, {0}};
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

/* ------------------------------------------------------------- lowering
 *
 * Per sample and output channel, the output plane starts at the bias and
 * each (input channel, tap) adds weight * input over the output positions
 * where the tap reads inside the input (em_taps): the innermost loop runs
 * over contiguous outputs, which compilers vectorise. A padding mode other
 * than zeros first builds the padded sample in scratch, as F.pad would. */

typedef struct ConvDims {
  int nsp, padmode;
  int zpad; /* small 1-D: the zero padding is written out into scratch */
  int64_t n, c, oc, groups, icg, ocg;
  int64_t isz, xsz, osz, ksz; /* per channel: input, padded, output, taps */
  Taps t;
  int64_t in[3]; /* unpadded input dims */
  /* 2-D, stride 1, no padding along x: tiles run over the output rows
   * laid out as wide as the input rows, p = oy * IW + ox, so a tile spans
   * rows and short rows still fill it; columns ox >= OW are computed and
   * dropped. */
  int wide;
} ConvDims;

static void conv_dims(const Layer *l, ConvDims *cd) {
  const LayerArgs *a = &l->a;
  int nsp = l->kind->nsp, batched = l->in.n == nsp + 2, off = batched ? 2 : 1;
  memset(cd, 0, sizeof *cd);
  cd->nsp = nsp;
  cd->padmode = a->pad_mode != PAD_ZEROS;
  cd->n = batched ? l->in.d[0] : 1;
  cd->c = a->in;
  cd->oc = a->out;
  cd->groups = a->groups;
  cd->icg = a->in / a->groups;
  cd->ocg = a->out / a->groups;
  cd->isz = cd->xsz = cd->osz = cd->ksz = 1;
  cd->t.nsp = nsp;
  for (int i = 0; i < nsp; i++) {
    cd->in[i] = l->in.d[off + i];
    cd->t.I[i] = cd->in[i] +
                 (cd->padmode ? a->fpad_lo[i] + a->fpad_hi[i] : 0);
    cd->t.O[i] = l->out.d[off + i];
    cd->t.K[i] = a->kernel[i];
    cd->t.S[i] = a->stride[i];
    cd->t.D[i] = a->dilation[i];
    cd->t.P[i] = a->pad_lo[i];
    cd->isz *= cd->in[i];
    cd->xsz *= cd->t.I[i];
    cd->osz *= cd->t.O[i];
    cd->ksz *= cd->t.K[i];
  }
  /* A small stride-1 1-D or 2-D convolution reads a zero-padded copy, so
   * every output is interior: no border loops. */
  int64_t padded = cd->c, any = 0, unit = 1;
  for (int i = 0; i < nsp; i++) {
    padded *= cd->t.I[i] + a->pad_lo[i] + a->pad_hi[i];
    any |= a->pad_lo[i] || a->pad_hi[i];
    unit &= cd->t.S[i] == 1;
  }
  if (nsp <= 2 && !cd->padmode && unit && cd->ocg >= 2 && any &&
      padded <= 4096) {
    cd->zpad = 1;
    cd->xsz = 1;
    for (int i = 0; i < nsp; i++) {
      cd->t.I[i] += a->pad_lo[i] + a->pad_hi[i];
      cd->t.P[i] = 0;
      cd->xsz *= cd->t.I[i];
    }
  }
}

/* The taps' common interior along dim i: outputs [lo, hi) read only
 * inside the input for every tap. */
static void interior(const ConvDims *cd, int i, int64_t *lo, int64_t *hi) {
  *lo = 0;
  *hi = cd->t.O[i];
  for (int64_t k = 0; k < cd->t.K[i]; k++) {
    int64_t q = k * cd->t.D[i] - cd->t.P[i], s = cd->t.S[i];
    int64_t a = -q > 0 ? (-q + s - 1) / s : 0;          /* t*s + q >= 0 */
    int64_t r = cd->t.I[i] - q, b = r > 0 ? (r + s - 1) / s : 0; /* < I */
    if (a > *lo) *lo = a;
    if (b < *hi) *hi = b;
  }
  if (*hi < *lo) *hi = *lo;
}

/* Which lowering a convolution gets:
 *   blocked: Conv1d with a run of at least 4 interior outputs and at least
 *     2 output channels per group: blocks of up to 8 output channels x 16
 *     positions accumulated in registers, the reduction over input channels
 *     and taps outside, weights packed in exactly that order; a stride
 *     above 1 first splits the input into its stride phases, so every
 *     inner loop reads contiguous floats; the border outputs use direct.
 *   direct: everything else: per output channel, each (input channel, tap)
 *     adds over the outputs where the tap reads inside the input. */
enum { CONV_DIRECT, CONV_BLOCKED };
#define CONV_OCB 16 /* output channels per block */
#define CONV_TW 16 /* output positions per tile */

static int conv_lowering(const ConvDims *cd) {
  int64_t lo, hi, ylo, yhi;
  int last = cd->nsp - 1;
  if (cd->nsp > 2 || cd->ocg < 2) return CONV_DIRECT;
  if (cd->padmode && cd->t.S[last] > 1) return CONV_DIRECT; /* 2 scratches */
  if (cd->nsp == 2 && cd->t.S[1] > 1) return CONV_DIRECT; /* no phases in 2-D */
  interior(cd, last, &lo, &hi);
  if (cd->nsp == 2) {
    interior(cd, 0, &ylo, &yhi);
    if (yhi <= ylo) return CONV_DIRECT;
  }
  /* Short runs still pay off with many channels: their tiles are
   * vectorised across the channels. */
  return hi - lo >= 4 || (hi > lo && cd->ocg >= 8) ? CONV_BLOCKED
                                                    : CONV_DIRECT;
}

static int64_t conv_scratch(const Op *op) {
  ConvDims cd;
  conv_dims(op->main, &cd);
  if (cd.padmode || cd.zpad) return cd.c * cd.xsz * (int64_t)sizeof(float);
  if (conv_lowering(&cd) == CONV_BLOCKED && cd.nsp == 1 && cd.t.S[0] > 1) {
    int64_t u = (cd.t.I[0] + cd.t.S[0] - 1) / cd.t.S[0];
    return cd.c * cd.t.S[0] * u * (int64_t)sizeof(float);
  }
  return 0;
}

static void conv_pre(Emit *e, const char *kidx, void *ctx) {
  if (ctx) /* packed weights: taps `width` floats apart */
    em(e, "const float wk = w[(%s) * width];", kidx);
  else
    em(e, "const float wk = w[%s];", kidx);
}

static void conv_stmt(Emit *e, const char *y, const char *x, const char *k,
                      void *ctx) {
  em(e, "yo[%s] += wk * xc[%s];", y, x);
}

/* The source index of each padded position, per dimension. */
static void emit_pad_maps(Emit *e, const Layer *l, const ConvDims *cd) {
  static const char *const axis = "zyx";
  static const char *const mode[] = {"zeros", "reflect", "replicate",
                                     "circular"};
  const LayerArgs *a = &l->a;
  int nsp = cd->nsp;
  em(e, "/* F.pad(x, mode=\"%s\") into tmp: [%lld, ...padded] */",
     mode[a->pad_mode], (long long)cd->c);
  for (int i = 0; i < nsp; i++) {
    char ax = axis[3 - nsp + i];
    int64_t len = cd->in[i], lo = a->fpad_lo[i];
    Buf b = {0};
    for (int64_t p = 0; p < cd->t.I[i]; p++) {
      int64_t s = p - lo;
      if (s < 0)
        s = a->pad_mode == PAD_REFLECT ? -s
            : a->pad_mode == PAD_REPLICATE ? 0 : s + len;
      else if (s >= len)
        s = a->pad_mode == PAD_REFLECT ? 2 * (len - 1) - s
            : a->pad_mode == PAD_REPLICATE ? len - 1 : s - len;
      buf_printf(&b, "%s%lld", p ? ", " : "", (long long)s);
    }
    em(e, "static const int from_%c[%lld] = {%s};", ax,
       (long long)cd->t.I[i], b.s);
    buf_free(&b);
  }
  em(e, "for (int c = 0; c < %lld; c++)", (long long)cd->c);
  e->depth++;
  for (int i = 0; i < nsp; i++) {
    char ax = axis[3 - nsp + i];
    em(e, "for (int i%c = 0; i%c < %lld; i%c++)", ax, ax,
       (long long)cd->t.I[i], ax);
    e->depth++;
  }
  Buf dst = {0}, src = {0};
  buf_printf(&dst, "c * %lld", (long long)cd->xsz);
  buf_printf(&src, "c * %lld", (long long)cd->isz);
  int64_t ds = cd->xsz, ss = cd->isz;
  for (int i = 0; i < nsp; i++) {
    char ax = axis[3 - nsp + i];
    ds /= cd->t.I[i];
    ss /= cd->in[i];
    if (ds > 1) buf_printf(&dst, " + i%c * %lld", ax, (long long)ds);
    else buf_printf(&dst, " + i%c", ax);
    if (ss > 1) buf_printf(&src, " + from_%c[i%c] * %lld", ax, ax, (long long)ss);
    else buf_printf(&src, " + from_%c[i%c]", ax, ax);
  }
  em(e, "tmp[%s] = xn[%s];", dst.s, src.s);
  e->depth -= nsp + 1;
  buf_free(&dst);
  buf_free(&src);
}

/* The direct loops for every output channel over the outputs in the box
 * [a, b) (NULL: all outputs). */
static void emit_direct(Emit *e, const Op *op, const ConvDims *cd,
                        const char *wn, int packed, const char *bn,
                        const int64_t *a, const int64_t *b) {
  Taps t = cd->t;
  if (a)
    for (int i = 0; i < cd->nsp; i++) t.A[i] = a[i], t.B[i] = b[i];
  em(e, "for (int o = 0; o < %lld; o++) { /* output channel */",
     (long long)cd->oc);
  em(e, "float *yo = yn + o * %lld;", (long long)cd->osz);
  if (cd->groups > 1)
    em(e, "const float *xg = xp + o / %lld * %lld; /* its group's inputs */",
       (long long)cd->ocg, (long long)(cd->icg * cd->xsz));
  else
    em(e, "const float *xg = xp;");
  if (packed) { /* where output o's weights are in the blocked layout */
    int64_t ocb = cd->ocg < CONV_OCB ? cd->ocg : CONV_OCB;
    int64_t nfull = cd->ocg / ocb, per = cd->icg * cd->ksz;
    em(e, "const int og = o %% %lld, ob = og / %lld; /* block */",
       (long long)cd->ocg, (long long)ocb);
    em(e, "const int width = ob < %lld ? %lld : %lld, j = og - ob * %lld;",
       (long long)nfull, (long long)ocb, (long long)(cd->ocg % ocb),
       (long long)ocb);
    em(e, "const int blk = (o - og + ob * %lld) * %lld;", (long long)ocb,
       (long long)per);
  }
  char *init = bn ? mc_format("%s[o]", bn) : mc_strdup("0.0f");
  if (!a) {
    em(e, "for (int i = 0; i < %lld; i++) yo[i] = %s;", (long long)cd->osz,
       init);
  } else if (cd->nsp == 1) {
    em(e, "for (int i = %lld; i < %lld; i++) yo[i] = %s;", (long long)a[0],
       (long long)b[0], init);
  } else {
    em(e, "for (int oy = %lld; oy < %lld; oy++)", (long long)a[0],
       (long long)b[0]);
    em(e, "  for (int ox = %lld; ox < %lld; ox++) yo[oy * %lld + ox] = %s;",
       (long long)a[1], (long long)b[1], (long long)cd->t.O[1], init);
  }
  free(init);
  em(e, "for (int c = 0; c < %lld; c++) { /* input channel in the group */",
     (long long)cd->icg);
  em(e, "const float *xc = xg + c * %lld;", (long long)cd->xsz);
  if (packed) {
    em(e, "const float *w = %s + blk + c * %lld * width + j;", wn,
       (long long)cd->ksz);
  } else {
    em(e, "const float *w = %s + (o * %lld + c) * %lld;", wn,
       (long long)cd->icg, (long long)cd->ksz);
  }
  TapPrinter pr = {conv_pre, conv_stmt, packed ? (void *)cd : NULL};
  if (!em_taps(e, &t, &pr))
    em(e, "(void)xc, (void)w; /* every tap reads padding */");
  em(e, "}");
  if (op->nact && !a) {
    em_epilogue(e, op, "yo", cd->osz);
  } else if (op->nact && cd->nsp == 1) {
    char *ptr = mc_format("(yo + %lld)", (long long)a[0]);
    em_epilogue(e, op, ptr, b[0] - a[0]);
    free(ptr);
  } else if (op->nact) {
    char *chain = em_act_chain(op, "yo[oy * W + ox]");
    char *w = mc_format("%lld", (long long)cd->t.O[1]);
    /* spell the row length into the chain's index */
    Buf c = {0};
    for (const char *p = chain; *p; p++) {
      if (p[0] == 'W' && p[1] == ' ') buf_printf(&c, "%s", w);
      else buf_printf(&c, "%c", *p);
    }
    em(e, "for (int oy = %lld; oy < %lld; oy++)", (long long)a[0],
       (long long)b[0]);
    em(e, "  for (int ox = %lld; ox < %lld; ox++)", (long long)a[1],
       (long long)b[1]);
    em(e, "    yo[oy * %s + ox] = %s;", w, c.s);
    buf_free(&c);
    free(w);
    free(chain);
  }
  em(e, "}");
}

/* Open the loops over input channels and taps of a tile, leaving xk (the
 * tile's inputs for this tap) and wk (this tap's weights for the block of
 * `width` channels); returns how many braces to close. */
static int open_tap_loops(Emit *e, const ConvDims *cd, int64_t width) {
  int two = cd->nsp == 2, x = cd->nsp - 1, close = 2;
  int64_t S = cd->t.S[x], D = cd->t.D[x], P = cd->t.P[x];
  em(e, "for (int c = 0; c < %lld; c++) { /* input channel in the group */",
     (long long)cd->icg);
  if (S == 1)
    em(e, "const float *xc = xg + c * %lld;", (long long)cd->xsz);
  else
    em(e, "const float *xc = xg + c * %lld; /* its %lld stride phases */",
       (long long)(S * ((cd->t.I[0] + S - 1) / S)), (long long)S);
  em(e, "const float *wc = wb + c * %lld;", (long long)(cd->ksz * width));
  if (two && cd->wide) {
    em(e, "for (int ky = 0; ky < %lld; ky++) { /* tap row */",
       (long long)cd->t.K[0]);
    em(e, "for (int kx = 0; kx < %lld; kx++) { /* tap */",
       (long long)cd->t.K[1]);
    Lin xk = {0};
    lin_add(&xk, "ky", cd->t.D[0] * cd->t.I[1]);
    lin_add(&xk, "kx", D);
    lin_add(&xk, NULL, -cd->t.P[0] * cd->t.I[1]);
    char *xs = lin_str(&xk);
    em(e, "const float *xk = xc + (t0 + %s); /* p = oy * %lld + ox */", xs,
       (long long)cd->t.I[1]);
    free(xs);
    em(e, "const float *wk = wc + (ky * %lld + kx) * %lld;",
       (long long)cd->t.K[1], (long long)width);
    close = 3;
  } else if (two) {
    em(e, "for (int ky = 0; ky < %lld; ky++) { /* tap row */",
       (long long)cd->t.K[0]);
    Lin r = {0};
    lin_add(&r, "oy", cd->t.S[0]);
    lin_add(&r, "ky", cd->t.D[0]);
    lin_add(&r, NULL, -cd->t.P[0]);
    char *rs = lin_str(&r);
    em(e, "const float *xr = xc + (%s) * %lld;", rs, (long long)cd->t.I[1]);
    free(rs);
    em(e, "for (int kx = 0; kx < %lld; kx++) { /* tap */",
       (long long)cd->t.K[1]);
    Lin xk = {0};
    lin_add(&xk, "t0", 1);
    lin_add(&xk, "kx", D);
    lin_add(&xk, NULL, -P);
    char *xs = lin_str(&xk);
    em(e, "const float *xk = xr + %s;", xs);
    free(xs);
    em(e, "const float *wk = wc + (ky * %lld + kx) * %lld;",
       (long long)cd->t.K[1], (long long)width);
    close = 3;
  } else if (S > 1 && D == 1 && P == 0) {
    /* Tap k = m * S + r reads phase r at offset m: no division. */
    int64_t u = (cd->t.I[0] + S - 1) / S;
    em(e, "for (int r = 0; r < %lld; r++) { /* stride phase */", (long long)S);
    em(e, "const float *xr = xc + r * %lld + t0;", (long long)u);
    em(e, "for (int m = 0; m * %lld + r < %lld; m++) { /* tap m * %lld + r */",
       (long long)S, (long long)cd->t.K[0], (long long)S);
    em(e, "const float *xk = xr + m;");
    em(e, "const float *wk = wc + (m * %lld + r) * %lld;", (long long)S,
       (long long)width);
    close = 3;
  } else {
    em(e, "for (int k = 0; k < %lld; k++) { /* tap */", (long long)cd->t.K[0]);
    if (S == 1) {
      Lin xk = {0};
      lin_add(&xk, "t0", 1);
      lin_add(&xk, "k", D);
      lin_add(&xk, NULL, -P);
      char *xs = lin_str(&xk);
      em(e, "const float *xk = xc + %s;", xs);
      free(xs);
    } else {
      int64_t u = (cd->t.I[0] + S - 1) / S;
      Lin q = {0};
      lin_add(&q, "k", D);
      lin_add(&q, NULL, -P);
      char *qs = lin_str(&q);
      em(e, "const int q = %s; /* x[t * %lld + q]: phase q mod %lld */", qs,
         (long long)S, (long long)S);
      free(qs);
      if (P == 0) {
        em(e, "const float *xk = xc + q %% %lld * %lld + t0 + q / %lld;",
           (long long)S, (long long)u, (long long)S);
      } else {
        em(e, "const int r = (q %% %lld + %lld) %% %lld;", (long long)S,
           (long long)S, (long long)S);
        em(e, "const float *xk = xc + r * %lld + t0 + (q - r) / %lld;",
           (long long)u, (long long)S);
      }
    }
    em(e, "const float *wk = wc + k * %lld;", (long long)width);
  }
  return close;
}

/* Store acc-like values through the fused activations: `val` is the
 * expression of output (channel j0 + j, position i). */
static void store_tile(Emit *e, const Op *op, const ConvDims *cd, int64_t j0,
                       int64_t jw, int64_t tw, const char *val) {
  char *chain = em_act_chain(op, val);
  if (cd->wide) {
    int64_t iw = cd->t.I[1], ow = cd->t.O[1];
    em(e, "for (int i = 0; i < %lld; i++) {", (long long)tw);
    em(e, "const int oy = (t0 + i) / %lld, ox = (t0 + i) %% %lld;",
       (long long)iw, (long long)iw);
    em(e, "if (ox < %lld) /* the columns past OW are dropped */",
       (long long)ow);
    char *jj = j0 ? mc_format("(j + %lld)", (long long)j0) : mc_strdup("j");
    em(e, "  for (int j = 0; j < %lld; j++) yb[%s * %lld + oy * %lld + ox] = "
       "%s;", (long long)jw, jj, (long long)cd->osz, (long long)ow, chain);
    free(jj);
    em(e, "}");
    free(chain);
    return;
  }
  char *row = cd->nsp == 2 ? mc_format("oy * %lld + ", (long long)cd->t.O[1])
                           : mc_strdup("");
  char *jj = j0 ? mc_format("(j + %lld)", (long long)j0) : mc_strdup("j");
  em(e, "for (int j = 0; j < %lld; j++)", (long long)jw);
  em(e, "  for (int i = 0; i < %lld; i++) yb[%s * %lld + %st0 + i] = %s;",
     (long long)tw, jj, (long long)cd->osz, row, chain);
  free(jj);
  free(row);
  free(chain);
}

/* Portable tile: channels [j0, j0 + jw) of a block of `width` x `tw`
 * positions from t0 (in output row oy for 2-D), accumulated in registers:
 * for each input channel and tap, one input float is loaded and multiplied
 * into every channel. */
static void emit_tile_c(Emit *e, const Op *op, const ConvDims *cd,
                        const char *bn, int64_t width, int64_t j0, int64_t jw,
                        int64_t tw) {
  /* A full tile keeps channels x positions; a short one positions x
   * channels, so its inner loop over channels is contiguous. */
  int across = tw < CONV_TW;
  const char *a = across ? "acc[i][j]" : "acc[j][i]";
  char *wj = j0 ? mc_format("wk[j + %lld]", (long long)j0) : mc_strdup("wk[j]");
  em_use(e, EH_FMA);
  em(e, "{ /* channels %lld..%lld of the block */", (long long)j0,
     (long long)(j0 + jw - 1));
  if (across)
    em(e, "float acc[%lld][%lld];", (long long)tw, (long long)jw);
  else
    em(e, "float acc[%lld][%lld];", (long long)jw, (long long)tw);
  em(e, "for (int j = 0; j < %lld; j++)", (long long)jw);
  if (bn && j0)
    em(e, "  for (int i = 0; i < %lld; i++) %s = bb[j + %lld];", (long long)tw,
       a, (long long)j0);
  else if (bn)
    em(e, "  for (int i = 0; i < %lld; i++) %s = bb[j];", (long long)tw, a);
  else
    em(e, "  for (int i = 0; i < %lld; i++) %s = 0.0f;", (long long)tw, a);
  int close = open_tap_loops(e, cd, width);
  em(e, "for (int i = 0; i < %lld; i++) { /* position in the tile */",
     (long long)tw);
  em(e, "const float xv = xk[i];");
  em(e, "for (int j = 0; j < %lld; j++) %s = MC_FMA(%s, xv, %s);",
     (long long)jw, a, wj, a);
  em(e, "}");
  while (close--) em(e, "}");
  store_tile(e, op, cd, j0, jw, tw, a);
  em(e, "}");
  free(wj);
}

/* AVX-512 tile: the whole block of `width` <= 16 channels x 16 positions
 * in zmm registers. */
static void emit_tile_avx512(Emit *e, const Op *op, const ConvDims *cd,
                             const char *bn, int64_t width) {
  em(e, "__m512 acc[%lld];", (long long)width);
  em(e, "for (int j = 0; j < %lld; j++) acc[j] = %s;", (long long)width,
     bn ? "_mm512_set1_ps(bb[j])" : "_mm512_setzero_ps()");
  int close = open_tap_loops(e, cd, width);
  em(e, "const __m512 xv = _mm512_loadu_ps(xk);");
  em(e, "for (int j = 0; j < %lld; j++)", (long long)width);
  em(e, "  acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(wk[j]), xv, acc[j]);");
  while (close--) em(e, "}");
  int relu = op->nact == 1 && strcmp(op->act[0]->kind->name, "ReLU") == 0;
  if (!cd->wide && (op->nact == 0 || relu)) {
    /* Stored straight from the registers; max(0, v) is ReLU, NaN kept. */
    char *row = cd->nsp == 2 ? mc_format("oy * %lld + ",
                                         (long long)cd->t.O[1])
                             : mc_strdup("");
    em(e, "for (int j = 0; j < %lld; j++)", (long long)width);
    em(e, "  _mm512_storeu_ps(yb + j * %lld + %st0, %s);", (long long)cd->osz,
       row, relu ? "_mm512_max_ps(_mm512_setzero_ps(), acc[j])" : "acc[j]");
    free(row);
    return;
  }
  em(e, "float out[%lld][16];", (long long)width);
  em(e, "for (int j = 0; j < %lld; j++) _mm512_storeu_ps(out[j], acc[j]);",
     (long long)width);
  store_tile(e, op, cd, 0, width, 16, "out[j][i]");
}

/* AVX-512 short tile: 16 channels (one zmm) x tw < 16 positions, one
 * accumulator per position; each (input channel, tap) loads the 16
 * packed weights once and broadcasts each input float. */
static void emit_tile_avx512_short(Emit *e, const Op *op, const ConvDims *cd,
                                   const char *bn, int64_t tw) {
  em(e, "__m512 acc[%lld];", (long long)tw);
  em(e, "for (int i = 0; i < %lld; i++) acc[i] = %s;", (long long)tw,
     bn ? "_mm512_loadu_ps(bb)" : "_mm512_setzero_ps()");
  int close = open_tap_loops(e, cd, CONV_OCB);
  em(e, "const __m512 wv = _mm512_loadu_ps(wk);");
  em(e, "for (int i = 0; i < %lld; i++)", (long long)tw);
  em(e, "  acc[i] = _mm512_fmadd_ps(wv, _mm512_set1_ps(xk[i]), acc[i]);");
  while (close--) em(e, "}");
  em(e, "float out[%lld][16];", (long long)tw);
  em(e, "for (int i = 0; i < %lld; i++) _mm512_storeu_ps(out[i], acc[i]);",
     (long long)tw);
  store_tile(e, op, cd, 0, CONV_OCB, tw, "out[i][j]");
}

/* A tile of `width` channels x `tw` positions: with AVX-512 where the
 * compiler targets it and the tile is full (or short with a full block of
 * 16 channels), else portable C in halves of at most 8 channels. */
static void emit_tile(Emit *e, const Op *op, const ConvDims *cd,
                      const char *bn, int64_t width, int64_t tw) {
  int vec = tw == CONV_TW || width == CONV_OCB;
  if (vec) {
    em_use(e, EH_AVX512);
    em(e, "#if MC_AVX512");
    if (tw == CONV_TW) emit_tile_avx512(e, op, cd, bn, width);
    else emit_tile_avx512_short(e, op, cd, bn, tw);
    em(e, "#else");
  }
  for (int64_t j0 = 0; j0 < width; j0 += 8)
    emit_tile_c(e, op, cd, bn, width, j0, width - j0 < 8 ? width - j0 : 8, tw);
  if (vec) em(e, "#endif");
}

static void emit_blocked(Emit *e, const Op *op, const ConvDims *cd,
                         const char *wpn, const char *bn, const int64_t *lo,
                         const int64_t *hi) {
  int x = cd->nsp - 1;
  int64_t S = cd->t.S[x], icg = cd->icg, ocg = cd->ocg;
  int64_t ocb = ocg < CONV_OCB ? ocg : CONV_OCB, nfull = ocg / ocb;
  int64_t rem = ocg % ocb, ntiles = (hi[x] - lo[x]) / CONV_TW;
  int64_t rtw = (hi[x] - lo[x]) % CONV_TW;
  int64_t lo2[2] = {lo[0], lo[x]}; /* where the tiles start */
  if (S > 1) {
    int64_t u = (cd->t.I[0] + S - 1) / S;
    em(e, "/* the input split into its %lld stride phases: tmp[c][r][u] = "
       "x[c][u * %lld + r] */", (long long)S, (long long)S);
    em(e, "for (int c = 0; c < %lld; c++)", (long long)cd->c);
    em(e, "  for (int r = 0; r < %lld; r++)", (long long)S);
    em(e, "    for (int u = 0; u * %lld + r < %lld; u++)", (long long)S,
       (long long)cd->t.I[0]);
    em(e, "      tmp[(c * %lld + r) * %lld + u] = xp[c * %lld + u * %lld + "
       "r];", (long long)S, (long long)u, (long long)cd->t.I[0],
       (long long)S);
  }
  const char *src = S > 1 ? "tmp" : "xp";
  if (cd->groups > 1)
    em(e, "for (int g = 0; g < %lld; g++) { /* group */",
       (long long)cd->groups);
  else
    em(e, "{");
  if (cd->groups > 1)
    em(e, "const float *xg = %s + g * %lld;", src,
       (long long)(icg * (S > 1 ? S * ((cd->t.I[0] + S - 1) / S) : cd->xsz)));
  else
    em(e, "const float *xg = %s;", src);
  for (int part = 0; part < 2; part++) {
    int64_t width = part ? rem : ocb, count = part ? 1 : nfull;
    if (!width || !count) continue;
    int64_t start = part ? nfull * ocb : 0;
    em(e, "for (int ob = 0; ob < %lld; ob++) { /* %lld output channels */",
       (long long)count, (long long)width);
    char *gexpr = cd->groups > 1 ? mc_format("g * %lld + ", (long long)ocg)
                                 : mc_strdup("");
    if (start)
      em(e, "const int o0 = %s%lld + ob * %lld;", gexpr, (long long)start,
         (long long)width);
    else
      em(e, "const int o0 = %sob * %lld;", gexpr, (long long)width);
    free(gexpr);
    em(e, "const float *wb = %s + o0 * %lld;", wpn, (long long)(icg * cd->ksz));
    if (bn) em(e, "const float *bb = %s + o0;", bn);
    em(e, "float *yb = yn + o0 * %lld;", (long long)cd->osz);
    if (cd->wide) {
      /* p = oy * IW + ox over the interior rows, up to the last output */
      int64_t p0 = lo[0] * cd->t.I[1];
      int64_t p1 = (hi[0] - 1) * cd->t.I[1] + cd->t.O[1];
      ntiles = (p1 - p0) / CONV_TW;
      rtw = (p1 - p0) % CONV_TW;
      lo2[x] = p0;
    } else if (x == 1) {
      em(e, "for (int oy = %lld; oy < %lld; oy++) { /* output row */",
         (long long)lo[0], (long long)hi[0]);
    }
    if (ntiles) {
      em(e, "for (int t0 = %lld; t0 < %lld; t0 += %d) { /* %d outputs */",
         (long long)lo2[x], (long long)(lo2[x] + ntiles * CONV_TW), CONV_TW,
         CONV_TW);
      emit_tile(e, op, cd, bn, width, CONV_TW);
      em(e, "}");
    }
    if (rtw && ntiles) { /* a last full tile, overlapping the one before */
      em(e, "{ /* the last %lld outputs, in a full tile that recomputes %lld "
         "*/", (long long)rtw, (long long)(CONV_TW - rtw));
      em(e, "const int t0 = %lld;",
         (long long)(lo2[x] + ntiles * CONV_TW + rtw - CONV_TW));
      emit_tile(e, op, cd, bn, width, CONV_TW);
      em(e, "}");
    } else if (rtw) {
      em(e, "{ /* the last %lld outputs of the interior */", (long long)rtw);
      em(e, "const int t0 = %lld;", (long long)(lo2[x] + ntiles * CONV_TW));
      emit_tile(e, op, cd, bn, width, rtw);
      em(e, "}");
    }
    if (x == 1 && !cd->wide) em(e, "}");
    em(e, "}");
  }
  em(e, "}");
}

static void conv_emit(Emit *e, const Op *op) {
  const Layer *l = op->main;
  ConvDims cd;
  conv_dims(l, &cd);
  int how = conv_lowering(&cd);
  float *w = em_copy(&l->param[P_WEIGHT]);
  float *b = l->param[P_BIAS].used ? em_copy(&l->param[P_BIAS]) : NULL;
  if (op->bn) b = em_fold_bn(op, w, b, cd.oc, cd.icg * cd.ksz);
  char *ws = shape_str(&l->param[P_WEIGHT].shape);
  char *what, *bwhat = NULL;
  if (op->bn)
    bwhat = mc_format("%s%s folded with %s's running statistics and affine",
                      l->param[P_BIAS].used ? l->prefix : "no bias",
                      l->param[P_BIAS].used ? ".bias" : "", op->bn->prefix);
  else if (b)
    bwhat = mc_format("%s.bias [%lld]", l->prefix, (long long)cd.oc);
  char *scaled = op->bn ? mc_format(", times %s's scale", op->bn->prefix)
                        : mc_strdup("");
  int64_t nw = cd.oc * cd.icg * cd.ksz;
  int64_t lo[2] = {0, 0}, hi[2] = {0, 0};
  int border = how == CONV_DIRECT;
  const char *wn, *wpn = NULL;
  if (how == CONV_BLOCKED) {
    cd.wide = cd.nsp == 2 && cd.t.S[0] == 1 && cd.t.S[1] == 1 &&
              cd.t.P[1] == 0 && cd.t.O[1] % CONV_TW != 0 &&
              cd.t.O[1] < 4 * CONV_TW;
    for (int i = 0; i < cd.nsp; i++) {
      interior(&cd, i, &lo[i], &hi[i]);
      border |= lo[i] > 0 || hi[i] < cd.t.O[i];
    }
    int64_t K = cd.ksz, icg = cd.icg, ocg = cd.ocg;
    int64_t ocb = ocg < CONV_OCB ? ocg : CONV_OCB, nfull = ocg / ocb;
    float *wp = mc_alloc(sizeof(float) * (size_t)nw);
    int64_t at = 0;
    for (int64_t g = 0; g < cd.groups; g++)
      for (int64_t blk = 0; blk * ocb < ocg; blk++) {
        int64_t width = blk < nfull ? ocb : ocg % ocb;
        int64_t o0 = g * ocg + blk * ocb;
        for (int64_t c = 0; c < icg; c++)
          for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < width; j++)
              wp[at++] = w[((o0 + j) * icg + c) * K + k];
      }
    what = mc_format("%s.weight %s%s, packed for blocks of %lld outputs: "
                     "[block][in/groups][kernel][output in block]", l->prefix,
                     ws, scaled, (long long)ocb);
    wpn = em_param(e, op, "weight_packed", wp, nw, what);
    free(what);
    em_explain(e, op, "blocked: %lld output channels x %d positions in "
               "registers over %lld interior outputs%s%s", (long long)ocb,
               CONV_TW, (long long)(hi[cd.nsp - 1] - lo[cd.nsp - 1]),
               cd.nsp == 1 && cd.t.S[0] > 1 ? ", input split into stride phases"
               : cd.wide ? ", rows laid out as wide as the input's"
               : cd.zpad ? ", zero padding written out first" : "",
               border ? ", direct loops on the border" : "");
  } else {
    em_explain(e, op, "direct: %s", cd.nsp > 2
               ? "per output channel, each (input channel, tap) over its "
                 "valid outputs; the blocked kernel is 1-D and 2-D only"
               : "too few outputs or output channels for the blocked "
                 "kernel, or a stride along the rows");
  }
  /* The direct loops read the PyTorch layout, or on the border of a
   * blocked convolution the packed one. */
  if (how == CONV_BLOCKED) {
    wn = wpn;
    free(w);
  } else if (border) {
    what = mc_format("%s.weight %s%s, layout [out][in/groups][kernel]",
                     l->prefix, ws, scaled);
    wn = em_param(e, op, "weight", w, nw, what);
    free(what);
  } else {
    wn = NULL;
    free(w);
  }
  const char *bn = b ? em_param(e, op, "bias", b, cd.oc, bwhat) : NULL;
  free(bwhat);
  free(ws);
  free(scaled);

  if (cd.n > 1) {
    em(e, "for (int n = 0; n < %lld; n++) { /* sample */", (long long)cd.n);
    em(e, "const float *xn = x + n * %lld;", (long long)(cd.c * cd.isz));
    em(e, "float *yn = y + n * %lld;", (long long)(cd.oc * cd.osz));
  } else {
    em(e, "const float *xn = x;");
    em(e, "float *yn = y;");
  }
  if (cd.padmode) {
    emit_pad_maps(e, l, &cd);
    em(e, "const float *xp = tmp;");
  } else if (cd.zpad && cd.nsp == 1) {
    int64_t lo = l->a.pad_lo[0], in = cd.in[0];
    em(e, "/* the zero padding written out: tmp[c] = [0 x %lld, x[c], 0 x "
       "%lld] */", (long long)lo, (long long)l->a.pad_hi[0]);
    em(e, "for (int c = 0; c < %lld; c++) {", (long long)cd.c);
    em(e, "float *tc = tmp + c * %lld;", (long long)cd.xsz);
    if (lo) em(e, "for (int i = 0; i < %lld; i++) tc[i] = 0.0f;", (long long)lo);
    em(e, "for (int i = 0; i < %lld; i++) tc[%lld + i] = xn[c * %lld + i];",
       (long long)in, (long long)lo, (long long)in);
    if (l->a.pad_hi[0])
      em(e, "for (int i = %lld; i < %lld; i++) tc[i] = 0.0f;",
         (long long)(lo + in), (long long)cd.xsz);
    em(e, "}");
    em(e, "const float *xp = tmp;");
  } else if (cd.zpad) {
    int64_t ih = cd.in[0], iw = cd.in[1], xw = cd.t.I[1];
    em(e, "/* the zero padding written out: tmp[c] is x[c] inside a border "
       "of zeros */");
    em(e, "for (int i = 0; i < %lld; i++) tmp[i] = 0.0f;",
       (long long)(cd.c * cd.xsz));
    em(e, "for (int c = 0; c < %lld; c++)", (long long)cd.c);
    em(e, "  for (int r = 0; r < %lld; r++)", (long long)ih);
    em(e, "    for (int i = 0; i < %lld; i++)", (long long)iw);
    em(e, "      tmp[c * %lld + (r + %lld) * %lld + %lld + i] = xn[(c * %lld + "
       "r) * %lld + i];", (long long)cd.xsz, (long long)l->a.pad_lo[0],
       (long long)xw, (long long)l->a.pad_lo[1], (long long)ih,
       (long long)iw);
    em(e, "const float *xp = tmp;");
  } else {
    em(e, "const float *xp = xn;");
  }
  if (how == CONV_BLOCKED) {
    emit_blocked(e, op, &cd, wpn, bn, lo, hi);
    /* The border: whole rows above and below, then the row ends. */
    int64_t a[2], b[2];
    int x = cd.nsp - 1;
    if (cd.nsp == 2) {
      a[1] = 0, b[1] = cd.t.O[1];
      if (lo[0] > 0)
        a[0] = 0, b[0] = lo[0], emit_direct(e, op, &cd, wn, 1, bn, a, b);
      if (hi[0] < cd.t.O[0])
        a[0] = hi[0], b[0] = cd.t.O[0], emit_direct(e, op, &cd, wn, 1, bn, a, b);
      a[0] = lo[0], b[0] = hi[0];
    }
    if (lo[x] > 0)
      a[x] = 0, b[x] = lo[x], emit_direct(e, op, &cd, wn, 1, bn, a, b);
    if (hi[x] < cd.t.O[x])
      a[x] = hi[x], b[x] = cd.t.O[x], emit_direct(e, op, &cd, wn, 1, bn, a, b);
  } else {
    emit_direct(e, op, &cd, wn, 0, bn, NULL, NULL);
  }
  if (cd.n > 1) em(e, "}");
}

#define CONV_FORMULA                                                       \
  "y[n, o, t] = bias[o] + sum over c < in/groups and taps k of "           \
  "weight[o, c, k] * x[n, group(o) * in/groups + c, t * stride + k * "     \
  "dilation - padding]"

const LayerKind kind_Conv1d = {"Conv1d", 1, conv_args, 0, conv_parse,
                               conv_shape, CONV_FORMULA, ROLE_OP, conv_emit,
                               NULL, conv_scratch};
const LayerKind kind_Conv2d = {"Conv2d", 2, conv_args, 0, conv_parse,
                               conv_shape, CONV_FORMULA, ROLE_OP, conv_emit,
                               NULL, conv_scratch};
const LayerKind kind_Conv3d = {"Conv3d", 3, conv_args, 0, conv_parse,
                               conv_shape, CONV_FORMULA, ROLE_OP, conv_emit,
                               NULL, conv_scratch};
