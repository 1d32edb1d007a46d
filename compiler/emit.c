/* emit.c: the generated C file and its header, printed from the packed
 * program; it decides nothing.
 *
 * The file is self-contained C99 (only <math.h>): a banner, the entry
 * point prototypes, the weight arrays, small helpers, one static function
 * per op (its body printed by the op's kernel in kernels/), and the
 * entry points, which read as the list of calls. The same text, with the
 * weights declared extern and no static workspace, is what `modelc run`
 * compiles in memory: the JIT binds the arrays from memory. */
#include "modelc.h"
#include "kernels/kernel.h"
#include "jit_kernels.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------- the file */

static char *upper(const char *src) {
  char *s = mc_strdup(src);
  for (char *c = s; *c; c++) *c = (char)toupper((unsigned char)*c);
  return s;
}

/* What the code uses of <math.h>, declared, for a compiler given no
 * headers: modelc run's TinyCC, which binds exactly these names (jit.c's
 * allowlist) and nothing else. NAN and INFINITY are spelled as glibc's
 * <math.h> spells them for a compiler that is not gcc, so the values are
 * the ones TinyCC always used. */
static const char freestanding_math[] =
    "/* <math.h>, the part this file uses (compiled with no headers) */\n"
    "#define NAN (0.0f / 0.0f)\n"
    "#define INFINITY 1e10000f\n"
    "float expf(float);\n"
    "float expm1f(float);\n"
    "float logf(float);\n"
    "float tanhf(float);\n"
    "float erff(float);\n"
    "float fmaf(float, float, float);\n"
    "double sqrt(double);";

/* Where the large weight arrays are read as bytes (print_array): the
 * switch, printed once before their declarations; %d is MC_BYTES_FROM. */
static const char bytes_switch[] =
    "/* Arrays of %d floats or more are given twice: as the bytes of their\n"
    " * floats (IEEE-754 binary32, little-endian), which a compiler reads many\n"
    " * times faster than as many numbers, where it says it is little-endian\n"
    " * (x86, Arm Cortex-M); else, or with -DMODELC_WEIGHTS_AS_NUMBERS, as "
    "numbers. */\n"
    "#define MC_WEIGHT_BYTES 0\n"
    "#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)\n"
    "#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && "
    "!defined(MODELC_WEIGHTS_AS_NUMBERS)\n"
    "#undef MC_WEIGHT_BYTES\n"
    "#define MC_WEIGHT_BYTES 1\n"
    "#endif\n"
    "#endif\n"
    "#if MC_WEIGHT_BYTES && defined(__GNUC__)\n"
    "#pragma GCC diagnostic ignored \"-Woverlength-strings\"\n"
    "#endif";

/* "ws + 36", or the input and output as the entry point names them:
 * "input" and "output", a chunk's "xc" and "yc", or in the vector
 * lowering's loop over samples, the sample's "x" and "y". */
static char *buf_expr(const BufRef *r, const char *in, const char *out) {
  if (r->kind == BUF_INPUT) return mc_strdup(in);
  if (r->kind == BUF_OUTPUT) return mc_strdup(out);
  if (r->off == 0) return mc_strdup("ws");
  return mc_format("ws + %lld", (long long)(r->off / 4));
}

static int same_buf(const BufRef *a, const BufRef *b) {
  return a->kind == b->kind && (a->kind != BUF_WS || a->off == b->off);
}

/* A tensor's shape as the op's function sees it: per sample when the
 * program runs one sample at a time. */
static char *fn_shape(const Program *p, const Shape *s) {
  if (!p->whole || !p->batched || s->n < 1) return shape_str(s);
  Shape one = {s->n - 1, {0}};
  for (int i = 1; i < s->n; i++) one.d[i - 1] = s->d[i];
  return shape_str(&one);
}

/* A formula in the comment, wrapped at spaces to lines of at most 76
 * columns, the continuation lines indented. */
static void comment_wrapped(Emit *e, const char *s) {
  const char *lead = " *   ";
  while (*s) {
    size_t room = 76 - strlen(lead), n = strlen(s);
    if (n > room) {
      n = room;
      while (n > 0 && s[n] != ' ') n--;
      if (n == 0) n = strcspn(s, " "); /* one word longer than the line */
    }
    em(e, "%s%.*s", lead, (int)n, s);
    s += n;
    while (*s == ' ') s++;
    lead = " *       ";
  }
}

/* The comment that heads an op's function. */
static void op_comment(Emit *e, const Model *m, const Op *op) {
  char *in = fn_shape(e->p, &op->in), *out = fn_shape(e->p, &op->out);
  if (op->nsrc > 1 || op->residual) { /* x0, x1, ... or x and r */
    Buf b = {0};
    for (int k = 0; k < op->nsrc + op->residual; k++) {
      char *sk = shape_str(&op->ins[k]);
      buf_printf(&b, "%s%s", k ? ", " : "", sk);
      free(sk);
    }
    free(in);
    in = b.s;
  }
  char *per = e->p->whole ? mc_strdup(", one sample")
              : e->p->passes > 1
                  ? mc_format(", %lld of the batch's samples at a time",
                              (long long)e->p->m->input.d[0])
                  : mc_strdup("");
  em(e, "/* %s: %s -> %s%s", op->fname, in, out, per);
  free(per);
  char *file = mc_comment_text(m->file);
  for (int i = 0; i < op->ncovers; i++) { /* a graph op: its nodes */
    const Node *n = op->covers[i];
    const Layer *l = n->op == N_LAYER ? &m->layers[n->layer] : NULL;
    const char *how = "";
    if (l && l == op->bn) how = "  (folded into the weights)";
    else if (op->residual && n->op == N_ADD) how = "  (fused: + r at the end)";
    else if (l && l->kind->role == ROLE_ACT && i > 0) how = "  (on each output)";
    char *name = mc_comment_text(n->name), *text = node_text(m, n);
    char *ctext = mc_comment_text(text);
    if (strcmp(n->name, text) == 0) /* an operation: "add" */
      em(e, " *   %s:%d  %s%s", file, n->loc.line, ctext, how);
    else
      em(e, " *   %s:%d  %s: %s%s", file, n->loc.line, name, ctext, how);
    if (l && n->built.line && n->built.line != n->loc.line)
      em(e, " *     (built at line %d)", n->built.line);
    free(ctext), free(text), free(name);
  }
  for (const Layer *l = op->first; !op->ncovers && l && l <= op->last; l++) {
    const char *how = "";
    if (l == op->bn) how = "  (folded into the weights)";
    else if (l->kind->role == ROLE_NOOP) how = "  (no code)";
    else if (l->kind->role == ROLE_ACT && op->main) how = "  (on each output)";
    char *text = mc_comment_text(l->text);
    em(e, " *   %s:%d  %s%s", file, l->loc.line, text, how);
    free(text);
  }
  free(file);
  if (op->main && op->main->kind->formula)
    comment_wrapped(e, op->main->kind->formula);
  if (op->top >= N_ADD && op->top <= N_DIV)
    em(e, " *   y[i] = a[i] %c b[i], broadcast as PyTorch does",
       "+-*/"[op->top - N_ADD]);
  else if (op->top == N_CAT)
    em(e, " *   y = the inputs one after another along dim %lld",
       (long long)op->node->dim);
  else if (op->top == N_MEAN)
    em(e, " *   y = the mean of x over the reduced dims");
  else if (!op->main)
    em(e, " *   %s", op->nact ? "y[i] = act(x[i])" : "y[i] = x[i]");
  em(e, " */");
  free(in);
  free(out);
}

static void op_function(Emit *e, const Model *m, const Op *op) {
  if (op->pooled) { /* the comment covers the pool it computes too */
    Op both = *op;
    both.last = op[1].last;
    both.out = op[1].out;
    op_comment(e, m, &both);
  } else {
    op_comment(e, m, op);
  }
  int alias = same_buf(&op->src, &op->dst);
  for (int k = 1; k < op->nsrc; k++) alias |= same_buf(&op->srcs[k], &op->dst);
  const char *r = alias ? "" : "restrict ";
  if (op->nsrc > 1) { /* x0, x1, ... */
    Buf b = {0};
    for (int k = 0; k < op->nsrc; k++)
      buf_printf(&b, "const float *%sx%d, ", r, k);
    em(e, "static void %s(%sfloat *%sy%s) {", op->fname, b.s, r,
       op->scratch ? ", float *restrict tmp" : "");
    buf_free(&b);
  } else if (op->residual) { /* x, then the residual operand r */
    em(e, "static void %s(const float *restrict x, const float *restrict r, "
       "float *restrict y%s) {", op->fname,
       op->scratch ? ", float *restrict tmp" : "");
  } else if (op->scratch)
    em(e, "static void %s(const float *%sx, float *%sy, float *restrict tmp) "
       "{", op->fname, r, r);
  else
    em(e, "static void %s(const float *%sx, float *%sy) {", op->fname, r, r);
  /* modelc run's TinyCC compiles the op's stand-in, if it has one */
  const Kernel *k = e->jit && op->jit_kernel ? op->jit_kernel : op->kernel;
  if (op->residual && (k != op->kernel || !kernel_adds_residual(op))) {
    /* the kernel stores main(x); then the add and the activations, over
       the output while it is hot (a stand-in never adds it itself) */
    Op plain = *op;
    plain.nact = 0;
    plain.residual = 0;
    k->emit(e, &plain);
    char *chain = em_act_chain(e, op, "y[i] + r[i]");
    em(e, "for (int i = 0; i < %lld; i++) y[i] = %s; /* + the residual */",
       (long long)shape_numel(&op->out), chain);
    free(chain);
  } else {
    k->emit(e, op);
  }
  em(e, "}");
  em_blank(e);
}

/* An op's function, after any helper function its kernel wrote for it. */
static void op_with_helpers(Emit *e, const Model *m, const Op *op) {
  Emit body = *e;
  memset(&body.b, 0, sizeof body.b);
  memset(&body.pre, 0, sizeof body.pre);
  op_function(&body, m, op);
  if (body.pre.s) buf_printf(&e->b, "%s", body.pre.s);
  if (body.b.s) buf_printf(&e->b, "%s", body.b.s);
  for (int h = 0; h < EH_NHELPERS; h++) e->uses[h] |= body.uses[h];
  buf_free(&body.pre);
  buf_free(&body.b);
}

/* maybe_unused: the file has vector paths (#if), which may apply the
 * activation in registers and leave the function uncalled. */
static void act_function(Emit *e, const Layer *l, int maybe_unused) {
  char *name = em_act_name(l);
  char *x = l->kind->act_expr(l), *text = mc_comment_text(l->text);
  em(e, "static %sfloat %s(float v) { return %s; } /* %s */",
     maybe_unused ? "MC_UNUSED " : "", name, x, text);
  free(text);
  free(x);
  free(name);
}

/* The values of a weight array, a fixed 8 to a line, so a changed value
 * is a one-line diff. */
#define VALUES_PER_LINE 8

/* The values, a fixed 8 to a line: "  1.5f, -0.25f, ...,". */
static void print_values(Buf *b, const OpParam *p, const char *indent) {
  char line[VALUES_PER_LINE * (EM_FLOAT_MAX + 2) + 8];
  for (int64_t i = 0; i < p->n;) {
    size_t len = strlen(indent);
    memcpy(line, indent, len);
    for (int k = 0; k < VALUES_PER_LINE && i < p->n; k++, i++) {
      if (k) line[len++] = ' ';
      len += em_float_to(line + len, p->data[i]);
      line[len++] = ',';
    }
    line[len] = 0;
    buf_printf(b, "%s\n", line);
  }
}

/* The bytes of the floats, little-endian, 8 floats (32 "\xNN") to a line,
 * so a line of bytes is the line of numbers in the other branch. */
static void print_bytes(Buf *b, const OpParam *p) {
  static const char hex[] = "0123456789abcdef";
  char line[4 + VALUES_PER_LINE * 16 + 4];
  for (int64_t i = 0; i < p->n;) {
    size_t len = 0;
    line[len++] = ' ', line[len++] = ' ', line[len++] = '"';
    for (int k = 0; k < VALUES_PER_LINE && i < p->n; k++, i++) {
      uint32_t u;
      memcpy(&u, &p->data[i], 4);
      for (int j = 0; j < 4; j++, u >>= 8) {
        line[len++] = '\\', line[len++] = 'x';
        line[len++] = hex[(u >> 4) & 15], line[len++] = hex[u & 15];
      }
    }
    line[len++] = '"', line[len] = 0;
    buf_printf(b, "%s\n", line);
  }
}

/* A weight array's definition. A large one is a union of its bytes and
 * its floats, defined twice: as a string of bytes where the compiler says
 * it is little-endian (MC_WEIGHT_BYTES, fast to compile), else as the
 * numbers. */
static void print_array(Buf *b, const OpParam *p) {
  if (!p->as_bytes) {
    buf_printf(b, "static const float %s[%lld] = {\n", p->name,
               (long long)p->n);
    print_values(b, p, "  ");
    buf_printf(b, "};\n\n");
    return;
  }
  buf_printf(b, "static const union %s_bytes %s_bytes = {\n", p->name,
             p->name);
  buf_printf(b, "#if MC_WEIGHT_BYTES\n");
  print_bytes(b, p);
  buf_printf(b, "#else\n  .f = {\n");
  print_values(b, p, "    ");
  buf_printf(b, "  }\n#endif\n};\n\n");
}

/* The helpers, from runtime/mc_*.h (embedded by tools/embed.c), in the
 * order of EH_*: each is copied as it is into the files that use it. */
extern const char rt_mc_maxf_h[], rt_mc_fma_h[], rt_mc_unused_h[],
    rt_mc_avx512_h[], rt_mc_v8_h[], rt_mc_inline_h[], rt_mc_prefetch_h[];
static const char *const helper_text[EH_NHELPERS] = {
    rt_mc_maxf_h,   rt_mc_fma_h, rt_mc_unused_h,
    rt_mc_avx512_h, rt_mc_v8_h,  rt_mc_inline_h, rt_mc_prefetch_h,
};

/* The helpers as a compiler given no headers sees them: of each "#if
 * defined(__AVX..." block only the portable "#else" branch, without the
 * #if, #else and #endif lines. TinyCC never takes the other branch, which
 * includes <immintrin.h> and continues macros over several lines. */
static char *portable_helpers(const char *text) {
  Buf b = {0};
  int skip = 0, keep = 0, nest = 0; /* in the AVX branch; in its #else */
  for (const char *line = text; *line;) {
    const char *nl = strchr(line, '\n');
    size_t n = nl ? (size_t)(nl - line) + 1 : strlen(line);
    int drop = skip;
    if (!skip && !keep && strncmp(line, "#if defined(__AVX", 17) == 0) {
      skip = 1, nest = 0, drop = 1;
    } else if (skip || keep) {
      if (strncmp(line, "#if", 3) == 0) nest++;
      else if (strncmp(line, "#endif", 6) == 0 && nest > 0) nest--;
      else if (skip && nest == 0 && strncmp(line, "#else", 5) == 0)
        skip = 0, keep = 1, drop = 1;
      else if (keep && nest == 0 && strncmp(line, "#endif", 6) == 0)
        keep = 0, drop = 1;
    }
    if (!drop) buf_printf(&b, "%.*s", (int)n, line);
    line += n;
  }
  return b.s ? b.s : mc_strdup("");
}

static char *weights_source(const Model *m) {
  if (m->weights_given || m->weights) {
    char *path = mc_comment_text(m->weights_given ? m->weights_given
                                                  : m->weights);
    char *s = mc_format("file '%s'%s", path,
                        m->weights_given ? " (--weights)" : "");
    free(path);
    return s;
  }
  return mc_format("seed %lld (PyTorch's default init)",
                   (long long)(m->has_seed ? m->seed : 0));
}

void emit_program(const Program *pp, const EmitOptions *o, Generated *g) {
  memset(g, 0, sizeof *g);
  const Program p = *pp;
  const Model *m = p.m;
  Emit e = {0};
  e.p = pp;
  char *up = upper(m->name);

  /* The op functions first: they ask for the helpers. */
  int jit = o && o->jit, stand_in = 0;
  Emit f = {0};
  f.p = pp;
  f.jit = jit;
  for (int i = 0; i < p.nops; i++) stand_in |= p.ops[i].jit_kernel != NULL;
  f.nacts = m->nlayers;
  f.acts = mc_alloc((size_t)m->nlayers + 1);
  for (int i = 0; i < p.nops; i++)
    if (!p.ops[i].fused) op_with_helpers(&f, m, &p.ops[i]);
  for (int h = 0; h < EH_NHELPERS; h++) e.uses[h] |= f.uses[h];
  for (int i = 0; i < p.nops; i++)
    for (int j = 0; j < p.ops[i].nparams; j++) {
      g->params = mc_realloc(g->params, sizeof(OpParam *) *
                                            (size_t)(g->nparams + 1));
      g->params[g->nparams++] = &p.ops[i].params[j];
    }

  /* The caller's tensors: the user's model's, the whole batch */
  const Model *um = p.user ? p.user : m;
  int64_t nin = shape_numel(&um->input);
  const Shape *oshape =  /* the model's (a view of the last op's) */
      um->nnodes ? &um->nodes[um->output].out : &p.ops[p.nops - 1].out;
  int64_t nout = shape_numel(oshape);
  char *ins = shape_str(&um->input), *outs = shape_str(oshape);
  char *src = weights_source(m);
  const char *ver = o && o->version ? o->version : MC_VERSION;
  char *file = mc_comment_text(m->file);

  em(&e, "/*");
  em(&e, " * %s.c: generated by modelc %s from %s; do not edit.", m->name, ver,
     file);
  em(&e, " *");
  em(&e, " *   input      %s float32, contiguous, in PyTorch's layout", ins);
  em(&e, " *   output     %s", outs);
  em(&e, " *   workspace  %lld bytes", (long long)p.workspace_bytes);
  em(&e, " *   weights    %s", src);
  if (p.target != TARGET_GENERIC)
    em(&e, " *   target     %s (modelc build --target %s)%s",
       target_names[p.target], target_names[p.target],
       target_has_fma(p.target) ? ": its tiles call fmaf" : "");
  em(&e, " *");
  em(&e, " * Standalone C99: compile with any C compiler and link with libm.");
  em(&e, " * %s_forward uses a static workspace; %s_forward_ws takes the "
     "caller's", m->name, m->name);
  em(&e, " * (%s_WORKSPACE_SIZE bytes, float-aligned) and is reentrant.", up);
  em(&e, " *");
  if (p.target != TARGET_GENERIC)
    em(&e, " * Results are bit for bit those of `modelc run --target %s` "
       "when the", target_names[p.target]);
  else
    em(&e, " * Results are bit for bit those of `modelc run` when the "
       "compiler does not");
  if (p.target != TARGET_GENERIC)
    em(&e, " * compiler does not contract a * b + c on its own: gcc with "
       "-std=c99");
  else
    em(&e, " * contract a * b + c into fused multiply-adds on its own: gcc "
       "with -std=c99");
  em(&e, " * or -ffp-contract=off, clang with -ffp-contract=off. -ffast-math "
     "breaks NaN");
  em(&e, " * and infinity handling and is refused.");
  em(&e, " */");
  em(&e, "#ifdef __FAST_MATH__");
  em(&e, "#error \"%s.c: -ffast-math breaks NaN and infinity handling; build "
     "without it\"", m->name);
  em(&e, "#endif");
  if (jit || (o && o->freestanding)) em(&e, "%s", freestanding_math);
  else em(&e, "#include <math.h>");
  if (jit && stand_in) buf_printf(&e.b, "%s", mcj_prototypes);
  em_blank(&e);
  em(&e, "void %s_forward(const float *input, float *output);", m->name);
  em(&e, "void %s_forward_ws(const float *input, float *output, void "
     "*workspace);", m->name);
  em_blank(&e);
  if (g->nparams) { /* declared here, defined at the end of the file */
    em(&e, "/* ---- weights (%s) */", jit ? "bound in memory by modelc run"
                                         : "their values at the end");
    em_blank(&e);
    int any_bytes = 0;
    for (int i = 0; i < g->nparams; i++) any_bytes |= g->params[i]->as_bytes;
    if (any_bytes && !jit) {
      em(&e, bytes_switch, MC_BYTES_FROM);
      em_blank(&e);
    }
    for (int i = 0; i < g->nparams; i++) {
      const OpParam *a = g->params[i];
      char *what = mc_comment_text(a->what); /* names the keys */
      em(&e, "/* %s */", what);
      free(what);
      if (a->as_bytes && !jit) {
        em(&e, "static const union %s_bytes { unsigned char le[%lld]; "
           "float f[%lld]; } %s_bytes;", a->name, (long long)a->n * 4,
           (long long)a->n, a->name);
        em(&e, "#define %s (%s_bytes.f)", a->name, a->name);
      } else {
        em(&e, "%s const float %s[%lld];", jit ? "extern" : "static",
           a->name, (long long)a->n);
      }
    }
    em_blank(&e);
  }
  if (p.prefetch) em_use(&e, EH_PREFETCH); /* called by the entry point */
  int any_helper = 0, any_act = 0;
  for (int h = 0; h < EH_NHELPERS; h++) any_helper |= e.uses[h];
  for (int i = 0; i < m->nlayers; i++) any_act |= f.acts[i];
  if (any_helper || any_act) {
    em(&e, "/* ---- helpers */");
    em_blank(&e);
    Buf hb = {0};
    for (int h = 0; h < EH_NHELPERS; h++)
      if (e.uses[h]) buf_printf(&hb, "%s\n", helper_text[h]);
    if (hb.s && (jit || (o && o->freestanding))) {
      char *portable = portable_helpers(hb.s);
      buf_printf(&e.b, "%s", portable);
      free(portable);
    } else if (hb.s) {
      buf_printf(&e.b, "%s", hb.s);
    }
    buf_free(&hb);
    for (int i = 0; i < m->nlayers; i++)
      if (f.acts[i]) act_function(&e, &m->layers[i], e.uses[EH_UNUSED]);
    em_blank(&e);
  }
  free(f.acts);
  em(&e, "/* ---- layers */");
  em_blank(&e);
  buf_printf(&e.b, "%s", f.b.s);
  buf_free(&f.b);

  em(&e, "/* ---- entry points */");
  em_blank(&e);
  em(&e, "void %s_forward_ws(const float *input, float *output, void "
     "*workspace) {", m->name);
  if (p.workspace_bytes) em(&e, "float *ws = (float *)workspace;");
  else em(&e, "(void)workspace;");
  const char *xs = "input", *ys = "output"; /* as the ops' calls name them */
  if (p.passes > 1) { /* the batch in chunks (chunk.c) */
    int64_t b = m->input.d[0];
    em(&e, "/* %lld sample%s at a time: the workspace holds one chunk */",
       (long long)b, b > 1 ? "s" : "");
    em_for(&e, "c", p.passes, "chunk");
    em(&e, "const float *xc = input + c * %lld;", (long long)(nin / p.passes));
    em(&e, "float *yc = output + c * %lld;", (long long)(nout / p.passes));
    xs = "xc", ys = "yc";
  }
  if (p.whole) { /* one sample at a time */
    const Op *first = &p.ops[0], *last = &p.ops[p.nops - 1];
    em_for(&e, "n", p.batch, "sample");
    em(&e, "const float *x = %s + n * %lld;", xs,
       (long long)(shape_numel(&first->in) / p.batch));
    em(&e, "float *y = %s + n * %lld;", ys,
       (long long)(shape_numel(&last->out) / p.batch));
    xs = "x", ys = "y";
  }
  int64_t calls = 0; /* the ops called so far */
  for (int i = 0; i < p.nops; i++) { /* each call with its shapes */
    const Op *op = &p.ops[i], *out = op->pooled ? op + 1 : op;
    if (op->fused) continue;
    char *x = buf_expr(&op->src, xs, ys), *y = buf_expr(&op->dst, xs, ys);
    if (op->nsrc > 1 || op->residual) { /* each input, then the output */
      Buf b = {0};
      for (int k = 0; k < op->nsrc + op->residual; k++) {
        char *xk = buf_expr(&op->srcs[k], xs, ys);
        buf_printf(&b, "%s%s", k ? ", " : "", xk);
        free(xk);
      }
      free(x);
      x = b.s;
    }
    char *t = op->scratch ? buf_expr(&op->tmp, xs, ys) : NULL;
    char *call = t ? mc_format("%s(%s, %s, %s);", op->fname, x, y, t)
                   : mc_format("%s(%s, %s);", op->fname, x, y);
    char *si = fn_shape(pp, &op->in), *so = fn_shape(pp, &out->out);
    if (op->nsrc > 1 || op->residual) {
      Buf b = {0};
      for (int k = 0; k < op->nsrc + op->residual; k++) {
        char *sk = shape_str(&op->ins[k]);
        buf_printf(&b, "%s%s", k ? ", " : "", sk);
        free(sk);
      }
      free(si);
      si = b.s;
    }
    em(&e, "%s /* %s -> %s */", call, si, so);
    free(si), free(so), free(call), free(t), free(x), free(y);
    int64_t k = nin / p.passes, at = calls * p.prefetch;
    if (p.prefetch && at < k) /* the next slice of the next chunk's input */
      em(&e, "if (c + 1 < %lld) mc_prefetch(xc + %lld, %lld); /* the next "
         "chunk's input, ahead */", (long long)p.passes, (long long)(k + at),
         (long long)(k - at < p.prefetch ? k - at : p.prefetch));
    calls++;
  }
  if (p.whole) em(&e, "}");
  if (p.passes > 1) em(&e, "}");
  em(&e, "}");
  if (!jit) {
    em_blank(&e);
    em(&e, "void %s_forward(const float *input, float *output) {", m->name);
    if (p.workspace_bytes) {
      em(&e, "static float workspace[%lld]; /* %s_WORKSPACE_SIZE bytes */",
         (long long)(p.workspace_bytes / 4), up);
      em(&e, "%s_forward_ws(input, output, workspace);", m->name);
    } else {
      em(&e, "%s_forward_ws(input, output, (void *)0);", m->name);
    }
    em(&e, "}");
  }
  if (g->nparams && !jit) {
    em_blank(&e);
    em(&e, "/* ---- weights: the values */");
    em_blank(&e);
    for (int i = 0; i < g->nparams; i++) print_array(&e.b, g->params[i]);
  }
  g->c = e.b.s ? e.b.s : mc_strdup("");

  /* The header. */
  Emit h = {0};
  em(&h, "/* %s.h: generated by modelc %s from %s; do not edit. */", m->name,
     ver, file);
  em(&h, "#ifndef %s_H", up);
  em(&h, "#define %s_H", up);
  em_blank(&h);
  em(&h, "#define %s_INPUT_SIZE %lld /* floats, shape %s */", up,
     (long long)nin, ins);
  em(&h, "#define %s_OUTPUT_SIZE %lld /* floats, shape %s */", up,
     (long long)nout, outs);
  em(&h, "#define %s_WORKSPACE_SIZE %lld /* bytes */", up,
     (long long)p.workspace_bytes);
  em_blank(&h);
  em(&h, "#ifdef __cplusplus");
  em(&h, "extern \"C\" {");
  h.depth = 0; /* no indent inside extern "C" */
  em(&h, "#endif");
  em_blank(&h);
  em(&h, "/* Run the model: input and output are contiguous float32 tensors in "
     "PyTorch's");
  em(&h, " * layout. _forward uses a static workspace (not reentrant); "
     "_forward_ws uses");
  em(&h, " * the caller's, %s_WORKSPACE_SIZE bytes aligned for float. The "
     "input is", up);
  em(&h, " * never written. */");
  em(&h, "void %s_forward(const float *input, float *output);", m->name);
  em(&h, "void %s_forward_ws(const float *input, float *output, void "
     "*workspace);", m->name);
  em_blank(&h);
  em(&h, "#ifdef __cplusplus");
  h.depth = 1;
  em(&h, "}");
  em(&h, "#endif");
  em_blank(&h);
  em(&h, "#endif");
  g->h = h.b.s;

  g->fwd_ws = mc_format("%s_forward_ws", m->name);
  g->input_numel = nin;
  g->output_numel = nout;
  g->workspace_bytes = p.workspace_bytes;
  free(ins);
  free(outs);
  free(src);
  free(file);
  free(up);
}

void generated_free(Generated *g) {
  free(g->params);
  free(g->c);
  free(g->h);
  free(g->fwd_ws);
  memset(g, 0, sizeof *g);
}
