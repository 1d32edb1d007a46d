/* A function written once for readability and called in a hot loop (a
 * convolution's tile): inlined where the compiler can be told to, so it
 * costs what the code written out at each call would. */
#if defined(__GNUC__)
#define MC_INLINE static inline __attribute__((always_inline))
#else
#define MC_INLINE static inline
#endif
