/* sandbox.c: run untrusted spec text in a Lua 5.4 state that can reach
 * nothing outside itself.
 *
 * - memory: an allocator that refuses past a cap;
 * - time: a count hook with an instruction budget (a line hook keeps the
 *   last spec line, for errors that arrive without one);
 * - reach: the spec sees a fresh environment holding copies of the safe
 *   base functions, string (without the pattern functions, which a hook
 *   cannot interrupt, and without dump), table and math (without random),
 *   and the DSL. No io, os, package, require, debug, load, dofile,
 *   setmetatable, getmetatable, coroutine, utf8; text chunks only;
 * - C loops whose length the spec picks without paying for it in memory
 *   (string.rep of nothing, table.move, table.insert/remove in a table
 *   whose border #t is huge) are cut short or charged to the budget;
 * - print goes to stderr, at most SB_PRINT_MAX bytes, and an error
 *   message is cut at SB_MESSAGE_MAX bytes;
 * - a limit, once hit, cannot be caught by pcall/xpcall in the spec.
 * The measurements behind these choices are in shared/NOTES.md. */
#include "sandbox.h"

#include <lualib.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define SB_HOOK_EVERY 1000
#define SB_MESSAGE_MAX 4096 /* bytes of a spec's error message shown */

static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  Sandbox *sb = ud;
  int64_t old = ptr ? (int64_t)osize : 0;
  if (nsize == 0) {
    free(ptr);
    sb->mem_used -= old;
    return NULL;
  }
  if ((int64_t)nsize > old && sb->mem_used - old + (int64_t)nsize > sb->mem_cap) {
    if (!sb->fatal) sb->fatal = SB_FATAL_MEMORY;
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (p) sb->mem_used += (int64_t)nsize - old;
  return p;
}

static Sandbox *sb_of(lua_State *L) {
  void *ud;
  lua_getallocf(L, &ud);
  return ud;
}

Sandbox *sb_state(lua_State *L) { return sb_of(L); }

/* The error value of sb_raise_reported: its address. */
static const char reported_key = 0;

int sb_raise_reported(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&reported_key);
  return lua_error(L);
}

static int sb_panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "modelc: internal error: unprotected Lua error: %s\n",
          msg ? msg : "(not a string)");
  abort();
}

static void sb_hook(lua_State *L, lua_Debug *ar) {
  Sandbox *sb = sb_of(L);
  if (ar->event == LUA_HOOKLINE) {
    sb->last_line = ar->currentline;
    return;
  }
  sb->budget -= SB_HOOK_EVERY;
  if (sb->budget > 0 && !sb->fatal) return;
  if (!sb->fatal) sb->fatal = SB_FATAL_INSTRUCTIONS;
  /* Inside a hook luaL_error has no position: take it from ar. */
  lua_getinfo(L, "Sl", ar);
  int line = ar->currentline > 0 ? ar->currentline : sb->last_line;
  lua_pushfstring(L, SB_SHORTSRC ":%d: %s", line,
                  sb->fatal == SB_FATAL_MEMORY ? "not enough memory"
                                               : "instruction limit");
  lua_error(L);
}

/* pcall and xpcall that let limit errors through. */
static int sb_finish_pcall(lua_State *L, int status, lua_KContext extra) {
  Sandbox *sb = sb_of(L);
  if (sb->fatal) lua_error(L); /* rethrow the error object on top */
  if (status != LUA_OK && status != LUA_YIELD) {
    lua_pushboolean(L, 0);
    lua_pushvalue(L, -2);
    return 2;
  }
  return lua_gettop(L) - (int)extra;
}

static int sb_pcall(lua_State *L) {
  luaL_checkany(L, 1);
  lua_pushboolean(L, 1); /* f args... true */
  lua_insert(L, 1);      /* true f args... */
  int status = lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, 0,
                          sb_finish_pcall);
  return sb_finish_pcall(L, status, 0);
}

/* xpcall's message handler, wrapped: once a limit is hit the error passes
 * through untouched. (A limit error is raised inside the count hook, and
 * Lua runs the handler with hooks still off: the spec's own handler could
 * then loop for ever.) Upvalue 1 is the spec's handler. */
static int sb_xpcall_handler(lua_State *L) {
  if (sb_of(L)->fatal) return 1;
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1)); /* args... h */
  lua_insert(L, 1);                      /* h args... */
  lua_call(L, n, 1);                     /* result */
  return 1;
}

static int sb_xpcall(lua_State *L) {
  int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 2);                           /* f h args... h */
  lua_pushcclosure(L, sb_xpcall_handler, 1);     /* f h args... wrapped */
  lua_replace(L, 2);                             /* f wrapped args... */
  lua_pushboolean(L, 1); /* f h args... true */
  lua_pushvalue(L, 1);   /* f h args... true f */
  lua_rotate(L, 3, 2);   /* f h true f args... */
  int status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, sb_finish_pcall);
  return sb_finish_pcall(L, status, 2);
}

/* print writes to stderr: stdout belongs to modelc's own output (the
 * table, the DOT text, the output tensor). At most SB_PRINT_MAX bytes in
 * all, so a print in a loop cannot fill a disk; the rest is dropped with
 * one note. */
static int sb_print(lua_State *L) {
  Sandbox *sb = sb_of(L);
  int n = lua_gettop(L);
  for (int i = 1; i <= n; i++) {
    size_t len;
    const char *s = luaL_tolstring(L, i, &len); /* ... s */
    if (sb->printed <= SB_PRINT_MAX) {
      size_t room = (size_t)(SB_PRINT_MAX - sb->printed);
      if (i > 1) fputc('\t', stderr);
      fwrite(s, 1, len < room ? len : room, stderr);
    }
    sb->printed += (int64_t)len + 1;
    lua_pop(L, 1);
  }
  if (sb->printed <= SB_PRINT_MAX) {
    fputc('\n', stderr);
  } else if (!sb->print_cut) {
    sb->print_cut = 1;
    fprintf(stderr, "\n(print: output past %d bytes dropped)\n",
            SB_PRINT_MAX);
  }
  return 0;
}

/* Count `n` units of work done in one C call against the instruction
 * budget: the count hook cannot interrupt a C function, so a library loop
 * whose length the spec chooses pays for it up front. */
static void sb_charge(lua_State *L, lua_Unsigned n) {
  Sandbox *sb = sb_of(L);
  if (sb->budget > 0 && n < (lua_Unsigned)sb->budget) {
    sb->budget -= (int64_t)n;
    return;
  }
  sb->budget = 0;
  if (!sb->fatal) sb->fatal = SB_FATAL_INSTRUCTIONS;
  sb_raise(L, "instruction limit");
}

/* Call the library function in upvalue 1 with this call's arguments. */
static int sb_call_orig(lua_State *L) {
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1)); /* args... f */
  lua_insert(L, 1);                      /* f args... */
  lua_call(L, n, LUA_MULTRET);           /* results... */
  return lua_gettop(L);
}

/* string.rep(s, n [, sep]): an empty result is built by n empty copies in
 * one C loop (a 2^63 loop for ("").rep("", math.maxinteger)): return it
 * at once. Any other result holds at least n bytes, so the memory cap
 * refuses it before the loop starts. */
static int sb_rep(lua_State *L) {
  size_t l, lsep;
  luaL_checklstring(L, 1, &l);
  luaL_checkinteger(L, 2);
  luaL_optlstring(L, 3, "", &lsep);
  if (l == 0 && lsep == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  return sb_call_orig(L);
}

/* table.move(a1, f, e, t [, a2]) copies e - f + 1 elements, present or
 * not (t[i] = nil allocates nothing): charge them. */
static int sb_move(lua_State *L) {
  lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
  if (e >= f) sb_charge(L, (lua_Unsigned)e - (lua_Unsigned)f + 1u);
  return sb_call_orig(L);
}

/* table.insert(t, pos, v) and table.remove(t, pos) shift the elements
 * from pos to #t, and #t can be 2^50 for a table of 51 elements (a border
 * found by doubling): charge the shift. Appending stays free. */
static int sb_shift(lua_State *L) {
  int is_insert = (int)lua_tointeger(L, lua_upvalueindex(2));
  if (lua_type(L, 1) == LUA_TTABLE &&
      lua_gettop(L) >= (is_insert ? 3 : 2) && lua_isinteger(L, 2)) {
    lua_Integer size = (lua_Integer)lua_rawlen(L, 1);
    lua_Integer pos = lua_tointeger(L, 2);
    if (pos >= 1 && pos <= size)
      sb_charge(L, (lua_Unsigned)(size - pos) + 1u);
  }
  return sb_call_orig(L);
}

/* collectgarbage("count") only. */
static int sb_collectgarbage(lua_State *L) {
  const char *opt = luaL_optstring(L, 1, "count");
  if (strcmp(opt, "count") != 0)
    return luaL_error(L, "collectgarbage('%s') is not available in a spec",
                      opt);
  lua_pushnumber(L, (lua_Number)lua_gc(L, LUA_GCCOUNT, 0) +
                        lua_gc(L, LUA_GCCOUNTB, 0) / 1024.0);
  return 1;
}

/* Copy the named fields of the table at `src` into a new table. */
static void copy_fields(lua_State *L, int src, const char *const *names) {
  lua_newtable(L); /* ... copy */
  for (; *names; names++) {
    lua_getfield(L, src, *names); /* ... copy f */
    lua_setfield(L, -2, *names);  /* ... copy */
  }
}

static const char *const base_names[] = {
    "assert", "error",  "ipairs",   "next",     "pairs",  "rawequal",
    "rawget", "rawlen", "rawset",   "select",   "tonumber", "tostring",
    "type",   "_VERSION", NULL};
static const char *const string_names[] = {
    "byte", "char", "format", "len", "lower", "rep", "reverse", "sub",
    "upper", "pack", "packsize", "unpack", NULL};
static const char *const table_names[] = {"concat", "insert", "move", "pack",
                                          "remove", "sort",   "unpack", NULL};
static const char *const math_names[] = {
    "abs",  "ceil", "cos",  "deg",        "exp",       "floor", "fmod",
    "huge", "log",  "max",  "maxinteger", "min",       "mininteger",
    "modf", "pi",   "rad",  "sin",        "sqrt",      "tan",   "tointeger",
    "type", "ult",  "acos", "asin",       "atan",      NULL};

/* Build the spec's environment and leave it on the stack. */
static void sb_make_env(lua_State *L) {
  luaL_requiref(L, "_G", luaopen_base, 1);        /* G */
  luaL_requiref(L, "string", luaopen_string, 1);  /* G string */
  luaL_requiref(L, "table", luaopen_table, 1);    /* G string table */
  luaL_requiref(L, "math", luaopen_math, 1);      /* G string table math */
  int g = lua_absindex(L, -4);

  copy_fields(L, g, base_names);                  /* ... env */
  int env = lua_gettop(L);
  lua_pushcfunction(L, sb_pcall);
  lua_setfield(L, env, "pcall");
  lua_pushcfunction(L, sb_xpcall);
  lua_setfield(L, env, "xpcall");
  lua_pushcfunction(L, sb_print);
  lua_setfield(L, env, "print");
  lua_pushcfunction(L, sb_collectgarbage);
  lua_setfield(L, env, "collectgarbage");
  lua_pushvalue(L, env);
  lua_setfield(L, env, "_G");

  copy_fields(L, g + 1, string_names);            /* ... env str */
  /* Strings' methods ("x"):rep(3) go to the copy; the metatable is
   * locked so getmetatable("") would not hand out the real library. */
  lua_pushliteral(L, "");                         /* ... env str "" */
  if (lua_getmetatable(L, -1)) {                  /* ... env str "" mt */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);                                /* ... env str "" */
  }
  lua_pop(L, 1);                                  /* ... env str */
  lua_getfield(L, -1, "rep");                     /* ... env str rep */
  lua_pushcclosure(L, sb_rep, 1);                 /* ... env str wrapped */
  lua_setfield(L, -2, "rep");                     /* ... env str */
  lua_setfield(L, env, "string");                 /* ... env */
  copy_fields(L, g + 2, table_names);             /* ... env tab */
  lua_getfield(L, -1, "move");                    /* ... env tab move */
  lua_pushcclosure(L, sb_move, 1);                /* ... env tab wrapped */
  lua_setfield(L, -2, "move");                    /* ... env tab */
  lua_getfield(L, -1, "insert");                  /* ... env tab insert */
  lua_pushinteger(L, 1);                          /* ... env tab insert 1 */
  lua_pushcclosure(L, sb_shift, 2);               /* ... env tab wrapped */
  lua_setfield(L, -2, "insert");                  /* ... env tab */
  lua_getfield(L, -1, "remove");                  /* ... env tab remove */
  lua_pushinteger(L, 0);                          /* ... env tab remove 0 */
  lua_pushcclosure(L, sb_shift, 2);               /* ... env tab wrapped */
  lua_setfield(L, -2, "remove");                  /* ... env tab */
  lua_setfield(L, env, "table");                  /* ... env */
  copy_fields(L, g + 3, math_names);
  lua_setfield(L, env, "math");

  lua_replace(L, g);                              /* env string table math */
  lua_pop(L, 3);                                  /* env */
}

static int sb_open_protected(lua_State *L) {
  sb_make_env(L); /* env */
  return 1;
}

lua_State *sb_open(Sandbox *sb, const char *path, const Limits *lim) {
  memset(sb, 0, sizeof *sb);
  sb->path = path;
  sb->mem_cap = lim->max_memory;
  sb->max_instructions = lim->max_instructions;
  sb->budget = lim->max_instructions;
  lua_State *L = lua_newstate(sb_alloc, sb);
  if (!L) return NULL;
  sb->L = L;
  lua_atpanic(L, sb_panic);
  lua_pushcfunction(L, sb_open_protected);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) { /* env | msg */
    lua_close(L);
    sb->L = NULL;
    return NULL;
  }
  return L;
}

/* Line and helper line of the Lua code running at stack `level`. */
void sb_where(lua_State *L, int level, int *line, int *via_line) {
  lua_Debug ar;
  *line = 0;
  *via_line = 0;
  for (int lv = level; lua_getstack(L, lv, &ar); lv++) {
    if (!lua_getinfo(L, "Sl", &ar)) break;
    if (ar.currentline <= 0) continue; /* a C function */
    if (*line == 0) *line = ar.currentline;
    if (strcmp(ar.what, "main") == 0) {
      if (ar.currentline != *line) *via_line = ar.currentline;
      break;
    }
  }
}

int sb_raise(lua_State *L, const char *fmt, ...) {
  int line, via;
  sb_where(L, 1, &line, &via);
  va_list ap;
  va_start(ap, fmt);
  lua_pushfstring(L, SB_SHORTSRC ":%d: ", line); /* ... where */
  lua_pushvfstring(L, fmt, ap);                  /* ... where msg */
  va_end(ap);
  lua_concat(L, 2);                              /* ... "where msg" */
  return lua_error(L);
}

/* Message handler: turn any error value into "spec:LINE: message". */
static int sb_msgh(lua_State *L) {
  if (lua_touserdata(L, 1) == &reported_key) return 1;
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    msg = lua_pushfstring(L, "(error object is a %s value)",
                          luaL_typename(L, 1));
    lua_replace(L, 1);
  }
  if (strncmp(msg, SB_SHORTSRC ":", strlen(SB_SHORTSRC ":")) == 0) return 1;
  int line, via;
  sb_where(L, 1, &line, &via);
  if (line == 0) line = sb_of(L)->last_line;
  lua_pushfstring(L, SB_SHORTSRC ":%d: %s", line, msg);
  return 1;
}

/* Split "spec:LINE: message" into line and message. */
static int split_message(const char *s, int *line, const char **rest) {
  size_t n = strlen(SB_SHORTSRC ":");
  *line = 0;
  *rest = s;
  if (strncmp(s, SB_SHORTSRC ":", n) != 0) return 0;
  const char *p = s + n;
  int v = 0;
  if (*p < '0' || *p > '9') return 0;
  while (*p >= '0' && *p <= '9' && v < 100000000) v = v * 10 + (*p++ - '0');
  if (*p != ':') return 0;
  p++;
  if (*p == ' ') p++;
  *line = v;
  *rest = p;
  return 1;
}

/* Report a Lua error message; a "\nhint: " part becomes a hint line. */
static void report(Sandbox *sb, Diag *d, const char *msg) {
  int line;
  const char *rest;
  split_message(msg, &line, &rest);
  SrcLoc at = {sb->path, line > 0 ? line : 1, 0};
  if (sb->fatal == SB_FATAL_INSTRUCTIONS) {
    diag_error(d, &at,
               "the spec ran for more than %lld Lua instructions (an endless "
               "loop?)", (long long)sb->max_instructions);
    diag_hint(d, &at, "raise the limit with --max-instructions N");
    return;
  }
  if (sb->fatal == SB_FATAL_MEMORY) {
    at.line = sb->last_line > 0 ? sb->last_line : at.line;
    diag_error(d, &at, "the spec used more than %lld MB of memory",
               (long long)(sb->mem_cap >> 20));
    diag_hint(d, &at, "raise the limit with --max-memory MB");
    return;
  }
  size_t len = strlen(rest);
  if (len > SB_MESSAGE_MAX) { /* error(("x"):rep(3e7)) */
    diag_error(d, &at, "%.*s... (a message of %zu bytes, cut)",
               SB_MESSAGE_MAX, rest, len);
    return;
  }
  const char *hint = strstr(rest, "\nhint: ");
  if (hint) {
    char *head = mc_format("%.*s", (int)(hint - rest), rest);
    diag_error(d, &at, "%s", head);
    diag_hint(d, &at, "%s", hint + strlen("\nhint: "));
    free(head);
  } else {
    diag_error(d, &at, "%s", rest);
  }
}

int sb_run(Sandbox *sb, const char *text, size_t len, Diag *d) {
  lua_State *L = sb->L;
  int env = lua_gettop(L);
  lua_pushcfunction(L, sb_msgh);                   /* env msgh */
  int st = luaL_loadbufferx(L, text, len, SB_CHUNKNAME, "t");
  if (st != LUA_OK) {                              /* env msgh err */
    const char *msg = lua_tostring(L, -1);
    if (st == LUA_ERRMEM && !sb->fatal) sb->fatal = SB_FATAL_MEMORY;
    report(sb, d, msg ? msg : "cannot load the spec");
    lua_settop(L, env);
    return -1;
  }
  lua_pushvalue(L, env);                           /* env msgh f env */
  if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);    /* env msgh f */
  lua_sethook(L, sb_hook, LUA_MASKCOUNT | LUA_MASKLINE, SB_HOOK_EVERY);
  st = lua_pcall(L, 0, 1, env + 1);                /* env msgh result */
  if (st != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    report(sb, d, msg ? msg : "error");
    lua_settop(L, env);
    return -1;
  }
  lua_remove(L, env + 1);                          /* env result */
  return 0;
}

int sb_call(Sandbox *sb, int nargs, int nresults, Diag *d) {
  lua_State *L = sb->L;
  int base = lua_gettop(L) - nargs;          /* f at base */
  lua_pushcfunction(L, sb_msgh);
  lua_insert(L, base);                       /* msgh f args... */
  int st = lua_pcall(L, nargs, nresults, base);
  lua_remove(L, base);                       /* results... or err */
  if (st == LUA_OK) return 0;
  if (lua_touserdata(L, -1) != &reported_key) {
    const char *msg = lua_tostring(L, -1);
    report(sb, d, msg ? msg : "error");
  }
  lua_pop(L, 1);
  return -1;
}

void sb_close(Sandbox *sb) {
  /* The hook stays installed through lua_close (see NOTES.md). */
  if (sb->L) lua_close(sb->L);
  sb->L = NULL;
}
