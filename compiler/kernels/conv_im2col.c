/* kernels/conv_im2col.c: a strided 2-D convolution, or a 3-D one, as a
 * matrix multiply.
 *
 * Conv2d with a stride along the rows (which the blocked kernel does not
 * take), or Conv3d (which no other x86 kernel takes), one group and
 * output channels in multiples of 8: per sample, the input under each tap
 * of each output is first copied into scratch, tmp[k][p] for tap k = (c,
 * [kz,] ky, kx) and output position p (0 where the tap reads padding), so
 * the strided or scattered reads happen once; then every block of
 * 16 (or 8) output channels is a matrix multiply over k, 16 positions at
 * a time in AVX-512 registers where the compiler targets it (the last
 * partial tile a full one overlapping the one before), weights packed
 * [block][k][channel] so each k's weights are contiguous (with 8
 * channels a block, 32 positions at a time: 16 accumulators). The
 * portable path adds each k's row of the copy to an output channel's
 * plane (loops compilers vectorise). Every output is its bias plus the
 * products in k order on every path, so the paths agree bit for bit
 * where both fuse (or both do not fuse) the multiply-adds. */
#include "kernels/conv.h"

#include <stdlib.h>

#define IM2COL_MAX_FLOATS (1 << 20) /* the copy: 4 MB of scratch at most */
#define IM2COL_SPLIT_COLS 32 /* output columns from which rows are split */

int64_t conv_im2col_width(const ConvDims *cd) {
  return cd->oc % 16 == 0 ? 16 : 8;
}

/* A tile is 16 positions, or 32 (two vectors) with 8 channels a block,
 * so that 16 accumulators share each weight broadcast. */
static int tile_positions(int64_t width, int64_t positions) {
  return width == 8 && positions >= 32 ? 32 : 16;
}

int64_t conv_im2col_pass(const ConvDims *cd) {
  return cd->nsp == 3 ? cd->t.O[1] * cd->t.O[2] : cd->osz;
}

static int im2col_fits(const Program *p, const Op *op, Target t, char *why,
                       size_t n) {
  if (t != TARGET_GENERIC) return 0; /* tuned for x86; cortex-m has its own */
  (void)p, (void)t;
  if (!conv_is(op)) return 0;
  ConvDims cd;
  conv_dims(op->main, &cd);
  if (cd.nsp == 2 ? cd.t.S[1] < 2 : cd.nsp != 3) return 0;
  if (cd.groups != 1 || cd.padmode || cd.oc % 8 != 0) return 0;
  int64_t k = cd.c * cd.ksz, np = conv_im2col_pass(&cd);
  if (k * np > IM2COL_MAX_FLOATS) return 0;
  int64_t w = conv_im2col_width(&cd);
  snprintf(why, n, "im2col: the input under each tap copied once as [%lld taps]"
           "[%lld positions]%s, then a matrix multiply in blocks of %lld "
           "output channels x %d positions", (long long)k, (long long)np,
           cd.nsp == 3 ? " per output plane" : "", (long long)w,
           tile_positions(w, np));
  return 1;
}

static int64_t im2col_scratch(const Op *op) {
  ConvDims cd;
  conv_dims(op->main, &cd);
  return cd.c * cd.ksz * conv_im2col_pass(&cd) * (int64_t)sizeof(float);
}

static void im2col_pack(Program *p, Op *op) {
  (void)p;
  const Layer *l = op->main;
  ConvDims cd;
  conv_dims(l, &cd);
  float *w, *b;
  char *scaled, *ws;
  conv_pack_common(op, &cd, &w, &b, &scaled, &ws);
  int64_t k = cd.c * cd.ksz, width = conv_im2col_width(&cd);
  float *wp = mc_alloc(sizeof(float) * (size_t)(cd.oc * k));
  for (int64_t o = 0; o < cd.oc; o++)
    for (int64_t i = 0; i < k; i++)
      wp[(o / width) * k * width + i * width + o % width] = w[o * k + i];
  free(w);
  pack_add(op, "weight", wp, cd.oc * k,
           mc_format("%s.weight %s%s, packed [out/%lld][in * kernel][%lld]",
                     l->prefix, ws, scaled, (long long)width,
                     (long long)width));
  if (b) pack_add(op, "bias", b, cd.oc, pack_bias_what(op, ""));
  free(ws);
  free(scaled);
}

/* tmp[k][p] = the input under tap k = (c, [kz,] ky, kx) of output p =
 * (oy, ox) (of output plane oz, in 3-D: the caller's loop), 0 where the
 * tap reads padding: a tap plane or row of padding is zeros; wide rows
 * copy the columns [lo[kx], hi[kx]) that read inside the row with no
 * test (MobileNet's first conv: 2x faster), narrow rows keep one loop of
 * constant length (gcc unrolls it). */
void conv_im2col_copy(Emit *e, const ConvDims *cd) {
  int n = cd->nsp, z = n == 3; /* dims: [z,] y, x */
  long long NP = conv_im2col_pass(cd), OH = cd->t.O[z], OW = cd->t.O[z + 1],
            IH = cd->t.I[z], IW = cd->t.I[z + 1], KH = cd->t.K[z],
            KW = cd->t.K[z + 1], S = cd->t.S[z + 1];
  em(e, "/* tmp[k][p]: the input under tap k = (c, %s) of output p%s */",
     z ? "kz, ky, kx" : "ky, kx", z ? " of plane oz" : "");
  em_for(e, "c", cd->c, "input channel");
  if (z) {
    long long KD = cd->t.K[0], ID = cd->t.I[0];
    Lin il = {0};
    lin_add(&il, "oz", cd->t.S[0]);
    lin_add(&il, "kz", cd->t.D[0]);
    lin_add(&il, NULL, -cd->t.P[0]);
    char *iz = lin_str(&il);
    /* a loop even of one plane: a plane of padding continues it */
    em(e, "for (int kz = 0; kz < %lld; kz++) { /* tap plane */", KD);
    em(e, "float *cz = tmp + (c * %lld + kz) * %lld;", KD, KH * KW * NP);
    em(e, "const int iz = %s;", iz);
    free(iz);
    em(e, "if (iz < 0 || iz >= %lld) { /* its taps read a plane of padding "
       "*/", ID);
    em(e, "for (int t = 0; t < %lld; t++) cz[t] = 0.0f;", KH * KW * NP);
    em(e, "continue;");
    em(e, "}");
    em(e, "const float *xz = xp + (c * %lld + iz) * %lld;", ID, IH * IW);
  }
  em_for(e, "ky", KH, "tap row");
  em_for(e, "kx", KW, "tap");
  if (z) em(e, "float *ck = cz + (ky * %lld + kx) * %lld;", KW, NP);
  else em(e, "float *ck = tmp + ((c * %lld + ky) * %lld + kx) * %lld;", KH, KW,
          NP);
  int split = OW >= IM2COL_SPLIT_COLS;
  if (split) {
    Buf lo = {0}, hi = {0};
    for (int64_t kx = 0; kx < KW; kx++) {
      int64_t q = kx * cd->t.D[z + 1] - cd->t.P[z + 1], a = 0, b = OW;
      while (a < OW && a * S + q < 0) a++;
      while (b > a && (b - 1) * S + q >= IW) b--;
      buf_printf(&lo, "%s%lld", kx ? ", " : "", (long long)a);
      buf_printf(&hi, "%s%lld", kx ? ", " : "", (long long)b);
    }
    em(e, "static const int lo[%lld] = {%s}, hi[%lld] = {%s};", KW, lo.s, KW,
       hi.s);
    buf_free(&lo);
    buf_free(&hi);
  }
  char *at[2];
  for (int i = 0; i < 2; i++) {
    Lin l = {0};
    if (i == 0) lin_add(&l, "oy", cd->t.S[z]);
    lin_add(&l, i ? "kx" : "ky", cd->t.D[z + i]);
    lin_add(&l, NULL, -cd->t.P[z + i]);
    at[i] = lin_str(&l);
  }
  em(e, "const int q = %s; /* ix = ox * %lld + q */", at[1], S);
  em(e, "for (int oy = 0; oy < %lld; oy++) {", OH);
  em(e, "const int iy = %s;", at[0]);
  em(e, "float *co = ck + oy * %lld;", OW);
  em(e, "if (iy < 0 || iy >= %lld) { /* a row of padding */", IH);
  em(e, "for (int ox = 0; ox < %lld; ox++) co[ox] = 0.0f;", OW);
  em(e, "continue;");
  em(e, "}");
  if (z) em(e, "const float *xr = xz + iy * %lld;", IW);
  else em(e, "const float *xr = xp + (c * %lld + iy) * %lld;", IH, IW);
  if (split) {
    em(e, "for (int ox = 0; ox < lo[kx]; ox++) co[ox] = 0.0f;");
    em(e, "for (int ox = lo[kx]; ox < hi[kx]; ox++) co[ox] = xr[ox * %lld + "
       "q];", S);
    em(e, "for (int ox = hi[kx]; ox < %lld; ox++) co[ox] = 0.0f;", OW);
  } else {
    em(e, "for (int ox = 0; ox < %lld; ox++) {", OW);
    em(e, "const int ix = ox * %lld + q;", S);
    em(e, "co[ox] = ix >= 0 && ix < %lld ? xr[ix] : 0.0f;", IW);
    em(e, "}");
  }
  free(at[0]);
  free(at[1]);
  for (int i = 0; i < 4 + z; i++) em(e, "}");
}

static void im2col_emit(Emit *e, const Op *op) {
  ConvDims cd;
  conv_dims(op->main, &cd);
  const char *wn = op_array(op, "weight"), *bn = op_array(op, "bias");
  long long K = cd.c * cd.ksz, NP = conv_im2col_pass(&cd), OSZ = cd.osz,
            W = conv_im2col_width(&cd), PT = NP / 16 * 16;
  char *bias = bn ? mc_format("%s[b * %lld + j]", bn, W) : mc_strdup("0.0f");
  em_use(e, EH_FMA);
  em_use(e, EH_AVX512);
  conv_open(e, op, &cd);
  if (cd.nsp == 3)
    em_for(e, "oz", cd.t.O[0], "output plane: its taps copied, then "
           "multiplied");
  conv_im2col_copy(e, &cd);
  em(e, "for (int b = 0; b < %lld; b++) { /* blocks of %lld output channels "
     "*/", (long long)cd.oc / W, W);
  em(e, "const float *wb = %s + b * %lld;", wn, K * W);
  if (cd.nsp == 3)
    em(e, "float *yb = yn + b * %lld + oz * %lld; /* channel j at yb + j * "
       "%lld */", W * OSZ, NP, OSZ);
  else em(e, "float *yb = yn + b * %lld;", W * OSZ);
  long long TP = tile_positions(W, NP), V = TP / 16;
  em(e, "#if MC_AVX512");
  if (PT && NP % TP == 0) {
    em(e, "for (int t0 = 0; t0 < %lld; t0 += %lld) {", NP, TP);
  } else if (PT) { /* the last tile a full one overlapping the one before */
    em(e, "for (int t = 0; t < %lld; t += %lld) {", NP, TP);
    em(e, "const int t0 = t < %lld ? t : %lld;", NP - TP, NP - TP);
  }
  if (PT) {
    em(e, "__m512 acc[%lld][%lld];", V, W);
    em(e, "for (int j = 0; j < %lld; j++) {", W);
    for (long long v = 0; v < V; v++) {
      if (bn) em(e, "acc[%lld][j] = _mm512_set1_ps(%s);", v, bias);
      else em(e, "acc[%lld][j] = _mm512_setzero_ps();", v);
    }
    em(e, "}");
    em(e, "for (int k = 0; k < %lld; k++) {", K);
    for (long long v = 0; v < V; v++)
      em(e, "const __m512 x%lld = _mm512_loadu_ps(tmp + k * %lld + t0%s);", v,
         NP, v ? " + 16" : "");
    em(e, "const float *wk = wb + k * %lld;", W);
    em(e, "for (int j = 0; j < %lld; j++) {", W);
    em(e, "const __m512 wj = _mm512_set1_ps(wk[j]);");
    for (long long v = 0; v < V; v++)
      em(e, "acc[%lld][j] = _mm512_fmadd_ps(wj, x%lld, acc[%lld][j]);", v, v,
         v);
    em(e, "}");
    em(e, "}");
    em(e, "for (int j = 0; j < %lld; j++) {", W);
    for (long long v = 0; v < V; v++)
      em(e, "_mm512_storeu_ps(yb + j * %lld + t0%s, acc[%lld][j]);", OSZ,
         v ? " + 16" : "", v);
    em(e, "}");
    em(e, "}");
  }
  if (!PT) {
    em(e, "for (int t = %lld; t < %lld; t++) { /* the last positions */",
       PT, NP);
    em(e, "for (int j = 0; j < %lld; j++) {", W);
    em(e, "float s = %s;", bias);
    em(e, "for (int k = 0; k < %lld; k++) s = MC_FMA(wb[k * %lld + j], "
       "tmp[k * %lld + t], s);", K, W, NP);
    em(e, "yb[j * %lld + t] = s;", OSZ);
    em(e, "}");
    em(e, "}");
  }
  em(e, "#else");
  em(e, "for (int j = 0; j < %lld; j++) {", W);
  em(e, "float *yo = yb + j * %lld;", OSZ);
  em(e, "const float bj = %s;", bias);
  em(e, "for (int t = 0; t < %lld; t++) yo[t] = bj;", NP);
  em(e, "for (int k = 0; k < %lld; k++) {", K);
  em(e, "const float wk = wb[k * %lld + j];", W);
  em(e, "const float *ck = tmp + k * %lld;", NP);
  em(e, "for (int t = 0; t < %lld; t++) yo[t] = MC_FMA(wk, ck[t], yo[t]);",
     NP);
  em(e, "}");
  em(e, "}");
  em(e, "#endif");
  em(e, "}");
  if (cd.nsp == 3) em(e, "}");
  em_epilogue(e, op, "yn", cd.oc * cd.osz);
  conv_close(e, &cd);
  free(bias);
}

const Kernel kernel_conv_im2col = {"conv-im2col",   KERNELS_FAST,
                                   im2col_fits,     im2col_scratch,
                                   conv_code_bytes, im2col_pack,
                                   im2col_emit};
