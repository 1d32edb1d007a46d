/* kernels/jit_conv_im2col.c: what modelc run's TinyCC compiles in place
 * of a strided 2-D convolution lowered as a matrix multiply
 * (kernels/conv_im2col.c).
 *
 * The input under each tap is copied into tmp[k][p] as the im2col kernel
 * copies it; then each block of output channels is one call to the host
 * microkernel mcj_conv_block (jit_kernels.c) with the copy as an input of
 * K "channels" and one tap: every output is its bias plus the products in
 * k order, as the im2col kernel's portable loops add them, so the JIT's
 * bits stay the generated C's. The activations follow over the whole
 * output, as there. The weights are the im2col kernel's ([block][k][j]). */
#include "kernels/conv.h"

#include <limits.h>
#include <stdlib.h>

/* The im2col kernel's block of output channels (conv_im2col.c). */
static int64_t block_width(const ConvDims *cd) {
  return cd->oc % 16 == 0 ? 16 : 8;
}

static int jit_im2col_fits(const Program *p, const Op *op, Target t,
                           char *why, size_t n) {
  (void)p;
  if (t != TARGET_GENERIC || !conv_is(op)) return 0;
  ConvDims cd;
  conv_dims(op->main, &cd);
  int64_t k = cd.c * cd.ksz;
  if (cd.nsp != 2 || k * cd.osz >= INT_MAX / 2 || cd.oc * k >= INT_MAX / 2)
    return 0;
  snprintf(why, n, "the matrix multiply through the host microkernel "
           "mcj_conv_block");
  return 1;
}

/* tmp[k][p] = the input under tap k = (c, ky, kx) of output p, 0 in the
 * padding: the im2col kernel's copy. */
static void emit_copy(Emit *e, const ConvDims *cd) {
  long long IH = cd->t.I[0], IW = cd->t.I[1], OH = cd->t.O[0],
            OW = cd->t.O[1], KH = cd->t.K[0], KW = cd->t.K[1],
            NP = cd->osz;
  em(e, "/* tmp[k][p]: the input under tap k = (c, ky, kx) of output p */");
  em_for(e, "c", cd->c, "input channel");
  em_for(e, "ky", cd->t.K[0], "tap row");
  em_for(e, "kx", cd->t.K[1], "tap");
  em(e, "float *ck = tmp + ((c * %lld + ky) * %lld + kx) * %lld;", KH, KW,
     NP);
  static const char *const out[2] = {"oy", "ox"}, *const tap[2] = {"ky", "kx"};
  char *at[2];
  for (int i = 0; i < 2; i++) {
    Lin l = {0};
    lin_add(&l, out[i], cd->t.S[i]);
    lin_add(&l, tap[i], cd->t.D[i]);
    lin_add(&l, NULL, -cd->t.P[i]);
    at[i] = lin_str(&l);
  }
  em(e, "for (int oy = 0; oy < %lld; oy++) {", OH);
  em(e, "const int iy = %s;", at[0]);
  em(e, "for (int ox = 0; ox < %lld; ox++) {", OW);
  em(e, "const int ix = %s;", at[1]);
  em(e, "ck[oy * %lld + ox] = iy >= 0 && iy < %lld && ix >= 0 && ix < %lld "
     "? xp[(c * %lld + iy) * %lld + ix] : 0.0f;", OW, IH, IW, IH, IW);
  free(at[0]);
  free(at[1]);
  for (int i = 0; i < 5; i++) em(e, "}");
}

static void jit_im2col_emit(Emit *e, const Op *op) {
  ConvDims cd;
  conv_dims(op->main, &cd);
  const char *wn = op_array(op, "weight"), *bn = op_array(op, "bias");
  long long K = cd.c * cd.ksz, NP = cd.osz, W = block_width(&cd);
  conv_open(e, op, &cd);
  emit_copy(e, &cd);
  em(e, "/* on the host (mcj_conv_block): y[j][p] = bias[j], then += w[k][j] "
     "* tmp[k][p] in k order */");
  em(e, "static const int taps[2] = {0, 0};");
  em(e, "for (int b = 0; b < %lld; b++) { /* blocks of %lld output channels "
     "*/", (long long)cd.oc / W, W);
  char *bias = bn ? mc_format("%s + b * %lld", bn, W)
                  : mc_strdup("(const float *)0");
  em(e, "/* y, x, w, b, taps, nc, nt, kw, width, xs, ys, p0, p1, iw, ow, "
     "relu */");
  em(e, "mcj_conv_block(yn + b * %lld, tmp, %s + b * %lld, %s, taps,", W * NP,
     wn, K * W, bias);
  em(e, "    %lld, 1, 1, %lld, %lld, %lld, 0, %lld, %lld, %lld, 0);", K, W, NP,
     NP, NP, NP, NP);
  free(bias);
  em(e, "}");
  em_epilogue(e, op, "yn", cd.oc * cd.osz);
  conv_close(e, &cd);
}

const Kernel kernel_jit_conv_im2col = {"jit-conv-im2col", 0, jit_im2col_fits,
                                       NULL, NULL, NULL, jit_im2col_emit};
