#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_rel_leak - clients cannot leak windows, and --allow-any-pid cannot run
# out of targets:
#   a. --max-sessions 4: four 60 s windows (cpu, wall, fgprof, cpu at
#      499 Hz) hold every session and a fifth request gets 503; their
#      clients are killed once the windows have started: each window is
#      cancelled within a few seconds (profd looks every 0.2 s), a new 1 s
#      profile gets 200, /metrics counts 4 more cancelled windows and 0
#      open, the log has one line per cancellation, the target is left
#      untraced. Three rounds: profd's fds and VmRSS do not grow.
#   b. --attach window, two overlapping windows on one target, the second
#      one's client leaves: only that window is cancelled; the first still
#      gets its whole profile (200, samples, its full duration), and the
#      target is untraced once it is over.
#   c. --allow-any-pid: with --max-targets 1, a target with a window open
#      is not let go (a second process gets 503 naming --max-targets);
#      once that window's client has gone it is. With --max-targets 8,
#      20 processes asked for in turn all get 200, /targets never lists
#      more than 8, the 12 least recently used are let go (counted in
#      /metrics), one with a window open meanwhile is never evicted, and
#      every process is untraced afterwards.
# The targets of part c are sleeping Python processes (traceable by any
# tracer, like build/targets), so that 20 of them cost no CPU.
. "$(dirname "$0")/lib.sh"
t_begin rel_leak
need_pprof_dump
command -v python3 >/dev/null || fail "python3: not installed (scripts/deps.sh)"

# rss_kib PID: VmRSS in KiB.  nfds PID: open file descriptors.
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }
nfds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
now_ms() { date +%s%3N; }

# wait_metric NAME WANT SECONDS [PID]: poll /metrics every 0.1 s until NAME
# is WANT.  Sets WAITED_MS.  Returns 1 on timeout.
wait_metric()
{
	local name=$1 want=$2 n=$(($3 * 10)) pid=${4:-${TARGET_PID:-0}} t0 v
	t0=$(now_ms)
	for (( ; n > 0; n--)); do
		v=$(metric_get "$name" "$pid")
		if [ "$v" = "$want" ]; then
			WAITED_MS=$(($(now_ms) - t0))
			return 0
		fi
		sleep 0.1
	done
	say "$name is '$v', want $want"
	return 1
}

# ==== a. abandoned windows under --max-sessions 4 ===============================
start_target spin 300
start_profd --max-sessions 4
urls=("$BASE/debug/pprof/profile?seconds=60" "$BASE/debug/pprof/wall?seconds=60"
    "$BASE/debug/fgprof?seconds=60" "$BASE/debug/pprof/profile?seconds=60&hz=499")
for round in 1 2 3; do
	started=$(count_matches "$PROFD_LOG" 'window started')
	pids=()
	for k in 0 1 2 3; do
		bg_fetch "a$round.$k" "${urls[$k]}"
		pids+=("$BG_PID")
	done
	wait_window_open $((started + 4)) 15 ||
	    fail "round $round: the 4 windows did not start (profd log)"
	[ "$(metric_get profd_windows_open)" = 4 ] ||
	    fail "round $round: profd_windows_open is '$(metric_get profd_windows_open)' with 4 windows open"
	expect_error "$BASE/debug/pprof/profile?seconds=1" 503
	grep -E 'max-sessions' "$TEST_DIR/err.$_nstarted" >/dev/null ||
	    fail "the 503 does not name --max-sessions: $(cat "$TEST_DIR/err.$_nstarted")"
	t0=$(now_ms)
	kill -TERM "${pids[@]}"
	for k in 0 1 2 3; do
		bg_wait "${pids[$k]}" "a$round.$k"
		[ "$BG_CODE" = 000 ] || fail "round $round: killed client $k got an answer: $BG_CODE"
	done
	wait_metric profd_windows_cancelled_total $((round * 4)) 10 ||
	    fail "round $round: the abandoned windows were not cancelled within 10 s"
	ms=$(($(now_ms) - t0))
	ok "round $round: 4 abandoned windows cancelled $ms ms after their clients were killed"
	[ "$ms" -le 5000 ] || fail "round $round: cancelling took $ms ms (want a second or so, at most 5 s)"
	# a new window is served at once, not after the abandoned ones' 60 s
	code=503
	for ((n = 50; n > 0; n--)); do
		code=$(fetch "$BASE/debug/pprof/profile?seconds=1" "$TEST_DIR/new$round.pb.gz")
		[ "$code" = 503 ] || break
		sleep 0.1
	done
	ms=$(($(now_ms) - t0))
	expect_profile "round $round: a new 1 s profile after the clients left" \
	    "$TEST_DIR/new$round.pb.gz" "$code"
	[ "$PROFILE_SAMPLES" -gt 0 ] || fail "round $round: the new profile has no samples"
	ok "round $round: a new 1 s profile -> 200 ($PROFILE_SAMPLES samples), $ms ms after the clients were killed"
	[ "$ms" -le 10000 ] || fail "round $round: the new profile came $ms ms after the clients left"
	wait_metric profd_windows_open 0 5 || fail "round $round: windows still open"
	wait_metric profd_windows_active 0 5 || fail "round $round: the target still has windows"
	n=$(count_matches "$PROFD_LOG" 'window cancelled .*client closed')
	[ "$n" = $((round * 4)) ] || fail "round $round: $n 'window cancelled' log lines, want $((round * 4))"
	wait_untraced 5 || fail "round $round: the target is still traced"
	assert_target_ok
	if [ "$round" = 1 ]; then
		rss0=$(rss_kib "$PROFD_PID")
		fd0=$(nfds "$PROFD_PID")
	fi
done
ok "/metrics: profd_windows_cancelled_total $(metric_get profd_windows_cancelled_total), profd_windows_open $(metric_get profd_windows_open)"
# civetweb closes connections after their answers: give it a moment
n=50
while fd1=$(nfds "$PROFD_PID") && [ "$fd1" -gt $((fd0 + 2)) ] && [ "$n" -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
[ "$fd1" -le $((fd0 + 2)) ] ||
    fail "profd has $fd1 fds after round 3, $fd0 after round 1: $(find "/proc/$PROFD_PID/fd" -mindepth 1 -printf '%l\n' | sort | uniq -c | sort -rn | first_lines 5)"
rss1=$(rss_kib "$PROFD_PID")
case $PROFD in
*asan*) limit=$((128 * 1024)) ;;	# ASan's quarantine holds freed memory
*) limit=$((16 * 1024)) ;;
esac
[ $((rss1 - rss0)) -lt "$limit" ] ||
    fail "profd's VmRSS grew by $((rss1 - rss0)) KiB from round 1 to round 3 ($rss0 -> $rss1 KiB)"
ok "profd after round 1 and round 3: $fd0 and $fd1 fds, VmRSS $rss0 and $rss1 KiB"
stop_profd
assert_target_ok

# ==== b. two clients share the sampler, one leaves ==============================
start_profd --attach window
bg_fetch stay "$BASE/debug/pprof/profile?seconds=4"
stay=$BG_PID
wait_window_open 1 10 || fail "the first window never started (profd log)"
bg_fetch leave "$BASE/debug/pprof/wall?seconds=60"
leave=$BG_PID
wait_window_open 2 10 || fail "the second window never started (profd log)"
kill -TERM "$leave"
bg_wait "$leave" leave
wait_metric profd_windows_cancelled_total 1 10 ||
    fail "the second window was not cancelled when its client left"
ok "the second window was cancelled $WAITED_MS ms after its client was killed (first poll)"
bg_wait "$stay" stay
expect_profile "the first window, whose client stayed" "$TEST_DIR/stay" "$BG_CODE"
[ "$PROFILE_SAMPLES" -gt 0 ] || fail "the first window has no samples"
d=$(summary_get "$TEST_DIR/stay.summary" duration_nanos)
expect_range "the first window's duration_nanos (all of its 4 s)" "$d" 3.9e9 1e12
ticks=$(comment_count "$TEST_DIR/stay.summary" ticks)
ok "the first window -> 200: $PROFILE_SAMPLES samples in $ticks ticks"
[ "$(metric_get profd_windows_cancelled_total)" = 1 ] ||
    fail "profd_windows_cancelled_total is $(metric_get profd_windows_cancelled_total), want 1"
wait_untraced 5 || fail "profd still attached 5 s after the first window ended"
stop_profd
assert_target_ok

# ==== c. --allow-any-pid and --max-targets ======================================
cat >"$TEST_DIR/sleeper.py" <<'EOF'
# A test target that sleeps: traceable by any tracer (Yama), dies with
# the test, prints "ready PID".
import ctypes, os, signal, sys, time
libc = ctypes.CDLL(None)
libc.prctl(0x59616d61, ctypes.c_ulong(-1), 0, 0, 0)	# PR_SET_PTRACER_ANY
libc.prctl(1, signal.SIGKILL, 0, 0, 0)			# PR_SET_PDEATHSIG
signal.alarm(int(sys.argv[1]))
print("ready %d" % os.getpid(), flush=True)
while True:
	time.sleep(3600)
EOF
# All 20 at once (Python takes a while to start), then their "ready PID".
sleepers=()
for k in $(seq 1 20); do
	(exec python3 "$TEST_DIR/sleeper.py" 300 >"$TEST_DIR/sleeper$k.out" 2>&1) &
	_track "$!"
	sleepers+=("$!")
done
for k in $(seq 1 20); do
	p=${sleepers[$((k - 1))]}
	wait_for_line "$TEST_DIR/sleeper$k.out" "^ready $p\$" 30 "$p" ||
	    fail "sleeper $k (pid $p) not ready: $(cat "$TEST_DIR/sleeper$k.out")"
done
ok "20 sleeping processes ready: ${sleepers[*]}"
TARGET_PID=0	# metric_get: no per-target sample wanted

# targets_n: how many processes /targets lists (one per line).
targets_n()
{
	curl -sS --max-time 10 "$BASE/targets" >"$TEST_DIR/targets.json" 2>/dev/null || return 1
	count_matches "$TEST_DIR/targets.json" '^ *\{"pid": [0-9]+,'
}
# listed PID: /targets lists PID (after targets_n).
listed() { grep -E "\"pid\": $1," "$TEST_DIR/targets.json" >/dev/null; }

start_profd_re "$LOOPBACK_RE" --listen 127.0.0.1:0 --allow-any-pid --max-targets 1
A=${sleepers[0]} B=${sleepers[1]}
bg_fetch held "$BASE/pid/$A/debug/pprof/wall?seconds=60"
held=$BG_PID
wait_window_open 1 10 || fail "the window on pid $A never started (profd log)"
expect_error "$BASE/pid/$B/debug/pprof/threads?debug=1" 503
grep -E 'max-targets' "$TEST_DIR/err.$_nstarted" >/dev/null ||
    fail "the 503 does not name --max-targets: $(cat "$TEST_DIR/err.$_nstarted")"
if [ "$(targets_n)" != 1 ] || ! listed "$A"; then
	fail "/targets should list pid $A alone: $(cat "$TEST_DIR/targets.json")"
fi
ok "--max-targets 1: pid $A, with a window open, is not let go for pid $B"
kill -TERM "$held"
bg_wait "$held" held
wait_metric profd_windows_cancelled_total 1 10 || fail "the window on pid $A was not cancelled"
code=$(fetch "$BASE/pid/$B/debug/pprof/threads?debug=1" "$TEST_DIR/dumpB")
expect_status "GET /pid/$B/debug/pprof/threads?debug=1 once pid $A's client left" "$code" 200
if [ "$(targets_n)" != 1 ] || ! listed "$B"; then
	fail "/targets should list pid $B alone: $(cat "$TEST_DIR/targets.json")"
fi
[ "$(metric_get profd_targets_evicted_total)" = 1 ] ||
    fail "profd_targets_evicted_total is '$(metric_get profd_targets_evicted_total)', want 1"
grep -E "pid $A: no longer served, to make room for pid $B" "$PROFD_LOG" >/dev/null ||
    fail "no log line for the eviction of pid $A"
ok "pid $A's client left: pid $B took its place (1 eviction, logged)"
stop_profd
for p in "$A" "$B"; do
	assert_target_ok "$p"
done

start_profd_re "$LOOPBACK_RE" --listen 127.0.0.1:0 --allow-any-pid --max-targets 8
# The first one keeps a window open while the others come and go.
bg_fetch first "$BASE/pid/$A/debug/pprof/wall?seconds=10&hz=10"
first=$BG_PID
wait_window_open 1 10 || fail "the window on pid $A never started (profd log)"
max=0
for ((k = 1; k < 20; k++)); do
	p=${sleepers[$k]}
	code=$(fetch "$BASE/pid/$p/debug/pprof/threads?debug=1" "$TEST_DIR/dump$k")
	expect_status "GET /pid/$p/debug/pprof/threads?debug=1 (process $((k + 1)) of 20)" "$code" 200
	grep -E 'sleep' "$TEST_DIR/dump$k" >/dev/null ||
	    fail "the dump of pid $p does not show its sleep: $(head -c 300 "$TEST_DIR/dump$k")"
	n=$(targets_n) || fail "GET /targets failed"
	[ "$n" -le 8 ] || fail "/targets lists $n processes, more than --max-targets 8"
	[ "$n" -gt "$max" ] && max=$n
	listed "$p" || fail "/targets does not list pid $p, just asked for"
done
ok "19 processes asked for in turn: each -> 200, /targets listed at most $max"
bg_wait "$first" first
expect_profile "the window on pid $A, open while 19 others came" "$TEST_DIR/first" "$BG_CODE"
# pid $A may be let go once its window is over (it is then the least
# recently asked for), never before: no eviction line before "window done"
n=$(awk -v a="pid $A: no longer served" -v d="pid $A: window done" '
	index($0, d) { done = 1 }
	index($0, a) && !done { bad = 1 }
	END { print bad + 0 }' "$PROFD_LOG")
[ "$n" = 0 ] || fail "pid $A was let go while its window was open: $(grep -E "pid $A: " "$PROFD_LOG" | first_lines 10)"
ok "the window on pid $A -> 200, $PROFILE_SAMPLES samples: it was not let go while open"
ev=$(metric_get profd_targets_evicted_total)
[ "$ev" = 12 ] || fail "profd_targets_evicted_total is '$ev', want 12 (20 processes, 8 places)"
n=$(count_matches "$PROFD_LOG" 'no longer served, to make room')
[ "$n" = 12 ] || fail "$n eviction log lines, want 12"
[ "$(targets_n)" = 8 ] || fail "/targets: $(cat "$TEST_DIR/targets.json")"
# the 7 most recently asked for are still served (the 8th place is pid
# $A's if its window outlasted the loop, else the 8th most recent one's)
for ((k = 13; k < 20; k++)); do
	listed "${sleepers[$k]}" || fail "/targets does not list pid ${sleepers[$k]}, one of the 7 last: $(cat "$TEST_DIR/targets.json")"
done
ok "12 evictions (counted, logged), least recently used first; /targets lists the 7 last asked for"
for p in "${sleepers[@]}"; do
	wait_untraced 5 "$p" || fail "pid $p is still traced"
	target_problem "$p" >/dev/null || fail "$(target_problem "$p")"
done
ok "all 20 processes alive, untraced, none stopped"
stop_profd
for p in "${sleepers[@]}"; do
	target_problem "$p" >/dev/null || fail "$(target_problem "$p")"
done
say "PASS rel_leak"
