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

#define MODEL_MT "modelc.model"
#define MODLIST_KEY "modelc.modulelists" /* registry: list -> line */
#define MAX_SPEC_BYTES (16 << 20)

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
  u->ctor = dsl_of(L)->ctor++;
  u->id = -1;
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

/* ------------------------------------------------------------ modules
 *
 * nn.Module() and nn.Sequential{...} are LuaModule userdata whose user
 * value is a table {fields = {...}, order = {child names...}}: assigning
 * a module to a field registers it as a child, in order, as
 * nn.Module.__setattr__ does. nn.ModuleList{...} is a plain Lua array,
 * remembered in the registry so the walk knows it for one. */

static int is_modlist(lua_State *L, int i) {
  if (lua_type(L, i) != LUA_TTABLE) return 0;
  i = lua_absindex(L, i);
  lua_getfield(L, LUA_REGISTRYINDEX, MODLIST_KEY); /* lists */
  lua_pushvalue(L, i);
  int r = lua_rawget(L, -2) != LUA_TNIL;           /* lists line */
  lua_pop(L, 2);
  return r;
}

/* A value that may be a child: a layer, a module or a ModuleList. */
static int is_child(lua_State *L, int i) {
  return luaL_testudata(L, i, LAYER_MT) || luaL_testudata(L, i, MODULE_MT) ||
         is_modlist(L, i);
}

static void module_state(lua_State *L, int i, int *fields, int *order) {
  lua_getiuservalue(L, i, 1);      /* st */
  lua_getfield(L, -1, "fields");   /* st fields */
  lua_getfield(L, -2, "order");    /* st fields order */
  lua_remove(L, -3);               /* fields order */
  *fields = lua_gettop(L) - 1;
  *order = lua_gettop(L);
}

static LuaModule *new_module(lua_State *L, int seq) {
  LuaModule *u = lua_newuserdatauv(L, sizeof *u, 1); /* u */
  u->seq = seq;
  u->path = -1;
  sb_where(L, 1, &u->line, &u->via_line);
  luaL_setmetatable(L, MODULE_MT);
  lua_createtable(L, 0, 2);        /* u st */
  lua_newtable(L);
  lua_setfield(L, -2, "fields");
  lua_newtable(L);
  lua_setfield(L, -2, "order");
  lua_setiuservalue(L, -2, 1);     /* u */
  return u;
}

/* Register value `v` as child `name` of the module whose state is
 * (fields, order). */
static void add_child(lua_State *L, int fields, int order, const char *name,
                      int v) {
  lua_getfield(L, fields, name);   /* old */
  int had = is_child(L, -1);
  lua_pop(L, 1);
  if (!had) {
    lua_pushstring(L, name);
    lua_rawseti(L, order, (lua_Integer)lua_rawlen(L, order) + 1);
  }
  lua_pushvalue(L, v);
  lua_setfield(L, fields, name);
}

/* nn.Module(): an empty module. */
static int l_module(lua_State *L) {
  if (lua_gettop(L) > 1 || (lua_gettop(L) == 1 &&
                            (lua_type(L, 1) != LUA_TTABLE ||
                             lua_rawlen(L, 1) != 0)))
    return sb_raise(L, "nn.Module() takes no arguments: make it empty, then "
                    "assign its children (m.conv1 = nn.Conv2d{...}) and "
                    "its forward (function m:forward(x) ... end)");
  new_module(L, 0);
  return 1;
}

/* A child's key in a Sequential or a layer list: its position, or the
 * layer's own `name`. */
static const char *child_key(lua_State *L, int v, int pos, char *buf) {
  if (luaL_testudata(L, v, LAYER_MT)) {
    lua_getiuservalue(L, v, 1);    /* t */
    lua_getfield(L, -1, "name");   /* t name */
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *nm = lua_tostring(L, -1);
      snprintf(buf, 256, "%s", nm);
      lua_pop(L, 2);
      return buf;
    }
    lua_pop(L, 2);
  }
  snprintf(buf, 256, "%d", pos);
  return buf;
}

/* nn.Sequential{a, b, ...}: children "0", "1", ... (or their names). */
static int l_sequential(lua_State *L) {
  if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TTABLE)
    return sb_raise(L, "nn.Sequential takes a table of modules: write "
                    "nn.Sequential{nn.Conv2d{...}, nn.ReLU{}}");
  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    if (!is_child(L, -1))
      return sb_raise(L, "nn.Sequential: entry %d is a %s, not a module "
                      "(nn.Name{...}, nn.Module(), a container)", (int)i,
                      luaL_typename(L, -1));
    if (is_modlist(L, -1))
      return sb_raise(L, "nn.Sequential: entry %d is a ModuleList, which a "
                      "Sequential cannot call (Module [ModuleList] is "
                      "missing the required \"forward\" function)", (int)i);
    lua_pop(L, 1);
  }
  new_module(L, 1);                /* t u */
  int fields, order;
  module_state(L, 2, &fields, &order); /* t u fields order */
  char buf[256];
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);          /* ... v */
    int v = lua_gettop(L);
    const char *key = child_key(L, v, (int)i - 1, buf);
    lua_getfield(L, fields, key);
    int dup = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (dup)
      return sb_raise(L, "nn.Sequential: two children are named '%s'", key);
    add_child(L, fields, order, key, v);
    lua_pop(L, 1);
  }
  lua_settop(L, 2);
  return 1;
}

/* nn.ModuleList{a, b, ...}: a Lua array (list[1] is PyTorch's list[0]). */
static int l_modulelist(lua_State *L) {
  if (lua_gettop(L) > 1 || (lua_gettop(L) == 1 &&
                            lua_type(L, 1) != LUA_TTABLE))
    return sb_raise(L, "nn.ModuleList takes a table of modules: write "
                    "nn.ModuleList{a, b}");
  lua_newtable(L);                 /* [t] list */
  int list = lua_gettop(L);
  lua_Integer n = lua_gettop(L) > 1 ? (lua_Integer)lua_rawlen(L, 1) : 0;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    if (!is_child(L, -1))
      return sb_raise(L, "nn.ModuleList: entry %d is a %s, not a module",
                      (int)i, luaL_typename(L, -1));
    lua_rawseti(L, list, i);
  }
  int line, via;
  sb_where(L, 1, &line, &via);
  lua_getfield(L, LUA_REGISTRYINDEX, MODLIST_KEY); /* list lists */
  lua_pushvalue(L, list);
  lua_pushinteger(L, line);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  luaL_setmetatable(L, MODLIST_KEY); /* __call: a clear error */
  return 1;
}

static int l_modlist_call(lua_State *L) {
  return sb_raise(L, "Module [ModuleList] is missing the required "
                  "\"forward\" function: a ModuleList is not callable, "
                  "call its children (for _, m in ipairs(list) do x = m(x) "
                  "end)");
}

/* m.name = value */
static int l_module_newindex(lua_State *L) {
  LuaModule *u = luaL_checkudata(L, 1, MODULE_MT);
  if (lua_type(L, 2) != LUA_TSTRING)
    return sb_raise(L, "a module's attributes are named by strings, not %s",
                    luaL_typename(L, 2));
  const char *name = lua_tostring(L, 2);
  int fields, order;
  module_state(L, 1, &fields, &order);
  if (is_child(L, 3)) {
    if (u->seq)
      return sb_raise(L, "add children to nn.Sequential when building it: "
                      "nn.Sequential{a, b}");
    if (strchr(name, '.') || !*name)
      return sb_raise(L, *name ? "module name can't contain \".\", got: %s"
                      : "module name can't be empty string \"%s\"", name);
    if (strcmp(name, "forward") == 0)
      return sb_raise(L, "'forward' is the module's function, not a child");
    add_child(L, fields, order, name, 3);
    return 0;
  }
  if (strcmp(name, "forward") == 0 && lua_type(L, 3) != LUA_TFUNCTION &&
      !lua_isnil(L, 3))
    return sb_raise(L, "a module's forward must be a function: function "
                    "m:forward(x) ... end");
  lua_getfield(L, fields, name);
  int was_child = is_child(L, -1);
  lua_pop(L, 1);
  if (was_child) { /* a child replaced by a plain value: unregister it */
    lua_Integer n = (lua_Integer)lua_rawlen(L, order), k = 1;
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, order, i);
      int same = strcmp(lua_tostring(L, -1), name) == 0;
      if (!same) lua_rawseti(L, order, k++);
      else lua_pop(L, 1);
    }
    for (; k <= n; k++) {
      lua_pushnil(L);
      lua_rawseti(L, order, k);
    }
  }
  lua_pushvalue(L, 3);
  lua_setfield(L, fields, name);
  return 0;
}

/* m.name: an attribute, or an error as Python's getattr gives; seq[i]
 * (1-based) is a Sequential's child i - 1. */
static int l_module_index(lua_State *L) {
  LuaModule *u = luaL_checkudata(L, 1, MODULE_MT);
  int fields, order;
  module_state(L, 1, &fields, &order);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    lua_Integer i = lua_tointeger(L, 2);
    if (i >= 1 && i <= (lua_Integer)lua_rawlen(L, order)) {
      lua_rawgeti(L, order, i);
      lua_rawget(L, fields);
      return 1;
    }
    lua_pushnil(L);
    return 1;
  }
  if (lua_type(L, 2) != LUA_TSTRING) {
    lua_pushnil(L);
    return 1;
  }
  const char *name = lua_tostring(L, 2);
  lua_getfield(L, fields, name);
  if (!lua_isnil(L, -1)) return 1;
  const char *cls = u->seq ? "Sequential" : "Module";
  /* the nearest attribute, for a hint */
  const char *near = NULL;
  int best = 3;
  lua_pushnil(L);
  while (lua_next(L, fields)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) continue;
    int e = mc_levenshtein(name, lua_tostring(L, -1));
    if (e < best) best = e, near = lua_tostring(L, -1);
  }
  if (near)
    return sb_raise(L, "'%s' object has no attribute '%s'\nhint: did you "
                    "mean '%s'?", cls, name, near);
  if (strcmp(name, "forward") == 0)
    return sb_raise(L, "Module [%s] is missing the required \"forward\" "
                    "function", cls);
  return sb_raise(L, "'%s' object has no attribute '%s'", cls, name);
}

static int l_module_len(lua_State *L) {
  int fields, order;
  module_state(L, 1, &fields, &order);
  lua_pushinteger(L, (lua_Integer)lua_rawlen(L, order));
  return 1;
}

/* Every value the module's call returned must be one tensor. */
static int one_tensor(lua_State *L, int base, const char *who) {
  int n = lua_gettop(L) - base;
  if (n == 1 && luaL_testudata(L, -1, TENSOR_MT)) return 1;
  return sb_raise(L, "%s must return one tensor, but it returned %s", who,
                  n == 0 ? "nothing" : n > 1 ? "more than one value"
                                             : luaL_typename(L, -1));
}

/* m(x): its forward (a Sequential: each child in turn), while tracing. */
static int l_module_call(lua_State *L) {
  LuaModule *u = luaL_checkudata(L, 1, MODULE_MT);
  Dsl *dsl = dsl_of(L);
  Trace *t = dsl->trace;
  if (!t)
    return sb_raise(L, "a module is called like a function only inside a "
                    "forward (modelc runs forward once, when it reads the "
                    "model)");
  const char *path = u->path >= 0 ? t->paths[u->path] : "";
  if (t->depth == (int)(sizeof t->stack / sizeof t->stack[0]))
    return sb_raise(L, "modules nested more than 64 calls deep (a forward "
                    "that calls itself?)");
  int nargs = lua_gettop(L) - 1;
  int fields, order;
  module_state(L, 1, &fields, &order); /* self args... fields order */
  int root = t->depth == 0; /* trace_forward checks what it returns */
  t->stack[t->depth++] = path;
  char who[300];
  if (u->seq) {
    if (nargs != 1)
      return sb_raise(L, "nn.Sequential is called on one tensor, got %d "
                      "arguments", nargs);
    lua_pushvalue(L, 2);             /* ... x */
    lua_Integer n = (lua_Integer)lua_rawlen(L, order);
    for (lua_Integer i = 1; i <= n; i++) {
      int base = lua_gettop(L) - 1;  /* ... x */
      lua_rawgeti(L, order, i);
      lua_rawget(L, fields);         /* ... x child */
      lua_insert(L, -2);             /* ... child x */
      lua_call(L, 1, LUA_MULTRET);   /* ... results */
      snprintf(who, sizeof who, "module '%s'", path);
      if (!root || i < n) one_tensor(L, base, who);
    }
  } else {
    lua_getfield(L, fields, "forward");      /* ... f */
    if (lua_type(L, -1) != LUA_TFUNCTION)
      return sb_raise(L, "Module [%s] is missing the required \"forward\" "
                      "function: give it one with function m:forward(x) "
                      "... end", *path ? path : "the model");
    int base = lua_gettop(L) - 1;
    lua_pushvalue(L, 1);
    for (int i = 0; i < nargs; i++) lua_pushvalue(L, 2 + i);
    lua_call(L, nargs + 1, LUA_MULTRET);
    snprintf(who, sizeof who, "the forward of '%s'", path);
    if (!root) one_tensor(L, base, who);
    else {
      t->depth--;
      return lua_gettop(L) - base; /* all of them, for trace_forward */
    }
  }
  t->depth--;
  return 1;
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

  lua_pushcfunction(L, trace_layer_call);  /* env f */
  luaL_getmetatable(L, LAYER_MT);          /* env f mt */
  lua_insert(L, -2);
  lua_setfield(L, -2, "__call");
  lua_pop(L, 1);                           /* env */
  luaL_newmetatable(L, MODULE_MT);         /* env mt */
  static const luaL_Reg module_meta[] = {
      {"__index", l_module_index}, {"__newindex", l_module_newindex},
      {"__call", l_module_call},   {"__len", l_module_len},
      {NULL, NULL}};
  luaL_setfuncs(L, module_meta, 0);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
  lua_newtable(L);                         /* env lists */
  lua_newtable(L);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, MODLIST_KEY);
  luaL_newmetatable(L, MODLIST_KEY);       /* env mt (ModuleList's) */
  lua_pushcfunction(L, l_modlist_call);
  lua_setfield(L, -2, "__call");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);

  lua_newtable(L);                         /* env nn */
  for (int i = 0; layer_kind_at(i); i++) {
    lua_pushinteger(L, i);
    lua_pushcclosure(L, l_layer, 1);       /* env nn f */
    lua_setfield(L, -2, layer_kind_at(i)->name);
  }
  lua_pushcfunction(L, l_module);
  lua_setfield(L, -2, "Module");
  lua_pushcfunction(L, l_sequential);
  lua_setfield(L, -2, "Sequential");
  lua_pushcfunction(L, l_modulelist);
  lua_setfield(L, -2, "ModuleList");
  lua_newtable(L);                         /* env nn mt */
  lua_pushcfunction(L, l_nn_index);
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);                 /* env nn */
  lua_setfield(L, env, "nn");              /* env */
  lua_pushcfunction(L, l_model);
  lua_setfield(L, env, "model");
  trace_install(L, env);
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

static const char *const model_keys[] = {"input", "weights", "seed",
                                         "module", NULL};

static int read_option(lua_State *L, const char *key, int v, Walk *w) {
  Model *m = w->m;
  if (strcmp(key, "input") == 0) return read_input(L, v, w);
  if (strcmp(key, "module") == 0) {
    if (!luaL_testudata(L, v, MODULE_MT) && !luaL_testudata(L, v, LAYER_MT)) {
      diag_error(w->d, &m->loc, "model '%s': module must be a module "
                 "(nn.Module(), nn.Sequential{...} or a layer), not a %s",
                 m->name, is_modlist(L, v) ? "ModuleList (it has no "
                 "forward)" : type_of(L, v));
      return -1;
    }
    return 0;
  }
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

/* ------------------------------------------------------ the module tree */

static char *join_path(const char *path, const char *name) {
  return *path ? mc_format("%s.%s", path, name) : mc_strdup(name);
}

/* Bind every layer of the tree under the value at v, named by its path,
 * into t->all; give every module its path. Shared modules keep their
 * first path. `visited` holds the ModuleLists seen. */
static int tree(lua_State *L, int v, const char *path, Walk *w, Trace *t,
                int visited) {
  Model *m = w->m;
  v = lua_absindex(L, v);
  LuaLayer *lu = luaL_testudata(L, v, LAYER_MT);
  if (lu) {
    if (lu->id >= 0) return 0;
    if (t->nall >= m->lim.max_layers) {
      char b1[32];
      diag_error(w->d, &m->loc, "model '%s' has more than %s layers, the "
                 "limit", m->name, mc_group_digits(m->lim.max_layers, b1));
      diag_hint(w->d, &m->loc, "raise the limit with --max-layers N");
      return -1;
    }
    Layer l;
    memset(&l, 0, sizeof l);
    l.kind = layer_kind_at(lu->kind);
    l.loc.file = m->file;
    l.loc.line = lu->line;
    l.loc.via_line = lu->via_line;
    l.ctor = lu->ctor;
    l.modpath = 1;
    l.prefix = mc_strdup(path);
    ArgVal vals[MC_MAXARGS];
    lua_getiuservalue(L, v, 1); /* ... t */
    int r = args_bind(L, lua_gettop(L), &l, vals, w->d);
    lua_pop(L, 1);
    if (r == 0) {
      l.text = args_text(l.kind, vals);
      memcpy(l.arg, vals, sizeof vals);
      r = l.kind->parse(&l, vals, w->d);
      for (int k = 0; k < MC_MAXARGS; k++) l.arg[k].s = NULL;
    }
    lu->id = trace_add_layer(t, &l);
    return r;
  }
  LuaModule *mu = luaL_testudata(L, v, MODULE_MT);
  if (mu) {
    if (mu->path >= 0) return 0;
    if (t->npaths == t->cappaths) {
      t->cappaths = t->cappaths ? 2 * t->cappaths : 16;
      t->paths = mc_realloc(t->paths, sizeof(char *) * (size_t)t->cappaths);
    }
    mu->path = t->npaths;
    t->paths[t->npaths++] = mc_strdup(path);
    int fields, order;
    module_state(L, v, &fields, &order); /* ... fields order */
    for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, order); i++) {
      lua_rawgeti(L, order, i);           /* ... name */
      char *child = join_path(path, lua_tostring(L, -1));
      lua_rawget(L, fields);              /* ... value */
      int r = tree(L, -1, child, w, t, visited);
      free(child);
      lua_pop(L, 1);
      if (r) return -1;
    }
    lua_pop(L, 2);
    return 0;
  }
  if (is_modlist(L, v)) {
    lua_pushvalue(L, v);
    if (lua_rawget(L, visited) != LUA_TNIL) {
      lua_pop(L, 1);
      return 0;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, v);
    lua_pushboolean(L, 1);
    lua_rawset(L, visited);
    for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, v); i++) {
      lua_rawgeti(L, v, i);
      char key[32];
      snprintf(key, sizeof key, "%lld", (long long)(i - 1));
      char *child = join_path(path, key);
      int r = 0;
      if (!is_child(L, -1)) {
        diag_error(w->d, &m->loc, "model '%s': entry %lld of the ModuleList "
                   "'%s' is a %s, not a module", m->name, (long long)i, path,
                   type_of(L, -1));
        r = -1;
      } else {
        r = tree(L, -1, child, w, t, visited);
      }
      free(child);
      lua_pop(L, 1);
      if (r) return -1;
    }
    return 0;
  }
  return 0; /* not a module: cannot happen for a registered child */
}

/* A module model: the tree under the root at index `root`, then forward
 * run on the input. */
static int walk_module(lua_State *L, int root, Walk *w) {
  Trace t;
  memset(&t, 0, sizeof t);
  lua_newtable(L);                       /* ... visited */
  int r = tree(L, root, "", w, &t, lua_gettop(L));
  lua_pop(L, 1);
  if (r == 0) r = trace_forward(L, root, w->sb, &t);
  if (r == 0) r = trace_finish(&t, w->m, w->d);
  trace_free(&t);
  return r;
}

/* The layer list holds a container or a module: then it is the
 * nn.Sequential of its entries, traced like a module. */
static int list_has_modules(lua_State *L, int t, lua_Integer n) {
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, t, i);
    int mod = luaL_testudata(L, -1, MODULE_MT) || is_modlist(L, -1);
    lua_pop(L, 1);
    if (mod) return 1;
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
  lua_getfield(L, t, "module");            /* w u t module */
  if (!lua_isnil(L, -1)) {
    if (n > 0) {
      diag_error(w->d, &m->loc, "model '%s': give either a layer list or "
                 "module = M, not both", m->name);
      return 0;
    }
    if (walk_module(L, lua_gettop(L), w) == 0) w->status = 0;
    return 0;
  }
  lua_pop(L, 1);
  if (n > 0 && list_has_modules(L, t, n)) {
    for (lua_Integer i = 1; i <= n; i++) { /* entries must be modules */
      lua_rawgeti(L, t, i);
      int ok = luaL_testudata(L, -1, LAYER_MT) ||
               luaL_testudata(L, -1, MODULE_MT);
      if (!ok) {
        diag_error(w->d, &m->loc, "model '%s': entry %d is a %s, not a "
                   "layer or a module%s", m->name, (int)i,
                   is_modlist(L, -1) ? "ModuleList" : type_of(L, -1),
                   is_modlist(L, -1) ? " (a layer list is an nn.Sequential, "
                   "which cannot call a ModuleList)" : "");
        return 0;
      }
      lua_pop(L, 1);
    }
    lua_pushcfunction(L, l_sequential);    /* w u t seq */
    lua_pushvalue(L, t);
    lua_call(L, 1, 1);                     /* w u t root */
    LuaModule *root = lua_touserdata(L, -1);
    root->line = m->loc.line;
    if (walk_module(L, lua_gettop(L), w) == 0) w->status = 0;
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
  Dsl dsl = {0, NULL, d, m};
  sb.dsl = &dsl;
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
  errno = 0;
  size_t len = fread(text, 1, MAX_SPEC_BYTES + 1, f);
  int err = ferror(f) ? (errno ? errno : EIO) : 0; /* EISDIR: a folder */
  fclose(f);
  if (err || len > MAX_SPEC_BYTES) {
    free(text);
    memset(m, 0, sizeof *m);
    diag_plain(d, "cannot read spec '%s': %s", path,
               err ? strerror(err) : "larger than 16 MB");
    return -1;
  }
  int r = spec_load_string(path, text, len, lim, d, m);
  free(text);
  return r;
}
