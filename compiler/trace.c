/* trace.c: a module's forward, run once at build time on symbolic
 * tensors.
 *
 *   function net:forward(x)
 *     local y = F.relu(self.bn1(self.conv1(x)))
 *     return F.relu(y + self.shortcut(x))
 *   end
 *
 * A tensor is a userdata holding the id of the graph node that made it;
 * it knows its shape, so x:size(1), x.shape and Lua control flow on them
 * work. Each call of a layer, each arithmetic operator and each torch.* /
 * F.* function appends a node, with its shape computed on the spot by
 * PyTorch's rules: a layer's own shape rule (layers/), broadcasting, cat,
 * flatten, view and mean here. An error is reported at the line of the
 * call in forward, prefixed with the module path and kind or with the
 * operation, with a note at the line where the module was built; then
 * the Lua error unwinds the spec (sb_raise_reported). */
#include "sandbox.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NAMES_KEY "modelc.nodenames"

typedef struct LuaTensor {
  int node;
} LuaTensor;

static Trace *trace_of(lua_State *L) { return dsl_of(L)->trace; }

const char *trace_module(const Trace *t) {
  return t->depth > 0 ? t->stack[t->depth - 1] : "";
}

/* Where the running forward is: the innermost Lua line. */
static SrcLoc call_loc(lua_State *L) {
  SrcLoc at = {dsl_of(L)->m->file, 0, 0};
  int via;
  sb_where(L, 1, &at.line, &via);
  if (at.line == 0) at = dsl_of(L)->m->loc; /* a layer list's Sequential */
  return at;
}

/* ---------------------------------------------------------- errors */

/* "layers.1: add: msg" (or "add: msg" in the model's own forward) at the
 * call's line; then unwind. */
static int op_error(lua_State *L, const char *op, const char *fmt, ...) {
  Dsl *dsl = dsl_of(L);
  SrcLoc at = call_loc(L);
  va_list ap;
  va_start(ap, fmt);
  char *msg = mc_vformat(fmt, ap);
  va_end(ap);
  const char *mod = dsl->trace ? trace_module(dsl->trace) : "";
  if (*mod) diag_error(dsl->d, &at, "%s: %s: %s", mod, op, msg);
  else diag_error(dsl->d, &at, "%s: %s", op, msg);
  free(msg);
  return sb_raise_reported(L);
}

/* The note under an error about a tensor: where the module was built. */
static void built_note(Dsl *dsl, const Layer *l, const SrcLoc *built) {
  SrcLoc at = *built;
  at.via_line = 0;
  if (at.line > 0)
    diag_note(dsl->d, &at, "'%s' (%s) was built here", l->prefix,
              l->kind->name);
}

/* ----------------------------------------------------------- nodes */

static int add_node(lua_State *L, NodeOp op, const char *base) {
  Dsl *dsl = dsl_of(L);
  Trace *t = dsl->trace;
  if (t->nnodes >= dsl->m->lim.max_layers) {
    char b1[32];
    SrcLoc at = call_loc(L);
    diag_error(dsl->d, &at, "%s: the model has more than %s operations, the "
               "limit", base, mc_group_digits(dsl->m->lim.max_layers, b1));
    diag_hint(dsl->d, &at, "raise the limit with --max-layers N");
    sb_raise_reported(L);
  }
  if (t->nnodes == t->capnodes) {
    t->capnodes = t->capnodes ? 2 * t->capnodes : 64;
    t->nodes = mc_realloc(t->nodes, sizeof(Node) * (size_t)t->capnodes);
  }
  int id = t->nnodes++;
  Node *n = &t->nodes[id];
  memset(n, 0, sizeof *n);
  n->op = op;
  n->layer = -1;
  /* add, add_1, add_2, ... as torch.fx names them; never a name taken.
   * The registry's NAMES_KEY holds {used = {name = true}, next = {base =
   * count}}, so naming stays O(1) however many nodes there are. */
  lua_getfield(L, LUA_REGISTRYINDEX, NAMES_KEY);  /* names */
  lua_getfield(L, -1, "used");                    /* names used */
  lua_getfield(L, -2, "next");                    /* names used next */
  lua_getfield(L, -1, base);
  lua_Integer k = lua_tointeger(L, -1);           /* 0 if nil */
  lua_pop(L, 1);
  char *name = k ? mc_format("%s_%lld", base, (long long)k) : mc_strdup(base);
  for (;;) {
    lua_getfield(L, -2, name);
    int taken = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (!taken) break;
    free(name);
    name = mc_format("%s_%lld", base, (long long)++k);
  }
  lua_pushboolean(L, 1);
  lua_setfield(L, -3, name);                      /* used[name] = true */
  lua_pushinteger(L, k + 1);
  lua_setfield(L, -2, base);                      /* next[base] = k + 1 */
  lua_pop(L, 3);
  n->name = name;
  n->module = mc_strdup(trace_module(t));
  n->loc = call_loc(L);
  n->built = n->loc;
  return id;
}

static void push_tensor(lua_State *L, int node) {
  LuaTensor *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->node = node;
  luaL_setmetatable(L, TENSOR_MT);
}

/* The node of the tensor at index i, or -1. */
static int tensor_at(lua_State *L, int i) {
  LuaTensor *u = luaL_testudata(L, i, TENSOR_MT);
  return u ? u->node : -1;
}

static const Shape *shape_of(lua_State *L, int node) {
  return &trace_of(L)->nodes[node].out;
}

static const char *what_is(lua_State *L, int i) {
  if (tensor_at(L, i) >= 0) return "Tensor";
  switch (lua_type(L, i)) {
  case LUA_TNUMBER: return lua_isinteger(L, i) ? "int" : "float";
  case LUA_TSTRING: return "str";
  case LUA_TBOOLEAN: return "bool";
  case LUA_TNIL: return "NoneType";
  case LUA_TTABLE: return "table";
  default: return luaL_typename(L, i);
  }
}

/* A tensor operand, or an error naming the operation. */
static int need_tensor(lua_State *L, int i, const char *op) {
  int n = tensor_at(L, i);
  if (n < 0)
    op_error(L, op, "expected a tensor as argument %d, got %s", i,
             what_is(L, i));
  return n;
}

static int tracing(lua_State *L, const char *name) {
  if (!trace_of(L))
    return sb_raise(L, "'%s' is only available inside a module's forward "
                    "(function m:forward(x) ... end), where it takes "
                    "tensors; in a layer list write the layer (nn.ReLU{}, "
                    "...)", name);
  return 0;
}

/* An integer argument (a Lua integer, or a float of integral value). */
static int get_int(lua_State *L, int i, int64_t *v) {
  if (lua_type(L, i) != LUA_TNUMBER) return 0;
  if (lua_isinteger(L, i)) {
    *v = (int64_t)lua_tointeger(L, i);
  } else {
    double x = lua_tonumber(L, i);
    if (x != floor(x) || fabs(x) > 9e15) return 0;
    *v = (int64_t)x;
  }
  return *v >= -MC_MAX_INT && *v <= MC_MAX_INT;
}

/* PyTorch's maybe_wrap_dim, reported for `op`. */
static int64_t wrap_dim(lua_State *L, const char *op, int64_t dim, int ndim) {
  int64_t n = ndim > 0 ? ndim : 1;
  if (dim < -n || dim > n - 1)
    op_error(L, op, "Dimension out of range (expected to be in range of "
             "[%lld, %lld], but got %lld)", (long long)-n, (long long)(n - 1),
             (long long)dim);
  return dim < 0 ? dim + n : dim;
}

/* ---------------------------------------------------- arithmetic */

static const char *const arith_sym[] = {"+", "-", "*", "/"};

/* a OP b with PyTorch's broadcasting; either may be a number. */
static int arith(lua_State *L, NodeOp op, int ia, int ib) {
  const char *name = node_op_name(op);
  int a = tensor_at(L, ia), b = tensor_at(L, ib);
  int na = lua_type(L, ia) == LUA_TNUMBER, nb = lua_type(L, ib) == LUA_TNUMBER;
  if (!((a >= 0 || na) && (b >= 0 || nb)) || (na && nb))
    return op_error(L, name, "unsupported operand type(s) for %s: '%s' and "
                    "'%s'", arith_sym[op - N_ADD], what_is(L, ia),
                    what_is(L, ib));
  Shape out;
  if (a >= 0 && b >= 0) {
    const Shape *sa = shape_of(L, a), *sb = shape_of(L, b);
    int n = sa->n > sb->n ? sa->n : sb->n;
    out.n = n;
    for (int i = n - 1; i >= 0; i--) {
      int ka = i - (n - sa->n), kb = i - (n - sb->n);
      int64_t da = ka >= 0 ? sa->d[ka] : 1, db = kb >= 0 ? sb->d[kb] : 1;
      if (da != db && da != 1 && db != 1)
        return op_error(L, name, "The size of tensor a (%lld) must match the "
                        "size of tensor b (%lld) at non-singleton dimension "
                        "%d", (long long)da, (long long)db, i);
      out.d[i] = da == 1 ? db : da;
    }
  } else {
    out = *shape_of(L, a >= 0 ? a : b);
  }
  double x = na ? lua_tonumber(L, ia) : nb ? lua_tonumber(L, ib) : 0;
  int id = add_node(L, op, name);
  Node *n = &trace_of(L)->nodes[id];
  if (a >= 0) n->in[n->nin++] = a;
  if (b >= 0) n->in[n->nin++] = b;
  n->has_scalar = na || nb;
  n->scalar_left = na;
  n->scalar = x;
  n->out = out;
  push_tensor(L, id);
  return 1;
}

static int t_add(lua_State *L) { return arith(L, N_ADD, 1, 2); }
static int t_sub(lua_State *L) { return arith(L, N_SUB, 1, 2); }
static int t_mul(lua_State *L) { return arith(L, N_MUL, 1, 2); }
static int t_div(lua_State *L) { return arith(L, N_DIV, 1, 2); }

/* torch.add(a, b) and the others: exactly two operands. */
static int torch_arith(lua_State *L, NodeOp op) {
  char name[16];
  snprintf(name, sizeof name, "torch.%s", node_op_name(op));
  tracing(L, name);
  if (lua_gettop(L) != 2)
    return op_error(L, node_op_name(op), "%s takes two operands (modelc "
                    "supports no other arguments), got %d arguments", name,
                    lua_gettop(L));
  return arith(L, op, 1, 2);
}

static int torch_add(lua_State *L) { return torch_arith(L, N_ADD); }
static int torch_sub(lua_State *L) { return torch_arith(L, N_SUB); }
static int torch_mul(lua_State *L) { return torch_arith(L, N_MUL); }
static int torch_div(lua_State *L) { return torch_arith(L, N_DIV); }

/* ------------------------------------------ keyword arguments, shapes */

/* A final argument that is a table of keywords only: {dim = 1}. Returns
 * its index, or 0. */
static int kwargs_at(lua_State *L, int first) {
  int top = lua_gettop(L);
  if (top < first || lua_type(L, top) != LUA_TTABLE ||
      tensor_at(L, top) >= 0 || lua_rawlen(L, top) != 0)
    return 0;
  lua_pushnil(L);
  if (!lua_next(L, top)) return 0; /* {}: an empty tuple, not keywords */
  lua_pop(L, 2);
  return top;
}

/* Positional argument `pos` or keyword `key` (pushed), or nil. Unknown
 * keywords are an error. */
static void arg_get(lua_State *L, int pos, int npos, int kw, const char *key,
                    const char *op) {
  int have_kw = 0;
  if (kw) {
    lua_getfield(L, kw, key);
    have_kw = !lua_isnil(L, -1);
    if (!have_kw) lua_pop(L, 1);
  }
  if (pos <= npos) {
    if (have_kw)
      op_error(L, op, "%s() got multiple values for argument '%s'", op, key);
    lua_pushvalue(L, pos);
  } else if (!have_kw) {
    lua_pushnil(L);
  }
}

static void check_keywords(lua_State *L, int kw, const char *op,
                           const char *const *known) {
  if (!kw) return;
  lua_pushnil(L);
  while (lua_next(L, kw)) {
    lua_pop(L, 1);
    const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
    int ok = 0;
    for (int i = 0; known[i]; i++) ok |= strcmp(k, known[i]) == 0;
    if (!ok)
      op_error(L, op, "%s() got an unexpected keyword argument '%s'", op, k);
  }
}

static int64_t int_arg(lua_State *L, int i, const char *op, const char *what) {
  int64_t v;
  if (!get_int(L, i, &v))
    op_error(L, op, "argument '%s' must be an int, not %s", what,
             what_is(L, i));
  return v;
}

/* --------------------------------------------------------------- cat */

static int torch_cat(lua_State *L) {
  tracing(L, "torch.cat");
  int kw = kwargs_at(L, 2);
  int npos = kw ? kw - 1 : lua_gettop(L);
  static const char *const known[] = {"tensors", "dim", NULL};
  check_keywords(L, kw, "cat", known);
  if (npos > 2)
    return op_error(L, "cat", "cat() takes from 1 to 2 positional arguments "
                    "but %d were given", npos);
  arg_get(L, 1, npos, kw, "tensors", "cat"); /* ... list */
  arg_get(L, 2, npos, kw, "dim", "cat");     /* ... list dim */
  int list = lua_gettop(L) - 1;
  if (lua_type(L, list) != LUA_TTABLE || tensor_at(L, list) >= 0)
    return op_error(L, "cat", "cat() argument 'tensors' must be a table of "
                    "tensors ({a, b}), not %s", what_is(L, list));
  int64_t dim = 0;
  if (!lua_isnil(L, -1)) dim = int_arg(L, lua_gettop(L), "cat", "dim");
  lua_Integer n = (lua_Integer)lua_rawlen(L, list);
  if (n == 0)
    return op_error(L, "cat", "torch.cat(): expected a non-empty list of "
                    "Tensors");
  if (n > MC_MAXIN)
    return op_error(L, "cat", "modelc concatenates at most %d tensors, not "
                    "%lld", MC_MAXIN, (long long)n);
  int in[MC_MAXIN];
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, list, i);
    in[i - 1] = tensor_at(L, -1);
    if (in[i - 1] < 0)
      return op_error(L, "cat", "expected Tensor as element %lld in argument "
                      "0, but got %s", (long long)(i - 1), what_is(L, -1));
    lua_pop(L, 1);
  }
  Shape out = *shape_of(L, in[0]);
  dim = wrap_dim(L, "cat", dim, out.n);
  for (int i = 1; i < n; i++) {
    const Shape *s = shape_of(L, in[i]);
    if (s->n != out.n)
      return op_error(L, "cat", "Tensors must have same number of "
                      "dimensions: got %d and %d", out.n, s->n);
    for (int k = 0; k < out.n; k++)
      if (k != dim && s->d[k] != out.d[k])
        return op_error(L, "cat", "Sizes of tensors must match except in "
                        "dimension %lld. Expected size %lld but got size %lld "
                        "for tensor number %d in the list.", (long long)dim,
                        (long long)out.d[k], (long long)s->d[k], i);
    out.d[dim] += s->d[dim];
  }
  int id = add_node(L, N_CAT, "cat");
  Node *nd = &trace_of(L)->nodes[id];
  memcpy(nd->in, in, sizeof(int) * (size_t)n);
  nd->nin = (int)n;
  nd->dim = dim;
  nd->out = out;
  push_tensor(L, id);
  return 1;
}

/* ----------------------------------------------------------- flatten */

static int flatten_form(lua_State *L, int x, int64_t s, int64_t e,
                        const char *full, const char *text);

/* flatten(x, start_dim, end_dim) with x at 1; torch.flatten and
 * x:flatten both default to (0, -1). */
static int do_flatten(lua_State *L, const char *fn) {
  int x = need_tensor(L, 1, "flatten");
  int kw = kwargs_at(L, 2);
  int npos = kw ? kw - 1 : lua_gettop(L);
  static const char *const known[] = {"start_dim", "end_dim", NULL};
  check_keywords(L, kw, "flatten", known);
  if (npos > 3)
    return op_error(L, "flatten", "%s takes at most 2 arguments after the "
                    "tensor, got %d", fn, npos - 1);
  int64_t sd = 0, ed = -1;
  arg_get(L, 2, npos, kw, "start_dim", "flatten");
  if (!lua_isnil(L, -1)) sd = int_arg(L, lua_gettop(L), "flatten",
                                      "start_dim");
  arg_get(L, 3, npos, kw, "end_dim", "flatten");
  if (!lua_isnil(L, -1)) ed = int_arg(L, lua_gettop(L), "flatten", "end_dim");
  char *text = mc_format("%s(%lld, %lld)", fn, (long long)sd, (long long)ed);
  lua_pushstring(L, text); /* anchored for the error paths */
  free(text);
  return flatten_form(L, x, sd, ed, fn, lua_tostring(L, -1));
}

static int torch_flatten(lua_State *L) {
  tracing(L, "torch.flatten");
  return do_flatten(L, "torch.flatten");
}

static int t_flatten(lua_State *L) { return do_flatten(L, "flatten"); }

/* -------------------------------------------------------- view, reshape */

static int do_view(lua_State *L, const char *op) {
  int x = need_tensor(L, 1, op);
  int top = lua_gettop(L);
  Shape want = {0, {0}};
  int one = top == 2 && lua_type(L, 2) == LUA_TTABLE;
  int n = one ? (int)lua_rawlen(L, 2) : top - 1;
  if (n > MC_MAXDIM)
    return op_error(L, op, "modelc supports at most %d dimensions, not %d",
                    MC_MAXDIM, n);
  int infer = -1;
  for (int i = 0; i < n; i++) {
    if (one) lua_rawgeti(L, 2, i + 1);
    else lua_pushvalue(L, i + 2);
    int64_t v;
    if (!get_int(L, -1, &v))
      return op_error(L, op, "%s(): argument 'size' must be a sequence of "
                      "ints, but found element of type %s at pos %d", op,
                      what_is(L, -1), i);
    lua_pop(L, 1);
    if (v == -1) {
      if (infer >= 0)
        return op_error(L, op, "only one dimension can be inferred");
      infer = i;
    } else if (v < 0) {
      return op_error(L, op, "invalid shape dimension %lld", (long long)v);
    }
    want.d[want.n++] = v;
  }
  const Shape *in = shape_of(L, x);
  int64_t numel = shape_numel(in), known = 1;
  for (int i = 0; i < want.n; i++)
    if (i != infer) known *= want.d[i];
  int ok = infer >= 0 ? known > 0 && numel % known == 0 : known == numel;
  if (!ok) { /* the text goes to Lua first: op_error does not return */
    Buf b = {0};
    for (int i = 0; i < want.n; i++)
      buf_printf(&b, "%s%lld", i ? ", " : "", (long long)want.d[i]);
    lua_pushstring(L, b.s ? b.s : "");
    buf_free(&b);
    op_error(L, op, "shape '[%s]' is invalid for input of size %lld",
             lua_tostring(L, -1), (long long)numel);
  }
  if (infer >= 0) want.d[infer] = numel / known;
  for (int i = 0; i < want.n; i++)
    if (want.d[i] < 1) {
      char *s = shape_str(&want);
      lua_pushstring(L, s);
      free(s);
      op_error(L, op, "Output size is too small: the shape %s is empty",
               lua_tostring(L, -1));
    }
  /* x:view(x:size(0), -1) is flatten(x, 1): a Flatten layer */
  for (int sd = 0; want.n >= 1 && want.n <= in->n && sd < want.n; sd++) {
    int ed = sd + in->n - want.n, same = 1;
    int64_t prod = 1;
    for (int i = sd; i <= ed; i++) prod *= in->d[i];
    for (int i = 0; i < sd; i++) same &= want.d[i] == in->d[i];
    same &= want.d[sd] == prod;
    for (int i = sd + 1; i < want.n; i++) same &= want.d[i] == in->d[i + ed - sd];
    if (same && (ed > sd || want.n == in->n)) {
      char *s = shape_str(&want), *text = mc_format("%s(%s)", op, s);
      lua_pushstring(L, text);
      free(s);
      free(text);
      return flatten_form(L, x, sd, ed, op, lua_tostring(L, -1));
    }
  }
  int id = add_node(L, N_VIEW, op);
  Node *nd = &trace_of(L)->nodes[id];
  nd->in[0] = x;
  nd->nin = 1;
  nd->out = want;
  push_tensor(L, id);
  return 1;
}

static int t_view(lua_State *L) { return do_view(L, "view"); }
static int t_reshape(lua_State *L) { return do_view(L, "reshape"); }

/* -------------------------------------------------------------- mean */

static int do_mean(lua_State *L) {
  int x = need_tensor(L, 1, "mean");
  int kw = kwargs_at(L, 2);
  int npos = kw ? kw - 1 : lua_gettop(L);
  static const char *const known[] = {"dim", "keepdim", NULL};
  check_keywords(L, kw, "mean", known);
  if (npos > 3)
    return op_error(L, "mean", "mean takes at most 2 arguments after the "
                    "tensor (dim, keepdim), got %d", npos - 1);
  const Shape *in = shape_of(L, x);
  int64_t dims[MC_MAXDIM];
  int nd = 0, all = 0;
  arg_get(L, 2, npos, kw, "dim", "mean");
  int di = lua_gettop(L);
  if (lua_isnil(L, di)) {
    all = 1;
  } else if (lua_type(L, di) == LUA_TTABLE) {
    int n = (int)lua_rawlen(L, di);
    if (n == 0) all = 1; /* mean(dim=()) reduces everything in 1.13 */
    if (n > MC_MAXDIM)
      return op_error(L, "mean", "too many dims (%d)", n);
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, di, i + 1);
      dims[nd++] = int_arg(L, lua_gettop(L), "mean", "dim");
      lua_pop(L, 1);
    }
  } else {
    dims[nd++] = int_arg(L, di, "mean", "dim");
  }
  arg_get(L, 3, npos, kw, "keepdim", "mean");
  int keep = 0;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      return op_error(L, "mean", "argument 'keepdim' must be a boolean, not "
                      "%s", what_is(L, -1));
    keep = lua_toboolean(L, -1);
  }
  int reduce[MC_MAXDIM] = {0};
  if (all) {
    for (int i = 0; i < in->n; i++) reduce[i] = 1;
  } else {
    for (int i = 0; i < nd; i++) {
      int64_t d = wrap_dim(L, "mean", dims[i], in->n);
      if (in->n > 0 && reduce[d])
        return op_error(L, "mean", "dim %lld appears multiple times in the "
                        "list of dims", (long long)d);
      if (in->n > 0) reduce[d] = 1;
    }
  }
  Shape out = {0, {0}};
  int id = add_node(L, N_MEAN, "mean");
  Node *n = &trace_of(L)->nodes[id];
  for (int i = 0; i < in->n; i++) {
    if (reduce[i]) n->dims[n->ndims++] = i;
    if (!reduce[i]) out.d[out.n++] = in->d[i];
    else if (keep) out.d[out.n++] = 1;
  }
  n->keepdim = keep;
  n->in[0] = x;
  n->nin = 1;
  n->out = out;
  push_tensor(L, id);
  return 1;
}

static int torch_mean(lua_State *L) {
  tracing(L, "torch.mean");
  return do_mean(L);
}

/* ------------------------------------------------- size, dim, shape */

static void push_shape(lua_State *L, const Shape *s) {
  lua_createtable(L, s->n, 0);
  for (int i = 0; i < s->n; i++) {
    lua_pushinteger(L, (lua_Integer)s->d[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

static int t_size(lua_State *L) {
  int x = need_tensor(L, 1, "size");
  const Shape *s = shape_of(L, x);
  if (lua_gettop(L) < 2 || lua_isnil(L, 2)) {
    push_shape(L, s);
    return 1;
  }
  int64_t d = wrap_dim(L, "size", int_arg(L, 2, "size", "dim"), s->n);
  lua_pushinteger(L, s->n ? (lua_Integer)s->d[d] : 1);
  return 1;
}

static int t_dim(lua_State *L) {
  int x = need_tensor(L, 1, "dim");
  lua_pushinteger(L, shape_of(L, x)->n);
  return 1;
}

static const luaL_Reg tensor_methods[] = {
    {"size", t_size},       {"dim", t_dim},     {"view", t_view},
    {"reshape", t_reshape}, {"flatten", t_flatten}, {"mean", do_mean},
    {NULL, NULL}};

/* x.shape, x:size(...), ...; anything else is an error naming it. */
static int t_index(lua_State *L) {
  const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
  if (k && strcmp(k, "shape") == 0) {
    push_shape(L, shape_of(L, tensor_at(L, 1)));
    return 1;
  }
  for (int i = 0; k && tensor_methods[i].name; i++)
    if (strcmp(k, tensor_methods[i].name) == 0) {
      lua_pushcfunction(L, tensor_methods[i].func);
      return 1;
    }
  if (!k)
    return op_error(L, "index", "modelc does not support indexing a tensor "
                    "(x[%s]) in forward", luaL_tolstring(L, 2, NULL));
  const char *near = NULL;
  int best = 3;
  for (int i = 0; tensor_methods[i].name; i++) {
    int e = mc_levenshtein(k, tensor_methods[i].name);
    if (e < best) best = e, near = tensor_methods[i].name;
  }
  if (mc_levenshtein(k, "shape") < best) near = "shape";
  Dsl *dsl = dsl_of(L);
  SrcLoc at = call_loc(L);
  diag_error(dsl->d, &at, "modelc does not support 'Tensor.%s' in forward "
             "(the tensor operations a forward may use are listed in its "
             "README)", k);
  if (near) diag_hint(dsl->d, &at, "did you mean '%s'?", near);
  return sb_raise_reported(L);
}

static int t_unsupported(lua_State *L) {
  const char *what = lua_tostring(L, lua_upvalueindex(1));
  return op_error(L, what, "modelc does not support %s on tensors in "
                  "forward", what);
}

static int t_newindex(lua_State *L) {
  return op_error(L, "setattr", "a tensor's fields cannot be set");
}

static int t_tostring(lua_State *L) {
  const Shape *s = shape_of(L, tensor_at(L, 1));
  char *str = shape_str(s);
  lua_pushfstring(L, "tensor%s", str);
  free(str);
  return 1;
}

/* ---------------------------------------------------- calling layers */

/* Run layer all[id]'s shape rule on the tensor `x` at the call's line. */
static int call_layer(lua_State *L, int id, int x, const char *fname) {
  Dsl *dsl = dsl_of(L);
  Trace *t = dsl->trace;
  Layer *l = &t->all[id];
  SrcLoc built = l->loc, at = call_loc(L);
  int lua_line;
  sb_where(L, 1, &lua_line, &at.via_line);
  at.via_line = 0;
  if (lua_line == 0) at = built; /* called by a layer list: its own line */
  l->in = *shape_of(L, x);
  l->loc = at; /* errors at the call */
  int bad = l->kind->shape(l, dsl->d) || shape_check_params(l, dsl->d);
  l->loc = built;
  if (bad) {
    if (!fname) built_note(dsl, l, &built);
    return sb_raise_reported(L);
  }
  int nid = add_node(L, N_LAYER, *l->prefix ? l->prefix : l->kind->name);
  Node *n = &t->nodes[nid];
  n->layer = id;
  n->in[0] = x;
  n->nin = 1;
  n->built = fname ? at : built;
  n->out = l->out;
  t->ncalls[id]++;
  push_tensor(L, nid);
  return 1;
}

int trace_add_layer(Trace *t, const Layer *l) {
  if (t->nall == t->capall) {
    t->capall = t->capall ? 2 * t->capall : 32;
    t->all = mc_realloc(t->all, sizeof(Layer) * (size_t)t->capall);
    t->ncalls = mc_realloc(t->ncalls, sizeof(int) * (size_t)t->capall);
    t->offtree = mc_realloc(t->offtree, (size_t)t->capall);
  }
  t->all[t->nall] = *l;
  t->ncalls[t->nall] = 0;
  t->offtree[t->nall] = 0;
  return t->nall++;
}

/* nn.Conv2d{...}(x) inside forward. A layer that is no child of the
 * model (built inside forward, say) may be called if it has no
 * parameters, which would have no state_dict key. */
int trace_layer_call(lua_State *L) {
  LuaLayer *u = luaL_checkudata(L, 1, LAYER_MT);
  Dsl *dsl = dsl_of(L);
  const char *kname = layer_kind_at(u->kind)->name;
  if (!dsl->trace)
    return sb_raise(L, "nn.%s is called like a function only inside a "
                    "module's forward (modelc runs forward once, when it "
                    "reads the model)", kname);
  Trace *t = dsl->trace;
  if (u->id < 0) {
    Layer l;
    memset(&l, 0, sizeof l);
    l.kind = layer_kind_at(u->kind);
    l.loc.file = dsl->m->file;
    l.loc.line = u->line;
    l.loc.via_line = u->via_line;
    l.ctor = u->ctor;
    l.modpath = 1;
    char *base = mc_strdup(kname);
    for (char *c = base; *c; c++) *c = (char)(*c >= 'A' && *c <= 'Z'
                                                  ? *c - 'A' + 'a' : *c);
    l.prefix = base;
    ArgVal vals[MC_MAXARGS];
    lua_getiuservalue(L, 1, 1); /* u x... t */
    int r = args_bind(L, lua_gettop(L), &l, vals, dsl->d);
    lua_pop(L, 1);
    if (r == 0) {
      l.text = args_text(l.kind, vals);
      memcpy(l.arg, vals, sizeof vals);
      r = l.kind->parse(&l, vals, dsl->d);
      for (int k = 0; k < MC_MAXARGS; k++) l.arg[k].s = NULL;
    }
    u->id = trace_add_layer(t, &l);
    t->offtree[u->id] = 1;
    if (r) return sb_raise_reported(L);
  }
  if (lua_gettop(L) != 2 || tensor_at(L, 2) < 0) {
    Layer *l = &t->all[u->id];
    return op_error(L, l->prefix, "a layer is called on one tensor, got "
                    "%d argument%s%s%s", lua_gettop(L) - 1,
                    lua_gettop(L) == 2 ? "" : "s",
                    lua_gettop(L) >= 2 ? ", the first a " : "",
                    lua_gettop(L) >= 2 ? what_is(L, 2) : "");
  }
  Layer *l = &t->all[u->id];
  call_layer(L, u->id, tensor_at(L, 2), NULL);
  l = &t->all[u->id];
  if (t->offtree[u->id] && l->nparams > 0) {
    SrcLoc at = call_loc(L), built = l->loc;
    built.via_line = 0;
    diag_error(dsl->d, &at, "nn.%s built at line %d is not a child of the "
               "model, so its parameters have no state_dict key", kname,
               built.line);
    diag_hint(dsl->d, &built, "assign it to a field of a module (self.x = "
              "nn.%s{...}) outside forward", kname);
    return sb_raise_reported(L);
  }
  return 1;
}

/* ---------------------------------------------- F.* and torch.* forms */

/* A functional form: the layer kind it is, and its parameters after the
 * input in the function's positional order. */
typedef struct FnForm {
  const char *table, *name, *kind;
  const char *params[8];
} FnForm;

static const FnForm forms[] = {
    {"F", "relu", "ReLU", {"inplace"}},
    {"F", "relu6", "ReLU6", {"inplace"}},
    {"F", "leaky_relu", "LeakyReLU", {"negative_slope", "inplace"}},
    {"F", "elu", "ELU", {"alpha", "inplace"}},
    {"F", "gelu", "GELU", {"approximate"}},
    {"F", "silu", "SiLU", {"inplace"}},
    {"F", "hardswish", "Hardswish", {"inplace"}},
    {"F", "hardsigmoid", "Hardsigmoid", {"inplace"}},
    {"F", "softmax", "Softmax", {"dim"}},
    {"F", "log_softmax", "LogSoftmax", {"dim"}},
    {"F", "max_pool1d", "MaxPool1d", {"kernel_size", "stride", "padding",
                                      "dilation", "ceil_mode",
                                      "return_indices"}},
    {"F", "max_pool2d", "MaxPool2d", {"kernel_size", "stride", "padding",
                                      "dilation", "ceil_mode",
                                      "return_indices"}},
    {"F", "avg_pool1d", "AvgPool1d", {"kernel_size", "stride", "padding",
                                      "ceil_mode", "count_include_pad"}},
    {"F", "avg_pool2d", "AvgPool2d", {"kernel_size", "stride", "padding",
                                      "ceil_mode", "count_include_pad",
                                      "divisor_override"}},
    {"F", "adaptive_avg_pool1d", "AdaptiveAvgPool1d", {"output_size"}},
    {"F", "adaptive_avg_pool2d", "AdaptiveAvgPool2d", {"output_size"}},
    {"F", "pad", NULL, {"pad", "mode", "value"}},
    {"torch", "sigmoid", "Sigmoid", {NULL}},
    {"torch", "tanh", "Tanh", {NULL}},
};

static int kind_index(const char *name) {
  for (int i = 0; layer_kind_at(i); i++)
    if (strcmp(layer_kind_at(i)->name, name) == 0) return i;
  return -1;
}

/* F.pad(x, pad, mode = "constant", value = 0) as a padding layer. The
 * bind table on top gets padding (and value); returns the kind. */
static const char *pad_kind(lua_State *L, int tb) {
  lua_getfield(L, tb, "mode");
  const char *mode = lua_isnil(L, -1) ? "constant"
                     : lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                      : NULL;
  lua_pop(L, 1);
  if (!mode) op_error(L, "pad", "argument 'mode' must be a string");
  lua_getfield(L, tb, "pad");
  int n = lua_type(L, -1) == LUA_TTABLE ? (int)lua_rawlen(L, -1) : -1;
  lua_setfield(L, tb, "padding");
  lua_pushnil(L);
  lua_setfield(L, tb, "pad");
  lua_pushnil(L);
  lua_setfield(L, tb, "mode");
  if (n < 0) op_error(L, "pad", "argument 'pad' must be a tuple of ints");
  int two = n > 2;
  if (strcmp(mode, "constant") == 0) {
    lua_getfield(L, tb, "value");
    if (lua_isnil(L, -1)) {
      lua_pushinteger(L, 0);
      lua_setfield(L, tb, "value");
    }
    lua_pop(L, 1);
    return two ? "ConstantPad2d" : "ConstantPad1d";
  }
  lua_getfield(L, tb, "value");
  int has_value = !lua_isnil(L, -1) && !(lua_type(L, -1) == LUA_TNUMBER &&
                                         lua_tonumber(L, -1) == 0);
  lua_pop(L, 1);
  if (has_value)
    op_error(L, "pad", "Padding mode \"%s\" doesn't take in value argument",
             mode);
  lua_pushnil(L);
  lua_setfield(L, tb, "value");
  if (strcmp(mode, "reflect") == 0)
    return two ? "ReflectionPad2d" : "ReflectionPad1d";
  if (strcmp(mode, "replicate") == 0)
    return two ? "ReplicationPad2d" : "ReplicationPad1d";
  if (strcmp(mode, "circular") == 0)
    op_error(L, "pad", "modelc does not support F.pad with mode 'circular' "
             "(Conv's padding_mode='circular' is supported)");
  op_error(L, "pad", "Unrecognised padding mode %s", mode);
  return NULL;
}

/* A functional form as a layer of kind `kname` without parameters,
 * bound from the keyword table at tb, called on tensor x: its text is
 * `full` with the layer's arguments, its name `base` (relu, relu_1). */
static int call_form(lua_State *L, const char *kname, const char *full,
                     const char *base, int tb, int x, const char *text) {
  Dsl *dsl = dsl_of(L);
  Trace *t = dsl->trace;
  Layer l;
  memset(&l, 0, sizeof l);
  l.kind = layer_kind_at(kind_index(kname));
  l.loc = call_loc(L);
  l.modpath = 1;
  l.ctor = -1;
  l.prefix = mc_strdup(base); /* replaced by the node's name below */
  ArgVal vals[MC_MAXARGS];
  int r = args_bind(L, tb, &l, vals, dsl->d);
  if (r == 0) {
    char *t0 = args_text(l.kind, vals);
    const char *paren = strchr(t0, '(');
    l.text = text ? mc_strdup(text)
                  : mc_format("%s%s", full, paren ? paren : "()");
    free(t0);
    memcpy(l.arg, vals, sizeof vals);
    r = l.kind->parse(&l, vals, dsl->d);
    for (int k = 0; k < MC_MAXARGS; k++) l.arg[k].s = NULL;
  }
  int id = trace_add_layer(t, &l);
  if (r) return sb_raise_reported(L);
  call_layer(L, id, x, full);
  Node *n = &t->nodes[tensor_at(L, -1)];
  free(t->all[id].prefix);
  t->all[id].prefix = mc_strdup(n->name); /* relu, relu_1, ... */
  return 1;
}

/* flatten as a Flatten layer (a view: no code), so that a chain of
 * layers with a flatten in it stays a chain. */
static int flatten_form(lua_State *L, int x, int64_t s, int64_t e,
                        const char *full, const char *text) {
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, (lua_Integer)s);
  lua_setfield(L, -2, "start_dim");
  lua_pushinteger(L, (lua_Integer)e);
  lua_setfield(L, -2, "end_dim");
  const char *base = strcmp(full, "view") == 0 || strcmp(full, "reshape") == 0
                         ? full : "flatten";
  return call_form(L, "Flatten", full, base, lua_gettop(L), x, text);
}

/* F.relu(x, ...) and the others: upvalue 1 indexes forms[]. */
static int fn_call(lua_State *L) {
  const FnForm *f = &forms[lua_tointeger(L, lua_upvalueindex(1))];
  char full[48];
  snprintf(full, sizeof full, "%s.%s", f->table, f->name);
  tracing(L, full);
  int x = need_tensor(L, 1, f->name);
  int kw = kwargs_at(L, 2);
  int npos = kw ? kw - 1 : lua_gettop(L);
  int nparams = 0;
  while (nparams < 8 && f->params[nparams]) nparams++;
  if (npos - 1 > nparams)
    return op_error(L, f->name, "%s() takes at most %d argument%s after the "
                    "input, got %d", f->name, nparams,
                    nparams == 1 ? "" : "s", npos - 1);
  /* The table the layer's constructor would get, all keywords. */
  lua_newtable(L); /* ... tb */
  int tb = lua_gettop(L);
  for (int i = 2; i <= npos; i++) {
    lua_pushvalue(L, i);
    lua_setfield(L, tb, f->params[i - 2]);
  }
  if (kw) {
    lua_pushnil(L);
    while (lua_next(L, kw)) { /* ... tb key value */
      if (lua_type(L, -2) != LUA_TSTRING)
        return op_error(L, f->name, "keyword arguments must be names");
      const char *k = lua_tostring(L, -2);
      int known = 0;
      for (int i = 0; i < nparams; i++) known |= !strcmp(k, f->params[i]);
      if (!known)
        return op_error(L, f->name, "%s() got an unexpected keyword argument "
                        "'%s'", f->name, k);
      lua_getfield(L, tb, k);
      if (!lua_isnil(L, -1))
        return op_error(L, f->name, "%s() got multiple values for argument "
                        "'%s'", f->name, k);
      lua_pop(L, 1);
      lua_pushvalue(L, -2);
      lua_insert(L, -2);        /* ... tb key key value */
      lua_settable(L, tb);      /* ... tb key */
    }
  }
  const char *kname = f->kind ? f->kind : pad_kind(L, tb);
  return call_form(L, kname, full, f->name, tb, x, NULL);
}

/* F.x / torch.x outside the list: an error naming it, with the nearest
 * name. Upvalue 1 is the table's name. */
static int fn_index(lua_State *L) {
  const char *table = lua_tostring(L, lua_upvalueindex(1));
  const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
  if (!key)
    return sb_raise(L, "%s has no entries indexed by a %s", table,
                    luaL_typename(L, 2));
  const char *near = NULL;
  int bestd = 3;
  static const char *const torch_ops[] = {"add", "sub", "mul", "div", "cat",
                                          "flatten", "mean", NULL};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    if (strcmp(forms[i].table, table) != 0) continue;
    int e = mc_levenshtein(key, forms[i].name);
    if (e < bestd) bestd = e, near = forms[i].name;
  }
  for (int i = 0; strcmp(table, "torch") == 0 && torch_ops[i]; i++) {
    int e = mc_levenshtein(key, torch_ops[i]);
    if (e < bestd) bestd = e, near = torch_ops[i];
  }
  if (near)
    return sb_raise(L, "modelc does not support '%s.%s'\nhint: did you mean "
                    "'%s.%s'?", table, key, table, near);
  return sb_raise(L, "modelc does not support '%s.%s' (the tensor "
                  "operations a forward may use are listed in its README)",
                  table, key);
}

/* env.NAME = a table of functions; other names go to fn_index. */
static void install_table(lua_State *L, int env, const char *name) {
  lua_newtable(L); /* env t */
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    if (strcmp(forms[i].table, name) != 0) continue;
    lua_pushinteger(L, (lua_Integer)i);
    lua_pushcclosure(L, fn_call, 1);
    lua_setfield(L, -2, forms[i].name);
  }
  if (strcmp(name, "torch") == 0) {
    static const luaL_Reg ops[] = {
        {"add", torch_add},         {"sub", torch_sub},   {"mul", torch_mul},
        {"div", torch_div},         {"cat", torch_cat},
        {"flatten", torch_flatten}, {"mean", torch_mean}, {NULL, NULL}};
    luaL_setfuncs(L, ops, 0);
  }
  lua_newtable(L); /* env t mt */
  lua_pushstring(L, name);
  lua_pushcclosure(L, fn_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2); /* env t */
  lua_setfield(L, env, name);
}

void trace_install(lua_State *L, int env) {
  luaL_newmetatable(L, TENSOR_MT); /* env mt */
  static const luaL_Reg meta[] = {
      {"__add", t_add},           {"__sub", t_sub},
      {"__mul", t_mul},           {"__div", t_div},
      {"__index", t_index},       {"__newindex", t_newindex},
      {"__tostring", t_tostring}, {NULL, NULL}};
  luaL_setfuncs(L, meta, 0);
  static const char *const unsupported[][2] = {
      {"__unm", "unary minus (-x)"}, {"__pow", "'^'"},
      {"__mod", "'%'"},              {"__idiv", "'//'"},
      {"__concat", "'..'"},          {"__len", "'#'"},
      {"__lt", "comparisons"},       {"__le", "comparisons"},
      {"__call", "calling a tensor"}, {"__band", "'&'"},
      {"__bor", "'|'"},              {"__bxor", "'~'"},
      {"__shl", "'<<'"},             {"__shr", "'>>'"},
      {"__bnot", "'~'"}};
  for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
    lua_pushstring(L, unsupported[i][1]);
    lua_pushcclosure(L, t_unsupported, 1);
    lua_setfield(L, -2, unsupported[i][0]);
  }
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pushliteral(L, "Tensor");
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1); /* env */
  install_table(L, env, "F");
  install_table(L, env, "torch");
}

/* ------------------------------------------------------- the model */

int trace_forward(lua_State *L, int root, Sandbox *sb, Trace *t) {
  Dsl *dsl = dsl_of(L);
  Model *m = dsl->m;
  int errors = dsl->d->nerrors;
  dsl->trace = t;
  lua_createtable(L, 0, 2);                 /* names */
  lua_newtable(L);
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "input");
  lua_setfield(L, -2, "used");
  lua_newtable(L);
  lua_setfield(L, -2, "next");
  lua_setfield(L, LUA_REGISTRYINDEX, NAMES_KEY);
  /* node 0: the input */
  lua_pushvalue(L, root);                 /* ... f */
  int id;
  {
    if (t->nnodes == t->capnodes) {
      t->capnodes = 64;
      t->nodes = mc_realloc(t->nodes, sizeof(Node) * (size_t)t->capnodes);
    }
    id = t->nnodes++;
    Node *n = &t->nodes[id];
    memset(n, 0, sizeof *n);
    n->op = N_INPUT;
    n->layer = -1;
    n->name = mc_strdup("input");
    n->module = mc_strdup("");
    n->loc = n->built = m->loc;
    n->out = m->input;
  }
  int base = lua_gettop(L) - 1;           /* results go above base */
  LuaModule *mu = luaL_testudata(L, root, MODULE_MT);
  if (mu && !mu->seq) {                   /* a forward to run? */
    lua_getiuservalue(L, root, 1);
    lua_getfield(L, -1, "fields");
    lua_getfield(L, -1, "forward");
    int has = lua_type(L, -1) == LUA_TFUNCTION;
    lua_pop(L, 3);
    if (!has) {
      dsl->trace = NULL;
      lua_settop(L, base);
      diag_error(dsl->d, &m->loc, "model '%s': Module [the model] is "
                 "missing the required \"forward\" function", m->name);
      diag_hint(dsl->d, &m->loc, "give it one: function m:forward(x) ... "
                "end");
      return -1;
    }
  }
  push_tensor(L, id);                     /* ... f x */
  int r = sb_call(sb, 1, LUA_MULTRET, dsl->d);
  dsl->trace = NULL;
  if (r || dsl->d->nerrors > errors) return -1;
  int nres = lua_gettop(L) - base;
  int out = nres == 1 ? tensor_at(L, -1) : -1;
  if (out < 0) {
    diag_error(dsl->d, &m->loc, "model '%s': forward must return one "
               "tensor, but it returned %s", m->name,
               nres == 0 ? "nothing" : nres > 1 ? "more than one value"
                                                : what_is(L, -1));
    lua_settop(L, base);
    return -1;
  }
  lua_settop(L, base);
  m->output = out;
  return 0;
}

static int has_params(const Layer *l) {
  for (int p = 0; p < P_COUNT; p++)
    if (l->param[p].used) return 1;
  return 0;
}

/* The graph is input -> layer -> layer ... -> output, each layer with
 * parameters called once (a layer without, such as a shared ReLU or
 * Dropout, may be called again: each call becomes a layer of its own). */
static int is_chain(const Trace *t, int out) {
  if (out != t->nnodes - 1 || t->nnodes < 2) return 0;
  for (int i = 1; i < t->nnodes; i++) {
    const Node *n = &t->nodes[i];
    if (n->op != N_LAYER || n->nin != 1 || n->in[0] != i - 1 ||
        (t->ncalls[n->layer] != 1 && has_params(&t->all[n->layer])))
      return 0;
  }
  return 1;
}

static Layer copy_layer(const Layer *l) {
  Layer c = *l;
  c.name = l->name ? mc_strdup(l->name) : NULL;
  c.prefix = mc_strdup(l->prefix);
  c.text = mc_strdup(l->text);
  return c; /* no parameters to copy: has_params(l) is 0 */
}

int trace_finish(Trace *t, Model *m, Diag *d) {
  int *newid = mc_alloc(sizeof(int) * (size_t)(t->nall + 1));
  int ncalled = 0, nspare = 0;
  for (int i = 0; i < t->nall; i++) ncalled += t->ncalls[i] > 0;
  m->branching = !is_chain(t, m->output);
  int nl = m->branching ? ncalled : t->nnodes - 1;
  m->layers = mc_alloc(sizeof(Layer) * (size_t)(nl + 1));
  m->spare = mc_alloc(sizeof(Layer) * (size_t)(t->nall - ncalled + 1));
  for (int i = 0; i < t->nall; i++) newid[i] = -1;
  if (m->branching) {
    /* each called layer once, in the order of its first call */
    for (int i = 1; i < t->nnodes; i++) {
      Node *n = &t->nodes[i];
      if (n->op != N_LAYER || newid[n->layer] >= 0) continue;
      newid[n->layer] = m->nlayers;
      Layer *l = &m->layers[m->nlayers];
      *l = t->all[n->layer];
      l->index = m->nlayers++;
    }
    for (int i = 0; i < t->nnodes; i++)
      if (t->nodes[i].op == N_LAYER)
        t->nodes[i].layer = newid[t->nodes[i].layer];
  } else {
    /* the layer list: one layer per call, its shapes those of the call
     * (a layer called again was last run on another input) */
    Diag quiet = {0};
    for (int i = 1; i < t->nnodes; i++) {
      Node *n = &t->nodes[i];
      Layer *l = &m->layers[m->nlayers];
      if (newid[n->layer] < 0) {
        newid[n->layer] = m->nlayers;
        *l = t->all[n->layer];
      } else {
        *l = copy_layer(&t->all[n->layer]);
      }
      l->index = m->nlayers++;
      l->in = t->nodes[n->in[0]].out;
      l->kind->shape(l, &quiet);
      n->layer = l->index;
    }
    diag_free(&quiet);
  }
  for (int i = 0; i < t->nall; i++)
    if (!t->ncalls[i]) m->spare[nspare++] = t->all[i];
  m->nspare = nspare;
  m->nodes = t->nodes;
  m->nnodes = t->nnodes;
  m->traced = 1;
  free(newid);
  /* the model owns them now */
  free(t->all);
  t->all = NULL;
  t->nall = 0;
  t->nodes = NULL;
  t->nnodes = 0;
  if (m->output == 0) {
    diag_error(d, &m->loc, "model '%s': forward returned its input: the "
               "model computes nothing", m->name);
    return -1;
  }
  return 0;
}

void trace_free(Trace *t) {
  for (int i = 0; i < t->nall; i++) {
    Layer *l = &t->all[i];
    free(l->name);
    free(l->prefix);
    free(l->text);
    for (int p = 0; p < P_COUNT; p++) {
      free(l->param[p].inline_data);
      free(l->param[p].data);
    }
  }
  free(t->all);
  free(t->ncalls);
  free(t->offtree);
  for (int i = 0; i < t->nnodes; i++) {
    free(t->nodes[i].name);
    free(t->nodes[i].module);
  }
  free(t->nodes);
  for (int i = 0; i < t->npaths; i++) free(t->paths[i]);
  free(t->paths);
  memset(t, 0, sizeof *t);
}
