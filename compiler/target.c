/* target.c: what each --target is (the choices it allows live in each
 * kernel's fits(), kernels/). A leaf: lower.c, the kernels, emit.c and
 * main.c read it. */
#include "modelc.h"

const char *const target_names[TARGET_COUNT] = {"generic", "cortex-m4",
                                                "cortex-m7", "cortex-m0"};

int target_has_fma(Target t) {
  return t == TARGET_CORTEX_M4 || t == TARGET_CORTEX_M7;
}
