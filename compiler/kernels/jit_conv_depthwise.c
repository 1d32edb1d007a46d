/* kernels/jit_conv_depthwise.c: what modelc run's TinyCC compiles in
 * place of a depthwise convolution (kernels/conv_depthwise.c).
 *
 * The depthwise kernel's portable loops, as printed for a compiler
 * without AVX-512 (the plane copied inside its zero border, the columns
 * kept copied out with the activations), but each channel's wide outputs
 * are one call to the host microkernel mcj_conv_block (jit_kernels.c): a
 * block of one output channel, one input channel, the taps in the order
 * the portable loop adds them from the bias, so the JIT's bits stay the
 * generated C's. */
#include "kernels/conv.h"

static int jit_dw_fits(const Program *p, const Op *op, Target t, char *why,
                       size_t n) {
  (void)p, (void)op;
  if (t != TARGET_GENERIC) return 0;
  snprintf(why, n, "each channel's sums through the host microkernel "
           "mcj_conv_block");
  return 1;
}

static void jit_dw_emit(Emit *e, const Op *op) {
  conv_depthwise_print(e, op, 1);
}

const Kernel kernel_jit_conv_depthwise = {
    "jit-conv-depthwise", 0, jit_dw_fits, NULL, NULL, NULL, jit_dw_emit};
