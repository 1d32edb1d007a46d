/* fuzz_spec.c: arbitrary bytes as the text of a spec, through the
 * sandbox, the DSL, argument binding, shape inference and, when the
 * shapes check, the lowering decisions and the memory plan. Low limits keep each input fast. No
 * weights are loaded (a spec's `weights` path is never opened). */
#include "fuzz.h"
#include "modelc.h"

#include <string.h>

int fuzz_spec_one(const uint8_t *data, size_t size) {
  Limits lim = {0};
  lim.max_instructions = 200000;
  lim.max_memory = 8LL << 20;
  Diag d;
  Model m;
  memset(&d, 0, sizeof d);
  memset(&m, 0, sizeof m);
  int r = spec_load_string("fuzz.lua", (const char *)data, size, &lim, &d, &m);
  if (r == 0) {
    r = shape_infer(&m, &d);
    if (r == 0) { /* the decisions and the plan, without weights */
      Program p;
      lower(&m, TARGET_GENERIC, KERNELS_FAST, &p);
      plan_program(&p);
      program_free(&p);
    }
  }
  if (r != 0 && d.nerrors == 0)
    FUZZ_FAIL("spec rejected without an error message");
  model_free(&m);
  diag_free(&d);
  return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_spec_one(data, size);
}
#endif
