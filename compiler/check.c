/* check.c: the table `modelc check` prints, in the manner of torchinfo. */
#include "modelc.h"

#include <stdlib.h>
#include <string.h>


static const char *bytes(int64_t v, char *buf) {
  if (v < 10 * 1024) snprintf(buf, 32, "%lld B", (long long)v);
  else if (v < 10 * 1024 * 1024) snprintf(buf, 32, "%.1f KiB", v / 1024.0);
  else snprintf(buf, 32, "%.1f MiB", v / 1048576.0);
  return buf;
}

/* ", for 2 samples at a time" when the batch runs in passes (chunk.c). */
static const char *chunk_text(const Model *m, char *buf) {
  buf[0] = 0;
  if (m->chunk)
    snprintf(buf, 64, ", for %lld sample%s at a time", (long long)m->chunk,
             m->chunk > 1 ? "s" : "");
  return buf;
}

/* What a node does, as a short text: the layer as written, "add",
 * "mul(0.5)", "cat(dim=1)", "view([2, 5])", ... (malloc'd). */
char *node_text(const Model *m, const Node *n) {
  const char *op = node_op_name(n->op);
  switch (n->op) {
  case N_INPUT:
    return mc_strdup("input");
  case N_LAYER:
    return mc_strdup(m->layers[n->layer].text);
  case N_ADD: case N_SUB: case N_MUL: case N_DIV:
    if (n->has_scalar) {
      char *x = mc_pyfloat(n->scalar, n->scalar == (double)(int64_t)n->scalar);
      char *t = n->scalar_left ? mc_format("%s(%s, x)", op, x)
                               : mc_format("%s(x, %s)", op, x);
      free(x);
      return t;
    }
    return mc_strdup(op);
  case N_CAT:
    return mc_format("cat(dim=%lld)", (long long)n->dim);
  case N_FLATTEN:
    return mc_format("flatten(%lld, %lld)", (long long)n->dim,
                     (long long)n->end_dim);
  case N_VIEW: {
    char *s = shape_str(&n->out), *t = mc_format("view(%s)", s);
    free(s);
    return t;
  }
  case N_MEAN: {
    Buf b = {0};
    buf_printf(&b, "mean(dim=(");
    for (int i = 0; i < n->ndims; i++)
      buf_printf(&b, "%s%lld", i ? ", " : "", (long long)n->dims[i]);
    buf_printf(&b, "%s)%s)", n->ndims == 1 ? "," : "",
               n->keepdim ? ", keepdim=True" : "");
    return b.s;
  }
  }
  return mc_strdup(op);
}

/* A module model: one row per call of forward, in execution order. */
static void graph_table(FILE *out, const Model *m) {
  char b1[32], b2[32], b3[32], b4[64];
  int wname = 4, wtext = 9, wins = 6, wshape = 12;
  char **texts = mc_alloc(sizeof(char *) * (size_t)m->nnodes);
  char **ins = mc_alloc(sizeof(char *) * (size_t)m->nnodes);
  for (int i = 1; i < m->nnodes; i++) {
    const Node *n = &m->nodes[i];
    Buf b = {0};
    for (int k = 0; k < n->nin; k++)
      buf_printf(&b, "%s%s", k ? ", " : "", m->nodes[n->in[k]].name);
    ins[i] = b.s ? b.s : mc_strdup("");
    texts[i] = node_text(m, n);
    char *s = shape_str(&n->out);
    if ((int)strlen(n->name) > wname) wname = (int)strlen(n->name);
    if ((int)strlen(texts[i]) > wtext) wtext = (int)strlen(texts[i]);
    if ((int)strlen(ins[i]) > wins) wins = (int)strlen(ins[i]);
    if ((int)strlen(s) > wshape) wshape = (int)strlen(s);
    free(s);
  }
  fprintf(out, "\n%3s  %-*s  %-*s  %-*s  %-*s  %10s  %12s\n", "#", wname,
          "name", wtext, "operation", wins, "inputs", wshape, "output shape",
          "params", "MACs");
  int64_t params = 0, macs = 0;
  for (int i = 1; i < m->nnodes; i++) {
    const Node *n = &m->nodes[i];
    int64_t np = 0, mac = 0;
    if (n->op == N_LAYER) {
      const Layer *l = &m->layers[n->layer];
      mac = l->macs;
      /* parameters once, at the layer's first call */
      int first = 1;
      for (int k = 1; k < i; k++)
        first &= !(m->nodes[k].op == N_LAYER && m->nodes[k].layer == n->layer);
      np = first ? l->nparams : 0;
    }
    char *s = shape_str(&n->out);
    fprintf(out, "%3d  %-*s  %-*s  %-*s  %-*s  %10s  %12s\n", i - 1, wname,
            n->name, wtext, texts[i], wins, ins[i], wshape, s,
            mc_group_digits(np, b1), mc_group_digits(mac, b2));
    free(s);
    free(texts[i]);
    free(ins[i]);
    params = mc_satadd(params, np);
    macs = mc_satadd(macs, mac);
  }
  free(texts);
  free(ins);
  fprintf(out, "\ntotal: %s parameters (%s as float32), %s MACs\n",
          mc_group_digits(params, b1), bytes(mc_satmul(params, 4), b2),
          mc_group_digits(macs, b3));
  int64_t io = (shape_numel(&m->input) +
                shape_numel(&m->nodes[m->output].out)) * 4;
  fprintf(out, "activation memory: workspace %s (lower bound %s)%s, plus "
          "input and output %s\n", bytes(m->workspace_bytes, b1),
          bytes(m->workspace_bound, b3), chunk_text(m, b4), bytes(io, b2));
}

void check_print(FILE *out, const Model *m) {
  char b1[32], b2[32], b3[32], b4[64];
  char *in = shape_str(&m->input);
  fprintf(out, "model '%s' from %s: input %s\n", m->name, m->file, in);
  free(in);
  if (m->weights)
    fprintf(out, "weights: file %s\n", m->weights);
  else if (m->has_seed)
    fprintf(out, "weights: PyTorch's default init, seed %lld\n",
            (long long)m->seed);
  else
    fprintf(out, "weights: PyTorch's default init, seed 0 (the spec gives "
            "neither weights nor seed)\n");
  if (m->traced) {
    graph_table(out, m);
    return;
  }

  /* Column widths from the contents. */
  int wname = 4, wtext = 5, wshape = 12;
  for (int i = 0; i < m->nlayers; i++) {
    const Layer *l = &m->layers[i];
    char *s = shape_str(&l->out);
    if ((int)strlen(l->prefix) > wname) wname = (int)strlen(l->prefix);
    if ((int)strlen(l->text) > wtext) wtext = (int)strlen(l->text);
    if ((int)strlen(s) > wshape) wshape = (int)strlen(s);
    free(s);
  }
  fprintf(out, "\n%3s  %-*s  %-*s  %-*s  %10s  %12s\n", "#", wname, "name",
          wtext, "layer", wshape, "output shape", "params", "MACs");
  int64_t params = 0, macs = 0;
  for (int i = 0; i < m->nlayers; i++) {
    const Layer *l = &m->layers[i];
    char *s = shape_str(&l->out);
    fprintf(out, "%3d  %-*s  %-*s  %-*s  %10s  %12s\n", l->index, wname,
            l->prefix, wtext, l->text, wshape, s, mc_group_digits(l->nparams, b1),
            mc_group_digits(l->macs, b2));
    free(s);
    params = mc_satadd(params, l->nparams);
    macs = mc_satadd(macs, l->macs);
  }
  fprintf(out, "\ntotal: %s parameters (%s as float32), %s MACs\n",
          mc_group_digits(params, b1), bytes(mc_satmul(params, 4), b2), mc_group_digits(macs, b3));
  int64_t io = (shape_numel(&m->input) +
                shape_numel(&m->layers[m->nlayers - 1].out)) * 4;
  fprintf(out, "activation memory: workspace %s%s, plus input and output "
          "%s\n", bytes(m->workspace_bytes, b1), chunk_text(m, b4),
          bytes(io, b2));
}

/* Thumb-2 code per byte of the C size limits.c estimates (an upper
 * estimate: the example models' code at -O2 on M4F and M0 measured 1.4
 * to 10 times smaller than this gives). */
#define CODE_PER_C_BYTE 4

void check_print_target(FILE *out, const Program *p) {
  const Model *m = p->user ? p->user : p->m; /* the caller's tensors */
  if (p->target == TARGET_GENERIC) return;
  char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32], b7[32];
  int64_t params = 0;
  for (int i = 0; i < m->nlayers; i++) params = mc_satadd(params, m->layers[i].nparams);
  int64_t weights = mc_satmul(params, 4);
  int64_t code = limits_code_bytes(p) / CODE_PER_C_BYTE;
  int64_t in = shape_numel(&m->input) * 4;
  int64_t o = shape_numel(&m->layers[m->nlayers - 1].out) * 4;
  int64_t ws = p->workspace_bytes;
  fprintf(out, "%s estimate: flash %s (code at most about %s, weights at most %s), "
          "RAM %s (workspace %s, input %s, output %s)\n",
          target_names[p->target], bytes(mc_satadd(code, weights), b1),
          bytes(code, b2), bytes(weights, b3),
          bytes(mc_satadd(ws, in + o), b4), bytes(ws, b5), bytes(in, b6),
          bytes(o, b7));
}
