#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_rel_freeze - reliability: a frozen profd must not freeze the service
# (DESIGN.md section 7; daemon/guardian.c; profd(8), GUARDIAN).  Without
# the guardian, a profd stopped or taken by a debugger in the middle of a
# window held target threads stopped for the whole freeze.
#
# Each round starts a new profd (--runtime-dir shared by all of them) on a
# target with a 20 s window at 999 Hz, waits for the window to start plus
# a random 0-199 ms (fixed seed), then freezes profd, and checks that
#   - the target is released: no thread in state t/T, TracerPid 0 in every
#     thread, within the guardian's stated bound plus slack (see BOUND_MS),
#     measured from the freeze; p50 and max are printed per kind of round;
#   - profd is dead by SIGKILL (exit status 137) and the guardian said why;
#   - the next profd logs its predecessor's kill and counts it in /metrics
#     (profd_guardian_kills_total), with the guardian up.
# (a) SIGSTOP, 10 rounds per attach mode (--attach window alternates split
#     with gohot, a Go program whose preemption signals stall it while it
#     is seized and profd is frozen; split only when Go is not built);
# (b) a tracer attaches to profd: tests/targets/tracer (stops every thread
#     and answers nothing, like a debugger left attached) and strace -f -p,
#     2 of each per mode;
# (c) with no window open a SIGSTOPped profd is left alone, resumes on
#     SIGCONT and profiles again; the guardian's CPU time over a window;
# (d) a guardian that dies is logged, profd goes on, /metrics says so;
# (e) profd frozen without a stop (cgroup v2 freezer: state S, no tracer;
#     skipped where no cgroup2 hierarchy can be written): left alone while
#     no target thread waits for it, killed GUARDIAN_BOUND_MS past its
#     deadline once one does (a signal to the seized target).
. "$(dirname "$0")/lib.sh"
t_begin rel_freeze

RANDOM=20261126		# the freeze offsets are the same in every run
RUN=$TEST_DIR/run	# every profd's --runtime-dir

# The guardian's stated bound for a stopped or traced profd with a window
# open: it looks every GUARDIAN_POLL_MS, and the first look that sees it
# kills it.  What follows the look (profd's ~80 threads leaving their
# stops and exiting, the kernel detaching the target, this script's next
# look at /proc) costs a few ms on an idle machine, but every step waits
# for a CPU: with a CPU hog per core (tests/run.sh --load), under ASan, on
# a slow VM, each can wait a scheduler period or several.  SLACK_MS is
# there for that, far above any such wait and far below what it guards
# against: without the guardian the target stays held for the whole
# freeze, which here never ends (profd stays stopped).
POLL_MS=$(sed -n 's/^#define GUARDIAN_POLL_MS *\([0-9][0-9]*\).*/\1/p' daemon/guardian.h)
[ -n "$POLL_MS" ] || fail "no GUARDIAN_POLL_MS in daemon/guardian.h"
SLACK_MS=1500
BOUND_MS=$((POLL_MS + SLACK_MS))

start_target split 2 300
SPLIT=$TARGET_PID
GOHOT=""
if [ -x "$TARGET_DIR/gohot" ]; then
	start_target gohot 1 300
	GOHOT=$TARGET_PID
else
	say "note: build/targets/gohot not built (no Go): --attach window rounds use split only"
fi
[ -x "$TARGET_DIR/tracer" ] || fail "$TARGET_DIR/tracer: not built (make build/targets/tracer)"

# A short nap without a fork: read on a FIFO nobody writes to times out.
mkfifo "$TEST_DIR/nap"
exec {NAP}<>"$TEST_DIR/nap"
nap() { read -r -t "$1" -u "$NAP" _ || true; }

now_us() { printf '%s\n' "${EPOCHREALTIME//[!0-9]/}"; }

# target_free PID: every thread of PID runs (not t/T) and has TracerPid 0
# (threads that exit meanwhile are skipped); shell builtins only.
target_free()
{
	local task
	for task in /proc/"$1"/task/*; do
		_read_status "$task/status" 2>/dev/null || continue
		case $_STATE in T | t) return 1 ;; esac
		[ -z "$_TRACER" ] || [ "$_TRACER" = 0 ] || return 1
	done
	return 0
}

# wait_free PID MS: poll every 2 ms until target_free PID, for MS at most.
# Sets FREE_US to the time it became free (now_us).
wait_free()
{
	local pid=$1 end=$(($(now_us) + $2 * 1000))
	while ! target_free "$pid"; do
		[ "$(now_us)" -lt "$end" ] || return 1
		nap 0.002
	done
	FREE_US=$(now_us)
}

# stats NAME VALUES...: "NAME: n=N p50=P max=M ms" of integer ms values.
stats()
{
	local name=$1
	shift
	printf '%s\n' "$@" | LC_ALL=C sort -n | awk -v name="$name" '
		{ v[NR] = $1 }
		END { printf "%s: n=%d p50=%.1f max=%.1f ms\n", name, NR,
			v[int((NR + 1) / 2)] / 1000, v[NR] / 1000 }'
}

KILLS=0		# kills the guardians have made so far in $RUN
PREV=""		# pid of the last profd killed
declare -A REL	# "how mode" -> release times in us, space-separated
HELD_AT_FREEZE=0

# start_watched_profd ARGS...: a profd with --runtime-dir $RUN; checks that
# it reports its predecessor's kill and counts every kill so far.  Sets
# GPID, its guardian.
start_watched_profd()
{
	local up kills
	start_profd_re "$LOOPBACK_RE" --listen 127.0.0.1:0 --runtime-dir "$RUN" "$@"
	GPID=$(sed -n 's/.*guardian: pid \([0-9][0-9]*\) watches.*/\1/p' "$PROFD_LOG" | first_line)
	{ [ -n "$GPID" ] && alive "$GPID"; } || fail "profd $PROFD_PID: no guardian running: $(grep guardian "$PROFD_LOG")"
	if [ -n "$PREV" ]; then
		grep -E "the previous profd \(pid $PREV\) was killed by its guardian at [0-9T:-]+Z: .* for [0-9.]+ ms" \
		    "$PROFD_LOG" >/dev/null ||
		    fail "profd $PROFD_PID does not report its predecessor $PREV's kill: $(grep -i previous "$PROFD_LOG")"
	fi
	up=$(metric_get profd_guardian_up)
	kills=$(metric_get profd_guardian_kills_total)
	[ "$up" = 1 ] || fail "/metrics: profd_guardian_up '$up', want 1"
	[ "$kills" = "$KILLS" ] || fail "/metrics: profd_guardian_kills_total '$kills', want $KILLS"
}

# freeze_round N HOW MODE PID: see the header.  HOW: stop, tracer, strace.
freeze_round()
{
	local n=$1 how=$2 mode=$3 pid=$4 delay t0 rel rc trpid="" why code held=0
	start_watched_profd --pid "$pid" --attach "$mode"
	bg_fetch "win.$n" "$BASE/debug/pprof/profile?seconds=20&hz=999" 60
	local fetch_pid=$BG_PID
	wait_window_open 1 10 || fail "round $n: the window never started"
	delay=$((RANDOM % 200))
	# the freeze offset into the window, on purpose
	[ "$delay" -eq 0 ] || sleep "$(printf '0.%03d' "$delay")"
	t0=$(now_us)
	case $how in
	stop) kill -STOP "$PROFD_PID" ;;
	tracer)
		(exec "$TARGET_DIR/tracer" "$PROFD_PID" 60 >"$TEST_DIR/tracer.$n" 2>&1) &
		trpid=$!
		_track "$trpid"
		;;
	strace)
		(exec strace -qq -f -p "$PROFD_PID" -o /dev/null 2>"$TEST_DIR/strace.$n") &
		trpid=$!
		_track "$trpid"
		;;
	esac
	target_free "$pid" || held=1
	wait_free "$pid" "$BOUND_MS" ||
	    fail "round $n ($how, --attach $mode): pid $pid still held $BOUND_MS ms after the freeze: $(target_problem "$pid")"
	rel=$((FREE_US - t0))
	REL["$how $mode"]+="$rel "
	HELD_AT_FREEZE=$((HELD_AT_FREEZE + held))

	wait_gone "$PROFD_PID" 10 || fail "round $n ($how): profd $PROFD_PID still alive 10 s after the freeze"
	rc=0
	wait "$PROFD_PID" || rc=$?
	[ "$rc" = 137 ] || fail "round $n ($how): profd exit status $rc, want 137 (SIGKILL)"
	wait_for_line "$PROFD_LOG" 'guardian: killed profd' 10 ||
	    fail "round $n ($how): the guardian did not log the kill"
	why=$(sed -n 's/.*guardian: killed profd (pid [0-9]*) with SIGKILL: \([^,]*\),.*/\1/p' "$PROFD_LOG" | first_line)
	case $how in
	stop) [[ $why == *"stopped (state T"* ]] ;;
	*) [[ $why == *"traced by pid"* || $why == *"tracer's stop"* ]] ;;
	esac || fail "round $n ($how): the guardian's reason is '$why'"
	if [ -n "$trpid" ]; then
		kill -KILL "$trpid" 2>/dev/null || true
		wait "$trpid" 2>/dev/null || true
	fi
	problem=$(target_problem "$pid") || fail "round $n ($how, --attach $mode), after the kill: $problem"
	bg_wait "$fetch_pid" "win.$n"
	code=$BG_CODE
	[ "$code" != 200 ] || fail "round $n: the killed window answered 200"
	KILLS=$((KILLS + 1))
	PREV=$PROFD_PID
	say "round $n: $how, --attach $mode, pid $pid: freeze $delay ms into the window; released after $(awk -v u="$rel" 'BEGIN { printf "%.1f", u / 1000 }') ms$( ((held)) && echo " (held at the freeze)"); profd 137; guardian: $why"
}

# ---- (a) SIGSTOP ----------------------------------------------------------
n=0
for ((i = 0; i < 10; i++)); do
	n=$((n + 1))
	freeze_round "$n" stop sample "$SPLIT"
done
for ((i = 0; i < 10; i++)); do
	n=$((n + 1))
	pid=$SPLIT
	if [ -n "$GOHOT" ] && ((i % 2 == 1)); then
		pid=$GOHOT
	fi
	freeze_round "$n" stop window "$pid"
done
ok "(a) 20 SIGSTOPs mid-window: target released, profd killed (137) every time; the next profd reported it and counted it"

# ---- (b) a tracer attaches to profd -----------------------------------------
for mode in sample window; do
	for how in tracer strace tracer strace; do
		n=$((n + 1))
		pid=$SPLIT
		if [ "$mode" = window ] && [ -n "$GOHOT" ] && [ "$how" = strace ]; then
			pid=$GOHOT
		fi
		if [ "$how" = strace ] && ! command -v strace >/dev/null; then
			how=tracer	# scripts/deps.sh installs strace
		fi
		freeze_round "$n" "$how" "$mode" "$pid"
	done
done
ok "(b) 8 tracers attached to profd mid-window: target released, profd killed (137) every time"

for k in "stop sample" "stop window" "tracer sample" "tracer window" "strace sample" "strace window"; do
	[ -n "${REL[$k]:-}" ] || continue
	# shellcheck disable=SC2086  # a list of numbers
	say "release after the freeze, $(stats "$k" ${REL[$k]})"
done
say "the target had a thread held at the moment of the freeze in $HELD_AT_FREEZE of $n rounds (bound asserted: $BOUND_MS ms = $POLL_MS ms poll + $SLACK_MS ms slack)"

# ---- (c) no window: a stopped profd is left alone --------------------------
TARGET_PID=$SPLIT
start_watched_profd --pid "$SPLIT"
PREV=""
kill -STOP "$PROFD_PID"
# Deliberate observation time, not a readiness wait: the idle guardian
# looks once a second (GUARDIAN_IDLE_MS), give it two looks.
sleep 2.2
[ "$(state_of "$PROFD_PID")" = T ] || fail "(c) profd $PROFD_PID is not stopped: state $(state_of "$PROFD_PID" || echo gone)"
grep 'guardian: killed' "$PROFD_LOG" >/dev/null && fail "(c) the guardian killed a profd that held nothing"
assert_target_ok
kill -CONT "$PROFD_PID"
for ((k = 0; k < 100; k++)); do
	[ "$(state_of "$PROFD_PID")" != T ] && break
	nap 0.02
done
[ "$(state_of "$PROFD_PID")" != T ] || fail "(c) profd still stopped after SIGCONT"
need_pprof_dump
cpu0=$(metric_get profd_guardian_cpu_seconds_total)
fetch_profile "$BASE/debug/pprof/profile?seconds=2&hz=999" "$TEST_DIR/after.pb.gz"
cpu1=$(metric_get profd_guardian_cpu_seconds_total)
samples=$(summary_get "$TEST_DIR/after.pb.gz.summary" 'total[0]')
[ "${samples:-0}" -gt 0 ] || fail "(c) the profile after SIGCONT has no samples"
ok "(c) SIGSTOP with no window: not killed (state T after 2.2 s), SIGCONT resumed it, a 2 s profile then has $samples samples"
say "guardian CPU time over a 2 s window at 999 Hz: $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f ms (%.3f %% of one CPU)", (b - a) * 1000, (b - a) * 100 / 2 }')"
stop_profd
alive "$GPID" && fail "(c) the guardian $GPID outlived profd's exit"
ok "(c) the guardian ended with profd"

# ---- (d) the guardian dies ----------------------------------------------------
start_watched_profd --pid "$SPLIT"
kill -KILL "$GPID"
wait_for_line "$PROFD_LOG" "guardian \\(pid $GPID\\) was killed by signal 9" 10 "$PROFD_PID" ||
    fail "(d) profd did not log its guardian's death"
up=$(metric_get profd_guardian_up)
[ "$up" = 0 ] || fail "(d) /metrics: profd_guardian_up '$up' after the guardian died, want 0"
fetch_profile "$BASE/debug/pprof/profile?seconds=1" "$TEST_DIR/noguard.pb.gz"
ok "(d) guardian killed: profd logged it, profd_guardian_up 0, and it still profiles"
stop_profd
start_profd_re "$LOOPBACK_RE" --listen 127.0.0.1:0 --runtime-dir "$RUN" --pid "$SPLIT" --no-guardian
grep 'guardian: pid' "$PROFD_LOG" >/dev/null && fail "(d) --no-guardian started a guardian"
up=$(metric_get profd_guardian_up)
kills=$(metric_get profd_guardian_kills_total)
{ [ "$up" = 0 ] && [ "$kills" = "$KILLS" ]; } ||
    fail "(d) --no-guardian: profd_guardian_up '$up' (want 0), profd_guardian_kills_total '$kills' (want $KILLS)"
ok "(d) --no-guardian: no guardian, profd_guardian_up 0, the $KILLS kills still counted"
stop_profd

# ---- (e) profd cannot run (cgroup freezer) ----------------------------------
# The cgroup v2 freezer stops profd without a job-control stop (its threads
# sleep in state S) and lets SIGKILL through; the guardian stays in the
# cgroup it was in.  The v1 freezer would not let SIGKILL through (profd(8)
# says so): not tried here.
BOUND3_MS=$(sed -n 's/^#define GUARDIAN_BOUND_MS *\([0-9][0-9]*\).*/\1/p' daemon/guardian.h)
WAKE_MS=$(sed -n 's/^#define GUARDIAN_WAKE_MS *\([0-9][0-9]*\).*/\1/p' daemon/guardian.h)
{ [ -n "$BOUND3_MS" ] && [ -n "$WAKE_MS" ]; } || fail "no GUARDIAN_BOUND_MS or GUARDIAN_WAKE_MS in daemon/guardian.h"
CG2=$(sed -n 's/^\([^ ]* \)\{4\}\([^ ]*\) .* - cgroup2 .*/\2/p' /proc/self/mountinfo | first_line)
start_watched_profd --pid "$SPLIT" --attach window
cg=""
if [ -n "$CG2" ]; then
	cg=$CG2$(sed -n 's/^0:://p' "/proc/$PROFD_PID/cgroup")
	cg=${cg%/}/profd-freeze.$$
	if mkdir "$cg" 2>/dev/null; then
		at_exit "echo 0 >'$cg/cgroup.freeze' 2>/dev/null; rmdir '$cg' 2>/dev/null"
		if ! { echo "$PROFD_PID" >"$cg/cgroup.procs"; } 2>/dev/null; then
			cg=""
		fi
	else
		cg=""
	fi
fi
if [ -z "$cg" ]; then
	say "SKIP (sub-check e): no cgroup2 hierarchy this test may write to"
	stop_profd
else
	# hz=1: one tick a second, so that the freeze almost surely lands
	# between two holds; the threads stay seized (--attach window).
	bg_fetch win.e "$BASE/debug/pprof/profile?seconds=20&hz=1" 60
	fetch_pid=$BG_PID
	wait_window_open 1 10 || fail "(e) the window never started"
	wait_traced_by "$PROFD_PID" 10 "$SPLIT" || fail "(e) split never seized for the window"
	echo 1 >"$cg/cgroup.freeze"
	for ((k = 0; k < 500; k++)); do
		grep -x 'frozen 1' "$cg/cgroup.events" >/dev/null && break
		nap 0.01
	done
	grep -x 'frozen 1' "$cg/cgroup.events" >/dev/null || fail "(e) profd's cgroup never froze"
	# A tick's interrupts sent just before the freeze stop their threads
	# only when these next run: on a loaded machine, a while later.
	# Look a few times over 0.3 s before calling it quiet.
	states=""
	for ((k = 0; k < 6; k++)); do
		states+=$(task_states "$SPLIT")
		nap 0.05
	done
	if [[ $states == *t* ]]; then
		# the freeze caught a tick's hold: the guardian must end it
		say "(e) the freeze caught a hold (split: $states): no quiet period to watch"
		t0=$(now_us)
	else
		# Deliberate observation time: twice the bound past the
		# deadline, while no target thread waits for profd (split's
		# threads are seized but run): it must be left alone.
		sleep "$(awk -v b="$BOUND3_MS" -v w="$WAKE_MS" 'BEGIN { printf "%.3f", (2 * b + w) / 1000 }')"
		alive "$PROFD_PID" || fail "(e) the guardian killed a frozen profd that no thread waited for"
		grep 'guardian: killed' "$PROFD_LOG" >/dev/null && fail "(e) the guardian killed a frozen profd that no thread waited for: $(grep 'guardian: killed' "$PROFD_LOG")"
		ok "(e) frozen profd, seized threads running: left alone for $((2 * BOUND3_MS + WAKE_MS)) ms"
		# SIGWINCH (ignored by default): the thread it goes to stops
		# in a signal-delivery-stop and waits for the frozen sampler.
		t0=$(now_us)
		kill -WINCH "$SPLIT"
	fi
	e_bound=$((BOUND3_MS + WAKE_MS + POLL_MS + SLACK_MS))
	wait_free "$SPLIT" "$e_bound" ||
	    fail "(e) split still held $e_bound ms after a signal reached it under a frozen profd: $(target_problem "$SPLIT")"
	rel=$((FREE_US - t0))
	wait_gone "$PROFD_PID" 10 || fail "(e) the frozen profd was not killed"
	rc=0
	wait "$PROFD_PID" || rc=$?
	[ "$rc" = 137 ] || fail "(e) profd exit status $rc, want 137"
	wait_for_line "$PROFD_LOG" 'guardian: killed profd' 10 || fail "(e) the guardian did not log the kill"
	why=$(sed -n 's/.*guardian: killed profd (pid [0-9]*) with SIGKILL: \(.*\), while .*/\1/p' "$PROFD_LOG" | first_line)
	[[ $why == *"had not run for"*"waited in its ptrace stop"* ]] || fail "(e) the guardian's reason is '$why'"
	bg_wait "$fetch_pid" win.e
	KILLS=$((KILLS + 1))
	assert_target_ok "$SPLIT"
	ok "(e) frozen profd killed once a thread waited for it: released $(awk -v u="$rel" 'BEGIN { printf "%.1f", u / 1000 }') ms after the signal (bound $BOUND3_MS ms past the sampler's deadline, itself <= $WAKE_MS ms away; asserted $e_bound ms): $why"
fi
assert_target_ok "$SPLIT"
[ -z "$GOHOT" ] || assert_target_ok "$GOHOT"
say "PASS rel_freeze"
