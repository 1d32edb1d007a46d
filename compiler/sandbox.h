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



/* args.c: bind a constructor table (at index t) to the kind's arguments
 * and read inline tensors. Runs inside the protected walker. */
int args_bind(lua_State *L, int t, Layer *l, ArgVal *v, Diag *d);
/* The layer as written, in PyTorch's call syntax: Conv1d(1, 8, kernel_size=2) */
char *args_text(const LayerKind *k, const ArgVal *v);
#endif
