/*
 * test_vector.c - the vector lowering of small 1-D models (compiler/kernels/vec1d.c)
 * on the values where its two paths could differ from PyTorch: NaN and
 * infinities through ReLU and a max pool fused into the convolution, and
 * the padding lanes of a channel count that is not a multiple of 8, which
 * must stay out of a following Linear even when an input is infinite
 * (0 * inf is NaN). Each model runs through TinyCC (the portable path),
 * through gcc -DMODELC_PORTABLE, and, on a CPU with AVX2 and FMA, through
 * gcc -march=native (the MC_V8_AVX2 intrinsics). The expected outputs are
 * PyTorch 1.13's, written down from running the same nn.Sequential.
 */
#include "testutil.h"

#include <dlfcn.h>
#include <math.h>
#include <unistd.h>

typedef struct Case {
  const char *name, *spec;
  const float *x;
  int nx;
  const float *want;
  int nwant;
  const char *lowering; /* a line `--explain` must print */
} Case;

/* Conv1d(1, 3, 1) with weights 1, -1, 2 and no bias; ReLU; MaxPool1d(2):
 * the pool is fused and takes its max before the ReLU. PyTorch:
 * [[[nan, nan, 0.0, 0.5, inf], [nan, nan, 3.0, 0.0, inf],
 *   [nan, nan, 0.0, 1.0, inf]]] */
static const char spec_nan[] =
    "return model \"vnan\" {\n"
    "  input = {1, 1, 10},\n"
    "  nn.Conv1d{1, 3, 1, bias = false, weight = {{{1}}, {{-1}}, {{2}}}},\n"
    "  nn.ReLU{},\n"
    "  nn.MaxPool1d{2},\n"
    "}\n";

/* Conv1d(1, 3, 1) all ones, MaxPool1d(2), Flatten, Linear(12, 1) all ones:
 * an infinite input makes the padding lanes 0 * inf = NaN before they are
 * zeroed; the Linear (a vector dot product) must still see only the 3
 * real channels. PyTorch: [[inf]] */
static const char spec_pad[] =
    "return model \"vpad\" {\n"
    "  input = {1, 1, 8},\n"
    "  nn.Conv1d{1, 3, 1, weight = {{{1}}, {{1}}, {{1}}}, bias = {0, 0, 0}},\n"
    "  nn.MaxPool1d{2},\n"
    "  nn.Flatten{},\n"
    "  nn.Linear{12, 1, weight = {{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},\n"
    "            bias = {0}},\n"
    "}\n";

static const float x_nan[10] = {NAN, 1, 2, NAN, -1, -3, 0.5f, -0.0f,
                                INFINITY, -INFINITY};
static const float x_pad[8] = {1, 2, INFINITY, 3, 4, 5, 6, 7};

static const float want_nan[15] = {NAN, NAN, 0.0f, 0.5f, INFINITY,
                                   NAN, NAN, 3.0f, 0.0f, INFINITY,
                                   NAN, NAN, 0.0f, 1.0f, INFINITY};
static const float want_pad[1] = {INFINITY};

static int same(float got, float want) {
  if (isnan(want)) return isnan(got);
  return got == want;
}

static void check(const char *how, const Case *c, const float *y) {
  for (int i = 0; i < c->nwant; i++)
    if (!same(y[i], c->want[i])) {
      print_error("%s %s: output %d is %g, PyTorch gives %g\n", c->name, how,
                  i, (double)y[i], (double)c->want[i]);
      fail();
    }
}

static void load(const Case *c, Model *m, Program *p, Generated *g) {
  Diag d;
  assert_int_equal(run_spec_text(c->name, c->spec, &d, m), 0);
  diag_free(&d);
  assert_int_equal(compile_default(m, p, &d), 0);
  EmitOptions o = {0};
  emit_program(p, &o, g);
  diag_free(&d);
  /* The model takes the vector lowering, with the lowering asked for. */
  assert_true(p->whole);
  char *explain = program_explain(p);
  if (!strstr(explain, c->lowering)) {
    print_error("%s: no '%s' in:\n%s", c->name, c->lowering, explain);
    fail();
  }
  free(explain);
}

/* Compile the file with gcc and `flags`, run it on c->x. */
static void run_gcc(const Case *c, const Generated *g, const char *flags,
                    float *y) {
  char dir[] = "/tmp/modelc_vector_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char *src = mc_format("%s/m.c", dir);
  FILE *f = fopen(src, "w");
  assert_non_null(f);
  fputs(g->c, f);
  fclose(f);
  char *cmd = mc_format("gcc -std=c99 -Wall -Wextra -pedantic -Werror -O2 "
                        "-fPIC -shared %s -o '%s/m.so' '%s' -lm", flags, dir,
                        src);
  assert_int_equal(system(cmd), 0);
  char *so = mc_format("%s/m.so", dir);
  void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  assert_non_null(h);
  ForwardFn fwd;
  void *sym = dlsym(h, g->fwd_ws);
  assert_non_null(sym);
  memcpy(&fwd, &sym, sizeof fwd);
  float ws[4096];
  fwd(c->x, y, ws);
  dlclose(h);
  free(so);
  free(cmd);
  free(src);
  test_rmdir(dir);
}

static void run_case(const Case *c) {
  Model m;
  Program p;
  Generated g;
  load(c, &m, &p, &g);
  float y[64];

  Diag d = {0};
  JitModel jm;
  assert_int_equal(jit_program(&p, &jm, &d), 0);
  float ws[4096];
  jm.fwd(c->x, y, ws);
  check("TinyCC", c, y);
  jit_model_free(&jm);
  diag_free(&d);

  run_gcc(c, &g, "-DMODELC_PORTABLE", y);
  check("gcc -DMODELC_PORTABLE", c, y);
  if (system("grep -q avx2 /proc/cpuinfo && grep -q ' fma ' /proc/cpuinfo") ==
      0) {
    run_gcc(c, &g, "-march=native", y);
    check("gcc -march=native (AVX2)", c, y);
  } else {
    printf("%s: no AVX2 and FMA here; the portable paths only\n", c->name);
  }
  generated_free(&g);
  program_free(&p);
  model_free(&m);
}

static void test_vector_nan_through_fused_pool(void **state) {
  (void)state;
  Case c = {"vnan.lua", spec_nan, x_nan, 10, want_nan, 15,
            "the pool that follows is fused, taking its max before the ReLU"};
  run_case(&c);
}

static void test_vector_padding_lanes_stay_out(void **state) {
  (void)state;
  Case c = {"vpad.lua", spec_pad, x_pad, 8, want_pad, 1, "vector dot"};
  run_case(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vector_nan_through_fused_pool),
      cmocka_unit_test(test_vector_padding_lanes_stay_out),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
