#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_rel_signals - reliability: signals and job control reach a profiled
# process exactly as they would without profd (reference/ptrace-sampling.md
# 1.3, 1.4).  The target is sigcount (a sleeping main thread, a busy thread,
# a SIGUSR1 counter) run as the child of waitchild, which logs every
# waitpid event its real parent sees.  (a) and (b) run twice: with the
# default per-sample attach, then with --attach window (every thread held
# seized for the window, so that every signal detours through profd).
#  (a) during a window at hz=999 (about a thousand ptrace stops a second),
#      1000 SIGUSR1 from a third process, half kill(2)ed to the process,
#      half tgkill(2)ed to the busy thread: the handler counts exactly 1000,
#      the parent sees no stop, the window answers 200 with samples of the
#      busy loop (with --attach window, profd re-injected every one);
#  (b) during another window, SIGSTOP then SIGCONT from a third process:
#      the parent sees exactly one "stopped 19" then one "continued", every
#      thread is stopped while stopped, T (t with --attach window: profd
#      listens for the SIGCONT) and stays so while a short profile and a
#      thread dump are taken, the busy loop makes no progress while stopped
#      and resumes after SIGCONT, profd keeps answering (/healthz), and the
#      window completes with 200, and so do an overlapping profile and
#      thread dump (with --attach window too, where the target's TracerPid
#      is profd's own sampler thread);
#  (c) SIGTERM mid-window (--attach window): the parent sees the same
#      "killed 15" and exit status 143 as a control run of the same target
#      without profd.
. "$(dirname "$0")/lib.sh"
t_begin rel_signals
need_pprof_dump

SIGCOUNT=$TARGET_DIR/sigcount
WAITCHILD=$TARGET_DIR/waitchild
if [ ! -x "$SIGCOUNT" ] || [ ! -x "$WAITCHILD" ]; then
	fail "sigcount, waitchild: not built (make targets)"
fi

# start_under_waitchild NAME: waitchild $TEST_DIR/NAME.events sigcount
# $TEST_DIR/NAME.counters 120, started by this shell.  waitchild is the
# process we start, sigcount (its child) prints the ready line.  Sets
# WC_PID, TARGET_PID, BUSY_TID, EV, CNT.
start_under_waitchild()
{
	local out=$TEST_DIR/$1.out ppid rc=0
	EV=$TEST_DIR/$1.events
	CNT=$TEST_DIR/$1.counters
	(exec "$WAITCHILD" "$EV" "$SIGCOUNT" "$CNT" 120 >"$out" 2>"$out.err") &
	WC_PID=$!
	_track "$WC_PID"
	wait_for_line "$out" '^ready [0-9]+$' 10 "$WC_PID" || rc=$?
	[ "$rc" = 0 ] || fail "$1: sigcount under waitchild not ready (rc $rc): $(cat "$out.err")"
	TARGET_PID=$(sed -n 's/^ready \([0-9][0-9]*\)$/\1/p' "$out" | first_line)
	ppid=$(awk '$1 == "PPid:" { print $2 }' "/proc/$TARGET_PID/status")
	[ "$ppid" = "$WC_PID" ] ||
	    fail "$1: sigcount $TARGET_PID has parent $ppid, want waitchild $WC_PID"
	BUSY_TID=$(counter_get "$CNT" 4)
	[ -d "/proc/$TARGET_PID/task/$BUSY_TID" ] ||
	    fail "$1: busy thread $BUSY_TID is not a thread of $TARGET_PID"
	say "$1: waitchild $WC_PID, sigcount $TARGET_PID (busy thread $BUSY_TID)"
}

# events_of FILE: the event lines without their timestamps, joined by ", ".
events_of()
{
	[ -f "$1" ] || return 0
	cut -d ' ' -f 2- "$1" | paste -sd ',' - | sed 's/,/, /g'
}

# open_window NAME URL: bg_fetch NAME URL and wait until profd's log says
# the window started.  Sets WIN_PID.
open_window()
{
	local nwin
	nwin=$(count_matches "$PROFD_LOG" 'window started')
	bg_fetch "$1" "$2" 60
	WIN_PID=$BG_PID
	wait_window_open $((nwin + 1)) 10 || fail "$1: the window never started (profd log)"
}

# sigusr1_round MODE SECONDS PAUSE: (a), in a SECONDS window.
sigusr1_round()
{
	local mode=$1 secs=$2 pause=$3 r line ms sent_ms="" total busy other
	local t0 b0 o0 reinj0 reinj n
	t0=$(counter_get "$CNT" 0)
	b0=$(counter_get "$CNT" 1)
	o0=$(counter_get "$CNT" 2)
	reinj0=$(metric_get profd_signals_reinjected_total)
	open_window "sig.$mode" "$BASE/debug/pprof/profile?seconds=$secs&hz=999"
	# 10 rounds of 100, spread over the window (the pauses are on
	# purpose: the signals should meet the sampler in all its phases).
	# Each round: 50 by kill(2), 50 by tgkill(2) to the busy thread; the
	# sender waits for each one to be counted before the next, so a lost
	# signal stops it and a duplicated one shows.
	for ((r = 1; r <= 10; r++)); do
		line=$("$SIGCOUNT" send "$TARGET_PID" 100 "$CNT" "$BUSY_TID") ||
		    fail "(a) $mode, round $r: sigcount send failed: $line"
		ms=$(sed -n 's/^sent 100 in \([0-9.]*\) ms.*/\1/p' <<<"$line")
		sent_ms+="${ms:-?} "
		[ "$r" = 10 ] || sleep "$pause"
	done
	total=$(($(counter_get "$CNT" 0) - t0))
	busy=$(($(counter_get "$CNT" 1) - b0))
	other=$(($(counter_get "$CNT" 2) - o0))
	[ "$total" = 1000 ] ||
	    fail "(a) $mode: the handler counted $total SIGUSR1, want exactly 1000 (busy $busy, other $other)"
	[ $((busy + other)) = 1000 ] || fail "(a) $mode: busy $busy + other $other != $total"
	[ "$busy" -ge 500 ] ||
	    fail "(a) $mode: only $busy SIGUSR1 handled on the busy thread, 500 were tgkill'ed to it"
	ok "(a) $mode: 1000 SIGUSR1 sent during the window (ms per 100: ${sent_ms% }): counted exactly $total (busy thread $busy, main thread $other)"
	reinj=$(metric_get profd_signals_reinjected_total)
	reinj=$((${reinj:-0} - ${reinj0:-0}))
	if [ "$mode" = window ] && alive "$WIN_PID"; then
		expect_range "(a) $mode: signals profd re-injected (about every one detours through it)" "$reinj" 900 1100
	elif [ "$mode" = window ]; then
		# On a loaded machine the sending can outlast the window;
		# signals sent after it were never seized.
		expect_range "(a) $mode: signals profd re-injected (the window ended before the last was sent)" "$reinj" 1 1100
	else
		say "(a) $mode: profd re-injected $reinj signals that arrived during its stops"
	fi
	bg_wait "$WIN_PID" "sig.$mode"
	expect_profile "(a) $mode: hz=999 window" "$TEST_DIR/sig.$mode" "$BG_CODE"
	n=$PROFILE_SAMPLES
	expect_range "(a) $mode: samples in $secs s at 999 Hz of one busy thread" "$n" $((secs * 30)) $((secs * 1200))
	pdump folded "$TEST_DIR/sig.$mode" >"$TEST_DIR/sig.$mode.folded" || fail "pprof-dump folded failed"
	expect_range "(a) $mode: samples in busy_loop (%)" \
	    "$(pct "$(fold_sum "$TEST_DIR/sig.$mode.folded" busy_loop)" "$(fold_total "$TEST_DIR/sig.$mode.folded")")" 80 100
	[ "$(events_of "$EV")" = "$EV_BEFORE" ] ||
	    fail "(a) $mode: the parent saw events while only profd stopped the target: $(events_of "$EV")"
	ok "(a) $mode: waitchild saw no new event: profd's stops are invisible to the parent"
	assert_target_ok
}

# stopcont_round MODE SECONDS STATES: (b), in a SECONDS window; STATES, the
# letters a stopped thread may show.
stopcont_round()
{
	local mode=$1 secs=$2 states=$3 code p0 p1 p2 i s moved nst n ev want out
	open_window "stop.$mode" "$BASE/debug/pprof/profile?seconds=$secs&hz=999"
	sleep 1		# samples before the stop, on purpose
	"$SIGCOUNT" kill "$TARGET_PID" STOP || fail "(b) $mode: sigcount kill STOP failed"
	want="${EV_BEFORE:+$EV_BEFORE, }stopped 19"
	for ((i = 0; i < 500; i++)); do
		[ "$(events_of "$EV")" = "$want" ] && break
		sleep 0.02
	done
	[ "$(events_of "$EV")" = "$want" ] ||
	    fail "(b) $mode: waitchild saw '$(events_of "$EV")' 10 s after SIGSTOP, want '$want'"
	wait_task_states "$states" 10 ||
	    fail "(b) $mode: not every thread in [$states] within 10 s of SIGSTOP: $(task_states)"
	p0=$(counter_get "$CNT" 3)
	ok "(b) $mode: SIGSTOP: waitchild saw 'stopped 19', all threads stopped ($(task_states)), progress counter $p0"

	# profd keeps answering while its target is stopped, and does not
	# wake it.
	code=$(fetch "$BASE/healthz" "$TEST_DIR/healthz")
	expect_status "(b) $mode: /healthz while stopped" "$code" 200
	ok "(b) $mode: /healthz 200 while the target is stopped"
	# An overlapping 1 s CPU profile and a thread dump.  README: overlapping
	# requests share the sampler and both succeed.
	out=$TEST_DIR/stopped.$mode
	code=$(fetch "$BASE/debug/pprof/profile?seconds=1" "$out")
	expect_profile "(b) $mode: 1 s profile while stopped" "$out" "$code"
	expect_range "(b) $mode: samples in a 1 s CPU profile of the stopped target" "$PROFILE_SAMPLES" 0 5
	out=$TEST_DIR/dump.$mode
	code=$(fetch "$BASE/debug/pprof/threads?debug=2" "$out")
	expect_status "(b) $mode: thread dump while stopped" "$code" 200
	nst=$(count_matches "$out" '^thread [0-9]+ .*\[(stopped|traced)')
	[ "$nst" = 2 ] ||
	    fail "(b) $mode: the dump shows $nst of 2 threads stopped: $(grep '^thread' "$out")"
	grep -q busy_loop "$out" ||
	    fail "(b) $mode: no busy_loop in the dump of the stopped target"
	ok "(b) $mode: thread dump of the stopped target: 200, busy_loop in it, threads shown as: $(grep -o '^thread [0-9]* "[a-z]*" \[[a-z]*' "$out" | sed 's/.*\[//' | paste -sd ' ' -)"
	for ((i = 0; i < 10; i++)); do
		sleep 0.1	# watch it for 1 s, on purpose
		s=$(task_states)
		[ -z "${s//[ $states]/}" ] || fail "(b) $mode: a thread left [$states] while stopped: $s"
	done
	p1=$(counter_get "$CNT" 3)
	[ "$p1" = "$p0" ] || fail "(b) $mode: the busy loop progressed while stopped: $p0 -> $p1"
	ok "(b) $mode: stopped 1 s more, with a profile and a dump asked for meanwhile: states $(task_states), progress $p0 -> $p1"

	"$SIGCOUNT" kill "$TARGET_PID" CONT || fail "(b) $mode: sigcount kill CONT failed"
	want="$want, continued"
	for ((i = 0; i < 500; i++)); do
		[ "$(events_of "$EV")" = "$want" ] && break
		sleep 0.02
	done
	[ "$(events_of "$EV")" = "$want" ] ||
	    fail "(b) $mode: waitchild saw '$(events_of "$EV")' 10 s after SIGCONT, want '$want'"
	moved=0
	for ((i = 0; i < 100; i++)); do
		p2=$(counter_get "$CNT" 3)
		if [ "$p2" -gt "$p1" ]; then
			moved=1
			break
		fi
		sleep 0.05
	done
	[ "$moved" = 1 ] || fail "(b) $mode: the busy loop did not resume within 5 s of SIGCONT (progress $p1)"
	ok "(b) $mode: SIGCONT: waitchild saw 'continued', the busy loop resumed (progress $p1 -> $p2)"
	bg_wait "$WIN_PID" "stop.$mode"
	expect_profile "(b) $mode: window across SIGSTOP/SIGCONT" "$TEST_DIR/stop.$mode" "$BG_CODE"
	n=$PROFILE_SAMPLES
	expect_range "(b) $mode: samples in the $secs s hz=999 window (stopped ~2 s of it)" "$n" 30 $((secs * 1200))
	ev=$(events_of "$EV")
	[ "$ev" = "$want" ] || fail "(b) $mode: waitchild saw '$ev', want '$want'"
	ok "(b) $mode: waitchild's events so far: '$ev'"
	say "(b) $mode: profd: $(metric_get profd_group_stops_total) group-stops seen, $(metric_get profd_signals_reinjected_total) signals re-injected, $(metric_get profd_stops_total) stops so far"
	assert_target_ok
	EV_BEFORE=$ev
}

# ---- control: the same target without profd, killed with SIGTERM -----------
start_under_waitchild control
kill -TERM "$TARGET_PID"
wait_for_line "$EV" 'killed|exited' 10 || fail "control: waitchild saw no end"
wait_gone "$WC_PID" 10 || fail "control: waitchild did not exit"
rc=0
wait "$WC_PID" || rc=$?
control_events=$(events_of "$EV")
control_rc=$rc
ok "control without profd: SIGTERM -> waitchild saw '$control_events', exit status $control_rc"

# ---- the profiled target ----------------------------------------------------
start_under_waitchild target
EV_BEFORE=""

start_profd
assert_target_ok
sigusr1_round sample 10 0.5
stopcont_round sample 8 T
stop_profd

start_profd --attach window
sigusr1_round window 6 0.3
stopcont_round window 6 Tt

# ---- (c) SIGTERM mid-window ----------------------------------------------
open_window term "$BASE/debug/pprof/profile?seconds=10&hz=999"
sleep 0.5	# some samples first, on purpose
kill -TERM "$TARGET_PID"
wait_for_line "$EV" 'killed|exited' 10 || fail "(c): waitchild saw no end within 10 s"
wait_gone "$WC_PID" 10 || fail "(c): waitchild did not exit within 10 s"
rc=0
wait "$WC_PID" || rc=$?
ev=$(events_of "$EV")
[ "$ev" = "$EV_BEFORE, $control_events" ] ||
    fail "(c): waitchild saw '$ev', want '$EV_BEFORE, $control_events'"
[ "$rc" = "$control_rc" ] || fail "(c): waitchild exited $rc, without profd $control_rc"
ok "(c) SIGTERM mid-window: waitchild saw '${ev##*, }' and exited $rc, as without profd"
bg_wait "$WIN_PID" term
if [ "$BG_CODE" = 200 ]; then
	expect_profile "(c) window of the killed target" "$TEST_DIR/term" "$BG_CODE"
	expect_range "(c) samples before SIGTERM" "$PROFILE_SAMPLES" 1 10000
else
	expect_error_body "(c) window of the killed target" "$TEST_DIR/term" "$BG_CODE"
	ok "(c) window of the killed target: $BG_CODE $ERROR_LINE"
fi
code=$(fetch "$BASE/healthz" "$TEST_DIR/healthz2")
expect_status "(c) /healthz after the target died" "$code" 200
stop_profd
say "PASS rel_signals"
