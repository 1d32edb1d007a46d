/*
 * test_torchrand.c - compiler/torchrand.c against PyTorch 1.13.
 *
 * Replays every case of tests/fixtures/rng.txt (written by
 * tools/gen_rng_fixture.py; format in its docstring) and requires every
 * float32 to be bit-identical, then checks the numbers printed by the
 * PyTorch tutorials.  Run from the repository root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torchrand.h"

#define FIXTURE "tests/fixtures/rng.txt"

/* ------------------------------------------------------------------ */
/* Tokenizer over the fixture text                                      */
/* ------------------------------------------------------------------ */

typedef struct Tok {
  char *p; /* cursor into a writable, NUL-terminated buffer */
} Tok;

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  size_t got;
  while (buf != NULL && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += got;
    if (cap - len - 1 == 0) {
      char *nb = realloc(buf, cap * 2);
      if (nb == NULL) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if (buf != NULL) buf[len] = '\0';
  return buf;
}

/* Blank out comment lines (lines whose first character is '#'). */
static void strip_comments(char *s) {
  int line_start = 1;
  for (; *s; s++) {
    if (line_start && *s == '#')
      while (*s && *s != '\n')
        *s++ = ' ';
    if (*s == '\0') break;
    line_start = *s == '\n';
  }
}

/* Next whitespace-separated token (NUL-terminated in place), or NULL. */
static const char *next_tok(Tok *t) {
  char *s = t->p;
  while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
    s++;
  if (*s == '\0') {
    t->p = s;
    return NULL;
  }
  char *start = s;
  while (*s && *s != ' ' && *s != '\n' && *s != '\t' && *s != '\r')
    s++;
  if (*s) *s++ = '\0';
  t->p = s;
  return start;
}

static const char *need_tok(Tok *t) {
  const char *s = next_tok(t);
  if (s == NULL) fail_msg("%s: unexpected end of file", FIXTURE);
  return s;
}

static long long tok_ll(Tok *t) {
  return strtoll(need_tok(t), NULL, 10);
}

/* ------------------------------------------------------------------ */
/* Replay                                                               */
/* ------------------------------------------------------------------ */

typedef struct Replay {
  const char *case_name;
  int op; /* 1-based op number within the case */
  const char *op_name;
  long long values; /* values compared so far */
  long long mismatches;
  int cases[2]; /* cases replayed, by TR_CPU_AVX2 / _DEFAULT */
} Replay;

/* Compare n computed floats with the next n fixture values, bit for bit.
 * Only the first mismatch of the whole run is printed. */
static void compare(Replay *r, Tok *t, const float *got, size_t n,
                    const char *what) {
  for (size_t i = 0; i < n; i++) {
    float want = strtof(need_tok(t), NULL);
    uint32_t a, b;
    memcpy(&a, &want, sizeof a);
    memcpy(&b, &got[i], sizeof b);
    r->values++;
    if (a != b && r->mismatches++ == 0)
      print_error("first mismatch: case %s, op %d (%s%s), index %zu: "
                  "pytorch %.9g, torchrand %.9g\n",
                  r->case_name, r->op, r->op_name, what, i, (double)want,
                  (double)got[i]);
  }
}

static float *alloc_floats(size_t n) {
  float *p = malloc((n ? n : 1) * sizeof *p);
  assert_non_null(p);
  return p;
}

static void op_randn(Replay *r, Tok *t, TorchGen *g) {
  size_t n = (size_t)tok_ll(t);
  float *out = alloc_floats(n);
  tr_randn(g, out, n);
  compare(r, t, out, n, "");
  free(out);
}

static void op_uniform(Replay *r, Tok *t, TorchGen *g, int normal) {
  size_t n = (size_t)tok_ll(t);
  double a = strtod(need_tok(t), NULL);
  double b = strtod(need_tok(t), NULL);
  float *out = alloc_floats(n);
  if (normal)
    tr_normal(g, out, n, a, b);
  else
    tr_uniform(g, out, n, a, b);
  compare(r, t, out, n, "");
  free(out);
}

static void op_init(Replay *r, Tok *t, TorchGen *g) {
  size_t nw = (size_t)tok_ll(t);
  int64_t fan_in = (int64_t)tok_ll(t);
  long long nb = tok_ll(t);
  float *w = alloc_floats(nw);
  float *b = nb >= 0 ? alloc_floats((size_t)nb) : NULL;
  tr_init_weight_bias(g, w, nw, fan_in, b, nb >= 0 ? (size_t)nb : 0);
  compare(r, t, w, nw, " weight");
  if (b != NULL) compare(r, t, b, (size_t)nb, " bias");
  free(w);
  free(b);
}

/* One "case NAME SEED CPU ... end" block; "case" is already consumed. */
static void replay_case(Replay *r, Tok *t) {
  TorchGen g;
  r->case_name = need_tok(t);
  tr_seed(&g, strtoull(need_tok(t), NULL, 10));
  const char *cpu = need_tok(t);
  if (strcmp(cpu, "default") == 0)
    g.cpu = TR_CPU_DEFAULT;
  else if (strcmp(cpu, "avx2") != 0)
    fail_msg("case %s: unknown cpu %s", r->case_name, cpu);
  r->cases[g.cpu]++;
  for (r->op = 1;; r->op++) {
    const char *op = need_tok(t);
    r->op_name = op;
    if (strcmp(op, "end") == 0)
      return;
    else if (strcmp(op, "randn") == 0)
      op_randn(r, t, &g);
    else if (strcmp(op, "uniform") == 0)
      op_uniform(r, t, &g, 0);
    else if (strcmp(op, "normal") == 0)
      op_uniform(r, t, &g, 1);
    else if (strcmp(op, "init") == 0)
      op_init(r, t, &g);
    else
      fail_msg("case %s: unknown op %s", r->case_name, op);
  }
}

static void test_fixture(void **state) {
  (void)state;
  char *text = read_file(FIXTURE);
  if (text == NULL)
    fail_msg("cannot read %s (run from the repository root)", FIXTURE);
  strip_comments(text);
  Tok t = {text};
  Replay r = {NULL, 0, "", 0, 0, {0, 0}};
  const char *tok;
  while ((tok = next_tok(&t)) != NULL) {
    if (strcmp(tok, "case") != 0)
      fail_msg("%s: expected 'case', got '%s'", FIXTURE, tok);
    replay_case(&r, &t);
  }
  print_message("rng fixture: %d avx2 + %d default cases, %lld values, "
                "%lld bit-exact\n",
                r.cases[TR_CPU_AVX2], r.cases[TR_CPU_DEFAULT], r.values,
                r.values - r.mismatches);
  free(text);
  assert_true(r.cases[TR_CPU_AVX2] >= 200);
  assert_true(r.cases[TR_CPU_DEFAULT] >= 100);
  assert_int_equal(r.mismatches, 0);
}

/* ------------------------------------------------------------------ */
/* Published tutorial numbers (rounded to 4 decimals)                   */
/* ------------------------------------------------------------------ */

static void assert_4dp(const float *got, const double *want, size_t n,
                       const char *what) {
  for (size_t i = 0; i < n; i++)
    if (fabs((double)got[i] - want[i]) > 0.5e-4 + 1e-9)
      fail_msg("%s[%zu]: %.9g, expected %.4f", what, i, (double)got[i],
               want[i]);
}

/* torch.manual_seed(42); nn.Conv1d(3, 2, 3) */
static void test_tutorial_conv1d(void **state) {
  (void)state;
  static const double w0[3] = {0.2548, 0.2767, -0.0781};
  static const double b[2] = {-0.1556, 0.0850};
  float w[2 * 3 * 3], bias[2];
  TorchGen g;
  tr_seed(&g, 42);
  tr_init_weight_bias(&g, w, 18, 3 * 3, bias, 2);
  assert_4dp(w, w0, 3, "conv1d weight[0,0,:]");
  assert_4dp(bias, b, 2, "conv1d bias");
}

/* torch.manual_seed(42); nn.Conv2d(3, 2, (3, 3)) */
static void test_tutorial_conv2d(void **state) {
  (void)state;
  static const double w0[3] = {0.1471, 0.1597, -0.0451};
  static const double b[2] = {0.0554, 0.0797};
  float w[2 * 3 * 3 * 3], bias[2];
  TorchGen g;
  tr_seed(&g, 42);
  tr_init_weight_bias(&g, w, 54, 3 * 3 * 3, bias, 2);
  assert_4dp(w, w0, 3, "conv2d weight[0,0,0,:]");
  assert_4dp(bias, b, 2, "conv2d bias");
}

/* torch.manual_seed(42); torch.randn(2, 3, 4) (normal_fill path), and
 * torch.manual_seed(42); torch.randn(5) (per-element Box-Muller path). */
static void test_tutorial_randn(void **state) {
  (void)state;
  static const double r234[8] = {1.9269, 1.4873,  0.9007,  -2.1055,
                                 0.6784, -1.2345, -0.0431, -1.6047};
  static const double r5[5] = {0.3367, 0.1288, 0.2345, 0.2303, -1.1229};
  float out[24];
  TorchGen g;
  tr_seed(&g, 42);
  tr_randn(&g, out, 24);
  assert_4dp(out, r234, 8, "randn(2,3,4)");
  tr_seed(&g, 42);
  tr_randn(&g, out, 5);
  assert_4dp(out, r5, 5, "randn(5)");
}

/* mt19937 uses only the low 32 bits of the seed. */
static void test_seed_low_32_bits(void **state) {
  (void)state;
  TorchGen a, b;
  tr_seed(&a, 5);
  tr_seed(&b, (UINT64_C(1) << 32) + 5);
  for (int i = 0; i < 2000; i++)
    assert_int_equal(tr_random32(&a), tr_random32(&b));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tutorial_conv1d),
      cmocka_unit_test(test_tutorial_conv2d),
      cmocka_unit_test(test_tutorial_randn),
      cmocka_unit_test(test_seed_low_32_bits),
      cmocka_unit_test(test_fixture),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
