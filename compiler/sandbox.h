/* sandbox.h: the Lua 5.4 state a spec runs in (sandbox.c). Only the spec
 * loader talks to Lua, so only it includes this header. */
#ifndef MODELC_SANDBOX_H
#define MODELC_SANDBOX_H

#include "modelc.h"

#include <lauxlib.h>
#include <lua.h>

typedef struct Sandbox {
  lua_State *L;
  const char *path;   /* the spec path as given, for messages */
  int64_t mem_used, mem_cap;
  int64_t budget;     /* instructions left */
  int64_t max_instructions;
  int fatal;          /* SB_FATAL_*: a limit was hit; pcall cannot catch it */
  int last_line;      /* last spec line the line hook saw */
  int64_t printed;    /* bytes print has been given */
  int print_cut;      /* the print note has been written */
  void *dsl;          /* spec.c's state for this spec */
} Sandbox;

#define SB_PRINT_MAX (1 << 20)

enum { SB_OK, SB_FATAL_INSTRUCTIONS, SB_FATAL_MEMORY };

/* The chunk name of every spec: messages from Lua read "spec:LINE: ...",
 * and sb_error_line() turns them back into the real path. */
#define SB_CHUNKNAME "=spec"
#define SB_SHORTSRC "spec"

/* Open a state with the safe libraries; the environment table for the
 * spec is left on the stack. NULL if Lua cannot even start. */
lua_State *sb_open(Sandbox *sb, const char *path, const Limits *lim);
/* Load `text` as the spec chunk with the environment on top of the stack,
 * run it and leave its first result on the stack. On error, report it to
 * d at its spec line and return -1. */
int sb_run(Sandbox *sb, const char *text, size_t len, Diag *d);
void sb_close(Sandbox *sb);

/* Where the running spec is: the innermost Lua frame's line and, when that
 * is inside a helper function, the line of the main chunk. */
void sb_where(lua_State *L, int level, int *line, int *via_line);
/* Raise a Lua error located at the caller's spec line. */
int sb_raise(lua_State *L, const char *fmt, ...) MC_PRINTF(2, 3);
/* Raise an error that has already been reported to the Diag (a shape
 * error found while forward runs): sb_call reports nothing more. */
int sb_raise_reported(lua_State *L);
/* The sandbox a state belongs to. */
Sandbox *sb_state(lua_State *L);
/* Call the function below nargs arguments on the stack, as lua_pcall
 * with the spec's message handler; on an error, report it to d at its
 * spec line (unless it was already reported) and return -1. */
int sb_call(Sandbox *sb, int nargs, int nresults, Diag *d);



/* args.c: bind a constructor table (at index t) to the kind's arguments
 * and read inline tensors. Runs inside the protected walker. */
int args_bind(lua_State *L, int t, Layer *l, ArgVal *v, Diag *d);
/* The layer as written, in PyTorch's call syntax: Conv1d(1, 8, kernel_size=2) */
char *args_text(const LayerKind *k, const ArgVal *v);

/* ------------------------------------------- spec.c and trace.c: modules
 *
 * nn.Conv1d{...} is a LuaLayer userdata, nn.Module() and nn.Sequential{}
 * a LuaModule userdata, nn.ModuleList{} a plain Lua array that spec.c
 * remembers. When the model is read, the module tree is walked from the
 * root to name every layer by its path, and its forward runs once on
 * symbolic tensors (trace.c) that record the graph. */
#define LAYER_MT "modelc.layer"
#define MODULE_MT "modelc.module"
#define TENSOR_MT "modelc.tensor"

typedef struct LuaLayer {
  int kind; /* index into the layer table */
  int line, via_line;
  int ctor; /* construction order */
  int id;   /* while tracing: index into Trace.all, or -1 */
} LuaLayer;

typedef struct LuaModule {
  int seq; /* nn.Sequential (else nn.Module) */
  int line, via_line;
  int path; /* while tracing: index into Trace.paths, or -1 */
} LuaModule;

struct Trace;
typedef struct Dsl {
  int ctor;             /* layers constructed so far */
  struct Trace *trace;  /* set while forward runs */
  Diag *d;
  Model *m;
} Dsl;

/* The running spec's DSL state (spec.c's; trace.c reads it too, so it is
 * here rather than in either: neither file calls the other back). */
static inline Dsl *dsl_of(lua_State *L) { return (Dsl *)sb_state(L)->dsl; }

/* trace.c */
typedef struct Trace {
  Layer *all;     /* the module tree's layers, then F.* forms */
  int nall, capall;
  int *ncalls;    /* per layer of all: calls so far */
  unsigned char *offtree; /* per layer of all: built outside the tree */
  Node *nodes;
  int nnodes, capnodes;
  char **paths;   /* module paths, by LuaModule.path */
  int npaths, cappaths;
  const char *stack[64]; /* paths of the modules whose forward runs */
  int depth;
} Trace;

/* Install the tensor metatable and the F and torch tables in env. */
void trace_install(lua_State *L, int env);
/* A layer of the module tree, already bound: add it to t->all. */
int trace_add_layer(struct Trace *t, const Layer *l);
/* nn.X{...} called inside forward (the LAYER_MT __call). */
int trace_layer_call(lua_State *L);
/* Run the root module on the model's input and fill m's graph. Returns
 * 0 or -1 (reported). */
int trace_forward(lua_State *L, int root, Sandbox *sb, struct Trace *t);
/* Move the traced graph into the model: its layers, spares, nodes. */
int trace_finish(struct Trace *t, Model *m, Diag *d);
void trace_free(struct Trace *t);
/* The module path for errors: the top of the stack, or "". */
const char *trace_module(const struct Trace *t);
#endif
