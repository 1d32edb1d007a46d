/* test_wsplan.c: the workspace placements of compiler/wsplan.c on small
 * hand-made lifetimes, and the graph planner (plan_graph.c) on small
 * module specs: the lower bound, the two published placements, the
 * better of them, and tensors sharing a buffer only when their lifetimes
 * are apart. */
#include "testutil.h"

/* No two items alive at a common step overlap. */
static void assert_disjoint(const WsItem *t, int n, int64_t total) {
  for (int i = 0; i < n; i++) {
    assert_true(t[i].off >= 0);
    assert_true(t[i].off + t[i].bytes <= total);
    for (int j = 0; j < i; j++) {
      int together = t[i].first <= t[j].last && t[j].first <= t[i].last;
      int apart = t[i].off + t[i].bytes <= t[j].off ||
                  t[j].off + t[j].bytes <= t[i].off;
      assert_true(!together || apart);
    }
  }
}

/* A chain a -> b -> c -> d: two tensors alive at each step. */
static void test_chain(void **state) {
  (void)state;
  WsItem t[] = {{256, 0, 1, 0}, {512, 1, 2, 0}, {128, 2, 3, 0},
                {64, 3, 4, 0}};
  int n = 4;
  assert_int_equal(ws_bound(t, n), 768);
  int64_t s = ws_by_size(t, n);
  assert_disjoint(t, n, s);
  assert_int_equal(s, 768);
  s = ws_first_fit(t, n);
  assert_disjoint(t, n, s);
  assert_int_equal(s, 768);
  s = ws_place(t, n);
  assert_disjoint(t, n, s);
  assert_int_equal(s, 768);
}

/* Greedy by size beats first fit: a long-lived small tensor written
 * first pushes the large ones up under first fit. */
static void test_by_size_wins(void **state) {
  (void)state;
  WsItem t[] = {{64, 0, 0, 0},   {128, 1, 1, 0}, {64, 0, 3, 0},
                {128, 2, 3, 0}};
  int n = 4;
  int64_t bound = ws_bound(t, n);
  assert_int_equal(bound, 192);
  int64_t fit = ws_first_fit(t, n);
  assert_disjoint(t, n, fit);
  int64_t size = ws_by_size(t, n);
  assert_disjoint(t, n, size);
  assert_int_equal(size, 192);
  assert_int_equal(fit, 256);
  int64_t best = ws_place(t, n);
  assert_disjoint(t, n, best);
  assert_int_equal(best, 192);
  assert_true(best <= fit && best <= size);
}

/* First fit beats greedy by size: the largest tensor placed first at the
 * bottom pushes a later one, alive with two others, to the top. */
static void test_first_fit_wins(void **state) {
  (void)state;
  WsItem t[] = {{128, 1, 3, 0}, {256, 0, 1, 0}, {192, 4, 5, 0},
                {128, 3, 4, 0}};
  int n = 4;
  assert_int_equal(ws_bound(t, n), 384);
  int64_t size = ws_by_size(t, n);
  assert_disjoint(t, n, size);
  assert_int_equal(size, 512);
  int64_t fit = ws_first_fit(t, n);
  assert_disjoint(t, n, fit);
  assert_int_equal(fit, 384);
  int64_t best = ws_place(t, n);
  assert_disjoint(t, n, best);
  assert_int_equal(best, 384);
}

/* A dilated TCN's pattern: pads a little larger than the residuals. Both
 * published orders miss the bound; the refinement reaches it. */
static void test_refine_reaches_bound(void **state) {
  (void)state;
  WsItem t[] = {{4736, 0, 1, 0},  {8192, 1, 2, 0},  {8320, 2, 3, 0},
                {8192, 3, 10, 0}, {8192, 4, 5, 0},  {8448, 6, 7, 0},
                {8192, 7, 8, 0},  {8448, 8, 9, 0},  {8192, 9, 15, 0},
                {8704, 11, 12, 0}, {8192, 12, 13, 0}, {8704, 13, 14, 0},
                {8192, 14, 16, 0}, {64, 16, 17, 0}};
  int n = (int)(sizeof t / sizeof t[0]);
  int64_t bound = ws_bound(t, n);
  assert_int_equal(bound, 25088);
  int64_t size = ws_by_size(t, n), fit = ws_first_fit(t, n);
  assert_true(size > bound && fit > bound);
  int64_t best = ws_place(t, n);
  assert_disjoint(t, n, best);
  assert_int_equal(best, bound);
}

/* No items: no workspace. */
static void test_empty(void **state) {
  (void)state;
  WsItem t[1] = {{0, 0, 0, 0}};
  assert_int_equal(ws_bound(t, 0), 0);
  assert_int_equal(ws_place(t, 0), 0);
}

/* The graph planner on a residual block: relu(conv2(relu(conv1(x))) + x).
 * The add and the ReLU after it join conv2's function (x is ready before
 * it), which writes the caller's output. */
static void test_graph_residual(void **state) {
  (void)state;
  const char *spec =
      "local b = nn.Module()\n"
      "b.conv1 = nn.Conv1d{4, 4, 3, padding = 1}\n"
      "b.conv2 = nn.Conv1d{4, 4, 3, padding = 1}\n"
      "function b:forward(x)\n"
      "  local y = F.relu(self.conv1(x))\n"
      "  return F.relu(self.conv2(y) + x)\n"
      "end\n"
      "local net = nn.Module()\n"
      "net.stem = nn.Conv1d{2, 4, 1}\n"
      "net.block = b\n"
      "function net:forward(x) return self.block(self.stem(x)) end\n"
      "return model 'res' { input = {1, 2, 16}, module = net }\n";
  Diag d;
  Model m;
  assert_int_equal(run_spec_text("res.lua", spec, &d, &m), 0);
  assert_true(m.branching);
  Program p;
  CompileOptions co = {TARGET_GENERIC, KERNELS_FAST, 0, NULL};
  assert_int_equal(compile_model(&m, &co, &p, &d), 0);
  assert_true(p.graph);
  /* stem, conv1 (+relu), conv2 (+ the add and its relu: x is ready) */
  assert_int_equal(p.nops, 3);
  const Op *conv2 = &p.ops[2];
  assert_int_equal(conv2->residual, 1);
  assert_int_equal(conv2->nact, 1);
  assert_int_equal(conv2->ncovers, 3); /* conv2, add, relu */
  assert_int_equal(conv2->dst.kind, BUF_OUTPUT);
  assert_true(conv2->srcs[1].kind == BUF_WS &&
              conv2->srcs[1].off == p.ops[0].dst.off); /* r is x */
  assert_int_equal(p.ops[1].nact, 1); /* conv1's ReLU */
  /* x (the stem's output) lives until conv2, with conv1's output (the
   * add's result is the caller's output) */
  assert_int_equal(p.workspace_bound,
                   2 * 256 + (conv2->scratch + 63) / 64 * 64);
  assert_true(p.workspace_bytes <= p.workspace_bound + p.workspace_bound / 20);
  assert_int_equal(m.workspace_bound, p.workspace_bound);
  program_free(&p);
  model_free(&m);
  diag_free(&d);
}

/* In place: an elementwise op whose input dies at it writes over it. */
static void test_graph_in_place(void **state) {
  (void)state;
  const char *spec =
      "local net = nn.Module()\n"
      "net.a = nn.Conv1d{2, 4, 1}\n"
      "net.b = nn.Conv1d{2, 4, 1}\n"
      "net.fc = nn.Linear{64, 3}\n"
      "function net:forward(x)\n"
      "  local y = self.a(x) * self.b(x)\n"
      "  return self.fc(torch.flatten(y * 0.5, 1))\n"
      "end\n"
      "return model 'ip' { input = {1, 2, 16}, module = net }\n";
  Diag d;
  Model m;
  assert_int_equal(run_spec_text("ip.lua", spec, &d, &m), 0);
  Program p;
  CompileOptions co = {TARGET_GENERIC, KERNELS_FAST, 0, NULL};
  assert_int_equal(compile_model(&m, &co, &p, &d), 0);
  assert_int_equal(p.nops, 5); /* a, b, mul, mul by 0.5, fc */
  const Op *mul = &p.ops[2], *half = &p.ops[3];
  assert_int_equal(mul->top, N_MUL);
  assert_int_equal(mul->nsrc, 2);
  assert_int_equal(half->nsrc, 1);
  assert_true(mul->dst.kind == BUF_WS && mul->dst.off == mul->srcs[0].off);
  assert_true(half->dst.off == half->src.off);
  program_free(&p);
  model_free(&m);
  diag_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chain),
      cmocka_unit_test(test_by_size_wins),
      cmocka_unit_test(test_first_fit_wins),
      cmocka_unit_test(test_refine_reaches_bound),
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_graph_residual),
      cmocka_unit_test(test_graph_in_place),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
