/* limits.c: hard limits on what a valid spec may ask for.
 *
 * A spec can be valid and still absurd: Conv1d{1, 1e9, 3} has four billion
 * parameters, an input of 2^40 floats needs 4 TiB, a 3-D kernel of 200^3
 * taps with padding unrolls into gigabytes of C. These are refused after
 * lowering and the memory plan, which allocate nothing in
 * proportion to them, and before the weights, the generated text or the
 * JIT's buffers are allocated. Each message gives the number, the limit and
 * the option that raises it, at the line of the layer responsible (the
 * model line when it is the input). The layer count is checked earlier, by
 * spec.c, before the layers are allocated; a weights file's size by
 * weights.c, before its tensors are read. Every count here saturates, so
 * no product overflows. */
#include "modelc.h"
#include "kernels/kernel.h"

#include <stdlib.h>
#include <string.h>

static int64_t or_default(int64_t v, int64_t def) { return v > 0 ? v : def; }

void limits_resolve(const Limits *in, Limits *out) {
  out->max_instructions =
      or_default(in->max_instructions, MC_DEFAULT_INSTRUCTIONS);
  out->max_memory = or_default(in->max_memory, MC_DEFAULT_MEMORY);
  out->max_layers = or_default(in->max_layers, MC_DEFAULT_LAYERS);
  out->max_params = or_default(in->max_params, MC_DEFAULT_PARAMS);
  out->max_activation = or_default(in->max_activation, MC_DEFAULT_ACTIVATION);
  out->max_code = or_default(in->max_code, MC_DEFAULT_CODE);
}

/* Bytes of a float32 tensor, saturating. */
static int64_t tensor_bytes(const Shape *s) {
  int64_t n = shape_numel(s);
  return n < 0 ? INT64_MAX : mc_satmul(n, (int64_t)sizeof(float));
}

/* Generated C apart from the weight arrays (those are bounded by
 * --max-params), measured on the example specs, the fixture models and
 * large kernels, and rounded up: each kernel tap of a convolution that is
 * unrolled one by one (the taps near padding, em_taps) costs a loop of up
 * to ~300 bytes; each layer a function and its comments. */
#define CODE_FILE 8192
#define CODE_LAYER 8192
#define CODE_PER_TAP 400

/* A layer's share: its function, plus what the kernel of the op it is
 * the main layer of estimates for its body. */
static int64_t layer_code_bytes(const Program *p, const Layer *l) {
  int64_t b = CODE_LAYER;
  for (int i = 0; i < p->nops; i++) {
    const Op *op = &p->ops[i];
    if ((op->orig ? op->orig : op->main) == l && op->kernel &&
        op->kernel->code_bytes)
      b = mc_satadd(b, op->kernel->code_bytes(op));
  }
  return b;
}

int64_t limits_code_bytes(const Program *p) {
  const Model *m = p->m;
  int64_t b = CODE_FILE;
  for (int i = 0; i < m->nlayers; i++)
    b = mc_satadd(b, layer_code_bytes(p, &m->layers[i]));
  for (int i = 0; i < p->nops; i++) /* a tensor op (add, cat, mean): a
                                       function of a few loops */
    if (p->ops[i].top) b = mc_satadd(b, CODE_LAYER);
  return b;
}

static void hint(Diag *d, const SrcLoc *at, const char *option) {
  diag_hint(d, at, "raise the limit with %s", option);
}

static int check_params(const Model *m, Diag *d) {
  int64_t total = 0, max = m->lim.max_params;
  char b1[32], b2[32], b3[32];
  for (int i = 0; i < m->nlayers; i++) {
    const Layer *l = &m->layers[i];
    total = mc_satadd(total, l->nparams);
    if (total <= max) continue;
    /* The layer that crosses the limit is the one to look at. */
    if (l->nparams == total)
      layer_error(d, l, "the layer has %s parameters, more than the limit "
                  "of %s", mc_group_digits(l->nparams, b1),
                  mc_group_digits(max, b2));
    else
      layer_error(d, l, "the layer has %s parameters, which brings the "
                  "model to %s, more than the limit of %s",
                  mc_group_digits(l->nparams, b1),
                  mc_group_digits(total, b3), mc_group_digits(max, b2));
    hint(d, &l->loc, "--max-params N");
    return -1;
  }
  return 0;
}

/* The workspace plus the caller's input and output; the largest tensor
 * names the place to look. */
static int check_activation(const Model *m, int64_t workspace, Diag *d) {
  const Shape *out = m->nlayers ? &m->layers[m->nlayers - 1].out : &m->input;
  int64_t total = mc_satadd(workspace,
                            mc_satadd(tensor_bytes(&m->input),
                                      tensor_bytes(out)));
  int64_t max = m->lim.max_activation;
  if (total <= max) return 0;
  char b1[32], b2[32], b3[32];
  int worst = -1;
  int64_t worst_bytes = tensor_bytes(&m->input);
  for (int i = 0; i < m->nlayers; i++)
    if (tensor_bytes(&m->layers[i].out) > worst_bytes)
      worst = i, worst_bytes = tensor_bytes(&m->layers[i].out);
  const char *what = "bytes of activation memory (workspace, input and "
                     "output)";
  if (worst < 0) {
    char *s = shape_str(&m->input);
    diag_error(d, &m->loc, "model '%s': the input %s takes %s bytes; the "
               "model needs %s %s, more than the limit of %s", m->name, s,
               mc_group_digits(worst_bytes, b1), mc_group_digits(total, b3),
               what, mc_group_digits(max, b2));
    free(s);
    hint(d, &m->loc, "--max-activation-bytes N");
  } else {
    const Layer *l = &m->layers[worst];
    char *s = shape_str(&l->out);
    layer_error(d, l, "its output %s takes %s bytes; the model needs %s "
                "%s, more than the limit of %s", s,
                mc_group_digits(worst_bytes, b1), mc_group_digits(total, b3),
                what, mc_group_digits(max, b2));
    free(s);
    hint(d, &l->loc, "--max-activation-bytes N");
  }
  return -1;
}

static int check_code(const Program *p, Diag *d) {
  const Model *m = p->m;
  int64_t total = limits_code_bytes(p), max = m->lim.max_code;
  if (total <= max) return 0;
  char b1[32], b2[32], b3[32];
  int worst = 0;
  for (int i = 1; i < m->nlayers; i++)
    if (layer_code_bytes(p, &m->layers[i]) >
        layer_code_bytes(p, &m->layers[worst]))
      worst = i;
  const Layer *l = &m->layers[worst];
  layer_error(d, l, "the generated C, weights apart, would be about %s "
              "bytes (%s for this layer), more than the limit of %s",
              mc_group_digits(total, b1),
              mc_group_digits(layer_code_bytes(p, l), b3),
              mc_group_digits(max, b2));
  hint(d, &l->loc, "--max-code-bytes N");
  return -1;
}

int limits_check(const Program *p, Diag *d) {
  const Model *m = p->m, *u = p->user ? p->user : m; /* u: the caller's */
  if (check_params(u, d) || check_activation(u, p->workspace_bytes, d))
    return -1;
  if (m->nlayers && check_code(p, d)) return -1;
  return 0;
}
