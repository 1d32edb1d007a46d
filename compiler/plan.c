/* plan.c: the activation memory plan.
 *
 * The model is a chain, so each intermediate tensor lives from the op
 * that writes it to the op that reads it. Tensors alternate between the
 * bottom and the top of one workspace; the workspace is the largest sum
 * of two consecutive tensors (plus the scratch of the op between them),
 * the least any plan can use. The first op reads the caller's input, which
 * is never written, and the last writes the caller's output. Ops that work
 * elementwise (activations of the input, BatchNorm, Softmax) write over
 * their input when it is in the workspace. Every tensor is rounded up to
 * 64 bytes, so each starts on a cache line when the workspace does. */
#include "modelc.h"

#include <stdlib.h>

static int64_t round64(int64_t bytes) { return (bytes + 63) / 64 * 64; }

void plan_program(Program *p) {
  int side = -1; /* where the current tensor is: -1 input, 0 bottom, 1 top */
  int64_t size = 0, total = 0;
  int *sides = mc_alloc(sizeof(int) * 2 * (size_t)(p->nops + 1));
  /* First pass: sides and the workspace size. */
  for (int i = 0; i < p->nops; i++) {
    Op *op = &p->ops[i];
    int last = i == p->nops - 1;
    int64_t out = round64(shape_numel(&op->out) * (int64_t)sizeof(float));
    int dst;
    if (last) dst = -2; /* the caller's output */
    else if (op->in_place && side >= 0) dst = side;
    else dst = side == 0 ? 1 : 0;
    int64_t need = side >= 0 ? size : 0;
    if (dst >= 0 && dst != side) need = mc_satadd(need, out);
    need = mc_satadd(need, round64(op->scratch));
    if (need > total) total = need;
    sides[2 * i] = side;
    sides[2 * i + 1] = dst;
    if (dst >= 0) side = dst, size = out;
  }
  /* Second pass: offsets. The bottom starts at 0, the top ends at total. */
  for (int i = 0; i < p->nops; i++) {
    Op *op = &p->ops[i];
    int s = sides[2 * i], t = sides[2 * i + 1];
    int64_t insz = round64(shape_numel(&op->in) * (int64_t)sizeof(float));
    int64_t outsz = round64(shape_numel(&op->out) * (int64_t)sizeof(float));
    op->src.kind = s == -1 ? BUF_INPUT : BUF_WS;
    op->src.off = s == 1 ? total - insz : 0;
    op->dst.kind = t == -2 ? BUF_OUTPUT : BUF_WS;
    op->dst.off = t == 1 ? total - outsz : 0;
    /* Scratch goes just above whatever this op keeps at the bottom. */
    op->tmp.kind = BUF_WS;
    op->tmp.off = s == 0 ? insz : t == 0 ? outsz : 0;
  }
  free(sides);
  p->workspace_bytes = total;
}

void plan_memory(Model *m) {
  Program p;
  lower(m, &p);
  m->workspace_bytes = p.workspace_bytes;
  program_free(&p);
}
