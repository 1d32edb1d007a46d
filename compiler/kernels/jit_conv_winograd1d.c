/* kernels/jit_conv_winograd1d.c: what modelc run's TinyCC compiles in
 * place of a 1-D Winograd convolution (kernels/conv_winograd1d.c).
 *
 * Everything is printed as the Winograd kernel prints it (the phases, the
 * input and output transforms) but its 6 matrix multiplies per group of
 * tiles: each is one call to the host microkernel mcj_conv_block
 * (jit_kernels.c), as for the 2-D Winograd kernel (jit_conv_winograd.c),
 * so every M is the sum over the input channels in order from 0, as the
 * kernel's portable loops add it, and the JIT's bits stay the generated
 * C's. A fused residual and the activations follow over the whole output
 * (emit.c), as for every stand-in. */
#include "kernels/conv.h"

static int jit_w1_fits(const Program *p, const Op *op, Target t, char *why,
                       size_t n) {
  (void)p, (void)op;
  if (t != TARGET_GENERIC) return 0;
  snprintf(why, n, "the matrix multiplies through the host microkernel "
           "mcj_conv_block");
  return 1;
}

static void jit_w1_emit(Emit *e, const Op *op) {
  conv_winograd1d_print(e, op, 1);
}

const Kernel kernel_jit_conv_winograd1d = {
    "jit-conv-winograd1d", 0, jit_w1_fits, NULL, NULL, NULL, jit_w1_emit};
