/* driver.c: the back end as one straight line.
 *
 *   spec -> shapes -> lower -> plan -> limits -> weights -> pack -> emit
 *
 * spec_load and shape_infer come first (main.c); this file runs the rest
 * up to the packed program, which emit_program prints and jit_program
 * compiles. Each phase reads what the one before it decided; lower runs
 * once per command. */
#include "modelc.h"

int compile_model(Model *m, const CompileOptions *o, Program *p, Diag *d) {
  lower(m, o->target, o->kernels, p);
  plan_program(p);
  m->workspace_bytes = p->workspace_bytes;
  m->workspace_bound = p->workspace_bound;
  if (limits_check(p, d)) return -1;
  if (!o->weights) return 0;
  if (weights_load(m, o->weights_path, d)) return -1;
  pack_program(p);
  return 0;
}
