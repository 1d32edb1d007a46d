# modelc: an ahead-of-time compiler for neural-network inference.
#
#   make demo        build modelc and run it on every spec in specs/
#   make test        build and run every test (cmocka programs + CLI checks)
#   make test SANITIZE=1   the same under AddressSanitizer + UBSan
#   make fixtures    regenerate the PyTorch reference fixtures (needs torch)

CC      ?= cc
OPT     ?= -O2 -g
BUILD   ?= build
ifeq ($(SANITIZE),1)
OPT     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
BUILD   := build/san
endif
CFLAGS  += $(OPT) -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra \
           -Wno-unused-parameter -pedantic -Icompiler -Iruntime \
           $(shell pkg-config --cflags lua5.4 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs lua5.4 2>/dev/null) -ltcc -ldl -lpthread -lm
TESTLIBS = $(shell pkg-config --libs cmocka 2>/dev/null)
PY      ?= /usr/bin/python3

SRCS    := $(filter-out compiler/main.c,$(wildcard compiler/*.c compiler/layers/*.c runtime/*.c))
OBJS    := $(SRCS:%.c=$(BUILD)/%.o)
HDRS    := $(wildcard compiler/*.h compiler/layers/*.h runtime/*.h)
TESTS   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
MODELC  := $(BUILD)/modelc
SPECS   := $(wildcard specs/*.lua)

.PHONY: all demo test check-deps fixtures clean
all: $(MODELC)

# Install (as root) or name the Debian packages we build with.
$(BUILD)/.deps: tools/deps.sh
	@sh tools/deps.sh
	@mkdir -p $(@D) && touch $@

$(BUILD)/%.o: %.c $(HDRS) | $(BUILD)/.deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(MODELC): $(BUILD)/compiler/main.o $(OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# Each tests/test_NAME.c is one cmocka program linked with every module.
$(BUILD)/tests/%: tests/%.c tests/testutil.h $(OBJS) $(HDRS) | $(BUILD)/.deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests $< $(OBJS) -o $@ $(LDLIBS) $(TESTLIBS)

# The main job: check every example spec and print its layer table.
demo: $(MODELC)
	@for s in $(SPECS); do echo "== modelc check $$s"; ./$(MODELC) check $$s || exit 1; echo; done

# Every cmocka program, then the command-line checks.
test: $(MODELC) $(TESTS)
	@fail=0; for t in $(TESTS); do echo "== $$t"; MODELC=$(MODELC) ./$$t || fail=1; done; \
	echo "== tests/cli.sh"; MODELC=$(MODELC) sh tests/cli.sh || fail=1; \
	exit $$fail

# Reference data from PyTorch (needs /usr/bin/python3 with torch 1.13 on an
# AVX2 machine); the results are committed, so `make test` needs no torch.
fixtures:
	$(PY) tools/gen_shape_fixture.py
	$(PY) tools/gen_rng_fixture.py
	$(PY) tools/gen_print_fixture.py

clean:
	rm -rf build
