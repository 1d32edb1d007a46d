#!/bin/sh
# Check (and, as root, install) the Debian packages modelc builds with.
# Called by the Makefile before the first compile; prints the exact
# apt-get line when it cannot install them itself. `deps.sh fuzz` (make
# fuzz) also checks clang and its libFuzzer runtime, which nothing else
# needs; `deps.sh mcu` (make test-mcu, .ci/run) the Arm cross compiler,
# newlib and QEMU.
set -u
# tcc brings libtcc1.a and TinyCC's headers, without which libtcc (modelc
# run) compiles nothing; the tests also compile generated C with it.
PKGS="liblua5.4-dev libtcc-dev tcc libcmocka-dev pkg-config"
missing=""
have_pc() { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "$1"; }
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
have_pc lua5.4 || missing="$missing liblua5.4-dev"
have_pc cmocka || missing="$missing libcmocka-dev"
[ -f /usr/include/libtcc.h ] || missing="$missing libtcc-dev"
command -v tcc >/dev/null 2>&1 || missing="$missing tcc"
if [ "${1:-}" = fuzz ]; then
  PKGS="$PKGS clang libclang-rt-14-dev"
  command -v clang >/dev/null 2>&1 || missing="$missing clang"
  ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
    >/dev/null 2>&1 || missing="$missing libclang-rt-14-dev"
fi
if [ "${1:-}" = mcu ]; then
  PKGS="$PKGS gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
  command -v arm-none-eabi-gcc >/dev/null 2>&1 || missing="$missing gcc-arm-none-eabi"
  [ -f /usr/lib/arm-none-eabi/newlib/libc.a ] || missing="$missing libnewlib-arm-none-eabi"
  command -v qemu-system-arm >/dev/null 2>&1 || missing="$missing qemu-system-arm"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "modelc: installing missing packages:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2 && apt-get install -y -q $PKGS >&2 && exit 0
  echo "modelc: apt-get failed" >&2
  exit 1
fi
echo "modelc: missing packages:$missing" >&2
echo "modelc: install them with:  sudo apt-get install -y $PKGS" >&2
exit 1
