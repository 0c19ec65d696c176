#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_ui_timeline - the page's timeline of continuous mode (/ui/ with
# /history/buckets): phases runs in phase_one for two 10-second buckets or
# more, then in phase_two (SIGUSR1) for two more; the page's self test
# selects the buckets before the switch, then one after it with compare
# on, and the differential flame graph shows phase_two grown and phase_one
# shrunk. Skipped when this profd has no /history/buckets.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ui_lib.sh"
t_begin ui_timeline
need_chromium

start_target phases 2 200
PH_OUT=$TEST_DIR/target.$_nstarted.phases.out
start_profd --continuous
B=$TEST_DIR/buckets
BU=$BASE/pid/$TARGET_PID/history/buckets
code=$(fetch "$BU" "$B")
if [ "$code" != 200 ]; then
	BU=$BASE/history/buckets
	code=$(fetch "$BU" "$B")
fi
[ "$code" = 200 ] || skip "no /history/buckets in this profd (HTTP $code): the timeline has nothing to show"

# nbuckets: how many buckets /history/buckets lists now.
nbuckets()
{
	fetch "$BU" "$B" >/dev/null
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
print(len(j if isinstance(j, list) else j.get("buckets", [])))' "$B"
}

# wait_buckets N: poll (every 0.5 s, 60 s at most) until N are listed.
wait_buckets()
{
	local n
	for ((n = 0; n < 120; n++)); do
		[ "$(nbuckets)" -ge "$1" ] && return 0
		sleep 0.5
	done
	fail "fewer than $1 buckets after 60 s: $(head -c 300 "$B")"
}

wait_buckets 2
a=$(nbuckets)
kill -USR1 "$TARGET_PID"
wait_for_line "$PH_OUT" '^phase 2$' 10 "$TARGET_PID" || fail "phases did not switch to phase 2"
# bucket a-1 (or a, were the open one not listed) may hold both phases:
# compare 0..a-2 with a+1, the first surely in phase 2
wait_buckets $((a + 2))
ok "$a buckets before the switch, $(nbuckets) now"
T=$TEST_DIR/timeline.json
selftest "$T" "target=pid:$TARGET_PID&spans=0-$((a - 2)),$((a + 1))-$((a + 1))"
check_phase_diff "$T"
chrome --screenshot="$SHOT" "$BASE/ui/?selftest=1&target=pid:$TARGET_PID&spans=0-$((a - 2)),$((a + 1))-$((a + 1))" >/dev/null ||
    fail "chromium --screenshot failed: $(tail -n 5 "$CHROME_ERR")"
ok "screenshot: $SHOT"
# the recorder attaches for each sample: only once profd is gone is
# "no tracer" a property
stop_profd
assert_target_ok
say "PASS ui_timeline"
