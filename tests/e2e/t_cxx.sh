#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_cxx - C++ target (tests/targets/cxx.cpp): demangled names of a class
# template member, a function template in a namespace, and the always_inline
# kernel<double> as an inline frame of its own above run(int), with file:line
# (absolute file names, as addr2line gives them, that go tool pprof -list
# reads).
# The expected names are what c++filt makes of the mangled names in the
# binary (nm for the symbols, DWARF for the inlined kernel, which has none).
. "$(dirname "$0")/lib.sh"
t_begin cxx
need_pprof_dump
need_go
for tool in c++filt nm objdump; do
	command -v "$tool" >/dev/null || fail "$tool: not installed (binutils)"
done

exe=$TARGET_DIR/cxx
SRC=$TARGET_SRC/cxx.cpp

# one_name WHAT LIST: LIST must hold exactly one name.
one_name()
{
	[ "$(printf '%s\n' "$2" | grep -c .)" = 1 ] ||
	    fail "want exactly one mangled name for $1, got: '$2'"
}
m_run=$(nm --defined-only "$exe" | awk '{ print $3 }' | sort -u |
    grep -E '^_ZN3geo11AccumulatorIdE3run' || true)
m_drive=$(nm --defined-only "$exe" | awk '{ print $3 }' | sort -u |
    grep -E '^_ZN3geo5driveIdE' || true)
m_kernel=$(objdump --dwarf=info "$exe" 2>/dev/null |
    awk '/DW_AT_(MIPS_)?linkage_name/ { print $NF }' | sort -u |
    grep -E '^_ZN3geo6detail6kernelIdE' || true)
one_name "Accumulator<double>::run (nm)" "$m_run"
one_name "drive<double> (nm)" "$m_drive"
one_name "detail::kernel<double> (DWARF)" "$m_kernel"
RUN=$(c++filt -p "$m_run")
DRIVE=$(c++filt -p "$m_drive")
KERNEL=$(c++filt -p "$m_kernel")
say "expected names (c++filt -p, no parameter lists, as perf prints them):"
say "  $m_run -> $RUN"
say "  $m_drive -> $DRIVE"
say "  $m_kernel -> $KERNEL (inlined)"
if [ "$RUN" = "$m_run" ] || [ "$KERNEL" = "$m_kernel" ]; then
	fail "c++filt did not demangle"
fi

start_target cxx 120
start_profd
P=$TEST_DIR/cxx.pb.gz
fetch_profile "$BASE/debug/pprof/profile?seconds=4" "$P"
S=$P.summary
mline=$(grep -F " $(realpath "$exe") build_id=" "$S" | first_line)
[ -n "$mline" ] || fail "no mapping for $exe: $(grep '^mapping' "$S")"
for f in has_functions=1 has_filenames=1 has_line_numbers=1 has_inline_frames=1; do
	case $mline in *"$f"*) ;; *) fail "mapping for cxx lacks $f: $mline" ;; esac
done
ok "mapping for cxx: has_functions, has_filenames, has_line_numbers, has_inline_frames"

# ---- pprof-dump: the chain, inline frame included, as the leaf ---------------
F=$TEST_DIR/folded
pdump folded "$P" >"$F" || fail "pprof-dump folded failed"
say "top stacks (pprof-dump folded):"
awk '{ print $NF "\t" $0 }' "$F" | sort -t "$(printf '\t')" -k 1,1nr |
    first_lines 4 | cut -f 2- | sed 's/^/  /'
T=$(fold_total "$F")
chain="main;$DRIVE;$RUN;$KERNEL"
expect_range "CPU in main;drive;run;kernel (inline) as the leaf (%)" \
    "$(pct "$(fold_sum_leaf "$F" "$chain")" "$T")" 80 100
if grep -Eq '(^|;)_Z[A-Za-z0-9_]+' "$F"; then
	fail "mangled names in the profile: $(grep -Eo '(^|;)_Z[A-Za-z0-9_]+' "$F" | sort -u | first_lines 3)"
fi
ok "no mangled names in the profile"

# file:line: kernel's frames are in kernel's body, run's at its call site.
FL=$TEST_DIR/folded-lines
pdump folded -L "$P" >"$FL" || fail "pprof-dump folded -L failed"
check_line()
{
	local name=$1 first=$2 lo hi good all
	read -r lo hi <<<"$(func_lines "$SRC" "$first")"
	read -r good all _ <<<"$(frames_in_lines "$FL" "$name" '(^|/)cxx\.cpp$' "$lo" "$hi")"
	[ "$all" -gt 0 ] || fail "$name: not in pprof-dump folded -L"
	expect_range "$name at cxx.cpp:$lo-$hi (% of its CPU)" "$(pct "$good" "$all")" 95 100
}
check_line "$KERNEL" kernel
check_line "$RUN" 'Accumulator<T>::run'
check_line "$DRIVE" drive

# ---- go tool pprof ----------------------------------------------------------
TB=$TEST_DIR/top
pprof_table "$P" >"$TB" || fail "go tool pprof -top failed"
say "go tool pprof -top:"
head -n 6 "$TB" | sed 's/^/  /'
expect_range "go tool pprof: flat% of '$KERNEL (inline)'" \
    "$(table_get "$TB" "$KERNEL (inline)" 1)" 80 100
# kernel's loop is all of run's work, so the share above holds on any CPU;
# each PC's inline frames are also checked against addr2line -i.
read -r good all ex <<<"$(leaf_frames_vs_addr2line "$P" "$exe")"
[ "$all" -gt 0 ] || fail "no sample with a leaf PC in $exe to check ($ex)"
expect_range "samples whose leaf frames match addr2line -i at their PC (%; first mismatch: $ex)" \
    "$(pct "$good" "$all")" 100 100
# and every frame's source file, callers included, absolute as addr2line
# names it; go tool pprof -list reads the source by that name, from /.
check_source_files "$P" "$exe" "$SRC" "$KERNEL" "$RUN"
expect_range "go tool pprof: cum% of '$RUN'" "$(table_get "$TB" "$RUN" 2)" 80 100
expect_range "go tool pprof: cum% of '$DRIVE'" "$(table_get "$TB" "$DRIVE" 2)" 80 100

TR=$TEST_DIR/traces
pprof_traces_folded "$P" >"$TR" || fail "go tool pprof -traces failed"
grep -Fq "$chain " "$TR" || fail "go tool pprof -traces: no trace $chain: $(head -n 3 "$TR")"
ok "go tool pprof -traces: $chain"

wait_untraced 5 || fail "profd still attached 5 s after the window ended"
stop_profd
assert_target_ok
say "PASS cxx"
