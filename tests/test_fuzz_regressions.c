/* test_fuzz_regressions.c: every input the fuzzers ever crashed on
 * (fuzz/regressions/TARGET/), and the seed corpora (fuzz/corpus/TARGET/),
 * replayed through the fuzz targets' own entry points, which this file
 * includes, so `make test` guards the fixes without clang or libFuzzer.
 * A broken invariant fails the test with the target's message; a crash
 * is a crash, as under the fuzzer. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS in fuzz_codegen.c */
#endif
#include "testutil.h"

#include <dirent.h>

#define FUZZ_REPLAY
#define FUZZ_FAIL(...)        \
  do {                        \
    print_error(__VA_ARGS__); \
    print_error("\n");        \
    fail();                   \
  } while (0)

#include "../fuzz/fuzz_codegen.c"
#include "../fuzz/fuzz_comment.c"
#include "../fuzz/fuzz_npy.c"
#include "../fuzz/fuzz_safetensors.c"
#include "../fuzz/fuzz_spec.c"

typedef int (*FuzzOne)(const uint8_t *data, size_t size);

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay every regular file in dir (sorted); returns how many. A missing
 * directory replays nothing. */
static int replay_dir(const char *dir, FuzzOne one, int verbose) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  char **names = NULL;
  int n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      names = mc_realloc(names, sizeof *names * (size_t)cap);
    }
    names[n++] = mc_format("%s/%s", dir, e->d_name);
  }
  closedir(d);
  if (n > 1) qsort(names, (size_t)n, sizeof *names, cmp_names);
  int done = 0;
  for (int i = 0; i < n; i++) {
    size_t len;
    char *data = read_file(names[i], &len);
    if (data) { /* a subdirectory reads as NULL or empty: skip it */
      if (verbose) print_message("   %s (%zu bytes)\n", names[i], len);
      one((const uint8_t *)data, len);
      done++;
    }
    free(data);
    free(names[i]);
  }
  free(names);
  return done;
}

static void replay(const char *target, FuzzOne one, int corpus) {
  char *dir = mc_format("fuzz/%s/%s", corpus ? "corpus" : "regressions",
                        target);
  int n = replay_dir(dir, one, !corpus);
  print_message("   %d inputs from %s\n", n, dir);
  if (corpus) assert_true(n > 0); /* the seed corpora are committed */
  free(dir);
}

static void test_regressions_spec(void **s) {
  (void)s;
  replay("spec", fuzz_spec_one, 0);
}
static void test_regressions_safetensors(void **s) {
  (void)s;
  replay("safetensors", fuzz_safetensors_one, 0);
}
static void test_regressions_npy(void **s) {
  (void)s;
  replay("npy", fuzz_npy_one, 0);
}
static void test_regressions_codegen(void **s) {
  (void)s;
  replay("codegen", fuzz_codegen_one, 0);
}
static void test_corpus_spec(void **s) {
  (void)s;
  replay("spec", fuzz_spec_one, 1);
}
static void test_corpus_safetensors(void **s) {
  (void)s;
  replay("safetensors", fuzz_safetensors_one, 1);
}
static void test_corpus_npy(void **s) {
  (void)s;
  replay("npy", fuzz_npy_one, 1);
}
static void test_corpus_codegen(void **s) {
  (void)s;
  replay("codegen", fuzz_codegen_one, 1);
}

static void test_corpus_comment(void **s) {
  (void)s;
  replay("comment", fuzz_comment_one, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_regressions_spec),
      cmocka_unit_test(test_regressions_safetensors),
      cmocka_unit_test(test_regressions_npy),
      cmocka_unit_test(test_regressions_codegen),
      cmocka_unit_test(test_corpus_spec),
      cmocka_unit_test(test_corpus_safetensors),
      cmocka_unit_test(test_corpus_npy),
      cmocka_unit_test(test_corpus_codegen),
      cmocka_unit_test(test_corpus_comment),
  };
  return cmocka_run_group_tests_name("fuzz regressions", tests, NULL, NULL);
}
