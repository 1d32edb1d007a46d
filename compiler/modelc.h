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
 *   lower.c     layers to ops, and every decision: fused activations,
 *               BatchNorm folding, the lowering of each op and why
 *   chunk.c     a batch too large for the cache, run in passes of a chunk
 *   plan.c      activation memory plan (workspace offsets)
 *   limits.c    hard limits: parameters, activation memory, code size
 *   weights.c   parameter values: inline, weights file, or seeded init
 *   pack.c      BatchNorm folding and each lowering's weight layout
 *   driver.c    the back end's phases in order: lower, plan, limits,
 *               weights, pack
 *   check.c     the `modelc check` table
 *   writer.c    the C writer (text only)
 *   emit.c      the generated C file: banner, helpers, one function per
 *               op (its body printed by its kernel in kernels/), entry
 *               points, weights
 *   run.c       the generated C compiled in memory (jit.c: libtcc)
 *
 * Each phase reads what the ones before it wrote and calls nothing after
 * it (tests/layering.sh checks the call graph between files).
 */
#ifndef MODELC_H
#define MODELC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MC_VERSION "0.1.0"

/* printf-like functions: the compiler checks their arguments. */
#if defined(__GNUC__)
#define MC_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define MC_PRINTF(fmt, args)
#endif
#define MC_MAXDIM 8
/* The largest size or argument modelc takes, and the most elements one
 * tensor may have: with these no size computation overflows int64. */
#define MC_MAX_INT 2147483647LL
#define MC_MAX_NUMEL (1LL << 40)

/* ---------------------------------------------------------------- util.c */

void *mc_alloc(size_t size);          /* zeroed; exits on out-of-memory */
void *mc_realloc(void *p, size_t size);
char *mc_strdup(const char *s);
char *mc_format(const char *fmt, ...) MC_PRINTF(1, 2);  /* malloc'd printf */
char *mc_vformat(const char *fmt, va_list ap) MC_PRINTF(1, 0);
/* 12345678 -> "12,345,678" in buf (at least 32 bytes); returns buf. */
const char *mc_group_digits(int64_t v, char *buf);
int mc_levenshtein(const char *a, const char *b);
int mc_is_identifier(const char *s);
/* Spec text (names, paths, keys, layer text) rendered for the inside of a
 * C comment: nothing in it can end the comment, splice a line or form a
 * trigraph (util.c says how). malloc'd. The only way spec text reaches
 * generated C. */
char *mc_comment_text(const char *s);
char *mc_pyfloat(double x, int is_int); /* Python's repr(), malloc'd */

typedef struct Buf {
  char *s;
  size_t len, cap;
} Buf;
void buf_printf(Buf *b, const char *fmt, ...) MC_PRINTF(2, 3);
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

void diag_error(Diag *d, const SrcLoc *at, const char *fmt, ...)
    MC_PRINTF(3, 4);
void diag_note(Diag *d, const SrcLoc *at, const char *fmt, ...)
    MC_PRINTF(3, 4);
void diag_hint(Diag *d, const SrcLoc *at, const char *fmt, ...)
    MC_PRINTF(3, 4);
void diag_warning(Diag *d, const SrcLoc *at, const char *fmt, ...)
    MC_PRINTF(3, 4);
/* "modelc: error: ..." */
void diag_plain(Diag *d, const char *fmt, ...) MC_PRINTF(2, 3);
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
  float *data;   /* the value in PyTorch's layout (weights.c), or NULL */
} Param;

typedef enum { PAD_ZEROS, PAD_REFLECT, PAD_REPLICATE, PAD_CIRCULAR } PadMode;
typedef enum { PADS_NUM, PADS_SAME, PADS_VALID } PadString;

/* Parsed layer arguments. One flat struct: each kind fills the fields it
 * has, so a reader can see every argument modelc knows in one place. */
typedef struct LayerArgs {
  int64_t in, out;                  /* channels or features */
  int64_t kernel[3], stride[3], padding[3], dilation[3];
  int64_t pad_lo[3], pad_hi[3];     /* resolved zero padding per side */
  int64_t fpad_lo[3], fpad_hi[3];   /* F.pad per side (padding_mode not
                                       "zeros"); the conv then pads 0 */
  int64_t output_size[3];
  PadString pad_string;
  PadMode pad_mode;                 /* Conv padding_mode; the padding
                                       layers' mode (PAD_ZEROS: constant) */
  int64_t groups;
  int bias, ceil_mode, count_include_pad, affine, track_running_stats;
  int64_t divisor_override;         /* 0: none */
  int has_dim;                      /* Softmax dim given (else implicit) */
  int64_t dim, start_dim, end_dim;
  double eps, momentum, negative_slope, alpha, p;
  int approximate_tanh;             /* GELU(approximate="tanh") */
  double pad_value;                 /* ConstantPad: the value */
  int pad_dims;                     /* padding layers: trailing dimensions
                                       padded (pad_lo/pad_hi, first to
                                       last) */
} LayerArgs;

struct LayerKind;
struct Emit;
struct Op;

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
  int ctor;       /* construction order in the spec (seeded init) */
  int modpath;    /* prefix is a module path (layers.1.conv1): messages
                     name the layer by it, without an index */
} Layer;

/* ---------------------------------------------------------------- graph
 *
 * The model as a graph of the tensor operations its forward performs,
 * in execution order. Node 0 is the input; every node's inputs come
 * before it. A layer list is the chain input -> layer 0 -> layer 1 ...;
 * a module model (§1.1) is whatever its forward did. */
typedef enum {
  N_INPUT,   /* the model's input */
  N_LAYER,   /* a call of Model.layers[layer] (a module or F.* form) */
  N_ADD, N_SUB, N_MUL, N_DIV, /* elementwise with broadcasting; one side
                                 may be a number (has_scalar) */
  N_CAT,     /* torch.cat along dim */
  N_FLATTEN, /* torch.flatten(start_dim = dim, end_dim) */
  N_VIEW,    /* view or reshape to out */
  N_MEAN,    /* mean over the dims in dims[] (keepdim) */
} NodeOp;

#define MC_MAXIN 16 /* inputs of one node (torch.cat's list) */

typedef struct Node {
  NodeOp op;
  int layer;             /* N_LAYER: index into Model.layers */
  int in[MC_MAXIN];      /* input node ids */
  int nin;
  int has_scalar;        /* a number operand, on the left if scalar_left */
  int scalar_left;
  double scalar;
  int64_t dim, end_dim;  /* N_CAT, N_FLATTEN (normalised) */
  int ndims, keepdim;    /* N_MEAN: the dims reduced (normalised) */
  int64_t dims[MC_MAXDIM];
  char *name;            /* unique: the module path ("layers.1.conv1",
                            "layers.1.conv1_1" for a second call) or the
                            operation ("add", "add_1", "relu") */
  char *module;          /* path of the module whose forward made the
                            call ("" for the model's) */
  SrcLoc loc;            /* the call, in forward (a layer list: the layer) */
  SrcLoc built;          /* where the called module was constructed */
  Shape out;
} Node;

const char *node_op_name(NodeOp op); /* "add", "cat", ... */

/* What a spec may ask of modelc; each can be raised on the command line.
 * A field left 0 means its default, so `{instructions, memory}` still
 * initialises a whole Limits. */
typedef struct Limits {
  int64_t max_instructions; /* Lua VM instructions for running a spec */
  int64_t max_memory;       /* bytes the Lua state may hold */
  int64_t max_layers;       /* layers in the model (spec.c) */
  int64_t max_params;       /* parameters of the model, and values in its
                               weights file (limits.c, weights.c) */
  int64_t max_activation;   /* bytes of workspace + input + output */
  int64_t max_code;         /* bytes of generated C apart from the weight
                               arrays, as estimated */
} Limits;

#define MC_DEFAULT_INSTRUCTIONS 50000000LL
#define MC_DEFAULT_MEMORY (64LL << 20)
#define MC_DEFAULT_LAYERS 10000LL
#define MC_DEFAULT_PARAMS (64LL << 20)     /* 256 MiB as float32 */
#define MC_DEFAULT_ACTIVATION (1LL << 30)  /* 1 GiB */
#define MC_DEFAULT_CODE (256LL << 20)      /* 256 MiB of C text */

typedef struct Model {
  char *name;
  char *file; /* the spec path as given */
  SrcLoc loc; /* the `model` line */
  Shape input;
  char *weights; /* weights path relative to the spec file, or NULL */
  char *weights_given; /* --weights FILE, once loaded from it, or NULL */
  int has_seed;
  int64_t seed;
  Layer *layers;
  int nlayers;
  /* A module model (module = M, or containers in the layer list): its
   * layers are those forward called, each once, in the order of their
   * first call; if the graph is a chain of them, that is the layer
   * sequence above and the back end builds it as a layer list. */
  int traced;     /* the graph comes from running forward */
  int branching;  /* the graph is not a chain: build and run refuse it */
  Layer *spare;   /* layers of the module tree forward never called */
  int nspare;
  Node *nodes;    /* the graph (a layer list: its chain) */
  int nnodes;
  int output;     /* the node forward returned */
  Limits lim; /* as given to spec_load, defaults filled in */
  /* filled by plan.c */
  int64_t workspace_bytes;
  int64_t workspace_bound; /* the least any plan can use (check prints it) */
  int64_t chunk;           /* chunk.c: samples per pass (0: the batch whole) */
} Model;

void model_free(Model *m);
char *layer_prefix(const Layer *l); /* "layer 3 'conv2' (Conv1d)" */

/* ------------------------------------------------------------- layers.c */

/* What a kind is, for the phases after shape inference: they ask these,
 * never the kind's name. */
typedef enum {
  FAM_CONV,      /* Conv1d/2d/3d: weight [out][in/groups][kernel...] */
  FAM_MAXPOOL,   /* MaxPool1d/2d */
  FAM_AVGPOOL,   /* AvgPool1d/2d */
  FAM_ADAPTIVE,  /* AdaptiveAvgPool1d/2d */
  FAM_NORM,      /* BatchNorm1d/2d */
  FAM_LINEAR,    /* Linear: weight [out][in] */
  FAM_SOFTMAX,   /* Softmax, LogSoftmax */
  FAM_ACT,       /* elementwise activations */
  FAM_NOOP,      /* Flatten, Dropout, Identity */
  FAM_PAD,       /* ZeroPad, ConstantPad, ReflectionPad, ReplicationPad
                    1d/2d: LayerArgs.pad_mode says which */
} KindFamily;

/* Flags of a kind (LayerKind.flags). */
enum {
  KF_FOLDS_BN = 1,    /* a BatchNorm on its output channels folds into its
                         weight (along dim 0) and bias */
  KF_INIT_KAIMING = 2, /* reset_parameters: kaiming_uniform_(weight,
                          sqrt(5)) and a uniform bias (Conv, Linear) */
  KF_IN_PLACE = 4,    /* may write over its input (Softmax) */
  KF_RELU = 8,        /* the activation is ReLU: vector code may use a
                         vector max with NaN kept */
  KF_LOG = 16,        /* LogSoftmax */
};

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
  /* The formula the generated function computes, for its comment. */
  const char *formula;
  /* How lower.c treats the layer (see LayerRole). */
  int role;
  KindFamily family;
  int flags;            /* KF_* */
  /* Elementwise activations: the C expression of the activation of the
   * float variable `v`, malloc'd. */
  char *(*act_expr)(const Layer *l);
  /* The same activation on the AVX-512 vector `v` (an __m512 expression),
   * giving the scalar expression's bits lane by lane, NaNs included;
   * malloc'd. NULL where there is none. */
  char *(*act_vec)(const Layer *l, const char *v);
} LayerKind;

typedef enum {
  ROLE_OP,      /* an op of its own (Conv, Linear, pools, Softmax) */
  ROLE_ACT,     /* elementwise, fused into the op that produces its input */
  ROLE_NOOP,    /* no code at inference: Flatten, Dropout, Identity */
  ROLE_BN,      /* folded into the Conv or Linear before it, if any */
} LayerRole;

const LayerKind *layer_kind_find(const char *name);
const LayerKind *layer_kind_at(int i); /* NULL past the end */
const char *layer_kind_suggest(const char *name); /* nearest name or NULL */

/* Shared by the layer files (layers/common.c). */
void layer_error(Diag *d, const Layer *l, const char *fmt, ...)
    MC_PRINTF(3, 4);
int layer_norm_dim(Diag *d, const Layer *l, int64_t dim, int ndim,
                   int64_t *out);
int layer_output_len(Diag *d, const Layer *l, const char *what, int64_t len,
                     int64_t pad_lo, int64_t pad_hi, int64_t dil, int64_t k,
                     int64_t stride, int ceil_mode, int64_t *out);
int layer_check_size(Diag *d, const Layer *l, const Shape *s);
void layer_set_param(Layer *l, int which, int n, const int64_t *dims);

/* ------------------------------------------------------------- sandbox.c */

/* Limits (with the IR above) bound the Lua state: max_instructions and
 * max_memory. */

/* ------------------------------------------------------------- limits.c */

/* *out = *in with every 0 field replaced by its default. */
void limits_resolve(const Limits *in, Limits *out);
/* The generated C file's size in bytes apart from its weight arrays,
 * estimated from the model before emitting it (unrolled kernel taps,
 * per-op code). */
struct Program;
int64_t limits_code_bytes(const struct Program *p);
/* After lower and plan_program, before anything large is allocated:
 * the model's parameters, activation memory and generated code within
 * m->lim. Return 0, or -1 after reporting at the offending layer's line
 * (or the model's) the number, the limit and the option that raises it. */
int limits_check(const struct Program *p, Diag *d);

/* ---------------------------------------------------------------- spec.c */

/* Run the spec at `path` in the sandbox and build the IR. Return 0, or -1
 * after reporting errors to d. */
int spec_load(const char *path, const Limits *lim, Diag *d, Model *m);
/* The same from text in memory, named `path` in messages (tests, fuzzing). */
int spec_load_string(const char *path, const char *text, size_t len,
                     const Limits *lim, Diag *d, Model *m);

/* --------------------------------------------------------------- shape.c */

/* Infer every layer's output shape; stop at the first error. A traced
 * model's shapes were inferred while forward ran: nothing to do. */
int shape_infer(Model *m, Diag *d);
/* The checks shape_infer makes of a layer after its shape rule: its
 * parameters' sizes and its inline values. */
int shape_check_params(const Layer *l, Diag *d);

/* ------------------------------------------------------------- weights.c */

/* Fill every used Param.data: inline values first, then the weights file
 * (`path` overrides the spec's; NULL: the spec's), else PyTorch's default
 * init seeded with the spec's seed (0 if none). Return 0, or -1 after
 * reporting errors at the spec's lines. */
int weights_load(Model *m, const char *path, Diag *d);
/* What `check` does: open the weights file (if any) and validate it as
 * weights_load does, from its header alone, reading no tensor data. */
int weights_check(Model *m, const char *path, Diag *d);

/* --------------------------------------------- lower.c, plan.c, pack.c */

/* What the generated code is for. A target is one value here and the
 * choices it allows in each kernel's fits() (kernels/). */
typedef enum {
  TARGET_GENERIC, /* any C99 compiler; AVX2/AVX-512 used where compiled in */
  TARGET_CORTEX_M4, /* FPv4-SP: 32 single registers, fused multiply-add */
  TARGET_CORTEX_M7, /* FPv5: the same register file, fused multiply-add */
  TARGET_CORTEX_M0, /* no FPU: every float operation a library call */
  TARGET_COUNT
} Target;
extern const char *const target_names[TARGET_COUNT];
/* Has the target a single-precision FPU with fused multiply-add (the
 * cortex-m kernels then call fmaf)? */
int target_has_fma(Target t);

/* Which set of lowerings to choose from (modelc build --kernels). */
typedef enum {
  KERNELS_FAST = 1,      /* the fastest lowering that fits each op */
  KERNELS_REFERENCE = 2, /* a naive one: one loop nest per output, in the
                            order PyTorch's formula reads, to check the
                            fast ones against */
} KernelSet;
extern const char *const kernel_set_names[3]; /* indexed by KernelSet */

/* Where a tensor lives at run time. */
typedef enum { BUF_INPUT, BUF_OUTPUT, BUF_WS } BufKind;
typedef struct BufRef {
  BufKind kind;
  int64_t off; /* bytes into the workspace (BUF_WS) */
} BufRef;

#define MC_MAXFUSE 16

/* A weight array of the generated code, after folding and packing. */
typedef struct OpParam {
  char *name;  /* C name: l0_weight */
  char *what;  /* comment: PyTorch key(s) and layout */
  float *data; /* owned */
  int64_t n;
  int as_bytes; /* printed as its little-endian bytes (pack_add decides) */
} OpParam;

/* An array of this many floats or more is printed as one string of its
 * bytes, not as numbers: gcc -O2 takes about 3 us per number of an
 * initializer, and 0.3 us per 4 bytes of a string (BENCHMARKS.md). */
#define MC_BYTES_FROM 16384

struct Kernel;

/* One function of the generated code: a main layer, the BatchNorm folded
 * into it, the elementwise activations fused after it, and the no-op
 * layers in between, in spec order. Each phase fills its part. */
typedef struct Op {
  /* lower.c: the layers and the decisions */
  const Layer *main;   /* NULL for a copy or an activation of the input */
  const Layer *bn;     /* BatchNorm folded into main, or NULL */
  const Layer *act[MC_MAXFUSE]; /* fused activations, in order */
  int nact;
  const Layer *first, *last;    /* the spec layers this op covers */
  Shape in, out;       /* the op's input and output shapes */
  int in_place;        /* may run with src == dst (elementwise per row) */
  char fname[48];      /* the C function: l3_conv1d */
  const struct Kernel *kernel; /* the lowering chosen */
  const struct Kernel *jit_kernel; /* what modelc run's TinyCC compiles
                       instead (kernels/jit_*.c: the same sums in the same
                       order, the tiles on the host), or NULL: kernel */
  char jit_why[128];   /* what the stand-in does (--explain) */
  char why[256];       /* which lowering and why (--explain) */
  int64_t scratch;     /* bytes of scratch the kernel needs */
  int64_t out_bytes;   /* bytes of the output as the kernel stores it */
  /* the vector lowering (kernels/vec1d.c): the output of one sample as
   * channels x positions, the channels padded to vcp, and which positions
   * a later op reads */
  int64_t vc, vl, vcp;
  unsigned char *need;
  int pooled;          /* computes the pool op after it too */
  int fused;           /* a pool computed by the op before it */
  /* plan.c */
  BufRef src, dst, tmp;
  /* pack.c: the weight arrays the op reads, named l<pidx>_<what> */
  OpParam *params;
  int nparams;
  int pidx;
  const struct Op *shares; /* a layer called again with the same lowering:
                              that op's arrays, none of its own */
  /* lower_graph.c: an op of a branching graph */
  NodeOp top;          /* a tensor op (N_ADD ... N_MEAN); 0 for a layer */
  const Node *node;    /* the node it computes (a tensor op's operands) */
  const Node *covers[MC_MAXFUSE + 2]; /* the nodes it covers, in order */
  int ncovers;
  int nsrc;            /* its inputs: 1, or x0, x1, ... when more */
  Shape ins[MC_MAXIN]; /* their shapes (ins[0] is in) */
  BufRef srcs[MC_MAXIN]; /* their buffers (plan_graph.c; srcs[0] is src) */
  int tin[MC_MAXIN], tout; /* their tensors and the output's: ids of
                              Program.tensors (-1: the model's input) */
  int inplace_src;     /* the input whose buffer y may take, or -1 */
  Layer *own;          /* a layer called again on another shape: main is
                          this call's copy (shapes of this call, parameter
                          data bound by pack.c from orig) */
  const Layer *orig;   /* the model's layer of that copy */
  int residual;        /* a residual add fused: y = act(main(x) + r), r
                          the tensor tin[1] (srcs[1]); the fused
                          activations then run after the add */
} Op;

/* A tensor of a branching program: written by one op, read by later ones. */
typedef struct GraphTensor {
  int64_t bytes;       /* rounded up to 64 */
  int def, last;       /* the op writing it, the last op reading it */
  int output;          /* the model's output: the caller's buffer */
  int same;            /* the tensor whose buffer it takes (in place), or
                          its own id */
  int64_t off;         /* plan_graph.c: bytes into the workspace */
} GraphTensor;

typedef struct Program {
  const Model *m;  /* the model lowered: the user's, or its chunk */
  const Model *user; /* the user's model: the caller's input and output */
  Model *chunk;    /* chunk.c: the chunk model p->m points to, or NULL */
  int64_t passes;  /* the entry point runs the ops this many times, on
                      consecutive chunks of the batch (1: once) */
  char chunk_why[160]; /* why (--explain) */
  int64_t prefetch; /* chunk.c: floats of the next chunk's input asked for
                       in the cache after each op's call (0: none) */
  Target target;
  KernelSet kernels;
  Op *ops;
  int nops;
  int whole;     /* one kernel lowers the whole program (vec1d) */
  int64_t batch; /* whole: samples, run one at a time */
  int batched;   /* whole: the tensors have a batch dim (dim 0) */
  int64_t workspace_bytes; /* plan.c */
  int64_t workspace_bound; /* the largest total of tensors live at once */
  int graph;     /* lowered from a branching graph (lower_graph.c) */
  GraphTensor *tensors;
  int ntensors;
  int packed;    /* pack.c has run */
} Program;

/* How many times lower() has run in this process (a test counts it). */
extern int mc_lower_runs;

/* Group the layers into ops and decide each op's lowering (kernel, reason,
 * scratch). Reads shapes only. */
void lower(const Model *m, Target target, KernelSet kernels, Program *p);
/* lower_graph.c: the ops of a branching model, one per node or fused
 * group, before the kernels are chosen. */
void lower_graph(Program *p);
/* After the kernels are chosen: a layer called again with the same
 * lowering reads the arrays of its first call (Op.shares), and a fused
 * residual add is named in the op's reason (--explain). */
void lower_graph_after(Program *p);
/* lower.c: can the BatchNorm `bn` fold into op's weights and bias? */
int lower_can_fold(const Op *op, const Layer *bn);
/* Assign buffers to ops and set p->workspace_bytes. */
void plan_program(Program *p);
/* plan_graph.c: plan_program for a branching program. */
void plan_graph(Program *p);

/* wsplan.c: placing tensors of known lifetimes in one workspace. Each
 * item is `bytes` long (already aligned) and alive from step `first` to
 * step `last`, inclusive; two items alive at a common step must not
 * overlap. */
typedef struct WsItem {
  int64_t bytes;
  int first, last;
  int64_t off; /* set by the placements */
} WsItem;
/* The largest total of items alive at one step: no placement does better. */
int64_t ws_bound(const WsItem *t, int n);
/* Largest first, each at the lowest offset free of the items placed
 * before it that are alive at a common step. Returns the workspace. */
int64_t ws_by_size(WsItem *t, int n);
/* In order of first step, each at the lowest such offset. */
int64_t ws_first_fit(WsItem *t, int n);
/* The better of the two (by size on a tie); returns the workspace. */
int64_t ws_place(WsItem *t, int n);
/* Fold BatchNorms and pack every op's weight arrays (weights loaded). */
void pack_program(Program *p);
/* The --explain text: one line per op, the lowering chosen and why. */
char *program_explain(const Program *p);
void program_free(Program *p);

/* -------------------------------------------------------------- chunk.c */

/* A batch whose largest op holds more than this many bytes of tensors
 * runs in passes of a chunk that fits (chunk.c). */
#define MC_CHUNK_BYTES (512LL << 10)

/* The samples per pass for m's batch (the batch itself: no passes), and
 * why in `why`. Reads shapes only. */
int64_t chunk_samples(const Model *m, char *why, size_t n);
/* For a program lowered for a chunk (p->passes > 1): the floats of the
 * next chunk's input to ask for in the cache after each op's call, so
 * that they arrive while this chunk runs, spread over its ops (0: none;
 * the generic target only: the microcontrollers have no such cache). */
int64_t chunk_prefetch(const Program *p);
/* c: m with the batch dim b, sharing m's strings and weights. */
void model_chunk(const Model *m, int64_t b, Model *c);
/* After m's weights are loaded: c reads them too. */
void model_chunk_weights(const Model *m, Model *c);
void model_chunk_free(Model *c); /* what model_chunk allocated */

/* ------------------------------------------------------------- driver.c */

typedef struct CompileOptions {
  Target target;
  KernelSet kernels;
  int weights;             /* load the weights and pack them */
  const char *weights_path; /* --weights, or NULL for the spec's */
} CompileOptions;

/* The back end's straight line, after spec_load and shape_infer:
 * lower -> plan -> limits -> (weights -> pack). Sets m->workspace_bytes.
 * Return 0, or -1 after reporting errors to d. */
int compile_model(Model *m, const CompileOptions *o, Program *p, Diag *d);

/* --------------------------------------------------------------- check.c */

void check_print(FILE *out, const Model *m);
/* A node's operation as text ("add", "cat(dim=1)", the layer as written),
 * malloc'd. */
char *node_text(const Model *m, const Node *n);
/* For a cortex-m target: one line of estimated flash (code and weights)
 * and RAM (workspace, input, output); nothing for generic. */
struct Program;
void check_print_target(FILE *out, const struct Program *p);

/* ------------------------------------------------- writer.c and emit.c */

/* The C writer: one line at a time with indentation taken from braces. */
typedef struct Emit {
  Buf b;          /* the text being written */
  int depth;      /* indentation level */
  const Program *p;
  int uses[8];    /* helper functions the file needs (EH_*) */
  unsigned char *acts; /* acts[i]: layer i's activation function is
                          called (NULL: not tracked) */
  int nacts;
  Buf pre;        /* functions a kernel prints ahead of its op's (a tile
                     written once and called) */
  int jit;        /* for modelc run: an op's jit_kernel prints it */
} Emit;

/* Print formatted text: each line is indented by the current depth; a
 * line ending in '{' opens a level, a line starting with '}' closes one. */
void em(Emit *e, const char *fmt, ...) MC_PRINTF(2, 3);
void em_blank(Emit *e); /* an empty line */
/* Open `for (int v = 0; v < n; v++) {` with the comment (NULL or "" for
 * none); a loop of one iteration is a block with v a constant 0 instead,
 * decided here rather than by rewriting the printed text (gcc vectorises
 * less inside a loop of one iteration). */
void em_for(Emit *e, const char *v, int64_t n, const char *comment);
/* A float as a C literal that reads back as the same float ("0.5f"). */
char *em_float(float x);
/* em_float into out (EM_FLOAT_MAX bytes), its length returned; fast: no
 * printf or strtof for normal floats. */
#define EM_FLOAT_MAX 48
size_t em_float_to(char *out, float x);
char *em_float_libc(float x); /* the same text by snprintf and strtof */
/* A linear index expression: sum of coef[i] * var[i], plus c. */
typedef struct Lin {
  int n;
  const char *var[12];
  int64_t coef[12];
  int64_t c;
} Lin;
void lin_add(Lin *l, const char *var, int64_t coef);
char *lin_str(const Lin *l); /* "oy * 20 + ox * 2 + 3", malloc'd */
/* The fused activations applied to the expression `x`: "l2_relu(x)";
 * each marked as called. */
char *em_act_chain(Emit *e, const Op *op, const char *x);
/* The C function of an activation layer, "l2_relu", malloc'd; a call to
 * it printed otherwise than by em_act_chain is marked with em_use_act. */
char *em_act_name(const Layer *l);
void em_use_act(Emit *e, const Layer *l);
/* Do all the op's fused activations have an AVX-512 form (act_vec)? */
int em_acts_vec_ok(const Op *op);
/* Print `v = act(v);` for each fused activation on the __m512 `v`, each
 * marked as called (the portable branch calls it). */
void em_acts_vec(Emit *e, const Op *op, const char *v);
/* If the op has fused activations, print a loop applying them to
 * ptr[0..n). */
void em_epilogue(Emit *e, const Op *op, const char *ptr, int64_t n);
/* Ask for a helper of runtime/ in the generated file: mc_maxf.h, mc_fma.h,
 * mc_unused.h, mc_avx512.h, mc_v8.h (which needs the FMA and unused),
 * mc_inline.h, mc_prefetch.h. */
enum { EH_MAXF, EH_FMA, EH_UNUSED, EH_AVX512, EH_V8, EH_INLINE, EH_PREFETCH,
       EH_NHELPERS };
void em_use(Emit *e, int helper);
/* Print the transpose of the 16 x 16 floats in `__m512 a[16]` (row i in
 * a[i]) in AVX-512 registers, with `__m512 b[16]` as scratch: after it,
 * a[k] holds column k (lane i: row i's float k). Inside #if MC_AVX512. */
void em_transpose16(Emit *e);

typedef struct EmitOptions {
  int jit;             /* for the JIT: weights extern, no static workspace,
                          no headers (implies freestanding) */
  const char *version; /* the version stamp (tests may fix it) */
  int freestanding;    /* declare what <math.h> would, include nothing */
} EmitOptions;

typedef struct Generated {
  char *c, *h;          /* the two files' text */
  char *fwd_ws;         /* the reentrant entry point's name */
  const OpParam **params; /* the weight arrays (the JIT binds these);
                             they belong to the Program */
  int nparams;
  int64_t input_numel, output_numel, workspace_bytes;
} Generated;

/* Print the packed program as the model's C file and header. */
void emit_program(const Program *p, const EmitOptions *o, Generated *g);
void generated_free(Generated *g);

/* ----------------------------------------------------------------- run.c */

typedef void (*ForwardFn)(const float *input, float *output, void *workspace);

/* The model's generated C compiled in memory with TinyCC. */
typedef struct JitModel {
  Generated g;       /* the source and the weights bound to it */
  struct Jit *jit;
  ForwardFn fwd;     /* NAME_forward_ws */
} JitModel;

/* Emit and JIT-compile a packed program, which must outlive jm. A
 * failure is a modelc bug, reported as an internal error with TinyCC's
 * message. */
int jit_program(const Program *p, JitModel *jm, Diag *d);
void jit_model_free(JitModel *jm);

#endif
