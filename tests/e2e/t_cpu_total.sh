#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_cpu_total - a CPU profile's total is the CPU the threads used.  The
# reference is the target's own clock over the same window: the sum of
# its threads' schedstat run times, read when the window opens and when
# it has ended.  Within 10 %, for
#   1. a busy process (tests/targets/split.c: three spinning threads);
#   2. a mostly idle one whose threads wake, run about 300 us of CPU and
#      sleep 5..15 ms (tests/targets/burst.c): most of its CPU is used
#      between two ticks, and most of the threads found runnable are
#      waiting for a CPU, just woken from a system call;
#   3. the same with one CPU hog per core beside it, at the target's
#      priority: an overloaded machine.
# Each profile's comment says how much CPU it could not attribute to a
# stack, and /metrics counts it (profd_cpu_unattributed_seconds_total).
# For 2., the samples must also be about one per 1/99 s of CPU used: a
# thread that has run lately is read at every tick, so each tick finds
# the threads that are running then (a sampler that reads the bursty
# threads only every few ticks takes a fraction of that, and its CPU
# lands on few and stale stacks).
. "$(dirname "$0")/lib.sh"
t_begin cpu_total
need_pprof_dump

SECS=6

# window NAME: a SECS-second CPU profile at 99 Hz; prints the profile's
# sample count, cpu/nanoseconds total and the target's CPU ns over the
# window.
window()
{
	local p=$TEST_DIR/$1.pb.gz c0 c1 tot
	bg_fetch "$1.pb.gz" "$BASE/debug/pprof/profile?seconds=$SECS&hz=99" 60
	wait_window_open "$2" 10 || fail "$1: the window did not start"
	c0=$(target_cpu_ns)
	bg_wait "$BG_PID" "$1.pb.gz"
	c1=$(target_cpu_ns)
	expect_status "$1: GET /debug/pprof/profile" "$BG_CODE" 200
	pdump summary "$p" >"$p.summary" || fail "$1: pprof-dump cannot decode the profile"
	tot=$(summary_get "$p.summary" 'total[1]')
	say "$1: $(summary_get "$p.summary" comment)"
	printf '%s %s %s\n' "$(summary_get "$p.summary" 'total[0]')" "$tot" \
	    "$((c1 - c0))"
}

# check NAME THREADS [FUNC [fair]]: the window's total against the
# target's CPU; FUNC: where most of it must be; fair: the samples against
# the CPU used, one per 1/99 s.
check()
{
	local r n tot used
	r=$(window "$1" "$2") || exit 1
	printf '%s\n' "$r" | sed '$d'
	read -r n tot used <<<"$(printf '%s\n' "$r" | tail -1)"
	[ "$used" -gt 0 ] || fail "$1: the target used no CPU over the window"
	say "$1: profile total $((tot / 1000000)) ms, target used $((used / 1000000)) ms, $n samples"
	expect_range "$1: profile total / CPU used (%)" "$(pct "$tot" "$used")" 90 110
	[ "${4:-}" = fair ] &&
	    expect_range "$1: samples / (CPU used x 99 Hz) (%)" \
		"$(pct "$n" "$((used * 99 / 1000000000))")" 50 300
	[ -z "${3:-}" ] && return
	# where it went: the function that does the work
	pdump folded -i 1 "$TEST_DIR/$1.pb.gz" >"$TEST_DIR/$1.folded" ||
	    fail "$1: pprof-dump folded failed"
	sort -k 2 -t ' ' -rn "$TEST_DIR/$1.folded" | first_lines 3 | sed 's/^/  /'
	expect_range "$1: CPU under $3 (%)" \
	    "$(pct "$(fold_sum "$TEST_DIR/$1.folded" "$3")" "$(fold_total "$TEST_DIR/$1.folded")")" 80 100
}

start_target split 2 120
start_profd
check busy 1
stop_profd

start_target burst 4 300 10000 120
start_profd
check bursty 1 burst_work fair

start_hogs
check overloaded 2 burst_work
stop_hogs
u=$(metric_get "profd_cpu_unattributed_seconds_total")
say "profd_cpu_unattributed_seconds_total: ${u:-none}"
stop_profd
say "PASS cpu_total"
