#!/bin/sh
# tests/mcu/run.sh: the example models on Cortex-M under QEMU.
#
#   sh tests/mcu/run.sh test    make test-mcu: every spec's C, built with
#                               `modelc build --target cortex-m4` for
#                               Cortex-M4F (mps2-an386), cortex-m7 for
#                               Cortex-M7 (mps2-an500), `--target
#                               cortex-m0` for Cortex-M0 (mps2-an385) and
#                               the generic C for the M4F and M0, run with
#                               semihosting on the input of `modelc run
#                               SPEC --random-input 0` and compared bit
#                               for bit with `modelc run --target` the
#                               same target's output; a
#                               second call on a dirty workspace and the
#                               input untouched are checked by main.c.
#                               Prints flash, RAM and stack per model.
#   sh tests/mcu/run.sh bench   make bench-mcu: instructions per inference
#                               and per MAC on Cortex-M4F of the C of
#                               --target cortex-m4 (MCU_BENCH_CPUS="m4 g4
#                               m0 g0": which runs), counted by the
#                               QEMU plugin tools/qemu_icount.c.
#
# Both first check the plugin against loops of known length. The Makefile
# builds what this needs: $MODELC, $MCU_BUILD/randin (writes modelc run's
# random input) and $MCU_BUILD/qemu_icount.so. MCU_SPECS picks specs.
set -u
mode=${1:-test}
MODELC=${MODELC:-build/modelc}
B=${MCU_BUILD:-build/mcu}
SPECS=${MCU_SPECS:-$(ls specs/*.lua)}
CC=arm-none-eabi-gcc
CFLAGS="-O2 -std=c99 -Wall -Wextra -pedantic -Wdouble-promotion -Werror"
# Each function and object in its own section, so --gc-sections drops
# what the harness does not call (the static workspace of _forward).
SECTIONS="-ffunction-sections -fdata-sections"
FLASH_BYTES=$((4 * 1024 * 1024))
QEMU_TIMEOUT=120 # seconds per run; the slowest takes about 10

# A run is a core and a --target: m4, m7 and m0 build with --target
# cortex-m4, cortex-m7 and cortex-m0, g4 and g0 the generic C (what
# generated/ holds) for the M4F and the M0.
cpu_flags() {
  case $1 in
    m4|g4) echo "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard" ;;
    m7) echo "-mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard" ;;
    m0|g0) echo "-mcpu=cortex-m0 -mthumb -mfloat-abi=soft" ;;
  esac
}
# QEMU's mps2-an385 models a Cortex-M3 (it accepts no other CPU): the M0
# build, ARMv6-M code, runs there unchanged.
board() {
  case $1 in m4|g4) echo mps2-an386 ;; m7) echo mps2-an500 ;; m0|g0) echo mps2-an385 ;; esac
}
target() {
  case $1 in m4) echo cortex-m4 ;; m7) echo cortex-m7 ;; m0) echo cortex-m0 ;; g4|g0) echo generic ;; esac
}

for tool in $CC qemu-system-arm; do
  command -v $tool >/dev/null 2>&1 || {
    echo "mcu: error: $tool is not installed (sh tools/deps.sh mcu installs it)"
    exit 1
  }
done
for f in "$MODELC" "$B/randin" "$B/qemu_icount.so"; do
  [ -f "$f" ] || { echo "mcu: error: $f is missing: run make test-mcu"; exit 1; }
done

PLUGIN=$(cd "$B" && pwd)/qemu_icount.so

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# stale TARGET SOURCE...: TARGET is missing or older than a source.
stale() {
  t=$1; shift
  [ -f "$t" ] || return 0
  for s; do [ "$s" -nt "$t" ] && return 0; done
  return 1
}

# sym ELF NAME: the address of symbol NAME.
sym() { arm-none-eabi-nm "$1" | awk -v n="$2" '$3 == n { print "0x" $1 }'; }

# qemu CPU DIR ELF [PLUGIN ARGS]: runs ELF in DIR (where main.c finds
# input.bin), console and plugin output in DIR/console.log, DIR/icount.log.
qemu() {
  cpu=$1 dir=$2 elf=$3; shift 3
  plugin=
  [ $# -gt 0 ] && plugin="-plugin $PLUGIN,$1 -d plugin -D icount.log"
  rm -f "$dir/icount.log"
  (cd "$dir" && timeout $QEMU_TIMEOUT qemu-system-arm -M "$(board "$cpu")" \
     -nographic -monitor none -serial none \
     -semihosting-config enable=on,target=native -kernel "$elf" $plugin) \
     >"$dir/console.log" 2>&1
}

# link CPU DIR OUT.elf LDSCRIPT OBJ...: the harness's common objects plus OBJ.
link() {
  cpu=$1 dir=$2 out=$3 ld=$4; shift 4
  $CC $CFLAGS $(cpu_flags "$cpu") -nostartfiles -T "$ld" -Wl,--gc-sections \
    -Wl,-Map="${out%.elf}.map" "$@" "$B/$cpu/startup.o" -lc -lgcc -lm -o "$out"
}

# The harness's start-up code and linker scripts, once per CPU.
prepare() {
  cpu=$1
  mkdir -p "$B/$cpu"
  if stale "$B/$cpu/startup.o" tests/mcu/startup.c tests/mcu/semihost.h tests/mcu/run.sh; then
    $CC $CFLAGS $SECTIONS $(cpu_flags "$cpu") -c tests/mcu/startup.c \
      -o "$B/$cpu/startup.o" || return 1
  fi
  for where in flash psram psram-an500; do
    def=
    case $where in
      psram) def=-DWEIGHTS_IN_PSRAM ;;
      psram-an500) def="-DWEIGHTS_IN_PSRAM -DPSRAM_ORIGIN=0x60000000" ;;
    esac
    if stale "$B/mps2-$where.ld" tests/mcu/mps2.ld.S; then
      arm-none-eabi-cpp -P $def tests/mcu/mps2.ld.S -o "$B/mps2-$where.ld" || return 1
    fi
  done
}

# The plugin's count of a loop of exactly 2 N + 1 instructions, called
# between the markers, must exceed it only by the call's few instructions
# (the begin marker's return, the argument, two calls).
calibrate() {
  ok=0
  for cpu in m4 m0; do
    d=$B/$cpu/calibrate
    mkdir -p "$d"
    $CC $CFLAGS $SECTIONS $(cpu_flags "$cpu") -DMCU_CALIBRATE -c tests/mcu/main.c \
      -o "$d/main.o" && link "$cpu" "$d" "$d/calibrate.elf" "$B/mps2-flash.ld" "$d/main.o" || return 1
    elf=$d/calibrate.elf
    qemu "$cpu" "$d" calibrate.elf "begin=$(sym "$elf" mcu_mark_begin),end=$(sym "$elf" mcu_mark_end)"
    set -- $(awk '$1 == "icount" && $2 != "total" { print $2 }' "$d/icount.log" 2>/dev/null)
    if [ $# != 2 ]; then
      echo "FAIL: calibration on $cpu: expected two counts from the plugin, got '$*'"
      cat "$d/console.log"; ok=1; continue
    fi
    n=1000
    for got; do
      want=$((2 * n + 1))
      extra=$((got - want))
      if [ $extra -lt 3 ] || [ $extra -gt 6 ]; then
        echo "FAIL: calibration on $cpu: a loop of $want instructions counted $got"; ok=1
      else
        echo "calibration $cpu: loop of $want instructions counted $got (+$extra for the call)"
      fi
      n=100000
    done
  done
  return $ok
}

# main.c must catch a model that writes its input or reads its workspace
# before writing it (bad_model.c), and pass one that does neither.
selfcheck() {
  ok=0
  d=$B/m4/selfcheck
  mkdir -p "$d"
  "$B/randin" 0 4 "$d/input.bin" || return 1
  for bad in NONE INPUT WORKSPACE; do
    case $bad in
      NONE) want="mcu: ok" ;;
      INPUT) want="mcu: error: the input was written at index 3" ;;
      WORKSPACE) want="mcu: error: the second call (dirty workspace) differs at index 0" ;;
    esac
    f="$CFLAGS $SECTIONS $(cpu_flags m4) -DBAD_$bad"
    $CC $f -c tests/mcu/bad_model.c -o "$d/bad_model.o" &&
      $CC $f -Itests/mcu -DMODEL=bad_model -DUMODEL=BAD_MODEL \
        -DMODEL_H='"bad_model.h"' -c tests/mcu/main.c -o "$d/main.o" &&
      link m4 "$d" "$d/selfcheck.elf" "$B/mps2-flash.ld" "$d/main.o" "$d/bad_model.o" ||
      return 1
    qemu m4 "$d" selfcheck.elf
    st=$?
    if ! grep -q "^$want" "$d/console.log" || { [ $bad = NONE ] && [ $st != 0 ]; } ||
       { [ $bad != NONE ] && [ $st = 0 ]; }; then
      echo "FAIL: self-check: a model with BAD_$bad should give '$want', exit status $st:"
      sed 's/^/  /' "$d/console.log"; ok=1
    fi
  done
  [ $ok = 0 ] && echo "self-check: main.c catches a model that writes its input or reads a stale workspace"
  return $ok
}

# model_sizes MAP OBJ: "text rodata data bss" of OBJ's sections kept in the
# linked image (after --gc-sections), from the linker map.
model_sizes() {
  awk -v obj="$2" '
    function hex(s,   i, n) {
      n = 0
      for (i = 3; i <= length(s); i++) # after the 0x
        n = n * 16 + index("0123456789abcdef", substr(tolower(s), i, 1)) - 1
      return n
    }
    function add(sec, size, file) {
      if (file != obj) return
      size = hex(size)
      if (sec ~ /^\.text/) text += size
      else if (sec ~ /^\.rodata/) rodata += size
      else if (sec ~ /^\.data/) data += size
      else if (sec ~ /^(\.bss|COMMON)/) bss += size
    }
    /^Linker script and memory map/ { on = 1; next }
    !on { next }
    /^ [^ ]/ {
      sec = $1
      if (NF >= 4 && $2 ~ /^0x/) add(sec, $3, $4)
      else pending = NF == 1
      next
    }
    pending && /^  +0x[0-9a-f]+ +0x[0-9a-f]+ / { add(sec, $2, $3) }
    { pending = 0 }
    END { printf "%d %d %d %d\n", text, rodata, data, bss }' "$1"
}

# static_stack CI ROOT: the deepest chain of frames from function ROOT in
# gcc's -fcallgraph-info=su graph (the -fstack-usage sizes of the model's
# own functions; library calls such as memset count 0 here).
static_stack() {
  awk -v root="$2" '
    function q(s, key,   i) {
      i = index(s, key ": \"")
      if (!i) return ""
      s = substr(s, i + length(key) + 3)
      return substr(s, 1, index(s, "\"") - 1)
    }
    function depth(n,   i, d, best) {
      if (n in memo) return memo[n]
      memo[n] = 0 # a cycle (none in generated code) ends here
      best = 0
      for (i = 1; i <= nkids[n]; i++)
        if ((d = depth(kid[n, i])) > best) best = d
      return memo[n] = frame[n] + best
    }
    /^node:/ {
      t = q($0, "title")
      if (match($0, /\\n[0-9]+ bytes/))
        frame[t] = substr($0, RSTART + 2, RLENGTH - 8) + 0
    }
    /^edge:/ { s = q($0, "sourcename"); kid[s, ++nkids[s]] = q($0, "targetname") }
    END { print depth(root) }' "$1"
}

[ "$mode" = test ] || [ "$mode" = bench ] || { echo "usage: run.sh test|bench"; exit 2; }
start=$(now_ms)
echo "mcu: $($CC --version | head -n 1)"
echo "mcu: $(qemu-system-arm --version | head -n 1)"
echo "mcu: flags $CFLAGS; M4F (mps2-an386): $(cpu_flags m4); M7 (mps2-an500): $(cpu_flags m7); M0 (mps2-an385): $(cpu_flags m0)"
cpus="m4 m7 m0 g4 g0"
[ "$mode" = bench ] && cpus=${MCU_BENCH_CPUS:-m4}
for cpu in $cpus; do prepare $cpu || exit 1; done
[ "$mode" = bench ] && prepare m0
fail=0
calibrate || fail=1
if [ "$mode" = test ]; then selfcheck || fail=1; fi

if [ "$mode" = test ]; then
  printf '\n%-19s %-3s %9s %9s %9s %7s %8s %8s %7s %8s  %s\n' model cpu text rodata \
    workspace data+bss "RAM" io "stack" measured "qemu"
else
  printf '\n%-19s %14s %12s %10s\n' model instructions MACs "per MAC"
fi
# size_of WHAT: the generated header's UP_WHAT.
size_of() { awk -v k="${up}_$1" '$1 == "#define" && $2 == k { print $3 }' "$h"; }

for spec in $SPECS; do
  name=$(basename "$spec" .lua)
  up=$(echo "$name" | tr a-z A-Z)
  h=generated/$name.h
  nin=$(size_of INPUT_SIZE) nout=$(size_of OUTPUT_SIZE) nws=$(size_of WORKSPACE_SIZE)
  d=$B/$name
  mkdir -p "$d"
  if stale "$d/input.bin" "$spec" "$B/randin"; then
    "$B/randin" 0 "$nin" "$d/input.bin" || { echo "FAIL: $name: no input"; fail=1; continue; }
  fi
  for cpu in $cpus; do
    w=$d/$cpu
    mkdir -p "$w/gen"
    cp "$d/input.bin" "$w/input.bin"
    # The C for this CPU's --target, and the reference: modelc run's
    # output with the same target.
    c=$w/gen/$name.c h=$w/gen/$name.h
    if stale "$c" "$spec" "$MODELC" || stale "$w/ref.bin" "$spec" "$MODELC"; then
      "$MODELC" build --target "$(target $cpu)" -o "$w/gen" "$spec" >/dev/null &&
        "$MODELC" run --target "$(target $cpu)" "$spec" --random-input 0 --quiet \
          --output "$w/ref.npy" &&
        tail -c $((4 * nout)) "$w/ref.npy" >"$w/ref.bin" ||
        { echo "FAIL: $name: no C or reference for $(target $cpu)"; fail=1; continue; }
    fi
    nws=$(size_of WORKSPACE_SIZE)
    obj=$w/$name.o
    if stale "$obj" "$c" tests/mcu/run.sh; then
      $CC $CFLAGS $SECTIONS $(cpu_flags $cpu) -fstack-usage -fcallgraph-info=su \
        -c "$c" -o "$obj" || { echo "FAIL: $name: $cpu build"; fail=1; continue; }
    fi
    if stale "$w/main.o" tests/mcu/main.c tests/mcu/semihost.h "$h" tests/mcu/run.sh; then
      $CC $CFLAGS $SECTIONS $(cpu_flags $cpu) -I"$w/gen" -DMODEL=$name -DUMODEL=$up \
        -DMODEL_H="\"$name.h\"" -c tests/mcu/main.c -o "$w/main.o" || { fail=1; continue; }
    fi
    # Weights that do not fit the 4 MB that stand for flash (with room
    # for the harness) go to PSRAM.
    set -- $(arm-none-eabi-size -A "$obj" | awk '$1 ~ /^\.(text|rodata)/ { n += $2 } END { print n }')
    where=flash
    [ "$1" -gt $((FLASH_BYTES - 256 * 1024)) ] && where=psram
    ld=$B/mps2-$where.ld
    [ $where = psram ] && [ "$(board $cpu)" = mps2-an500 ] && ld=$B/mps2-psram-an500.ld
    link $cpu "$w" "$w/$name.elf" "$ld" "$w/main.o" "$obj" ||
      { echo "FAIL: $name: $cpu link"; fail=1; continue; }
    rm -f "$w/output.bin"
    t0=$(now_ms)
    if [ "$mode" = bench ]; then
      qemu $cpu "$w" "$name.elf" \
        "begin=$(sym "$w/$name.elf" mcu_mark_begin),end=$(sym "$w/$name.elf" mcu_mark_end)"
    else
      qemu $cpu "$w" "$name.elf"
    fi
    st=$?
    t1=$(now_ms)
    if [ $st != 0 ] || ! grep -q '^mcu: ok' "$w/console.log"; then
      echo "FAIL: $name on $cpu ($(board $cpu)): exit status $st"
      sed 's/^/  /' "$w/console.log"; fail=1; continue
    fi
    if ! cmp -s "$w/output.bin" "$w/ref.bin"; then
      echo "FAIL: $name on $cpu: the output differs from modelc run's"
      i=$(cmp "$w/output.bin" "$d/ref.bin" | awk '{ sub(/,/, "", $5); print int(($5 - 1) / 4) }')
      echo "  first at output[$i]: 0x$(od -An -tx4 -j $((4 * i)) -N4 "$w/output.bin" | tr -d " "), modelc run gives 0x$(od -An -tx4 -j $((4 * i)) -N4 "$w/ref.bin" | tr -d " ")"
      fail=1; continue
    fi
    if [ "$mode" = bench ]; then
      n=$(awk '$1 == "icount" && $2 != "total" { print $2; exit }' "$w/icount.log")
      macs=$("$MODELC" check "$spec" | sed -n 's/^total: .*, \([0-9,]*\) MACs$/\1/p' | tr -d ,)
      label=$name; [ "$cpus" = m4 ] || label="$name $cpu"
      awk -v m="$label" -v n="$n" -v k="$macs" \
        'BEGIN { printf "%-19s %14.0f %12.0f %10.2f\n", m, n, k, n / k }'
      continue
    fi
    set -- $(model_sizes "$w/$name.map" "$obj")
    text=$1 rodata=$2 data=$3 bss=$4
    stat=$(static_stack "$w/$name.ci" "${name}_forward_ws")
    meas=$(sed -n 's/^mcu: stack \([0-9]*\) bytes$/\1/p' "$w/console.log")
    printf '%-19s %-3s %9d %9d %9d %7d %8d %8d %7d %8d  %d.%03d s%s\n' "$name" $cpu \
      $text $rodata $nws $((data + bss)) $((nws + data + bss)) $((4 * (nin + nout))) \
      "$stat" "$meas" $(((t1 - t0) / 1000)) $(((t1 - t0) % 1000)) \
      "$([ $where = psram ] && echo ", weights in PSRAM")"
  done
done
end=$(now_ms)
echo
[ "$mode" = test ] && cat <<'EOF2'
cpu: m4, m7 and m0 the C of --target cortex-m4, cortex-m7 and cortex-m0
on the M4F, M7 and M0; g4 and g0 the generic C on the M4F and the M0.
Bytes. text + rodata: the model's code and weights (flash); workspace +
data+bss: its RAM (the harness passes the workspace to _forward_ws;
--gc-sections drops _forward's static copy); io: input and output
buffers; stack: the deepest -fstack-usage chain of the model's own
functions; measured: the stack high-water mark of one call, library
helpers included; qemu: the wall time of the whole QEMU run (boot,
file I/O and both calls).
EOF2
echo "mcu: $mode done in $(((end - start) / 1000)) s"
[ $fail = 0 ] && echo "mcu: all passed" || echo "mcu: FAILED"
exit $fail
