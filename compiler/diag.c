/* diag.c: every message modelc prints about a spec.
 *
 *   specs/x.lua:7: error: layer 3 'conv2' (Conv1d): Given groups=1, ...
 *   specs/x.lua:5: note: layer 2 (MaxPool1d) produced [2, 4, 5]
 *   specs/x.lua:7: hint: did you mean 'kernel_size'?
 *
 * Lowercase, no final period; the text after the layer prefix is
 * PyTorch's own wording where PyTorch has one. */
#include "modelc.h"

#include <stdarg.h>
#include <stdlib.h>

static void emit(Diag *d, const SrcLoc *at, const char *kind,
                 const char *fmt, va_list ap) {
  char *msg;
  {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    msg = mc_alloc((size_t)(n < 0 ? 0 : n) + 1);
    vsnprintf(msg, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap2);
    va_end(ap2);
  }
  size_t start = d->text.len;
  if (at && at->file && at->line > 0)
    buf_printf(&d->text, "%s:%d: %s: %s\n", at->file, at->line, kind, msg);
  else if (at && at->file)
    buf_printf(&d->text, "%s: %s: %s\n", at->file, kind, msg);
  else
    buf_printf(&d->text, "modelc: %s: %s\n", kind, msg);
  if (d->out) {
    fputs(d->text.s + start, d->out);
    fflush(d->out);
  }
  free(msg);
}

/* A layer written inside a helper function also names the line of the
 * main chunk that called the helper. */
static void via_note(Diag *d, const SrcLoc *at) {
  if (at && at->via_line > 0 && at->via_line != at->line) {
    size_t start = d->text.len;
    buf_printf(&d->text, "%s:%d: note: the layer above was built by the "
               "call here\n", at->file, at->via_line);
    if (d->out) fputs(d->text.s + start, d->out);
  }
}

#define DIAG_FN(fn, kind, counter)                                        \
  void fn(Diag *d, const SrcLoc *at, const char *fmt, ...) {              \
    va_list ap;                                                           \
    va_start(ap, fmt);                                                    \
    emit(d, at, kind, fmt, ap);                                           \
    va_end(ap);                                                           \
    counter;                                                              \
  }

DIAG_FN(diag_note, "note", (void)0)
DIAG_FN(diag_hint, "hint", (void)0)
DIAG_FN(diag_warning, "warning", d->nwarnings++)

void diag_error(Diag *d, const SrcLoc *at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(d, at, "error", fmt, ap);
  va_end(ap);
  d->nerrors++;
  via_note(d, at);
}

void diag_plain(Diag *d, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(d, NULL, "error", fmt, ap);
  va_end(ap);
  d->nerrors++;
}

void diag_free(Diag *d) {
  buf_free(&d->text);
}
