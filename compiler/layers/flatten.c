/* layers/flatten.c: Flatten(start_dim=1, end_dim=-1), a view. */
#include "layers.h"

static const ArgSpec flatten_args[] = {
    {"start_dim", A_INT, 0}, {"end_dim", A_INT, 0}, {0, 0, 0}};

static int flatten_parse(Layer *l, const ArgVal *v, Diag *d) {
  (void)d;
  l->a.start_dim = arg_int(&v[0], 1, 0);
  l->a.end_dim = arg_int(&v[1], -1, 0);
  return 0;
}

static int flatten_shape(Layer *l, Diag *d) {
  const Shape *in = &l->in;
  int64_t s, e;
  if (layer_norm_dim(d, l, l->a.start_dim, in->n, &s) ||
      layer_norm_dim(d, l, l->a.end_dim, in->n, &e))
    return -1;
  if (s > e) {
    layer_error(d, l, "flatten() has invalid args: start_dim cannot come "
                "after end_dim");
    return -1;
  }
  Shape out = {0, {0}};
  for (int i = 0; i < s; i++) out.d[out.n++] = in->d[i];
  int64_t prod = 1;
  for (int64_t i = s; i <= e; i++) prod *= in->d[i];
  out.d[out.n++] = prod;
  for (int i = (int)e + 1; i < in->n; i++) out.d[out.n++] = in->d[i];
  l->out = out;
  return 0;
}

/* A view: the data does not move. */
const LayerKind kind_Flatten = {"Flatten", 0, flatten_args, 0, flatten_parse,
                                flatten_shape, NULL, ROLE_NOOP, FAM_NOOP, 0,
                                NULL, NULL};
