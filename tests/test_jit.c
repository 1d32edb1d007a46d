/*
 * test_jit.c - compiling C in memory with TinyCC: results, bound symbols,
 * defines, error messages and their lines, leaks, page protections, the
 * cost of binding a large weight array, and the host microkernels that
 * the code modelc run compiles calls (jit_kernels.c): they resolve, they
 * give gcc's bits on models whose ops take them, and a kernel that adds
 * in another order is caught.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dlfcn.h>

#include "jit.h"
#include "jit_kernels.h"
#include "modelc.h"
#include "kernels/kernel.h"

/* ------------------------------------------------------------- helpers */

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Compiles src, failing the test with TinyCC's messages if it does not. */
static Jit *compile_ok(const char *src, const char *const *defines,
                       const JitSymbol *syms, int nsyms) {
  char *err = NULL;
  Jit *j = jit_compile(src, "gen.c", defines, syms, nsyms, &err);
  if (j == NULL) {
    print_error("unexpected compile error:\n%s\n", err ? err : "(none)");
    free(err);
    fail();
  }
  assert_null(err);
  return j;
}

/* Compiling src must fail; returns the message (free it). */
static char *compile_fails(const char *src, const char *const *defines) {
  char *err = NULL;
  Jit *j = jit_compile(src, "gen.c", defines, NULL, 0, &err);
  if (j != NULL) {
    jit_free(j);
    print_error("compiled, but should not have:\n%s\n", src);
    fail();
  }
  assert_non_null(err);
  return err;
}

/* got[i] within atol + rtol * |want[i]|, NaN only against NaN. */
static void assert_allclose(const float *got, const float *want, int n,
                            double atol, double rtol) {
  int i, bad = -1;
  double worst = 0;
  for (i = 0; i < n; i++) {
    double d = fabs((double)got[i] - want[i]);
    int ok = isnan(want[i])
                 ? isnan(got[i])
                 : !isnan(got[i]) && d <= atol + rtol * fabs(want[i]);
    if (!ok && bad < 0) bad = i;
    if (d > worst) worst = d;
  }
  if (bad >= 0) {
    print_error("index %d: got %.9g, want %.9g (worst difference %.9g)\n", bad,
                got[bad], want[bad], worst);
    fail();
  }
}

/* The permissions ("r-xp") of the mapping holding addr, from
   /proc/self/maps; "" if none does. */
static void perms_of(const void *addr, char perms[8]) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  unsigned long lo, hi, a = (unsigned long)(uintptr_t)addr;
  perms[0] = 0;
  assert_non_null(f);
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && a >= lo && a < hi)
      break;
    else
      perms[0] = 0;
  fclose(f);
}

/* ------------------------------------------------------------- results */

static const char *math_src =
    "float expf(float); float erff(float); float tanhf(float);\n"
    "float expm1f(float);\n"
    "\n"
    "/* y[i] = a mix of libm calls on x[i] */\n"
    "void kernel(float *restrict y, const float *restrict x, int n) {\n"
    "  for (int i = 0; i < n; i++) {\n"
    "    float v = x[i];\n"
    "    y[4 * i + 0] = expf(v);\n"
    "    y[4 * i + 1] = 0.5f * v * (1.0f + erff(v * 0.70710678f));\n"
    "    y[4 * i + 2] = tanhf(v);\n"
    "    y[4 * i + 3] = expm1f(v) - v * v;\n"
    "  }\n"
    "}\n";

static void test_jit_floats_and_libm(void **state) {
  (void)state;
  float x[5] = {-3.5f, -0.25f, 0.0f, 1e-3f, 2.75f}, y[20], want[20];
  Jit *j = compile_ok(math_src, NULL, NULL, 0);
  void (*kernel)(float *, const float *, int);
  int i;
  *(void **)&kernel = jit_symbol(j, "kernel");
  assert_non_null(kernel);
  assert_null(jit_symbol(j, "no_such_function"));
  kernel(y, x, 5);
  for (i = 0; i < 5; i++) {
    float v = x[i];
    want[4 * i + 0] = expf(v);
    want[4 * i + 1] = 0.5f * v * (1.0f + erff(v * 0.70710678f));
    want[4 * i + 2] = tanhf(v);
    want[4 * i + 3] = expm1f(v) - v * v;
  }
  assert_allclose(y, want, 20, 0, 1e-6);
  jit_free(j);
}

static void test_jit_bound_symbol(void **state) {
  (void)state;
  static const float w[4] = {0.5f, -2.0f, 3.25f, 8.0f};
  JitSymbol sym = {"w", w};
  Jit *j = compile_ok("extern const float w[4];\n"
                      "float dot(const float *x) {\n"
                      "  float s = 0;\n"
                      "  for (int i = 0; i < 4; i++) s += w[i] * x[i];\n"
                      "  return s;\n"
                      "}\n"
                      "const float *where(void) { return w; }\n",
                      NULL, &sym, 1);
  float x[4] = {1, 2, 3, 4};
  float (*dot)(const float *);
  const float *(*where)(void);
  *(void **)&dot = jit_symbol(j, "dot");
  *(void **)&where = jit_symbol(j, "where");
  assert_non_null(dot);
  assert_ptr_equal(where(), w); /* bound, not copied */
  assert_true(dot(x) == 0.5f - 4.0f + 9.75f + 32.0f);
  jit_free(j);
}

static void test_jit_defines(void **state) {
  (void)state;
  const char *const defs[] = {"N=3", "SCALE=2.5f", "FLAG", "EMPTY=", NULL};
  Jit *j = compile_ok("float f(void) { return N * SCALE + FLAG EMPTY; }\n",
                      defs, NULL, 0);
  float (*f)(void);
  *(void **)&f = jit_symbol(j, "f");
  assert_true(f() == 8.5f);
  jit_free(j);
}

static void test_jit_bad_defines(void **state) {
  (void)state;
  static const struct {
    const char *def, *want;
  } rows[] = {
      {"1N=2", "define '1N=2': the name is not a C identifier"},
      {"A B", "define 'A B': the name is not a C identifier"},
      {"=3", "the name is not a C identifier"},
      {"F(x)=x", "define 'F(x)=x': the name is not a C identifier"},
      {"A=1\n#error boom", "define 'A': the value holds a line break"},
  };
  size_t i;
  for (i = 0; i < sizeof rows / sizeof *rows; i++) {
    const char *defs[] = {rows[i].def, NULL};
    char *err = compile_fails("int f(void) { return 1; }\n", defs);
    if (strstr(err, rows[i].want) == NULL || strncmp(err, "gen.c: ", 7)) {
      print_error("define \"%s\": got \"%s\", want \"%s\"\n", rows[i].def, err,
                  rows[i].want);
      free(err);
      fail();
    }
    free(err);
  }
}

/* ------------------------------------------------------------- errors */

/* Each row: source, the line the mistake is on, a part of the message.
   TinyCC itself names a later line in most of them (see jit.c). */
static const struct {
  const char *src;
  int line;
  const char *want;
} error_rows[] = {
    {"int f(void) { return q; }\n", 1, "'q' undeclared"},
    {"int a;\nint b = 1\nint c;\n", 2, "';' expected (got \"int\")"},
    {"int f(void) {\n  return 1\n}\n", 2, "';' expected (got \"}\")"},
    {"int f(void) {\n  int x = 0\n  /* note */\n\n  return x;\n}\n", 2,
     "';' expected"},
    {"int f(int a) {\n  return (a + 1;\n}\n", 2, "')' expected (got \";\")"},
    {"int f(int a) {\n  int b = (a + 1\n  ;\n  return b;\n}\n", 2,
     "')' expected"},
    {"float f(float x) {\n  return x * 2.0f 3;\n}\n", 2, "';' expected"},
    {"int f(void) {\n  return zz;\n}\n", 2, "'zz' undeclared"},
    {"int f(void) {\n  int x;\n  x = y\n  ;\n  return x;\n}\n", 3,
     "'y' undeclared"},
    {"int a;\nint b = ;\nint d;\n", 2, "identifier expected"},
    {"int a;\nint b =\n;\nint d;\n", 3, "identifier expected"},
    {"int f(void) {\n  int x;\n  x = 1 +\n  ;\n  return x;\n}\n", 4,
     "identifier expected"},
    {"int f(void) {\n  return 1;\n", 2, "error:"},
    {"int f(void) {\n  /* open\n  return 1;\n}\n", 2, "end of file in comment"},
    {"int f(void) {\n  char *s = \"abc;\n  return 1;\n}\n", 2,
     "missing terminating"},
    {"int f(void) {\n  int *p = 1;\n  return q;\n}\n", 3, "'q' undeclared"},
    {"int a;\n#include <no_such_header.h>\n", 2,
     "'#include': the JIT compiles one self-contained file and reads no "
     "other"},
    {"int f(void) {\n  struct S { int a; } s;\n  return s + 1;\n}\n", 3,
     "invalid operand types"},
};

static void test_jit_error_lines(void **state) {
  (void)state;
  size_t i;
  int failed = 0;
  for (i = 0; i < sizeof error_rows / sizeof *error_rows; i++) {
    const char *src = error_rows[i].src, *p = src;
    char *err = compile_fails(src, NULL), at[64], shown[256];
    int k;
    size_t n;
    for (k = 1; k < error_rows[i].line; k++)
      p = strchr(p, '\n') + 1;
    n = strcspn(p, "\n");
    snprintf(at, sizeof at, "gen.c:%d: error:", error_rows[i].line);
    snprintf(shown, sizeof shown, "\n%4d | %.*s", error_rows[i].line, (int)n,
             p);
    if (!strstr(err, at) || !strstr(err, error_rows[i].want) ||
        !strstr(err, shown) || strstr(err, "<string>")) {
      print_error("row %zu: got\n%s\nwant \"%s\", \"%s\" and \"%s\"\n", i, err,
                  at, error_rows[i].want, shown + 1);
      failed = 1;
    }
    free(err);
  }
  if (failed) fail();
}

static void test_jit_undefined_symbol(void **state) {
  (void)state;
  char *err =
      compile_fails("float g(float);\nfloat f(float x) { return g(x); }\n", 0);
  assert_non_null(strstr(err, "gen.c: error: undefined symbol 'g'"));
  free(err);
}

/* The JIT links no C library: a call of anything outside its allowlist
   is refused at link time, naming the function, before any code runs. */
static void test_jit_refuses_libc(void **state) {
  (void)state;
  static const char *const calls[][2] = {
      {"int system(const char *);\n"
       "int f(void) { return system(\"touch jit-ran-system\"); }\n",
       "system"},
      {"void *fopen(const char *, const char *);\n"
       "int f(void) { return fopen(\"/etc/passwd\", \"r\") != 0; }\n",
       "fopen"},
      {"int printf(const char *, ...);\nint f(void) { return printf(\"x\"); }\n",
       "printf"},
      {"void *dlsym(void *, const char *);\n"
       "int f(void) { return dlsym(0, \"system\") != 0; }\n",
       "dlsym"},
  };
  size_t i;
  for (i = 0; i < sizeof calls / sizeof *calls; i++) {
    char want[64];
    char *err = compile_fails(calls[i][0], NULL);
    snprintf(want, sizeof want, "gen.c: error: undefined symbol '%s'",
             calls[i][1]);
    if (!strstr(err, want) ||
        !strstr(err, "note: the JIT links no C library; it resolves only "
                     "expf, expm1f, logf, tanhf, erff, fmaf, sqrt, memcpy, "
                     "memset, memmove, mcj_conv_block, mcj_linear_axpy, mcj_combine16, mcj_copy")) {
      print_error("row %zu: got\n%s\nwant \"%s\" and the note\n", i, err,
                  want);
      fail();
    }
    free(err);
  }
  assert_int_equal(access("jit-ran-system", F_OK), -1);
}

/* What the allowlist holds does resolve, to the host's functions. */
static void test_jit_allowlist_resolves(void **state) {
  (void)state;
  const char *src =
      "typedef __SIZE_TYPE__ size_t;\n"
      "float expf(float); float expm1f(float); float logf(float);\n"
      "float tanhf(float); float erff(float); double sqrt(double);\n"
      "float fmaf(float, float, float);\n"
      "void *memcpy(void *, const void *, size_t);\n"
      "void *memset(void *, int, size_t);\n"
      "void *memmove(void *, const void *, size_t);\n"
      "void f(float *y, float x) {\n"
      "  float t[4] = {1, 2, 3, 4};\n"
      "  y[0] = expf(x); y[1] = expm1f(x); y[2] = logf(x); y[3] = tanhf(x);\n"
      "  y[4] = erff(x); y[5] = (float)sqrt(x); y[6] = fmaf(x, x, 1.0f);\n"
      "  memcpy(y + 7, t, sizeof t); memmove(y + 8, y + 7, 2 * sizeof *y);\n"
      "  memset(y + 11, 0, sizeof *y);\n"
      "}\n";
  Jit *j = compile_ok(src, NULL, NULL, 0);
  void (*f)(float *, float);
  float y[12], x = 0.75f;
  float want[12] = {expf(x),  expm1f(x), logf(x), tanhf(x),
                    erff(x),  (float)sqrt(x), fmaf(x, x, 1.0f),
                    1, 1, 2,  4, 0};
  *(void **)&f = jit_symbol(j, "f");
  assert_non_null(f);
  memset(y, 0xFF, sizeof y);
  f(y, x);
  assert_memory_equal(y, want, sizeof y);
  jit_free(j);
}

/* The code modelc generates reads no file, splices no line and holds no
   trigraph: a source that does is refused before TinyCC sees it. */
static void test_jit_refuses_directives(void **state) {
  (void)state;
  static const struct {
    const char *src, *want;
  } rows[] = {
      {"#include \"/etc/passwd\"\n", "gen.c:1: error: '#include': the JIT"},
      {"int a;\n  #  include </etc/hostname>\n",
       "gen.c:2: error: '#include'"},
      {"int a;\n%:include \"x.h\"\n", "gen.c:2: error: '#include'"},
      {"#import \"x.h\"\n", "gen.c:1: error: '#import': the JIT"},
      {"/* a *\\\n/ int system(const char *); */\n",
       "gen.c:1: error: a backslash at the end of a line: the JIT compiles no "
       "line splices"},
      {"int a;\n/* ?\?/\n*/\n", "gen.c:2: error: '?\?': the JIT compiles no "
                              "trigraphs"},
  };
  size_t i;
  for (i = 0; i < sizeof rows / sizeof *rows; i++) {
    char *err = compile_fails(rows[i].src, NULL);
    if (!strstr(err, rows[i].want)) {
      print_error("row %zu: got\n%s\nwant \"%s\"\n", i, err, rows[i].want);
      fail();
    }
    free(err);
  }
}

static void test_jit_null_symbol(void **state) {
  (void)state;
  JitSymbol sym = {"w", NULL};
  char *err = NULL;
  Jit *j =
      jit_compile("extern const float w[1];\n", "gen.c", NULL, &sym, 1, &err);
  assert_null(j);
  assert_non_null(strstr(err, "symbol 0 ('w') is bound to NULL"));
  free(err);
}

static void test_jit_bound_and_defined(void **state) {
  (void)state;
  static const int host = 7;
  JitSymbol sym = {"w", &host};
  char *err = NULL;
  Jit *j = jit_compile("int w = 1;\nint get(void) { return w; }\n", "gen.c",
                       NULL, &sym, 1, &err);
  assert_null(j);
  assert_non_null(strstr(err, "gen.c: error: symbol 'w' is bound, but the "
                              "source defines it too"));
  free(err);
}

static void test_jit_after_failure(void **state) {
  (void)state;
  char *err = compile_fails("int f(void) { return ; + }\n", NULL);
  Jit *a, *b;
  int (*fa)(void), (*fb)(void);
  free(err);
  a = compile_ok("int f(void) { return 1; }\n", NULL, NULL, 0);
  err = compile_fails("int g(void) { return @; }\n", NULL);
  free(err);
  b = compile_ok("int f(void) { return 2; }\n", NULL, NULL, 0);
  *(void **)&fa = jit_symbol(a, "f");
  *(void **)&fb = jit_symbol(b, "f");
  assert_int_equal(fa(), 1);
  assert_int_equal(fb(), 2);
  jit_free(a);
  jit_free(b);
  assert_null(jit_compile("int f(void) { return q; }\n", "gen.c", NULL, NULL, 0,
                          NULL)); /* err may be NULL */
}

/* Run under `make test SANITIZE=1` (LeakSanitizer) or valgrind: any leak
   per compile shows up 200 times. */
static void test_jit_compile_200_times(void **state) {
  (void)state;
  float w[3] = {1, 2, 3};
  JitSymbol sym = {"w", w};
  int i;
  for (i = 0; i < 200; i++) {
    char *err = NULL;
    const char *src = i % 10 == 9 ? "float f(void) { return w[1] +; }\n"
                                  : "extern const float w[3];\n"
                                    "float f(void) { return w[1] + 1; }\n";
    Jit *j = jit_compile(src, "gen.c", NULL, &sym, 1, &err);
    if (i % 10 == 9) {
      assert_null(j);
      assert_non_null(err);
    } else {
      float (*f)(void);
      assert_non_null(j);
      *(void **)&f = jit_symbol(j, "f");
      assert_true(f() == 3.0f);
    }
    free(err);
    jit_free(j);
  }
}

/* ------------------------------------------------- memory protections */

static void test_jit_code_not_writable(void **state) {
  (void)state;
  char perms[8];
  Jit *j = compile_ok("static const float t[2] = {1.5f, 2.5f};\n"
                      "float f(int i) { return t[i]; }\n"
                      "const float *table(void) { return t; }\n",
                      NULL, NULL, 0);
  float (*f)(int);
  const float *(*table)(void);
  *(void **)&f = jit_symbol(j, "f");
  *(void **)&table = jit_symbol(j, "table");
  assert_true(f(1) == 2.5f);
  perms_of(*(void **)&f, perms);
  assert_string_equal(perms, "r-xp");
  perms_of(table(), perms);
  assert_true(perms[1] == '-'); /* const data is not writable either */
  jit_free(j);
}

/* Writable globals break the contract: reading one works, a write faults
   (checked in a child process). */
static void test_jit_writable_global_faults(void **state) {
  (void)state;
  Jit *j = compile_ok("int counter = 41;\n"
                      "int get(void) { return counter; }\n"
                      "void bump(void) { counter++; }\n",
                      NULL, NULL, 0);
  int (*get)(void);
  void (*bump)(void);
  int status = 0;
  pid_t pid;
  *(void **)&get = jit_symbol(j, "get");
  *(void **)&bump = jit_symbol(j, "bump");
  assert_int_equal(get(), 41);
  fflush(NULL);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) { /* no cmocka handler; quiet: ASan reports the SEGV */
    FILE *out = freopen("/dev/null", "w", stdout);
    FILE *errs = freopen("/dev/null", "w", stderr);
    (void)out;
    (void)errs;
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    bump();
    _exit(0);
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  jit_free(j);
}

/* ---------------------------------------------------------------- cost */

static void test_jit_million_floats_bound(void **state) {
  (void)state;
  enum { N = 1000000 };
  float *w = malloc(N * sizeof *w);
  JitSymbol sym = {"weights", NULL};
  double (*sum)(void), want = 0, t0, t1;
  Jit *j;
  int i;
  assert_non_null(w);
  for (i = 0; i < N; i++)
    w[i] = (float)((i % 1000) - 499) * 0.25f;
  for (i = 0; i < N; i++)
    want += w[i];
  sym.addr = w;
  t0 = now_ms();
  j = compile_ok("extern const float weights[1000000];\n"
                 "double sum(void) {\n"
                 "  double s = 0;\n"
                 "  for (int i = 0; i < 1000000; i++) s += weights[i];\n"
                 "  return s;\n"
                 "}\n",
                 NULL, &sym, 1);
  t1 = now_ms();
  *(void **)&sum = jit_symbol(j, "sum");
  assert_true(sum() == want);
  printf("   compile+relocate, 1,000,000-float array bound: %.2f ms "
         "(sum %.1f)\n",
         t1 - t0, want);
  jit_free(j);
  free(w);
}

/* A 200-line file of straight-line float code. */
static void test_jit_200_lines_time(void **state) {
  (void)state;
  size_t cap = 200 * 80, len = 0;
  char *src = malloc(cap);
  double t0, t1, best = 1e9;
  Jit *j;
  int i, rep;
  assert_non_null(src);
  len += (size_t)sprintf(src + len, "float f(const float *x) {\n"
                                    "  float a = x[0], b = x[1];\n");
  for (i = 0; i < 196; i++)
    len += (size_t)sprintf(src + len, "  a = a * 0.5f + b * %d.0f - x[%d];\n",
                           i % 7, i % 4);
  len += (size_t)sprintf(src + len, "  return a;\n}\n");
  assert_true(len < cap);
  for (rep = 0; rep < 5; rep++) {
    t0 = now_ms();
    j = compile_ok(src, NULL, NULL, 0);
    t1 = now_ms();
    if (t1 - t0 < best) best = t1 - t0;
    assert_non_null(jit_symbol(j, "f"));
    jit_free(j);
  }
  printf("   compile+relocate, 200-line file: %.2f ms (best of 5)\n", best);
  free(src);
}

/* ------------------------------------------------- host microkernels */

/* The microkernels as the JIT's source declares them resolve to modelc's
   functions and compute their documented sums: a 2-channel convolution
   block with 2 taps over 20 positions, and a Linear row. */
static void test_jit_microkernels_resolve(void **state) {
  (void)state;
  char *src = mc_format(
      "%s"
      "static const int taps[4] = {1, 0, 0, 1};\n"
      "void conv(float *y, const float *x, const float *w, const float *b) {\n"
      "  mcj_conv_block(y, x, w, b, taps, 2, 2, 2, 3, 24, 20, 0, 20, 20, 20, "
      "1);\n"
      "}\n"
      "void lin(float *y, const float *x, const float *w, const float *b) {\n"
      "  mcj_linear_axpy(y, x, w, b, 5, 19);\n"
      "}\n",
      mcj_prototypes);
  Jit *j = compile_ok(src, NULL, NULL, 0);
  void (*conv)(float *, const float *, const float *, const float *);
  void (*lin)(float *, const float *, const float *, const float *);
  *(void **)&conv = jit_symbol(j, "conv");
  *(void **)&lin = jit_symbol(j, "lin");
  assert_non_null(conv);
  assert_non_null(lin);
  float x[48], w[12], b[3] = {0.5f, -0.25f, 2.0f}, y[60], want[60];
  for (int i = 0; i < 48; i++) x[i] = (float)((i * 37) % 11) / 7.0f - 0.6f;
  for (int i = 0; i < 12; i++) w[i] = (float)((i * 5) % 7) / 3.0f - 1.0f;
  /* channel j, position p: b[j], then c = 0, 1 with tap (1, 0) before
     (0, 1); ReLU */
  for (int jj = 0; jj < 3; jj++)
    for (int p = 0; p < 20; p++) {
      float acc = b[jj];
      for (int c = 0; c < 2; c++) {
        acc = w[(c * 2 + 0) * 3 + jj] * x[c * 24 + 1 + p] + acc;
        acc = w[(c * 2 + 1) * 3 + jj] * x[c * 24 + 0 + p] + acc;
      }
      want[jj * 20 + p] = acc < 0.0f ? 0.0f : acc;
    }
  memset(y, 0xFF, sizeof y);
  conv(y, x, w, b);
  assert_memory_equal(y, want, sizeof y);
  float lw[5 * 19], lb[19];
  for (int i = 0; i < 5 * 19; i++) lw[i] = (float)((i * 13) % 17) / 9.0f - 0.9f;
  for (int o = 0; o < 19; o++) {
    lb[o] = (float)o / 8.0f - 1.0f;
    float acc = lb[o];
    for (int i = 0; i < 5; i++) acc = x[i] * lw[i * 19 + o] + acc;
    want[o] = acc;
  }
  memset(y, 0xFF, sizeof y);
  lin(y, x, lw, lb);
  assert_memory_equal(y, want, 19 * sizeof *y);
  jit_free(j);
  free(src);
}

/* Test doubles bound in place of the microkernels (same-length names, so
   the JIT's source is only renamed): the documented sums, in their order
   or with the terms taken in reverse. */
static int reverse_order;

static void any_conv_block(float *y, const float *x, const float *w,
                           const float *b, const int *tap, int nc, int nt,
                           int kw, int width, long xs, long ys, int p0, int p1,
                           int iw, int ow, int relu) {
  for (int j = 0; j < width; j++)
    for (int p = p0; p < p1; p++) {
      int col = p % iw;
      if (col >= ow) continue;
      float acc = b ? b[j] : 0.0f;
      for (int i = 0; i < nc; i++)
        for (int k = 0; k < nt; k++) {
          int c = reverse_order ? nc - 1 - i : i;
          int q = reverse_order ? nt - 1 - k : k;
          acc = w[((long)c * kw + tap[2 * q + 1]) * width + j] *
                    x[c * xs + tap[2 * q] + p] + acc;
        }
      y[j * ys + (p / iw) * ow + col] = relu && acc < 0.0f ? 0.0f : acc;
    }
}

static void any_linear_axpy(float *y, const float *x, const float *w,
                            const float *b, int in, int out) {
  for (int o = 0; o < out; o++) {
    float acc = b ? b[o] : 0.0f;
    for (int k = 0; k < in; k++) {
      int i = reverse_order ? in - 1 - k : k;
      acc = x[i] * w[(long)i * out + o] + acc;
    }
    y[o] = acc;
  }
}

static void any_combine16(float *y, long ys, long ls, const float *x,
                          const long *xo, const float *a, int nq, int n,
                          const float *b, int relu) {
  for (int q = 0; q < nq; q++)
    for (int l = 0; l < 16; l++) {
      float s = 0.0f;
      int first = 1;
      for (int k = 0; k < n; k++) {
        int i = reverse_order ? n - 1 - k : k;
        float c = a[q * n + i], m = c < 0 ? -c : c, t = x[xo[i] + l];
        if (c == 0) continue;
        if (m != 1) t = m * t;
        s = first ? (c < 0 ? -t : t) : (c < 0 ? s - t : s + t);
        first = 0;
      }
      if (b) s = s + b[0];
      y[q * ys + l * ls] = relu && s < 0.0f ? 0.0f : s;
    }
}

/* One model: the spec's C built by gcc (-O1 -ffp-contract=off, as
   test_models builds it) and run; the JIT's stand-ins, how many. */
typedef struct StandIn {
  Model m;
  Program p;
  int nstand; /* ops with a jit_kernel */
  float *x, *want;
  int64_t nin, nout;
  void *ws;
} StandIn;

static void stand_in_open(StandIn *s, const char *spec) {
  Diag d = {0};
  Limits lim = {0};
  memset(s, 0, sizeof *s);
  int r = spec_load_string("stand_in.lua", spec, strlen(spec), &lim, &d, &s->m);
  if (r == 0) r = shape_infer(&s->m, &d);
  CompileOptions o = {TARGET_GENERIC, KERNELS_FAST, 1, NULL};
  if (r == 0) r = compile_model(&s->m, &o, &s->p, &d);
  if (r != 0) print_error("%s\n%s\n", spec, d.text.s ? d.text.s : "");
  diag_free(&d);
  assert_int_equal(r, 0);
  for (int i = 0; i < s->p.nops; i++) s->nstand += s->p.ops[i].jit_kernel != 0;
  s->nin = shape_numel(&s->m.input);
  s->x = malloc(sizeof(float) * (size_t)s->nin);
  for (int64_t i = 0; i < s->nin; i++) /* signs and magnitudes mixed */
    s->x[i] = (float)((i * 7919) % 1009) / 300.0f - 1.7f;
  s->ws = malloc((size_t)s->p.workspace_bytes + 64);
  /* gcc's build of the generated file */
  Generated g;
  EmitOptions eo = {.version = "test"};
  emit_program(&s->p, &eo, &g);
  s->nout = g.output_numel;
  s->want = malloc(sizeof(float) * (size_t)s->nout);
  char dir[] = "/tmp/modelc_jitXXXXXX";
  assert_non_null(mkdtemp(dir));
  char *c = mc_format("%s/m.c", dir), *so = mc_format("%s/m.so", dir);
  FILE *f = fopen(c, "w");
  assert_non_null(f);
  fputs(g.c, f);
  fclose(f);
  char *cmd = mc_format("gcc -std=c99 -O1 -ffp-contract=off -fPIC -shared "
                        "-o '%s' '%s' -lm", so, c);
  int rc = system(cmd);
  void *h = rc == 0 ? dlopen(so, RTLD_NOW | RTLD_LOCAL) : NULL;
  void *fwd = h ? dlsym(h, g.fwd_ws) : NULL;
  if (fwd) {
    void (*run)(const float *, float *, void *);
    memcpy(&run, &fwd, sizeof run);
    run(s->x, s->want, s->ws);
  }
  if (h) dlclose(h);
  char *rm = mc_format("rm -rf '%s'", dir);
  if (system(rm) != 0) print_error("could not remove %s\n", dir);
  free(rm), free(cmd), free(c), free(so);
  generated_free(&g);
  assert_non_null(fwd);
}

static void stand_in_close(StandIn *s) {
  program_free(&s->p);
  model_free(&s->m);
  free(s->x), free(s->want), free(s->ws);
}

/* The JIT's output; with a double bound under `bad` (the name of a
   microkernel with its prefix changed), through that double. */
static float *stand_in_run(StandIn *s, const char *real, const char *bad,
                           void *fn) {
  float *y = malloc(sizeof(float) * (size_t)s->nout);
  memset(y, 0xFF, sizeof(float) * (size_t)s->nout);
  if (!real) {
    JitModel jm;
    Diag d = {0};
    int r = jit_program(&s->p, &jm, &d);
    if (r) print_error("%s\n", d.text.s);
    diag_free(&d);
    assert_int_equal(r, 0);
    jm.fwd(s->x, y, s->ws);
    jit_model_free(&jm);
    return y;
  }
  Generated g;
  EmitOptions eo = {.jit = 1};
  emit_program(&s->p, &eo, &g);
  for (char *at = g.c; (at = strstr(at, real)) != NULL; at++)
    memcpy(at, bad, strlen(bad)); /* same length */
  JitSymbol *syms = malloc(sizeof(JitSymbol) * (size_t)(g.nparams + 1));
  for (int i = 0; i < g.nparams; i++)
    syms[i].name = g.params[i]->name, syms[i].addr = g.params[i]->data;
  syms[g.nparams].name = bad, syms[g.nparams].addr = fn;
  char *err = NULL;
  Jit *j = jit_compile(g.c, "bad.c", NULL, syms, g.nparams + 1, &err);
  if (!j) print_error("%s\n", err);
  void *f = j ? jit_symbol(j, g.fwd_ws) : NULL;
  if (f) {
    ForwardFn fwd;
    memcpy(&fwd, &f, sizeof fwd);
    fwd(s->x, y, s->ws);
  }
  free(err), free(syms);
  jit_free(j);
  generated_free(&g);
  assert_non_null(f);
  return y;
}

/* Models whose convolutions and Linears take the JIT's stand-ins, one of
   each way the blocked tiles take their taps, the im2col and pointwise
   layouts, the Winograd multiplies, the axpy and GEMM Linears: the JIT
   gives gcc's bits. */
static const struct {
  const char *spec;
  int nstand; /* ops that take a stand-in */
} stand_in_models[] = {
    /* 1-D, stride 1, a border of direct loops (the padded copy would be
       over 64 K floats), 16 + 4 output channels, ReLU */
    {"return model 'a' { input = {1, 4, 20000}, seed = 1,"
     " nn.Conv1d{4, 20, 3, padding = 1}, nn.ReLU{} }", 1},
    /* stride phases r then m (no padding), a BatchNorm folded */
    {"return model 'b' { input = {1, 2, 4003}, seed = 2,"
     " nn.Conv1d{2, 8, 8, stride = 4}, nn.BatchNorm1d{8}, nn.ReLU{} }", 1},
    /* stride and padding: taps in k order through the phases, a border */
    {"return model 'c' { input = {1, 3, 3000}, seed = 3,"
     " nn.Conv1d{3, 10, 5, stride = 2, padding = 2} }", 1},
    /* groups, no bias, two samples */
    {"return model 'd' { input = {2, 4, 50}, seed = 4,"
     " nn.Conv1d{4, 8, 3, groups = 2, bias = false}, nn.ReLU{} }", 1},
    /* 2-D by rows (stride 2 along y), a border */
    {"return model 'e' { input = {1, 2, 17, 40}, seed = 5,"
     " nn.Conv2d{2, 5, 3, stride = {2, 1}, padding = 1}, nn.ReLU{} }", 1},
    /* 2-D rows laid out as wide as the input's, then Linears (axpy) with
       and without bias, over 3 rows */
    {"return model 'f' { input = {3, 3, 18, 18}, seed = 6,"
     " nn.Conv2d{3, 6, 5}, nn.ReLU{}, nn.MaxPool2d{2}, nn.Flatten{},"
     " nn.Linear{294, 70}, nn.ReLU{}, nn.Linear{70, 20, bias = false} }", 3},
    /* strided 2-D, blocked: short rows through the planes copied per tap
       column, 110 positions, the ReLU after; uneven kernel and strides,
       blocks of 16 and 8, no bias; rows of 32 through the stride phases
       of the padded input, two samples */
    {"return model 'g' { input = {1, 3, 21, 20}, seed = 7,"
     " nn.Conv2d{3, 16, 3, stride = 2, padding = 1}, nn.ReLU{} }", 1},
    {"return model 'h' { input = {1, 2, 12, 12}, seed = 8,"
     " nn.Conv2d{2, 24, {3, 2}, stride = {1, 2}, bias = false} }", 1},
    {"return model 'm' { input = {2, 3, 33, 64}, seed = 11,"
     " nn.Conv2d{3, 24, 3, stride = 2, padding = 1}, nn.ReLU{} }", 1},
    /* dilated strided 2-D as a matrix multiply (im2col) */
    {"return model 'n' { input = {1, 2, 20, 20}, seed = 10,"
     " nn.Conv2d{2, 16, 3, stride = 2, dilation = 2}, nn.ReLU{} }", 1},
    /* 1x1 convolutions as a matrix multiply (pointwise): blocks of 8
       channels, no bias, ReLU6, two samples; then blocks of 16 on a 6 x 6
       plane (channels in the vectors under gcc), a Sigmoid */
    {"return model 'j' { input = {2, 6, 9, 9}, seed = 10,"
     " nn.Conv2d{6, 24, 1, bias = false}, nn.ReLU6{}, nn.Conv2d{24, 32, 1} }",
     2},
    {"return model 'k' { input = {1, 16, 6, 6}, seed = 11,"
     " nn.Conv2d{16, 32, 1}, nn.Sigmoid{} }", 1},
    /* Linears over 8 rows and more (GEMM): 10 rows, 40 and 33 outputs */
    {"return model 'i' { input = {2, 5, 50}, seed = 9,"
     " nn.Linear{50, 40}, nn.Tanh{}, nn.Linear{40, 33} }", 2},
    /* Winograd's matrix multiplies, two samples, 32 output channels, the
       ReLU after */
    {"return model 'l' { input = {2, 16, 8, 16}, seed = 12,"
     " nn.Conv2d{16, 32, 3, padding = 1}, nn.ReLU{} }", 1},
    /* 1-D Winograd, its transforms and multiplies: F(4, 3) over 25 tiles
       (the last group cut at the 100th output), two samples, the ReLU
       after; F(2, 5) without a bias */
    {"return model 'o' { input = {2, 32, 100}, seed = 13,"
     " nn.Conv1d{32, 32, 3, padding = 1}, nn.ReLU{} }", 1},
    {"return model 'p' { input = {1, 32, 64}, seed = 14,"
     " nn.Conv1d{32, 48, 5, padding = 2, bias = false} }", 1},
    /* depthwise: the sums per channel on the host; stride 1 with a
       ReLU6, stride 2 through the phases with no bias and a Hardswish,
       1-D of 5 taps over two samples */
    {"return model 'r' { input = {1, 8, 14, 14}, seed = 16,"
     " nn.Conv2d{8, 8, 3, padding = 1, groups = 8}, nn.ReLU6{} }", 1},
    {"return model 's' { input = {1, 6, 15, 20}, seed = 17,"
     " nn.Conv2d{6, 6, 3, stride = 2, padding = 1, groups = 6,"
     " bias = false}, nn.Hardswish{} }", 1},
    {"return model 't' { input = {2, 4, 40}, seed = 18,"
     " nn.Conv1d{4, 4, 5, padding = 2, groups = 4} }", 1},
    /* F(4, 3) then a Tanh: every group through the stores */
    {"return model 'q' { input = {1, 32, 64}, seed = 15,"
     " nn.Conv1d{32, 32, 3, padding = 1}, nn.Tanh{} }", 1},
};

static void test_jit_stand_ins_match_gcc(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof stand_in_models / sizeof *stand_in_models;
       i++) {
    StandIn s;
    stand_in_open(&s, stand_in_models[i].spec);
    float *y = stand_in_run(&s, NULL, NULL, NULL);
    int same = memcmp(y, s.want, sizeof(float) * (size_t)s.nout) == 0;
    if (!same || s.nstand != stand_in_models[i].nstand)
      print_error("%s: %d stand-ins (want %d), %s gcc's bits\n",
                  stand_in_models[i].spec, s.nstand,
                  stand_in_models[i].nstand, same ? "equals" : "differs from");
    free(y);
    stand_in_close(&s);
    assert_true(same);
    assert_int_equal(s.nstand, stand_in_models[i].nstand);
  }
}

/* The test would see a microkernel that adds in another order: bound in
   its place, the documented order gives gcc's bits and the reverse order
   does not. */
static void test_jit_stand_in_order_matters(void **state) {
  (void)state;
  typedef void (*AnyFn)(void);
  static const struct {
    const char *real, *bad;
    AnyFn fn;
    int model; /* of stand_in_models */
  } doubles[] = {
      {"mcj_conv_block", "bad_conv_block", (AnyFn)any_conv_block, 5},
      {"mcj_conv_block", "bad_conv_block", (AnyFn)any_conv_block, 9},
      {"mcj_linear_axpy", "bad_linear_axpy", (AnyFn)any_linear_axpy, 5},
      {"mcj_combine16", "bad_combine16", (AnyFn)any_combine16, 14},
      {"mcj_conv_block", "bad_conv_block", (AnyFn)any_conv_block, 16},
      {"mcj_combine16", "bad_combine16", (AnyFn)any_combine16, 13}};
  int ok = 1;
  for (int k = 0; k < (int)(sizeof doubles / sizeof *doubles); k++) {
    StandIn s; /* blocked conv and Linears; im2col */
    stand_in_open(&s, stand_in_models[doubles[k].model].spec);
    for (reverse_order = 0; reverse_order < 2; reverse_order++) {
      void *fn;
      memcpy(&fn, &doubles[k].fn, sizeof fn); /* POSIX: same size */
      float *y = stand_in_run(&s, doubles[k].real, doubles[k].bad, fn);
      int same = memcmp(y, s.want, sizeof(float) * (size_t)s.nout) == 0;
      if (same == reverse_order) {
        print_error("%s in %s order: %s gcc's bits\n", doubles[k].real,
                    reverse_order ? "reverse" : "its", same ? "equals"
                                                            : "differs from");
        ok = 0;
      }
      free(y);
    }
    stand_in_close(&s);
  }
  reverse_order = 0;
  assert_true(ok);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_jit_floats_and_libm),
      cmocka_unit_test(test_jit_bound_symbol),
      cmocka_unit_test(test_jit_defines),
      cmocka_unit_test(test_jit_bad_defines),
      cmocka_unit_test(test_jit_error_lines),
      cmocka_unit_test(test_jit_undefined_symbol),
      cmocka_unit_test(test_jit_refuses_libc),
      cmocka_unit_test(test_jit_allowlist_resolves),
      cmocka_unit_test(test_jit_refuses_directives),
      cmocka_unit_test(test_jit_null_symbol),
      cmocka_unit_test(test_jit_bound_and_defined),
      cmocka_unit_test(test_jit_after_failure),
      cmocka_unit_test(test_jit_compile_200_times),
      cmocka_unit_test(test_jit_code_not_writable),
      cmocka_unit_test(test_jit_writable_global_faults),
      cmocka_unit_test(test_jit_million_floats_bound),
      cmocka_unit_test(test_jit_200_lines_time),
      cmocka_unit_test(test_jit_microkernels_resolve),
      cmocka_unit_test(test_jit_stand_ins_match_gcc),
      cmocka_unit_test(test_jit_stand_in_order_matters),
  };
  return cmocka_run_group_tests_name("jit", tests, NULL, NULL);
}
