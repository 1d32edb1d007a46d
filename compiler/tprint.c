/*
 * tprint.c - PyTorch 1.13's tensor printing (torch/_tensor_str.py), in C
 *
 * The Python code, for a float32 tensor t with the default options:
 *
 *   summarize = t.numel() > 1000
 *   formatter = _Formatter(get_summarized_data(t) if summarize else t)
 *   _tensor_str_with_formatter(t, indent, summarize, formatter)
 *
 * Summarizing keeps, along every dim longer than 2 * 3, only the first 3 and
 * the last 3 indices; the formatter only looks at the values kept.
 *
 * _Formatter picks one of three modes from the nonzero finite values
 * (converted to double, as .item() does):
 *   - int mode, when every one is integral: "%.0f" plus "." ("3.", "-0."),
 *     but sci mode instead if max/min > 1000 or max > 1e8 (abs values);
 *   - otherwise sci mode if max/min > 1000, max > 1e8 or min < 1e-4
 *     (note float32(1e-4) is just below 1e-4, so it prints in sci mode);
 *   - otherwise fixed mode, "%.4f".
 * Sci mode is "%.4e". max_width is the longest of these strings over the
 * nonzero finite values (int mode: plus one for the "."), and every printed
 * value is right-aligned to it. Zeros, nan and inf do not count towards the
 * width, so "-0.", "-inf" and "nan" may stick out. With no nonzero finite
 * value at all the mode is int and max_width is 1.
 *
 * Python prints nan as "nan" whatever its sign bit, inf as "inf"/"-inf"
 * and never appends "." to them. For finite doubles Python's "{:.4f}" and
 * "{:.4e}" round the exact binary value half-to-even, as glibc's printf
 * does, so snprintf gives the same digits.
 *
 * Layout: a 1-D row is split into lines of elements_per_line =
 * max(1, floor((80 - indent) / (max_width + 2))) items joined by ", " (the
 * " ..." of a summarized row counts as an item, so it reads ",  ..., ");
 * lines are joined by ",\n" and indent + 1 spaces. A k-D tensor (k >= 2)
 * is "[" + its slices, each printed at indent + 1, joined by "," then k - 1
 * newlines then indent + 1 spaces, + "]"; a summarized dim puts "..." in
 * the place of the slices left out.
 */
#include "tprint.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TP_PRECISION 4
#define TP_THRESHOLD 1000
#define TP_EDGEITEMS 3
#define TP_LINEWIDTH 80

/* ---------------------------------------------------------------- buffer */

typedef struct Buf {
  char *s;
  size_t len, cap;
  int oom; /* set once an allocation failed; later writes are dropped */
} Buf;

static void buf_put(Buf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    char *p;
    while (b->len + n + 1 > cap)
      cap *= 2;
    p = realloc(b->s, cap);
    if (p == NULL) {
      b->oom = 1;
      return;
    }
    b->s = p;
    b->cap = cap;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = 0;
}

static void buf_puts(Buf *b, const char *s) {
  buf_put(b, s, strlen(s));
}

static void buf_repeat(Buf *b, char c, int n) {
  for (; n > 0; n--)
    buf_put(b, &c, 1);
}

/* ------------------------------------------------------------- formatter */

typedef struct Fmt {
  int int_mode, sci_mode;
  int max_width;
} Fmt;

/* What walking the summarized values collects. */
typedef struct Scan {
  int any;         /* a nonzero finite value was seen */
  int integral;    /* all of them equal their ceil */
  double min, max; /* of their abs values */
} Scan;

typedef struct Tensor {
  const float *x;
  int ndim;
  const int64_t *dims;
  int64_t *stride; /* row-major strides, in elements */
  int summarize;
} Tensor;

/* Is dim d cut to its first and last TP_EDGEITEMS indices? */
static int cut(const Tensor *t, int d) {
  return t->summarize && t->dims[d] > 2 * TP_EDGEITEMS;
}

/* How many indices along dim d are printed. */
static int64_t kept(const Tensor *t, int d) {
  return cut(t, d) ? 2 * TP_EDGEITEMS : t->dims[d];
}

/* The i-th printed index along dim d, for i < kept(t, d). */
static int64_t kept_index(const Tensor *t, int d, int64_t i) {
  if (!cut(t, d) || i < TP_EDGEITEMS) return i;
  return t->dims[d] - 2 * TP_EDGEITEMS + i;
}

/* Calls visit on every value kept by summarizing, below offset off at dim
 * d. */
static void walk(const Tensor *t, int d, int64_t off,
                 void (*visit)(void *, float), void *ctx) {
  int64_t i, n = kept(t, d);
  for (i = 0; i < n; i++) {
    int64_t o = off + kept_index(t, d, i) * t->stride[d];
    if (d == t->ndim - 1)
      visit(ctx, t->x[o]);
    else
      walk(t, d + 1, o, visit, ctx);
  }
}

static int nonzero_finite(float v) {
  return isfinite(v) && v != 0.0f;
}

static void scan_value(void *ctx, float v) {
  Scan *s = ctx;
  double a;
  if (!nonzero_finite(v)) return;
  a = fabs((double)v);
  if (!s->any || a < s->min) s->min = a;
  if (!s->any || a > s->max) s->max = a;
  if (v != ceilf(v)) s->integral = 0;
  s->any = 1;
}

/* The mode string of v without padding: "%.4e", "%.0f" or "%.4f". */
static int mode_str(char *buf, size_t n, const Fmt *f, double v) {
  if (f->sci_mode) return snprintf(buf, n, "%.*e", TP_PRECISION, v);
  if (f->int_mode) return snprintf(buf, n, "%.0f", v);
  return snprintf(buf, n, "%.*f", TP_PRECISION, v);
}

static void widen_value(void *ctx, float v) {
  Fmt *f = ctx;
  char s[64];
  int w;
  if (!nonzero_finite(v)) return;
  w = mode_str(s, sizeof s, f, v);
  if (f->int_mode && !f->sci_mode) w++; /* the "." */
  if (w > f->max_width) f->max_width = w;
}

/* _Formatter.__init__ over the values kept by summarizing. */
static Fmt formatter(const Tensor *t) {
  Fmt f = {1, 0, 1};
  Scan s = {0, 1, 0.0, 0.0};
  walk(t, 0, 0, scan_value, &s);
  if (!s.any) return f;
  f.int_mode = s.integral;
  f.sci_mode = s.max / s.min > 1000.0 || s.max > 1.0e8 ||
               (!f.int_mode && s.min < 1.0e-4);
  walk(t, 0, 0, widen_value, &f);
  return f;
}

/* _Formatter.format: v as Python prints it, right-aligned to max_width. */
static void format_value(Buf *b, const Fmt *f, float v) {
  char s[64];
  int n;
  if (isnan(v))
    n = snprintf(s, sizeof s, "nan");
  else if (isinf(v))
    n = snprintf(s, sizeof s, v < 0 ? "-inf" : "inf");
  else {
    n = mode_str(s, sizeof s - 1, f, v);
    if (f->int_mode && !f->sci_mode) s[n++] = '.';
  }
  buf_repeat(b, ' ', f->max_width - n);
  buf_put(b, s, (size_t)n);
}

/* ---------------------------------------------------------------- layout */

/* What goes before item number item (0-based) of a row: nothing, ", ", or
 * "," and a new line when the previous line is full. */
static void item_sep(Buf *b, int64_t item, int per_line, int indent) {
  if (item == 0) return;
  if (item % per_line != 0) {
    buf_puts(b, ", ");
    return;
  }
  buf_puts(b, ",\n");
  buf_repeat(b, ' ', indent + 1);
}

/* _vector_str: the row at offset off (the last dim). */
static void vector_str(Buf *b, const Tensor *t, const Fmt *f, int64_t off,
                       int indent) {
  int d = t->ndim - 1;
  int element_length = f->max_width + 2;
  int per_line =
      (int)floor((double)(TP_LINEWIDTH - indent) / (double)element_length);
  int64_t i, n = kept(t, d), item = 0;
  if (per_line < 1) per_line = 1;
  buf_puts(b, "[");
  for (i = 0; i < n; i++) {
    if (i == TP_EDGEITEMS && cut(t, d)) { /* " ..." is an item of its own */
      item_sep(b, item++, per_line, indent);
      buf_puts(b, " ...");
    }
    item_sep(b, item++, per_line, indent);
    format_value(b, f, t->x[off + kept_index(t, d, i)]);
  }
  buf_puts(b, "]");
}

/* Between the slices of dims d..: "," then one newline per dim below d,
 * then indent + 1 spaces. */
static void slice_sep(Buf *b, const Tensor *t, int d, int indent) {
  int j;
  buf_puts(b, ",");
  for (j = d + 1; j < t->ndim; j++)
    buf_puts(b, "\n");
  buf_repeat(b, ' ', indent + 1);
}

/* _tensor_str_with_formatter: the sub-tensor at offset off, dims d.. */
static void tensor_str(Buf *b, const Tensor *t, const Fmt *f, int d,
                       int64_t off, int indent) {
  int64_t i, n = kept(t, d);
  if (d == t->ndim - 1) {
    vector_str(b, t, f, off, indent);
    return;
  }
  buf_puts(b, "[");
  for (i = 0; i < n; i++) {
    if (i == TP_EDGEITEMS && cut(t, d)) { /* "..." stands for the rest */
      slice_sep(b, t, d, indent);
      buf_puts(b, "...");
    }
    if (i > 0) slice_sep(b, t, d, indent);
    tensor_str(b, t, f, d + 1, off + kept_index(t, d, i) * t->stride[d],
               indent + 1);
  }
  buf_puts(b, "]");
}

/* ----------------------------------------------------------------- entry */

char *tprint_str(const float *x, int ndim, const int64_t *dims, int indent) {
  Tensor t;
  Buf b = {NULL, 0, 0, 0};
  Fmt f;
  int64_t numel = 1;
  int d;
  assert(ndim >= 1);
  t.stride = malloc((size_t)ndim * sizeof *t.stride);
  if (t.stride == NULL) return NULL;
  for (d = ndim - 1; d >= 0; d--) {
    assert(dims[d] >= 1);
    t.stride[d] = numel;
    numel *= dims[d];
  }
  t.x = x;
  t.ndim = ndim;
  t.dims = dims;
  t.summarize = numel > TP_THRESHOLD;
  f = formatter(&t);
  tensor_str(&b, &t, &f, 0, 0, indent);
  buf_puts(&b, "\n");
  free(t.stride);
  if (b.oom) {
    free(b.s);
    return NULL;
  }
  return b.s;
}

void tprint(FILE *out, const float *x, int ndim, const int64_t *dims,
            int indent) {
  char *s = tprint_str(x, ndim, dims, indent);
  if (s == NULL) {
    fputs("(out of memory printing a tensor)\n", out);
    return;
  }
  fputs(s, out);
  free(s);
}
