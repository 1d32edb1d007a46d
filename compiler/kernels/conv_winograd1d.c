/* kernels/conv_winograd1d.c: a 1-D stride-1 convolution of 3 or 5 taps by
 * Winograd's minimal filtering, F(4, 3) or F(2, 5) (Lavin and Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2016).
 *
 * On the generic target, Conv1d of 3 or 5 taps, stride 1, no dilation,
 * one group, zero padding, 32 to 256 input channels, at least 32 output
 * channels, a multiple of 16 (w1_takes). The outputs are cut into tiles of m = 4
 * (3 taps) or m = 2 (5 taps); with the six points 0, 1, -1, 2, -2 and
 * infinity, a tile is A^T [U . V], U = G g the transformed taps of an
 * (output, input) channel pair and V = B^T d the tile's 6 inputs
 * transformed, so a tile costs 6 multiply-adds per channel pair instead
 * of 12 (3 taps) or 10 (5 taps). The matrices are built here from the
 * points (w1_matrices): B^T and A^T are small integers, G holds the
 * fractions and is applied to the weights when they are packed, in
 * double, rounded once; U is laid out [block of 16 outputs][6 points]
 * [input][16].
 *
 * Per sample the zero-padded input is first split into its m phases
 * (kernels/conv.c's conv_copy_planes, with zeros past the end for the
 * last tiles), so input i of tile t, xpad[t m + i], is at t + i / m in
 * phase i % m: contiguous over tiles. Then per group of 16 tiles: V for
 * every input channel (6 points x 16 tiles, in scratch); per block of 16
 * output channels, for each point the block's 16 x 16 sums over input
 * channels (a matrix multiply, in AVX-512 registers where the compiler
 * targets it), into scratch M; and A^T M plus the bias, the fused
 * residual and the activations, stored as the group's 16 m outputs (the
 * last group only those before the end). The sums are not the direct
 * loops' in the last bits (test_reference holds them to the SPEC's
 * tolerance). */
#include "kernels/conv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define W1_TILES 16 /* tiles per group (the vector width) */
#define W1_A 6      /* points: 0, 1, -1, 2, -2, infinity */
/* At most this many input channels: the transforms' rounding grows with
 * the sum's length; in a float32 model of one layer (activations 0 to
 * 10, weights as PyTorch initialises them) the largest error was 0.58 of
 * the SPEC's tolerance with 256 channels, 0.72 with 512, 1.16 with 1024;
 * the direct loops' error is about a tenth of that. */
#define W1_MAX_C 256

static const double w1_points[W1_A - 1] = {0, 1, -1, 2, -2};

typedef struct Wino1 {
  int m, r;          /* outputs per tile, taps */
  int64_t O, T, TP;  /* outputs, tiles, tiles rounded up to groups */
  int64_t C, K;      /* input and output channels */
  ConvPlanes pl;     /* the copied input's phases */
  int64_t xs, vs;    /* floats of the phases and of V; M follows V */
  double at[4][W1_A], g[W1_A][5], bt[W1_A][W1_A];
} Wino1;

/* The coefficients c[0..n] of prod over the finite points but `skip`
 * (-1: none) of (x - p). */
static int poly_without(int skip, double *c) {
  int n = 0;
  c[0] = 1;
  for (int l = 0; l < W1_A - 1; l++) {
    if (l == skip) continue;
    c[n + 1] = 0;
    for (int k = n + 1; k > 0; k--) c[k] = c[k - 1] - w1_points[l] * c[k];
    c[0] = -w1_points[l] * c[0];
    n++;
  }
  return n;
}

/* Toom-Cook: the linear convolution of a (m values) and b (r) is C [(E_a
 * a) . (E_b b)], E evaluating at the points (infinity: the leading
 * coefficient) and C interpolating (Lagrange at the finite points, plus
 * the leading coefficient times their product). Its transpose is the
 * correlation: y = E_a^T [(C^T d) . (E_b g)], so A^T = E_a^T, G = E_b and
 * B^T = C^T, with each finite point's Lagrange denominator moved from B^T
 * into G. */
static void w1_matrices(Wino1 *w) {
  memset(w->at, 0, sizeof w->at);
  memset(w->g, 0, sizeof w->g);
  memset(w->bt, 0, sizeof w->bt);
  for (int j = 0; j < W1_A - 1; j++) {
    double p = w1_points[j], f = 1, c[W1_A];
    for (int l = 0; l < W1_A - 1; l++)
      if (l != j) f *= p - w1_points[l];
    for (int i = 0; i < w->m; i++) w->at[i][j] = pow(p, i);
    for (int k = 0; k < w->r; k++) w->g[j][k] = pow(p, k) / f;
    int n = poly_without(j, c);
    for (int k = 0; k <= n; k++) w->bt[j][k] = c[k];
  }
  double c[W1_A + 1];
  int n = poly_without(-1, c);
  for (int k = 0; k <= n; k++) w->bt[W1_A - 1][k] = c[k];
  w->at[w->m - 1][W1_A - 1] = 1;
  w->g[W1_A - 1][w->r - 1] = 1;
}

static int w1_geometry(const Op *op, Wino1 *w) {
  const Layer *l = op->main;
  ConvDims cd;
  conv_dims(l, &cd);
  if (cd.nsp != 1 || cd.padmode || cd.groups != 1) return 0;
  if ((cd.t.K[0] != 3 && cd.t.K[0] != 5) || cd.t.S[0] != 1 || cd.t.D[0] != 1)
    return 0;
  w->r = (int)cd.t.K[0];
  w->m = W1_A - w->r + 1;
  w->C = cd.c, w->K = cd.oc, w->O = cd.t.O[0];
  w->T = (w->O + w->m - 1) / w->m;
  w->TP = (w->T + W1_TILES - 1) / W1_TILES * W1_TILES;
  /* phase kx holds xpad[u m + kx]; tile t reads u = t .. t + 5 / m */
  ConvPlanes pl = {cd.c, 1, cd.in[0], 0, l->a.pad_lo[0], 1, w->m, w->m, 1, 1,
                   w->TP + (W1_A - 1) / w->m};
  w->pl = pl;
  w->xs = cd.c * conv_planes_size(&pl);
  w->vs = W1_A * cd.c * W1_TILES;
  w1_matrices(w);
  return 1;
}

/* Does the 1-D Winograd kernel take the convolution? 32 input and output
 * channels or more make the multiply outweigh the transforms, 256 input
 * channels at most keep its error well inside the tolerance (with 16 of
 * each, tcn1d's blocked convolutions were 1.4 times faster; with 32, m5's
 * Winograd 1.1 times), and the tiles computed in
 * whole groups of 16 (those past the end included) must cost at most 80%
 * of the direct loops' multiply-adds. */
static int w1_takes(const Op *op, Target t, Wino1 *w) {
  if (t != TARGET_GENERIC || !conv_is(op)) return 0;
  if (!w1_geometry(op, w)) return 0;
  if (w->C < 32 || w->C > W1_MAX_C || w->K < 32 || w->K % 16) return 0;
  return w->TP * W1_A * 5 <= w->O * w->r * 4;
}

static int w1_fits(const Program *p, const Op *op, Target t, char *why,
                   size_t n) {
  (void)p;
  Wino1 w;
  if (!w1_takes(op, t, &w)) return 0;
  snprintf(why, n, "winograd: F(%d, %d), %lld tiles of %d outputs in groups "
           "of %d, 6 multiply-adds per tile and channel pair instead of %d, "
           "blocks of 16 output channels", w.m, w.r, (long long)w.T, w.m,
           W1_TILES, w.m * w.r);
  return 1;
}

static int64_t w1_scratch(const Op *op) {
  Wino1 w;
  w1_geometry(op, &w);
  return (w.xs + w.vs + W1_A * 16 * W1_TILES) * (int64_t)sizeof(float);
}

static void w1_pack(Program *p, Op *op) {
  (void)p;
  const Layer *l = op->main;
  ConvDims cd;
  conv_dims(l, &cd);
  Wino1 w1;
  w1_geometry(op, &w1);
  float *w, *b;
  char *scaled, *ws;
  conv_pack_common(op, &cd, &w, &b, &scaled, &ws);
  int64_t C = cd.c, K = cd.oc, n = W1_A * C * K;
  float *up = mc_alloc(sizeof(float) * (size_t)n);
  for (int64_t o = 0; o < K; o++)
    for (int64_t c = 0; c < C; c++) {
      const float *g = w + (o * C + c) * w1.r;
      for (int q = 0; q < W1_A; q++) {
        double u = 0;
        for (int k = 0; k < w1.r; k++) u += w1.g[q][k] * g[k];
        up[((o / 16 * W1_A + q) * C + c) * 16 + o % 16] = (float)u;
      }
    }
  free(w);
  pack_add(op, "weight_wino", up, n,
           mc_format("%s.weight %s%s, as G g (6 points): [out/16][point]"
                     "[in][16]", l->prefix, ws, scaled));
  if (b) pack_add(op, "bias", b, K, pack_bias_what(op, ""));
  free(ws);
  free(scaled);
}

/* sum over i of a[i] * pre i post, a[i] small integers, zeros skipped:
 * "4.0f * d[0][l] - 5.0f * d[2][l] + d[4][l]" (malloc'd). */
static char *combination(const double *a, int n, const char *pre,
                         const char *post) {
  Buf b = {0};
  for (int i = 0; i < n; i++) {
    double v = fabs(a[i]);
    if (a[i] == 0) continue;
    if (b.len) buf_printf(&b, "%s", a[i] < 0 ? " - " : " + ");
    else if (a[i] < 0) buf_printf(&b, "-");
    if (v != 1) buf_printf(&b, "%.1ff * ", v);
    buf_printf(&b, "%s%d%s", pre, i, post);
  }
  return b.s;
}

/* The n x k matrix a as a C initializer: "{4.0f, 0.0f, ...}" (malloc'd). */
static char *matrix_init(const double *a, int n) {
  Buf b = {0};
  buf_printf(&b, "{");
  for (int i = 0; i < n; i++) buf_printf(&b, "%s%.1ff", i ? ", " : "", a[i]);
  buf_printf(&b, "}");
  return b.s;
}

/* V = B^T d of each input channel's 16 tiles: vg[point][c][tile]; with
 * jit, each channel's through the host microkernel mcj_combine16, which
 * sums as the printed expressions do. */
static void emit_input_transform(Emit *e, const Wino1 *w, int jit) {
  long long C = w->C, PW = w->pl.w, PS = conv_planes_size(&w->pl),
            L = W1_TILES;
  if (jit) {
    char *bt = matrix_init(&w->bt[0][0], W1_A * W1_A);
    em(e, "static const float bt[%d] = %s; /* B^T */", W1_A * W1_A, bt);
    free(bt);
    em(e, "static const long xo[%d] = {", W1_A);
    for (int i = 0; i < W1_A; i++)
      em(e, "  %lld, /* input %d: phase %d, + %d */",
         (long long)(i % w->m * PW + i / w->m), i, i % w->m, i / w->m);
    em(e, "};");
    em(e, "for (int c = 0; c < %lld; c++) /* input channel: V = B^T d */",
       C);
    em(e, "  mcj_combine16(vg + c * %lld, %lld, 1, tmp + c * %lld + t0, xo, "
       "bt, %d, %d, (const float *)0, 0);", L, C * L, PS, W1_A, W1_A);
    return;
  }
  em_for(e, "c", C, "input channel: V = B^T d");
  em(e, "const float *xc = tmp + c * %lld;", PS);
  em(e, "float d[%d][%lld];", W1_A, L);
  em(e, "for (int i = 0; i < %d; i++) /* input i of tile t0 + l: phase i %% "
     "%d at t0 + l + i / %d */", W1_A, w->m, w->m);
  em(e, "  for (int l = 0; l < %lld; l++) d[i][l] = xc[(i %% %d) * %lld + t0 "
     "+ l + i / %d];", L, w->m, PW, w->m);
  em(e, "for (int l = 0; l < %lld; l++) {", L);
  for (int q = 0; q < W1_A; q++) {
    char *s = combination(w->bt[q], W1_A, "d[", "][l]");
    em(e, "vg[(%d * %lld + c) * %lld + l] = %s;", q, C, L, s);
    free(s);
  }
  em(e, "}");
  em(e, "}");
}

/* Y = A^T M + bias per output channel of the block: tile l's outputs at l
 * m + i, a run of 16 m outputs from t0 m (the last group's cut at the
 * end), then the fused residual and the activations as stored. */
static void emit_output_transform(Emit *e, const Op *op, const Wino1 *w,
                                  const char *bn, int64_t osz, int jit) {
  long long L = W1_TILES, m = w->m, run = L * m;
  /* modelc run, no residual and no activation but a ReLU: whole groups
   * go from M to the output in one call */
  int direct = !op->residual &&
               (op->nact == 0 ||
                (op->nact == 1 && (op->act[0]->kind->flags & KF_RELU)));
  if (jit) {
    char *at = matrix_init(&w->at[0][0], 4 * W1_A);
    em(e, "static const float at[%d] = %s; /* A^T (%d rows used) */",
       4 * W1_A, at, w->m);
    free(at);
    em(e, "static const long mo[%d] = {0, %lld, %lld, %lld, %lld, %lld};",
       W1_A, 16 * L, 32 * L, 48 * L, 64 * L, 80 * L);
  }
  em(e, "for (int j = 0; j < 16; j++) { /* output channel: Y = A^T M */");
  em(e, "const float *mj = mg + j * %lld; /* M[point][j][tile] */", L);
  em(e, "float *yj = yb + j * %lld + t0 * %lld;", (long long)osz, m);
  if (jit && direct) { /* straight into the output, the ReLU applied */
    char *b = bn ? mc_format("%s + o0 + j", bn) : mc_strdup("(const float *)0");
    int relu = op->nact == 1;
    if (w->TP * w->m != w->O) {
      em(e, "if (nk == %lld) {", run);
      em(e, "mcj_combine16(yj, 1, %lld, mj, mo, at, %d, %d, %s, %d);", m,
         w->m, W1_A, b, relu);
      em(e, "continue;");
      em(e, "}");
    } else {
      em(e, "mcj_combine16(yj, 1, %lld, mj, mo, at, %d, %d, %s, %d);", m,
         w->m, W1_A, b, relu);
      free(b);
      em(e, "}");
      return;
    }
    free(b);
  }
  em(e, "float row[%lld];", run);
  if (jit) {
    char *b = bn ? mc_format("%s + o0 + j", bn) : mc_strdup("(const float *)0");
    em(e, "mcj_combine16(row, 1, %lld, mj, mo, at, %d, %d, %s, 0);", m,
       w->m, W1_A, b);
    free(b);
  } else {
    char *term = mc_format(" * %lld + l]", 16 * L);
    char *bias = bn ? mc_format(" + %s[o0 + j]", bn) : mc_strdup("");
    em(e, "for (int l = 0; l < %lld; l++) {", L);
    for (int i = 0; i < w->m; i++) {
      char *s = combination(w->at[i], W1_A, "mj[", term);
      em(e, "row[l * %lld + %d] = %s%s;", m, i, s, bias);
      free(s);
    }
    em(e, "}");
    free(bias);
    free(term);
  }
  if (op->residual)
    em(e, "const float *rj = rb + j * %lld + t0 * %lld;", (long long)osz, m);
  char *val = op->residual ? mc_strdup("row[k] + rj[k]") : mc_strdup("row[k]");
  char *chain = em_act_chain(e, op, val);
  if (w->TP * w->m == w->O)
    em(e, "for (int k = 0; k < %lld; k++) yj[k] = %s;", run, chain);
  else
    em(e, "for (int k = 0; k < nk; k++) yj[k] = %s;", chain);
  free(chain);
  free(val);
  em(e, "}");
}

void conv_winograd1d_print(Emit *e, const Op *op, int jit) {
  Wino1 w;
  w1_geometry(op, &w);
  ConvDims cd;
  conv_dims(op->main, &cd);
  cd.zpad = 0; /* the phases hold the padding */
  const char *un = op_array(op, "weight_wino"), *bn = op_array(op, "bias");
  conv_wino_open(e, op, &cd, &w.pl, w.xs, w.xs + w.vs, jit);
  em(e, "for (int t0 = 0; t0 < %lld; t0 += %d) { /* %d tiles of %d outputs "
     "*/", (long long)w.TP, W1_TILES, W1_TILES, w.m);
  if (w.TP * w.m != w.O) {
    em(e, "/* outputs of the group before the end (the tiles past it read "
       "zeros) */");
    em(e, "const int nk = t0 * %d + %d <= %lld ? %d : %lld - t0 * %d;", w.m,
       W1_TILES * w.m, (long long)w.O, W1_TILES * w.m, (long long)w.O, w.m);
  }
  emit_input_transform(e, &w, jit);
  conv_wino_block(e, op, &cd, un, W1_A, jit);
  emit_output_transform(e, op, &w, bn, cd.osz, jit);
  em(e, "}");
  em(e, "}");
  conv_close(e, &cd);
}

static void w1_emit(Emit *e, const Op *op) { conv_winograd1d_print(e, op, 0); }

/* Every output is stored once, by its tile's group, which adds the
 * residual first. */
int conv_winograd1d_adds_residual(const Op *op) {
  (void)op;
  return 1;
}

const Kernel kernel_conv_winograd1d = {"conv-winograd1d", KERNELS_FAST,
                                       w1_fits,           w1_scratch,
                                       conv_code_bytes,   w1_pack,
                                       w1_emit};
