/* jit_kernels.h: the host microkernels that code compiled by modelc run's
 * TinyCC may call (jit.c binds them by name; kernels/jit_*.c print the
 * calls). They are modelc's own functions, built by gcc with vector code
 * and without fused multiply-adds, and each adds in exactly the order of
 * the lowering it stands in for, so the JIT's results stay bit for bit
 * those of the generated C. Every argument is a pointer into the op's
 * buffers or weights, or a size the compiler computed. */
#ifndef MODELC_JIT_KERNELS_H
#define MODELC_JIT_KERNELS_H

/* One block of `width` (<= 16) output channels of a blocked convolution
 * (kernels/conv_blocked.c), over the tile positions p in [p0, p1):
 *
 *   acc = b[j] (0 when b is NULL)
 *   for c < nc, for q < nt (in that order):
 *     acc = acc + w[(c * kw + tap[2q+1]) * width + j] * x[c * xs + tap[2q] + p]
 *   y[j * ys + (p / iw) * ow + p % iw] = relu ? (acc < 0 ? 0 : acc) : acc
 *
 * one rounded multiply and one rounded add per term. Positions whose
 * p % iw >= ow are computed and not stored (the 2-D rows laid out as wide
 * as the input's); iw = ow >= p1 stores p at y[j * ys + p]. Reads x only
 * at the positions of [p0, p1) plus the taps' offsets. */
void mcj_conv_block(float *y, const float *x, const float *w, const float *b,
                    const int *tap, int nc, int nt, int kw, int width,
                    long xs, long ys, int p0, int p1, int iw, int ow,
                    int relu);

/* One row of a Linear as the axpy lowering (kernels/linear_axpy.c) sums
 * it, with w transposed ([in][out]):
 *
 *   y[o] = b[o] (0 when b is NULL)
 *   for i < in: y[o] = x[i] * w[i * out + o] + y[o]
 *
 * one rounded multiply and one rounded add per term. */
void mcj_linear_axpy(float *y, const float *x, const float *w, const float *b,
                     int in, int out);

/* A Winograd transform (kernels/conv_winograd1d.c) over 16 tiles: for
 * q < nq and l < 16,
 *
 *   y[q * ys + l * ls] = sum over i < n of a[q * n + i] * x[xo[i] + l]
 *
 * summed as the generated C prints it: terms with a zero coefficient
 * skipped, each term |a| * x (x alone when |a| is 1), the first negated
 * when a < 0, the others added or subtracted by the sign of a, in order of
 * i; then + b[0] when b is not NULL, and with relu, s < 0 ? 0 : s. */
void mcj_combine16(float *y, long ys, long ls, const float *x,
                   const long *xo, const float *a, int nq, int n,
                   const float *b, int relu);

/* y[i * ys] = x[i * xs] for i < n (xs 0: a fill with x[0]): the copies
 * and zeroing of the input planes (kernels/conv.c). */
void mcj_copy(float *y, long ys, const float *x, long xs, long n);

/* The declarations above as the JIT's source spells them (no headers). */
extern const char mcj_prototypes[];

#endif
