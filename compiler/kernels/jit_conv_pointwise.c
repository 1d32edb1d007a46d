/* kernels/jit_conv_pointwise.c: what modelc run's TinyCC compiles in
 * place of a 1x1 convolution lowered as a matrix multiply
 * (kernels/conv_pointwise.c).
 *
 * Each block of output channels is one call to the host microkernel
 * mcj_conv_block (jit_kernels.c) with the sample's input as the matrix
 * ([in][positions]) and one tap: every output is its bias plus the
 * products in input-channel order, as the pointwise kernel's portable
 * loops add them, so the JIT's bits stay the generated C's. The
 * activations follow over the whole output, the same values as the
 * portable path's per row. The weights are the pointwise kernel's
 * ([block][in][j]). */
#include "kernels/conv.h"

#include <limits.h>
#include <stdlib.h>

/* The pointwise kernel's block of output channels (conv_pointwise.c). */
static int64_t block_width(const ConvDims *cd) {
  return cd->oc % 16 == 0 ? 16 : 8;
}

static int jit_pointwise_fits(const Program *p, const Op *op, Target t,
                              char *why, size_t n) {
  (void)p;
  if (t != TARGET_GENERIC || !conv_is(op)) return 0;
  ConvDims cd;
  conv_dims(op->main, &cd);
  if (cd.c * cd.osz >= INT_MAX / 2 || cd.oc * cd.c >= INT_MAX / 2 ||
      cd.oc * cd.osz >= INT_MAX / 2)
    return 0;
  snprintf(why, n, "the matrix multiply through the host microkernel "
           "mcj_conv_block");
  return 1;
}

static void jit_pointwise_emit(Emit *e, const Op *op) {
  ConvDims cd;
  conv_dims(op->main, &cd);
  const char *wn = op_array(op, "weight"), *bn = op_array(op, "bias");
  long long C = cd.c, NP = cd.osz, W = block_width(&cd);
  conv_open(e, op, &cd);
  em(e, "/* on the host (mcj_conv_block): y[j][p] = bias[j], then += w[c][j] "
     "* x[c][p] in c order */");
  em(e, "static const int taps[2] = {0, 0};");
  em(e, "for (int b = 0; b < %lld; b++) { /* blocks of %lld output channels "
     "*/", (long long)cd.oc / W, W);
  char *bias = bn ? mc_format("%s + b * %lld", bn, W)
                  : mc_strdup("(const float *)0");
  em(e, "/* y, x, w, b, taps, nc, nt, kw, width, xs, ys, p0, p1, iw, ow, "
     "relu */");
  em(e, "mcj_conv_block(yn + b * %lld, xp, %s + b * %lld, %s, taps,", W * NP,
     wn, C * W, bias);
  em(e, "    %lld, 1, 1, %lld, %lld, %lld, 0, %lld, %lld, %lld, 0);", C, W, NP,
     NP, NP, NP, NP);
  free(bias);
  em(e, "}");
  em_epilogue(e, op, "yn", cd.oc * cd.osz);
  conv_close(e, &cd);
}

const Kernel kernel_jit_conv_pointwise = {
    "jit-conv-pointwise", 0,    jit_pointwise_fits, NULL, NULL, NULL,
    jit_pointwise_emit};
