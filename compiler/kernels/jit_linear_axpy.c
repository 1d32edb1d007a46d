/* kernels/jit_linear_axpy.c: what modelc run's TinyCC compiles in place
 * of the axpy Linear (kernels/linear_axpy.c) and of the GEMM one
 * (kernels/linear_gemm.c, whose portable path runs the rows one by one in
 * the axpy order): each row is one call to the host microkernel
 * mcj_linear_axpy (jit_kernels.c), which starts at the bias and adds
 * x[i] * w[i][o] for i in order, as the axpy loops do, with the outputs
 * in vector registers; the activations follow in the JIT's code. Both
 * kernels store the weights as [in][out]. */
#include "kernels/linear.h"

#include <limits.h>

static int jit_axpy_fits(const Program *p, const Op *op, Target t, char *why,
                         size_t n) {
  (void)p;
  if (t != TARGET_GENERIC || !linear_is(op)) return 0;
  int64_t in = op->main->a.in, out = op->main->a.out;
  if (in * out >= INT_MAX / 2) return 0;
  snprintf(why, n, "each row through the host microkernel mcj_linear_axpy");
  return 1;
}

static void jit_axpy_emit(Emit *e, const Op *op) {
  int64_t in = op->main->a.in, out = op->main->a.out;
  const char *wn = op_array(op, "weight"), *bn = op_array(op, "bias");
  linear_open_row(e, op);
  em(e, "/* on the host: yr[o] = bias[o], then yr[o] += xr[i] * w[i][o] for "
     "i in order */");
  em(e, "mcj_linear_axpy(yr, xr, %s, %s, %lld, %lld);", wn,
     bn ? bn : "(const float *)0", (long long)in, (long long)out);
  em_epilogue(e, op, "yr", out);
  em(e, "}");
}

const Kernel kernel_jit_linear_axpy = {"jit-linear-axpy", 0, jit_axpy_fits,
                                       NULL, NULL, NULL, jit_axpy_emit};
