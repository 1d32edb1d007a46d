/* spec.c: the spec DSL and the walk from Lua values to the IR.
 *
 *   return model "name" { input = {2, 1, 10}, seed = 42,
 *                         nn.Conv1d{1, 8, 2}, nn.ReLU{}, ... }
 *
 * While the spec runs, nn.X{...} only records its kind, its spec line and
 * its table (a userdata the spec cannot forge or open), and model "n" {...}
 * records its line. After the chunk returns, a protected walker reads
 * those tables with raw accesses only and builds the Model; every message
 * then knows the layer's position and line. */
#include "sandbox.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LAYER_MT "modelc.layer"
#define MODEL_MT "modelc.model"
#define MAX_SPEC_BYTES (16 << 20)

typedef struct LuaLayer {
  int kind; /* index into the layer table */
  int line, via_line;
} LuaLayer;

typedef struct LuaModel {
  int line;
} LuaModel;

/* nn.Conv1d{...}: upvalue 1 is the kind index. */
static int l_layer(lua_State *L) {
  int kind = (int)lua_tointeger(L, lua_upvalueindex(1));
  const char *name = layer_kind_at(kind)->name;
  if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TTABLE)
    return sb_raise(L, "nn.%s takes a table of arguments: write nn.%s{...}, "
                    "not nn.%s(...)", name, name, name);
  LuaLayer *u = lua_newuserdatauv(L, sizeof *u, 1); /* t u */
  u->kind = kind;
  sb_where(L, 1, &u->line, &u->via_line);
  luaL_setmetatable(L, LAYER_MT);
  lua_pushvalue(L, 1);        /* t u t */
  lua_setiuservalue(L, -2, 1); /* t u */
  return 1;
}

/* nn.Unknown: an error at the spec line, with the nearest name. */
static int l_nn_index(lua_State *L) {
  const char *key = lua_tostring(L, 2);
  if (!key) return sb_raise(L, "nn has no layers indexed by a %s",
                            luaL_typename(L, 2));
  const char *near = layer_kind_suggest(key);
  if (near)
    return sb_raise(L, "unknown layer 'nn.%s'\nhint: did you mean 'nn.%s'?",
                    key, near);
  return sb_raise(L, "unknown layer 'nn.%s' (modelc supports the layers "
                  "listed in its README)", key);
}

/* ------------------------------------------ F.* and torch.* functions */

/* The tensor functions a forward may call (SPEC.md §1.1), by table. */
static const char *const f_names[] = {
    "relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "hardswish",
    "hardsigmoid", "softmax", "log_softmax", "max_pool1d", "max_pool2d",
    "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "pad", NULL};
static const char *const torch_names[] = {
    "add", "sub", "mul", "div", "cat", "flatten", "mean", "sigmoid", "tanh",
    NULL};

/* F.relu(...) outside a forward: there is no tensor to apply it to.
 * Upvalue 1 is the qualified name. */
static int l_tensor_fn_outside(lua_State *L) {
  const char *name = lua_tostring(L, lua_upvalueindex(1));
  return sb_raise(L, "'%s' is only available inside a module's forward "
                  "(function m:forward(x) ... end), where it takes tensors; "
                  "in a layer list write the layer (nn.ReLU{}, ...)", name);
}

/* F.x / torch.x: a known function, or an error naming it. Upvalue 1 is
 * the table's name, upvalue 2 a light pointer to its list of names. */
static int l_fn_index(lua_State *L) {
  const char *table = lua_tostring(L, lua_upvalueindex(1));
  const char *const *names = lua_touserdata(L, lua_upvalueindex(2));
  const char *key = lua_tostring(L, 2);
  if (!key || lua_type(L, 2) != LUA_TSTRING)
    return sb_raise(L, "%s has no entries indexed by a %s", table,
                    luaL_typename(L, 2));
  const char *near = NULL;
  int bestd = 3;
  for (int i = 0; names[i]; i++) {
    if (strcmp(key, names[i]) == 0) {
      lua_pushfstring(L, "%s.%s", table, key);
      lua_pushcclosure(L, l_tensor_fn_outside, 1);
      return 1;
    }
    int e = mc_levenshtein(key, names[i]);
    if (e < bestd) bestd = e, near = names[i];
  }
  if (near)
    return sb_raise(L, "modelc does not support '%s.%s'\nhint: did you mean "
                    "'%s.%s'?", table, key, table, near);
  return sb_raise(L, "modelc does not support '%s.%s' (the tensor "
                  "operations a forward may use are listed in its README)",
                  table, key);
}

/* env.NAME = an empty table whose fields are looked up by l_fn_index. */
static void install_fn_table(lua_State *L, int env, const char *name,
                             const char *const *names) {
  lua_newtable(L);                          /* env t */
  lua_newtable(L);                          /* env t mt */
  lua_pushstring(L, name);
  lua_pushlightuserdata(L, (void *)names);
  lua_pushcclosure(L, l_fn_index, 2);
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);                  /* env t */
  lua_setfield(L, env, name);               /* env */
}

/* model "name" returns a function that takes the table. */
static int l_model_body(lua_State *L) {
  if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TTABLE)
    return sb_raise(L, "model \"name\" takes a table: model \"name\" { "
                    "input = {...}, layers... }");
  LuaModel *u = lua_newuserdatauv(L, sizeof *u, 2); /* t u */
  u->line = (int)lua_tointeger(L, lua_upvalueindex(2));
  luaL_setmetatable(L, MODEL_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);             /* uv1: the table */
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setiuservalue(L, -2, 2);             /* uv2: the name */
  return 1;
}

static int l_model(lua_State *L) {
  if (lua_type(L, 1) != LUA_TSTRING)
    return sb_raise(L, "model takes a name: model \"name\" { ... }");
  int line, via;
  sb_where(L, 1, &line, &via);
  lua_pushvalue(L, 1);                     /* name */
  lua_pushinteger(L, line);                /* name line */
  lua_pushcclosure(L, l_model_body, 2);    /* body */
  return 1;
}

/* Install model, nn and the userdata metatables into the env on top. */
static void install_dsl(lua_State *L) {
  int env = lua_gettop(L);
  luaL_newmetatable(L, LAYER_MT);          /* env mt */
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);                           /* env */
  luaL_newmetatable(L, MODEL_MT);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);

  lua_newtable(L);                         /* env nn */
  for (int i = 0; layer_kind_at(i); i++) {
    lua_pushinteger(L, i);
    lua_pushcclosure(L, l_layer, 1);       /* env nn f */
    lua_setfield(L, -2, layer_kind_at(i)->name);
  }
  lua_newtable(L);                         /* env nn mt */
  lua_pushcfunction(L, l_nn_index);
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);                 /* env nn */
  lua_setfield(L, env, "nn");              /* env */
  lua_pushcfunction(L, l_model);
  lua_setfield(L, env, "model");
  install_fn_table(L, env, "F", f_names);
  install_fn_table(L, env, "torch", torch_names);
}

/* ------------------------------------------------------------- walker */

typedef struct Walk {
  Sandbox *sb;
  Diag *d;
  Model *m;
  int status;
} Walk;

static const char *type_of(lua_State *L, int i) {
  return luaL_typename(L, i);
}

/* input = {2, 1, 10} */
static int read_input(lua_State *L, int i, Walk *w) {
  Model *m = w->m;
  Shape *s = &m->input;
  int n = lua_type(L, i) == LUA_TTABLE ? (int)lua_rawlen(L, i) : -1;
  if (n < 1 || n > MC_MAXDIM) {
    diag_error(w->d, &m->loc, "model '%s': input must be an array of 1 to %d "
               "positive sizes, like input = {2, 1, 10}", m->name, MC_MAXDIM);
    return -1;
  }
  s->n = n;
  for (int k = 0; k < n; k++) {
    lua_rawgeti(L, i, k + 1); /* ... x */
    int ok = lua_type(L, -1) == LUA_TNUMBER;
    lua_Integer v = 0;
    if (ok && lua_isinteger(L, -1)) v = lua_tointeger(L, -1);
    else if (ok) {
      lua_Number x = lua_tonumber(L, -1);
      /* range first: converting inf, NaN or 1e300 to an integer is UB */
      ok = x > 0 && x <= MC_MAX_INT && x == floor(x);
      v = ok ? (lua_Integer)x : 0;
    }
    lua_pop(L, 1);
    if (!ok || v <= 0 || v > MC_MAX_INT) {
      diag_error(w->d, &m->loc, "model '%s': input size %d must be a "
                 "positive integer up to %lld", m->name, k + 1,
                 (long long)MC_MAX_INT);
      return -1;
    }
    s->d[k] = (int64_t)v;
  }
  if (shape_numel(s) < 0) {
    diag_error(w->d, &m->loc, "model '%s': the input shape is too large "
               "(more than 2^40 elements)", m->name);
    return -1;
  }
  return 0;
}

static const char *const model_keys[] = {"input", "weights", "seed", NULL};

static int read_option(lua_State *L, const char *key, int v, Walk *w) {
  Model *m = w->m;
  if (strcmp(key, "input") == 0) return read_input(L, v, w);
  if (strcmp(key, "weights") == 0) {
    if (lua_type(L, v) != LUA_TSTRING) {
      diag_error(w->d, &m->loc, "model '%s': weights must be a file name "
                 "string, not a %s", m->name, type_of(L, v));
      return -1;
    }
    size_t len;
    const char *path = lua_tolstring(L, v, &len);
    if (strlen(path) != len) {
      diag_error(w->d, &m->loc, "model '%s': the weights path contains a NUL "
                 "byte", m->name);
      return -1;
    }
    m->weights = mc_strdup(path);
    return 0;
  }
  if (strcmp(key, "seed") == 0) {
    if (lua_type(L, v) != LUA_TNUMBER || !lua_isinteger(L, v)) {
      diag_error(w->d, &m->loc, "model '%s': seed must be an integer",
                 m->name);
      return -1;
    }
    m->has_seed = 1;
    m->seed = (int64_t)lua_tointeger(L, v);
    return 0;
  }
  diag_error(w->d, &m->loc, "model '%s': unknown option '%s'", m->name, key);
  const char *best = NULL;
  int bestd = 3;
  for (int k = 0; model_keys[k]; k++) {
    int e = mc_levenshtein(key, model_keys[k]);
    if (e < bestd) bestd = e, best = model_keys[k];
  }
  if (best) diag_hint(w->d, &m->loc, "did you mean '%s'?", best);
  return -1;
}

static int read_layer(lua_State *L, int v, int index, Walk *w) {
  Model *m = w->m;
  LuaLayer *u = luaL_testudata(L, v, LAYER_MT);
  if (!u) {
    diag_error(w->d, &m->loc, "model '%s': entry %d is a %s, not a layer "
               "(write nn.Name{...})", m->name, index + 1, type_of(L, v));
    return -1;
  }
  Layer *l = &m->layers[index];
  l->kind = layer_kind_at(u->kind);
  l->index = index;
  l->loc.file = m->file;
  l->loc.line = u->line;
  l->loc.via_line = u->via_line;
  ArgVal vals[MC_MAXARGS];
  lua_getiuservalue(L, v, 1); /* ... t */
  int r = args_bind(L, lua_gettop(L), l, vals, w->d);
  lua_pop(L, 1);
  if (r) return -1;
  l->prefix = l->name ? mc_strdup(l->name) : mc_format("%d", index);
  l->text = args_text(l->kind, vals);
  memcpy(l->arg, vals, sizeof vals);
  int bad = l->kind->parse(l, vals, w->d);
  for (int k = 0; k < MC_MAXARGS; k++) l->arg[k].s = NULL;
  if (bad) return -1;
  for (int k = 0; k < index; k++)
    if (strcmp(m->layers[k].prefix, l->prefix) == 0) {
      char *pre = layer_prefix(l);
      diag_error(w->d, &l->loc, "%s: the name '%s' is already used",
                 pre, l->prefix);
      diag_note(w->d, &m->layers[k].loc, "by layer %d here", k);
      free(pre);
      return -1;
    }
  return 0;
}

static int walk(lua_State *L) {
  Walk *w = lua_touserdata(L, 1);
  Model *m = w->m;
  LuaModel *u = luaL_testudata(L, 2, MODEL_MT);
  w->status = -1;
  if (!u) {
    SrcLoc at = {m->file, 1, 0};
    diag_error(w->d, &at, "the spec must return a model: return model "
               "\"name\" { input = {...}, nn.Layer{...}, ... } (it returned "
               "a %s)", type_of(L, 2));
    return 0;
  }
  m->loc.file = m->file;
  m->loc.line = u->line;
  lua_getiuservalue(L, 2, 2); /* w u name */
  size_t len;
  const char *name = lua_tolstring(L, -1, &len);
  m->name = mc_strdup(name);
  lua_pop(L, 1);
  if (strlen(m->name) != len) {
    diag_error(w->d, &m->loc, "model name contains a NUL byte");
    return 0;
  }
  if (!mc_is_identifier(m->name)) {
    diag_error(w->d, &m->loc, "model name '%s' is not a C identifier "
               "(letters, digits and '_', not starting with a digit)",
               m->name);
    return 0;
  }
  lua_getiuservalue(L, 2, 1); /* w u t */
  int t = lua_gettop(L);

  /* Options in a fixed order, then anything else is an error (the
   * alphabetically first, so messages do not depend on hash order). */
  lua_Integer n = (lua_Integer)lua_rawlen(L, t);
  for (int k = 0; model_keys[k]; k++) {
    lua_pushstring(L, model_keys[k]);
    if (lua_rawget(L, t) != LUA_TNIL &&     /* w u t value */
        read_option(L, model_keys[k], lua_gettop(L), w))
      return 0;
    lua_pop(L, 1);
  }
  const char *bad = NULL;
  lua_pushnil(L);
  while (lua_next(L, t)) { /* w u t key value */
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *key = lua_tostring(L, -1);
      int known = 0;
      for (int k = 0; model_keys[k]; k++)
        known |= strcmp(key, model_keys[k]) == 0;
      if (!known && (!bad || strcmp(key, bad) < 0)) bad = key;
    } else if (!(lua_type(L, -1) == LUA_TNUMBER && lua_isinteger(L, -1) &&
                 lua_tointeger(L, -1) >= 1 && lua_tointeger(L, -1) <= n)) {
      diag_error(w->d, &m->loc, "model '%s': the layer list has a hole or a "
                 "key that is not a name (%s)", m->name,
                 luaL_tolstring(L, -1, NULL));
      return 0;
    }
  }
  if (bad) {
    read_option(L, bad, 0, w);
    return 0;
  }
  if (m->input.n == 0) {
    diag_error(w->d, &m->loc, "model '%s' has no input shape", m->name);
    diag_hint(w->d, &m->loc, "add input = {N, C, L}: the shape of the tensor "
              "PyTorch would receive");
    return 0;
  }
  if (n == 0) {
    diag_error(w->d, &m->loc, "model '%s' has no layers", m->name);
    return 0;
  }
  if (n > m->lim.max_layers) { /* before allocating them */
    char b1[32], b2[32];
    diag_error(w->d, &m->loc, "model '%s' has %s layers, more than the "
               "limit of %s", m->name, mc_group_digits(n, b1),
               mc_group_digits(m->lim.max_layers, b2));
    diag_hint(w->d, &m->loc, "raise the limit with --max-layers N");
    return 0;
  }
  m->layers = mc_alloc(sizeof(Layer) * (size_t)n);
  m->nlayers = (int)n;
  for (int i = 0; i < m->nlayers; i++) {
    lua_rawgeti(L, t, i + 1); /* w u t layer */
    if (read_layer(L, lua_gettop(L), i, w)) return 0;
    lua_pop(L, 1);
  }
  w->status = 0;
  return 0;
}

/* --------------------------------------------------------------- load */

int spec_load_string(const char *path, const char *text, size_t len,
                     const Limits *lim, Diag *d, Model *m) {
  memset(m, 0, sizeof *m);
  m->file = mc_strdup(path);
  limits_resolve(lim, &m->lim);
  Sandbox sb;
  lua_State *L = sb_open(&sb, m->file, &m->lim);
  if (!L) {
    diag_plain(d, "cannot start Lua (out of memory?)");
    return -1;
  }
  install_dsl(L);                             /* env */
  if (sb_run(&sb, text, len, d)) {
    sb_close(&sb);
    return -1;
  }                                           /* env result */
  Walk w = {&sb, d, m, -1};
  lua_pushcfunction(L, walk);                 /* env result walk */
  lua_pushlightuserdata(L, &w);
  lua_pushvalue(L, -3);                       /* env result walk w result */
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    SrcLoc at = {m->file, m->loc.line > 0 ? m->loc.line : 1, 0};
    const char *msg = lua_tostring(L, -1);
    diag_error(d, &at, "cannot read the model: %s",
               sb.fatal == SB_FATAL_MEMORY ? "the spec's memory limit was hit"
               : msg ? msg : "error");
    w.status = -1;
  }
  sb_close(&sb);
  return w.status;
}

int spec_load(const char *path, const Limits *lim, Diag *d, Model *m) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    memset(m, 0, sizeof *m);
    diag_plain(d, "cannot open spec '%s': %s", path, strerror(errno));
    return -1;
  }
  char *text = mc_alloc(MAX_SPEC_BYTES + 1);
  size_t len = fread(text, 1, MAX_SPEC_BYTES + 1, f);
  int err = ferror(f);
  fclose(f);
  if (err || len > MAX_SPEC_BYTES) {
    free(text);
    memset(m, 0, sizeof *m);
    diag_plain(d, "cannot read spec '%s': %s", path,
               err ? "read error" : "larger than 16 MB");
    return -1;
  }
  int r = spec_load_string(path, text, len, lim, d, m);
  free(text);
  return r;
}
