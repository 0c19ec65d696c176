#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_history - continuous mode's flight recorder.  Against the CPU-split
# target (tests/targets/split.c: hot_a/hot_b/hot_c 60/30/10):
#   1. without --continuous, /debug/pprof/history is a 404 that says to
#      start profd with --continuous;
#   2. with --continuous=99 --history 1m, once about 12 s are recorded
#      (/metrics says so), history?seconds=10 answers while an ordinary
#      10 s window started at the same moment is still open, and its
#      hot_a/hot_b/hot_c shares agree with that window's and with the
#      target's own measurement ("split calib") within +-5 points;
#   3. kind=wall, since=/until= (Unix seconds and RFC 3339), a span longer
#      than the history (said in the comment), go tool pprof -top, the
#      /metrics gauges, and 400 for bad parameters;
#   4. the CPU weighting counts nothing twice: the window's CPU total and
#      the whole history's are each 75..110 % of the CPU the target used
#      (sharing one baseline would halve them);
#   5. profd leaves the target running and untraced, after SIGTERM and
#      after a SIGKILL while recording;
#   6. a target that execs another program (tests/targets/exiter.c):
#      the history names the old program's stacks and the new one's.
. "$(dirname "$0")/lib.sh"
t_begin history
need_pprof_dump
need_go

start_target split 2 120

# ---- 1. no history without --continuous --------------------------------------
start_profd
out=$TEST_DIR/nohist
code=$(fetch "$BASE/debug/pprof/history?seconds=10" "$out")
expect_error_body "history without --continuous" "$out" "$code"
[ "$code" = 404 ] || fail "history without --continuous: HTTP $code, want 404"
case $ERROR_LINE in
*--continuous*) ok "without --continuous: 404: $ERROR_LINE" ;;
*) fail "the 404 does not say to start profd with --continuous: $ERROR_LINE" ;;
esac
[ -z "$(metric_get profd_history_buckets)" ] ||
    fail "/metrics has profd_history_buckets without --continuous"
stop_profd

# ---- 2. recorded history against a parallel window ----------------------------
start_profd --continuous=99 --history 1m
t0=$(date +%s.%N)
cpu_start=$(target_cpu_ns)
# Wait until 12 s are recorded: two buckets (the second begins after 10 s)
# and 12 s since profd started; poll /metrics, give up after 40 s.
for ((i = 0; ; i++)); do
	nb=$(metric_get profd_history_buckets)
	el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
	if [ "${nb:-0}" -ge 2 ] && awk -v e="$el" 'BEGIN { exit !(e >= 12) }'; then
		break
	fi
	awk -v e="$el" 'BEGIN { exit !(e >= 40) }' &&
	    fail "history: $nb bucket(s) after ${el}s, want 2 after 12 s"
	alive "$PROFD_PID" || fail "profd died while recording"
	sleep 0.2
done
ok "/metrics: $nb history buckets after ${el}s"
ns=$(metric_get profd_history_stacks)
expect_range "profd_history_stacks" "${ns:-0}" 1 1e9

W=$TEST_DIR/window.pb.gz
cpuw0=$(target_cpu_ns)
fetch_profile "$BASE/debug/pprof/profile?seconds=10&hz=99" "$W" &
wpid=$!
wait_window_open 1 10 || fail "the parallel 10 s window did not start"
H=$TEST_DIR/history.pb.gz
fetch_profile "$BASE/debug/pprof/history?seconds=10" "$H"
# The property: the history came back while the window is still open.
alive "$wpid" || fail "history?seconds=10 answered only after the parallel 10 s window ended"
ok "history?seconds=10 answered while a 10 s window started with it is still open"
wait "$wpid" || fail "the parallel 10 s window failed"
cpuw1=$(target_cpu_ns)

S=$H.summary
sed 's/^/  history: /' "$S" | grep -v '^  history: \(mapping\|location\|function\)'
types=$(grep '^sample_type ' "$S" | tr '\n' ' ')
[ "$types" = "sample_type samples/count sample_type cpu/nanoseconds " ] ||
    fail "history sample types: '$types', want samples/count then cpu/nanoseconds"
comment=$(summary_get "$S" comment)
case $comment in
*"history, cpu"*"bucket(s) of 10 s at 99 Hz"*) ok "comment: $comment" ;;
*) fail "history comment does not give the span and buckets: $comment" ;;
esac
expect_range "history duration_nanos (whole buckets over the last 10 s)" \
    "$(summary_get "$S" duration_nanos)" 9.9e9 21e9
now_ns=$(date +%s%N)
expect_range "history time_nanos (s before now)" \
    "$(awk -v n="$now_ns" -v t="$(summary_get "$S" time_nanos)" 'BEGIN { print (n - t) / 1e9 }')" 10 40
expect_range "history samples" "$(summary_get "$S" 'total[0]')" 500 1e9

# shares NAME FILE: "A B C", the shares (%) of hot_a, hot_b, hot_c among the
# three in a profile.
shares()
{
	local f=$TEST_DIR/$1.folded a b c h
	pdump folded "$2" >"$f" || fail "pprof-dump folded $2 failed"
	a=$(fold_sum "$f" hot_a)
	b=$(fold_sum "$f" hot_b)
	c=$(fold_sum "$f" hot_c)
	h=$(awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN { print a + b + c }')
	awk -v h="$h" 'BEGIN { exit !(h > 0) }' || fail "$1: no hot_a/hot_b/hot_c at all"
	echo "$(pct "$a" "$h") $(pct "$b" "$h") $(pct "$c" "$h")"
}
read -r ha hb hc <<<"$(shares history "$H")"
read -r wa wb wc <<<"$(shares window "$W")"
read -r ca cb cc <<<"$("$TARGET_DIR/split" calib |
    awk '/^hot_a/ { gsub(/%/, ""); print $2, $4, $6 }')"
say "hot_a/hot_b/hot_c: history $ha/$hb/$hc, window $wa/$wb/$wc, calib $ca/$cb/$cc"
diffpts() { awk -v a="$1" -v b="$2" 'BEGIN { print a - b }'; }
expect_range "hot_a: history minus window (points)" "$(diffpts "$ha" "$wa")" -5 5
expect_range "hot_b: history minus window (points)" "$(diffpts "$hb" "$wb")" -5 5
expect_range "hot_c: history minus window (points)" "$(diffpts "$hc" "$wc")" -5 5
expect_range "hot_a: history minus calib (points)" "$(diffpts "$ha" "$ca")" -5 5
expect_range "hot_b: history minus calib (points)" "$(diffpts "$hb" "$cb")" -5 5
expect_range "hot_c: history minus calib (points)" "$(diffpts "$hc" "$cc")" -5 5

# ---- 3. the other ways to ask ---------------------------------------------------
TB=$TEST_DIR/top
pprof_table "$H" >"$TB" || fail "go tool pprof -top cannot load the history profile"
for fn in hot_a hot_b hot_c; do
	[ -n "$(table_get "$TB" "$fn" 1)" ] || fail "go tool pprof -top: no $fn"
done
ok "go tool pprof -top loads the history: $(head -n 3 "$TB" | tr '\n' ' ')"

HW=$TEST_DIR/wall.pb.gz
fetch_profile "$BASE/debug/pprof/history?kind=wall&seconds=10" "$HW"
types=$(grep '^sample_type ' "$HW.summary" | tr '\n' ' ')
[ "$types" = "sample_type samples/count sample_type wall/nanoseconds " ] ||
    fail "kind=wall sample types: '$types', want samples/count then wall/nanoseconds"
FT=$TEST_DIR/wall.folded-threads
pdump folded -t "$HW" >"$FT" || fail "pprof-dump folded -t failed"
T=$(fold_total "$FT")
# every thread at every tick: the main thread (in pthread_join) is 1/3
expect_range "kind=wall: main thread share (%)" \
    "$(pct "$(fold_sum "$FT" "thread=split")" "$T")" 23 43
expect_range "kind=wall: worker split-w0 share (%)" \
    "$(pct "$(fold_sum "$FT" "thread=split-w0")" "$T")" 23 43

now=$(date +%s)
fetch_profile "$BASE/debug/pprof/history?since=$((now - 8))&until=$now" "$TEST_DIR/unix.pb.gz"
since=$(date -u -d "@$((now - 8))" +%Y-%m-%dT%H:%M:%SZ)
fetch_profile "$BASE/debug/pprof/history?since=$since" "$TEST_DIR/rfc.pb.gz"
fetch_profile "$BASE/debug/pprof/history?seconds=3600" "$TEST_DIR/all.pb.gz"
cpu_all=$(target_cpu_ns)
comment=$(summary_get "$TEST_DIR/all.pb.gz.summary" comment)
case $comment in
*"begins before the history"*) ok "seconds=3600: what there is, and says so" ;;
*) fail "seconds=3600: the comment does not say the history is shorter: $comment" ;;
esac

for q in kind=heap seconds=-1 seconds=x since=yesterday until=2026-13-01T00:00:00Z \
    "since=$now&until=$((now - 5))" "seconds=5&since=$((now - 5))&until=$now"; do
	expect_error "$BASE/debug/pprof/history?$q" 400
done
expect_error "$BASE/debug/pprof/history?until=$((now - 3600))" 404

# ---- 4. nothing counted twice ------------------------------------------------
expect_range "window cpu/nanoseconds as % of the CPU the target used (recorder running)" \
    "$(pct "$(summary_get "$W.summary" 'total[1]')" "$((cpuw1 - cpuw0))")" 75 110
expect_range "whole history cpu/nanoseconds as % of the CPU the target used" \
    "$(pct "$(summary_get "$TEST_DIR/all.pb.gz.summary" 'total[1]')" "$((cpu_all - cpu_start))")" 75 110

# ---- 5. the target after profd ------------------------------------------------
stop_profd
assert_target_ok
start_profd --continuous=99
for ((i = 0; i < 100; i++)); do
	[ "$(metric_get profd_history_stacks)" -gt 0 ] 2>/dev/null && break
	sleep 0.1
done
[ "$(metric_get profd_history_stacks)" -gt 0 ] || fail "no history recorded within 10 s"
kill -KILL "$PROFD_PID"
wait_gone "$PROFD_PID" 10 || fail "profd survived SIGKILL for 10 s"
wait "$PROFD_PID" || true
say "profd $PROFD_PID killed with SIGKILL while recording"
for ((i = 0; i < 10; i++)); do
	problem=$(target_problem) || fail "$((i + 1)) x 0.1 s after the kill: $problem"
	sleep 0.1
done
assert_target_ok

# ---- 6. exec ----------------------------------------------------------------------
FIFO=$TEST_DIR/ctl
start_target exiter "$FIFO" 120
out=$TEST_DIR/target.$_nstarted.exiter.out
start_profd --continuous=99
for ((i = 0; i < 100; i++)); do
	[ "$(metric_get profd_history_stacks)" -gt 0 ] 2>/dev/null && break
	sleep 0.1
done
printf 'exec %s\n' "$TARGET_DIR/spin" >"$FIFO"
# No early "it died" (see t_rel_exit): during a non-leader's exec the old
# leader is a zombie for a moment, in a process that lives on.
for ((i = 0; i < 100; i++)); do
	[ "$(count_matches "$out" '^ready [0-9]+$')" -ge 2 ] && break
	sleep 0.1
done
alive "$TARGET_PID" || fail "the target died on exec: $(cat "$out.err")"
[ "$(count_matches "$out" "^ready $TARGET_PID\$")" = 2 ] ||
    fail "no second ready line from $TARGET_PID within 10 s of the exec"
# the new program recorded: spin_leaf in the history (poll, 10 s at most)
E=$TEST_DIR/exec.pb.gz
for ((i = 0; i < 50; i++)); do
	fetch_profile "$BASE/debug/pprof/history" "$E" >/dev/null
	pdump folded "$E" >"$E.folded" || fail "pprof-dump folded $E failed"
	[ "$(fold_sum "$E.folded" spin_leaf)" -gt 0 ] && break
	sleep 0.2
done
for chain in "busy_main;busy_leaf" "spin_root;spin_mid;spin_leaf"; do
	[ "$(fold_sum "$E.folded" "$chain")" -gt 0 ] ||
	    fail "history across the exec: no $chain: $(head -c 600 "$E.folded")"
done
ok "history across an exec names the old program (busy_main;busy_leaf) and the new (spin_root;spin_mid;spin_leaf)"
stop_profd
say "PASS history"
