#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_rel_kill - reliability: profd SIGKILLed in the middle of 20 consecutive
# windows, one profd after another on the same target, never leaves the
# target stopped or traced (reference/ptrace-sampling.md 1.2: the kernel
# detaches a dead tracer's tracees and restarts them).  Odd rounds use the
# default per-sample attach, even rounds --attach window (every thread held
# seized for the whole window); every window asks for hz=1000, the most time
# in stops, and the kill comes 0-299 ms (fixed seed) after the target was
# its window started (profd's log).  After each kill: the same 3 threads alive, none in
# T or t, TracerPid 0 everywhere, both busy workers using CPU again, and the
# request of the killed window did not answer 200.
. "$(dirname "$0")/lib.sh"
t_begin rel_kill

ROUNDS=20
RANDOM=20240917		# the kill offsets are the same in every run

start_target split 2 300
nthreads=$(find "/proc/$TARGET_PID/task" -mindepth 1 -maxdepth 1 | wc -l)
[ "$nthreads" = 3 ] || fail "split 2 has $nthreads threads, want 3"

now_ms()
{
	local t=${EPOCHREALTIME//[!0-9]/}
	printf '%s\n' $((t / 1000))
}

# cpu_by_thread: "TID NS" for every thread of the target, sorted.
cpu_by_thread()
{
	local t ns rest
	for t in /proc/"$TARGET_PID"/task/*; do
		read -r ns rest <"$t/schedstat" || continue
		printf '%s %s\n' "${t##*/}" "$ns"
	done | LC_ALL=C sort
}

# thread_states: the state letters of all the target's threads, sorted.
thread_states()
{
	local t s
	for t in /proc/"$TARGET_PID"/task/*; do
		s=$(state_of "${t##*/}") || s=gone
		printf '%s\n' "$s"
	done | LC_ALL=C sort | tr '\n' ' '
}

tmin=999999 tmax=0 nok=0
for ((i = 1; i <= ROUNDS; i++)); do
	mode=sample
	args=()
	if ((i % 2 == 0)); then
		mode=window
		args=(--attach window)
	fi
	start_profd "${args[@]}"
	out=$TEST_DIR/win.$i
	t0=$(now_ms)
	(exec curl -sS --max-time 60 -o "$out" -w '%{http_code}' \
	    "$BASE/debug/pprof/profile?seconds=20&hz=1000" >"$out.code" \
	    2>"$out.err") &
	curl_pid=$!
	_track "$curl_pid"
	wait_window_open 1 10 ||
	    fail "round $i ($mode): profd $PROFD_PID never started the window within 10 s"
	traced_ms=$(($(now_ms) - t0))
	delay=$((RANDOM % 300))
	if [ "$delay" -gt 0 ]; then
		sleep "$(printf '0.%03d' "$delay")"	# the kill offset, on purpose
	fi
	kill -KILL "$PROFD_PID"
	wait_gone "$PROFD_PID" 10 || fail "round $i: profd survived SIGKILL for 10 s"
	rc=0
	wait "$PROFD_PID" || rc=$?
	[ "$rc" = 137 ] || fail "round $i: profd exit status $rc after SIGKILL, want 137"

	# The target, at once and 0.2 s later: all threads there, none
	# stopped or traced; then both workers must use CPU again. How much
	# CPU they get in a given time depends on the machine's load, so the
	# check is that each one's schedstat moves at all (a thread left
	# stopped never does), polled for up to 10 s.
	problem=$(target_problem) || fail "round $i ($mode), right after the kill: $problem"
	n=$(find "/proc/$TARGET_PID/task" -mindepth 1 -maxdepth 1 | wc -l)
	[ "$n" = "$nthreads" ] || fail "round $i: the target has $n threads, had $nthreads"
	cpu_by_thread >"$TEST_DIR/cpu0"
	for ((k = 0; k < 2; k++)); do
		sleep 0.1
		problem=$(target_problem) ||
		    fail "round $i ($mode), $((k + 1))00 ms after the kill: $problem"
	done
	for ((k = 0; ; k++)); do
		cpu_by_thread >"$TEST_DIR/cpu1"
		deltas=$(LC_ALL=C join "$TEST_DIR/cpu0" "$TEST_DIR/cpu1" |
		    awk '{ d = ($3 - $2) / 1e6; if ($3 > $2) n++; printf "%.1f ", d }
			END { print "busy=" n + 0 }')
		busy=${deltas##*busy=}
		[ "$busy" -lt 2 ] || break
		[ "$k" -lt 100 ] ||
		    fail "round $i ($mode): $busy thread(s) used CPU in 10 s after the kill, want both workers (ms per thread: ${deltas% busy=*})"
		sleep 0.1
	done
	wait "$curl_pid" 2>/dev/null || true
	code=$(cat "$out.code" 2>/dev/null || echo none)
	[ "$code" != 200 ] || fail "round $i: the killed window answered 200"
	say "round $((i)) $mode: window open after $traced_ms ms, SIGKILL $delay ms later; target: states $(thread_states)TracerPid 0, CPU ms per thread since the kill: ${deltas% busy=*}; request: $code"
	((traced_ms < tmin)) && tmin=$traced_ms
	((traced_ms > tmax)) && tmax=$traced_ms
	nok=$((nok + 1))
done
ok "$nok/$ROUNDS SIGKILLs mid-window (10 per-sample, 10 --attach window): the target was running, not stopped, untraced after every one; windows open $tmin..$tmax ms after the request"

# And a last profd profiles it normally.
need_pprof_dump
start_profd
fetch_profile "$BASE/debug/pprof/profile?seconds=1" "$TEST_DIR/after.pb.gz"
n=$(summary_get "$TEST_DIR/after.pb.gz.summary" 'total[0]')
# At most one sample per tick and thread (99 Hz, 2 workers and the main
# thread, a little over 1 s); at least a tenth of the workers' ticks, which
# holds however loaded the machine is, since they are the busiest threads.
expect_range "samples in 1 s at 99 Hz, 2 busy threads, after $ROUNDS kills" "$n" 20 400
pdump folded "$TEST_DIR/after.pb.gz" >"$TEST_DIR/after.folded" ||
    fail "pprof-dump folded failed"
T=$(fold_total "$TEST_DIR/after.folded")
expect_range "after $ROUNDS kills: CPU in hot_a, hot_b, hot_c (%)" \
    "$(pct "$(($(fold_sum "$TEST_DIR/after.folded" hot_a) + $(fold_sum "$TEST_DIR/after.folded" hot_b) + $(fold_sum "$TEST_DIR/after.folded" hot_c)))" "$T")" 90 100
stop_profd
wait_untraced 5 || fail "target still traced after the last profd exited"
assert_target_ok
say "PASS rel_kill"
