# profd - out-of-process sampling profiler daemon serving pprof over HTTP.
#
#   make                 build build/profd
#   make check           install missing Debian packages, build, run every test
#   make demo            install missing packages, build, profile a demo workload
#   make SANITIZE=address,undefined   sanitizer build in build-<san>/
#   make install         PREFIX=/usr/local DESTDIR=
#   make lint            mandoc -Tlint, cppcheck
#   make gort-table      regenerate gort/table.c (Go runtime offsets)
#   make bench           overhead and accuracy against perf (bench/RESULTS.md)
#   make fuzz            libFuzzer harnesses, FUZZ_SECONDS (60) each
#   V=1                  show full commands

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=

CC      ?= gcc
CFLAGS  ?= -O2 -g
WERROR  ?= -Werror
SANITIZE ?=

WARN    = -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
          -Wold-style-definition -Wmissing-prototypes -Wmissing-declarations \
          -Wpointer-arith -Wcast-qual -Wwrite-strings -Wundef -Wvla \
          -Wnull-dereference -Wimplicit-fallthrough
WARN_GCC = -Wlogical-op -Wduplicated-cond -Wduplicated-branches
HARDEN  = -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fno-omit-frame-pointer

PKGS    = libunwind-ptrace libdw libelf zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

ifeq ($(SANITIZE),)
BUILD  ?= build
else
BUILD  ?= build-$(subst $(comma),-,$(SANITIZE))
endif
comma := ,

ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) $(WARN_GCC) $(WERROR) $(HARDEN) \
             $(CFLAGS) $(PKG_CFLAGS) -I. -I$(BUILD)/gen -MMD -MP $(EXTRA_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(EXTRA_LDFLAGS)
LIBS    = $(PKG_LIBS) -lcivetweb -liberty -lpthread -ldl -lrt -lm

ifneq ($(SANITIZE),)
ALL_CFLAGS  += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -O1
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
endif

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
ALL_CFLAGS += -DPROFD_VERSION='"$(VERSION)"'

# One static archive per module, in link order (an archive before the ones
# it uses); unit tests link the archives they need and never main.o.
MODULES   = daemon unwind gort symbolize space http common
daemon_SRCS    = $(filter-out daemon/main.c,$(wildcard daemon/*.c))
unwind_SRCS    = $(wildcard unwind/*.c)
symbolize_SRCS = $(wildcard symbolize/*.c)
space_SRCS     = $(wildcard space/*.c)
gort_SRCS      = $(wildcard gort/*.c)
http_SRCS      = $(wildcard http/*.c)
common_SRCS    = $(wildcard common/*.c)
ARCHIVES  = $(foreach m,$(MODULES),$(BUILD)/lib$(m).a)

UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
TOOL_SRCS = $(wildcard tests/tools/*.c)
TOOL_BINS = $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))

all: $(BUILD)/profd

$(BUILD)/.cflags: FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(LIBS)' | cmp -s - $@ || \
		echo '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(LIBS)' > $@

$(BUILD)/obj/%.o: %.c $(BUILD)/.cflags
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# x86-64 system call names for thread dumps, from the kernel headers the
# build sees.
$(BUILD)/gen/syscall_names.h:
	@mkdir -p $(@D)
	$(call msg,GEN,$@)printf '#include <asm/unistd_64.h>\n' | \
		$(CC) -dM -E - | awk '$$2 ~ /^__NR_/ && $$3 ~ /^[0-9]+$$/ { \
		sub(/^__NR_/, "", $$2); \
		printf "\t[%d] = \"%s\",\n", $$3, $$2 }' | sort -t '[' -k 2 -n >$@
$(BUILD)/obj/daemon/proc.o: $(BUILD)/gen/syscall_names.h

# OpenSSL 3 compatibility libraries for civetweb's TLS, embedded in profd
# (http/tls/libssl-compat.c says why). Never sanitized: they are loaded by
# name into whatever profd is running.
$(BUILD)/tls/%.so: http/tls/%-compat.c
	@mkdir -p $(@D)
	$(call msg,LD,$@)$(CC) -O2 -fPIC -shared -Wl,-soname,$(@F) -o $@ $< \
		-Wl,--no-as-needed -l:$(@F).3
$(BUILD)/obj/http/tls_embed.o: $(BUILD)/tls/libssl.so $(BUILD)/tls/libcrypto.so
$(BUILD)/obj/http/tls_embed.o: EXTRA_CFLAGS += -DPROFD_TLS_DIR='"$(BUILD)/tls"'

# The page at /ui/, embedded in profd (http/ui.c).
UI_FILES = ui/index.html ui/app.js ui/app.css
$(BUILD)/obj/http/ui.o: $(UI_FILES)
$(BUILD)/obj/http/ui.o: EXTRA_CFLAGS += -DPROFD_UI_DIR='"$(CURDIR)/ui"'

define archive_rule
$(BUILD)/lib$(1).a: $(patsubst %.c,$(BUILD)/obj/%.o,$($(1)_SRCS))
	$$(call msg,AR,$$@)rm -f $$@ && $(AR) rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call archive_rule,$(m))))

$(BUILD)/profd: $(BUILD)/obj/daemon/main.o $(ARCHIVES)
	$(call msg,LD,$@)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(ARCHIVES) $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(ARCHIVES) tests/unit/check.h
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(ARCHIVES) $(LIBS)

$(BUILD)/tools/%: tests/tools/%.c $(ARCHIVES)
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(ARCHIVES) $(LIBS)

# Test targets: never sanitized; flags per target in tests/targets/targets.mk.
TARGET_DIR = build/targets
include tests/targets/targets.mk

tests: $(UNIT_BINS) $(TOOL_BINS)

# gort/table.c: the runtime layout of each Go release profd knows for
# binaries without DWARF, read by tests/tools/gofields from the DWARF of
# GORT_TABLE_BINS (one binary per release; gohot is built with the Go on
# PATH). Run it after changing GORT_FIELDS (gort/gort.h).
GORT_TABLE_BINS ?= $(TARGET_DIR)/gohot
gort-table: $(BUILD)/tools/gofields $(GORT_TABLE_BINS)
	$(call msg,GEN,gort/table.c)$(BUILD)/tools/gofields \
		$(GORT_TABLE_BINS) >gort/table.c.tmp && \
		mv gort/table.c.tmp gort/table.c

deps:
	@scripts/deps.sh

# The ASan/UBSan daemon the end-to-end tests also run against, and the unit
# tests and tools built the same way (build-asan/tests, build-asan/tools).
asan:
	$(Q)$(MAKE) --no-print-directory SANITIZE=address,undefined BUILD=build-asan \
		build-asan/profd tests

check: deps
	$(Q)$(MAKE) --no-print-directory all tests targets
	$(Q)$(MAKE) --no-print-directory asan
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)tests/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all targets
	$(Q)scripts/demo.sh

# ---- fuzzing ----------------------------------------------------------
#
# libFuzzer harnesses tests/fuzz/fuzz_NAME.c for the parsers of what a
# target, a container or a client controls, built with clang, libFuzzer,
# ASan and UBSan into build-fuzz/ (its own archives of the modules they
# need; the gcc-only warnings are left out, the others stay, with
# -Werror). `make fuzz` runs each for FUZZ_SECONDS with its corpus (new
# inputs kept in build-fuzz/corpus/NAME, crashes in build-fuzz/crashes/,
# and then the target fails); `make check` runs each for
# FUZZ_CHECK_SECONDS through tests/run.sh (fuzz/NAME). tests/fuzz/run.sh
# says more.
FUZZ_CC      ?= clang
FUZZ_BUILD    = build-fuzz
FUZZ_SANITIZE = fuzzer-no-link,address,undefined
FUZZ_SECONDS ?= 60
FUZZ_CHECK_SECONDS ?= 5
FUZZ_NAMES    = $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS     = $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_NAMES))
# what the harnesses link: the parsers' modules and the daemon/ files with
# parsers (proc.c, smaps.c, memory.c and the clock.c it uses); the rest of
# daemon/ is neither needed nor built with clang
FUZZ_OBJS     = $(BUILD)/obj/daemon/proc.o $(BUILD)/obj/daemon/smaps.o \
                $(BUILD)/obj/daemon/memory.o $(BUILD)/obj/daemon/clock.o \
                $(BUILD)/libgort.a $(BUILD)/libsymbolize.a \
                $(BUILD)/libspace.a $(BUILD)/libhttp.a $(BUILD)/libcommon.a

fuzz-build:
	$(Q)$(MAKE) --no-print-directory CC=$(FUZZ_CC) WARN_GCC= \
		SANITIZE=$(FUZZ_SANITIZE) BUILD=$(FUZZ_BUILD) fuzz-bins

fuzz: fuzz-build
	$(Q)tests/fuzz/run.sh -t $(FUZZ_SECONDS) $(FUZZ_NAMES)

# Only in the sub-make of fuzz-build (BUILD=build-fuzz, CC=clang).
fuzz-bins: $(FUZZ_BINS) $(BUILD)/seeds/.done

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h tests/fuzz/goelf.h \
		$(FUZZ_OBJS) $(BUILD)/.cflags
	@mkdir -p $(@D)
	$(call msg,LD,$@)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) \
		$(if $(filter fuzz_%,$*),-fsanitize=fuzzer) -o $@ $< \
		$(FUZZ_OBJS) $(LIBS)

# Seeds made at build time, not committed: mkseeds' profiles and Go
# tables, and tests/fuzz/seed_prog.c compiled a few ways, mostly with gcc:
# clang 14 writes no .debug_aranges, without which libdw 0.188 finds no
# DWARF for an address, so a clang-built seed covers only symbol tables.
FUZZ_SEED_CC ?= gcc
$(BUILD)/seeds/.done: $(BUILD)/fuzz/mkseeds tests/fuzz/seed_prog.c
	@rm -rf $(@D) && mkdir -p $(@D)/elf
	$(call msg,GEN,$(@D))$(BUILD)/fuzz/mkseeds $(@D)
	$(Q)$(FUZZ_SEED_CC) -g -O2 -o $(@D)/elf/prog.dwarf5 \
		tests/fuzz/seed_prog.c
	$(Q)$(FUZZ_SEED_CC) -gdwarf-4 -O1 -no-pie -o $(@D)/elf/prog.dwarf4 \
		tests/fuzz/seed_prog.c
	$(Q)$(FUZZ_SEED_CC) -g -gz=zlib -O2 -o $(@D)/elf/prog.gz \
		tests/fuzz/seed_prog.c
	$(Q)$(FUZZ_SEED_CC) -g -O2 -c -o $(@D)/elf/prog.o tests/fuzz/seed_prog.c
	$(Q)$(CC) -g -O2 -o $(@D)/elf/prog.clang tests/fuzz/seed_prog.c
	$(Q)strip --strip-debug -o $(@D)/elf/prog.symtab $(@D)/elf/prog.dwarf5
	$(Q)strip -o $(@D)/elf/prog.stripped $(@D)/elf/prog.dwarf5
	@touch $@

lint:
	mandoc -Tlint -W warning man/profd.8
	cppcheck --quiet --error-exitcode=1 --std=c11 -I. \
		--suppress=missingIncludeSystem daemon unwind gort symbolize space http

install: $(BUILD)/profd
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BUILD)/profd $(DESTDIR)$(BINDIR)/profd
	install -m 0644 man/profd.8 $(DESTDIR)$(MANDIR)/man8/profd.8

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/profd $(DESTDIR)$(MANDIR)/man8/profd.8

clean:
	rm -rf build build-* tests/tmp

FORCE:
.PHONY: all tests deps asan check demo lint install uninstall clean targets \
	gort-table \
	bench bench-deps bench-targets bench-clean fuzz fuzz-build fuzz-bins \
	FORCE

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# make bench: profd's benchmark, not part of make check (bench/bench.mk)
include bench/bench.mk
