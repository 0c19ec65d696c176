#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_rel_exit - reliability: the target goes away, or turns into another
# program, in the middle of a profile window (reference/ptrace-sampling.md
# 3.3).  The target is exiter (a busy thread, a thread reading commands
# from a FIFO), a child of this shell.
#  (a) "exit 3" 1 s into a 20 s window: the request is answered long before
#      the window's end (curl gives up after 15 s), with 200 and the samples
#      taken so far, named (busy_leaf), or with a one-line error; the
#      target's exit status, as its parent sees it, is 3; profd keeps
#      serving: /healthz 200, /debug/pprof/ 200, a new profile a one-line
#      error;
#  (b) exec from the non-leader ctl thread, four times, each in the
#      middle of its own 6 s window at hz=999 (so that an exec may meet one
#      of profd's stops): exiter into a new exiter three times, then into
#      spin.  The PID lives on.  Each window ends at the exec with the
#      samples taken before it, named as the old program's (busy_leaf, no
#      all-[unknown] stacks), or with a one-line error; never a 403 (an
#      EPERM from profd's own race with the exec is not a refusal).  profd
#      does not leave the target traced; a new profile of the same PID
#      shows spin's functions, and /targets its new name.
. "$(dirname "$0")/lib.sh"
t_begin rel_exit
need_pprof_dump

now_ms()
{
	local t=${EPOCHREALTIME//[!0-9]/}
	printf '%s\n' $((t / 1000))
}

# ---- (a) exit 3 mid-window ---------------------------------------------------
FIFO=$TEST_DIR/ctl.a
start_target exiter "$FIFO" 120
start_profd
assert_target_ok
nwin=$(count_matches "$PROFD_LOG" 'window started')
bg_fetch exit "$BASE/debug/pprof/profile?seconds=20" 15
exit_curl=$BG_PID
wait_window_open $((nwin + 1)) 10 || fail "(a): the window never started (profd log)"
sleep 1		# samples before the exit, on purpose
t0=$(now_ms)
printf 'exit 3\n' >"$FIFO"
wait_gone "$TARGET_PID" 10 || fail "(a): exiter did not exit within 10 s of 'exit 3'"
rc=0
wait "$TARGET_PID" || rc=$?
[ "$rc" = 3 ] || fail "(a): exiter's exit status is $rc, want 3"
ok "(a) exiter $TARGET_PID exited with status 3 (its parent's wait)"
bg_wait "$exit_curl" exit
t1=$(now_ms)
if [ "$BG_CODE" = 000 ]; then
	alive "$PROFD_PID" || fail "(a): no answer: profd died"
	fail "(a): no answer within 15 s of asking for a 20 s window ($(cat "$TEST_DIR/exit.curl")); the target exited $((t1 - t0)) ms ago"
fi
if [ "$BG_CODE" = 200 ]; then
	expect_profile "(a) window of the exited target" "$TEST_DIR/exit" "$BG_CODE"
	n=$PROFILE_SAMPLES
	pdump folded "$TEST_DIR/exit" >"$TEST_DIR/exit.folded" || fail "pprof-dump folded failed"
	expect_range "(a) samples in the ~1 s before the exit, 1 busy thread at 99 Hz" "$n" 10 300
	expect_range "(a) CPU time in busy_main;busy_leaf (%)" \
	    "$(pct "$(fold_sum "$TEST_DIR/exit.folded" "busy_main;busy_leaf")" "$(fold_total "$TEST_DIR/exit.folded")")" 90 100
	ok "(a) answered 200 with the samples so far, $((t1 - t0)) ms after the exit command"
else
	expect_error_body "(a) window of the exited target" "$TEST_DIR/exit" "$BG_CODE"
	ok "(a) answered $BG_CODE '$ERROR_LINE', $((t1 - t0)) ms after the exit command"
fi
code=$(fetch "$BASE/healthz" "$TEST_DIR/healthz")
expect_status "(a) /healthz after the exit" "$code" 200
code=$(fetch "$BASE/debug/pprof/" "$TEST_DIR/index")
expect_status "(a) /debug/pprof/ after the exit" "$code" 200
ok "(a) after the exit: /healthz 200, /debug/pprof/ 200"
expect_error "$BASE/debug/pprof/profile?seconds=1" '4??'
stop_profd

# ---- (b) exec mid-window -------------------------------------------------------
FIFO=$TEST_DIR/ctl.b
start_target exiter "$FIFO" 120
out=$TEST_DIR/target.$_nstarted.exiter.out
[ -f "$out" ] || fail "(b): cannot find exiter's output file $out"
start_profd
assert_target_ok

# exec_into N PATH ARGS...: tell the target to exec PATH ARGS, and wait (10 s
# at most) for the new program's ready line, the Nth, with the same PID.
exec_into()
{
	local n=$1 i exe
	shift
	printf 'exec %s\n' "$*" >"$FIFO"
	# No early "it died": while a thread that is not the leader execs, the
	# kernel makes the old leader a zombie and waits for it (de_thread),
	# so /proc/PID/stat says Z for a moment in a process that lives on.
	for ((i = 0; i < 100; i++)); do
		[ "$(count_matches "$out" '^ready [0-9]+$')" -ge "$n" ] && break
		sleep 0.1
	done
	alive "$TARGET_PID" ||
	    fail "(b): the target died on 'exec $*' (state $(state_of "$TARGET_PID" || echo gone)): $(cat "$out.err")"
	[ "$(count_matches "$out" "^ready $TARGET_PID\$")" = "$n" ] ||
	    fail "(b): no ready line $n ('ready $TARGET_PID') within 10 s of 'exec $*': $(cat "$out")"
	exe=$(readlink "/proc/$TARGET_PID/exe")
	[ "$exe" = "$1" ] || fail "(b): after 'exec $*', /proc/$TARGET_PID/exe is $exe"
}

# exec_window N PATH ARGS...: a 6 s window at hz=999; 0.5 s into it (on
# purpose: samples of the old program), exec PATH ARGS (the Nth ready
# line).  Checks the window's answer.
nok=0
exec_window()
{
	local n=$1 nwin t0 t1 T busy unk
	shift
	nwin=$(count_matches "$PROFD_LOG" 'window started')
	bg_fetch "exec.$n" "$BASE/debug/pprof/profile?seconds=6&hz=999" 30
	exec_curl=$BG_PID
	wait_window_open $((nwin + 1)) 10 || fail "(b): window $n never started (profd log)"
	sleep 0.5
	t0=$(now_ms)
	exec_into "$n" "$@"
	bg_wait "$exec_curl" "exec.$n"
	t1=$(now_ms)
	case $BG_CODE in
	000)
		alive "$PROFD_PID" || fail "(b): no answer: profd died"
		fail "(b): no answer within 30 s of asking for a 6 s window ($(cat "$TEST_DIR/exec.$n.curl"))"
		;;
	200)
		expect_profile "(b) window $n, across the exec" "$TEST_DIR/exec.$n" "$BG_CODE"
		pdump folded "$TEST_DIR/exec.$n" >"$TEST_DIR/exec.$n.folded" || fail "pprof-dump folded failed"
		T=$(fold_total "$TEST_DIR/exec.$n.folded")
		busy=$(fold_sum "$TEST_DIR/exec.$n.folded" "busy_main;busy_leaf")
		unk=$(awk '$0 ~ /^\[unknown\](;\[unknown\])* [0-9]+$/ { t += $NF }
			END { printf "%.0f\n", t }' "$TEST_DIR/exec.$n.folded")
		[ "$unk" = 0 ] || fail "(b) window $n: $(pct "$unk" "$T") % of CPU time in all-[unknown] stacks: samples from before the exec lost their names"
		expect_range "(b) window $n: CPU time in exiter's busy_main;busy_leaf (%)" "$(pct "$busy" "$T")" 90 100
		ok "(b) window $n ended at the exec: 200, $PROFILE_SAMPLES samples of the old program, named; answered $((t1 - t0)) ms after the exec command"
		nok=$((nok + 1))
		;;
	403)
		fail "(b) window $n answered 403 '$(cat "$TEST_DIR/exec.$n")': profd took its own race with the exec for a refusal"
		;;
	*)
		expect_error_body "(b) window $n, across the exec" "$TEST_DIR/exec.$n" "$BG_CODE"
		ok "(b) window $n answered $BG_CODE '$ERROR_LINE', $((t1 - t0)) ms after the exec command"
		;;
	esac
	grep -q "exec'd" "$PROFD_LOG" || fail "(b): profd's log does not mention the exec"
}

exec_window 2 "$TARGET_DIR/exiter" "$FIFO" 120
exec_window 3 "$TARGET_DIR/exiter" "$FIFO" 120
exec_window 4 "$TARGET_DIR/exiter" "$FIFO" 120
exec_window 5 "$TARGET_DIR/spin" 120
ok "(b) exiter $TARGET_PID exec'd exiter three times, then spin, from its ctl thread, each mid-window: $nok of 4 windows answered 200 with the old program's samples"
[ "$nok" -ge 2 ] || fail "(b): only $nok of 4 windows kept the samples taken before the exec"

# Left traced?  profd is attached only inside its stops.
tracer=$(awk '$1 == "TracerPid:" { print $2 }' "/proc/$TARGET_PID/status")
[ "$tracer" = 0 ] || wait_untraced 2 ||
    fail "(b): after the windows, pid $TARGET_PID (state $(state_of "$TARGET_PID")) is still traced by $tracer"

# A new profile of the same PID: spin, by name.
P=$TEST_DIR/after
code=$(fetch "$BASE/debug/pprof/profile?seconds=2" "$P")
expect_profile "(b) profile after the exec" "$P" "$code"
pdump folded "$P" >"$P.folded" || fail "pprof-dump folded failed"
expect_range "(b) after the exec: CPU time in spin_root;spin_mid;spin_leaf (%)" \
    "$(pct "$(fold_sum "$P.folded" "spin_root;spin_mid;spin_leaf")" "$(fold_total "$P.folded")")" 90 100
ok "(b) a new profile of pid $TARGET_PID after the exec: 200, $PROFILE_SAMPLES samples, spin's functions"
code=$(fetch "$BASE/targets" "$TEST_DIR/targets.b")
expect_status "(b) /targets after the exec" "$code" 200
grep -q '"comm": *"spin"' "$TEST_DIR/targets.b" ||
    fail "(b) /targets after the exec does not name spin: $(cat "$TEST_DIR/targets.b")"
ok "(b) /targets after the exec: $(grep -Eo '"(comm|alive)": [^,}]*' "$TEST_DIR/targets.b" | paste -sd ' ' -)"
code=$(fetch "$BASE/healthz" "$TEST_DIR/healthz.b")
expect_status "(b) /healthz after the exec" "$code" 200
assert_target_ok
stop_profd
# The kernel detaches a tracer's tracees when it exits.
wait_untraced 5 || fail "(b): target still traced 5 s after profd exited"
assert_target_ok
say "PASS rel_exit"
