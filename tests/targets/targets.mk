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
	    syscalls blocker)

targets: $(TGT_BINS)

$(TARGET_DIR)/spin: $(TGT_SRC)/spin.c $(TGT_DEPS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O1 -g $(TGT_WARN) -o $@ $<

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

.PHONY: targets
