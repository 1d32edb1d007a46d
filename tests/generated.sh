#!/bin/sh
# tests/generated.sh: generated/ is what `make generated` writes from
# specs/ today: one .c and one .h per spec, byte for byte, nothing stale.
# Run by `make test`.
MODELC=${MODELC:-build/modelc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for s in specs/*.lua; do
  "$MODELC" build "$s" -o "$tmp" >/dev/null || { echo "FAIL: build $s"; fail=1; }
done
for f in "$tmp"/*; do
  g=generated/$(basename "$f")
  if [ ! -f "$g" ]; then
    echo "FAIL: $g is missing: run make generated"; fail=1
  elif ! cmp -s "$f" "$g"; then
    echo "FAIL: $g is out of date: run make generated"; diff "$g" "$f" | head -5; fail=1
  fi
done
for g in generated/*; do
  [ -f "$tmp/$(basename "$g")" ] || { echo "FAIL: $g has no spec: run make generated"; fail=1; }
done
# Building twice gives the same bytes.
"$MODELC" build specs/seed_cnn1d.lua -o "$tmp/again" >/dev/null
cmp -s "$tmp/again/seed_cnn1d.c" generated/seed_cnn1d.c || { echo "FAIL: a second build differs"; fail=1; }
# So does building from another directory, the spec given by another path
# (absolute, and relative through ..): the files differ only in the spec
# path they record, the one given on the command line.
here=$(pwd)
abs_modelc=$(cd "$(dirname "$MODELC")" && pwd)/$(basename "$MODELC")
mkdir -p "$tmp/elsewhere/sub"
up=$(cd "$tmp/elsewhere/sub" && pwd | sed 's|[^/][^/]*|..|g; s|^/||')
for s in specs/*.lua; do
  n=$(basename "$s" .lua)
  for given in "$here/$s" "$up$here/$s"; do
    (cd "$tmp/elsewhere/sub" && "$abs_modelc" build "$given" -o "$tmp/other" >/dev/null) ||
      { echo "FAIL: build $given from $tmp/elsewhere/sub"; fail=1; continue; }
    for ext in c h; do
      # Normalise the recorded path (a sed pattern, so quote its specials).
      pat=$(printf '%s' "$given" | sed 's/[].[\\*^$/]/\\&/g')
      sed "s/$pat/$(printf '%s' "$s" | sed 's/[\\/&]/\\&/g')/g" "$tmp/other/$n.$ext" >"$tmp/other/norm"
      cmp -s "$tmp/other/norm" "generated/$n.$ext" ||
        { echo "FAIL: $n.$ext built from elsewhere as $given differs beyond the spec path"; diff "generated/$n.$ext" "$tmp/other/norm" | head -5; fail=1; }
    done
  done
done
n=$(ls generated | wc -l)
[ $fail = 0 ] && echo "generated: $n files in sync with specs/"
exit $fail
