#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_overlap - two overlapping profile windows on one target both succeed:
# A (6 s) is fetched by go tool pprof itself, the real client; once A's
# window is open (profd is tracing the target), B (3 s) is fetched with curl.
# B lies inside A, so B starts later, is shorter and has fewer samples; both
# show the target's stack.
. "$(dirname "$0")/lib.sh"
t_begin overlap
need_pprof_dump
need_go

start_target spin 120
start_profd
A=$TEST_DIR/a.pb.gz
B=$TEST_DIR/b.pb.gz

(exec env HOME="$TEST_DIR" PPROF_TMPDIR="$TEST_DIR" GOFLAGS='' GOPROXY=off \
    go tool pprof -symbolize=none -proto -output "$A" -seconds 6 -timeout 60 \
    "$BASE/debug/pprof/profile" >"$A.log" 2>&1) &
apid=$!
_track "$apid"
# The signal that window A is open: profd is tracing a thread of the target.
wait_window_open 1 10 || fail "window A never started (profd log)"
say "window A open (go tool pprof, pid $apid)"

fetch_profile "$BASE/debug/pprof/profile?seconds=3" "$B"

arc=0
wait "$apid" || arc=$?
[ "$arc" = 0 ] || fail "go tool pprof (window A) exited $arc: $(cat "$A.log")"
ok "go tool pprof fetched window A: $(grep -m 1 -i 'saved profile' "$A.log" || echo "$A")"
pdump summary "$A" >"$A.summary" || fail "pprof-dump cannot decode window A's profile"

for x in A B; do
	f=$TEST_DIR/$(tr 'AB' 'ab' <<<"$x").pb.gz
	pdump folded "$f" >"$f.folded" || fail "pprof-dump folded $x failed"
	tot=$(fold_total "$f.folded")
	expect_range "window $x: CPU in main;spin_root;spin_mid;spin_leaf as the leaf (%)" \
	    "$(pct "$(fold_sum_leaf "$f.folded" "main;spin_root;spin_mid;spin_leaf")" "$tot")" 90 100
	pprof_table "$f" >"$f.top" || fail "go tool pprof -top $x failed"
	expect_range "window $x: go tool pprof flat% of spin_leaf" "$(table_get "$f.top" spin_leaf 1)" 90 100
done

ta=$(summary_get "$A.summary" time_nanos)
tb=$(summary_get "$B.summary" time_nanos)
da=$(summary_get "$A.summary" duration_nanos)
db=$(summary_get "$B.summary" duration_nanos)
na=$(summary_get "$A.summary" 'total[0]')
nb=$(summary_get "$B.summary" 'total[0]')
say "A: time_nanos $ta duration_nanos $da samples $na"
say "B: time_nanos $tb duration_nanos $db samples $nb"
expect_range "A duration_nanos (at least 6 s)" "$da" 5.4e9 1e15
expect_range "B duration_nanos (at least 3 s)" "$db" 2.7e9 1e15
awk -v a="$ta" -v b="$tb" 'BEGIN { exit !(b > a) }' ||
    fail "B's time_nanos $tb is not after A's $ta"
awk -v a="$da" -v b="$db" 'BEGIN { exit !(b < a) }' ||
    fail "B's duration $db is not shorter than A's $da"
if [ "$nb" -le 0 ] || [ "$nb" -ge "$na" ]; then
	fail "B's samples ($nb) should be fewer than A's ($na) and more than 0"
fi
ok "B started after A, is shorter and has fewer samples ($nb < $na)"

wait_untraced 5 || fail "profd still attached 5 s after both windows ended"
stop_profd
assert_target_ok
say "PASS overlap"
