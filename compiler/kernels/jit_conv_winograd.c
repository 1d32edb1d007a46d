/* kernels/jit_conv_winograd.c: what modelc run's TinyCC compiles in place
 * of a Winograd convolution (kernels/conv_winograd.c).
 *
 * Everything is printed as the Winograd kernel prints it (the stride
 * phases, the input and output transforms) but for calls to the host:
 * the transforms' passes through mcj_combine16, which adds the printed
 * expressions' terms in their order, and the 16 matrix multiplies per
 * group of tiles, each one call to the host microkernel
 * mcj_conv_block (jit_kernels.c), with V[point] as an input of C
 * "channels" of 16 positions, one tap, and U[point] as the weights of a
 * block of 16: every M is the sum over the input channels in order from
 * 0, as the Winograd kernel's portable loops add it, so the JIT's bits
 * stay the generated C's. A fused residual and the activations follow
 * over the whole output (emit.c), as for every stand-in. */
#include "kernels/conv.h"

static int jit_wino_fits(const Program *p, const Op *op, Target t, char *why,
                         size_t n) {
  (void)p, (void)op;
  if (t != TARGET_GENERIC) return 0;
  snprintf(why, n, "the matrix multiplies through the host microkernel "
           "mcj_conv_block");
  return 1;
}

static void jit_wino_emit(Emit *e, const Op *op) {
  conv_winograd_print(e, op, 1);
}

const Kernel kernel_jit_conv_winograd = {
    "jit-conv-winograd", 0, jit_wino_fits, NULL, NULL, NULL, jit_wino_emit};
