/* main.c: the modelc command line. Exit status: 0 success, 1 the spec
 * (or its weights or input) is wrong, 2 the command line is wrong. */
#include "modelc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: modelc <command> [options] SPEC\n"
    "\n"
    "commands:\n"
    "  check SPEC      check every shape and print the layer table\n"
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

typedef struct Options {
  const char *spec;
  Limits lim;
} Options;

/* Options shared by every command. Returns 0, or an exit status. */
static int parse_options(int argc, char **argv, Options *o) {
  o->spec = NULL;
  o->lim.max_instructions = MC_DEFAULT_INSTRUCTIONS;
  o->lim.max_memory = MC_DEFAULT_MEMORY;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--max-instructions") == 0 ||
        strcmp(a, "--max-memory") == 0) {
      int64_t v;
      int mem = a[6] == 'm';
      if (i + 1 >= argc)
        return usage_error("option '%s' needs a value", a);
      if (parse_count(argv[++i], 1, mem ? 1 << 20 : INT64_MAX / 2, &v))
        return usage_error("option '%s' needs a positive whole number", a);
      if (mem) o->lim.max_memory = v << 20;
      else o->lim.max_instructions = v;
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

static int cmd_check(int argc, char **argv) {
  Options o;
  int r = parse_options(argc, argv, &o);
  if (r) return r;
  Diag d = {stderr, {0}, 0, 0};
  Model m;
  int status = 1;
  if (spec_load(o.spec, &o.lim, &d, &m) == 0 && shape_infer(&m, &d) == 0) {
    plan_memory(&m);
    check_print(stdout, &m);
    status = 0;
  }
  model_free(&m);
  diag_free(&d);
  return status;
}

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
  if (strcmp(cmd, "check") == 0) {
    if (help) {
      fputs(check_help, stdout);
      return 0;
    }
    return cmd_check(argc, argv);
  }
  return usage_error("unknown command '%s'", cmd);
}
