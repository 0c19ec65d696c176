#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_syscalls - samples land where threads use the CPU, not where the kernel
# preempts them. The syscalls target runs 4 busy threads on this machine's
# 2 CPUs; each spends ~99 % of its time in crunch() and makes two cheap
# system calls per millisecond. A thread waiting on a run queue stops where
# it was preempted, which with lazy preemption is mostly a system call
# exit: keeping those samples put half of the profile in clock_gettime.
# perf record sees crunch at ~98 %; profd must too (>= 90 %), with the
# system call wrappers under 5 %.
. "$(dirname "$0")/lib.sh"
t_begin syscalls
need_pprof_dump
need_go

start_target syscalls 4 120
start_profd
P=$TEST_DIR/sys.pb.gz
fetch_profile "$BASE/debug/pprof/profile?seconds=4" "$P"

F=$TEST_DIR/folded
pdump folded "$P" >"$F" || fail "pprof-dump folded failed"
T=$(fold_total "$F")
[ "$T" -gt 0 ] || fail "empty profile"
say "top stacks (pprof-dump folded):"
awk '{ print $NF "\t" $0 }' "$F" | sort -t "$(printf '\t')" -k 1,1nr |
    first_lines 4 | cut -f 2- | sed 's/^/  /'
expect_range "CPU in worker;crunch as the leaf (%)" \
    "$(pct "$(fold_sum_leaf "$F" "worker;crunch")" "$T")" 90 100
sys=$(awk '{
	v = $NF
	n = split(substr($0, 1, length($0) - length($NF) - 1), fr, ";")
	if (fr[n] ~ /clock_gettime|getppid|syscall/)
		t += v
} END { printf "%.0f\n", t }' "$F")
expect_range "CPU with a system call wrapper as the leaf (%)" "$(pct "$sys" "$T")" 0 5

TB=$TEST_DIR/top
pprof_table "$P" >"$TB" || fail "go tool pprof -top failed"
head -n 4 "$TB" | sed 's/^/  /'
expect_range "go tool pprof: flat% of crunch" "$(table_get "$TB" crunch 1)" 90 100

stop_profd
assert_target_ok
say "PASS syscalls"
