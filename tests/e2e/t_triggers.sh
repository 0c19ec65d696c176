#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# t_triggers - --trigger, snapshots and /snapshots/.  The grow target
# (tests/targets/grow.c) holds a block from the start and, once let go
# (SIGUSR2), maps and touches new pages in grow_leaf:
#   a. rss>=100MiB: the target starts paused below it (no snapshot); let
#      go, a snapshot directory appears: its cpu, wall, growth and memory
#      profiles load in go tool pprof, grow_leaf has >= 80 % of the
#      growth profile's faults/bytes, the CPU profile has samples, the
#      thread dump names grow_leaf, manifest.json parses and says what
#      fired it; /snapshots/ lists it and serves its files, byte for
#      byte; '..', hidden and unknown names get 404; /metrics counts it;
#      /history/buckets names the trigger in the bucket of the snapshot's
#      time, and gives that bucket an RSS range that reaches 100 MiB;
#   b. SIGKILL: an exit snapshot appears, written after the kill (the rss
#      one before it), with at least as much CPU history as the rss one;
#   c. in a memory cgroup this test makes (v1 or v2; that part is skipped,
#      saying why, where neither can be made) with a small limit, the
#      unbounded grower is OOM-killed by the kernel: an oom snapshot
#      whose manifest says the cgroup's oom_kill count went up, and whose
#      growth profile names grow_leaf; with --keep 3 in the same
#      directory, the oldest snapshot (a.'s) is removed.
. "$(dirname "$0")/lib.sh"
t_begin triggers
need_pprof_dump
need_go
command -v jq >/dev/null || fail "jq: not installed (scripts/deps.sh)"

# growth_share SNAPDIR: % of growth.pb.gz's faults/bytes under grow_leaf.
growth_share()
{
	local f=$TEST_DIR/growth.$RANDOM.folded
	pdump folded -i 1 "$1/growth.pb.gz" >"$f" || fail "pprof-dump folded $1/growth.pb.gz failed"
	say "$(basename "$1") growth (faults/bytes):"
	sort -k 2 -t ' ' -rn "$f" | first_lines 3 | sed 's/^/  /'
	[ "$(fold_total "$f")" -gt 0 ] || fail "$1/growth.pb.gz is empty"
	pct "$(fold_sum "$f" grow_leaf)" "$(fold_total "$f")"
}
# loads SNAPDIR FILE: go tool pprof reads it; its sample count (total[0]).
loads()
{
	pprof -symbolize=none -top "$1/$2" >"$TEST_DIR/top.out" 2>&1 ||
	    fail "go tool pprof cannot read $1/$2: $(head -3 "$TEST_DIR/top.out")"
	pdump summary "$1/$2" >"$TEST_DIR/sum.out" || fail "pprof-dump cannot decode $1/$2"
	summary_get "$TEST_DIR/sum.out" 'total[0]'
}

OUT=$TEST_DIR/snapshots
CNT=$TEST_DIR/counters

# ---- a. rss>=SIZE -------------------------------------------------------------
start_target grow "$CNT" p160 120
start_profd --continuous=99 --output-dir "$OUT" --trigger 'rss>=100MiB' \
    --trigger exit --trigger oom
wait_history
[ -z "$(ls "$OUT")" ] || fail "a snapshot before the target grew: $(ls "$OUT")"
ok "no snapshot while the target holds $(($(awk '$1 == "VmRSS:" { print $2 }' "/proc/$TARGET_PID/status") / 1024)) MiB"
kill -USR2 "$TARGET_PID"
S=$(snap_wait "$OUT" "grow-$TARGET_PID-*-rss100MiB" 30) ||
    fail "no rss snapshot 30 s after the target began to grow: $(ls -a "$OUT")"
ok "rss snapshot: $(basename "$S")"
for f in cpu.pb.gz wall.pb.gz growth.pb.gz memory.pb.gz threads.txt manifest.json; do
	[ -s "$S/$f" ] || fail "$S/$f missing or empty"
done
[ -z "$(find "$OUT" -maxdepth 1 -name '.tmp-*')" ] || fail "a .tmp- directory is left"
cpu_a=$(loads "$S" cpu.pb.gz)
[ "$cpu_a" -gt 0 ] || fail "rss snapshot: cpu.pb.gz has no samples"
loads "$S" wall.pb.gz >/dev/null
loads "$S" growth.pb.gz >/dev/null
loads "$S" memory.pb.gz >/dev/null
ok "rss snapshot: the four profiles load in go tool pprof; cpu.pb.gz: $cpu_a samples"
share=$(growth_share "$S" | tail -1)
expect_range "rss snapshot: growth.pb.gz faults/bytes under grow_leaf (%)" "$share" 80 100
grep -q grow_leaf "$S/threads.txt" || fail "the thread dump does not name grow_leaf: $(head -20 "$S/threads.txt")"
M=$S/manifest.json
jq -e . "$M" >/dev/null || fail "manifest.json does not parse: $(cat "$M")"
jq -e --argjson p "$TARGET_PID" '.trigger == "rss>=100MiB" and .pid == $p and
    .name == "grow" and .fired.value >= .fired.threshold and
    .fired.threshold == 104857600 and .rss_bytes >= 104857600 and
    (.profd_version | length > 0) and (.time | test("Z$"))' "$M" >/dev/null ||
    fail "manifest.json: $(cat "$M")"
ok "manifest: $(jq -c '{trigger, fired, rss_bytes, cgroup}' "$M")"

# /snapshots/
L=$TEST_DIR/list.json
code=$(fetch "$BASE/snapshots/" "$L")
expect_status "GET /snapshots/" "$code" 200
name=$(basename "$S")
jq -e --arg n "$name" 'any(.[]; .name == $n and .trigger == "rss100MiB" and
    (.files | any(.name == "growth.pb.gz" and .size > 0)))' "$L" >/dev/null ||
    fail "/snapshots/ does not list $name: $(cat "$L")"
code=$(fetch "$BASE/snapshots/$name/growth.pb.gz" "$TEST_DIR/g.pb.gz")
expect_status "GET /snapshots/$name/growth.pb.gz" "$code" 200
cmp -s "$TEST_DIR/g.pb.gz" "$S/growth.pb.gz" || fail "/snapshots/$name/growth.pb.gz differs from the file"
ok "/snapshots/ lists $name and serves its growth.pb.gz byte for byte"
for p in "../../etc/passwd" "$name/../../etc/passwd" "$name/..%2fmanifest.json" \
    "..%2f..%2fetc%2fpasswd" "$name/%2e%2e" "%2e%2e/%2e%2e/etc/passwd" "$name/nosuch.txt" "nosuch/manifest.json" \
    ".tmp-x/manifest.json" "$name/manifest.json/x"; do
	code=$(fetch "$BASE/snapshots/$p" "$TEST_DIR/bad" --path-as-is)
	[ "$code" = 404 ] || fail "GET /snapshots/$p: HTTP $code, want 404"
done
ok "'..', hidden, unknown and nested names get 404"
fired=$(curl -sS "$BASE/metrics" | awk -v l="profd_triggers_fired_total{pid=\"$TARGET_PID\",trigger=\"rss>=100MiB\"}" '$1 == l { print $2 }')
[ "${fired:-0}" -ge 1 ] || fail "profd_triggers_fired_total for rss>=100MiB: '$fired'"
[ "$(metric_get profd_snapshots_written_total)" -ge 1 ] || fail "profd_snapshots_written_total"
[ "$(metric_get profd_snapshot_errors_total)" = 0 ] || fail "profd_snapshot_errors_total"
ok "/metrics: fired $fired, written $(metric_get profd_snapshots_written_total)"
code=$(fetch "$BASE/history/buckets" "$TEST_DIR/buckets.json")
expect_status "GET /history/buckets" "$code" 200
jq -e --argjson t "$(jq .time_unix_ns "$M")" '[.buckets[] |
    select(.start_unix_ns <= $t and $t <= .end_unix_ns)] | length == 1 and
    (.[0].triggers | index("rss>=100MiB") != null) and .[0].triggers_fired >= 1 and
    .[0].rss_bytes.max >= 100 * 1048576' "$TEST_DIR/buckets.json" >/dev/null ||
    fail "/history/buckets: the bucket of the snapshot does not name rss>=100MiB or reach 100 MiB: $(head -c 1500 "$TEST_DIR/buckets.json")"
ok "/history/buckets: the bucket of the snapshot names rss>=100MiB and its RSS reaches 100 MiB"

# ---- b. exit ------------------------------------------------------------------
t_kill=$(date +%s%N)
kill -KILL "$TARGET_PID"
E=$(snap_wait "$OUT" "grow-$TARGET_PID-*-exit" 30) ||
    fail "no exit snapshot 30 s after SIGKILL: $(ls -a "$OUT")"
ok "exit snapshot: $(basename "$E")"
jq -e --argjson k "$t_kill" '.trigger == "exit" and .time_unix_ns >= $k and
    (.fired.exit | has("known"))' "$E/manifest.json" >/dev/null ||
    fail "exit manifest: $(cat "$E/manifest.json")"
jq -e --argjson k "$t_kill" '.time_unix_ns < $k' "$M" >/dev/null ||
    fail "the rss snapshot was not written before the kill"
cpu_b=$(loads "$E" cpu.pb.gz)
[ "$cpu_b" -ge "$cpu_a" ] || fail "exit snapshot: $cpu_b CPU samples, fewer than the rss one's $cpu_a"
[ -s "$E/threads.txt" ] || fail "exit snapshot: no thread dump"
ok "exit: $(jq -c .fired.exit "$E/manifest.json"); $cpu_b CPU samples (rss snapshot: $cpu_a); $(jq -r .threads_txt "$E/manifest.json")"
[ -z "$(find "$OUT" -maxdepth 1 -name "*-$TARGET_PID-*-oom")" ] || fail "an oom snapshot for a SIGKILL"
stop_profd

# ---- c. oom -------------------------------------------------------------------
LIMIT=$((96 << 20))
memcg_create profd-t_triggers "$LIMIT"
# no swapping instead of the OOM kill
if [ -e "$CG/memory.memsw.limit_in_bytes" ]; then
	echo "$LIMIT" >"$CG/memory.memsw.limit_in_bytes" || fail "cannot set $CG's memsw limit"
elif [ -e "$CG/memory.swap.max" ]; then
	echo 0 >"$CG/memory.swap.max" || fail "cannot set $CG's memory.swap.max"
fi
if [ -z "$CG" ]; then
	say "SKIP: oom part: neither a v1 memory hierarchy (/sys/fs/cgroup/memory) nor a v2 one with the memory controller can be created here"
else
	# the same directory, which holds a. and b.'s: with --keep 3, the oom
	# and exit snapshots to come push out a.'s, the oldest "grow" one
	OUT2=$OUT
	start_target grow "$CNT" 0 120
	echo "$TARGET_PID" >"$CG/cgroup.procs" || fail "cannot move the target into $CG"
	grep -q "profd-t_triggers.$$" "/proc/$TARGET_PID/cgroup" || fail "the target is not in $CG"
	start_profd --continuous=99 --output-dir "$OUT2" --trigger oom --trigger exit --keep 3
	wait_history
	kill -USR2 "$TARGET_PID"
	wait_gone "$TARGET_PID" 30 || fail "the grower is still alive 30 s into growing in a $LIMIT-byte cgroup"
	O=$(snap_wait "$OUT2" "grow-$TARGET_PID-*-oom" 30) ||
	    fail "no oom snapshot 30 s after the OOM kill: $(ls -a "$OUT2"); profd: $(grep -i 'oom\|exit' "$PROFD_LOG" | tail -3)"
	ok "oom snapshot: $(basename "$O")"
	jq -e '.trigger == "oom" and .cgroup.oom_kill > .cgroup.oom_kill_at_start and
	    .fired.value > .fired.threshold and .fired.exit.signal == 9' \
	    "$O/manifest.json" >/dev/null || fail "oom manifest: $(cat "$O/manifest.json")"
	ok "oom manifest: $(jq -c '{cgroup, exit: .fired.exit.description}' "$O/manifest.json")"
	share=$(growth_share "$O" | tail -1)
	expect_range "oom snapshot: growth.pb.gz faults/bytes under grow_leaf (%)" "$share" 80 100
	snap_wait "$OUT2" "grow-$TARGET_PID-*-exit" 10 >/dev/null ||
	    fail "no exit snapshot beside the oom one"
	code=$(fetch "$BASE/snapshots/$(basename "$O")/manifest.json" "$TEST_DIR/om.json")
	expect_status "GET /snapshots/.../manifest.json" "$code" 200
	cmp -s "$TEST_DIR/om.json" "$O/manifest.json" || fail "served manifest differs"
	ok "oom: exit snapshot beside it; /snapshots/ serves its manifest"
	left=$(find "$OUT" -mindepth 1 -maxdepth 1 -name 'grow-*' | wc -l)
	[ "$left" = 3 ] || fail "--keep 3: $left snapshots left: $(ls "$OUT")"
	[ ! -e "$S" ] || fail "--keep 3: the oldest ($(basename "$S")) is still there"
	[ -d "$E" ] || fail "--keep 3: $(basename "$E") was removed, not the oldest"
	ok "--keep 3: the oldest snapshot was removed"
	stop_profd
fi
say "PASS triggers"
