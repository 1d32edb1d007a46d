# modelc: an ahead-of-time compiler for neural-network inference.
#
#   make demo        build modelc; check, build, compile and run every spec
#   make test        build and run every test (cmocka programs + CLI checks)
#   make test SANITIZE=1   the same under AddressSanitizer + UBSan
#   make generated   regenerate generated/ from specs/ (kept in sync: a test)
#   make fixtures    regenerate the PyTorch reference fixtures (needs torch)
#   make tiny-fixtures  regenerate only tests/fixtures/tiny/ (needs torch)
#   make check-torch compare the committed references with live PyTorch
#   make bench       time the generated C (gcc, TinyCC) against ONNX Runtime
#                    (installed into build/ort with npm) and PyTorch, one
#                    core; never part of make test (see BENCHMARKS.md)
#   make fuzz [FUZZ_SECONDS=30]  build the libFuzzer targets with clang and
#                    run each for FUZZ_SECONDS (see fuzz/README.md)
#   make test-mcu    every spec's C for --target cortex-m4, cortex-m7,
#                    cortex-m0 and generic on Cortex-M4F, M7 and M0 under QEMU,
#                    bit for bit against modelc run (part of make test when
#                    arm-none-eabi-gcc and qemu-system-arm are installed)
#   make bench-mcu   instructions per inference and per MAC on Cortex-M4F of
#                    the C of --target cortex-m4, counted in QEMU (see
#                    BENCHMARKS.md; MCU_BENCH_CPUS="m4 g4 m0 g0" for more)

CC      ?= cc
OPT     ?= -O2 -g
BUILD   ?= build
ifeq ($(SANITIZE),1)
OPT     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
BUILD   := build/san
endif
WARN    := -Wall -Wextra -pedantic -Wshadow -Wmissing-prototypes \
           -Wstrict-prototypes -Wwrite-strings
CFLAGS  += $(OPT) -std=c99 -D_POSIX_C_SOURCE=200809L $(WARN) \
           -Icompiler -Iruntime \
           $(shell pkg-config --cflags lua5.4 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs lua5.4 2>/dev/null) -ltcc -ldl -lpthread -lm
TESTLIBS = $(shell pkg-config --libs cmocka 2>/dev/null)
PY      ?= /usr/bin/python3

SRCS    := $(filter-out compiler/main.c,$(wildcard compiler/*.c compiler/layers/*.c compiler/kernels/*.c runtime/*.c))
# The helpers every generated file may carry (runtime/mc_*.h), embedded
# into the compiler as arrays (tools/embed.c); emit.c copies the ones a
# file uses.
RT_HELPERS := $(wildcard runtime/mc_*.h)
OBJS    := $(SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/runtime_text.o
HDRS    := $(wildcard compiler/*.h compiler/layers/*.h compiler/kernels/*.h runtime/*.h)
TESTS   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
MODELC  := $(BUILD)/modelc
SPECS   := $(wildcard specs/*.lua)

.PHONY: all demo test check-deps fixtures tiny-fixtures generated check-torch \
        bench clean fuzz fuzz-build test-mcu bench-mcu
all: $(MODELC)

# Install (as root) or name the Debian packages we build with.
$(BUILD)/.deps: tools/deps.sh
	@sh tools/deps.sh
	@mkdir -p $(@D) && touch $@

$(BUILD)/%.o: %.c $(HDRS) | $(BUILD)/.deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# The JIT's host microkernels: vector code, and never a fused multiply-add
# (their sums must stay those of the generated C; see jit_kernels.c).
$(BUILD)/compiler/jit_kernels.o: CFLAGS += -O3 -ffp-contract=off -Wno-psabi

$(BUILD)/tools/embed: tools/embed.c
	@mkdir -p $(@D)
	$(CC) -O1 -o $@ $<

$(BUILD)/gen/runtime_text.c: $(BUILD)/tools/embed $(RT_HELPERS)
	@mkdir -p $(@D)
	$(BUILD)/tools/embed $@ $(RT_HELPERS)

$(BUILD)/gen/runtime_text.o: $(BUILD)/gen/runtime_text.c
	$(CC) $(CFLAGS) -c $< -o $@

$(MODELC): $(BUILD)/compiler/main.o $(OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# Each tests/test_NAME.c is one cmocka program linked with every module.
$(BUILD)/tests/%: tests/%.c tests/testutil.h $(OBJS) $(HDRS) | $(BUILD)/.deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests $< $(OBJS) -o $@ $(LDLIBS) $(TESTLIBS)

# The C that modelc writes for every spec, committed so it can be read and
# diffed; tests/generated.sh fails when it is out of date.
generated: $(MODELC)
	@mkdir -p generated
	@rm -f generated/*.c generated/*.h
	@for s in $(SPECS); do ./$(MODELC) build $$s -o generated || exit 1; done
	@echo "generated/: $(words $(SPECS)) models"

# The main job, the whole loop for every example spec: the layer table,
# the C it becomes (generated/) compiled with the system C compiler, and
# the same C JIT-compiled in memory and run on torch.randn input (seed 42
# for the Conv1d tutorial's specs, whose tables it then prints).
demo: $(MODELC) generated
	@for s in $(SPECS); do echo "== modelc check $$s"; ./$(MODELC) check $$s || exit 1; echo; done
	@for s in $(SPECS); do n=$$(basename $$s .lua); \
	  echo "== $(CC) -std=c99 -O2 -Wall -Wextra -pedantic -Werror -c generated/$$n.c"; \
	  $(CC) -std=c99 -O2 -Wall -Wextra -pedantic -Werror -c generated/$$n.c -o $(BUILD)/$$n.o || exit 1; done
	@for s in $(SPECS); do \
	  case $$s in *tutorial*) in="--random-input 42";; *) in="";; esac; \
	  echo; echo "== modelc run $$s $$in"; ./$(MODELC) run $$s $$in || exit 1; done

# Every cmocka program, then the command-line checks, the check that the
# compiler's files call each other without a cycle, then (when the cross
# tools are installed, and not under SANITIZE=1) test-mcu.
test: $(MODELC) $(TESTS)
	@fail=0; for t in $(TESTS); do echo "== $$t"; MODELC=$(MODELC) ./$$t || fail=1; done; \
	echo "== tests/cli.sh"; MODELC=$(MODELC) sh tests/cli.sh || fail=1; \
	echo "== tests/generated.sh"; MODELC=$(MODELC) sh tests/generated.sh || fail=1; \
	echo "== tests/layering.sh"; BUILD=$(BUILD) sh tests/layering.sh || fail=1; \
	if [ "$(SANITIZE)" = 1 ]; then \
	  echo "== test-mcu skipped under SANITIZE=1 (it runs in the plain make test)"; \
	elif [ -z "$(MCU_TOOLS)" ]; then \
	  echo "== test-mcu skipped: arm-none-eabi-gcc/qemu-system-arm not installed (sh tools/deps.sh mcu installs them)"; \
	else echo "== make test-mcu"; $(MAKE) --no-print-directory test-mcu || fail=1; fi; \
	exit $$fail

# Reference data from PyTorch (needs /usr/bin/python3 with torch 1.13 on an
# AVX2 machine); the results are committed, so `make test` needs no torch.
fixtures: $(MODELC) tiny-fixtures
	$(PY) tools/gen_shape_fixture.py
	$(PY) tools/gen_rng_fixture.py
	$(PY) tools/gen_model_fixture.py
	$(PY) tools/gen_spec_refs.py $(MODELC)
	$(PY) tools/gen_print_fixture.py
	$(PY) tools/gen_pt_fixture.py
	$(PY) tools/gen_pad_fixture.py
	$(PY) tools/gen_module_fixture.py

# The small 1-D models that take the vector lowering (compiler/kernels/vec1d.c).
tiny-fixtures:
	$(PY) tools/gen_tiny_fixture.py

# Recompute the example specs' references with live PyTorch and compare.
check-torch: $(MODELC)
	$(PY) tools/gen_spec_refs.py --check $(MODELC)
	$(PY) tools/gen_model_fixture.py --verify
	$(PY) tools/gen_tiny_fixture.py --verify
	$(PY) tools/gen_pad_fixture.py --verify
	$(PY) tools/gen_module_fixture.py --verify

# Latency of five models at batch 1 and 32: modelc's C under gcc -O3
# -march=native and TinyCC, PyTorch eager and TorchScript if installed, as
# ratios, GFLOP/s and % of the FMA peak; also compile time, object size and
# time to first output. Prints a table; asserts nothing.
bench: $(MODELC)
	$(PY) tools/bench.py $(MODELC)

clean:
	rm -rf build

# ------------------------------------------------------------------ mcu
# The example models on Cortex-M under QEMU (tests/mcu/run.sh): the
# generated C cross-compiled with arm-none-eabi-gcc and newlib, run on
# QEMU's MPS2 boards with semihosting. randin writes modelc run's random
# input; qemu_icount.so is the QEMU plugin that counts instructions.
MCU_BUILD := $(BUILD)/mcu
MCU_TOOLS := $(shell command -v arm-none-eabi-gcc >/dev/null 2>&1 && \
                     command -v qemu-system-arm >/dev/null 2>&1 && echo yes)

$(BUILD)/.deps-mcu: tools/deps.sh
	@sh tools/deps.sh mcu
	@mkdir -p $(@D) && touch $@

$(MCU_BUILD)/randin: tests/mcu/randin.c $(BUILD)/compiler/torchrand.o compiler/torchrand.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(BUILD)/compiler/torchrand.o -o $@ -lm

$(MCU_BUILD)/qemu_icount.so: tools/qemu_icount.c
	@mkdir -p $(@D)
	$(CC) -O2 -std=c99 -Wall -Wextra -pedantic -shared -fPIC -fvisibility=hidden $< -o $@

MCU_RUN = MODELC=$(MODELC) MCU_BUILD=$(MCU_BUILD) sh tests/mcu/run.sh

test-mcu: $(MODELC) $(MCU_BUILD)/randin $(MCU_BUILD)/qemu_icount.so | $(BUILD)/.deps-mcu
	@$(MCU_RUN) test

bench-mcu: $(MODELC) $(MCU_BUILD)/randin $(MCU_BUILD)/qemu_icount.so | $(BUILD)/.deps-mcu
	@$(MCU_RUN) bench

# ------------------------------------------------------------------ fuzz
# libFuzzer targets (fuzz/fuzz_*.c, see fuzz/README.md), built with clang
# under ASan + UBSan into build/fuzz/, each run for FUZZ_SECONDS on a copy
# of its committed corpus (fuzz/corpus/NAME/), which CI never grows. A
# crash stops make and leaves the input in build/fuzz/crash-NAME-*.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_BUILD   := build/fuzz
FUZZ_TARGETS := spec safetensors npy codegen comment
FUZZ_CFLAGS   = -g -O1 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
                -std=c99 -D_POSIX_C_SOURCE=200809L $(WARN) \
                -Icompiler -Iruntime \
                $(shell pkg-config --cflags lua5.4 2>/dev/null)
FUZZ_OBJS    := $(SRCS:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_BUILD)/obj/gen/runtime_text.o
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
.SECONDARY: $(FUZZ_OBJS)

$(FUZZ_BUILD)/.deps: tools/deps.sh
	@sh tools/deps.sh fuzz
	@mkdir -p $(@D) && touch $@

$(FUZZ_BUILD)/obj/%.o: %.c $(HDRS) | $(FUZZ_BUILD)/.deps
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/obj/gen/runtime_text.o: $(BUILD)/gen/runtime_text.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(FUZZ_OBJS) $(HDRS) | $(FUZZ_BUILD)/.deps
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(FUZZ_OBJS) -o $@ $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
	  rm -rf $(FUZZ_BUILD)/corpus/$$t && mkdir -p $(FUZZ_BUILD)/corpus/$$t && \
	  cp fuzz/corpus/$$t/* $(FUZZ_BUILD)/corpus/$$t/ || exit 1; \
	  dict=; [ -f fuzz/$$t.dict ] && dict=-dict=fuzz/$$t.dict; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	  ./$(FUZZ_BUILD)/fuzz_$$t $$dict -max_total_time=$(FUZZ_SECONDS) \
	    -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- \
	    $(FUZZ_BUILD)/corpus/$$t 2>$(FUZZ_BUILD)/fuzz_$$t.log; st=$$?; \
	  grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)' \
	    $(FUZZ_BUILD)/fuzz_$$t.log; \
	  if [ $$st != 0 ]; then tail -n 60 $(FUZZ_BUILD)/fuzz_$$t.log; exit 1; fi; \
	done

# The saved crashers replay in tests/test_fuzz_regressions.c, which
# includes the targets' sources.
$(BUILD)/tests/test_fuzz_regressions: fuzz/fuzz.h $(wildcard fuzz/fuzz_*.c)
$(BUILD)/tests/test_escape: fuzz/fuzz.h fuzz/fuzz_comment.c
