/*
 * test_tprint.c - compiler/tprint.c against PyTorch 1.13's tensor printing.
 *
 * Replays every case of tests/fixtures/print.txt (written by
 * tools/gen_print_fixture.py; format in its docstring) and requires the
 * text to match byte for byte, then checks a few cases written by hand
 * from what torch prints. Run from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tprint.h"

#define FIXTURE "tests/fixtures/print.txt"
#define MAX_DIMS 8
#define MAX_SHOWN 10 /* failing cases described in full */

/* ------------------------------------------------------------- helpers */

static float float_of(uint32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

/* Prints the first line where got and want differ; 1 if they do. */
static int diff_text(const char *label, const char *got, const char *want) {
  int line = 1;
  const char *g = got, *w = want;
  if (strcmp(got, want) == 0) return 0;
  for (;;) {
    size_t gn = strcspn(g, "\n"), wn = strcspn(w, "\n");
    if (gn != wn || memcmp(g, w, gn) != 0 || g[gn] != w[wn]) {
      print_error("%s: line %d differs\n  got:  \"%.*s\"%s\n"
                  "  want: \"%.*s\"%s\n",
                  label, line, (int)gn, g, g[gn] ? "" : " (end of text)",
                  (int)wn, w, w[wn] ? "" : " (end of text)");
      return 1;
    }
    g += gn + 1;
    w += wn + 1;
    line++;
  }
}

/* tprint_str of x, compared with want; 1 on a difference. */
static int check_text(const char *label, const float *x, int ndim,
                      const int64_t *dims, int indent, const char *want) {
  char *got = tprint_str(x, ndim, dims, indent);
  int bad;
  assert_non_null(got);
  bad = diff_text(label, got, want);
  free(got);
  return bad;
}

/* ------------------------------------------------------- fixture reader */

/* Cursor over the fixture, one line at a time. */
typedef struct Lines {
  char *p;
  int no; /* number of the line last returned */
} Lines;

/* The next line, NUL-terminated in place; NULL at the end of the text. */
static char *next_line(Lines *l) {
  char *s = l->p, *e;
  if (*s == 0) return NULL;
  e = strchr(s, '\n');
  if (e) {
    *e = 0;
    l->p = e + 1;
  } else {
    l->p = s + strlen(s);
  }
  l->no++;
  return s;
}

/* The next line, which must start with key and a space; returns the rest. */
static char *expect(Lines *l, const char *key) {
  char *s = next_line(l);
  size_t n = strlen(key);
  if (s == NULL || strncmp(s, key, n) != 0 || s[n] != ' ')
    fail_msg("%s:%d: expected '%s'", FIXTURE, l->no, key);
  return s + n + 1;
}

typedef struct Case {
  char name[128];
  int indent, ndim;
  int64_t dims[MAX_DIMS];
  long n;
  float *x;
  char *want; /* malloc'd */
} Case;

/* Reads one case after its "case" line (given as head). */
static void read_case(Lines *l, const char *head, Case *c) {
  char *s, *end;
  long i, nl;
  size_t len = 0, cap = 256;
  if (sscanf(head, "case %127s %d", c->name, &c->indent) != 2)
    fail_msg("%s:%d: bad case line", FIXTURE, l->no);
  s = expect(l, "shape");
  for (c->ndim = 0; *s; c->ndim++) {
    if (c->ndim == MAX_DIMS) fail_msg("%s:%d: too many dims", FIXTURE, l->no);
    c->dims[c->ndim] = strtoll(s, &end, 10);
    if (end == s) fail_msg("%s:%d: bad shape", FIXTURE, l->no);
    s = end + strspn(end, " ");
  }
  c->n = strtol(expect(l, "bits"), NULL, 10);
  c->x = malloc((size_t)c->n * sizeof *c->x);
  assert_non_null(c->x);
  for (i = 0; i < c->n;) {
    s = next_line(l);
    if (s == NULL) fail_msg("%s: ends inside case %s", FIXTURE, c->name);
    for (; *s && i < c->n; i++) {
      c->x[i] = float_of((uint32_t)strtoul(s, &end, 16));
      if (end == s) fail_msg("%s:%d: bad bits", FIXTURE, l->no);
      s = end + strspn(end, " ");
    }
  }
  nl = strtol(expect(l, "text"), NULL, 10);
  c->want = malloc(cap);
  assert_non_null(c->want);
  c->want[0] = 0;
  for (i = 0; i < nl; i++) {
    size_t n;
    s = next_line(l);
    if (s == NULL) fail_msg("%s: ends inside case %s", FIXTURE, c->name);
    n = strlen(s);
    while (len + n + 2 > cap) {
      cap *= 2;
      c->want = realloc(c->want, cap);
      assert_non_null(c->want);
    }
    memcpy(c->want + len, s, n);
    len += n;
    c->want[len++] = '\n';
    c->want[len] = 0;
  }
  s = next_line(l);
  if (s == NULL || strcmp(s, "end") != 0)
    fail_msg("%s:%d: expected 'end' for case %s", FIXTURE, l->no, c->name);
}

/* ---------------------------------------------------------------- tests */

static void test_tprint_fixture(void **state) {
  char *text = read_file(FIXTURE, NULL), *s;
  Lines l;
  int cases = 0, failed = 0, summarized = 0;
  (void)state;
  if (text == NULL)
    fail_msg("cannot read %s (run from the repository root)", FIXTURE);
  l.p = text;
  l.no = 0;
  while ((s = next_line(&l)) != NULL) {
    Case c;
    char label[160];
    if (s[0] == '#' || s[0] == 0) continue;
    memset(&c, 0, sizeof c);
    read_case(&l, s, &c);
    snprintf(label, sizeof label, "case %s (indent %d)", c.name, c.indent);
    if (failed < MAX_SHOWN) {
      failed += check_text(label, c.x, c.ndim, c.dims, c.indent, c.want);
    } else {
      char *got = tprint_str(c.x, c.ndim, c.dims, c.indent);
      assert_non_null(got);
      failed += strcmp(got, c.want) != 0;
      free(got);
    }
    summarized += c.n > 1000;
    cases++;
    free(c.x);
    free(c.want);
  }
  free(text);
  print_message("print fixture: %d cases (%d summarized), %d differ\n", cases,
                summarized, failed);
  assert_true(cases >= 300);
  assert_true(summarized >= 10);
  assert_int_equal(failed, 0);
}

/* The output of nn.Conv1d in the PyTorch tutorial, [2, 2, 2]: 3-D blocks
 * are separated by a blank line. */
static void test_tprint_conv1d_tutorial(void **state) {
  static const float x[8] = {0.6345f,  0.2400f,  -0.0122f, -0.7956f,
                             -0.4041f, -1.0328f, 0.2444f,  -0.9770f};
  static const int64_t dims[3] = {2, 2, 2};
  int bad = 0;
  (void)state;
  bad += check_text("conv1d indent 0", x, 3, dims, 0,
                    "[[[ 0.6345,  0.2400],\n"
                    "  [-0.0122, -0.7956]],\n"
                    "\n"
                    " [[-0.4041, -1.0328],\n"
                    "  [ 0.2444, -0.9770]]]\n");
  bad += check_text("conv1d indent 7", x, 3, dims, 7,
                    "[[[ 0.6345,  0.2400],\n"
                    "         [-0.0122, -0.7956]],\n"
                    "\n"
                    "        [[-0.4041, -1.0328],\n"
                    "         [ 0.2444, -0.9770]]]\n");
  assert_int_equal(bad, 0);
}

/* One row each for the formatter's modes, as torch 1.13 prints them. */
static void test_tprint_modes(void **state) {
  static const struct {
    const char *label;
    int n;
    uint32_t bits[4];
    const char *want;
  } rows[] = {
      /* integral: int mode; -0. does not widen the column */
      {"int -0", 2, {0x80000000, 0x3f800000}, "[-0., 1.]\n"},
      /* nan and -inf get no "." */
      {"int nan inf",
       3,
       {0xff800000, 0x3f800000, 0x7fc00000},
       "[-inf, 1., nan]\n"},
      /* a nan with its sign bit set still prints as "nan" */
      {"neg nan", 2, {0xffc00000, 0x3fc00000}, "[   nan, 1.5000]\n"},
      /* float32(1e-4) is below 1e-4: sci mode */
      {"1e-4", 2, {0x38d1b717, 0x3d4ccccd}, "[1.0000e-04, 5.0000e-02]\n"},
      /* 9.99995f rounds up to 10.0000 and sets the width */
      {"round to 10", 2, {0x411fffcc, 0x3fc00000}, "[10.0000,  1.5000]\n"},
      /* exact binary ties round half to even */
      {"tie", 2, {0x3f840000, 0x40200000}, "[1.0312, 2.5000]\n"},
  };
  size_t i;
  int bad = 0;
  (void)state;
  for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    float x[4];
    int64_t dims[1];
    int j;
    for (j = 0; j < rows[i].n; j++)
      x[j] = float_of(rows[i].bits[j]);
    dims[0] = rows[i].n;
    bad += check_text(rows[i].label, x, 1, dims, 0, rows[i].want);
  }
  assert_int_equal(bad, 0);
}

/* torch.arange(1001.): summarized, int mode (max/min is exactly 1000). */
static void test_tprint_summarized_arange(void **state) {
  float x[1001];
  int64_t dims[1] = {1001};
  int i;
  (void)state;
  for (i = 0; i < 1001; i++)
    x[i] = (float)i;
  assert_int_equal(check_text("arange(1001.)", x, 1, dims, 7,
                              "[   0.,    1.,    2.,  ...,  998.,  999., "
                              "1000.]\n"),
                   0);
}

/* tprint writes what tprint_str returns. */
static void test_tprint_file(void **state) {
  static const float x[6] = {1.5f, -2.0f, 0.25f, 3.0f, 0.0f, -0.125f};
  static const int64_t dims[2] = {2, 3};
  char got[256];
  size_t n;
  FILE *f = tmpfile();
  (void)state;
  assert_non_null(f);
  tprint(f, x, 2, dims, 7);
  rewind(f);
  n = fread(got, 1, sizeof got - 1, f);
  got[n] = 0;
  fclose(f);
  assert_string_equal(got, "[[ 1.5000, -2.0000,  0.2500],\n"
                           "        [ 3.0000,  0.0000, -0.1250]]\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tprint_conv1d_tutorial),
      cmocka_unit_test(test_tprint_modes),
      cmocka_unit_test(test_tprint_summarized_arange),
      cmocka_unit_test(test_tprint_file),
      cmocka_unit_test(test_tprint_fixture),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
