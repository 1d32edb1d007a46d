/* kernels/vec1d.c: the vector lowering of small 1-D models.
 *
 * A small model (a few thousand floats per tensor, a few thousand vector
 * statements in all) spends its time on per-op overhead, not arithmetic:
 * loop control, partial vectors, tensors stored in one layout and read in
 * another. Such a model gets one lowering for the whole program:
 *   - each sample runs on its own, and every tensor between two ops is
 *     channels-last, [position][channel], its channels padded with zeros
 *     to a multiple of 8, so 8 channels are one vector (the MC_V* macros
 *     of the generated file: AVX2 where the compiler targets it, else
 *     loops over arrays of 8 floats, the same sums lane by lane);
 *   - a convolution's body is unrolled over its taps and input channels:
 *     each broadcasts one input to a vector FMA per 8 output channels,
 *     weights packed [in][tap][out]; the interior positions share one
 *     loop, the border ones are unrolled with the taps that read padding
 *     simply absent;
 *   - only positions that a later op reads are computed (a MaxPool1d(2)
 *     after a convolution of odd length never reads its last position);
 *   - pools combine whole vectors of channels;
 *   - Linear is a dot product per output, in vectors, or an axpy over
 *     vectors of outputs: whichever takes fewer vector operations.
 * The model's input and output keep PyTorch's layout: the first op reads
 * the input one float at a time, the last scatters its vectors. The
 * workspace holds one sample's tensors, ping-ponged as in plan.c. */
#include "kernels/kernel.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define TINY_MAX_FLOATS 4096   /* per tensor and sample, channels padded */
#define TINY_MAX_UNROLL 2048   /* vector multiply-adds per sample, in all */
#define TINY_MAX_LINEAR (1 << 18) /* weights of one Linear */

static int64_t pad8(int64_t c) { return (c + 7) / 8 * 8; }
static int64_t round64(int64_t bytes) { return (bytes + 63) / 64 * 64; }

/* The op's input per sample: channels, positions, padded channels (0 for
 * the model's input, which is in PyTorch's layout). */
typedef struct View {
  int64_t c, l, cp;
} View;

static View src_view(const Program *p, int i) {
  View v = {0, 0, 0};
  if (i > 0) {
    const Op *prev = &p->ops[i - 1];
    v.c = prev->vc, v.l = prev->vl, v.cp = prev->vcp;
    return v;
  }
  const Shape *s = &p->ops[0].in;
  if (p->ops[0].main->kind->family == FAM_LINEAR) {
    v.c = s->d[s->n - 1], v.l = 1;
  } else {
    v.c = s->d[s->n - 2], v.l = s->d[s->n - 1];
  }
  return v;
}

/* Kernel, stride, dilation and low padding of a sliding-window op. */
static void window(const Layer *l, int64_t *k, int64_t *s, int64_t *d,
                   int64_t *p) {
  *k = l->a.kernel[0];
  *s = l->a.stride[0];
  *d = l->kind->family == FAM_AVGPOOL ? 1 : l->a.dilation[0];
  *p = l->a.pad_lo[0];
}

static int is_conv1d(const Layer *l) {
  return l->kind->family == FAM_CONV && l->kind->nsp == 1;
}

static int is_linear(const Layer *l) {
  return l->kind->family == FAM_LINEAR;
}

static int is_window(const Layer *l) {
  return is_conv1d(l) || ((l->kind->family == FAM_MAXPOOL ||
                           l->kind->family == FAM_AVGPOOL) &&
                          l->kind->nsp == 1);
}

/* Does the program fit the lowering? Sets each op's output view. */
static int fits(Program *p, int64_t *batch) {
  const Op *f = &p->ops[0];
  if (!f->main) return 0;
  const Shape *in = &f->in;
  int batched;
  if (is_conv1d(f->main)) batched = in->n == 3;
  else if (is_linear(f->main)) batched = in->n == 2;
  else return 0;
  if (is_linear(f->main) && in->n > 2) return 0;
  int64_t n = batched ? in->d[0] : 1;
  int64_t unroll = 0;
  for (int i = 0; i < p->nops; i++) {
    Op *op = &p->ops[i];
    const Layer *l = op->main;
    if (!l) return 0;
    View v = src_view(p, i);
    const Shape *s = &op->in, *o = &op->out;
    if (is_window(l)) {
      /* (N, C, L), or (C, L) in a model without a batch */
      if (batched ? s->n != 3 || s->d[0] != n : s->n != 2) return 0;
      if (s->d[s->n - 2] != v.c || s->d[s->n - 1] != v.l) return 0;
      if (is_conv1d(l) &&
          (l->a.groups != 1 || l->a.pad_mode != PAD_ZEROS))
        return 0;
      if (!is_conv1d(l) && i == 0) return 0;
      op->vc = is_conv1d(l) ? l->a.out : v.c;
      op->vl = l->out.d[l->out.n - 1];
      int64_t k, st, d, pl;
      window(l, &k, &st, &d, &pl);
      int64_t per = is_conv1d(l) ? v.c * k : k;
      unroll += op->vl * per * (pad8(op->vc) / 8);
    } else if (is_linear(l)) {
      /* (N, F) with F the previous tensor flattened, or (F) unbatched */
      if (s->n == 2 ? s->d[0] != n || s->d[1] != v.c * v.l
                    : s->n != 1 || n != 1 || s->d[0] != v.c * v.l)
        return 0;
      if (l->a.in * l->a.out > TINY_MAX_LINEAR) return 0;
      /* A batch through a wide Linear runs faster as blocked matrix
       * multiplies (kernels/linear_gemm.c) than sample by sample. */
      if (n >= 8 && l->a.out >= 32 && l->a.in * l->a.out >= 4096) return 0;
      op->vc = l->a.out;
      op->vl = 1;
    } else {
      return 0;
    }
    if (shape_numel(o) != n * op->vc * op->vl) return 0;
    op->vcp = pad8(op->vc);
    if (op->vl * op->vcp > TINY_MAX_FLOATS) return 0;
  }
  if (unroll > TINY_MAX_UNROLL) return 0;
  *batch = n;
  p->batched = batched;
  return 1;
}

/* Mark the output positions of op i that op i + 1 (or the caller) reads. */
static void mark_needs(Program *p) {
  for (int i = p->nops - 1; i >= 0; i--) {
    Op *op = &p->ops[i];
    op->need = mc_alloc((size_t)op->vl);
    if (i == p->nops - 1 || !is_window(p->ops[i + 1].main)) {
      memset(op->need, 1, (size_t)op->vl);
      continue;
    }
    const Op *next = &p->ops[i + 1];
    int64_t k, s, d, pl;
    window(next->main, &k, &s, &d, &pl);
    for (int64_t t = 0; t < next->vl; t++) {
      if (!next->need[t]) continue;
      for (int64_t j = 0; j < k; j++) {
        int64_t x = t * s + j * d - pl;
        if (x >= 0 && x < op->vl) op->need[x] = 1;
      }
    }
  }
}

/* A pool right after a convolution, its windows apart, is computed in
 * the convolution's registers: its input is never stored. */
static void fuse_pools(Program *p) {
  for (int i = 0; i + 1 < p->nops; i++) {
    Op *op = &p->ops[i], *next = &p->ops[i + 1];
    if (!is_conv1d(op->main) || is_conv1d(next->main) ||
        !is_window(next->main))
      continue;
    int64_t k, s, d, pl;
    window(next->main, &k, &s, &d, &pl);
    if (s < (k - 1) * d + 1) continue; /* overlapping windows */
    op->pooled = 1;
    next->fused = 1;
    i++;
  }
}

extern const Kernel kernel_vec1d;
static void why_op(const Program *p, Op *op, char *why, size_t n);

int vec1d_decide(Program *p) {
  int64_t batch;
  if (!p->nops || p->target != TARGET_GENERIC || !fits(p, &batch)) return 0;
  mark_needs(p);
  fuse_pools(p);
  for (int i = 0; i < p->nops; i++) {
    Op *op = &p->ops[i];
    op->kernel = &kernel_vec1d;
    op->scratch = 0;
    op->out_bytes = round64(op->vl * op->vcp * 4);
  }
  p->whole = 1;
  p->batch = batch;
  for (int i = 0; i < p->nops; i++) {
    Op *op = &p->ops[i];
    if (op->fused)
      snprintf(op->why, sizeof op->why, "fused into %s", op[-1].fname);
    else
      why_op(p, op, op->why, sizeof op->why);
  }
  return 1;
}

/* ------------------------------------------------------------- emitting */

/* Apply the op's fused activations to the vector variable v. */
static void vec_acts(Emit *e, const Op *op, const char *v) {
  for (int i = 0; i < op->nact; i++) {
    const Layer *a = op->act[i];
    if (a->kind->flags & KF_RELU) {
      em(e, "MC_VRELU(%s);", v);
      continue;
    }
    char *name = em_act_name(a);
    em(e, "MC_VMAP(%s, %s);", v, name);
    em_use_act(e, a);
    free(name);
  }
}

/* A position's index as C text: the number itself in unrolled code, or
 * in a loop over u an affine expression "u * 16 + 3", from its values at
 * u0 and u0 + 1 (every index in a loop body is affine in u). */
typedef struct At {
  const char *var; /* "u" in a loop, NULL when unrolled */
  int64_t u;       /* the position, or the loop's first */
} At;

static char *affine(const At *at, int64_t v0, int64_t v1) {
  if (!at->var || v1 == v0) return mc_format("%lld", (long long)v0);
  int64_t a = v1 - v0, c = v0 - a * at->u;
  Lin l = {0};
  lin_add(&l, at->var, a);
  lin_add(&l, NULL, c);
  return lin_str(&l);
}

/* Store v, channels [c0, c0 + 8) at output position `at` of the op:
 * channels-last into the workspace with the padding lanes zeroed, or into
 * the caller's output in PyTorch's layout. */
static void vec_store(Emit *e, const Op *op, const At *at, int64_t c0,
                      const char *v) {
  int64_t n = op->vc - c0 < 8 ? op->vc - c0 : 8, t = at->u;
  char *i;
  if (op->dst.kind == BUF_OUTPUT) {
    i = affine(at, c0 * op->vl + t, c0 * op->vl + t + 1);
    em(e, "MC_VPUT(y + %s, %lld, %s, %lld);", i, (long long)op->vl, v,
       (long long)n);
  } else {
    i = affine(at, t * op->vcp + c0, (t + 1) * op->vcp + c0);
    if (n < 8) em(e, "MC_VSTN(y + %s, %s, %lld);", i, v, (long long)n);
    else em(e, "MC_VST(y + %s, %s);", i, v);
  }
  free(i);
}

/* Group the needed output positions [0, n) into loops: runs of at least
 * 3 positions where regular(u) (every tap inside the input, so one body
 * serves them all) and the rest one by one; emit each through body(). */
static void positions(Emit *e, const unsigned char *need, int64_t n,
                      int (*regular)(const void *, int64_t), const void *ctx,
                      void (*body)(Emit *, const void *, const At *)) {
  for (int64_t u = 0; u < n;) {
    if (!need[u]) {
      u++;
      continue;
    }
    int64_t end = u;
    while (end < n && need[end] && regular(ctx, end)) end++;
    if (end - u >= 3) {
      At at = {"u", u};
      em(e, "for (int u = %lld; u < %lld; u++) { /* positions */",
         (long long)u, (long long)end);
      body(e, ctx, &at);
      em(e, "}");
      u = end;
    } else {
      At at = {NULL, u};
      em(e, "{ /* position %lld */", (long long)u);
      body(e, ctx, &at);
      em(e, "}");
      u++;
    }
  }
}

/* Where input channel c, position x of the op's source is. */
static int64_t src_at(const View *v, int64_t c, int64_t x) {
  return v->cp ? x * v->cp + c : c * v->l + x;
}

static int64_t avg_divisor(const Layer *l, int64_t t, int64_t len);

static int avg_pool(const Op *op) {
  return op->main->kind->family == FAM_AVGPOOL;
}

/* Are the op's activations all ReLU? max(relu(a), relu(b)) is
 * relu(max(a, b)) bit for bit, NaN and -0.0 included. */
static int relu_only(const Op *op) {
  for (int i = 0; i < op->nact; i++)
    if (!(op->act[i]->kind->flags & KF_RELU)) return 0;
  return 1;
}

/* Declare a0.. and compute into them the convolution's output at
 * position t = tA * u + tB (u as in `at`), before its activations. */
static void conv_at(Emit *e, const Op *op, const View *v, const At *at,
                    int64_t tA, int64_t tB, const char *wn, const char *bn) {
  const Layer *l = op->main;
  int64_t ci = v->c, cp = op->vcp, nq = cp / 8;
  int64_t K, S, D, P, t = tA * at->u + tB;
  window(l, &K, &S, &D, &P);
  int64_t terms = 0;
  for (int64_t k = 0; k < K; k++) {
    int64_t x = t * S + k * D - P;
    terms += x >= 0 && x < v->l;
  }
  terms *= ci;
  /* Two chains of FMAs per vector, when long, halve the latency. */
  int split = terms >= 6 && nq <= 4;
  Buf decl = {0};
  for (int64_t q = 0; q < nq; q++) {
    buf_printf(&decl, "%sMC_V8(a%lld);", q ? " " : "", (long long)q);
    if (split) buf_printf(&decl, " MC_V8(b%lld);", (long long)q);
  }
  em(e, "%s", decl.s ? decl.s : "");
  buf_free(&decl);
  for (int64_t q = 0; q < nq; q++) {
    em(e, "MC_VLD(a%lld, %s + %lld);", (long long)q, bn, (long long)(8 * q));
    if (split) em(e, "MC_VZERO(b%lld);", (long long)q);
  }
  int64_t n = 0;
  for (int64_t c = 0; c < ci; c++)
    for (int64_t k = 0; k < K; k++) {
      int64_t x = t * S + k * D - P, x1 = x + tA * S;
      if (x < 0 || x >= v->l) continue;
      char acc = split && n++ % 2 ? 'b' : 'a';
      char *xi = affine(at, src_at(v, c, x), src_at(v, c, x1));
      char note[64];
      snprintf(note, sizeof note, " /* in %lld, tap %lld */", (long long)c,
               (long long)k);
      for (int64_t q = 0; q < nq; q++)
        em(e, "MC_VFMA(%c%lld, %s + %lld, x[%s]);%s", acc, (long long)q, wn,
           (long long)((c * K + k) * cp + 8 * q), xi, q ? "" : note);
      free(xi);
    }
  if (split)
    for (int64_t q = 0; q < nq; q++)
      em(e, "MC_VADD(a%lld, b%lld);", (long long)q, (long long)q);
}

typedef struct ConvCtx {
  const Op *op, *pool;
  const View *v;
  const char *wn, *bn;
  int late; /* ReLU after the pool's max */
} ConvCtx;

/* Every tap of the output (and of the pool window) inside its input? */
static int conv_regular(const void *p, int64_t u) {
  const ConvCtx *cx = p;
  int64_t K, S, D, P, pk = 1, ps = 1, pd = 1, pp = 0;
  window(cx->op->main, &K, &S, &D, &P);
  if (cx->pool) window(cx->pool->main, &pk, &ps, &pd, &pp);
  for (int64_t j = 0; j < pk; j++) {
    int64_t t = cx->pool ? u * ps + j * pd - pp : u;
    if (t < 0 || t >= cx->op->vl) return 0;
    if (t * S - P < 0 || t * S + (K - 1) * D - P >= cx->v->l) return 0;
  }
  return 1;
}

static void conv_unit(Emit *e, const void *p, const At *at) {
  const ConvCtx *cx = p;
  const Op *op = cx->op, *pool = cx->pool;
  int64_t nq = op->vcp / 8, u = at->u;
  int64_t pk = 1, ps = 1, pd = 1, pp = 0, first = 1;
  if (pool) {
    window(pool->main, &pk, &ps, &pd, &pp);
    Buf decl = {0};
    for (int64_t q = 0; q < nq; q++)
      buf_printf(&decl, "%sMC_V8(m%lld);", q ? " " : "", (long long)q);
    em(e, "%s", decl.s ? decl.s : "");
    buf_free(&decl);
  }
  for (int64_t j = 0; j < pk; j++) {
    int64_t t = pool ? u * ps + j * pd - pp : u;
    if (t < 0 || t >= op->vl) continue;
    if (pool && at->var) em(e, "{ /* tap %lld of the pool */", (long long)j);
    else if (pool) em(e, "{ /* convolution at %lld */", (long long)t);
    conv_at(e, op, cx->v, at, pool ? ps : 1, pool ? j * pd - pp : 0, cx->wn,
            cx->bn);
    for (int64_t q = 0; q < nq; q++) {
      char a[24], m[24];
      snprintf(a, sizeof a, "a%lld", (long long)q);
      snprintf(m, sizeof m, "m%lld", (long long)q);
      if (!cx->late) vec_acts(e, op, a);
      if (!pool) vec_store(e, op, at, 8 * q, a);
      else if (first) em(e, "MC_VCOPY(%s, %s);", m, a);
      else em(e, "%s(%s, %s);", avg_pool(pool) ? "MC_VADD" : "MC_VMAX", m,
              a);
    }
    first = 0;
    if (pool) em(e, "}");
  }
  if (!pool) return;
  for (int64_t q = 0; q < nq; q++) {
    char m[24];
    snprintf(m, sizeof m, "m%lld", (long long)q);
    if (first) /* every tap reads padding */
      em(e, avg_pool(pool) ? "MC_VZERO(%s);" : "MC_VSET(%s, -INFINITY);", m);
    if (avg_pool(pool))
      em(e, "MC_VDIV(%s, %lld.0f);", m,
         (long long)avg_divisor(pool->main, u, op->vl));
    if (cx->late) vec_acts(e, op, m);
    vec_acts(e, pool, m);
    vec_store(e, pool, at, 8 * q, m);
  }
}

/* What a convolution computes: how many outputs (every tap of a fused
 * pool's windows) and how many of their taps read the input, and how
 * many output positions are stored. */
static void conv_counts(const Op *op, const View *v, int64_t *convs,
                        int64_t *reads, int64_t *done) {
  int64_t K, S, D, P;
  window(op->main, &K, &S, &D, &P);
  const Op *pool = op->pooled ? op + 1 : NULL, *out = pool ? pool : op;
  *convs = *reads = *done = 0;
  for (int64_t u = 0; u < out->vl; u++) {
    if (!out->need[u]) continue;
    ++*done;
    int64_t pk = 1, ps = 1, pd = 1, pp = 0;
    if (pool) window(pool->main, &pk, &ps, &pd, &pp);
    for (int64_t j = 0; j < pk; j++) {
      int64_t t = pool ? u * ps + j * pd - pp : u;
      if (t < 0 || t >= op->vl) continue;
      ++*convs;
      for (int64_t k = 0; k < K; k++) {
        int64_t x = t * S + k * D - P;
        *reads += x >= 0 && x < v->l;
      }
    }
  }
}

/* The ReLU after a fused max pool: max(relu(a), relu(b)) is relu(max(a,
 * b)) bit for bit, so it is applied once, after the max. */
static int conv_late_relu(const Op *op) {
  return op->pooled && !avg_pool(op + 1) && relu_only(op);
}

static void conv_why(const Op *op, const View *v, char *why, size_t n) {
  int64_t convs, reads, done, K, S, D, P;
  window(op->main, &K, &S, &D, &P);
  conv_counts(op, v, &convs, &reads, &done);
  const Op *out = op->pooled ? op + 1 : op;
  snprintf(why, n, "vector: whole model channels-last, %lld of %lld output "
           "positions%s x %lld vectors of 8 channels, over %lld input "
           "channels x %lld taps%s", (long long)done, (long long)out->vl,
           done < out->vl ? " (the rest are never read)" : "",
           (long long)(op->vcp / 8), (long long)v->c, (long long)K,
           op->pooled ? conv_late_relu(op)
                          ? "; the pool that follows is fused, taking its "
                            "max before the ReLU"
                          : "; the pool that follows is fused"
                      : "");
}

/* Weights packed [in][tap][out, padded], and the bias padded; neither
 * when no output reads them. */
static void conv_pack(Op *op, const View *v) {
  const Layer *l = op->main;
  int64_t ci = v->c, co = op->vc, cp = op->vcp, convs, reads, done;
  int64_t K, S, D, P;
  window(l, &K, &S, &D, &P);
  conv_counts(op, v, &convs, &reads, &done);
  float *w, *b;
  pack_folded(op, &w, &b, co, ci * K);
  char *ws = shape_str(&l->param[P_WEIGHT].shape);
  if (reads) {
    float *wv = mc_alloc(sizeof(float) * (size_t)(ci * K * cp));
    for (int64_t c = 0; c < ci; c++)
      for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < cp; j++)
          wv[(c * K + k) * cp + j] = j < co ? w[(j * ci + c) * K + k] : 0.0f;
    pack_add(op, "wv", wv, ci * K * cp,
             mc_format("%s.weight %s%s%s%s, packed [in][kernel][out, padded "
                       "to %lld]", l->prefix, ws, op->bn ? ", times " : "",
                       op->bn ? op->bn->prefix : "", op->bn ? "'s scale" : "",
                       (long long)cp));
  }
  if (convs) {
    float *bv = mc_alloc(sizeof(float) * (size_t)cp);
    for (int64_t j = 0; j < cp; j++) bv[j] = b && j < co ? b[j] : 0.0f;
    char *pad = mc_format(", padded to %lld", (long long)cp);
    pack_add(op, "bv", bv, cp, pack_bias_what(op, pad));
    free(pad);
  }
  free(ws);
  free(w);
  free(b);
}

static void conv_body(Emit *e, const Op *op, const View *v) {
  int64_t convs, reads, done;
  conv_counts(op, v, &convs, &reads, &done);
  ConvCtx cx = {op, op->pooled ? op + 1 : NULL, v, op_array(op, "wv"),
                op_array(op, "bv"), conv_late_relu(op)};
  const Op *out = cx.pool ? cx.pool : op;
  positions(e, out->need, out->vl, conv_regular, &cx, conv_unit);
  /* Every tap of every output read padding, or no output is read later. */
  if (!reads) em(e, "(void)x;");
  if (!done) em(e, "(void)y;");
}

/* PyTorch's avg_pool1d divisor for output t. */
static int64_t avg_divisor(const Layer *l, int64_t t, int64_t len) {
  if (l->a.divisor_override) return l->a.divisor_override;
  int64_t s = l->a.stride[0], p = l->a.padding[0], k = l->a.kernel[0];
  int64_t start = t * s - p, end = start + k;
  if (end > len + p) end = len + p;
  int64_t pool = end - start;
  if (start < 0) start = 0;
  if (end > len) end = len;
  int64_t f = l->a.count_include_pad ? pool : end - start;
  return f > 0 ? f : 1;
}

typedef struct PoolCtx {
  const Op *op;
  const View *v;
} PoolCtx;

/* Every tap inside the input, and (average) the same divisor as u's? */
static int pool_regular(const void *p, int64_t u) {
  const PoolCtx *cx = p;
  int64_t K, S, D, P;
  window(cx->op->main, &K, &S, &D, &P);
  return u * S - P >= 0 && u * S + (K - 1) * D - P < cx->v->l;
}

static void pool_unit(Emit *e, const void *p, const At *at) {
  const PoolCtx *cx = p;
  const Op *op = cx->op;
  const Layer *l = op->main;
  int avg = avg_pool(op);
  int64_t K, S, D, P, nq = op->vcp / 8, t = at->u;
  window(l, &K, &S, &D, &P);
  for (int64_t q = 0; q < nq; q++) {
    char a[24];
    snprintf(a, sizeof a, "a%lld", (long long)q);
    int first = 1;
    em(e, "MC_V8(%s);", a);
    for (int64_t k = 0; k < K; k++) {
      int64_t x = t * S + k * D - P;
      if (x < 0 || x >= cx->v->l) continue;
      char *i = affine(at, x * cx->v->cp + 8 * q,
                       (x + S) * cx->v->cp + 8 * q);
      if (first) em(e, "MC_VLD(%s, x + %s);", a, i);
      else em(e, "%s(%s, x + %s);", avg ? "MC_VADDP" : "MC_VMAXP", a, i);
      free(i);
      first = 0;
    }
    if (first) /* every tap reads padding */
      em(e, avg ? "MC_VZERO(%s);" : "MC_VSET(%s, -INFINITY);", a);
    if (avg) /* regular windows all have K taps: one divisor */
      em(e, "MC_VDIV(%s, %lld.0f);", a, (long long)avg_divisor(l, t, cx->v->l));
    vec_acts(e, op, a);
    vec_store(e, op, at, 8 * q, a);
  }
}

static void pool_counts(const Op *op, const View *v, int64_t *reads,
                        int64_t *done) {
  int64_t K, S, D, P;
  window(op->main, &K, &S, &D, &P);
  *reads = *done = 0;
  for (int64_t u = 0; u < op->vl; u++) {
    if (!op->need[u]) continue;
    ++*done;
    for (int64_t k = 0; k < K; k++) {
      int64_t x = u * S + k * D - P;
      *reads += x >= 0 && x < v->l;
    }
  }
}

static void pool_why(const Op *op, const View *v, char *why, size_t n) {
  int64_t reads, done;
  pool_counts(op, v, &reads, &done);
  snprintf(why, n, "vector: whole model channels-last, %lld of %lld output "
           "positions%s x %lld vectors of 8 channels, %s over the taps "
           "inside the input", (long long)done, (long long)op->vl,
           done < op->vl ? " (the rest are never read)" : "",
           (long long)(op->vcp / 8), avg_pool(op) ? "summed" : "max");
}

static void pool_body(Emit *e, const Op *op, const View *v) {
  int64_t reads, done;
  pool_counts(op, v, &reads, &done);
  PoolCtx cx = {op, v};
  positions(e, op->need, op->vl, pool_regular, &cx, pool_unit);
  if (!reads) em(e, "(void)x;"); /* every window is padding */
  if (!done) em(e, "(void)y;");
}

/* The source in storage order: the input as given, or channels-last with
 * its padding lanes (zeros, so a zero weight keeps them out). The feature
 * read at storage position r, or -1 for a padding lane; *R positions. */
static int64_t *linear_feat(const Op *op, const View *v, int64_t *R) {
  int64_t F = op->main->a.in;
  *R = v->cp ? v->l * v->cp : F;
  int64_t *feat = mc_alloc(sizeof(int64_t) * (size_t)(*R > 0 ? *R : 1));
  for (int64_t r = 0; r < *R; r++) {
    if (!v->cp) feat[r] = r;
    else {
      int64_t t = r / v->cp, c = r % v->cp;
      feat[r] = c < v->c ? c * v->l + t : -1;
    }
  }
  return feat;
}

/* A dot product per output, or an axpy over vectors of outputs: whichever
 * takes fewer vector operations. */
static int linear_dot(const Op *op, const View *v) {
  int64_t O = op->main->a.out, nqo = op->vcp / 8;
  int64_t R = v->cp ? v->l * v->cp : op->main->a.in;
  return v->cp && O * (R / 8 + 8) < R * nqo;
}

static void linear_why(const Op *op, const View *v, char *why, size_t n) {
  int64_t O = op->main->a.out, nqo = op->vcp / 8;
  int64_t R = v->cp ? v->l * v->cp : op->main->a.in;
  int64_t nch = R / 8, nacc = nch < 4 ? nch : 4;
  if (linear_dot(op, v))
    snprintf(why, n, "vector dot: each of %lld outputs a dot product of "
             "%lld vectors in %lld partial sums", (long long)O,
             (long long)nch, (long long)nacc);
  else
    snprintf(why, n, "vector axpy: %lld inputs each add a row of weights "
             "to %lld vectors of 8 outputs", (long long)R, (long long)nqo);
}

static void linear_pack(Op *op, const View *v) {
  const Layer *l = op->main;
  int64_t F = l->a.in, O = l->a.out, op8 = op->vcp, R;
  int64_t *feat = linear_feat(op, v, &R);
  float *w, *b;
  pack_folded(op, &w, &b, O, F);
  char *ws = shape_str(&l->param[P_WEIGHT].shape);
  char *scaled = op->bn ? mc_format(", times %s's scale", op->bn->prefix)
                        : mc_strdup("");
  if (linear_dot(op, v)) {
    float *wd = mc_alloc(sizeof(float) * (size_t)(O * R));
    for (int64_t o = 0; o < O; o++)
      for (int64_t r = 0; r < R; r++)
        wd[o * R + r] = feat[r] >= 0 ? w[o * F + feat[r]] : 0.0f;
    pack_add(op, "wd", wd, O * R,
             mc_format("%s.weight %s%s, [out][in in the order the input is "
                       "stored: position, channel padded to %lld]",
                       l->prefix, ws, scaled, (long long)v->cp));
    float *bd = mc_alloc(sizeof(float) * (size_t)O);
    for (int64_t o = 0; o < O; o++) bd[o] = b ? b[o] : 0.0f;
    pack_add(op, "b", bd, O, pack_bias_what(op, ""));
  } else {
    float *wa = mc_alloc(sizeof(float) * (size_t)(R * op8));
    for (int64_t r = 0; r < R; r++)
      for (int64_t j = 0; j < op8; j++)
        wa[r * op8 + j] = feat[r] >= 0 && j < O ? w[j * F + feat[r]] : 0.0f;
    pack_add(op, "wa", wa, R * op8,
             mc_format("%s.weight %s%s, transposed: [in in the order the "
                       "input is stored][out, padded to %lld]", l->prefix,
                       ws, scaled, (long long)op8));
    float *bv = mc_alloc(sizeof(float) * (size_t)op8);
    for (int64_t j = 0; j < op8; j++) bv[j] = b && j < O ? b[j] : 0.0f;
    char *pad = mc_format(", padded to %lld", (long long)op8);
    pack_add(op, "bv", bv, op8, pack_bias_what(op, pad));
    free(pad);
  }
  free(scaled);
  free(ws);
  free(w);
  free(b);
  free(feat);
}

static void linear_body(Emit *e, const Op *op, const View *v) {
  const Layer *l = op->main;
  int64_t O = l->a.out, op8 = op->vcp, nqo = op8 / 8, R;
  int64_t *feat = linear_feat(op, v, &R);
  const char *wn, *bn;
  if (linear_dot(op, v)) {
    wn = op_array(op, "wd");
    bn = op_array(op, "b");
    int64_t nch = R / 8, nacc = nch < 4 ? nch : 4;
    for (int64_t o = 0; o < O; o++) {
      em(e, "{ /* output %lld */", (long long)o);
      em(e, "const float *w = %s + %lld;", wn, (long long)(o * R));
      for (int64_t j = 0; j < nacc; j++)
        em(e, "MC_V8(s%lld); MC_VMUL(s%lld, x + %lld, w + %lld);",
           (long long)j, (long long)j, (long long)(8 * j), (long long)(8 * j));
      int64_t i = nacc;
      if (nch - nacc > 16) { /* a loop over whole rounds of nacc vectors */
        int64_t end = nacc + (nch - nacc) / nacc * nacc;
        em(e, "for (int i = %lld; i < %lld; i += %lld) {",
           (long long)(8 * nacc), (long long)(8 * end), (long long)(8 * nacc));
        for (int64_t j = 0; j < nacc; j++)
          em(e, "MC_VDOT(s%lld, x + i + %lld, w + i + %lld);", (long long)j,
             (long long)(8 * j), (long long)(8 * j));
        em(e, "}");
        i = end;
      }
      for (; i < nch; i++)
        em(e, "MC_VDOT(s%lld, x + %lld, w + %lld);", (long long)(i % nacc),
           (long long)(8 * i), (long long)(8 * i));
      if (nacc > 2) {
        if (nacc > 3) em(e, "MC_VADD(s2, s3);");
        em(e, "MC_VADD(s0, s2);");
      }
      if (nacc > 1) em(e, "MC_VADD(s0, s1);");
      char *expr = mc_format("%s[%lld] + mc_vsum(s0)", bn, (long long)o);
      char *chain = em_act_chain(e, op, expr);
      em(e, "y[%lld] = %s;", (long long)o, chain);
      free(chain);
      free(expr);
      em(e, "}");
    }
    if (op->dst.kind != BUF_OUTPUT && O < op8)
      em(e, "for (int o = %lld; o < %lld; o++) y[o] = 0.0f; /* padding */",
         (long long)O, (long long)op8);
  } else {
    wn = op_array(op, "wa");
    bn = op_array(op, "bv");
    int split = R >= 4 && nqo <= 4;
    for (int64_t q = 0; q < nqo; q++) {
      em(e, "MC_V8(a%lld); MC_VLD(a%lld, %s + %lld);", (long long)q,
         (long long)q, bn, (long long)(8 * q));
      if (split) em(e, "MC_V8(b%lld); MC_VZERO(b%lld);", (long long)q,
                    (long long)q);
    }
    if (R * nqo <= 64) { /* unrolled, skipping the padding lanes */
      int64_t at = 0;
      for (int64_t r = 0; r < R; r++) {
        if (feat[r] < 0) continue;
        char acc = split && at++ % 2 ? 'b' : 'a';
        for (int64_t q = 0; q < nqo; q++)
          em(e, "MC_VFMA(%c%lld, %s + %lld, x[%lld]);", acc, (long long)q, wn,
             (long long)(r * op8 + 8 * q), (long long)r);
      }
    } else {
      int64_t step = split ? 2 : 1, end = R / step * step;
      em(e, "for (int r = 0; r < %lld; r += %lld) {", (long long)end,
         (long long)step);
      em(e, "const float *w = %s + r * %lld;", wn, (long long)op8);
      for (int64_t q = 0; q < nqo; q++) {
        em(e, "MC_VFMA(a%lld, w + %lld, x[r]);", (long long)q,
           (long long)(8 * q));
        if (split)
          em(e, "MC_VFMA(b%lld, w + %lld, x[r + 1]);", (long long)q,
             (long long)(op8 + 8 * q));
      }
      em(e, "}");
      if (end < R) {
        em(e, "{ /* the last input */");
        for (int64_t q = 0; q < nqo; q++)
          em(e, "MC_VFMA(a%lld, %s + %lld, x[%lld]);", (long long)q, wn,
             (long long)(end * op8 + 8 * q), (long long)end);
        em(e, "}");
      }
    }
    for (int64_t q = 0; q < nqo; q++) {
      char a[24];
      snprintf(a, sizeof a, "a%lld", (long long)q);
      if (split) em(e, "MC_VADD(%s, b%lld);", a, (long long)q);
      vec_acts(e, op, a);
      At at0 = {NULL, 0};
      vec_store(e, op, &at0, 8 * q, a);
    }
  }
  free(feat);
}

static void vec1d_emit(Emit *e, const Op *op) {
  const Program *p = e->p;
  int i = (int)(op - p->ops);
  View v = src_view(p, i);
  if (v.cp)
    em(e, "/* one sample: x is [%lld position%s][%lld channels, %lld used] "
       "*/", (long long)v.l, v.l == 1 ? "" : "s", (long long)v.cp,
       (long long)v.c);
  const Op *out = op->pooled ? op + 1 : op;
  if (out->dst.kind != BUF_OUTPUT)
    em(e, "/* y is [%lld position%s][%lld channels, %lld used] */",
       (long long)out->vl, out->vl == 1 ? "" : "s", (long long)out->vcp,
       (long long)out->vc);
  if (is_conv1d(op->main)) conv_body(e, op, &v);
  else if (is_linear(op->main)) linear_body(e, op, &v);
  else pool_body(e, op, &v);
  em_use(e, EH_V8);
  em_use(e, EH_FMA);
}

static void why_op(const Program *p, Op *op, char *why, size_t n) {
  View v = src_view(p, (int)(op - p->ops));
  if (is_conv1d(op->main)) conv_why(op, &v, why, n);
  else if (is_linear(op->main)) linear_why(op, &v, why, n);
  else pool_why(op, &v, why, n);
}

static void vec1d_pack(Program *p, Op *op) {
  View v = src_view(p, (int)(op - p->ops));
  if (is_conv1d(op->main)) conv_pack(op, &v);
  else if (is_linear(op->main)) linear_pack(op, &v);
}

/* The whole-program decision is vec1d_decide's; fits() only says whether
 * an op was lowered with the rest of its program. */
static int vec1d_fits(const Program *p, const Op *op, Target t, char *why,
                      size_t n) {
  (void)op, (void)t, (void)why, (void)n;
  return p->whole;
}

static int64_t vec1d_code_bytes(const Op *op) {
  /* as the loop lowering's estimate: each tap may be unrolled */
  return is_conv1d(op->main) ? mc_satmul(op->main->a.kernel[0], 400) : 0;
}

const Kernel kernel_vec1d = {"vec1d", KERNELS_FAST, vec1d_fits, NULL,
                             vec1d_code_bytes, vec1d_pack, vec1d_emit};
