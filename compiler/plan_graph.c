/* plan_graph.c: the workspace of a branching program, planned by
 * liveness.
 *
 * Each tensor an op writes lives from that op to the last op that reads
 * it; an op's scratch lives during the op. The model's output is written
 * straight into the caller's buffer and its input is read where it is, so
 * neither takes workspace. An elementwise op (an activation, a BatchNorm,
 * Softmax, + - * /) whose input of the output's shape dies at it writes
 * over that input: the two are one tensor. The tensors are then placed by
 * wsplan.c (the better of greedy by size and first fit), each rounded up
 * to 64 bytes so it starts on a cache line when the workspace does. */
#include "modelc.h"

#include <stdlib.h>

static int root(const Program *p, int t) {
  while (p->tensors[t].same != t) t = p->tensors[t].same;
  return t;
}

static BufRef where(const Program *p, int t) {
  BufRef r = {BUF_WS, 0};
  if (t < 0) {
    r.kind = BUF_INPUT;
    return r;
  }
  t = root(p, t);
  if (p->tensors[t].output) r.kind = BUF_OUTPUT;
  else r.off = p->tensors[t].off;
  return r;
}

void plan_graph(Program *p) {
  GraphTensor *ts = p->tensors;
  /* lifetimes */
  for (int i = 0; i < p->nops; i++) {
    const Op *op = &p->ops[i];
    for (int k = 0; k < op->nsrc + op->residual; k++)
      if (op->tin[k] >= 0 && ts[op->tin[k]].last < i) ts[op->tin[k]].last = i;
  }
  /* in place: the output takes the buffer of an input that dies here */
  for (int i = 0; i < p->nops; i++) {
    Op *op = &p->ops[i];
    int k = op->inplace_src;
    if (k < 0 || op->tin[k] < 0) continue;
    int t = root(p, op->tin[k]), o = op->tout;
    int other = 0; /* the same tensor read twice (x + x) */
    for (int j = 0; j < op->nsrc; j++)
      if (j != k && op->tin[j] >= 0 && root(p, op->tin[j]) == t) other = 1;
    if (other || ts[t].output || ts[o].output || ts[t].last != i ||
        ts[t].bytes < ts[o].bytes)
      continue;
    ts[o].same = t;
    ts[t].last = ts[o].last;
  }
  /* the items: each buffer of the workspace, and each op's scratch */
  WsItem *items = mc_alloc(sizeof(WsItem) * (size_t)(p->ntensors + p->nops + 1));
  int *item = mc_alloc(sizeof(int) * (size_t)(p->ntensors + 1));
  int n = 0;
  for (int t = 0; t < p->ntensors; t++) {
    item[t] = -1;
    if (ts[t].same != t || ts[t].output) continue;
    WsItem it = {ts[t].bytes, ts[t].def, ts[t].last, 0};
    item[t] = n;
    items[n++] = it;
  }
  int first_tmp = n;
  for (int i = 0; i < p->nops; i++) {
    if (!p->ops[i].scratch) continue;
    WsItem it = {(p->ops[i].scratch + 63) / 64 * 64, i, i, 0};
    items[n++] = it;
  }
  p->workspace_bound = ws_bound(items, n);
  p->workspace_bytes = ws_place(items, n);
  for (int t = 0; t < p->ntensors; t++)
    if (item[t] >= 0) ts[t].off = items[item[t]].off;
  int tmp = first_tmp;
  for (int i = 0; i < p->nops; i++) {
    Op *op = &p->ops[i];
    for (int k = 0; k < op->nsrc + op->residual; k++)
      op->srcs[k] = where(p, op->tin[k]);
    op->src = op->srcs[0];
    op->dst = where(p, op->tout);
    if (op->scratch) {
      op->tmp.kind = BUF_WS;
      op->tmp.off = items[tmp++].off;
    }
  }
  free(item);
  free(items);
}
