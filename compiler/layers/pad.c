/* layers/pad.c: the padding layers ZeroPad1d, ZeroPad2d, ConstantPad1d,
 * ConstantPad2d, ReflectionPad1d, ReflectionPad2d, ReplicationPad1d and
 * ReplicationPad2d.
 *
 * `padding` is a number (the same on every side) or a tuple in PyTorch's
 * order, last dimension first: (left, right) or (left, right, top,
 * bottom). A negative padding crops. The checks are those of PyTorch
 * 1.13's F.pad (at::pad) and of its reflection and replication kernels,
 * in their order and words. PyTorch 1.13 has no ZeroPad1d; modelc's is
 * ConstantPad1d with value 0, as in later releases. */
#include "layers.h"

#include <stdlib.h>
#include <string.h>

static const ArgSpec pad_args[] = {{"padding", A_INTS, 1}, {0, 0, 0}};
static const ArgSpec constant_args[] = {
    {"padding", A_INTS, 1}, {"value", A_NUM, 1}, {0, 0, 0}};

static PadMode pad_mode(const LayerKind *k) {
  if (strncmp(k->name, "Reflection", 10) == 0) return PAD_REFLECT;
  if (strncmp(k->name, "Replication", 11) == 0) return PAD_REPLICATE;
  return PAD_ZEROS;
}

/* The padding list as F.pad receives it: a tuple as written, a number
 * repeated twice per padded dimension (_pair, _quadruple). It is kept in
 * l->arg[0]; pad_lo/pad_hi are set by pad_shape from it. */
static int pad_parse(Layer *l, const ArgVal *v, Diag *d) {
  (void)d;
  l->a.pad_value = strncmp(l->kind->name, "ConstantPad", 11) == 0 ? v[1].num
                                                               : 0;
  /* what the back end reads instead of the name: zeros (a constant) */
  static const PadMode modes[] = {PAD_ZEROS, PAD_REFLECT, PAD_REPLICATE};
  l->a.pad_mode = modes[pad_mode(l->kind)];
  return 0;
}

static int pad_count(const Layer *l) {
  const ArgVal *p = &l->arg[0];
  return p->is_tuple ? p->n : 2 * l->kind->nsp;
}

static int64_t pad_at(const Layer *l, int i) {
  const ArgVal *p = &l->arg[0];
  return p->is_tuple ? p->i[i] : p->i[0];
}

/* constant_pad_nd: the negative paddings first narrow the input, dim by
 * dim (narrow's own checks), then, if any padding grows it, each new size
 * must be positive. */
static int constant_check(Layer *l, Diag *d, const Shape *in, int first,
                          int nd, const int64_t *lo, const int64_t *hi) {
  int grows = 0;
  for (int k = 0; k < nd; k++) {
    int64_t size = in->d[first + k];
    grows |= lo[k] > 0 || hi[k] > 0;
    if (lo[k] < 0) {
      int64_t start = -lo[k];
      if (start != size && start > size - 1) {
        layer_error(d, l, "Dimension out of range (expected to be in range "
                    "of [%lld, %lld], but got %lld)", (long long)-size,
                    (long long)(size - 1), (long long)start);
        return -1;
      }
      size += lo[k];
    }
    if (hi[k] < 0) {
      if (size + hi[k] < 0) {
        layer_error(d, l, "start (0) + length (%lld) exceeds dimension size "
                    "(%lld).", (long long)(size + hi[k]), (long long)size);
        return -1;
      }
      size += hi[k];
    }
  }
  for (int k = 0; grows && k < nd; k++)
    if (in->d[first + k] + lo[k] + hi[k] <= 0) {
      layer_error(d, l, "The input size %lld, plus negative padding %lld and "
                  "%lld resulted in a negative output size, which is "
                  "invalid. Check dimension %d of your input.",
                  (long long)in->d[first + k], (long long)lo[k],
                  (long long)hi[k], first + k);
      return -1;
    }
  return 0;
}

/* reflection_pad1d/2d/3d: each side less than the input, width first. */
static int reflect_check(Layer *l, Diag *d, const Shape *in, int first,
                         int nd, const int64_t *lo, const int64_t *hi) {
  for (int k = nd - 1; k >= 0; k--) {
    int64_t w = in->d[first + k];
    if (lo[k] < w && hi[k] < w) continue;
    int arg = 4 + 2 * (nd - 1 - k);
    char *s = nd == 2 ? mc_format("%d", in->n) : shape_str(in);
    layer_error(d, l, "Argument #%d: Padding size should be less than the "
                "corresponding input dimension, but got: padding (%lld, "
                "%lld) at dimension %d of input %s", arg, (long long)lo[k],
                (long long)hi[k], first + k, s);
    free(s);
    return -1;
  }
  return 0;
}

/* The kernels' "too small" checks: one dimension, or (a quirk of 1.13)
 * only when every padded dimension is below 1. */
static int small_check(Layer *l, Diag *d, int mode, const Shape *in,
                       const Shape *out, int nd) {
  int all = 1;
  for (int k = 0; k < nd; k++) all &= out->d[out->n - nd + k] < 1;
  if (!all) return 0;
  int64_t iw = in->d[in->n - 1], ow = out->d[out->n - 1];
  int64_t ih = nd >= 2 ? in->d[in->n - 2] : 0, oh = nd >= 2 ? out->d[out->n - 2] : 0;
  int64_t id = nd >= 3 ? in->d[in->n - 3] : 0, od = nd >= 3 ? out->d[out->n - 3] : 0;
  int refl = mode == PAD_REFLECT;
  if (nd == 1)
    layer_error(d, l, "%sinput (W: %lld)%sis too small. Calculated output W: "
                "%lld", refl ? "2" : "", (long long)iw, refl ? "" : " ",
                (long long)ow);
  else if (nd == 2)
    layer_error(d, l, "input (H: %lld, W: %lld%s too small. Calculated "
                "output H: %lld W: %lld", (long long)ih, (long long)iw,
                refl ? ")is" : " ) is", (long long)oh, (long long)ow);
  else
    layer_error(d, l, "input (D: %lld H: %lld, W: %lld) is too small. "
                "Calculated output D: %lld H: %lld W: %lld", (long long)id,
                (long long)ih, (long long)iw, (long long)od, (long long)oh,
                (long long)ow);
  return -1;
}

static int pad_shape(Layer *l, Diag *d) {
  const Shape *in = &l->in;
  int np = pad_count(l), mode = pad_mode(l->kind);
  if (np % 2) {
    layer_error(d, l, "Padding length must be divisible by 2");
    return -1;
  }
  if (np / 2 > in->n) {
    layer_error(d, l, "Padding length too large");
    return -1;
  }
  /* F.pad picks the kernel by the padding's length: 2, 4 or 6 values on
   * an input of that many spatial dimensions, batched or not */
  int nd = np / 2;
  if (mode != PAD_ZEROS && (nd < 1 || nd > 3 || in->n < nd + 1 ||
                              in->n > nd + 2)) {
    layer_error(d, l, "Only 2D, 3D, 4D, 5D padding with non-constant padding "
                "are supported for now");
    return -1;
  }
  if (nd > 3) {
    layer_error(d, l, "modelc pads at most 3 dimensions, not %d", nd);
    return -1;
  }
  /* pad_lo/pad_hi[k]: dimension first + k, first to last. */
  int first = in->n - nd;
  for (int k = 0; k < nd; k++) {
    l->a.pad_lo[nd - 1 - k] = pad_at(l, 2 * k);
    l->a.pad_hi[nd - 1 - k] = pad_at(l, 2 * k + 1);
  }
  l->a.pad_dims = nd;
  const int64_t *lo = l->a.pad_lo, *hi = l->a.pad_hi;
  Shape out = *in;
  for (int k = 0; k < nd; k++)
    out.d[first + k] = in->d[first + k] + lo[k] + hi[k];
  if (mode == PAD_ZEROS && constant_check(l, d, in, first, nd, lo, hi))
    return -1;
  if (mode == PAD_REFLECT && reflect_check(l, d, in, first, nd, lo, hi))
    return -1;
  if (mode != PAD_ZEROS && small_check(l, d, mode, in, &out, nd))
    return -1;
  for (int k = 0; k < nd; k++) {
    if (out.d[first + k] >= 0) continue;
    /* what allocating the output does with a negative size */
    if (mode == PAD_REFLECT && nd == 2) {
      layer_error(d, l, "numel: integer multiplication overflow");
    } else {
      Buf b = {0};
      for (int i = 0; i < out.n; i++)
        buf_printf(&b, "%s%lld", i ? ", " : "", (long long)out.d[i]);
      layer_error(d, l, "Trying to create tensor with negative dimension "
                  "%lld: [%s]", (long long)out.d[first + k], b.s);
      buf_free(&b);
    }
    return -1;
  }
  l->out = out;
  return layer_check_size(d, l, &l->out);
}

#define PAD_KIND(kind, nsp, args, formula)                                \
  const LayerKind kind_##kind = {#kind,     nsp,       args,    0,        \
                                 pad_parse, pad_shape, formula, ROLE_OP,  \
                                 FAM_PAD,   0,         NULL, NULL};

#define F_CONST "y[p, i] = x[p, i - left] inside the input, else the value"
#define F_REFL "y[p, i] = x[p, reflect(i - left)] (the edge not repeated)"
#define F_REPL "y[p, i] = x[p, clamp(i - left, 0, W - 1)]"

PAD_KIND(ZeroPad1d, 1, pad_args, F_CONST)
PAD_KIND(ZeroPad2d, 2, pad_args, F_CONST)
PAD_KIND(ConstantPad1d, 1, constant_args, F_CONST)
PAD_KIND(ConstantPad2d, 2, constant_args, F_CONST)
PAD_KIND(ReflectionPad1d, 1, pad_args, F_REFL)
PAD_KIND(ReflectionPad2d, 2, pad_args, F_REFL)
PAD_KIND(ReplicationPad1d, 1, pad_args, F_REPL)
PAD_KIND(ReplicationPad2d, 2, pad_args, F_REPL)
