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

void check_print(FILE *out, const Model *m) {
  char b1[32], b2[32], b3[32];
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
  fprintf(out, "activation memory: workspace %s, plus input and output %s\n",
          bytes(m->workspace_bytes, b1), bytes(io, b2));
}

/* Thumb-2 code per byte of the C size limits.c estimates (an upper
 * estimate: the example models' code at -O2 on M4F and M0 measured 1.4
 * to 10 times smaller than this gives). */
#define CODE_PER_C_BYTE 4

void check_print_target(FILE *out, const Program *p) {
  const Model *m = p->m;
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
