/* test_specs.c: every example spec in specs/ checks, and its shapes are
 * the ones the tutorials print (PyTorch's own output, copied from them). */
#include "testutil.h"

#include <math.h>

typedef struct Expect {
  const char *spec;
  const char *shapes; /* each layer's output, "|" between layers */
} Expect;

static const Expect expect[] = {
    {"specs/seed_cnn1d.lua",
     "2,8,9|2,8,9|2,8,4|2,16,3|2,16,3|2,16,1|2,16|2,2"},
    {"specs/onehot_cnn.lua", "2,16,7|2,32,5|2,32,5|2,16,2|2,24,2|2,12,1"},
    {"specs/cnn1d_class.lua", "1,32,20|1,32,20|1,32,10|1,320|1,2"},
    {"specs/conv1d_stride_pad.lua", "10,32,6"},
    {"specs/conv1d_tutorial.lua", "2,2,2"},
    {"specs/conv1d_tutorial_pad.lua", "2,2,4"},
    {"specs/conv2d_unbatched.lua", "2,2,3"},
    {"specs/conv3d_volume.lua", "2,8,6,20,30|2,8,6,20,30|2,8,6,9,14"},
    {"specs/lenet5.lua", "1,6,28,28|1,6,28,28|1,6,14,14|1,16,10,10|1,16,10,10|"
                         "1,16,5,5|1,400|1,120|1,120|1,84|1,84|1,10"},
    /* the torchaudio M5 tutorial's shapes */
    {"specs/m5_kws.lua", "1,32,996|1,32,996|1,32,996|1,32,249|1,32,247|"
                         "1,32,247|1,32,247|1,32,61|1,64,59|1,64,59|1,64,59|"
                         "1,64,14|1,64,12|1,64,12|1,64,12|1,64,3|1,64,1|1,64|"
                         "1,35"},
    {"specs/conv1d_long.lua", "1,4,98"},
};

static void shapes_of(const Model *m, char *buf, size_t n) {
  buf[0] = 0;
  for (int i = 0; i < m->nlayers; i++) {
    const Shape *s = &m->layers[i].out;
    if (i) strncat(buf, "|", n - strlen(buf) - 1);
    for (int k = 0; k < s->n; k++) {
      char num[32];
      snprintf(num, sizeof num, "%s%lld", k ? "," : "", (long long)s->d[k]);
      strncat(buf, num, n - strlen(buf) - 1);
    }
  }
}

static void test_specs_tutorial_shapes(void **state) {
  (void)state;
  Limits lim = {0}; /* every limit at its default */
  for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
    Diag d = {0};
    Model m;
    int r = spec_load(expect[i].spec, &lim, &d, &m);
    if (r == 0) r = shape_infer(&m, &d);
    if (r) printf("%s: %s", expect[i].spec, d.text.s ? d.text.s : "");
    assert_int_equal(r, 0);
    char got[512];
    shapes_of(&m, got, sizeof got);
    if (strcmp(got, expect[i].shapes))
      printf("%s:\n  got  %s\n  want %s\n", expect[i].spec, got,
             expect[i].shapes);
    assert_string_equal(got, expect[i].shapes);
    model_free(&m);
    diag_free(&d);
  }
}

/* The seed_cnn1d table: parameters per layer as PyTorch counts them
 * (sum(p.numel())) and the multiply-accumulates of the issue (944 per
 * sample), the workspace from the two largest consecutive activations. */
static void test_specs_seed_cnn1d_totals(void **state) {
  (void)state;
  Diag d;
  Model m;
  char *text = read_file("specs/seed_cnn1d.lua", NULL);
  assert_non_null(text);
  assert_int_equal(run_spec_text("specs/seed_cnn1d.lua", text, &d, &m), 0);
  int64_t params = 0, macs = 0;
  for (int i = 0; i < m.nlayers; i++) {
    params += m.layers[i].nparams;
    macs += m.layers[i].macs;
  }
  assert_int_equal(params, 8 * 1 * 2 + 8 + 16 * 8 * 2 + 16 + 16 * 2 + 2);
  assert_int_equal(macs, 2 * 944);
  /* The vector lowering runs one sample at a time, channels-last, each
   * pool fused into its convolution: [4][8] then [1][16] side by side. */
  assert_int_equal(m.workspace_bytes, (4 * 8 + 1 * 16) * 4);
  assert_string_equal(m.layers[3].text,
                      "Conv1d(8, 16, 2)");
  assert_true(m.has_seed);
  assert_int_equal(m.seed, 42);
  model_free(&m);
  diag_free(&d);
  free(text);
}

/* The bench's models of the kinds users bring (specs written as loops):
 * parameters as PyTorch counts them (sum(p.numel()) of the same
 * nn.Sequential), the MACs, and the shapes that define each model. */
static void test_specs_user_models(void **state) {
  (void)state;
  static const struct {
    const char *spec;
    int64_t params, macs;
    int nlayers;
    const char *first, *last; /* output shapes of the first and last layer */
  } want[] = {
      /* 10 x 4 stride-2 conv to 25 x 5, 4 depthwise-separable blocks */
      {"specs/ds_cnn_kws.lua", 23180, 2728768, 3 + 4 * 6 + 3, "1,64,25,5", "1,12"},
      /* a stride-2 conv to 48 x 48, 13 blocks, 2 classes */
      {"specs/mobilenet_v1_025.lua", 213586, 7721216, 3 + 13 * 6 + 3, "1,8,48,48",
       "1,2"},
      /* about 12 M MACs on 3 x 128 */
      {"specs/har_cnn1d.lua", 175110, 12219136, 4 * 3 + 2 + 3, "1,64,128", "1,6"},
      /* 640 -> 128 x 4 -> 8 -> 128 x 4 -> 640 */
      {"specs/fc_autoencoder.lua", 267928, 265224, 10 + 9 * 2, "1,128", "1,640"},
  };
  Limits lim = {0};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    Diag d = {0};
    Model m;
    int r = spec_load(want[i].spec, &lim, &d, &m);
    if (r == 0) r = shape_infer(&m, &d);
    if (r) printf("%s: %s", want[i].spec, d.text.s ? d.text.s : "");
    assert_int_equal(r, 0);
    int64_t params = 0, macs = 0;
    for (int k = 0; k < m.nlayers; k++) {
      params += m.layers[k].nparams;
      macs += m.layers[k].macs;
    }
    assert_int_equal(params, want[i].params);
    assert_int_equal(macs, want[i].macs);
    assert_int_equal(m.nlayers, want[i].nlayers);
    char got[8192];
    shapes_of(&m, got, sizeof got);
    size_t nf = strlen(want[i].first), nl = strlen(want[i].last), ng = strlen(got);
    assert_true(strncmp(got, want[i].first, nf) == 0 && got[nf] == '|');
    assert_true(ng > nl && strcmp(got + ng - nl, want[i].last) == 0 &&
                got[ng - nl - 1] == '|');
    model_free(&m);
    diag_free(&d);
  }
}

/* The table modelc check prints: one row per layer and the totals. */
static void test_specs_check_table(void **state) {
  (void)state;
  Diag d;
  Model m;
  char *text = read_file("specs/seed_cnn1d.lua", NULL);
  assert_int_equal(run_spec_text("specs/seed_cnn1d.lua", text, &d, &m), 0);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  check_print(f, &m);
  fclose(f);
  assert_non_null(strstr(buf, "weights: PyTorch's default init, seed 42"));
  assert_non_null(strstr(buf, "Conv1d(8, 16, 2)  [2, 16, 3]"));
  assert_non_null(strstr(buf, "Linear(16, 2)     [2, 2]"));
  assert_non_null(strstr(buf, "total: 330 parameters (1320 B as float32), "
                              "1,888 MACs"));
  assert_non_null(strstr(buf, "workspace 192 B"));
  free(buf);
  model_free(&m);
  diag_free(&d);
  free(text);
}

/* A spec without weights or seed says it uses seed 0. */
static void test_specs_default_seed(void **state) {
  (void)state;
  Diag d;
  Model m;
  assert_int_equal(run_spec_text("t.lua", "return model \"t\" { input = "
                                 "{1, 4}, nn.Linear{4, 2} }", &d, &m), 0);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  check_print(f, &m);
  fclose(f);
  assert_non_null(strstr(buf, "seed 0 (the spec gives neither weights nor "
                              "seed)"));
  free(buf);
  model_free(&m);
  diag_free(&d);
}

/* Softmax without dim: PyTorch's implicit choice (dim 0 for 1-d and 3-d
 * inputs, else 1) and its deprecation warning, at the layer's line. */
static void test_specs_softmax_implicit_dim(void **state) {
  (void)state;
  static const struct { const char *input; int64_t dim; } rows[] = {
      {"{5}", 0}, {"{2, 3}", 1}, {"{2, 3, 4}", 0}, {"{2, 3, 4, 5}", 1}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char *spec = mc_format("return model \"s\" {\n  input = %s,\n  "
                           "nn.LogSoftmax{},\n}\n", rows[i].input);
    Diag d;
    Model m;
    assert_int_equal(run_spec_text("s.lua", spec, &d, &m), 0);
    assert_int_equal(m.layers[0].a.dim, rows[i].dim);
    assert_int_equal(d.nwarnings, 1);
    assert_non_null(strstr(d.text.s, "s.lua:3: warning: LogSoftmax: Implicit "
                           "dimension choice for log_softmax has been "
                           "deprecated"));
    model_free(&m);
    diag_free(&d);
    free(spec);
  }
}

/* The numbers the tutorials print after torch.manual_seed(42), through the
 * whole pipeline: spec, shapes, weights. */
static void expect4(const float *got, const float *want, int n) {
  for (int i = 0; i < n; i++)
    if (fabs(got[i] - want[i]) > 0.5e-4)
      fail_msg("[%d]: got %.6f, the tutorial prints %.4f", i, got[i], want[i]);
}

static void test_specs_seeded_tutorial_numbers(void **state) {
  (void)state;
  const char *files[] = {"specs/conv1d_tutorial.lua",
                         "specs/conv2d_unbatched.lua"};
  const float w[2][3] = {{0.2548f, 0.2767f, -0.0781f},
                         {0.1471f, 0.1597f, -0.0451f}};
  const float b[2][2] = {{-0.1556f, 0.0850f}, {0.0554f, 0.0797f}};
  for (int k = 0; k < 2; k++) {
    Diag d = {0};
    Limits lim = {0}; /* every limit at its default */
    Model m;
    assert_int_equal(spec_load(files[k], &lim, &d, &m), 0);
    assert_int_equal(shape_infer(&m, &d), 0);
    assert_int_equal(weights_load(&m, NULL, &d), 0);
    assert_true(m.has_seed && m.seed == 42);
    expect4(m.layers[0].param[P_WEIGHT].data, w[k], 3); /* weight[0,0,(0,):] */
    expect4(m.layers[0].param[P_BIAS].data, b[k], 2);
    model_free(&m);
    diag_free(&d);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_specs_tutorial_shapes),
      cmocka_unit_test(test_specs_seed_cnn1d_totals),
      cmocka_unit_test(test_specs_user_models),
      cmocka_unit_test(test_specs_check_table),
      cmocka_unit_test(test_specs_default_seed),
      cmocka_unit_test(test_specs_seeded_tutorial_numbers),
      cmocka_unit_test(test_specs_softmax_implicit_dim),
  };
  return cmocka_run_group_tests_name("specs", tests, NULL, NULL);
}
