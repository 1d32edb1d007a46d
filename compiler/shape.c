/* shape.c: shape inference over the layer sequence. Each layer kind owns
 * its rule (layers/); this file chains them, adds the note that points at
 * the layer whose output caused an error, and checks inline parameters
 * against the shapes the layers expect. Stops at the first error: later
 * shapes depend on it. */
#include "modelc.h"

#include <stdlib.h>

static void producer_note(Diag *d, const Model *m, int i) {
  char *s = shape_str(&m->layers[i].in);
  if (i == 0) {
    diag_note(d, &m->loc, "the input shape %s is set here", s);
  } else {
    const Layer *p = &m->layers[i - 1];
    char *pre = layer_prefix(p);
    diag_note(d, &p->loc, "%s produced %s", pre, s);
    free(pre);
  }
  free(s);
}

/* Every parameter fits in MC_MAX_NUMEL elements, so its size, and any
 * product of its dimensions (the taps of a kernel), fits in int64. */
static int check_param_sizes(const Layer *l, Diag *d) {
  for (int p = 0; p < P_COUNT; p++) {
    const Param *pa = &l->param[p];
    if (!pa->used || shape_numel(&pa->shape) >= 0) continue;
    char *s = shape_str(&pa->shape);
    layer_error(d, l, "its '%s' of shape %s is too large (more than 2^40 "
                "elements)", param_suffix[p], s);
    free(s);
    return -1;
  }
  return 0;
}

static int check_inline(const Layer *l, Diag *d) {
  for (int p = 0; p < P_COUNT; p++) {
    const Param *pa = &l->param[p];
    if (!pa->inline_data) continue;
    if (!pa->used) {
      layer_error(d, l, "the layer has no parameter '%s'", param_suffix[p]);
      return -1;
    }
    if (!shape_eq(&pa->given, &pa->shape)) {
      char *g = shape_str(&pa->given), *w = shape_str(&pa->shape);
      layer_error(d, l, "inline '%s' has shape %s, expected %s",
                  param_suffix[p], g, w);
      free(g);
      free(w);
      return -1;
    }
  }
  return 0;
}

int shape_check_params(const Layer *l, Diag *d) {
  return check_param_sizes(l, d) || check_inline(l, d) ? -1 : 0;
}

/* A layer list's graph: the chain input -> layer 0 -> layer 1 -> ... */
static void chain_nodes(Model *m) {
  m->nodes = mc_alloc(sizeof(Node) * (size_t)(m->nlayers + 1));
  m->nnodes = m->nlayers + 1;
  Node *in = &m->nodes[0];
  in->op = N_INPUT;
  in->name = mc_strdup("input");
  in->module = mc_strdup("");
  in->loc = in->built = m->loc;
  in->out = m->input;
  for (int i = 0; i < m->nlayers; i++) {
    const Layer *l = &m->layers[i];
    Node *n = &m->nodes[i + 1];
    n->op = N_LAYER;
    n->layer = i;
    n->in[0] = i;
    n->nin = 1;
    n->name = mc_strdup(l->prefix);
    n->module = mc_strdup("");
    n->loc = n->built = l->loc;
    n->out = l->out;
  }
  m->output = m->nlayers;
}

int shape_infer(Model *m, Diag *d) {
  if (m->traced) return 0; /* shapes were inferred as forward ran */
  Shape cur = m->input;
  for (int i = 0; i < m->nlayers; i++) {
    Layer *l = &m->layers[i];
    l->in = cur;
    if (l->kind->shape(l, d)) {
      producer_note(d, m, i);
      return -1;
    }
    if (check_param_sizes(l, d) || check_inline(l, d)) return -1;
    cur = l->out;
  }
  if (!m->nodes) chain_nodes(m);
  return 0;
}
