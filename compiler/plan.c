/* plan.c: the activation memory plan.
 *
 * The model is a chain, so each intermediate tensor lives from the layer
 * that writes it to the layer that reads it. Tensors alternate between the
 * bottom and the top of one workspace: the workspace is the largest sum
 * of two consecutive intermediates, the least any plan can use. Layers
 * that work in place (activations, Dropout, Identity, Flatten) add no
 * tensor; the first layer reads the caller's input and the last writes
 * the caller's output. An in-place layer cannot write the input, which is
 * never written, so when one comes first it gets a buffer of its own. */
#include "modelc.h"

#include <string.h>

int plan_in_place(const Layer *l) {
  const char *k = l->kind->name;
  static const char *const names[] = {
      "ReLU", "ReLU6", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "GELU",
      "SiLU", "Dropout", "Identity", "Flatten", "BatchNorm1d", "BatchNorm2d",
      "Softmax", "LogSoftmax", NULL};
  for (int i = 0; names[i]; i++)
    if (strcmp(k, names[i]) == 0) return 1;
  return 0;
}

void plan_memory(Model *m) {
  int64_t prev = 0, best = 0;
  int in_input = 1; /* the current tensor is still the caller's input */
  for (int i = 0; i < m->nlayers; i++) {
    const Layer *l = &m->layers[i];
    int last = i == m->nlayers - 1;
    if (plan_in_place(l) && !in_input) continue;
    int64_t size = last ? 0 : shape_numel(&l->out) * (int64_t)sizeof(float);
    if (mc_satadd(prev, size) > best) best = mc_satadd(prev, size);
    prev = size;
    in_input = 0;
  }
  m->workspace_bytes = best;
}
