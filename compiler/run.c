/* run.c: the generated C of a model, compiled in memory by TinyCC.
 *
 * The source is what `modelc build` writes, with the weight arrays
 * declared extern and bound to the compiler's own copies with
 * tcc_add_symbol (a megabyte of initialiser text would cost TinyCC far
 * more than the code itself), and without the static-workspace entry
 * point: the JIT's pages are read+execute only, so the caller passes the
 * workspace. */
#include "modelc.h"
#include "jit.h"

#include <stdlib.h>
#include <string.h>

int jit_program(const Program *p, JitModel *jm, Diag *d) {
  const Model *m = p->m;
  memset(jm, 0, sizeof *jm);
  EmitOptions eo = {.jit = 1};
  emit_program(p, &eo, &jm->g);
  JitSymbol *syms = mc_alloc(sizeof(JitSymbol) * (size_t)(jm->g.nparams + 1));
  for (int i = 0; i < jm->g.nparams; i++) {
    syms[i].name = jm->g.params[i]->name;
    syms[i].addr = jm->g.params[i]->data;
  }
  char *file = mc_format("%s.c", m->name), *err = NULL;
  jm->jit = jit_compile(jm->g.c, file, NULL, syms, jm->g.nparams, &err);
  free(syms);
  void *f = jm->jit ? jit_symbol(jm->jit, jm->g.fwd_ws) : NULL;
  if (!f) {
    diag_plain(d, "internal error: TinyCC could not compile the code "
               "generated for '%s' (a modelc bug: please report it with the "
               "spec)\n%s", m->name, err ? err : "entry point not found");
    free(err);
    free(file);
    jit_model_free(jm);
    return -1;
  }
  memcpy(&jm->fwd, &f, sizeof f);
  free(file);
  return 0;
}

void jit_model_free(JitModel *jm) {
  if (jm->jit) jit_free(jm->jit);
  generated_free(&jm->g);
  memset(jm, 0, sizeof *jm);
}
