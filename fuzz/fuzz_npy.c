/* fuzz_npy.c: npy_read_mem on arbitrary bytes. On success the data must
 * hold product(shape) floats, each read back (ASan checks the bounds);
 * on failure the data is NULL and the message non-empty. */
#include "fuzz.h"
#include "npy.h"

#include <string.h>

int fuzz_npy_one(const uint8_t *data, size_t size) {
  float *x = (float *)&x; /* garbage: the reader must set it */
  int ndim = -7;
  int64_t shape[NPY_MAX_DIMS];
  char err[256];
  memset(shape, 0xA5, sizeof shape);
  err[0] = 0;
  if (npy_read_mem(data, size, &x, &ndim, shape, err, sizeof err) == 0) {
    if (!x || ndim < 0 || ndim > NPY_MAX_DIMS)
      FUZZ_FAIL("successful read with data %p, ndim %d", (void *)x, ndim);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
      if (shape[i] < 0) FUZZ_FAIL("negative dimension %lld", (long long)shape[i]);
    for (int i = 0; i < ndim; i++)
      if (shape[i] == 0) n = 0; /* (5555555555, 0) holds nothing */
    for (int i = 0; i < ndim && n > 0; i++) {
      if (shape[i] > (int64_t)size / n) /* each element takes >= 4 bytes */
        FUZZ_FAIL("shape dimension %d: more elements than the %zu-byte file "
                  "holds", i, size);
      n *= shape[i];
    }
    volatile float sink = 0;
    for (int64_t j = 0; j < n; j++) sink += x[j];
    (void)sink;
    free(x);
  } else {
    if (x != NULL) FUZZ_FAIL("failed read left data non-NULL");
    if (err[0] == 0) FUZZ_FAIL("failed read without a message");
    if (memchr(err, 0, sizeof err) == NULL) FUZZ_FAIL("message not terminated");
  }
  return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_npy_one(data, size);
}
#endif
