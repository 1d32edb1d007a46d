/* bad_model.c: models that break the generated code's contract, so that
 * run.sh can check that main.c catches each: with -DBAD_INPUT it writes
 * its input; with -DBAD_WORKSPACE it reads its workspace before writing
 * it (a dirty workspace then changes the output). */
#include "bad_model.h"

void bad_model_forward_ws(const float *input, float *output, void *workspace) {
  float *ws = workspace;
#if defined(BAD_INPUT)
  ((float *)input)[3] = 0.0f;
  ws[0] = input[0];
#elif defined(BAD_WORKSPACE)
  ws[0] += input[0];
#else
  ws[0] = input[0];
#endif
  output[0] = ws[0];
  output[1] = input[1];
}
