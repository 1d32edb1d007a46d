/* lower_graph.c: the ops of a branching model (SPEC.md 1.1), one per
 * node of its graph or fused group, in execution order.
 *
 * A node becomes:
 *   - nothing, when it changes no memory: view, reshape, flatten, and the
 *     no-op layers (Flatten, Dropout, Identity) give another name to their
 *     input's tensor;
 *   - nothing of its own, when it can ride on the op that produced its
 *     input and that input is read by it alone: an activation runs as each
 *     output is stored (a residual add's ReLU included), a BatchNorm after a
 *     Conv or Linear folds into its weights;
 *   - an op otherwise: a layer call (its lowering chosen from the kernel
 *     table like a layer list's), or a tensor operation (kernels/binary.c,
 *     cat.c, mean.c).
 * Nodes the output does not depend on are dropped. Each op records the
 * tensors it reads and writes (Program.tensors) for plan_graph.c. */
#include "modelc.h"
#include "kernels/kernel.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int lower_can_fold(const Op *op, const Layer *bn) {
  if (!op || !op->main || op->bn || op->nact || op->residual ||
      !bn->a.track_running_stats)
    return 0;
  const Layer *l = op->main;
  if (!shape_eq(&op->out, &l->out)) return 0; /* a Flatten in between */
  if (!(l->kind->flags & KF_FOLDS_BN)) return 0;
  if (l->kind->family == FAM_CONV)
    return l->out.n == l->kind->nsp + 2; /* batched: channels at dim 1 */
  return l->out.n == 2; /* BatchNorm1d on (N, C): C is the features */
}

static int64_t round64(int64_t bytes) { return (bytes + 63) / 64 * 64; }

static int new_tensor(Program *p, int def, const Shape *s) {
  p->tensors = mc_realloc(p->tensors,
                          sizeof(GraphTensor) * (size_t)(p->ntensors + 1));
  GraphTensor *t = &p->tensors[p->ntensors];
  memset(t, 0, sizeof *t);
  t->bytes = round64(mc_satmul(shape_numel(s), (int64_t)sizeof(float)));
  t->def = t->last = def;
  t->same = p->ntensors;
  return p->ntensors++;
}

static void name_op(Op *op, int node, const char *what) {
  int n = snprintf(op->fname, sizeof op->fname, "n%d_", node);
  for (int i = 0; what[i] && n < (int)sizeof op->fname - 1; i++)
    op->fname[n++] = (char)tolower((unsigned char)what[i]);
  op->fname[n] = 0;
}

typedef struct Lowering {
  Program *p;
  const Model *m;
  int *tensor; /* node -> tensor id (-1: the model's input) */
  int *op;     /* node -> the op that wrote its tensor (-1: none) */
  int *uses;   /* tensor id + 1 -> reads still to come (and the output's) */
  char *read;  /* tensor id + 1 -> an op has read it already */
} Lowering;

static Op *add_op(Lowering *g, const Node *n, int index) {
  Program *p = g->p;
  p->ops = mc_realloc(p->ops, sizeof(Op) * (size_t)(p->nops + 1));
  Op *op = &p->ops[p->nops++];
  memset(op, 0, sizeof *op);
  op->node = n;
  op->covers[op->ncovers++] = n;
  op->nsrc = n->nin;
  for (int k = 0; k < n->nin; k++) {
    op->ins[k] = g->m->nodes[n->in[k]].out;
    op->tin[k] = g->tensor[n->in[k]];
  }
  op->in = op->ins[0];
  op->out = n->out;
  op->inplace_src = -1;
  op->pidx = g->m->nlayers + index; /* unique; a layer's first call below */
  op->tout = new_tensor(p, p->nops - 1, &n->out);
  g->tensor[index] = op->tout;
  g->op[index] = p->nops - 1;
  g->uses = mc_realloc(g->uses, sizeof(int) * (size_t)(p->ntensors + 1));
  g->uses[op->tout + 1] = 0;
  g->read = mc_realloc(g->read, (size_t)(p->ntensors + 1));
  g->read[op->tout + 1] = 0;
  for (int k = 0; k < n->nin; k++) g->read[g->tensor[n->in[k]] + 1] = 1;
  return op;
}

/* The op whose output node `in` is, if a node reading it can join that op:
 * it is read by this node alone (no op has read it, none will) and is not
 * the model's output. */
static Op *joinable(Lowering *g, int in) {
  int t = g->tensor[in], o = g->op[in];
  if (t < 0 || o < 0 || g->uses[t + 1] != 1 || g->read[t + 1]) return NULL;
  Op *op = &g->p->ops[o];
  if (op->tout != t || op->ncovers >= MC_MAXFUSE + 2) return NULL;
  return op;
}

/* A residual add a + b of equal shapes joins the convolution that
 * produced one operand, when that output is read by the add alone and the
 * other operand is ready before the convolution runs (the model's input,
 * or an earlier op's output): the convolution's function ends by adding
 * it, and the activations after the add follow. */
static int fuse_residual(Lowering *g, const Node *n, int index, int reads) {
  if (n->op != N_ADD || n->nin != 2) return 0;
  const Model *m = g->m;
  for (int k = 1; k >= 0; k--) { /* the later operand first */
    int in = n->in[k], other = n->in[1 - k];
    if (!shape_eq(&m->nodes[in].out, &n->out) ||
        !shape_eq(&m->nodes[other].out, &n->out))
      return 0;
    Op *op = joinable(g, in);
    if (!op || !op->main || op->main->kind->family != FAM_CONV || op->nact ||
        op->residual || op->nsrc != 1 || g->tensor[other] == op->tout)
      continue;
    int ready = g->op[other] < (int)(op - g->p->ops);
    if (!ready) continue;
    op->residual = 1;
    op->tin[1] = g->tensor[other];
    op->ins[1] = m->nodes[other].out;
    op->covers[op->ncovers++] = n;
    g->uses[g->tensor[other] + 1]--;
    g->read[g->tensor[other] + 1] = 1;
    g->uses[op->tout + 1] = reads;
    g->tensor[index] = op->tout;
    g->op[index] = g->op[in];
    return 1;
  }
  return 0;
}

void lower_graph(Program *p) {
  const Model *m = p->m;
  p->graph = 1;
  Lowering g = {p, m, NULL, NULL, NULL, NULL};
  int nn = m->nnodes;
  g.tensor = mc_alloc(sizeof(int) * (size_t)nn);
  g.op = mc_alloc(sizeof(int) * (size_t)nn);
  g.uses = mc_alloc(sizeof(int));
  g.read = mc_alloc(1);
  /* which nodes the output depends on */
  char *need = mc_alloc((size_t)nn);
  need[m->output] = 1;
  for (int i = nn - 1; i > 0; i--)
    for (int k = 0; need[i] && k < m->nodes[i].nin; k++)
      need[m->nodes[i].in[k]] = 1;
  /* reads of each node's value by needed nodes, and the output's */
  int *reads = mc_alloc(sizeof(int) * (size_t)nn);
  for (int i = 1; i < nn; i++)
    for (int k = 0; need[i] && k < m->nodes[i].nin; k++)
      reads[m->nodes[i].in[k]]++;
  reads[m->output]++;
  g.tensor[0] = -1;
  g.op[0] = -1;
  g.uses[0] = reads[0];
  for (int i = 1; i < nn; i++) {
    const Node *n = &m->nodes[i];
    if (!need[i]) continue;
    const Layer *l = n->op == N_LAYER ? &m->layers[n->layer] : NULL;
    int role = l ? l->kind->role : -1;
    int in = n->in[0];
    if (n->op == N_VIEW || n->op == N_FLATTEN || role == ROLE_NOOP) {
      /* another name for the same tensor */
      g.tensor[i] = g.tensor[in];
      g.op[i] = g.op[in];
      g.uses[g.tensor[in] + 1] += reads[i] - 1;
      continue;
    }
    if (fuse_residual(&g, n, i, reads[i])) continue;
    Op *join = n->nin == 1 ? joinable(&g, in) : NULL;
    if (join && role == ROLE_ACT && join->nact < MC_MAXFUSE &&
        shape_eq(&join->out, &n->out)) {
      join->act[join->nact++] = l;
    } else if (join && role == ROLE_BN && join->top == 0 &&
               shape_eq(&join->out, &m->nodes[in].out) &&
               lower_can_fold(join, l)) {
      join->bn = l;
    } else {
      join = NULL;
    }
    if (join) { /* the node rides on the op of its input */
      join->covers[join->ncovers++] = n;
      g.tensor[i] = g.tensor[in];
      g.op[i] = g.op[in];
      g.uses[g.tensor[in] + 1] = reads[i];
      continue;
    }
    for (int k = 0; k < n->nin; k++) g.uses[g.tensor[n->in[k]] + 1]--;
    Op *op = add_op(&g, n, i);
    g.uses[op->tout + 1] = reads[i];
    if (l && !shape_eq(&l->in, &op->in)) {
      /* a layer called again on another shape: the kernels read the
       * layer's shapes, so this call gets a copy with its own */
      op->own = mc_alloc(sizeof *op->own);
      *op->own = *l;
      op->own->in = op->in;
      Diag quiet = {0};
      l->kind->shape(op->own, &quiet); /* forward checked it already */
      diag_free(&quiet);
      op->orig = l;
      l = op->own;
    }
    if (l) {
      op->first = op->last = l;
      if (role == ROLE_ACT) { /* an activation of its own */
        op->act[op->nact++] = l;
        op->in_place = 1;
      } else {
        op->main = l;
        op->in_place = role == ROLE_BN || (l->kind->flags & KF_IN_PLACE);
      }
      name_op(op, i, role == ROLE_ACT ? "act" : l->kind->name);
      /* its arrays are the layer's, named after it, at its first call */
      const Layer *model_l = op->orig ? op->orig : l;
      int first = 1;
      for (int j = 0; j < p->nops - 1; j++)
        if (p->ops[j].main == model_l || p->ops[j].orig == model_l) first = 0;
      if (first) op->pidx = l->index;
    } else {
      op->top = n->op;
      op->in_place = n->op >= N_ADD && n->op <= N_DIV;
      name_op(op, i, node_op_name(n->op));
    }
    if (op->in_place) /* y may take the buffer of an input of its shape */
      for (int k = 0; k < n->nin && op->inplace_src < 0; k++)
        if (shape_eq(&op->ins[k], &op->out)) op->inplace_src = k;
  }
  /* The output is some op's tensor; the model's input itself (or a view
   * of it) is copied. */
  int out = g.tensor[m->output];
  if (out < 0) {
    Op *op = add_op(&g, &m->nodes[0], 0);
    op->node = NULL;
    op->ncovers = 0;
    op->nsrc = 1;
    op->tin[0] = -1;
    op->in = op->ins[0] = op->out = m->input;
    op->in_place = 1;
    name_op(op, 0, "copy");
    out = op->tout;
  }
  p->tensors[out].output = 1;
  free(reads);
  free(need);
  free(g.uses);
  free(g.read);
  free(g.op);
  free(g.tensor);
}

void lower_graph_after(Program *p) {
  for (int j = 0; j < p->nops; j++) {
    Op *op = &p->ops[j];
    if (op->residual) {
      size_t len = strlen(op->why);
      if (op->kernel && kernel_adds_residual(op))
        snprintf(op->why + len, sizeof op->why - len,
                 "; + the residual%s as each tile is stored", op->nact ?
                 " and the activations" : "");
      else
        snprintf(op->why + len, sizeof op->why - len,
                 "; then + the residual%s over the output", op->nact ?
                 " and the activations" : "");
    }
    if (!op->main || op->pidx == op->main->index) continue;
    const Layer *l = op->orig ? op->orig : op->main;
    for (int i = 0; i < j && !op->shares; i++) {
      const Op *o = &p->ops[i];
      if ((o->orig ? o->orig : o->main) == l && o->bn == op->bn &&
          o->kernel == op->kernel &&
          o->pidx == o->main->index && shape_eq(&o->in, &op->in))
        op->shares = o;
    }
  }
}
