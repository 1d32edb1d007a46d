/* fuzz_codegen.c: random valid models, JIT-compiled and run.
 *
 * The fuzzer's bytes drive a generator that picks an input shape and a
 * chain of layers whose arguments fit the shape so far (small sizes), so
 * most specs pass shape inference; when one does not (the generator's own
 * shape rules are simpler than PyTorch's), the layers before the failing
 * one are kept and the spec is checked again. A valid model then goes
 * through the back end (driver.c), emit_program and TinyCC in memory,
 * and runs: on the generic target, and for one input in four also on
 * cortex-m4 or cortex-m0 (their register tiles; the last byte says which).
 *
 * ASan does not see inside JIT-compiled code, so the buffers it gets are
 * fenced by hand: each sits between PROT_NONE pages with guard bytes
 * filling the rest of its pages, and the input is mapped read-only. The
 * checks, every one a crash when broken:
 *   - the JIT compiles what emit_program writes, and the sizes it reports
 *     agree with shape inference and the plan;
 *   - the generated code writes nothing outside its output and workspace
 *     (guard bytes intact; guard pages fault) and never writes its input;
 *   - two runs with different garbage in the workspace and the output give
 *     bit-identical outputs (no read of an unwritten byte reaches the
 *     result, every output element is written);
 *   - the standalone file (`modelc build`: weights as C literals, compiled
 *     by the same TinyCC) computes bit-for-bit what the JIT form computes
 *     with the weights bound from memory.
 * Inputs mix in NaN, infinities, huge and subnormal values. The output is
 * not required to be finite: Softmax, ELU and friends may overflow. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#endif
#include "fuzz.h"
#include "jit.h"
#include "modelc.h"

#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CG_MAXLAYERS 8
#define CG_MAXNUMEL 4096 /* floats in any one tensor */

/* ---------------------------------------------------- reading the bytes */

typedef struct CgSrc {
  const uint8_t *p;
  size_t n, i;
} CgSrc;

/* A choice in [0, n): the next byte, or 0 once the bytes run out. */
static int64_t cg_take(CgSrc *s, int64_t n) {
  if (n <= 1 || s->i >= s->n) return 0;
  return s->p[s->i++] % n;
}

static int64_t cg_min(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t cg_max(int64_t a, int64_t b) { return a > b ? a : b; }

/* ------------------------------------------------------------ generator */

typedef struct CgGen {
  CgSrc *s;
  int big;               /* larger sizes: whole register blocks and tiles */
  Shape cur;             /* the shape after the layers so far */
  char *layer[CG_MAXLAYERS];
  int nlayers;
} CgGen;

static int64_t cg_numel(const Shape *s) {
  int64_t n = 1;
  for (int i = 0; i < s->n; i++) n *= s->d[i];
  return n;
}

/* A tuple of nsp ints, or a scalar when all equal (sometimes). */
static void cg_ints(CgSrc *s, Buf *b, const int64_t *v, int nsp) {
  int same = 1;
  for (int i = 1; i < nsp; i++) same &= v[i] == v[0];
  if (same && cg_take(s, 3) != 0) {
    buf_printf(b, "%lld", (long long)v[0]);
    return;
  }
  buf_printf(b, "{");
  for (int i = 0; i < nsp; i++)
    buf_printf(b, "%s%lld", i ? ", " : "", (long long)v[i]);
  buf_printf(b, "}");
}

/* Floats for arguments: ordinary values and the awkward ones. */
static const char *const cg_nums[] = {"0.01", "0.2",  "1.0",   "0",
                                      "-1.5", "3",    "1e-45", "-0.0",
                                      "1e30", "0.5",  "2.5e-8", "100"};
#define CG_NNUMS ((int64_t)(sizeof cg_nums / sizeof cg_nums[0]))

/* Values for inline parameters, Lua expressions. */
static const char *const cg_vals[] = {"0.5", "-0.25", "1", "0", "-0.0",
                                      "1e-40", "3e38", "-2", "0.125",
                                      "1/0", "-1/0", "0/0"};
#define CG_NVALS ((int64_t)(sizeof cg_vals / sizeof cg_vals[0]))

static int cg_conv(CgGen *g, Buf *b, int nsp) {
  CgSrc *s = g->s;
  Shape *c = &g->cur;
  if (c->n != nsp + 1 && c->n != nsp + 2) return -1;
  int cd = c->n - nsp - 1;
  int64_t C = c->d[cd];
  int64_t groups = 1;
  if (cg_take(s, 3) == 0) {
    int64_t divs[64], nd = 0;
    for (int64_t k = 1; k <= C && nd < 64; k++)
      if (C % k == 0) divs[nd++] = k;
    groups = divs[cg_take(s, nd)];
  }
  int64_t out = groups * (1 + cg_take(s, cg_max(1, (g->big ? 20 : 8) / groups)));
  int mode = (int)cg_take(s, 8); /* 0-4 zeros, 5 reflect, 6 replicate, 7 circular */
  static const char *const modes[] = {"zeros", "zeros", "zeros", "zeros",
                                      "zeros", "reflect", "replicate",
                                      "circular"};
  int padkind = (int)cg_take(s, 5); /* 0, 1 number/tuple, 2 same, 3 valid, 4 none */
  int64_t k[3], st[3], dil[3], pad[3], lo[3], hi[3];
  Shape o = *c;
  o.d[cd] = out;
  for (int i = 0; i < nsp; i++) {
    int64_t L = c->d[cd + 1 + i];
    st[i] = padkind == 2 ? 1 : 1 + cg_take(s, 3);
    dil[i] = 1 + cg_take(s, 2);
    pad[i] = padkind <= 1 ? cg_take(s, 3) : 0;
    if (mode == 5) pad[i] = cg_min(pad[i], L - 1);
    if (mode == 7) pad[i] = cg_min(pad[i], L);
    k[i] = 1 + cg_take(s, 4);
    if (padkind == 2) {
      /* "same": total padding dil*(k-1), the extra one on the right */
      int64_t tot;
      for (;;) {
        tot = dil[i] * (k[i] - 1);
        if ((mode != 5 || tot - tot / 2 < L) && (mode != 7 || tot - tot / 2 <= L))
          break;
        if (dil[i] > 1) dil[i] = 1;
        else k[i]--;
      }
      lo[i] = tot / 2, hi[i] = tot - tot / 2;
      o.d[cd + 1 + i] = L;
      continue;
    }
    lo[i] = hi[i] = pad[i];
    if (dil[i] * (k[i] - 1) + 1 > L + 2 * pad[i]) dil[i] = 1;
    if (k[i] > L + 2 * pad[i]) k[i] = L + 2 * pad[i];
    o.d[cd + 1 + i] = (L + 2 * pad[i] - dil[i] * (k[i] - 1) - 1) / st[i] + 1;
  }
  (void)lo, (void)hi;
  if (cg_numel(&o) > CG_MAXNUMEL * (g->big ? 4 : 1)) return -1;
  buf_printf(b, "nn.Conv%dd{%lld, %lld, ", nsp, (long long)C, (long long)out);
  cg_ints(s, b, k, nsp);
  int any_st = 0, any_dil = 0;
  for (int i = 0; i < nsp; i++) any_st |= st[i] != 1, any_dil |= dil[i] != 1;
  if (any_st || cg_take(s, 2)) buf_printf(b, ", stride = "), cg_ints(s, b, st, nsp);
  if (padkind == 2) buf_printf(b, ", padding = \"same\"");
  else if (padkind == 3) buf_printf(b, ", padding = \"valid\"");
  else if (padkind <= 1) buf_printf(b, ", padding = "), cg_ints(s, b, pad, nsp);
  if (any_dil || cg_take(s, 2)) buf_printf(b, ", dilation = "), cg_ints(s, b, dil, nsp);
  if (groups != 1) buf_printf(b, ", groups = %lld", (long long)groups);
  int bias = (int)cg_take(s, 4);
  if (bias == 1) buf_printf(b, ", bias = false");
  if (bias == 2) buf_printf(b, ", bias = true");
  if (mode != 0) buf_printf(b, ", padding_mode = \"%s\"", modes[mode]);
  buf_printf(b, "}");
  *c = o;
  return 0;
}

/* MaxPool (max = 1) or AvgPool, 1-D or 2-D. */
static int cg_pool(CgGen *g, Buf *b, int nsp, int max) {
  CgSrc *s = g->s;
  Shape *c = &g->cur;
  if (c->n != nsp + 1 && c->n != nsp + 2) return -1;
  int first = c->n - nsp;
  int64_t k[2], st[2], pad[2], dil[2];
  int has_stride = (int)cg_take(s, 2);
  int ceil_mode = cg_take(s, 3) == 0;
  Shape o = *c;
  for (int i = 0; i < nsp; i++) {
    int64_t L = c->d[first + i];
    k[i] = 1 + cg_take(s, 4);
    st[i] = has_stride ? 1 + cg_take(s, 3) : k[i];
    dil[i] = max ? 1 + cg_take(s, 2) : 1;
    pad[i] = cg_take(s, k[i] / 2 + 1);
    for (;;) {
      int64_t eff = dil[i] * (k[i] - 1) + 1;
      if (eff <= L + 2 * pad[i]) break;
      if (dil[i] > 1) dil[i] = 1;
      else k[i]--, pad[i] = cg_min(pad[i], k[i] / 2);
      if (!has_stride) st[i] = k[i];
    }
    int64_t num = L + 2 * pad[i] - dil[i] * (k[i] - 1) - 1;
    int64_t n = (ceil_mode ? (num + st[i] - 1) / st[i] : num / st[i]) + 1;
    if (ceil_mode && (n - 1) * st[i] >= L + pad[i]) n--;
    o.d[first + i] = n;
  }
  buf_printf(b, "nn.%sPool%dd{", max ? "Max" : "Avg", nsp);
  cg_ints(s, b, k, nsp);
  if (has_stride) buf_printf(b, ", stride = "), cg_ints(s, b, st, nsp);
  buf_printf(b, ", padding = ");
  cg_ints(s, b, pad, nsp);
  if (max && (dil[0] != 1 || (nsp > 1 && dil[1] != 1)))
    buf_printf(b, ", dilation = "), cg_ints(s, b, dil, nsp);
  if (ceil_mode) buf_printf(b, ", ceil_mode = true");
  if (!max && cg_take(s, 2)) buf_printf(b, ", count_include_pad = false");
  if (!max && nsp == 2 && cg_take(s, 4) == 0)
    buf_printf(b, ", divisor_override = %lld", (long long)(1 + cg_take(s, 5)));
  buf_printf(b, "}");
  *c = o;
  return 0;
}

static int cg_adaptive(CgGen *g, Buf *b, int nsp) {
  CgSrc *s = g->s;
  Shape *c = &g->cur;
  if (c->n != nsp + 1 && c->n != nsp + 2) return -1;
  int first = c->n - nsp;
  int64_t os[2];
  Shape o = *c;
  for (int i = 0; i < nsp; i++) o.d[first + i] = os[i] = 1 + cg_take(s, 6);
  if (cg_numel(&o) > CG_MAXNUMEL) return -1;
  buf_printf(b, "nn.AdaptiveAvgPool%dd{", nsp);
  cg_ints(s, b, os, nsp);
  buf_printf(b, "}");
  *c = o;
  return 0;
}

static int cg_batchnorm(CgGen *g, Buf *b, int nsp) {
  CgSrc *s = g->s;
  Shape *c = &g->cur;
  if (nsp == 1 ? c->n != 2 && c->n != 3 : c->n != 4) return -1;
  buf_printf(b, "nn.BatchNorm%dd{%lld", nsp, (long long)c->d[1]);
  static const char *const eps[] = {"1e-5", "1e-3", "0.5", "0"};
  int64_t e = cg_take(s, 6);
  if (e < 4) buf_printf(b, ", eps = %s", eps[e]);
  if (cg_take(s, 4) == 0) buf_printf(b, ", affine = false");
  if (cg_take(s, 8) == 0) buf_printf(b, ", momentum = 0.3");
  buf_printf(b, "}");
  return 0;
}

/* Inline values for a parameter of the given dims, as nested arrays. */
static void cg_inline(CgSrc *s, Buf *b, const int64_t *dims, int n) {
  buf_printf(b, "{");
  for (int64_t i = 0; i < dims[0]; i++) {
    if (i) buf_printf(b, ", ");
    if (n > 1) cg_inline(s, b, dims + 1, n - 1);
    else buf_printf(b, "%s", cg_vals[cg_take(s, CG_NVALS)]);
  }
  buf_printf(b, "}");
}

static int cg_linear(CgGen *g, Buf *b) {
  CgSrc *s = g->s;
  Shape *c = &g->cur;
  if (c->n < 1) return -1;
  int64_t in = c->d[c->n - 1], out = 1 + cg_take(s, 12);
  Shape o = *c;
  o.d[o.n - 1] = out;
  if (cg_numel(&o) > CG_MAXNUMEL) return -1;
  buf_printf(b, "nn.Linear{%lld, %lld", (long long)in, (long long)out);
  int bias = (int)cg_take(s, 4);
  if (bias == 1) buf_printf(b, ", bias = false");
  if (in * out <= 64 && cg_take(s, 6) == 0) {
    int64_t dims[2] = {out, in};
    buf_printf(b, ", weight = ");
    cg_inline(s, b, dims, 2);
    if (bias != 1 && cg_take(s, 2)) {
      buf_printf(b, ", bias = ");
      cg_inline(s, b, dims, 1);
    }
  }
  buf_printf(b, "}");
  *c = o;
  return 0;
}

static int cg_flatten(CgGen *g, Buf *b) {
  CgSrc *s = g->s;
  Shape *c = &g->cur;
  int n = c->n;
  int64_t st = cg_take(s, n), en = st + cg_take(s, n - st);
  Shape o = {0, {0}};
  for (int i = 0; i < st; i++) o.d[o.n++] = c->d[i];
  int64_t m = 1;
  for (int64_t i = st; i <= en; i++) m *= c->d[i];
  o.d[o.n++] = m;
  for (int64_t i = en + 1; i < n; i++) o.d[o.n++] = c->d[i];
  buf_printf(b, "nn.Flatten{%lld, %lld}", (long long)(cg_take(s, 2) ? st - n : st),
             (long long)(cg_take(s, 2) ? en - n : en));
  *c = o;
  return 0;
}

static void cg_act(CgGen *g, Buf *b) {
  CgSrc *s = g->s;
  int n = g->cur.n;
  switch (cg_take(s, 14)) {
  case 0: buf_printf(b, "nn.ReLU{}"); break;
  case 1: buf_printf(b, "nn.ReLU6{}"); break;
  case 2: buf_printf(b, "nn.LeakyReLU{%s}", cg_nums[cg_take(s, CG_NNUMS)]); break;
  case 3: buf_printf(b, "nn.ELU{alpha = %s}", cg_nums[cg_take(s, CG_NNUMS)]); break;
  case 4: buf_printf(b, "nn.Sigmoid{}"); break;
  case 5: buf_printf(b, "nn.Tanh{}"); break;
  case 6: buf_printf(b, "nn.GELU{%s}", cg_take(s, 2) ? "approximate = \"tanh\"" : ""); break;
  case 7: buf_printf(b, "nn.SiLU{}"); break;
  case 8: case 9: {
    const char *k = cg_take(s, 2) ? "Softmax" : "LogSoftmax";
    if (cg_take(s, 4) == 0) buf_printf(b, "nn.%s{}", k);
    else buf_printf(b, "nn.%s{dim = %lld}", k, (long long)(cg_take(s, 2 * n) - n));
    break;
  }
  case 10: buf_printf(b, "nn.Dropout{%s}", cg_take(s, 2) ? "0.5" : ""); break;
  case 11: buf_printf(b, "nn.Identity{}"); break;
  case 12: buf_printf(b, "nn.ReLU{inplace = true}"); break;
  default: buf_printf(b, "nn.Tanh{}"); break;
  }
}

/* One more layer that fits the current shape. */
static void cg_layer(CgGen *g) {
  Buf b = {0};
  int pick = (int)cg_take(g->s, 16);
  for (int tries = 0; tries < 16; tries++, pick = (pick + 1) % 16) {
    b.len = 0;
    if (b.s) b.s[0] = 0;
    int r = 0;
    switch (pick) {
    case 0: case 1: r = cg_conv(g, &b, 1); break;
    case 2: case 3: r = cg_conv(g, &b, 2); break;
    case 4: r = cg_conv(g, &b, 3); break;
    case 5: r = cg_pool(g, &b, 1, 1); break;
    case 6: r = cg_pool(g, &b, 2, 1); break;
    case 7: r = cg_pool(g, &b, 1, 0); break;
    case 8: r = cg_pool(g, &b, 2, 0); break;
    case 9: r = cg_adaptive(g, &b, 1 + (int)cg_take(g->s, 2)); break;
    case 10: r = cg_batchnorm(g, &b, 1 + (int)cg_take(g->s, 2)); break;
    case 11: r = cg_linear(g, &b); break;
    case 12: r = cg_flatten(g, &b); break;
    default: cg_act(g, &b); break;
    }
    if (r == 0) break;
  }
  g->layer[g->nlayers++] = b.s;
}

/* The input shape: a conv family's (batched or not) or a flat one. */
static void cg_input(CgGen *g) {
  CgSrc *s = g->s;
  Shape *c = &g->cur;
  int batched = cg_take(s, 3) != 0;
  c->n = 0;
  if (batched) c->d[c->n++] = 1 + cg_take(s, 2);
  switch (cg_take(s, 4)) {
  case 0:
    c->d[c->n++] = 1 + cg_take(s, g->big ? 12 : 4);
    c->d[c->n++] = 1 + cg_take(s, g->big ? 64 : 16);
    break;
  case 1:
    c->d[c->n++] = 1 + cg_take(s, 4);
    c->d[c->n++] = 1 + cg_take(s, 8);
    c->d[c->n++] = 1 + cg_take(s, 8);
    break;
  case 2:
    c->d[c->n++] = 1 + cg_take(s, 3);
    for (int i = 0; i < 3; i++) c->d[c->n++] = 1 + cg_take(s, 5);
    break;
  default:
    c->d[c->n++] = 1 + cg_take(s, 32);
    break;
  }
}

static char *cg_spec(const Shape *in, int64_t seed, char *const *layers,
                     int n) {
  Buf b = {0};
  buf_printf(&b, "return model \"fz\" {\n  input = {");
  for (int i = 0; i < in->n; i++)
    buf_printf(&b, "%s%lld", i ? ", " : "", (long long)in->d[i]);
  buf_printf(&b, "},\n  seed = %lld,\n", (long long)seed);
  for (int i = 0; i < n; i++) buf_printf(&b, "  %s,\n", layers[i]);
  buf_printf(&b, "}\n");
  return b.s;
}

/* ------------------------------------------------------ fenced buffers */

#define CG_GUARD 0xCD

typedef struct CgFence {
  unsigned char *map; /* guard page, data pages, guard page */
  size_t maplen, datalen;
  unsigned char *p;   /* the buffer: 64-aligned, near the data's end */
  size_t n;
} CgFence;

static void cg_fence_new(CgFence *f, size_t n) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  f->n = n;
  f->datalen = (n + 64 + pg - 1) / pg * pg;
  f->maplen = f->datalen + 2 * pg;
  f->map = mmap(NULL, f->maplen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (f->map == MAP_FAILED) FUZZ_FAIL("mmap of %zu bytes failed", f->maplen);
  unsigned char *data = f->map + pg;
  if (mprotect(data, f->datalen, PROT_READ | PROT_WRITE))
    FUZZ_FAIL("mprotect failed");
  memset(data, CG_GUARD, f->datalen);
  f->p = (unsigned char *)((uintptr_t)(data + f->datalen - n) & ~(uintptr_t)63);
}

static void cg_fence_check(const CgFence *f, const char *what) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  const unsigned char *data = f->map + pg;
  for (const unsigned char *q = data; q < data + f->datalen; q++) {
    if (q == f->p) q += f->n;
    if (q < data + f->datalen && *q != CG_GUARD)
      FUZZ_FAIL("generated code wrote %s%+td (of %zu bytes)", what,
                q < f->p ? q - f->p : q - (f->p + f->n), f->n);
  }
}

static void cg_fence_free(CgFence *f) { munmap(f->map, f->maplen); }

/* ------------------------------------------------------------ the inputs */

static uint64_t cg_rng(uint64_t *st) {
  uint64_t x = *st;
  x ^= x << 13, x ^= x >> 7, x ^= x << 17;
  return *st = x;
}

static void cg_fill_input(CgSrc *s, float *x, int64_t n) {
  uint64_t st = 0x9E3779B97F4A7C15ULL ^ (uint64_t)cg_take(s, 256) << 8 ^
                (uint64_t)cg_take(s, 256);
  int special = (int)cg_take(s, 4); /* 0, 1: finite; 2: a few; 3: many */
  static const float odd[] = {NAN, INFINITY, -INFINITY, 3e38f, -3e38f,
                              1e-45f, -0.0f, 1e-39f, 88.8f, -104.0f};
  for (int64_t i = 0; i < n; i++) {
    double u = 0;
    for (int k = 0; k < 4; k++) u += (double)(cg_rng(&st) >> 11) / 9007199254740992.0;
    x[i] = (float)((u - 2.0) * 1.7);
    uint64_t r = cg_rng(&st);
    if ((special == 2 && r % 16 == 0) || (special == 3 && r % 3 == 0))
      x[i] = odd[(r >> 8) % (sizeof odd / sizeof odd[0])];
  }
}

static void cg_garbage(unsigned char *p, size_t n, uint64_t seed) {
  uint64_t st = seed | 1;
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(cg_rng(&st) >> 24);
}

/* ---------------------------------------------------------------- entry */

/* Load and shape-check the spec text; 0 when valid. *fail is the layer
 * that failed shape inference, or -1 when loading itself failed. */
static int cg_check(const char *text, Model *m, Diag *d, int *fail) {
  Limits lim = {0};
  lim.max_instructions = MC_DEFAULT_INSTRUCTIONS;
  lim.max_memory = MC_DEFAULT_MEMORY;
  memset(d, 0, sizeof *d);
  *fail = -1;
  if (spec_load_string("fz.lua", text, strlen(text), &lim, d, m)) return -1;
  if (shape_infer(m, d) == 0) return 0;
  for (int i = 0; i < m->nlayers; i++)
    if (m->layers[i].in.n > 0) *fail = i;
  return -1;
}

static void cg_run(const Program *p, CgSrc *s) {
  const Model *m = p->m;
  Diag d;
  memset(&d, 0, sizeof d);
  JitModel jm;
  if (jit_program(p, &jm, &d))
    FUZZ_FAIL("the JIT rejected the generated code:\n%s", d.text.s);
  diag_free(&d);
  const Shape *out = &m->layers[m->nlayers - 1].out;
  if (jm.g.input_numel != shape_numel(&m->input) ||
      jm.g.output_numel != shape_numel(out) ||
      jm.g.workspace_bytes != m->workspace_bytes)
    FUZZ_FAIL("sizes: input %lld/%lld, output %lld/%lld, workspace %lld/%lld",
              (long long)jm.g.input_numel, (long long)shape_numel(&m->input),
              (long long)jm.g.output_numel, (long long)shape_numel(out),
              (long long)jm.g.workspace_bytes, (long long)m->workspace_bytes);

  /* The standalone file, compiled by the same TinyCC. */
  EmitOptions eo = {.version = "fuzz", .freestanding = 1};
  Generated sa;
  emit_program(p, &eo, &sa);
  Jit *saj = NULL;
  ForwardFn safwd = NULL;
  {
    char *err = NULL;
    saj = jit_compile(sa.c, "fz.c", NULL, NULL, 0, &err);
    if (!saj) FUZZ_FAIL("TinyCC rejected the standalone file:\n%s", err);
    void *safn = jit_symbol(saj, sa.fwd_ws);
    if (!safn) FUZZ_FAIL("no %s in the standalone file", sa.fwd_ws);
    memcpy(&safwd, &safn, sizeof safn);
  }

  size_t nin = (size_t)jm.g.input_numel * sizeof(float);
  size_t nout = (size_t)jm.g.output_numel * sizeof(float);
  size_t nws = (size_t)jm.g.workspace_bytes;
  CgFence in, o[3], ws;
  cg_fence_new(&in, nin);
  cg_fill_input(s, (float *)in.p, jm.g.input_numel);
  if (mprotect(in.map + (in.maplen - in.datalen) / 2, in.datalen, PROT_READ))
    FUZZ_FAIL("mprotect failed");
  cg_fence_new(&ws, nws);
  int runs = safwd ? 3 : 2;
  for (int r = 0; r < runs; r++) {
    cg_fence_new(&o[r], nout);
    cg_garbage(o[r].p, nout, 77 + (uint64_t)r);
    /* garbage: NaNs, then random bytes, then huge finite values */
    if (r == 0) memset(ws.p, 0xFF, nws);
    else if (r == 1) cg_garbage(ws.p, nws, 12345);
    else memset(ws.p, 0x7E, nws);
    ForwardFn fn = r == 2 ? safwd : jm.fwd;
    fn((const float *)in.p, (float *)o[r].p, ws.p);
    cg_fence_check(&o[r], "the output");
    cg_fence_check(&ws, "the workspace");
  }
  /* The same code twice: the same bits. The standalone file: the same
   * values, a NaN for a NaN (its weights' NaNs are written "NAN", which
   * need not carry the sign or payload of the original). */
  for (int r = 1; r < runs; r++) {
    const float *a = (const float *)o[0].p, *b = (const float *)o[r].p;
    for (int64_t i = 0; i < jm.g.output_numel; i++) {
      if (memcmp(&a[i], &b[i], sizeof(float)) == 0) continue;
      if (r == 2 && isnan(a[i]) && isnan(b[i])) continue;
      FUZZ_FAIL("%s: output[%lld] is %.9g, first run %.9g",
                r == 1 ? "run with other workspace garbage" : "standalone file",
                (long long)i, b[i], a[i]);
    }
  }
  for (int r = 0; r < runs; r++) cg_fence_free(&o[r]);
  cg_fence_free(&ws);
  cg_fence_free(&in);
  if (saj) jit_free(saj);
  generated_free(&sa);
  jit_model_free(&jm);
}

int fuzz_codegen_one(const uint8_t *data, size_t size) {
  CgSrc s = {data, size, 0};
  CgGen g;
  memset(&g, 0, sizeof g);
  g.s = &s;
  g.big = cg_take(&s, 8) == 0;
  cg_input(&g);
  Shape input = g.cur;
  int64_t seed = cg_take(&s, 256) * 256 + cg_take(&s, 256);
  int n = 1 + (int)cg_take(&s, CG_MAXLAYERS);
  for (int i = 0; i < n; i++) cg_layer(&g);

  Model m;
  Diag d;
  int fail, ok = 0;
  char *text = cg_spec(&input, seed, g.layer, g.nlayers);
  if (cg_check(text, &m, &d, &fail) == 0) ok = 1;
  else if (fail > 0) { /* keep the layers that passed */
    model_free(&m);
    diag_free(&d);
    free(text);
    text = cg_spec(&input, seed, g.layer, fail);
    ok = cg_check(text, &m, &d, &fail) == 0;
  }
  if (getenv("FUZZ_CODEGEN_DEBUG"))
    fprintf(stderr, "%s%s\n%s\n", ok ? "VALID " : "INVALID ", text,
            d.text.s ? d.text.s : "");
  /* every valid model on the generic target; one in four also on a
   * Cortex-M target (their register tiles), chosen by the last byte so
   * the bytes before it keep their meaning */
  Target also = TARGET_GENERIC;
  if (size && data[size - 1] % 8 == 0) also = TARGET_CORTEX_M4;
  if (size && data[size - 1] % 8 == 4) also = TARGET_CORTEX_M0;
  for (int pass = 0; ok && pass < (also == TARGET_GENERIC ? 1 : 2); pass++) {
    Program p;
    CgSrc rest = s;
    CompileOptions co = {pass ? also : TARGET_GENERIC, KERNELS_FAST, 1, NULL};
    if (compile_model(&m, &co, &p, &d))
      FUZZ_FAIL("the back end (limits, seeded weights) failed:\n%s",
                d.text.s);
    cg_run(&p, &rest);
    program_free(&p);
  }
  model_free(&m);
  diag_free(&d);
  free(text);
  for (int i = 0; i < g.nlayers; i++) free(g.layer[i]);
  return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_codegen_one(data, size);
}
#endif
