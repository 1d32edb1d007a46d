/* Full tiles use AVX-512 where the compiler targets it (e.g. gcc or clang
 * -march=native on a recent x86); elsewhere, and with -DMODELC_PORTABLE,
 * the portable loops compute the same sums. */
#if defined(__AVX512F__) && !defined(MODELC_PORTABLE)
#include <immintrin.h>
#define MC_AVX512 1
#else
#define MC_AVX512 0
#endif
