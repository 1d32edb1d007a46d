#!/bin/sh
# tests/layering.sh: the compiler's files call each other without a cycle.
#
# From the object files of compiler/ (BUILD, default build): file A
# depends on file B when A uses a symbol B defines (nm). Calls through a
# table of function pointers (a kind's parse, a kernel's emit) are not
# edges: the table is data, filled by the file that owns it. Prints each
# cycle found and fails; with -v, prints the graph.
set -u
BUILD=${BUILD:-build}
verbose=${1:-}
objs=$(find "$BUILD/compiler" -name '*.o' ! -name main.o | sort)
[ -n "$objs" ] || { echo "layering: no objects in $BUILD/compiler (make first)"; exit 1; }
for o in $objs; do
  f=${o#"$BUILD/"}
  f=${f%.o}.c
  nm "$o" | awk -v f="$f" '$1 == "U" { print "U", f, $2 } NF == 3 && $2 ~ /^[TDRB]$/ { print "D", f, $3 }'
done | awk -v verbose="$verbose" '
  $1 == "D" { def[$3] = $2; next }
  $1 == "U" { use[++n] = $2 " " $3 }
  END {
    for (i = 1; i <= n; i++) {
      split(use[i], u, " ")
      b = def[u[2]]
      if (b == "" || b == u[1]) continue
      if (!((u[1], b) in edge)) {
        edge[u[1], b] = 1
        adj[u[1]] = adj[u[1]] " " b
        nodes[u[1]] = 1; nodes[b] = 1
      }
    }
    if (verbose == "-v")
      for (a in adj) print a ":" adj[a]
    bad = 0
    for (a in nodes) state[a] = 0
    for (a in nodes) if (state[a] == 0) dfs(a, "")
    if (bad) exit 1
    print "layering: no cycle among the files of compiler/"
  }
  function dfs(a, path,   k, m, parts, i) {
    state[a] = 1
    m = split(adj[a], parts, " ")
    for (i = 1; i <= m; i++) {
      k = parts[i]
      if (state[k] == 1) { print "layering: cycle: " path " " a " -> " k; bad = 1 }
      else if (state[k] == 0) dfs(k, path " " a " ->")
    }
    state[a] = 2
  }'
