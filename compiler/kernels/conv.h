/* kernels/conv.h: what the two loop lowerings of Conv1d/2d/3d share
 * (kernels/conv_direct.c, kernels/conv_blocked.c; kernels/conv.c holds
 * the shared code).
 *
 * Per sample and output channel, the output plane starts at the bias and
 * each (input channel, tap) adds weight * input over the output positions
 * where the tap reads inside the input (em_taps): the innermost loop runs
 * over contiguous outputs, which compilers vectorise. A padding mode other
 * than zeros first builds the padded sample in scratch, as F.pad would. */
#ifndef MODELC_KERNELS_CONV_H
#define MODELC_KERNELS_CONV_H

#include "kernels/kernel.h"

typedef struct ConvDims {
  int nsp, padmode;
  int zpad; /* small 1-D: the zero padding is written out into scratch */
  int64_t n, c, oc, groups, icg, ocg;
  int64_t isz, xsz, osz, ksz; /* per channel: input, padded, output, taps */
  Taps t;
  int64_t in[3]; /* unpadded input dims */
  /* 2-D, stride 1, no padding along x: tiles run over the output rows
   * laid out as wide as the input rows, p = oy * IW + ox, so a tile spans
   * rows and short rows still fill it; columns ox >= OW are computed and
   * dropped. */
  int wide;
  int64_t ocb; /* the packed layout's output channels per block (0: CONV_OCB) */
  /* 2-D with a stride along x (conv_blocked.c, generic target): the
   * zero-padded input split into its stride phases, ph[0] x ph[1] planes
   * of u[0] x u[1] per channel, where tap (ky, kx) of output (oy, ox)
   * reads plane (ky % S0, kx % S1) at (oy + ky / S0, ox + kx / S1), so
   * every tile reads contiguous floats; t.I is then the padded input and
   * t.P 0, xsz the floats of one channel's planes. */
  int phases;
  int64_t ph[2], u[2];
  /* 2-D, output rows not a multiple of 16 and short (conv_blocked.c,
   * generic target): per tap column kx and row phase py, a plane of u[0]
   * rows x OW of the zero-padded input, X[c][kx][py][u][ox] =
   * xpad[c][u * S0 + py][ox * S1 + kx]; tap (ky, kx) of output p = oy * OW
   * + ox reads plane (kx, ky % S0) at p + ky / S0 * OW, so tiles run over
   * all outputs, rows after rows, with none computed and dropped. */
  int shifted;
} ConvDims;

#define CONV_OCB 16 /* output channels per block (blocked) */
#define CONV_TW 16  /* output positions per tile (blocked) */

/* Planes of a zero-padded input, one per column offset kx < ncol and row
 * phase py < nph, each u rows x w: X[c][kx][py][u][ox] = x[c][u * s0 + py
 * - p0][ox * s1 + kx - p1], 0 where that is padding. A tile of outputs
 * p = oy * w + ox then reads plane (kx, ky % s0) at p + ky / s0 * w,
 * contiguous across rows (conv_blocked.c's shifted planes, with the
 * taps' columns; with ncol = nph = s0 = s1 = 2 they are the stride-2
 * phases, conv_winograd.c's). */
typedef struct ConvPlanes {
  int64_t c, ih, iw, p0, p1, s0, s1, ncol, nph, u, w;
} ConvPlanes;
/* A stride of 2 along x with AVX-512: each input row that row phase py
 * holds (row u * s0 + py - p0), 32 floats at a time, split by two
 * permutes into its even and odd columns, stored into the planes of
 * column offsets p1 % 2 and (p1 + 1) % 2 at column col / 2 + p1 / 2 and
 * (col - 1) / 2 + (p1 + 1) / 2, up to the planes' width w. Plane
 * (py, kx) of channel c is tmp + (c * nph * 2 + py * ay + kx * ax) * u * w
 * (tmp zeroed before). gcc vectorised the strided copy one permute per
 * float. A copy: the portable loops' values (tests/cli.sh). */
typedef struct ConvSplit2 {
  int64_t c, ih, iw, s0, p0, p1, nph, u, w, ay, ax;
} ConvSplit2;
void conv_split2(Emit *e, const ConvSplit2 *s);
/* Print the copy of xp into tmp (zeroed first), for every channel; with
 * host, through the host microkernel mcj_copy (a JIT stand-in's). */
void conv_copy_planes(Emit *e, const ConvPlanes *pl, int host);
/* The floats of one channel's planes. */
int64_t conv_planes_size(const ConvPlanes *pl);

/* kernels/conv_blocked.c, for its JIT stand-in (jit_conv_blocked.c):
 * the dims as the blocked kernel reads them (conv_dims, then the 2-D
 * stride phases or shifted planes); its geometry (the interior [lo, hi)
 * per dim, any border, the wide 2-D rows); the width of the rows its
 * tiles run along; and printing the copy into tmp of the phases or planes
 * (returns 1 if there is one: the tiles then read tmp). */
void conv_blocked_dims(const Layer *l, ConvDims *cd);
void conv_blocked_geometry(ConvDims *cd, int64_t *lo, int64_t *hi,
                           int *border);
int64_t conv_blocked_row(const ConvDims *cd);
int conv_blocked_copy(Emit *e, const Op *op, const ConvDims *cd);

/* kernels/conv_im2col.c: its output channels per block, the positions
 * of one pass (all, or in 3-D an output plane's), and the copy of the
 * input under each tap for one pass, tmp[k][p] (in 3-D inside the
 * caller's loop over the output planes oz), which its JIT stand-in
 * (jit_conv_im2col.c) prints too. */
int64_t conv_im2col_width(const ConvDims *cd);
int64_t conv_im2col_pass(const ConvDims *cd); /* positions per copy */
void conv_im2col_copy(Emit *e, const ConvDims *cd);
/* kernels/conv_winograd.c: print the Winograd convolution's body; with
 * jit, its matrix multiplies as calls to the host microkernel
 * mcj_conv_block (its JIT stand-in, jit_conv_winograd.c). */
void conv_winograd_print(Emit *e, const Op *op, int jit);
/* The Winograd kernels' matrix multiplies, for each of `points` points:
 * M[point][j][tile] = sum over c < `c` of U[point][c][j] V[point][c]
 * [tile], for a block of 16 output channels j and 16 tiles (ub, vg, mg
 * in the printed code); with jit, one mcj_conv_block call per point. */
void conv_wino_multiply(Emit *e, int points, int64_t c, int jit);
/* The Winograd kernels' frame: the sample loop (conv_open), the input
 * planes copied into tmp, V at tmp + vg and M at tmp + mg. */
void conv_wino_open(Emit *e, const Op *op, const ConvDims *cd,
                    const ConvPlanes *pl, int64_t vg, int64_t mg, int jit);
/* Open the loop over blocks of 16 output channels (their U at ub, output
 * at yb, residual at rb) and print its matrix multiplies. */
void conv_wino_block(Emit *e, const Op *op, const ConvDims *cd,
                     const char *un, int points, int jit);
/* Inside the loop over blocks of output channels from o0 (and over
 * samples n): `rb`, the fused residual's block, if the op has one. */
void conv_residual_block(Emit *e, const Op *op, const ConvDims *cd);
/* kernels/conv_winograd1d.c: the same for the 1-D Winograd convolution
 * (its stand-in: jit_conv_winograd1d.c). */
void conv_winograd1d_print(Emit *e, const Op *op, int jit);
/* kernels/conv_depthwise.c: the same for the depthwise convolution (its
 * stand-in: jit_conv_depthwise.c, the portable loops only). */
void conv_depthwise_print(Emit *e, const Op *op, int jit);

int conv_is(const Op *op);
void conv_dims(const Layer *l, ConvDims *cd);
/* The taps' common interior along dim i: outputs [lo, hi) read only
 * inside the input for every tap. */
void conv_interior(const ConvDims *cd, int i, int64_t *lo, int64_t *hi);
/* Scratch of the padded copy (padding modes, small zero-padded), or 0. */
int64_t conv_pad_scratch(const ConvDims *cd);
int64_t conv_code_bytes(const Op *op);
/* The folded weights ([out][in/groups][kernel]) and bias (NULL: none),
 * the comment words for a folded BatchNorm (", times 3's scale" or ""),
 * and the weight's shape as text; all malloc'd. */
void conv_pack_common(Op *op, const ConvDims *cd, float **w, float **b,
                      char **scaled, char **shape);
/* Open the loop over samples and print the sample's input as xp (padded
 * into tmp first if so decided); conv_close ends the loop. */
void conv_open(Emit *e, const Op *op, const ConvDims *cd);
void conv_close(Emit *e, const ConvDims *cd);
/* The direct loops for every output channel over the outputs in the box
 * [a, b) (NULL: all outputs), reading weights wn (packed: the blocked
 * layout) and bias bn. */
void conv_direct_loops(Emit *e, const Op *op, const ConvDims *cd,
                       const char *wn, int packed, const char *bn,
                       const int64_t *a, const int64_t *b);

#endif
