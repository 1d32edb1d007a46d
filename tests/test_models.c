/* test_models.c: generated C against PyTorch, end to end.
 *
 * Every example spec (specs/NAME.lua, input torch.manual_seed(0);
 * torch.randn(shape), outputs in tests/fixtures/specs/), every model of
 * the random fixture (tests/fixtures/models/, from
 * tools/gen_model_fixture.py) and of the small 1-D fixture
 * (tests/fixtures/tiny/, from tools/gen_tiny_fixture.py: models that must
 * all take the vector lowering of compiler/kernels/vec1d.c, which is
 * checked) and of the padding fixture (tests/fixtures/pad/,
 * tools/gen_pad_fixture.py: the padding layers, Hardswish and Hardsigmoid)
 * goes
 * through spec -> shapes -> weights -> emitted C; the files are compiled
 * with gcc -Werror into shared objects, loaded, and run:
 *   - the output matches PyTorch within atol 1e-5 + rtol 1e-4;
 *   - the workspace is filled with garbage first, a second run with another
 *     workspace gives the same bits, guard zones after the output and the
 *     workspace stay untouched, and the input is never written;
 *   - each file also compiles warning-free with clang and tcc when they
 *     are installed;
 *   - the same model JIT-compiled in memory by TinyCC (modelc run) gives
 *     exactly gcc's bits (gcc without FMA contraction).
 * The coverage of layer kinds and arguments in the fixture is printed and
 * each class must be present. */
#include "testutil.h"
#include "kernels/kernel.h"

#include <dlfcn.h>
#include <glob.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npy.h"
#include "torchrand.h"

#define GUARD 64 /* floats after the output and the workspace */
#define MAXMODELS 1024

/* Where a case comes from. */
enum { FROM_SPECS, FROM_MODELS, FROM_TINY, FROM_PAD, FROM_N };
static const char *const from_dir[FROM_N] = {"specs", "tests/fixtures/models",
                                             "tests/fixtures/tiny",
                                             "tests/fixtures/pad"};

typedef struct Case {
  char *spec, *name, *ref, *in; /* in: NULL = randn(seed 0) */
  int from;                     /* FROM_* */
  Model m;
  Program p; /* lowered once: the file and the JIT print it */
  Generated g;
  int loaded;
  void (*fwd)(const float *, float *, void *);
  void (*fwd_native)(const float *, float *, void *); /* -march=native */
  int native; /* has an AVX-512 or AVX2 path this CPU runs */
} Case;

static Case cases[MAXMODELS];
static int ncases;
static char workdir[512];
static void *handles[3];
static int cpu_avx2; /* the -march=native build has the AVX2 vectors */

static void add_case(const char *spec, const char *ref, const char *in,
                     int from) {
  if (ncases == MAXMODELS) fail_msg("too many models");
  Case *c = &cases[ncases++];
  c->from = from;
  c->spec = mc_strdup(spec);
  c->ref = mc_strdup(ref);
  c->in = in ? mc_strdup(in) : NULL;
}

static char *replace_suffix(const char *s, const char *from, const char *to) {
  size_t n = strlen(s), k = strlen(from);
  if (n < k || strcmp(s + n - k, from) != 0) return NULL;
  return mc_format("%.*s%s", (int)(n - k), s, to);
}

static void find_cases(void) {
  glob_t g;
  if (glob("specs/*.lua", 0, NULL, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; i++) {
      const char *base = strrchr(g.gl_pathv[i], '/') + 1;
      char *ref = mc_format("tests/fixtures/specs/%.*s.out.npy",
                            (int)strlen(base) - 4, base);
      add_case(g.gl_pathv[i], ref, NULL, FROM_SPECS);
      free(ref);
    }
    globfree(&g);
  }
  /* The fixtures: mNNN.lua, tNNN.lua or pNNN.lua, .in.npy, .out.npy. */
  for (int from = FROM_MODELS; from <= FROM_PAD; from++) {
    char *pat = mc_format("%s/*.lua", from_dir[from]);
    if (glob(pat, 0, NULL, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; i++) {
        char *ref = replace_suffix(g.gl_pathv[i], ".lua", ".out.npy");
        char *in = replace_suffix(g.gl_pathv[i], ".lua", ".in.npy");
        add_case(g.gl_pathv[i], ref, in, from);
        free(ref);
        free(in);
      }
      globfree(&g);
    }
    free(pat);
  }
}

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  fputs(text, f);
  return fclose(f);
}

/* Spec to C for every case; the file list goes into two halves. */
static void generate_all(Buf *half0, Buf *half1, Buf *all) {
  for (int i = 0; i < ncases; i++) {
    Case *c = &cases[i];
    Diag d = {0};
    Limits lim = {0}; /* every limit at its default */
    int r = spec_load(c->spec, &lim, &d, &c->m);
    if (r == 0) r = shape_infer(&c->m, &d);
    if (r == 0) r = compile_default(&c->m, &c->p, &d);
    if (r) {
      print_error("%s: %s\n", c->spec, d.text.s ? d.text.s : "");
      fail_msg("spec %s does not build", c->spec);
    }
    diag_free(&d);
    EmitOptions eo = {.version = "test"};
    emit_program(&c->p, &eo, &c->g);
    c->name = mc_strdup(c->m.name);
    for (int j = 0; j < i; j++) /* one C file and one set of symbols each */
      if (strcmp(cases[j].name, c->name) == 0)
        fail_msg("%s and %s are both model \"%s\"", cases[j].spec, c->spec,
                 c->name);
    char *cp = mc_format("%s/%s.c", workdir, c->name);
    char *hp = mc_format("%s/%s.h", workdir, c->name);
    assert_int_equal(write_file(cp, c->g.c), 0);
    assert_int_equal(write_file(hp, c->g.h), 0);
    buf_printf(i % 2 ? half1 : half0, " %s.c", c->name);
    buf_printf(all, " %s.c", c->name);
    free(cp);
    free(hp);
    c->loaded = 1;
  }
}

static int have(const char *tool) {
  char *cmd = mc_format("command -v %s >/dev/null 2>&1", tool);
  int r = system(cmd);
  free(cmd);
  return r == 0;
}

#define WFLAGS "-std=c99 -Wall -Wextra -pedantic -Werror"

static void test_models_generate_and_compile(void **state) {
  (void)state;
  Buf h0 = {0}, h1 = {0}, all = {0};
  find_cases();
  assert_true(ncases > 0);
  generate_all(&h0, &h1, &all);
  /* gcc, two halves in parallel, into objects, then shared objects we can
   * load; every undefined symbol of every object must be libm's. */
  char *h0o = mc_strdup(h0.s), *h1o = mc_strdup(h1.s ? h1.s : "");
  for (char *p = h0o; (p = strstr(p, ".c")) != NULL; p++) p[1] = 'o';
  for (char *p = h1o; (p = strstr(p, ".c")) != NULL; p++) p[1] = 'o';
  char *cmd = mc_format(
      "cd '%s' && rm -f *.o && { gcc " WFLAGS " -O1 -ffp-contract=off -fPIC "
      "-c%s & p=$!; gcc " WFLAGS " -O1 -ffp-contract=off -fPIC -c%s; r=$?; "
      "wait $p && [ $r = 0 ]; } && gcc -shared -o half0.so%s -lm && gcc "
      "-shared -o half1.so%s -lm",
      workdir, h0.s, h1.s ? h1.s : "", h0o, h1o[0] ? h1o : " half0.so");
  int r = system(cmd);
  free(cmd);
  assert_int_equal(r, 0);
  cmd = mc_format(
      "cd '%s' && nm -D --defined-only \"$(gcc -print-file-name=libm.so.6)\" "
      "| awk '{print $NF}' | sed 's/@.*//' | sort -u > libm.syms && nm -u%s%s "
      "| awk 'NF == 2 {print $2}' | sort -u > undef.syms && comm -23 "
      "undef.syms libm.syms > foreign.syms && if [ -s foreign.syms ]; then "
      "echo 'generated code needs more than libm:'; cat foreign.syms; exit 1; "
      "fi; echo \"nm -u: the generated objects need only libm ($(tr '\\n' "
      "' ' < undef.syms))\"", workdir, h0o, h1o);
  r = system(cmd);
  free(cmd);
  free(h0o);
  free(h1o);
  assert_int_equal(r, 0);
  for (int i = 0; i < 2; i++) {
    char *so = mc_format("%s/half%d.so", workdir, i);
    handles[i] = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!handles[i]) print_error("dlopen: %s\n", dlerror());
    free(so);
  }
  assert_non_null(handles[0]);
  for (int i = 0; i < ncases; i++) {
    Case *c = &cases[i];
    void *f = handles[i % 2] ? dlsym(handles[i % 2], c->g.fwd_ws) : NULL;
    memcpy(&c->fwd, &f, sizeof f);
    if (!c->fwd) fail_msg("%s: no symbol %s", c->name, c->g.fwd_ws);
  }
  /* The AVX-512 tiles (#if MC_AVX512) and the AVX2 vectors of the small
   * models (MC_V8_AVX2) where this CPU has them: the same files built
   * with -march=native, checked against PyTorch below. */
  int has512 = system("grep -q avx512f /proc/cpuinfo") == 0;
  int has2 = system("grep -q avx2 /proc/cpuinfo") == 0 &&
             system("grep -q ' fma ' /proc/cpuinfo") == 0;
  cpu_avx2 = has2;
  if (has512 || has2) {
    Buf vec = {0};
    int nvec = 0, n512 = 0;
    for (int i = 0; i < ncases; i++) {
      const char *c = cases[i].g.c;
      int w512 = has512 && strstr(c, "#if MC_AVX512");
      if (w512 || (has2 && cases[i].p.whole)) { /* vec1d: MC_V8 */
        buf_printf(&vec, " %s.c", cases[i].name), nvec++;
        cases[i].native = 1;
        n512 += w512 != 0;
      }
    }
    if (nvec) {
      cmd = mc_format("cd '%s' && gcc " WFLAGS " -O2 -march=native -fPIC "
                      "-shared -o native.so%s -lm", workdir, vec.s);
      assert_int_equal(system(cmd), 0);
      free(cmd);
      char *so = mc_format("%s/native.so", workdir);
      handles[2] = dlopen(so, RTLD_NOW | RTLD_LOCAL);
      free(so);
      assert_non_null(handles[2]);
      for (int i = 0; i < ncases; i++) {
        void *f = cases[i].native ? dlsym(handles[2], cases[i].g.fwd_ws)
                                  : NULL;
        memcpy(&cases[i].fwd_native, &f, sizeof f);
      }
    }
    if (nvec && have("clang")) {
      cmd = mc_format("cd '%s' && clang " WFLAGS " -march=native "
                      "-fsyntax-only%s", workdir, vec.s);
      assert_int_equal(system(cmd), 0);
      free(cmd);
    }
    printf("-march=native: %d files built (%d with AVX-512 tiles, %d with "
           "AVX2 vectors)\n", nvec, n512, nvec - n512);
    buf_free(&vec);
  } else {
    printf("-march=native: this CPU has neither AVX-512 nor AVX2; the "
           "portable path only\n");
  }
  if (have("clang")) {
    cmd = mc_format("cd '%s' && clang " WFLAGS " -fsyntax-only%s", workdir,
                    all.s);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    printf("clang: %d files compile warning-free\n", ncases);
  } else {
    printf("clang: not installed, skipped\n");
  }
  if (have("tcc")) {
    cmd = mc_format("cd '%s' && for f in%s; do tcc -Wall -Werror -c $f -o "
                    "tcc.o || exit 1; done", workdir, all.s);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    printf("tcc: %d files compile warning-free\n", ncases);
  } else {
    printf("tcc: not installed, skipped\n");
  }
  buf_free(&h0);
  buf_free(&h1);
  buf_free(&all);
}

/* Every model of tests/fixtures/tiny/ takes the vector lowering
 * (compiler/kernels/vec1d.c), as its lowered program says: a change to
 * its fits() that drops models fails here instead of leaving them to the
 * general lowering, untested. */
static void test_models_tiny_lowering(void **state) {
  (void)state;
  int ntiny = 0, dropped = 0, others = 0;
  for (int i = 0; i < ncases; i++) {
    const Case *c = &cases[i];
    if (!c->loaded) fail_msg("%s was not generated", c->spec);
    int vec = c->p.whole && strcmp(c->p.ops[0].kernel->name, "vec1d") == 0;
    if (c->from != FROM_TINY) {
      others += vec;
      continue;
    }
    ntiny++;
    if (!vec) {
      print_error("%s: not lowered as a small 1-D model (its first op: %s; "
                  "%s/%s.c)\n", c->spec, c->p.ops[0].why, workdir, c->name);
      dropped++;
    }
  }
  printf("%s: %d models, %d take the vector lowering (and %d other "
         "models)\n", from_dir[FROM_TINY], ntiny, ntiny - dropped, others);
  assert_int_equal(dropped, 0);
  assert_true(ntiny >= 80);
}

/* The input of a case: its .npy, or torch.manual_seed(0); randn(shape). */
static float *case_input(const Case *c, int64_t n) {
  if (c->in) {
    float *data;
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    char err[256];
    if (npy_read(c->in, &data, &ndim, shape, err, sizeof err))
      fail_msg("%s: %s", c->in, err);
    assert_int_equal(ndim, c->m.input.n);
    for (int i = 0; i < ndim; i++) assert_int_equal(shape[i], c->m.input.d[i]);
    return data;
  }
  float *x = mc_alloc(sizeof(float) * (size_t)n);
  TorchGen g;
  tr_seed(&g, 0);
  tr_randn(&g, x, (size_t)n);
  return x;
}

/* atol + rtol * |ref|, NaN equal to NaN; prints the worst element. */
static int allclose(const char *what, const float *got, const float *want,
                    int64_t n, double atol, double rtol) {
  int64_t worst = -1, bad = 0;
  double worst_excess = 0;
  for (int64_t i = 0; i < n; i++) {
    double g = got[i], w = want[i];
    if (isnan(g) && isnan(w)) continue;
    if (isinf(w) && g == w) continue;
    double tol = atol + rtol * fabs(w), err = fabs(g - w);
    if (!(err <= tol)) {
      bad++;
      if (worst < 0 || err - tol > worst_excess || isnan(err))
        worst = i, worst_excess = err - tol;
    }
  }
  if (bad)
    print_error("%s: %lld of %lld elements differ; worst [%lld]: got %.9g, "
                "want %.9g\n", what, (long long)bad, (long long)n,
                (long long)worst, got[worst], want[worst]);
  return bad == 0;
}

static void fill_bytes(void *p, size_t n, uint32_t seed) {
  unsigned char *b = p;
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1664525u + 1013904223u;
    b[i] = (unsigned char)(seed >> 24);
  }
}

static int guard_ok(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0xA5) return 0;
  return 1;
}

static void test_models_match_pytorch(void **state) {
  (void)state;
  int failed = 0, jit_same = 0, native_ok = 0;
  int total[FROM_N] = {0}, bad[FROM_N] = {0}, native[FROM_N] = {0};
  for (int i = 0; i < ncases; i++) {
    Case *c = &cases[i];
    if (!c->fwd) fail_msg("%s was not compiled", c->name);
    int64_t nin = c->g.input_numel, nout = c->g.output_numel;
    size_t wsb = (size_t)c->g.workspace_bytes;
    float *x = case_input(c, nin);
    float *x0 = mc_alloc(sizeof(float) * (size_t)nin);
    memcpy(x0, x, sizeof(float) * (size_t)nin);
    float *want, *y1, *y2;
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    char err[256];
    if (npy_read(c->ref, &want, &ndim, shape, err, sizeof err))
      fail_msg("%s: %s", c->ref, err);
    int64_t nref = 1;
    for (int k = 0; k < ndim; k++) nref *= shape[k];
    assert_int_equal(nref, nout);
    size_t ob = sizeof(float) * (size_t)(nout + GUARD);
    y1 = malloc(ob);
    y2 = malloc(ob);
    unsigned char *ws1 = malloc(wsb + GUARD * 4);
    unsigned char *ws2 = malloc(wsb + GUARD * 4);
    fill_bytes(y1, ob, 1);
    fill_bytes(y2, ob, 2);
    memset((unsigned char *)y1 + nout * 4, 0xA5, GUARD * 4);
    memset((unsigned char *)y2 + nout * 4, 0xA5, GUARD * 4);
    fill_bytes(ws1, wsb, 3);
    memset(ws1, 0xFF, wsb / 2); /* NaNs in part of it */
    fill_bytes(ws2, wsb, 4);
    memset(ws1 + wsb, 0xA5, GUARD * 4);
    memset(ws2 + wsb, 0xA5, GUARD * 4);
    c->fwd(x, y1, ws1);
    c->fwd(x, y2, ws2);
    int ok = allclose(c->name, y1, want, nout, 1e-5, 1e-4);
    if (memcmp(y1, y2, sizeof(float) * (size_t)nout) != 0) {
      print_error("%s: two runs with different workspaces differ\n", c->name);
      ok = 0;
    }
    if (!guard_ok((unsigned char *)y1 + nout * 4, GUARD * 4) ||
        !guard_ok(ws1 + wsb, GUARD * 4) || !guard_ok(ws2 + wsb, GUARD * 4)) {
      print_error("%s: wrote past the output or the workspace\n", c->name);
      ok = 0;
    }
    if (memcmp(x, x0, sizeof(float) * (size_t)nin) != 0) {
      print_error("%s: the input was written\n", c->name);
      ok = 0;
    }
    /* The AVX-512 build, where there is one, also matches PyTorch. */
    if (c->from == FROM_TINY && cpu_avx2 && !c->fwd_native) {
      print_error("%s: no AVX2 build to check\n", c->name);
      ok = 0;
    }
    if (c->fwd_native) {
      fill_bytes(y2, sizeof(float) * (size_t)nout, 7);
      fill_bytes(ws2, wsb, 8);
      c->fwd_native(x, y2, ws2);
      if (!allclose("  -march=native (AVX-512 or AVX2)", y2, want, nout, 1e-5, 1e-4))
        ok = 0;
      else
        native_ok++, native[c->from]++;
      if (!guard_ok(ws2 + wsb, GUARD * 4)) {
        print_error("%s: the AVX-512 build wrote past the workspace\n",
                    c->name);
        ok = 0;
      }
    }
    /* The same C through TinyCC in memory gives the same bits. */
    JitModel jm;
    Diag d = {0};
    if (jit_program(&c->p, &jm, &d)) {
      print_error("%s: %s\n", c->name, d.text.s);
      ok = 0;
    } else {
      fill_bytes(y2, sizeof(float) * (size_t)nout, 5);
      fill_bytes(ws2, wsb, 6);
      jm.fwd(x, y2, ws2);
      if (memcmp(y1, y2, sizeof(float) * (size_t)nout) != 0) {
        print_error("%s: TinyCC's result differs from gcc's\n", c->name);
        allclose("  tcc vs gcc", y2, y1, nout, 0, 0);
        ok = 0;
      } else {
        jit_same++;
      }
      if (!guard_ok(ws2 + wsb, GUARD * 4)) {
        print_error("%s: the JIT wrote past the workspace\n", c->name);
        ok = 0;
      }
      jit_model_free(&jm);
    }
    diag_free(&d);
    if (!ok) {
      print_error("  spec %s, C in %s/%s.c\n", c->spec, workdir, c->name);
      failed++;
      bad[c->from]++;
    }
    total[c->from]++;
    free(x);
    free(x0);
    free(want);
    free(y1);
    free(y2);
    free(ws1);
    free(ws2);
  }
  printf("%d models: %d match PyTorch, %d differ; TinyCC equals gcc bit for "
         "bit on %d; the -march=native build matches PyTorch on %d\n", ncases,
         ncases - failed, failed, jit_same, native_ok);
  for (int f = 0; f < FROM_N; f++)
    printf("  %s: %d models, %d match PyTorch, %d differ; -march=native "
           "matches on %d\n", from_dir[f], total[f], total[f] - bad[f],
           bad[f], native[f]);
  assert_int_equal(failed, 0);
}

/* ------------------------------------------------------------ coverage */

typedef struct Class {
  const char *name;
  int (*has)(const Layer *l);
  int count;
} Class;

static int is(const Layer *l, const char *k) {
  return strcmp(l->kind->name, k) == 0;
}
static int conv(const Layer *l) { return !strncmp(l->kind->name, "Conv", 4); }
static int pool(const Layer *l) {
  return strstr(l->kind->name, "Pool") && !strstr(l->kind->name, "Adaptive");
}
static int c_stride(const Layer *l) {
  return (conv(l) || pool(l)) && l->a.stride[0] * l->a.stride[1] > 1;
}
static int c_dil(const Layer *l) {
  return (conv(l) || is(l, "MaxPool1d") || is(l, "MaxPool2d")) &&
         (l->a.dilation[0] > 1 || l->a.dilation[1] > 1);
}
static int c_groups(const Layer *l) { return conv(l) && l->a.groups > 1; }
static int c_depthwise(const Layer *l) {
  return conv(l) && l->a.groups > 1 && l->a.groups == l->a.in;
}
static int c_nobias(const Layer *l) {
  return (conv(l) || is(l, "Linear")) && !l->a.bias;
}
static int c_same(const Layer *l) {
  return conv(l) && l->arg[3].s == NULL && l->a.pad_lo[0] != l->a.pad_hi[0];
}
static int c_zeros_pad(const Layer *l) {
  return conv(l) && l->a.pad_mode == PAD_ZEROS && l->a.pad_lo[0] > 0;
}
static int c_reflect(const Layer *l) {
  return conv(l) && l->a.pad_mode == PAD_REFLECT;
}
static int c_replicate(const Layer *l) {
  return conv(l) && l->a.pad_mode == PAD_REPLICATE;
}
static int c_circular(const Layer *l) {
  return conv(l) && l->a.pad_mode == PAD_CIRCULAR;
}
static int c_unbatched(const Layer *l) {
  return (conv(l) && l->in.n == l->kind->nsp + 1) ||
         (pool(l) && l->in.n == l->kind->nsp + 1);
}
static int c_ceil(const Layer *l) { return pool(l) && l->a.ceil_mode; }
static int c_pool_pad(const Layer *l) { return pool(l) && l->a.padding[0]; }
static int c_nocount(const Layer *l) {
  return pool(l) && l->kind->name[0] == 'A' && !l->a.count_include_pad &&
         (l->a.padding[0] || l->a.padding[1]);
}
static int c_divisor(const Layer *l) {
  return is(l, "AvgPool2d") && l->a.divisor_override;
}
static int c_adaptive_uneven(const Layer *l) {
  return strstr(l->kind->name, "Adaptive") &&
         l->in.d[l->in.n - 1] % l->out.d[l->out.n - 1] != 0;
}
static int c_bn_affine_off(const Layer *l) {
  return !strncmp(l->kind->name, "BatchNorm", 9) && !l->a.affine;
}
static int c_bn_batch_stats(const Layer *l) {
  return !strncmp(l->kind->name, "BatchNorm", 9) && !l->a.track_running_stats;
}
static int c_linear_rank(const Layer *l) {
  return is(l, "Linear") && l->in.n >= 3;
}
static int c_linear_1d(const Layer *l) { return is(l, "Linear") && l->in.n == 1; }
static int c_gelu_tanh(const Layer *l) {
  return is(l, "GELU") && l->a.approximate_tanh;
}
static int c_softmax_inner(const Layer *l) {
  return strstr(l->kind->name, "Softmax") && l->a.dim < l->in.n - 1;
}
static int c_flatten_dims(const Layer *l) {
  return is(l, "Flatten") && (l->a.start_dim != 1 || l->a.end_dim != -1);
}
static int c_maxpool2d_3d(const Layer *l) {
  return is(l, "MaxPool2d") && l->in.n == 3;
}
static int c_inline(const Layer *l) {
  return l->param[P_WEIGHT].inline_data || l->param[P_BIAS].inline_data;
}

static void test_models_coverage(void **state) {
  (void)state;
  Class classes[] = {
      {"stride > 1", c_stride, 0},
      {"dilation > 1", c_dil, 0},
      {"groups > 1", c_groups, 0},
      {"depthwise", c_depthwise, 0},
      {"bias=False", c_nobias, 0},
      {"padding='same', asymmetric", c_same, 0},
      {"zero padding", c_zeros_pad, 0},
      {"padding_mode='reflect'", c_reflect, 0},
      {"padding_mode='replicate'", c_replicate, 0},
      {"padding_mode='circular'", c_circular, 0},
      {"unbatched input", c_unbatched, 0},
      {"ceil_mode=True", c_ceil, 0},
      {"pooling padding", c_pool_pad, 0},
      {"count_include_pad=False", c_nocount, 0},
      {"divisor_override", c_divisor, 0},
      {"adaptive, uneven windows", c_adaptive_uneven, 0},
      {"BatchNorm affine=False", c_bn_affine_off, 0},
      {"BatchNorm batch statistics", c_bn_batch_stats, 0},
      {"Linear on rank >= 3", c_linear_rank, 0},
      {"Linear on rank 1", c_linear_1d, 0},
      {"GELU approximate='tanh'", c_gelu_tanh, 0},
      {"Softmax over an inner dim", c_softmax_inner, 0},
      {"Flatten start/end_dim", c_flatten_dims, 0},
      {"MaxPool2d on 3-D", c_maxpool2d_3d, 0},
      {"inline parameters", c_inline, 0},
  };
  int nclass = (int)(sizeof classes / sizeof classes[0]);
  int kinds[64] = {0}, nfixture = 0;
  for (int i = 0; i < ncases; i++) {
    Case *c = &cases[i];
    /* the random fixture, and the padding layers' (gen_pad_fixture.py) */
    if (c->from != FROM_MODELS && c->from != FROM_PAD) continue;
    nfixture += c->from == FROM_MODELS;
    for (int j = 0; j < c->m.nlayers; j++) {
      const Layer *l = &c->m.layers[j];
      for (int k = 0; layer_kind_at(k); k++)
        if (layer_kind_at(k) == l->kind) kinds[k]++;
      for (int k = 0; k < nclass; k++) classes[k].count += classes[k].has(l);
    }
  }
  printf("fixture coverage over %d models (and tests/fixtures/pad):\n",
         nfixture);
  int missing = 0;
  for (int k = 0; layer_kind_at(k); k++) {
    printf("  %-28s %5d layers\n", layer_kind_at(k)->name, kinds[k]);
    missing += kinds[k] == 0;
  }
  for (int k = 0; k < nclass; k++) {
    printf("  %-28s %5d layers\n", classes[k].name, classes[k].count);
    missing += classes[k].count == 0;
  }
  if (nfixture) assert_int_equal(missing, 0);
  assert_true(nfixture >= 300);
}

static int teardown(void **state) {
  (void)state;
  for (int i = 0; i < ncases; i++) {
    Case *c = &cases[i];
    if (c->loaded) generated_free(&c->g);
    program_free(&c->p);
    model_free(&c->m);
    free(c->spec);
    free(c->name);
    free(c->ref);
    free(c->in);
  }
  for (int i = 0; i < 3; i++)
    if (handles[i]) dlclose(handles[i]);
  return 0;
}

int main(int argc, char **argv) {
  (void)argc;
  snprintf(workdir, sizeof workdir, "%s.d", argv[0]);
  mkdir(workdir, 0777);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_models_generate_and_compile),
      cmocka_unit_test(test_models_tiny_lowering),
      cmocka_unit_test(test_models_match_pytorch),
      cmocka_unit_test(test_models_coverage),
  };
  return cmocka_run_group_tests_name("models", tests, NULL, teardown);
}
