#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_container - a target is symbolized from the file it actually runs, even
# when the path in its maps names another file (or nothing) for profd:
#   mountns   the spin target in its own mount namespace (unshare -m), where
#             a directory is bind-mounted over DIR: there DIR/app is a
#             stripped spin with its debug file DIR/app.debug (found through
#             .gnu_debuglink), while profd's DIR/app is another program and
#             profd's DIR has no app.debug
#   deleted   spin's executable removed after it started
#   replaced  spin's executable replaced (rename over it, as package
#             managers and deploys do) by another program after it started
# Each runs twice: profd as root, which opens the mapped files through
# /proc/PID/map_files, and profd without CAP_SYS_ADMIN (setpriv), which is
# refused map_files and must use /proc/PID/root and /proc/PID/exe.  The
# profile must name spin_leaf, spin_mid, spin_root and main, with file:line
# in spin.c (named as spin's build named it, not through the target's
# root), and carry spin's build-id.
. "$(dirname "$0")/lib.sh"
t_begin container
need_pprof_dump
for tool in unshare setpriv mount objcopy readelf; do
	command -v "$tool" >/dev/null || fail "$tool: not installed (util-linux, binutils)"
done
[ "$(id -u)" = 0 ] || skip "needs root: mount namespaces, bind mounts and CAP_SYS_ADMIN"

SPIN=$TARGET_DIR/spin
OTHER=$TARGET_DIR/syscalls	# any other program
CHAIN="main;spin_root;spin_mid;spin_leaf"
read -r LO HI <<<"$(func_lines "$TARGET_SRC/spin.c" spin_leaf)"
bid_of() { readelf -n "$1" | awk '/Build ID:/ && !done { print $3; done = 1 }'; }
SPIN_BID=$(bid_of "$SPIN")
[ "$SPIN_BID" != "$(bid_of "$OTHER")" ] || fail "spin and syscalls have one build-id"
# shellcheck disable=SC2054  # the commas belong to setpriv's arguments
NOCAP=(setpriv --inh-caps=-sys_admin,-checkpoint_restore
    --bounding-set=-sys_admin,-checkpoint_restore)

# check_spin NAME MAPFILE [nocap]: profile TARGET_PID, check the chain with
# file:line and that MAPFILE's mapping has spin's build-id.
check_spin()
{
	local name=$1 mapfile=$2 P S F FL mline good all capeff m
	if [ "${3:-}" = nocap ]; then
		PROFD_WRAP=("${NOCAP[@]}")
		name="$name, no CAP_SYS_ADMIN"
	fi
	start_profd
	PROFD_WRAP=()
	if [ "${3:-}" = nocap ]; then
		capeff=$(awk '/^CapEff:/ { print $2 }' "/proc/$PROFD_PID/status")
		if (((16#$capeff >> 21) & 1)); then
			fail "$name: profd still has CAP_SYS_ADMIN (CapEff $capeff)"
		fi
		m=$(find "/proc/$TARGET_PID/map_files" -mindepth 1 -maxdepth 1 \
		    -printf '%f\n' | first_line)
		if "${NOCAP[@]}" head -c 1 "/proc/$TARGET_PID/map_files/$m" >/dev/null 2>&1; then
			fail "$name: map_files is readable without CAP_SYS_ADMIN: the other paths are not tested"
		fi
	fi
	P=$TEST_DIR/${name//[^a-z]/_}.pb.gz
	fetch_profile "$BASE/debug/pprof/profile?seconds=2" "$P"
	S=$P.summary
	mline=$(grep -F " $mapfile build_id=" "$S" | first_line || true)
	case $mline in
	*"build_id=$SPIN_BID has_functions=1 has_filenames=1 has_line_numbers=1"*)
		ok "$name: mapping $mapfile: spin's build-id, functions, lines" ;;
	*) fail "$name: mapping for $mapfile: '$mline', want build_id=$SPIN_BID, symbolized" ;;
	esac
	F=$TEST_DIR/${name//[^a-z]/_}.folded
	pdump folded "$P" >"$F" || fail "pprof-dump folded failed"
	expect_range "$name: CPU in $CHAIN as the leaf (%)" \
	    "$(pct "$(fold_sum_leaf "$F" "$CHAIN")" "$(fold_total "$F")")" 90 100
	FL=$F-lines
	pdump folded -L "$P" >"$FL" || fail "pprof-dump folded -L failed"
	# The file as spin's build named it, whichever root the DWARF came
	# from: never with a /proc/PID/root prefix.
	read -r good all <<<"$(awk -v lo="$LO" -v hi="$HI" -v src="$TARGET_SRC/spin.c" '{
		n = split($0, fr, ";"); leaf = fr[n]; sub(/ [0-9]+$/, "", leaf)
		if (leaf !~ /^spin_leaf@/) next
		all += $NF
		line = leaf; sub(/.*:/, "", line)
		file = leaf; sub(/^[^@]*@/, "", file); sub(/:[0-9]+$/, "", file)
		if (file == src && line + 0 >= lo && line + 0 <= hi)
			good += $NF
	} END { printf "%.0f %.0f\n", good, all }' "$FL")"
	[ "$all" -gt 0 ] || fail "$name: no spin_leaf leaf frames"
	expect_range "$name: spin_leaf at $TARGET_SRC/spin.c:$LO-$HI (%)" "$(pct "$good" "$all")" 95 100
	wait_untraced 5 || fail "profd still attached 5 s after the window ended"
	stop_profd
	assert_target_ok
}

# ---- another mount namespace ----------------------------------------------------
DIR=$TEST_DIR/ns/dir
REAL=$TEST_DIR/ns/real
mkdir -p "$DIR" "$REAL"
cp "$OTHER" "$DIR/app"
objcopy --only-keep-debug "$SPIN" "$REAL/app.debug" ||
    fail "objcopy --only-keep-debug failed"
objcopy --strip-all --add-gnu-debuglink="$REAL/app.debug" "$SPIN" \
    "$REAL/app" || fail "objcopy --strip-all failed"
# unshare without --fork, sh and the target exec: the target keeps the PID
# we started.  Private propagation: the bind mount stays in there.
# shellcheck disable=SC2016  # $1 and $2 are sh -c's
start_target_cmd mountns unshare -m --propagation private \
    sh -c 'mount --bind "$1" "$2" && exec "$2/app" 120' sh "$REAL" "$DIR"
[ "$(bid_of "/proc/$TARGET_PID/root$DIR/app")" = "$SPIN_BID" ] ||
    fail "the target's $DIR/app is not spin"
if [ "$(bid_of "$DIR/app")" = "$SPIN_BID" ] || [ -e "$DIR/app.debug" ]; then
	fail "our $DIR/app is spin, or app.debug is there: the test would prove nothing"
fi
[ "$(readlink "/proc/$TARGET_PID/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] ||
    fail "the target is in our mount namespace"
check_spin mountns "$DIR/app"
check_spin mountns "$DIR/app" nocap
kill "$TARGET_PID"

# ---- deleted after start --------------------------------------------------------------
mkdir -p "$TEST_DIR/del"
cp "$SPIN" "$TEST_DIR/del/spin"
start_target_cmd deleted "$TEST_DIR/del/spin" 120
rm "$TEST_DIR/del/spin"
grep -q "$TEST_DIR/del/spin (deleted)" "/proc/$TARGET_PID/maps" ||
    fail "maps does not show the executable as deleted"
check_spin deleted "$TEST_DIR/del/spin"
check_spin deleted "$TEST_DIR/del/spin" nocap
kill "$TARGET_PID"

# ---- replaced after start ----------------------------------------------------------------
mkdir -p "$TEST_DIR/rep"
cp "$SPIN" "$TEST_DIR/rep/app"
start_target_cmd replaced "$TEST_DIR/rep/app" 120
cp "$OTHER" "$TEST_DIR/rep/app.new"
mv -f "$TEST_DIR/rep/app.new" "$TEST_DIR/rep/app"
[ "$(bid_of "$TEST_DIR/rep/app")" != "$SPIN_BID" ] || fail "the replacement is spin"
check_spin replaced "$TEST_DIR/rep/app"
check_spin replaced "$TEST_DIR/rep/app" nocap
kill "$TARGET_PID"
say "PASS container"
