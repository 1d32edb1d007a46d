/* kernels/conv_pointwise.c: a 1x1 convolution (stride 1, no padding, one
 * group) as the matrix multiply it is: per sample, y[o][p] = bias[o] +
 * sum over c of w[o][c] * x[c][p], over the P positions of the plane.
 *
 * Where the compiler targets AVX-512 the output is computed in register
 * tiles of 16 (or 8) output channels, the reduction over the input
 * channels innermost, in one of two ways:
 *   - positions in the vectors (planes of 64 positions or more, or any
 *     multiple of 16): a tile is 16 positions x 16 channels, each input
 *     channel one vector load and 16 broadcast weights; the last,
 *     partial tile is a full one overlapping the one before (masked
 *     stores are slow on some CPUs), or on planes under 16 positions
 *     loads and stores under a mask;
 *   - channels in the vectors (small planes: MobileNet's 6x6 and 3x3):
 *     a tile is 16 channels x up to 24 positions, each input channel one
 *     vector of 16 weights and a broadcast input per position; the
 *     accumulators are transposed 16 x 16 in registers, so each channel's
 *     positions are stored as one run.
 * Fused activations with an AVX-512 form (ReLU, ReLU6, Hardswish,
 * Hardsigmoid) are applied in the registers; others on the stored tile. Weights are packed [out/16][in][16] so a block's
 * weights for one input channel are contiguous. The portable path (and
 * TinyCC) runs each output channel's row: bias, then each input channel's
 * multiply-add over the row. Every output is its bias plus the products
 * in input-channel order on every path, so the paths agree bit for bit
 * where both fuse (or both do not fuse) the multiply-adds. */
#include "kernels/conv.h"
#include "layers/layers.h"

#include <stdlib.h>
#include <string.h>

#define PW_MIN_POSITIONS 4 /* fewer: the blocked kernel's vectors of channels */
#define PW_TILE_ROWS 16 /* positions per tile with channels in vectors (gcc
                           unrolls loops of up to 16 fully) */

/* Channels in the vectors: small planes whose last 16-position tile
 * would be mostly empty. */
static int by_channels(const ConvDims *cd) {
  return cd->oc % 16 == 0 && cd->osz % 16 != 0 && cd->osz < 64;
}

static int64_t block_width(const ConvDims *cd) {
  return cd->oc % 16 == 0 ? 16 : 8;
}

static int pw_fits(const Program *p, const Op *op, Target t, char *why,
                   size_t n) {
  if (t != TARGET_GENERIC) return 0; /* tuned for x86; cortex-m has its own */
  (void)p;
  if (!conv_is(op)) return 0;
  const Layer *l = op->main;
  ConvDims cd;
  conv_dims(l, &cd);
  if (cd.groups != 1 || cd.ksz != 1 || cd.oc % 8 != 0 || cd.padmode)
    return 0;
  for (int i = 0; i < cd.nsp; i++)
    if (cd.t.S[i] != 1 || l->a.pad_lo[i] || l->a.pad_hi[i]) return 0;
  if (cd.osz < PW_MIN_POSITIONS) return 0;
  if (by_channels(&cd))
    snprintf(why, n, "pointwise: a matrix multiply [%lld out][%lld in] x "
             "[%lld in][%lld positions], tiles of 16 channels (in the "
             "vectors) x up to %d positions", (long long)cd.oc,
             (long long)cd.c, (long long)cd.c, (long long)cd.osz,
             PW_TILE_ROWS);
  else
    snprintf(why, n, "pointwise: a matrix multiply [%lld out][%lld in] x "
             "[%lld in][%lld positions], tiles of %lld channels x 16 "
             "positions (in the vectors)", (long long)cd.oc, (long long)cd.c,
             (long long)cd.c, (long long)cd.osz,
             (long long)block_width(&cd));
  return 1;
}

static void pw_pack(Program *p, Op *op) {
  (void)p;
  const Layer *l = op->main;
  ConvDims cd;
  conv_dims(l, &cd);
  float *w, *b;
  char *scaled, *ws;
  conv_pack_common(op, &cd, &w, &b, &scaled, &ws);
  int64_t width = block_width(&cd);
  float *wp = mc_alloc(sizeof(float) * (size_t)(cd.oc * cd.c));
  for (int64_t o = 0; o < cd.oc; o++)
    for (int64_t c = 0; c < cd.c; c++)
      wp[(o / width) * cd.c * width + c * width + o % width] =
          w[o * cd.c + c];
  free(w);
  pack_add(op, "weight", wp, cd.oc * cd.c,
           mc_format("%s.weight %s%s, packed [out/%lld][in][%lld]",
                     l->prefix, ws, scaled, (long long)width,
                     (long long)width));
  if (b) pack_add(op, "bias", b, cd.oc, pack_bias_what(op, ""));
  free(ws);
  free(scaled);
}

/* The tile with positions in the vectors, into e->pre: `width` channels
 * x 16 positions from t0, the first n of them. */
static char *tile_positions(Emit *e, const Op *op, const ConvDims *cd,
                            const char *bn) {
  long long W = block_width(cd), P = cd->osz, C = cd->c;
  char *fn = mc_format("%s_tile", op->fname);
  Emit t = *e;
  memset(&t.b, 0, sizeof t.b);
  t.depth = 0;
  em(&t, "/* %s's tile: %lld output channels x positions t0..t0+n-1 (n <= "
     "16) */", op->fname, W);
  em(&t, "#if MC_AVX512");
  em_use(&t, EH_INLINE);
  em(&t, "MC_INLINE void %s(const float *restrict xp, const float *restrict "
     "wb,\n    %sfloat *restrict yb, int t0, int n) {", fn,
     bn ? "const float *restrict bb, " : "");
  em(&t, "const __mmask16 m = (__mmask16)((1u << n) - 1u);");
  em(&t, "__m512 acc[%lld];", W);
  em(&t, "for (int j = 0; j < %lld; j++) acc[j] = %s;", W,
     bn ? "_mm512_set1_ps(bb[j])" : "_mm512_setzero_ps()");
  em(&t, "for (int c = 0; c < %lld; c++) { /* input channel */", C);
  em(&t, "const __m512 xv = _mm512_maskz_loadu_ps(m, xp + c * %lld + t0);",
     P);
  em(&t, "const float *wc = wb + c * %lld;", W);
  em(&t, "for (int j = 0; j < %lld; j++)", W);
  em(&t, "  acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(wc[j]), xv, acc[j]);");
  em(&t, "}");
  if (em_acts_vec_ok(op)) {
    em(&t, "for (int j = 0; j < %lld; j++) {", W);
    em_acts_vec(&t, op, "acc[j]");
    em(&t, "_mm512_mask_storeu_ps(yb + j * %lld + t0, m, acc[j]);", P);
    em(&t, "}");
  } else {
    em(&t, "float out[%lld][16];", W);
    em(&t, "for (int j = 0; j < %lld; j++) _mm512_storeu_ps(out[j], acc[j]);",
       W);
    char *chain = em_act_chain(&t, op, "out[j][i]");
    em(&t, "for (int j = 0; j < %lld; j++)", W);
    em(&t, "  for (int i = 0; i < n; i++) yb[j * %lld + t0 + i] = %s;", P,
       chain);
    free(chain);
  }
  em(&t, "}");
  em(&t, "#endif");
  em_blank(&t);
  buf_printf(&e->pre, "%s", t.b.s);
  buf_free(&t.b);
  for (int h = 0; h < EH_NHELPERS; h++) e->uses[h] |= t.uses[h];
  return fn;
}

/* The tile with channels in the vectors, into e->pre: 16 channels x
 * positions t0..t0+n-1 (n <= rows), stored transposed. */
static char *tile_channels(Emit *e, const Op *op, const ConvDims *cd,
                           const char *bn, int64_t rows) {
  long long P = cd->osz, C = cd->c, R = rows;
  char *fn = mc_format("%s_tile", op->fname);
  Emit t = *e;
  memset(&t.b, 0, sizeof t.b);
  t.depth = 0;
  em(&t, "/* %s's tile: 16 output channels x positions t0..t0+n-1 (n <= "
     "%lld) */", op->fname, R);
  em(&t, "#if MC_AVX512");
  em_use(&t, EH_INLINE);
  em(&t, "MC_INLINE void %s(const float *restrict xp, const float *restrict "
     "wb,\n    %sfloat *restrict yb, int t0, int n) {", fn,
     bn ? "const float *restrict bb, " : "");
  em(&t, "__m512 acc[%lld];", R);
  em(&t, "for (int r = 0; r < n; r++) acc[r] = %s;",
     bn ? "_mm512_loadu_ps(bb)" : "_mm512_setzero_ps()");
  em(&t, "for (int c = 0; c < %lld; c++) { /* input channel */", C);
  em(&t, "const __m512 wv = _mm512_loadu_ps(wb + c * 16);");
  em(&t, "const float *xc = xp + c * %lld + t0;", P);
  em(&t, "for (int r = 0; r < n; r++)");
  em(&t, "  acc[r] = _mm512_fmadd_ps(wv, _mm512_set1_ps(xc[r]), acc[r]);");
  em(&t, "}");
  if (em_acts_vec_ok(op)) {
    /* 16 x 16 transposed in registers: a[j] holds channel j's positions
     * t0.. (n of the 16 lanes), stored as one run */
    em(&t, "for (int r = 0; r < n; r++) {");
    em_acts_vec(&t, op, "acc[r]");
    em(&t, "}");
    em(&t, "__m512 a[16], b[16];");
    em(&t, "for (int r = 0; r < 16; r++) a[r] = r < n ? acc[r] : "
       "_mm512_setzero_ps();");
    em_transpose16(&t);
    em(&t, "const __mmask16 keep = (__mmask16)((1u << n) - 1);");
    em(&t, "for (int j = 0; j < 16; j++) _mm512_mask_storeu_ps(yb + j * %lld "
       "+ t0, keep, a[j]);", P);
  } else {
    em(&t, "for (int r = 0; r < n; r++) { /* y[j][t0 + r] = lane j */");
    em(&t, "float out[16];");
    em(&t, "_mm512_storeu_ps(out, acc[r]);");
    char *chain = em_act_chain(&t, op, "out[j]");
    em(&t, "for (int j = 0; j < 16; j++) yb[j * %lld + t0 + r] = %s;", P,
       chain);
    free(chain);
    em(&t, "}");
  }
  em(&t, "}");
  em(&t, "#endif");
  em_blank(&t);
  buf_printf(&e->pre, "%s", t.b.s);
  buf_free(&t.b);
  for (int h = 0; h < EH_NHELPERS; h++) e->uses[h] |= t.uses[h];
  return fn;
}

static void pw_emit(Emit *e, const Op *op) {
  ConvDims cd;
  conv_dims(op->main, &cd);
  const char *wn = op_array(op, "weight"), *bn = op_array(op, "bias");
  int chans = by_channels(&cd);
  long long P = cd.osz, C = cd.c, W = chans ? 16 : block_width(&cd);
  /* Tiles with channels in the vectors: as few as fit PW_TILE_ROWS, as
   * even as can be. */
  int64_t ntiles = (cd.osz + PW_TILE_ROWS - 1) / PW_TILE_ROWS;
  int64_t rows = chans ? (cd.osz + ntiles - 1) / ntiles : 16;
  em_use(e, EH_FMA);
  em_use(e, EH_AVX512);
  conv_open(e, op, &cd);
  em(e, "#if MC_AVX512");
  char *fn = chans ? tile_channels(e, op, &cd, bn, rows)
                   : tile_positions(e, op, &cd, bn);
  em(e, "for (int b = 0; b < %lld; b++) { /* blocks of %lld output channels "
     "*/", (long long)cd.oc / W, W);
  em(e, "const float *wb = %s + b * %lld;", wn, C * W);
  em(e, "float *yb = yn + b * %lld;", W * P);
  char *bb = bn ? mc_format("%s + b * %lld, ", bn, W) : mc_strdup("");
  long long R = rows, full = P / R * R;
  if (full == R)
    em(e, "%s(xp, wb, %syb, 0, %lld);", fn, bb, R);
  else if (full)
    em(e, "for (int t0 = 0; t0 < %lld; t0 += %lld) %s(xp, wb, %syb, t0, "
       "%lld);", full, R, fn, bb, R);
  if (full < P && !chans && P >= 16) /* masked stores are slow on some CPUs */
    em(e, "%s(xp, wb, %syb, %lld, 16); /* the last %lld position%s, in a "
       "full tile that recomputes %lld */", fn, bb, P - 16, P - full,
       P - full > 1 ? "s" : "", 16 - (P - full));
  else if (full < P)
    em(e, "%s(xp, wb, %syb, %lld, %lld); /* the last %lld positions */", fn,
       bb, full, P - full, P - full);
  em(e, "}");
  free(bb);
  free(fn);
  em(e, "#else");
  em(e, "for (int o = 0; o < %lld; o++) { /* output channel */",
     (long long)cd.oc);
  em(e, "const float *wo = %s + o / %lld * %lld + o %% %lld;", wn, W, C * W,
     W);
  em(e, "float *yo = yn + o * %lld;", P);
  if (bn)
    em(e, "for (int p = 0; p < %lld; p++) yo[p] = %s[o];", P, bn);
  else
    em(e, "for (int p = 0; p < %lld; p++) yo[p] = 0.0f;", P);
  em(e, "for (int c = 0; c < %lld; c++) { /* input channel */", C);
  em(e, "const float wc = wo[c * %lld], *xc = xp + c * %lld;", W, P);
  em(e, "for (int p = 0; p < %lld; p++) yo[p] = MC_FMA(wc, xc[p], yo[p]);",
     P);
  em(e, "}");
  em_epilogue(e, op, "yo", cd.osz);
  em(e, "}");
  em(e, "#endif");
  conv_close(e, &cd);
}

const Kernel kernel_conv_pointwise = {"conv-pointwise", KERNELS_FAST,
                                      pw_fits,          NULL,
                                      conv_code_bytes,  pw_pack,
                                      pw_emit};
