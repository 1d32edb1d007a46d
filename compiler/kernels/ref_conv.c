/* kernels/ref_conv.c: the reference lowering of Conv1d/2d/3d.
 *
 * The formula as PyTorch writes it, one output at a time:
 *   y[n, o, p] = bias[o] + sum over c < in/groups, taps k of
 *                weight[o, c, k] * xpad[n, group(o) * in/groups + c,
 *                                       p * stride + k * dilation - padding]
 * where xpad is the input after F.pad (padding modes other than zeros),
 * read through a table per dim, and taps outside it read zero (skipped).
 * Input channels outer, taps inner, as the direct loops add them; the
 * weights in PyTorch's layout with any BatchNorm folded in. No tiling,
 * no unrolling: the point is to be obviously right. */
#include "kernels/kernel.h"

#include <stdlib.h>

static int ref_conv_fits(const Program *p, const Op *op, Target t, char *why,
                         size_t n) {
  (void)p, (void)t;
  if (!op->main || op->main->kind->family != FAM_CONV) return 0;
  snprintf(why, n, "reference: one output at a time, every input channel "
           "and tap, taps in the padding skipped");
  return 1;
}

static void ref_conv_pack(Program *p, Op *op) {
  (void)p;
  const Layer *l = op->main;
  int64_t per = shape_numel(&l->param[P_WEIGHT].shape) / l->a.out;
  float *w, *b;
  pack_folded(op, &w, &b, l->a.out, per);
  char *ws = shape_str(&l->param[P_WEIGHT].shape);
  pack_add(op, "weight", w, l->a.out * per,
           mc_format("%s.weight %s%s%s%s, layout [out][in/groups][kernel]",
                     l->prefix, ws, op->bn ? ", times " : "",
                     op->bn ? op->bn->prefix : "", op->bn ? "'s scale" : ""));
  if (b) pack_add(op, "bias", b, l->a.out, pack_bias_what(op, ""));
  free(ws);
}

static void ref_conv_emit(Emit *e, const Op *op) {
  static const char *const ov[3] = {"oz", "oy", "ox"};
  static const char *const kv[3] = {"kz", "ky", "kx"};
  static const char *const iv[3] = {"iz", "iy", "ix"};
  const Layer *l = op->main;
  const LayerArgs *a = &l->a;
  int nsp = l->kind->nsp, off = l->in.n == nsp + 2 ? 2 : 1, d0 = 3 - nsp;
  int64_t n = off == 2 ? l->in.d[0] : 1, icg = a->in / a->groups;
  int64_t ocg = a->out / a->groups, isz = 1, osz = 1, ksz = 1;
  int64_t I[3], IP[3], O[3];
  for (int i = 0; i < nsp; i++) {
    I[i] = l->in.d[off + i];
    IP[i] = I[i] + (a->pad_mode != PAD_ZEROS ? a->fpad_lo[i] + a->fpad_hi[i]
                                              : 0);
    O[i] = l->out.d[off + i];
    isz *= I[i], osz *= O[i], ksz *= a->kernel[i];
  }
  const char *wn = op_array(op, "weight"), *bn = op_array(op, "bias");
  /* F.pad as a table per dim: the source of each padded position. */
  for (int i = 0; a->pad_mode != PAD_ZEROS && i < nsp; i++) {
    Buf b = {0};
    for (int64_t q = 0; q < IP[i]; q++) {
      int64_t s = q - a->fpad_lo[i], len = I[i];
      if (s < 0)
        s = a->pad_mode == PAD_REFLECT ? -s
            : a->pad_mode == PAD_REPLICATE ? 0 : s + len;
      else if (s >= len)
        s = a->pad_mode == PAD_REFLECT ? 2 * (len - 1) - s
            : a->pad_mode == PAD_REPLICATE ? len - 1 : s - len;
      buf_printf(&b, "%s%lld", q ? ", " : "", (long long)s);
    }
    em(e, "static const int from_%s[%lld] = {%s}; /* F.pad(mode) */",
       iv[d0 + i] + 1, (long long)IP[i], b.s);
    buf_free(&b);
  }
  em_for(e, "n", n, "sample");
  em_for(e, "o", a->out, "output channel");
  for (int i = 0; i < nsp; i++) em_for(e, ov[d0 + i], O[i], NULL);
  if (bn) em(e, "float acc = %s[o];", bn);
  else em(e, "float acc = 0.0f;");
  em_for(e, "c", icg, "input channel in the group");
  em(e, "const float *xc = x + (n * %lld + o / %lld * %lld + c) * %lld;",
     (long long)a->in, (long long)ocg, (long long)icg, (long long)isz);
  em(e, "const float *wc = %s + (o * %lld + c) * %lld;", wn, (long long)icg,
     (long long)ksz);
  for (int i = 0; i < nsp; i++) {
    const char *k = kv[d0 + i], *ix = iv[d0 + i];
    em_for(e, k, a->kernel[i], NULL);
    em(e, "const int %s = %s * %lld + %s * %lld - %lld;", ix, ov[d0 + i],
       (long long)a->stride[i], k, (long long)a->dilation[i],
       (long long)a->pad_lo[i]);
    em(e, "if (%s >= 0 && %s < %lld) { /* else zero padding */", ix, ix,
       (long long)IP[i]);
  }
  Buf xi = {0}, wi = {0};
  int64_t xs = isz, ks = ksz;
  for (int i = 0; i < nsp; i++) {
    xs /= I[i], ks /= a->kernel[i];
    if (a->pad_mode != PAD_ZEROS)
      buf_printf(&xi, "%sfrom_%s[%s] * %lld", i ? " + " : "",
                 iv[d0 + i] + 1, iv[d0 + i], (long long)xs);
    else
      buf_printf(&xi, "%s%s * %lld", i ? " + " : "", iv[d0 + i],
                 (long long)xs);
    buf_printf(&wi, "%s%s * %lld", i ? " + " : "", kv[d0 + i],
               (long long)ks);
  }
  em(e, "acc += wc[%s] * xc[%s];", wi.s ? wi.s : "0", xi.s ? xi.s : "0");
  buf_free(&xi);
  buf_free(&wi);
  for (int i = 0; i < 2 * nsp; i++) em(e, "}");
  em(e, "}");
  Buf yi = {0};
  int64_t ys = osz;
  for (int i = 0; i < nsp; i++) {
    ys /= O[i];
    buf_printf(&yi, " + %s * %lld", ov[d0 + i], (long long)ys);
  }
  char *chain = em_act_chain(e, op, "acc");
  em(e, "y[(n * %lld + o) * %lld%s] = %s;", (long long)a->out,
     (long long)osz, yi.s, chain);
  free(chain);
  buf_free(&yi);
  for (int i = 0; i < nsp; i++) em(e, "}");
  em(e, "}");
  em(e, "}");
}

const Kernel kernel_ref_conv = {"reference-conv", KERNELS_REFERENCE,
                                ref_conv_fits, NULL, NULL, ref_conv_pack,
                                ref_conv_emit};
