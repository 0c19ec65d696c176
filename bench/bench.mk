# bench/bench.mk - `make bench`: profd's benchmark (bench/bench.sh says what
# it measures).  Not part of `make check`.  Included by the top-level
# Makefile; everything it builds and every run's data go to bench/out/.
#
#   make bench           install perf if missing, build, run (~25 min),
#                        print the report, write bench/RESULTS.md
#   make bench-targets   build the benchmark targets only
#   make bench-clean     remove bench/out/
#
# Knobs (environment, see bench/bench.sh): BENCH_REPS, BENCH_THREADS,
# BENCH_RSS_SECONDS=600 (the 10-minute RSS case), BENCH_ONLY, BENCH_DROP_CACHES,
# BENCH_DEADLINE, BENCH_GOROUTINES.
#
# The goroutines section profiles tests/targets/gor, built here with the
# test targets when Go is installed.

BENCH_OUT   = bench/out
BENCH_BIN   = $(BENCH_OUT)/bin
BENCH_CXX   ?= g++
# The targets are CPU-bound C with known stacks; like tests/targets/split,
# -fomit-frame-pointer so that callers are found through CFI only.
BENCH_CFLAGS = -O2 -g -fomit-frame-pointer -pthread -Wall -Wextra -Werror \
	       -Itests/targets
BENCH_TGTS  = $(addprefix $(BENCH_BIN)/,work sleepers siglat stacks gap floor) \
	      $(BENCH_OUT)/big/big
# The large binary: units x functions per unit (bench/gen_big.py); 26 x 150
# gives ~59 MB, mostly DWARF, in ~25 s on 2 cores.
BENCH_BIG_NCU ?= 26
BENCH_BIG_NFN ?= 150
BENCH_BIG_MIN_MB = 50

bench: deps bench-deps
	$(Q)$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) \
		$(BUILD)/profd $(BUILD)/tools/pprof-dump \
		bench-targets $(filter %/gor,$(TGT_BINS))
	$(Q)PROFD=$(BUILD)/profd PPROF_DUMP=$(BUILD)/tools/pprof-dump bench/bench.sh

bench-deps:
	@bench/deps.sh

bench-targets: $(BENCH_TGTS)

$(BENCH_BIN)/%: bench/%.c tests/targets/target.h bench/bench.mk
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) $(BENCH_CFLAGS) -o $@ $<

# The test target whose every sample is a new stack (the hist section).
$(BENCH_BIN)/stacks: tests/targets/stacks.c tests/targets/target.h bench/bench.mk
	@mkdir -p $(@D)
	$(call msg,CC,$@)$(CC) -O1 -g -pthread -Wall -Wextra -Werror -o $@ $<

# Generated sources, compiled in parallel whatever make's -j, linked; fails
# if the result is smaller than BENCH_BIG_MIN_MB.
$(BENCH_OUT)/big/big: bench/gen_big.py
	@rm -rf $(@D) && mkdir -p $(@D)/src
	$(call msg,GEN,$(@D)/src ($(BENCH_BIG_NCU) units))python3 bench/gen_big.py \
		$(@D)/src $(BENCH_BIG_NCU) $(BENCH_BIG_NFN)
	$(call msg,CXX,$(@D)/src/*.cpp)cd $(@D)/src && ls *.cpp | \
		xargs -P "$$(nproc)" -n 1 sh -c '$(BENCH_CXX) -O1 -g \
		-fno-eliminate-unused-debug-types -c -o "$${0%.cpp}.o" "$$0"'
	$(call msg,LD,$@)$(BENCH_CXX) -pthread -o $@.tmp $(@D)/src/*.o
	@size=$$(stat -c %s $@.tmp); \
	if [ "$$size" -lt $$(($(BENCH_BIG_MIN_MB) * 1048576)) ]; then \
		echo "$@: $$size bytes, want >= $(BENCH_BIG_MIN_MB) MB" >&2; exit 1; \
	fi
	@mv $@.tmp $@

bench-clean:
	rm -rf $(BENCH_OUT)

.PHONY: bench bench-deps bench-targets bench-clean
