#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_ops_match - one profd serving several processes:
#  - --match REGEX (no --pid): two matching processes (copies of spin and
#    split, matched by their path in this test's directory) and one that
#    does not match; /targets (JSON) lists exactly the matching two with
#    pid, cmdline, exe, build_id, origin, match and since; the bare
#    /debug/pprof/profile answers 409 naming both; /pid/PID/... profiles
#    each, with that process's own functions and executable; the
#    non-matching one is refused with one line; a killed target leaves
#    /targets, and a "restarted" one (new PID) appears and is profiled;
#  - --pid given twice: the same, with origin "pid"; one that exits stays
#    listed with "alive": false;
#  - --allow-any-pid: any process is served on request, an exited one is
#    dropped again (so that --max-targets is not used up by the dead).
. "$(dirname "$0")/lib.sh"
t_begin ops_match
need_pprof_dump
command -v python3 >/dev/null || fail "python3: not installed (scripts/deps.sh)"
command -v readelf >/dev/null || fail "readelf: not installed (scripts/deps.sh: binutils)"

# start_profd_bare ARGS...: start_profd without --pid $TARGET_PID, for
# --match and --allow-any-pid.
start_profd_bare() { start_profd_re "$LOOPBACK_RE" --listen 127.0.0.1:0 "$@"; }

# targets_pids: the PIDs /targets lists, sorted, space-separated.
targets_pids()
{
	curl -sS --max-time 10 "$BASE/targets" >"$TEST_DIR/targets.poll" 2>/dev/null || return 1
	python3 -c 'import json, sys
print(" ".join(str(p) for p in sorted(t["pid"] for t in json.load(open(sys.argv[1])))))' \
	    "$TEST_DIR/targets.poll" 2>/dev/null
}

sorted_pids() { printf '%s\n' "$@" | sort -n | tr '\n' ' ' | sed 's/ $//'; }

# wait_targets WANT SECONDS: poll /targets every 0.1 s until it lists
# exactly the PIDs WANT ("P1 P2", sorted). Sets POLLS.
wait_targets()
{
	local want=$1 n=$(($2 * 10)) have=""
	POLLS=0
	for (( ; n > 0; n--)); do
		POLLS=$((POLLS + 1))
		have=$(targets_pids) || have="(no answer)"
		[ "$have" = "$want" ] && return 0
		alive "$PROFD_PID" || fail "profd died: $(tail -n 5 "$PROFD_LOG")"
		sleep 0.1
	done
	fail "/targets lists '$have' after $2 s, want '$want'"
}

# check_targets FILE ORIGIN RULE PID...: /targets (JSON) lists exactly
# these PIDs, each with its real cmdline, exe and build-id, this origin
# and rule (RULE "null": none), a since no later than now, alive.
check_targets()
{
	local file=$1 origin=$2 rule=$3 pid
	shift 3
	for pid in "$@"; do
		local exe bid
		exe=$(readlink "/proc/$pid/exe") || fail "pid $pid is gone"
		bid=$(readelf -n "$exe" | sed -n 's/.*Build ID: *//p' | first_line)
		printf '%s\t%s\t%s\t%s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" | sed 's/ $//')" \
		    "$exe" "$bid"
	done >"$file.want"
	python3 - "$file" "$file.want" "$origin" "$rule" <<'EOF' || fail "/targets: $(cat "$file")"
import json, sys, datetime
got = json.load(open(sys.argv[1]))
want = {}
for line in open(sys.argv[2]):
    pid, cmd, exe, bid = line.rstrip("\n").split("\t")
    want[int(pid)] = (cmd, exe, bid)
origin, rule = sys.argv[3], sys.argv[4]
rule = None if rule == "null" else rule
if not isinstance(got, list):
    sys.exit("not a JSON array")
pids = sorted(t.get("pid") for t in got)
if pids != sorted(want):
    sys.exit("pids %s, want %s" % (pids, sorted(want)))
now = datetime.datetime.now(datetime.timezone.utc)
for t in got:
    cmd, exe, bid = want[t["pid"]]
    for k, v in (("cmdline", cmd), ("exe", exe), ("build_id", bid),
                 ("origin", origin), ("match", rule), ("alive", True)):
        if t.get(k) != v:
            sys.exit("pid %d: %s %r, want %r" % (t["pid"], k, t.get(k), v))
    since = datetime.datetime.strptime(t["since"], "%Y-%m-%dT%H:%M:%SZ")
    since = since.replace(tzinfo=datetime.timezone.utc)
    age = (now - since).total_seconds()
    if not -2 <= age <= 3600:
        sys.exit("pid %d: since %s is %.0f s from now" % (t["pid"], t["since"], age))
    print("ok: /targets: pid %d comm %s cmdline '%s' exe %s build_id %s origin %s match %s since %s"
          % (t["pid"], t.get("comm"), cmd, exe, bid[:12] + "...", origin,
             json.dumps(t["match"]), t["since"]))
EOF
}

# profile_of PID FUNCS OTHERS EXE: a 1 s profile of /pid/PID/: the leaf
# functions FUNCS ("a|b") take at least 80 % of it, OTHERS none, and the
# main mapping is EXE.
profile_of()
{
	local pid=$1 funcs=$2 others=$3 exe=$4 f share bad map
	f=$TEST_DIR/p.$pid.$_nstarted.pb.gz
	fetch_profile "$BASE/pid/$pid/debug/pprof/profile?seconds=1" "$f"
	pdump folded "$f" >"$f.folded" || fail "pprof-dump folded $f failed"
	share=$(awk -v re="^($funcs)\$" '{ n = split($1, fr, ";"); v = $NF
		if (fr[n] ~ re) s += v; t += v }
		END { printf "%.1f", t ? 100 * s / t : 0 }' "$f.folded")
	bad=$(awk -v re="(^|;)($others)(;| )" '$0 ~ re' "$f.folded" | wc -l)
	map=$(awk '$1 == "mapping" && $2 == 1 { print $5 }' "$f.summary")
	expect_range "pid $pid: CPU in $funcs (%)" "$share" 80 100
	[ "$bad" -eq 0 ] || fail "pid $pid: $bad stacks with $others: $(grep -E "$others" "$f.folded" | first_lines 3)"
	[ "$map" = "$exe" ] || fail "pid $pid: main mapping '$map', want $exe"
	ok "pid $pid: no $others frames; main mapping $map"
}

# ---- the processes ------------------------------------------------------------
BIN=$TEST_DIR/bin
mkdir -p "$BIN"
cp "$TARGET_DIR/spin" "$BIN/opsm-spin"
cp "$TARGET_DIR/split" "$BIN/opsm-split"
# Only this test's copies match: other tests may run spin at the same time.
RE="ops_match\\.$$/bin/opsm-"

start_target_cmd opsm-spin "$BIN/opsm-spin" 120
A=$TARGET_PID
start_target_cmd opsm-split "$BIN/opsm-split" 1 120
B=$TARGET_PID
start_target spin 120
C=$TARGET_PID
say "matching: $A (opsm-spin), $B (opsm-split); not matching: $C (spin)"

# ==== --match ====================================================================
start_profd_bare --match "$RE"
grep -qF "watching for processes matching '$RE'" "$PROFD_LOG" ||
    fail "profd does not log the --match rule"
fetch "$BASE/targets" "$TEST_DIR/t1" >"$TEST_DIR/t1.code"
expect_status "GET /targets" "$(cat "$TEST_DIR/t1.code")" 200
ct=$(header "$TEST_DIR/t1.headers" Content-Type)
[[ $ct == application/json* ]] || fail "/targets: Content-Type '$ct', want application/json"
check_targets "$TEST_DIR/t1" match "$RE" "$A" "$B"

# Without /pid/: 409, naming both processes, and not the third.
expect_error "$BASE/debug/pprof/profile?seconds=1" 409
body=$(cat "$TEST_DIR/err.$_nstarted")
for p in "$A" "$B"; do
	grep -qw "$p" <<<"$body" || fail "the 409 does not name pid $p: $body"
done
! grep -qw "$C" <<<"$body" || fail "the 409 names the non-matching pid $C: $body"
expect_error "$BASE/debug/pprof/cmdline" 409

profile_of "$A" spin_leaf 'hot_a|hot_b|hot_c' "$BIN/opsm-spin"
profile_of "$B" 'hot_a|hot_b|hot_c' spin_leaf "$BIN/opsm-split"
code=$(fetch "$BASE/pid/$B/debug/pprof/cmdline" "$TEST_DIR/cmdB")
expect_status "GET /pid/$B/debug/pprof/cmdline" "$code" 200
[ "$(tr '\0' ' ' <"$TEST_DIR/cmdB")" = "$BIN/opsm-split 1 120" ] ||
    fail "/pid/$B/debug/pprof/cmdline: '$(tr '\0' ' ' <"$TEST_DIR/cmdB")'"
ok "/pid/$B/debug/pprof/cmdline: $(tr '\0' ' ' <"$TEST_DIR/cmdB")"

# The process that does not match: refused, one line, never attached.
expect_error "$BASE/pid/$C/debug/pprof/profile?seconds=1" 40[34]
expect_error "$BASE/pid/$C/debug/pprof/cmdline" 40[34]
assert_target_ok "$C"

# ---- a target exits: it leaves /targets ------------------------------------------
kill -TERM "$A"
wait_gone "$A" 5 || fail "opsm-spin $A survived SIGTERM"
wait "$A" 2>/dev/null || true
wait_targets "$B" 8
ok "pid $A killed: gone from /targets after $POLLS polls (0.1 s apart)"
grep -q "pid $A: exited, no longer served" "$PROFD_LOG" ||
    fail "profd does not log that pid $A exited"
expect_error "$BASE/pid/$A/debug/pprof/profile?seconds=1" 404
# With one process left, the bare paths answer for it.
code=$(fetch "$BASE/debug/pprof/cmdline" "$TEST_DIR/cmd1")
expect_status "GET /debug/pprof/cmdline with one target" "$code" 200
ok "with one target left, /debug/pprof/cmdline -> 200: $(tr '\0' ' ' <"$TEST_DIR/cmd1")"

# ---- it "restarts" with a new PID: it appears and is profiled --------------------
start_target_cmd opsm-spin "$BIN/opsm-spin" 120
A2=$TARGET_PID
[ "$A2" != "$A" ] || fail "the restarted process has the old PID $A"
wait_targets "$(sorted_pids "$A2" "$B")" 8
ok "restarted as pid $A2: in /targets after $POLLS polls (0.1 s apart)"
grep -qF "pid $A2: matches --match '$RE', now served" "$PROFD_LOG" ||
    fail "profd does not log the new match $A2"
fetch "$BASE/targets" "$TEST_DIR/t2" >/dev/null
check_targets "$TEST_DIR/t2" match "$RE" "$A2" "$B"
profile_of "$A2" spin_leaf 'hot_a|hot_b|hot_c' "$BIN/opsm-spin"
expect_error "$BASE/debug/pprof/profile?seconds=1" 409
stop_profd
assert_target_ok "$A2"
assert_target_ok "$B"

# ==== --pid twice ================================================================
start_profd_bare --pid "$A2" --pid "$B"
fetch "$BASE/targets" "$TEST_DIR/t3" >/dev/null
check_targets "$TEST_DIR/t3" pid null "$A2" "$B"
expect_error "$BASE/debug/pprof/profile?seconds=1" 409
profile_of "$A2" spin_leaf 'hot_a|hot_b|hot_c' "$BIN/opsm-spin"
profile_of "$B" 'hot_a|hot_b|hot_c' spin_leaf "$BIN/opsm-split"
expect_error "$BASE/pid/$C/debug/pprof/profile?seconds=1" 404
# A --pid target that exits stays listed (profd was told to serve it),
# but not as alive, and its requests get 404.
kill -TERM "$A2"
wait_gone "$A2" 5 || fail "opsm-spin $A2 survived SIGTERM"
wait "$A2" 2>/dev/null || true
fetch "$BASE/targets" "$TEST_DIR/t3b" >/dev/null
alive=$(python3 -c 'import json, sys
print(" ".join("%d:%s" % (t["pid"], str(t["alive"]).lower()) for t in sorted(json.load(open(sys.argv[1])), key=lambda t: t["pid"])))' \
    "$TEST_DIR/t3b")
want=$(for p in $(sorted_pids "$A2" "$B"); do
	if [ "$p" = "$A2" ]; then echo "$p:false"; else echo "$p:true"; fi
done | tr '\n' ' ' | sed 's/ $//')
[ "$alive" = "$want" ] || fail "/targets after --pid $A2 exited: pid:alive '$alive', want '$want'"
ok "--pid $A2 exited: /targets says $alive"
expect_error "$BASE/pid/$A2/debug/pprof/profile?seconds=1" 404
stop_profd
assert_target_ok "$B"

# ==== --allow-any-pid ============================================================
# --max-targets 1: an exited process must not keep the one place.
start_profd_bare --allow-any-pid --max-targets 1
[ "$(targets_pids)" = "" ] || fail "/targets lists '$(targets_pids)' before any request"
ok "--allow-any-pid: /targets is empty before any request"
expect_error "$BASE/debug/pprof/profile?seconds=1" 404
expect_error "$BASE/pid/$A/debug/pprof/cmdline" 404	# exited long ago
[ "$(targets_pids)" = "" ] || fail "/targets lists '$(targets_pids)' after a request for an exited pid"
profile_of "$C" spin_leaf 'hot_a|hot_b|hot_c' "$TARGET_DIR/spin"
fetch "$BASE/targets" "$TEST_DIR/t4" >/dev/null
check_targets "$TEST_DIR/t4" on-demand null "$C"
# C, with a window open, keeps the one place (an idle C would be let go)
bg_fetch cwin "$BASE/pid/$C/debug/pprof/profile?seconds=60"
cwin=$BG_PID
wait_window_open 2 10 || fail "the window on pid $C never started (profd log)"
expect_error "$BASE/pid/$B/debug/pprof/cmdline" 503	# --max-targets 1
expect_error "$BASE/pid/$A/debug/pprof/cmdline" 404	# full, but A is no process
kill -TERM "$C"
wait_gone "$C" 5 || fail "spin $C survived SIGTERM"
wait "$C" 2>/dev/null || true
bg_wait "$cwin" cwin	# the samples taken until C exited
wait_targets "" 8
ok "on-demand pid $C killed: gone from /targets after $POLLS polls (0.1 s apart)"
code=$(fetch "$BASE/pid/$B/debug/pprof/cmdline" "$TEST_DIR/cmdB2")
expect_status "GET /pid/$B/debug/pprof/cmdline once $C is gone (--max-targets 1): $(cat "$TEST_DIR/cmdB2")" "$code" 200
ok "--max-targets 1: pid $B is served once the exited $C is dropped"
profile_of "$B" 'hot_a|hot_b|hot_c' spin_leaf "$BIN/opsm-split"
stop_profd
assert_target_ok "$B"
say "PASS ops_match"
