/* bad_model.h: a deliberately broken "model" for run.sh's self-check. */
#ifndef BAD_MODEL_H
#define BAD_MODEL_H

#define BAD_MODEL_INPUT_SIZE 4
#define BAD_MODEL_OUTPUT_SIZE 2
#define BAD_MODEL_WORKSPACE_SIZE 8

void bad_model_forward_ws(const float *input, float *output, void *workspace);

#endif
