#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_unnamed - frames that cannot be named still count: a fully stripped copy
# of the spin target (no .symtab, no DWARF, no exported function: nothing in
# it has a name anywhere).  Every sample is kept, with its whole stack; each
# frame in spin is [spin+0xOFF], OFF being the file offset of an address
# inside spin_leaf, spin_mid, spin_root and main; the mapping keeps spin's
# build-id and is not marked as symbolized, so that pprof, given the
# unstripped file, names the frames afterwards.
. "$(dirname "$0")/lib.sh"
t_begin unnamed
need_pprof_dump
need_go
for tool in objcopy readelf nm; do
	command -v "$tool" >/dev/null || fail "$tool: not installed (binutils)"
done

ORIG=$TEST_DIR/orig
BARE=$TEST_DIR/bare
mkdir -p "$ORIG" "$BARE"
cp "$TARGET_DIR/spin" "$ORIG/spin"
objcopy --strip-all "$TARGET_DIR/spin" "$BARE/spin" || fail "objcopy failed"
[ -z "$(nm "$BARE/spin" 2>/dev/null)" ] || fail "$BARE/spin still has symbols"
[ -z "$(nm -D --defined-only "$BARE/spin" 2>/dev/null | awk '$2 ~ /[Tt]/')" ] ||
    fail "$BARE/spin exports functions"
BID=$(readelf -n "$BARE/spin" | awk '/Build ID:/ && !done { print $3; done = 1 }')
[ -n "$BID" ] || fail "spin has no build-id"

# Each function's bytes in the file, from the unstripped copy: "NAME LO HI"
# (decimal file offsets, through the PT_LOAD that holds the symbol).
RANGES=$TEST_DIR/ranges
nm -S --defined-only "$ORIG/spin" | awk '$3 ~ /^[Tt]$/ { print $4, $1, $2 }' |
    while read -r name a s; do
	a=$((16#$a)) s=$((16#$s))
	while read -r typ off va _ fsz rest; do
		[ "$typ" = LOAD ] || continue
		if ((a >= va && a < va + fsz)); then
			echo "$name $((a - va + off)) $((a - va + off + s))"
			break
		fi
	done < <(readelf -lW "$ORIG/spin")
done >"$RANGES"
for f in spin_leaf spin_mid spin_root main; do
	grep -q "^$f " "$RANGES" || fail "no range for $f in $ORIG/spin"
done

start_target_cmd spin "$BARE/spin" 120
start_profd
P=$TEST_DIR/bare.pb.gz
SECS=3
fetch_profile "$BASE/debug/pprof/profile?seconds=$SECS" "$P"
S=$P.summary

mline=$(grep -F " $BARE/spin build_id=" "$S" | first_line || true)
case $mline in
*"build_id=$BID has_functions=0 "*) ok "mapping: $mline" ;;
*) fail "mapping for the stripped spin: '$mline', want build_id=$BID has_functions=0" ;;
esac

# Every sample kept: spin is busy all the time, so a sample at (nearly)
# every tick the sampler made (profd's own count, in its comment: how many
# ticks a loaded machine allows is not this test's business), and a tick
# finds it not to have run since the last one only when the machine is
# too busy to run it at all.
nsamples=$(summary_get "$S" 'total[0]')
ticks=$(comment_count "$S" ticks)
[ -n "$ticks" ] || fail "no tick count in profd's comment: $(grep '^comment' "$S")"
expect_range "ticks in ${SECS} s at 99 Hz" "$ticks" $((SECS * 99 / 4)) $((SECS * 99 * 11 / 10))
expect_range "samples in ${SECS} s at 99 Hz of a busy thread ($ticks ticks)" "$nsamples" \
    $((ticks / 2)) "$ticks"

F=$TEST_DIR/folded
pdump folded "$P" >"$F" || fail "pprof-dump folded failed"
say "top stack: $(head -n 1 "$F")"
T=$(fold_total "$F")
# The last four frames of each stack, turned back into function names by
# their offsets: the chain must be main;spin_root;spin_mid;spin_leaf.
good=$(awk -v rf="$RANGES" '
function hex(s,    i, v) {
	v = 0
	for (i = 1; i <= length(s); i++)
		v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
	return v
}
function fn(frame,    off, k) {
	if (frame !~ /^\[spin\+0x[0-9a-f]+\]$/)
		return "?"
	off = hex(substr(frame, 9, length(frame) - 9))
	for (k = 1; k <= nr; k++)
		if (off >= lo[k] && off < hi[k])
			return nm[k]
	return "?"
}
BEGIN {
	while ((getline line < rf) > 0) {
		split(line, a, " ")
		nr++; nm[nr] = a[1]; lo[nr] = a[2]; hi[nr] = a[3]
	}
}
{
	v = $NF
	n = split(substr($0, 1, length($0) - length($NF) - 1), f, ";")
	if (n >= 4 && fn(f[n]) == "spin_leaf" && fn(f[n - 1]) == "spin_mid" &&
	    fn(f[n - 2]) == "spin_root" && fn(f[n - 3]) == "main")
		t += v
} END { printf "%.0f\n", t }' "$F")
expect_range "CPU whose last four frames are [spin+0xOFF] in main, spin_root, spin_mid, spin_leaf (%)" \
    "$(pct "$good" "$T")" 95 100

# Re-symbolize later with one's own copy of the file.  Go 1.19's go tool
# pprof reports no build-id for local files (cmd/pprof/pprof.go: "No
# support for build ID"), so it cannot match them through
# PPROF_BINARY_PATH as the standalone pprof does; it takes the file on its
# command line, and symbolizes mappings that are not marked as symbolized.
TR=$TEST_DIR/traces
pprof_traces_folded "$P" -symbolize=local "$ORIG/spin" >"$TR" 2>"$TR.err" ||
    fail "go tool pprof -symbolize=local failed: $(head -n 3 "$TR.err")"
say "go tool pprof -symbolize=local $ORIG/spin: $(head -n 1 "$TR")"
chain="main;spin_root;spin_mid;spin_leaf"
expect_range "go tool pprof -symbolize=local with the unstripped file: CPU in $chain (%)" \
    "$(pct "$(awk -v c=";$chain " 'index(";" $0, c) { t += $NF } END { printf "%.0f\n", t }' "$TR")" \
    "$(fold_total "$TR")")" 95 100

wait_untraced 5 || fail "profd still attached 5 s after the window ended"
stop_profd
assert_target_ok
say "PASS unnamed"
