#!/usr/bin/env python3
"""node_times.py: where the time of one generated forward call goes, node by
node (a tool for tuning kernels; not part of make test, needs only gcc).

  python3 tools/node_times.py build/modelc specs/resnet8.lua [more specs]

Builds each spec with modelc into build/node_times/, rewrites a copy of the
entry point so that each call in it is timed (CLOCK_MONOTONIC around the
call), compiles it with gcc -O3 -march=native, runs the forward pass many
times and prints, per node, the median time of one call and its share of the
sum. Node functions keep their bodies; the clock reads add ~20 ns per call.
"""
import os, re, subprocess, sys

CFLAGS = ["-O3", "-march=native", "-std=c99"]

MAIN = r"""
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "%(name)s.h"
extern long long mc_node_ns[];
extern const char *mc_node_names[];
extern int mc_node_count;
static int cmp(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return (x > y) - (x < y);
}
int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 2000;
  float *in, *out;
  void *ws;
  if (posix_memalign((void **)&in, 64, %(U)s_INPUT_SIZE * 4 + 64) ||
      posix_memalign((void **)&out, 64, %(U)s_OUTPUT_SIZE * 4 + 64) ||
      posix_memalign(&ws, 64, %(U)s_WORKSPACE_SIZE + 64)) return 1;
  for (long i = 0; i < %(U)s_INPUT_SIZE; i++) in[i] = (float)((i * 7919) %% 1000) / 500.0f - 1.0f;
  long long *t = calloc((size_t)rounds * mc_node_count, sizeof *t);
  long long *tot = calloc((size_t)rounds, sizeof *tot);
  for (int w = 0; w < rounds / 10 + 1; w++) %(name)s_forward_ws(in, out, ws);
  for (int r = 0; r < rounds; r++) {
    memset(mc_node_ns, 0, sizeof(long long) * mc_node_count);
    %(name)s_forward_ws(in, out, ws);
    for (int k = 0; k < mc_node_count; k++) {
      t[(size_t)k * rounds + r] = mc_node_ns[k];
      tot[r] += mc_node_ns[k];
    }
  }
  qsort(tot, rounds, sizeof *tot, cmp);
  double sum = 0;
  for (int k = 0; k < mc_node_count; k++) {
    qsort(t + (size_t)k * rounds, rounds, sizeof *t, cmp);
    sum += t[(size_t)k * rounds + rounds / 2];
  }
  for (int k = 0; k < mc_node_count; k++) {
    long long m = t[(size_t)k * rounds + rounds / 2];
    printf("  %%-24s %%9.2f us  %%5.1f%%%%\n", mc_node_names[k], m / 1e3, 100.0 * m / sum);
  }
  printf("  %%-24s %%9.2f us  (median of the whole call: %%.2f us)\n", "sum of medians", sum / 1e3,
         tot[rounds / 2] / 1e3);
  return 0;
}
"""


def instrument(src):
    """Wraps each call in NAME_forward_ws with clock reads."""
    m = re.search(r"^void (\w+)_forward_ws\([^;{]*\)\s*\{\n(.*?)^\}", src, re.M | re.S)
    if not m:
        sys.exit("node_times: no _forward_ws in the generated C")
    body, names, out = m.group(2), [], []
    for line in body.split("\n"):
        c = re.match(r"(\s*)(\w+)\((.*)\);(.*)$", line)
        if c and not line.strip().startswith("float *ws"):
            k = len(names)
            names.append(c.group(2))
            out.append("%s{ struct timespec a_, b_; clock_gettime(CLOCK_MONOTONIC, &a_);"
                       " %s(%s); clock_gettime(CLOCK_MONOTONIC, &b_);"
                       " mc_node_ns[%d] += (b_.tv_sec - a_.tv_sec) * 1000000000LL"
                       " + (b_.tv_nsec - a_.tv_nsec); }"
                       % (c.group(1), c.group(2), c.group(3), k))
        else:
            out.append(line)
    head = ("#include <time.h>\nlong long mc_node_ns[%d];\nint mc_node_count = %d;\n"
            "const char *mc_node_names[] = {%s};\n"
            % (len(names), len(names), ", ".join('"%s"' % n for n in names)))
    src = src[:m.start(2)] + "\n".join(out) + src[m.end(2):]
    # the node functions must not be inlined into one another's timing
    src = re.sub(r"^static void (n\d+_)", r"static __attribute__((noinline)) void \1", src, flags=re.M)
    return "#define _POSIX_C_SOURCE 200809L\n" + src.replace("/* ---- layers */", head + "/* ---- layers */", 1)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    modelc, specs = sys.argv[1], sys.argv[2:]
    d = "build/node_times"
    os.makedirs(d, exist_ok=True)
    for spec in specs:
        subprocess.run([modelc, "build", spec, "-o", d], check=True)
        name = os.path.splitext(os.path.basename(spec))[0]
        with open(os.path.join(d, name + ".c")) as f:
            src = f.read()
        name = re.search(r"^void (\w+)_forward_ws", src, re.M).group(1)
        with open(os.path.join(d, name + "_timed.c"), "w") as f:
            f.write(instrument(src))
        with open(os.path.join(d, name + "_main.c"), "w") as f:
            f.write(MAIN % {"name": name, "U": name.upper()})
        exe = os.path.join(d, name + "_timed")
        subprocess.run(["gcc"] + CFLAGS + ["-I" + d, os.path.join(d, name + "_timed.c"),
                        os.path.join(d, name + "_main.c"), "-o", exe, "-lm"], check=True)
        print("%s (gcc %s), median per node:" % (spec, " ".join(CFLAGS)))
        sys.stdout.flush()
        subprocess.run([exe, os.environ.get("ROUNDS", "2000")], check=True)


if __name__ == "__main__":
    main()
