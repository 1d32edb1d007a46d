/* test_shapes.c: replay tests/fixtures/shapes.tsv, PyTorch 1.13's verdict
 * on thousands of random single-layer configurations (made by
 * tools/gen_shape_fixture.py), through modelc's loader and shape checker.
 *
 *   ok, limitation   modelc must infer the same output shape
 *   empty            PyTorch returned an empty tensor: modelc must stop with
 *                    "Output size is too small"
 *   error            modelc must stop with PyTorch's own message, at line 3
 *                    of the spec (the layer's line)
 *
 * Python prints sets in hash order, so "{...}" sets in messages are
 * compared with their items sorted. */
#include "testutil.h"

#include <ctype.h>

#define FIXTURE "tests/fixtures/shapes.tsv"

/* Sort the items of every {'a', 'b'} set in s, in place. */
static void sort_sets(char *s) {
  for (char *p = strstr(s, "{'"); p; p = strstr(p + 1, "{'")) {
    char *end = strchr(p, '}');
    if (!end) return;
    char *items[16];
    int n = 0;
    char buf[512];
    size_t len = (size_t)(end - p - 1);
    if (len >= sizeof buf) continue;
    memcpy(buf, p + 1, len);
    buf[len] = 0;
    for (char *t = buf; t && *t && n < 16;) {
      items[n++] = t;
      t = strstr(t, ", ");
      if (t) *t = 0, t += 2;
    }
    for (int i = 1; i < n; i++)
      for (int j = i; j > 0 && strcmp(items[j - 1], items[j]) > 0; j--) {
        char *x = items[j];
        items[j] = items[j - 1];
        items[j - 1] = x;
      }
    char out[512] = "";
    for (int i = 0; i < n; i++) {
      if (i) strcat(out, ", ");
      strcat(out, items[i]);
    }
    if (strlen(out) == len) memcpy(p + 1, out, len);
  }
}

typedef struct Row {
  int id;
  char *input, *layer, *status, *result;
} Row;

static int split_row(char *line, Row *r) {
  char *f[5];
  int n = 0;
  for (char *p = line; n < 5; n++) {
    f[n] = p;
    p = strchr(p, '\t');
    if (!p) {
      n++;
      break;
    }
    *p++ = 0;
  }
  if (n != 5) return -1;
  r->id = atoi(f[0]);
  r->input = f[1];
  r->layer = f[2];
  r->status = f[3];
  r->result = f[4];
  return 0;
}

/* One row: NULL when modelc agrees, else what went wrong (malloc'd). */
static char *replay(const Row *r, int *kind_seen) {
  char *spec = mc_format("return model \"t\" {\n  input = %s,\n  %s,\n}\n",
                         r->input, r->layer);
  Diag d;
  Model m;
  int st = run_spec_text("t.lua", spec, &d, &m);
  free(spec);
  char *why = NULL;
  const char *text = d.text.s ? d.text.s : "";
  if (strcmp(r->status, "ok") == 0 || strcmp(r->status, "limitation") == 0) {
    if (st != 0) {
      why = mc_format("modelc failed: %s", text);
    } else {
      char got[256] = "";
      const Shape *s = &m.layers[0].out;
      for (int i = 0; i < s->n; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld",
                 i ? "," : "", (long long)s->d[i]);
      if (strcmp(got, r->result) != 0)
        why = mc_format("shape %s, PyTorch %s", got, r->result);
      const LayerKind *k = m.layers[0].kind;
      for (int i = 0; layer_kind_at(i); i++)
        if (layer_kind_at(i) == k) kind_seen[i]++;
      model_free(&m);
    }
  } else if (st == 0) {
    model_free(&m);
    why = mc_format("modelc accepted it");
  } else {
    const char *want = strcmp(r->status, "empty") == 0
                           ? "Output size is too small" : r->result;
    char *a = mc_strdup(text), *b = mc_strdup(want);
    sort_sets(a);
    sort_sets(b);
    if (!strstr(a, b)) {
      const char *nl = strchr(text, '\n');
      why = mc_format("wrong message\n      modelc:  %.*s\n      PyTorch: %s",
                      (int)(nl ? nl - text : (long)strlen(text)), text, want);
    }
    else if (strncmp(text, "t.lua:3: error: ", 16) != 0)
      why = mc_format("wrong place: %s", text);
    free(a);
    free(b);
  }
  diag_free(&d);
  return why;
}

static void test_shapes_fixture(void **state) {
  (void)state;
  size_t len;
  char *text = read_file(FIXTURE, &len);
  assert_non_null(text);
  int rows = 0, bad = 0, kind_seen[64] = {0};
  int by_status[4] = {0};
  const char *statuses[4] = {"ok", "empty", "error", "limitation"};
  for (char *line = text, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    if (line[0] == '#' || !line[0]) continue;
    Row r = {0, NULL, NULL, NULL, NULL};
    char *copy = mc_strdup(line);
    assert_int_equal(split_row(copy, &r), 0);
    for (int s = 0; s < 4; s++)
      if (strcmp(r.status, statuses[s]) == 0) by_status[s]++;
    char *why = replay(&r, kind_seen);
    rows++;
    if (why) {
      if (++bad <= 400)
        printf("  row %d: input %s, %s [%s]\n      %s\n", r.id, r.input,
               r.layer, r.status, why);
      free(why);
    }
    free(copy);
  }
  printf("  %d rows (%d ok, %d empty, %d error, %d limitation), %d "
         "disagree with PyTorch\n", rows, by_status[0], by_status[1],
         by_status[2], by_status[3], bad);
  printf("  valid rows per layer kind:");
  for (int i = 0; layer_kind_at(i); i++)
    printf(" %s %d", layer_kind_at(i)->name, kind_seen[i]);
  printf("\n");
  free(text);
  assert_true(rows >= 1000);
  assert_int_equal(bad, 0);
  for (int i = 0; layer_kind_at(i); i++) assert_true(kind_seen[i] > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shapes_fixture),
  };
  return cmocka_run_group_tests_name("shapes", tests, NULL, NULL);
}
