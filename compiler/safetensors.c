/*
 * safetensors.c - a strict .safetensors reader and a tiny F32 writer
 *
 * Loading runs in stages, each of which trusts only what the previous one
 * checked:
 *   1. the 8-byte header length against the file size and a 100 MB cap;
 *   2. the header as strict JSON (json_* below): grammar, string escapes,
 *      UTF-8, nesting depth, nothing after the object;
 *   3. the header against the safetensors schema (hdr_* below), collecting
 *      one Ent per tensor and checking dtype, shape and offsets;
 *   4. the tensors together: unique names, and offsets that tile the data
 *      area exactly;
 *   5. only then the data, read and converted to float32 in small chunks.
 * Nothing is allocated from a size the file declares before stage 4 has
 * proved that the bytes exist.
 */
#include "safetensors.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER 100000000ull /* the limit of the reference reader */
#define ST_MAX_DEPTH 64            /* JSON nesting limit */
#define SHOW_MAX 72                /* room for a name quoted in a message */

/* ---------------------------------------------------------------- errors */

/* Writes a message into err (if there is room) and returns -1. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int seterr(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  if (err == NULL || errlen == 0) return -1;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

/* Copies the n bytes of s into dst (SHOW_MAX bytes) for quoting in a
   message: control bytes become \xHH, and long text is cut at a character
   boundary and ends in "...". Returns dst. */
static const char *show(char *dst, const char *s, size_t n) {
  size_t i, o = 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (o + 8 > SHOW_MAX) {
      while (o > 0 && ((unsigned char)dst[o - 1] & 0xC0) == 0x80)
        o--;
      if (o > 0 && (unsigned char)dst[o - 1] >= 0xC0) o--;
      memcpy(dst + o, "...", 3);
      o += 3;
      break;
    }
    if (c < 0x20 || c == 0x7F) {
      sprintf(dst + o, "\\x%02X", c);
      o += 4;
    } else {
      dst[o++] = (char)c;
    }
  }
  dst[o] = '\0';
  return dst;
}

/* ---------------------------------------------------------------- dtypes */

enum { CV_NONE, CV_F32, CV_F16, CV_BF16, CV_F64 };

typedef struct DType {
  const char *name;
  unsigned size; /* bytes per element */
  int conv;      /* how to convert to float32; CV_NONE: not supported */
} DType;

static const DType DTYPES[] = {
    {"F32", 4, CV_F32},  {"F16", 2, CV_F16},      {"BF16", 2, CV_BF16},
    {"F64", 8, CV_F64},  {"BOOL", 1, CV_NONE},    {"U8", 1, CV_NONE},
    {"I8", 1, CV_NONE},  {"F8_E4M3", 1, CV_NONE}, {"F8_E5M2", 1, CV_NONE},
    {"I16", 2, CV_NONE}, {"U16", 2, CV_NONE},     {"I32", 4, CV_NONE},
    {"U32", 4, CV_NONE}, {"I64", 8, CV_NONE},     {"U64", 8, CV_NONE},
};

static const DType *find_dtype(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
    if (strlen(DTYPES[i].name) == n && memcmp(DTYPES[i].name, s, n) == 0)
      return &DTYPES[i];
  return NULL;
}

/* ------------------------------------------------------ float conversion */

static float f32_from_bits(uint32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

/* IEEE half -> float32, exactly (denormals, infinities, NaN payloads). */
static float f16_to_f32(unsigned h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  unsigned exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  if (exp == 0x1F) /* infinity or NaN */
    return f32_from_bits(sign | 0x7F800000u | (mant << 13));
  if (exp != 0) /* normal: rebias the exponent from 15 to 127 */
    return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
  if (mant == 0) return f32_from_bits(sign);
  /* denormal: mant * 2^-24, normalised for float32 */
  exp = 113; /* the biased float32 exponent of 2^-14 */
  while ((mant & 0x400u) == 0) {
    mant <<= 1;
    exp--;
  }
  return f32_from_bits(sign | ((uint32_t)exp << 23) | ((mant & 0x3FFu) << 13));
}

/* bfloat16 is the top half of a float32. */
static float bf16_to_f32(unsigned h) {
  return f32_from_bits((uint32_t)h << 16);
}

/* float64 -> float32, rounding as a C cast does in the default rounding
   mode, without the undefined behaviour of casting an out-of-range value:
   magnitudes from FLT_MAX + half an ulp up become infinities. */
static float f64_to_f32(uint64_t bits) {
  double d;
  memcpy(&d, &bits, sizeof d);
  if (d != d) /* NaN: keep the sign and the top of the payload */
    return f32_from_bits((uint32_t)(bits >> 63 << 31) | 0x7FC00000u |
                         (uint32_t)((bits >> 29) & 0x3FFFFFu));
  if (d >= 0x1.ffffffp127) return f32_from_bits(0x7F800000u);
  if (d <= -0x1.ffffffp127) return f32_from_bits(0xFF800000u);
  if (d > FLT_MAX) return FLT_MAX;
  if (d < -FLT_MAX) return -FLT_MAX;
  return (float)d;
}

static uint64_t le_get(const unsigned char *p, unsigned n) {
  uint64_t v = 0;
  while (n-- > 0)
    v = (v << 8) | p[n];
  return v;
}

/* Converts n little-endian elements of dtype conv from src to float32. */
static void convert(float *dst, const unsigned char *src, size_t n, int conv) {
  size_t i;
  if (conv == CV_F32) {
    for (i = 0; i < n; i++)
      dst[i] = f32_from_bits((uint32_t)le_get(src + 4 * i, 4));
  } else if (conv == CV_F16) {
    for (i = 0; i < n; i++)
      dst[i] = f16_to_f32((unsigned)le_get(src + 2 * i, 2));
  } else if (conv == CV_BF16) {
    for (i = 0; i < n; i++)
      dst[i] = bf16_to_f32((unsigned)le_get(src + 2 * i, 2));
  } else {
    for (i = 0; i < n; i++)
      dst[i] = f64_to_f32(le_get(src + 8 * i, 8));
  }
}

/* ----------------------------------------------------------------- UTF-8 */

/* Length of the valid UTF-8 sequence at s[0..n) (n >= 1), or 0 if it is
   invalid: stray continuation bytes, overlong forms, surrogates and code
   points above U+10FFFF are all rejected. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len, i;
  if (c < 0x80) return 1;
  if (c < 0xC2 || c > 0xF4) return 0;
  len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  if (n < len) return 0;
  for (i = 1; i < len; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  if (c == 0xE0 && s[1] < 0xA0) return 0;  /* overlong 3-byte form */
  if (c == 0xED && s[1] >= 0xA0) return 0; /* UTF-16 surrogate */
  if (c == 0xF0 && s[1] < 0x90) return 0;  /* overlong 4-byte form */
  if (c == 0xF4 && s[1] >= 0x90) return 0; /* above U+10FFFF */
  return len;
}

/* Writes code point cp (valid, not a surrogate) as UTF-8; returns bytes. */
static size_t utf8_put(unsigned char *d, unsigned long cp) {
  if (cp < 0x80) {
    d[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    d[0] = (unsigned char)(0xC0 | (cp >> 6));
    d[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    d[0] = (unsigned char)(0xE0 | (cp >> 12));
    d[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    d[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  d[0] = (unsigned char)(0xF0 | (cp >> 18));
  d[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  d[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  d[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

/* ------------------------------------------------------------ JSON lexer */

/* A cursor over the header text. Errors go straight into err. */
typedef struct Json {
  const unsigned char *s;
  size_t len, pos;
  char *err;
  size_t errlen;
  int keep_unsupported; /* st_open's option of that name */
} Json;

static int jfail(Json *j, const char *what) {
  return seterr(j->err, j->errlen, "invalid JSON header at byte %lu: %s",
                (unsigned long)j->pos, what);
}

static void skip_ws(Json *j) {
  while (j->pos < j->len && (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' ||
                             j->s[j->pos] == '\n' || j->s[j->pos] == '\r'))
    j->pos++;
}

/* The next byte after white space, or -1 at the end. */
static int peek(Json *j) {
  skip_ws(j);
  return j->pos < j->len ? j->s[j->pos] : -1;
}

/* Consumes the byte c if it comes next (after white space). */
static int accept(Json *j, int c) {
  if (peek(j) != c) return 0;
  j->pos++;
  return 1;
}

/* Consumes the byte c (after white space) or fails naming it. */
static int expect(Json *j, int c) {
  char what[32];
  if (accept(j, c)) return 0;
  sprintf(what, "expected '%c'", c);
  return jfail(j, what);
}

/* Reads the 4 hex digits at s[pos..]; -1 if they are not there. */
static long hex4(const Json *j, size_t pos) {
  long v = 0;
  size_t i;
  if (pos > j->len || j->len - pos < 4) return -1;
  for (i = pos; i < pos + 4; i++) {
    int c = j->s[i], d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return -1;
    v = v * 16 + d;
  }
  return v;
}

/* Decodes the escape at s[pos] == '\\' into *cp; returns its length in the
   text, or 0 on error (with *why set). \uXXXX surrogates must pair up. */
static size_t lex_escape(const Json *j, size_t pos, unsigned long *cp,
                         const char **why) {
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  const char *e;
  long hi, lo;
  *why = "bad escape sequence";
  if (pos + 1 >= j->len) return 0;
  e = j->s[pos + 1] != '\0' ? strchr(from, j->s[pos + 1]) : NULL;
  if (e != NULL) {
    *cp = (unsigned char)to[e - from];
    return 2;
  }
  if (j->s[pos + 1] != 'u' || (hi = hex4(j, pos + 2)) < 0) return 0;
  *why = "unpaired UTF-16 surrogate in \\u escape";
  if (hi >= 0xDC00 && hi <= 0xDFFF) return 0;
  if (hi < 0xD800 || hi > 0xDBFF) {
    *cp = (unsigned long)hi;
    return 6;
  }
  if (pos + 7 >= j->len || j->s[pos + 6] != '\\' || j->s[pos + 7] != 'u')
    return 0;
  lo = hex4(j, pos + 8);
  if (lo < 0xDC00 || lo > 0xDFFF) return 0;
  *cp = 0x10000ul + (((unsigned long)hi - 0xD800) << 10) +
        ((unsigned long)lo - 0xDC00);
  return 12;
}

/* Scans the string at the cursor (which must be at its '"'). If dst is not
   NULL, writes the decoded bytes there (never more than the raw length of
   the string) and their count in *dstlen. */
static int lex_string(Json *j, unsigned char *dst, size_t *dstlen) {
  size_t n = 0, k;
  unsigned long cp;
  const char *why;
  j->pos++; /* the opening quote */
  for (;;) {
    unsigned c;
    if (j->pos >= j->len) return jfail(j, "unterminated string");
    c = j->s[j->pos];
    if (c == '"') break;
    if (c < 0x20) return jfail(j, "control character in string");
    if (c == '\\') {
      if ((k = lex_escape(j, j->pos, &cp, &why)) == 0) return jfail(j, why);
      if (dst != NULL) n += utf8_put(dst + n, cp);
    } else {
      if ((k = utf8_len(j->s + j->pos, j->len - j->pos)) == 0)
        return jfail(j, "invalid UTF-8 in string");
      if (dst != NULL) memcpy(dst + n, j->s + j->pos, k);
      n += k;
    }
    j->pos += k;
  }
  j->pos++; /* the closing quote */
  if (dstlen != NULL) *dstlen = n;
  return 0;
}

/* Scans a number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int lex_number(Json *j) {
  const unsigned char *s = j->s;
  size_t p = j->pos, n = j->len, digits;
  if (p < n && s[p] == '-') p++;
  if (p < n && s[p] == '0') {
    p++;
  } else {
    for (digits = 0; p < n && s[p] >= '0' && s[p] <= '9'; p++)
      digits++;
    if (digits == 0) goto bad;
  }
  if (p < n && s[p] == '.') {
    for (p++, digits = 0; p < n && s[p] >= '0' && s[p] <= '9'; p++)
      digits++;
    if (digits == 0) goto bad;
  }
  if (p < n && (s[p] == 'e' || s[p] == 'E')) {
    p++;
    if (p < n && (s[p] == '+' || s[p] == '-')) p++;
    for (digits = 0; p < n && s[p] >= '0' && s[p] <= '9'; p++)
      digits++;
    if (digits == 0) goto bad;
  }
  j->pos = p;
  return 0;
bad:
  j->pos = p;
  return jfail(j, "bad number");
}

static int lex_word(Json *j, const char *w) {
  size_t n = strlen(w);
  char what[32];
  if (j->len - j->pos < n || memcmp(j->s + j->pos, w, n) != 0) {
    sprintf(what, "expected '%s'", w);
    return jfail(j, what);
  }
  j->pos += n;
  return 0;
}

/* Fails naming the byte at the cursor (which must exist). */
static int unexpected(Json *j) {
  char what[40];
  unsigned c = j->s[j->pos];
  if (c > 0x20 && c < 0x7F)
    sprintf(what, "unexpected character '%c'", c);
  else
    sprintf(what, "unexpected byte 0x%02X", c);
  return jfail(j, what);
}

/* ------------------------------------------------ JSON grammar (stage 2) */

static int json_value(Json *j, int depth);

/* Both containers: '[' value (',' value)* ']' and the same for objects
   with '"key" :' before each value. */
static int json_container(Json *j, int depth, int close) {
  j->pos++; /* '[' or '{' */
  if (accept(j, close)) return 0;
  for (;;) {
    if (close == '}') {
      if (peek(j) != '"') return jfail(j, "expected a string key");
      if (lex_string(j, NULL, NULL) != 0 || expect(j, ':') != 0) return -1;
    }
    if (json_value(j, depth + 1) != 0) return -1;
    if (accept(j, ',')) continue;
    if (accept(j, close)) return 0;
    return jfail(j,
                 close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
  }
}

static int json_value(Json *j, int depth) {
  int c = peek(j);
  if (depth > ST_MAX_DEPTH) return jfail(j, "nested too deeply");
  switch (c) {
  case -1:
    return jfail(j, "unexpected end");
  case '{':
    return json_container(j, depth, '}');
  case '[':
    return json_container(j, depth, ']');
  case '"':
    return lex_string(j, NULL, NULL);
  case 't':
    return lex_word(j, "true");
  case 'f':
    return lex_word(j, "false");
  case 'n':
    return lex_word(j, "null");
  default:
    if (c == '-' || (c >= '0' && c <= '9')) return lex_number(j);
    return unexpected(j);
  }
}

/* The whole header: one value and nothing after it but white space (the
   reference writer pads the header with spaces). */
static int json_check(Json *j) {
  if (json_value(j, 1) != 0) return -1;
  if (peek(j) != -1) return jfail(j, "unexpected data after the JSON value");
  return 0;
}

/* ----------------------------------------------- header schema (stage 3) */

/* One tensor as the header describes it. */
typedef struct Ent {
  StTensor t; /* name, ndim, shape, dtype name; data once loaded */
  const DType *dt;
  uint64_t begin, end; /* data_offsets */
  int drop;            /* an integer num_batches_tracked: check, then drop */
  int unsupported;     /* a dtype modelc cannot read, kept without data */
} Ent;

typedef struct Ents {
  Ent *v;
  size_t n, cap;
} Ents;

/* Decodes the string at the cursor into a new NUL-terminated buffer. */
static int hdr_string(Json *j, char **out, size_t *outlen) {
  Json probe = *j;
  unsigned char *buf;
  *out = NULL;
  if (peek(j) != '"') return jfail(j, "expected a string");
  probe.pos = j->pos;
  if (lex_string(&probe, NULL, NULL) != 0) return -1;
  buf = malloc(probe.pos - j->pos + 1); /* decoding never grows text */
  if (buf == NULL) return seterr(j->err, j->errlen, "out of memory");
  if (lex_string(j, buf, outlen) != 0) {
    free(buf);
    return -1;
  }
  buf[*outlen] = '\0';
  *out = (char *)buf;
  return 0;
}

/* Reads a number that must be a non-negative integer (no sign, fraction or
   exponent) up to INT64_MAX. On a bad one, fails with "<ctx> entry TEXT is
   not a non-negative integer" (or "is too large"). */
static int hdr_uint(Json *j, const char *ctx, uint64_t *v) {
  size_t start, i;
  char tok[SHOW_MAX];
  int c = peek(j);
  start = j->pos;
  if (c != '-' && !(c >= '0' && c <= '9'))
    return seterr(j->err, j->errlen, "%s must hold only non-negative integers",
                  ctx);
  if (lex_number(j) != 0) return -1;
  show(tok, (const char *)j->s + start, j->pos - start);
  *v = 0;
  for (i = start; i < j->pos; i++) {
    unsigned d = (unsigned)j->s[i] - '0';
    if (d > 9)
      return seterr(j->err, j->errlen,
                    "%s entry %s is not a non-negative integer", ctx, tok);
    if (*v > ((uint64_t)INT64_MAX - d) / 10)
      return seterr(j->err, j->errlen, "%s entry %s is too large", ctx, tok);
    *v = *v * 10 + d;
  }
  return 0;
}

/* Reads an array of at most max non-negative integers into v. Returns 1
   (with no message) if it has more entries than that. */
static int hdr_uints(Json *j, const char *ctx, uint64_t *v, int max,
                     int *count) {
  *count = 0;
  if (peek(j) != '[')
    return seterr(j->err, j->errlen, "%s must be an array of integers", ctx);
  j->pos++;
  if (accept(j, ']')) return 0;
  for (;;) {
    if (*count == max) return 1;
    if (hdr_uint(j, ctx, &v[*count]) != 0) return -1;
    ++*count;
    if (accept(j, ']')) return 0;
    if (expect(j, ',') != 0) return -1;
  }
}

/* Reads the key of an object member and its ':'; the value is next. */
static int hdr_key(Json *j, char **key, size_t *len) {
  if (hdr_string(j, key, len) != 0) return -1;
  if (expect(j, ':') != 0) {
    free(*key);
    *key = NULL;
    return -1;
  }
  return 0;
}

/* After '{' or a member: 1 if another member follows, 0 at the '}'. */
static int hdr_more(Json *j, int first) {
  if (accept(j, '}')) return 0;
  if (!first && expect(j, ',') != 0) return -1;
  return 1;
}

static int key_is(const char *key, size_t len, const char *want) {
  return len == strlen(want) && memcmp(key, want, len) == 0;
}

/* Reads the "dtype" value of tensor e. */
static int hdr_dtype(Json *j, Ent *e, const char *nm) {
  char *s, sb[SHOW_MAX];
  size_t n;
  if (peek(j) != '"')
    return seterr(j->err, j->errlen, "tensor '%s': dtype must be a string", nm);
  if (hdr_string(j, &s, &n) != 0) return -1;
  e->dt = find_dtype(s, n);
  if (e->dt == NULL)
    seterr(j->err, j->errlen, "tensor '%s' has unknown dtype '%s'", nm,
           show(sb, s, n));
  free(s);
  return e->dt == NULL ? -1 : 0;
}

/* Reads a "shape" or "data_offsets" value of tensor e. */
static int hdr_shape(Json *j, Ent *e, const char *nm, int offsets) {
  char ctx[SHOW_MAX + 40];
  uint64_t v[ST_MAX_DIMS];
  int n, i, r;
  sprintf(ctx, "tensor '%s': %s", nm, offsets ? "data_offsets" : "shape");
  r = hdr_uints(j, ctx, v, offsets ? 2 : ST_MAX_DIMS, &n);
  if (r < 0) return -1;
  if (offsets && (r > 0 || n != 2))
    return seterr(j->err, j->errlen, "%s must be [begin, end]", ctx);
  if (r > 0)
    return seterr(j->err, j->errlen, "%s has more than %d dimensions", ctx,
                  ST_MAX_DIMS);
  if (offsets) {
    e->begin = v[0];
    e->end = v[1];
  } else {
    e->t.ndim = n;
    for (i = 0; i < n; i++)
      e->t.shape[i] = (int64_t)v[i];
  }
  return 0;
}

static int is_batches_tracked(const char *name) {
  static const char tail[] = "num_batches_tracked";
  size_t n = strlen(name), m = sizeof tail - 1;
  if (n < m || strcmp(name + n - m, tail) != 0) return 0;
  return n == m || name[n - m - 1] == '.';
}

/* Checks a fully read tensor entry against itself and the data area. */
static int hdr_check_tensor(Json *j, Ent *e, const char *nm,
                            uint64_t data_len) {
  uint64_t numel = 1, bytes;
  int i;
  if (e->dt->conv == CV_NONE) {
    if (j->keep_unsupported && !is_batches_tracked(e->t.name)) {
      e->unsupported = 1;
    } else if (!is_batches_tracked(e->t.name)) {
      seterr(j->err, j->errlen,
             "tensor '%s' has dtype %s; modelc reads F32, F16, BF16 and F64",
             nm, e->dt->name);
      return -1;
    } else {
      e->drop = 1;
    }
  }
  for (i = 0; i < e->t.ndim; i++) {
    uint64_t d = (uint64_t)e->t.shape[i];
    if (d != 0 && numel > (uint64_t)INT64_MAX / d)
      return seterr(j->err, j->errlen, "tensor '%s': shape is too large", nm);
    numel *= d;
  }
  if (numel > (uint64_t)INT64_MAX / e->dt->size ||
      numel > SIZE_MAX / sizeof(float))
    return seterr(j->err, j->errlen, "tensor '%s': shape is too large", nm);
  bytes = numel * e->dt->size;
  if (e->end < e->begin)
    return seterr(
        j->err, j->errlen,
        "tensor '%s': data_offsets [%llu, %llu] end before they begin", nm,
        (unsigned long long)e->begin, (unsigned long long)e->end);
  if (e->end > data_len)
    return seterr(
        j->err, j->errlen,
        "tensor '%s': data_offsets [%llu, %llu] reach past the end of the "
        "data (%llu bytes): the file is truncated or lies about its sizes",
        nm, (unsigned long long)e->begin, (unsigned long long)e->end,
        (unsigned long long)data_len);
  if (e->end - e->begin != bytes)
    return seterr(j->err, j->errlen,
                  "tensor '%s': its shape and dtype %s need %llu bytes but "
                  "data_offsets [%llu, %llu] hold %llu",
                  nm, e->dt->name, (unsigned long long)bytes,
                  (unsigned long long)e->begin, (unsigned long long)e->end,
                  (unsigned long long)(e->end - e->begin));
  return 0;
}

/* Reads the object describing tensor e, whose name is already set. */
static int hdr_tensor(Json *j, Ent *e, uint64_t data_len) {
  char nm[SHOW_MAX], kb[SHOW_MAX], *key;
  size_t klen;
  int more, r, seen[3] = {0, 0, 0};
  show(nm, e->t.name, strlen(e->t.name));
  if (peek(j) != '{')
    return seterr(j->err, j->errlen,
                  "tensor '%s' must be an object with dtype, shape and "
                  "data_offsets",
                  nm);
  j->pos++;
  for (more = hdr_more(j, 1); more == 1; more = hdr_more(j, 0)) {
    int k;
    if (hdr_key(j, &key, &klen) != 0) return -1;
    k = key_is(key, klen, "dtype")          ? 0
        : key_is(key, klen, "shape")        ? 1
        : key_is(key, klen, "data_offsets") ? 2
                                            : -1;
    if (k < 0 || seen[k]) {
      seterr(j->err, j->errlen, "tensor '%s': %s key '%s'", nm,
             k < 0 ? "unknown" : "duplicate", show(kb, key, klen));
      free(key);
      return -1;
    }
    free(key);
    seen[k] = 1;
    r = k == 0 ? hdr_dtype(j, e, nm) : hdr_shape(j, e, nm, k == 2);
    if (r != 0) return -1;
  }
  if (more < 0) return -1;
  if (!seen[0] || !seen[1] || !seen[2])
    return seterr(j->err, j->errlen, "tensor '%s' has no %s", nm,
                  !seen[0]   ? "dtype"
                  : !seen[1] ? "shape"
                             : "data_offsets");
  e->t.dtype = e->dt->name;
  return hdr_check_tensor(j, e, nm, data_len);
}

/* A key of __metadata__, kept only to find duplicates. */
typedef struct Key {
  char *s;
  size_t n;
} Key;

static int key_cmp(const void *a, const void *b) {
  const Key *x = a, *y = b;
  int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
  return c != 0 ? c : (x->n > y->n) - (x->n < y->n);
}

/* Checks the __metadata__ value: an object of unique keys and strings. */
static int hdr_metadata(Json *j) {
  Key *keys = NULL;
  size_t n = 0, cap = 0, i;
  int more, rc = -1;
  char kb[SHOW_MAX];
  if (peek(j) != '{')
    return seterr(j->err, j->errlen,
                  "__metadata__ must be an object of strings");
  j->pos++;
  for (more = hdr_more(j, 1); more == 1; more = hdr_more(j, 0)) {
    if (n == cap) {
      Key *grown;
      cap = cap ? 2 * cap : 16;
      grown = cap < SIZE_MAX / sizeof *keys ? realloc(keys, cap * sizeof *keys)
                                            : NULL;
      if (grown == NULL) {
        seterr(j->err, j->errlen, "out of memory");
        goto done;
      }
      keys = grown;
    }
    if (hdr_key(j, &keys[n].s, &keys[n].n) != 0) goto done;
    n++;
    if (peek(j) != '"') {
      seterr(j->err, j->errlen, "__metadata__ value of '%s' is not a string",
             show(kb, keys[n - 1].s, keys[n - 1].n));
      goto done;
    }
    if (lex_string(j, NULL, NULL) != 0) goto done;
  }
  if (more < 0) goto done;
  if (n > 1) qsort(keys, n, sizeof *keys, key_cmp);
  for (i = 1; i < n; i++)
    if (key_cmp(&keys[i - 1], &keys[i]) == 0) {
      seterr(j->err, j->errlen, "__metadata__ has a duplicate key '%s'",
             show(kb, keys[i].s, keys[i].n));
      goto done;
    }
  rc = 0;
done:
  for (i = 0; i < n; i++)
    free(keys[i].s);
  free(keys);
  return rc;
}

static void ents_free(Ents *es) {
  size_t i;
  for (i = 0; i < es->n; i++) {
    free((char *)es->v[i].t.name);
    free(es->v[i].t.data);
  }
  free(es->v);
  es->v = NULL;
  es->n = es->cap = 0;
}

/* Appends a zeroed entry; NULL when out of memory. */
static Ent *ents_push(Ents *es) {
  if (es->n == es->cap) {
    size_t cap = es->cap ? 2 * es->cap : 16;
    Ent *v = cap < (size_t)INT_MAX && cap < SIZE_MAX / sizeof *v
                 ? realloc(es->v, cap * sizeof *v)
                 : NULL;
    if (v == NULL) return NULL;
    es->v = v;
    es->cap = cap;
  }
  memset(&es->v[es->n], 0, sizeof es->v[0]);
  return &es->v[es->n++];
}

/* Reads the top-level object: tensors and at most one __metadata__. */
static int hdr_parse(Json *j, Ents *es, uint64_t data_len) {
  char *key, nb[SHOW_MAX];
  size_t klen;
  int more, have_meta = 0;
  if (expect(j, '{') != 0) return -1;
  for (more = hdr_more(j, 1); more == 1; more = hdr_more(j, 0)) {
    Ent *e;
    if (hdr_key(j, &key, &klen) != 0) return -1;
    if (key_is(key, klen, "__metadata__")) {
      free(key);
      if (have_meta++)
        return seterr(j->err, j->errlen, "duplicate key '__metadata__'");
      if (hdr_metadata(j) != 0) return -1;
      continue;
    }
    if (strlen(key) != klen) {
      seterr(j->err, j->errlen, "tensor name '%s' contains a NUL character",
             show(nb, key, klen));
      free(key);
      return -1;
    }
    if ((e = ents_push(es)) == NULL) {
      free(key);
      return seterr(j->err, j->errlen, "out of memory");
    }
    e->t.name = key;
    if (hdr_tensor(j, e, data_len) != 0) return -1;
  }
  return more;
}

/* -------------------------------------- the tensors as a whole (stage 4) */

static int name_cmp(const void *a, const void *b) {
  return strcmp((*(Ent *const *)a)->t.name, (*(Ent *const *)b)->t.name);
}

static int offset_cmp(const void *a, const void *b) {
  const Ent *x = *(Ent *const *)a, *y = *(Ent *const *)b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  return (x->end > y->end) - (x->end < y->end);
}

/* Names must be unique and the tensors must tile [0, data_len) exactly. */
static int check_layout(Ents *es, uint64_t data_len, char *err, size_t errlen) {
  Ent **p;
  size_t i;
  uint64_t at = 0;
  char a[SHOW_MAX], b[SHOW_MAX];
  int rc = -1;
  if ((p = malloc((es->n + 1) * sizeof *p)) == NULL)
    return seterr(err, errlen, "out of memory");
  for (i = 0; i < es->n; i++)
    p[i] = &es->v[i];
  qsort(p, es->n, sizeof *p, name_cmp);
  for (i = 1; i < es->n; i++)
    if (strcmp(p[i - 1]->t.name, p[i]->t.name) == 0) {
      seterr(err, errlen, "duplicate tensor name '%s'",
             show(a, p[i]->t.name, strlen(p[i]->t.name)));
      goto done;
    }
  qsort(p, es->n, sizeof *p, offset_cmp);
  for (i = 0; i < es->n; i++) {
    if (p[i]->begin < at) {
      seterr(err, errlen,
             "tensors '%s' and '%s' overlap in the data (bytes %llu..%llu "
             "and %llu..%llu)",
             show(a, p[i - 1]->t.name, strlen(p[i - 1]->t.name)),
             show(b, p[i]->t.name, strlen(p[i]->t.name)),
             (unsigned long long)p[i - 1]->begin,
             (unsigned long long)p[i - 1]->end, (unsigned long long)p[i]->begin,
             (unsigned long long)p[i]->end);
      goto done;
    }
    if (p[i]->begin > at) break;
    at = p[i]->end;
  }
  if (at != data_len) {
    seterr(err, errlen, "bytes %llu..%llu of the data belong to no tensor",
           (unsigned long long)at,
           (unsigned long long)(i < es->n ? p[i]->begin : data_len));
    goto done;
  }
  rc = 0;
done:
  free(p);
  return rc;
}

/* ------------------------------------------------- loading (stages 1, 5) */

/* Where the file's bytes come from: memory, or an open file. */
typedef struct Src {
  const unsigned char *mem;
  FILE *fp;
  uint64_t size;
  uint64_t max_values; /* most float32 values the tensors may hold */
  int header_only, keep_unsupported; /* st_open's options */
} Src;

/* Copies n bytes at offset off into dst; -1 if they cannot be read. */
static int src_read(const Src *s, uint64_t off, void *dst, size_t n) {
  if (off > s->size || n > s->size - off) return -1;
  if (s->mem != NULL) {
    memcpy(dst, s->mem + off, n);
    return 0;
  }
  if (off > (uint64_t)LONG_MAX || fseek(s->fp, (long)off, SEEK_SET) != 0)
    return -1;
  return fread(dst, 1, n, s->fp) == n ? 0 : -1;
}

/* Reads and converts the data of e, which starts at file offset base. */
static int load_data(const Src *s, uint64_t base, Ent *e, char *err,
                     size_t errlen) {
  unsigned char chunk[4096];
  size_t numel = (size_t)st_numel(&e->t), per = sizeof chunk / e->dt->size;
  size_t i, k;
  uint64_t off = base + e->begin;
  char nm[SHOW_MAX];
  e->t.data = malloc((numel > 0 ? numel : 1) * sizeof(float));
  if (e->t.data == NULL)
    return seterr(err, errlen, "out of memory for tensor '%s'",
                  show(nm, e->t.name, strlen(e->t.name)));
  for (i = 0; i < numel; i += k) {
    k = numel - i < per ? numel - i : per;
    if (src_read(s, off, chunk, k * e->dt->size) != 0)
      return seterr(err, errlen, "cannot read the data of tensor '%s'",
                    show(nm, e->t.name, strlen(e->t.name)));
    convert(e->t.data + i, chunk, k, e->dt->conv);
    off += k * e->dt->size;
  }
  return 0;
}

/* Moves the kept entries into out, in header order. */
static int take_tensors(Ents *es, StFile *out, char *err, size_t errlen) {
  size_t i, n = 0;
  out->tensors = malloc((es->n + 1) * sizeof *out->tensors);
  if (out->tensors == NULL) return seterr(err, errlen, "out of memory");
  for (i = 0; i < es->n; i++) {
    if (es->v[i].drop) {
      free((char *)es->v[i].t.name);
    } else {
      out->tensors[n++] = es->v[i].t;
    }
  }
  out->count = (int)n;
  free(es->v);
  es->v = NULL;
  es->n = es->cap = 0;
  return 0;
}

/* Stages 3 to 5 on a header already read into hdr. */
static int load_tensors(const Src *s, const unsigned char *hdr, size_t hlen,
                        StFile *out, char *err, size_t errlen) {
  Json j;
  Ents es = {NULL, 0, 0};
  uint64_t data_len = s->size - 8 - hlen;
  size_t i;
  j.s = hdr;
  j.len = hlen;
  j.pos = 0;
  j.err = err;
  j.errlen = errlen;
  j.keep_unsupported = s->keep_unsupported;
  if (json_check(&j) != 0) return -1;
  j.pos = 0;
  if (hdr_parse(&j, &es, data_len) != 0 ||
      check_layout(&es, data_len, err, errlen) != 0)
    goto fail;
  /* The layout is proved to fit the file; a sparse file can still be
     huge: bound what we allocate before allocating any of it. */
  {
    uint64_t total = 0;
    for (i = 0; i < es.n; i++)
      if (!es.v[i].drop && !es.v[i].unsupported)
        total += (uint64_t)st_numel(&es.v[i].t);
    if (total > s->max_values) {
      seterr(err, errlen, "its tensors hold %llu values, more than the "
             "limit of %llu", (unsigned long long)total,
             (unsigned long long)s->max_values);
      goto fail;
    }
  }
  for (i = 0; i < es.n && !s->header_only; i++)
    if (!es.v[i].drop && !es.v[i].unsupported &&
        load_data(s, 8 + hlen, &es.v[i], err, errlen) != 0)
      goto fail;
  if (take_tensors(&es, out, err, errlen) == 0) return 0;
fail:
  ents_free(&es);
  return -1;
}

/* Stages 1 and 2, then the rest. */
static int load(const Src *s, StFile *out, char *err, size_t errlen) {
  unsigned char len8[8], *hdr;
  uint64_t hlen;
  int rc;
  out->tensors = NULL;
  out->count = 0;
  if (s->size < 8)
    return seterr(
        err, errlen,
        "not a safetensors file: %llu bytes is too short for the 8-byte "
        "header length",
        (unsigned long long)s->size);
  if (src_read(s, 0, len8, 8) != 0)
    return seterr(err, errlen, "cannot read the header length");
  /* torch.save writes a zip archive: say so rather than read its first
     bytes as a header length. */
  if (memcmp(len8, "PK\x03\x04", 4) == 0)
    return seterr(err, errlen, "%s", ST_ZIP_MESSAGE);
  hlen = le_get(len8, 8);
  if (hlen > s->size - 8)
    return seterr(err, errlen,
                  "truncated file or not a safetensors file: the header length "
                  "says %llu bytes but only %llu follow it",
                  (unsigned long long)hlen, (unsigned long long)(s->size - 8));
  if (hlen > ST_MAX_HEADER)
    return seterr(err, errlen, "header of %llu bytes is over the limit of %llu",
                  (unsigned long long)hlen, ST_MAX_HEADER);
  if ((hdr = malloc(hlen + 1)) == NULL)
    return seterr(err, errlen, "out of memory");
  if (src_read(s, 8, hdr, hlen) != 0) {
    seterr(err, errlen, "cannot read the header");
    rc = -1;
  } else if (hlen == 0 || hdr[0] != '{') {
    seterr(err, errlen,
           "not a safetensors file: the header does not "
           "start with '{'");
    rc = -1;
  } else {
    rc = load_tensors(s, hdr, (size_t)hlen, out, err, errlen);
  }
  free(hdr);
  return rc;
}

int st_load_mem(const unsigned char *buf, size_t len, StFile *out, char *err,
                size_t errlen) {
  static const unsigned char empty[1] = {0};
  Src s;
  s.mem = buf != NULL ? buf : empty;
  s.fp = NULL;
  s.size = buf != NULL ? len : 0;
  s.max_values = UINT64_MAX;
  s.header_only = s.keep_unsupported = 0;
  return load(&s, out, err, errlen);
}

/* strerror with a lowercase first letter, as our messages are. */
static void errno_msg(char *err, size_t errlen, const char *what, int e) {
  char m[128];
  snprintf(m, sizeof m, "%s", strerror(e));
  if (m[0] >= 'A' && m[0] <= 'Z') m[0] = (char)(m[0] - 'A' + 'a');
  seterr(err, errlen, "%s: %s", what, m);
}

int st_load(const char *path, StFile *out, char *err, size_t errlen) {
  return st_load_max(path, UINT64_MAX, out, err, errlen);
}

int st_load_max(const char *path, uint64_t max_values, StFile *out,
                char *err, size_t errlen) {
  StOptions o = {max_values, 0, 0};
  return st_open(path, &o, out, err, errlen);
}

int st_open(const char *path, const StOptions *o, StFile *out, char *err,
            size_t errlen) {
  struct stat st;
  Src s;
  int rc, fd;
  out->tensors = NULL;
  out->count = 0;
  s.mem = NULL;
  s.max_values = o->max_values;
  s.header_only = o->header_only;
  s.keep_unsupported = o->keep_unsupported;
  /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
  if ((fd = open(path, O_RDONLY | O_NONBLOCK)) < 0) {
    errno_msg(err, errlen, "cannot open", errno);
    return -1;
  }
  if (fstat(fd, &st) != 0) {
    errno_msg(err, errlen, "cannot read", errno);
    close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    seterr(err, errlen, "not a regular file");
    close(fd);
    return -1;
  }
  if ((s.fp = fdopen(fd, "rb")) == NULL) {
    errno_msg(err, errlen, "cannot open", errno);
    close(fd);
    return -1;
  }
  s.size = (uint64_t)st.st_size;
  rc = load(&s, out, err, errlen);
  fclose(s.fp);
  return rc;
}

int st_readable(const StTensor *t) {
  const DType *dt = find_dtype(t->dtype, strlen(t->dtype));
  return dt != NULL && dt->conv != CV_NONE;
}

const StTensor *st_find(const StFile *f, const char *name) {
  int i;
  for (i = 0; i < f->count; i++)
    if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
  return NULL;
}

void st_free(StFile *f) {
  int i;
  for (i = 0; i < f->count; i++) {
    free((char *)f->tensors[i].name);
    free(f->tensors[i].data);
  }
  free(f->tensors);
  f->tensors = NULL;
  f->count = 0;
}

int64_t st_numel(const StTensor *t) {
  int64_t n = 1;
  int i;
  for (i = 0; i < t->ndim; i++)
    n *= t->shape[i];
  return n;
}

/* ---------------------------------------------------------------- writer */

/* A growing text buffer for the header. */
typedef struct Buf {
  char *s;
  size_t n, cap;
  int oom;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->n + n + 1 > b->cap) {
    size_t cap = 2 * (b->n + n + 1) + 64;
    char *p = realloc(b->s, cap);
    if (p == NULL) {
      b->oom = 1;
      return;
    }
    b->s = p;
    b->cap = cap;
  }
  memcpy(b->s + b->n, s, n);
  b->n += n;
}

static void buf_str(Buf *b, const char *s) {
  buf_add(b, s, strlen(s));
}

/* Appends name as a JSON string. */
static void buf_json_string(Buf *b, const char *name) {
  char esc[8];
  buf_str(b, "\"");
  for (; *name != '\0'; name++) {
    unsigned char c = (unsigned char)*name;
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      buf_add(b, esc, 2);
    } else if (c < 0x20) {
      sprintf(esc, "\\u%04x", c);
      buf_str(b, esc);
    } else {
      buf_add(b, (const char *)&c, 1);
    }
  }
  buf_str(b, "\"");
}

/* Checks the tensors to be saved; fills bytes[i] with their sizes. */
static int save_check(const StTensor *t, int n, uint64_t *bytes, char *err,
                      size_t errlen) {
  int i, k;
  char nm[SHOW_MAX];
  for (i = 0; i < n; i++) {
    const unsigned char *s = (const unsigned char *)t[i].name;
    size_t len, u, ulen;
    uint64_t numel = 1;
    if (s == NULL) return seterr(err, errlen, "tensor %d has no name", i);
    len = strlen(t[i].name);
    show(nm, t[i].name, len);
    for (u = 0; u < len; u += ulen)
      if ((ulen = utf8_len(s + u, len - u)) == 0)
        return seterr(err, errlen, "tensor name '%s' is not UTF-8", nm);
    if (strcmp(t[i].name, "__metadata__") == 0)
      return seterr(err, errlen, "'__metadata__' is not a tensor name");
    for (k = 0; k < i; k++)
      if (strcmp(t[k].name, t[i].name) == 0)
        return seterr(err, errlen, "duplicate tensor name '%s'", nm);
    if (t[i].ndim < 0 || t[i].ndim > ST_MAX_DIMS)
      return seterr(err, errlen, "tensor '%s': bad ndim %d", nm, t[i].ndim);
    for (k = 0; k < t[i].ndim; k++) {
      uint64_t d = (uint64_t)t[i].shape[k];
      if (t[i].shape[k] < 0 || (d != 0 && numel > (uint64_t)INT64_MAX / 4 / d))
        return seterr(err, errlen, "tensor '%s': bad shape", nm);
      numel *= d;
    }
    if (numel > 0 && t[i].data == NULL)
      return seterr(err, errlen, "tensor '%s' has no data", nm);
    bytes[i] = numel * 4;
  }
  return 0;
}

/* Builds the JSON header, padded with spaces to a multiple of 8 bytes. */
static int save_header(Buf *b, const StTensor *t, int n,
                       const uint64_t *bytes) {
  char num[64];
  uint64_t at = 0;
  int i, k;
  buf_str(b, "{");
  for (i = 0; i < n; i++) {
    buf_str(b, i ? "," : "");
    buf_json_string(b, t[i].name);
    buf_str(b, ":{\"dtype\":\"F32\",\"shape\":[");
    for (k = 0; k < t[i].ndim; k++) {
      sprintf(num, "%s%lld", k ? "," : "", (long long)t[i].shape[k]);
      buf_str(b, num);
    }
    sprintf(num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
            (unsigned long long)(at + bytes[i]));
    buf_str(b, num);
    at += bytes[i];
  }
  buf_str(b, "}");
  while (!b->oom && b->n % 8 != 0)
    buf_str(b, " ");
  return b->oom ? -1 : 0;
}

/* Writes the float32 data of t as little-endian bytes. */
static int save_data(FILE *fp, const StTensor *t) {
  unsigned char chunk[4096];
  size_t numel = (size_t)st_numel(t), i, k, e;
  for (i = 0; i < numel; i += k) {
    k = numel - i < sizeof chunk / 4 ? numel - i : sizeof chunk / 4;
    for (e = 0; e < k; e++) {
      uint32_t v;
      memcpy(&v, &t->data[i + e], 4);
      chunk[4 * e] = (unsigned char)v;
      chunk[4 * e + 1] = (unsigned char)(v >> 8);
      chunk[4 * e + 2] = (unsigned char)(v >> 16);
      chunk[4 * e + 3] = (unsigned char)(v >> 24);
    }
    if (fwrite(chunk, 4, k, fp) != k) return -1;
  }
  return 0;
}

int st_save(const char *path, const StTensor *t, int n, char *err,
            size_t errlen) {
  uint64_t *bytes;
  Buf b = {NULL, 0, 0, 0};
  unsigned char len8[8];
  FILE *fp = NULL;
  int i, rc = -1;
  if (n < 0 || (n > 0 && t == NULL))
    return seterr(err, errlen, "bad tensor count %d", n);
  if ((bytes = malloc(((size_t)n + 1) * sizeof *bytes)) == NULL)
    return seterr(err, errlen, "out of memory");
  if (save_check(t, n, bytes, err, errlen) != 0) goto done;
  if (save_header(&b, t, n, bytes) != 0) {
    seterr(err, errlen, "out of memory");
    goto done;
  }
  for (i = 0; i < 8; i++)
    len8[i] = (unsigned char)((uint64_t)b.n >> 8 * i);
  if ((fp = fopen(path, "wb")) == NULL) {
    errno_msg(err, errlen, "cannot create", errno);
    goto done;
  }
  rc = fwrite(len8, 1, 8, fp) == 8 && fwrite(b.s, 1, b.n, fp) == b.n ? 0 : -1;
  for (i = 0; rc == 0 && i < n; i++)
    rc = save_data(fp, &t[i]);
  if (fclose(fp) != 0) rc = -1;
  if (rc != 0) {
    errno_msg(err, errlen, "cannot write", errno);
    remove(path);
  }
done:
  free(b.s);
  free(bytes);
  return rc;
}
