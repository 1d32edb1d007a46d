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
# Building twice gives the same bytes; so does building from elsewhere.
"$MODELC" build specs/seed_cnn1d.lua -o "$tmp/again" >/dev/null
cmp -s "$tmp/again/seed_cnn1d.c" generated/seed_cnn1d.c || { echo "FAIL: a second build differs"; fail=1; }
n=$(ls generated | wc -l)
[ $fail = 0 ] && echo "generated: $n files in sync with specs/"
exit $fail
