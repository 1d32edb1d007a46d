/* kernels/jit_conv_blocked.c: what modelc run's TinyCC compiles in place
 * of a blocked convolution (kernels/conv_blocked.c).
 *
 * TinyCC would compile the blocked kernel's portable tiles with every
 * accumulator in memory. Here the interior is one call per block of
 * output channels (per output row in 2-D) to the host microkernel
 * mcj_conv_block (jit_kernels.c, gcc's vector code), given the taps in
 * the order the blocked tiles take them (open_tap_loops): input channel
 * outer, then kx inner to ky, or the stride phases r then m. Everything
 * else is printed as the blocked kernel prints it: the padded copy, the
 * stride phases (2-D: of the padded input, or its shifted planes;
 * conv_blocked_copy), the border's direct loops. So each output is the same
 * sum in the same order, and the JIT's bits stay the generated C's.
 *
 * Not a lowering of its own: lower.c stores it in op->jit_kernel for an
 * op whose kernel is conv-blocked, the weights packed by that kernel. */
#include "kernels/conv.h"

#include <limits.h>
#include <stdlib.h>

/* The floats between stride phases of one input channel (S > 1). */
static int64_t phase_len(const ConvDims *cd) {
  int64_t S = cd->t.S[0];
  return (cd->t.I[0] + S - 1) / S;
}

/* The taps in the blocked tiles' order, as pairs (offset into the input
 * channel from the tile's position, tap index into the packed weights);
 * returns how many. tap holds 2 * ksz ints. */
static int tap_list(const ConvDims *cd, int64_t *tap) {
  int n = 0;
  if (cd->nsp == 2) { /* ky, kx; a row's own offset is added per call */
    int64_t I1 = cd->t.I[1], S0 = cd->t.S[0], S1 = cd->t.S[1];
    for (int64_t ky = 0; ky < cd->t.K[0]; ky++)
      for (int64_t kx = 0; kx < cd->t.K[1]; kx++, n++) {
        if (cd->shifted) /* plane (kx, ky % S0), ky / S0 rows down */
          tap[2 * n] = (kx * cd->ph[0] + ky % S0) * cd->u[0] * cd->t.O[1] +
                       ky / S0 * cd->t.O[1];
        else if (cd->phases) /* phase (ky % S0, kx % S1) */
          tap[2 * n] = ((ky % S0) * cd->ph[1] + kx % S1) * cd->u[0] *
                           cd->u[1] + ky / S0 * cd->u[1] + kx / S1;
        else
          tap[2 * n] = (ky * cd->t.D[0] - cd->t.P[0]) * I1 +
                       kx * cd->t.D[1] - cd->t.P[1];
        tap[2 * n + 1] = ky * cd->t.K[1] + kx;
      }
    return n;
  }
  int64_t S = cd->t.S[0], D = cd->t.D[0], P = cd->t.P[0], K = cd->t.K[0];
  int64_t u = phase_len(cd);
  if (S > 1 && D == 1 && P == 0) { /* phase r, then m: tap m * S + r */
    for (int64_t r = 0; r < S; r++)
      for (int64_t m = 0; m * S + r < K; m++, n++)
        tap[2 * n] = r * u + m, tap[2 * n + 1] = m * S + r;
    return n;
  }
  for (int64_t k = 0; k < K; k++, n++) {
    int64_t q = k * D - P;
    if (S == 1) {
      tap[2 * n] = q;
    } else if (P == 0) {
      tap[2 * n] = q % S * u + q / S;
    } else {
      int64_t r = (q % S + S) % S;
      tap[2 * n] = r * u + (q - r) / S;
    }
    tap[2 * n + 1] = k;
  }
  return n;
}

static int fits_int(int64_t v) { return v > -INT_MAX / 2 && v < INT_MAX / 2; }

static int jit_blocked_fits(const Program *p, const Op *op, Target t,
                            char *why, size_t n) {
  (void)p;
  /* the generic target's tiles add a * b + c as written; cortex-m ones
   * may fuse */
  if (t != TARGET_GENERIC || !conv_is(op)) return 0;
  int relu = op->nact == 1 && (op->act[0]->kind->flags & KF_RELU);
  if (op->nact && !relu) return 0;
  ConvDims cd;
  conv_blocked_dims(op->main, &cd);
  if (cd.nsp > 2) return 0;
  int64_t *tap = mc_alloc(sizeof(int64_t) * 2 * (size_t)cd.ksz);
  int nt = tap_list(&cd, tap), ok = 1;
  for (int i = 0; i < 2 * nt; i++) ok &= fits_int(tap[i]);
  free(tap);
  int64_t xs = cd.t.S[0] > 1 && cd.nsp == 1 ? cd.t.S[0] * phase_len(&cd)
                                             : cd.xsz;
  ok &= fits_int(xs * cd.c) && fits_int(cd.osz * cd.oc) &&
        fits_int(cd.icg * cd.ksz * cd.oc);
  if (ok)
    snprintf(why, n, "the interior's tiles through the host microkernel "
             "mcj_conv_block");
  return ok;
}

/* One call for the block at o0 of `width` channels; yoff and xoff move
 * to an output row (2-D, not wide). */
static void call_block(Emit *e, const Op *op, const ConvDims *cd,
                       const char *wn, const char *bn, const char *width,
                       const char *yoff, const char *xoff, int nt, int64_t xs,
                       int64_t p0, int64_t p1, int64_t iw, int64_t ow) {
  int relu = op->nact == 1;
  char *b = bn ? mc_format("%s + o0", bn) : mc_strdup("(const float *)0");
  em(e, "/* y, x, w, b, taps, nc, nt, kw, width, xs, ys, p0, p1, iw, ow, "
     "relu */");
  em(e, "mcj_conv_block(yn + o0 * %lld%s, xg%s, %s + o0 * %lld, %s, taps,",
     (long long)cd->osz, yoff, xoff, wn, (long long)(cd->icg * cd->ksz), b);
  em(e, "    %lld, %d, %lld, %s, %lld, %lld, %lld, %lld, %lld, %lld, %d);",
     (long long)cd->icg, nt, (long long)cd->ksz, width, (long long)xs,
     (long long)cd->osz, (long long)p0, (long long)p1, (long long)iw,
     (long long)ow, relu);
  free(b);
}

static void jit_blocked_emit(Emit *e, const Op *op) {
  ConvDims cd;
  conv_blocked_dims(op->main, &cd);
  int64_t lo[2] = {0, 0}, hi[2] = {0, 0};
  int border, x = cd.nsp - 1;
  conv_blocked_geometry(&cd, lo, hi, &border);
  int split = cd.phases || cd.shifted; /* 2-D: the input read from tmp */
  const char *wn = op_array(op, "weight_packed"), *bn = op_array(op, "bias");
  int64_t S = cd.t.S[x], ocg = cd.ocg;
  int64_t ocb = ocg < CONV_OCB ? ocg : CONV_OCB, nfull = ocg / ocb;
  int64_t rem = ocg % ocb;
  int64_t xs = S > 1 && !split ? S * phase_len(&cd) : cd.xsz;
  conv_open(e, op, &cd);
  conv_blocked_copy(e, op, &cd);
  if (S > 1 && !split) { /* as the blocked kernel splits it */
    int64_t u = phase_len(&cd);
    em(e, "/* the input split into its %lld stride phases: tmp[c][r][u] = "
       "x[c][u * %lld + r] */", (long long)S, (long long)S);
    em(e, "for (int c = 0; c < %lld; c++)", (long long)cd.c);
    em(e, "  for (int r = 0; r < %lld; r++)", (long long)S);
    em(e, "    for (int u = 0; u * %lld + r < %lld; u++)", (long long)S,
       (long long)cd.t.I[0]);
    em(e, "      tmp[(c * %lld + r) * %lld + u] = xp[c * %lld + u * %lld + "
       "r];", (long long)S, (long long)u, (long long)cd.t.I[0],
       (long long)S);
  }
  int64_t *tap = mc_alloc(sizeof(int64_t) * 2 * (size_t)cd.ksz);
  int nt = tap_list(&cd, tap);
  em(e, "/* the interior on the host (mcj_conv_block): per tap in the order "
     "the blocked");
  em(e, " * tiles add them, its offset in the input channel and its index "
     "in the weights */");
  em(e, "static const int taps[%d] = {", 2 * nt);
  for (int i = 0; i < nt; i += 8) { /* 8 taps to a line */
    Buf tb = {0};
    for (int k = i; k < nt && k < i + 8; k++)
      buf_printf(&tb, "%s%lld, %lld,", k > i ? " " : "",
                 (long long)tap[2 * k], (long long)tap[2 * k + 1]);
    em(e, "  %s", tb.s);
    buf_free(&tb);
  }
  em(e, "};");
  free(tap);
  if (cd.groups > 1) {
    em_for(e, "g", cd.groups, "group");
    em(e, "const float *xg = %s + g * %lld;", S > 1 || split ? "tmp" : "xp",
       (long long)(cd.icg * xs));
  } else {
    em(e, "{");
    em(e, "const float *xg = %s;", S > 1 || split ? "tmp" : "xp");
  }
  /* the tile positions: as wide rows, one row at a time, or along x */
  int64_t p0 = lo[x], p1 = hi[x], iw = hi[x], ow = hi[x];
  if (cd.wide) {
    int64_t rw = conv_blocked_row(&cd);
    p0 = lo[0] * rw;
    p1 = (hi[0] - 1) * rw + cd.t.O[1];
    iw = rw, ow = cd.t.O[1];
    if (rw == cd.t.O[1]) /* every column kept: one run, stored whole */
      iw = ow = p1;
  }
  for (int part = 0; part < 2; part++) {
    int64_t width = part ? rem : ocb, count = part ? 1 : nfull;
    if (!width || !count) continue;
    int64_t start = part ? nfull * ocb : 0;
    char *what = mc_format("%lld output channels", (long long)width);
    em_for(e, "ob", count, what);
    free(what);
    char *gexpr = cd.groups > 1 ? mc_format("g * %lld + ", (long long)ocg)
                                : mc_strdup("");
    if (start)
      em(e, "const int o0 = %s%lld + ob * %lld;", gexpr, (long long)start,
         (long long)width);
    else
      em(e, "const int o0 = %sob * %lld;", gexpr, (long long)width);
    free(gexpr);
    char *ws = mc_format("%lld", (long long)width);
    if (x == 1 && !cd.wide) {
      em(e, "for (int oy = %lld; oy < %lld; oy++) /* output row */",
         (long long)lo[0], (long long)hi[0]);
      char *yoff = mc_format(" + oy * %lld", (long long)cd.t.O[1]);
      char *xoff = mc_format(" + oy * %lld", (long long)(cd.phases
                                 ? cd.u[1] : cd.t.S[0] * cd.t.I[1]));
      e->depth++;
      call_block(e, op, &cd, wn, bn, ws, yoff, xoff, nt, xs, p0, p1, p1, p1);
      e->depth--;
      free(yoff);
      free(xoff);
    } else {
      call_block(e, op, &cd, wn, bn, ws, "", "", nt, xs, p0, p1, iw, ow);
    }
    free(ws);
    em(e, "}");
  }
  em(e, "}");
  if (border) { /* as the blocked kernel: rows above and below, row ends */
    int64_t a[2], b[2];
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

const Kernel kernel_jit_conv_blocked = {
    "jit-conv-blocked", 0, jit_blocked_fits, NULL, NULL, NULL,
    jit_blocked_emit};
