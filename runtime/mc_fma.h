/* a * b + c, fused into one instruction where the target has a fast fmaf
 * (FP_FAST_FMAF: gcc or clang with FMA enabled); else as written. */
#ifdef FP_FAST_FMAF
#define MC_FMA(a, b, c) fmaf(a, b, c)
#else
#define MC_FMA(a, b, c) ((a) * (b) + (c))
#endif
