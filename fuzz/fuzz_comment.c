/* fuzz_comment.c: no spec text becomes code.
 *
 * The bytes are spec text put in one place the emitter copies into the
 * generated C: the first byte chooses the place (layer names, which are
 * also the weight keys; the same in the vector lowering; the spec path;
 * the weights path; module attribute paths in a branching forward), the
 * rest is the text. The generated file, put through
 * translation phases 1 to 3 as a C99 compiler does (trigraphs, line
 * splices, comments to one space; cm_strip), must equal the file generated
 * with plain text there. A spec that refuses the text (an empty name, a
 * NUL byte) is fine; tests/test_escape.c runs the same models through
 * gcc's own preprocessor with thousands of random strings. */
#include "fuzz.h"
#include "modelc.h"

#include <string.h>

/* Where the text goes. */
typedef enum { AT_LAYER_NAMES, AT_VECTOR_NAMES, AT_SPEC_PATH, AT_WEIGHTS_PATH,
               AT_MODULE_PATHS, AT_COUNT } CmPlace;
static const char *const cm_place_name[AT_COUNT] = {
    "layer names (weight keys)", "layer names in the vector lowering",
    "the spec path", "the weights path",
    "module attribute paths in a branching forward"};

/* s as a Lua string literal: every byte as a decimal escape. */
static char *cm_lua_quote(const char *s) {
  Buf b = {0};
  buf_printf(&b, "\"");
  for (; *s; s++) buf_printf(&b, "\\%03d", (unsigned char)*s);
  buf_printf(&b, "\"");
  return b.s;
}

/* Two models that between them reach every comment the emitter writes
 * spec text into: op headers with the layer text, activation helpers,
 * weight arrays named by their keys (a folded BatchNorm too), the
 * register-blocked convolution, a pool, a Linear, and the vector
 * lowering. */
static char *cm_spec(CmPlace at, char *const names[4]) {
  char *q[4];
  for (int i = 0; i < 4; i++) q[i] = cm_lua_quote(names[i]);
  char *s;
  if (at == AT_MODULE_PATHS) /* attributes, a nested Sequential, a branch */
    s = mc_format("local net = nn.Module()\n"
                  "net[%s] = nn.Conv2d{3, 8, 3, padding = 1}\n"
                  "net[%s] = nn.BatchNorm2d{8}\n"
                  "net[%s] = nn.Hardswish{}\n"
                  "net[%s] = nn.Sequential{nn.Linear{8, 4}}\n"
                  "function net:forward(x)\n"
                  "  local y = self[%s](self[%s](self[%s](x)))\n"
                  "  y = F.adaptive_avg_pool2d(y + x:mean(1, true), 1)\n"
                  "  return self[%s](torch.flatten(y, 1))\n"
                  "end\n"
                  "return model \"m\" { input = {1, 3, 8, 8}, seed = 1, "
                  "module = net }\n", q[0], q[1], q[2], q[3], q[2], q[1],
                  q[0], q[3]);
  else if (at == AT_VECTOR_NAMES)
    s = mc_format("return model \"m\" { input = {1, 2, 12}, seed = 1,\n"
                  "  nn.Conv1d{2, 8, 3, name = %s},\n"
                  "  nn.ReLU{name = %s},\n"
                  "  nn.MaxPool1d{2, name = %s},\n"
                  "  nn.Flatten{},\n"
                  "  nn.Linear{40, 3, name = %s},\n"
                  "}\n", q[0], q[1], q[2], q[3]);
  else
    s = mc_format("return model \"m\" { input = {1, 3, 10, 10}, seed = 1,\n"
                  "  nn.Conv2d{3, 16, 3, padding = 1, name = %s},\n"
                  "  nn.BatchNorm2d{16, name = %s},\n"
                  "  nn.GELU{name = %s},\n"
                  "  nn.AvgPool2d{2},\n"
                  "  nn.Flatten{},\n"
                  "  nn.Linear{400, 4, name = %s},\n"
                  "  nn.Tanh{},\n"
                  "}\n", q[0], q[1], q[2], q[3]);
  for (int i = 0; i < 4; i++) free(q[i]);
  return s;
}

/* The C that `modelc build` writes with `text` at `at` (NULL: plain text),
 * or NULL if the spec refuses the text. */
static char *cm_generate(CmPlace at, const char *text) {
  char *names[4];
  for (int i = 0; i < 4; i++)
    names[i] = (at == AT_LAYER_NAMES || at == AT_VECTOR_NAMES ||
                at == AT_MODULE_PATHS) && text
                   ? mc_format("%s%d", text, i) /* distinct */
                   : mc_format("n%d", i);
  const char *path = at == AT_SPEC_PATH && text ? text : "specs/m.lua";
  char *spec = cm_spec(at, names), *c = NULL;
  Limits lim = {0};
  Diag d;
  Model m;
  memset(&d, 0, sizeof d);
  Program p = {0};
  CompileOptions co = {TARGET_GENERIC, KERNELS_FAST, 1, NULL};
  int r = spec_load_string(path, spec, strlen(spec), &lim, &d, &m);
  if (r == 0 && shape_infer(&m, &d) == 0) r = compile_model(&m, &co, &p, &d);
  else r = -1;
  if (r == 0) {
    if (at == AT_WEIGHTS_PATH) /* what the banner says they came from */
      m.weights = mc_strdup(text ? text : "w.safetensors");
    EmitOptions o = {.version = "test"};
    Generated g;
    emit_program(&p, &o, &g);
    c = mc_strdup(g.c);
    generated_free(&g);
  }
  program_free(&p);
  model_free(&m); /* also after a refused spec */
  diag_free(&d);
  free(spec);
  for (int i = 0; i < 4; i++) free(names[i]);
  return c;
}

/* Translation phases 1-3 of C99 on s: trigraphs replaced, backslash-
 * newlines removed, each comment replaced by one space (string and
 * character literals kept). NULL if a comment or literal never ends. */
static char *cm_strip(const char *s) {
  static const char tri_from[] = "=(/)'<!>-", tri_to[] = "#[\\]^{|}~";
  size_t n = strlen(s);
  char *a = mc_alloc(n + 1), *b = mc_alloc(n + 1);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) { /* phase 1 */
    const char *t;
    if (s[i] == '?' && s[i + 1] == '?' && s[i + 2] &&
        (t = strchr(tri_from, s[i + 2])) != NULL) {
      a[k++] = tri_to[t - tri_from];
      i += 2;
    } else {
      a[k++] = s[i];
    }
  }
  a[k] = 0;
  n = k, k = 0;
  for (size_t i = 0; i < n; i++) { /* phase 2 */
    if (a[i] == '\\' && a[i + 1] == '\n') i++;
    else b[k++] = a[i];
  }
  b[k] = 0;
  n = k, k = 0;
  for (size_t i = 0; i < n; i++) { /* phase 3 */
    if (b[i] == '"' || b[i] == '\'') {
      char q = b[i];
      a[k++] = b[i++];
      for (; i < n && b[i] != q && b[i] != '\n'; i++) {
        if (b[i] == '\\' && i + 1 < n) a[k++] = b[i++];
        a[k++] = b[i];
      }
      if (i >= n || b[i] != q) goto unterminated;
      a[k++] = b[i];
    } else if (b[i] == '/' && b[i + 1] == '*') {
      const char *e = strstr(b + i + 2, "*/");
      if (!e) goto unterminated;
      a[k++] = ' ';
      i = (size_t)(e - b) + 1;
    } else if (b[i] == '/' && b[i + 1] == '/') {
      a[k++] = ' ';
      while (i + 1 < n && b[i + 1] != '\n') i++;
    } else {
      a[k++] = b[i];
    }
  }
  a[k] = 0;
  free(b);
  return a;
unterminated:
  free(a);
  free(b);
  return NULL;
}

int fuzz_comment_one(const uint8_t *data, size_t size) {
  static char *plain[AT_COUNT]; /* the files with plain text, stripped */
  if (size < 2) return 0;
  CmPlace at = (CmPlace)(data[0] % AT_COUNT);
  char *text = mc_alloc(size);
  memcpy(text, data + 1, size - 1); /* stops at a NUL byte */
  if (!plain[at]) {
    char *c = cm_generate(at, NULL);
    plain[at] = c ? cm_strip(c) : NULL;
    free(c);
    if (!plain[at]) FUZZ_FAIL("the plain model does not build");
  }
  char *c = cm_generate(at, text);
  if (c) {
    char *stripped = cm_strip(c);
    if (!stripped || strcmp(stripped, plain[at]) != 0) {
      char *shown = mc_comment_text(text);
      FUZZ_FAIL("%s: the C without its comments changes with the text '%s'",
                cm_place_name[at], shown);
    }
    free(stripped);
    free(c);
  }
  free(text);
  return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_comment_one(data, size);
}
#endif
