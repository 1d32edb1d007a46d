/* kernels/linear.h: what the two loop lowerings of Linear share
 * (kernels/linear_dot.c, kernels/linear_axpy.c; the code in
 * kernels/linear.c). */
#ifndef MODELC_KERNELS_LINEAR_H
#define MODELC_KERNELS_LINEAR_H

#include "kernels/kernel.h"

int linear_is(const Op *op);
/* The weight [out][in] (transposed: [in][out]) with any BatchNorm folded
 * in, and the bias, as the op's arrays "weight" and "bias". */
void linear_pack(Op *op, int transposed);
/* Open the block of one row of the input (a loop over the rows if there
 * are several): xr and yr are the row's input and output. */
void linear_open_row(Emit *e, const Op *op);

#endif
