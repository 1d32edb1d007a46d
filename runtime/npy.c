/*
 * npy.c - a strict NumPy .npy reader and a float32 writer
 *
 * The reader checks the magic, the version and the header length against
 * the buffer, parses the header dict with a small lexer (Python literals:
 * quoted strings, True/False, tuples of integers), and only then compares
 * the declared size with the bytes that are really there and allocates.
 * Only the C standard library is used.
 */
#include "npy.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_SHOW 40 /* bytes of a header token quoted in a message */

/* Writes a message into err (if there is room) and returns -1. */
static int npy_seterr(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  if (err == NULL || errlen == 0) return -1;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

/* strerror with a lowercase first letter, as our messages are. */
static void npy_errno(char *err, size_t errlen, const char *what, int e) {
  char m[128];
  snprintf(m, sizeof m, "%s", strerror(e));
  if (m[0] >= 'A' && m[0] <= 'Z') m[0] = (char)(m[0] - 'A' + 'a');
  npy_seterr(err, errlen, "%s: %s", what, m);
}

/* Formats shape as "[2, 3]" into dst (room for 8 dims of 19 digits). */
static const char *npy_shape_str(char *dst, int ndim, const int64_t *shape) {
  int i;
  size_t o = 0;
  dst[o++] = '[';
  for (i = 0; i < ndim; i++)
    o += (size_t)sprintf(dst + o, "%s%lld", i ? ", " : "", (long long)shape[i]);
  strcpy(dst + o, "]");
  return dst;
}

/* ----------------------------------------------------- the header lexer */

/* A cursor over the header text; errors go straight into err. */
typedef struct Lex {
  const unsigned char *s;
  size_t len, pos;
  char *err;
  size_t errlen;
} Lex;

static int lx_fail(Lex *l, const char *what) {
  return npy_seterr(l->err, l->errlen, "invalid .npy header at byte %lu: %s",
                    (unsigned long)l->pos, what);
}

/* The next byte after spaces, or -1 at the end. */
static int lx_peek(Lex *l) {
  while (l->pos < l->len && (l->s[l->pos] == ' ' || l->s[l->pos] == '\t' ||
                             l->s[l->pos] == '\n' || l->s[l->pos] == '\r'))
    l->pos++;
  return l->pos < l->len ? l->s[l->pos] : -1;
}

/* Consumes the byte c if it comes next (after white space). */
static int lx_accept(Lex *l, int c) {
  if (lx_peek(l) != c) return 0;
  l->pos++;
  return 1;
}

static int lx_expect(Lex *l, int c) {
  char what[32];
  if (lx_accept(l, c)) return 0;
  sprintf(what, "expected '%c'", c);
  return lx_fail(l, what);
}

/* A quoted string of printable ASCII without escapes: 'abc' or "abc".
   Sets *s and *n to its contents inside the header. */
static int lx_string(Lex *l, const unsigned char **s, size_t *n) {
  int q = lx_peek(l);
  size_t start;
  if (q != '\'' && q != '"') return lx_fail(l, "expected a string");
  start = ++l->pos;
  for (; l->pos < l->len && l->s[l->pos] != q; l->pos++)
    if (l->s[l->pos] < 0x20 || l->s[l->pos] > 0x7E || l->s[l->pos] == '\\')
      return lx_fail(l, "unsupported character in a string");
  if (l->pos >= l->len) return lx_fail(l, "unterminated string");
  *s = l->s + start;
  *n = l->pos - start;
  l->pos++;
  return 0;
}

/* True or False. */
static int lx_bool(Lex *l, int *b) {
  size_t start, n;
  lx_peek(l);
  start = l->pos;
  while (l->pos < l->len && ((l->s[l->pos] >= 'A' && l->s[l->pos] <= 'Z') ||
                             (l->s[l->pos] >= 'a' && l->s[l->pos] <= 'z')))
    l->pos++;
  n = l->pos - start;
  if (n == 4 && memcmp(l->s + start, "True", 4) == 0) {
    *b = 1;
  } else if (n == 5 && memcmp(l->s + start, "False", 5) == 0) {
    *b = 0;
  } else {
    l->pos = start;
    return lx_fail(l, "expected True or False");
  }
  return 0;
}

/* A non-negative decimal integer up to INT64_MAX. */
static int lx_uint(Lex *l, int64_t *v) {
  int c = lx_peek(l);
  if (c < '0' || c > '9')
    return lx_fail(l, "expected a non-negative integer in the shape");
  *v = 0;
  while (l->pos < l->len && l->s[l->pos] >= '0' && l->s[l->pos] <= '9') {
    int d = l->s[l->pos] - '0';
    if (*v > (INT64_MAX - d) / 10)
      return lx_fail(l, "shape entry is too large");
    *v = *v * 10 + d;
    l->pos++;
  }
  return 0;
}

/* ------------------------------------------------------ the header dict */

/* What the header says. */
typedef struct Hdr {
  const unsigned char *descr;
  size_t descr_len;
  int fortran;
  int ndim;
  int64_t shape[NPY_MAX_DIMS];
} Hdr;

/* A Python tuple of integers: (), (5,), (2, 3) or (2, 3,). A lone
   parenthesised integer such as (5) is not a tuple and is refused. */
static int parse_shape(Lex *l, Hdr *h) {
  h->ndim = 0;
  if (lx_expect(l, '(') != 0) return -1;
  if (lx_accept(l, ')')) return 0;
  for (;;) {
    if (h->ndim == NPY_MAX_DIMS)
      return lx_fail(l, "shape has more than 8 dimensions");
    if (lx_uint(l, &h->shape[h->ndim]) != 0) return -1;
    h->ndim++;
    if (lx_peek(l) == ')' && h->ndim == 1)
      return lx_fail(l, "expected ',' in a 1-tuple");
    if (lx_accept(l, ')')) return 0;
    if (!lx_accept(l, ',')) return lx_fail(l, "expected ',' or ')'");
    if (lx_accept(l, ')')) return 0;
  }
}

/* Reads the value of one key into h; which: 0 descr, 1 fortran_order,
   2 shape. */
static int parse_value(Lex *l, Hdr *h, int which) {
  if (which == 0) {
    if (lx_peek(l) != '\'' && lx_peek(l) != '"')
      return lx_fail(l, "descr is not a simple type string (structured "
                        "dtypes are not supported)");
    return lx_string(l, &h->descr, &h->descr_len);
  }
  if (which == 1) return lx_bool(l, &h->fortran);
  return parse_shape(l, h);
}

/* The dict: exactly the keys descr, fortran_order and shape, in any
   order, then nothing but white space. */
static int parse_header(Lex *l, Hdr *h) {
  static const char *const keys[3] = {"descr", "fortran_order", "shape"};
  int seen[3] = {0, 0, 0}, k;
  if (lx_expect(l, '{') != 0) return -1;
  while (lx_peek(l) != '}') {
    const unsigned char *key;
    size_t n;
    if (lx_string(l, &key, &n) != 0) return -1;
    for (k = 0; k < 3; k++)
      if (strlen(keys[k]) == n && memcmp(keys[k], key, n) == 0) break;
    if (k == 3 || seen[k]) {
      char what[NPY_SHOW + 24];
      sprintf(what, "%s key '%.*s'", k == 3 ? "unknown" : "duplicate",
              (int)(n < NPY_SHOW ? n : NPY_SHOW), (const char *)key);
      l->pos -= n + 2; /* back to the key's opening quote */
      return lx_fail(l, what);
    }
    seen[k] = 1;
    if (lx_expect(l, ':') != 0 || parse_value(l, h, k) != 0) return -1;
    if (lx_peek(l) == '}') break;
    if (lx_expect(l, ',') != 0) return -1;
  }
  l->pos++; /* '}' */
  if (lx_peek(l) != -1) return lx_fail(l, "unexpected text after the dict");
  for (k = 0; k < 3; k++)
    if (!seen[k])
      return npy_seterr(l->err, l->errlen, "invalid .npy header: no '%s' key",
                        keys[k]);
  return 0;
}

/* Checks descr; returns the item size (4 or 8) or -1. */
static int check_descr(const Hdr *h, char *err, size_t errlen) {
  char d[NPY_SHOW + 1];
  size_t n = h->descr_len < NPY_SHOW ? h->descr_len : NPY_SHOW;
  memcpy(d, h->descr, n); /* printable ASCII, checked by the lexer */
  d[n] = '\0';
  if (strcmp(d, "<f4") == 0) return 4;
  if (strcmp(d, "<f8") == 0) return 8;
  if (strcmp(d, ">f4") == 0 || strcmp(d, ">f8") == 0)
    npy_seterr(err, errlen,
               "big-endian data ('%s') is not supported; save it as '<%s'", d,
               d + 1);
  else
    npy_seterr(err, errlen,
               "unsupported dtype '%s': modelc reads float32 ('<f4') and "
               "float64 ('<f8')",
               d);
  return -1;
}

/* ------------------------------------------------------------- the data */

static float npy_f32(const unsigned char *p) {
  uint32_t b = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
               (uint32_t)p[3] << 24;
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

/* float64 -> float32 as a C cast rounds, without the undefined behaviour
   of casting an out-of-range value: from FLT_MAX + half an ulp up the
   result is an infinity. A NaN keeps its sign and the top of its payload,
   as the x86 conversion does. */
static float npy_f64(const unsigned char *p) {
  uint64_t b = 0;
  uint32_t nan;
  double d;
  float f;
  int i;
  for (i = 7; i >= 0; i--)
    b = (b << 8) | p[i];
  memcpy(&d, &b, sizeof d);
  if (d != d) {
    nan = (uint32_t)(b >> 63 << 31) | 0x7FC00000u |
          (uint32_t)((b >> 29) & 0x3FFFFFu);
    memcpy(&f, &nan, sizeof f);
    return f;
  }
  if (d >= 0x1.ffffffp127) return INFINITY;
  if (d <= -0x1.ffffffp127) return -INFINITY;
  if (d > FLT_MAX) return FLT_MAX;
  if (d < -FLT_MAX) return -FLT_MAX;
  return (float)d;
}

/* Checks the declared size against the n bytes after the header and
   converts the data. */
static int read_data(const Hdr *h, int item, const unsigned char *p, size_t n,
                     float **data, char *err, size_t errlen) {
  char sh[NPY_MAX_DIMS * 22 + 3];
  uint64_t numel = 1, bytes;
  size_t i;
  int k;
  npy_shape_str(sh, h->ndim, h->shape);
  for (k = 0; k < h->ndim; k++) {
    uint64_t d = (uint64_t)h->shape[k];
    if (d != 0 && numel > (uint64_t)INT64_MAX / 8 / d)
      return npy_seterr(err, errlen, "shape %s is too large", sh);
    numel *= d;
  }
  bytes = numel * (unsigned)item;
  if (bytes > n)
    return npy_seterr(err, errlen,
                      "truncated data: shape %s of '<f%d' needs %llu bytes but "
                      "only %llu follow the header",
                      sh, item, (unsigned long long)bytes,
                      (unsigned long long)n);
  if (bytes < n)
    return npy_seterr(
        err, errlen,
        "%llu unexpected byte%s after the data: shape %s of '<f%d' "
        "needs %llu bytes",
        (unsigned long long)(n - bytes), n - bytes == 1 ? "" : "s", sh, item,
        (unsigned long long)bytes);
  /* numel * item <= n, so numel * 4 fits in a size_t too */
  if ((*data = malloc(numel > 0 ? (size_t)numel * sizeof(float) : 1)) == NULL)
    return npy_seterr(err, errlen, "out of memory");
  for (i = 0; i < (size_t)numel; i++)
    (*data)[i] = item == 4 ? npy_f32(p + 4 * i) : npy_f64(p + 8 * i);
  return 0;
}

/* ------------------------------------------------------------- reading */

static const unsigned char NPY_MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

int npy_read_mem(const unsigned char *buf, size_t len, float **data, int *ndim,
                 int64_t shape[NPY_MAX_DIMS], char *err, size_t errlen) {
  Hdr h;
  Lex l;
  size_t start, hlen;
  int item, i;
  *data = NULL;
  *ndim = 0;
  if (buf == NULL || len < 6 || memcmp(buf, NPY_MAGIC, 6) != 0)
    return npy_seterr(err, errlen,
                      "not a .npy file: it does not start with \\x93NUMPY");
  if (len < 8)
    return npy_seterr(err, errlen, "truncated file: no .npy version");
  if (buf[6] < 1 || buf[6] > 3 || buf[7] != 0)
    return npy_seterr(err, errlen, "unsupported .npy version %u.%u", buf[6],
                      buf[7]);
  start = buf[6] == 1 ? 10 : 12;
  if (len < start)
    return npy_seterr(err, errlen, "truncated file: no .npy header length");
  hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
  if (start == 12)
    hlen |= (size_t)((uint32_t)buf[10] << 16 | (uint32_t)buf[11] << 24);
  if (hlen > len - start)
    return npy_seterr(
        err, errlen,
        "truncated file: the .npy header length says %lu bytes but "
        "only %lu follow",
        (unsigned long)hlen, (unsigned long)(len - start));
  memset(&h, 0, sizeof h);
  l.s = buf + start;
  l.len = hlen;
  l.pos = 0;
  l.err = err;
  l.errlen = errlen;
  if (parse_header(&l, &h) != 0) return -1;
  if ((item = check_descr(&h, err, errlen)) < 0) return -1;
  if (h.fortran) {
    npy_seterr(err, errlen,
               "fortran_order is True: Fortran-order arrays are not "
               "supported; save a C-order array (numpy.ascontiguousarray)");
    return -1;
  }
  start += hlen;
  if (read_data(&h, item, buf + start, len - start, data, err, errlen) != 0)
    return -1;
  *ndim = h.ndim;
  for (i = 0; i < h.ndim; i++)
    shape[i] = h.shape[i];
  return 0;
}

/* Reads the whole file at path into a malloc'd buffer. */
static int read_file(const char *path, unsigned char **out, size_t *len,
                     char *err, size_t errlen) {
  FILE *fp = fopen(path, "rb");
  unsigned char *buf = NULL, *grown;
  size_t cap = 0, n = 0, got;
  if (fp == NULL) {
    npy_errno(err, errlen, "cannot open", errno);
    return -1;
  }
  do {
    if (n == cap) {
      size_t want = cap ? 2 * cap : 65536;
      grown = want > cap ? realloc(buf, want) : NULL;
      if (grown == NULL) {
        npy_seterr(err, errlen, "out of memory");
        goto fail;
      }
      buf = grown;
      cap = want;
    }
    got = fread(buf + n, 1, cap - n, fp);
    n += got;
  } while (got > 0);
  if (ferror(fp)) {
    npy_errno(err, errlen, "cannot read", errno);
    goto fail;
  }
  fclose(fp);
  *out = buf;
  *len = n;
  return 0;
fail:
  fclose(fp);
  free(buf);
  return -1;
}

int npy_read(const char *path, float **data, int *ndim,
             int64_t shape[NPY_MAX_DIMS], char *err, size_t errlen) {
  unsigned char *buf;
  size_t len;
  int rc;
  *data = NULL;
  *ndim = 0;
  if (read_file(path, &buf, &len, err, errlen) != 0) return -1;
  rc = npy_read_mem(buf, len, data, ndim, shape, err, errlen);
  free(buf);
  return rc;
}

/* ------------------------------------------------------------- writing */

/* Builds the header of a version 1.0 file into h (room for 256 bytes) and
   returns its length: the dict, spaces and '\n', so that the 10-byte
   preamble and the header end on a multiple of 64 bytes (the same padding
   rule as numpy, which adds 64 spaces rather than none). */
static size_t npy_header(char *h, int ndim, const int64_t *shape) {
  size_t n;
  int i;
  n = (size_t)sprintf(h, "{'descr': '<f4', 'fortran_order': False, "
                         "'shape': (");
  for (i = 0; i < ndim; i++)
    n += (size_t)sprintf(h + n, "%s%lld", i ? ", " : "", (long long)shape[i]);
  n += (size_t)sprintf(h + n, "%s), }", ndim == 1 ? "," : "");
  i = 64 - (int)((10 + n + 1) % 64);
  while (i-- > 0)
    h[n++] = ' ';
  h[n++] = '\n';
  return n;
}

/* Writes n floats as little-endian bytes. */
static int npy_put(FILE *fp, const float *data, size_t n) {
  unsigned char chunk[4096];
  size_t i, k, e;
  for (i = 0; i < n; i += k) {
    k = n - i < sizeof chunk / 4 ? n - i : sizeof chunk / 4;
    for (e = 0; e < k; e++) {
      uint32_t v;
      memcpy(&v, &data[i + e], 4);
      chunk[4 * e] = (unsigned char)v;
      chunk[4 * e + 1] = (unsigned char)(v >> 8);
      chunk[4 * e + 2] = (unsigned char)(v >> 16);
      chunk[4 * e + 3] = (unsigned char)(v >> 24);
    }
    if (fwrite(chunk, 4, k, fp) != k) return -1;
  }
  return 0;
}

int npy_write(const char *path, const float *data, int ndim,
              const int64_t *shape, char *err, size_t errlen) {
  char h[256];
  unsigned char pre[10];
  uint64_t numel = 1;
  size_t n;
  FILE *fp;
  int i, rc;
  if (ndim < 0 || ndim > NPY_MAX_DIMS || (ndim > 0 && shape == NULL))
    return npy_seterr(err, errlen, "cannot write %d dimensions (at most %d)",
                      ndim, NPY_MAX_DIMS);
  for (i = 0; i < ndim; i++) {
    uint64_t d = (uint64_t)shape[i];
    if (shape[i] < 0 || (d != 0 && numel > (uint64_t)INT64_MAX / 4 / d) ||
        (d != 0 && numel * d > (size_t)-1 / 4))
      return npy_seterr(err, errlen, "bad shape entry %lld",
                        (long long)shape[i]);
    numel *= d;
  }
  if (numel > 0 && data == NULL)
    return npy_seterr(err, errlen, "no data to write");
  n = npy_header(h, ndim, shape);
  memcpy(pre, NPY_MAGIC, 6);
  pre[6] = 1;
  pre[7] = 0;
  pre[8] = (unsigned char)(n & 0xFF);
  pre[9] = (unsigned char)(n >> 8);
  if ((fp = fopen(path, "wb")) == NULL) {
    npy_errno(err, errlen, "cannot create", errno);
    return -1;
  }
  rc = fwrite(pre, 1, 10, fp) == 10 && fwrite(h, 1, n, fp) == n ? 0 : -1;
  if (rc == 0) rc = npy_put(fp, data, (size_t)numel);
  if (fclose(fp) != 0) rc = -1;
  if (rc != 0) {
    npy_errno(err, errlen, "cannot write", errno);
    remove(path);
  }
  return rc;
}
