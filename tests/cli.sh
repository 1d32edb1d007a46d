#!/bin/sh
# tests/cli.sh: modelc's command line as a user meets it: exit status 0 on
# success, 1 when the spec is wrong, 2 when the command line is wrong; help
# and version; errors on stderr at file:line. Run by `make test`.
MODELC=${MODELC:-build/modelc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

# expect STATUS PATTERN [STREAM] -- ARGS...: run modelc, check the exit
# status and that PATTERN (grep -E; empty: no check) appears on stdout or
# stderr.
expect() {
  want=$1 pattern=$2 stream=$3
  shift 4
  "$MODELC" "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  file="$tmp/$stream"
  if [ "$got" = "$want" ] && { [ -z "$pattern" ] || grep -Eq -- "$pattern" "$file"; }; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: modelc $* (exit $got, want $want; '$pattern' on $stream)"
    sed 's/^/  | /' "$tmp/out" "$tmp/err" | head -8
  fi
}

expect 0 '^usage: modelc <command>' out -- --help
expect 0 '^modelc [0-9]+\.[0-9]+\.[0-9]+$' out -- --version
expect 0 '^usage: modelc check' out -- check --help
expect 2 'no command given' err --
expect 2 "unknown command 'frobnicate'" err -- frobnicate x.lua
expect 2 'no spec given' err -- check
expect 2 "unknown option '--bogus'" err -- check --bogus specs/seed_cnn1d.lua
expect 2 'more than one spec' err -- check specs/seed_cnn1d.lua specs/cnn1d_class.lua
expect 2 "'--max-memory' needs a positive whole number" err -- check --max-memory x specs/seed_cnn1d.lua
expect 2 "'--max-instructions' needs a value" err -- check specs/seed_cnn1d.lua --max-instructions
expect 1 "cannot open spec '$tmp/none.lua'" err -- check "$tmp/none.lua"
expect 1 "cannot read spec '$tmp': Is a directory" err -- check "$tmp"

# A good spec: the table on stdout, exit 0.
expect 0 '^  7  7     Linear\(16, 2\) +\[2, 2\] +34 +64$' out -- check specs/seed_cnn1d.lua
expect 0 '^total: 330 parameters' out -- check specs/seed_cnn1d.lua

# A wrong spec: file:line on stderr, exit 1.
cat >"$tmp/bad.lua" <<'LUA'
return model "bad" {
  input = {2, 4, 5},
  nn.Conv1d{3, 2, 3},
}
LUA
expect 1 "^$tmp/bad.lua:3: error: layer 0 \(Conv1d\): Given groups=1, weight of size \[2, 3, 3\], expected input\[2, 4, 5\] to have 3 channels, but got 4 channels instead$" err -- check "$tmp/bad.lua"

# Limits come from the command line.
printf 'local n = 0\nfor i = 1, 2000000 do n = n + i end\nreturn model "m" { input = {1, 2}, nn.ReLU{} }\n' >"$tmp/busy.lua"
expect 1 "^$tmp/busy.lua:2: error: the spec ran for more than 1000 Lua instructions" err -- check --max-instructions 1000 "$tmp/busy.lua"
expect 0 'ReLU' out -- check "$tmp/busy.lua"
printf 'local s = ("x"):rep(3000000)\nreturn model "m" { input = {1, 2}, nn.ReLU{} }\n' >"$tmp/big.lua"
expect 1 "^$tmp/big.lua:1: error: the spec used more than 2 MB of memory" err -- check --max-memory 2 "$tmp/big.lua"
expect 0 'ReLU' out -- check --max-memory 8 "$tmp/big.lua"

# build, run, graph: the other commands' exits and outputs.
expect 0 '^usage: modelc build' out -- build --help
expect 0 '^usage: modelc run' out -- run --help
expect 0 '^usage: modelc graph' out -- graph --help
expect 0 '' out -- build specs/seed_cnn1d.lua -o "$tmp/gen"
expect 0 '^l0_conv1d: vector: whole model channels-last, 3 of 4 output positions' out -- build specs/seed_cnn1d.lua -o "$tmp/gen" --explain
expect 0 '^l2_maxpool1d: fused into l0_conv1d$' out -- build specs/seed_cnn1d.lua -o "$tmp/gen" --explain
expect 0 '^l7_linear: vector axpy: 16 inputs' out -- build specs/seed_cnn1d.lua -o "$tmp/gen" --explain
expect 0 '^l4_linear: vector dot: each of 2 outputs a dot product of 40 vectors' out -- build specs/cnn1d_class.lua -o "$tmp/gen" --explain
expect 0 '^l0_conv2d: blocked: 6 output channels x 16 positions' out -- build specs/lenet5.lua -o "$tmp/gen" --explain
# A batch too large for the cache runs in passes of a chunk (chunk.c):
# check and --explain say so; the header has the whole batch's input and
# output and one chunk's workspace.
expect 0 ', for 8 samples at a time, plus input and output 49.6 KiB' out -- check specs/lenet5_batch.lua
expect 0 '^the batch of 16 in 2 passes of 8 samples: 37 KiB of tensors per sample' out -- build specs/lenet5_batch.lua -o "$tmp/gen" --explain
for want in 'LENET5_BATCH_INPUT_SIZE 12544 /\* floats, shape \[16, 1, 28, 28\] \*/' \
            'LENET5_BATCH_OUTPUT_SIZE 160 /\* floats, shape \[16, 10\] \*/'; do
  grep -q "$want" "$tmp/gen/lenet5_batch.h" && pass=$((pass + 1)) ||
    { fail=$((fail + 1)); echo "FAIL: lenet5_batch.h lacks '$want'"; }
done
# its workspace is that of the same model at batch 8, one chunk
sed 's/input = {16,/input = {8,/; s/"lenet5_batch"/"lenet5_b8"/' specs/lenet5_batch.lua >"$tmp/lenet5_b8.lua"
"$MODELC" build "$tmp/lenet5_b8.lua" -o "$tmp/gen" >/dev/null 2>&1
w16=$(awk '$2 == "LENET5_BATCH_WORKSPACE_SIZE" { print $3 }' "$tmp/gen/lenet5_batch.h")
w8=$(awk '$2 == "LENET5_B8_WORKSPACE_SIZE" { print $3 }' "$tmp/gen/lenet5_b8.h")
[ -n "$w8" ] && [ "$w16" = "$w8" ] && pass=$((pass + 1)) ||
  { fail=$((fail + 1)); echo "FAIL: lenet5_batch's workspace $w16, batch 8's $w8"; }
grep -q 'for (int c = 0; c < 2; c++) { /\* chunk \*/' "$tmp/gen/lenet5_batch.c" &&
  pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: lenet5_batch.c: no loop over 2 chunks"; }
expect 0 '^l3_maxpool1d: per output: every window is inside the input' out -- build specs/m5_kws.lua -o "$tmp/gen" --explain
expect 0 '^l11_linear: dot: 10 outputs' out -- build specs/lenet5.lua -o "$tmp/gen" --explain
expect 0 '^  modelc run: the interior.s tiles through the host microkernel mcj_conv_block$' out -- build specs/lenet5.lua -o "$tmp/gen" --explain
expect 0 '^  modelc run: each row through the host microkernel mcj_linear_axpy$' out -- build specs/lenet5.lua -o "$tmp/gen" --explain
expect 0 '^l0_conv3d: im2col: the input under each tap copied once as \[108 taps\]\[600 positions\] per output plane' out -- build specs/conv3d_volume.lua -o "$tmp/gen" --explain
# The naive lowerings: chosen on the command line, in build and run.
expect 0 '^l0_conv2d: reference: one output at a time' out -- build specs/lenet5.lua -o "$tmp/ref" --explain --kernels reference
expect 0 '^l11_linear: reference: ' out -- build specs/lenet5.lua -o "$tmp/ref" --explain --kernels reference --target generic
expect 0 '^shape \[2, 2, 2\]' out -- run specs/conv1d_tutorial.lua --kernels reference
expect 2 "'--kernels' takes fast or reference, not 'slow'" err -- build specs/lenet5.lua --kernels slow
expect 2 "'--target' takes generic, cortex-m4, cortex-m7 or cortex-m0, not 'cortex-m9'" err -- run specs/lenet5.lua --target cortex-m9
expect 2 "'--target' takes generic, cortex-m4, cortex-m7 or cortex-m0, not 'M4'" err -- build specs/lenet5.lua --target M4
expect 2 "'--target' takes generic, cortex-m4, cortex-m7 or cortex-m0, not ''" err -- check specs/lenet5.lua --target ''
expect 2 "option '--target' needs a value" err -- check specs/lenet5.lua --target
# --target cortex-m*: register tiles, what check and build say it needs.
expect 0 '^cortex-m4 estimate: flash .*\(code at most about .*, weights at most 241.0 KiB\), RAM 26.1 KiB \(workspace 23.0 KiB, input 3136 B, output 40 B\)$' out -- check specs/lenet5.lua --target cortex-m4
expect 0 '^cortex-m0 estimate: flash ' out -- build specs/lenet5.lua -o "$tmp/m0" --target cortex-m0
expect 0 '^l0_conv2d: registers: 4 output channels x 4 positions in 16 float locals, fmaf \(one vfma each\), taps unrolled, over 784 interior outputs$' out -- build specs/lenet5.lua -o "$tmp/m4" --explain --target cortex-m4
expect 0 '^l0_conv1d: registers: .*acc \+ w \* x \(no FPU\).*; the max pool after it fused' out -- build specs/cnn1d_class.lua -o "$tmp/m0" --explain --target cortex-m0
expect 0 '^l2_maxpool1d: fused into l0_conv1d$' out -- build specs/cnn1d_class.lua -o "$tmp/m7" --explain --target cortex-m7
expect 0 '^shape \[2, 2\]$' out -- run specs/seed_cnn1d.lua --target cortex-m4
expect 0 '^shape \[2, 2\]$' out -- run specs/seed_cnn1d.lua --target cortex-m0
expect 2 "unknown option '--kernels'" err -- check specs/lenet5.lua --kernels fast
expect 1 "^$tmp/bad.lua:3: error:" err -- build "$tmp/bad.lua" -o "$tmp/gen"
expect 2 "unknown option '--input'" err -- build --input x.npy specs/seed_cnn1d.lua
expect 0 '^shape \[2, 2\]$' out -- run specs/seed_cnn1d.lua
expect 1 "^$tmp/bad.lua:3: error:" err -- run "$tmp/bad.lua"
expect 0 '^  l0 -> l1 \[label="\[2, 8, 9\]"\];$' out -- graph specs/seed_cnn1d.lua
expect 0 '^  input -> l0 \[label="\[2, 1, 10\]"\];$' out -- graph specs/seed_cnn1d.lua
expect 0 '' out -- graph specs/seed_cnn1d.lua -o "$tmp/g.dot"
expect 2 "cannot tell the format of 'g.jpg'" err -- graph specs/seed_cnn1d.lua -o g.jpg
[ -f "$tmp/gen/seed_cnn1d.c" ] && [ -f "$tmp/gen/seed_cnn1d.h" ] || { echo "FAIL: build wrote no files"; fail=$((fail + 1)); }
# A target's C says which target it is for and which run it matches.
grep -q '^ \*   target     cortex-m4 (modelc build --target cortex-m4): its tiles call fmaf$' "$tmp/m4/lenet5.c" &&
  grep -q '^ \* Results are bit for bit those of `modelc run --target cortex-m4` when the$' "$tmp/m4/lenet5.c" &&
  ! grep -q 'target     ' "$tmp/gen/seed_cnn1d.c" ||
  { echo "FAIL: the header of a cortex-m4 build does not name its target"; fail=$((fail + 1)); }
grep -q '^digraph "seed_cnn1d"' "$tmp/g.dot" || { echo "FAIL: graph -o g.dot"; fail=$((fail + 1)); }

# A module model: check names each call by its module path or operation.
expect 0 '^  0  conv1         Conv2d\(1, 6, 5, padding=2\)  input ' out -- check tests/specs/lenet5_module.lua
expect 0 '^  6  view          view\(\[1, 400\]\) ' out -- check tests/specs/lenet5_module.lua
expect 0 '' err -- build tests/specs/resnet_tiny.lua -o "$tmp/gen"
expect 0 '^n7_conv2d: .*; \+ the residual and the activations as each tile is stored$' out -- build tests/specs/resnet_tiny.lua -o "$tmp/gen" --explain
expect 0 '^n7_conv2d: .*then \+ the residual and the activations over the output$' out -- build --target cortex-m4 tests/specs/resnet_tiny.lua -o "$tmp/gen" --explain
expect 0 '^ 18  add_1 ' out -- check tests/specs/resnet_tiny.lua

# The banner names the weights file the values came from: the spec's, or
# the one --weights gave.
cp specs/se_block.safetensors "$tmp/other.safetensors"
expect 0 '' out -- build specs/se_block.lua -o "$tmp/gen"
grep -q "^ \*   weights    file 'se_block.safetensors'\$" "$tmp/gen/se_block.c" && pass=$((pass + 1)) ||
  { echo "FAIL: the banner does not name the spec's weights file"; fail=$((fail + 1)); }
expect 0 '' out -- build specs/se_block.lua --weights "$tmp/other.safetensors" -o "$tmp/gen"
grep -q "^ \*   weights    file '$tmp/other.safetensors' (--weights)\$" "$tmp/gen/se_block.c" && pass=$((pass + 1)) ||
  { echo "FAIL: the banner does not name the --weights file"; fail=$((fail + 1)); }

# Non-finite weights are constants every compiler folds, tcc included.
printf 'return model "ninf" {\n  input = {1, 2},\n  nn.Linear{2, 2, weight = {{-1/0, 1}, {0/0, 1/0}}, bias = {0, 0}},\n}\n' >"$tmp/ninf.lua"
expect 0 '^\[\[-inf, nan\]\]$' out -- run "$tmp/ninf.lua"
expect 0 '' out -- build "$tmp/ninf.lua" -o "$tmp/ninf"
for cc in tcc gcc; do
  if command -v $cc >/dev/null 2>&1; then
    if $cc -std=c99 -Wall -Wextra -pedantic -Werror -c "$tmp/ninf/ninf.c" -o "$tmp/ninf.o"; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1)); echo "FAIL: $cc cannot compile non-finite weights"
    fi
  fi
done

# Arrays of 16384 floats or more are written as their little-endian bytes
# (on a little-endian compiler) and as numbers (elsewhere, or with
# -DMODELC_WEIGHTS_AS_NUMBERS), smaller ones as numbers only; every way
# gives the values modelc run computes with, bit for bit, warning-free.
cat >"$tmp/big.lua" <<'EOF'
local function column(n, k)
  local t = {}
  for i = 1, n do
    local v = ((i * k) % 2001 - 1000) / 997
    if i % 1000 == 1 then v = -0.0 elseif i == 2 then v = 1e-40 elseif i == 3 then v = 3e38 end
    t[i] = {v}
  end
  return t
end
local function row(n, k) local c = column(n, k); local r = {}; for i = 1, n do r[i] = c[i][1] end; return r end
return model "big" {
  input = {1, 1},
  nn.Linear{1, 16383, weight = column(16383, 7919), bias = row(16383, 104729)},
  nn.Linear{16383, 1, weight = {row(16383, 15485863)}, bias = {0.5}},
  nn.Linear{1, 16384, weight = column(16384, 32452843), bias = row(16384, 49979687)},
}
EOF
printf "\223NUMPY\001\000\166\000{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }%58s\n\000\000\100\077" "" >"$tmp/big_in.npy"
expect 0 '' out -- run "$tmp/big.lua" --input "$tmp/big_in.npy" --output "$tmp/big_out.npy" --quiet
expect 0 '' out -- build "$tmp/big.lua" -o "$tmp/big"
cat >"$tmp/big_main.c" <<'EOF'
#include <stdio.h>
#include "big.h"
int main(void) {
  static float x[1] = {0.75f}, y[16384];
  big_forward(x, y);
  return fwrite(y, sizeof y, 1, stdout) != 1;
}
EOF
if [ "$(grep -c '^static const union l[0-9]*_[a-z_]*_bytes l[0-9]*_[a-z_]*_bytes = {$' "$tmp/big/big.c")" = 2 ] &&
   [ "$(grep -c '^#if MC_WEIGHT_BYTES$' "$tmp/big/big.c")" = 2 ] &&
   [ "$(grep -c '^  \.f = {$' "$tmp/big/big.c")" = 2 ] &&
   [ "$(grep -Ec '^static const float l[0-9]+_[a-z_]+\[16383\] = \{$' "$tmp/big/big.c")" = 3 ] &&
   grep -q '^  "\\x00\\x00\\x00\\x80' "$tmp/big/big.c"; then
  pass=$((pass + 1))
else
  fail=$((fail + 1)); echo "FAIL: arrays of 16384 floats are not bytes, or smaller ones not numbers"
fi
for cc in gcc clang tcc; do
  command -v $cc >/dev/null 2>&1 || continue
  for how in "" -DMODELC_WEIGHTS_AS_NUMBERS; do
    if $cc -std=c99 -Wall -Wextra -pedantic -Werror -O1 -ffp-contract=off $how -c "$tmp/big/big.c" -o "$tmp/big.o" 2>"$tmp/big.err" &&
       gcc -std=c99 -I"$tmp/big" "$tmp/big_main.c" "$tmp/big.o" -o "$tmp/big_main" -lm &&
       "$tmp/big_main" >"$tmp/big_c.raw" &&
       tail -c 65536 "$tmp/big_out.npy" | cmp -s - "$tmp/big_c.raw"; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1)); echo "FAIL: $cc $how: the large weight arrays differ from modelc run's"; head -5 "$tmp/big.err"
    fi
  done
done

# Spec text never becomes code: layer names built to
# close its comment and call system() leaves `run` and `build` doing exactly
# what the same model with a plain name does.
cat >"$tmp/evil.lua" <<'EOF'
return model "evil" {
  input = {1, 2}, seed = 3,
  nn.Linear{2, 2, name = "x */ int system(const char *); static int e_(void) { return system(\"touch pwned_by_spec\"); } /* \n#define l0_linear(a, b) (e_(), 0)\n// \\\n"},
  nn.ReLU{name = "y??/"},
}
EOF
sed '3s/name = ".*"},$/name = "plain"},/; 4s/name = ".*"},$/name = "plain2"},/' "$tmp/evil.lua" >"$tmp/plain.lua"
expect 0 '' out -- run "$tmp/evil.lua" --output "$tmp/evil.npy"
expect 0 '' out -- run "$tmp/plain.lua" --output "$tmp/plain.npy"
expect 0 '' out -- build "$tmp/evil.lua" -o "$tmp/evil"
expect 0 '' out -- build "$tmp/plain.lua" -o "$tmp/plain"
if [ -e pwned_by_spec ]; then rm -f pwned_by_spec; fail=$((fail + 1)); echo "FAIL: spec text ran system()"; else pass=$((pass + 1)); fi
if cmp -s "$tmp/evil.npy" "$tmp/plain.npy"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: a name changed run's output"; fi
if grep -q 'int system(const char \*); static' "$tmp/evil/evil.c" && ! grep -q '^#define l0_linear' "$tmp/evil/evil.c" &&
   gcc -std=c99 -Wall -Wextra -pedantic -Werror -c "$tmp/evil/evil.c" -o "$tmp/evil.o" &&
   [ "$(gcc -std=c99 -E -P "$tmp/evil/evil.c" | tr -s ' \n')" = "$(gcc -std=c99 -E -P "$tmp/plain/evil.c" | tr -s ' \n')" ]; then
  pass=$((pass + 1))
else
  fail=$((fail + 1)); echo "FAIL: a name changed the code build writes"
fi

# The generated file refuses -ffast-math, which breaks NaN handling.
if gcc -std=c99 -ffast-math -c generated/seed_cnn1d.c -o "$tmp/fm.o" 2>"$tmp/fm.err"; then
  fail=$((fail + 1)); echo "FAIL: generated C compiles under -ffast-math"
elif grep -q 'error: #error "seed_cnn1d.c: -ffast-math breaks NaN' "$tmp/fm.err"; then
  pass=$((pass + 1))
else
  fail=$((fail + 1)); echo "FAIL: -ffast-math refused without the message"; cat "$tmp/fm.err"
fi

# The AVX-512 paths that claim the portable loops' bits (the stride-16
# and stride-2 phase splits, the Winograd transforms in registers, the
# global pools' and the small-plane pointwise tiles' transposes, the
# depthwise lanes and flattened planes, the activations in registers,
# the matrix multiplies' blocks, masked or not, and im2col's tiles)
# give them: each model built with gcc -march=native, with and without
# -DMODELC_PORTABLE, on the same input with full mantissas.
if gcc -march=native -dM -E - </dev/null 2>/dev/null | grep -q __AVX512F__; then
  for spec in tests/fixtures/kernels/phases16.lua tests/fixtures/kernels/winograd.lua \
              tests/fixtures/kernels/winograd1d.lua tests/fixtures/kernels/adaptive_global.lua \
              tests/fixtures/kernels/pool_plane.lua tests/fixtures/kernels/pool_plane1d.lua \
              tests/fixtures/kernels/pointwise.lua tests/fixtures/kernels/acts_vec.lua \
              tests/fixtures/kernels/depthwise_lanes.lua tests/fixtures/kernels/phases2.lua \
              tests/fixtures/kernels/depthwise_flat.lua tests/fixtures/kernels/depthwise_flat2.lua \
              tests/fixtures/kernels/blocked_phases.lua tests/fixtures/kernels/planes2.lua \
              tests/fixtures/kernels/gemm_rows.lua tests/fixtures/kernels/gemm_rows12.lua \
              tests/fixtures/kernels/im2col3d.lua \
              tests/fixtures/kernels/im2col3d_one.lua tests/fixtures/kernels/im2col_strided.lua \
              specs/m5_kws.lua; do
    n=$(basename "$spec" .lua); N=$(echo "$n" | tr a-z A-Z); d="$tmp/avx_$n"
    cat >"$tmp/avx_main_$n.c" <<EOF
#include <stdio.h>
#include "$n.h"
static float x[${N}_INPUT_SIZE], y[${N}_OUTPUT_SIZE];
int main(void) {
  unsigned s = 1;
  for (long i = 0; i < ${N}_INPUT_SIZE; i++) {
    s = s * 1103515245u + 12345u;
    x[i] = (float)((s >> 8) & 0xffff) / 3000.0f - 10.0f;
  }
  ${n}_forward(x, y);
  return fwrite(y, sizeof y, 1, stdout) != 1;
}
EOF
    if "$MODELC" build "$spec" -o "$d" >/dev/null &&
       grep -q '_mm512_' "$d/$n.c" &&
       gcc -std=c99 -O2 -march=native -ffp-contract=off -I"$d" "$d/$n.c" "$tmp/avx_main_$n.c" -o "$d/avx" -lm &&
       gcc -std=c99 -O2 -march=native -ffp-contract=off -DMODELC_PORTABLE -I"$d" "$d/$n.c" "$tmp/avx_main_$n.c" -o "$d/portable" -lm &&
       "$d/avx" >"$d/avx.raw" && "$d/portable" >"$d/portable.raw" &&
       cmp -s "$d/avx.raw" "$d/portable.raw"; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1)); echo "FAIL: $spec: AVX-512 and portable builds differ"
    fi
  done
else
  echo "cli: this CPU has no AVX-512; the AVX-512 = portable checks are skipped"
fi

echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
