#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_dlopen - code that appears after profiling started: the lateload target
# dlopen()s libhot.so only when told to, after the profile window has begun
# and samples have been taken; the library's hot loop must show up in that
# same window under its whole caller chain (main;call_lib;lib_outer;lib_hot)
# with file:line, in a libhot.so mapping with its build-id, next to the
# samples from before the load (main;wait_loop).
. "$(dirname "$0")/lib.sh"
t_begin dlopen
need_pprof_dump
need_go

LIB=$(realpath "$TARGET_DIR/libhot.so")
TRIGGER=$TEST_DIR/load-now
start_target lateload "$TRIGGER" 120
OUT=$TEST_DIR/target.$_nstarted.lateload.out
if grep -qF "$LIB" "/proc/$TARGET_PID/maps"; then
	fail "libhot.so is mapped before the trigger"
fi
start_profd

P=$TEST_DIR/dlopen.pb.gz
SECS=5
(fetch "$BASE/debug/pprof/profile?seconds=$SECS" "$P" >"$P.code") &
cpid=$!
_track "$cpid"
wait_for_line "$PROFD_LOG" 'cpu window started' 10 "$PROFD_PID" ||
    fail "no window started"
# Samples before the load: wait for the sampler's counter, not for time.
samples()
{
	local m
	m=$(curl -s --max-time 5 "$BASE/metrics" || true)
	awk '/^profd_samples_total/ && !done { print $NF; done = 1 }' <<<"$m"
}
for ((n = 0; n < 100; n++)); do
	s=$(samples)
	[ "${s:-0}" -ge 40 ] && break
	sleep 0.05
done
[ "${s:-0}" -ge 40 ] || fail "not enough samples in the window before the load: ${s:-0}"
ok "$s samples taken before the load"
: >"$TRIGGER"
wait_for_line "$OUT" '^loaded$' 10 "$TARGET_PID" || fail "the target did not load libhot.so"
grep -qF "$LIB" "/proc/$TARGET_PID/maps" || fail "libhot.so is not mapped after the load"
ok "libhot.so loaded by the target while the window is open"
wait "$cpid" || true
code=$(cat "$P.code")
expect_status "GET /debug/pprof/profile?seconds=$SECS" "$code" 200
pdump summary "$P" >"$P.summary" || fail "pprof-dump cannot decode the profile"
ok "profile: $(summary_get "$P.summary" 'total[0]') samples"

bid=$(readelf -n "$LIB" | awk '/Build ID:/ && !done { print $3; done = 1 }')
mline=$(grep -F " $LIB build_id=" "$P.summary" | first_line || true)
case $mline in
*"build_id=$bid has_functions=1 has_filenames=1 has_line_numbers=1"*) ok "mapping: $mline" ;;
*) fail "mapping for libhot.so: '$mline', want build_id=$bid, symbolized: $(grep '^mapping' "$P.summary")" ;;
esac

F=$TEST_DIR/folded
pdump folded "$P" >"$F" || fail "pprof-dump folded failed"
say "stacks (pprof-dump folded):"
sed 's/^/  /' "$F" | first_lines 4
T=$(fold_total "$F")
expect_range "CPU in main;call_lib;lib_outer;lib_hot as the leaf (%)" \
    "$(pct "$(fold_sum_leaf "$F" "main;call_lib;lib_outer;lib_hot")" "$T")" 40 99
expect_range "CPU in main;wait_loop, before the load (%)" \
    "$(pct "$(fold_sum_leaf "$F" "main;wait_loop")" "$T")" 1 60
unknown=$(grep -cE '\[unknown\]|\[anon\+' "$F" || true)
[ "$unknown" = 0 ] || fail "stacks with [unknown] frames: $(grep -E '\[unknown\]' "$F" | first_lines 2)"

FL=$TEST_DIR/folded-lines
pdump folded -L "$P" >"$FL" || fail "pprof-dump folded -L failed"
read -r lo hi <<<"$(func_lines "$TARGET_SRC/libhot.c" lib_hot)"
expect_range "lib_hot leaf frames at libhot.c:$lo-$hi (% of lib_hot's CPU)" \
    "$(pct "$(awk -v lo="$lo" -v hi="$hi" '{
	n = split($0, fr, ";"); leaf = fr[n]; sub(/ [0-9]+$/, "", leaf)
	if (leaf !~ /^lib_hot@/) next
	line = leaf; sub(/.*:/, "", line)
	if (leaf ~ /libhot\.c:[0-9]+$/ && line + 0 >= lo && line + 0 <= hi)
		t += $NF
	} END { printf "%.0f\n", t }' "$FL")" \
    "$(fold_sum_leaf "$F" "lib_outer;lib_hot")")" 95 100

wait_untraced 5 || fail "profd still attached 5 s after the window ended"
stop_profd
assert_target_ok
say "PASS dlopen"
