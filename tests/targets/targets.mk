# Test targets (DESIGN.md section 8): small programs with known stacks, built
# into $(TARGET_DIR) by `make targets`.  Never sanitized.  Optimisation and
# frame-pointer flags are fixed per target because the tests depend on them:
# -fomit-frame-pointer makes CFI the only way to find a caller, -O2 with
# always_inline makes an inline frame.  Included by the top-level Makefile.

CXX      ?= g++
TARGET_DIR ?= build/targets
TGT_SRC   = tests/targets
TGT_WARN  = -Wall -Wextra -Werror
TGT_DEPS  = $(TGT_SRC)/target.h $(TGT_SRC)/targets.mk
TGT_BINS  = $(addprefix $(TARGET_DIR)/,spin split cxx libhot.so shlib demo \
	    syscalls blocker lateload sigcount waitchild churn exiter \
	    truncator tracer many grow burst stacks phases)

# Rust (tests/e2e/t_rust.sh): built when rustc is on PATH; scripts/deps.sh
# installs Debian's rustc when it is not, so CI always has it.
RUSTC    ?= rustc
ifneq ($(shell command -v $(RUSTC) 2>/dev/null),)
TGT_BINS += $(TARGET_DIR)/rust-legacy $(TARGET_DIR)/rust-v0
endif

# Go (tests/e2e/t_go*.sh): built when go is on PATH; scripts/deps.sh
# installs Debian's golang-go, so CI always has it.
GO       ?= go
ifneq ($(shell command -v $(GO) 2>/dev/null),)
TGT_BINS += $(TARGET_DIR)/gohot $(TARGET_DIR)/gohot-stripped \
	    $(TARGET_DIR)/gohot-cgo $(TARGET_DIR)/gohot-gnuid \
	    $(TARGET_DIR)/gor $(TARGET_DIR)/gor-stripped \
	    $(TARGET_DIR)/goalloc $(TARGET_DIR)/goalloc-stripped
endif

targets: $(TGT_BINS)

$(TARGET_DIR)/spin: $(TGT_SRC)/spin.c $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O1 -g $(TGT_WARN) -o $@ $<

$(TARGET_DIR)/grow: $(TGT_SRC)/grow.c $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O1 -g -pthread $(TGT_WARN) -o $@ $<

$(TARGET_DIR)/burst: $(TGT_SRC)/burst.c $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O1 -g -pthread $(TGT_WARN) -o $@ $<

$(TARGET_DIR)/phases: $(TGT_SRC)/phases.c $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O2 -g -fomit-frame-pointer -pthread $(TGT_WARN) \
		-o $@ $<

$(TARGET_DIR)/split: $(TGT_SRC)/split.c $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O2 -g -fomit-frame-pointer -pthread $(TGT_WARN) \
		-o $@ $<

$(TARGET_DIR)/cxx: $(TGT_SRC)/cxx.cpp $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CXX,$@)$(CXX) -O2 -g -fomit-frame-pointer $(TGT_WARN) -o $@ $<

$(TARGET_DIR)/libhot.so: $(TGT_SRC)/libhot.c $(TGT_SRC)/libhot.h $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O2 -g -fPIC -fomit-frame-pointer -shared \
		-Wl,-soname,libhot.so $(TGT_WARN) -o $@ $<

# $ORIGIN: shlib finds libhot.so next to itself, wherever it runs from.
$(TARGET_DIR)/shlib: $(TGT_SRC)/shlib.c $(TGT_SRC)/libhot.h \
		$(TARGET_DIR)/libhot.so $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O1 -g $(TGT_WARN) -o $@ $< \
		-L$(TARGET_DIR) -lhot -Wl,-rpath,'$$ORIGIN'

# Not linked with libhot.so: it dlopen()s it, found through $ORIGIN, once
# told to (t_dlopen.sh).
$(TARGET_DIR)/lateload: $(TGT_SRC)/lateload.c $(TARGET_DIR)/libhot.so \
		$(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O1 -g $(TGT_WARN) -o $@ $< -ldl \
		-Wl,-rpath,'$$ORIGIN'

# dlopen()s whatever library it is given (t_hostile_files.sh).
$(TARGET_DIR)/truncator: $(TGT_SRC)/truncator.c $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O1 -g $(TGT_WARN) -o $@ $< -ldl

$(TARGET_DIR)/many: $(TGT_SRC)/many.c $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O1 -g -pthread $(TGT_WARN) -o $@ $<

$(TARGET_DIR)/stacks: $(TGT_SRC)/stacks.c $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O1 -g -fno-omit-frame-pointer -pthread $(TGT_WARN) -o $@ $<

$(TARGET_DIR)/demo: $(TGT_SRC)/demo.c $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O2 -g -pthread $(TGT_WARN) -o $@ $<

$(TARGET_DIR)/syscalls: $(TGT_SRC)/syscalls.c $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O2 -g -pthread $(TGT_WARN) -o $@ $<

# -O1 -g: the tests look for each blocked function, with its file:line, in
# its own thread's stack; unwinding corner cases are other targets' business.
$(TARGET_DIR)/blocker: $(TGT_SRC)/blocker.c $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O1 -g -pthread $(TGT_WARN) -o $@ $<

# Reliability targets (tests/e2e/t_rel_*.sh): a SIGUSR1 counter and its
# sender, a parent that reports waitpid events, thread churn, a target that
# exits or execs on command.  -O1 -g, like blocker: their stacks are checked
# only loosely.
$(TARGET_DIR)/sigcount: $(TGT_SRC)/sigcount.c $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O1 -g -pthread $(TGT_WARN) -o $@ $<

$(TARGET_DIR)/waitchild: $(TGT_SRC)/waitchild.c $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O1 -g $(TGT_WARN) -o $@ $<

$(TARGET_DIR)/churn: $(TGT_SRC)/churn.c $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O1 -g -pthread $(TGT_WARN) -o $@ $<

$(TARGET_DIR)/exiter: $(TGT_SRC)/exiter.c $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O1 -g -pthread $(TGT_WARN) -o $@ $<

# Not a target: a tracer that stops every thread of a process and answers
# nothing, as a debugger left attached does (t_rel_freeze.sh).
$(TARGET_DIR)/tracer: $(TGT_SRC)/tracer.c $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O1 -g $(TGT_WARN) -o $@ $<

# The same program with both Rust symbol manglings: legacy (the default,
# "_ZN...17h<hash>E") and v0 ("_R...").
$(TARGET_DIR)/rust-legacy: $(TGT_SRC)/rust/hot.rs $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,RUSTC,$@)$(RUSTC) -C opt-level=2 -g -o $@ $<

$(TARGET_DIR)/rust-v0: $(TGT_SRC)/rust/hot.rs $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,RUSTC,$@)$(RUSTC) -C opt-level=2 -g \
		-C symbol-mangling-version=v0 -o $@ $<

# One Go program three ways: pure Go with DWARF, pure Go without symbols or
# DWARF (-s -w: only .gopclntab is left), and cgo (external linking against
# libc, runtime/cgo's .eh_frame). The build is offline and stays in build/:
# no module downloads (the module has no dependencies), no VCS stamping
# (it would run git), cache and GOPATH under build/.
GOHOT_SRCS = $(wildcard $(TGT_SRC)/gohot/*.go) $(TGT_SRC)/gohot/go.mod
GO_ENV     = GOCACHE=$(abspath build/go-cache) GOPATH=$(abspath build/gopath) \
	     GOFLAGS= GOPROXY=off GO111MODULE=on GOWORK=off GOTOOLCHAIN=local \
	     CC="$(CC)"
GO_RUN     = cd $(TGT_SRC)/gohot && $(GO_ENV)

$(TARGET_DIR)/gohot: $(GOHOT_SRCS) $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,GO,$@)$(GO_RUN) CGO_ENABLED=0 $(GO) build -buildvcs=false \
		-o $(abspath $@) .

$(TARGET_DIR)/gohot-stripped: $(GOHOT_SRCS) $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,GO,$@)$(GO_RUN) CGO_ENABLED=0 $(GO) build -buildvcs=false \
		-ldflags='-s -w' -o $(abspath $@) .

$(TARGET_DIR)/gohot-cgo: $(GOHOT_SRCS) $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,GO,$@)$(GO_RUN) CGO_ENABLED=1 $(GO) build -buildvcs=false \
		-o $(abspath $@) .

# With a GNU build-id note beside Go's own (-ldflags=-B): a profile's
# mapping must carry the GNU one (t_go_buildid).
GOHOT_GNUID = 0x70726f66642d676f2d676e752d6275696c642d69
$(TARGET_DIR)/gohot-gnuid: $(GOHOT_SRCS) $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,GO,$@)$(GO_RUN) CGO_ENABLED=0 $(GO) build -buildvcs=false \
		-ldflags='-B $(GOHOT_GNUID)' -o $(abspath $@) .

# Known goroutines (tests/e2e/t_go_goroutines.sh, t_go_gcstacks.sh, the
# bench's goroutines section): with DWARF and without (-s -w), built
# offline as gohot is.
GOR_SRCS = $(wildcard $(TGT_SRC)/gor/*.go) $(TGT_SRC)/gor/go.mod
GOR_RUN  = cd $(TGT_SRC)/gor && $(GO_ENV) CGO_ENABLED=0

$(TARGET_DIR)/gor: $(GOR_SRCS) $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,GO,$@)$(GOR_RUN) $(GO) build -buildvcs=false \
		-o $(abspath $@) .

$(TARGET_DIR)/gor-stripped: $(GOR_SRCS) $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,GO,$@)$(GOR_RUN) $(GO) build -buildvcs=false \
		-ldflags='-s -w' -o $(abspath $@) .

# A Go program whose heap is known (t_go_mem), with DWARF and without.
GOALLOC_SRCS = $(TGT_SRC)/goalloc/main.go $(TGT_SRC)/goalloc/go.mod
GOALLOC_RUN  = cd $(TGT_SRC)/goalloc && $(GO_ENV) CGO_ENABLED=0

$(TARGET_DIR)/goalloc: $(GOALLOC_SRCS) $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,GO,$@)$(GOALLOC_RUN) $(GO) build -buildvcs=false \
		-o $(abspath $@) .

$(TARGET_DIR)/goalloc-stripped: $(GOALLOC_SRCS) $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,GO,$@)$(GOALLOC_RUN) $(GO) build -buildvcs=false \
		-ldflags='-s -w' -o $(abspath $@) .

.PHONY: targets
