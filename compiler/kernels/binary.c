/* kernels/binary.c: + - * / of two tensors with PyTorch's broadcasting,
 * or of a tensor and a number, with the activations fused after it (a
 * residual add's ReLU). One lowering, in both kernel sets: nested loops
 * over the output, the dimensions where every operand is contiguous
 * merged, so `a + b` of equal shapes is one loop and a squeeze-excitation
 * scale `x * s` ([N, C, H, W] by [N, C, 1, 1]) is a loop over channels
 * around a loop over the plane. Operands are read at the same index they
 * are written, so y may be one of them (in place). */
#include "kernels/kernel.h"

#include <stdlib.h>

const char *op_src_name(const Op *op, int k, char *buf, size_t n) {
  if (op->nsrc <= 1) return "x";
  snprintf(buf, n, "x%d", k);
  return buf;
}

/* Strides of a contiguous tensor of shape s read at the indices of a
 * tensor of nd dims (broadcast: a dim of size 1, or missing, has stride
 * 0). */
static void bcast_strides(const Shape *s, int nd, int64_t *st) {
  int64_t acc = 1;
  for (int i = nd - 1; i >= 0; i--) {
    int k = i - (nd - s->n);
    int64_t d = k >= 0 ? s->d[k] : 1;
    st[i] = d == 1 ? 0 : acc;
    acc *= d;
  }
}

static int binary_fits(const Program *p, const Op *op, Target t, char *why,
                       size_t n) {
  (void)p, (void)t;
  if (op->top < N_ADD || op->top > N_DIV) return 0;
  snprintf(why, n, "elementwise %s%s", node_op_name(op->top),
           op->nsrc > 1 && !shape_eq(&op->ins[0], &op->ins[1])
               ? " with broadcasting" : "");
  return 1;
}

static void binary_emit(Emit *e, const Op *op) {
  const Node *nd = op->node;
  static const char sym[] = {'+', '-', '*', '/'};
  char opc = sym[op->top - N_ADD];
  int n = op->out.n, nin = op->nsrc;
  /* dims, output strides, and each operand's strides */
  int64_t d[MC_MAXDIM + 1], sy[MC_MAXDIM + 1], st[2][MC_MAXDIM + 1];
  for (int i = 0; i < n; i++) d[i] = op->out.d[i];
  bcast_strides(&op->out, n, sy);
  for (int k = 0; k < nin; k++) bcast_strides(&op->ins[k], n, st[k]);
  /* merge dim i into dim i+1 where every tensor is contiguous across */
  int m = 0;
  int64_t md[MC_MAXDIM + 1], my[MC_MAXDIM + 1], ms[2][MC_MAXDIM + 1];
  for (int i = 0; i < n; i++) {
    if (d[i] == 1) continue;
    int merge = m > 0;
    if (merge) {
      if (my[m - 1] != sy[i] * d[i]) merge = 0;
      for (int k = 0; k < nin; k++)
        if (ms[k][m - 1] != st[k][i] * d[i]) merge = 0;
    }
    if (merge) {
      md[m - 1] *= d[i];
      my[m - 1] = sy[i];
      for (int k = 0; k < nin; k++) ms[k][m - 1] = st[k][i];
    } else {
      md[m] = d[i];
      my[m] = sy[i];
      for (int k = 0; k < nin; k++) ms[k][m] = st[k][i];
      m++;
    }
  }
  static const char *const var[] = {"i0", "i1", "i2", "i3", "i4", "i5",
                                    "i6", "i7", "i8"};
  Lin ly = {0}, lx[2] = {{0}, {0}};
  for (int j = 0; j < m; j++) {
    em(e, "for (int %s = 0; %s < %lld; %s++) {", var[j], var[j],
       (long long)md[j], var[j]);
    lin_add(&ly, var[j], my[j]);
    for (int k = 0; k < nin; k++) lin_add(&lx[k], var[j], ms[k][j]);
  }
  char *yi = lin_str(&ly), *opnd[2] = {NULL, NULL};
  for (int k = 0; k < nin; k++) {
    char buf[8], *xi = lin_str(&lx[k]);
    opnd[k] = mc_format("%s[%s]", op_src_name(op, k, buf, sizeof buf), xi);
    free(xi);
  }
  char *val;
  if (nin == 2) {
    val = mc_format("%s %c %s", opnd[0], opc, opnd[1]);
  } else {
    char *c = em_float((float)nd->scalar);
    val = nd->scalar_left ? mc_format("%s %c %s", c, opc, opnd[0])
                          : mc_format("%s %c %s", opnd[0], opc, c);
    free(c);
  }
  char *chain = em_act_chain(e, op, val);
  em(e, "y[%s] = %s;", yi, chain);
  for (int j = 0; j < m; j++) em(e, "}");
  free(chain), free(val), free(yi), free(opnd[0]), free(opnd[1]);
}

const Kernel kernel_binary = {"binary", KERNELS_FAST | KERNELS_REFERENCE,
                              binary_fits, NULL, NULL, NULL, binary_emit};
