/* args.c: bind the table of a layer constructor, nn.Conv1d{1, 8, 2,
 * stride = 2}, to PyTorch's parameter list for that layer: positional
 * entries in PyTorch's positional order, then keywords; Python's errors
 * for too many, missing, repeated and unexpected arguments; type checks;
 * inline parameter tensors (weight = {...}). */
#include "sandbox.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Keys every layer takes besides its PyTorch arguments. */
static const char *const common_keys[] = {"name", "weight", "bias",
                                          "running_mean", "running_var", NULL};

static const char *describe(lua_State *L, int i) {
  if (lua_type(L, i) == LUA_TNUMBER) {
    if (lua_isinteger(L, i))
      return lua_pushfstring(L, "the number %I", lua_tointeger(L, i));
    return lua_pushfstring(L, "the number %s", lua_tostring(L, i));
  }
  if (lua_type(L, i) == LUA_TSTRING)
    return lua_pushfstring(L, "the string \"%s\"", lua_tostring(L, i));
  return lua_pushfstring(L, "a %s", luaL_typename(L, i));
}

/* An integer: a Lua integer or a float with an exact integer value, within
 * MC_MAX_INT so that no size computation can overflow int64. */
static int get_int(lua_State *L, int i, int64_t *out) {
  if (lua_type(L, i) != LUA_TNUMBER) return 0;
  if (lua_isinteger(L, i)) {
    *out = (int64_t)lua_tointeger(L, i);
  } else {
    double x = lua_tonumber(L, i);
    if (!(x == floor(x)) || !(fabs(x) < 9.2e18)) return 0;
    *out = (int64_t)x;
  }
  return *out >= -MC_MAX_INT && *out <= MC_MAX_INT;
}

/* A string argument: NUL bytes inside would cut it short in C. */
static const char *get_str(lua_State *L, int i) {
  size_t len;
  const char *s = lua_tolstring(L, i, &len);
  return s && strlen(s) == len ? s : NULL;
}

/* fmt takes the two strings a and b. */
MC_PRINTF(3, 0)
static int arg_error(Diag *d, const Layer *l, const char *fmt, const char *a,
                     const char *b) {
  char *pre = layer_prefix(l);
  char *msg = mc_format(fmt, a, b);
  diag_error(d, &l->loc, "%s: %s", pre, msg);
  free(msg);
  free(pre);
  return -1;
}

/* An integer, or (when `nsp` > 0) a tuple of up to 8 integers of any
 * length; a scalar is repeated nsp times as PyTorch's _ntuple does. */
static int read_ints(lua_State *L, int i, const Layer *l, const char *name,
                     int nsp, ArgVal *v, Diag *d) {
  if (lua_type(L, i) == LUA_TTABLE && nsp > 0) {
    lua_Integer len = (lua_Integer)lua_rawlen(L, i);
    if (len > MC_MAXDIM)
      return arg_error(d, l, "argument '%s' has more than 8 values%s", name,
                       "");
    v->is_tuple = 1;
    v->n = (int)len;
    for (int k = 0; k < v->n; k++) {
      lua_rawgeti(L, i, k + 1); /* ... x */
      if (!get_int(L, -1, &v->i[k])) {
        arg_error(d, l, "argument '%s' must be a tuple of integers, got %s",
                  name, describe(L, -1));
        lua_pop(L, 2);
        return -1;
      }
      lua_pop(L, 1);
    }
    return 0;
  }
  if (get_int(L, i, &v->i[0])) {
    v->n = nsp > 0 ? nsp : 1;
    for (int k = 1; k < v->n; k++) v->i[k] = v->i[0];
    return 0;
  }
  if (lua_type(L, i) == LUA_TNUMBER && lua_tonumber(L, i) ==
      floor(lua_tonumber(L, i)))
    arg_error(d, l, "argument '%s' is too large: modelc takes sizes up to "
              "2147483647, not %s", name, describe(L, i));
  else if (nsp > 0)
    arg_error(d, l, "argument '%s' must be an integer or a tuple of "
              "integers, not %s", name, describe(L, i));
  else
    arg_error(d, l, "argument '%s' must be an integer, not %s", name,
              describe(L, i));
  lua_pop(L, 1);
  return -1;
}

static int read_value(lua_State *L, int i, const Layer *l, const ArgSpec *s,
                      ArgVal *v, Diag *d) {
  int nsp = l->kind->nsp;
  int t = lua_type(L, i);
  const char *what;
  memset(v, 0, sizeof *v);
  v->set = 1;
  switch (s->type) {
  case A_INT:
    return read_ints(L, i, l, s->name, 0, v, d);
  case A_INTS:
  case A_OPTINTS:
    return read_ints(L, i, l, s->name, nsp ? nsp : 1, v, d);
  case A_PADDING:
    if (t == LUA_TSTRING) {
      if ((v->s = get_str(L, i))) return 0;
      return arg_error(d, l, "argument '%s' contains a NUL byte%s", s->name,
                       "");
    }
    return read_ints(L, i, l, s->name, nsp ? nsp : 1, v, d);
  case A_NUM:
  case A_OPTNUM:
    if (t == LUA_TNUMBER) {
      v->num = lua_tonumber(L, i);
      v->num_is_int = lua_isinteger(L, i);
      return 0;
    }
    what = describe(L, i);
    arg_error(d, l, "argument '%s' must be a number, not %s", s->name, what);
    lua_pop(L, 1);
    return -1;
  case A_BIAS:
    if (t == LUA_TTABLE) {
      v->b = 1; /* inline values: read as a tensor by the caller */
      return 0;
    }
    /* fall through */
  case A_BOOL:
    if (t == LUA_TBOOLEAN) {
      v->b = lua_toboolean(L, i);
      return 0;
    }
    what = describe(L, i);
    arg_error(d, l, "argument '%s' must be a boolean (true or false), not %s",
              s->name, what);
    lua_pop(L, 1);
    return -1;
  case A_STR:
    if (t == LUA_TSTRING) {
      if ((v->s = get_str(L, i))) return 0;
      return arg_error(d, l, "argument '%s' contains a NUL byte%s", s->name,
                       "");
    }
    what = describe(L, i);
    arg_error(d, l, "argument '%s' must be a string, not %s", s->name, what);
    lua_pop(L, 1);
    return -1;
  }
  return -1;
}

/* ------------------------------------------------------ inline tensors */

/* Walk nested arrays at index i: find the shape along the first entries,
 * then check every row against it and copy the numbers. */
static int tensor_shape(lua_State *L, int i, Shape *s) {
  s->n = 0;
  lua_pushvalue(L, i); /* ... t */
  while (lua_type(L, -1) == LUA_TTABLE) {
    if (s->n == MC_MAXDIM) {
      lua_pop(L, 1);
      return -1;
    }
    s->d[s->n++] = (int64_t)lua_rawlen(L, -1);
    lua_rawgeti(L, -1, 1); /* ... t t[1] */
    lua_remove(L, -2);     /* ... t[1] */
  }
  lua_pop(L, 1);
  return 0;
}

static int tensor_fill(lua_State *L, int i, const Shape *s, int dim,
                       float *out, int64_t *pos, char **why) {
  if (dim == s->n) {
    if (lua_type(L, i) != LUA_TNUMBER) {
      *why = mc_format("entry %lld is %s, not a number", (long long)*pos + 1,
                       describe(L, i));
      lua_pop(L, 1);
      return -1;
    }
    out[(*pos)++] = (float)lua_tonumber(L, i);
    return 0;
  }
  if (lua_type(L, i) != LUA_TTABLE ||
      (int64_t)lua_rawlen(L, i) != s->d[dim]) {
    *why = mc_format("it is not a rectangular array: a row at depth %d has "
                     "%lld entries where the first has %lld",
                     dim + 1,
                     (long long)(lua_type(L, i) == LUA_TTABLE
                                     ? (int64_t)lua_rawlen(L, i) : 0),
                     (long long)s->d[dim]);
    return -1;
  }
  for (int64_t k = 1; k <= s->d[dim]; k++) {
    lua_rawgeti(L, i, (lua_Integer)k); /* ... row */
    int r = tensor_fill(L, lua_gettop(L), s, dim + 1, out, pos, why);
    lua_pop(L, 1);
    if (r) return r;
  }
  return 0;
}

static int read_tensor(lua_State *L, int i, Layer *l, int which, Diag *d) {
  Param *p = &l->param[which];
  Shape s;
  char *why = NULL;
  if (tensor_shape(L, i, &s) || s.n == 0) {
    why = mc_strdup(s.n ? "it has more than 8 dimensions"
                        : "it is not an array of numbers");
  } else {
    int64_t n = shape_numel(&s);
    if (n <= 0 || n > ((int64_t)1 << 28)) {
      why = mc_strdup("it is empty or too large");
    } else {
      float *data = mc_alloc((size_t)n * sizeof(float));
      int64_t pos = 0;
      if (tensor_fill(L, i, &s, 0, data, &pos, &why) == 0) {
        free(p->inline_data);
        p->inline_data = data;
        p->given = s;
        return 0;
      }
      free(data);
    }
  }
  char *pre = layer_prefix(l);
  diag_error(d, &l->loc, "%s: inline '%s': %s", pre, param_suffix[which],
             why);
  free(pre);
  free(why);
  return -1;
}

/* --------------------------------------------------------------- bind */

static int find_arg(const LayerKind *k, const char *name) {
  for (int i = 0; k->args[i].name; i++)
    if (strcmp(k->args[i].name, name) == 0) return i;
  return -1;
}

static void suggest(Diag *d, const Layer *l, const char *name) {
  const char *best = NULL;
  int bestd = 3;
  for (int i = 0; l->kind->args[i].name; i++) {
    int e = mc_levenshtein(name, l->kind->args[i].name);
    if (e < bestd) bestd = e, best = l->kind->args[i].name;
  }
  for (int i = 0; common_keys[i]; i++) {
    int e = mc_levenshtein(name, common_keys[i]);
    if (e < bestd) bestd = e, best = common_keys[i];
  }
  if (best) diag_hint(d, &l->loc, "did you mean '%s'?", best);
}

static int param_index(const char *key) {
  for (int p = 0; p < P_COUNT; p++)
    if (strcmp(key, param_suffix[p]) == 0) return p;
  return -1;
}

static int bind_key(lua_State *L, int val, const char *key, Layer *l,
                    ArgVal *v, Diag *d) {
  const LayerKind *k = l->kind;
  int a = find_arg(k, key);
  if (strcmp(key, "name") == 0) {
    if (lua_type(L, val) != LUA_TSTRING) {
      const char *what = describe(L, val);
      return arg_error(d, l, "'%s' must be a string, not %s", key, what);
    }
    const char *s = get_str(L, val);
    if (!s) return arg_error(d, l, "'%s' contains a NUL byte%s", key, "");
    if (!*s)
      return arg_error(d, l, "module name can't be empty string \"\"%s%s",
                       "", "");
    /* A name is a state_dict prefix: a dotted path of non-empty parts. */
    if (s[0] == '.' || s[strlen(s) - 1] == '.' || strstr(s, ".."))
      return arg_error(d, l, "the name '%s' is not a state_dict prefix: %s",
                       s, strstr(s, "..") ? "it contains \"..\""
                          : s[0] == '.' ? "it starts with \".\""
                                        : "it ends with \".\"");
    free(l->name);
    l->name = mc_strdup(s);
    return 0;
  }
  int p = param_index(key);
  if (p >= 0 && (a < 0 || lua_type(L, val) == LUA_TTABLE)) {
    if (a >= 0) {
      v[a].set = 1;
      v[a].b = 1;
    }
    if (lua_type(L, val) != LUA_TTABLE) {
      const char *what = describe(L, val);
      return arg_error(d, l, "inline '%s' must be a nested array of numbers, "
                       "not %s", key, what);
    }
    return read_tensor(L, val, l, p, d);
  }
  if (k->any_args) return 0;
  if (a < 0) {
    arg_error(d, l, "__init__() got an unexpected keyword argument '%s'%s",
              key, "");
    suggest(d, l, key);
    return -1;
  }
  if (v[a].set)
    return arg_error(d, l, "__init__() got multiple values for argument '%s'%s",
                     key, "");
  return read_value(L, val, l, &k->args[a], &v[a], d);
}

int args_bind(lua_State *L, int t, Layer *l, ArgVal *v, Diag *d) {
  const LayerKind *k = l->kind;
  int nargs = 0;
  while (k->args[nargs].name) nargs++;
  t = lua_absindex(L, t);
  memset(v, 0, sizeof(ArgVal) * MC_MAXARGS);

  /* Positional entries: 1..n without holes. */
  lua_Integer npos = (lua_Integer)lua_rawlen(L, t);
  if (npos > nargs && !k->any_args) { /* Python counts self */
    int req = 1;
    while (k->args[req - 1].name && k->args[req - 1].required) req++;
    char *takes = req == nargs + 1
                      ? mc_format("%d positional argument%s", req,
                                  req == 1 ? "" : "s")
                      : mc_format("from %d to %d positional arguments", req,
                                  nargs + 1);
    char *given = mc_format("%lld", (long long)npos + 1);
    int r = arg_error(d, l, "__init__() takes %s but %s were given", takes,
                      given);
    free(takes);
    free(given);
    return r;
  }
  for (lua_Integer i = 1; i <= npos && !k->any_args; i++) {
    lua_rawgeti(L, t, i); /* ... x */
    int r = read_value(L, lua_gettop(L), l, &k->args[i - 1], &v[i - 1], d);
    if (r == 0 && k->args[i - 1].type == A_BIAS &&
        lua_type(L, -1) == LUA_TTABLE)
      r = read_tensor(L, lua_gettop(L), l, P_BIAS, d);
    lua_pop(L, 1);
    if (r) return r;
  }

  /* Keywords, in a fixed order for reproducible messages. */
  lua_pushnil(L); /* ... nil */
  const char *keys[64];
  int nkeys = 0;
  while (lua_next(L, t)) { /* ... key value */
    lua_pop(L, 1);         /* ... key */
    if (lua_type(L, -1) == LUA_TNUMBER && lua_isinteger(L, -1) &&
        lua_tointeger(L, -1) >= 1 && lua_tointeger(L, -1) <= npos)
      continue;
    if (lua_type(L, -1) != LUA_TSTRING) {
      int r = arg_error(d, l, "table key %s is neither a positional "
                        "argument nor a keyword%s", describe(L, -1), "");
      lua_pop(L, 2);
      return r;
    }
    if (nkeys == 64) {
      lua_pop(L, 1);
      return arg_error(d, l, "too many keyword arguments%s%s", "", "");
    }
    keys[nkeys++] = lua_tostring(L, -1); /* anchored in the table t */
  }
  for (int i = 1; i < nkeys; i++)
    for (int j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
      const char *x = keys[j];
      keys[j] = keys[j - 1];
      keys[j - 1] = x;
    }
  for (int i = 0; i < nkeys; i++) {
    lua_pushstring(L, keys[i]);
    lua_rawget(L, t); /* ... value */
    int r = bind_key(L, lua_gettop(L), keys[i], l, v, d);
    lua_pop(L, 1);
    if (r) return r;
  }

  /* Python: missing 2 required positional arguments: 'a' and 'b' */
  Buf names = {0};
  int missing = 0, total = 0;
  for (int i = 0; i < nargs; i++) total += k->args[i].required && !v[i].set;
  for (int i = 0; i < nargs; i++) {
    if (!k->args[i].required || v[i].set) continue;
    missing++;
    buf_printf(&names, "%s'%s'",
               missing == 1 ? "" : missing < total ? ", "
                                   : total == 2 ? " and " : ", and ",
               k->args[i].name);
  }
  if (missing) {
    char *head = mc_format("__init__() missing %d required positional "
                           "argument%s", missing, missing == 1 ? "" : "s");
    int r = arg_error(d, l, "%s: %s", head, names.s);
    free(head);
    buf_free(&names);
    return r;
  }
  return 0;
}

/* ---------------------------------------------------------------- text */

static void value_text(Buf *b, const ArgSpec *s, const ArgVal *v) {
  if (v->s) {
    buf_printf(b, "'%s'", v->s);
  } else if (s->type == A_BOOL || s->type == A_BIAS) {
    buf_printf(b, "%s", v->b ? "True" : "False");
  } else if (s->type == A_NUM || s->type == A_OPTNUM) {
    char *f = mc_pyfloat(v->num, v->num_is_int);
    buf_printf(b, "%s", f);
    free(f);
  } else if (v->is_tuple) {
    buf_printf(b, "(");
    for (int i = 0; i < v->n; i++)
      buf_printf(b, "%s%lld", i ? ", " : "", (long long)v->i[i]);
    buf_printf(b, v->n == 1 ? ",)" : ")");
  } else {
    buf_printf(b, "%lld", (long long)v->i[0]);
  }
}

char *args_text(const LayerKind *k, const ArgVal *v) {
  Buf b = {0};
  buf_printf(&b, "%s(", k->name);
  int first = 1;
  for (int i = 0; k->args[i].name; i++) {
    if (!v[i].set) continue;
    if (!first) buf_printf(&b, ", ");
    if (!k->args[i].required) buf_printf(&b, "%s=", k->args[i].name);
    value_text(&b, &k->args[i], &v[i]);
    first = 0;
  }
  buf_printf(&b, ")");
  return b.s;
}
