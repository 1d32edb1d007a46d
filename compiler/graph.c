/* graph.c: `modelc graph`, the model as a Graphviz DOT graph, and the
 * run of `dot` that turns it into a picture. */
#include "graph.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------- the text */

/* Print `s` as the inside of a DOT quoted string whose value Graphviz reads
 * as an escString (labels, tooltips): a quote or backslash is escaped, a
 * newline becomes a centred line break, other control bytes a space. So
 * user text shows as written and can neither end the string nor turn into
 * \N, \G, \l and the other escapes. */
static void put_esc(FILE *out, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      fputc('\\', out);
      fputc(c, out);
    } else if (c == '\n') {
      fputs("\\n", out);
    } else if (c < 0x20 || c == 0x7f) {
      fputc(' ', out);
    } else {
      fputc(c, out);
    }
  }
}


/* Fill and border colours by layer family. */
typedef struct Family {
  const char *fill, *border, *style;
} Family;

static const Family fam_conv = {"#dbeafe", "#2563eb", "rounded,filled"};
static const Family fam_pool = {"#dcfce7", "#16a34a", "rounded,filled"};
static const Family fam_norm = {"#fef9c3", "#ca8a04", "rounded,filled"};
static const Family fam_linear = {"#ffedd5", "#ea580c", "rounded,filled"};
static const Family fam_act = {"#f3e8ff", "#9333ea", "rounded,filled"};
static const Family fam_noop = {"#ffffff", "#6b7280", "rounded,dashed"};

static const Family *family(const Layer *l) {
  switch (l->kind->family) {
  case FAM_NOOP: return &fam_noop;
  case FAM_NORM: return &fam_norm;
  case FAM_CONV: return &fam_conv;
  case FAM_MAXPOOL: case FAM_AVGPOOL: case FAM_ADAPTIVE: return &fam_pool;
  case FAM_LINEAR: return &fam_linear;
  default: return &fam_act; /* activations, Softmax */
  }
}

/* An edge labelled with the shape of the tensor on it. */
static void put_edge(FILE *out, const char *from, const char *to,
                     const Shape *s) {
  char *str = shape_str(s);
  fprintf(out, "  %s -> %s [label=\"%s\"];\n", from, to, str);
  free(str);
}

/* A module model: a node per call of forward, edges from each input. */
static void graph_nodes(FILE *out, const Model *m) {
  char b1[32];
  static const Family fam_op = {"#fce7f3", "#db2777", "rounded,filled"};
  for (int i = 1; i < m->nnodes; i++) {
    const Node *n = &m->nodes[i];
    const Layer *l = n->op == N_LAYER ? &m->layers[n->layer] : NULL;
    const Family *f = l ? family(l) : &fam_op;
    char *text = node_text(m, n);
    fprintf(out, "  n%d [fillcolor=\"%s\", color=\"%s\", style=\"%s\", "
                 "label=\"", i, f->fill, f->border, f->style);
    put_esc(out, n->name);
    if (strncmp(n->name, text, strlen(text)) != 0) { /* not "add" again */
      fprintf(out, "\\n");
      put_esc(out, text);
    }
    if (l && l->nparams)
      fprintf(out, "\\n%s params", mc_group_digits(l->nparams, b1));
    fprintf(out, "\", tooltip=\"");
    put_esc(out, m->file);
    fprintf(out, ":%d\"];\n", n->loc.line);
    free(text);
  }
  char *o = shape_str(&m->nodes[m->output].out);
  fprintf(out, "  output [shape=oval, fillcolor=\"#e5e7eb\", "
               "color=\"#374151\", label=\"output\\n%s\"];\n", o);
  free(o);
  for (int i = 1; i < m->nnodes; i++) {
    const Node *n = &m->nodes[i];
    char to[32], from[32];
    snprintf(to, sizeof to, "n%d", i);
    for (int k = 0; k < n->nin; k++) {
      if (n->in[k] == 0) snprintf(from, sizeof from, "input");
      else snprintf(from, sizeof from, "n%d", n->in[k]);
      put_edge(out, from, to, &m->nodes[n->in[k]].out);
    }
  }
  char from[32];
  snprintf(from, sizeof from, "n%d", m->output);
  put_edge(out, from, "output", &m->nodes[m->output].out);
}

void graph_dot(FILE *out, const Model *m) {
  char b1[32], b2[32];
  int64_t params = 0, macs = 0;
  for (int i = 0; i < m->nlayers; i++) {
    params = mc_satadd(params, m->layers[i].nparams);
    macs = mc_satadd(macs, m->layers[i].macs);
  }
  fprintf(out, "digraph \"");
  put_esc(out, m->name);
  fprintf(out, "\" {\n");
  fprintf(out, "  graph [rankdir=TB, labelloc=t, fontname=\"Helvetica\", "
               "fontsize=16, nodesep=0.3, ranksep=0.35, label=\"");
  put_esc(out, m->name);
  fprintf(out, "\\n%s parameters, %s MACs\\n \"];\n", mc_group_digits(params, b1),
          mc_group_digits(macs, b2));
  fprintf(out, "  node [shape=box, style=\"rounded,filled\", "
               "fontname=\"Helvetica\", fontsize=12, penwidth=1.2];\n");
  fprintf(out, "  edge [fontname=\"Helvetica\", fontsize=10, "
               "fontcolor=\"#374151\", color=\"#6b7280\", arrowsize=0.7];\n");

  char *in = shape_str(&m->input);
  fprintf(out, "  input [shape=oval, fillcolor=\"#e5e7eb\", color=\"#374151\""
               ", label=\"input\\n%s\", tooltip=\"", in);
  put_esc(out, m->file);
  fprintf(out, ":%d\"];\n", m->loc.line);
  free(in);
  if (m->traced) {
    graph_nodes(out, m);
    fprintf(out, "}\n");
    return;
  }

  for (int i = 0; i < m->nlayers; i++) {
    const Layer *l = &m->layers[i];
    const Family *f = family(l);
    fprintf(out, "  l%d [fillcolor=\"%s\", color=\"%s\", style=\"%s\", "
                 "label=\"", i, f->fill, f->border, f->style);
    put_esc(out, l->text);
    fprintf(out, "\\n#%d", l->index);
    if (l->name) {
      fprintf(out, " '");
      put_esc(out, l->name);
      fprintf(out, "'");
    }
    if (l->nparams) fprintf(out, ", %s params", mc_group_digits(l->nparams, b1));
    fprintf(out, "\", tooltip=\"");
    put_esc(out, l->loc.file ? l->loc.file : m->file);
    fprintf(out, ":%d: %s MACs\"];\n", l->loc.line, mc_group_digits(l->macs, b1));
  }

  const Shape *last = m->nlayers ? &m->layers[m->nlayers - 1].out : &m->input;
  char *o = shape_str(last);
  fprintf(out, "  output [shape=oval, fillcolor=\"#e5e7eb\", "
               "color=\"#374151\", label=\"output\\n%s\"];\n", o);
  free(o);

  char from[32], to[32];
  snprintf(from, sizeof from, "input");
  const Shape *s = &m->input;
  for (int i = 0; i < m->nlayers; i++) {
    snprintf(to, sizeof to, "l%d", i);
    put_edge(out, from, to, s);
    memcpy(from, to, sizeof from);
    s = &m->layers[i].out;
  }
  put_edge(out, from, "output", s);
  fprintf(out, "}\n");
}

char *graph_dot_str(const Model *m) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) {
    fprintf(stderr, "modelc: out of memory\n");
    exit(1);
  }
  graph_dot(f, m);
  if (fclose(f) || !text) {
    fprintf(stderr, "modelc: out of memory\n");
    exit(1);
  }
  return text;
}

/* ------------------------------------------------------------ rendering */

/* Does `path` end in `ext` (".svg"), in any case? */
static int has_ext(const char *path, const char *ext) {
  size_t n = strlen(path), k = strlen(ext);
  if (n < k) return 0;
  for (size_t i = 0; i < k; i++)
    if (tolower((unsigned char)path[n - k + i]) != ext[i]) return 0;
  return 1;
}

static int write_all(int fd, const char *s, size_t n) {
  while (n) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    s += w;
    n -= (size_t)w;
  }
  return 0;
}

static int write_file(const char *text, const char *path, char *err,
                      size_t errlen) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    return -1;
  }
  size_t n = strlen(text);
  int bad = fwrite(text, 1, n, f) != n;
  bad |= fclose(f) != 0;
  if (bad) {
    snprintf(err, errlen, "cannot write '%s'", path);
    return -1;
  }
  return 0;
}

/* Run `dot -Tfmt -oPATH` with the text on its stdin. The child reports a
 * failed exec through a close-on-exec pipe, so "not installed" is told
 * apart from dot failing. */
static int run_dot(const char *text, const char *fmt, const char *path,
                   char *err, size_t errlen) {
  int in[2], ep[2];
  if (pipe(in)) {
    snprintf(err, errlen, "cannot run dot: %s", strerror(errno));
    return -1;
  }
  if (pipe(ep)) {
    snprintf(err, errlen, "cannot run dot: %s", strerror(errno));
    close(in[0]);
    close(in[1]);
    return -1;
  }
  fcntl(in[1], F_SETFD, FD_CLOEXEC);
  fcntl(ep[0], F_SETFD, FD_CLOEXEC);
  fcntl(ep[1], F_SETFD, FD_CLOEXEC);
  char targ[16], *oarg = mc_format("-o%s", path), dot[] = "dot";
  snprintf(targ, sizeof targ, "-T%s", fmt);
  char *argv[] = {dot, targ, oarg, NULL};
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    if (in[0] == 0 || dup2(in[0], 0) >= 0) {
      if (in[0] != 0) close(in[0]);
      execvp("dot", argv);
    }
    int e = errno;
    ssize_t w = write(ep[1], &e, sizeof e);
    (void)w;
    _exit(127);
  }
  int fork_errno = errno;
  free(oarg);
  close(in[0]);
  close(ep[1]);
  if (pid < 0) {
    close(in[1]);
    close(ep[0]);
    snprintf(err, errlen, "cannot run dot: %s", strerror(fork_errno));
    return -1;
  }

  /* Zero bytes: the exec succeeded. Otherwise its errno. */
  int e = 0;
  ssize_t r;
  do r = read(ep[0], &e, sizeof e);
  while (r < 0 && errno == EINTR);
  close(ep[0]);

  if (r != (ssize_t)sizeof e) {
    /* dot may stop reading early (a syntax error): no SIGPIPE for us. */
    struct sigaction ign, old;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    write_all(in[1], text, strlen(text));
    close(in[1]);
    sigaction(SIGPIPE, &old, NULL);
  } else {
    close(in[1]);
  }

  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) {
      snprintf(err, errlen, "cannot wait for dot: %s", strerror(errno));
      return -1;
    }
  if (r == (ssize_t)sizeof e) {
    if (e == ENOENT)
      snprintf(err, errlen,
               "graphviz's dot is not installed: apt-get install graphviz");
    else
      snprintf(err, errlen, "cannot run graphviz's dot: %s", strerror(e));
    return -1;
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  if (WIFEXITED(st))
    snprintf(err, errlen, "dot failed with exit status %d writing '%s'",
             WEXITSTATUS(st), path);
  else
    snprintf(err, errlen, "dot was killed by signal %d writing '%s'",
             WIFSIGNALED(st) ? WTERMSIG(st) : 0, path);
  return -1;
}

const char *graph_format(const char *outpath) {
  if (!outpath) return NULL;
  if (has_ext(outpath, ".svg")) return "svg";
  if (has_ext(outpath, ".png")) return "png";
  if (has_ext(outpath, ".dot") || has_ext(outpath, ".gv")) return "dot";
  return NULL;
}

int graph_render(const char *dot_text, const char *outpath, char *err,
                 size_t errlen) {
  const char *fmt = graph_format(outpath);
  if (!fmt) {
    snprintf(err, errlen, "cannot tell the format of '%s': name it .svg, "
             ".png or .dot", outpath ? outpath : "");
    return -1;
  }
  if (strcmp(fmt, "dot") == 0)
    return write_file(dot_text, outpath, err, errlen);
  return run_dot(dot_text, fmt, outpath, err, errlen);
}
