#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_stripped - stripped binaries: the shlib target and its libhot.so with
# .symtab and DWARF removed (objcopy --strip-all), their debug information
# in separate files (objcopy --only-keep-debug) that profd must find:
#   next      .gnu_debuglink, debug files next to the binaries
#   dotdebug  .gnu_debuglink, debug files in the binaries' .debug/
#   buildid   no debug link; debug files only under the target's root as
#             /usr/lib/debug/.build-id/xx/rest.debug (a chroot, so that
#             profd's own /usr/lib/debug has nothing)
#   chroot    .gnu_debuglink inside a chroot: /app/shlib.debug exists only
#             under the target's root
# In each, lib_hot (a static function: no .dynsym entry) and its callers
# must be named with file:line, exactly as without stripping.  Then
#   dynsym    no debug files anywhere: lib_outer (exported) is named from
#             .dynsym; lib_hot is [libhot.so+0xOFF] with OFF inside lib_hot
#             in the file.
. "$(dirname "$0")/lib.sh"
t_begin stripped
need_pprof_dump
need_go
for tool in objcopy readelf nm chroot ldd; do
	command -v "$tool" >/dev/null || fail "$tool: not installed (binutils, coreutils, libc-bin)"
done

EXE=$TARGET_DIR/shlib
LIB=$TARGET_DIR/libhot.so
CHAIN="main;run_work;lib_outer;lib_hot"
read -r LO HI <<<"$(func_lines "$TARGET_SRC/libhot.c" lib_hot)"

bid_of() { readelf -n "$1" | awk '/Build ID:/ && !done { print $3; done = 1 }'; }

# sym_file_range FILE SYMBOL: "START END" file offsets of SYMBOL's bytes in
# FILE (from its .symtab, through the PT_LOAD that contains it), decimal.
sym_file_range()
{
	local a s typ off va fsz rest
	read -r a s <<<"$(nm -S --defined-only "$1" | awk -v n="$2" '$4 == n && !done { print $1, $2; done = 1 }')"
	[ -n "$a" ] || return 0
	a=$((16#$a)) s=$((16#$s))
	while read -r typ off va _ fsz rest; do
		[ "$typ" = LOAD ] || continue
		if ((a >= va && a < va + fsz)); then
			echo "$((a - va + off)) $((a - va + off + s))"
			return 0
		fi
	done < <(readelf -lW "$1")
}
EXE_BID=$(bid_of "$EXE")
LIB_BID=$(bid_of "$LIB")
if [ -z "$EXE_BID" ] || [ -z "$LIB_BID" ]; then
	fail "the targets have no build-id"
fi

DBG=$TEST_DIR/debug
mkdir -p "$DBG"
objcopy --only-keep-debug "$EXE" "$DBG/shlib.debug" ||
    fail "objcopy --only-keep-debug $EXE failed"
objcopy --only-keep-debug "$LIB" "$DBG/libhot.so.debug" ||
    fail "objcopy --only-keep-debug $LIB failed"

# strip_to DIR [link]: stripped copies of shlib and libhot.so in DIR, with a
# .gnu_debuglink to their debug files when asked.
strip_to()
{
	local dir=$1 link=${2:-} f secs
	mkdir -p "$dir"
	for f in shlib libhot.so; do
		if [ -n "$link" ]; then
			objcopy --strip-all --add-gnu-debuglink="$DBG/$f.debug" \
			    "$TARGET_DIR/$f" "$dir/$f" || fail "objcopy $f failed"
		else
			objcopy --strip-all "$TARGET_DIR/$f" "$dir/$f" ||
			    fail "objcopy $f failed"
		fi
		secs=$(readelf -SW "$dir/$f")
		if grep -Eq ' \.(symtab|debug_info|debug_line) ' <<<"$secs"; then
			fail "$dir/$f still has .symtab or DWARF"
		fi
		[ "$(bid_of "$dir/$f")" = "$(bid_of "$TARGET_DIR/$f")" ] ||
		    fail "$dir/$f lost its build-id"
	done
}

# make_root DIR: a minimal root for chroot: the C library and the dynamic
# loader at the paths the target asks for, and /app/ for the target.
make_root()
{
	local root=$1 so
	mkdir -p "$root/app"
	for so in $(ldd "$EXE" | awk '$2 == "=>" && $3 ~ /^\// && $1 != "libhot.so" { print $3 }
	    $1 ~ /^\// { print $1 }'); do
		mkdir -p "$root$(dirname "$so")"
		cp -L "$so" "$root$so" || fail "cp $so failed"
	done
}

# check_named NAME MAPPATH: profile the running target (TARGET_PID) and
# check that lib_hot and its callers have names and file:line; MAPPATH is
# the executable's directory as /proc/PID/maps shows it to us (for a chroot,
# the kernel prints paths from the reader's root: ours).
check_named()
{
	local name=$1 dir=$2 P S F FL m f bid line good all
	start_profd
	P=$TEST_DIR/$name.pb.gz
	fetch_profile "$BASE/debug/pprof/profile?seconds=3" "$P"
	S=$P.summary
	for m in "shlib $EXE_BID" "libhot.so $LIB_BID"; do
		read -r f bid <<<"$m"
		line=$(grep -F " $dir/$f build_id=" "$S" | first_line || true)
		[ -n "$line" ] || fail "$name: no mapping for $dir/$f: $(grep '^mapping' "$S" | first_lines 4)"
		case $line in
		*"build_id=$bid has_functions=1 has_filenames=1 has_line_numbers=1"*) ;;
		*) fail "$name: mapping for $f: $line" ;;
		esac
	done
	ok "$name: mappings of shlib and libhot.so: right build-ids, functions, files, lines"
	F=$TEST_DIR/$name.folded
	pdump folded "$P" >"$F" || fail "pprof-dump folded failed"
	say "top stack: $(head -n 1 "$F")"
	expect_range "$name: CPU in $CHAIN as the leaf (%)" \
	    "$(pct "$(fold_sum_leaf "$F" "$CHAIN")" "$(fold_total "$F")")" 90 100
	FL=$TEST_DIR/$name.folded-lines
	pdump folded -L "$P" >"$FL" || fail "pprof-dump folded -L failed"
	read -r good all <<<"$(awk -v lo="$LO" -v hi="$HI" '{
		v = $NF
		n = split(substr($0, 1, length($0) - length($NF) - 1), fr, ";")
		if (substr(fr[n], 1, 8) != "lib_hot@")
			next
		all += v
		line = fr[n]; sub(/.*:/, "", line)
		if (fr[n] ~ /(^|\/)libhot\.c:[0-9]+$/ && line + 0 >= lo && line + 0 <= hi)
			good += v
	} END { printf "%.0f %.0f\n", good, all }' "$FL")"
	[ "$all" -gt 0 ] || fail "$name: no lib_hot leaf frames"
	expect_range "$name: lib_hot at libhot.c:$LO-$HI (% of its CPU)" "$(pct "$good" "$all")" 95 100
	wait_untraced 5 || fail "profd still attached 5 s after the window ended"
	stop_profd
	assert_target_ok
	kill "$TARGET_PID"
}

# ---- debug link, debug files next to the binaries ---------------------------
D=$TEST_DIR/next
strip_to "$D" link
cp "$DBG/shlib.debug" "$DBG/libhot.so.debug" "$D/"
start_target_cmd next "$D/shlib" 120
check_named next "$D"

# ---- debug link, debug files in .debug/ ---------------------------------------
D=$TEST_DIR/dotdebug
strip_to "$D" link
mkdir -p "$D/.debug"
cp "$DBG/shlib.debug" "$DBG/libhot.so.debug" "$D/.debug/"
start_target_cmd dotdebug "$D/shlib" 120
check_named dotdebug "$D"

# ---- build-id directory, only in the target's root -----------------------------
R=$TEST_DIR/root-buildid
make_root "$R"
strip_to "$R/app"
for m in "shlib $EXE_BID" "libhot.so $LIB_BID"; do
	read -r f bid <<<"$m"
	bdir=$R/usr/lib/debug/.build-id/${bid:0:2}
	mkdir -p "$bdir"
	cp "$DBG/$f.debug" "$bdir/${bid:2}.debug"
	[ ! -e "/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug" ] ||
	    fail "/usr/lib/debug/.build-id has $f's debug file: the test would prove nothing"
done
# No /proc in the chroot, so ld.so cannot expand $ORIGIN: LD_LIBRARY_PATH.
start_target_cmd buildid env LD_LIBRARY_PATH=/app chroot "$R" /app/shlib 120
check_named buildid "$R/app"

# ---- debug link inside a chroot ----------------------------------------------
R=$TEST_DIR/root-link
make_root "$R"
strip_to "$R/app" link
cp "$DBG/shlib.debug" "$DBG/libhot.so.debug" "$R/app/"
start_target_cmd chroot env LD_LIBRARY_PATH=/app chroot "$R" /app/shlib 120
check_named chroot "$R/app"

# ---- .dynsym only -------------------------------------------------------------------
D=$TEST_DIR/dynsym
strip_to "$D"
start_target_cmd dynsym "$D/shlib" 120
start_profd
P=$TEST_DIR/dynsym.pb.gz
fetch_profile "$BASE/debug/pprof/profile?seconds=3" "$P"
F=$TEST_DIR/dynsym.folded
pdump folded "$P" >"$F" || fail "pprof-dump folded failed"
say "top stack: $(head -n 1 "$F")"
T=$(fold_total "$F")
# lib_hot's bytes in the file: its symbol in the unstripped library, through
# the PT_LOAD that holds it.
read -r hot_off hot_end <<<"$(sym_file_range "$LIB" lib_hot)"
[ -n "$hot_off" ] || fail "cannot find lib_hot in $LIB"
read -r good all <<<"$(awk -v lo="$hot_off" -v hi="$hot_end" '
function hex(s,    i, v) {
	v = 0
	for (i = 1; i <= length(s); i++)
		v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
	return v
}
{
	v = $NF
	n = split(substr($0, 1, length($0) - length($NF) - 1), fr, ";")
	if (n < 2 || fr[n - 1] != "lib_outer")
		next
	all += v
	if (fr[n] ~ /^\[libhot\.so\+0x[0-9a-f]+\]$/) {
		off = hex(substr(fr[n], 14, length(fr[n]) - 14))
		if (off >= lo && off < hi)
			good += v
	}
} END { printf "%.0f %.0f\n", good, all }' "$F")"
expect_range "dynsym: CPU under lib_outer, named from .dynsym (%)" "$(pct "$all" "$T")" 90 100
expect_range "dynsym: of that, in [libhot.so+0xOFF] with OFF in lib_hot ($(printf '0x%x-0x%x' "$hot_off" "$hot_end")) (%)" \
    "$(pct "$good" "$all")" 95 100
wait_untraced 5 || fail "profd still attached 5 s after the window ended"
stop_profd
assert_target_ok
say "PASS stripped"
