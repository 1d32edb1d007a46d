/* main.c: the modelc command line. Exit status: 0 success, 1 the spec
 * (or its weights or input) is wrong, 2 the command line is wrong. */
#include "modelc.h"
#include "graph.h"
#include "npy.h"
#include "torchrand.h"
#include "tprint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char usage_text[] =
    "usage: modelc <command> [options] SPEC\n"
    "\n"
    "commands:\n"
    "  check SPEC      check every shape and print the layer table\n"
    "  build SPEC      write DIR/NAME.c and DIR/NAME.h (standalone C99)\n"
    "  run SPEC        compile the C in memory (TinyCC), run it, print the "
    "output\n"
    "  graph SPEC      the model as a Graphviz graph, shapes on edges\n"
    "\n"
    "options (every command):\n"
    "  --max-instructions N   Lua instructions a spec may run (default "
    "50000000)\n"
    "  --max-memory MB        memory a spec may use (default 64)\n"
    "  --max-layers N         layers in the model (default 10000)\n"
    "  --max-params N         parameters of the model and values in its "
    "weights\n"
    "                         file (default 67108864)\n"
    "  --max-activation-bytes N\n"
    "                         workspace, input and output of the generated "
    "code\n"
    "                         (default 1073741824)\n"
    "  --max-code-bytes N     size of the generated C without its weights, "
    "as\n"
    "                         estimated (default 268435456)\n"
    "\n"
    "  modelc --help | --version | <command> --help\n";

static const char check_help[] =
    "usage: modelc check [--weights FILE] [--max-instructions N] "
    "[--max-memory MB]\n"
    "                    [--target NAME] SPEC\n"
    "       (and the other --max-* options of modelc --help)\n"
    "\n"
    "Run the spec in the sandbox, infer every layer's output shape with\n"
    "PyTorch's rules and print one row per layer: index, name, the layer,\n"
    "output shape, parameters and multiply-accumulates; then the totals,\n"
    "the parameter bytes and the activation memory of the generated code.\n"
    "The weights file (the spec's, or --weights FILE) is validated as\n"
    "`build` does (keys, shapes, dtypes, a corrupt file) from its header.\n"
    "With --target cortex-m4, cortex-m7 or cortex-m0, also the estimated\n"
    "flash (code and weights) and RAM (workspace, input, output).\n"
    "Errors are reported at the spec's file:line; exit 1.\n";

static const char build_help[] =
    "usage: modelc build [-o DIR] [--weights FILE] [--explain]\n"
    "                    [--kernels fast|reference] [--target NAME] SPEC\n"
    "\n"
    "Check the spec, load its parameters (inline values, then the weights\n"
    "file, else PyTorch's default init with the spec's seed) and write\n"
    "DIR/NAME.c and DIR/NAME.h: standalone C99 for this one model, needing\n"
    "only libm. DIR defaults to generated/ and is created if missing.\n"
    "\n"
    "  -o DIR           where to write the two files\n"
    "  --weights FILE   a .safetensors file to use instead of the spec's\n"
    "                   (a path relative to the current directory)\n"
    "  --explain        print which lowering each op got, and why\n"
    "  --kernels SET    fast (the default): the fastest lowering that fits\n"
    "                   each op; reference: a naive one per op kind, to\n"
    "                   check the fast ones against\n"
    "  --target NAME    what the code is for: generic (the default), any C99\n"
    "                   compiler; cortex-m4, cortex-m7 (register-blocked\n"
    "                   loops with fmaf for the FPU) or cortex-m0 (no FPU).\n"
    "                   Every target is portable C99 with the same results\n"
    "                   as `modelc run --target` the same target\n";

static const char run_help[] =
    "usage: modelc run [--input FILE.npy | --random-input SEED] [--weights "
    "FILE]\n"
    "                  [--output FILE.npy] [--repeat N] [--quiet]\n"
    "                  [--kernels fast|reference] [--target NAME] SPEC\n"
    "\n"
    "Compile the model's C (what `modelc build` writes) in memory with TinyCC,\n"
    "run it once and print the output tensor as PyTorch prints it.\n"
    "\n"
    "  --input FILE.npy     the input: float32 or float64, C order, exactly the\n"
    "                       spec's input shape\n"
    "  --random-input SEED  torch.manual_seed(SEED); torch.randn(shape), bit for\n"
    "                       bit (the default is --random-input 0)\n"
    "  --weights FILE       a .safetensors file to use instead of the spec's\n"
    "  --output FILE.npy    also write the output (float32, C order)\n"
    "  --repeat N           then run N more times and print the median time\n"
    "  --quiet              do not print the tensor\n"
    "  --kernels SET        fast (the default) or reference, as for build\n"
    "  --target NAME        generic (the default) or a cortex-m, as for build\n";

static const char graph_help[] =
    "usage: modelc graph [-o FILE] SPEC\n"
    "\n"
    "Check the spec and print the model as a Graphviz DOT graph: a node per\n"
    "layer (index, name, the layer as written, parameters), the input and\n"
    "the output as nodes of their own, each edge labelled with the shape of\n"
    "the tensor on it.\n"
    "\n"
    "  -o FILE   write FILE instead of printing: FILE.svg or FILE.png runs\n"
    "            Graphviz's dot (apt-get install graphviz), FILE.dot or\n"
    "            FILE.gv is the DOT text\n";

/* fmt takes the one string arg. */
MC_PRINTF(1, 0) static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "modelc: error: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n\n%s", usage_text);
  return 2;
}

static int parse_count(const char *s, int64_t lo, int64_t hi, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

/* Options a command accepts. */
enum { OPT_OUTDIR = 1, OPT_WEIGHTS = 2, OPT_RUN = 4, OPT_EXPLAIN = 8,
       OPT_LOWER = 16, OPT_TARGET = 32 };

typedef struct Options {
  const char *spec;
  Limits lim;
  const char *outdir;  /* -o DIR (build) */
  const char *weights; /* --weights FILE */
  const char *input, *output; /* run: --input, --output */
  int has_random;
  int64_t random_seed, repeat;
  int quiet, explain;
  KernelSet kernels; /* --kernels */
  Target target;     /* --target */
} Options;

/* The --max-* options that take a count, and where each goes. */
static int64_t *limit_option(const char *a, Limits *lim, int64_t *hi) {
  *hi = INT64_MAX / 2;
  if (strcmp(a, "--max-instructions") == 0) return &lim->max_instructions;
  if (strcmp(a, "--max-layers") == 0) {
    *hi = 100000000;
    return &lim->max_layers;
  }
  if (strcmp(a, "--max-params") == 0) {
    *hi = MC_MAX_NUMEL;
    return &lim->max_params;
  }
  if (strcmp(a, "--max-activation-bytes") == 0) return &lim->max_activation;
  if (strcmp(a, "--max-code-bytes") == 0) return &lim->max_code;
  return NULL;
}

/* Parse argv[2..]. Returns 0, or an exit status. */
static int parse_options(int argc, char **argv, int allowed, Options *o) {
  memset(o, 0, sizeof *o);
  o->kernels = KERNELS_FAST;
  o->target = TARGET_GENERIC;
  limits_resolve(&o->lim, &o->lim);
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    int run = allowed & OPT_RUN;
    int64_t hi, *limit = limit_option(a, &o->lim, &hi);
    int takes_value = limit || strcmp(a, "--max-memory") == 0 ||
                      ((allowed & OPT_OUTDIR) && strcmp(a, "-o") == 0) ||
                      ((allowed & OPT_WEIGHTS) && strcmp(a, "--weights") == 0) ||
                      ((allowed & OPT_LOWER) && strcmp(a, "--kernels") == 0) ||
                      ((allowed & (OPT_LOWER | OPT_TARGET)) &&
                       strcmp(a, "--target") == 0) ||
                      (run && (strcmp(a, "--input") == 0 ||
                               strcmp(a, "--random-input") == 0 ||
                               strcmp(a, "--output") == 0 ||
                               strcmp(a, "--repeat") == 0));
    if (takes_value && i + 1 >= argc)
      return usage_error("option '%s' needs a value", a);
    if (limit) {
      if (parse_count(argv[++i], 1, hi, limit))
        return usage_error("option '%s' needs a positive whole number", a);
    } else if (strcmp(a, "--max-memory") == 0) {
      int64_t v;
      if (parse_count(argv[++i], 1, 1 << 20, &v))
        return usage_error("option '%s' needs a positive whole number", a);
      o->lim.max_memory = v << 20;
    } else if (takes_value && strcmp(a, "-o") == 0) {
      o->outdir = argv[++i];
    } else if (takes_value && strcmp(a, "--weights") == 0) {
      o->weights = argv[++i];
    } else if (takes_value && strcmp(a, "--kernels") == 0) {
      const char *v = argv[++i];
      if (strcmp(v, kernel_set_names[KERNELS_FAST]) == 0)
        o->kernels = KERNELS_FAST;
      else if (strcmp(v, kernel_set_names[KERNELS_REFERENCE]) == 0)
        o->kernels = KERNELS_REFERENCE;
      else
        return usage_error("option '--kernels' takes fast or reference, not "
                           "'%s'", v);
    } else if (takes_value && strcmp(a, "--target") == 0) {
      const char *v = argv[++i];
      int t = 0;
      while (t < TARGET_COUNT && strcmp(v, target_names[t]) != 0) t++;
      if (t == TARGET_COUNT)
        return usage_error("option '--target' takes generic, cortex-m4, "
                           "cortex-m7 or cortex-m0, not '%s'", v);
      o->target = (Target)t;
    } else if (takes_value && strcmp(a, "--input") == 0) {
      o->input = argv[++i];
    } else if (takes_value && strcmp(a, "--output") == 0) {
      o->output = argv[++i];
    } else if (takes_value && strcmp(a, "--random-input") == 0) {
      if (parse_count(argv[++i], INT64_MIN / 2, INT64_MAX / 2,
                      &o->random_seed))
        return usage_error("option '%s' needs a whole number", a);
      o->has_random = 1;
    } else if (takes_value && strcmp(a, "--repeat") == 0) {
      if (parse_count(argv[++i], 1, 1000000000, &o->repeat))
        return usage_error("option '%s' needs a positive whole number", a);
    } else if (run && strcmp(a, "--quiet") == 0) {
      o->quiet = 1;
    } else if ((allowed & OPT_EXPLAIN) && strcmp(a, "--explain") == 0) {
      o->explain = 1;
    } else if (a[0] == '-' && a[1]) {
      return usage_error("unknown option '%s'", a);
    } else if (o->spec) {
      return usage_error("more than one spec given ('%s')", a);
    } else {
      o->spec = a;
    }
  }
  if (!o->spec) return usage_error("no spec given%s", "");
  if (o->input && o->has_random)
    return usage_error("give --input or --random-input, not both%s", "");
  return 0;
}

/* What load_model does with the weights file. */
enum { W_NONE, W_CHECK, W_LOAD };

/* The whole line up to the packed program: load the spec, infer shapes,
 * then the back end (driver.c): lower, plan, limits, and with W_LOAD the
 * weights and their packing. W_CHECK validates the weights file from its
 * header instead (what `check` does): the same messages either way. A
 * branching graph is checked and drawn, not lowered. */
static int load_model(const Options *o, int weights, Diag *d, Model *m,
                      Program *p) {
  memset(p, 0, sizeof *p);
  if (spec_load(o->spec, &o->lim, d, m) || shape_infer(m, d)) return -1;
  if (m->branching) {
    p->m = m; /* no ops: the limits of the layers alone */
    if (limits_check(p, d)) return -1;
    if (weights == W_LOAD) {
      diag_error(d, &m->loc, "model '%s': its forward branches (the graph "
                 "is not a chain of layers), and modelc's back end does not "
                 "build branching graphs yet; `modelc check` and `modelc "
                 "graph` work", m->name);
      return -1;
    }
  } else {
    CompileOptions co = {o->target, o->kernels, weights == W_LOAD,
                         o->weights};
    if (compile_model(m, &co, p, d)) return -1;
  }
  if (weights == W_CHECK && weights_check(m, o->weights, d)) return -1;
  return 0;
}

static int cmd_check(int argc, char **argv) {
  Options o;
  int r = parse_options(argc, argv, OPT_WEIGHTS | OPT_TARGET, &o);
  if (r) return r;
  Diag d = {stderr, {0}, 0, 0};
  Model m;
  Program p;
  int status = 1;
  if (load_model(&o, W_CHECK, &d, &m, &p) == 0) {
    check_print(stdout, &m);
    check_print_target(stdout, &p);
    status = 0;
  }
  program_free(&p);
  model_free(&m);
  diag_free(&d);
  return status;
}

static int write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    fprintf(stderr, "modelc: error: cannot write '%s': %s\n", path,
            strerror(errno));
    return -1;
  }
  size_t n = strlen(text);
  int bad = fwrite(text, 1, n, f) != n;
  bad |= fclose(f) != 0;
  if (bad) {
    fprintf(stderr, "modelc: error: cannot write '%s'\n", path);
    return -1;
  }
  return 0;
}

static int cmd_build(int argc, char **argv) {
  Options o;
  int r = parse_options(argc, argv,
                        OPT_OUTDIR | OPT_WEIGHTS | OPT_EXPLAIN | OPT_LOWER, &o);
  if (r) return r;
  const char *dir = o.outdir ? o.outdir : "generated";
  Diag d = {stderr, {0}, 0, 0};
  Model m;
  Program p;
  int status = 1;
  if (load_model(&o, W_LOAD, &d, &m, &p) == 0) {
    Generated g;
    EmitOptions eo = {.version = NULL};
    emit_program(&p, &eo, &g);
    char *cpath = mc_format("%s/%s.c", dir, m.name);
    char *hpath = mc_format("%s/%s.h", dir, m.name);
    if (mkdir(dir, 0777) && errno != EEXIST) {
      fprintf(stderr, "modelc: error: cannot create '%s': %s\n", dir,
              strerror(errno));
    } else if (write_text(cpath, g.c) == 0 && write_text(hpath, g.h) == 0) {
      status = 0;
      if (o.explain) {
        char *x = program_explain(&p);
        fputs(x, stdout);
        free(x);
      }
      check_print_target(stdout, &p);
    }
    free(cpath);
    free(hpath);
    generated_free(&g);
  }
  program_free(&p);
  model_free(&m);
  diag_free(&d);
  return status;
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The input tensor: a .npy file of exactly the spec's shape, or randn. */
static float *run_input(const Options *o, const Model *m, Diag *d) {
  int64_t n = shape_numel(&m->input);
  if (!o->input) {
    float *x = mc_alloc(sizeof(float) * (size_t)n);
    TorchGen g;
    tr_seed(&g, (uint64_t)o->random_seed);
    tr_randn(&g, x, (size_t)n);
    return x;
  }
  float *x;
  int ndim;
  int64_t dims[NPY_MAX_DIMS];
  char err[512];
  if (npy_read(o->input, &x, &ndim, dims, err, sizeof err)) {
    diag_plain(d, "input file '%s': %s", o->input, err);
    return NULL;
  }
  Shape s = {ndim, {0}};
  for (int i = 0; i < ndim && i < MC_MAXDIM; i++) s.d[i] = dims[i];
  if (ndim > MC_MAXDIM || !shape_eq(&s, &m->input)) {
    char *got = shape_str(&s), *want = shape_str(&m->input);
    diag_error(d, &m->loc, "input file '%s' has shape %s, but the model's "
               "input is %s", o->input, got, want);
    free(got);
    free(want);
    free(x);
    return NULL;
  }
  return x;
}

static int cmd_run(int argc, char **argv) {
  Options o;
  int r = parse_options(argc, argv, OPT_WEIGHTS | OPT_RUN | OPT_LOWER, &o);
  if (r) return r;
  Diag d = {stderr, {0}, 0, 0};
  Model m;
  Program p;
  JitModel jm = {0};
  float *x = NULL, *y = NULL;
  void *ws = NULL;
  int status = 1;
  if (load_model(&o, W_LOAD, &d, &m, &p) ||
      (x = run_input(&o, &m, &d)) == NULL || jit_program(&p, &jm, &d))
    goto done;
  Shape out = m.layers[m.nlayers - 1].out; /* a model has >= 1 layer */
  y = mc_alloc(sizeof(float) * (size_t)jm.g.output_numel);
  ws = mc_alloc((size_t)jm.g.workspace_bytes + 64);
  jm.fwd(x, y, ws);
  if (!o.quiet) {
    tprint(stdout, y, out.n, out.d, 0);
    char *s = shape_str(&out);
    printf("shape %s\n", s);
    free(s);
  }
  if (o.output) {
    char err[512];
    if (npy_write(o.output, y, out.n, out.d, err, sizeof err)) {
      diag_plain(&d, "output file '%s': %s", o.output, err);
      goto done;
    }
  }
  if (o.repeat) {
    double *t = mc_alloc(sizeof(double) * (size_t)o.repeat);
    for (int64_t i = 0; i < o.repeat; i++) {
      double t0 = now_ns();
      jm.fwd(x, y, ws);
      t[i] = now_ns() - t0;
    }
    qsort(t, (size_t)o.repeat, sizeof(double), cmp_double);
    double med = t[o.repeat / 2];
    printf("%lld runs: median %.3f us per inference (TinyCC)\n",
           (long long)o.repeat, med / 1e3);
    free(t);
  }
  status = 0;
done:
  free(x);
  free(y);
  free(ws);
  jit_model_free(&jm);
  program_free(&p);
  model_free(&m);
  diag_free(&d);
  return status;
}

/* -o FILE is stored in o.outdir (parse_options's one -o). */
static int cmd_graph(int argc, char **argv) {
  Options o;
  int r = parse_options(argc, argv, OPT_OUTDIR, &o);
  if (r) return r;
  if (o.outdir && !graph_format(o.outdir))
    return usage_error("cannot tell the format of '%s': name it .svg, .png "
                       "or .dot", o.outdir);
  Diag d = {stderr, {0}, 0, 0};
  Model m;
  Program p;
  int status = 1;
  if (load_model(&o, W_NONE, &d, &m, &p) == 0) {
    char err[512];
    char *text = graph_dot_str(&m);
    if (!o.outdir) {
      fputs(text, stdout);
      status = 0;
    } else if (graph_render(text, o.outdir, err, sizeof err) == 0) {
      status = 0;
    } else {
      fprintf(stderr, "modelc: error: %s\n", err);
    }
    free(text);
  }
  program_free(&p);
  model_free(&m);
  diag_free(&d);
  return status;
}

typedef struct Command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help;
} Command;

static const Command commands[] = {
    {"check", cmd_check, check_help},
    {"build", cmd_build, build_help},
    {"run", cmd_run, run_help},
    {"graph", cmd_graph, graph_help},
};

int main(int argc, char **argv) {
  if (argc < 2) return usage_error("no command given%s", "");
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    fputs(usage_text, stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("modelc %s\n", MC_VERSION);
    return 0;
  }
  int help = 0;
  for (int i = 2; i < argc; i++)
    help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (strcmp(cmd, commands[i].name) != 0) continue;
    if (help) {
      fputs(commands[i].help, stdout);
      return 0;
    }
    return commands[i].run(argc, argv);
  }
  return usage_error("unknown command '%s'", cmd);
}
