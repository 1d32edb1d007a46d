/* testutil.h: helpers shared by the cmocka programs in tests/. */
#ifndef MODELC_TESTUTIL_H
#define MODELC_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "modelc.h"

/* Run spec text through the loader and shape inference. The messages land
 * in d->text; the model is freed unless `keep` is given. */
static inline int run_spec_text(const char *path, const char *text, Diag *d,
                                Model *keep) {
  Limits lim = {0}; /* every limit at its default */
  Model m;
  memset(d, 0, sizeof *d);
  int r = spec_load_string(path, text, strlen(text), &lim, d, &m);
  if (r == 0) r = shape_infer(&m, d);
  if (r == 0 && !m.branching) { /* the workspace, as modelc check */
    Program p;
    lower(&m, TARGET_GENERIC, KERNELS_FAST, &p);
    plan_program(&p);
    m.workspace_bytes = p.workspace_bytes;
    program_free(&p);
  }
  if (keep && r == 0) *keep = m;
  else model_free(&m);
  return r;
}

/* The back end with the fast kernels on the generic target: lower, plan,
 * limits, weights (the spec's) and pack. */
static inline int compile_default(Model *m, Program *p, Diag *d) {
  CompileOptions o = {TARGET_GENERIC, KERNELS_FAST, 1, NULL};
  return compile_model(m, &o, p, d);
}

/* Read a whole file; NULL if it cannot. */
static inline char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
    free(s);
    s = NULL;
  }
  if (s) s[n] = 0;
  if (len) *len = (size_t)n;
  fclose(f);
  return s;
}

/* Remove a scratch directory and everything in it; 0 or -1. */
static inline int test_rmdir(const char *dir) {
  char *cmd = mc_format("rm -rf '%s'", dir);
  int r = system(cmd);
  free(cmd);
  return r == 0 ? 0 : -1;
}

#endif
