/* util.c: memory, strings and buffers shared by every phase. */
#include "modelc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(void) {
  fprintf(stderr, "modelc: error: out of memory\n");
  exit(1);
}

void *mc_alloc(size_t size) {
  void *p = calloc(1, size ? size : 1);
  if (!p) out_of_memory();
  return p;
}

void *mc_realloc(void *p, size_t size) {
  p = realloc(p, size ? size : 1);
  if (!p) out_of_memory();
  return p;
}

char *mc_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  return memcpy(mc_alloc(n), s, n);
}

char *mc_vformat(const char *fmt, va_list ap) {
  char tmp[1];
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(tmp, 0, fmt, ap2);
  va_end(ap2);
  char *s = mc_alloc((size_t)n + 1);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

char *mc_format(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = mc_vformat(fmt, ap);
  va_end(ap);
  return s;
}

const char *mc_group_digits(int64_t v, char *buf) {
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v), o = 0;
  for (int i = 0; i < n; i++) {
    buf[o++] = tmp[i];
    if (tmp[i] != '-' && (n - i - 1) % 3 == 0 && i != n - 1) buf[o++] = ',';
  }
  buf[o] = 0;
  return buf;
}

MC_PRINTF(2, 0) static void buf_vprintf(Buf *b, const char *fmt,
                                        va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  if (n < 0) n = 0;
  if (b->len + (size_t)n + 1 > b->cap) {
    b->cap = (b->len + (size_t)n + 1) * 2;
    b->s = mc_realloc(b->s, b->cap);
  }
  vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap2);
  b->len += (size_t)n;
  va_end(ap2);
}

void buf_printf(Buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  buf_vprintf(b, fmt, ap);
  va_end(ap);
}

void buf_free(Buf *b) {
  free(b->s);
  b->s = NULL;
  b->len = b->cap = 0;
}

/* Edit distance, for "did you mean" hints on short names. */
int mc_levenshtein(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return 1000;
  int row[65];
  for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int up = row[j];
      int cost = tolower((unsigned char)a[i - 1]) !=
                 tolower((unsigned char)b[j - 1]);
      int best = diag + cost;
      if (row[j] + 1 < best) best = row[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

int mc_is_identifier(const char *s) {
  if (!s || !(isalpha((unsigned char)*s) || *s == '_')) return 0;
  for (s++; *s; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_')) return 0;
  return 1;
}

/* Every byte of spec text that reaches the generated C goes through here,
 * and only into a comment. Printable ASCII stays as written, except the
 * characters that could end the comment or join it to the next line; they
 * and every other byte are written as \xHH (two hex digits), so the
 * result never holds:
 *   - a byte outside ' '..'~' (newline, CR, other controls, DEL, non-ASCII);
 *   - a backslash of the text's own (a splice needs one before a newline);
 *   - "*" next to "/" (neither "*" "/" nor "/" "*");
 *   - two '?' in a row (no trigraph, such as ??/ for a backslash);
 *   - '*' or '?' as its first character, or '*', '/' or '?' as its last,
 *     so nothing printed next to it can complete one of those pairs. A
 *     leading '/' stays (absolute paths read as they are): callers never
 *     print the text right after a '*'.
 * Each escape starts with a backslash and ends with a hex digit. */
char *mc_comment_text(const char *s) {
  static const char hex[] = "0123456789abcdef";
  size_t n = strlen(s);
  char *out = mc_alloc(4 * n + 1), *o = out;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    int edge = (i == 0 && (c == '*' || c == '?')) ||
               (i + 1 == n && (c == '*' || c == '/' || c == '?'));
    int pair = (c == '/' && ((i > 0 && s[i - 1] == '*') || s[i + 1] == '*')) ||
               (c == '?' && i > 0 && s[i - 1] == '?');
    if (c < 0x20 || c > 0x7e || c == '\\' || edge || pair) {
      *o++ = '\\';
      *o++ = 'x';
      *o++ = hex[c >> 4];
      *o++ = hex[c & 15];
    } else {
      *o++ = (char)c;
    }
  }
  *o = 0;
  return out;
}

int mc_mul64(int64_t a, int64_t b, int64_t *r) {
  if (a < 0 || b < 0) return 0;
  if (a != 0 && b > INT64_MAX / a) return 0;
  *r = a * b;
  return 1;
}

int mc_add64(int64_t a, int64_t b, int64_t *r) {
  if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) return 0;
  *r = a + b;
  return 1;
}

/* ------------------------------------------------------------ shapes */

int64_t shape_numel(const Shape *s) {
  int64_t n = 1;
  for (int i = 0; i < s->n; i++)
    if (!mc_mul64(n, s->d[i], &n) || n > MC_MAX_NUMEL) return -1;
  return n;
}

int64_t mc_satmul(int64_t a, int64_t b) {
  int64_t r;
  return mc_mul64(a, b, &r) ? r : INT64_MAX;
}

int64_t mc_satadd(int64_t a, int64_t b) {
  int64_t r;
  return mc_add64(a, b, &r) ? r : INT64_MAX;
}

char *shape_str(const Shape *s) {
  Buf b = {0};
  buf_printf(&b, "[");
  for (int i = 0; i < s->n; i++)
    buf_printf(&b, "%s%lld", i ? ", " : "", (long long)s->d[i]);
  buf_printf(&b, "]");
  return b.s;
}

int shape_eq(const Shape *a, const Shape *b) {
  if (a->n != b->n) return 0;
  for (int i = 0; i < a->n; i++)
    if (a->d[i] != b->d[i]) return 0;
  return 1;
}

const char *const param_suffix[P_COUNT] = {"weight", "bias", "running_mean",
                                           "running_var"};

static void layers_free(Layer *ls, int n) {
  for (int i = 0; i < n; i++) {
    Layer *l = &ls[i];
    free(l->name);
    free(l->prefix);
    free(l->text);
    for (int p = 0; p < P_COUNT; p++) {
      free(l->param[p].inline_data);
      free(l->param[p].data);
    }
  }
  free(ls);
}

void model_free(Model *m) {
  layers_free(m->layers, m->nlayers);
  layers_free(m->spare, m->nspare);
  for (int i = 0; i < m->nnodes; i++) {
    free(m->nodes[i].name);
    free(m->nodes[i].module);
  }
  free(m->nodes);
  free(m->name);
  free(m->file);
  free(m->weights);
  free(m->weights_given);
  memset(m, 0, sizeof *m);
}

char *layer_prefix(const Layer *l) {
  if (l->modpath) return mc_format("%s (%s)", l->prefix, l->kind->name);
  if (l->name)
    return mc_format("layer %d '%s' (%s)", l->index, l->name, l->kind->name);
  return mc_format("layer %d (%s)", l->index, l->kind->name);
}

const char *node_op_name(NodeOp op) {
  static const char *const names[] = {"input", "layer", "add", "sub", "mul",
                                      "div", "cat", "flatten", "view",
                                      "mean"};
  return op <= N_MEAN ? names[op] : "?";
}

/* Python's repr() of a float: the shortest text that reads back the same,
 * with ".0" on integral values and an exponent outside [1e-4, 1e16). */
char *mc_pyfloat(double x, int is_int) {
  if (is_int) return mc_format("%.0f", x);
  if (x != x) return mc_strdup("nan");
  if (x == 1.0 / 0.0 || x == -1.0 / 0.0) return mc_strdup(x > 0 ? "inf" : "-inf");
  char digits[40];
  int p;
  for (p = 1; p < 17; p++) {
    snprintf(digits, sizeof digits, "%.*e", p - 1, x);
    if (strtod(digits, NULL) == x) break;
  }
  snprintf(digits, sizeof digits, "%.*e", p - 1, x);
  int exp = atoi(strchr(digits, 'e') + 1);
  if (exp < -4 || exp >= 16) {
    char *e = strchr(digits, 'e');
    *e = 0;
    return mc_format("%se%c%02d", digits, exp < 0 ? '-' : '+', abs(exp));
  }
  int decimals = p - 1 - exp;
  if (decimals < 1) return mc_format("%.1f", x);
  return mc_format("%.*f", decimals, x);
}
