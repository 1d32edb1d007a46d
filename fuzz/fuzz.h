/* fuzz.h: shared by the libFuzzer targets in fuzz/ and by
 * tests/test_fuzz_regressions.c, which includes the targets' sources to
 * replay saved inputs through the very same entry points without clang.
 *
 * Each target defines `int fuzz_NAME_one(const uint8_t *data, size_t size)`
 * and, unless FUZZ_REPLAY is defined, the libFuzzer entry point calling it.
 * A broken invariant calls FUZZ_FAIL, which aborts (libFuzzer saves the
 * input); the replay test defines it to fail the cmocka test instead. */
#ifndef MODELC_FUZZ_H
#define MODELC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int fuzz_spec_one(const uint8_t *data, size_t size);
int fuzz_safetensors_one(const uint8_t *data, size_t size);
int fuzz_npy_one(const uint8_t *data, size_t size);
int fuzz_codegen_one(const uint8_t *data, size_t size);
int fuzz_comment_one(const uint8_t *data, size_t size);

#ifndef FUZZ_FAIL
#define FUZZ_FAIL(...)                  \
  do {                                  \
    fprintf(stderr, "fuzz: ");          \
    fprintf(stderr, __VA_ARGS__);       \
    fprintf(stderr, "\n");              \
    abort();                            \
  } while (0)
#endif

#endif
