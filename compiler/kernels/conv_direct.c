/* kernels/conv_direct.c: a convolution as direct loops, any shape.
 *
 * Per output channel, each (input channel, tap) adds over the outputs
 * where the tap reads inside the input, weights in PyTorch's layout. The
 * convolutions the blocked kernel does not take get this: 3-D ones, one
 * output channel per group, too few interior outputs, or a stride along
 * the rows of a 2-D one; on cortex-m, those the register tiles do not
 * take: no output reads only inside the input. */
#include "kernels/conv.h"

#include <stdlib.h>

static int direct_fits(const Program *p, const Op *op, Target t, char *why,
                       size_t n) {
  (void)p;
  if (!conv_is(op)) return 0;
  int tiles = op->main->kind->nsp <= 2;
  snprintf(why, n, "direct: %s", !tiles && t == TARGET_GENERIC
           ? "per output channel, each (input channel, tap) over its "
             "valid outputs; the 3-D matrix multiply (im2col) needs one "
             "group, no padding mode and output channels in multiples of 8"
           : t == TARGET_GENERIC
           ? "too few outputs or output channels for the blocked "
             "kernel, or a stride along the rows"
           : "no output reads only inside the input, as the register "
             "tiles need");
  return 1;
}

static int64_t direct_scratch(const Op *op) {
  ConvDims cd;
  conv_dims(op->main, &cd);
  return conv_pad_scratch(&cd);
}

static void direct_pack(Program *p, Op *op) {
  (void)p;
  const Layer *l = op->main;
  ConvDims cd;
  conv_dims(l, &cd);
  float *w, *b;
  char *scaled, *ws;
  conv_pack_common(op, &cd, &w, &b, &scaled, &ws);
  pack_add(op, "weight", w, cd.oc * cd.icg * cd.ksz,
           mc_format("%s.weight %s%s, layout [out][in/groups][kernel]",
                     l->prefix, ws, scaled));
  if (b) pack_add(op, "bias", b, cd.oc, pack_bias_what(op, ""));
  free(ws);
  free(scaled);
}

static void direct_emit(Emit *e, const Op *op) {
  ConvDims cd;
  conv_dims(op->main, &cd);
  conv_open(e, op, &cd);
  conv_direct_loops(e, op, &cd, op_array(op, "weight"), 0,
                    op_array(op, "bias"), NULL, NULL);
  conv_close(e, &cd);
}

const Kernel kernel_conv_direct = {"conv-direct",  KERNELS_FAST,
                                   direct_fits,    direct_scratch,
                                   conv_code_bytes, direct_pack,
                                   direct_emit};
