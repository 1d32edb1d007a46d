/* weights.c: the value of every parameter, in PyTorch's layout.
 *
 * Precedence, per tensor: an inline value in the spec, then the weights
 * file (`--weights` on the command line, else the spec's `weights`, a path
 * relative to the spec's directory), then, when there is no weights file,
 * PyTorch's default initialisation seeded with the spec's `seed` (0 if
 * none). The seeded init runs over every layer in spec order even where
 * inline values replace the result, as building the nn.Sequential and then
 * assigning would, so each layer draws the same numbers as in PyTorch. */
#include "modelc.h"
#include "safetensors.h"
#include "torchrand.h"

#include <stdlib.h>
#include <string.h>

/* The path of the spec's weights file: relative to the spec's directory. */
static char *spec_relative(const Model *m, const char *path) {
  const char *slash = strrchr(m->file, '/');
  if (path[0] == '/' || !slash) return mc_strdup(path);
  return mc_format("%.*s/%s", (int)(slash - m->file), m->file, path);
}

/* torch.manual_seed(seed), then each layer's reset_parameters() in order. */
static void seeded_init(Model *m) {
  TorchGen g;
  tr_seed(&g, (uint64_t)(m->has_seed ? m->seed : 0));
  for (int i = 0; i < m->nlayers; i++) {
    Layer *l = &m->layers[i];
    for (int p = 0; p < P_COUNT; p++) {
      Param *pa = &l->param[p];
      if (!pa->used) continue;
      int64_t n = shape_numel(&pa->shape);
      pa->data = mc_alloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    }
    if (l->kind->flags & KF_INIT_KAIMING) {
      Param *w = &l->param[P_WEIGHT], *b = &l->param[P_BIAS];
      int64_t fan_in = 1;
      for (int k = 1; k < w->shape.n; k++) fan_in *= w->shape.d[k];
      tr_init_weight_bias(&g, w->data, (size_t)shape_numel(&w->shape), fan_in,
                          b->used ? b->data : NULL,
                          b->used ? (size_t)shape_numel(&b->shape) : 0);
    } else { /* BatchNorm: weight 1, bias 0, running mean 0, variance 1 */
      const float fill[P_COUNT] = {1, 0, 0, 1};
      for (int p = 0; p < P_COUNT; p++) {
        Param *pa = &l->param[p];
        for (int64_t j = 0; pa->used && j < shape_numel(&pa->shape); j++)
          pa->data[j] = fill[p];
      }
    }
  }
}

static char *st_shape_str(const StTensor *t) {
  Shape s = {t->ndim, {0}};
  for (int i = 0; i < t->ndim && i < MC_MAXDIM; i++) s.d[i] = t->shape[i];
  return shape_str(&s);
}

/* Take each parameter without an inline value from the file. */
static int from_file(Model *m, const char *path, const StFile *f, Diag *d) {
  char *used = mc_alloc((size_t)f->count + 1);
  int bad = 0;
  for (int i = 0; i < m->nlayers; i++) {
    Layer *l = &m->layers[i];
    for (int p = 0; p < P_COUNT; p++) {
      Param *pa = &l->param[p];
      if (!pa->used || pa->inline_data) continue;
      char *key = mc_format("%s.%s", l->prefix, param_suffix[p]);
      const StTensor *t = st_find(f, key);
      char *want = shape_str(&pa->shape);
      if (!t) {
        /* PyTorch's load_state_dict wording, then what modelc knows. */
        layer_error(d, l, "weights file '%s': Missing key(s) in state_dict: "
                    "\"%s\". (expected shape %s)", path, key, want);
        bad = 1;
      } else {
        used[t - f->tensors] = 1;
        int same = t->ndim == pa->shape.n;
        for (int k = 0; same && k < t->ndim; k++)
          same = t->shape[k] == pa->shape.d[k];
        if (!same) {
          char *got = st_shape_str(t);
          layer_error(d, l, "weights file '%s': size mismatch for %s: "
                      "copying a param with shape torch.Size(%s) from "
                      "checkpoint, the shape in current model is "
                      "torch.Size(%s).", path, key, got, want);
          free(got);
          bad = 1;
        } else {
          int64_t n = shape_numel(&pa->shape);
          free(pa->data);
          pa->data = mc_alloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
          memcpy(pa->data, t->data, sizeof(float) * (size_t)n);
        }
      }
      free(want);
      free(key);
    }
  }
  if (!bad) {
    Buf names = {0};
    int n = 0;
    for (int i = 0; i < f->count; i++) {
      if (used[i]) continue;
      buf_printf(&names, "%s\"%s\"", n ? ", " : "", f->tensors[i].name);
      n++;
    }
    if (n)
      diag_warning(d, &m->loc, "weights file '%s': Unexpected key(s) in "
                   "state_dict: %s. (used by no layer, or replaced by an "
                   "inline value; ignored)", path, names.s);
    buf_free(&names);
  }
  free(used);
  return bad ? -1 : 0;
}

int weights_load(Model *m, const char *override, Diag *d) {
  char *path = override ? mc_strdup(override)
               : m->weights ? spec_relative(m, m->weights) : NULL;
  int r = 0;
  if (path) {
    StFile f = {0};
    char err[512];
    Limits lim;
    limits_resolve(&m->lim, &lim);
    if (st_load_max(path, (uint64_t)lim.max_params, &f, err, sizeof err)) {
      diag_error(d, &m->loc, "weights file '%s': %s", path, err);
      if (strstr(err, "more than the limit"))
        diag_hint(d, &m->loc, "raise the limit with --max-params N");
      r = -1;
    } else {
      r = from_file(m, path, &f, d);
    }
    st_free(&f);
  } else {
    seeded_init(m);
  }
  free(path);
  /* Inline values win. */
  for (int i = 0; r == 0 && i < m->nlayers; i++) {
    for (int p = 0; p < P_COUNT; p++) {
      Param *pa = &m->layers[i].param[p];
      if (!pa->used || !pa->inline_data) continue;
      int64_t n = shape_numel(&pa->shape);
      free(pa->data);
      pa->data = mc_alloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
      memcpy(pa->data, pa->inline_data, sizeof(float) * (size_t)n);
    }
  }
  return r;
}
