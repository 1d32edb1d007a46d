/* kernels/conv_blocked.c: a convolution blocked in registers.
 *
 * Conv1d and Conv2d with a run of interior outputs and at least 2 output
 * channels per group: blocks of up to 16 output channels x 16 positions
 * accumulated in registers (AVX-512 where the compiler targets it, else
 * portable halves of 8 channels), the reduction over input channels and
 * taps outside, weights packed in exactly that order; a stride above 1
 * first splits the input into its stride phases (in 2-D with a stride
 * along x, on the generic target only: the zero-padded input, so no
 * output is on a border), so every inner loop reads contiguous floats;
 * the border outputs use the direct loops (kernels/conv.c) on the packed
 * weights. */
#include "kernels/conv.h"

#include <stdlib.h>
#include <string.h>

/* A 2-D convolution with a stride along x, read through the stride
 * phases of its zero-padded input (ConvDims.phases)? */
static int phases_fit(const ConvDims *cd) {
  return cd->nsp == 2 && cd->t.S[1] > 1 && !cd->padmode &&
         cd->t.D[0] == 1 && cd->t.D[1] == 1;
}

/* The dims as the blocked kernel reads them: conv_dims, then for 2-D the
 * shifted planes of short rows, or else the stride phases of a stride
 * along x, where they fit (blocked_fits takes such a convolution on the
 * generic target only, so the later phases see only those). */
void conv_blocked_dims(const Layer *l, ConvDims *cd) {
  conv_dims(l, cd);
  int64_t OW = cd->t.O[1];
  /* rows whose outputs a tile of 16 would not fill, and which are not
   * already contiguous in the input (a 1 x 1 unpadded column) */
  int shift = cd->nsp == 2 && !cd->padmode && cd->t.D[0] == 1 &&
              cd->t.D[1] == 1 && OW % CONV_TW != 0 && OW < 4 * CONV_TW &&
              !(cd->t.K[1] == 1 && cd->t.S[1] == 1 && l->a.pad_lo[1] == 0 &&
                l->a.pad_hi[1] == 0);
  if (!shift && !phases_fit(cd)) return;
  cd->phases = !shift;
  cd->shifted = shift;
  cd->zpad = 0;
  for (int i = 0; i < 2; i++) {
    int64_t S = cd->t.S[i];
    cd->t.I[i] = cd->in[i] + l->a.pad_lo[i] + l->a.pad_hi[i];
    cd->t.P[i] = 0;
    cd->ph[i] = S < cd->t.K[i] ? S : cd->t.K[i];
    cd->u[i] = (cd->t.I[i] + S - 1) / S;
  }
  cd->xsz = shift ? cd->t.K[1] * cd->ph[0] * cd->u[0] * OW
                  : cd->ph[0] * cd->ph[1] * cd->u[0] * cd->u[1];
}

/* The width of the rows a tile runs along: a stride phase's, or the
 * (padded) input's. */
int64_t conv_blocked_row(const ConvDims *cd) {
  return cd->shifted ? cd->t.O[1] : cd->phases ? cd->u[1] : cd->t.I[1];
}

/* Does the blocked kernel take the convolution on target t? */
static int blocked_takes(const ConvDims *cd, Target t) {
  int64_t lo, hi, ylo, yhi;
  int last = cd->nsp - 1;
  if (cd->nsp > 2 || cd->ocg < 2) return 0;
  if (cd->padmode && cd->t.S[last] > 1) return 0; /* 2 scratches */
  /* 2-D phases: tuned for x86; the cortex-m targets have their own */
  if (cd->nsp == 2 && cd->t.S[1] > 1 && !cd->phases && !cd->shifted)
    return 0;
  if ((cd->phases || cd->shifted) && t != TARGET_GENERIC) return 0;
  conv_interior(cd, last, &lo, &hi);
  if (cd->nsp == 2) {
    conv_interior(cd, 0, &ylo, &yhi);
    if (yhi <= ylo) return 0;
  }
  /* Short runs still pay off with many channels: their tiles are
   * vectorised across the channels. */
  return hi - lo >= 4 || (hi > lo && cd->ocg >= 8);
}

/* Open the loops over input channels and taps of a tile, leaving xk (the
 * tile's inputs for this tap) and wk (this tap's weights for the block of
 * `width` channels); returns how many braces to close. */
static int open_tap_loops(Emit *e, const ConvDims *cd, int64_t width) {
  int two = cd->nsp == 2, x = cd->nsp - 1, close = 2;
  int64_t S = cd->t.S[x], D = cd->t.D[x], P = cd->t.P[x];
  em_for(e, "c", cd->icg, "input channel in the group");
  if (S == 1 || cd->phases || cd->shifted)
    em(e, "const float *xc = xg + c * %lld;", (long long)cd->xsz);
  else
    em(e, "const float *xc = xg + c * %lld; /* its %lld stride phases */",
       (long long)(S * ((cd->t.I[0] + S - 1) / S)), (long long)S);
  em(e, "const float *wc = wb + c * %lld;", (long long)(cd->ksz * width));
  if (two && cd->shifted) {
    int64_t plane = cd->u[0] * cd->t.O[1];
    long long S0 = cd->t.S[0];
    em_for(e, "ky", cd->t.K[0], "tap row");
    em_for(e, "kx", cd->t.K[1], "tap");
    em(e, "const float *xk = xc + (kx * %lld + ky %% %lld) * %lld + t0 + "
       "ky / %lld * %lld; /* plane (kx, ky %% %lld) */", (long long)cd->ph[0],
       S0, (long long)plane, S0, (long long)cd->t.O[1], S0);
    em(e, "const float *wk = wc + (ky * %lld + kx) * %lld;",
       (long long)cd->t.K[1], (long long)width);
    close = 3;
  } else if (two && cd->phases) {
    int64_t plane = cd->u[0] * cd->u[1];
    long long S0 = cd->t.S[0], S1 = cd->t.S[1];
    em_for(e, "ky", cd->t.K[0], "tap row");
    em_for(e, "kx", cd->t.K[1], "tap");
    char *at = cd->wide ? mc_format("t0 + ky / %lld * %lld", S0,
                                    (long long)cd->u[1])
                        : mc_format("(oy + ky / %lld) * %lld + t0", S0,
                                    (long long)cd->u[1]);
    em(e, "const float *xk = xc + ((ky %% %lld) * %lld + kx %% %lld) * %lld "
       "+ %s + kx / %lld; /* phase (ky %% %lld, kx %% %lld) */", S0,
       (long long)cd->ph[1], S1, (long long)plane, at, S1, S0, S1);
    free(at);
    em(e, "const float *wk = wc + (ky * %lld + kx) * %lld;",
       (long long)cd->t.K[1], (long long)width);
    close = 3;
  } else if (two && cd->wide) {
    em_for(e, "ky", cd->t.K[0], "tap row");
    em_for(e, "kx", cd->t.K[1], "tap");
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
    em_for(e, "ky", cd->t.K[0], "tap row");
    Lin r = {0};
    lin_add(&r, "oy", cd->t.S[0]);
    lin_add(&r, "ky", cd->t.D[0]);
    lin_add(&r, NULL, -cd->t.P[0]);
    char *rs = lin_str(&r);
    em(e, "const float *xr = xc + (%s) * %lld;", rs, (long long)cd->t.I[1]);
    free(rs);
    em_for(e, "kx", cd->t.K[1], "tap");
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
    em_for(e, "r", S, "stride phase");
    em(e, "const float *xr = xc + r * %lld + t0;", (long long)u);
    em(e, "for (int m = 0; m * %lld + r < %lld; m++) { /* tap m * %lld + r */",
       (long long)S, (long long)cd->t.K[0], (long long)S);
    em(e, "const float *xk = xr + m;");
    em(e, "const float *wk = wc + (m * %lld + r) * %lld;", (long long)S,
       (long long)width);
    close = 3;
  } else {
    em_for(e, "k", cd->t.K[0], "tap");
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

/* Do the tiles' outputs lie one after another in the output plane? Not
 * when a wide tile spans rows whose columns past OW are dropped. */
static int tile_contiguous(const ConvDims *cd) {
  return !cd->wide || conv_blocked_row(cd) == cd->t.O[1];
}

/* The offset in the block's output plane of output (j, i) of a tile from
 * t0, for a contiguous tile: "j * OSZ + oy * OW + t0 + i". */
static char *tile_offset(const ConvDims *cd, const char *j) {
  char *row = cd->nsp == 2 && !cd->wide
                  ? mc_format("oy * %lld + ", (long long)cd->t.O[1])
                  : mc_strdup("");
  char *s = mc_format("%s * %lld + %st0", j, (long long)cd->osz, row);
  free(row);
  return s;
}

/* The stored value of output `val` at offset `at` of the block: the
 * residual rb[at] added first when the tile adds it, then the fused
 * activations. */
static char *stored_value(Emit *e, const Op *op, const char *val,
                          const char *at) {
  if (!op->residual) return em_act_chain(e, op, val);
  char *sum = mc_format("%s + rb[%s]", val, at);
  char *chain = em_act_chain(e, op, sum);
  free(sum);
  return chain;
}

/* Store acc-like values through the fused activations (and the residual):
 * `val` is the expression of output (channel j0 + j, position i). */
static void store_tile(Emit *e, const Op *op, const ConvDims *cd, int64_t j0,
                       int64_t jw, int64_t tw, const char *val) {
  char *jj = j0 ? mc_format("(j + %lld)", (long long)j0) : mc_strdup("j");
  if (!tile_contiguous(cd)) {
    int64_t iw = conv_blocked_row(cd), ow = cd->t.O[1];
    char *at = mc_format("%s * %lld + oy * %lld + ox", jj, (long long)cd->osz,
                         (long long)ow);
    char *chain = stored_value(e, op, val, at);
    em_for(e, "i", tw, "");
    em(e, "const int oy = (t0 + i) / %lld, ox = (t0 + i) %% %lld;",
       (long long)iw, (long long)iw);
    em(e, "if (ox < %lld) /* the columns past OW are dropped */",
       (long long)ow);
    em(e, "  for (int j = 0; j < %lld; j++) yb[%s] = %s;", (long long)jw, at,
       chain);
    em(e, "}");
    free(chain);
    free(at);
    free(jj);
    return;
  }
  char *base = tile_offset(cd, jj);
  char *at = mc_format("%s + i", base);
  char *chain = stored_value(e, op, val, at);
  em(e, "for (int j = 0; j < %lld; j++)", (long long)jw);
  em(e, "  for (int i = 0; i < %lld; i++) yb[%s] = %s;", (long long)tw, at,
     chain);
  free(chain);
  free(at);
  free(base);
  free(jj);
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
  em_for(e, "i", tw, "position in the tile");
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
  if (tile_contiguous(cd) && em_acts_vec_ok(op)) {
    /* Stored straight from the registers, the residual added and the
     * activations applied there (their AVX-512 forms keep the bits) */
    char *at = tile_offset(cd, "j");
    if (!op->residual && !op->nact) {
      em(e, "for (int j = 0; j < %lld; j++) _mm512_storeu_ps(yb + %s, "
         "acc[j]);", (long long)width, at);
    } else {
      em(e, "for (int j = 0; j < %lld; j++) {", (long long)width);
      if (op->residual)
        em(e, "acc[j] = _mm512_add_ps(acc[j], _mm512_loadu_ps(rb + %s));",
           at);
      em_acts_vec(e, op, "acc[j]");
      em(e, "_mm512_storeu_ps(yb + %s, acc[j]);", at);
      em(e, "}");
    }
    free(at);
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

/* The full tile of `width` channels as a function of the op's, printed
 * into e->pre: its inputs are the names the tile reads (xg, wb, bb, yb,
 * t0, and oy when it runs per output row). Returns its name. */
static char *tile_function(Emit *e, const Op *op, const ConvDims *cd,
                           const char *bn, int64_t width, int row) {
  char *fn = mc_format("%s_tile%lld", op->fname, (long long)width);
  Emit t = *e;
  memset(&t.b, 0, sizeof t.b);
  t.depth = 0;
  em(&t, "/* %s's tile: %lld output channels x %d positions from t0%s */",
     op->fname, (long long)width, CONV_TW, row ? " of row oy" : "");
  em_use(&t, EH_INLINE);
  em(&t, "MC_INLINE void %s(const float *restrict xg, const float *restrict wb,\n"
     "    %s%sfloat *restrict yb, int t0%s) {", fn,
     bn ? "const float *restrict bb, " : "",
     op->residual ? "const float *restrict rb, " : "", row ? ", int oy" : "");
  emit_tile(&t, op, cd, bn, width, CONV_TW);
  em(&t, "}");
  em_blank(&t);
  buf_printf(&e->pre, "%s", t.b.s);
  buf_free(&t.b);
  for (int h = 0; h < EH_NHELPERS; h++) e->uses[h] |= t.uses[h];
  return fn;
}

static void tile_call(Emit *e, const Op *op, const char *fn, const char *bn,
                      int row) {
  em(e, "%s(xg, wb, %s%syb, t0%s);", fn, bn ? "bb, " : "",
     op->residual ? "rb, " : "", row ? ", oy" : "");
}

/* The 2-D stride phases of the zero-padded input, into tmp: each phase
 * plane zeroed, then the input rows and columns it holds copied in. */
static void emit_phase_copy(Emit *e, const Op *op, const ConvDims *cd) {
  const LayerArgs *a = &op->main->a;
  long long S0 = cd->t.S[0], S1 = cd->t.S[1], U0 = cd->u[0], U1 = cd->u[1];
  long long IH = cd->in[0], IW = cd->in[1], P0 = a->pad_lo[0],
            P1 = a->pad_lo[1];
  em(e, "/* the zero-padded input split into its stride phases: "
     "tmp[c][py][px][u][v] = x[c][u * %lld + py - %lld][v * %lld + px - "
     "%lld], 0 in the padding */", S0, P0, S1, P1);
  em(e, "for (int i = 0; i < %lld; i++) tmp[i] = 0.0f;",
     (long long)(cd->c * cd->xsz));
  int split2 = S1 == 2 && cd->ph[1] == 2; /* AVX-512: rows split in two */
  if (split2) {
    em_use(e, EH_AVX512);
    em(e, "#if MC_AVX512");
    ConvSplit2 sp = {cd->c, IH, IW, S0, P0, P1, cd->ph[0], U0, U1, 2, 1};
    conv_split2(e, &sp); /* phase (py, px): plane py * 2 + px */
    em(e, "#else");
  }
  em_for(e, "c", cd->c, "input channel");
  em(e, "const float *xc = xp + c * %lld;", IH * IW);
  for (int64_t py = 0; py < cd->ph[0]; py++)
    for (int64_t px = 0; px < cd->ph[1]; px++) {
      /* the u, v whose input row u * S0 + py - P0, column v * S1 + px - P1
       * is inside the input */
      long long ua = P0 - py > 0 ? (P0 - py + S0 - 1) / S0 : 0;
      long long ub = (IH + P0 - py + S0 - 1) / S0;
      long long va = P1 - px > 0 ? (P1 - px + S1 - 1) / S1 : 0;
      long long vb = (IW + P1 - px + S1 - 1) / S1;
      if (ub > U0) ub = U0;
      if (vb > U1) vb = U1;
      if (ua >= ub || va >= vb) continue;
      em(e, "{ /* phase (%lld, %lld) */", (long long)py, (long long)px);
      em(e, "float *tp = tmp + (c * %lld + %lld) * %lld;",
         (long long)(cd->ph[0] * cd->ph[1]),
         (long long)(py * cd->ph[1] + px), U0 * U1);
      Lin row = {0}, col = {0};
      lin_add(&row, "u", S0);
      lin_add(&row, NULL, py - P0);
      lin_add(&col, "v", S1);
      lin_add(&col, NULL, px - P1);
      char *rs = lin_str(&row), *cs = lin_str(&col);
      em(e, "for (int u = %lld; u < %lld; u++)", ua, ub);
      em(e, "  for (int v = %lld; v < %lld; v++) tp[u * %lld + v] = "
         "xc[(%s) * %lld + %s];", va, vb, U1, rs, IW, cs);
      free(rs);
      free(cs);
      em(e, "}");
    }
  em(e, "}");
  if (split2) em(e, "#endif");
}

/* The shifted planes of the zero-padded input (ConvDims.shifted), into
 * tmp (kernels/conv.c). */
static void emit_shifted_copy(Emit *e, const Op *op, const ConvDims *cd) {
  const LayerArgs *a = &op->main->a;
  ConvPlanes pl = {cd->c, cd->in[0], cd->in[1], a->pad_lo[0], a->pad_lo[1],
                   cd->t.S[0], cd->t.S[1], cd->t.K[1], cd->ph[0], cd->u[0],
                   cd->t.O[1]};
  conv_copy_planes(e, &pl, e->jit && op->jit_kernel);
}

int conv_blocked_copy(Emit *e, const Op *op, const ConvDims *cd) {
  if (cd->phases) emit_phase_copy(e, op, cd);
  if (cd->shifted) emit_shifted_copy(e, op, cd);
  return cd->phases || cd->shifted;
}

/* The split into 16 stride phases with AVX-512: the input of each of the
 * c channels read as rows of 16 (row u: x[u * 16 .. u * 16 + 15]),
 * transposed 16 rows at a time in registers (em_transpose16), so phase r
 * is the block's column r; the rows past the nb blocks one by one. A
 * copy: the values are the portable loop's (tests/cli.sh). */
static void emit_transpose16(Emit *e, int64_t c, int64_t n, int64_t u,
                             int64_t nb) {
  em_for(e, "c", c, "input channel");
  em(e, "const float *xc = xp + c * %lld;", (long long)n);
  em(e, "float *tc = tmp + c * %lld;", (long long)(16 * u));
  em(e, "for (int u0 = 0; u0 < %lld; u0 += 16) { /* rows u0 .. u0 + 15 */",
     (long long)(16 * nb));
  em(e, "__m512 a[16], b[16];");
  em(e, "for (int i = 0; i < 16; i++) a[i] = _mm512_loadu_ps(xc + (u0 + i) "
     "* 16);");
  em_transpose16(e);
  em(e, "for (int i = 0; i < 16; i++) /* column i: phase i */");
  em(e, "  _mm512_storeu_ps(tc + i * %lld + u0, a[i]);", (long long)u);
  em(e, "}");
  em(e, "for (int r = 0; r < 16; r++) /* the rows after the blocks */");
  em(e, "  for (int u = %lld; u * 16 + r < %lld; u++) tc[r * %lld + u] = "
     "xc[u * 16 + r];", (long long)(16 * nb), (long long)n, (long long)u);
  em(e, "}");
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
  conv_blocked_copy(e, op, cd);
  int split = cd->phases || cd->shifted;
  if (S > 1 && !split) {
    int64_t u = (cd->t.I[0] + S - 1) / S;
    em(e, "/* the input split into its %lld stride phases: tmp[c][r][u] = "
       "x[c][u * %lld + r] */", (long long)S, (long long)S);
    int64_t nb = cd->t.I[0] / (16 * 16); /* 16 x 16 blocks */
    if (S == 16 && nb > 0) {
      em_use(e, EH_AVX512);
      em(e, "#if MC_AVX512");
      emit_transpose16(e, cd->c, cd->t.I[0], u, nb);
      em(e, "#else");
    }
    em(e, "for (int c = 0; c < %lld; c++)", (long long)cd->c);
    em(e, "  for (int r = 0; r < %lld; r++)", (long long)S);
    em(e, "    for (int u = 0; u * %lld + r < %lld; u++)", (long long)S,
       (long long)cd->t.I[0]);
    em(e, "      tmp[(c * %lld + r) * %lld + u] = xp[c * %lld + u * %lld + "
       "r];", (long long)S, (long long)u, (long long)cd->t.I[0],
       (long long)S);
    if (S == 16 && nb > 0) em(e, "#endif");
  }
  const char *src = S > 1 || split ? "tmp" : "xp";
  if (cd->groups > 1)
    em_for(e, "g", cd->groups, "group");
  else
    em(e, "{");
  if (cd->groups > 1)
    em(e, "const float *xg = %s + g * %lld;", src,
       (long long)(icg * (S > 1 && !split ? S * ((cd->t.I[0] + S - 1) / S)
                                          : cd->xsz)));
  else
    em(e, "const float *xg = %s;", src);
  for (int part = 0; part < 2; part++) {
    int64_t width = part ? rem : ocb, count = part ? 1 : nfull;
    if (!width || !count) continue;
    int64_t start = part ? nfull * ocb : 0;
    char *what = mc_format("%lld output channels", (long long)width);
    em_for(e, "ob", count, what);
    free(what);
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
    conv_residual_block(e, op, cd);
    if (cd->wide) {
      /* p = oy * IW + ox over the interior rows, up to the last output */
      int64_t p0 = lo[0] * conv_blocked_row(cd);
      int64_t p1 = (hi[0] - 1) * conv_blocked_row(cd) + cd->t.O[1];
      ntiles = (p1 - p0) / CONV_TW;
      rtw = (p1 - p0) % CONV_TW;
      lo2[x] = p0;
    } else if (x == 1) {
      em(e, "for (int oy = %lld; oy < %lld; oy++) { /* output row */",
         (long long)lo[0], (long long)hi[0]);
    }
    /* A full tile printed twice (the loop's and the last, overlapping
     * one) is written once, as a function, and called. */
    int row = x == 1 && !cd->wide;
    char *fn = ntiles && rtw ? tile_function(e, op, cd, bn, width, row)
                             : NULL;
    if (ntiles) {
      em(e, "for (int t0 = %lld; t0 < %lld; t0 += %d) { /* %d outputs */",
         (long long)lo2[x], (long long)(lo2[x] + ntiles * CONV_TW), CONV_TW,
         CONV_TW);
      if (fn) tile_call(e, op, fn, bn, row);
      else emit_tile(e, op, cd, bn, width, CONV_TW);
      em(e, "}");
    }
    if (rtw && ntiles) { /* a last full tile, overlapping the one before */
      em(e, "{ /* the last %lld outputs, in a full tile that recomputes %lld "
         "*/", (long long)rtw, (long long)(CONV_TW - rtw));
      em(e, "const int t0 = %lld;",
         (long long)(lo2[x] + ntiles * CONV_TW + rtw - CONV_TW));
      tile_call(e, op, fn, bn, row);
      em(e, "}");
    } else if (rtw) {
      em(e, "{ /* the last %lld outputs of the interior */", (long long)rtw);
      em(e, "const int t0 = %lld;", (long long)(lo2[x] + ntiles * CONV_TW));
      emit_tile(e, op, cd, bn, width, rtw);
      em(e, "}");
    }
    free(fn);
    if (x == 1 && !cd->wide) em(e, "}");
    em(e, "}");
  }
  em(e, "}");
}

/* The blocked lowering's geometry: the interior [lo, hi) per dim, whether
 * any output lies outside it, and the 2-D wide-row layout. */
void conv_blocked_geometry(ConvDims *cd, int64_t *lo, int64_t *hi,
                           int *border) {
  cd->wide = cd->nsp == 2 &&
             ((cd->t.S[0] == 1 && cd->t.S[1] == 1) || cd->phases ||
              cd->shifted) &&
             cd->t.P[1] == 0 && cd->t.O[1] % CONV_TW != 0 &&
             cd->t.O[1] < 4 * CONV_TW;
  *border = 0;
  for (int i = 0; i < cd->nsp; i++) {
    conv_interior(cd, i, &lo[i], &hi[i]);
    *border |= lo[i] > 0 || hi[i] < cd->t.O[i];
  }
}

static int blocked_fits(const Program *p, const Op *op, Target t, char *why,
                        size_t n) {
  (void)p;
  if (!conv_is(op)) return 0;
  ConvDims cd;
  conv_blocked_dims(op->main, &cd);
  if (!blocked_takes(&cd, t)) return 0;
  int64_t lo[2] = {0, 0}, hi[2] = {0, 0};
  int border;
  conv_blocked_geometry(&cd, lo, hi, &border);
  int64_t ocb = cd.ocg < CONV_OCB ? cd.ocg : CONV_OCB;
  snprintf(why, n, "blocked: %lld output channels x %d positions in "
           "registers over %lld interior outputs%s%s", (long long)ocb,
           CONV_TW, (long long)(hi[cd.nsp - 1] - lo[cd.nsp - 1]),
           cd.nsp == 1 && cd.t.S[0] > 1 ? ", input split into stride phases"
           : cd.shifted ? ", the zero-padded input copied per tap column, "
                          "so tiles run over rows after rows"
           : cd.phases && cd.wide ? ", the zero-padded input split into "
                                    "stride phases, rows as wide as theirs"
           : cd.phases ? ", the zero-padded input split into stride phases"
           : cd.wide ? ", rows laid out as wide as the input's"
           : cd.zpad ? ", zero padding written out first" : "",
           border ? ", direct loops on the border" : "");
  return 1;
}

static int64_t blocked_scratch(const Op *op) {
  ConvDims cd;
  conv_blocked_dims(op->main, &cd);
  if (cd.phases || cd.shifted) return cd.c * cd.xsz * (int64_t)sizeof(float);
  if (cd.padmode || cd.zpad) return conv_pad_scratch(&cd);
  if (cd.nsp == 1 && cd.t.S[0] > 1) { /* the stride phases */
    int64_t u = (cd.t.I[0] + cd.t.S[0] - 1) / cd.t.S[0];
    return cd.c * cd.t.S[0] * u * (int64_t)sizeof(float);
  }
  return 0;
}

/* The weights in the order the tiles read them:
 * [group][block][in/groups][kernel][output in block]. */
static void blocked_pack(Program *p, Op *op) {
  (void)p;
  const Layer *l = op->main;
  ConvDims cd;
  conv_dims(l, &cd);
  float *w, *b;
  char *scaled, *ws;
  conv_pack_common(op, &cd, &w, &b, &scaled, &ws);
  int64_t nw = cd.oc * cd.icg * cd.ksz;
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
  pack_add(op, "weight_packed", wp, nw,
           mc_format("%s.weight %s%s, packed for blocks of %lld outputs: "
                     "[block][in/groups][kernel][output in block]",
                     l->prefix, ws, scaled, (long long)ocb));
  free(w);
  if (b) pack_add(op, "bias", b, cd.oc, pack_bias_what(op, ""));
  free(ws);
  free(scaled);
}

static void blocked_emit(Emit *e, const Op *op) {
  ConvDims cd;
  conv_blocked_dims(op->main, &cd);
  int64_t lo[2] = {0, 0}, hi[2] = {0, 0};
  int border;
  conv_blocked_geometry(&cd, lo, hi, &border);
  const char *wn = op_array(op, "weight_packed"), *bn = op_array(op, "bias");
  conv_open(e, op, &cd);
  emit_blocked(e, op, &cd, wn, bn, lo, hi);
  if (border) { /* whole rows above and below, then the row ends */
    int64_t a[2], b[2];
    int x = cd.nsp - 1;
    if (cd.nsp == 2) {
      a[1] = 0, b[1] = cd.t.O[1];
      if (lo[0] > 0)
        a[0] = 0, b[0] = lo[0], conv_direct_loops(e, op, &cd, wn, 1, bn, a, b);
      if (hi[0] < cd.t.O[0])
        a[0] = hi[0], b[0] = cd.t.O[0],
        conv_direct_loops(e, op, &cd, wn, 1, bn, a, b);
      a[0] = lo[0], b[0] = hi[0];
    }
    if (lo[x] > 0)
      a[x] = 0, b[x] = lo[x], conv_direct_loops(e, op, &cd, wn, 1, bn, a, b);
    if (hi[x] < cd.t.O[x])
      a[x] = hi[x], b[x] = cd.t.O[x],
      conv_direct_loops(e, op, &cd, wn, 1, bn, a, b);
  }
  conv_close(e, &cd);
}

/* With no border loops, every output is stored by a tile, which adds the
 * residual in its registers (or its portable loop) before the
 * activations. */
int conv_blocked_adds_residual(const Op *op) {
  ConvDims cd;
  conv_blocked_dims(op->main, &cd);
  int64_t lo[2] = {0, 0}, hi[2] = {0, 0};
  int border;
  conv_blocked_geometry(&cd, lo, hi, &border);
  return !border;
}

const Kernel kernel_conv_blocked = {"conv-blocked",  KERNELS_FAST,
                                    blocked_fits,    blocked_scratch,
                                    conv_code_bytes, blocked_pack,
                                    blocked_emit};
