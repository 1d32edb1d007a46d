/* test_runtime.c: the helpers of runtime/mc_*.h on their own, as the
 * generated files carry them: compiled here as they are (portable paths:
 * the tests build without -march), and each file compiled by itself with
 * gcc -march=native (the AVX2 and AVX-512 paths where the CPU has them). */
#include "testutil.h"

#include <math.h>

#include "mc_fma.h"
#include "mc_unused.h"
#include "mc_maxf.h"
#include "mc_v8.h"

static int same_bits(float a, float b) { return memcmp(&a, &b, 4) == 0; }

/* PyTorch's max pooling: a NaN anywhere wins; otherwise the larger. */
static void test_runtime_maxf_keeps_nan(void **state) {
  (void)state;
  assert_true(mc_maxf(1.0f, 2.0f) == 2.0f);
  assert_true(mc_maxf(2.0f, 1.0f) == 2.0f);
  assert_true(isnan(mc_maxf(NAN, 1.0f)));
  assert_true(isnan(mc_maxf(1.0f, NAN)));
  assert_true(mc_maxf(-INFINITY, -3.0f) == -3.0f);
}

static void test_runtime_v8_portable(void **state) {
  (void)state;
  assert_int_equal(MC_V8_AVX2, 0);
  float p[8], q[8];
  for (int i = 0; i < 8; i++) p[i] = (float)i - 3.5f, q[i] = 0.25f * (float)i;
  MC_V8(a);
  MC_VZERO(a);
  MC_VFMA(a, p, 2.0f); /* a = 2p */
  for (int i = 0; i < 8; i++) assert_true(a[i] == 2.0f * p[i]);
  MC_VDOT(a, p, q); /* a = 2p + p q */
  for (int i = 0; i < 8; i++)
    assert_true(same_bits(a[i], MC_FMA(p[i], q[i], 2.0f * p[i])));
  /* ReLU and max keep NaN, as PyTorch's clamp and max pooling do */
  float n[8] = {NAN, -1.0f, 0.0f, 2.0f, NAN, -0.0f, 5.0f, -7.0f};
  MC_V8(r);
  MC_VLD(r, n);
  MC_VRELU(r);
  assert_true(isnan(r[0]) && isnan(r[4]));
  assert_true(r[1] == 0.0f && r[3] == 2.0f && r[7] == 0.0f);
  MC_V8(m);
  MC_VSET(m, 1.0f);
  MC_VMAXP(m, n);
  assert_true(isnan(m[0]) && m[1] == 1.0f && m[6] == 5.0f);
  /* a partial store zeroes the padding lanes */
  float out[8];
  MC_VSTN(out, m, 3);
  for (int i = 3; i < 8; i++) assert_true(same_bits(out[i], 0.0f));
  /* the sum in the order the AVX2 path adds: pairs 4 apart, then 2, 1 */
  float v[8] = {1e8f, 1.0f, -1e8f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  float want = ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
  assert_true(same_bits(mc_vsum(v), want));
}

/* Each helper file compiles by itself (with the ones it needs first), on
 * this CPU's own instruction set, without a warning. */
static void test_runtime_files_compile_alone(void **state) {
  (void)state;
  const char *files[] = {"mc_maxf.h", "mc_fma.h", "mc_unused.h",
                         "mc_avx512.h", "mc_v8.h", "mc_inline.h"};
  char dir[] = "/tmp/modelc_runtime_XXXXXX";
  assert_non_null(mkdtemp(dir));
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    for (int native = 0; native < 2; native++) {
      char *src = mc_format("%s/t.c", dir);
      FILE *f = fopen(src, "w");
      assert_non_null(f);
      fprintf(f, "#include <math.h>\n");
      if (strcmp(files[i], "mc_v8.h") == 0)
        fprintf(f, "#include \"mc_fma.h\"\n#include \"mc_unused.h\"\n");
      fprintf(f, "#include \"%s\"\n", files[i]);
      if (strcmp(files[i], "mc_maxf.h") == 0)
        fprintf(f, "float f(float a, float b);\n"
                   "float f(float a, float b) { return mc_maxf(a, b); }\n");
      else if (strcmp(files[i], "mc_inline.h") == 0)
        fprintf(f, "MC_INLINE float g(float a) { return a + 1.0f; }\n"
                   "float f(float a);\n"
                   "float f(float a) { return g(a); }\n");
      else
        fprintf(f, "typedef int unused_t;\n"); /* no empty unit */
      fclose(f);
      char *cmd = mc_format("gcc -std=c99 -Wall -Wextra -pedantic -Werror %s "
                            "-Iruntime -c %s -o %s/t.o",
                            native ? "-march=native" : "", src, dir);
      if (system(cmd) != 0) fail_msg("%s does not compile alone: %s", files[i], cmd);
      free(cmd);
      free(src);
    }
  }
  assert_int_equal(test_rmdir(dir), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_runtime_maxf_keeps_nan),
      cmocka_unit_test(test_runtime_v8_portable),
      cmocka_unit_test(test_runtime_files_compile_alone),
  };
  return cmocka_run_group_tests_name("runtime", tests, NULL, NULL);
}
