/* plan.c: the activation memory plan, the one planner of the workspace.
 *
 * The model is a chain, so each intermediate tensor lives from the op
 * that writes it to the op that reads it. Tensors alternate between the
 * bottom and the top of one workspace; the workspace is the largest sum
 * of two consecutive tensors (plus the scratch of the op between them),
 * the least any plan can use. The first op reads the caller's input, which
 * is never written, and the last writes the caller's output. Ops that work
 * elementwise (activations of the input, BatchNorm, Softmax) write over
 * their input when it is in the workspace. Every tensor takes the bytes
 * its kernel stores it in (op->out_bytes: the vector lowering keeps one
 * sample, channels padded), rounded up to 64 bytes, so each starts on a
 * cache line when the workspace does. A pool fused into the op before it
 * (op->fused) is one step with that op: the pair reads the first's input
 * and writes the pool's output, and the tensor between them is never
 * stored. */
#include "modelc.h"

#include <stdlib.h>

/* The op whose output the step starting at op i stores. */
static const Op *step_out(const Program *p, int i) {
  return p->ops[i].pooled && i + 1 < p->nops ? &p->ops[i + 1] : &p->ops[i];
}

void plan_program(Program *p) {
  if (p->graph) { /* a branching model: by liveness */
    plan_graph(p);
    return;
  }
  int side = -1; /* where the current tensor is: -1 input, 0 bottom, 1 top */
  int64_t size = 0, total = 0;
  int *sides = mc_alloc(sizeof(int) * 2 * (size_t)(p->nops + 1));
  /* First pass: sides and the workspace size. */
  for (int i = 0; i < p->nops; i++) {
    const Op *op = &p->ops[i];
    if (op->fused) continue;
    const Op *o = step_out(p, i);
    int last = o == &p->ops[p->nops - 1];
    int64_t out = o->out_bytes;
    int dst;
    if (last) dst = -2; /* the caller's output */
    else if (op->in_place && side >= 0) dst = side;
    else dst = side == 0 ? 1 : 0;
    int64_t need = side >= 0 ? size : 0;
    if (dst >= 0 && dst != side) need = mc_satadd(need, out);
    need = mc_satadd(need, (op->scratch + 63) / 64 * 64);
    if (need > total) total = need;
    sides[2 * i] = side;
    sides[2 * i + 1] = dst;
    if (dst >= 0) side = dst, size = out;
  }
  /* Second pass: offsets. The bottom starts at 0, the top ends at total. */
  int64_t insz = 0;
  for (int i = 0; i < p->nops; i++) {
    Op *op = &p->ops[i];
    if (op->fused) continue;
    Op *o = (Op *)step_out(p, i);
    int s = sides[2 * i], t = sides[2 * i + 1];
    int64_t outsz = o->out_bytes;
    op->src.kind = s == -1 ? BUF_INPUT : BUF_WS;
    op->src.off = s == 1 ? total - insz : 0;
    op->dst.kind = t == -2 ? BUF_OUTPUT : BUF_WS;
    op->dst.off = t == 1 ? total - outsz : 0;
    /* Scratch goes just above whatever this op keeps at the bottom. */
    op->tmp.kind = BUF_WS;
    op->tmp.off = s == 0 ? insz : t == 0 ? outsz : 0;
    if (o != op) o->src = op->src, o->dst = op->dst, o->tmp = op->tmp;
    insz = outsz;
  }
  free(sides);
  p->workspace_bytes = p->workspace_bound = total;
}
