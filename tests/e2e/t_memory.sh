#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# t_memory - the target's memory: where it sits, who grows it, /metrics.
# The grow target (tests/targets/grow.c) holds a block from the start
# (its size in counter 0), has a thread "grower" that maps and touches
# new pages in grow_leaf (the main thread unmaps them behind it, so it
# keeps faulting) and a thread "spinner" that computes in spin_leaf
# without a fault.
#   1. /debug/pprof/memory: resident/anonymous/swap bytes by mapping;
#      [heap] + [anon] resident >= the block held, the target's
#      executable is a group, the totals match profd's comment, go tool
#      pprof -top lists the groups; /debug/pprof/heap's 404 points to it.
#   2. /debug/pprof/growth beside a CPU profile of the same 4 s: the CPU
#      profile has spin_leaf (the same-run reference that the spinner ran),
#      the growth profile has >= 90 % of faults/bytes under grow_leaf,
#      nothing of the spinner, and no more bytes than the grower's own
#      page-fault count says it faulted in meanwhile.
#   3. /metrics, the grower paused (SIGUSR1): profd_target_rss_bytes is
#      VmRSS within 10 %, the growth rate appears on the next reading;
#      in a memory cgroup the test makes (v1 or v2, skipped with a reason
#      when neither can be made), its usage and the limit set.
. "$(dirname "$0")/lib.sh"
t_begin memory
need_pprof_dump
need_go

CNT=$TEST_DIR/counters
start_target grow "$CNT" 32 120
start_profd
assert_target_ok

# cnt N: counter N of the target (u64).
cnt() { od -An -v -t u8 -j $((8 * $1)) -N 8 "$CNT" | tr -d ' '; }
# group FOLDED NAME: the value of one-frame stack NAME (names may have
# blanks: the value is the last field).
group()
{
	awk -v n="$2" '{ v = $NF; s = substr($0, 1, length($0) - length($NF) - 1)
	    if (s == n) t += v } END { printf "%.0f\n", t }' "$1"
}
# vmrss: the target's VmRSS in bytes.
vmrss() { awk '$1 == "VmRSS:" { print $2 * 1024 }' "/proc/$TARGET_PID/status"; }

# ---- 1. where the memory sits -------------------------------------------------
held=$(cnt 0)
[ "$held" -gt 0 ] || fail "the target says it holds $held bytes"
M=$TEST_DIR/memory.pb.gz
fetch_profile "$BASE/debug/pprof/memory" "$M"
S=$M.summary
types=$(grep '^sample_type ' "$S" | tr '\n' ' ')
[ "$types" = "sample_type resident/bytes sample_type anonymous/bytes sample_type swap/bytes " ] ||
    fail "memory view sample types: '$types'"
F=$TEST_DIR/memory.folded
pdump folded -i 0 "$M" >"$F" || fail "pprof-dump folded failed"
say "memory view, resident bytes by group:"
sort -k 2 -t ' ' -rn "$F" | first_lines 8 | sed 's/^/  /'
# one sample per group, each a one-frame stack
[ "$(grep -c ';' "$F")" = 0 ] || fail "memory view has stacks of more than one frame"
anon=$(( $(group "$F" '[anon]') + $(group "$F" '[heap]') ))
say "[anon] + [heap] resident: $anon bytes; the target holds $held"
[ "$anon" -ge "$held" ] || fail "[anon] + [heap] resident $anon < the $held bytes the target holds"
ok "[anon] + [heap] resident $anon >= $held held"
exe=$(readlink "/proc/$TARGET_PID/exe")
[ "$(group "$F" "$exe")" -gt 0 ] || fail "the executable $exe is not a group with resident bytes"
ok "the executable is a group: $exe $(group "$F" "$exe") bytes"
[ "$(group "$F" '[stack]')" -gt 0 ] || fail "no [stack] group"
total=$(summary_get "$S" 'total[0]')
ctotal=$(sed -n 's/^comment .* resident \([0-9]*\) bytes.*/\1/p' "$S")
[ "$total" = "$ctotal" ] || fail "resident total $total, profd's comment says $ctotal"
expect_range "memory view resident total / VmRSS (%)" "$(pct "$total" "$(vmrss)")" 50 200
T=$TEST_DIR/memory.top
pprof_table "$M" -nodefraction=0 >"$T" || fail "go tool pprof -top failed on the memory view"
head -n 5 "$T" | sed 's/^/  /'
for g in '[anon]' '[stack]' "$exe"; do
	grep -qF "	$g" "$T" || fail "go tool pprof -top does not list $g"
done
ok "go tool pprof -top lists [anon], [stack] and the executable"
PM=$TEST_DIR/pid-memory.pb.gz
fetch_profile "$BASE/pid/$TARGET_PID/debug/pprof/memory" "$PM"
[ "$(grep -c '^sample_type ' "$PM.summary")" = 3 ] || fail "/pid/$TARGET_PID/debug/pprof/memory: not the memory view"
expect_error "$BASE/debug/pprof/memory?seconds=5" 400
expect_error "$BASE/debug/pprof/growth?seconds=-1" 400
expect_error "$BASE/debug/pprof/heap" 404
grep -q '/debug/pprof/memory' "$TEST_DIR/err.$_nstarted" ||
    fail "/debug/pprof/heap's 404 does not point to /debug/pprof/memory"
code=$(fetch "$BASE/debug/pprof/" "$TEST_DIR/index")
expect_status "GET /debug/pprof/" "$code" 200
for r in memory growth; do
	grep -q "href=\"$r" "$TEST_DIR/index" || fail "the index page has no link to $r"
done
ok "the index links memory and growth; heap's 404 points to memory"

# ---- 2. who grows it -----------------------------------------------------------
# fltsum TID: minflt + majflt of one thread.
fltsum() { awk '{ sub(/^.*\) /, ""); print $8 + $10 }' "/proc/$TARGET_PID/task/$1/stat"; }
gtid=$(grep -l '^grower$' /proc/"$TARGET_PID"/task/*/comm | sed 's|.*/task/\([0-9]*\)/comm|\1|')
[ -n "$gtid" ] || fail "no grower thread"
f0=$(fltsum "$gtid")
bg_fetch growth.pb.gz "$BASE/debug/pprof/growth?seconds=4"
gpid=$BG_PID
bg_fetch cpu.pb.gz "$BASE/debug/pprof/profile?seconds=4"
cpid=$BG_PID
bg_wait "$gpid" growth.pb.gz
gcode=$BG_CODE
bg_wait "$cpid" cpu.pb.gz
f1=$(fltsum "$gtid")
G=$TEST_DIR/growth.pb.gz
C=$TEST_DIR/cpu.pb.gz
expect_profile "growth profile" "$G" "$gcode"
expect_profile "CPU profile" "$C" "$BG_CODE"
GS=$G.summary
types=$(grep '^sample_type ' "$GS" | tr '\n' ' ')
[ "$types" = "sample_type samples/count sample_type faults/bytes " ] ||
    fail "growth sample types: '$types', want samples/count faults/bytes"
[ "$(summary_get "$GS" period_type)" = faults/bytes ] ||
    fail "growth period_type $(summary_get "$GS" period_type)"
pagesize=$(getconf PAGESIZE)
[ "$(summary_get "$GS" period)" = "$pagesize" ] ||
    fail "growth period $(summary_get "$GS" period), want the page size $pagesize"
GF=$TEST_DIR/growth.folded
pdump folded -i 1 -t "$G" >"$GF" || fail "pprof-dump folded failed"
CF=$TEST_DIR/cpu.folded
pdump folded -i 1 "$C" >"$CF" || fail "pprof-dump folded failed"
gt=$(fold_total "$GF")
ct=$(fold_total "$CF")
[ "$gt" -gt 0 ] || fail "empty growth profile"
[ "$ct" -gt 0 ] || fail "empty CPU profile"
say "growth profile (faults/bytes):"
sort -k 2 -t ' ' -rn "$GF" | first_lines 4 | sed 's/^/  /'
spin_cpu=$(pct "$(fold_sum "$CF" spin_leaf)" "$ct")
say "CPU profile of the same 4 s: spin_leaf $spin_cpu %, grow_leaf $(pct "$(fold_sum "$CF" grow_leaf)" "$ct") %"
expect_range "CPU profile: spin_leaf share (%, the spinner ran)" "$spin_cpu" 20 100
expect_range "growth profile: faults/bytes under grow_leaf (%)" \
    "$(pct "$(fold_sum "$GF" grow_leaf)" "$gt")" 90 100
[ "$(fold_sum "$GF" spin_leaf)" = 0 ] ||
    fail "growth profile has $(fold_sum "$GF" spin_leaf) bytes in spin_leaf (no fault there)"
[ "$(fold_sum "$GF" thread=spinner)" = 0 ] || fail "growth profile has samples of the spinner"
ok "growth profile: nothing of the spinner, which ran ($spin_cpu % of the CPU profile)"
faulted=$(( (f1 - f0) * pagesize ))
expect_range "growth profile bytes / grower's faults x page size over the fetch (%)" \
    "$(pct "$gt" "$faulted")" 50 100

# ---- 3. /metrics ------------------------------------------------------------------
kill -USR1 "$TARGET_PID"
for _ in $(seq 200); do
	[ "$(cnt 2)" = 1 ] && break
	sleep 0.05
done
[ "$(cnt 2)" = 1 ] || fail "the grower did not pause within 10 s of SIGUSR1"
r0=$(vmrss)
m=$(metric_get profd_target_rss_bytes)
r1=$(vmrss)
[ -n "$m" ] || fail "no profd_target_rss_bytes for $TARGET_PID"
say "profd_target_rss_bytes $m; VmRSS $r0 before, $r1 after"
expect_range "profd_target_rss_bytes / VmRSS before (%)" "$(pct "$m" "$r0")" 90 110
expect_range "profd_target_rss_bytes / VmRSS after (%)" "$(pct "$m" "$r1")" 90 110
# the rate needs a reading at least a second older than the next
sleep 1.2
rate=$(metric_get profd_target_rss_growth_bytes_per_second)
[ -n "$rate" ] || fail "no profd_target_rss_growth_bytes_per_second on the second reading"
expect_range "RSS growth (bytes/s) while the grower is paused" "$rate" -4194304 4194304
kill -USR2 "$TARGET_PID"

# A memory cgroup for the target: v1 where the memory controller is there
# (its charges moved along), else v2 where it can be enabled.
LIMIT=$((768 << 20))
memcg_create profd-t_memory "$LIMIT"
if [ -n "$CG" ] && [ -e "$CG/memory.move_charge_at_immigrate" ]; then
	echo 1 >"$CG/memory.move_charge_at_immigrate" 2>/dev/null || true
fi
USAGE_FILE=$CG_USAGE_FILE
LIMIT_FILE=$CG_LIMIT_FILE
if [ -z "$CG" ]; then
	say "SKIP: cgroup series: neither a v1 memory hierarchy (/sys/fs/cgroup/memory) nor a v2 one with the memory controller can be created here"
else
	echo "$TARGET_PID" >"$CG/cgroup.procs" || fail "cannot move the target into $CG"
	grep -q "profd-t_memory.$$" "/proc/$TARGET_PID/cgroup" || fail "the target is not in $CG"
	u0=$(cat "$CG/$USAGE_FILE")
	mu=$(metric_get profd_target_cgroup_memory_usage_bytes)
	ml=$(metric_get profd_target_cgroup_memory_limit_bytes)
	u1=$(cat "$CG/$USAGE_FILE")
	say "cgroup $CG: $USAGE_FILE $u0 .. $u1, $LIMIT_FILE $(cat "$CG/$LIMIT_FILE"); metrics: usage $mu, limit $ml"
	[ -n "$mu" ] || fail "no profd_target_cgroup_memory_usage_bytes in a memory cgroup"
	[ -n "$ml" ] || fail "no profd_target_cgroup_memory_limit_bytes with a limit set"
	[ "$ml" = "$LIMIT" ] || fail "cgroup limit metric $ml, want the $LIMIT set"
	lo=$((u0 < u1 ? u0 : u1))
	hi=$((u0 > u1 ? u0 : u1))
	expect_range "cgroup usage metric (bytes, the cgroup's own $USAGE_FILE around it +-10 %)" \
	    "$mu" $((lo * 9 / 10)) $((hi * 11 / 10))
	ok "cgroup series: usage $mu, limit $ml"
fi

wait_untraced 5 || fail "profd still attached 5 s after the windows ended"
assert_target_ok
stop_profd
assert_target_ok
say "PASS memory"
