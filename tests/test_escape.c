/* test_escape.c: no spec text becomes code.
 *
 * Spec text (layer names, which are also weight keys, the spec path, the
 * weights path, the layer text) reaches the generated C only inside
 * comments, through mc_comment_text. The property: for thousands of random
 * byte strings in each of those places, the generated file after gcc's own
 * preprocessor (-std=c99, so trigraphs and line splices are live; comments
 * removed; directives kept with -dD) is identical to the file generated
 * with plain text there. */
#include "testutil.h"

#include <stdlib.h>
#include <unistd.h>

/* The models and the places: shared with the fuzz target. */
#define FUZZ_REPLAY
#include "../fuzz/fuzz_comment.c"

#ifndef NRANDOM
#define NRANDOM 2000
#endif

/* ---------------------------------------------------- random byte text */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 11);
}

/* 1 to 40 bytes, every value 1..255 possible, half of them drawn from the
 * characters that can steer C from inside a comment. `avoid` is a byte the
 * place refuses (0 for none). */
static char *random_text(int avoid) {
  static const char hot[] = "*/\\?\n\r#\"";
  int n = 1 + (int)(rnd() % 40);
  char *s = malloc((size_t)n + 1);
  for (int i = 0; i < n; i++) {
    int c;
    do
      c = rnd() % 2 ? hot[rnd() % (sizeof hot - 1)] : (int)(1 + rnd() % 255);
    while (c == avoid);
    s[i] = (char)c;
  }
  s[n] = 0;
  return s;
}

/* --------------------------------------------------- mc_comment_text */

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* The rendering's own promises, and that it can be read back. */
static void check_rendering(const char *s) {
  char *r = mc_comment_text(s);
  size_t n = strlen(r);
  Buf back = {0};
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)r[i];
    if (c < 0x20 || c > 0x7e) fail_msg("byte 0x%02x in '%s'", c, r);
    if (c == '\\') {
      if (r[i + 1] != 'x' || hexval(r[i + 2]) < 0 || hexval(r[i + 3]) < 0)
        fail_msg("a backslash that is no \\xHH escape in '%s'", r);
      buf_printf(&back, "%c", hexval(r[i + 2]) * 16 + hexval(r[i + 3]));
      i += 3;
      continue;
    }
    if (i + 1 < n && ((c == '*' && r[i + 1] == '/') ||
                      (c == '/' && r[i + 1] == '*') ||
                      (c == '?' && r[i + 1] == '?')))
      fail_msg("'%c%c' in '%s'", c, r[i + 1], r);
    buf_printf(&back, "%c", c);
  }
  if (n && strchr("*?", r[0])) fail_msg("'%s' starts with '%c'", r, r[0]);
  if (n && strchr("*/?", r[n - 1])) fail_msg("'%s' ends with '%c'", r, r[n - 1]);
  if (strcmp(back.s ? back.s : "", s) != 0)
    fail_msg("'%s' reads back as something else", r);
  buf_free(&back);
  free(r);
}

static void test_comment_text_examples(void **state) {
  (void)state;
  static const char *const rows[][2] = {
      {"conv1", "conv1"},
      {"features.0", "features.0"},
      {"specs/a b/m.lua", "specs/a b/m.lua"},
      {"/work/specs/m.lua", "/work/specs/m.lua"},
      {"dir/", "dir\\x2f"},
      {"a*/b", "a*\\x2fb"},
      {"a/*b", "a\\x2f*b"},
      {"*/", "\\x2a\\x2f"},
      {"x\\", "x\\x5c"},
      {"a\nb\r", "a\\x0ab\\x0d"},
      {"?\?/", "\\x3f\\x3f\\x2f"}, {"a?\?=b", "a?\\x3f=b"},
      {"why?", "why\\x3f"},
      {"caf\xc3\xa9", "caf\\xc3\\xa9"},
      {"#include <x>", "#include <x>"},
      {"", ""},
  };
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
    char *r = mc_comment_text(rows[i][0]);
    if (strcmp(r, rows[i][1]) != 0)
      fail_msg("row %zu: got '%s', want '%s'", i, r, rows[i][1]);
    free(r);
  }
}

static void test_comment_text_every_byte(void **state) {
  (void)state;
  char s[4] = {0};
  for (int a = 1; a < 256; a++) {
    s[0] = (char)a;
    s[1] = 0;
    check_rendering(s);
    for (int b = 1; b < 256; b++) {
      s[1] = (char)b;
      check_rendering(s);
    }
  }
  for (int i = 0; i < 20000; i++) {
    char *t = random_text(0);
    check_rendering(t);
    free(t);
  }
}

/* ------------------------------------- the generated C, preprocessed */

#define CHUNK_END "#define MC_TEST_CHUNK_END 1\n"

/* Blanks are no tokens: gcc keeps a line's indentation only while it
 * tracks columns, which it stops doing in a file this large. Strip each
 * line's leading and trailing blanks and make every run of blanks one. */
static void normalize_space(char *s) {
  char *o = s;
  int at_start = 1, blank = 0;
  for (char *p = s; *p; p++) {
    if (*p == ' ' || *p == '\t') {
      blank = 1;
      continue;
    }
    if (*p == '\n') {
      *o++ = '\n';
      at_start = 1, blank = 0;
      continue;
    }
    if (blank && !at_start) *o++ = ' ';
    *o++ = *p;
    at_start = 0, blank = 0;
  }
  *o = 0;
}

/* Preprocess `text` (chunks, each ended by CHUNK_END) as the C compiler
 * does under -std=c99, with <math.h> an empty file in `dir`, and compare
 * every chunk with the first. Returns 0 if all are the same, else the
 * number of the first chunk that differs; -1 if gcc failed or the count
 * is not `nchunks`. */
static int compare_chunks(const char *dir, const char *text, int nchunks) {
  char *stub = mc_format("%s/math.h", dir), *src = mc_format("%s/all.c", dir);
  char *out = mc_format("%s/all.i", dir);
  FILE *f = fopen(stub, "w");
  assert_non_null(f);
  fclose(f);
  f = fopen(src, "w");
  assert_non_null(f);
  fputs(CHUNK_END, f); /* after gcc's predefined macros */
  fputs(text, f);
  fclose(f);
  char *cmd = mc_format("gcc -std=c99 -E -P -dD -nostdinc -I '%s' -x c '%s' "
                        "-o '%s'", dir, src, out);
  int r = system(cmd) == 0 ? 0 : -1;
  char *pp = r == 0 ? read_file(out, NULL) : NULL;
  if (pp) normalize_space(pp);
  char *first = pp ? strstr(pp, CHUNK_END) : NULL;
  if (!first) r = -1;
  int k = 0;
  if (r == 0) {
    char *c0 = first + strlen(CHUNK_END), *end0 = strstr(c0, CHUNK_END);
    size_t len0 = end0 ? (size_t)(end0 - c0) : 0;
    for (char *p = c0, *end; (end = strstr(p, CHUNK_END)) != NULL; k++) {
      size_t n = (size_t)(end - p);
      if (r == 0 && (n != len0 || memcmp(c0, p, n) != 0)) r = k;
      p = end + strlen(CHUNK_END);
    }
    if (k != nchunks) r = -1;
  }
  free(pp);
  free(cmd);
  free(stub);
  free(src);
  free(out);
  return r;
}

static void check_place(CmPlace at) {
  char dir[] = "/tmp/modelc_escape_XXXXXX";
  assert_non_null(mkdtemp(dir));
  Buf all = {0};
  char *plain = NULL;
  char **texts = calloc(NRANDOM, sizeof *texts);
  for (int k = 0; k <= NRANDOM; k++) { /* chunk 0: plain text */
    if (k) texts[k - 1] = random_text(at == AT_SPEC_PATH || at ==
                                      AT_WEIGHTS_PATH ? 0 : '.');
    char *c = cm_generate(at, k ? texts[k - 1] : NULL);
    if (!c) {
      char *shown = mc_comment_text(texts[k - 1]);
      fail_msg("%s: the spec refused '%s'", cm_place_name[at], shown);
    }
    /* the same verdict from the fuzz target's own phases 1-3 */
    char *stripped = cm_strip(c);
    assert_non_null(stripped);
    if (!plain) plain = stripped;
    else if (strcmp(stripped, plain) != 0)
      fail_msg("%s: cm_strip sees a change with text %d", cm_place_name[at],
               k);
    else free(stripped);
    buf_printf(&all, "%s\n" CHUNK_END, c);
    free(c);
  }
  int r = compare_chunks(dir, all.s, NRANDOM + 1);
  if (r != 0) {
    char *shown = r > 0 ? mc_comment_text(texts[r - 1]) : NULL;
    fail_msg("%s: %s%s (files kept in %s)", cm_place_name[at],
             r > 0 ? "the C, comments removed, changes with the text "
                   : "gcc failed on the generated files",
             shown ? shown : "", dir);
  }
  test_rmdir(dir);
  for (int i = 0; i < NRANDOM; i++) free(texts[i]);
  free(texts);
  free(plain);
  buf_free(&all);
}

static void test_escape_layer_names(void **state) {
  (void)state;
  check_place(AT_LAYER_NAMES);
}
static void test_escape_vector_names(void **state) {
  (void)state;
  check_place(AT_VECTOR_NAMES);
}
static void test_escape_spec_path(void **state) {
  (void)state;
  check_place(AT_SPEC_PATH);
}
static void test_escape_weights_path(void **state) {
  (void)state;
  check_place(AT_WEIGHTS_PATH);
}
static void test_escape_module_paths(void **state) {
  (void)state;
  check_place(AT_MODULE_PATHS);
}

/* The comparison can fail: text let out of a comment, a line splice and a
 * trigraph splice (live under -std=c99) each change the preprocessed file,
 * and an escaped rendering of the same text does not. */
static void test_escape_check_can_fail(void **state) {
  (void)state;
  static const char *const attacks[] = {
      "/* n */ int evil; /* */\nint a;\n",
      "/* n */ // \\\nint a;\n",
      "/* n */ // ?\?/\nint a;\n",
  };
  char dir[] = "/tmp/modelc_escape_XXXXXX";
  assert_non_null(mkdtemp(dir));
  for (size_t i = 0; i < sizeof attacks / sizeof *attacks; i++) {
    char *text = mc_format("/* n */\nint a;\n" CHUNK_END "%s" CHUNK_END,
                           attacks[i]);
    assert_int_equal(compare_chunks(dir, text, 2), 1);
    free(text);
  }
  char *r1 = mc_comment_text(" */ int evil; /* "), *r2 = mc_comment_text("\\");
  char *r3 = mc_comment_text("?\?/");
  char *text = mc_format("/* n */\nint a;\n" CHUNK_END "/* %s */\nint a;\n"
                         CHUNK_END "/* %s */\nint a;\n" CHUNK_END
                         "/* %s */\nint a;\n" CHUNK_END, r1, r2, r3);
  assert_int_equal(compare_chunks(dir, text, 4), 0);
  free(text);
  free(r1);
  free(r2);
  free(r3);
  test_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_comment_text_examples),
      cmocka_unit_test(test_comment_text_every_byte),
      cmocka_unit_test(test_escape_check_can_fail),
      cmocka_unit_test(test_escape_layer_names),
      cmocka_unit_test(test_escape_vector_names),
      cmocka_unit_test(test_escape_spec_path),
      cmocka_unit_test(test_escape_weights_path),
      cmocka_unit_test(test_escape_module_paths),
  };
  return cmocka_run_group_tests_name("escape", tests, NULL, NULL);
}
