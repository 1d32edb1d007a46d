/* emit.c: the generated C file and its header.
 *
 * The file is self-contained C99 (only <math.h>): a banner, the entry
 * point prototypes, the weight arrays, small helpers, one static function
 * per op (its body printed by the layer's own file in layers/), and the
 * entry points, which read as the list of calls. The same text, with the
 * weights declared extern and no static workspace, is what `modelc run`
 * compiles in memory: the JIT binds the arrays from memory. */
#include "modelc.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the writer */

void em(Emit *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = mc_vformat(fmt, ap);
  va_end(ap);
  for (char *line = s; line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    /* A loop that runs once is a block: gcc vectorises less inside loops
     * of one iteration. "for (int c = 0; c < 1; c++) {" becomes
     * "{ const int c = 0; (void)c;", its comment kept. */
    char var[16], *once = NULL;
    int used = 0;
    if (sscanf(line, "for (int %15[a-z0-9_] = 0; %*[a-z0-9_] < 1; %*[a-z0-9_]++) {%n",
               var, &used) == 1 && used > 0) {
      once = mc_format("{ const int %s = 0; (void)%s;%s", var, var,
                       line + used);
      line = once;
    }
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
    else if (once) e->depth++;
    free(once);
    line = nl ? nl + 1 : NULL;
  }
  free(s);
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

const char *em_param(Emit *e, const Op *op, const char *suffix, float *data,
                     int64_t n, const char *what) {
  e->params = mc_realloc(e->params, sizeof(OpParam) * (size_t)(e->nparams + 1));
  OpParam *p = &e->params[e->nparams++];
  p->name = mc_format("l%d_%s", op->main ? op->main->index : 0, suffix);
  p->what = mc_strdup(what);
  p->data = data;
  p->n = n;
  return p->name;
}

void em_use(Emit *e, int helper) {
  e->uses[helper] = 1;
  if (helper == EH_V8) e->uses[EH_V8_FN] = 1;
  if (helper == EH_AVX512 || helper == EH_V8) e->uses[EH_UNUSED] = 1;
}

void em_explain(Emit *e, const Op *op, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = mc_vformat(fmt, ap);
  va_end(ap);
  buf_printf(&e->explain, "%s: %s\n", op->fname, s);
  free(s);
}

char *em_act_chain(const Op *op, const char *x) {
  char *s = mc_strdup(x);
  for (int i = 0; i < op->nact; i++) {
    char *t = mc_format("l%d_%s(%s)", op->act[i]->index,
                        op->act[i]->kind->name, s);
    for (char *c = t; *c && *c != '('; c++) *c = (char)tolower(*c);
    free(s);
    s = t;
  }
  return s;
}

void em_epilogue(Emit *e, const Op *op, const char *ptr, int64_t n) {
  if (!op->nact) return;
  char *lv = mc_format("%s[i]", ptr);
  char *chain = em_act_chain(op, lv);
  em(e, "for (int i = 0; i < %lld; i++) %s = %s;", (long long)n, lv, chain);
  free(chain);
  free(lv);
}

float *em_copy(const Param *p) {
  int64_t n = shape_numel(&p->shape);
  float *f = mc_alloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
  memcpy(f, p->data, sizeof(float) * (size_t)n);
  return f;
}

float *em_fold_bn(const Op *op, float *w, float *b, int64_t c, int64_t per) {
  if (!b) b = mc_alloc(sizeof(float) * (size_t)c);
  const Layer *bn = op->bn;
  if (!bn) return b;
  const float *g = bn->a.affine ? bn->param[P_WEIGHT].data : NULL;
  const float *beta = bn->a.affine ? bn->param[P_BIAS].data : NULL;
  const float *mean = bn->param[P_RUNNING_MEAN].data;
  const float *var = bn->param[P_RUNNING_VAR].data;
  for (int64_t o = 0; o < c; o++) {
    double alpha = (g ? g[o] : 1.0) / sqrt((double)var[o] + bn->a.eps);
    double shift = (beta ? beta[o] : 0.0) - mean[o] * alpha;
    for (int64_t j = 0; j < per; j++)
      w[o * per + j] = (float)(w[o * per + j] * alpha);
    b[o] = (float)(b[o] * alpha + shift);
  }
  return b;
}

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

/* "ws + 36", "input", "output"; in the vector lowering's loop over
 * samples, the sample's "x" and "y". */
static char *buf_expr(const BufRef *r, int per_sample) {
  if (r->kind == BUF_INPUT) return mc_strdup(per_sample ? "x" : "input");
  if (r->kind == BUF_OUTPUT) return mc_strdup(per_sample ? "y" : "output");
  if (r->off == 0) return mc_strdup("ws");
  return mc_format("ws + %lld", (long long)(r->off / 4));
}

static int same_buf(const BufRef *a, const BufRef *b) {
  return a->kind == b->kind && (a->kind != BUF_WS || a->off == b->off);
}

/* The comment that heads an op's function. */
static void op_comment(Emit *e, const Model *m, const Op *op) {
  char *in = shape_str(&op->in), *out = shape_str(&op->out);
  em(e, "/* %s: %s -> %s", op->fname, in, out);
  char *file = mc_comment_text(m->file);
  for (const Layer *l = op->first; l && l <= op->last; l++) {
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
    em(e, " *   %s", op->main->kind->formula);
  if (!op->main)
    em(e, " *   %s", op->nact ? "y[i] = act(x[i])" : "y[i] = x[i]");
  em(e, " */");
  free(in);
  free(out);
}

/* An op with no main layer: activations of the input, or a copy. */
static void map_body(Emit *e, const Op *op) {
  char *chain = em_act_chain(op, "x[i]");
  em(e, "for (int i = 0; i < %lld; i++) y[i] = %s;",
     (long long)shape_numel(&op->out), chain);
  free(chain);
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
  const char *r = alias ? "" : "restrict ";
  if (op->scratch)
    em(e, "static void %s(const float *%sx, float *%sy, float *restrict tmp) "
       "{", op->fname, r, r);
  else
    em(e, "static void %s(const float *%sx, float *%sy) {", op->fname, r, r);
  if (e->p && e->p->tiny) tiny_emit(e, op);
  else if (op->main) op->main->kind->emit(e, op);
  else map_body(e, op);
  em(e, "}");
  em(e, "");
}

static void act_function(Emit *e, const Layer *l, int maybe_unused) {
  char name[64];
  snprintf(name, sizeof name, "l%d_%s", l->index, l->kind->name);
  for (char *c = name; *c; c++) *c = (char)tolower(*c);
  char *x = l->kind->act_expr(l), *text = mc_comment_text(l->text);
  em(e, "static %sfloat %s(float v) { return %s; } /* %s */",
     maybe_unused ? "MC_UNUSED " : "", name, x, text);
  free(text);
  free(x);
}

static void print_array(Buf *b, const OpParam *p, int jit) {
  char *what = mc_comment_text(p->what); /* names the spec's keys */
  buf_printf(b, "/* %s */\n", what);
  free(what);
  if (jit) {
    buf_printf(b, "extern const float %s[%lld];\n\n", p->name, (long long)p->n);
    return;
  }
  buf_printf(b, "static const float %s[%lld] = {\n", p->name, (long long)p->n);
  int col = 0;
  for (int64_t i = 0; i < p->n; i++) {
    char *f = em_float(p->data[i]);
    int w = (int)strlen(f) + 2;
    if (col && col + w > 78) {
      buf_printf(b, "\n");
      col = 0;
    }
    buf_printf(b, "%s%s,", col ? " " : "  ", f);
    col += w;
    free(f);
  }
  buf_printf(b, "\n};\n\n");
}

static const char *const helper_text[EH_NHELPERS] = {
    /* EH_MAXF */
    "/* max as PyTorch's max pooling takes it: a NaN wins. */\n"
    "static float mc_maxf(float m, float v) {\n"
    "  float t = v > m ? v : m; /* two selects: no branch */\n"
    "  return v != v ? v : t;\n"
    "}\n",
    /* EH_FMA */
    "/* a * b + c, fused into one instruction where the target has a fast "
    "fmaf\n"
    " * (FP_FAST_FMAF: gcc or clang with FMA enabled); else as written. */\n"
    "#ifdef FP_FAST_FMAF\n"
    "#define MC_FMA(a, b, c) fmaf(a, b, c)\n"
    "#else\n"
    "#define MC_FMA(a, b, c) ((a) * (b) + (c))\n"
    "#endif\n",
    /* EH_UNUSED */
    "/* An activation applied in vector registers may go unused. */\n"
    "#if defined(__GNUC__)\n"
    "#define MC_UNUSED __attribute__((unused))\n"
    "#else\n"
    "#define MC_UNUSED\n"
    "#endif\n",
    /* EH_AVX512 */
    "/* Full tiles use AVX-512 where the compiler targets it (e.g. gcc or "
    "clang\n"
    " * -march=native on a recent x86); elsewhere, and with -DMODELC_PORTABLE,"
    "\n"
    " * the portable loops compute the same sums. */\n"
    "#if defined(__AVX512F__) && !defined(MODELC_PORTABLE)\n"
    "#include <immintrin.h>\n"
    "#define MC_AVX512 1\n"
    "#else\n"
    "#define MC_AVX512 0\n"
    "#endif\n",
    /* EH_V8 */
    "/* Vectors of 8 floats, as statements on named vectors: AVX2 and FMA where\n"
    " * the compiler targets them (e.g. gcc or clang -march=native on a recent\n"
    " * x86); elsewhere, and with -DMODELC_PORTABLE, arrays of 8 floats and\n"
    " * loops over them that compute the same sums lane by lane. ReLU and the\n"
    " * pooling max keep PyTorch's NaNs. p, q: pointers to 8 floats; x: a float\n"
    " * broadcast to every lane. */\n"
    "#if defined(__AVX2__) && defined(__FMA__) && !defined(MODELC_PORTABLE)\n"
    "#include <immintrin.h>\n"
    "#define MC_V8_AVX2 1\n"
    "#define MC_V8(a) __m256 a\n"
    "#define MC_VLD(a, p) (a = _mm256_loadu_ps(p))\n"
    "#define MC_VZERO(a) (a = _mm256_setzero_ps())\n"
    "#define MC_VSET(a, x) (a = _mm256_set1_ps(x))\n"
    "#define MC_VFMA(a, p, x) (a = _mm256_fmadd_ps(_mm256_loadu_ps(p), _mm256_set1_ps(x), a))\n"
    "#define MC_VDOT(a, p, q) (a = _mm256_fmadd_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(q), a))\n"
    "#define MC_VMUL(a, p, q) (a = _mm256_mul_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(q)))\n"
    "#define MC_VADD(a, b) (a = _mm256_add_ps(a, b))\n"
    "#define MC_VADDP(a, p) (a = _mm256_add_ps(a, _mm256_loadu_ps(p)))\n"
    "#define MC_VMAX(a, b) (a = mc_vmax8(a, b))\n"
    "#define MC_VMAXP(a, p) (a = mc_vmax8(a, _mm256_loadu_ps(p)))\n"
    "#define MC_VDIV(a, x) (a = _mm256_div_ps(a, _mm256_set1_ps(x)))\n"
    "#define MC_VRELU(a) (a = _mm256_max_ps(_mm256_setzero_ps(), a))\n"
    "#define MC_VCOPY(a, b) (a = b)\n"
    "#define MC_VST(p, a) _mm256_storeu_ps(p, a)\n"
    "/* lanes n..7 stored as 0 */\n"
    "#define MC_VSTN(p, a, n) _mm256_storeu_ps(p, _mm256_blend_ps(_mm256_setzero_ps(), a, (1 << (n)) - 1))\n"
    "#define MC_VMAP(a, fn) do { float t_[8]; _mm256_storeu_ps(t_, a); \\\n"
    "    for (int i_ = 0; i_ < 8; i_++) { t_[i_] = fn(t_[i_]); } \\\n"
    "    a = _mm256_loadu_ps(t_); } while (0)\n"
    "#define MC_VPUT(y, s, a, n) do { float t_[8]; _mm256_storeu_ps(t_, a); \\\n"
    "    for (int i_ = 0; i_ < (n); i_++) { (y)[i_ * (s)] = t_[i_]; } } while (0)\n"
    "static inline MC_UNUSED __m256 mc_vmax8(__m256 m, __m256 v) {\n"
    "  return _mm256_blendv_ps(_mm256_max_ps(v, m), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));\n"
    "}\n"
    "static inline MC_UNUSED float mc_vsum(__m256 v) {\n"
    "  __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));\n"
    "  q = _mm_add_ps(q, _mm_movehl_ps(q, q));\n"
    "  return _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));\n"
    "}\n"
    "#else\n"
    "#define MC_V8_AVX2 0\n"
    "#define MC_V8(a) float a[8]\n"
    "#define MC_VLD mc_vld\n"
    "#define MC_VZERO mc_vzero\n"
    "#define MC_VSET mc_vset\n"
    "#define MC_VFMA mc_vfma\n"
    "#define MC_VDOT mc_vdot\n"
    "#define MC_VMUL mc_vmul\n"
    "#define MC_VADD mc_vadd\n"
    "#define MC_VADDP mc_vadd\n"
    "#define MC_VMAX mc_vmax\n"
    "#define MC_VMAXP mc_vmax\n"
    "#define MC_VDIV mc_vdiv\n"
    "#define MC_VRELU mc_vrelu\n"
    "#define MC_VCOPY mc_vld\n"
    "#define MC_VST mc_vst\n"
    "#define MC_VSTN mc_vstn\n"
    "#define MC_VMAP mc_vmap\n"
    "#define MC_VPUT mc_vput\n",
    /* EH_V8_FN (the rest of EH_V8: one string may hold only 4095 chars) */
    "static inline MC_UNUSED void mc_vld(float *a, const float *p) { for (int i = 0; i < 8; i++) a[i] = p[i]; }\n"
    "static inline MC_UNUSED void mc_vzero(float *a) { for (int i = 0; i < 8; i++) a[i] = 0.0f; }\n"
    "static inline MC_UNUSED void mc_vset(float *a, float x) { for (int i = 0; i < 8; i++) a[i] = x; }\n"
    "static inline MC_UNUSED void mc_vfma(float *a, const float *p, float x) {\n"
    "  for (int i = 0; i < 8; i++) a[i] = MC_FMA(p[i], x, a[i]);\n"
    "}\n"
    "static inline MC_UNUSED void mc_vdot(float *a, const float *p, const float *q) {\n"
    "  for (int i = 0; i < 8; i++) a[i] = MC_FMA(p[i], q[i], a[i]);\n"
    "}\n"
    "static inline MC_UNUSED void mc_vmul(float *a, const float *p, const float *q) {\n"
    "  for (int i = 0; i < 8; i++) a[i] = p[i] * q[i];\n"
    "}\n"
    "static inline MC_UNUSED void mc_vadd(float *a, const float *b) { for (int i = 0; i < 8; i++) a[i] += b[i]; }\n"
    "static inline MC_UNUSED void mc_vmax(float *a, const float *b) {\n"
    "  for (int i = 0; i < 8; i++) a[i] = b[i] > a[i] || b[i] != b[i] ? b[i] : a[i];\n"
    "}\n"
    "static inline MC_UNUSED void mc_vdiv(float *a, float x) { for (int i = 0; i < 8; i++) a[i] /= x; }\n"
    "static inline MC_UNUSED void mc_vrelu(float *a) {\n"
    "  for (int i = 0; i < 8; i++) a[i] = a[i] < 0.0f ? 0.0f : a[i];\n"
    "}\n"
    "static inline MC_UNUSED void mc_vst(float *p, const float *a) { for (int i = 0; i < 8; i++) p[i] = a[i]; }\n"
    "static inline MC_UNUSED void mc_vstn(float *p, const float *a, int n) {\n"
    "  for (int i = 0; i < 8; i++) p[i] = i < n ? a[i] : 0.0f;\n"
    "}\n"
    "static inline MC_UNUSED void mc_vmap(float *a, float (*fn)(float)) {\n"
    "  for (int i = 0; i < 8; i++) a[i] = fn(a[i]);\n"
    "}\n"
    "static inline MC_UNUSED void mc_vput(float *y, int s, const float *a, int n) {\n"
    "  for (int i = 0; i < n; i++) y[i * s] = a[i];\n"
    "}\n"
    "static inline MC_UNUSED float mc_vsum(const float *v) {\n"
    "  return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));\n"
    "}\n"
    "#endif\n",
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
  if (m->weights) {
    char *path = mc_comment_text(m->weights);
    char *s = mc_format("file '%s'", path);
    free(path);
    return s;
  }
  return mc_format("seed %lld (PyTorch's default init)",
                   (long long)(m->has_seed ? m->seed : 0));
}

void emit_model(const Model *m, const EmitOptions *o, Generated *g) {
  memset(g, 0, sizeof *g);
  Program p;
  lower(m, &p);
  Emit e = {0};
  e.p = &p;
  char *up = upper(m->name);

  /* The op functions first: they register the weights and helpers. */
  Emit f = {0};
  f.p = &p;
  for (int i = 0; i < p.nops; i++) {
    f.params = e.params, f.nparams = e.nparams;
    if (p.ops[i].fused) {
      em_explain(&f, &p.ops[i], "fused into %s", p.ops[i - 1].fname);
      continue;
    }
    size_t before = f.explain.len;
    op_function(&f, m, &p.ops[i]);
    if (f.explain.len == before) { /* ops with one way to be lowered */
      const Op *op = &p.ops[i];
      em_explain(&f, op, "%s", op->main ? "loops over the output"
                                        : op->nact ? "elementwise" : "copy");
    }
    e.params = f.params, e.nparams = f.nparams;
    for (int h = 0; h < EH_NHELPERS; h++) e.uses[h] |= f.uses[h];
  }
  g->explain = f.explain.s ? f.explain.s : mc_strdup("");

  int64_t nin = shape_numel(&m->input);
  int64_t nout = shape_numel(&p.ops[p.nops - 1].out);
  char *ins = shape_str(&m->input), *outs = shape_str(&p.ops[p.nops - 1].out);
  char *src = weights_source(m);
  const char *ver = o && o->version ? o->version : MC_VERSION;
  int jit = o && o->jit;
  char *file = mc_comment_text(m->file);

  em(&e, "/*");
  em(&e, " * %s.c: generated by modelc %s from %s; do not edit.", m->name, ver,
     file);
  em(&e, " *");
  em(&e, " *   input      %s float32, contiguous, in PyTorch's layout", ins);
  em(&e, " *   output     %s", outs);
  em(&e, " *   workspace  %lld bytes", (long long)p.workspace_bytes);
  em(&e, " *   weights    %s", src);
  em(&e, " *");
  em(&e, " * Standalone C99: compile with any C compiler and link with libm.");
  em(&e, " * %s_forward uses a static workspace; %s_forward_ws takes the "
     "caller's", m->name, m->name);
  em(&e, " * (%s_WORKSPACE_SIZE bytes, float-aligned) and is reentrant.", up);
  em(&e, " *");
  em(&e, " * Results are bit for bit those of `modelc run` when the compiler "
     "does not");
  em(&e, " * contract a * b + c into fused multiply-adds on its own: gcc with "
     "-std=c99");
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
  em(&e, "");
  em(&e, "void %s_forward(const float *input, float *output);", m->name);
  em(&e, "void %s_forward_ws(const float *input, float *output, void "
     "*workspace);", m->name);
  em(&e, "");
  if (e.nparams) {
    em(&e, "/* ---- weights%s */", jit ? " (bound in memory by modelc run)" : "");
    em(&e, "");
    for (int i = 0; i < e.nparams; i++) print_array(&e.b, &e.params[i], jit);
  }
  int any_helper = 0;
  for (int h = 0; h < EH_NHELPERS; h++) any_helper |= e.uses[h];
  int any_act = 0;
  for (int i = 0; i < p.nops; i++) any_act |= p.ops[i].nact > 0;
  if (any_helper || any_act) {
    em(&e, "/* ---- helpers */");
    em(&e, "");
    Buf hb = {0};
    for (int h = 0; h < EH_NHELPERS; h++)
      if (e.uses[h]) buf_printf(&hb, "%s", helper_text[h]);
    if (hb.s && (jit || (o && o->freestanding))) {
      char *portable = portable_helpers(hb.s);
      em(&e, "%s", portable);
      free(portable);
    } else if (hb.s) {
      em(&e, "%s", hb.s);
    }
    buf_free(&hb);
    for (int i = 0; i < p.nops; i++)
      for (int j = 0; j < p.ops[i].nact; j++)
        act_function(&e, p.ops[i].act[j], e.uses[EH_UNUSED]);
    em(&e, "");
  }
  em(&e, "/* ---- layers */");
  em(&e, "");
  buf_printf(&e.b, "%s", f.b.s);
  buf_free(&f.b);

  em(&e, "/* ---- entry points */");
  em(&e, "");
  em(&e, "void %s_forward_ws(const float *input, float *output, void "
     "*workspace) {", m->name);
  if (p.workspace_bytes) em(&e, "float *ws = (float *)workspace;");
  else em(&e, "(void)workspace;");
  if (p.tiny) { /* one sample at a time */
    const Op *first = &p.ops[0], *last = &p.ops[p.nops - 1];
    em(&e, "for (int n = 0; n < %lld; n++) { /* sample */", (long long)p.batch);
    em(&e, "const float *x = input + n * %lld;",
       (long long)(shape_numel(&first->in) / p.batch));
    em(&e, "float *y = output + n * %lld;",
       (long long)(shape_numel(&last->out) / p.batch));
  }
  for (int i = 0; i < p.nops; i++) {
    const Op *op = &p.ops[i];
    if (op->fused) continue;
    char *x = buf_expr(&op->src, p.tiny), *y = buf_expr(&op->dst, p.tiny);
    if (op->scratch) {
      char *t = buf_expr(&op->tmp, p.tiny);
      em(&e, "%s(%s, %s, %s);", op->fname, x, y, t);
      free(t);
    } else {
      em(&e, "%s(%s, %s);", op->fname, x, y);
    }
    free(x);
    free(y);
  }
  if (p.tiny) em(&e, "}");
  em(&e, "}");
  if (!jit) {
    em(&e, "");
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
  g->c = e.b.s ? e.b.s : mc_strdup("");

  /* The header. */
  Emit h = {0};
  em(&h, "/* %s.h: generated by modelc %s from %s; do not edit. */", m->name,
     ver, file);
  em(&h, "#ifndef %s_H", up);
  em(&h, "#define %s_H", up);
  em(&h, "");
  em(&h, "#define %s_INPUT_SIZE %lld /* floats, shape %s */", up,
     (long long)nin, ins);
  em(&h, "#define %s_OUTPUT_SIZE %lld /* floats, shape %s */", up,
     (long long)nout, outs);
  em(&h, "#define %s_WORKSPACE_SIZE %lld /* bytes */", up,
     (long long)p.workspace_bytes);
  em(&h, "");
  em(&h, "#ifdef __cplusplus");
  em(&h, "extern \"C\" {");
  h.depth = 0; /* no indent inside extern "C" */
  em(&h, "#endif");
  em(&h, "");
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
  em(&h, "");
  em(&h, "#ifdef __cplusplus");
  h.depth = 1;
  em(&h, "}");
  em(&h, "#endif");
  em(&h, "");
  em(&h, "#endif");
  g->h = h.b.s;

  g->fwd_ws = mc_format("%s_forward_ws", m->name);
  g->params = e.params;
  g->nparams = e.nparams;
  g->input_numel = nin;
  g->output_numel = nout;
  g->workspace_bytes = p.workspace_bytes;
  free(ins);
  free(outs);
  free(src);
  free(file);
  free(up);
  program_free(&p);
}

void generated_free(Generated *g) {
  for (int i = 0; i < g->nparams; i++) {
    free(g->params[i].name);
    free(g->params[i].what);
    free(g->params[i].data);
  }
  free(g->params);
  free(g->c);
  free(g->h);
  free(g->fwd_ws);
  free(g->explain);
  memset(g, 0, sizeof *g);
}
