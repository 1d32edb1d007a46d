/* fuzz_safetensors.c: st_load_mem on arbitrary bytes. On success every
 * tensor must be whole (data present, element count within the file);
 * on failure the result must be empty and the message non-empty. */
#include "fuzz.h"
#include "safetensors.h"

#include <string.h>

int fuzz_safetensors_one(const uint8_t *data, size_t size) {
  StFile f;
  char err[256];
  memset(&f, 0xA5, sizeof f); /* the reader must not rely on a zeroed *out */
  err[0] = 0;
  if (st_load_mem(data, size, &f, err, sizeof err) == 0) {
    volatile float sink = 0;
    for (int i = 0; i < f.count; i++) {
      const StTensor *t = &f.tensors[i];
      if (!t->name || !t->data || t->ndim < 0 || t->ndim > ST_MAX_DIMS)
        FUZZ_FAIL("tensor %d is malformed after a successful load", i);
      int64_t n = st_numel(t);
      if (n < 0 || (uint64_t)n > size) /* each element takes >= 2 bytes */
        FUZZ_FAIL("tensor '%s' has %lld elements in a %zu-byte file", t->name,
                  (long long)n, size);
      for (int64_t j = 0; j < n; j++) sink += t->data[j]; /* ASan reads */
      if (st_find(&f, t->name) == NULL)
        FUZZ_FAIL("st_find does not find '%s'", t->name);
    }
    (void)sink;
    st_free(&f);
    st_free(&f); /* documented as safe */
  } else {
    if (f.tensors != NULL || f.count != 0)
      FUZZ_FAIL("failed load left a non-empty result");
    if (err[0] == 0) FUZZ_FAIL("failed load without a message");
    if (memchr(err, 0, sizeof err) == NULL) FUZZ_FAIL("message not terminated");
    st_free(&f);
  }
  return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_safetensors_one(data, size);
}
#endif
