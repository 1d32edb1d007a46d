/* driver.c: the back end as one straight line.
 *
 *   spec -> shapes -> chunk -> lower -> plan -> limits -> weights -> pack
 *       -> emit
 *
 * spec_load and shape_infer come first (main.c); this file runs the rest
 * up to the packed program, which emit_program prints and jit_program
 * compiles. Each phase reads what the one before it decided; lower runs
 * once per command, on the model or on its chunk (chunk.c). */
#include "modelc.h"

#include <stdlib.h>

int compile_model(Model *m, const CompileOptions *o, Program *p, Diag *d) {
  char why[sizeof p->chunk_why];
  int64_t b = chunk_samples(m, why, sizeof why);
  Model *c = NULL;
  if (b < m->input.d[0]) {
    c = mc_alloc(sizeof *c);
    model_chunk(m, b, c);
  }
  lower(c ? c : m, o->target, o->kernels, p);
  p->user = m;
  p->chunk = c;
  p->passes = c ? m->input.d[0] / b : 1;
  snprintf(p->chunk_why, sizeof p->chunk_why, "%s", why);
  p->prefetch = chunk_prefetch(p);
  plan_program(p);
  m->workspace_bytes = p->workspace_bytes;
  m->workspace_bound = p->workspace_bound;
  m->chunk = c ? b : 0;
  if (limits_check(p, d)) return -1;
  if (!o->weights) return 0;
  if (weights_load(m, o->weights_path, d)) return -1;
  pack_program(p);
  return 0;
}
