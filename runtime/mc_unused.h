/* An activation applied in vector registers may go unused. */
#if defined(__GNUC__)
#define MC_UNUSED __attribute__((unused))
#else
#define MC_UNUSED
#endif
