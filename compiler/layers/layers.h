/* layers/layers.h: what the layer files share beyond modelc.h. */
#ifndef MODELC_LAYERS_H
#define MODELC_LAYERS_H

#include "modelc.h"

char *layer_len_formula(const char *what, int64_t len, int64_t lo, int64_t hi,
                        int64_t dil, int64_t k, int64_t stride, int ceil_mode,
                        int64_t result);
const char *layer_dim_name(int nsp, int i);

/* A list argument as a PyTorch kernel receives it. */
typedef struct List {
  int n;
  int64_t v[MC_MAXDIM];
} List;

/* An argument's value, or its default. */
static inline int64_t arg_int(const ArgVal *v, int64_t dflt, int i) {
  return v->set ? v->i[i] : dflt;
}

extern const LayerKind kind_Conv1d, kind_Conv2d, kind_Conv3d;
extern const LayerKind kind_MaxPool1d, kind_MaxPool2d, kind_AvgPool1d,
    kind_AvgPool2d;
extern const LayerKind kind_AdaptiveAvgPool1d, kind_AdaptiveAvgPool2d;
extern const LayerKind kind_BatchNorm1d, kind_BatchNorm2d;
extern const LayerKind kind_Linear, kind_Flatten;
extern const LayerKind kind_ReLU, kind_ReLU6, kind_LeakyReLU, kind_ELU,
    kind_Sigmoid, kind_Tanh, kind_GELU, kind_SiLU, kind_Softmax,
    kind_LogSoftmax, kind_Dropout, kind_Identity, kind_Hardswish,
    kind_Hardsigmoid;
extern const LayerKind kind_ZeroPad1d, kind_ZeroPad2d, kind_ConstantPad1d,
    kind_ConstantPad2d, kind_ReflectionPad1d, kind_ReflectionPad2d,
    kind_ReplicationPad1d, kind_ReplicationPad2d;

#endif
