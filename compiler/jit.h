/*
 * jit.h - compile generated C in memory with TinyCC and call it
 *
 * The only part of modelc that talks to libtcc. jit_compile turns C source
 * text into machine code in this process; jit_symbol finds a function (or
 * a const table) in it by name.
 *
 * The code image is read-only and executable once jit_compile returns: the
 * generated code must hold no writable globals or `static` variables (its
 * scratch memory comes in as an argument). Reading a const table compiled
 * into the image is fine; writing any object in the image faults (SIGSEGV):
 * the Debian libtcc (0.9.27) packs code and data into the same pages, so
 * they cannot be protected apart. (A newer libtcc keeps data writable.)
 *
 * libm is linked: expf, tanhf, erff, ... resolve to the host's functions.
 * Large weight arrays should not be compiled as text (a 1 M-float
 * initialiser costs ~250 ms): declare them `extern const float w[N];` in
 * the source and bind them to host memory with a JitSymbol (~0.2 ms).
 *
 * Not thread-safe: compile from one thread at a time. Several Jit objects
 * may be alive at once.
 */
#ifndef MODELC_JIT_H
#define MODELC_JIT_H

/* A host object the compiled code refers to by name (an `extern`). */
typedef struct JitSymbol {
  const char *name;
  const void *addr;
} JitSymbol;

typedef struct Jit Jit;

/* Compiles C source text in memory. `filename` names the source in the
 * messages ("gen.c:12: error: ..."). `defines` is NULL or a NULL-terminated
 * array of "NAME" or "NAME=VALUE" strings (NAME a C identifier, VALUE on one
 * line). `syms[0..nsyms-1]` bind the source's externs to host addresses.
 * On success returns the compiled code and sets *err to NULL. On failure
 * returns NULL and sets *err to a malloc'd text (free it): every TinyCC
 * message, one per line, file names and line numbers as in
 * "gen.c:12: error: ';' expected (got \"}\")", followed for the first error
 * with a line number by that source line ("  12 | x = 2"). The line is
 * corrected where TinyCC names the line after the mistake (see jit.c).
 * `err` may be NULL when the message is not wanted. */
Jit *jit_compile(const char *src, const char *filename,
                 const char *const *defines, const JitSymbol *syms, int nsyms,
                 char **err);

/* The address of the global function or object `name` in j, or NULL. Cast
 * function pointers through a matching prototype. */
void *jit_symbol(Jit *j, const char *name);

/* Frees the code image; every pointer from jit_symbol dies with it. Safe on
 * NULL. */
void jit_free(Jit *j);

#endif
