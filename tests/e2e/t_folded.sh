#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# t_folded - format=folded on every profile endpoint: collapsed stacks,
# frames root first joined by ';', a space, the first sample type's value,
# the same text pprof-dump folded (the default sample type) makes of the endpoint's pprof
# answer.  The spin target (tests/targets/spin.c) has one thread and one
# call chain, main;spin_root;spin_mid;spin_leaf.
#   1. /debug/pprof/memory (no window; spin touches no new memory):
#      format=folded is pprof-dump's folded text of the pprof answer, line
#      for line (once more if the target's memory moved in between).
#   2. threads and goroutine (debug=0): the same, one stack of count 1.
#   3. profile, wall, /debug/fgprof, growth, history: 200 text/plain,
#      every line "FRAMES VALUE"; for profile and wall the heaviest stack
#      is the one pprof-dump finds heaviest in a pprof window of that kind
#      and it ends in spin_mid;spin_leaf.
#   4. threads?debug=1&format=folded: 400 (text is not a profile).
. "$(dirname "$0")/lib.sh"
t_begin folded
need_pprof_dump

start_target spin 120
start_profd --continuous=99

# get URL OUT: 200 with the body in OUT, else fail.
get()
{
	local code
	code=$(fetch "$1" "$2")
	expect_status "GET ${1#"$BASE"}" "$code" 200
}

# well_formed FILE WHAT: every line is "FRAMES VALUE", FRAMES without spaces
# around ';' and VALUE an integer.
well_formed()
{
	local bad
	[[ $(header "$1.headers" Content-Type) == text/plain* ]] ||
	    fail "$2: Content-Type '$(header "$1.headers" Content-Type)', want text/plain"
	bad=$(grep -vE '^[^;]+(;[^;]+)* -?[0-9]+$' "$1" | first_lines 3 || true)
	[ -z "$bad" ] || fail "$2: not folded: $bad"
}

# same_as_pprof PATH: format=folded of PATH is pprof-dump's folded of
# PATH's pprof answer (sorted); one retry, for a target that moved.
same_as_pprof()
{
	local path=$1 sep="?" try
	[[ $path == *\?* ]] && sep=\&
	for try in 1 2; do
		fetch_profile "$BASE$path" "$TEST_DIR/p.pb.gz"
		get "$BASE$path${sep}format=folded" "$TEST_DIR/f"
		well_formed "$TEST_DIR/f" "$path"
		pdump folded "$TEST_DIR/p.pb.gz" | LC_ALL=C sort >"$TEST_DIR/want"
		LC_ALL=C sort "$TEST_DIR/f" >"$TEST_DIR/got"
		if cmp -s "$TEST_DIR/want" "$TEST_DIR/got"; then
			[ -s "$TEST_DIR/got" ] || fail "$path: both empty"
			ok "$path: format=folded is pprof-dump's folded text ($(wc -l <"$TEST_DIR/got") stacks)"
			return 0
		fi
		say "$path (try $try): differs: $(diff "$TEST_DIR/want" "$TEST_DIR/got" | first_lines 4 | tr '\n' ' ')"
	done
	fail "$path: format=folded differs from pprof-dump folded"
}

# ---- 1, 2. exact against pprof-dump ------------------------------------------
same_as_pprof /debug/pprof/memory
for path in /debug/pprof/threads /debug/pprof/goroutine?debug=0; do
	same_as_pprof "$path"
	if [ "$(wc -l <"$TEST_DIR/got")" != 1 ] ||
	    [[ $(cat "$TEST_DIR/got") != *spin_mid\;spin_leaf\ 1 ]]; then
		fail "$path: want one stack ending spin_mid;spin_leaf with count 1: $(cat "$TEST_DIR/got")"
	fi
done

# ---- 3. windows ------------------------------------------------------------------
# top FILE: the heaviest stack of folded text
top() { sort -t ' ' -k 2,2nr "$1" | first_line | sed 's/ [0-9-]*$//'; }
for kind in profile wall; do
	fetch_profile "$BASE/debug/pprof/$kind?seconds=1" "$TEST_DIR/$kind.pb.gz"
	pdump folded "$TEST_DIR/$kind.pb.gz" >"$TEST_DIR/$kind.want"
	get "$BASE/debug/pprof/$kind?seconds=1&format=folded" "$TEST_DIR/$kind.f"
	well_formed "$TEST_DIR/$kind.f" "$kind"
	want=$(top "$TEST_DIR/$kind.want")
	got=$(top "$TEST_DIR/$kind.f")
	[[ $got == *spin_mid\;spin_leaf ]] || fail "$kind: heaviest folded stack '$got'"
	[ "$got" = "$want" ] || fail "$kind: heaviest stack '$got', pprof-dump's '$want'"
	ok "$kind: folded, heaviest stack $got, as in pprof"
done
for path in "/debug/fgprof?seconds=1" "/debug/pprof/growth?seconds=1" \
    "/debug/pprof/history?seconds=60"; do
	get "$BASE$path&format=folded" "$TEST_DIR/other"
	well_formed "$TEST_DIR/other" "$path"
	ok "$path&format=folded: 200, $(wc -l <"$TEST_DIR/other") folded stacks"
done

# seconds=0 is 30 s on history too (as on the windows, t_metrics): a span
# given, and so one too many beside since= and until=
now=$(date +%s)
get "$BASE/debug/pprof/history?seconds=0&format=folded" "$TEST_DIR/h0"
expect_error "$BASE/debug/pprof/history?seconds=0&since=$((now - 60))&until=$now" 400
grep -q 'at most two of seconds=' "$TEST_DIR/err.$_nstarted" ||
    fail "history?seconds=0 with since= and until=: $(cat "$TEST_DIR/err.$_nstarted")"
ok "history?seconds=0: a 30 s span (200 alone, 400 beside since= and until=)"

# ---- 4. text dumps ----------------------------------------------------------------
expect_error "$BASE/debug/pprof/threads?debug=1&format=folded" 400
expect_error "$BASE/debug/pprof/profile?seconds=1&format=xml" 400

stop_profd
say "PASS folded"
