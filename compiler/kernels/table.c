/* kernels/table.c: every per-op lowering, in order of preference. lower.c
 * gives each op the first kernel of the set asked for whose fits() takes
 * it on the target. (The vector lowering of whole small 1-D programs,
 * kernels/vec1d.c, is tried before this table.) Adding a lowering: a file
 * in kernels/ and a row here. */
#include "kernels/kernel.h"

extern const Kernel kernel_map, kernel_conv_blocked, kernel_conv_im2col,
    kernel_conv_depthwise, kernel_conv_direct, kernel_pool_inside,
    kernel_pool_taps, kernel_adaptive, kernel_batchnorm, kernel_linear_dot,
    kernel_linear_gemm, kernel_linear_axpy, kernel_softmax, kernel_ref_conv,
    kernel_ref_linear, kernel_ref_pool, kernel_pad, kernel_binary, kernel_cat,
    kernel_mean, kernel_conv_regs, kernel_linear_regs,
    kernel_conv_pointwise, kernel_conv_winograd, kernel_conv_winograd1d,
    kernel_pad_runs, kernel_pool_plane;

static const Kernel *const kernels[] = {
    /* the fast ones, best first; the cortex-m ones take only those targets */
    &kernel_conv_regs,      &kernel_linear_regs,  &kernel_conv_winograd,
    &kernel_conv_winograd1d, &kernel_conv_pointwise, &kernel_conv_blocked, &kernel_conv_im2col,
    &kernel_conv_depthwise, &kernel_conv_direct,  &kernel_pool_plane,
    &kernel_pool_inside,
    &kernel_pool_taps,
    &kernel_linear_gemm,  &kernel_linear_dot,  &kernel_linear_axpy,
    &kernel_pad_runs,
    /* the naive ones (modelc build --kernels reference) */
    &kernel_ref_conv, &kernel_ref_linear, &kernel_ref_pool,
    /* one lowering, in both sets */
    &kernel_binary, &kernel_cat, &kernel_mean,
    &kernel_map, &kernel_adaptive, &kernel_batchnorm, &kernel_softmax,
    &kernel_pad, /* the reference; pad_runs before it is fast */
};

const Kernel *kernel_choose(const Program *p, const Op *op, char *why,
                            size_t n) {
  for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++) {
    const Kernel *k = kernels[i];
    if ((k->sets & p->kernels) && k->fits(p, op, p->target, why, n)) return k;
  }
  /* Every op is some kernel's: a missing row is a modelc bug. */
  snprintf(why, n, "no lowering");
  return NULL;
}

/* The JIT's stand-ins: for an op of the kernel on the left, the code
 * modelc run compiles calls host microkernels (jit_kernels.c) for its hot
 * loops, with the same sums in the same order. */
extern const Kernel kernel_jit_conv_blocked, kernel_jit_conv_im2col,
    kernel_jit_conv_pointwise, kernel_jit_linear_axpy,
    kernel_jit_conv_winograd, kernel_jit_conv_winograd1d,
    kernel_jit_conv_depthwise;
static const struct {
  const Kernel *kernel, *jit;
} stand_ins[] = {{&kernel_conv_blocked, &kernel_jit_conv_blocked},
                 {&kernel_conv_winograd, &kernel_jit_conv_winograd},
                 {&kernel_conv_winograd1d, &kernel_jit_conv_winograd1d},
                 {&kernel_conv_depthwise, &kernel_jit_conv_depthwise},
                 {&kernel_conv_im2col, &kernel_jit_conv_im2col},
                 {&kernel_conv_pointwise, &kernel_jit_conv_pointwise},
                 {&kernel_linear_axpy, &kernel_jit_linear_axpy},
                 {&kernel_linear_gemm, &kernel_jit_linear_axpy}};

const Kernel *kernel_choose_jit(const Program *p, const Op *op, char *why,
                                size_t n) {
  for (size_t i = 0; i < sizeof stand_ins / sizeof stand_ins[0]; i++)
    if (op->kernel == stand_ins[i].kernel &&
        stand_ins[i].jit->fits(p, op, p->target, why, n))
      return stand_ins[i].jit;
  return NULL;
}

/* The kernels that can compute the op after theirs in the same loops. */
static const struct {
  const Kernel *kernel;
  int (*fuses)(const Program *p, const Op *op, const Op *next, char *why,
               size_t n);
} fusions[] = {{&kernel_conv_regs, conv_regs_fuses}};

int kernel_fuses(const Program *p, const Op *op, const Op *next, char *why,
                 size_t n) {
  for (size_t i = 0; i < sizeof fusions / sizeof fusions[0]; i++)
    if (op->kernel == fusions[i].kernel)
      return fusions[i].fuses(p, op, next, why, n);
  return 0;
}

/* The kernels that add a fused residual in their own stores. */
static const struct {
  const Kernel *kernel;
  int (*adds)(const Op *op);
} epilogues[] = {{&kernel_conv_blocked, conv_blocked_adds_residual},
                 {&kernel_conv_winograd, conv_winograd_adds_residual},
                 {&kernel_conv_winograd1d, conv_winograd1d_adds_residual}};

int kernel_adds_residual(const Op *op) {
  if (!op->residual) return 0;
  for (size_t i = 0; i < sizeof epilogues / sizeof epilogues[0]; i++)
    if (op->kernel == epilogues[i].kernel) return epilogues[i].adds(op);
  return 0;
}
