#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_wall_states - a wall-clock profile labels each sample with the state
# the thread was in when the tick looked, and never stops a sleeping
# thread for it, however busy the machine.  Against a mostly idle service
# (tests/targets/burst.c: 4 threads wake every 5..15 ms, run 300 us and
# sleep; its main thread waits in pause()), with one CPU hog per core
# beside it:
#   - profd_sleeping_thread_stops_total does not move during the window;
#   - every stop was of a running thread: stops, less those made again
#     for a CPU weight, are no more than the samples labelled running;
#   - the share of samples labelled running agrees, within 10 points,
#     with the share of running threads this test sees in
#     /proc/PID/task/*/stat, polled over the same window (a same-run
#     reference; profd used to label every thread it stopped "running":
#     43 % of an idle service's samples).
. "$(dirname "$0")/lib.sh"
t_begin wall_states
need_pprof_dump

start_target burst 4 300 10000 120
start_profd
start_hogs

s0=$(metric_get profd_sleeping_thread_stops_total)
st0=$(metric_get profd_stops_total)
ag0=$(metric_get profd_stopped_again_total)
W=wall.pb.gz
bg_fetch "$W" "$BASE/debug/pprof/wall?seconds=4&hz=49" 60
wait_window_open 1 10 || fail "the wall window did not start"
# poll the threads' states while the window runs
: >"$TEST_DIR/states"
while alive "$BG_PID"; do
	cat /proc/"$TARGET_PID"/task/*/stat 2>/dev/null |
	    sed 's/^.*) //' | cut -c1 >>"$TEST_DIR/states"
	sleep 0.02
done
bg_wait "$BG_PID" "$W"
stop_hogs
expect_status "GET /debug/pprof/wall" "$BG_CODE" 200
s1=$(metric_get profd_sleeping_thread_stops_total)
st1=$(metric_get profd_stops_total)
ag1=$(metric_get profd_stopped_again_total)
[ "$s1" = "$s0" ] || fail "profd_sleeping_thread_stops_total went from $s0 to $s1 during a wall window"
ok "no sleeping thread was stopped (profd_sleeping_thread_stops_total: $s1)"

# ticks per sample: value / period (pprof-dump labels prints the last
# value, wall/nanoseconds)
pdump summary "$TEST_DIR/$W" >"$TEST_DIR/summary" || fail "pprof-dump cannot decode the wall profile"
period=$(summary_get "$TEST_DIR/summary" period)
pdump labels "$TEST_DIR/$W" >"$TEST_DIR/labels" || fail "pprof-dump labels failed"
read -r run all <<<"$(awk -v p="$period" '{
	c = 0; st = ""
	for (i = 1; i <= NF; i++) {
		if ($i ~ /^value=/) c = substr($i, 7) / p
		else if ($i ~ /^state=/) st = substr($i, 7)
	}
	all += c; if (st == "running") run += c
} END { printf "%d %d\n", run, all }' "$TEST_DIR/labels")"
[ "$all" -gt 0 ] || fail "the wall profile has no samples"
stops=$((st1 - st0 - (ag1 - ag0)))
say "wall window: $all samples, $run labelled running; $((st1 - st0)) stops, $((ag1 - ag0)) of them again for a CPU weight"
[ "$stops" -le "$run" ] || fail "$stops stops of threads found running, but only $run samples labelled running"
ok "every stop was of a thread labelled running ($stops stops, $run such samples)"

seen_r=$(grep -c '^R' "$TEST_DIR/states" || true)
seen=$(wc -l <"$TEST_DIR/states")
[ "$seen" -gt 50 ] || fail "polled only $seen thread states"
p_prof=$(pct "$run" "$all")
p_seen=$(pct "$seen_r" "$seen")
say "running: $p_prof % of profd's samples, $p_seen % of $seen states polled from /proc"
expect_range "running share, profd minus /proc (points)" \
    "$(awk -v a="$p_prof" -v b="$p_seen" 'BEGIN { printf "%.2f", a - b }')" -10 10
assert_target_ok
stop_profd
say "PASS wall_states"
