/* test_emit.c: the C writer's pieces that every generated file relies on:
 * float literals that read back as the same float, with the fewest
 * significant digits;
 * indentation from braces, with nothing rewritten; a loop that runs once
 * decided as a block before it is printed (em_for). */
#include "testutil.h"

#include <float.h>
#include <math.h>

/* The fewest significant digits that read back as x, by brute force. */
static int shortest(float x) {
  char buf[48];
  for (int prec = 1; prec <= 9; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, (double)x);
    if (strtof(buf, NULL) == x) return prec;
  }
  return 99;
}

/* Significant digits of a literal: mantissa digits without leading or
 * trailing zeros ("10.0f" has 1, "0.125f" 3). */
static int digits(const char *lit) {
  char d[48];
  int n = 0;
  for (const char *p = lit; *p && *p != 'e' && *p != 'f'; p++)
    if (*p >= '0' && *p <= '9' && (n || *p != '0')) d[n++] = *p;
  while (n > 0 && d[n - 1] == '0') n--;
  return n ? n : 1;
}

static void test_emit_float_round_trips_shortest(void **state) {
  (void)state;
  uint32_t seed = 12345;
  for (int i = 0; i < 200000; i++) {
    seed = seed * 1664525u + 1013904223u;
    uint32_t bits = seed;
    float x;
    memcpy(&x, &bits, sizeof x);
    if (i % 4 == 0) x = (float)((int)(seed % 2001) - 1000) / 64.0f;
    if (!isfinite(x)) continue;
    char *lit = em_float(x);
    size_t len = strlen(lit);
    assert_true(len > 1 && lit[len - 1] == 'f');
    if (strtof(lit, NULL) != x || digits(lit) > shortest(x))
      fail_msg("%a: wrote %s; %d digits would read back", (double)x, lit,
               shortest(x));
    free(lit);
  }
  char *s = em_float(2.0f);
  assert_string_equal(s, "2.0f"); /* "2f" is not C */
  free(s);
  s = em_float(-0.0f);
  assert_string_equal(s, "-0.0f");
  free(s);
  s = em_float(-INFINITY);
  assert_string_equal(s, "(-1.0f / 0.0f)"); /* tcc folds this, not -INFINITY */
  free(s);
}

/* The integer printer writes what snprintf("%.*g") and strtof choose,
 * byte for byte: random bit patterns, values with few bits (exact
 * decimal ties), both sides of every power of two and of ten, the
 * subnormals and the largest floats. */
static void expect_same_as_libc(float x) {
  char fast[EM_FLOAT_MAX];
  size_t n = em_float_to(fast, x);
  char *slow = em_float_libc(x);
  assert_int_equal(n, strlen(fast));
  if (strcmp(fast, slow) != 0)
    fail_msg("%a: wrote %s, the C library %s", (double)x, fast, slow);
  free(slow);
}

static void test_emit_float_matches_libc(void **state) {
  (void)state;
  uint32_t seed = 12345;
  for (int i = 0; i < 200000; i++) {
    seed = seed * 1664525u + 1013904223u;
    uint32_t bits = seed;
    if (i % 3 == 1) bits &= 0xffff0000u; /* few bits: ties in %.6g */
    float x;
    memcpy(&x, &bits, sizeof x);
    if (i % 3 == 2) x = (float)((int)(seed >> 8) % 2000001 - 1000000) / 1e6f;
    if (isfinite(x)) expect_same_as_libc(x);
  }
  for (int e = -149; e <= 127; e++) {
    float p = ldexpf(1.0f, e);
    expect_same_as_libc(p);
    expect_same_as_libc(nextafterf(p, 0.0f));
    expect_same_as_libc(nextafterf(p, INFINITY));
    expect_same_as_libc(-p);
  }
  for (float t = 1e-38f; t < 1e38f; t *= 10.0f) {
    expect_same_as_libc(t);
    expect_same_as_libc(nextafterf(t, 0.0f));
    expect_same_as_libc(nextafterf(t, INFINITY));
  }
  expect_same_as_libc(FLT_MAX);
  expect_same_as_libc(FLT_MIN);
  expect_same_as_libc(0.0f);
  expect_same_as_libc(0.5f);
  expect_same_as_libc(123456.5f);
  expect_same_as_libc(9999999.0f);
  expect_same_as_libc(0.000123456789f);
}

/* Braces indent; the writer prints what it is given, nothing rewritten. */
static void test_emit_indents_from_braces(void **state) {
  (void)state;
  Emit e = {0};
  em(&e, "for (int c = 0; c < 1; c++) { /* printed as given */");
  em(&e, "y[c] = x[c];\n}");
  em_blank(&e);
  assert_string_equal(e.b.s, "for (int c = 0; c < 1; c++) { /* printed as "
                             "given */\n"
                             "  y[c] = x[c];\n"
                             "}\n"
                             "\n");
  buf_free(&e.b);
}

/* em_for decides a loop of one iteration before printing it: a block. */
static void test_emit_for_of_one_is_a_block(void **state) {
  (void)state;
  Emit e = {0};
  em_for(&e, "c", 1, "channel");
  em_for(&e, "i", 4, "four");
  em(&e, "y[i] = x[c];");
  em(&e, "}");
  em(&e, "}");
  em_for(&e, "t", 3, NULL);
  em(&e, "}");
  assert_string_equal(e.b.s, "{ const int c = 0; (void)c; /* channel */\n"
                             "  for (int i = 0; i < 4; i++) { /* four */\n"
                             "    y[i] = x[c];\n"
                             "  }\n"
                             "}\n"
                             "for (int t = 0; t < 3; t++) {\n"
                             "}\n");
  buf_free(&e.b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_emit_float_round_trips_shortest),
      cmocka_unit_test(test_emit_float_matches_libc),
      cmocka_unit_test(test_emit_indents_from_braces),
      cmocka_unit_test(test_emit_for_of_one_is_a_block),
  };
  return cmocka_run_group_tests_name("emit", tests, NULL, NULL);
}
