/* layers.c: the table from spec names (nn.Conv1d) to layer kinds. Adding
 * a layer: one file in layers/, one row here, one test. */
#include "layers/layers.h"

#include <string.h>

static const LayerKind *const kinds[] = {
    &kind_Conv1d,         &kind_Conv2d,         &kind_Conv3d,
    &kind_MaxPool1d,      &kind_MaxPool2d,      &kind_AvgPool1d,
    &kind_AvgPool2d,      &kind_AdaptiveAvgPool1d, &kind_AdaptiveAvgPool2d,
    &kind_BatchNorm1d,    &kind_BatchNorm2d,    &kind_Linear,
    &kind_Flatten,        &kind_ReLU,           &kind_ReLU6,
    &kind_LeakyReLU,      &kind_ELU,            &kind_Sigmoid,
    &kind_Tanh,           &kind_GELU,           &kind_SiLU,
    &kind_Softmax,        &kind_LogSoftmax,     &kind_Dropout,
    &kind_Identity,       &kind_Hardswish,      &kind_Hardsigmoid,
    &kind_ZeroPad1d,      &kind_ZeroPad2d,      &kind_ConstantPad1d,
    &kind_ConstantPad2d,  &kind_ReflectionPad1d, &kind_ReflectionPad2d,
    &kind_ReplicationPad1d, &kind_ReplicationPad2d,
};

#define NKINDS ((int)(sizeof kinds / sizeof kinds[0]))

const LayerKind *layer_kind_at(int i) {
  return i >= 0 && i < NKINDS ? kinds[i] : NULL;
}

const LayerKind *layer_kind_find(const char *name) {
  for (int i = 0; i < NKINDS; i++)
    if (strcmp(kinds[i]->name, name) == 0) return kinds[i];
  return NULL;
}

const char *layer_kind_suggest(const char *name) {
  const char *best = NULL;
  int bestd = 3;
  for (int i = 0; i < NKINDS; i++) {
    int e = mc_levenshtein(name, kinds[i]->name);
    if (e < bestd) bestd = e, best = kinds[i]->name;
  }
  return best;
}
