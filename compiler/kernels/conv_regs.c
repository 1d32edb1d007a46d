/* kernels/conv_regs.c: a convolution blocked in a Cortex-M's registers.
 *
 * For --target cortex-m4/m7/m0, Conv1d, Conv2d and Conv3d with interior
 * outputs: tiles of up to 4 output channels x 4 positions along a row
 * (of one depth slice in 3-D), each output
 * a scalar local (16 float accumulators and the 4 weights and 4 inputs of
 * a tap: 24 of FPv4-SP's 32 single registers). Per input channel the
 * taps are unrolled in the emitted text (up to 32 of them; a longer
 * kernel runs a loop over chunks of unrolled taps), so the compiler's -O2
 * needs no unrolling of its own. Weights are packed in the order a tile
 * reads them: [group][block][in/groups][kernel][output in block]. With an
 * FPU each step is fmaf(w, x, acc), one vfma.f32 on the M4F and M7 and
 * the same correctly rounded result in `modelc run --target`; on the M0
 * it is acc + w * x in float, two soft-float calls. The border outputs
 * use the direct loops (kernels/conv.c) on the same packed weights. */
#include "kernels/conv.h"
#include "kernels/pool.h"

#include <stdlib.h>

#define REGS_NC 4     /* output channels per tile */
#define REGS_NP 4     /* positions per tile */
#define REGS_UNROLL 32 /* taps unrolled per input channel, at most */

/* The convolution seen as 3-D (a 2-D one has one depth slice, a 1-D one
 * also one row) and its interior: depth [dlo, dhi), rows [lo[0], hi[0]),
 * columns [lo[1], hi[1]). */
typedef struct Geo {
  int64_t OD, KD, SD, DD, PD, IH; /* depth; IH: input rows */
  int64_t OH, OW, IW, KH, KW, SH, SW, DH, DW, PH, PW;
  int64_t dlo, dhi, lo[2], hi[2];
  int border, fma;
} Geo;

static void regs_geometry(const ConvDims *cd, Target t, Geo *g) {
  int three = cd->nsp == 3, two = cd->nsp >= 2;
  int z = 0, y = cd->nsp - 2, x = cd->nsp - 1;
  g->OD = three ? cd->t.O[z] : 1, g->KD = three ? cd->t.K[z] : 1;
  g->SD = three ? cd->t.S[z] : 1, g->DD = three ? cd->t.D[z] : 1;
  g->PD = three ? cd->t.P[z] : 0, g->IH = two ? cd->t.I[y] : 1;
  g->OH = two ? cd->t.O[y] : 1, g->KH = two ? cd->t.K[y] : 1;
  g->SH = two ? cd->t.S[y] : 1, g->DH = two ? cd->t.D[y] : 1;
  g->PH = two ? cd->t.P[y] : 0;
  g->OW = cd->t.O[x], g->IW = cd->t.I[x], g->KW = cd->t.K[x];
  g->SW = cd->t.S[x], g->DW = cd->t.D[x], g->PW = cd->t.P[x];
  g->dlo = 0, g->dhi = 1, g->lo[0] = 0, g->hi[0] = 1;
  if (three) conv_interior(cd, z, &g->dlo, &g->dhi);
  if (two) conv_interior(cd, y, &g->lo[0], &g->hi[0]);
  conv_interior(cd, x, &g->lo[1], &g->hi[1]);
  g->border = g->dlo > 0 || g->dhi < g->OD || g->lo[0] > 0 ||
              g->hi[0] < g->OH || g->lo[1] > 0 || g->hi[1] < g->OW;
  g->fma = target_has_fma(t);
}

static int regs_fits(const Program *p, const Op *op, Target t, char *why,
                     size_t n) {
  (void)p;
  if (t == TARGET_GENERIC || !conv_is(op)) return 0;
  ConvDims cd;
  conv_dims(op->main, &cd);
  Geo g;
  regs_geometry(&cd, t, &g);
  if (g.dhi <= g.dlo || g.hi[0] <= g.lo[0] || g.hi[1] <= g.lo[1]) return 0;
  int64_t nc = cd.ocg < REGS_NC ? cd.ocg : REGS_NC;
  int64_t np = g.hi[1] - g.lo[1] < REGS_NP ? g.hi[1] - g.lo[1] : REGS_NP;
  snprintf(why, n, "registers: %lld output channel%s x %lld position%s in "
           "%lld float locals, %s, taps %s, over %lld interior outputs%s",
           (long long)nc, nc > 1 ? "s" : "", (long long)np, np > 1 ? "s" : "",
           (long long)(nc * np),
           g.fma ? "fmaf (one vfma each)" : "acc + w * x (no FPU)",
           cd.ksz <= REGS_UNROLL ? "unrolled" : "unrolled in chunks",
           (long long)((g.dhi - g.dlo) * (g.hi[0] - g.lo[0]) *
                       (g.hi[1] - g.lo[1])),
           g.border ? ", direct loops on the border" : "");
  return 1;
}

/* The max pool after a 1-D convolution, windows of 2 or 4
 * side by side (kernel = stride), every output interior: each tile takes
 * its windows' max of the activated accumulators and stores only that.
 * Returns the pool's window length, or 0 if it does not fuse. */
static int64_t pool_window(const Op *op, const Op *next) {
  ConvDims cd;
  conv_dims(op->main, &cd);
  if (cd.nsp != 1 || !next->main || next->nact ||
      next->main->kind->family != FAM_MAXPOOL || next->main->kind->nsp != 1)
    return 0;
  Geo g;
  regs_geometry(&cd, TARGET_CORTEX_M4, &g);
  PoolDims pd;
  pool_dims(next->main, &pd);
  int64_t k = pd.t.K[0];
  /* tiles of 4 positions (or one tile of all, fewer) start windows */
  if (g.border || (k != 2 && k != 4) || pd.t.S[0] != k || pd.t.D[0] != 1 ||
      pd.t.P[0] != 0 || pd.t.O[0] != g.OW / k || pd.t.O[0] < 1 ||
      pd.planes != cd.n * cd.oc)
    return 0;
  return k;
}

int conv_regs_fuses(const Program *p, const Op *op, const Op *next,
                      char *why, size_t n) {
  (void)p;
  int64_t k = pool_window(op, next);
  if (!k) return 0;
  snprintf(why, n, "the max pool after it fused: each tile stores the max "
           "of its windows of %lld", (long long)k);
  return 1;
}

static int64_t regs_scratch(const Op *op) {
  ConvDims cd;
  conv_dims(op->main, &cd);
  return conv_pad_scratch(&cd);
}

/* Each unrolled step is about 40 bytes of C; a tile is printed once per
 * combination of full and partial blocks (at most 4). */
static int64_t regs_code_bytes(const Op *op) {
  ConvDims cd;
  conv_dims(op->main, &cd);
  int64_t taps = cd.ksz <= REGS_UNROLL ? cd.ksz : REGS_UNROLL;
  return mc_satadd(conv_code_bytes(op),
                   mc_satmul(taps, 4 * REGS_NC * REGS_NP * 40));
}

static void regs_pack(Program *p, Op *op) {
  (void)p;
  const Layer *l = op->main;
  ConvDims cd;
  conv_dims(l, &cd);
  float *w, *b;
  char *scaled, *ws;
  conv_pack_common(op, &cd, &w, &b, &scaled, &ws);
  int64_t nw = cd.oc * cd.icg * cd.ksz, K = cd.ksz, icg = cd.icg;
  int64_t ocg = cd.ocg, ocb = ocg < REGS_NC ? ocg : REGS_NC;
  float *wp = mc_alloc(sizeof(float) * (size_t)(nw > 0 ? nw : 1));
  int64_t at = 0;
  for (int64_t g = 0; g < cd.groups; g++)
    for (int64_t o0 = g * ocg; o0 < (g + 1) * ocg; o0 += ocb) {
      int64_t width = (g + 1) * ocg - o0 < ocb ? (g + 1) * ocg - o0 : ocb;
      for (int64_t c = 0; c < icg; c++)
        for (int64_t k = 0; k < K; k++)
          for (int64_t j = 0; j < width; j++)
            wp[at++] = w[((o0 + j) * icg + c) * K + k];
    }
  pack_add(op, "weight_packed", wp, nw,
           mc_format("%s.weight %s%s, packed for tiles of %lld outputs: "
                     "[block][in/groups][kernel][output in block]",
                     l->prefix, ws, scaled, (long long)ocb));
  free(w);
  if (b) pack_add(op, "bias", b, cd.oc, pack_bias_what(op, ""));
  free(ws);
  free(scaled);
}

/* One tap per step: nw taps of a row, reading x at xn[xoff + u * DW + j *
 * SW] and weights at wn[woff + u * nc + i]. */
static void emit_taps(Emit *e, const Geo *g, int64_t nc, int64_t np,
                      int64_t nw, const char *xn, int64_t xoff,
                      const char *wn, int64_t woff) {
  for (int64_t u = 0; u < nw; u++) {
    Buf b = {0};
    for (int64_t i = 0; i < nc; i++)
      buf_printf(&b, "%sw%lld = %s[%lld]", i ? ", " : "const float ",
                 (long long)i, wn, (long long)(woff + u * nc + i));
    for (int64_t j = 0; j < np; j++)
      buf_printf(&b, ", x%lld = %s[%lld]", (long long)j, xn,
                 (long long)(xoff + u * g->DW + j * g->SW));
    em(e, "{");
    em(e, "%s;", b.s);
    buf_free(&b);
    for (int64_t i = 0; i < nc; i++) {
      Buf s = {0};
      for (int64_t j = 0; j < np; j++) {
        if (g->fma)
          buf_printf(&s, "%sa%lld_%lld = fmaf(w%lld, x%lld, a%lld_%lld);",
                     j ? " " : "", (long long)i, (long long)j, (long long)i,
                     (long long)j, (long long)i, (long long)j);
        else
          buf_printf(&s, "%sa%lld_%lld += w%lld * x%lld;", j ? " " : "",
                     (long long)i, (long long)j, (long long)i, (long long)j);
      }
      em(e, "%s", s.s);
      buf_free(&s);
    }
    em(e, "}");
  }
}

/* The largest divisor of k up to 8: taps per chunk of a long kernel. */
static int64_t chunk(int64_t k) {
  for (int64_t u = 8; u > 1; u--)
    if (k % u == 0) return u;
  return 1;
}

/* The taps of a long kernel a row at a time (a loop over rows from xb,
 * wb when `rows`), a row over 32 taps in chunks of up to 8. */
static void emit_rows(Emit *e, const Geo *g, int64_t nc, int64_t np,
                      int rows, const char *xb, const char *wb) {
  if (rows) {
    em_for(e, "ky", g->KH, "tap row");
    em(e, "const float *xr = %s + ky * %lld;", xb, (long long)(g->DH * g->IW));
    em(e, "const float *wr = %s + ky * %lld;", wb, (long long)(g->KW * nc));
  } else {
    em(e, "{");
    em(e, "const float *xr = %s, *wr = %s;", xb, wb);
  }
  if (g->KW <= REGS_UNROLL) {
    emit_taps(e, g, nc, np, g->KW, "xr", 0, "wr", 0);
  } else {
    int64_t u = chunk(g->KW);
    em(e, "for (int k = 0; k < %lld; k += %lld) { /* %lld taps a step */",
       (long long)g->KW, (long long)u, (long long)u);
    em(e, "const float *xk = xr + k * %lld, *wk = wr + k * %lld;",
       (long long)g->DW, (long long)nc);
    emit_taps(e, g, nc, np, u, "xk", 0, "wk", 0);
    em(e, "}");
  }
  em(e, "}");
}

/* One tile: nc output channels from o0 x np positions from (od, oy,
 * ox); xg, wb, o0, od, oy and ox are in scope. */
static void emit_tile(Emit *e, const Op *op, const ConvDims *cd,
                      const Geo *g, int64_t nc, int64_t np, const char *bn) {
  em(e, "{ /* %lld output channels x %lld positions */", (long long)nc,
     (long long)np);
  for (int64_t i = 0; i < nc; i++) {
    Buf b = {0};
    for (int64_t j = 0; j < np; j++) {
      if (bn) buf_printf(&b, "%sa%lld_%lld = %s[o0 + %lld]", j ? ", " : "",
                         (long long)i, (long long)j, bn, (long long)i);
      else buf_printf(&b, "%sa%lld_%lld = 0.0f", j ? ", " : "", (long long)i,
                      (long long)j);
    }
    em(e, "float %s;", b.s);
    buf_free(&b);
  }
  Lin xl = {0};
  int64_t slice = g->IH * g->IW; /* floats of an input depth slice */
  if (cd->nsp == 3) lin_add(&xl, "od", g->SD * slice);
  if (cd->nsp >= 2) lin_add(&xl, "oy", g->SH * g->IW);
  lin_add(&xl, "ox", g->SW);
  lin_add(&xl, NULL, -g->PD * slice - g->PH * g->IW - g->PW);
  char *xs = lin_str(&xl);
  em(e, "const float *xt = xg + (%s);", xs);
  free(xs);
  em_for(e, "c", cd->icg, "input channel in the group");
  em(e, "const float *xc = xt + c * %lld;", (long long)cd->xsz);
  em(e, "const float *wc = wb + c * %lld;", (long long)(cd->ksz * nc));
  if (cd->ksz <= REGS_UNROLL) {
    for (int64_t kd = 0; kd < g->KD; kd++)
      for (int64_t ky = 0; ky < g->KH; ky++)
        emit_taps(e, g, nc, np, g->KW, "xc",
                  kd * g->DD * slice + ky * g->DH * g->IW, "wc",
                  (kd * g->KH + ky) * g->KW * nc);
  } else {
    /* a 3-D kernel a slice at a time: the slice's taps unrolled if they
     * fit, else its rows as below */
    const char *xbase = "xc", *wbase = "wc";
    if (cd->nsp == 3) {
      em_for(e, "kd", g->KD, "tap slice");
      em(e, "const float *xd = xc + kd * %lld;", (long long)(g->DD * slice));
      em(e, "const float *wd = wc + kd * %lld;",
         (long long)(g->KH * g->KW * nc));
      xbase = "xd", wbase = "wd";
    }
    if (cd->nsp == 3 && g->KH * g->KW <= REGS_UNROLL) {
      for (int64_t ky = 0; ky < g->KH; ky++)
        emit_taps(e, g, nc, np, g->KW, "xd", ky * g->DH * g->IW, "wd",
                  ky * g->KW * nc);
    } else {
      emit_rows(e, g, nc, np, cd->nsp >= 2, xbase, wbase);
    }
    if (cd->nsp == 3) em(e, "}");
  }
  em(e, "}");
  if (op->pooled) { /* the windows' max of the activated outputs */
    int64_t k = pool_window(op, op + 1), po = g->OW / k;
    em_use(e, EH_MAXF);
    if (cd->n > 1) /* conv_open's yn steps by the unpooled sample */
      em(e, "float *yt = y + (n * %lld + o0 * %lld + ox / %lld);",
         (long long)(cd->oc * po), (long long)po, (long long)k);
    else
      em(e, "float *yt = yn + (o0 * %lld + ox / %lld);", (long long)po,
         (long long)k);
    for (int64_t i = 0; i < nc; i++)
      for (int64_t q = 0; q < np / k; q++) {
        Buf m = {0};
        for (int64_t r = 0; r < k; r++) {
          char *v = mc_format("a%lld_%lld", (long long)i, (long long)(q * k + r));
          char *chain = em_act_chain(e, op, v);
          if (r == 0) buf_printf(&m, "%s", chain);
          else {
            char *prev = m.s;
            m.s = NULL, m.len = 0, m.cap = 0;
            buf_printf(&m, "mc_maxf(%s, %s)", prev, chain);
            free(prev);
          }
          free(chain);
          free(v);
        }
        em(e, "yt[%lld] = %s;", (long long)(i * po + q), m.s);
        buf_free(&m);
      }
    em(e, "}");
    return;
  }
  Lin yl = {0};
  lin_add(&yl, "o0", cd->osz);
  if (cd->nsp == 3) lin_add(&yl, "od", g->OH * g->OW);
  if (cd->nsp >= 2) lin_add(&yl, "oy", g->OW);
  lin_add(&yl, "ox", 1);
  char *ys = lin_str(&yl);
  em(e, "float *yt = yn + (%s);", ys);
  free(ys);
  for (int64_t i = 0; i < nc; i++) {
    Buf s = {0};
    for (int64_t j = 0; j < np; j++) {
      char *v = mc_format("a%lld_%lld", (long long)i, (long long)j);
      char *chain = em_act_chain(e, op, v);
      buf_printf(&s, "%syt[%lld] = %s;", j ? " " : "",
                 (long long)(i * cd->osz + j), chain);
      free(chain);
      free(v);
    }
    em(e, "%s", s.s);
    buf_free(&s);
  }
  em(e, "}");
}

/* The tiles of one block of nc channels over the interior. */
static void emit_positions(Emit *e, const Op *op, const ConvDims *cd,
                           const Geo *g, int64_t nc, const char *bn) {
  int64_t lo = g->lo[1], run = g->hi[1] - g->lo[1];
  int64_t np = run < REGS_NP ? run : REGS_NP, nt = run / np, tail = run % np;
  if (cd->nsp == 3)
    em(e, "for (int od = %lld; od < %lld; od++) {", (long long)g->dlo,
       (long long)g->dhi);
  if (cd->nsp >= 2)
    em(e, "for (int oy = %lld; oy < %lld; oy++) {", (long long)g->lo[0],
       (long long)g->hi[0]);
  if (nt > 1)
    em(e, "for (int ox = %lld; ox < %lld; ox += %lld) {", (long long)lo,
       (long long)(lo + nt * np), (long long)np);
  else
    em(e, "{ const int ox = %lld;", (long long)lo);
  emit_tile(e, op, cd, g, nc, np, bn);
  em(e, "}");
  /* a fused pool's windows all start in the full tiles: no tail */
  if (tail && !(op->pooled && tail < pool_window(op, op + 1))) {
    em(e, "{ const int ox = %lld;", (long long)(lo + nt * np));
    emit_tile(e, op, cd, g, nc, tail, bn);
    em(e, "}");
  }
  if (cd->nsp >= 2) em(e, "}");
  if (cd->nsp == 3) em(e, "}");
}

static void regs_emit(Emit *e, const Op *op) {
  ConvDims cd;
  conv_dims(op->main, &cd);
  Geo g;
  regs_geometry(&cd, e->p->target, &g);
  const char *wn = op_array(op, "weight_packed"), *bn = op_array(op, "bias");
  int64_t nc = cd.ocg < REGS_NC ? cd.ocg : REGS_NC, nfull = cd.ocg / nc;
  int64_t rem = cd.ocg % nc, per = cd.icg * cd.ksz;
  cd.ocb = nc;
  conv_open(e, op, &cd);
  if (op->pooled && cd.n > 1)
    em(e, "(void)yn; /* the tiles store the pooled sample at y + n * %lld */",
       (long long)(cd.oc * (g.OW / pool_window(op, op + 1))));
  em_for(e, "g", cd.groups, "group");
  em(e, "const float *xg = xp + g * %lld;", (long long)(cd.icg * cd.xsz));
  em_for(e, "ob", nfull, "block of output channels");
  em(e, "const int o0 = g * %lld + ob * %lld;", (long long)cd.ocg,
     (long long)nc);
  em(e, "const float *wb = %s + o0 * %lld;", wn, (long long)per);
  emit_positions(e, op, &cd, &g, nc, bn);
  em(e, "}");
  if (rem) {
    em(e, "{ /* the last %lld output channels of the group */",
       (long long)rem);
    em(e, "const int o0 = g * %lld + %lld;", (long long)cd.ocg,
       (long long)(nfull * nc));
    em(e, "const float *wb = %s + o0 * %lld;", wn, (long long)per);
    emit_positions(e, op, &cd, &g, rem, bn);
    em(e, "}");
  }
  em(e, "}");
  if (g.border) { /* whole depth slices before and after, then whole
                   * rows above and below, then the row ends */
    int64_t a[3], b[3];
    int y = cd.nsp - 2, x = cd.nsp - 1;
    if (cd.nsp == 3) {
      a[1] = 0, b[1] = g.OH, a[2] = 0, b[2] = g.OW;
      if (g.dlo > 0)
        a[0] = 0, b[0] = g.dlo,
        conv_direct_loops(e, op, &cd, wn, 1, bn, a, b);
      if (g.dhi < g.OD)
        a[0] = g.dhi, b[0] = g.OD,
        conv_direct_loops(e, op, &cd, wn, 1, bn, a, b);
      a[0] = g.dlo, b[0] = g.dhi;
    }
    if (cd.nsp >= 2) {
      a[x] = 0, b[x] = g.OW;
      if (g.lo[0] > 0)
        a[y] = 0, b[y] = g.lo[0],
        conv_direct_loops(e, op, &cd, wn, 1, bn, a, b);
      if (g.hi[0] < g.OH)
        a[y] = g.hi[0], b[y] = g.OH,
        conv_direct_loops(e, op, &cd, wn, 1, bn, a, b);
      a[y] = g.lo[0], b[y] = g.hi[0];
    }
    if (g.lo[1] > 0)
      a[x] = 0, b[x] = g.lo[1], conv_direct_loops(e, op, &cd, wn, 1, bn, a, b);
    if (g.hi[1] < g.OW)
      a[x] = g.hi[1], b[x] = g.OW,
      conv_direct_loops(e, op, &cd, wn, 1, bn, a, b);
  }
  conv_close(e, &cd);
}

const Kernel kernel_conv_regs = {"conv-regs",     KERNELS_FAST, regs_fits,
                                 regs_scratch,    regs_code_bytes,
                                 regs_pack,       regs_emit};
