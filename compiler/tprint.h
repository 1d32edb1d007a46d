/*
 * tprint.h - print a float32 tensor exactly as PyTorch 1.13 does
 *
 * `modelc run` shows its output tensor in PyTorch's own layout, so the text
 * can be diffed against `print(model(x))` from Python. The rules are those
 * of torch/_tensor_str.py with the default print options (precision 4,
 * threshold 1000, edgeitems 3, linewidth 80, sci_mode None); see tprint.c.
 */
#ifndef MODELC_TPRINT_H
#define MODELC_TPRINT_H

#include <stdint.h>
#include <stdio.h>

/* Print a contiguous row-major float32 tensor the way PyTorch 1.13's
 * torch._tensor_str._tensor_str(t, indent) formats it (default print
 * options: precision 4, threshold 1000, edgeitems 3, linewidth 80, sci_mode
 * None), followed by a newline. x: [dims[0], ..., dims[ndim-1]], ndim >= 1,
 * every dim >= 1. indent is the column the first '[' stands at (7 after
 * "tensor("); it shifts continuation lines and narrows wrapped rows. */
void tprint(FILE *out, const float *x, int ndim, const int64_t *dims,
            int indent);

/* The same text (newline included) in a malloc'd string; NULL if out of
 * memory. */
char *tprint_str(const float *x, int ndim, const int64_t *dims, int indent);

#endif
