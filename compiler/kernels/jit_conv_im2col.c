/* kernels/jit_conv_im2col.c: what modelc run's TinyCC compiles in place
 * of a strided 2-D or any 3-D convolution lowered as a matrix multiply
 * (kernels/conv_im2col.c).
 *
 * The input under each tap is copied into tmp[k][p] by the im2col
 * kernel's own code (conv_im2col_copy); then each block of output
 * channels is one call to the host microkernel mcj_conv_block
 * (jit_kernels.c) with the copy as an input of
 * K "channels" and one tap: every output is its bias plus the products in
 * k order, as the im2col kernel's portable loops add them, so the JIT's
 * bits stay the generated C's. The activations follow over the whole
 * output, as there. The weights are the im2col kernel's ([block][k][j]). */
#include "kernels/conv.h"

#include <limits.h>
#include <stdlib.h>

static int jit_im2col_fits(const Program *p, const Op *op, Target t,
                           char *why, size_t n) {
  (void)p;
  if (t != TARGET_GENERIC || !conv_is(op)) return 0;
  ConvDims cd;
  conv_dims(op->main, &cd);
  int64_t k = cd.c * cd.ksz;
  if (cd.nsp < 2 || k * cd.osz >= INT_MAX / 2 || cd.oc * k >= INT_MAX / 2)
    return 0;
  snprintf(why, n, "the matrix multiply through the host microkernel "
           "mcj_conv_block");
  return 1;
}

static void jit_im2col_emit(Emit *e, const Op *op) {
  ConvDims cd;
  conv_dims(op->main, &cd);
  const char *wn = op_array(op, "weight"), *bn = op_array(op, "bias");
  long long K = cd.c * cd.ksz, NP = conv_im2col_pass(&cd), OSZ = cd.osz,
            W = conv_im2col_width(&cd);
  conv_open(e, op, &cd);
  if (cd.nsp == 3)
    em_for(e, "oz", cd.t.O[0], "output plane: its taps copied, then "
           "multiplied");
  conv_im2col_copy(e, &cd); /* the im2col kernel's copy */
  em(e, "/* on the host (mcj_conv_block): y[j][p] = bias[j], then += w[k][j] "
     "* tmp[k][p] in k order */");
  em(e, "static const int taps[2] = {0, 0};");
  em(e, "for (int b = 0; b < %lld; b++) { /* blocks of %lld output channels "
     "*/", (long long)cd.oc / W, W);
  char *bias = bn ? mc_format("%s + b * %lld", bn, W)
                  : mc_strdup("(const float *)0");
  char *y = cd.nsp == 3 ? mc_format("yn + b * %lld + oz * %lld", W * OSZ, NP)
                        : mc_format("yn + b * %lld", W * OSZ);
  em(e, "/* y, x, w, b, taps, nc, nt, kw, width, xs, ys, p0, p1, iw, ow, "
     "relu */");
  em(e, "mcj_conv_block(%s, tmp, %s + b * %lld, %s, taps,", y, wn, K * W,
     bias);
  em(e, "    %lld, 1, 1, %lld, %lld, %lld, 0, %lld, %lld, %lld, 0);", K, W, NP,
     OSZ, NP, NP, NP);
  free(y);
  free(bias);
  em(e, "}");
  if (cd.nsp == 3) em(e, "}");
  em_epilogue(e, op, "yn", cd.oc * cd.osz);
  conv_close(e, &cd);
}

const Kernel kernel_jit_conv_im2col = {"jit-conv-im2col", 0, jit_im2col_fits,
                                       NULL, NULL, NULL, jit_im2col_emit};
