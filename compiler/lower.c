/* lower.c: from the layer sequence to the ops of the generated code.
 *
 * An op is one C function: a main layer (Conv, Linear, a pool, Softmax, a
 * BatchNorm that cannot be folded) plus what runs on its output for free:
 *   - a BatchNorm right after a Conv or Linear, on the same channels, is
 *     folded into its weights and bias at compile time;
 *   - elementwise activations are applied as each output is stored;
 *   - Flatten, Dropout and Identity change nothing in memory.
 * Activations on the model's input, which is never written, become an op
 * of their own that reads the input; a model of no-ops becomes a copy. */
#include "modelc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static Op *new_op(Program *p, const Layer *main, const Layer *first,
                  const Shape *in) {
  p->ops = mc_realloc(p->ops, sizeof(Op) * (size_t)(p->nops + 1));
  Op *op = &p->ops[p->nops++];
  memset(op, 0, sizeof *op);
  op->main = main;
  op->first = op->last = first;
  op->in = *in;
  op->out = main ? main->out : *in;
  return op;
}

/* Can the BatchNorm `bn` be folded into the op that produced its input? */
static int can_fold(const Op *op, const Layer *bn) {
  if (!op || !op->main || op->bn || op->nact || !bn->a.track_running_stats)
    return 0;
  const Layer *l = op->main;
  if (!shape_eq(&op->out, &l->out)) return 0; /* a Flatten in between */
  if (strncmp(l->kind->name, "Conv", 4) == 0)
    return l->out.n == l->kind->nsp + 2; /* batched: channels at dim 1 */
  if (strcmp(l->kind->name, "Linear") == 0)
    return l->out.n == 2; /* BatchNorm1d on (N, C): C is the features */
  return 0;
}

static void name_op(Op *op, int index) {
  const char *k = op->main ? op->main->kind->name : op->nact ? "act" : "copy";
  int n = snprintf(op->fname, sizeof op->fname, "l%d_", index);
  for (int i = 0; k[i] && n < (int)sizeof op->fname - 1; i++)
    op->fname[n++] = (char)tolower((unsigned char)k[i]);
  op->fname[n] = 0;
}

void lower(const Model *m, Program *p) {
  memset(p, 0, sizeof *p);
  p->m = m;
  Op *cur = NULL; /* the op whose output is the current value */
  Shape shape = m->input;
  for (int i = 0; i < m->nlayers; i++) {
    const Layer *l = &m->layers[i];
    switch (l->kind->role) {
    case ROLE_NOOP:
      break;
    case ROLE_ACT:
      if (!cur || cur->nact == MC_MAXFUSE) {
        cur = new_op(p, NULL, l, &shape);
        cur->in_place = 1;
        name_op(cur, l->index);
      }
      cur->act[cur->nact++] = l;
      break;
    case ROLE_BN:
      if (can_fold(cur, l)) {
        cur->bn = l;
        break;
      }
      cur = new_op(p, l, l, &shape);
      cur->in_place = 1;
      name_op(cur, l->index);
      break;
    default:
      cur = new_op(p, l, l, &shape);
      cur->in_place = strstr(l->kind->name, "Softmax") != NULL;
      name_op(cur, l->index);
      break;
    }
    if (cur) {
      cur->last = l;
      cur->out = l->out;
    }
    shape = l->out;
  }
  if (!p->nops) { /* only no-ops: the output is a copy of the input */
    Op *op = new_op(p, NULL, m->nlayers ? &m->layers[0] : NULL, &m->input);
    op->in_place = 1;
    op->out = shape;
    op->last = m->nlayers ? &m->layers[m->nlayers - 1] : NULL;
    name_op(op, 0);
  }
  for (int i = 0; i < p->nops; i++) {
    Op *op = &p->ops[i];
    if (op->main && op->main->kind->scratch)
      op->scratch = op->main->kind->scratch(op);
  }
  if (!tiny_plan(p)) plan_program(p);
}

void program_free(Program *p) {
  for (int i = 0; i < p->nops; i++) free(p->ops[i].need);
  free(p->ops);
  memset(p, 0, sizeof *p);
}
