/* test_reference.c: the fast lowerings against the reference ones, with
 * no PyTorch: every example spec, model fixture, small 1-D fixture,
 * padding fixture, module model (tests/fixtures/modules) and the specs that
 * reach each fast kernel's corners (tests/fixtures/kernels/), built with
 * `--kernels fast` (for --target generic, cortex-m4 and cortex-m0) and
 * `--kernels reference`, all compiled in memory by
 * TinyCC and run on the same randn input, agree
 * within the SPEC's tolerance (1e-5 absolute + 1e-4 relative), NaN for
 * NaN; and where both add in the same order (the direct convolution and
 * the pools, unfused), bit for bit. */
#include "testutil.h"
#include "kernels/kernel.h"

#include <glob.h>
#include <math.h>

#include "torchrand.h"

static const char *const dirs[] = {"specs", "tests/fixtures/models",
                                   "tests/fixtures/tiny",
                                   "tests/fixtures/pad",
                                   "tests/fixtures/modules",
                                   "tests/fixtures/kernels"};

typedef struct Built {
  Model m;
  Program p;
  JitModel jm;
} Built;

static int build(const char *spec, KernelSet set, Target t, Built *b) {
  Diag d = {0};
  Limits lim = {0};
  memset(b, 0, sizeof *b);
  int r = spec_load(spec, &lim, &d, &b->m);
  if (r == 0) r = shape_infer(&b->m, &d);
  CompileOptions o = {t, set, 1, NULL};
  if (r == 0) r = compile_model(&b->m, &o, &b->p, &d);
  if (r == 0) r = jit_program(&b->p, &b->jm, &d);
  if (r) print_error("%s: %s\n", spec, d.text.s ? d.text.s : "");
  diag_free(&d);
  return r;
}

static void built_free(Built *b) {
  jit_model_free(&b->jm);
  program_free(&b->p);
  model_free(&b->m);
}

/* Does every op of the fast program add in the reference's order? */
static int same_order(const Program *p) {
  for (int i = 0; i < p->nops; i++) {
    if (!p->ops[i].kernel) return 0; /* fused into the op before it */
    const char *k = p->ops[i].kernel->name;
    if (strcmp(k, "conv-direct") && strcmp(k, "pool-taps") &&
        strcmp(k, "pool-inside") && strcmp(k, "pool-plane") &&
        strcmp(k, "map") &&
        strcmp(k, "softmax-loops") && strcmp(k, "adaptive-loops") &&
        strcmp(k, "batchnorm-loops") && strcmp(k, "pad-copy") &&
        strcmp(k, "pad-runs") &&
        strcmp(k, "binary") && strcmp(k, "cat") && strcmp(k, "mean"))
      return 0;
  }
  return 1;
}

/* The fast lowerings of each target; the cortex-m ones run here on the
 * host with the same arithmetic (fmaf, float) as on the device. */
static const Target targets[] = {TARGET_GENERIC, TARGET_CORTEX_M4,
                                 TARGET_CORTEX_M0};

static void test_reference_agrees_with_fast(void **state) {
  (void)state;
  int total = 0, exact = 0, ordered = 0, bad = 0;
  for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
    char *pat = mc_format("%s/*.lua", dirs[d]);
    glob_t g;
    if (glob(pat, 0, NULL, &g) != 0) fail_msg("no specs in %s", dirs[d]);
    for (size_t i = 0; i < g.gl_pathc; i++) {
      Built r;
      if (build(g.gl_pathv[i], KERNELS_REFERENCE, TARGET_GENERIC, &r))
        fail_msg("%s does not build", g.gl_pathv[i]);
      for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        Built f;
        if (build(g.gl_pathv[i], KERNELS_FAST, targets[t], &f))
          fail_msg("%s does not build for %s", g.gl_pathv[i],
                   target_names[targets[t]]);
        int64_t nin = f.jm.g.input_numel, nout = f.jm.g.output_numel;
        float *x = mc_alloc(sizeof(float) * (size_t)nin);
        float *y1 = mc_alloc(sizeof(float) * (size_t)nout);
        float *y2 = mc_alloc(sizeof(float) * (size_t)nout);
        void *w1 = mc_alloc((size_t)f.jm.g.workspace_bytes + 64);
        void *w2 = mc_alloc((size_t)r.jm.g.workspace_bytes + 64);
        TorchGen gen;
        tr_seed(&gen, 0);
        tr_randn(&gen, x, (size_t)nin);
        f.jm.fwd(x, y1, w1);
        r.jm.fwd(x, y2, w2);
        int ok = 1, same = memcmp(y1, y2, sizeof(float) * (size_t)nout) == 0;
        for (int64_t j = 0; j < nout && ok; j++) {
          double a = y1[j], b = y2[j];
          if (isnan(a) || isnan(b)) ok = isnan(a) && isnan(b);
          else ok = fabs(a - b) <= 1e-5 + 1e-4 * fabs(b);
          if (!ok)
            print_error("%s on %s: output %lld is %.9g fast, %.9g "
                        "reference\n", g.gl_pathv[i],
                        target_names[targets[t]], (long long)j, a, b);
        }
        int order = same_order(&f.p);
        if (order && !same) {
          print_error("%s on %s: the same order of additions, yet not the "
                      "same bits\n", g.gl_pathv[i], target_names[targets[t]]);
          ok = 0;
        }
        total++;
        exact += same;
        ordered += order;
        bad += !ok;
        free(x), free(y1), free(y2), free(w1), free(w2);
        built_free(&f);
      }
      built_free(&r);
    }
    globfree(&g);
    free(pat);
  }
  printf("%d models x targets (generic, cortex-m4, cortex-m0): the "
         "reference lowering agrees with the fast one on %d, bit for bit on "
         "%d (%d add in the same order)\n", total, total - bad, exact,
         ordered);
  assert_int_equal(bad, 0);
  assert_true(total > 1200);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reference_agrees_with_fast),
  };
  return cmocka_run_group_tests_name("reference", tests, NULL, NULL);
}
