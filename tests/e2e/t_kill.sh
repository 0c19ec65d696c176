#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_kill - profd must never leave its target stopped or traced:
#  - SIGKILLed in the middle of a window: the target keeps running (every
#    worker thread keeps using CPU), no thread stopped, TracerPid 0;
#  - a new profd then profiles the target normally, and once that window
#    is over TracerPid is 0 again;
#  - SIGTERM and SIGINT in the middle of a window: exit 0, target untraced.
# The target is split with two busy workers and one sleeping main thread.
. "$(dirname "$0")/lib.sh"
t_begin kill
need_pprof_dump

start_target split 2 120
start_profd
assert_target_ok	# idle profd: not attached

# open_window NAME: a 20 s window fetched by a background curl; returns once
# profd is tracing the target.  Sets CURL_PID; the status goes to NAME.code.
open_window()
{
	local out=$TEST_DIR/$1 before
	before=$(grep -Ec 'window started' "$PROFD_LOG" || true)
	(exec curl -sS --max-time 60 -o "$out" -w '%{http_code}' \
	    "$BASE/debug/pprof/profile?seconds=20" >"$out.code" 2>"$out.err") &
	CURL_PID=$!
	_track "$CURL_PID"
	wait_window_open $((before + 1)) 10 || fail "the window never started (profd log)"
	say "window open: profd $PROFD_PID is sampling the target"
}

# cpu_by_thread: "TID NS" for every thread of the target.
cpu_by_thread()
{
	local t ns rest
	for t in /proc/"$TARGET_PID"/task/*; do
		read -r ns rest <"$t/schedstat"
		printf '%s %s\n' "${t##*/}" "$ns"
	done | LC_ALL=C sort
}

# ---- SIGKILL mid-window ------------------------------------------------------
open_window killed
kill -KILL "$PROFD_PID"
wait_gone "$PROFD_PID" 10 || fail "profd survived SIGKILL for 10 s"
rc=0
wait "$PROFD_PID" || rc=$?
[ "$rc" = 137 ] || fail "profd exit status $rc after SIGKILL, want 137"
say "profd $PROFD_PID killed with SIGKILL mid-window"
assert_target_ok

# Stays so: check every 0.1 s for 1 s, and every worker thread has used CPU
# meanwhile (a stopped thread would not).
cpu_by_thread >"$TEST_DIR/cpu0"
for ((i = 0; i < 10; i++)); do
	sleep 0.1
	problem=$(target_problem) || fail "$((i + 1)) x 0.1 s after the kill: $problem"
done
cpu_by_thread >"$TEST_DIR/cpu1"
moved=$(LC_ALL=C join "$TEST_DIR/cpu0" "$TEST_DIR/cpu1" | awk '$3 > $2' | wc -l)
[ "$moved" -ge 2 ] ||
    fail "only $moved thread(s) used CPU in the second after the kill, want both workers: $(join "$TEST_DIR/cpu0" "$TEST_DIR/cpu1")"
ok "10 checks over 1 s: no thread stopped or traced; $moved threads kept running"

wait "$CURL_PID" || true
code=$(cat "$TEST_DIR/killed.code")
[ "$code" != 200 ] || fail "the killed window still answered 200"
ok "the request of the killed window failed as it must (HTTP status '$code')"

# ---- a new profd: a normal window ----------------------------------------------
start_profd
P=$TEST_DIR/after.pb.gz
fetch_profile "$BASE/debug/pprof/profile?seconds=3" "$P"
pdump folded "$P" >"$P.folded" || fail "pprof-dump folded failed"
T=$(fold_total "$P.folded")
expect_range "after the kill: CPU in hot_a, hot_b, hot_c (%)" \
    "$(pct "$(awk -v a="$(fold_sum "$P.folded" hot_a)" -v b="$(fold_sum "$P.folded" hot_b)" \
        -v c="$(fold_sum "$P.folded" hot_c)" 'BEGIN { printf "%.0f", a + b + c }')" "$T")" 90 100
wait_untraced 5 || fail "profd still attached 5 s after a normal window"
assert_target_ok

# ---- SIGTERM and SIGINT mid-window -------------------------------------------
open_window termed
stop_profd
assert_target_ok
wait "$CURL_PID" || true

start_profd
open_window inted
kill -INT "$PROFD_PID"
wait_gone "$PROFD_PID" 10 || fail "profd did not exit within 10 s of SIGINT"
rc=0
wait "$PROFD_PID" || rc=$?
[ "$rc" = 0 ] || fail "profd exited $rc after SIGINT, want 0"
ok "profd exited 0 on SIGINT mid-window"
assert_target_ok
wait "$CURL_PID" || true
say "PASS kill"
