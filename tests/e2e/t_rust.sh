#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_rust - Rust target (tests/targets/rust/hot.rs) built with both symbol
# manglings, legacy (_ZN...17h<hash>E) and v0 (_R...): demangled names
# without hash or crate disambiguator, a trait method of a generic struct,
# a generic function (v0 names its type parameter), the #[inline(always)]
# helper as an inline frame of its own, and file:line in hot.rs (file names
# absolute, as addr2line gives them, that go tool pprof -list reads).
. "$(dirname "$0")/lib.sh"
t_begin rust
need_pprof_dump
need_go

SRC=$TARGET_SRC/rust/hot.rs
if [ ! -x "$TARGET_DIR/rust-legacy" ] || [ ! -x "$TARGET_DIR/rust-v0" ]; then
	command -v rustc >/dev/null ||
	    skip "rustc: not installed (scripts/deps.sh installs Debian's rustc)"
	fail "$TARGET_DIR/rust-legacy, rust-v0: not built (make targets)"
fi

# Source lines the frames must point at: mix's body, the call of mix in
# step, the call of step in drive.
mix_lo=$(grep -n '^    fn mix(' "$SRC" | cut -d: -f1)
mix_hi=$(awk -v lo="$mix_lo" 'NR > lo && /^    }/ { print NR; exit }' "$SRC")
call_mix=$(grep -n 'x = mix(x);' "$SRC" | cut -d: -f1)
for_mix=$(grep -n 'for _ in 0\.\.n {' "$SRC" | cut -d: -f1)
call_step=$(grep -n 's\.step(1_000_000)' "$SRC" | cut -d: -f1)
if [ -z "$mix_lo" ] || [ -z "$mix_hi" ] || [ -z "$call_mix" ] ||
    [ -z "$call_step" ] || [ -z "$for_mix" ] || [ "$for_mix" -gt "$call_mix" ]; then
	fail "cannot find the expected lines in $SRC"
fi
say "hot.rs: mix at $mix_lo-$mix_hi, called at $call_mix; step called at $call_step"

MIX='hot::kernel::mix'
STEP='<hot::kernel::Mixer<u64> as hot::kernel::Step>::step'

# check_variant NAME DRIVE NM_PATTERN
check_variant()
{
	local name=$1 drive=$2 pat=$3 exe syms P S F FL T chain mline bad TB TR good all ex
	exe=$TARGET_DIR/$name
	say "--- $name"
	# The binary really uses the scheme this variant is about.
	syms=$(nm --defined-only "$exe" | awk '{ print $3 }')
	grep -Eq "$pat" <<<"$syms" ||
	    fail "$exe: no symbol matching $pat: not built with that mangling"
	ok "$name: symbols match $pat"

	start_target "$name" 120
	start_profd
	P=$TEST_DIR/$name.pb.gz
	fetch_profile "$BASE/debug/pprof/profile?seconds=4" "$P"
	S=$P.summary
	mline=$(grep -F " $(realpath "$exe") build_id=" "$S" | first_line)
	[ -n "$mline" ] || fail "no mapping for $exe: $(grep '^mapping' "$S")"
	for f in has_functions=1 has_filenames=1 has_line_numbers=1 \
	    has_inline_frames=1; do
		case $mline in *"$f"*) ;; *) fail "mapping for $name lacks $f: $mline" ;; esac
	done
	ok "mapping for $name: has_functions, has_filenames, has_line_numbers, has_inline_frames"

	F=$TEST_DIR/$name.folded
	pdump folded "$P" >"$F" || fail "pprof-dump folded failed"
	say "top stacks (pprof-dump folded, from hot::main):"
	awk '{ print $NF "\t" $0 }' "$F" | sort -t "$(printf '\t')" -k 1,1nr |
	    first_lines 3 | cut -f 2- | sed 's/^.*;hot::main;/  ...;hot::main;/'
	T=$(fold_total "$F")
	# All the CPU is in step's loop; how it splits between the inlined
	# mix (and wrapping_mul inlined in it) and the loop control (Range's
	# next, inlined in step) is the CPU model's business: 78 to 86 % in
	# mix have been seen. Each PC's frames are checked further down.
	chain="hot::main;$drive;$STEP"
	expect_range "$name: CPU under $chain (%)" \
	    "$(pct "$(fold_sum "$F" "$chain")" "$T")" 90 100
	chain="$chain;$MIX"
	expect_range "$name: CPU in $chain (%, some)" \
	    "$(pct "$(fold_sum "$F" "$chain")" "$T")" 1 100

	# Nothing mangled, no legacy hash, no v0 crate disambiguator.
	bad=$(tr ';' '\n' <"$F" | sed 's/ [0-9]*$//' |
	    grep -E '^_(ZN|R[A-Z])|::h[0-9a-f]{16}$|\[[0-9a-f]{16}\]' |
	    sort -u | first_lines 3 || true)
	[ -z "$bad" ] || fail "$name: names not demangled: $bad"
	ok "$name: no mangled names, hashes or crate disambiguators"

	# file:line for each frame of the chain.
	FL=$TEST_DIR/$name.folded-lines
	pdump folded -L "$P" >"$FL" || fail "pprof-dump folded -L failed"
	check_lines "$FL" "$MIX" "$mix_lo" "$mix_hi"
	# step's own frame is at the call of mix, or at its for loop where the
	# leaf is the loop control inlined in it: a share the CPU decides
	# (6 % of the loop's samples have been seen there)
	check_lines "$FL" "$STEP" "$for_mix" "$call_mix"
	check_lines "$FL" "$drive" "$call_step" "$call_step"

	TB=$TEST_DIR/$name.top
	pprof_table "$P" >"$TB" || fail "go tool pprof -top failed"
	say "go tool pprof -top:"
	head -n 4 "$TB" | sed 's/^/  /'
	# How much of the CPU the inlined mix has, against step's loop
	# control, depends on the CPU model: each PC's frames are checked
	# against addr2line -i instead, and mix must have some.
	read -r good all ex <<<"$(leaf_frames_vs_addr2line "$P" "$exe")"
	[ "$all" -gt 0 ] || fail "$name: no sample with a leaf PC in $exe to check ($ex)"
	expect_range "$name: samples whose leaf frames match addr2line -i at their PC (%; first mismatch: $ex)" \
	    "$(pct "$good" "$all")" 100 100
	# Every frame's source file, callers and the standard library's
	# included, absolute as addr2line names it (DW_AT_comp_dir joined);
	# go tool pprof -list reads hot.rs by that name, from /.
	check_source_files "$P" "$exe" "$SRC" "$MIX" "$STEP"
	expect_range "$name: go tool pprof flat% of '$MIX (inline)'" \
	    "$(table_get "$TB" "$MIX (inline)" 1)" 1 100
	expect_range "$name: go tool pprof cum% of '$drive'" \
	    "$(table_get "$TB" "$drive" 2)" 80 100
	TR=$TEST_DIR/$name.traces
	pprof_traces_folded "$P" >"$TR" || fail "go tool pprof -traces failed"
	grep -Fq "$chain " "$TR" ||
	    fail "go tool pprof -traces: no trace with $chain: $(head -n 2 "$TR")"
	ok "go tool pprof -traces: ...;$chain"

	wait_untraced 5 || fail "profd still attached 5 s after the window ended"
	stop_profd
	assert_target_ok
	kill "$TARGET_PID"
}

# check_lines FOLDED_L NAME LO HI: NAME's frames are at hot.rs:LO..HI (95 %
# of its CPU at least).
check_lines()
{
	local good all
	read -r good all _ <<<"$(frames_in_lines "$1" "$2" '(^|/)hot\.rs$' "$3" "$4")"
	[ "$all" -gt 0 ] || fail "$2: not in pprof-dump folded -L"
	expect_range "$2 at hot.rs:$3-$4 (% of its CPU)" "$(pct "$good" "$all")" 95 100
}

check_variant rust-legacy 'hot::kernel::drive' '^_ZN3hot6kernel5drive17h[0-9a-f]{16}E$'
check_variant rust-v0 'hot::kernel::drive::<hot::kernel::Mixer<u64>>' \
    '^_R.*3hot6kernel5drive'
say "PASS rust"
