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

/* floor(i * 2^b * 10^j) into *q, and whether nothing was cut off, in
 * 64-bit integers; 0 when the numbers would not fit (the caller then
 * falls back to the C library). */
static int scale_floor(uint64_t i, int b, int j, uint64_t *q, int *exact) {
  static const uint64_t pow5[28] = {
      UINT64_C(1), UINT64_C(5), UINT64_C(25), UINT64_C(125), UINT64_C(625),
      UINT64_C(3125), UINT64_C(15625), UINT64_C(78125), UINT64_C(390625),
      UINT64_C(1953125), UINT64_C(9765625), UINT64_C(48828125),
      UINT64_C(244140625), UINT64_C(1220703125), UINT64_C(6103515625),
      UINT64_C(30517578125), UINT64_C(152587890625), UINT64_C(762939453125),
      UINT64_C(3814697265625), UINT64_C(19073486328125),
      UINT64_C(95367431640625), UINT64_C(476837158203125),
      UINT64_C(2384185791015625), UINT64_C(11920928955078125),
      UINT64_C(59604644775390625), UINT64_C(298023223876953125),
      UINT64_C(1490116119384765625), UINT64_C(7450580596923828125)};
  if (j > 27 || j < -27) return 0; /* 5^28 does not fit */
  uint64_t p5 = pow5[j < 0 ? -j : j];
  if (j >= 0) { /* i * 5^j * 2^(b + j) */
    if (i > UINT64_MAX / p5) return 0;
    uint64_t n = i * p5;
    int s = b + j;
    if (s >= 0) {
      if (s >= 64 || n > UINT64_MAX >> s) return 0;
      *q = n << s, *exact = 1;
    } else if (-s >= 64) {
      *q = 0, *exact = n == 0;
    } else {
      *q = n >> -s, *exact = (n & ((UINT64_C(1) << -s) - 1)) == 0;
    }
    return 1;
  }
  int s = b + j; /* i * 2^(b + j) / 5^-j */
  if (s >= 0) {
    if (s >= 64 || i > UINT64_MAX >> s) return 0;
    uint64_t n = i << s;
    *q = n / p5, *exact = n % p5 == 0;
  } else {
    if (-s >= 64 || p5 > UINT64_MAX >> -s) return 0;
    uint64_t d = p5 << -s;
    *q = i / d, *exact = i % d == 0;
  }
  return 1;
}

/* What printf's "%.*g" with precision prec prints for a normal float x,
 * if that reads back as x (strtof rounds to nearest, ties to even):
 * the digits and their rounding in integers, the read-back test against
 * the halfway points to x's neighbours. 1 when s holds the text, 0 when
 * it would not read back, -1 when the numbers do not fit. */
static int g_exact(float x, int prec, char *s) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  int bexp = (int)(u >> 23 & 0xff);
  uint32_t frac = u & 0x7fffff;
  if (bexp == 0 || bexp == 0xff) return -1;
  uint64_t m = frac | UINT32_C(1) << 23; /* x = m * 2^e */
  int e = bexp - 150;
  /* In units of 2^(e - 2): x is 4m, its neighbours' halfway points
   * 4m + 2 and 4m - 2, or 4m - 1 below a power of two. */
  uint64_t lo = frac == 0 && bexp > 1 ? 4 * m - 1 : 4 * m - 2, hi = 4 * m + 2;
  int incl = (m & 1) == 0;
  uint64_t pow_lo = 1;
  for (int k = 1; k < prec; k++) pow_lo *= 10;
  uint64_t pow_hi = pow_lo * 10;
  /* The decimal exponent of the first digit, X: the log's guess, then
   * checked so that floor(|x| * 10^j) has prec digits. */
  int X = (int)floor((e + 23) * 0.30102999566398120), j = 0;
  uint64_t t = 0;
  int ex = 0;
  for (int tries = 0;; tries++) {
    j = prec - 1 - X;
    if (tries > 3 || !scale_floor(m, e, j, &t, &ex)) return -1;
    if (t < pow_lo) X--;
    else if (t >= pow_hi) X++;
    else break;
  }
  uint64_t h; /* floor(2 |x| 10^j): its last bit is the first cut-off half */
  if (!scale_floor(m, e + 1, j, &h, &ex)) return -1;
  uint64_t d = h >> 1;
  if (h & 1) d += !ex || (d & 1); /* above half, or a tie to even */
  uint64_t lq, hq;
  int lex, hex;
  if (!scale_floor(lo, e - 2, j, &lq, &lex) ||
      !scale_floor(hi, e - 2, j, &hq, &hex))
    return -1;
  int above = d > lq || (d == lq && lex && incl);
  int below = d < hq || (d == hq && (!hex || incl));
  if (!above || !below) return 0;
  if (d == pow_hi) d = pow_lo, X++;
  char dig[24];
  int n = 0;
  for (uint64_t v = d; n == 0 || v; v /= 10) dig[n++] = (char)('0' + v % 10);
  for (int k = 0; k < n / 2; k++) {
    char c = dig[k];
    dig[k] = dig[n - 1 - k], dig[n - 1 - k] = c;
  }
  while (n > 1 && dig[n - 1] == '0') n--;
  char *o = s;
  if (x < 0) *o++ = '-';
  if (X < -4 || X >= prec) {
    *o++ = dig[0];
    if (n > 1) {
      *o++ = '.';
      memcpy(o, dig + 1, (size_t)n - 1), o += n - 1;
    }
    sprintf(o, "e%c%02d", X < 0 ? '-' : '+', X < 0 ? -X : X);
  } else if (X >= 0) {
    for (int k = 0; k <= X; k++) *o++ = k < n ? dig[k] : '0';
    if (n > X + 1) {
      *o++ = '.';
      memcpy(o, dig + X + 1, (size_t)(n - X - 1)), o += n - X - 1;
    }
    *o = 0;
  } else {
    *o++ = '0', *o++ = '.';
    for (int k = 0; k < -X - 1; k++) *o++ = '0';
    memcpy(o, dig, (size_t)n), o += n;
    *o = 0;
  }
  return 1;
}

size_t em_float_to(char *out, float x) {
  if (x != x) return (size_t)sprintf(out, "NAN");
  /* TinyCC 0.9.27 rejects -INFINITY in a static initializer ("not
   * constant"); it folds -1.0f / 0.0f, as gcc and clang do. */
  if (isinf(x)) return (size_t)sprintf(out, x > 0 ? "INFINITY" : "(-1.0f / 0.0f)");
  char s[48];
  /* The shortest "%.*g" from 6 digits on that reads back. A normal
   * float's neighbours are closer than half a unit in the 6th digit, so
   * %.6g already prints any shorter form exactly: starting there saves
   * five tries per weight. Subnormals have fewer bits and start from 1
   * digit. g_exact prints and checks each try in integers; the C
   * library's printf and strtof only do what it cannot (subnormals,
   * magnitudes that do not fit 64 bits). */
  int prec = fabsf(x) < FLT_MIN ? 1 : 6, r = 0;
  for (; prec <= 9; prec++)
    if ((r = g_exact(x, prec, s)) != 0) break;
  if (r < 0) {
    for (; prec <= 9; prec++) {
      snprintf(s, sizeof s, "%.*g", prec, (double)x);
      if (strtof(s, NULL) == x) break;
    }
  }
  size_t n = strlen(s);
  if (!strpbrk(s, ".e")) memcpy(s + n, ".0", 2), n += 2;
  s[n++] = 'f';
  s[n] = 0;
  memcpy(out, s, n + 1);
  return n;
}

char *em_float(float x) {
  char s[EM_FLOAT_MAX];
  em_float_to(s, x);
  return mc_strdup(s);
}

/* The C library's way, kept as the reference that tests compare
 * em_float_to with. */
char *em_float_libc(float x) {
  char s[48];
  if (x != x || isinf(x)) return em_float(x);
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

int em_acts_vec_ok(const Op *op) {
  for (int i = 0; i < op->nact; i++)
    if (!op->act[i]->kind->act_vec) return 0;
  return 1;
}

void em_acts_vec(Emit *e, const Op *op, const char *v) {
  for (int i = 0; i < op->nact; i++) {
    const Layer *l = op->act[i];
    char *x = l->kind->act_vec(l, v);
    em_use_act(e, l);
    em(e, "%s = %s; /* %s */", v, x, l->kind->name);
    free(x);
  }
}

void em_epilogue(Emit *e, const Op *op, const char *ptr, int64_t n) {
  if (!op->nact) return;
  char *lv = mc_format("%s[i]", ptr);
  char *chain = em_act_chain(e, op, lv);
  em(e, "for (int i = 0; i < %lld; i++) %s = %s;", (long long)n, lv, chain);
  free(chain);
  free(lv);
}

void em_transpose16(Emit *e) {
  em(e, "for (int i = 0; i < 16; i += 2) { /* b[i]: a[i][k], a[i + 1][k], "
     "for k = 4l, 4l + 1 of each lane l */");
  em(e, "b[i] = _mm512_unpacklo_ps(a[i], a[i + 1]);");
  em(e, "b[i + 1] = _mm512_unpackhi_ps(a[i], a[i + 1]);");
  em(e, "}");
  em(e, "for (int i = 0; i < 16; i += 4) { /* a[i + k]: rows i .. i + 3 "
     "at column 4l + k of each lane l */");
  em(e, "a[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(b[i]), "
     "_mm512_castps_pd(b[i + 2])));");
  em(e, "a[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd("
     "b[i]), _mm512_castps_pd(b[i + 2])));");
  em(e, "a[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd("
     "b[i + 1]), _mm512_castps_pd(b[i + 3])));");
  em(e, "a[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd("
     "b[i + 1]), _mm512_castps_pd(b[i + 3])));");
  em(e, "}");
  em(e, "for (int i = 0; i < 4; i++) { /* b[i], b[i + 4]: columns i and i + "
     "8, i + 4 and i + 12 of rows 0 .. 7; b[i + 8], b[i + 12]: of rows "
     "8 .. 15 */");
  em(e, "b[i] = _mm512_shuffle_f32x4(a[i], a[i + 4], 0x88);");
  em(e, "b[i + 4] = _mm512_shuffle_f32x4(a[i], a[i + 4], 0xdd);");
  em(e, "b[i + 8] = _mm512_shuffle_f32x4(a[i + 8], a[i + 12], 0x88);");
  em(e, "b[i + 12] = _mm512_shuffle_f32x4(a[i + 8], a[i + 12], 0xdd);");
  em(e, "}");
  em(e, "for (int i = 0; i < 8; i++) { /* a[i]: column i */");
  em(e, "a[i] = _mm512_shuffle_f32x4(b[i], b[i + 8], 0x88);");
  em(e, "a[i + 8] = _mm512_shuffle_f32x4(b[i], b[i + 8], 0xdd);");
  em(e, "}");
}
