/* kernels/conv_winograd.c: a 3 x 3 stride-1 convolution by Winograd's
 * minimal filtering F(2 x 2, 3 x 3) (Lavin and Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2016).
 *
 * On the generic target, Conv2d 3 x 3, stride 1, no dilation, one group,
 * zero padding, at least 16 input channels, output channels a multiple of
 * 16 and an even output whose 2 x 2 tiles come in whole groups of 16
 * (wino_takes): each tile is A^T [U . V] A, U = G g G^T the transformed
 * weights of an (output, input) channel pair, V = B^T d B its 4 x 4 input
 * patch transformed, so a tile costs 16 multiply-adds per channel pair
 * instead of the direct loops' 36. U is computed when the weights are
 * packed, laid out [block of 16 outputs][16 points][input][16].
 *
 * Per sample the zero-padded input is first split into its four stride-2
 * phases (kernels/conv.c's conv_copy_planes; no larger than the padded
 * input), so the patch row dy, column dx of tile (ty, tx) is at (ty + dy
 * / 2, tx + dx / 2) in phase (dx % 2, dy % 2): contiguous along a tile
 * row. Then per group of 16
 * tiles: V for every input channel (16 points x 16 tiles, in scratch);
 * per block of 16 output channels, for each point the block's 16 x 16
 * sums over input channels (a matrix multiply, in AVX-512 registers where
 * the compiler targets it), into scratch M; and A^T M A plus the bias,
 * the fused residual and the activations, stored as each tile's 2 x 2
 * outputs: the 16 tiles' two output rows interleaved are runs of whole
 * output rows. The sums are not the direct loops' in the last bits
 * (test_reference holds it to the SPEC's tolerance). */
#include "kernels/conv.h"

#include <stdlib.h>

#define WINO_TILES 16 /* tiles per group (the vector width) */

typedef struct Wino {
  int64_t TH, TW, T; /* tiles: rows, columns, all */
  int64_t C, K;      /* input and output channels */
  ConvPlanes pl;     /* the copied input */
  int64_t xs, vs;    /* floats of the planes and of V; M follows V */
} Wino;

static int wino_geometry(const Op *op, Wino *w) {
  const Layer *l = op->main;
  ConvDims cd;
  conv_dims(l, &cd);
  if (cd.nsp != 2 || cd.padmode || cd.groups != 1) return 0;
  for (int i = 0; i < 2; i++)
    if (cd.t.K[i] != 3 || cd.t.S[i] != 1 || cd.t.D[i] != 1) return 0;
  w->C = cd.c, w->K = cd.oc;
  if (cd.t.O[0] % 2 || cd.t.O[1] % 2) return 0;
  w->TH = cd.t.O[0] / 2, w->TW = cd.t.O[1] / 2, w->T = w->TH * w->TW;
  /* the stride phases of the padded input: plane (px, py) holds
   * xpad[2u + py][2v + px] */
  ConvPlanes pl = {cd.c, cd.in[0], cd.in[1], l->a.pad_lo[0], l->a.pad_lo[1],
                   2, 2, 2, 2, w->TH + 1, w->TW + 1};
  w->pl = pl;
  w->xs = cd.c * conv_planes_size(&pl);
  w->vs = 16 * cd.c * WINO_TILES;
  return 1;
}

/* Does the Winograd kernel take the convolution (geometry in w)? Groups
 * of 16 tiles cover the tiles whole, and each group's tile rows are
 * whole (16 tiles a row or rows of a power of two under 16), so a group's
 * outputs are runs of whole rows; 16 channels or more make the multiply
 * outweigh the transforms. */
static int wino_takes(const Op *op, Target t, Wino *w) {
  if (t != TARGET_GENERIC || !conv_is(op)) return 0;
  if (!wino_geometry(op, w)) return 0;
  if (w->C < 16 || w->K % 16 || w->T % WINO_TILES) return 0;
  return w->TW % WINO_TILES == 0 || (WINO_TILES % w->TW == 0 && w->TW >= 4);
}

static int wino_fits(const Program *p, const Op *op, Target t, char *why,
                     size_t n) {
  (void)p;
  Wino w;
  if (!wino_takes(op, t, &w)) return 0;
  snprintf(why, n, "winograd: F(2 x 2, 3 x 3), %lld tiles of 2 x 2 outputs "
           "in groups of %d, 16 multiply-adds per tile and channel pair "
           "instead of 36, blocks of 16 output channels",
           (long long)w.T, WINO_TILES);
  return 1;
}

static int64_t wino_scratch(const Op *op) {
  Wino w;
  wino_geometry(op, &w);
  return (w.xs + w.vs + 16 * 16 * WINO_TILES) * (int64_t)sizeof(float);
}

/* U = G g G^T for one 3 x 3 kernel g, G = [1 0 0; 1/2 1/2 1/2;
 * 1/2 -1/2 1/2; 0 0 1], in double, rounded once. */
static void transform_kernel(const float *g, double u[4][4]) {
  static const double G[4][3] = {
      {1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  double t[4][3];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 3; j++)
      t[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++)
      u[i][j] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
}

static void wino_pack(Program *p, Op *op) {
  (void)p;
  const Layer *l = op->main;
  ConvDims cd;
  conv_dims(l, &cd);
  float *w, *b;
  char *scaled, *ws;
  conv_pack_common(op, &cd, &w, &b, &scaled, &ws);
  int64_t C = cd.c, K = cd.oc, n = 16 * C * K;
  float *up = mc_alloc(sizeof(float) * (size_t)n);
  for (int64_t o = 0; o < K; o++)
    for (int64_t c = 0; c < C; c++) {
      double u[4][4];
      transform_kernel(w + (o * C + c) * 9, u);
      for (int q = 0; q < 16; q++)
        up[((o / 16 * 16 + q) * C + c) * 16 + o % 16] = (float)u[q / 4][q % 4];
    }
  free(w);
  pack_add(op, "weight_wino", up, n,
           mc_format("%s.weight %s%s, as G g G^T (4 x 4 points): "
                     "[out/16][point][in][16]", l->prefix, ws, scaled));
  if (b) pack_add(op, "bias", b, K, pack_bias_what(op, ""));
  free(ws);
  free(scaled);
}

/* The 16 tiles' patch (dy, dx) as one AVX-512 vector: 16 floats of one
 * phase row, or 2 x 8 or 4 x 4 of successive rows (tile rows of 8 or 4):
 * an expression reading xc. */
static char *patch_vector(const Wino *w, int dy, int dx) {
  long long TW = w->TW, W = w->pl.w, plane = w->pl.u * w->pl.w;
  char *p = mc_format("xc + %lld + (t0 / %lld + %d) * %lld + t0 %% %lld + %d",
                      (dx % 2 * 2 + dy % 2) * plane, TW, dy / 2, W, TW,
                      dx / 2);
  char *v;
  if (TW >= WINO_TILES)
    v = mc_format("_mm512_loadu_ps(%s)", p);
  else if (TW == 8)
    v = mc_format("_mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd("
                  "_mm512_castps256_ps512(_mm256_loadu_ps(%s))), "
                  "_mm256_castps_pd(_mm256_loadu_ps(%s + %lld)), 1))", p, p,
                  W);
  else
    v = mc_format("_mm512_insertf32x4(_mm512_insertf32x4(_mm512_insertf32x4("
                  "_mm512_castps128_ps512(_mm_loadu_ps(%s)), _mm_loadu_ps(%s "
                  "+ %lld), 1), _mm_loadu_ps(%s + %lld), 2), _mm_loadu_ps(%s "
                  "+ %lld), 3)", p, p, W, p, 2 * W, p, 3 * W);
  free(p);
  return v;
}

/* The input transform in AVX-512 registers (the same operations as the
 * portable loops after it, so the same bits): per column dx, B^T of the
 * column's 4 patches, then per row i, (B^T d) B into V. */
static void emit_input_avx512(Emit *e, const Wino *w) {
  long long C = w->C, L = WINO_TILES;
  em(e, "#if MC_AVX512");
  em(e, "__m512 r[4][4];");
  for (int dx = 0; dx < 4; dx++) {
    char *d[4];
    for (int dy = 0; dy < 4; dy++) d[dy] = patch_vector(w, dy, dx);
    em(e, "{ /* column %d: B^T d */", dx);
    for (int dy = 0; dy < 4; dy++) em(e, "const __m512 d%d = %s;", dy, d[dy]);
    em(e, "r[0][%d] = _mm512_sub_ps(d0, d2);", dx);
    em(e, "r[1][%d] = _mm512_add_ps(d1, d2);", dx);
    em(e, "r[2][%d] = _mm512_sub_ps(d2, d1);", dx);
    em(e, "r[3][%d] = _mm512_sub_ps(d1, d3);", dx);
    em(e, "}");
    for (int dy = 0; dy < 4; dy++) free(d[dy]);
  }
  em(e, "for (int i = 0; i < 4; i++) { /* (B^T d) B */");
  em(e, "float *vi = vg + (i * 4 * %lld + c) * %lld;", C, L);
  em(e, "_mm512_storeu_ps(vi, _mm512_sub_ps(r[i][0], r[i][2]));");
  em(e, "_mm512_storeu_ps(vi + %lld, _mm512_add_ps(r[i][1], r[i][2]));",
     C * L);
  em(e, "_mm512_storeu_ps(vi + %lld, _mm512_sub_ps(r[i][2], r[i][1]));",
     2 * C * L);
  em(e, "_mm512_storeu_ps(vi + %lld, _mm512_sub_ps(r[i][1], r[i][3]));",
     3 * C * L);
  em(e, "}");
  em(e, "#else");
}

/* V = B^T d B of each input channel's patches for the group's 16 tiles,
 * B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]: vg[point][c][tile];
 * with jit, both passes through the host's mcj_combine16. */
static void emit_input_transform(Emit *e, const Wino *w, int jit) {
  long long C = w->C, TW = w->TW, PS = conv_planes_size(&w->pl),
            plane = w->pl.u * w->pl.w, L = WINO_TILES,
            run = TW < L ? TW : L;
  if (jit) {
    em(e, "static const float bt[16] = {1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, "
       "0, 1, 0, -1}; /* B^T */");
    em(e, "static const long o4[4] = {0, %lld, %lld, %lld}, o1[4] = {0, %lld, "
       "%lld, %lld};", 4 * L, 8 * L, 12 * L, L, 2 * L, 3 * L);
  }
  em_for(e, "c", C, "input channel: V = B^T d B");
  em(e, "const float *xc = tmp + c * %lld;", PS);
  if (!jit) emit_input_avx512(e, w);
  em(e, "float d[4][4][%lld], r[4][4][%lld];", L, L);
  em(e, "for (int dy = 0; dy < 4; dy++) { /* the patches, 16 tiles side by "
     "side: patch (dy, dx) of tile (ty, tx) is phase (dx %% 2, dy %% 2) at "
     "(ty + dy / 2, tx + dx / 2) */");
  em(e, "for (int dx = 0; dx < 4; dx++) {");
  em(e, "const float *xd = xc + ((dx %% 2) * 2 + dy %% 2) * %lld + (t0 / "
     "%lld + dy / 2) * %lld + t0 %% %lld + dx / 2;", plane, TW,
     (long long)w->pl.w, TW);
  em(e, "for (int h = 0; h < %lld; h++) /* tile rows */", L / run);
  if (jit)
    em(e, "  mcj_copy(d[dy][dx] + h * %lld, 1, xd + h * %lld, 1, %lld);", run,
       (long long)w->pl.w, run);
  else
    em(e, "  for (int k = 0; k < %lld; k++) d[dy][dx][h * %lld + k] = xd[h * "
       "%lld + k];", run, run, (long long)w->pl.w);
  em(e, "}");
  em(e, "}");
  if (jit) { /* modelc run: both passes through mcj_combine16, which adds
              * the terms as the expressions below do */
    em(e, "for (int dx = 0; dx < 4; dx++) /* B^T d */");
    em(e, "  mcj_combine16(&r[0][dx][0], %lld, 1, &d[0][dx][0], o4, bt, 4, 4, "
       "(const float *)0, 0);", 4 * L);
    em(e, "for (int i = 0; i < 4; i++) /* (B^T d) B */");
    em(e, "  mcj_combine16(vg + ((i * 4) * %lld + c) * %lld, %lld, 1, "
       "&r[i][0][0], o1, bt, 4, 4, (const float *)0, 0);", C, L, C * L);
    em(e, "}");
    return;
  }
  em(e, "for (int dx = 0; dx < 4; dx++) { /* B^T d */");
  em(e, "for (int l = 0; l < %lld; l++) {", L);
  em(e, "r[0][dx][l] = d[0][dx][l] - d[2][dx][l];");
  em(e, "r[1][dx][l] = d[1][dx][l] + d[2][dx][l];");
  em(e, "r[2][dx][l] = d[2][dx][l] - d[1][dx][l];");
  em(e, "r[3][dx][l] = d[1][dx][l] - d[3][dx][l];");
  em(e, "}");
  em(e, "}");
  em(e, "for (int i = 0; i < 4; i++) { /* (B^T d) B */");
  em(e, "for (int l = 0; l < %lld; l++) {", L);
  em(e, "vg[((i * 4 + 0) * %lld + c) * %lld + l] = r[i][0][l] - r[i][2][l];",
     C, L);
  em(e, "vg[((i * 4 + 1) * %lld + c) * %lld + l] = r[i][1][l] + r[i][2][l];",
     C, L);
  em(e, "vg[((i * 4 + 2) * %lld + c) * %lld + l] = r[i][2][l] - r[i][1][l];",
     C, L);
  em(e, "vg[((i * 4 + 3) * %lld + c) * %lld + l] = r[i][1][l] - r[i][3][l];",
     C, L);
  em(e, "}");
  em(e, "}");
  em(e, "#endif");
  em(e, "}");
}

/* The output transform in AVX-512 registers into row (the same
 * operations as the portable loops after it, so the same bits): A^T M
 * per column x, then (A^T M) A as the even and the odd outputs of each
 * row, interleaved into its 32 floats. */
static void emit_output_avx512(Emit *e, const char *bn) {
  long long L = WINO_TILES;
  em(e, "#if MC_AVX512");
  em(e, "__m512 sv[2][4];");
  em(e, "for (int x = 0; x < 4; x++) { /* A^T M */");
  for (int q = 0; q < 4; q++)
    em(e, "const __m512 m%d = _mm512_loadu_ps(mj + (%d * 4 + x) * %lld);", q,
       q, 16 * L);
  em(e, "sv[0][x] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);");
  em(e, "sv[1][x] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);");
  em(e, "}");
  em(e, "const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, "
     "3, 18, 2, 17, 1, 16, 0);");
  em(e, "const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, "
     "27, 11, 26, 10, 25, 9, 24, 8);");
  em(e, "for (int i = 0; i < 2; i++) { /* (A^T M) A: tile l's outputs at "
     "2l, 2l + 1 */");
  em(e, "__m512 ev = _mm512_add_ps(_mm512_add_ps(sv[i][0], sv[i][1]), "
     "sv[i][2]);");
  em(e, "__m512 od = _mm512_sub_ps(_mm512_sub_ps(sv[i][1], sv[i][2]), "
     "sv[i][3]);");
  if (bn) {
    em(e, "ev = _mm512_add_ps(ev, _mm512_set1_ps(%s[o0 + j]));", bn);
    em(e, "od = _mm512_add_ps(od, _mm512_set1_ps(%s[o0 + j]));", bn);
  }
  em(e, "_mm512_storeu_ps(row[i], _mm512_permutex2var_ps(ev, lo, od));");
  em(e, "_mm512_storeu_ps(row[i] + 16, _mm512_permutex2var_ps(ev, hi, od));");
  em(e, "}");
  em(e, "#else");
}

/* Y = A^T M A + bias per output channel of the block, A^T = [1 1 1 0;
 * 0 1 -1 -1], then the tiles' rows interleaved and stored: with 16 tiles
 * in one tile row, 32 outputs of each of its two output rows; with
 * shorter tile rows, each of the 16 / TW tile rows' 2 x 2 TW outputs. */
static void emit_output_transform(Emit *e, const Op *op, const Wino *w,
                                  const char *bn, int64_t OW, int64_t osz,
                                  int jit) {
  long long L = WINO_TILES, TW = w->TW;
  if (jit) {
    em(e, "static const float at[8] = {1, 1, 1, 0, 0, 1, -1, -1}; /* A^T */");
    em(e, "static const long oq[4] = {0, %lld, %lld, %lld}, o1[4] = {0, %lld, "
       "%lld, %lld};", 64 * L, 128 * L, 192 * L, L, 2 * L, 3 * L);
  }
  em(e, "for (int j = 0; j < 16; j++) { /* output channel: Y = A^T M A */");
  em(e, "const float *mj = mg + j * %lld; /* M[point][j][tile] */", L);
  em(e, "float row[2][%lld];", 2 * L);
  if (jit) { /* modelc run: both passes through mcj_combine16 */
    em(e, "float s[2][4][%lld];", L);
    char *b = bn ? mc_format("%s + o0 + j", bn) : mc_strdup("(const float *)0");
    em(e, "for (int x = 0; x < 4; x++) /* A^T M */");
    em(e, "  mcj_combine16(&s[0][x][0], %lld, 1, mj + x * %lld, oq, at, 2, 4, "
       "(const float *)0, 0);", 4 * L, 16 * L);
    em(e, "for (int i = 0; i < 2; i++) /* (A^T M) A: tile l's outputs at 2l, "
       "2l + 1 */");
    em(e, "  mcj_combine16(row[i], 1, 2, &s[i][0][0], o1, at, 2, 4, %s, 0);",
       b);
    free(b);
  } else {
    emit_output_avx512(e, bn);
    em(e, "float s[2][4][%lld];", L);
    em(e, "for (int x = 0; x < 4; x++) { /* A^T M */");
    em(e, "for (int l = 0; l < %lld; l++) {", L);
    em(e, "s[0][x][l] = mj[(0 * 4 + x) * %lld + l] + mj[(1 * 4 + x) * %lld + "
       "l] + mj[(2 * 4 + x) * %lld + l];", 16 * L, 16 * L, 16 * L);
    em(e, "s[1][x][l] = mj[(1 * 4 + x) * %lld + l] - mj[(2 * 4 + x) * %lld + "
       "l] - mj[(3 * 4 + x) * %lld + l];", 16 * L, 16 * L, 16 * L);
    em(e, "}");
    em(e, "}");
    char *bias = bn ? mc_format(" + %s[o0 + j]", bn) : mc_strdup("");
    em(e, "for (int i = 0; i < 2; i++) { /* (A^T M) A: tile l's outputs at "
       "2l, 2l + 1 */");
    em(e, "for (int l = 0; l < %lld; l++) {", L);
    em(e, "row[i][2 * l] = s[i][0][l] + s[i][1][l] + s[i][2][l]%s;", bias);
    em(e, "row[i][2 * l + 1] = s[i][1][l] - s[i][2][l] - s[i][3][l]%s;",
       bias);
    em(e, "}");
    em(e, "}");
    em(e, "#endif");
    free(bias);
  }
  /* where the group's first tile's outputs start: (2 ty, 2 tx) */
  em(e, "float *yj = yb + j * %lld;", (long long)osz);
  if (op->residual) em(e, "const float *rj = rb + j * %lld;", (long long)osz);
  long long run = TW % L == 0 ? 2 * L : 2 * TW, runs = 2 * L / run;
  char *at = mc_format("(2 * (t0 / %lld + h) + i) * %lld + (t0 %% %lld) * 2 + k",
                       TW, (long long)OW, TW);
  char *val = op->residual ? mc_format("row[i][h * %lld + k] + rj[%s]", run,
                                       at)
                           : mc_format("row[i][h * %lld + k]", run);
  char *chain = em_act_chain(e, op, val);
  em(e, "for (int i = 0; i < 2; i++)");
  em(e, "  for (int h = 0; h < %lld; h++) /* tile rows in the group */",
     runs);
  em(e, "    for (int k = 0; k < %lld; k++) yj[%s] = %s;", run, at, chain);
  free(chain);
  free(val);
  free(at);
  em(e, "}");
}

void conv_winograd_print(Emit *e, const Op *op, int jit) {
  Wino w;
  wino_geometry(op, &w);
  ConvDims cd;
  conv_dims(op->main, &cd);
  cd.zpad = 0; /* the planes hold the padding */
  const char *un = op_array(op, "weight_wino"), *bn = op_array(op, "bias");
  conv_wino_open(e, op, &cd, &w.pl, w.xs, w.xs + w.vs, jit);
  em(e, "for (int t0 = 0; t0 < %lld; t0 += %d) { /* %d tiles */",
     (long long)w.T, WINO_TILES, WINO_TILES);
  emit_input_transform(e, &w, jit);
  conv_wino_block(e, op, &cd, un, 16, jit);
  emit_output_transform(e, op, &w, bn, cd.t.O[1], cd.osz, jit);
  em(e, "}");
  em(e, "}");
  conv_close(e, &cd);
}

static void wino_emit(Emit *e, const Op *op) { conv_winograd_print(e, op, 0); }

/* Every output is stored by a tile, which adds the residual first. */
int conv_winograd_adds_residual(const Op *op) {
  (void)op;
  return 1;
}

const Kernel kernel_conv_winograd = {"conv-winograd", KERNELS_FAST,
                                     wino_fits,       wino_scratch,
                                     conv_code_bytes, wino_pack,
                                     wino_emit};
