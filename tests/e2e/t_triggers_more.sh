#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# t_triggers_more - the triggers t_triggers does not cover, against real
# cgroups this test makes (v1 or v2, whichever the machine has; a part is
# skipped, saying why, where neither can be made):
#   a. rss>=30% and rss-growth>=40MiB/5s: grower A (tests/targets/grow.c,
#      p128 nospin: paused at about 50 MiB, let go it holds 112 MiB or
#      more) in a memory cgroup limited to 256 MiB, and grower H, paused
#      all along (a constant 50 MiB) in a memory cgroup without a limit.  While A
#      holds, nothing fires; H's log says once that rss>=30% never fires
#      (no limit); A let go fires both (manifests: value >= threshold,
#      the limit); H, constant, never fires rss-growth, checked for more
#      than the trigger's 5 s after A fired.
#   b. cpu>=10%/5s and cpu>=60%/5s: spin (one thread, at most one core)
#      in a CPU cgroup with a quota of 2 cores crosses 10 % of the quota
#      (a fifth of a core: it holds on a loaded machine) and never 60 %
#      (more than one thread can use); its manifest names the 2 cores,
#      and its value is the spinner's own CPU time over about the same
#      seconds, from /proc, within 15 points; an idle process fires
#      neither.
#   c. a --match service with --trigger exit: its snapshot goes by the
#      rule's name (^tmsNNN: tmsNNN), not the process's comm (tmsNNN-sleep,
#      a copy of sleep), and its manifest says "service"; its exit
#      record in /services starts when the process did, which was before
#      part b, long before profd took it on (served_since).
# Absence is asserted only after profd_triggers_checked_total shows that
# the conditions were checked long enough, in the same run.
. "$(dirname "$0")/lib.sh"
t_begin triggers_more
command -v jq >/dev/null || fail "jq: not installed (scripts/deps.sh)"

OUT=$TEST_DIR/snapshots
CNT=$TEST_DIR/counters

# rss_mib PID: VmRSS in MiB.
rss_mib() { echo $(($(awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status") / 1024)); }
# nolimit_lines PID: log lines saying PID's rss>=30% never fires.
nolimit_lines() { grep -c "pid $1: --trigger rss>=30% never fires: its memory cgroup has no limit" "$PROFD_LOG" || true; }
# none_for PID: fail when a snapshot of PID exists.
none_for()
{
	[ -z "$(find "$OUT" -maxdepth 1 -name "*-$1-*")" ] ||
	    fail "snapshot(s) of pid $1: $(ls "$OUT")"
}

# ---- a. rss>=N% of the memory limit, rss-growth ---------------------------------
LIMIT=$((256 << 20))
memcg_create profd-t_triggers_more "$LIMIT"
CG_LIM=$CG
memcg_create profd-t_triggers_more-nolimit max
CG_NOLIM=$CG
if [ -z "$CG_LIM" ] || [ -z "$CG_NOLIM" ]; then
	say "SKIP: part a: neither a v1 memory hierarchy (/sys/fs/cgroup/memory) nor a v2 one with the memory controller can be created here"
else
	# nospin: two growers without their spinner threads spare two CPUs
	start_target grow "$CNT.a" p128 120 nospin
	A=$TARGET_PID
	start_target grow "$CNT.h" p128 120 nospin
	H=$TARGET_PID
	echo "$A" >"$CG_LIM/cgroup.procs" || fail "cannot move $A into $CG_LIM"
	echo "$H" >"$CG_NOLIM/cgroup.procs" || fail "cannot move $H into $CG_NOLIM"
	grep -q "profd-t_triggers_more.$$" "/proc/$A/cgroup" || fail "$A is not in $CG_LIM"
	start_profd_re "$LOOPBACK_RE" --listen 127.0.0.1:0 --pid "$A" --pid "$H" \
	    --continuous --output-dir "$OUT" --trigger 'rss>=30%' \
	    --trigger 'rss-growth>=40MiB/5s'
	wait_checks "$A" 3 >/dev/null
	wait_checks "$H" 3 >/dev/null
	none_for "$A"
	ok "A holds $(rss_mib "$A") MiB of a $((LIMIT >> 20)) MiB limit: no snapshot after 3 checks"
	[ "$(nolimit_lines "$H")" = 1 ] ||
	    fail "H in a cgroup without a limit: want one 'never fires' line: $(grep "pid $H" "$PROFD_LOG")"
	[ "$(nolimit_lines "$A")" = 0 ] || fail "A has a limit, yet profd says it has none"
	ok "H (no limit): one log line: $(grep -o "pid $H: --trigger rss>=30% never fires.*" "$PROFD_LOG")"

	kill -USR2 "$A"
	P=$(snap_wait "$OUT" "grow-$A-*-rss30pct" 30) ||
	    fail "no rss>=30% snapshot 30 s after A began to grow (A: $(rss_mib "$A") MiB): $(ls -a "$OUT")"
	jq -e --argjson l "$LIMIT" '.trigger == "rss>=30%" and
	    .fired.value >= .fired.threshold and .fired.threshold == 30 and
	    .fired.limit_bytes == $l and .cgroup.limit_bytes == $l and
	    (.cgroup.version == 1 or .cgroup.version == 2) and
	    .rss_bytes >= 0.3 * $l' "$P/manifest.json" >/dev/null ||
	    fail "rss>=30% manifest: $(cat "$P/manifest.json")"
	ok "rss>=30%: $(basename "$P"): $(jq -c '{fired, cgroup}' "$P/manifest.json")"
	G=$(snap_wait "$OUT" "grow-$A-*-rss-growth40MiB_5s" 30) ||
	    fail "no rss-growth snapshot 30 s after A began to grow: $(ls -a "$OUT")"
	jq -e '.trigger == "rss-growth>=40MiB/5s" and .fired.value >= 41943040 and
	    .fired.threshold == 41943040' "$G/manifest.json" >/dev/null ||
	    fail "rss-growth manifest: $(cat "$G/manifest.json")"
	ok "rss-growth: $(basename "$G"): $(jq -c .fired "$G/manifest.json")"

	# H is checked for longer than the trigger's 5 s after A fired
	n=$(metric_get profd_triggers_checked_total "$H")
	wait_checks "$H" $((n + 7)) >/dev/null
	none_for "$H"
	[ "$(nolimit_lines "$H")" = 1 ] || fail "the 'never fires' line was repeated: $(nolimit_lines "$H") lines"
	ok "H holds a constant $(rss_mib "$H") MiB: no rss-growth snapshot after $((n + 7)) checks; the no-limit line said once"
	stop_profd
	kill -KILL "$A" "$H"
	wait_gone "$A" 10 || fail "grower $A outlived SIGKILL"
	wait_gone "$H" 10 || fail "grower $H outlived SIGKILL"
fi

# c.'s service: an idle process whose comm begins with the service's
# name, started now so that it runs long before part c's profd takes it
# on.  (The rule is anchored: the test's own tools get the name in their
# command lines.)
SVC=tms$$
mkdir -p "$TEST_DIR/bin"
cp "$(command -v sleep)" "$TEST_DIR/bin/$SVC-sleep"
# shellcheck disable=SC2016  # $$ and $0 are the inner shell's
start_target_cmd "$SVC" bash -c 'echo ready $$; exec "$0" 120' "$TEST_DIR/bin/$SVC-sleep"
SVC_PID=$TARGET_PID
SVC_T0=$(date +%s)

# ---- b. cpu>=N%/DUR of the CPU quota --------------------------------------------
cpucg_create profd-t_triggers_more "2"
if [ -z "$CPUCG" ]; then
	say "SKIP: part b: neither a v1 cpu hierarchy (/sys/fs/cgroup/cpu) nor a v2 one with the cpu controller can be created here"
else
	start_target spin 120
	S=$TARGET_PID
	echo "$S" >"$CPUCG/cgroup.procs" || fail "cannot move $S into $CPUCG"
	# an idle process: a shell that says ready and becomes sleep
	start_target_cmd idle sh -c 'echo ready $$; exec sleep 120'
	I=$TARGET_PID
	t0=$(date +%s%N)
	c0=$(target_cpu_ns "$S")
	start_profd_re "$LOOPBACK_RE" --listen 127.0.0.1:0 --pid "$S" --pid "$I" \
	    --continuous --output-dir "$OUT" --trigger 'cpu>=10%/5s' \
	    --trigger 'cpu>=60%/5s'
	C=$(snap_wait "$OUT" "spin-$S-*-cpu10pct_5s" 30) ||
	    fail "no cpu>=10%/5s snapshot of the spinner within 30 s: $(ls -a "$OUT")"
	t1=$(date +%s%N)
	c1=$(target_cpu_ns "$S")
	# the spinner's own share of the 2 cores, over about the same seconds
	own=$(awk -v c="$((c1 - c0))" -v t="$((t1 - t0))" 'BEGIN { printf "%.1f", 100 * c / t / 2 }')
	v=$(jq -r .fired.value "$C/manifest.json")
	jq -e '.trigger == "cpu>=10%/5s" and .fired.value >= 10 and
	    .fired.threshold == 10 and
	    (.fired.unit | test("of 2.00 core"))' "$C/manifest.json" >/dev/null ||
	    fail "cpu manifest: $(cat "$C/manifest.json")"
	awk -v a="$v" -v b="$own" 'BEGIN { d = a - b; exit !(d <= 15 && d >= -15) }' ||
	    fail "cpu manifest value $v %, the spinner's own CPU time says $own % of 2 cores"
	ok "cpu>=10%/5s: $(basename "$C"): $(jq -c .fired "$C/manifest.json"); the spinner's own: $own %"

	n=$(metric_get profd_triggers_checked_total "$S")
	wait_checks "$S" $((n + 7)) >/dev/null
	wait_checks "$I" $((n + 7)) >/dev/null
	[ -z "$(find "$OUT" -maxdepth 1 -name "spin-$S-*-cpu60pct_5s")" ] ||
	    fail "one thread fired cpu>=60% of a 2-core quota: $(ls "$OUT")"
	none_for "$I"
	ok "after $((n + 7)) checks: no cpu>=60%/5s snapshot of the spinner, none of the idle process"
	stop_profd
fi

# ---- c. a service's snapshot and exit record -------------------------------------
# at least 3 s between the process's start and profd's taking it on (part
# b takes longer; without it, this is a supervisor that starts profd late)
while [ $(($(date +%s) - SVC_T0)) -lt 3 ]; do sleep 0.2; done
start_profd_re "$LOOPBACK_RE" --listen 127.0.0.1:0 --match "^$SVC" --continuous \
    --output-dir "$OUT" --trigger exit
wait_service "$SVC" 's["history_pid"]' "$SVC_PID"
wait_checks "$SVC_PID" 1 >/dev/null
kill -KILL "$SVC_PID"
X=$(snap_wait "$OUT" "$SVC-$SVC_PID-*-exit" 30) ||
    fail "no exit snapshot named after service $SVC: $(ls "$OUT")"
[ -z "$(find "$OUT" -maxdepth 1 -name "$SVC-sleep-*")" ] || fail "a snapshot named after the comm: $(ls "$OUT")"
jq -e --arg s "$SVC" --argjson p "$SVC_PID" '.trigger == "exit" and .service == $s and
    .name == $s and .pid == $p' "$X/manifest.json" >/dev/null ||
    fail "service exit manifest: $(cat "$X/manifest.json")"
ok "service exit snapshot: $(basename "$X"): $(jq -c '{name, service, pid}' "$X/manifest.json")"
wait_service "$SVC" 'len(s["exits"])' 1
service_get "$SVC" 's' >/dev/null
python3 - "$TEST_DIR/services.json" "$SVC" "$SVC_PID" "$SVC_T0" <<'EOF' || fail "/services: $(cat "$TEST_DIR/services.json")"
import json, sys, datetime
name, pid, t0 = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
x = [s for s in json.load(open(sys.argv[1])) if s["service"] == name][0]["exits"][0]
def t(v):
    return datetime.datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
if x["pid"] != pid:
    sys.exit("exit record of %d, want %d" % (x["pid"], pid))
# the process started within a second of t0 (the test's clock, read just
# after it did); profd took it on 3 s or more later
if not t0 - 1 <= t(x["start"]) <= t0 or t(x["served_since"]) < t(x["start"]) + 3:
    sys.exit("start %s (the process started at %d), served_since %s"
             % (x["start"], t0, x["served_since"]))
if x["uptime_seconds"] < (t(x["end"]) - t(x["served_since"])) + 2:
    sys.exit("uptime %.1f s counts from profd's taking it on" % x["uptime_seconds"])
print("ok: exit record: started %s, served since %s, ended %s, up %.1f s"
      % (x["start"], x["served_since"], x["end"], x["uptime_seconds"]))
EOF
stop_profd
say "PASS triggers_more"
