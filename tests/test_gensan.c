/* test_gensan.c: the generated C has no undefined behaviour, whatever the
 * input.
 *
 * Every example spec (specs/NAME.lua), every model of the random
 * fixture (tests/fixtures/models/NAME.lua) and of the module fixture
 * (tests/fixtures/modules/NAME.lua, branching graphs) goes spec -> shapes -> weights ->
 * emitted C in process; each file is compiled with gcc -O1 and
 * AddressSanitizer + UndefinedBehaviorSanitizer (any UB aborts; float to
 * int conversions out of range too) into an executable with a small
 * driver, two at a time, and run. The driver gives NAME_forward_ws
 * buffers of exactly the sizes the header states (so ASan sees one float
 * past them) and runs it on five inputs: random values, all NaN, all
 * +Inf, all -Inf, and a mix of NaN, infinities, the largest floats,
 * denormals and signed zeros; then NAME_forward once. It must exit 0; the
 * output may be anything, NaN included. A failure prints the spec and the
 * sanitizer's report. */
#include "testutil.h"

#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

/* -g is left out: it doubled the compile time, and the reports still
 * name the function and the line of the generated file. */
#define SANFLAGS                                                       \
  "-std=c99 -O1 -fno-omit-frame-pointer -fsanitize=address,undefined," \
  "float-cast-overflow -fno-sanitize-recover=all"

static char workdir[64];

/* The driver for model `name` (header macros NAME_*). */
static char *driver_text(const char *name) {
  char up[256];
  size_t n = strlen(name);
  if (n >= sizeof up) n = sizeof up - 1;
  for (size_t i = 0; i < n; i++)
    up[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
  up[n] = 0;
  return mc_format(
      "#include <math.h>\n"
      "#include <float.h>\n"
      "#include <stdint.h>\n"
      "#include <stdlib.h>\n"
      "#include <string.h>\n"
      "#include \"%s.h\"\n"
      "static uint32_t rng = 12345;\n"
      "static float next(void) {\n"
      "  rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;\n"
      "  return (float)(rng %% 20001) / 10000.0f - 1.0f;\n"
      "}\n"
      "static float mixed(size_t i) {\n"
      "  static const float v[] = {NAN, INFINITY, -INFINITY, FLT_MAX,\n"
      "    -FLT_MAX, 1e-45f, -1e-45f, 1e-40f, FLT_MIN, 0.0f, -0.0f, 1.0f,\n"
      "    -NAN, 3e38f, -2.5f, 1e30f};\n"
      "  return v[(i * 7 + i / 3) %% (sizeof v / sizeof v[0])];\n"
      "}\n"
      "int main(void) {\n"
      "  size_t n = %s_INPUT_SIZE, m = %s_OUTPUT_SIZE;\n"
      "  float *x = malloc(n * sizeof(float));\n"
      "  float *y = malloc(m * sizeof(float));\n"
      "  void *ws = malloc(%s_WORKSPACE_SIZE > 0 ? %s_WORKSPACE_SIZE : 1);\n"
      "  if (!x || !y || !ws) return 2;\n"
      "  for (int k = 0; k < 5; k++) {\n"
      "    for (size_t i = 0; i < n; i++)\n"
      "      x[i] = k == 0 ? next() * 3.0f : k == 1 ? NAN : k == 2 ?\n"
      "             INFINITY : k == 3 ? -INFINITY : mixed(i);\n"
      "    memset(ws, 0xa5, %s_WORKSPACE_SIZE > 0 ? %s_WORKSPACE_SIZE : 1);\n"
      "    %s_forward_ws(x, y, ws);\n"
      "  }\n"
      "  %s_forward(x, y);\n"
      "  free(x); free(y); free(ws);\n"
      "  return 0;\n"
      "}\n",
      name, up, up, up, up, up, up, name, name);
}

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  fputs(text, f);
  return fclose(f);
}

/* Spec paths: every example spec, every fixture and module model. */
static void find_specs(char ***out, int *n) {
  glob_t g;
  *n = 0;
  *out = mc_alloc(sizeof(char *) * 2048);
  if (glob("specs/*.lua", 0, NULL, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc && *n < 1024; i++)
      (*out)[(*n)++] = mc_strdup(g.gl_pathv[i]);
    globfree(&g);
  }
  const char *dirs[] = {"tests/fixtures/models/*.lua",
                        "tests/fixtures/modules/*.lua"};
  for (int k = 0; k < 2; k++)
    if (glob(dirs[k], 0, NULL, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc && *n < 2048; i++)
        (*out)[(*n)++] = mc_strdup(g.gl_pathv[i]);
      globfree(&g);
    }
}

static void test_gensan_models(void **state) {
  (void)state;
  char **specs;
  int n;
  find_specs(&specs, &n);
  assert_true(n > 13);
  Buf list = {0};
  char **names = mc_alloc(sizeof(char *) * (size_t)n);
  for (int i = 0; i < n; i++) {
    Diag d = {0};
    Limits lim = {0}; /* every limit at its default */
    Model m;
    Program p = {0};
    int r = spec_load(specs[i], &lim, &d, &m);
    if (r == 0) r = shape_infer(&m, &d);
    if (r == 0) r = compile_default(&m, &p, &d);
    if (r) {
      print_error("%s: %s\n", specs[i], d.text.s ? d.text.s : "");
      fail_msg("spec %s does not build", specs[i]);
    }
    diag_free(&d);
    Generated g;
    EmitOptions eo = {.version = "test"};
    emit_program(&p, &eo, &g);
    names[i] = mc_strdup(m.name);
    char *cp = mc_format("%s/%s.c", workdir, m.name);
    char *hp = mc_format("%s/%s.h", workdir, m.name);
    char *dp = mc_format("%s/%s_main.c", workdir, m.name);
    char *drv = driver_text(m.name);
    assert_int_equal(write_file(cp, g.c), 0);
    assert_int_equal(write_file(hp, g.h), 0);
    assert_int_equal(write_file(dp, drv), 0);
    buf_printf(&list, "%012zu %s\n", strlen(g.c), m.name);
    free(cp);
    free(hp);
    free(dp);
    free(drv);
    generated_free(&g);
    program_free(&p);
    model_free(&m);
  }
  char *lp = mc_format("%s/models.txt", workdir);
  assert_int_equal(write_file(lp, list.s), 0);
  free(lp);
  buf_free(&list);
  /* Compile and run, two at a time, the largest files first; NAME.log
   * holds what went wrong. */
  char *cmd = mc_format(
      "cd '%s' && sort -r models.txt | cut -d' ' -f2 > order.txt && "
      "xargs -P 2 -I{} sh -c 'gcc " SANFLAGS
      " {}.c {}_main.c -o {}.exe -lm >{}.log 2>&1 && "
      "ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 "
      "UBSAN_OPTIONS=print_stacktrace=1 ./{}.exe >>{}.log 2>&1 || "
      "echo {} >>failed.txt' < order.txt",
      workdir);
  int r = system(cmd);
  free(cmd);
  assert_int_equal(r, 0);
  char *fp = mc_format("%s/failed.txt", workdir);
  char *failed = read_file(fp, NULL);
  free(fp);
  int nfailed = 0;
  for (char *p = failed; p && *p;) {
    char *e = strchr(p, '\n');
    if (e) *e = 0;
    const char *spec = "?";
    for (int i = 0; i < n; i++)
      if (strcmp(names[i], p) == 0) spec = specs[i];
    char *log = mc_format("%s/%s.log", workdir, p);
    char *text = read_file(log, NULL);
    print_error("%s (model '%s'): compiled with sanitizers, it failed:\n"
                "%.3000s\n", spec, p, text ? text : "(no log)");
    free(text);
    free(log);
    nfailed++;
    p = e ? e + 1 : p + strlen(p);
  }
  free(failed);
  printf("gensan: %d models compiled with ASan+UBSan and run on random, "
         "NaN, +Inf, -Inf and mixed inputs; %d failed\n", n, nfailed);
  for (int i = 0; i < n; i++) {
    free(specs[i]);
    free(names[i]);
  }
  free(specs);
  free(names);
  if (nfailed) fail_msg("%d generated models have undefined behaviour", nfailed);
}

static int setup(void **state) {
  (void)state;
  strcpy(workdir, "/tmp/modelc_gensan_XXXXXX");
  return mkdtemp(workdir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  return test_rmdir(workdir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gensan_models),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
