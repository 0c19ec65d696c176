#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_rel_churn - reliability: a target that creates and joins ~1000 threads
# a second (churn: batches of 4 short-lived "churn-t" threads, ~100 us of
# work each, next to one always-running "steady" thread), so that threads
# are gone, or just born, between profd's listing of /proc/PID/task and its
# stops (reference/ptrace-sampling.md 3.1).  During a 10 s CPU window at the
# default 99 Hz, an overlapping 5 s wall-clock window and three thread dumps
# (debug=2): profd survives, every answer is 200 and decodes, the CPU
# profile has samples and the steady thread dominates it, the target keeps
# creating and joining threads at a good rate with no pthread_create
# failure, and afterwards no thread is stopped (T, t) or traced.
. "$(dirname "$0")/lib.sh"
t_begin rel_churn
need_pprof_dump

CNT=$TEST_DIR/counters
start_target churn "$CNT" 1000 120

# counters: "CREATED JOINED FAILED LATE", from one read of the file.
counters()
{
	od -An -v -t u8 -N 32 "$CNT" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'
	printf '\n'
}

# watch_ok SECONDS: check the target every 0.1 s (threads come and go, so
# target_problem skips threads that exit while it reads them).
watch_ok()
{
	local i problem
	for ((i = 0; i < $1 * 10; i++)); do
		problem=$(target_problem) || fail "$problem"
		sleep 0.1
	done
}

# proc_cpu_ticks: utime + stime of the whole process, exited threads
# included, in clock ticks (/proc/PID/stat fields 14 and 15).
proc_cpu_ticks()
{
	local s
	s=$(cat "/proc/$TARGET_PID/stat")
	s=${s##*) }
	awk '{ print $12 + $13 }' <<<"$s"
}
HZ_TCK=$(getconf CLK_TCK)

# The rate without profd, over 1 s (a deliberate observation).
read -r c0 _ <<<"$(counters)"
sleep 1
read -r c1 _ f1 _ <<<"$(counters)"
base_rate=$((c1 - c0))
[ "$f1" = 0 ] || fail "churn: $f1 pthread_create failures before profd"
# How fast a machine creates threads is its own business (CPU model,
# load); the rate without profd is the reference for the rates below.
[ "$base_rate" -ge 20 ] || fail "churn creates only $base_rate threads/s without profd"
ok "without profd: $base_rate threads created in 1 s"

start_profd
nwin=$(count_matches "$PROFD_LOG" 'window started')
bg_fetch cpu "$BASE/debug/pprof/profile?seconds=10" 60
cpu_pid=$BG_PID
wait_window_open $((nwin + 1)) 10 || fail "the CPU window never started (profd log)"
read -r w0 _ <<<"$(counters)"
k0=$(proc_cpu_ticks)
bg_fetch wall "$BASE/debug/pprof/wall?seconds=5" 60
wall_pid=$BG_PID
wait_window_open $((nwin + 2)) 10 || fail "the wall window never started (profd log)"

# Three thread dumps while both windows are open.
dumps=""
for ((d = 1; d <= 3; d++)); do
	out=$TEST_DIR/dump.$d
	code=$(fetch "$BASE/debug/pprof/threads?debug=2" "$out")
	expect_status "thread dump $d" "$code" 200
	nth=$(count_matches "$out" '^thread [0-9]+ ')
	grep -Eq '^thread [0-9]+ "steady"' "$out" || fail "thread dump $d: no steady thread"
	grep -Eq "^thread $TARGET_PID \"churn\"" "$out" || fail "thread dump $d: no main thread"
	grep -q steady_work "$out" || fail "thread dump $d: no steady_work frame"
	dumps+="$nth "
	sleep 1		# spread the dumps over the window, on purpose
done
ok "3 thread dumps during the windows: 200, steady and main thread in each, threads listed: ${dumps% }"

bg_wait "$wall_pid" wall
expect_profile "wall window" "$TEST_DIR/wall" "$BG_CODE"
wall_n=$PROFILE_SAMPLES
expect_range "wall samples in 5 s at 99 Hz (2 long-lived threads + churn)" "$wall_n" 100 20000
pdump folded "$TEST_DIR/wall" >"$TEST_DIR/wall.folded" || fail "pprof-dump folded failed"
[ "$(fold_sum "$TEST_DIR/wall.folded" steady_work)" -gt 0 ] || fail "wall profile: no steady_work"

bg_wait "$cpu_pid" cpu
read -r w1 j1 f2 late1 <<<"$(counters)"
k1=$(proc_cpu_ticks)
expect_profile "CPU window" "$TEST_DIR/cpu" "$BG_CODE"
cpu_n=$PROFILE_SAMPLES
cpu_ticks=$(comment_count "$TEST_DIR/cpu.summary" ticks)
[ -n "$cpu_ticks" ] || fail "no tick count in profd's comment on the CPU profile"
# the steady thread runs all the time: a sample at most ticks, at least at
# a fifth of them however loaded the machine; each churn thread adds a few
expect_range "CPU samples in 10 s at 99 Hz ($cpu_ticks ticks)" "$cpu_n" $((cpu_ticks / 5)) 6000
pdump folded "$TEST_DIR/cpu" >"$TEST_DIR/cpu.folded" || fail "pprof-dump folded failed"
T=$(fold_total "$TEST_DIR/cpu.folded")
steady=$(fold_sum "$TEST_DIR/cpu.folded" "steady_main;steady_work")
churnt=$(fold_sum "$TEST_DIR/cpu.folded" churn_thread)
expect_range "CPU time in the steady thread (steady_main;steady_work, %)" "$(pct "$steady" "$T")" 50 100
say "CPU time in short-lived threads (churn_thread): $(pct "$churnt" "$T") %"
used_ns=$(( (k1 - k0) * 1000000000 / HZ_TCK ))
expect_range "CPU time in the profile, % of what the process used in the window ($((used_ns / 1000000)) ms)" \
    "$(pct "$(summary_get "$TEST_DIR/cpu.summary" 'total[1]')" "$used_ns")" 50 130

during=$((w1 - w0))
[ "$f2" = 0 ] || fail "$f2 pthread_create failures during profiling"
expect_range "threads created during the 10 s CPU window (~1000/s asked, $base_rate/s without profd: at least a fifth of that rate)" \
    "$during" $((base_rate * 10 / 5)) 20000
d=$((w1 - j1))
if [ "$d" -lt 0 ] || [ "$d" -gt 8 ]; then
	fail "created $w1, joined $j1: $d threads neither joined nor running"
fi
ok "created $w1, joined $j1, failed $f2, late batches $late1"

wait_untraced 5 || fail "target still traced 5 s after the windows ended"
watch_ok 1
read -r c2 _ <<<"$(counters)"
sleep 1	# an observation: does it still create threads?
read -r c3 _ f3 _ <<<"$(counters)"
[ $((c3 - c2)) -ge $((base_rate / 5)) ] ||
    fail "only $((c3 - c2)) threads created in 1 s after profiling ($base_rate/s before)"
[ "$f3" = 0 ] || fail "$f3 pthread_create failures"
ok "after the windows: 10 checks over 1 s found no thread stopped or traced; $((c3 - c2)) threads created in 1 s"
say "profd: $(metric_get profd_samples_total) samples, $(metric_get profd_stops_total) stops, $(metric_get profd_late_stops_total) late stops, $(metric_get profd_unwind_failures_total) unwind failures, $(metric_get profd_threads_scanned_total) threads scanned"
stop_profd
problem=$(target_problem) || fail "after profd exited: $problem"
ok "after profd exited: target alive, no thread stopped or traced ($(find "/proc/$TARGET_PID/task" -mindepth 1 -maxdepth 1 | wc -l) threads at the time)"
say "PASS rel_churn"
