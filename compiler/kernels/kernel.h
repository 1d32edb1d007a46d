/* kernels/kernel.h: the contract every lowering keeps, and what the
 * lowerings share.
 *
 * A kernel is one way to turn an op into C. lower.c asks each kernel in
 * the table (kernels/table.c), in order of preference, whether it fits the
 * op on the target, and stores the first that does in the op, with the
 * reason its fits() gives; later phases only read that decision:
 *   plan.c   the scratch bytes (scratch), and how the output is stored
 *   limits.c the code-size estimate (code_bytes)
 *   pack.c   the weight arrays in the kernel's layout (pack)
 *   emit.c   the op's function body (emit)
 * Adding a lowering: one file here with a `const Kernel`, one row in
 * kernels/table.c, one test in tests/test_lower.c. */
#ifndef MODELC_KERNEL_H
#define MODELC_KERNEL_H

#include "modelc.h"

typedef struct Kernel {
  const char *name; /* "conv-blocked" */
  int sets;         /* the KernelSets it belongs to: KERNELS_FAST,
                       KERNELS_REFERENCE (a naive one), or both */
  /* Does the kernel fit op on target t? On 1, write into why (n bytes)
   * the line `--explain` prints; on 0 leave why alone. */
  int (*fits)(const Program *p, const Op *op, Target t, char *why, size_t n);
  int64_t (*scratch)(const Op *op);    /* bytes of workspace; NULL: none */
  int64_t (*code_bytes)(const Op *op); /* C text beyond an op's base; NULL: 0 */
  void (*pack)(Program *p, Op *op);    /* add the weight arrays; NULL: none */
  void (*emit)(Emit *e, const Op *op); /* print the function body */
} Kernel;

/* kernels/table.c: choose op's kernel from the set asked for. */
const Kernel *kernel_choose(const Program *p, const Op *op, char *why,
                            size_t n);

/* kernels/table.c: the stand-in modelc run's TinyCC compiles for op, its
 * kernel chosen, with what it does in why (n bytes), or NULL (then the
 * kernel's own code). */
const Kernel *kernel_choose_jit(const Program *p, const Op *op, char *why,
                                size_t n);

/* kernels/table.c: may op, its kernel chosen, also compute `next` (a
 * pool) in its own loops? On 1, write into why (n bytes) what the fusion
 * does; lower.c then marks op pooled and next fused. */
int kernel_fuses(const Program *p, const Op *op, const Op *next, char *why,
                 size_t n);
/* The fusions, one per kernel that has one (table.c lists them). */
int conv_regs_fuses(const Program *p, const Op *op, const Op *next,
                    char *why, size_t n);

/* kernels/table.c: does op's kernel add op's fused residual (then its
 * activations) as it stores each output? 0: emit.c adds it in a loop
 * after the kernel's code. */
int kernel_adds_residual(const Op *op);
int conv_blocked_adds_residual(const Op *op);
int conv_winograd_adds_residual(const Op *op);
int conv_winograd1d_adds_residual(const Op *op);

/* A whole-program lowering (kernels/vec1d.c): if the program fits, decide
 * every op (kernel, views, positions, fused pools) and return 1. */
int vec1d_decide(Program *p);

/* pack.c: for the kernels' pack(). */
/* Copies of main's weight and bias ([c][per] and [c]; the bias NULL when
 * the layer has none and no BatchNorm is folded) with op->bn folded in. */
void pack_folded(const Op *op, float **w, float **b, int64_t c, int64_t per);
/* A BatchNorm with running statistics as y = x * scale[c] + shift[c]. */
void pack_bn_affine(const Layer *bn, float *scale, float *shift, int64_t c);
/* A copy of a parameter's data. */
float *pack_copy(const Param *p);
/* Add a weight array "l<index>_<suffix>" (takes data and what). */
void pack_add(Op *op, const char *suffix, float *data, int64_t n, char *what);
/* The C name of the op's array with that suffix, or NULL. */
const char *op_array(const Op *op, const char *suffix);
/* The comment of a bias array: the PyTorch key, or the folding. */
char *pack_bias_what(const Op *op, const char *extra);

/* The loops of a sliding-window layer (convolution, pooling): for each
 * kernel tap, the output positions whose input is inside the tensor, so
 * padding costs no test in the inner loop. Output positions are t (1-D),
 * oy ox (2-D), oz oy ox (3-D); taps k, ky kx, kz ky kx (kernels/taps.c). */
typedef struct Taps {
  int nsp;
  int64_t O[3], I[3], K[3], S[3], D[3], P[3]; /* P: zeros on the low side */
  int64_t A[3], B[3]; /* only outputs in [A, B) (B = 0: up to O) */
} Taps;

typedef struct TapPrinter {
  /* Optional: print once per tap before its output loops (kidx: the
   * tap's index into a [K...] array). */
  void (*pre)(Emit *e, const char *kidx, void *ctx);
  /* Print the statement for one output: yidx indexes the output plane,
   * xidx the input plane. */
  void (*stmt)(Emit *e, const char *yidx, const char *xidx, const char *kidx,
               void *ctx);
  void *ctx;
} TapPrinter;

/* Returns how many taps read any input (0: all read padding only). */
int em_taps(Emit *e, const Taps *t, const TapPrinter *pr);

/* kernels/binary.c: the name of an op's input k in its function: "x" for
 * an op of one input, else "x0", "x1", ... (emit.c names them so). */
const char *op_src_name(const Op *op, int k, char *buf, size_t n);

#endif
