/* randin.c: writes the input that `modelc run SPEC --random-input SEED`
 * feeds the model, torch.manual_seed(SEED); torch.randn(N), as N raw
 * little-endian float32 values, for the Cortex-M harness (main.c).
 * Linked with the compiler's torchrand.o, which modelc run uses too.
 *
 *   randin SEED N OUT.bin */
#include <stdio.h>
#include <stdlib.h>

#include "torchrand.h"

int main(int argc, char **argv) {
  char *end1, *end2;
  long long seed = argc == 4 ? strtoll(argv[1], &end1, 10) : 0;
  long long n = argc == 4 ? strtoll(argv[2], &end2, 10) : 0;
  if (argc != 4 || *end1 || *end2 || n < 1) {
    fprintf(stderr, "usage: randin SEED N OUT.bin\n");
    return 2;
  }
  float *x = malloc(sizeof(float) * (size_t)n);
  TorchGen g;
  tr_seed(&g, (uint64_t)seed);
  tr_randn(&g, x, (size_t)n);
  FILE *f = fopen(argv[3], "wb");
  if (!f || fwrite(x, sizeof(float), (size_t)n, f) != (size_t)n || fclose(f)) {
    fprintf(stderr, "randin: error: cannot write '%s'\n", argv[3]);
    return 1;
  }
  free(x);
  return 0;
}
