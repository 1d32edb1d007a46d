/* kernels/conv_depthwise.c: a depthwise convolution (one input and one
 * output channel per group), 1-D or 2-D.
 *
 * Per channel, the input plane is first copied into scratch inside its
 * border of zero padding, so no tap needs a test; then each output is its
 * bias plus every tap's product, the taps written out in order into one
 * local sum. The outputs run as one loop over rows as wide as the padded
 * plane's (p = oy * PW + ox, the columns past OW computed into scratch
 * and dropped), so the loop is long and contiguous even for narrow
 * planes, and compilers vectorise it. Stride 1 only: with a stride the
 * sums read strided inputs that gcc does not vectorise, where the direct
 * kernel's per-tap loops it does (measured 2x slower on MobileNet's
 * stride-2 layers). Every output adds in the same order on every
 * compiler. */
#include "kernels/conv.h"

#include <stdlib.h>

#define DW_MAX_TAPS 64 /* taps written out per output */

/* The 2-D view of the convolution: a 1-D one is a plane of one row. */
typedef struct DwDims {
  int64_t ih, iw, oh, ow, kh, kw, sy, sx, dy, dx, py, px, ph, pw;
} DwDims;

static void dw_dims(const Layer *l, DwDims *d) {
  const LayerArgs *a = &l->a;
  int nsp = l->kind->nsp, batched = l->in.n == nsp + 2, off = batched ? 2 : 1;
  int y = nsp == 2 ? 0 : -1, x = nsp - 1;
  d->ih = y < 0 ? 1 : l->in.d[off + y];
  d->iw = l->in.d[off + x];
  d->oh = y < 0 ? 1 : l->out.d[off + y];
  d->ow = l->out.d[off + x];
  d->kh = y < 0 ? 1 : a->kernel[y];
  d->kw = a->kernel[x];
  d->sy = y < 0 ? 1 : a->stride[y];
  d->sx = a->stride[x];
  d->dy = y < 0 ? 1 : a->dilation[y];
  d->dx = a->dilation[x];
  d->py = y < 0 ? 0 : a->pad_lo[y];
  d->px = a->pad_lo[x];
  d->ph = d->ih + d->py + (y < 0 ? 0 : a->pad_hi[y]);
  d->pw = d->iw + d->px + a->pad_hi[x];
}

static int dw_fits(const Program *p, const Op *op, Target t, char *why,
                   size_t n) {
  if (t != TARGET_GENERIC) return 0; /* tuned for x86; cortex-m has its own */
  (void)p, (void)t;
  if (!conv_is(op)) return 0;
  const Layer *l = op->main;
  if (l->kind->nsp > 2 || l->a.pad_mode != PAD_ZEROS) return 0;
  if (l->a.groups != l->a.in || l->a.out != l->a.in) return 0;
  if (l->a.kernel[0] * (l->kind->nsp == 2 ? l->a.kernel[1] : 1) >
      DW_MAX_TAPS)
    return 0;
  DwDims d;
  dw_dims(l, &d);
  if (d.sy != 1 || d.sx != 1) return 0;
  snprintf(why, n, "depthwise: per channel, the plane copied inside its "
           "zero padding, each output one sum of its %lld taps over rows "
           "as wide as the padded ones", (long long)(d.kh * d.kw));
  return 1;
}

static int64_t dw_scratch(const Op *op) {
  DwDims d;
  dw_dims(op->main, &d);
  return (d.ph * d.pw + d.oh * d.pw) * (int64_t)sizeof(float);
}

static void dw_pack(Program *p, Op *op) {
  (void)p;
  const Layer *l = op->main;
  ConvDims cd;
  conv_dims(l, &cd);
  float *w, *b;
  char *scaled, *ws;
  conv_pack_common(op, &cd, &w, &b, &scaled, &ws);
  pack_add(op, "weight", w, cd.oc * cd.ksz,
           mc_format("%s.weight %s%s, layout [channel][kernel]", l->prefix,
                     ws, scaled));
  if (b) pack_add(op, "bias", b, cd.oc, pack_bias_what(op, ""));
  free(ws);
  free(scaled);
}

/* The sum of the taps at input offset `at` (an expression of the
 * position's first tap in tp), for row offsets `row` floats apart. */
static void emit_sum(Emit *e, const DwDims *d, const char *at, int64_t row,
                     const char *bias) {
  em(e, "float s = %s;", bias);
  for (int64_t ky = 0; ky < d->kh; ky++)
    for (int64_t kx = 0; kx < d->kw; kx++) {
      int64_t off = ky * d->dy * row + kx * d->dx;
      if (off)
        em(e, "s = MC_FMA(wc[%lld], tp[%s + %lld], s);",
           (long long)(ky * d->kw + kx), at, (long long)off);
      else
        em(e, "s = MC_FMA(wc[%lld], tp[%s], s);",
           (long long)(ky * d->kw + kx), at);
    }
}

static void dw_emit(Emit *e, const Op *op) {
  const Layer *l = op->main;
  ConvDims cd;
  DwDims d;
  conv_dims(l, &cd);
  dw_dims(l, &d);
  const char *wn = op_array(op, "weight"), *bn = op_array(op, "bias");
  long long PH = d.ph, PW = d.pw, OH = d.oh, OW = d.ow, IH = d.ih,
            IW = d.iw, K = d.kh * d.kw;
  em_use(e, EH_FMA);
  conv_open(e, op, &cd);
  em(e, "float *tp = tmp, *tw = tmp + %lld; /* padded plane; wide rows */",
     PH * PW);
  em(e, "for (int i = 0; i < %lld; i++) tp[i] = 0.0f;", PH * PW);
  em_for(e, "c", cd.c, "channel");
  em(e, "const float *xc = xp + c * %lld, *wc = %s + c * %lld;", IH * IW, wn,
     K);
  em(e, "float *yc = yn + c * %lld;", OH * OW);
  em(e, "for (int r = 0; r < %lld; r++) /* inside the zero border */", IH);
  em(e, "  for (int i = 0; i < %lld; i++) tp[(r + %lld) * %lld + %lld + i] = "
     "xc[r * %lld + i];", IW, (long long)d.py, PW, (long long)d.px, IW);
  char *bias = bn ? mc_format("%s[c]", bn) : mc_strdup("0.0f");
  em(e, "for (int p = 0; p < %lld; p++) { /* p = oy * %lld + ox */",
     (OH - 1) * PW + OW, PW);
  emit_sum(e, &d, "p", PW, bias);
  em(e, "tw[p] = s;");
  em(e, "}");
  char *tv = mc_format("tw[oy * %lld + ox]", PW);
  char *chain = em_act_chain(e, op, tv);
  free(tv);
  em(e, "for (int oy = 0; oy < %lld; oy++) /* the columns past %lld "
     "dropped */", OH, OW);
  em(e, "  for (int ox = 0; ox < %lld; ox++) yc[oy * %lld + ox] = %s;", OW,
     OW, chain);
  free(chain);
  free(bias);
  em(e, "}");
  conv_close(e, &cd);
}

const Kernel kernel_conv_depthwise = {"conv-depthwise", KERNELS_FAST,
                                      dw_fits,          dw_scratch,
                                      conv_code_bytes,  dw_pack,
                                      dw_emit};
