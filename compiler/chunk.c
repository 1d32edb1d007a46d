/* chunk.c: a batch too large for the cache, run in passes.
 *
 * Each op of the generated code loops over the whole batch before the
 * next op starts, so a batch of 32 MobileNet inputs keeps 7 MB of
 * tensors alive, and every op streams them from memory instead of the
 * cache. When the samples are independent (PyTorch's batch dim: no op
 * mixes them), the program is lowered for a chunk of B samples instead,
 * and the entry point runs it N / B times, each pass on the next B
 * samples of the caller's input and output. The workspace is the chunk's.
 *
 * The chunk is the largest divisor B of N whose tensors fit
 * MC_CHUNK_BYTES: the largest op input(s) + output, per sample, times B.
 * A batch that fits runs whole, as before: a Linear over a whole batch
 * reads each weight once for all its rows; so does one whose divisors all
 * fall below a quarter of the samples that would fit (a prime batch of
 * small samples).
 *
 * The samples are independent when every tensor of the graph has the
 * batch as dim 0 and no op combines along it: checked per node from the
 * shapes and arguments, never from a kind's name. The chunk model is a
 * copy of the model's layers and nodes with dim 0 set to B; its strings
 * and weights are the model's. */
#include "modelc.h"

#include <stdlib.h>
#include <string.h>

/* Does layer l, on input `in`, treat dim 0 as independent samples? */
static int layer_per_sample(const Layer *l, const Shape *in) {
  const LayerKind *k = l->kind;
  switch (k->family) {
  case FAM_CONV: /* batched only as (N, C, ...); unbatched, dim 0 is C */
    return in->n == k->nsp + 2;
  case FAM_SOFTMAX:
    return l->a.dim != 0;
  case FAM_PAD: /* pads the trailing pad_dims dims only */
    return l->a.pad_dims < in->n;
  case FAM_LINEAR:  /* on the last dim; in->n >= 2 is checked */
  case FAM_NORM:    /* per channel, dim 1 */
  case FAM_MAXPOOL: /* per plane: every leading index */
  case FAM_AVGPOOL:
  case FAM_ADAPTIVE:
  case FAM_ACT:
  case FAM_NOOP: /* Flatten is a view: the shapes say */
    return 1;
  }
  return 0;
}

/* Why the samples of m's batch cannot run apart (1, the reason in why),
 * or 0. */
static int chunk_why_not(const Model *m, char *why, size_t n) {
  int64_t b = m->input.d[0];
  if (m->input.n < 2 || b < 2) {
    snprintf(why, n, "no batch of 2 or more");
    return 1;
  }
  for (int i = 0; i < m->nnodes; i++) {
    const Node *nd = &m->nodes[i];
    const Shape *o = &nd->out;
    if (o->n < 2 || o->d[0] != b) {
      snprintf(why, n, "'%s' does not keep the batch as dim 0", nd->name);
      return 1;
    }
    for (int k = 0; k < nd->nin; k++) { /* broadcasting only past dim 0 */
      const Shape *s = &m->nodes[nd->in[k]].out;
      if (s->n != o->n && nd->op != N_LAYER && nd->op != N_FLATTEN &&
          nd->op != N_VIEW && nd->op != N_MEAN) {
        snprintf(why, n, "'%s' broadcasts over the batch", nd->name);
        return 1;
      }
    }
    int ok = 1;
    switch (nd->op) {
    case N_INPUT: case N_ADD: case N_SUB: case N_MUL: case N_DIV:
    case N_VIEW: /* dim 0 the batch on both sides: each sample's block */
      break;
    case N_CAT: ok = nd->dim != 0; break;
    case N_FLATTEN: ok = nd->dim != 0; break;
    case N_MEAN:
      for (int k = 0; k < nd->ndims; k++) ok &= nd->dims[k] != 0;
      break;
    case N_LAYER:
      ok = layer_per_sample(&m->layers[nd->layer], &m->nodes[nd->in[0]].out);
      break;
    default:
      ok = 0;
    }
    if (!ok) {
      snprintf(why, n, "'%s' combines the samples", nd->name);
      return 1;
    }
  }
  return 0;
}

/* The bytes of the largest op's input(s) and output, per sample. */
static int64_t per_sample_bytes(const Model *m) {
  int64_t most = 0;
  for (int i = 1; i < m->nnodes; i++) {
    const Node *nd = &m->nodes[i];
    int64_t b = shape_numel(&nd->out);
    for (int k = 0; k < nd->nin; k++)
      b = mc_satadd(b, shape_numel(&m->nodes[nd->in[k]].out));
    if (b > most) most = b;
  }
  return mc_satmul(most, 4) / m->input.d[0];
}

int64_t chunk_samples(const Model *m, char *why, size_t n) {
  int64_t b = m->input.n >= 1 ? m->input.d[0] : 1;
  if (chunk_why_not(m, why, n)) return b;
  int64_t one = per_sample_bytes(m);
  if (mc_satmul(one, b) <= MC_CHUNK_BYTES) {
    snprintf(why, n, "the batch fits %lld KiB", (long long)(MC_CHUNK_BYTES >> 10));
    return b;
  }
  /* the divisors up to what fits (at most 2^17: a sample is 4 bytes or
   * more), not up to the batch, which may be 2^31 */
  int64_t c = 1, fit = one > 0 ? MC_CHUNK_BYTES / one : b;
  for (int64_t d = 2; d <= fit && d < b; d++)
    if (b % d == 0) c = d;
  if (c < fit / 4) { /* 10007 small samples: one at a time would lose more */
    snprintf(why, n, "no divisor of the batch of %lld near the %lld "
             "samples that fit %lld KiB", (long long)b, (long long)fit,
             (long long)(MC_CHUNK_BYTES >> 10));
    return b;
  }
  snprintf(why, n, "the batch of %lld in %lld passes of %lld sample%s: "
           "%lld KiB of tensors per sample, at most %lld KiB at once",
           (long long)b, (long long)(b / c), (long long)c, c > 1 ? "s" : "",
           (long long)((one + 1023) >> 10), (long long)(MC_CHUNK_BYTES >> 10));
  return c;
}

int64_t chunk_prefetch(const Program *p) {
  if (p->passes < 2 || p->target != TARGET_GENERIC || p->whole) return 0;
  int64_t calls = 0, lines = (shape_numel(&p->m->input) + 15) / 16;
  for (int i = 0; i < p->nops; i++) calls += !p->ops[i].fused;
  return calls ? (lines + calls - 1) / calls * 16 : 0;
}

static void rebatch(Shape *s, int64_t b) {
  if (s->n >= 1) s->d[0] = b;
}

void model_chunk(const Model *m, int64_t b, Model *c) {
  int64_t n = m->input.d[0];
  *c = *m;
  c->layers = mc_alloc(sizeof(Layer) * (size_t)(m->nlayers ? m->nlayers : 1));
  memcpy(c->layers, m->layers, sizeof(Layer) * (size_t)m->nlayers);
  c->nodes = mc_alloc(sizeof(Node) * (size_t)m->nnodes);
  memcpy(c->nodes, m->nodes, sizeof(Node) * (size_t)m->nnodes);
  rebatch(&c->input, b);
  for (int i = 0; i < c->nlayers; i++) {
    Layer *l = &c->layers[i];
    rebatch(&l->in, b);
    rebatch(&l->out, b);
    l->macs = l->macs / n * b;
  }
  for (int i = 0; i < c->nnodes; i++) rebatch(&c->nodes[i].out, b);
}

void model_chunk_weights(const Model *m, Model *c) {
  for (int i = 0; i < c->nlayers; i++)
    for (int k = 0; k < P_COUNT; k++)
      c->layers[i].param[k].data = m->layers[i].param[k].data;
}

void model_chunk_free(Model *c) {
  free(c->layers);
  free(c->nodes);
  memset(c, 0, sizeof *c);
}
