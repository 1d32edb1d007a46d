/* test_modules.c: module models (SPEC.md 1.1) against PyTorch.
 *
 * tools/gen_module_fixture.py writes nn.Module subclasses as users write
 * them (residual blocks with and without projection, squeeze-excitation
 * with broadcasting, branches joined by cat, a layer called twice, a
 * dilated TCN, depthwise-separable blocks, a ModuleList loop) with their
 * modelc specs, their state_dict() as it is, an input and PyTorch's
 * output (tests/fixtures/modules/). For every one:
 *   - the spec loads and its forward traces without an error or warning;
 *   - the weights file validates from its header with no missing,
 *     misshaped or unexpected key: the state_dict loads unchanged;
 *   - the traced output shape is PyTorch's;
 *   - a model whose graph is a chain of layers builds, and its output
 *     JIT-compiled by TinyCC matches PyTorch within atol 1e-5 + rtol 1e-4.
 * Branching models are not built yet (the back end builds chains only):
 * their graph is evaluated node by node (eval_graph: each layer through
 * the JIT, the tensor operations naively) and compared with PyTorch
 * within atol 1e-5 + rtol 1e-4,
 * which checks what the tracer recorded. */
#include "testutil.h"

#include <glob.h>
#include <math.h>

#include "npy.h"

/* ------------------------------------------- a reference evaluator
 *
 * The graph evaluated node by node: each layer call as a one-layer model
 * of its own, emitted and JIT-compiled by TinyCC (the code `modelc run`
 * would run for that layer); the tensor operations here, naively. It
 * checks what the tracer recorded (broadcasting, cat order, shared
 * weights, views) against PyTorch before the back end builds graphs. */

/* Strides of a contiguous tensor of shape s, broadcast to n dims: a dim
 * of size 1 (or missing) has stride 0. */
static void bstrides(const Shape *s, int n, int64_t *st) {
  int64_t acc = 1;
  for (int i = n - 1; i >= 0; i--) {
    int k = i - (n - s->n);
    int64_t d = k >= 0 ? s->d[k] : 1;
    st[i] = d == 1 ? 0 : acc;
    acc *= d;
  }
}

static float apply(NodeOp op, float a, float b) {
  switch (op) {
  case N_ADD: return a + b;
  case N_SUB: return a - b;
  case N_MUL: return a * b;
  default: return a / b;
  }
}

/* One layer on x: a model of that layer alone, through the JIT. */
static float *run_layer(const Model *m, const Layer *l, const float *x,
                        Diag *d) {
  Model one;
  char name[] = "layer";
  memset(&one, 0, sizeof one);
  one.name = name;
  one.file = m->file;
  one.loc = m->loc;
  one.input = l->in;
  one.lim = m->lim;
  Layer copy = *l;
  copy.index = 0;
  one.layers = &copy;
  one.nlayers = 1;
  /* the back end without the weights phase: the layer's are loaded */
  Program p;
  lower(&one, TARGET_GENERIC, KERNELS_FAST, &p);
  plan_program(&p);
  pack_program(&p);
  JitModel jm;
  if (jit_program(&p, &jm, d)) {
    program_free(&p);
    return NULL;
  }
  float *y = mc_alloc(sizeof(float) * (size_t)shape_numel(&l->out));
  void *ws = mc_alloc((size_t)jm.g.workspace_bytes + 64);
  jm.fwd(x, y, ws);
  free(ws);
  jit_model_free(&jm);
  program_free(&p);
  return y;
}

static float *eval_graph(Model *m, const float *input, Diag *d) {
  float **v = mc_alloc(sizeof(float *) * (size_t)m->nnodes);
  v[0] = mc_alloc(sizeof(float) * (size_t)shape_numel(&m->input));
  memcpy(v[0], input, sizeof(float) * (size_t)shape_numel(&m->input));
  for (int i = 1; i < m->nnodes; i++) {
    Node *n = &m->nodes[i];
    int64_t numel = shape_numel(&n->out);
    const Shape *s0 = &m->nodes[n->in[0]].out;
    float *y = NULL;
    if (n->op == N_LAYER) {
      Layer *l = &m->layers[n->layer];
      l->in = *s0;   /* the layer as this call ran it */
      Diag quiet = {0};
      l->kind->shape(l, &quiet);
      diag_free(&quiet);
      y = run_layer(m, l, v[n->in[0]], d);
      if (!y) return NULL;
    } else if (n->op >= N_ADD && n->op <= N_DIV) {
      y = mc_alloc(sizeof(float) * (size_t)numel);
      int nd = n->out.n;
      int64_t sa[MC_MAXDIM] = {0}, sb[MC_MAXDIM] = {0};
      const float *a = v[n->in[0]], *b = n->nin > 1 ? v[n->in[1]] : NULL;
      bstrides(s0, nd, sa);
      if (b) bstrides(&m->nodes[n->in[1]].out, nd, sb);
      for (int64_t k = 0; k < numel; k++) {
        int64_t rem = k, ia = 0, ib = 0;
        for (int j = nd - 1; j >= 0; j--) {
          int64_t c = rem % n->out.d[j];
          rem /= n->out.d[j];
          ia += c * sa[j];
          ib += c * sb[j];
        }
        float x = a[ia], o = b ? b[ib] : (float)n->scalar;
        y[k] = n->has_scalar && n->scalar_left ? apply(n->op, o, x)
                                               : apply(n->op, x, o);
      }
    } else if (n->op == N_CAT) {
      y = mc_alloc(sizeof(float) * (size_t)numel);
      int64_t outer = 1, inner = 1, off = 0;
      for (int j = 0; j < n->dim; j++) outer *= n->out.d[j];
      for (int j = (int)n->dim + 1; j < n->out.n; j++) inner *= n->out.d[j];
      for (int t = 0; t < n->nin; t++) {
        int64_t c = m->nodes[n->in[t]].out.d[n->dim];
        for (int64_t o = 0; o < outer; o++)
          memcpy(y + (o * n->out.d[n->dim] + off) * inner,
                 v[n->in[t]] + o * c * inner, sizeof(float) * (size_t)(c * inner));
        off += c;
      }
    } else if (n->op == N_VIEW || n->op == N_FLATTEN) {
      y = mc_alloc(sizeof(float) * (size_t)numel);
      memcpy(y, v[n->in[0]], sizeof(float) * (size_t)numel);
    } else if (n->op == N_MEAN) {
      y = mc_alloc(sizeof(float) * (size_t)numel);
      double *acc = mc_alloc(sizeof(double) * (size_t)numel);
      int red[MC_MAXDIM] = {0};
      int64_t count = 1;
      for (int j = 0; j < n->ndims; j++) {
        red[n->dims[j]] = 1;
        count *= s0->d[n->dims[j]];
      }
      for (int64_t k = 0; k < shape_numel(s0); k++) {
        int64_t rem = k, o = 0, mul = 1;
        for (int j = s0->n - 1; j >= 0; j--) {
          int64_t c = rem % s0->d[j];
          rem /= s0->d[j];
          if (!red[j]) {
            o += c * mul;
            mul *= s0->d[j];
          }
        }
        acc[o] += v[n->in[0]][k];
      }
      for (int64_t k = 0; k < numel; k++) y[k] = (float)(acc[k] / count);
      free(acc);
    } else {
      fail_msg("node %d: no reference for %s", i, node_op_name(n->op));
    }
    v[i] = y;
  }
  float *out = v[m->output];
  for (int i = 0; i < m->nnodes; i++)
    if (i != m->output) free(v[i]);
  free(v);
  return out;
}

static void test_modules_fixture(void **state) {
  (void)state;
  glob_t g;
  assert_int_equal(glob("tests/fixtures/modules/*.lua", 0, NULL, &g), 0);
  int failed = 0, chains = 0, branching = 0;
  for (size_t i = 0; i < g.gl_pathc; i++) {
    const char *spec = g.gl_pathv[i];
    size_t n = strlen(spec) - 4;
    char *in_path = mc_format("%.*s.in.npy", (int)n, spec);
    char *out_path = mc_format("%.*s.out.npy", (int)n, spec);
    Limits lim = {0};
    Diag d;
    Model m;
    memset(&d, 0, sizeof d);
    int r = spec_load(spec, &lim, &d, &m);
    if (r == 0) r = shape_infer(&m, &d);
    if (r == 0) r = weights_check(&m, NULL, &d);
    if (r || d.nerrors || d.nwarnings) {
      print_error("%s: %s\n", spec, d.text.s ? d.text.s : "(no message)");
      failed++;
      goto next;
    }
    float *want;
    int ndim;
    int64_t dims[NPY_MAX_DIMS];
    char err[256];
    if (npy_read(out_path, &want, &ndim, dims, err, sizeof err))
      fail_msg("%s: %s", out_path, err);
    const Shape *out = &m.nodes[m.output].out;
    Shape ref = {ndim, {0}};
    for (int k = 0; k < ndim && k < MC_MAXDIM; k++) ref.d[k] = dims[k];
    if (!shape_eq(out, &ref)) {
      char *a = shape_str(out), *b = shape_str(&ref);
      print_error("%s: output shape %s, PyTorch's %s\n", spec, a, b);
      free(a), free(b);
      failed++;
    } else if (m.branching) {
      branching++;
      float *x;
      if (npy_read(in_path, &x, &ndim, dims, err, sizeof err))
        fail_msg("%s: %s", in_path, err);
      if (weights_load(&m, NULL, &d)) fail_msg("%s: %s", spec, d.text.s);
      float *y = eval_graph(&m, x, &d);
      if (!y) fail_msg("%s: %s", spec, d.text.s ? d.text.s : "");
      int64_t numel = shape_numel(out);
      for (int64_t k = 0; k < numel; k++)
        if (!(fabs(y[k] - want[k]) <= 1e-5 + 1e-4 * fabs(want[k]))) {
          print_error("%s [%lld]: the graph evaluated %.9g, PyTorch %.9g\n",
                      spec, (long long)k, y[k], want[k]);
          failed++;
          break;
        }
      free(y), free(x);
    } else {
      chains++;
      float *x;
      if (npy_read(in_path, &x, &ndim, dims, err, sizeof err))
        fail_msg("%s: %s", in_path, err);
      JitModel jm;
      Program p;
      if (compile_default(&m, &p, &d) || jit_program(&p, &jm, &d))
        fail_msg("%s: %s", spec, d.text.s ? d.text.s : "");
      int64_t numel = shape_numel(out);
      float *y = mc_alloc(sizeof(float) * (size_t)numel);
      void *ws = mc_alloc((size_t)jm.g.workspace_bytes + 64);
      jm.fwd(x, y, ws);
      for (int64_t k = 0; k < numel; k++)
        if (!(fabs(y[k] - want[k]) <= 1e-5 + 1e-4 * fabs(want[k]))) {
          print_error("%s [%lld]: modelc %.9g, PyTorch %.9g\n", spec,
                      (long long)k, y[k], want[k]);
          failed++;
          break;
        }
      free(y), free(ws), free(x);
      jit_model_free(&jm);
      program_free(&p);
    }
    free(want);
  next:
    model_free(&m);
    diag_free(&d);
    free(in_path);
    free(out_path);
  }
  printf("modules: %zu models, %d chains built and run, %d branching "
         "(evaluated node by node)\n", g.gl_pathc, chains, branching);
  assert_true(chains >= 1 && branching >= 1);
  globfree(&g);
  if (failed) fail_msg("%d module models failed", failed);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_modules_fixture),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
