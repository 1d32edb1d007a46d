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

/* A layer forward never called has no shapes inferred: its parameters'
 * shapes from its arguments alone, as its constructor makes them. */
static void spare_params(Layer *l) {
  const LayerArgs *a = &l->a;
  KindFamily f = l->kind->family;
  if (f == FAM_CONV) {
    int64_t w[2 + 3] = {a->out, a->groups > 0 ? a->in / a->groups : a->in};
    const ArgVal *k = &l->arg[2]; /* kernel_size, as bound */
    for (int i = 0; i < l->kind->nsp; i++)
      w[2 + i] = k->i[i < k->n ? i : 0];
    layer_set_param(l, P_WEIGHT, 2 + l->kind->nsp, w);
    if (a->bias) layer_set_param(l, P_BIAS, 1, &a->out);
  } else if (f == FAM_LINEAR) {
    int64_t w[2] = {a->out, a->in};
    layer_set_param(l, P_WEIGHT, 2, w);
    if (a->bias) layer_set_param(l, P_BIAS, 1, &a->out);
  } else if (f == FAM_NORM) {
    if (a->affine) {
      layer_set_param(l, P_WEIGHT, 1, &a->in);
      layer_set_param(l, P_BIAS, 1, &a->in);
    }
    if (a->track_running_stats) {
      layer_set_param(l, P_RUNNING_MEAN, 1, &a->in);
      layer_set_param(l, P_RUNNING_VAR, 1, &a->in);
    }
  }
}

static int by_ctor(const void *a, const void *b) {
  const Layer *x = *(const Layer *const *)a, *y = *(const Layer *const *)b;
  return (x->ctor > y->ctor) - (x->ctor < y->ctor);
}

/* torch.manual_seed(seed), then each layer's reset_parameters() in the
 * order the layers were constructed: a layer list's order, or for a
 * module model the spec's construction order, spare layers included (in
 * PyTorch they draw their numbers too). */
static void seeded_init(Model *m) {
  TorchGen g;
  tr_seed(&g, (uint64_t)(m->has_seed ? m->seed : 0));
  int n = m->nlayers + m->nspare;
  Layer **order = mc_alloc(sizeof(Layer *) * (size_t)(n + 1));
  for (int i = 0; i < m->nlayers; i++) order[i] = &m->layers[i];
  for (int i = 0; i < m->nspare; i++) {
    spare_params(&m->spare[i]);
    order[m->nlayers + i] = &m->spare[i];
  }
  if (m->traced) qsort(order, (size_t)n, sizeof *order, by_ctor);
  for (int i = 0; i < n; i++) {
    Layer *l = order[i];
    for (int p = 0; p < P_COUNT; p++) {
      Param *pa = &l->param[p];
      if (!pa->used) continue;
      int64_t numel = shape_numel(&pa->shape);
      free(pa->data); /* a model loaded again: the draws replace it */
      pa->data = mc_alloc(sizeof(float) * (size_t)(numel > 0 ? numel : 1));
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
  free(order);
}

/* A parameter's key: the layer's prefix and the suffix ("weight" alone
 * for a model that is one layer). */
static char *param_key(const Layer *l, int p) {
  return *l->prefix ? mc_format("%s.%s", l->prefix, param_suffix[p])
                    : mc_strdup(param_suffix[p]);
}

static char *st_shape_str(const StTensor *t) {
  Shape s = {t->ndim, {0}};
  for (int i = 0; i < t->ndim && i < MC_MAXDIM; i++) s.d[i] = t->shape[i];
  return shape_str(&s);
}

static int st_shape_is(const StTensor *t, const Shape *s) {
  int same = t->ndim == s->n;
  for (int k = 0; same && k < t->ndim; k++) same = t->shape[k] == s->d[k];
  return same;
}

/* `a` ends with "." followed by `b`. */
static int ends_with_path(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  return na > nb + 1 && strcmp(a + na - nb, b) == 0 && a[na - nb - 1] == '.';
}

/* How far key `k` of the file is from the missing `key`: 0 when one is the
 * other under another prefix (features.0.weight for 0.weight), then small
 * edits; -1 when it is not near. */
static int key_distance(const char *key, const char *k) {
  if (ends_with_path(k, key) || ends_with_path(key, k)) return 0;
  const char *dk = strrchr(key, '.'), *dt = strrchr(k, '.');
  size_t n = strlen(key);
  int limit = n < 8 ? 1 : n < 16 ? 2 : 3;
  int e = mc_levenshtein(key, k);
  if (dk && dt && strcmp(dk, dt) == 0) limit++; /* same parameter */
  return e <= limit ? e : -1;
}

/* The hint for a missing key: the nearest key the file holds, preferring
 * one of the expected shape. */
static void hint_near(Diag *d, const Layer *l, const StFile *f,
                      const char *key, int which, const Shape *want) {
  const StTensor *best = NULL;
  int bestscore = 0;
  for (int i = 0; i < f->count; i++) {
    const StTensor *t = &f->tensors[i];
    int e = key_distance(key, t->name);
    if (e < 0) continue;
    int score = e * 2 + !st_shape_is(t, want);
    if (!best || score < bestscore) best = t, bestscore = score;
  }
  if (!best) return;
  char *shape = st_shape_str(best);
  const char *suffix = param_suffix[which];
  if (ends_with_path(best->name, suffix))
    diag_hint(d, &l->loc, "the file holds '%s' %s: name = \"%.*s\" loads it",
              best->name, shape,
              (int)(strlen(best->name) - strlen(suffix) - 1), best->name);
  else
    diag_hint(d, &l->loc, "did you mean '%s'? (the file holds it, %s)",
              best->name, shape);
  free(shape);
}

/* Check (and, unless header_only, take) each parameter without an inline
 * value from the file. The first missing key is an error with a hint, the
 * others one note; the unused tensors are listed in a warning either way,
 * so the user sees what the file does hold. */
static int from_file(Model *m, const char *path, const StFile *f,
                     int header_only, Diag *d) {
  char *used = mc_alloc((size_t)f->count + 1);
  int bad = 0, nmissing = 0;
  Buf missing = {0};
  for (int i = 0; i < m->nlayers; i++) {
    Layer *l = &m->layers[i];
    for (int p = 0; p < P_COUNT; p++) {
      Param *pa = &l->param[p];
      if (!pa->used || pa->inline_data) continue;
      char *key = param_key(l, p);
      const StTensor *t = st_find(f, key);
      char *want = shape_str(&pa->shape);
      bad |= !t || !st_readable(t) || !st_shape_is(t, &pa->shape);
      if (!t && nmissing++ == 0) {
        /* PyTorch's load_state_dict wording, then what modelc knows. */
        layer_error(d, l, "weights file '%s': Missing key(s) in state_dict: "
                    "\"%s\". (expected shape %s)", path, key, want);
        hint_near(d, l, f, key, p, &pa->shape);
      } else if (!t) {
        if (nmissing <= 9)
          buf_printf(&missing, "%s\"%s\"", nmissing > 2 ? ", " : "", key);
      } else if (!st_readable(t)) {
        used[t - f->tensors] = 1;
        layer_error(d, l, "weights file '%s': tensor '%s' has dtype %s; "
                    "modelc reads F32, F16, BF16 and F64", path, key,
                    t->dtype);
      } else if (!st_shape_is(t, &pa->shape)) {
        used[t - f->tensors] = 1;
        char *got = st_shape_str(t);
        layer_error(d, l, "weights file '%s': size mismatch for %s: "
                    "copying a param with shape torch.Size(%s) from "
                    "checkpoint, the shape in current model is "
                    "torch.Size(%s).", path, key, got, want);
        free(got);
      } else {
        used[t - f->tensors] = 1;
        if (!header_only) {
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
  /* The keys of layers forward never calls are theirs, not unexpected. */
  for (int i = 0; i < m->nspare; i++) {
    Layer *l = &m->spare[i];
    spare_params(l);
    for (int p = 0; p < P_COUNT; p++) {
      if (!l->param[p].used) continue;
      char *key = param_key(l, p);
      const StTensor *t = st_find(f, key);
      if (t) used[t - f->tensors] = 1;
      free(key);
    }
  }
  if (nmissing > 1)
    diag_note(d, &m->loc, "weights file '%s': %d more key%s missing: %s%s",
              path, nmissing - 1, nmissing == 2 ? " is" : "s are", missing.s,
              nmissing > 9 ? ", ..." : "");
  buf_free(&missing);
  Buf names = {0};
  int n = 0;
  for (int i = 0; i < f->count; i++) {
    if (used[i]) continue;
    if (n < 16)
      buf_printf(&names, "%s\"%s\"", n ? ", " : "", f->tensors[i].name);
    n++;
  }
  if (n > 16) buf_printf(&names, ", ... (%d in all)", n);
  if (n)
    diag_warning(d, &m->loc, "weights file '%s': Unexpected key(s) in "
                 "state_dict: %s. (used by no layer, or replaced by an "
                 "inline value; ignored)", path, names.s);
  buf_free(&names);
  free(used);
  return bad ? -1 : 0;
}

/* Open the weights file (header_only: its header and layout, no data) and
 * match it to the layers. */
static int from_path(Model *m, const char *path, int header_only, Diag *d) {
  StFile f = {0};
  char err[512];
  Limits lim;
  limits_resolve(&m->lim, &lim);
  StOptions o = {(uint64_t)lim.max_params, header_only, 1};
  int r;
  if (st_open(path, &o, &f, err, sizeof err)) {
    diag_error(d, &m->loc, "weights file '%s': %s", path, err);
    if (strstr(err, "more than the limit"))
      diag_hint(d, &m->loc, "raise the limit with --max-params N");
    if (strcmp(err, ST_ZIP_MESSAGE) == 0) {
      const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
      int stem = dot && (!slash || dot > slash) ? (int)(dot - path)
                                                : (int)strlen(path);
      diag_hint(d, &m->loc, "convert it with: python3 "
                "tools/pt2safetensors.py %s %.*s.safetensors", path, stem,
                path);
    }
    r = -1;
  } else {
    r = from_file(m, path, &f, header_only, d);
  }
  st_free(&f);
  return r;
}

/* The weights file to read: --weights, else the spec's, or NULL. */
static char *weights_path(const Model *m, const char *override) {
  return override ? mc_strdup(override)
         : m->weights ? spec_relative(m, m->weights) : NULL;
}

int weights_check(Model *m, const char *override, Diag *d) {
  char *path = weights_path(m, override);
  int r = path ? from_path(m, path, 1, d) : 0;
  free(path);
  return r;
}

int weights_load(Model *m, const char *override, Diag *d) {
  char *path = weights_path(m, override);
  int r = 0;
  if (path) r = from_path(m, path, 0, d);
  else seeded_init(m);
  free(path);
  if (r == 0 && override) { /* the file the generated code's banner names */
    free(m->weights_given);
    m->weights_given = mc_strdup(override);
  }
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
