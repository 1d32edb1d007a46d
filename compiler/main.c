/* main.c: the modelc command line. Exit status: 0 success, 1 the spec
 * (or its weights or input) is wrong, 2 the command line is wrong. */
#include "modelc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage_text[] =
    "usage: modelc <command> [options] SPEC\n"
    "\n"
    "commands:\n"
    "  check SPEC      check every shape and print the layer table\n"
    "  build SPEC      write DIR/NAME.c and DIR/NAME.h (standalone C99)\n"
    "\n"
    "options (every command):\n"
    "  --max-instructions N   Lua instructions a spec may run (default "
    "50000000)\n"
    "  --max-memory MB        memory a spec may use (default 64)\n"
    "\n"
    "  modelc --help | --version | <command> --help\n";

static const char check_help[] =
    "usage: modelc check [--max-instructions N] [--max-memory MB] SPEC\n"
    "\n"
    "Run the spec in the sandbox, infer every layer's output shape with\n"
    "PyTorch's rules and print one row per layer: index, name, the layer,\n"
    "output shape, parameters and multiply-accumulates; then the totals,\n"
    "the parameter bytes and the activation memory of the generated code.\n"
    "Errors are reported at the spec's file:line; exit 1.\n";

static const char build_help[] =
    "usage: modelc build [-o DIR] [--weights FILE] SPEC\n"
    "\n"
    "Check the spec, load its parameters (inline values, then the weights\n"
    "file, else PyTorch's default init with the spec's seed) and write\n"
    "DIR/NAME.c and DIR/NAME.h: standalone C99 for this one model, needing\n"
    "only libm. DIR defaults to generated/ and is created if missing.\n"
    "\n"
    "  -o DIR           where to write the two files\n"
    "  --weights FILE   a .safetensors file to use instead of the spec's\n"
    "                   (a path relative to the current directory)\n";

static int usage_error(const char *fmt, const char *arg) {
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
enum { OPT_OUTDIR = 1, OPT_WEIGHTS = 2 };

typedef struct Options {
  const char *spec;
  Limits lim;
  const char *outdir;  /* -o DIR (build) */
  const char *weights; /* --weights FILE */
} Options;

/* Parse argv[2..]. Returns 0, or an exit status. */
static int parse_options(int argc, char **argv, int allowed, Options *o) {
  memset(o, 0, sizeof *o);
  o->lim.max_instructions = MC_DEFAULT_INSTRUCTIONS;
  o->lim.max_memory = MC_DEFAULT_MEMORY;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    int takes_value = strcmp(a, "--max-instructions") == 0 ||
                      strcmp(a, "--max-memory") == 0 ||
                      ((allowed & OPT_OUTDIR) && strcmp(a, "-o") == 0) ||
                      ((allowed & OPT_WEIGHTS) && strcmp(a, "--weights") == 0);
    if (takes_value && i + 1 >= argc)
      return usage_error("option '%s' needs a value", a);
    if (strcmp(a, "--max-instructions") == 0 ||
        strcmp(a, "--max-memory") == 0) {
      int64_t v;
      int mem = a[6] == 'm';
      if (parse_count(argv[++i], 1, mem ? 1 << 20 : INT64_MAX / 2, &v))
        return usage_error("option '%s' needs a positive whole number", a);
      if (mem) o->lim.max_memory = v << 20;
      else o->lim.max_instructions = v;
    } else if (takes_value && strcmp(a, "-o") == 0) {
      o->outdir = argv[++i];
    } else if (takes_value && strcmp(a, "--weights") == 0) {
      o->weights = argv[++i];
    } else if (a[0] == '-' && a[1]) {
      return usage_error("unknown option '%s'", a);
    } else if (o->spec) {
      return usage_error("more than one spec given ('%s')", a);
    } else {
      o->spec = a;
    }
  }
  if (!o->spec) return usage_error("no spec given%s", "");
  return 0;
}

/* Load, check and plan a spec; with `weights`, load its parameters too. */
static int load_model(const Options *o, int weights, Diag *d, Model *m) {
  if (spec_load(o->spec, &o->lim, d, m) || shape_infer(m, d)) return -1;
  plan_memory(m);
  if (weights && weights_load(m, o->weights, d)) return -1;
  return 0;
}

static int cmd_check(int argc, char **argv) {
  Options o;
  int r = parse_options(argc, argv, 0, &o);
  if (r) return r;
  Diag d = {stderr, {0}, 0, 0};
  Model m;
  int status = 1;
  if (load_model(&o, 0, &d, &m) == 0) {
    check_print(stdout, &m);
    status = 0;
  }
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
  int r = parse_options(argc, argv, OPT_OUTDIR | OPT_WEIGHTS, &o);
  if (r) return r;
  const char *dir = o.outdir ? o.outdir : "generated";
  Diag d = {stderr, {0}, 0, 0};
  Model m;
  int status = 1;
  if (load_model(&o, 1, &d, &m) == 0) {
    Generated g;
    EmitOptions eo = {0, NULL};
    emit_model(&m, &eo, &g);
    char *cpath = mc_format("%s/%s.c", dir, m.name);
    char *hpath = mc_format("%s/%s.h", dir, m.name);
    if (mkdir(dir, 0777) && errno != EEXIST) {
      fprintf(stderr, "modelc: error: cannot create '%s': %s\n", dir,
              strerror(errno));
    } else if (write_text(cpath, g.c) == 0 && write_text(hpath, g.h) == 0) {
      status = 0;
    }
    free(cpath);
    free(hpath);
    generated_free(&g);
  }
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
