#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_shlib - the hot loop is lib_hot, a static function of a shared library
# (build/targets/libhot.so, -fomit-frame-pointer): it appears under lib_outer
# under run_work (in the executable) under main, with file:line, and its
# locations belong to the libhot.so mapping; file names in both binaries are
# absolute, as addr2line gives them, and go tool pprof -list reads them.
. "$(dirname "$0")/lib.sh"
t_begin shlib
need_pprof_dump
need_go

lib=$(realpath "$TARGET_DIR/libhot.so")
start_target shlib 120
grep -qF " $lib" "/proc/$TARGET_PID/maps" || fail "the target did not map $lib"
start_profd
P=$TEST_DIR/shlib.pb.gz
fetch_profile "$BASE/debug/pprof/profile?seconds=4" "$P"
S=$P.summary

# The mapping: libhot.so by its real path, symbolized by profd, right build-id.
bid=$(readelf -n "$lib" | awk '/Build ID:/ { print $3 }')
mline=$(grep -F " $lib build_id=" "$S" | first_line)
[ -n "$mline" ] || fail "no mapping for $lib: $(grep '^mapping' "$S")"
case $mline in
*"build_id=$bid "*"has_functions=1"*) ok "mapping: $mline" ;;
*) fail "mapping for libhot.so: '$mline', want build_id=$bid and has_functions=1" ;;
esac
read -r mstart mlimit <<<"$(awk '{ print $3 }' <<<"$mline" | tr '-' ' ')"

# ---- pprof-dump: stacks and lines --------------------------------------------
F=$TEST_DIR/folded
pdump folded "$P" >"$F" || fail "pprof-dump folded failed"
say "top stacks (pprof-dump folded):"
awk '{ print $NF "\t" $0 }' "$F" | sort -t "$(printf '\t')" -k 1,1nr |
    first_lines 4 | cut -f 2- | sed 's/^/  /'
T=$(fold_total "$F")
expect_range "CPU in main;run_work;lib_outer;lib_hot as the leaf (%)" \
    "$(pct "$(fold_sum_leaf "$F" "main;run_work;lib_outer;lib_hot")" "$T")" 90 100

FL=$TEST_DIR/folded-lines
pdump folded -L "$P" >"$FL" || fail "pprof-dump folded -L failed"
read -r lo hi <<<"$(func_lines "$TARGET_SRC/libhot.c" lib_hot)"
read -r good all <<<"$(awk -v lo="$lo" -v hi="$hi" '{
	v = $NF
	n = split(substr($0, 1, length($0) - length($NF) - 1), fr, ";")
	if (substr(fr[n], 1, 8) != "lib_hot@")
		next
	all += v
	line = fr[n]; sub(/.*:/, "", line)
	if (fr[n] ~ /(^|\/)libhot\.c:[0-9]+$/ && line + 0 >= lo && line + 0 <= hi)
		good += v
} END { printf "%.0f %.0f\n", good, all }' "$FL")"
[ "$all" -gt 0 ] || fail "no lib_hot leaf frames in pprof-dump folded -L"
expect_range "lib_hot leaf frames at libhot.c:$lo-$hi (% of its CPU)" "$(pct "$good" "$all")" 95 100

# ---- go tool pprof: flat, traces, and which mapping lib_hot's PCs are in ----
TB=$TEST_DIR/top
pprof_table "$P" >"$TB" || fail "go tool pprof -top failed"
head -n 5 "$TB" | sed 's/^/  /'
expect_range "go tool pprof: flat% of lib_hot" "$(table_get "$TB" lib_hot 1)" 90 100

TR=$TEST_DIR/traces
pprof_traces_folded "$P" >"$TR" || fail "go tool pprof -traces failed"
grep -Eq '(^|;)main;run_work;lib_outer;lib_hot [^ ]+$' "$TR" ||
    fail "go tool pprof -traces: no trace main;run_work;lib_outer;lib_hot: $(head -n 3 "$TR")"
ok "go tool pprof -traces: $(grep -E -m 1 ';lib_hot [^ ]+$' "$TR")"

# -raw: "ID: 0xADDR M=MAPPING lib_hot FILE:LINE ..." and "ID: START/LIMIT/OFF FILE".
RAW=$TEST_DIR/raw
pprof -symbolize=none -raw "$P" >"$RAW" || fail "go tool pprof -raw failed"
nloc=0
while read -r addr mid; do
	mfile=$(awk -v id="$mid:" '/^Mappings/ { m = 1; next }
		m && $1 == id { print $3; exit }' "$RAW")
	[ "$mfile" = "$lib" ] || fail "lib_hot location $addr is in mapping $mid ($mfile), want $lib"
	if ((addr < mstart || addr >= mlimit)); then
		fail "lib_hot location $addr outside the libhot.so mapping $mstart-$mlimit"
	fi
	nloc=$((nloc + 1))
done < <(awk '/^Locations/ { l = 1; next } /^Mappings/ { l = 0 }
	l && $4 == "lib_hot" { sub(/^M=/, "", $3); print $2, $3 }' "$RAW")
[ "$nloc" -gt 0 ] || fail "go tool pprof -raw: no lib_hot location"
ok "go tool pprof -raw: $nloc lib_hot location(s), all in $lib ($mstart-$mlimit)"

# Source file names of both binaries: every frame of every location,
# absolute as addr2line -i names it; go tool pprof -list reads each
# function's source by that name, from /.
check_source_files "$P" "$lib" "$TARGET_SRC/libhot.c" lib_hot
check_source_files "$P" "$TARGET_DIR/shlib" "$TARGET_SRC/shlib.c" run_work

wait_untraced 5 || fail "profd still attached 5 s after the window ended"
stop_profd
assert_target_ok
say "PASS shlib"
