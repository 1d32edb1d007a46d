/* A function only some #if branches call (a vector helper, an activation
 * the vector path applies in registers). */
#if defined(__GNUC__)
#define MC_UNUSED __attribute__((unused))
#else
#define MC_UNUSED
#endif
