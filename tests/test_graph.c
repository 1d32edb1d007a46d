/* test_graph.c: the DOT text of `modelc graph` (a node per layer, shapes
 * on the edges, user text escaped, the same bytes every time) and its
 * rendering with Graphviz's dot, when dot is installed. */
#include "testutil.h"

#include <sys/stat.h>
#include <unistd.h>

#include "graph.h"

/* The DOT text of a spec given as text; fails the test if it is wrong. */
static char *dot_of(const char *text) {
  Diag d;
  Model m;
  int r = run_spec_text("specs/t.lua", text, &d, &m);
  if (r) printf("%s", d.text.s ? d.text.s : "");
  assert_int_equal(r, 0);
  char *dot = graph_dot_str(&m);
  model_free(&m);
  diag_free(&d);
  return dot;
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

static void assert_has(const char *dot, const char *part) {
  if (!strstr(dot, part)) printf("missing: %s\nin:\n%s", part, dot);
  assert_non_null(strstr(dot, part));
}

static const char seed_cnn1d[] =
    "return model \"seed_cnn1d\" {\n"
    "  input = {2, 1, 10},\n"
    "  nn.Conv1d{1, 8, kernel_size = 2, name = \"conv1\"},\n"
    "  nn.ReLU{},\n"
    "  nn.MaxPool1d{2},\n"
    "  nn.Conv1d{8, 16, 2},\n"
    "  nn.ReLU{},\n"
    "  nn.MaxPool1d{kernel_size = 2},\n"
    "  nn.Flatten{},\n"
    "  nn.Linear{16, 2},\n"
    "}\n";

/* Every layer is a node with its text, index and name; the input and the
 * output are nodes with their shapes; each edge carries the shape of the
 * tensor on it, as `check` prints it. */
static void test_graph_nodes_and_edges(void **state) {
  (void)state;
  char *dot = dot_of(seed_cnn1d);
  assert_true(strncmp(dot, "digraph \"seed_cnn1d\" {\n", 23) == 0);
  assert_has(dot, "rankdir=TB");
  assert_has(dot, "330 parameters, 1,888 MACs");
  assert_has(dot, "label=\"input\\n[2, 1, 10]\"");
  assert_has(dot, "label=\"output\\n[2, 2]\"");
  assert_has(dot, "label=\"Conv1d(1, 8, 2)\\n#0 'conv1', "
                  "24 params\"");
  assert_has(dot, "label=\"ReLU()\\n#1\"");
  assert_has(dot, "label=\"Conv1d(8, 16, 2)\\n#3, 272 params\"");
  assert_has(dot, "label=\"Linear(16, 2)\\n#7, 34 params\"");
  assert_has(dot, "tooltip=\"specs/t.lua:3: 288 MACs\"");
  for (int i = 0; i < 8; i++) {
    char node[32];
    snprintf(node, sizeof node, "  l%d [", i);
    assert_int_equal(count(dot, node), 1);
  }
  assert_null(strstr(dot, "  l8 ["));
  assert_int_equal(count(dot, " -> "), 9);
  assert_has(dot, "  input -> l0 [label=\"[2, 1, 10]\"];\n");
  assert_has(dot, "  l0 -> l1 [label=\"[2, 8, 9]\"];\n");
  assert_has(dot, "  l1 -> l2 [label=\"[2, 8, 9]\"];\n");
  assert_has(dot, "  l2 -> l3 [label=\"[2, 8, 4]\"];\n");
  assert_has(dot, "  l3 -> l4 [label=\"[2, 16, 3]\"];\n");
  assert_has(dot, "  l5 -> l6 [label=\"[2, 16, 1]\"];\n");
  assert_has(dot, "  l6 -> l7 [label=\"[2, 16]\"];\n");
  assert_has(dot, "  l7 -> output [label=\"[2, 2]\"];\n");
  assert_string_equal(dot + strlen(dot) - 2, "}\n");
  free(dot);
}

/* Layer families get their own colours; no-ops are dashed. */
static void test_graph_families(void **state) {
  (void)state;
  char *dot = dot_of("return model \"m\" { input = {1, 3, 8, 8},\n"
                     "  nn.Conv2d{3, 4, 3}, nn.BatchNorm2d{4},\n"
                     "  nn.Dropout{}, nn.AdaptiveAvgPool2d{1},\n"
                     "  nn.Flatten{}, nn.Linear{4, 3}, nn.Softmax{dim = 1} }");
  assert_has(dot, "l0 [fillcolor=\"#dbeafe\"");
  assert_has(dot, "l1 [fillcolor=\"#fef9c3\"");
  assert_has(dot, "l2 [fillcolor=\"#ffffff\", color=\"#6b7280\", "
                  "style=\"rounded,dashed\"");
  assert_has(dot, "l3 [fillcolor=\"#dcfce7\"");
  assert_has(dot, "l5 [fillcolor=\"#ffedd5\"");
  assert_has(dot, "l6 [fillcolor=\"#f3e8ff\"");
  assert_has(dot, "  l0 -> l1 [label=\"[1, 4, 6, 6]\"];\n");
  assert_has(dot, "  l3 -> l4 [label=\"[1, 4, 1, 1]\"];\n");
  assert_has(dot, "  l6 -> output [label=\"[1, 3]\"];\n");
  free(dot);
}

/* A name is user text: quotes and backslashes are escaped, a newline is a
 * line break, so it can neither end the string nor become \N or \G. */
static void test_graph_escapes_names(void **state) {
  (void)state;
  char *dot = dot_of("return model \"m\" { input = {2, 3},\n"
                     "  nn.ReLU{name = \"a\\\"b\"},\n"
                     "  nn.Tanh{name = \"x\\\\N\\\\\"},\n"
                     "  nn.Sigmoid{name = \"two\\nlines\\tand\\rcr\"} }");
  assert_has(dot, "label=\"ReLU()\\n#0 'a\\\"b'\"");
  assert_has(dot, "label=\"Tanh()\\n#1 'x\\\\N\\\\'\"");
  assert_has(dot, "label=\"Sigmoid()\\n#2 'two\\nlines and cr'\"");
  /* Every quote in the text is either escaped or one of a balanced pair
   * on its line. */
  for (const char *line = dot; *line;) {
    const char *end = strchr(line, '\n');
    assert_non_null(end);
    int quotes = 0;
    for (const char *p = line; p < end; p++) {
      if (*p == '\\') p++;
      else if (*p == '"') quotes++;
    }
    assert_int_equal(quotes % 2, 0);
    line = end + 1;
  }
  free(dot);
}

/* The same model gives the same bytes. */
static void test_graph_deterministic(void **state) {
  (void)state;
  char *a = dot_of(seed_cnn1d), *b = dot_of(seed_cnn1d);
  assert_string_equal(a, b);
  free(a);
  free(b);
  /* graph_dot to a file and graph_dot_str agree */
  Diag d;
  Model m;
  assert_int_equal(run_spec_text("specs/t.lua", seed_cnn1d, &d, &m), 0);
  FILE *f = tmpfile();
  assert_non_null(f);
  graph_dot(f, &m);
  long n = ftell(f);
  rewind(f);
  char *c = calloc(1, (size_t)n + 1);
  assert_int_equal(fread(c, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  a = graph_dot_str(&m);
  assert_string_equal(a, c);
  free(a);
  free(c);
  model_free(&m);
  diag_free(&d);
}

/* Is `dot` on PATH? */
static int have_dot(void) {
  const char *path = getenv("PATH");
  if (!path) return 0;
  char *copy = strdup(path);
  int found = 0;
  for (char *dir = strtok(copy, ":"); dir && !found;
       dir = strtok(NULL, ":")) {
    char full[4096];
    snprintf(full, sizeof full, "%s/dot", *dir ? dir : ".");
    found = access(full, X_OK) == 0;
  }
  free(copy);
  return found;
}

static char tmpdir[64];

static char *tmp_path(const char *name) {
  if (!tmpdir[0]) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/modelc_graph_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
  }
  return mc_format("%s/%s", tmpdir, name);
}

/* .svg and .png through dot, with a name full of escapes; skipped when
 * Graphviz is not installed. */
static void test_graph_render_svg(void **state) {
  (void)state;
  if (!have_dot()) {
    printf("dot is not installed: skipping the svg rendering\n");
    skip();
  }
  char *dot = dot_of("return model \"m\" { input = {2, 3},\n"
                     "  nn.ReLU{name = \"a\\\"b\\\\\"}, nn.Linear{3, 4} }");
  char *svg = tmp_path("m.svg"), *png = tmp_path("m.png");
  char err[256] = "";
  int r = graph_render(dot, svg, err, sizeof err);
  if (r) printf("%s\n", err);
  assert_int_equal(r, 0);
  char *text = read_file(svg, NULL);
  assert_non_null(text);
  assert_true(strncmp(text, "<?xml", 5) == 0 || strncmp(text, "<svg", 4) == 0);
  assert_non_null(strstr(text, "Linear(3, 4)"));
  assert_non_null(strstr(text, "[2, 4]"));
  free(text);
  assert_int_equal(graph_render(dot, png, err, sizeof err), 0);
  size_t n = 0;
  text = read_file(png, &n);
  assert_non_null(text);
  assert_true(n > 8 && memcmp(text, "\x89PNG", 4) == 0);
  free(text);
  remove(svg);
  remove(png);
  free(svg);
  free(png);
  free(dot);
}

/* dot's failure is reported with its exit status. */
static void test_graph_render_dot_fails(void **state) {
  (void)state;
  if (!have_dot()) skip();
  char *svg = tmp_path("bad.svg");
  char err[256] = "";
  printf("dot's own syntax error message follows:\n");
  assert_int_equal(graph_render("digraph { a -> }\n", svg, err, sizeof err),
                   -1);
  assert_non_null(strstr(err, "dot failed with exit status"));
  remove(svg);
  free(svg);
}

/* .dot and .gv write the text itself; any other extension is an error. */
static void test_graph_render_extensions(void **state) {
  (void)state;
  assert_string_equal(graph_format("a/b.svg"), "svg");
  assert_string_equal(graph_format("B.PNG"), "png");
  assert_string_equal(graph_format("b.dot"), "dot");
  assert_string_equal(graph_format("b.gv"), "dot");
  assert_null(graph_format("b.jpg"));
  assert_null(graph_format("svg"));
  assert_null(graph_format(""));
  char err[256] = "";
  assert_int_equal(graph_render("digraph {}\n", "", err, sizeof err), -1);
  char *jpg = tmp_path("m.jpg");
  assert_int_equal(graph_render("digraph {}\n", jpg, err, sizeof err), -1);
  assert_non_null(strstr(err, "cannot tell the format of '"));
  assert_non_null(strstr(err, "m.jpg"));
  assert_non_null(strstr(err, ".svg, .png or .dot"));
  struct stat st;
  assert_int_not_equal(stat(jpg, &st), 0);
  free(jpg);

  char *gv = tmp_path("m.GV");
  assert_int_equal(graph_render("digraph {}\n", gv, err, sizeof err), 0);
  char *text = read_file(gv, NULL);
  assert_string_equal(text, "digraph {}\n");
  free(text);
  remove(gv);
  free(gv);

  char *bad = tmp_path("no/such/dir/m.dot");
  assert_int_equal(graph_render("digraph {}\n", bad, err, sizeof err), -1);
  assert_non_null(strstr(err, "cannot write '"));
  free(bad);
}

/* With no dot on PATH, the message says how to install it. */
static void test_graph_render_not_installed(void **state) {
  (void)state;
  char *empty = tmp_path("empty");
  assert_int_equal(mkdir(empty, 0700), 0);
  char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
  setenv("PATH", empty, 1);
  char *svg = tmp_path("m.svg");
  char err[256] = "";
  int r = graph_render("digraph {}\n", svg, err, sizeof err);
  if (old) setenv("PATH", old, 1);
  else unsetenv("PATH");
  free(old);
  assert_int_equal(r, -1);
  assert_string_equal(err,
                      "graphviz's dot is not installed: apt-get install "
                      "graphviz");
  rmdir(empty);
  free(empty);
  free(svg);
}

static int teardown(void **state) {
  (void)state;
  if (tmpdir[0]) rmdir(tmpdir);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_graph_nodes_and_edges),
      cmocka_unit_test(test_graph_families),
      cmocka_unit_test(test_graph_escapes_names),
      cmocka_unit_test(test_graph_deterministic),
      cmocka_unit_test(test_graph_render_svg),
      cmocka_unit_test(test_graph_render_dot_fails),
      cmocka_unit_test(test_graph_render_extensions),
      cmocka_unit_test(test_graph_render_not_installed),
  };
  return cmocka_run_group_tests(tests, NULL, teardown);
}
