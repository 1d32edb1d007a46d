/* kernels/conv.c: the code the two convolution lowerings share: the
 * dimensions, the padded copy of the input, the direct loops (all of a
 * direct convolution, the border of a blocked one), packing. */
#include "kernels/conv.h"

#include <stdlib.h>
#include <string.h>

int conv_is(const Op *op) {
  return op->main && op->main->kind->family == FAM_CONV;
}


#define CONV_ZPAD_MAX 65536 /* floats of the zero-padded copy */

void conv_dims(const Layer *l, ConvDims *cd) {
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
  /* A stride-1 1-D or 2-D convolution of up to 64 K padded input floats
   * (256 KB of scratch) reads a zero-padded copy, so every output is
   * interior: no border loops. The copy is one pass over the input, the
   * convolution out/groups * taps passes; the direct border loops it
   * replaces took half of har_cnn1d's time (64 interior outputs of 68). */
  int64_t padded = cd->c, any = 0, unit = 1;
  for (int i = 0; i < nsp; i++) {
    padded *= cd->t.I[i] + a->pad_lo[i] + a->pad_hi[i];
    any |= a->pad_lo[i] || a->pad_hi[i];
    unit &= cd->t.S[i] == 1;
  }
  if (nsp <= 2 && !cd->padmode && unit && cd->ocg >= 2 && any &&
      padded <= CONV_ZPAD_MAX) {
    cd->zpad = 1;
    cd->xsz = 1;
    for (int i = 0; i < nsp; i++) {
      cd->t.I[i] += a->pad_lo[i] + a->pad_hi[i];
      cd->t.P[i] = 0;
      cd->xsz *= cd->t.I[i];
    }
  }
}

void conv_interior(const ConvDims *cd, int i, int64_t *lo, int64_t *hi) {
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

int64_t conv_pad_scratch(const ConvDims *cd) {
  if (cd->padmode || cd->zpad) return cd->c * cd->xsz * (int64_t)sizeof(float);
  return 0;
}

/* Each kernel tap that meets padding is unrolled on its own (em_taps). */
#define CODE_PER_TAP 400

int64_t conv_code_bytes(const Op *op) {
  int64_t taps = 1;
  for (int i = 0; i < op->main->kind->nsp; i++)
    taps = mc_satmul(taps, op->main->a.kernel[i]);
  return mc_satmul(taps, CODE_PER_TAP);
}

void conv_pack_common(Op *op, const ConvDims *cd, float **w, float **b,
                      char **scaled, char **shape) {
  const Layer *l = op->main;
  pack_folded(op, w, b, cd->oc, cd->icg * cd->ksz);
  *shape = shape_str(&l->param[P_WEIGHT].shape);
  *scaled = op->bn ? mc_format(", times %s's scale", op->bn->prefix)
                   : mc_strdup("");
}

static void conv_pre(Emit *e, const char *kidx, void *ctx) {
  if (ctx) /* packed weights: taps `width` floats apart */
    em(e, "const float wk = w[(%s) * width];", kidx);
  else
    em(e, "const float wk = w[%s];", kidx);
}

static void conv_stmt(Emit *e, const char *y, const char *x, const char *k,
                      void *ctx) {
  (void)k, (void)ctx;
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

/* The loops over a 3-D box of outputs [a, b): od, oy, ox. */
static void box_loops(Emit *e, const int64_t *a, const int64_t *b) {
  em(e, "for (int od = %lld; od < %lld; od++)", (long long)a[0],
     (long long)b[0]);
  em(e, "  for (int oy = %lld; oy < %lld; oy++)", (long long)a[1],
     (long long)b[1]);
  em(e, "    for (int ox = %lld; ox < %lld; ox++)", (long long)a[2],
     (long long)b[2]);
}

/* The direct loops for every output channel over the outputs in the box
 * [a, b) (NULL: all outputs). */
void conv_direct_loops(Emit *e, const Op *op, const ConvDims *cd,
                       const char *wn, int packed, const char *bn,
                       const int64_t *a, const int64_t *b) {
  Taps t = cd->t;
  if (a)
    for (int i = 0; i < cd->nsp; i++) t.A[i] = a[i], t.B[i] = b[i];
  em_for(e, "o", cd->oc, "output channel");
  em(e, "float *yo = yn + o * %lld;", (long long)cd->osz);
  if (cd->groups > 1)
    em(e, "const float *xg = xp + o / %lld * %lld; /* its group's inputs */",
       (long long)cd->ocg, (long long)(cd->icg * cd->xsz));
  else
    em(e, "const float *xg = xp;");
  if (packed) { /* where output o's weights are in the blocked layout */
    int64_t blk = cd->ocb ? cd->ocb : CONV_OCB;
    int64_t ocb = cd->ocg < blk ? cd->ocg : blk;
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
  } else if (cd->nsp == 3) {
    box_loops(e, a, b);
    em(e, "      yo[(od * %lld + oy) * %lld + ox] = %s;",
       (long long)cd->t.O[1], (long long)cd->t.O[2], init);
  } else {
    em(e, "for (int oy = %lld; oy < %lld; oy++)", (long long)a[0],
       (long long)b[0]);
    em(e, "  for (int ox = %lld; ox < %lld; ox++) yo[oy * %lld + ox] = %s;",
       (long long)a[1], (long long)b[1], (long long)cd->t.O[1], init);
  }
  free(init);
  em_for(e, "c", cd->icg, "input channel in the group");
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
  } else if (op->nact && cd->nsp == 3) {
    char *chain = em_act_chain(e, op, "yo[q]");
    box_loops(e, a, b);
    em(e, "      { const int q = (od * %lld + oy) * %lld + ox; yo[q] = %s; }",
       (long long)cd->t.O[1], (long long)cd->t.O[2], chain);
    free(chain);
  } else if (op->nact) {
    char *chain = em_act_chain(e, op, "yo[oy * W + ox]");
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

void conv_open(Emit *e, const Op *op, const ConvDims *cd) {
  const Layer *l = op->main;
  if (cd->n > 1) {
    em_for(e, "n", cd->n, "sample");
    em(e, "const float *xn = x + n * %lld;", (long long)(cd->c * cd->isz));
    em(e, "float *yn = y + n * %lld;", (long long)(cd->oc * cd->osz));
  } else {
    em(e, "const float *xn = x;");
    em(e, "float *yn = y;");
  }
  if (cd->padmode) {
    emit_pad_maps(e, l, cd);
    em(e, "const float *xp = tmp;");
  } else if (cd->zpad && cd->nsp == 1) {
    int64_t lo = l->a.pad_lo[0], in = cd->in[0];
    em(e, "/* the zero padding written out: tmp[c] = [0 x %lld, x[c], 0 x "
       "%lld] */", (long long)lo, (long long)l->a.pad_hi[0]);
    em_for(e, "c", cd->c, "");
    em(e, "float *tc = tmp + c * %lld;", (long long)cd->xsz);
    if (lo) em(e, "for (int i = 0; i < %lld; i++) tc[i] = 0.0f;", (long long)lo);
    em(e, "for (int i = 0; i < %lld; i++) tc[%lld + i] = xn[c * %lld + i];",
       (long long)in, (long long)lo, (long long)in);
    if (l->a.pad_hi[0])
      em(e, "for (int i = %lld; i < %lld; i++) tc[i] = 0.0f;",
         (long long)(lo + in), (long long)cd->xsz);
    em(e, "}");
    em(e, "const float *xp = tmp;");
  } else if (cd->zpad) {
    int64_t ih = cd->in[0], iw = cd->in[1], xw = cd->t.I[1];
    em(e, "/* the zero padding written out: tmp[c] is x[c] inside a border "
       "of zeros */");
    em(e, "for (int i = 0; i < %lld; i++) tmp[i] = 0.0f;",
       (long long)(cd->c * cd->xsz));
    em(e, "for (int c = 0; c < %lld; c++)", (long long)cd->c);
    em(e, "  for (int r = 0; r < %lld; r++)", (long long)ih);
    em(e, "    for (int i = 0; i < %lld; i++)", (long long)iw);
    em(e, "      tmp[c * %lld + (r + %lld) * %lld + %lld + i] = xn[(c * %lld + "
       "r) * %lld + i];", (long long)cd->xsz, (long long)l->a.pad_lo[0],
       (long long)xw, (long long)l->a.pad_lo[1], (long long)ih,
       (long long)iw);
    em(e, "const float *xp = tmp;");
  } else {
    em(e, "const float *xp = xn;");
  }
}

void conv_close(Emit *e, const ConvDims *cd) {
  if (cd->n > 1) em(e, "}");
}

/* The smallest q with q * s >= a (s > 0, any sign of a). */
static int64_t ceil_div(int64_t a, int64_t s) {
  return a >= 0 ? (a + s - 1) / s : -(-a / s);
}

int64_t conv_planes_size(const ConvPlanes *pl) {
  return pl->ncol * pl->nph * pl->u * pl->w;
}

void conv_split2(Emit *e, const ConvSplit2 *sp) {
  long long S0 = sp->s0, U = sp->u, W = sp->w, IH = sp->ih, IW = sp->iw,
            P0 = sp->p0, P1 = sp->p1, NP = sp->nph;
  long long ke = P1 % 2, ko = (1 + P1) % 2, oe = P1 / 2, oo = (1 + P1) / 2;
  em(e, "const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, "
     "16, 14, 12, 10, 8, 6, 4, 2, 0), odds = _mm512_set_epi32(31, 29, 27, "
     "25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);");
  em_for(e, "c", sp->c, "input channel");
  em(e, "const float *xc = xp + c * %lld;", IH * IW);
  for (long long py = 0; py < NP; py++) {
    long long ua = P0 - py > 0 ? (P0 - py + S0 - 1) / S0 : 0;
    long long ub = (IH + P0 - py + S0 - 1) / S0;
    if (ub > U) ub = U;
    if (ua >= ub) continue;
    em(e, "for (int u = %lld; u < %lld; u++) { /* row phase %lld */", ua, ub,
       py);
    em(e, "const float *xr = xc + (u * %lld %c %lld) * %lld;", S0,
       py - P0 < 0 ? '-' : '+', py - P0 < 0 ? P0 - py : py - P0, IW);
    em(e, "float *te = tmp + (c * %lld + %lld) * %lld + u * %lld + %lld;",
       2 * NP, py * sp->ay + ke * sp->ax, U * W, W, oe);
    em(e, "float *to = tmp + (c * %lld + %lld) * %lld + u * %lld + %lld;",
       2 * NP, py * sp->ay + ko * sp->ax, U * W, W, oo);
    em(e, "for (int k = 0; k < %lld; k += 32) { /* columns k .. k + 31 */",
       IW);
    em(e, "const int n = %lld - k < 32 ? %lld - k : 32; /* of the row */", IW,
       IW);
    /* lanes kept: the row's columns, inside the planes' width */
    em(e, "const int ne = (n + 1) / 2 < %lld - k / 2 ? (n + 1) / 2 : %lld - "
       "k / 2, no = n / 2 < %lld - k / 2 ? n / 2 : %lld - k / 2;", W - oe,
       W - oe, W - oo, W - oo);
    em(e, "const __mmask16 m0 = n >= 16 ? 0xffff : (__mmask16)((1u << n) - "
       "1), m1 = n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);");
    em(e, "const __m512 lo = _mm512_maskz_loadu_ps(m0, xr + k), hi = "
       "_mm512_maskz_loadu_ps(m1, xr + k + 16);");
    em(e, "if (ne > 0) _mm512_mask_storeu_ps(te + k / 2, (__mmask16)((1u << "
       "ne) - 1), _mm512_permutex2var_ps(lo, evens, hi));");
    em(e, "if (no > 0) _mm512_mask_storeu_ps(to + k / 2, (__mmask16)((1u << "
       "no) - 1), _mm512_permutex2var_ps(lo, odds, hi));");
    em(e, "}");
    em(e, "}");
  }
  em(e, "}");
}

void conv_copy_planes(Emit *e, const ConvPlanes *pl, int host) {
  long long S0 = pl->s0, S1 = pl->s1, U = pl->u, W = pl->w, IH = pl->ih,
            IW = pl->iw, P0 = pl->p0, P1 = pl->p1;
  em(e, "/* per column offset kx and row phase py, the zero-padded input "
     "under it: tmp[c][kx][py][u][ox] = x[c][u * %lld + py - %lld][ox * "
     "%lld + kx - %lld], 0 in the padding */", S0, P0, S1, P1);
  if (host) { /* modelc run: through the host's mcj_copy */
    em(e, "static const float zero = 0.0f;");
    em(e, "mcj_copy(tmp, 1, &zero, 0, %lld);",
       (long long)(pl->c * conv_planes_size(pl)));
  } else {
    em(e, "for (int i = 0; i < %lld; i++) tmp[i] = 0.0f;",
       (long long)(pl->c * conv_planes_size(pl)));
  }
  int split2 = !host && S1 == 2 && pl->ncol == 2;
  if (split2) {
    ConvSplit2 sp = {pl->c, IH, IW, S0, P0, P1, pl->nph, U, W, 1, pl->nph};
    em_use(e, EH_AVX512);
    em(e, "#if MC_AVX512");
    conv_split2(e, &sp); /* plane (kx, py): kx * nph + py */
    em(e, "#else");
  }
  em_for(e, "c", pl->c, "input channel");
  em(e, "const float *xc = xp + c * %lld;", IH * IW);
  for (int64_t kx = 0; kx < pl->ncol; kx++)
    for (int64_t py = 0; py < pl->nph; py++) {
      /* u, ox with input row u * S0 + py - P0, column ox * S1 + kx - P1
       * inside the input */
      int64_t ua = ceil_div(P0 - py, S0), ub = ceil_div(IH + P0 - py, S0);
      int64_t oa = ceil_div(P1 - kx, S1), ob = ceil_div(IW + P1 - kx, S1);
      if (ua < 0) ua = 0;
      if (oa < 0) oa = 0;
      if (ub > U) ub = U;
      if (ob > W) ob = W;
      if (ua >= ub || oa >= ob) continue;
      em(e, "{ /* plane (kx %lld, py %lld) */", (long long)kx, (long long)py);
      em(e, "float *tp = tmp + (c * %lld + %lld) * %lld;",
         (long long)(pl->ncol * pl->nph), (long long)(kx * pl->nph + py),
         U * W);
      Lin row = {0}, col = {0};
      lin_add(&row, "u", S0);
      lin_add(&row, NULL, py - P0);
      lin_add(&col, "ox", S1);
      lin_add(&col, NULL, kx - P1);
      char *rs = lin_str(&row), *cs = lin_str(&col);
      em(e, "for (int u = %lld; u < %lld; u++)", (long long)ua,
         (long long)ub);
      if (host) {
        Lin c0 = col;
        c0.var[0] = NULL, c0.coef[0] = 0, c0.c += oa * S1; /* ox = oa */
        char *c0s = lin_str(&c0);
        em(e, "  mcj_copy(tp + u * %lld + %lld, 1, xc + (%s) * %lld + %s, "
           "%lld, %lld);", W, (long long)oa, rs, IW, c0s, S1,
           (long long)(ob - oa));
        free(c0s);
      } else {
        em(e, "  for (int ox = %lld; ox < %lld; ox++) tp[u * %lld + ox] = "
           "xc[(%s) * %lld + %s];", (long long)oa, (long long)ob, W, rs,
           IW, cs);
      }
      free(rs);
      free(cs);
      em(e, "}");
    }
  em(e, "}");
  if (split2) em(e, "#endif");
}

void conv_wino_multiply(Emit *e, int points, int64_t c, int jit) {
  long long C = c, L = 16;
  em_for(e, "q", points, "point: M = U V over the input channels");
  em(e, "const float *uq = ub + q * %lld, *vq = vg + q * %lld;", C * 16,
     C * L);
  em(e, "float *mq = mg + q * %lld;", 16 * L);
  if (jit) { /* modelc run: on the host, the same sums */
    em(e, "/* y, x, w, b, taps, nc, nt, kw, width, xs, ys, p0, p1, iw, ow, "
       "relu */");
    em(e, "mcj_conv_block(mq, vq, uq, (const float *)0, taps, %lld, 1, 1, "
       "16, %lld, %lld, 0, %lld, %lld, %lld, 0);", C, L, L, L, L, L);
    em(e, "}");
    return;
  }
  em_use(e, EH_AVX512);
  em(e, "#if MC_AVX512");
  em(e, "__m512 acc[16];");
  em(e, "for (int j = 0; j < 16; j++) acc[j] = _mm512_setzero_ps();");
  em(e, "for (int c = 0; c < %lld; c++) {", C);
  em(e, "const __m512 v = _mm512_loadu_ps(vq + c * %lld);", L);
  em(e, "for (int j = 0; j < 16; j++)");
  em(e, "  acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(uq[c * 16 + j]), v, "
     "acc[j]);");
  em(e, "}");
  em(e, "for (int j = 0; j < 16; j++) _mm512_storeu_ps(mq + j * %lld, "
     "acc[j]);", L);
  em(e, "#else");
  em(e, "for (int j = 0; j < 16; j++) {");
  em(e, "float *mj = mq + j * %lld;", L);
  em(e, "for (int l = 0; l < %lld; l++) mj[l] = 0.0f;", L);
  em(e, "for (int c = 0; c < %lld; c++)", C);
  em(e, "  for (int l = 0; l < %lld; l++) mj[l] = MC_FMA(uq[c * 16 + j], "
     "vq[c * %lld + l], mj[l]);", L, L);
  em(e, "}");
  em(e, "#endif");
  em(e, "}");
}

void conv_wino_open(Emit *e, const Op *op, const ConvDims *cd,
                    const ConvPlanes *pl, int64_t vg, int64_t mg, int jit) {
  em_use(e, EH_FMA);
  conv_open(e, op, cd);
  if (jit) /* mcj_conv_block's one tap: offset 0, weight index 0 */
    em(e, "static const int taps[2] = {0, 0};");
  conv_copy_planes(e, pl, jit);
  em(e, "float *vg = tmp + %lld; /* V[point][input][tile] */", (long long)vg);
  em(e, "float *mg = vg + %lld; /* M[point][output in block][tile] */",
     (long long)(mg - vg));
}

void conv_wino_block(Emit *e, const Op *op, const ConvDims *cd,
                     const char *un, int points, int jit) {
  em_for(e, "ob", cd->oc / 16, "16 output channels");
  em(e, "const int o0 = ob * 16;");
  em(e, "const float *ub = %s + o0 * %lld; /* U[point][input][16] */", un,
     (long long)(points * cd->c));
  em(e, "float *yb = yn + o0 * %lld;", (long long)cd->osz);
  conv_residual_block(e, op, cd);
  conv_wino_multiply(e, points, cd->c, jit);
}

void conv_residual_block(Emit *e, const Op *op, const ConvDims *cd) {
  if (op->residual && cd->n > 1)
    em(e, "const float *rb = r + n * %lld + o0 * %lld;",
       (long long)(cd->oc * cd->osz), (long long)cd->osz);
  else if (op->residual)
    em(e, "const float *rb = r + o0 * %lld;", (long long)cd->osz);
}
