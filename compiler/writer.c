/* writer.c: the C writer, text only: lines indented from their braces,
 * float literals that read back exactly, index expressions, and the
 * fused activations as calls. It decides nothing about the model. */
#include "modelc.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void em(Emit *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = mc_vformat(fmt, ap);
  va_end(ap);
  for (char *line = s; line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    size_t len = strlen(line), code = len;
    /* A line of a block comment is no code: the spec text in it (escaped,
     * but free to end in a brace) never moves the indentation. */
    if ((line[0] == '/' || line[0] == ' ') && line[1] == '*') code = 0;
    /* A trailing comment does not count: for (...) { followed by one */
    else if (len > 2 && strcmp(line + len - 2, "*/") == 0) {
      char *c = strstr(line, "/*");
      if (c && c > line) code = (size_t)(c - line);
    }
    while (code > 0 && line[code - 1] == ' ') code--;
    if (line[0] == '}' && e->depth > 0) e->depth--;
    if (len) buf_printf(&e->b, "%*s%s\n", 2 * e->depth, "", line);
    else buf_printf(&e->b, "\n");
    if (code && line[code - 1] == '{') e->depth++;
    line = nl ? nl + 1 : NULL;
  }
  free(s);
}

void em_blank(Emit *e) { buf_printf(&e->b, "\n"); }

void em_for(Emit *e, const char *v, int64_t n, const char *comment) {
  char *note = comment && comment[0] ? mc_format(" /* %s */", comment)
                                      : mc_strdup("");
  if (n == 1) {
    em(e, "{ const int %s = 0; (void)%s;%s", v, v, note);
    e->depth++;
  } else {
    em(e, "for (int %s = 0; %s < %lld; %s++) {%s", v, v, (long long)n, v,
       note);
  }
  free(note);
}

char *em_float(float x) {
  if (x != x) return mc_strdup("NAN");
  /* TinyCC 0.9.27 rejects -INFINITY in a static initializer ("not
   * constant"); it folds -1.0f / 0.0f, as gcc and clang do. */
  if (isinf(x)) return mc_strdup(x > 0 ? "INFINITY" : "(-1.0f / 0.0f)");
  char s[48];
  /* The shortest form that reads back. A normal float's neighbours are
   * closer than half a unit in the 6th digit, so %.6g already prints any
   * shorter form exactly: starting there saves five tries per weight.
   * Subnormals have fewer bits and start from 1 digit. */
  for (int prec = fabsf(x) < FLT_MIN ? 1 : 6; prec <= 9; prec++) {
    snprintf(s, sizeof s, "%.*g", prec, (double)x);
    if (strtof(s, NULL) == x) break;
  }
  if (!strpbrk(s, ".e")) strcat(s, ".0");
  strcat(s, "f");
  return mc_strdup(s);
}

void lin_add(Lin *l, const char *var, int64_t coef) {
  if (!var) {
    l->c += coef;
    return;
  }
  for (int i = 0; i < l->n; i++)
    if (strcmp(l->var[i], var) == 0) {
      l->coef[i] += coef;
      return;
    }
  if (l->n < 12) {
    l->var[l->n] = var;
    l->coef[l->n++] = coef;
  }
}

char *lin_str(const Lin *l) {
  Buf b = {0};
  for (int i = 0; i < l->n; i++) {
    int64_t c = l->coef[i];
    if (c == 0) continue;
    if (b.len) buf_printf(&b, c < 0 ? " - " : " + ");
    else if (c < 0) buf_printf(&b, "-");
    int64_t a = c < 0 ? -c : c;
    if (a == 1) buf_printf(&b, "%s", l->var[i]);
    else buf_printf(&b, "%s * %lld", l->var[i], (long long)a);
  }
  if (!b.len) buf_printf(&b, "%lld", (long long)l->c);
  else if (l->c)
    buf_printf(&b, " %c %lld", l->c < 0 ? '-' : '+',
               (long long)(l->c < 0 ? -l->c : l->c));
  return b.s;
}

void em_use(Emit *e, int helper) {
  e->uses[helper] = 1;
  if (helper == EH_V8) e->uses[EH_FMA] = 1;
  if (helper == EH_AVX512 || helper == EH_V8) e->uses[EH_UNUSED] = 1;
}

char *em_act_name(const Layer *l) {
  char *s = mc_format("l%d_%s", l->index, l->kind->name);
  for (char *c = s; *c; c++) *c = (char)tolower((unsigned char)*c);
  return s;
}

void em_use_act(Emit *e, const Layer *l) {
  if (e->acts && l->index >= 0 && l->index < e->nacts) e->acts[l->index] = 1;
}

char *em_act_chain(Emit *e, const Op *op, const char *x) {
  char *s = mc_strdup(x);
  for (int i = 0; i < op->nact; i++) {
    char *name = em_act_name(op->act[i]);
    char *t = mc_format("%s(%s)", name, s);
    em_use_act(e, op->act[i]);
    free(name);
    free(s);
    s = t;
  }
  return s;
}

void em_epilogue(Emit *e, const Op *op, const char *ptr, int64_t n) {
  if (!op->nact) return;
  char *lv = mc_format("%s[i]", ptr);
  char *chain = em_act_chain(e, op, lv);
  em(e, "for (int i = 0; i < %lld; i++) %s = %s;", (long long)n, lv, chain);
  free(chain);
  free(lv);
}
