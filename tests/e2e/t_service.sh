#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_service - a --match rule is a service, not a PID. profd --continuous
# --match '^svcNNN$' (a copy of tests/targets/spin under a name of this
# run's own); the test plays a supervisor: it starts the service, waits
# until profd records it (/services names it as the history's process and
# its history has samples of it), SIGKILLs it and starts it again, three
# times, the first restart 5 s late (a supervisor's back-off). Then:
#  - /services has three exit records, of the three killed PIDs, in order,
#    with start (the process's own start) <= served_since <= end, an
#    uptime, the cause "unknown" (not "oom": the cgroup's oom_kill count
#    did not go up) and a last RSS; the longest restart gap, 5 s or more,
#    makes requests in a gap wait twice that (10 s or more);
#  - /metrics: profd_service_restarts_total and _exits_total 3,
#    _oom_kills_total 0 (a SIGKILL is no OOM kill), up 1;
#  - /service/NAME/debug/pprof/history over the whole span has samples of
#    all four PIDs (tid labels: spin has one thread) in spin_leaf, its
#    comment names all four, and /service/NAME/history/buckets lists
#    contiguous buckets recorded by each of the four;
#  - a profile window asked for in the restart gap (after profd noticed
#    the exit, before the next start, which comes 6 s later: more than
#    the 5 s a request waits at least) waits and answers 200 from the next
#    process; the history asked for in the gap answers at once;
#  - a second process matching at once: the bare /debug/pprof/profile is
#    a 409 that says to anchor the regex, /service/NAME/ still answers
#    from the process recording the history; an unknown service is 404.
. "$(dirname "$0")/lib.sh"
t_begin service
need_pprof_dump
command -v python3 >/dev/null || fail "python3: not installed (scripts/deps.sh)"
command -v jq >/dev/null || fail "jq: not installed (scripts/deps.sh)"

BIN=$TEST_DIR/bin
mkdir -p "$BIN"
NAME=svc$$
cp "$TARGET_DIR/spin" "$BIN/$NAME"
RE="^$NAME\$"


start_profd_re "$LOOPBACK_RE" --listen 127.0.0.1:0 --continuous=99 \
    --history 1m --match "$RE"
SVC=$BASE/service/$NAME
grep -qF "watching for processes matching '$RE'" "$PROFD_LOG" ||
    fail "profd does not log the --match rule"

# history_pids FILE: the tids (= PIDs, spin has one thread) of the samples
# of a history profile, sorted, space-separated.
history_pids()
{
	pdump labels "$1" | grep -oE '(^| )tid=[0-9]+' | sed 's/.*=//' |
	    sort -un | tr '\n' ' ' | sed 's/ $//'
}

# wait_recorded PID: the service's history has samples of PID.
wait_recorded()
{
	local n f=$TEST_DIR/hist.wait
	for ((n = 100; n > 0; n--)); do
		code=$(fetch "$SVC/debug/pprof/history" "$f")
		if [ "$code" = 200 ] && [[ " $(history_pids "$f") " == *" $1 "* ]]; then
			return 0
		fi
		alive "$PROFD_PID" || fail "profd died: $(tail -n 5 "$PROFD_LOG")"
		sleep 0.1
	done
	fail "the history of $NAME has no sample of pid $1 after 10 s (last: HTTP $code)"
}

# ---- the supervisor: start, wait until recorded, SIGKILL; three times ----------
pids=()
for i in 1 2 3; do
	start_target_cmd "$NAME" "$BIN/$NAME" 120
	pids+=("$TARGET_PID")
	wait_service "$NAME" 's["history_pid"]' "$TARGET_PID"
	wait_recorded "$TARGET_PID"
	ok "run $i: pid $TARGET_PID records the service's history"
	kill -KILL "$TARGET_PID"
	wait_gone "$TARGET_PID" 5 || fail "pid $TARGET_PID survived SIGKILL"
	wait_service "$NAME" 'len(s["exits"]), s["up"]' "($i, False)"
	ok "run $i: profd noticed pid $TARGET_PID gone: exit record $i"
	if [ "$i" = 1 ]; then
		# not a wait for readiness: the supervisor's restart delay,
		# the gap the service's gap wait then follows
		sleep 5
	fi
done
gap=$(service_get "$NAME" 's["longest_gap_seconds"], s["gap_wait_seconds"]')
python3 -c "import sys; g, w = $gap; sys.exit(not (g >= 5 and w >= 10 and w <= 30))" ||
    fail "/services: longest gap, gap wait: $gap, want >= 5 s and 10..30 s"
ok "longest restart gap, gap wait: $gap s"

# ---- the gap: history at once, a window waits for the next process -------------
code=$(fetch "$SVC/debug/pprof/history" "$TEST_DIR/gap.hist")
expect_profile "history in the restart gap" "$TEST_DIR/gap.hist" "$code"
ok "history in the gap: 200 at once, $PROFILE_SAMPLES samples"
bg_fetch gap.prof "$SVC/debug/pprof/profile?seconds=1" 20
GAP_FETCH=$BG_PID
# the request is on its way and waits (it has no process to go to): profd
# says so once per request
wait_for_line "$PROFD_LOG" "service $NAME: no process now" 10 ||
    fail "profd does not say the gap's request waits: $(tail -n 5 "$PROFD_LOG")"
grep -q "service $NAME: no process now.*waits up to [1-3][0-9] s" "$PROFD_LOG" ||
    fail "the gap's request does not wait 10 s or more: $(grep "no process now" "$PROFD_LOG")"
# not a wait for readiness: a restart later than the 5 s a request waits
# at least, within the 10 s or more this service's gaps make it wait
sleep 6
alive "$GAP_FETCH" || fail "the gap's request gave up within 6 s: $(cat "$TEST_DIR/gap.prof")"
start_target_cmd "$NAME" "$BIN/$NAME" 120
pids+=("$TARGET_PID")
bg_wait "$GAP_FETCH" gap.prof
expect_profile "profile asked for in the restart gap" "$TEST_DIR/gap.prof" "$BG_CODE"
got=$(history_pids "$TEST_DIR/gap.prof")
[ "$got" = "$TARGET_PID" ] || fail "the gap's profile has samples of '$got', want the new pid $TARGET_PID"
ok "profile asked for in the gap: 200 from the next process, pid $TARGET_PID"
wait_service "$NAME" 's["history_pid"]' "$TARGET_PID"
wait_recorded "$TARGET_PID"

# ---- exit records -----------------------------------------------------------------
service_get "$NAME" 's' >/dev/null || fail "/services does not answer"
python3 - "$TEST_DIR/services.json" "$NAME" "$RE" "${pids[@]}" <<'EOF' || fail "/services: $(cat "$TEST_DIR/services.json")"
import json, sys, datetime
name, rule, pids = sys.argv[2], sys.argv[3], [int(p) for p in sys.argv[4:]]
s = [x for x in json.load(open(sys.argv[1])) if x["service"] == name][0]
if s["match"] != rule:
    sys.exit("match %r, want %r" % (s["match"], rule))
if s["pids"] != [pids[3]] or not s["up"] or s["restarts"] != 3 or s["oom_kills"] != 0:
    sys.exit("pids %r up %r restarts %r oom_kills %r, want [%d] true 3 0"
             % (s["pids"], s["up"], s["restarts"], s["oom_kills"], pids[3]))
ex = s["exits"]
if [x["pid"] for x in ex] != pids[:3]:
    sys.exit("exit records of %r, want %r" % ([x["pid"] for x in ex], pids[:3]))
def t(v):
    return datetime.datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ")
prev = None
for x in ex:
    if t(x["start"]) > t(x["served_since"]) or t(x["served_since"]) > t(x["end"]) or (prev and t(x["start"]) < prev):
        sys.exit("pid %d: start %s served_since %s end %s out of order"
                 % (x["pid"], x["start"], x["served_since"], x["end"]))
    prev = t(x["end"])
    if not 0 < x["uptime_seconds"] < 600 or x["cause"] != "unknown" or x["comm"] != name:
        sys.exit("pid %d: %r" % (x["pid"], x))
    # spin's RSS is small but never nothing
    if not 4096 <= x["last_rss_bytes"] < 1 << 30:
        sys.exit("pid %d: last_rss_bytes %r" % (x["pid"], x["last_rss_bytes"]))
    print("ok: exit record: pid %d %s, %s to %s, up %.1f s, cause %s, last RSS %d"
          % (x["pid"], x["comm"], x["start"], x["end"], x["uptime_seconds"], x["cause"], x["last_rss_bytes"]))
EOF

# ---- /metrics --------------------------------------------------------------------
curl -sS --max-time 10 "$BASE/metrics" >"$TEST_DIR/metrics" || fail "/metrics does not answer"
for m in "profd_service_restarts_total 3" "profd_service_exits_total 3" \
    "profd_service_oom_kills_total 0" "profd_service_up 1"; do
	set -- $m
	v=$(awk -v l="$1{service=\"$NAME\"}" '$1 == l { print $2 }' "$TEST_DIR/metrics")
	[ "$v" = "$2" ] || fail "/metrics: $1{service=\"$NAME\"} is '$v', want $2"
done
ok "/metrics: restarts 3, exits 3, OOM kills 0 (SIGKILL is no OOM kill), up 1 for service $NAME"

# ---- the history spans the restarts ---------------------------------------------
code=$(fetch "$SVC/debug/pprof/history" "$TEST_DIR/all.hist")
expect_profile "the service's history" "$TEST_DIR/all.hist" "$code"
got=$(history_pids "$TEST_DIR/all.hist")
want=$(printf '%s\n' "${pids[@]}" | sort -n | tr '\n' ' ' | sed 's/ $//')
[ "$got" = "$want" ] || fail "the history has samples of pids '$got', want '$want' (all four runs)"
comment=$(pdump summary "$TEST_DIR/all.hist" | grep '^comment profd' | first_line)
for p in "${pids[@]}"; do
	[[ "$comment" == *"service $NAME, pids "*"$p"* ]] ||
	    fail "the history's comment does not name service $NAME and pid $p: $comment"
done
ok "the history's comment names the four: ${comment%%, history*}"
pdump folded "$TEST_DIR/all.hist" >"$TEST_DIR/all.folded" || fail "pprof-dump folded failed"
total=$(fold_total "$TEST_DIR/all.folded")
leaf=$(fold_sum_leaf "$TEST_DIR/all.folded" spin_leaf)
expect_range "history across restarts: spin_leaf share (%)" "$(pct "$leaf" "$total")" 80 100
ok "the history spans the four processes: pids $got, $total (sample values)"
code=$(fetch "$SVC/history/buckets" "$TEST_DIR/buckets.json")
expect_status "GET /service/$NAME/history/buckets" "$code" 200
got=$(jq -r '[.buckets[].pid] | unique | map(tostring) | join(" ")' "$TEST_DIR/buckets.json")
[ "$got" = "$want" ] || fail "/service/$NAME/history/buckets: buckets of pids '$got', want '$want'"
# shellcheck disable=SC2016  # jq's $i
jq -e '.buckets | [range(1; length) as $i | .[$i].start_unix_ns == .[$i - 1].end_unix_ns] | all' \
    "$TEST_DIR/buckets.json" >/dev/null ||
    fail "/service/$NAME/history/buckets: not contiguous: $(head -c 600 "$TEST_DIR/buckets.json")"
ok "/service/$NAME/history/buckets: contiguous buckets of pids $got"

# ---- several processes at once; names ----------------------------------------------
holder=$TARGET_PID
start_target_cmd "$NAME" "$BIN/$NAME" 120
second=$TARGET_PID
wait_service "$NAME" 'len(s["pids"])' 2
code=$(fetch "$BASE/debug/pprof/profile?seconds=1" "$TEST_DIR/two")
expect_error_body "two processes, no /pid/" "$TEST_DIR/two" "$code"
[ "$code" = 409 ] || fail "two processes: HTTP $code, want 409"
case $ERROR_LINE in
*"^name\$"*"$holder"*"$second"* | *"^name\$"*"$second"*"$holder"*) ok "409: $ERROR_LINE" ;;
*) fail "the 409 does not say how to anchor the regex and name both pids: $ERROR_LINE" ;;
esac
fetch_profile "$SVC/debug/pprof/profile?seconds=1" "$TEST_DIR/svc.prof"
got=$(history_pids "$TEST_DIR/svc.prof")
[ "$got" = "$holder" ] || fail "/service/$NAME/ with two processes profiled '$got', want the history's $holder"
ok "/service/$NAME/ with two processes: the one recording the history, $holder"
code=$(fetch "$BASE/service/nosuch/debug/pprof/history" "$TEST_DIR/nosuch")
expect_error_body "unknown service" "$TEST_DIR/nosuch" "$code"
[ "$code" = 404 ] || fail "unknown service: HTTP $code, want 404"
ok "unknown service: 404: $ERROR_LINE"

stop_profd
ok "service across three restarts"
