/* A batch run in passes: the next chunk's input, floats p[0..n), asked
 * for in the cache while this chunk runs (a hint: no effect on the
 * results; nothing where the compiler has no prefetch). */
static void mc_prefetch(const float *p, long n) {
#if defined(__GNUC__)
  for (long i = 0; i < n; i += 16) __builtin_prefetch(p + i, 0, 2);
#else
  (void)p, (void)n;
#endif
}
