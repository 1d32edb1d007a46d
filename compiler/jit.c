/*
 * jit.c - compile generated C in memory with TinyCC (libtcc)
 *
 * The only file that calls libtcc. Facts about the Debian libtcc-dev
 * (0.9.27+git20200814) this was written against, measured:
 *
 * - Image. tcc_relocate(s, NULL) links and returns the image size;
 *   tcc_relocate(s, buf) copies code, data and GOT into buf, and marks the
 *   text pages read-write-execute itself. We mmap buf read-write and, once
 *   relocated, mprotect it read+execute: no writable executable page stays
 *   behind. Code, data and const data share the same pages (const tables
 *   even share .data), so writable globals cannot be mapped apart: a write
 *   to one faults. The newer libtcc (no second argument, no
 *   TCC_RELOCATE_AUTO) allocates and protects the image itself, with data
 *   writable, and frees it in tcc_delete. jit_relocate hides the difference;
 *   the TCCState lives until jit_free in both cases, so jit_symbol can ask
 *   it.
 *
 * - Runtime. libtcc links libtcc1.a and adds its own include directory from
 *   a built-in path (/usr/lib/x86_64-linux-gnu/tcc); tcc_set_lib_path is not
 *   needed. Those files come with the Debian package 'tcc', not with
 *   libtcc-dev: without them every compile fails ("file '.../libtcc1.a' not
 *   found"), and we add a hint saying which package is missing.
 *
 * - Defines. In this version tcc_define_symbol only queues "#define NAME
 *   VALUE" text, parsed at compile time: a bad name is an error at
 *   "<command line>:N", and a newline in VALUE would inject directives. We
 *   check both before calling it. Options never go through
 *   tcc_set_options (some bad option strings call exit() in the host).
 *
 * - Global state. libtcc keeps some state in globals, taken and released
 *   around each compile. Compiling again after a failed compile works, and
 *   several TCCStates may be alive at once. Not thread-safe.
 *
 * - Line numbers. TinyCC reports the line of the last token it read, which
 *   is often the token after the mistake: for "int b = 1" followed by a line
 *   "int c;", the message is "';' expected (got "int")" on the second line
 *   (several lines later if blank lines or comments follow). The same holds
 *   for "identifier expected" and "'x' undeclared" (the parser reads the
 *   next token before it checks), for errors at the end of the file (one
 *   past the last line), and an unterminated string or comment is reported
 *   where the file ends. jit_true_line moves such a line back to the line
 *   that holds the mistake, by looking at the source text.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "jit.h"
#include "jit_kernels.h"

#include <errno.h>
#include <libtcc.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct Jit {
  TCCState *s; /* alive until jit_free: jit_symbol asks it */
  void *image; /* older libtcc: our mapping of the code image, read+exec */
  size_t size;
};

/* ------------------------------------------------------------ messages */

/* Every message TinyCC (or this file) produced during one compile. */
typedef struct Log {
  char **msg;
  int n, cap;
  int oom; /* a message was lost for want of memory */
} Log;

static void log_add(Log *lg, const char *m) {
  char *copy;
  if (lg->n == lg->cap) {
    int cap = lg->cap ? 2 * lg->cap : 8;
    char **grown = realloc(lg->msg, (size_t)cap * sizeof *grown);
    if (grown == NULL) {
      lg->oom = 1;
      return;
    }
    lg->msg = grown;
    lg->cap = cap;
  }
  copy = malloc(strlen(m) + 1);
  if (copy == NULL) {
    lg->oom = 1;
    return;
  }
  lg->msg[lg->n++] = strcpy(copy, m);
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void log_addf(Log *lg, const char *fmt, ...) {
  char m[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  log_add(lg, m);
}

static void log_free(Log *lg) {
  int i;
  for (i = 0; i < lg->n; i++)
    free(lg->msg[i]);
  free(lg->msg);
}

/* tcc_set_error_func's callback: errors and warnings alike. */
static void on_tcc_message(void *opaque, const char *msg) {
  log_add(opaque, msg);
}

/* A growable string; on allocation failure it stays NULL. */
typedef struct Buf {
  char *s;
  size_t len, cap;
  int oom;
} Buf;

static void buf_put(Buf *b, const char *p, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    char *grown;
    while (b->len + n + 1 > cap)
      cap *= 2;
    grown = realloc(b->s, cap);
    if (grown == NULL) {
      free(b->s);
      b->s = NULL;
      b->oom = 1;
      return;
    }
    b->s = grown;
    b->cap = cap;
  }
  memcpy(b->s + b->len, p, n);
  b->len += n;
  b->s[b->len] = 0;
}

static void buf_puts(Buf *b, const char *s) {
  buf_put(b, s, strlen(s));
}

/* ------------------------------------------- finding the mistaken line */

static int is_ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Line k (from 1) of src and its length without the newline; NULL if src
   has fewer lines. A final newline does not start another line. */
static const char *src_line(const char *src, int k, size_t *len) {
  const char *p = src, *nl;
  for (; k > 1; k--) {
    nl = strchr(p, '\n');
    if (nl == NULL || nl[1] == 0) return NULL;
    p = nl + 1;
  }
  if (*p == 0) return NULL;
  nl = strchr(p, '\n');
  *len = nl ? (size_t)(nl - p) : strlen(p);
  return p;
}

static int src_nlines(const char *src) {
  int n = 0;
  const char *p;
  for (p = src; *p; p++)
    if (*p == '\n' && p[1] != 0) n++;
  return *src ? n + 1 : 0;
}

/* The line without leading blanks and without a trailing comment or
   blanks: sets [*b, *e). Good enough for generated code (no comment
   markers inside strings). */
static void code_span(const char *p, size_t n, const char **b, const char **e) {
  const char *end = p + n, *q;
  for (q = p; q + 1 < end; q++)
    if (q[0] == '/' && q[1] == '/') {
      end = q;
      break;
    }
  while (end > p && is_space(end[-1]))
    end--;
  if (end - p >= 2 && end[-2] == '*' && end[-1] == '/') {
    for (q = end - 2; q > p && !(q[-1] == '/' && q[0] == '*'); q--)
      ;
    if (q > p)
      end = q - 1;
    else
      end = p; /* a block comment ending here began on an earlier line */
  }
  while (end > p && is_space(end[-1]))
    end--;
  while (p < end && is_space(*p))
    p++;
  if (p < end && *p == '*' && (p + 1 == end || p[1] == ' ') && end[-1] != ';')
    end = p; /* " * text" inside a block comment */
  *b = p;
  *e = end;
}

/* The nearest line before k that holds code, or 0. */
static int prev_code_line(const char *src, int k) {
  const char *p, *b, *e;
  size_t n;
  for (k--; k >= 1; k--) {
    p = src_line(src, k, &n);
    if (p == NULL) continue;
    code_span(p, n, &b, &e);
    if (b < e) return k;
  }
  return 0;
}

/* Does [p, p+n) hold the identifier w as a whole word? */
static int has_word(const char *p, size_t n, const char *w) {
  size_t wl = strlen(w), i;
  for (i = 0; wl > 0 && i + wl <= n; i++)
    if (memcmp(p + i, w, wl) == 0 && (i == 0 || !is_ident_char(p[i - 1])) &&
        (i + wl == n || !is_ident_char(p[i + wl])))
      return 1;
  return 0;
}

/* Does code line k end with a token that cannot follow the one before it,
   as in "x = ;" or "y = a +" newline ")"? That is where "identifier
   expected" (no expression where one is needed) comes from. */
static int ends_without_operand(const char *src, int k) {
  static const char wants[] = "=+-*/%&|^<>!~?,([";
  const char *p, *b, *e;
  size_t n;
  char last, before;
  p = src_line(src, k, &n);
  code_span(p, n, &b, &e);
  last = e[-1];
  if (strchr(";)]},", last) == NULL) return 0;
  e--;
  while (e > b && is_space(e[-1]))
    e--;
  if (e == b) { /* the token is alone on its line: look at the one before */
    k = prev_code_line(src, k);
    if (k == 0) return 0;
    p = src_line(src, k, &n);
    code_span(p, n, &b, &e);
  }
  before = e[-1];
  if (strchr(wants, before) == NULL) return 0;
  if ((before == '(' && last == ')') || (before == '[' && last == ']') ||
      (before == ',' && last == '}'))
    return 0; /* f(), a[], {1, 2,} */
  if ((before == '+' || before == '-') && e - b >= 2 && e[-2] == before)
    return 0; /* x++; */
  return 1;
}

/* The nearest line at or before k with an odd number of '"' (an
   unterminated string starts there), or 0. */
static int open_string_line(const char *src, int k) {
  const char *p;
  size_t n, i;
  for (; k >= 1; k--) {
    int quotes = 0;
    p = src_line(src, k, &n);
    if (p == NULL) continue;
    for (i = 0; i < n; i++)
      if (p[i] == '\\')
        i++;
      else if (p[i] == '\'' && i + 2 < n && p[i + 2] == '\'')
        i += 2;
      else if (p[i] == '"')
        quotes++;
    if (quotes % 2) return k;
  }
  return 0;
}

/* The nearest line at or before k where a block comment opens and does not
   close, or 0. */
static int open_comment_line(const char *src, int k) {
  const char *p;
  size_t n, i;
  for (; k >= 1; k--) {
    int open = 0;
    p = src_line(src, k, &n);
    if (p == NULL) continue;
    for (i = 0; i + 1 < n; i++)
      if (p[i] == '/' && p[i + 1] == '*')
        open = 1, i++;
      else if (p[i] == '*' && p[i + 1] == '/')
        open = 0, i++;
    if (open) return k;
  }
  return 0;
}

/* The line that holds the mistake TinyCC reported at `line` with `msg`. */
static int jit_true_line(const char *src, int line, const char *msg) {
  const char *p, *q, *b, *e;
  size_t n;
  int nlines = src_nlines(src), prev, k;
  if (strstr(msg, "missing terminating")) {
    k = open_string_line(src, line < nlines ? line : nlines);
    return k ? k : line;
  }
  if (strstr(msg, "end of file in comment")) {
    k = open_comment_line(src, line < nlines ? line : nlines);
    return k ? k : line;
  }
  if (line > nlines) { /* at the end of the file */
    k = prev_code_line(src, nlines + 1);
    return k ? k : nlines;
  }
  p = src_line(src, line, &n);
  prev = prev_code_line(src, line);
  if (p == NULL || prev == 0) return line;
  code_span(p, n, &b, &e);
  if ((q = strstr(msg, "(got \"")) != NULL) {
    /* "X expected (got "Y")": X is missing just before Y. If Y opens the
       line, X belongs at the end of the previous one. */
    const char *tok = q + 6, *end = strrchr(tok, '"');
    size_t tl = end ? (size_t)(end - tok) : 0;
    if (tl > 0 && (size_t)(e - b) >= tl && memcmp(b, tok, tl) == 0 &&
        !(is_ident_char(tok[tl - 1]) && b + tl < e && is_ident_char(b[tl])))
      return prev;
  } else if ((q = strstr(msg, "' undeclared")) != NULL) {
    /* The name was read; the error came with the token after it. */
    char name[128];
    const char *open = q;
    size_t pn;
    const char *pp;
    while (open > msg && open[-1] != '\'')
      open--;
    if (open == msg || (size_t)(q - open) >= sizeof name) return line;
    memcpy(name, open, (size_t)(q - open));
    name[q - open] = 0;
    pp = src_line(src, prev, &pn);
    if (!has_word(p, n, name) && has_word(pp, pn, name)) return prev;
  } else if (strstr(msg, "identifier expected")) {
    if (ends_without_operand(src, prev)) return prev;
  }
  return line;
}

/* ------------------------------------------------ what the code may use */

/* The only names compiled code can reach: the libm functions the emitter
   uses, the three the C compiler itself may call for block copies and
   zeroing, and modelc's own host microkernels, which the code generated
   for modelc run calls with its own buffers and sizes (jit_kernels.c).
   TinyCC gets -nostdlib (no libc, no libtcc1.a, and no lookup of
   unresolved names in this process) and -nostdinc (no include path); any
   other undefined name fails the link with "undefined symbol 'NAME'"
   before a line of the code runs. */
typedef void (*JitFn)(void);
static const struct {
  const char *name;
  JitFn fn;
} jit_allowed[] = {
    {"expf", (JitFn)expf},       {"expm1f", (JitFn)expm1f},
    {"logf", (JitFn)logf},       {"tanhf", (JitFn)tanhf},
    {"erff", (JitFn)erff},       {"fmaf", (JitFn)fmaf},
    {"sqrt", (JitFn)sqrt},       {"memcpy", (JitFn)memcpy},
    {"memset", (JitFn)memset},   {"memmove", (JitFn)memmove},
    /* modelc's own microkernels (jit_kernels.h) */
    {"mcj_conv_block", (JitFn)mcj_conv_block},
    {"mcj_linear_axpy", (JitFn)mcj_linear_axpy},
    {"mcj_combine16", (JitFn)mcj_combine16},
    {"mcj_copy", (JitFn)mcj_copy},
};

static void bind_allowed(TCCState *s) {
  size_t i;
  for (i = 0; i < sizeof jit_allowed / sizeof *jit_allowed; i++) {
    void *addr;
    memcpy(&addr, &jit_allowed[i].fn, sizeof addr); /* POSIX: same size */
    tcc_add_symbol(s, jit_allowed[i].name, addr);
  }
}

/* "expf, expm1f, ..., memmove" */
static void list_allowed(Buf *b) {
  size_t i;
  for (i = 0; i < sizeof jit_allowed / sizeof *jit_allowed; i++) {
    if (i) buf_puts(b, ", ");
    buf_puts(b, jit_allowed[i].name);
  }
}

/* Defence in depth: the code modelc generates includes no file, splices no
   line and holds no trigraph or digraph directive, so a source that does
   is refused before TinyCC reads it. Returns 0 or -1. */
static int refuse_source(const char *src, Log *lg, const char *filename) {
  const char *p = src;
  int line = 1;
  for (; *p; p++) {
    const char *q = p;
    if (*p == '\n') {
      line++;
      continue;
    }
    if (p[0] == '\\' && (p[1] == '\n' || (p[1] == '\r' && p[2] == '\n'))) {
      log_addf(lg, "%s:%d: error: a backslash at the end of a line: the JIT "
               "compiles no line splices", filename, line);
      return -1;
    }
    if (p[0] == '?' && p[1] == '?') {
      log_addf(lg, "%s:%d: error: '?\?': the JIT compiles no trigraphs",
               filename, line);
      return -1;
    }
    if (p != src && p[-1] != '\n') continue;
    while (*q == ' ' || *q == '\t')
      q++;
    if (q[0] == '#') q++;
    else if (q[0] == '%' && q[1] == ':') q += 2;
    else continue;
    while (*q == ' ' || *q == '\t')
      q++;
    if (strncmp(q, "include", 7) == 0 || strncmp(q, "import", 6) == 0 ||
        strncmp(q, "embed", 5) == 0) {
      int n = 0;
      while (q[n] >= 'a' && q[n] <= 'z')
        n++;
      log_addf(lg, "%s:%d: error: '#%.*s': the JIT compiles one "
               "self-contained file and reads no other", filename, line, n, q);
      return -1;
    }
  }
  return 0;
}

/* ------------------------------------------------ assembling the text */

/* Appends m with "<string>" (TinyCC's name for the source) replaced by
   filename and a leading "tcc: " by "filename: ". */
static void put_message(Buf *b, const char *m, const char *filename) {
  const char *hit;
  if (strncmp(m, "tcc: ", 5) == 0) {
    buf_puts(b, filename);
    buf_puts(b, ": ");
    m += 5;
  }
  while ((hit = strstr(m, "<string>")) != NULL) {
    buf_put(b, m, (size_t)(hit - m));
    buf_puts(b, filename);
    m = hit + 8;
  }
  buf_puts(b, m);
}

/* In m, finds "filename:LINE: error:" and returns LINE (or 0), with the
   position and length of the digits. */
static int error_line(const char *m, const char *filename, size_t *at,
                      size_t *len) {
  size_t fl = strlen(filename);
  const char *e = m;
  while ((e = strstr(e, ": error:")) != NULL) {
    const char *d = e;
    while (d > m && d[-1] >= '0' && d[-1] <= '9')
      d--;
    if (d < e && d - m > (long)fl && d[-1] == ':' &&
        memcmp(d - 1 - fl, filename, fl) == 0 &&
        (d - 1 - fl == m || d[-2 - fl] == '\n')) {
      *at = (size_t)(d - m);
      *len = (size_t)(e - d);
      return atoi(d);
    }
    e++;
  }
  return 0;
}

/* Does m say that part of TinyCC's own runtime is missing? */
static int runtime_missing(const char *m) {
  static const char *const own[] = {
      "libtcc1.a' not found",       "file 'stddef.h' not found",
      "file 'stdarg.h' not found",  "file 'float.h' not found",
      "file 'stdbool.h' not found", "file 'tcclib.h' not found"};
  size_t i;
  for (i = 0; i < sizeof own / sizeof *own; i++)
    if (strstr(m, own[i])) return 1;
  return 0;
}

/* The text for *err: every message, one per line; the first error with a
   line number gets its line corrected and the source line shown. */
static char *error_text(const Log *lg, const char *src, const char *filename) {
  Buf b = {NULL, 0, 0, 0};
  int i, shown = 0, hint = 0, unresolved = 0;
  for (i = 0; i < lg->n; i++) {
    const char *m = lg->msg[i];
    size_t at, len, n;
    int line = shown ? 0 : error_line(m, filename, &at, &len);
    if (line > 0) {
      char num[24];
      const char *text;
      int fixed = jit_true_line(src, line, m);
      Buf head = {NULL, 0, 0, 0};
      buf_put(&head, m, at);
      snprintf(num, sizeof num, "%d", fixed);
      buf_puts(&head, num);
      buf_puts(&head, m + at + len);
      put_message(&b, head.s ? head.s : m, filename);
      free(head.s);
      buf_puts(&b, "\n");
      text = src_line(src, fixed, &n);
      if (text != NULL) {
        char pre[32];
        snprintf(pre, sizeof pre, "%4d | ", fixed);
        buf_puts(&b, pre);
        buf_put(&b, text, n > 200 ? 200 : n);
        buf_puts(&b, n > 200 ? " ...\n" : "\n");
      }
      shown = 1;
    } else {
      put_message(&b, m, filename);
      buf_puts(&b, "\n");
    }
    hint |= runtime_missing(m);
    unresolved |= strstr(m, "undefined symbol") != NULL;
  }
  if (unresolved) {
    buf_puts(&b, "note: the JIT links no C library; it resolves only ");
    list_allowed(&b);
    buf_puts(&b, " and the arrays modelc binds\n");
  }
  if (hint)
    buf_puts(&b, "hint: TinyCC's runtime (libtcc1.a and its headers) is "
                 "missing: install the Debian package 'tcc' (libtcc-dev does "
                 "not include it)\n");
  if (lg->oom || lg->n == 0)
    buf_puts(&b, lg->n ? "(some messages were lost: out of memory)\n"
                       : "error: compile failed without a message\n");
  if (b.s && b.len > 0 && b.s[b.len - 1] == '\n') b.s[--b.len] = 0;
  return b.s;
}

/* ------------------------------------------------------- libtcc calls */

/* Checks and passes one "NAME" or "NAME=VALUE". Returns 0 or -1. */
static int add_define(TCCState *s, const char *def, Log *lg,
                      const char *filename) {
  const char *eq = strchr(def, '='), *p;
  size_t nl = eq ? (size_t)(eq - def) : strlen(def);
  char *name;
  int ok = nl > 0 && !(def[0] >= '0' && def[0] <= '9');
  for (p = def; ok && p < def + nl; p++)
    ok = is_ident_char(*p);
  if (!ok) {
    log_addf(lg, "%s: error: define '%.60s': the name is not a C identifier",
             filename, def);
    return -1;
  }
  if (eq && strpbrk(eq, "\n\r")) {
    log_addf(lg, "%s: error: define '%.*s': the value holds a line break",
             filename, (int)nl, def);
    return -1;
  }
  name = malloc(nl + 1);
  if (name == NULL) {
    log_addf(lg, "%s: error: out of memory", filename);
    return -1;
  }
  memcpy(name, def, nl);
  name[nl] = 0;
  tcc_define_symbol(s, name, eq ? eq + 1 : NULL);
  free(name);
  return 0;
}

/* The source with a first line "#line 1 "filename"" so that TinyCC's
   messages name the file and count its lines from 1. */
static char *with_line_directive(const char *src, const char *filename) {
  Buf b = {NULL, 0, 0, 0};
  const char *p;
  buf_puts(&b, "#line 1 \"");
  for (p = filename; *p; p++) {
    if (*p == '"' || *p == '\\') buf_put(&b, "\\", 1);
    buf_put(&b, (unsigned char)*p < ' ' ? "?" : p, 1);
  }
  buf_puts(&b, "\"\n");
  buf_puts(&b, src);
  return b.s;
}

/* Links j->s and places the code image. Returns 0 or -1. */
static int jit_relocate(Jit *j, Log *lg, const char *filename) {
#ifdef TCC_RELOCATE_AUTO
  /* libtcc <= 0.9.27: the size first (this call also links and adds the
     runtime), then the copy into our buffer. */
  int n = tcc_relocate(j->s, NULL);
  void *buf;
  if (n <= 0) return -1;
  buf = mmap(NULL, (size_t)n, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) {
    log_addf(lg, "%s: error: cannot map %d bytes for the code: %s", filename, n,
             strerror(errno));
    return -1;
  }
  j->image = buf;
  j->size = (size_t)n;
  if (tcc_relocate(j->s, buf) < 0) return -1;
  /* TinyCC has made the text pages read-write-execute: end that. */
  if (mprotect(buf, (size_t)n, PROT_READ | PROT_EXEC) != 0) {
    log_addf(lg, "%s: error: cannot make the code executable: %s", filename,
             strerror(errno));
    return -1;
  }
  return 0;
#else
  /* Newer libtcc allocates and protects the image itself (code read+exec,
     data writable) and frees it in tcc_delete. */
  (void)lg;
  (void)filename;
  return tcc_relocate(j->s) < 0 ? -1 : 0;
#endif
}

Jit *jit_compile(const char *src, const char *filename,
                 const char *const *defines, const JitSymbol *syms, int nsyms,
                 char **err) {
  Log lg = {NULL, 0, 0, 0};
  Jit *j = calloc(1, sizeof *j);
  char *text = NULL;
  int i, rc = -1;
  if (err) *err = NULL;
  if (filename == NULL) filename = "<jit>";
  if (j == NULL || (j->s = tcc_new()) == NULL) {
    log_addf(&lg, "%s: error: cannot start TinyCC: out of memory", filename);
    goto done;
  }
  tcc_set_error_func(j->s, &lg, on_tcc_message); /* first: catch all */
  if (refuse_source(src, &lg, filename) != 0) goto done;
  /* Before the output type, which adds the default paths and libraries:
     no include path, no libc, no libtcc1.a, and no dlsym() of undefined
     names in this process. A constant string: never user text. */
  tcc_set_options(j->s, "-nostdinc -nostdlib");
  tcc_set_output_type(j->s, TCC_OUTPUT_MEMORY);
  bind_allowed(j->s);
  for (i = 0; defines && defines[i]; i++)
    if (add_define(j->s, defines[i], &lg, filename) != 0) goto done;
  text = with_line_directive(src, filename);
  if (text == NULL) {
    log_addf(&lg, "%s: error: out of memory", filename);
    goto done;
  }
  if (tcc_compile_string(j->s, text) != 0) goto done;
  for (i = 0; i < nsyms; i++) {
    if (syms[i].name == NULL || syms[i].addr == NULL) {
      log_addf(&lg, "%s: error: symbol %d ('%s') is bound to NULL", filename, i,
               syms[i].name ? syms[i].name : "(no name)");
      goto done;
    }
    tcc_add_symbol(j->s, syms[i].name, syms[i].addr);
  }
  rc = jit_relocate(j, &lg, filename);
  for (i = 0; rc == 0 && i < nsyms; i++)
    if (tcc_get_symbol(j->s, syms[i].name) != syms[i].addr) {
      /* TinyCC keeps the source's definition without a word */
      log_addf(&lg,
               "%s: error: symbol '%s' is bound, but the source defines "
               "it too",
               filename, syms[i].name);
      rc = -1;
    }
done:
  free(text);
  if (rc != 0) {
    if (err) *err = error_text(&lg, src, filename);
    jit_free(j);
    j = NULL;
  }
  log_free(&lg);
  return j;
}

void *jit_symbol(Jit *j, const char *name) {
  return j && name ? tcc_get_symbol(j->s, name) : NULL;
}

void jit_free(Jit *j) {
  if (j == NULL) return;
  if (j->s) tcc_delete(j->s);
  if (j->image) munmap(j->image, j->size);
  free(j);
}
