/* test_chunk.c: a batch too large for the cache runs in passes of a chunk
 * (compiler/chunk.c). The decision for each kind of model, read from the
 * compiled program: the samples per pass and the reason --explain prints;
 * a batch whose samples an op combines (unbatched convolution, softmax
 * over dim 0, a mean or cat along it) runs whole. Then a chunked model's
 * entry point: the caller's whole batch in and out, the workspace of one
 * chunk, and each sample's output the one the model gives that sample
 * alone. (tests/fixtures/modules/NAME_chunked and specs/lenet5_batch.lua
 * check chunked models against PyTorch.) */
#include "testutil.h"

#include <math.h>

typedef struct Row {
  const char *spec;   /* the whole spec */
  int64_t chunk;      /* samples per pass; 0: the batch runs whole */
  const char *why;    /* a piece of the reason */
} Row;

#define NET(body, input) \
  "local net = nn.Module()\nfunction net:forward(x)\n" body \
  "\nend\nreturn model 't' { input = " input ", module = net }\n"

static const Row rows[] = {
    /* 2.4 MiB of tensors: 8 passes of 8, the largest divisor that fits */
    {"return model 't' { input = {64, 1, 28, 28}, nn.Conv2d{1, 6, 5, padding "
     "= 2}, nn.ReLU{}, nn.MaxPool2d{2}, nn.Flatten{}, nn.Linear{1176, 10} }",
     8, "the batch of 64 in 8 passes of 8 samples"},
    /* the same at batch 4 fits: whole */
    {"return model 't' { input = {4, 1, 28, 28}, nn.Conv2d{1, 6, 5, padding "
     "= 2}, nn.ReLU{}, nn.MaxPool2d{2}, nn.Flatten{}, nn.Linear{1176, 10} }",
     0, "the batch fits 512 KiB"},
    /* one sample's tensors above the budget: one at a time */
    {"return model 't' { input = {3, 16, 128, 128}, nn.Conv2d{16, 16, 3} }",
     1, "in 3 passes of 1 sample"},
    /* a prime batch: 1 or the whole */
    {"return model 't' { input = {7, 65536}, nn.ReLU{} }", 1,
     "in 7 passes of 1 sample"},
    /* a prime batch of small samples: one at a time would lose the
     * batched Linear; it runs whole */
    {"return model 't' { input = {10007, 16}, nn.Linear{16, 16} }", 0,
     "no divisor of the batch of 10007 near the 4096 samples"},
    /* an unbatched convolution: dim 0 is its channels */
    {"return model 't' { input = {16, 100, 100}, nn.Conv2d{16, 16, 3} }", 0,
     "'0' combines the samples"},
    /* softmax over dim 0 combines them; over dim 1 it does not */
    {"return model 't' { input = {64, 4096}, nn.Softmax{dim = 0} }", 0,
     "'0' combines the samples"},
    {"return model 't' { input = {64, 4096}, nn.Softmax{dim = 1} }", 16,
     "in 4 passes of 16 samples"},
    /* Softmax's implicit dim on a 3-D input is 0 */
    {"return model 't' { input = {64, 64, 64}, nn.Softmax{} }", 0,
     "'0' combines the samples"},
    /* a module: residual adds and a mean over the trailing dims chunk */
    {NET("  local y = x + x\n  return (y * x):mean({2})", "{64, 64, 64}"), 8,
     "in 8 passes of 8 samples"},
    /* a mean or a cat along dim 0 does not keep the batch */
    {NET("  return x:mean(0, true) + x", "{64, 64, 64}"), 0,
     "does not keep the batch as dim 0"},
    {NET("  return torch.cat({x, x}, 0)", "{64, 64, 64}"), 0,
     "does not keep the batch as dim 0"},
    /* a view that moves the batch out of dim 0 */
    {NET("  return x:view(-1)", "{64, 64, 64}"), 0,
     "does not keep the batch as dim 0"},
    /* a view inside each sample keeps it */
    {NET("  return x:view(64, 4096) * 2", "{64, 64, 64}"), 16,
     "in 4 passes of 16 samples"},
    /* no batch: a single sample, or a rank-1 input */
    {"return model 't' { input = {1, 64, 128, 128}, nn.ReLU{} }", 0,
     "no batch of 2 or more"},
    {"return model 't' { input = {1000000}, nn.ReLU{} }", 0,
     "no batch of 2 or more"},
};

/* A batch of 2^31 - 1 (a prime): the decision looks at the divisors up
 * to what fits, not up to the batch (which took 4 s), and keeps it whole;
 * the activation limit then refuses the model. */
static void test_chunk_huge_batch(void **state) {
  (void)state;
  Diag d;
  Model m;
  if (run_spec_text("t.lua", "return model 't' { input = {2147483647, 1}, "
                    "nn.ReLU{} }", &d, &m))
    fail_msg("%s", d.text.s ? d.text.s : "");
  diag_free(&d);
  char why[160];
  assert_int_equal(chunk_samples(&m, why, sizeof why), 2147483647);
  assert_non_null(strstr(why, "no divisor of the batch of 2147483647 near "
                              "the 65536 samples"));
  Program p;
  CompileOptions o = {TARGET_GENERIC, KERNELS_FAST, 0, NULL};
  memset(&d, 0, sizeof d);
  assert_int_equal(compile_model(&m, &o, &p, &d), -1);
  assert_non_null(strstr(d.text.s, "more than the limit of 1,073,741,824"));
  diag_free(&d);
  program_free(&p);
  model_free(&m);
}

static void compile_text(const char *text, Model *m, Program *p) {
  Diag d;
  if (run_spec_text("t.lua", text, &d, m))
    fail_msg("spec does not load: %s\n%s", text, d.text.s ? d.text.s : "");
  diag_free(&d);
  if (compile_default(m, p, &d))
    fail_msg("does not compile: %s\n%s", text, d.text.s ? d.text.s : "");
  diag_free(&d);
}

static void test_chunk_decisions(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    const Row *r = &rows[i];
    Model m;
    Program p;
    compile_text(r->spec, &m, &p);
    int64_t n = m.input.d[0];
    if (m.chunk != r->chunk)
      fail_msg("%s: %lld samples per pass, want %lld (%s)", r->spec,
               (long long)m.chunk, (long long)r->chunk, p.chunk_why);
    if (!strstr(p.chunk_why, r->why))
      fail_msg("%s: the reason '%s' lacks '%s'", r->spec, p.chunk_why,
               r->why);
    /* The program lowered for the chunk, run n / chunk times. */
    int64_t b = r->chunk ? r->chunk : n;
    assert_int_equal(p.m->input.d[0], b);
    assert_int_equal(p.passes, n / b);
    assert_true((p.chunk != NULL) == (r->chunk != 0));
    /* the next chunk's input asked for in slices after the ops' calls:
     * whole cache lines, every one of them, no slice empty */
    int64_t calls = 0, k = shape_numel(&p.m->input);
    for (int j = 0; j < p.nops; j++) calls += !p.ops[j].fused;
    if (r->chunk) {
      assert_true(p.prefetch > 0 && p.prefetch % 16 == 0);
      assert_true(p.prefetch * calls >= k);
      assert_true(p.prefetch * (calls - 1) < k + 15);
    } else {
      assert_int_equal(p.prefetch, 0);
    }
    char *x = program_explain(&p);
    assert_true((strstr(x, r->why) != NULL) == (r->chunk != 0));
    assert_true((strstr(x, "the next chunk's input asked for") != NULL) ==
                (r->chunk != 0));
    free(x);
    program_free(&p);
    model_free(&m);
  }
}

/* A chunked model's entry point takes the whole batch; each sample's
 * output is the model's for that sample alone (the same spec at batch 1,
 * bit for bit: the same lowering of the same per-sample sums). */
static void test_chunk_entry_point(void **state) {
  (void)state;
  const char *body =
      ", seed = 3, nn.Conv2d{2, 8, 3, padding = 1}, nn.BatchNorm2d{8}, "
      "nn.ReLU{}, nn.MaxPool2d{2}, nn.Conv2d{8, 4, 1}, nn.Flatten{}, "
      "nn.Linear{16384, 5}, nn.Softmax{dim = 1} }";
  char *big = mc_format("return model 't' { input = {6, 2, 128, 128}%s", body);
  char *one = mc_format("return model 't' { input = {1, 2, 128, 128}%s", body);
  Model m, m1;
  Program p, p1;
  compile_text(big, &m, &p);
  compile_text(one, &m1, &p1);
  assert_int_equal(m.chunk, 1);
  assert_int_equal(p.passes, 6);
  /* the workspace is one sample's: the batch-1 model's */
  assert_int_equal(p.workspace_bytes, p1.workspace_bytes);
  JitModel jm, jm1;
  Diag d = {0};
  if (jit_program(&p, &jm, &d) || jit_program(&p1, &jm1, &d))
    fail_msg("%s", d.text.s ? d.text.s : "");
  assert_int_equal(jm.g.input_numel, 6 * 2 * 128 * 128);
  assert_int_equal(jm.g.output_numel, 6 * 5);
  assert_non_null(strstr(jm.g.c, "for (int c = 0; c < 6; c++) { /* chunk */"));
  /* after the first op's call, the first slice of the next sample; the
   * slices follow each other and cover the next sample exactly, never
   * past it */
  assert_non_null(strstr(jm.g.c, "if (c + 1 < 6) mc_prefetch(xc + 32768, "));
  long long next = 32768;
  for (const char *q = jm.g.c; (q = strstr(q, "mc_prefetch(xc + "));) {
    long long at, n;
    q += strlen("mc_prefetch(xc + ");
    assert_int_equal(sscanf(q, "%lld, %lld)", &at, &n), 2);
    assert_int_equal(at, next);
    assert_true(n > 0);
    next = at + n;
  }
  assert_int_equal(next, 2 * 32768);
  /* each op's comment gives the chunk's shapes and says so */
  assert_non_null(strstr(jm.g.c, "[1, 2, 128, 128] -> [1, 8, 128, 128], 1 "
                                 "of the batch's samples at a time"));
  assert_non_null(strstr(jm.g.h, "_INPUT_SIZE 196608 /* floats, shape [6, 2, "
                                 "128, 128] */"));
  int64_t nin = jm.g.input_numel;
  float *x = mc_alloc(sizeof(float) * (size_t)nin), y[30], y1[5];
  for (int64_t i = 0; i < nin; i++) x[i] = sinf((float)i * 0.37f);
  void *ws = mc_alloc((size_t)jm.g.workspace_bytes + 64);
  for (int i = 0; i < 30; i++) y[i] = NAN;
  jm.fwd(x, y, ws);
  for (int s = 0; s < 6; s++) {
    jm1.fwd(x + s * 2 * 128 * 128, y1, ws);
    if (memcmp(y + 5 * s, y1, sizeof y1))
      fail_msg("sample %d: the batch's output differs from its own", s);
  }
  free(ws);
  free(x);
  jit_model_free(&jm);
  jit_model_free(&jm1);
  program_free(&p);
  program_free(&p1);
  model_free(&m);
  model_free(&m1);
  diag_free(&d);
  free(big);
  free(one);
}

/* The activation limit counts the caller's whole input and output beside
 * one chunk's workspace, and check_print_target's RAM estimate too. */
static void test_chunk_limits(void **state) {
  (void)state;
  const char *spec = "return model 't' { input = {6, 2, 128, 128}, seed = 3, "
                     "nn.Conv2d{2, 8, 3, padding = 1}, nn.ReLU{}, "
                     "nn.MaxPool2d{2}, nn.Flatten{}, nn.Linear{32768, 5} }";
  Model m;
  Program p;
  compile_text(spec, &m, &p);
  assert_int_equal(m.chunk, 1);
  int64_t ws = p.workspace_bytes, io = (6 * 2 * 128 * 128 + 6 * 5) * 4;
  program_free(&p);
  /* the estimate, printed for a cortex-m target */
  Diag d = {0};
  assert_int_equal(compile_model(&m, &(CompileOptions){TARGET_CORTEX_M4,
                   KERNELS_FAST, 0, NULL}, &p, &d), 0);
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  check_print_target(f, &p);
  fclose(f);
  assert_non_null(strstr(out, "input 768.0 KiB, output 120 B)"));
  free(out);
  assert_true(p.passes > 1);
  assert_int_equal(p.prefetch, 0); /* no cache to fill ahead */
  program_free(&p);
  /* a limit the chunk's own input and output would pass */
  m.lim.max_activation = ws + io - 1;
  assert_int_equal(compile_model(&m, &(CompileOptions){TARGET_GENERIC,
                   KERNELS_FAST, 0, NULL}, &p, &d), -1);
  assert_non_null(strstr(d.text.s, "more than the limit"));
  diag_free(&d);
  program_free(&p);
  m.lim.max_activation = ws + io;
  memset(&d, 0, sizeof d);
  assert_int_equal(compile_model(&m, &(CompileOptions){TARGET_GENERIC,
                   KERNELS_FAST, 0, NULL}, &p, &d), 0);
  diag_free(&d);
  program_free(&p);
  model_free(&m);
}

/* A chunk that the whole-program vector lowering takes (one sample at a
 * time inside each chunk): the two loops nest, and each sample's output
 * is still its own. */
static void test_chunk_vector_lowering(void **state) {
  (void)state;
  const char *body = ", seed = 2, nn.Conv1d{1, 8, 3}, nn.ReLU{}, "
                     "nn.MaxPool1d{2}, nn.Flatten{}, nn.Linear{248, 2} }";
  char *big = mc_format("return model 't' { input = {4096, 1, 64}%s", body);
  char *one = mc_format("return model 't' { input = {1, 1, 64}%s", body);
  Model m, m1;
  Program p, p1;
  compile_text(big, &m, &p);
  compile_text(one, &m1, &p1);
  assert_int_equal(m.chunk, 128);
  assert_int_equal(p.passes, 32);
  assert_true(p.whole); /* the vector lowering, per sample */
  assert_int_equal(p.prefetch, 0); /* its calls are per sample */
  JitModel jm, jm1;
  Diag d = {0};
  if (jit_program(&p, &jm, &d) || jit_program(&p1, &jm1, &d))
    fail_msg("%s", d.text.s ? d.text.s : "");
  assert_non_null(strstr(jm.g.c, "const float *x = xc + n * 64;"));
  float *x = mc_alloc(sizeof(float) * 4096 * 64), *y = mc_alloc(sizeof(float)
                                                                * 4096 * 2);
  for (int i = 0; i < 4096 * 64; i++) x[i] = cosf((float)i * 0.11f);
  void *ws = mc_alloc((size_t)jm.g.workspace_bytes + 64);
  jm.fwd(x, y, ws);
  for (int s = 0; s < 4096; s += 255) { /* samples in every chunk */
    float y1[2];
    jm1.fwd(x + s * 64, y1, ws);
    if (memcmp(y + 2 * s, y1, sizeof y1))
      fail_msg("sample %d: the batch's output differs from its own", s);
  }
  free(ws), free(x), free(y);
  jit_model_free(&jm);
  jit_model_free(&jm1);
  program_free(&p);
  program_free(&p1);
  model_free(&m);
  model_free(&m1);
  diag_free(&d);
  free(big);
  free(one);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chunk_decisions),
      cmocka_unit_test(test_chunk_entry_point),
      cmocka_unit_test(test_chunk_vector_lowering),
      cmocka_unit_test(test_chunk_huge_batch),
      cmocka_unit_test(test_chunk_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
