#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_split - CPU profile of a multi-threaded -fomit-frame-pointer target whose
# CPU time splits 60/30/10 between hot_a, hot_b and hot_c (see
# tests/targets/split.c): every leaf appears under its own caller chain with
# file:line (source file names absolute, as addr2line gives them, and
# found by go tool pprof -list), the split is within +-5 percentage points
# in profd's numbers (pprof-dump) and in go tool pprof's, samples and CPU
# time are plausible, and every sample carries thread and tid labels.
. "$(dirname "$0")/lib.sh"
t_begin split
need_pprof_dump
need_go

SECS=8
HZ=200
THREADS=2
SRC=$TARGET_SRC/split.c
start_target split "$THREADS" 120
start_profd
assert_target_ok	# no window open: profd must not be attached

# thread_cpu: "NAME NS" per thread of the target (schedstat: CPU time so far).
thread_cpu()
{
	local t name ns rest
	for t in /proc/"$TARGET_PID"/task/*; do
		read -r name <"$t/comm"
		read -r ns rest <"$t/schedstat"
		printf '%s %s\n' "$name" "$ns"
	done | LC_ALL=C sort
}

P=$TEST_DIR/split.pb.gz
cpu0=$(target_cpu_ns)
thread_cpu >"$TEST_DIR/threads0"
fetch_profile "$BASE/debug/pprof/profile?seconds=$SECS&hz=$HZ" "$P"
thread_cpu >"$TEST_DIR/threads1"
cpu1=$(target_cpu_ns)
S=$P.summary
sed 's/^/  summary: /' "$S"

# ---- the profile's header --------------------------------------------------
types=$(grep '^sample_type ' "$S" | tr '\n' ' ')
[ "$types" = "sample_type samples/count sample_type cpu/nanoseconds " ] ||
    fail "sample types: '$types', want samples/count then cpu/nanoseconds"
[ "$(summary_get "$S" period_type)" = cpu/nanoseconds ] ||
    fail "period_type $(summary_get "$S" period_type), want cpu/nanoseconds"
expect_range "period (ns)" "$(summary_get "$S" period)" 1 1000000000
expect_range "duration_nanos (at least the window asked for)" \
    "$(summary_get "$S" duration_nanos)" "$((SECS * 900000000))" 1e15
expect_range "time_nanos (after 2020)" "$(summary_get "$S" time_nanos)" 1.577e18 1e19

exe=$(realpath "$TARGET_DIR/split")
bid=$(readelf -n "$exe" | awk '/Build ID:/ { print $3 }')
mline=$(grep -F " $exe build_id=" "$S" | first_line)
[ -n "$mline" ] || fail "no mapping for $exe in the profile"
case $mline in
*"build_id=$bid "*) ok "mapping $exe has build_id $bid" ;;
*) fail "mapping for $exe: '$mline', want build_id=$bid" ;;
esac
for f in has_functions=1 has_filenames=1 has_line_numbers=1; do
	case $mline in *"$f"*) ;; *) fail "mapping for $exe lacks $f: $mline" ;; esac
done
ok "mapping $exe: has_functions=1 has_filenames=1 has_line_numbers=1"

# ---- counts ----------------------------------------------------------------
# Too few samples cannot show a 5-point split: at 500 samples one standard
# deviation of a 60 % share is 2.2 points.
nsamp=$(summary_get "$S" 'total[0]')
say "samples: $nsamp in ${SECS}s over $THREADS threads at hz=$HZ" \
    "($(awk -v n="$nsamp" -v d="$((SECS * THREADS))" 'BEGIN { printf "%.0f", n / d }') Hz per thread achieved)"
expect_range "samples/count total" "$nsamp" 500 "$((SECS * HZ * THREADS * 12 / 10))"
ptot=$(summary_get "$S" 'total[1]')
used=$((cpu1 - cpu0))
say "cpu/nanoseconds total $ptot; the target used $used ns of CPU during the request"
expect_range "cpu/nanoseconds total as % of the CPU the target used" \
    "$(pct "$ptot" "$used")" 50 110

# ---- stacks and the split, from pprof-dump ------------------------------------
F=$TEST_DIR/folded
pdump folded "$P" >"$F" || fail "pprof-dump folded failed"
say "top stacks (pprof-dump folded):"
awk '{ print $NF "\t" $0 }' "$F" | sort -t "$(printf '\t')" -k 1,1nr |
    first_lines 6 | cut -f 2- | sed 's/^/  /'
A=$(fold_sum "$F" hot_a)
B=$(fold_sum "$F" hot_b)
C=$(fold_sum "$F" hot_c)
H=$(awk -v a="$A" -v b="$B" -v c="$C" 'BEGIN { printf "%.0f", a + b + c }')
T=$(fold_total "$F")
[ "$T" = "$ptot" ] || fail "folded total $T differs from the cpu/nanoseconds total $ptot"
expect_range "hot_a+hot_b+hot_c share of all CPU (%)" "$(pct "$H" "$T")" 90 100
expect_range "hot_a share of the three, pprof-dump (%)" "$(pct "$A" "$H")" 55 65
expect_range "hot_b share of the three, pprof-dump (%)" "$(pct "$B" "$H")" 25 35
expect_range "hot_c share of the three, pprof-dump (%)" "$(pct "$C" "$H")" 5 15

# Each leaf with its whole caller chain, as the leaf of the stack.
check_chain()
{
	local leaf=$1 chain=$2 all=$3 full
	full=$(fold_sum_leaf "$F" "$chain")
	expect_range "CPU in $leaf under $chain (% of $leaf)" "$(pct "$full" "$all")" 95 100
}
check_chain hot_a "worker;do_round;chain_a1;hot_a" "$A"
check_chain hot_b "worker;do_round;chain_b1;chain_b2;chain_b3;hot_b" "$B"
check_chain hot_c "worker;do_round;hot_c" "$C"

# file:line of every frame of ours: the line must be inside the function.
FL=$TEST_DIR/folded-lines
pdump folded -L "$P" >"$FL" || fail "pprof-dump folded -L failed"
for fn in hot_a hot_b hot_c chain_a1 chain_b1 chain_b2 chain_b3 do_round worker; do
	read -r lo hi <<<"$(func_lines "$SRC" "$fn")"
	read -r good all example <<<"$(frames_in_lines "$FL" "$fn" '(^|/)split\.c$' "$lo" "$hi")"
	[ "$all" -gt 0 ] || fail "$fn: no frames in pprof-dump folded -L"
	expect_range "$fn frames at split.c:$lo-$hi (% of its CPU; e.g. $example)" \
	    "$(pct "$good" "$all")" 95 100
done

# Source file names as addr2line -i (binutils, another DWARF reader) gives
# them for the same address: absolute, DW_AT_comp_dir joined, for every
# frame of every location in the binary (callers too) and, with the line,
# for every leaf PC; go tool pprof -list finds the source by its absolute
# name, from anywhere.
check_source_files "$P" "$exe" "$SRC" hot_a chain_b3
read -r good all ex <<<"$(leaf_frames_vs_addr2line "$P" "$exe")"
[ "$all" -gt 0 ] || fail "no sample with a leaf PC in $exe to check ($ex)"
expect_range "samples whose leaf frames' FILE:LINE are addr2line -i's (%; first mismatch: $ex)" \
    "$(pct "$good" "$all")" 100 100

# Per-thread attribution: each worker's share of the profile is its share
# of the CPU the threads really used during the request (schedstat), within
# 10 points; the main thread, in pthread_join, has (almost) none.
FT=$TEST_DIR/folded-threads
pdump folded -t "$P" >"$FT" || fail "pprof-dump folded -t failed"
LC_ALL=C join "$TEST_DIR/threads0" "$TEST_DIR/threads1" |
    awk '{ print $1, $3 - $2 }' >"$TEST_DIR/threads-used"
used_all=$(awk '{ s += $2 } END { printf "%.0f", s }' "$TEST_DIR/threads-used")
for th in split-w0 split-w1; do
	real=$(pct "$(awk -v t="$th" '$1 == t { print $2 }' "$TEST_DIR/threads-used")" "$used_all")
	prof=$(pct "$(fold_sum "$FT" "thread=$th")" "$T")
	say "thread $th: $prof % of the profile, $real % of the CPU really used"
	expect_range "thread $th: profile share minus real share (points)" \
	    "$(awk -v a="$prof" -v b="$real" 'BEGIN { print a - b }')" -10 10
done
expect_range "main thread (in pthread_join) share of CPU (%)" \
    "$(pct "$(fold_sum "$FT" "thread=split")" "$T")" 0 1

# Labels: thread and tid on every sample; every tid is one of the target's.
LB=$TEST_DIR/labels
pdump labels "$P" >"$LB" || fail "pprof-dump labels failed"
[ -s "$LB" ] || fail "pprof-dump labels printed nothing"
bad=$(awk '!/(^| )thread=[^ ]/ || !/(^| )tid=[0-9]/' "$LB" | wc -l)
[ "$bad" = 0 ] || fail "$bad samples lack a thread or tid label, e.g.: $(awk '!/(^| )thread=[^ ]/ || !/(^| )tid=[0-9]/' "$LB" | first_lines 3)"
ntid=0
while read -r th tid; do
	[ -d "/proc/$TARGET_PID/task/$tid" ] || fail "label tid=$tid is not a thread of $TARGET_PID"
	read -r comm <"/proc/$TARGET_PID/task/$tid/comm"
	[ "$th" = "$comm" ] || fail "label thread=$th with tid=$tid, but that thread is '$comm'"
	ntid=$((ntid + 1))
done < <(awk '{
	th = tid = ""
	for (i = 1; i <= NF; i++) {
		if ($i ~ /^thread=/) th = substr($i, 8)
		if ($i ~ /^tid=/) tid = substr($i, 5)
	}
	print th, tid
}' "$LB" | sort -u)
[ "$ntid" -ge "$THREADS" ] || fail "samples name $ntid tids, want the $THREADS workers"
ok "every sample has thread and tid labels; $ntid distinct threads, each tid's name matches its label"

# ---- the same profile through go tool pprof ---------------------------------
TB=$TEST_DIR/top
pprof_table "$P" >"$TB" || fail "go tool pprof -top failed"
say "go tool pprof -top:"
head -n 8 "$TB" | sed 's/^/  /'
fa=$(table_get "$TB" hot_a 1)
fb=$(table_get "$TB" hot_b 1)
fc=$(table_get "$TB" hot_c 1)
fh=$(awk -v a="$fa" -v b="$fb" -v c="$fc" 'BEGIN { print a + b + c }')
say "go tool pprof flat%: hot_a $fa, hot_b $fb, hot_c $fc"
expect_range "hot_a share of the three, go tool pprof flat% (%)" "$(pct "$fa" "$fh")" 55 65
expect_range "hot_b share of the three, go tool pprof flat% (%)" "$(pct "$fb" "$fh")" 25 35
expect_range "hot_c share of the three, go tool pprof flat% (%)" "$(pct "$fc" "$fh")" 5 15

# pprof's default (it would symbolize on its own where profd did not).
pprof -top -nodecount=100 "$P" >"$TEST_DIR/top-default" 2>"$TEST_DIR/top-default.err" ||
    fail "go tool pprof -top (default symbolization) failed: $(cat "$TEST_DIR/top-default.err")"
for fn in hot_a hot_b hot_c; do
	grep -Eq "[0-9]%  $fn\$" "$TEST_DIR/top-default" || fail "go tool pprof -top: no $fn line"
done
ok "go tool pprof -top with default options lists hot_a, hot_b, hot_c"

TR=$TEST_DIR/traces
pprof_traces_folded "$P" >"$TR" || fail "go tool pprof -traces failed"
for chain in "worker;do_round;chain_a1;hot_a" \
    "worker;do_round;chain_b1;chain_b2;chain_b3;hot_b" "worker;do_round;hot_c"; do
	grep -Eq "(^|;)$chain [^ ]+\$" "$TR" || fail "go tool pprof -traces: no trace ending in $chain"
	ok "go tool pprof -traces: $(grep -E -m 1 "(^|;)$chain [^ ]+\$" "$TR")"
done

TL=$TEST_DIR/top-lines
pprof_table "$P" -lines >"$TL" || fail "go tool pprof -lines -top failed"
for fn in hot_a hot_b hot_c; do
	read -r lo hi <<<"$(func_lines "$SRC" "$fn")"
	read -r good all <<<"$(awk -F '\t' -v fn="$fn" -v lo="$lo" -v hi="$hi" '
		index($3, fn " ") == 1 {
			all += $1
			n = $3; sub(/.*:/, "", n)
			if ($3 ~ /split\.c:[0-9]+$/ && n + 0 >= lo && n + 0 <= hi)
				good += $1
		} END { printf "%.2f %.2f\n", good, all }' "$TL")"
	expect_range "go tool pprof -lines: $fn flat at split.c:$lo-$hi (% of $fn)" \
	    "$(pct "$good" "$all")" 95 100
done

# ---- after the window ------------------------------------------------------
wait_untraced 5 || fail "profd still attached 5 s after the window ended"
assert_target_ok
stop_profd
assert_target_ok
say "PASS split"
