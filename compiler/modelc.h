/*
 * modelc.h: the one header of the compiler, in sections by phase.
 *
 *   util.c      memory, strings, growable buffers
 *   diag.c      errors, notes, hints, warnings at spec file:line
 *   sandbox.c   the Lua 5.4 sandbox that runs a spec
 *   spec.c      the spec DSL (model, nn.*) and the walk from Lua to IR
 *   args.c      PyTorch-style argument binding for layer constructors
 *   layers.c    the table of layer kinds (one file per kind in layers/)
 *   shape.c     shape inference over the layer sequence
 *   plan.c      activation memory plan (workspace offsets)
 *   check.c     the `modelc check` table
 */
#ifndef MODELC_H
#define MODELC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MC_VERSION "0.1.0"
#define MC_MAXDIM 8
/* The largest size or argument modelc takes, and the most elements one
 * tensor may have: with these no size computation overflows int64. */
#define MC_MAX_INT 2147483647LL
#define MC_MAX_NUMEL (1LL << 40)

/* ---------------------------------------------------------------- util.c */

void *mc_alloc(size_t size);          /* zeroed; exits on out-of-memory */
void *mc_realloc(void *p, size_t size);
char *mc_strdup(const char *s);
char *mc_format(const char *fmt, ...);  /* malloc'd printf */
int mc_levenshtein(const char *a, const char *b);
int mc_is_identifier(const char *s);
char *mc_pyfloat(double x, int is_int); /* Python's repr(), malloc'd */

typedef struct Buf {
  char *s;
  size_t len, cap;
} Buf;
void buf_printf(Buf *b, const char *fmt, ...);
void buf_free(Buf *b);

/* Checked int64 arithmetic: return 0 and leave *r alone on overflow. */
int mc_mul64(int64_t a, int64_t b, int64_t *r);
int mc_add64(int64_t a, int64_t b, int64_t *r);
/* Saturating, for counts that are only reported (parameters, MACs). */
int64_t mc_satmul(int64_t a, int64_t b);
int64_t mc_satadd(int64_t a, int64_t b);

/* ---------------------------------------------------------------- diag.c */

/* Where a thing was written: the spec path as given on the command line,
 * the line, and (for a layer built inside a helper function) the line of
 * the main chunk that called the helper. */
typedef struct SrcLoc {
  const char *file;
  int line;
  int via_line; /* 0 when the same as line */
} SrcLoc;

/* Diagnostics go to a sink: stderr for the tool, a buffer for tests. */
typedef struct Diag {
  FILE *out;   /* where messages are printed, or NULL */
  Buf text;    /* every message is also kept here */
  int nerrors; /* errors reported so far */
  int nwarnings;
} Diag;

void diag_error(Diag *d, const SrcLoc *at, const char *fmt, ...);
void diag_note(Diag *d, const SrcLoc *at, const char *fmt, ...);
void diag_hint(Diag *d, const SrcLoc *at, const char *fmt, ...);
void diag_warning(Diag *d, const SrcLoc *at, const char *fmt, ...);
void diag_plain(Diag *d, const char *fmt, ...); /* "modelc: error: ..." */
void diag_free(Diag *d);

/* ---------------------------------------------------------------- args.c */

typedef enum {
  A_INT,     /* integer */
  A_INTS,    /* integer or tuple of nsp integers */
  A_OPTINTS, /* like A_INTS, default None */
  A_PADDING, /* integer, tuple, "same" or "valid" */
  A_NUM,     /* number */
  A_OPTNUM,  /* number or None (omitted) */
  A_BOOL,
  A_STR,
  A_BIAS, /* boolean, or an inline tensor (means true) */
} ArgType;

typedef struct ArgSpec {
  const char *name;
  ArgType type;
  int required;
} ArgSpec;

/* One bound argument, as PyTorch's module would hold it: an integer is
 * repeated for each spatial dimension (_single/_pair/_triple); a tuple
 * keeps its own length, right or wrong, for the forward checks to judge. */
typedef struct ArgVal {
  int set;
  int is_tuple, n; /* n values in i[]; a scalar has n = max(nsp, 1) */
  int64_t i[MC_MAXDIM];
  double num;
  int num_is_int;  /* the number was written as an integer (2, not 2.0) */
  int b;
  const char *s;   /* valid while the spec runs; NULL in Layer.arg */
} ArgVal;

#define MC_MAXARGS 16

/* ------------------------------------------------------------------- IR */

typedef struct Shape {
  int n;
  int64_t d[MC_MAXDIM];
} Shape;

int64_t shape_numel(const Shape *s); /* -1 past MC_MAX_NUMEL */
char *shape_str(const Shape *s);     /* "[2, 8, 9]", malloc'd */
int shape_eq(const Shape *a, const Shape *b);

/* Learnable parameters and buffers, by their PyTorch state_dict suffix. */
enum { P_WEIGHT, P_BIAS, P_RUNNING_MEAN, P_RUNNING_VAR, P_COUNT };
extern const char *const param_suffix[P_COUNT];

typedef struct Param {
  int used;      /* the layer has this parameter */
  Shape shape;   /* expected shape, set by shape inference */
  Shape given;   /* shape of the inline value, if any */
  float *inline_data; /* inline value from the spec, or NULL */
} Param;

typedef enum { PAD_ZEROS, PAD_REFLECT, PAD_REPLICATE, PAD_CIRCULAR } PadMode;
typedef enum { PADS_NUM, PADS_SAME, PADS_VALID } PadString;

/* Parsed layer arguments. One flat struct: each kind fills the fields it
 * has, so a reader can see every argument modelc knows in one place. */
typedef struct LayerArgs {
  int64_t in, out;                  /* channels or features */
  int64_t kernel[3], stride[3], padding[3], dilation[3];
  int64_t pad_lo[3], pad_hi[3];     /* resolved padding per side */
  int64_t output_size[3];
  PadString pad_string;
  PadMode pad_mode;
  int64_t groups;
  int bias, ceil_mode, count_include_pad, affine, track_running_stats;
  int64_t divisor_override;         /* 0: none */
  int has_dim;                      /* Softmax dim given (else implicit) */
  int64_t dim, start_dim, end_dim;
  double eps, momentum, negative_slope, alpha, p;
  int approximate_tanh;             /* GELU(approximate="tanh") */
} LayerArgs;

struct LayerKind;

typedef struct Layer {
  const struct LayerKind *kind;
  int index;    /* 0-based position, the default name */
  char *name;   /* explicit `name = "..."`, or NULL */
  char *prefix; /* state_dict prefix: name, or the index as text */
  char *text;   /* the layer as written: Conv1d(1, 8, kernel_size=2) */
  SrcLoc loc;
  LayerArgs a;
  ArgVal arg[MC_MAXARGS]; /* the arguments as bound (strings cleared) */
  Param param[P_COUNT];
  Shape in, out;
  int64_t nparams, macs;
} Layer;

typedef struct Model {
  char *name;
  char *file; /* the spec path as given */
  SrcLoc loc; /* the `model` line */
  Shape input;
  char *weights; /* weights path relative to the spec file, or NULL */
  int has_seed;
  int64_t seed;
  Layer *layers;
  int nlayers;
  /* filled by plan.c */
  int64_t workspace_bytes;
} Model;

void model_free(Model *m);
char *layer_prefix(const Layer *l); /* "layer 3 'conv2' (Conv1d)" */

/* ------------------------------------------------------------- layers.c */

typedef struct LayerKind {
  const char *name;     /* "Conv1d" */
  int nsp;              /* spatial dimensions: 1, 2, 3, or 0 */
  const ArgSpec *args;  /* PyTorch's positional order, {0} terminated */
  int any_args;         /* Identity: accepts and ignores anything */
  /* Read bound arguments into l->a with PyTorch's defaults and raise the
   * errors PyTorch raises at construction. Return 0 or -1. */
  int (*parse)(Layer *l, const ArgVal *v, Diag *d);
  /* From l->in compute l->out, parameter shapes, nparams, macs, or
   * report PyTorch's forward-time error. Return 0 or -1. */
  int (*shape)(Layer *l, Diag *d);
} LayerKind;

const LayerKind *layer_kind_find(const char *name);
const LayerKind *layer_kind_at(int i); /* NULL past the end */
const char *layer_kind_suggest(const char *name); /* nearest name or NULL */

/* Shared by the layer files (layers/common.c). */
void layer_error(Diag *d, const Layer *l, const char *fmt, ...);
int layer_norm_dim(Diag *d, const Layer *l, int64_t dim, int ndim,
                   int64_t *out);
int layer_output_len(Diag *d, const Layer *l, const char *what, int64_t len,
                     int64_t pad_lo, int64_t pad_hi, int64_t dil, int64_t k,
                     int64_t stride, int ceil_mode, int64_t *out);
int layer_check_size(Diag *d, const Layer *l, const Shape *s);
void layer_set_param(Layer *l, int which, int n, const int64_t *dims);

/* ------------------------------------------------------------- sandbox.c */

typedef struct Limits {
  int64_t max_instructions; /* Lua VM instructions for running a spec */
  int64_t max_memory;       /* bytes the Lua state may hold */
} Limits;

#define MC_DEFAULT_INSTRUCTIONS 50000000LL
#define MC_DEFAULT_MEMORY (64LL << 20)

/* ---------------------------------------------------------------- spec.c */

/* Run the spec at `path` in the sandbox and build the IR. Return 0, or -1
 * after reporting errors to d. */
int spec_load(const char *path, const Limits *lim, Diag *d, Model *m);
/* The same from text in memory, named `path` in messages (tests, fuzzing). */
int spec_load_string(const char *path, const char *text, size_t len,
                     const Limits *lim, Diag *d, Model *m);

/* --------------------------------------------------------------- shape.c */

/* Infer every layer's output shape; stop at the first error. */
int shape_infer(Model *m, Diag *d);

/* ---------------------------------------------------------------- plan.c */

/* The layers that work in place (no buffer of their own). */
int plan_in_place(const Layer *l);
/* Plan the workspace and set m->workspace_bytes. */
void plan_memory(Model *m);

/* --------------------------------------------------------------- check.c */

void check_print(FILE *out, const Model *m);

#endif
