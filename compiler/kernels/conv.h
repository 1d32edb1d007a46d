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
} ConvDims;

#define CONV_OCB 16 /* output channels per block (blocked) */
#define CONV_TW 16  /* output positions per tile (blocked) */

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
