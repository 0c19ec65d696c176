#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_sampler_perf - --sampler: CPU windows sampled with perf_event instead of
# ptrace stops.  The split target (tests/targets/split.c, as t_split uses
# it: CPU 60/30/10 between hot_a, hot_b and hot_c) is profiled first by the
# ptrace sampler, for a reference taken in this run, then by
# --sampler perf:
#   1. the perf profile has t_split's split (each leaf +-5 points of its
#      share, and within 7 points of the ptrace reference's), its caller
#      chains, CPU time close to what the target used, thread labels;
#   2. its comment says "sampler perf_event" (the reference's "ptrace"),
#      /metrics profd_sampler_info{sampler="perf_event"} 1, no stop
#      (profd_stops_total 0) and TracerPid 0 in every thread mid-window,
#      target unharmed after; a wall window beside a perf window runs on
#      ptrace, the perf window keeps its samples;
#   3. --sampler auto as root picks perf_event and says so in the log;
#      --sampler bogus exits 64 with a message;
#   4. where the kernel refuses the event (here: its ring, with locked
#      memory denied: profd without CAP_IPC_LOCK, CAP_PERFMON and
#      CAP_SYS_ADMIN, RLIMIT_MEMLOCK 0 and perf_event_mlock_kb 0, restored
#      at exit), --sampler perf answers a CPU window 503 with one line and
#      --sampler auto falls back to ptrace (log line, /metrics, comment).
. "$(dirname "$0")/lib.sh"
t_begin sampler_perf
need_pprof_dump
[ "$(id -u)" = 0 ] || skip "needs root: perf_event_open on another user's process, capabilities dropped for the fallback"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support in this kernel"

SECS=6
HZ=200		# the ptrace reference's, as t_split's
PHZ=500		# perf's: a sample per 2 ms of CPU, enough samples on a busy machine
THREADS=2
start_target split "$THREADS" 120
URL_PATH="/debug/pprof/profile?seconds=$SECS&hz=$HZ"

# shares PROFILE: "A B C T" - CPU ns in hot_a, hot_b, hot_c, all.
shares()
{
	local f
	f=$TEST_DIR/$(basename "$1").folded
	pdump folded "$1" >"$f" || fail "pprof-dump folded $1 failed"
	printf '%s %s %s %s\n' "$(fold_sum "$f" hot_a)" "$(fold_sum "$f" hot_b)" \
	    "$(fold_sum "$f" hot_c)" "$(fold_total "$f")"
}

# comment_of SUMMARY: profd's comment line.
comment_of() { grep '^comment profd' "$1" | first_line; }

# ---- the reference: the ptrace sampler, this run ---------------------------------
start_profd
REF=$TEST_DIR/ref.pb.gz
fetch_profile "$BASE$URL_PATH" "$REF"
[[ "$(comment_of "$REF.summary")" == *", sampler ptrace:"* ]] ||
    fail "the default sampler's comment: $(comment_of "$REF.summary"), want 'sampler ptrace'"
[ "$(metric_get 'profd_sampler_info{pid="'"$TARGET_PID"'",sampler="ptrace"}')" = 1 ] ||
    fail "/metrics: no profd_sampler_info{sampler=\"ptrace\"} 1 by default"
read -r RA RB RC RT <<<"$(shares "$REF")"
RH=$(awk -v a="$RA" -v b="$RB" -v c="$RC" 'BEGIN { printf "%.0f", a + b + c }')
say "reference (ptrace): hot_a $(pct "$RA" "$RH") %, hot_b $(pct "$RB" "$RH") %, hot_c $(pct "$RC" "$RH") % of the three; $RT ns in all"
stop_profd

# ---- --sampler perf ---------------------------------------------------------------
start_profd --sampler perf
[ "$(metric_get 'profd_sampler_info{pid="'"$TARGET_PID"'",sampler="perf_event"}')" = 1 ] ||
    fail "/metrics: no profd_sampler_info{sampler=\"perf_event\"} 1 with --sampler perf"
ok "/metrics: profd_sampler_info{pid=\"$TARGET_PID\",sampler=\"perf_event\"} 1"

cpu0=$(target_cpu_ns)
bg_fetch perf.pb.gz "$BASE/debug/pprof/profile?seconds=$SECS&hz=$PHZ"
PERF_FETCH=$BG_PID
wait_window_open 1 || fail "the perf window did not start"
# mid-window: nothing traced, nothing stopped, as often as we can look
looks=0
while alive "$PERF_FETCH"; do
	problem=$(target_problem) || fail "mid-window: $problem"
	looks=$((looks + 1))
	sleep 0.2
done
bg_wait "$PERF_FETCH" perf.pb.gz
cpu1=$(target_cpu_ns)
[ "$looks" -ge 5 ] || fail "looked at the target only $looks times during a $SECS s window"
ok "mid-window, $looks looks: TracerPid 0 and no thread stopped"
P=$TEST_DIR/perf.pb.gz
expect_profile "perf window" "$P" "$BG_CODE"
S=$P.summary
say "$(comment_of "$S")"
[[ "$(comment_of "$S")" == *", sampler perf_event:"* ]] ||
    fail "comment does not say 'sampler perf_event': $(comment_of "$S")"
ok "comment says sampler perf_event"
[ "$(metric_get profd_stops_total)" = 0 ] ||
    fail "profd_stops_total $(metric_get profd_stops_total) after a perf window, want 0"
lost=$(metric_get profd_perf_samples_lost_total)
[ -n "$lost" ] || fail "/metrics: no profd_perf_samples_lost_total"
ok "profd_stops_total 0; profd_perf_samples_lost_total $lost"

# A sample per 1/PHZ s of a thread's CPU time, each worth that period: the
# total is close to the CPU the target used. Too few cannot show a 5-point
# split (at 500, one standard deviation of a 60 % share is 2.2 points).
nsamp=$(summary_get "$S" 'total[0]')
used=$((cpu1 - cpu0))
[ "$nsamp" -ge 500 ] || fail "only $nsamp samples: too few to check the split (the target used $used ns of CPU)"
ptot=$(summary_get "$S" 'total[1]')
[ "$ptot" = "$((nsamp * 1000000000 / PHZ))" ] ||
    fail "cpu/nanoseconds total $ptot, want $nsamp samples x the period $((1000000000 / PHZ)) ns"
expect_range "cpu/nanoseconds total as % of the CPU the target used" \
    "$(pct "$ptot" "$used")" 70 110

read -r A B C T <<<"$(shares "$P")"
[ "$T" = "$ptot" ] || fail "folded total $T differs from the cpu/nanoseconds total $ptot"
H=$(awk -v a="$A" -v b="$B" -v c="$C" 'BEGIN { printf "%.0f", a + b + c }')
expect_range "hot_a+hot_b+hot_c share of all CPU (%)" "$(pct "$H" "$T")" 90 100
for x in "hot_a $A $RA 55 65" "hot_b $B $RB 25 35" "hot_c $C $RC 5 15"; do
	read -r fn v r lo hi <<<"$x"
	expect_range "$fn share of the three, perf (%)" "$(pct "$v" "$H")" "$lo" "$hi"
	expect_range "$fn share, perf minus the ptrace reference (points)" \
	    "$(awk -v a="$(pct "$v" "$H")" -v b="$(pct "$r" "$RH")" 'BEGIN { print a - b }')" -7 7
done

F=$TEST_DIR/perf.pb.gz.folded
for chain in "hot_a worker;do_round;chain_a1;hot_a $A" \
    "hot_b worker;do_round;chain_b1;chain_b2;chain_b3;hot_b $B" \
    "hot_c worker;do_round;hot_c $C"; do
	read -r leaf ch all <<<"$chain"
	expect_range "CPU in $leaf under $ch (% of $leaf)" \
	    "$(pct "$(fold_sum_leaf "$F" "$ch")" "$all")" 95 100
done
FT=$TEST_DIR/perf-threads
pdump folded -t "$P" >"$FT" || fail "pprof-dump folded -t failed"
for th in split-w0 split-w1; do
	expect_range "thread $th share of the profile (%)" \
	    "$(pct "$(fold_sum "$FT" "thread=$th")" "$T")" 25 75
done

# A wall window beside a perf window: the wall one stops threads (ptrace),
# the CPU one still takes the kernel's samples.
bg_fetch mixcpu.pb.gz "$BASE/debug/pprof/profile?seconds=3&hz=$PHZ"
MIX_CPU=$BG_PID
bg_fetch mixwall.pb.gz "$BASE/debug/pprof/wall?seconds=2&hz=99"
MIX_WALL=$BG_PID
bg_wait "$MIX_WALL" mixwall.pb.gz
expect_profile "wall window beside a perf window" "$TEST_DIR/mixwall.pb.gz" "$BG_CODE"
bg_wait "$MIX_CPU" mixcpu.pb.gz
expect_profile "perf window beside a wall window" "$TEST_DIR/mixcpu.pb.gz" "$BG_CODE"
[[ "$(comment_of "$TEST_DIR/mixwall.pb.gz.summary")" == *", sampler ptrace:"* ]] ||
    fail "the wall window's comment: $(comment_of "$TEST_DIR/mixwall.pb.gz.summary"), want 'sampler ptrace'"
[[ "$(comment_of "$TEST_DIR/mixcpu.pb.gz.summary")" == *", sampler perf_event:"* ]] ||
    fail "the CPU window's comment: $(comment_of "$TEST_DIR/mixcpu.pb.gz.summary"), want 'sampler perf_event'"
read -r A B C T <<<"$(shares "$TEST_DIR/mixcpu.pb.gz")"
expect_range "perf window beside a wall window: hot_a+hot_b+hot_c share (%)" \
    "$(pct "$(awk -v a="$A" -v b="$B" -v c="$C" 'BEGIN { print a + b + c }')" "$T")" 90 100
[ "$(metric_get profd_stops_total)" -gt 0 ] ||
    fail "profd_stops_total 0 after a wall window: it did not stop threads"
ok "a wall window (ptrace, $(metric_get profd_stops_total) stops) and a perf window at once, each with its sampler"
wait_untraced 5 || fail "profd still attached 5 s after the wall window ended"
assert_target_ok
stop_profd
assert_target_ok

# ---- --sampler auto, --sampler bogus ----------------------------------------------
start_profd --sampler auto
wait_for_line "$PROFD_LOG" 'sampler (perf_event|ptrace) \(--sampler auto' 10 "$PROFD_PID" ||
    fail "--sampler auto: no log line saying which sampler"
line=$(grep -E 'sampler (perf_event|ptrace) \(--sampler auto' "$PROFD_LOG" | first_line)
[[ $line == *"sampler perf_event (--sampler auto"* ]] ||
    fail "--sampler auto as root did not pick perf_event: $line"
[ "$(metric_get 'profd_sampler_info{pid="'"$TARGET_PID"'",sampler="perf_event"}')" = 1 ] ||
    fail "--sampler auto: /metrics does not say perf_event"
ok "--sampler auto as root: ${line#*profd: }"
stop_profd

rc=0
"$PROFD" --pid "$TARGET_PID" --listen 127.0.0.1:0 --sampler bogus \
    >"$TEST_DIR/bogus.out" 2>"$TEST_DIR/bogus.err" || rc=$?
[ "$rc" = 64 ] || fail "--sampler bogus: exit $rc, want 64"
grep -q "invalid --sampler 'bogus'" "$TEST_DIR/bogus.err" ||
    fail "--sampler bogus: no message on stderr: $(head -c 300 "$TEST_DIR/bogus.err")"
ok "--sampler bogus: exit 64, $(head -n 1 "$TEST_DIR/bogus.err")"

# ---- where the kernel refuses: a 503 for perf, ptrace for auto ---------------------
# At perf_event_paranoid <= 2 the kernel lets any process that may ptrace a
# thread open a user-space event on it, so it is the ring's locked memory
# that is denied: past perf_event_mlock_kb (0 here) a ring counts against
# RLIMIT_MEMLOCK (0) unless the process has CAP_IPC_LOCK.
MLOCK=/proc/sys/kernel/perf_event_mlock_kb
command -v setpriv >/dev/null || skip "setpriv: not installed (the fallback is not tested)"
command -v prlimit >/dev/null || skip "prlimit: not installed (the fallback is not tested)"
mlock_was=$(cat "$MLOCK") || skip "cannot read $MLOCK"
at_exit "echo $mlock_was >$MLOCK"
echo 0 >"$MLOCK" 2>/dev/null || skip "cannot write $MLOCK: the refusal cannot be arranged"
# shellcheck disable=SC2054  # the commas belong to setpriv's arguments
PROFD_WRAP=(setpriv --inh-caps=-ipc_lock,-perfmon,-sys_admin
    --bounding-set=-ipc_lock,-perfmon,-sys_admin prlimit --memlock=0 --)

start_profd --sampler perf
code=$(fetch "$BASE$URL_PATH" "$TEST_DIR/refused")
expect_error_body "--sampler perf, refused" "$TEST_DIR/refused" "$code"
[ "$code" = 503 ] || fail "--sampler perf, refused: HTTP $code, want 503"
[[ $ERROR_LINE == *perf_event* ]] || fail "--sampler perf, refused: '$ERROR_LINE' does not say perf_event"
n=$(grep -cF "$ERROR_LINE" "$PROFD_LOG" || true)
[ "$n" = 1 ] || fail "--sampler perf, refused: the message is $n times in the log, want once"
ok "--sampler perf, refused: 503, one line: $ERROR_LINE"
assert_target_ok
stop_profd

start_profd --sampler auto
PROFD_WRAP=()
wait_for_line "$PROFD_LOG" 'sampler ptrace \(--sampler auto' 10 "$PROFD_PID" ||
    fail "--sampler auto, refused: no log line saying it falls back to ptrace: $(grep 'sampler' "$PROFD_LOG" | first_line)"
ok "--sampler auto, refused: $(grep -E 'sampler ptrace \(--sampler auto' "$PROFD_LOG" | first_line | sed 's/.*profd: //')"
[ "$(metric_get 'profd_sampler_info{pid="'"$TARGET_PID"'",sampler="ptrace"}')" = 1 ] ||
    fail "--sampler auto, refused: /metrics does not say ptrace"
FB=$TEST_DIR/fallback.pb.gz
fetch_profile "$BASE/debug/pprof/profile?seconds=2&hz=$HZ" "$FB"
[[ "$(comment_of "$FB.summary")" == *", sampler ptrace:"* ]] ||
    fail "--sampler auto, refused: comment $(comment_of "$FB.summary"), want 'sampler ptrace'"
read -r A B C T <<<"$(shares "$FB")"
expect_range "--sampler auto, refused: hot_a+hot_b+hot_c share (%)" \
    "$(pct "$(awk -v a="$A" -v b="$B" -v c="$C" 'BEGIN { print a + b + c }')" "$T")" 90 100
wait_untraced 5 || fail "profd still attached 5 s after the fallback's window ended"
assert_target_ok
stop_profd
assert_target_ok
say "PASS sampler_perf"
