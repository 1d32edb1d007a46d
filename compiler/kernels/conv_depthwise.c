/* kernels/conv_depthwise.c: a depthwise convolution (one input and one
 * output channel per group), 1-D or 2-D, stride 1 or 2.
 *
 * Per channel, the input plane is first copied into scratch inside its
 * border of zero padding, so no tap needs a test (with a stride of 2, as
 * its stride phases: even and odd rows, even and odd columns, so every
 * tap reads contiguous floats); then each output is its bias plus every
 * tap's product, the taps written out in order into one local sum. The
 * outputs run as one loop over rows as wide as the padded plane's, or a
 * phase's (p = oy * W2 + ox, the columns past OW computed and dropped),
 * so the loop is long and contiguous even for narrow planes. Where the
 * compiler targets AVX-512 that loop is 16 wide outputs a vector, 4
 * vectors side by side, the taps along a row shifted out of the row's
 * loaded vectors; each vector's lanes inside the output columns are
 * compressed straight into the output rows (narrow planes: 5, 6 or 3
 * columns of 7, 8 or 5); the next channel's plane is copied while this
 * one is read. But planes of stride 1 whose output rows are as wide as
 * the input's (a DS-CNN's 25 x 5, MobileNet's 48 x 48 down to 6 x 6) are
 * read in place instead, flattened (emit_flat): each tap is one offset
 * from the output, the lanes that fall outside the plane or its row
 * zeroed by a mask, so no copy and no padded columns; with a stride of
 * 2 (MobileNet's 48 x 48 to 24 x 24), the same over the plane's 4 stride
 * phases, copied. Other narrow output rows (under 16 columns: 6 x 6 with
 * a stride, or 3 x 3 planes) of 16 channels or a multiple put 16
 * channels in the vector lanes (emit_lanes): no padded columns computed,
 * no shifts, the planes transposed in and out 16 x 16 in registers.
 * Elsewhere (and under TinyCC) the portable loop computes into scratch,
 * then copies the output columns. Every output adds in
 * the same order on every path, so the paths agree bit for bit where
 * both fuse (or both do not fuse) the multiply-adds. */
#include "kernels/conv.h"

#include "layers/layers.h"

#include <stdlib.h>
#include <string.h>

#define DW_MAX_TAPS 64 /* taps written out per output */
#define DW_HELD_TAPS 16 /* AVX-512: taps whose weights stay in registers */
#define DW_VECS 4 /* AVX-512: wide vectors summed side by side */

/* The 2-D view of the convolution: a 1-D one is a plane of one row.
 * With a stride the padded plane is kept as its sy x sx stride phases,
 * phase (a, b) holding rows a, a + sy, ... and columns b, b + sx, ...
 * (h2 x w2 each); output (oy, ox) then reads, for each tap, one phase at
 * (oy + ky * dy / sy, ox + kx * dx / sx): contiguous across ox. With
 * stride 1 the one phase is the padded plane. */
typedef struct DwDims {
  int64_t ih, iw, oh, ow, kh, kw, sy, sx, dy, dx, py, px, ph, pw;
  int64_t h2, w2, nph; /* a phase's rows and columns; sy * sx phases */
  int64_t nw;          /* wide outputs: p = oy * w2 + ox < nw */
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
  d->h2 = (d->ph + d->sy - 1) / d->sy;
  d->w2 = (d->pw + d->sx - 1) / d->sx;
  d->nph = d->sy * d->sx;
  d->nw = (d->oh - 1) * d->w2 + d->ow;
}

/* Where tap (ky, kx) of wide output 0 reads: its phase's first float
 * (phases `apart` floats apart) plus its offset inside the phase. */
static int64_t tap_at(const DwDims *d, int64_t ky, int64_t kx,
                      int64_t apart) {
  int64_t ry = ky * d->dy, rx = kx * d->dx;
  return ((ry % d->sy) * d->sx + rx % d->sx) * apart + ry / d->sy * d->w2 +
         rx / d->sx;
}

/* AVX-512 with 16 channels in the vector lanes: a 2-D convolution of
 * narrow output rows (which the wide rows would pad by a third or more),
 * channels a multiple of 16, at most 16 taps (one transpose gives their
 * weights), the padded plane of a block of 16 channels at most 64 KiB. */
static int lanes_fit(const Layer *l, const DwDims *d) {
  return l->kind->nsp == 2 && l->a.in % 16 == 0 && d->ow < 16 &&
         d->kh * d->kw <= 16 && d->ph * d->pw <= 1024;
}

/* The vectors of outputs after which a row of OW columns is back at the
 * same lane: lcm(OW, 16) / 16. */
static int64_t flat_period(int64_t ow) {
  int64_t g = 16;
  while (ow % g) g /= 2;
  return ow / g;
}

/* AVX-512 over the flattened plane: a 2-D convolution whose output rows
 * are as wide as the input's (stride 1) or as its even and odd columns
 * (stride 2 of an even plane, read as its four stride phases), so output
 * q reads, for each tap, one plane at q plus one constant offset (the
 * lanes whose tap falls outside the input zeroed by a mask); 32 outputs
 * or more (64 with a stride); up to 256 with every vector written out,
 * more when the lanes line up with the rows again within 8 vectors (the
 * blocks between the first and last rows are then one loop). */
static int flat_fit(const Layer *l, const DwDims *d) {
  int64_t n = d->oh * d->ow, s = d->sy;
  /* (a stride's copy into phases costs more than it saves on the few
   * outputs of 6 x 6) */
  if (l->kind->nsp != 2 || d->sx != s || n < (s > 1 ? 64 : 32)) return 0;
  if (s == 1 ? d->ow != d->iw
             : d->ih % 2 || d->iw % 2 || d->ow != d->iw / 2)
    return 0;
  /* the taps' offsets span at most 16 vectors: a block's plane vectors
   * stay near its sums (a wide dilation keeps the padded rows) */
  if ((d->kh - 1) * d->dy / s * d->ow + (d->kw - 1) * d->dx / s > 256)
    return 0;
  return n <= 256 || flat_period(d->ow) <= 8;
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
  if (d.sy > 2 || d.sx > 2) return 0;
  if (flat_fit(l, &d))
    snprintf(why, n, "depthwise: per channel, the plane flattened (where "
             "the compiler targets AVX-512%s), 16 outputs a vector, each "
             "one sum of its %lld taps read at one offset from it, the "
             "taps outside the plane or its row masked to zero",
             d.sy > 1 ? ", as its 4 stride phases" : "",
             (long long)(d.kh * d.kw));
  else if (lanes_fit(l, &d))
    snprintf(why, n, "depthwise: 16 channels in the vector lanes (where the "
             "compiler targets AVX-512), the zero-padded plane transposed "
             "into them, each output one sum of its %lld taps, transposed "
             "back", (long long)(d.kh * d.kw));
  else if (d.nph > 1)
    snprintf(why, n, "depthwise: per channel, the plane copied inside its "
             "zero padding as its %lld stride phases, each output one sum "
             "of its %lld taps over rows as wide as a phase's",
             (long long)d.nph, (long long)(d.kh * d.kw));
  else
    snprintf(why, n, "depthwise: per channel, the plane copied inside its "
             "zero padding, each output one sum of its %lld taps over rows "
             "as wide as the padded ones", (long long)(d.kh * d.kw));
  return 1;
}

static int64_t dw_scratch(const Op *op) {
  DwDims d;
  dw_dims(op->main, &d);
  /* portable: the phases and the wide rows; AVX-512: two sets of phases
   * (one filled while the other is read), phases 16 floats apart, the
   * last vectors reading up to 31 floats past them */
  int64_t plane = d.h2 * d.w2, portable = d.nph * plane + d.oh * d.w2,
          flat = d.sy > 1 ? 2 * (d.ih * d.iw + 64) : 0, /* 2 sets of phases */
          avx = flat_fit(op->main, &d)    ? flat
                : lanes_fit(op->main, &d) ? d.ph * d.pw * 16
                                          : 2 * d.nph * (plane + 16) + 32;
  return (portable > avx ? portable : avx) * (int64_t)sizeof(float);
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

/* The sum of the taps of wide output `at` (an expression), reading the
 * phases in tp. */
static void emit_sum(Emit *e, const DwDims *d, const char *at,
                     const char *bias) {
  em(e, "float s = %s;", bias);
  for (int64_t ky = 0; ky < d->kh; ky++)
    for (int64_t kx = 0; kx < d->kw; kx++) {
      int64_t off = tap_at(d, ky, kx, d->h2 * d->w2);
      if (off)
        em(e, "s = MC_FMA(wc[%lld], tp[%s + %lld], s);",
           (long long)(ky * d->kw + kx), at, (long long)off);
      else
        em(e, "s = MC_FMA(wc[%lld], tp[%s], s);",
           (long long)(ky * d->kw + kx), at);
    }
}

/* AVX-512: print `const __m512 lo = ..., hi = ...;`, floats i..i + 31
 * of a row of w at `row` (an expression), zeros past its end. */
static void emit_row32(Emit *e, const char *row, long long w, long long i) {
  char *v[2];
  for (int h = 0; h < 2; h++) {
    long long at = i + 16 * h, n = w - at < 16 ? w - at : 16;
    v[h] = n >= 16 ? mc_format("_mm512_loadu_ps(%s + %lld)", row, at)
           : n > 0 ? mc_format("_mm512_maskz_loadu_ps(0x%llx, %s + %lld)",
                               (1LL << n) - 1, row, at)
                   : mc_strdup("_mm512_setzero_ps()");
  }
  em(e, "const __m512 lo = %s, hi = %s;", v[0], v[1]);
  free(v[0]);
  free(v[1]);
}

/* AVX-512: copy channel `src` (an expression) of the input into the
 * phases at `dst` (`apart` floats apart), inside the zero border. Rows
 * are stored whole, in order: the zeros loaded past a row land on its
 * border and on rows stored after it (masked stores are slow on some
 * CPUs; masked loads are not). With a stride along the rows, 32 inputs
 * at a time split into their even and odd columns. */
static void emit_copy_avx512(Emit *e, const DwDims *d, const char *src,
                             const char *dst, int64_t apart) {
  long long IW = d->iw, W2 = d->w2, SY = d->sy, SX = d->sx;
  em(e, "for (int r = 0; r < %lld; r++) { /* %s */", (long long)d->ih,
     d->py || d->px || d->ph > d->ih || d->pw > d->iw
         ? "inside the zero border" : "each input row");
  if (SY == 1)
    em(e, "float *tr = %s + (r + %lld) * %lld;", dst, (long long)d->py, W2);
  else
    em(e, "float *tr = %s + (r + %lld) %% 2 * %lld + (r + %lld) / 2 * %lld; "
       "/* its row phase */", dst, (long long)d->py, (long long)(SX * apart),
       (long long)d->py, W2);
  if (SX == 1) {
    for (long long i = 0; i < IW; i += 16) {
      long long n = IW - i < 16 ? IW - i : 16;
      if (n == 16)
        em(e, "_mm512_storeu_ps(tr + %lld, _mm512_loadu_ps(%s + r * %lld + "
           "%lld));", (long long)d->px + i, src, IW, i);
      else
        em(e, "_mm512_storeu_ps(tr + %lld, _mm512_maskz_loadu_ps(0x%llx, "
           "%s + r * %lld + %lld));", (long long)d->px + i, (1LL << n) - 1,
           src, IW, i);
    }
  } else {
    /* input column 2m + t goes to padded column 2m + t + px: phase
     * (t + px) % 2, column m + (t + px) / 2 */
    long long even = d->px % 2 * apart + d->px / 2,
              odd = (d->px + 1) % 2 * apart + (d->px + 1) / 2;
    char *row = mc_format("%s + r * %lld", src, IW);
    for (long long i = 0; i < IW; i += 32) {
      em(e, "{ /* input columns %lld.. */", i);
      emit_row32(e, row, IW, i);
      em(e, "_mm512_storeu_ps(tr + %lld, _mm512_permutex2var_ps(lo, evens, "
         "hi));", even + i / 2);
      em(e, "_mm512_storeu_ps(tr + %lld, _mm512_permutex2var_ps(lo, odds, "
         "hi));", odd + i / 2);
      em(e, "}");
    }
    free(row);
  }
  em(e, "}");
}

/* Print a table of n numbers, 8 a line (hex: masks). */
static void emit_table(Emit *e, const char *type, const char *name,
                       const int64_t *v, int64_t n, int hex,
                       const char *what) {
  em(e, "static const %s %s[%lld] = { /* %s */", type, name, (long long)n,
     what);
  Buf b = {0};
  for (int64_t i = 0; i < n; i++) {
    buf_printf(&b, hex ? "0x%04llx," : "%lld,", (long long)v[i]);
    if (i % 8 == 7 || i == n - 1) {
      em(e, "%s", b.s);
      buf_free(&b);
      memset(&b, 0, sizeof b);
    } else {
      buf_printf(&b, " ");
    }
  }
  em(e, "};");
}

/* The sums of `u` wide vectors side by side (independent chains), from
 * vector v of the phases tq (`apart` floats apart), stored into the
 * channel's output rows. */
static void emit_vectors(Emit *e, const Op *op, const DwDims *d, int64_t u,
                         int held, int64_t nc, int64_t apart) {
  em(e, "const float *tv = tq + v * 16;");
  em(e, "__m512 s[%lld];", (long long)u);
  em(e, "for (int u = 0; u < %lld; u++) s[u] = bv;", (long long)u);
  /* Per tap row and column phase, u + 1 vectors loaded; a tap along the
   * row less than 16 columns into the phase is two of them shifted
   * (valignd), not one more (unaligned) load. */
  em(e, "__m512 x[%lld][%lld];", (long long)d->sx, (long long)u + 1);
  for (int64_t ky = 0; ky < d->kh; ky++) {
    for (int64_t b = 0; b < d->sx; b++) {
      int used = 0;
      for (int64_t kx = 0; kx < d->kw; kx++)
        used |= kx * d->dx % d->sx == b;
      if (!used) continue;
      int64_t ry = ky * d->dy, at = (ry % d->sy * d->sx + b) * apart +
                                    ry / d->sy * d->w2; /* its column 0 */
      em(e, "for (int u = 0; u < %lld; u++) x[%lld][u] = _mm512_loadu_ps(tv "
         "+ u * 16 + %lld); /* tap row %lld%s */", (long long)u + 1,
         (long long)b, (long long)at, (long long)ky,
         d->sx > 1 ? (b ? ", odd columns" : ", even columns") : "");
    }
    for (int64_t kx = 0; kx < d->kw; kx++) {
      int64_t k = ky * d->kw + kx, b = kx * d->dx % d->sx,
              off = kx * d->dx / d->sx;
      char *w = held ? mc_format("w%lld", (long long)k)
                     : mc_format("_mm512_set1_ps(wc[%lld])", (long long)k);
      char *xv = off == 0 ? mc_format("x[%lld][u]", (long long)b)
                 : off < 16 ? mc_format("mc_shift(x[%lld][u + 1], x[%lld][u], "
                                        "%lld)", (long long)b, (long long)b,
                                        (long long)off)
                 : mc_format("_mm512_loadu_ps(tv + u * 16 + %lld)",
                             (long long)tap_at(d, ky, kx, apart));
      em(e, "for (int u = 0; u < %lld; u++) s[u] = _mm512_fmadd_ps(%s, %s, "
         "s[u]);", (long long)u, w, xv);
      free(w);
      free(xv);
    }
  }
  em(e, "for (int u = 0; u < %lld; u++) {", (long long)u);
  if (em_acts_vec_ok(op)) {
    em_acts_vec(e, op, "s[u]");
  } /* else the activations once the channel's plane is stored
       (emit_avx512): a vector stored and read back as scalars stalls */
  em(e, "const __m512 o = _mm512_maskz_compress_ps(keep[v + u], s[u]);");
  int64_t ohw = d->oh * d->ow;
  if (nc * ohw >= 16) {
    em(e, "if (c * %lld + at[v + u] <= %lld) /* inside the sample's output: "
       "the lanes past, overwritten later */", (long long)ohw,
       (long long)(nc * ohw - 16));
    em(e, "  _mm512_storeu_ps(yc + at[v + u], o);");
    em(e, "else");
    em(e, "  _mm512_mask_storeu_ps(yc + at[v + u], put[v + u], o);");
  } else {
    em(e, "_mm512_mask_storeu_ps(yc + at[v + u], put[v + u], o);");
  }
  em(e, "}");
}

/* The AVX-512 path: per channel, the next channel's phases are filled
 * while this one's are read (a load of floats just stored waits for the
 * stores), then the wide outputs 16 at a time, each vector's lanes
 * inside the output columns compressed into the output rows (tables
 * keep, put and at, computed here). */
static void emit_avx512(Emit *e, const Op *op, const ConvDims *cd,
                        const DwDims *d, const char *wn, const char *bn) {
  int64_t W2 = d->w2, OW = d->ow, NW = d->nw;
  int64_t nv = (NW + 15) / 16, apart = d->h2 * d->w2 + 16,
          set = d->nph * apart;
  int64_t K = d->kh * d->kw;
  int held = K <= DW_HELD_TAPS;
  int64_t *keep = mc_alloc(sizeof(int64_t) * (size_t)nv);
  int64_t *put = mc_alloc(sizeof(int64_t) * (size_t)nv);
  int64_t *at = mc_alloc(sizeof(int64_t) * (size_t)nv);
  for (int64_t v = 0; v < nv; v++) {
    int64_t k = 0, n = 0, p0 = v * 16;
    for (int64_t i = 0; i < 16 && p0 + i < NW; i++)
      if ((p0 + i) % W2 < OW) k |= (int64_t)1 << i, n++;
    keep[v] = k;
    put[v] = ((int64_t)1 << n) - 1;
    at[v] = p0 / W2 * OW + (p0 % W2 < OW ? p0 % W2 : OW);
  }
  emit_table(e, "unsigned short", "keep", keep, nv, 1,
             "the lanes of wide vector v inside the output columns");
  emit_table(e, "unsigned short", "put", put, nv, 1,
             "as many lanes, first");
  emit_table(e, "int", "at", at, nv, 0, "where they go in the output");
  free(keep), free(put), free(at);
  em(e, "/* mc_shift(b, a, k): lanes k..15 of a, then 0..k-1 of b */");
  em(e, "#define mc_shift(b, a, k) _mm512_castsi512_ps(_mm512_alignr_epi32("
     "_mm512_castps_si512(b), _mm512_castps_si512(a), k))");
  if (d->sx > 1)
    em(e, "const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, "
       "16, 14, 12, 10, 8, 6, 4, 2, 0), odds = _mm512_set_epi32(31, 29, 27, "
       "25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);");
  em(e, "for (int i = 0; i < %lld; i++) tmp[i] = 0.0f; /* two sets of %s */",
     (long long)(2 * set), d->nph > 1 ? "phases" : "planes");
  emit_copy_avx512(e, d, "xp", "tmp", apart);
  em_for(e, "c", cd->c, "channel");
  em(e, "const float *tq = tmp + (c & 1) * %lld, *wc = %s + c * %lld;",
     (long long)set, wn, (long long)K);
  em(e, "float *yc = yn + c * %lld;", (long long)(d->oh * d->ow));
  em(e, "if (c + 1 < %lld) { /* the next channel into the other set */",
     (long long)cd->c);
  em(e, "const float *xc = xp + (c + 1) * %lld;", (long long)(d->ih * d->iw));
  em(e, "float *tn = tmp + ((c + 1) & 1) * %lld;", (long long)set);
  emit_copy_avx512(e, d, "xc", "tn", apart);
  em(e, "}");
  char *bias = bn ? mc_format("%s[c]", bn) : mc_strdup("0.0f");
  em(e, "const __m512 bv = _mm512_set1_ps(%s);", bias);
  free(bias);
  if (held) {
    Buf b = {0};
    for (int64_t k = 0; k < K; k++)
      buf_printf(&b, "%s%sw%lld = _mm512_set1_ps(wc[%lld])",
                 k ? "," : "", k && k % 3 == 0 ? "\n    " : k ? " " : "",
                 (long long)k, (long long)k);
    em(e, "const __m512 %s;", b.s);
    buf_free(&b);
  }
  int64_t full = nv / DW_VECS * DW_VECS;
  if (full) {
    em(e, "for (int v = 0; v < %lld; v += %d) { /* wide outputs 16v.. */",
       (long long)full, DW_VECS);
    emit_vectors(e, op, d, DW_VECS, held, cd->c, apart);
    em(e, "}");
  }
  if (full < nv) {
    em(e, "for (int v = %lld; v < %lld; v++) {", (long long)full,
       (long long)nv);
    emit_vectors(e, op, d, 1, held, cd->c, apart);
    em(e, "}");
  }
  if (op->nact && !em_acts_vec_ok(op)) {
    char *chain = em_act_chain(e, op, "yc[i]");
    em(e, "for (int i = 0; i < %lld; i++) yc[i] = %s; /* the plane is "
       "stored */", (long long)(d->oh * d->ow), chain);
    free(chain);
  }
  em(e, "}");
  em(e, "#undef mc_shift");
}

/* Open the part-th loop over groups of 16 of n items from v (part 0: the
 * whole groups; part 1: the rest, one block); returns the items per
 * group, or 0 if that part is empty (nothing printed). Counts are
 * constants, so the groups' vector arrays stay in registers. */
static long long open_groups(Emit *e, const char *v, long long n, int part,
                             const char *what) {
  long long full = n / 16 * 16, k = part ? n - full : 16;
  if (part ? k == 0 : full == 0) return 0;
  if (part)
    em(e, "{ const int %s = %lld; /* the last %lld %s */", v, full, k, what);
  else
    em(e, "for (int %s = 0; %s < %lld; %s += 16) { /* 16 %s */", v, v, full, v,
       what);
  return k;
}

/* AVX-512, 16 channels in the vector lanes: per block of 16 channels,
 * the block's plane transposed 16 inputs at a time into tl, the padded
 * plane with a channel per lane (its zero border written once), then
 * each output the sum of its taps over tl's vectors, 16 outputs
 * transposed back into the 16 output planes. Each output adds the bias
 * and then its taps in order, as the portable loops do. */
static void emit_lanes(Emit *e, const Op *op, const ConvDims *cd,
                       const DwDims *d, const char *wn, const char *bn) {
  long long PW = d->pw, ISZ = d->ih * d->iw, OSZ = d->oh * d->ow,
            K = d->kh * d->kw;
  int64_t *at = mc_alloc(sizeof(int64_t) * (size_t)(ISZ > OSZ ? ISZ : OSZ));
  for (int64_t i = 0; i < ISZ; i++)
    at[i] = (i / d->iw + d->py) * PW + i % d->iw + d->px;
  emit_table(e, "int", "at_x", at, ISZ, 0, "input i's padded position");
  for (int64_t q = 0; q < OSZ; q++)
    at[q] = q / d->ow * d->sy * PW + q % d->ow * d->sx;
  emit_table(e, "int", "at_y", at, OSZ, 0,
             "padded position of output q's first tap");
  free(at);
  em(e, "float *tl = tmp; /* [padded position][16 channels] */");
  em(e, "for (int i = 0; i < %lld; i++) tl[i] = 0.0f;",
     (long long)(d->ph * PW * 16));
  em(e, "for (int c0 = 0; c0 < %lld; c0 += 16) { /* 16 channels */",
     (long long)cd->c);
  em(e, "__m512 a[16], b[16], w[%lld];", K);
  em(e, "for (int k = 0; k < 16; k++) a[k] = _mm512_maskz_loadu_ps(0x%llx, "
     "%s + (c0 + k) * %lld);", (1ULL << K) - 1, wn, K);
  em_transpose16(e);
  em(e, "for (int t = 0; t < %lld; t++) w[t] = a[t]; /* tap t, lane j: "
     "channel c0 + j */", K);
  char *bv = bn ? mc_format("_mm512_loadu_ps(%s + c0)", bn)
                : mc_strdup("_mm512_setzero_ps()");
  em(e, "const __m512 bv = %s;", bv);
  free(bv);
  /* the plane into the lanes, 16 inputs at a time: whole groups, then the
   * rest (loops of constant counts, so a[] stays in registers) */
  for (int part = 0; part < 2; part++) {
    long long ni = open_groups(e, "i0", ISZ, part, "inputs");
    if (!ni) continue;
    if (ni == 16)
      em(e, "for (int k = 0; k < 16; k++) a[k] = _mm512_loadu_ps(xp + (c0 + "
         "k) * %lld + i0);", ISZ);
    else
      em(e, "for (int k = 0; k < 16; k++) a[k] = _mm512_maskz_loadu_ps(0x%llx, "
         "xp + (c0 + k) * %lld + i0);", (1ULL << ni) - 1, ISZ);
    em_transpose16(e);
    em(e, "for (int j = 0; j < %lld; j++) _mm512_storeu_ps(tl + at_x[i0 + j] "
       "* 16, a[j]);", ni);
    em(e, "}");
  }
  for (int part = 0; part < 2; part++) { /* whole groups of 16, the rest */
    long long nq = open_groups(e, "q0", OSZ, part, "outputs");
    if (!nq) continue;
    for (long long r = 0; r < 16; r++) { /* unrolled: a[] stays in registers */
      if (r >= nq) {
        em(e, "a[%lld] = _mm512_setzero_ps();", r);
        continue;
      }
      em(e, "{ /* output q0 + %lld */", r);
      em(e, "const float *tq = tl + at_y[q0 + %lld] * 16;", r);
      em(e, "__m512 s = bv;");
      for (int64_t ky = 0; ky < d->kh; ky++)
        for (int64_t kx = 0; kx < d->kw; kx++)
          em(e, "s = _mm512_fmadd_ps(w[%lld], _mm512_loadu_ps(tq + %lld), "
             "s);", (long long)(ky * d->kw + kx),
             (long long)((ky * d->dy * PW + kx * d->dx) * 16));
      if (em_acts_vec_ok(op)) em_acts_vec(e, op, "s");
      em(e, "a[%lld] = s;", r);
      em(e, "}");
    }
    em_transpose16(e);
    if (nq == 16)
      em(e, "for (int j = 0; j < 16; j++) _mm512_storeu_ps(yn + (c0 + j) * "
         "%lld + q0, a[j]);", OSZ);
    else
      em(e, "for (int j = 0; j < 16; j++) _mm512_mask_storeu_ps(yn + (c0 + "
         "j) * %lld + q0, 0x%llx, a[j]);", OSZ, (1ULL << nq) - 1);
    em(e, "}");
  }
  em(e, "}");
  if (op->nact && !em_acts_vec_ok(op)) {
    char *chain = em_act_chain(e, op, "yn[i]");
    em(e, "for (int i = 0; i < %lld; i++) yn[i] = %s; /* the planes are "
       "stored */", (long long)(cd->c * OSZ), chain);
    free(chain);
  }
}

/* Floor division (offsets may be negative). */
static int64_t floordiv(int64_t a, int64_t b) {
  return a >= 0 ? a / b : -((b - 1 - a) / b);
}

/* The flattened planes (flat_fit): tap k reads plane plane[k] (the input
 * channel; with a stride of 2, its phase of even or odd rows and
 * columns) at output q + off[k]; each plane n floats. */
typedef struct Flat {
  const DwDims *d;
  int64_t s, no, n, nv, k;
  int64_t *plane, *off;
} Flat;

/* The lanes of output vector v whose tap k is inside the input. */
static int64_t flat_mask(const Flat *f, int64_t v, int64_t k) {
  const DwDims *d = f->d;
  int64_t ky = k / d->kw, kx = k % d->kw, m = 0;
  for (int64_t i = 0; i < 16; i++) {
    int64_t q = 16 * v + i, oy = q / d->ow, ox = q % d->ow;
    int64_t iy = oy * f->s + ky * d->dy - d->py,
            ix = ox * f->s + kx * d->dx - d->px;
    if (q < f->no && iy >= 0 && iy < d->ih && ix >= 0 && ix < d->iw)
      m |= (int64_t)1 << i;
  }
  return m;
}

/* Plane n's floats at vb + at (a string: its address). */
static char *flat_at(const Flat *f, int64_t n, int64_t at) {
  char *base = f->s > 1 ? mc_format("tq + %lld", (long long)(n * (f->n + 16)))
                        : mc_strdup("xc");
  char *s = at ? mc_format("%s + vb %c %lld", base, at < 0 ? '-' : '+',
                           (long long)(at < 0 ? -at : at))
               : mc_format("%s + vb", base);
  free(base);
  return s;
}

/* The sums of output vectors v0 .. v0 + u - 1, into the channel's output
 * at yc; every address relative to vb, the block's first output (so two
 * blocks print the same text when they differ only there). Taps
 * alternate between an unaligned (masked) load and a shift of the
 * planes' vectors p[] (zeros past a plane), balancing the load ports
 * against the shuffle unit. */
static void flat_block(Emit *e, const Op *op, const Flat *f, int64_t v0,
                       int64_t u) {
  /* the planes' vectors the shifted taps read: (plane, vector j) */
  int64_t np = 0, *pn = NULL, *pj = NULL;
  for (int64_t k = 0; k < f->k; k += 2)
    for (int64_t v = v0; v < v0 + u; v++)
      for (int64_t h = 0; h < 2; h++) {
        int64_t j = floordiv(16 * v + f->off[k], 16) + h, i = 0;
        while (i < np && (pn[i] != f->plane[k] || pj[i] != j)) i++;
        if (i < np) continue;
        pn = mc_realloc(pn, sizeof(int64_t) * (size_t)(np + 1));
        pj = mc_realloc(pj, sizeof(int64_t) * (size_t)(np + 1));
        pn[np] = f->plane[k], pj[np++] = j;
      }
  em(e, "__m512 p[%lld], s[%lld];", (long long)np, (long long)u);
  for (int64_t i = 0; i < np; i++) {
    int64_t lo = 16 * pj[i], m = 0;
    for (int64_t t = 0; t < 16; t++)
      if (lo + t >= 0 && lo + t < f->n) m |= (int64_t)1 << t;
    char *at = flat_at(f, pn[i], lo - 16 * v0);
    if (!m)
      em(e, "p[%lld] = _mm512_setzero_ps();", (long long)i);
    else if (m == 0xffff)
      em(e, "p[%lld] = _mm512_loadu_ps(%s);", (long long)i, at);
    else
      em(e, "p[%lld] = _mm512_maskz_loadu_ps(0x%04llx, %s);", (long long)i,
         (long long)m, at);
    free(at);
  }
  em(e, "for (int u = 0; u < %lld; u++) s[u] = bv;", (long long)u);
  for (int64_t k = 0; k < f->k; k++) {
    em(e, "{ /* tap %lld (%lld, %lld) */", (long long)k,
       (long long)(k / f->d->kw), (long long)(k % f->d->kw));
    em(e, "const __m512 w = _mm512_set1_ps(wc[%lld]);", (long long)k);
    for (int64_t v = v0; v < v0 + u; v++) {
      int64_t m = flat_mask(f, v, k), at = 16 * v + f->off[k],
              j = floordiv(at, 16), sh = at - 16 * j, i0 = 0, i1 = 0;
      char *xv;
      if (k % 2) { /* a load */
        char *a = flat_at(f, f->plane[k], at - 16 * v0);
        xv = m == 0xffff ? mc_format("_mm512_loadu_ps(%s)", a)
             : m ? mc_format("_mm512_maskz_loadu_ps(0x%04llx, %s)",
                             (long long)m, a)
                 : mc_strdup("_mm512_setzero_ps()");
        free(a);
      } else {
        while (pn[i0] != f->plane[k] || pj[i0] != j) i0++;
        while (pn[i1] != f->plane[k] || pj[i1] != j + 1) i1++;
        xv = sh == 0 ? (m == 0xffff ? mc_format("p[%lld]", (long long)i0)
                        : mc_format("_mm512_maskz_mov_ps(0x%04llx, p[%lld])",
                                    (long long)m, (long long)i0))
                     : mc_format("mc_shz(0x%04llx, p[%lld], p[%lld], %lld)",
                                 (long long)m, (long long)i1, (long long)i0,
                                 (long long)sh);
      }
      em(e, "s[%lld] = _mm512_fmadd_ps(w, %s, s[%lld]);",
         (long long)(v - v0), xv, (long long)(v - v0));
      free(xv);
    }
    em(e, "}");
  }
  free(pn);
  free(pj);
  for (int64_t v = v0; v < v0 + u; v++) {
    char *sv = mc_format("s[%lld]", (long long)(v - v0));
    if (em_acts_vec_ok(op)) em_acts_vec(e, op, sv);
    int64_t n = f->no - 16 * v < 16 ? f->no - 16 * v : 16;
    if (n == 16)
      em(e, "_mm512_storeu_ps(yc + vb + %lld, %s);",
         (long long)(16 * (v - v0)), sv);
    else
      em(e, "_mm512_mask_storeu_ps(yc + vb + %lld, 0x%04llx, %s);",
         (long long)(16 * (v - v0)), (long long)((1 << n) - 1), sv);
    free(sv);
  }
}

/* flat_block's text, printed at depth 0 into a scratch emitter. */
static char *flat_text(const Op *op, const Flat *f, int64_t v0, int64_t u,
                       const Program *p) {
  Emit t = {0};
  t.p = p;
  flat_block(&t, op, f, v0, u);
  buf_free(&t.pre);
  return t.b.s ? t.b.s : mc_strdup("");
}

/* AVX-512 over the flattened planes (flat_fit): per channel, the output
 * vectors in blocks of up to 8 sums, each summing the bias, then every
 * tap in order; the lanes whose tap falls outside the input are zeros,
 * so each sum adds the products of the zero padding as the portable
 * loops do. Output q = oy * OW + ox reads tap (ky, kx) at input row
 * oy * s + ky * dy - py, column ox * s + kx * dx - px: with a stride s of
 * 1, input q + (ky * dy - py) * OW + kx * dx - px; with 2, that place of
 * its stride phase (rows and columns of the parities of ky * dy - py and
 * kx * dx - px, OW columns each). Blocks that print the same text past
 * their first output (the rows between the first and the last) run as
 * one loop. */
static void emit_flat(Emit *e, const Op *op, const ConvDims *cd,
                      const DwDims *d, const char *wn, const char *bn) {
  Flat f = {d, d->sy, d->oh * d->ow, 0, 0, d->kh * d->kw, NULL, NULL};
  f.n = f.s > 1 ? d->ih / 2 * (d->iw / 2) : d->ih * d->iw;
  f.nv = (f.no + 15) / 16;
  f.plane = mc_alloc(sizeof(int64_t) * (size_t)f.k);
  f.off = mc_alloc(sizeof(int64_t) * (size_t)f.k);
  for (int64_t k = 0; k < f.k; k++) {
    int64_t ry = k / d->kw * d->dy - d->py, rx = k % d->kw * d->dx - d->px;
    int64_t fy = floordiv(ry, f.s), fx = floordiv(rx, f.s);
    f.plane[k] = (ry - fy * f.s) * f.s + (rx - fx * f.s);
    f.off[k] = fy * d->ow + fx;
  }
  if (f.s > 1)
    em(e, "const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, "
       "16, 14, 12, 10, 8, 6, 4, 2, 0), odds = _mm512_set_epi32(31, 29, 27, "
       "25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);");
  em(e, "/* mc_shz(k, b, a, n): lanes n..15 of a, then 0..n-1 of b, the "
     "lanes not in k zero */");
  em(e, "#define mc_shz(k, b, a, n) _mm512_castsi512_ps(_mm512_maskz_alignr_"
     "epi32(k, _mm512_castps_si512(b), _mm512_castps_si512(a), n))");
  /* the stride phases, unpadded, OW columns each: phase (a, b) at
   * (2 a + b) * (n + 16) holds x[2 i + a][2 j + b] (emit_copy_avx512's
   * layout of a plane with no padding; the 16 floats after each phase
   * take the lanes stored past its last row) */
  DwDims ph = *d;
  ph.py = ph.px = 0, ph.w2 = d->iw / 2;
  if (f.s > 1) /* channel 0's phases */
    emit_copy_avx512(e, &ph, "xp", "tmp", f.n + 16);
  else
    em(e, "(void)tmp; /* the portable loops' scratch */");
  em_for(e, "c", cd->c, "channel");
  if (f.s > 1) { /* the channel's 4 stride phases, filled a channel ahead */
    long long set = 4 * (f.n + 16);
    em(e, "const float *tq = tmp + (c & 1) * %lld, *wc = %s + c * %lld;",
       set, wn, (long long)f.k);
    em(e, "if (c + 1 < %lld) { /* the next channel into the other set */",
       (long long)cd->c);
    em(e, "const float *xs = xp + (c + 1) * %lld;",
       (long long)(d->ih * d->iw));
    em(e, "float *tn = tmp + ((c + 1) & 1) * %lld;", set);
    emit_copy_avx512(e, &ph, "xs", "tn", f.n + 16);
    em(e, "}");
  } else {
    em(e, "const float *xc = xp + c * %lld, *wc = %s + c * %lld;",
       (long long)f.n, wn, (long long)f.k);
  }
  em(e, "float *yc = yn + c * %lld;", (long long)f.no);
  char *bias = bn ? mc_format("%s[c]", bn) : mc_strdup("0.0f");
  em(e, "const __m512 bv = _mm512_set1_ps(%s);", bias);
  free(bias);
  /* blocks: up to 256 outputs, as even as can be; else whole periods */
  int64_t nb, u0;
  if (f.no <= 256) {
    nb = (f.nv + 7) / 8;
    u0 = 0;
  } else {
    int64_t t = flat_period(d->ow);
    u0 = t * (8 / t > 1 ? 8 / t : 1);
    nb = (f.nv + u0 - 1) / u0;
  }
  for (int64_t b = 0, v0 = 0; b < nb;) {
    int64_t u = u0 ? (f.nv - v0 < u0 ? f.nv - v0 : u0)
                   : (f.nv - v0) / (nb - b);
    char *text = flat_text(op, &f, v0, u, e->p);
    int64_t run = 1;
    while (u0 && b + run < nb && f.nv - (v0 + run * u) >= u) {
      char *next = flat_text(op, &f, v0 + run * u, u, e->p);
      int same = strcmp(text, next) == 0;
      free(next);
      if (!same) break;
      run++;
    }
    free(text);
    if (run > 1)
      em(e, "for (int vb = %lld; vb < %lld; vb += %lld) { /* outputs "
         "vb.. */", (long long)(16 * v0), (long long)(16 * (v0 + run * u)),
         (long long)(16 * u));
    else {
      em(e, "{ /* outputs %lld..%lld */", (long long)(16 * v0),
         (long long)(16 * (v0 + u) < f.no ? 16 * (v0 + u) - 1 : f.no - 1));
      em(e, "const int vb = %lld;", (long long)(16 * v0));
    }
    flat_block(e, op, &f, v0, u);
    em(e, "}");
    b += run;
    v0 += run * u;
  }
  free(f.plane);
  free(f.off);
  if (op->nact && !em_acts_vec_ok(op)) {
    char *chain = em_act_chain(e, op, "yc[i]");
    em(e, "for (int i = 0; i < %lld; i++) yc[i] = %s; /* the plane is "
       "stored */", (long long)f.no, chain);
    free(chain);
  }
  em(e, "}");
  em(e, "#undef mc_shz");
}

/* The portable loops: the plane into tp, the wide outputs into tw, the
 * columns kept into the output; with jit, each channel's wide outputs
 * are one call to the host microkernel mcj_conv_block (a block of one
 * channel, the taps in the order emit_sum adds them). */
static void emit_portable(Emit *e, const Op *op, const ConvDims *cd,
                          const DwDims *d, const char *wn, const char *bn,
                          int jit) {
  long long PS = d->h2 * d->w2, W2 = d->w2, OH = d->oh, OW = d->ow,
            IH = d->ih, IW = d->iw, K = d->kh * d->kw, NP = d->nph;
  if (NP > 1)
    em(e, "float *tp = tmp, *tw = tmp + %lld; /* %lld stride phases of the "
       "padded plane; wide rows */", NP * PS, NP);
  else
    em(e, "float *tp = tmp, *tw = tmp + %lld; /* padded plane; wide rows */",
       PS);
  if (jit) {
    em(e, "static const int taps[%lld] = { /* offset in tp, weight */", 2 * K);
    for (int64_t ky = 0; ky < d->kh; ky++)
      for (int64_t kx = 0; kx < d->kw; kx++)
        em(e, "  %lld, %lld,", (long long)tap_at(d, ky, kx, PS),
           (long long)(ky * d->kw + kx));
    em(e, "};");
  }
  em(e, "for (int i = 0; i < %lld; i++) tp[i] = 0.0f;", NP * PS);
  em_for(e, "c", cd->c, "channel");
  em(e, "const float *xc = xp + c * %lld, *wc = %s + c * %lld;", IH * IW, wn,
     K);
  em(e, "float *yc = yn + c * %lld;", OH * OW);
  if (NP > 1) {
    em(e, "for (int r = 0; r < %lld; r++) { /* inside the zero border */",
       IH);
    em(e, "for (int i = 0; i < %lld; i++) {", IW);
    em(e, "const int pr = r + %lld, pc = i + %lld; /* padded */",
       (long long)d->py, (long long)d->px);
    em(e, "tp[(pr %% %lld * %lld + pc %% %lld) * %lld + pr / %lld * %lld + "
       "pc / %lld] = xc[r * %lld + i];", (long long)d->sy, (long long)d->sx,
       (long long)d->sx, PS, (long long)d->sy, W2, (long long)d->sx, IW);
    em(e, "}");
    em(e, "}");
  } else {
    em(e, "for (int r = 0; r < %lld; r++) /* inside the zero border */", IH);
    em(e, "  for (int i = 0; i < %lld; i++) tp[(r + %lld) * %lld + %lld + i] "
       "= xc[r * %lld + i];", IW, (long long)d->py, W2, (long long)d->px, IW);
  }
  if (jit) {
    char *b = bn ? mc_format("%s + c", bn) : mc_strdup("(const float *)0");
    em(e, "/* y, x, w, b, taps, nc, nt, kw, width, xs, ys, p0, p1, iw, ow, "
       "relu */");
    em(e, "mcj_conv_block(tw, tp, wc, %s, taps, 1, %lld, %lld, 1, 0, 0, 0, "
       "%lld, %lld, %lld, 0);", b, K, K, (long long)d->nw,
       (long long)d->nw, (long long)d->nw);
    free(b);
  } else {
    char *bias = bn ? mc_format("%s[c]", bn) : mc_strdup("0.0f");
    em(e, "for (int p = 0; p < %lld; p++) { /* p = oy * %lld + ox */",
       (long long)d->nw, W2);
    emit_sum(e, d, "p", bias);
    em(e, "tw[p] = s;");
    em(e, "}");
    free(bias);
  }
  char *tv = mc_format("tw[oy * %lld + ox]", W2);
  char *chain = em_act_chain(e, op, tv);
  free(tv);
  em(e, "for (int oy = 0; oy < %lld; oy++) /* the columns past %lld "
     "dropped */", OH, OW);
  em(e, "  for (int ox = 0; ox < %lld; ox++) yc[oy * %lld + ox] = %s;", OW,
     OW, chain);
  free(chain);
  em(e, "}");
}

void conv_depthwise_print(Emit *e, const Op *op, int jit) {
  const Layer *l = op->main;
  ConvDims cd;
  DwDims d;
  conv_dims(l, &cd);
  dw_dims(l, &d);
  const char *wn = op_array(op, "weight"), *bn = op_array(op, "bias");
  em_use(e, EH_FMA);
  conv_open(e, op, &cd);
  if (jit) { /* modelc run: the portable loops, the sums on the host */
    emit_portable(e, op, &cd, &d, wn, bn, 1);
    conv_close(e, &cd);
    return;
  }
  em_use(e, EH_AVX512);
  em(e, "#if MC_AVX512");
  if (flat_fit(l, &d)) emit_flat(e, op, &cd, &d, wn, bn);
  else if (lanes_fit(l, &d)) emit_lanes(e, op, &cd, &d, wn, bn);
  else emit_avx512(e, op, &cd, &d, wn, bn);
  em(e, "#else");
  emit_portable(e, op, &cd, &d, wn, bn, 0);
  em(e, "#endif");
  conv_close(e, &cd);
}

static void dw_emit(Emit *e, const Op *op) { conv_depthwise_print(e, op, 0); }

const Kernel kernel_conv_depthwise = {"conv-depthwise", KERNELS_FAST,
                                      dw_fits,          dw_scratch,
                                      conv_code_bytes,  dw_pack,
                                      dw_emit};
