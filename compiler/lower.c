/* lower.c: from the layer sequence to the ops of the generated code, and
 * every decision about them, made once and stored in the op.
 *
 * An op is one C function: a main layer (Conv, Linear, a pool, Softmax, a
 * BatchNorm that cannot be folded) plus what runs on its output for free:
 *   - a BatchNorm right after a Conv or Linear, on the same channels, is
 *     folded into its weights and bias at compile time;
 *   - elementwise activations are applied as each output is stored;
 *   - Flatten, Dropout and Identity change nothing in memory.
 * Activations on the model's input, which is never written, become an op
 * of their own that reads the input; a model of no-ops becomes a copy.
 * Then each op gets its lowering: the whole program at once if it fits
 * the vector lowering (kernels/vec1d.c), else per op the first kernel of
 * the table that fits it on the target (kernels/table.c), with its reason
 * and its scratch. Nothing here reads a weight value. */
#include "modelc.h"
#include "kernels/kernel.h"

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
  op->pidx = main ? main->index : 0;
  op->nsrc = 1;
  op->ins[0] = *in;
  op->inplace_src = -1;
  return op;
}

/* Can the BatchNorm `bn` be folded into the op that produced its input? */
static int can_fold(const Op *op, const Layer *bn) {
  return lower_can_fold(op, bn);
}

static void name_op(Op *op, int index) {
  const char *k = op->main ? op->main->kind->name : op->nact ? "act" : "copy";
  int n = snprintf(op->fname, sizeof op->fname, "l%d_", index);
  for (int i = 0; k[i] && n < (int)sizeof op->fname - 1; i++)
    op->fname[n++] = (char)tolower((unsigned char)k[i]);
  op->fname[n] = 0;
}

const char *const kernel_set_names[3] = {NULL, "fast", "reference"};

int mc_lower_runs;

static int64_t round64(int64_t bytes) { return (bytes + 63) / 64 * 64; }

/* Each op's kernel, reason, scratch and stored output size. */
static void decide(Program *p) {
  if (p->kernels == KERNELS_FAST && !p->graph && vec1d_decide(p)) return;
  for (int i = 0; i < p->nops; i++) {
    Op *op = &p->ops[i];
    op->kernel = kernel_choose(p, op, op->why, sizeof op->why);
    if (!op->kernel) { /* every op is some kernel's: a modelc bug */
      fprintf(stderr, "modelc: internal error: no lowering for %s\n",
              op->fname);
      abort();
    }
    op->scratch = op->kernel->scratch ? op->kernel->scratch(op) : 0;
    op->jit_kernel = kernel_choose_jit(p, op, op->jit_why,
                                       sizeof op->jit_why);
    op->out_bytes =
        round64(mc_satmul(shape_numel(&op->out), (int64_t)sizeof(float)));
    char also[128];
    /* In a branching graph the next op need not read this one's output
     * (nor be its only reader): pools fuse in chains only. */
    if (!p->graph && i + 1 < p->nops &&
        kernel_fuses(p, op, op + 1, also, sizeof also)) {
      Op *next = op + 1; /* computed by op: no kernel of its own */
      size_t at = strlen(op->why);
      snprintf(op->why + at, sizeof op->why - at, "; %s", also);
      snprintf(next->why, sizeof next->why, "fused into %s", op->fname);
      op->pooled = 1;
      next->fused = 1;
      next->out_bytes =
          round64(mc_satmul(shape_numel(&next->out), (int64_t)sizeof(float)));
      i++;
    }
  }
}

void lower(const Model *m, Target target, KernelSet kernels, Program *p) {
  memset(p, 0, sizeof *p);
  mc_lower_runs++;
  p->m = m;
  p->target = target;
  p->kernels = kernels;
  if (m->branching) { /* one op per node or fused group */
    lower_graph(p);
    decide(p);
    lower_graph_after(p);
    return;
  }
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
      cur->in_place = (l->kind->flags & KF_IN_PLACE) != 0;
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
  decide(p);
}

char *program_explain(const Program *p) {
  Buf b = {0};
  if (p->passes > 1) /* the batch in passes (chunk.c) */
    buf_printf(&b, "%s\n", p->chunk_why);
  if (p->prefetch)
    buf_printf(&b, "  the next chunk's input asked for in the cache ahead, "
               "%lld floats after each op's call\n", (long long)p->prefetch);
  for (int i = 0; i < p->nops; i++) {
    const Op *op = &p->ops[i];
    buf_printf(&b, "%s: %s\n", op->fname, op->why);
    if (op->jit_kernel) /* what modelc run compiles instead */
      buf_printf(&b, "  modelc run: %s\n", op->jit_why);
  }
  return b.s ? b.s : mc_strdup("");
}

void program_free(Program *p) {
  for (int i = 0; i < p->nops; i++) {
    Op *op = &p->ops[i];
    free(op->need);
    for (int j = 0; j < op->nparams; j++) {
      free(op->params[j].name);
      free(op->params[j].what);
      free(op->params[j].data);
    }
    free(op->params);
    free(op->own);
  }
  free(p->ops);
  free(p->tensors);
  if (p->chunk) model_chunk_free(p->chunk);
  free(p->chunk);
  memset(p, 0, sizeof *p);
}
