/* test_limits.c: absurd but valid models are refused, not attempted.
 *
 * Each row runs the binary ($MODELC) on a spec in a scratch directory and
 * checks the exit status, the first error line `t.lua:LINE: error: ...`
 * (the offending layer's line, or the model's), the hint naming the option
 * that raises the limit, and, outside the sanitizers, that modelc's peak
 * RSS (from wait4) stayed under 100 MB: the refusal comes before any large
 * allocation. Rows with a raised limit check the option works. A second
 * test covers where a spec's `weights` path leads: relative to the spec's
 * directory, absolute as given, read only as a weights file. */
#define _DEFAULT_SOURCE /* wait4, realpath, mkfifo */
#include "testutil.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RSS_KB (100 * 1024)
#define MAX_SECONDS 5.0

/* Layers built by a Lua loop: N of them after the model line (line 2). */
#define LOOP(n)                                                   \
  "local t = {input = {1, 4}}\n"                                   \
  "for i = 1, " #n " do t[#t + 1] = nn.ReLU{} end\n"               \
  "return model \"t\" (t)\n"

static const struct {
  const char *name;
  const char *cmd;  /* modelc command and options before the spec */
  const char *spec; /* written to t.lua */
  int status;
  const char *want; /* in the first error line; NULL for status 0 */
  int line;
  const char *hint; /* in a hint line, or NULL */
} rows[] = {
    {"four billion parameters", "check",
     "return model \"t\" {\n  input = {1, 1, 10},\n  nn.Conv1d{1, 1e9, 3},\n}\n",
     1,
     "layer 0 (Conv1d): the layer has 4,000,000,000 parameters, more than "
     "the limit of 67,108,864",
     3, "raise the limit with --max-params N"},
    {"parameters summed over layers", "build -o gen",
     "return model \"t\" {\n  input = {1, 4},\n  nn.Linear{4, 8000},\n"
     "  nn.ReLU{},\n  nn.Linear{8000, 9000},\n}\n",
     1,
     "layer 2 (Linear): the layer has 72,009,000 parameters, which brings "
     "the model to 72,049,000, more than the limit of 67,108,864",
     5, "--max-params N"},
    {"--max-params and --max-activation-bytes raise them (check loads no "
     "weights)",
     "check --max-params 5000000000 --max-activation-bytes 40000000000",
     "return model \"t\" {\n  input = {1, 1, 10},\n  nn.Conv1d{1, 1e9, 3},\n}\n",
     0, NULL, 0, NULL},
    {"--max-params lowers it", "run --max-params 100",
     "return model \"t\" {\n  input = {1, 4},\n  nn.Linear{4, 100},\n}\n", 1,
     "the layer has 500 parameters, more than the limit of 100", 3,
     "--max-params N"},
    {"an input of 2^40 elements", "run",
     "return model \"t\" {\n  input = {1024, 1024, 1024, 1024},\n"
     "  nn.ReLU{},\n}\n",
     1,
     "model 't': the input [1024, 1024, 1024, 1024] takes "
     "4,398,046,511,104 bytes; the model needs 8,796,093,022,208 bytes of "
     "activation memory (workspace, input and output), more than the limit "
     "of 1,073,741,824",
     1, "--max-activation-bytes N"},
    {"an output of 25 GB", "run",
     "return model \"t\" {\n  input = {1, 1, 100000000},\n"
     "  nn.Conv1d{1, 64, 3, bias = false},\n  nn.ReLU{},\n"
     "  nn.AdaptiveAvgPool1d{1},\n}\n",
     1, "layer 0 (Conv1d): its output [1, 64, 99999998] takes 25,599,999,488 "
     "bytes; the model needs",
     3, "--max-activation-bytes N"},
    {"--max-activation-bytes lowers it", "check --max-activation-bytes 1000",
     "return model \"t\" {\n  input = {1, 1000},\n  nn.ReLU{},\n}\n", 1,
     "the model needs 8,000 bytes of activation memory", 1,
     "--max-activation-bytes N"},
    {"100,000 layers", "check", LOOP(100000), 1,
     "model 't' has 100,000 layers, more than the limit of 10,000", 3,
     "--max-layers N"},
    {"--max-layers raises it", "check --max-layers 12000", LOOP(12000), 0,
     NULL, 0, NULL},
    {"8 million unrolled taps", "build -o gen",
     "return model \"t\" {\n  input = {1, 1, 200, 200, 200},\n"
     "  nn.Conv3d{1, 1, 199, padding = 99},\n}\n",
     1, "layer 0 (Conv3d): the generated C, weights apart, would be about "
     "3,152,255,984 bytes",
     3, "--max-code-bytes N"},
    {"--max-code-bytes lowers it", "check --max-code-bytes 20000",
     "return model \"t\" {\n  input = {1, 1, 20},\n"
     "  nn.Conv1d{1, 1, 11, padding = 5},\n}\n",
     1, "the generated C, weights apart, would be about 20,784 bytes (12,592 "
     "for this layer), more than the limit of 20,000", 3,
     "--max-code-bytes N"},
    /* Sizes whose products would overflow int64 inside modelc. */
    {"a kernel of 2^93 taps", "check",
     "return model \"t\" {\n  input = {1, 1, 10, 10, 10},\n"
     "  nn.Conv3d{1, 1, 2147483647, padding = 1073741824},\n}\n",
     1, "its 'weight' of shape [1, 1, 2147483647, 2147483647, 2147483647] is "
     "too large", 3, NULL},
    {"a Linear of 2^62 weights", "check",
     "return model \"t\" {\n  input = {1, 2147483647},\n"
     "  nn.Linear{2147483647, 2147483647},\n}\n",
     1, "its 'weight' of shape [2147483647, 2147483647] is too large", 3,
     NULL},
    {"a padded sample of 2^96 elements", "check",
     "return model \"t\" {\n  input = {1, 1, 10, 10, 10},\n"
     "  nn.Conv3d{1, 1, 3, padding = 2147483647, stride = 2147483647,\n"
     "            padding_mode = \"replicate\"},\n}\n",
     1, "the padded input is too large (more than 2^40 elements per sample)",
     3, NULL},
    /* Weights files that declare gigabytes (written by setup). */
    {"a sparse weights file of 5 GiB", "build -o gen",
     "return model \"t\" {\n  input = {1, 4},\n"
     "  weights = \"sparse.safetensors\",\n  nn.Linear{4, 2},\n}\n",
     1, "weights file 'sparse.safetensors': its tensors hold 1342177280 "
     "values, more than the limit of 67108864", 1, "--max-params N"},
    {"a small weights file that declares 5 GiB", "run",
     "return model \"t\" {\n  input = {1, 4},\n"
     "  weights = \"lie.safetensors\",\n  nn.Linear{4, 2},\n}\n",
     1, "weights file 'lie.safetensors': tensor 'big': data_offsets [0, "
     "5368709120] reach past the end of the data", 1, NULL},
};

#define NROWS ((int)(sizeof rows / sizeof rows[0]))

static char modelc[4096];
static char tmpdir[64];

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) fail_msg("cannot write %s", path);
  fputs(text, f);
  fclose(f);
}

/* `cd DIR && modelc ARGS` (ARGS a shell fragment); the exit status (-1 if
 * killed), stderr, and the peak RSS in KB. */
static int run(const char *dir, const char *args, char **err, long *rss_kb,
               double *secs) {
  char *cmd = mc_format("cd '%s' && exec '%s' %s >'%s/out' 2>'%s/err'", dir,
                        modelc, args, tmpdir, tmpdir);
  double t0 = now();
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  int st;
  struct rusage ru;
  pid_t w = wait4(pid, &st, 0, &ru);
  *secs = now() - t0;
  *rss_kb = ru.ru_maxrss;
  free(cmd);
  char *p = mc_format("%s/err", tmpdir);
  *err = read_file(p, NULL);
  free(p);
  return w == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int has_line(const char *text, const char *prefix, const char *want) {
  for (const char *p = text; p && *p;) {
    const char *e = strchr(p, '\n');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    char *ln = mc_format("%.*s", (int)len, p);
    int ok = strncmp(ln, prefix, strlen(prefix)) == 0 && strstr(ln, want);
    free(ln);
    if (ok) return 1;
    p = e ? e + 1 : NULL;
  }
  return 0;
}

static void test_limits_rows(void **state) {
  (void)state;
  int failed = 0;
  for (int i = 0; i < NROWS; i++) {
    char *path = mc_format("%s/t.lua", tmpdir);
    write_text(path, rows[i].spec);
    free(path);
    char *args = mc_format("%s t.lua", rows[i].cmd), *err;
    long rss;
    double secs;
    int st = run(tmpdir, args, &err, &rss, &secs);
    char *prefix = mc_format("t.lua:%d: error: ", rows[i].line);
    char *hint = mc_format("t.lua:%d: hint: ", rows[i].line);
    const char *first = err ? err : "";
    char *why = NULL;
    if (st != rows[i].status)
      why = mc_format("exit status %d, want %d", st, rows[i].status);
    else if (rows[i].want && (strncmp(first, prefix, strlen(prefix)) != 0 ||
                              !has_line(first, prefix, rows[i].want)))
      why = mc_format("expected '%s...%s...'", prefix, rows[i].want);
    else if (rows[i].hint && !has_line(first, hint, rows[i].hint))
      why = mc_format("expected a line '%s...%s...'", hint, rows[i].hint);
    else if (!SANITIZED && rss > MAX_RSS_KB)
      why = mc_format("peak RSS %ld KB (limit %d KB)", rss, MAX_RSS_KB);
    else if (secs > MAX_SECONDS)
      why = mc_format("took %.2f s", secs);
    if (why) {
      print_error("row %d '%s' (modelc %s): %s\n    got:\n%.600s\n", i,
                  rows[i].name, args, why, first);
      failed++;
      free(why);
    }
    free(prefix);
    free(hint);
    free(args);
    free(err);
  }
  if (failed) fail_msg("%d of %d limit rows failed", failed, NROWS);
}

/* A spec's `weights` is relative to the spec's directory, absolute as
 * given, and read only as a .safetensors file: /etc/passwd, a directory
 * or a FIFO is a clear error at the model line, and nothing of the file
 * is echoed. */
static void test_limits_weights_paths(void **state) {
  (void)state;
  static const struct {
    const char *weights, *want;
  } cases[] = {
      {"/etc/passwd", "weights file '/etc/passwd': truncated file or not a "
                      "safetensors file"},
      {"../../x.safetensors", "weights file 'a/b/../../x.safetensors': "
                              "truncated file or not a safetensors file"},
      {"../../fifo", "weights file 'a/b/../../fifo': not a regular file"},
      {"..", "weights file 'a/b/..': not a regular file"},
      {"../../none", "weights file 'a/b/../../none': cannot open: no such "
                     "file"},
  };
  char *dir = mc_format("%s/a/b", tmpdir);
  char *cmd = mc_format("mkdir -p '%s'", dir);
  assert_int_equal(system(cmd), 0);
  free(cmd);
  char *x = mc_format("%s/x.safetensors", tmpdir);
  write_text(x, "root:x:0:0:root:/root:/bin/sh\n");
  free(x);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *spec = mc_format("return model \"w\" {\n  input = {1, 4},\n"
                           "  weights = \"%s\",\n  nn.Linear{4, 2},\n}\n",
                           cases[i].weights);
    char *path = mc_format("%s/w.lua", dir);
    write_text(path, spec);
    /* From the scratch directory, the spec as a/b/w.lua. */
    char *err, *want = mc_format("a/b/w.lua:1: error: %s", cases[i].want);
    long rss;
    double secs;
    int st = run(tmpdir, "build -o gen a/b/w.lua", &err, &rss, &secs);
    if (st != 1 || !err || strncmp(err, want, strlen(want)) != 0 ||
        strstr(err, "root:") || secs > MAX_SECONDS)
      fail_msg("weights = \"%s\": exit %d, want 1 and '%s'; got:\n%s",
               cases[i].weights, st, want, err ? err : "");
    free(err);
    free(want);
    free(spec);
    free(path);
  }
  char *gen = mc_format("%s/gen", tmpdir);
  assert_int_equal(access(gen, F_OK), -1); /* nothing was written */
  free(gen);
  free(dir);
}

/* A .safetensors file with one F32 tensor of n values, the data area
 * `data` bytes long (sparse when large). */
static void write_safetensors(const char *path, uint64_t n, uint64_t data) {
  char *h = mc_format("{\"big\": {\"dtype\": \"F32\", \"shape\": [%llu], "
                      "\"data_offsets\": [0, %llu]}}",
                      (unsigned long long)n, (unsigned long long)(n * 4));
  uint64_t hlen = strlen(h);
  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(hlen >> (8 * i));
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, len8, 8) != 8 ||
      write(fd, h, hlen) != (ssize_t)hlen ||
      ftruncate(fd, (off_t)(8 + hlen + data)) != 0)
    fail_msg("cannot write %s", path);
  close(fd);
  free(h);
}

static int setup(void **state) {
  (void)state;
  const char *m = getenv("MODELC");
  if (!m) m = "build/modelc";
  if (!realpath(m, modelc) || access(modelc, X_OK) != 0) {
    fprintf(stderr, "test_limits: no modelc binary at '%s' (set MODELC)\n",
            m);
    return -1;
  }
  alarm(300); /* a hang is a failure too */
  strcpy(tmpdir, "/tmp/modelc_limits_XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  uint64_t n = 5ull << 28; /* 5 GiB of float32 */
  char *p = mc_format("%s/sparse.safetensors", tmpdir);
  write_safetensors(p, n, n * 4);
  free(p);
  p = mc_format("%s/lie.safetensors", tmpdir);
  write_safetensors(p, n, 16);
  free(p);
  p = mc_format("%s/fifo", tmpdir);
  int r = mkfifo(p, 0644);
  free(p);
  return r;
}

static int teardown(void **state) {
  (void)state;
  return test_rmdir(tmpdir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_limits_rows),
      cmocka_unit_test(test_limits_weights_paths),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
