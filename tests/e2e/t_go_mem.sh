#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_go_mem - a Go program's runtime memory, read from outside, against
# what the program says of itself at the same moment. The target
# (tests/targets/goalloc) allocates at three sites with known sizes and
# keeps part of it; on SIGUSR1 it stops allocating, collects, writes its
# own pprof.WriteHeapProfile and prints its runtime.ReadMemStats; SIGUSR2
# lets it go on. It runs with GOGC=150 GOMEMLIMIT=1GiB, not the defaults.
# For the build with DWARF and the stripped one (-s -w: offsets from
# profd's go1.19 table, globals decoded from runtime code), twice each
# (the second time after more collections):
#   1. /metrics (promtool-clean): profd_go_heap_alloc_bytes, _heap_objects
#      and _next_gc_bytes within 5 % of HeapAlloc, HeapObjects and NextGC;
#      _gc_cycles_total equal to NumGC; _gogc_percent 150 and
#      _memory_limit_bytes 1 GiB.
#   2. /debug/pprof/heap and allocs against its own profile: the same top 3
#      allocating functions in the same order for inuse_space and
#      alloc_space, each value within 5 %, by pprof-dump and by
#      go tool pprof -top; the period is the rate (1); allocs defaults to
#      alloc_space.
#   3. The thread dumps' "# go heap:" line (debug=1 and 2, the comment of
#      debug=0) with its figures; none in goroutine's, which keeps Go's
#      format.
#   4. With --continuous, /history/buckets has go_heap_alloc_bytes.
#   5. gc=1: 400 saying profd cannot collect in the target.
# A Go program that keeps no memory profile (gohot: no runtime/pprof):
# heap is 404 saying what it must import, /metrics still has its heap.
# And for a C program: heap and allocs are 404 saying it is not Go.
. "$(dirname "$0")/lib.sh"
t_begin go_mem
need_pprof_dump
need_go

# leaf_top FOLDED: "VALUE NAME" of the 3 leaf functions with the most,
# largest first (runtime/pprof hides the allocator's frames, so the leaf
# is the allocating function).
leaf_top()
{
	awk '{
		v = $NF
		n = split(substr($0, 1, length($0) - length($NF) - 1), f, ";")
		t[f[n]] += v
	} END { for (k in t) print t[k], k }' "$1" | sort -k1,1nr | first_lines 3
}

# near WHAT GOT WANT: GOT within 5 % of WANT.
near()
{
	if awk -v g="$2" -v w="$3" 'BEGIN { d = g - w; if (d < 0) d = -d
		exit !(d <= 0.05 * w) }'; then
		ok "$1: profd $2, the program $3"
	else
		fail "$1: profd $2, the program $3: more than 5 % apart"
	fi
}

# same_top WHAT OURS THEIRS: the two leaf_top lists name the same
# functions in the same order, values within 5 %.
same_top()
{
	local i a b
	[ "$(wc -l <"$2")" -eq 3 ] || fail "$1: profd's top 3: $(cat "$2")"
	for i in 1 2 3; do
		a=$(sed -n "${i}p" "$2")
		b=$(sed -n "${i}p" "$3")
		[ "${a#* }" = "${b#* }" ] ||
		    fail "$1: #$i is ${a#* } in profd's profile, ${b#* } in the program's"
		near "$1: #$i ${a#* }" "${a%% *}" "${b%% *}"
	done
}

# stat NAME: the figure NAME of the target's last memstats line.
stat()
{
	awk -v n="$1" '$1 == "memstats" { for (i = 3; i < NF; i += 2)
		if ($i == n) v = $(i + 1) } END { print v }' "$OUT"
}

# check_dump N: compare profd with the program's dump N.
check_dump()
{
	local n=$1 m p i idx want f theirs v
	kill -USR1 "$TARGET_PID"
	wait_for_line "$OUT" "^memstats $n " 20 "$TARGET_PID" ||
	    fail "goalloc printed no memstats $n"
	say "program: $(grep "^memstats $n " "$OUT")"

	# 1. /metrics
	m=$TEST_DIR/metrics.$VAR.$n
	curl -sS --max-time 10 "$BASE/metrics" >"$m" || fail "GET /metrics failed"
	if command -v promtool >/dev/null; then
		promtool check metrics <"$m" >"$m.lint" 2>&1 ||
		    fail "promtool check metrics: $(cat "$m.lint")"
	fi
	get() { awk -v l="$1{pid=\"$TARGET_PID\"}" '$1 == l { print $2 }' "$m"; }
	near "heap_alloc" "$(get profd_go_heap_alloc_bytes)" "$(stat heap_alloc)"
	near "heap_objects" "$(get profd_go_heap_objects)" "$(stat heap_objects)"
	near "next_gc" "$(get profd_go_next_gc_bytes)" "$(stat next_gc)"
	[ "$(get profd_go_gc_cycles_total)" = "$(stat num_gc)" ] ||
	    fail "gc cycles: profd $(get profd_go_gc_cycles_total), the program $(stat num_gc)"
	[ "$(get profd_go_gogc_percent)" = 150 ] ||
	    fail "GOGC: profd $(get profd_go_gogc_percent), want 150"
	[ "$(get profd_go_memory_limit_bytes)" = 1073741824 ] ||
	    fail "GOMEMLIMIT: profd $(get profd_go_memory_limit_bytes), want 1073741824"
	[ -n "$(get profd_go_heap_inuse_bytes)" ] || fail "no profd_go_heap_inuse_bytes"
	ok "gc cycles $(stat num_gc), GOGC 150, GOMEMLIMIT 1 GiB"

	# 2. the heap profile, against the program's own
	theirs=$TEST_DIR/$VAR/heap.$n.pb.gz
	for p in heap allocs; do
		fetch_profile "$BASE/debug/pprof/$p" "$TEST_DIR/$p.$VAR.$n.pb.gz"
	done
	[ "$(summary_get "$TEST_DIR/heap.$VAR.$n.pb.gz.summary" period)" = 1 ] ||
	    fail "heap profile period: $(summary_get "$TEST_DIR/heap.$VAR.$n.pb.gz.summary" period), want the rate 1"
	pprof -top "$TEST_DIR/allocs.$VAR.$n.pb.gz" 2>/dev/null |
	    grep '^Type: alloc_space$' >/dev/null ||
	    fail "allocs profile does not default to alloc_space"
	# sample types: alloc_objects, alloc_space, inuse_objects, inuse_space
	for i in "3 inuse_space" "1 alloc_space"; do
		idx=${i%% *}
		want=${i#* }
		for p in ours theirs; do
			if [ $p = ours ]; then f=$TEST_DIR/heap.$VAR.$n.pb.gz; else f=$theirs; fi
			pdump folded -i "$idx" "$f" >"$TEST_DIR/$p.$want.folded" ||
			    fail "pprof-dump folded $f"
			leaf_top "$TEST_DIR/$p.$want.folded" >"$TEST_DIR/$p.$want.top"
			pprof -top -sample_index="$want" -unit=B -nodecount=3 "$f" 2>/dev/null |
			    awk '/^ *flat +flat%/ { b = 1; next } b { v = $1; sub(/B$/, "", v); print v, $6 }' \
			    >"$TEST_DIR/$p.$want.gotop"
		done
		say "$want, profd: $(tr '\n' ' ' <"$TEST_DIR/ours.$want.top")"
		same_top "$want (pprof-dump)" "$TEST_DIR/ours.$want.top" "$TEST_DIR/theirs.$want.top"
		same_top "$want (go tool pprof)" "$TEST_DIR/ours.$want.gotop" "$TEST_DIR/theirs.$want.gotop"
		[ "$(sed -n '1s/^[^ ]* //p' "$TEST_DIR/ours.$want.top")" = main.allocBig ] ||
		    fail "$want: top site is not main.allocBig"
	done

	# 3. the thread dumps' header
	for i in 1 2; do
		fetch "$BASE/debug/pprof/threads?debug=$i" "$TEST_DIR/threads.$i" >/dev/null
		grep -E '^# go heap: alloc [0-9.]+ MB, objects [0-9]+, next GC at [0-9.]+ MB, GC cycles [0-9]+, GOGC 150$' \
		    "$TEST_DIR/threads.$i" >"$TEST_DIR/threads.$i.line" ||
		    fail "threads?debug=$i has no '# go heap:' line: $(head -n 3 "$TEST_DIR/threads.$i")"
	done
	near "debug=2 header, alloc MB" "$(awk '{ print $5 }' "$TEST_DIR/threads.2.line")" \
	    "$(awk -v b="$(stat heap_alloc)" 'BEGIN { printf "%.1f\n", b / 1e6 }')"
	fetch_profile "$BASE/debug/pprof/threads" "$TEST_DIR/threads.0.pb.gz"
	pprof -raw "$TEST_DIR/threads.0.pb.gz" 2>/dev/null | grep 'go heap: alloc' >/dev/null ||
	    fail "the threads profile has no 'go heap:' comment"
	fetch "$BASE/debug/pprof/goroutine?debug=1" "$TEST_DIR/goroutine.1" >/dev/null
	if grep '^# go heap:' "$TEST_DIR/goroutine.1" >/dev/null; then
		fail "goroutine?debug=1 has the go heap line: it must keep Go's format"
	fi
	ok "thread dumps: $(cat "$TEST_DIR/threads.2.line")"

	# 4. the history's buckets (profd runs with --continuous): the heap
	# read last in the current one, with the program paused since
	if [ "$n" = 2 ] && command -v jq >/dev/null; then
		curl -sS --max-time 10 "$BASE/history/buckets" >"$TEST_DIR/buckets.json" ||
		    fail "GET /history/buckets failed"
		v=$(jq -r '[.buckets[] | select(.go_heap_alloc_bytes != null)] |
		    last | .go_heap_alloc_bytes' "$TEST_DIR/buckets.json")
		if [ "$v" = null ] || [ "$v" -le 0 ]; then
			fail "no history bucket has go_heap_alloc_bytes: $(head -c 300 "$TEST_DIR/buckets.json")"
		fi
		ok "history buckets: go_heap_alloc_bytes $v"
	fi
	kill -USR2 "$TARGET_PID"
}

for VAR in goalloc goalloc-stripped; do
	say "---- $VAR"
	mkdir -p "$TEST_DIR/$VAR"
	start_target_cmd "$VAR" env GOGC=150 GOMEMLIMIT=1GiB \
	    "$TARGET_DIR/$VAR" "$TEST_DIR/$VAR" 120
	OUT=$TEST_DIR/target.$_nstarted.$VAR.out
	start_profd --continuous
	check_dump 1
	# more collections before the second look
	gcs=$(stat num_gc)
	for ((i = 0; i < 200; i++)); do
		[ "$(metric_get profd_go_gc_cycles_total)" -gt "$((gcs + 2))" ] && break
		sleep 0.1
	done
	check_dump 2
	[ "$(stat num_gc)" -gt "$gcs" ] || fail "no collection between the dumps"
	expect_error "$BASE/debug/pprof/heap?gc=1" 400
	grep 'cannot run a garbage collection' "$TEST_DIR/err.$_nstarted" >/dev/null ||
	    fail "gc=1's 400 does not say why"
	stop_profd
	kill "$TARGET_PID"
done

say "---- a Go program without runtime/pprof"
start_target gohot 1 120
start_profd
expect_error "$BASE/debug/pprof/heap" 404
grep 'must import runtime/pprof or net/http/pprof' "$TEST_DIR/err.$_nstarted" >/dev/null ||
    fail "heap's 404 for a Go program without a profile does not say what to do"
[ -n "$(metric_get profd_go_heap_alloc_bytes)" ] ||
    fail "no profd_go_heap_alloc_bytes for gohot: the figures need no profile"
stop_profd
kill "$TARGET_PID"

say "---- a C program"
start_target spin 120
start_profd
for p in heap allocs; do
	expect_error "$BASE/debug/pprof/$p" 404
	grep "not a Go program" "$TEST_DIR/err.$_nstarted" >/dev/null ||
	    fail "$p's 404 for a C program does not say it is not Go"
done
[ -z "$(metric_get profd_go_heap_alloc_bytes)" ] ||
    fail "profd_go_heap_alloc_bytes for a C program"
stop_profd
assert_target_ok
say "PASS go_mem"
