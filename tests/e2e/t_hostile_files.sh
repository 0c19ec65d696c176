#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_hostile_files - files a target controls are an adversary's data
# (DESIGN.md 7); each case below once made profd crash, read a file outside
# the target's root, or hang:
#   truncate  the target truncates a library it has mapped (keeping the code
#             it runs) after profd opened it: profd's mapping of the unwind
#             tables behind the cut faults with SIGBUS. profd must answer
#             200, stay up and count the pages in /metrics.
#   escape    a chroot'ed target (its own mount namespace) whose debug file,
#             found through .gnu_debuglink, is a symlink out of its root to a
#             host-only copy of the real debug file: absolute, and with "../"
#             climbing out. Its function names must not appear. A control
#             round with the same file as a regular file inside the root must
#             name them (so the check can fail).
#   mutants   debug files with some bytes of their DWARF changed or cut
#             short, taken by profd (their CRC matches) and parsed by libdw
#   fifo      the debug file is a FIFO: the target's profile answers, and a
#             second target served by the same profd answers meanwhile.
# Every profd ends with SIGTERM, status 0, no sanitizer report; the targets
# are left running and untraced.
. "$(dirname "$0")/lib.sh"
t_begin hostile_files
need_pprof_dump
for tool in unshare chroot mount objcopy readelf mkfifo truncate; do
	command -v "$tool" >/dev/null || fail "$tool: not installed (util-linux, coreutils, binutils)"
done
[ "$(id -u)" = 0 ] || skip "needs root: mount namespaces and chroot"

# ---- truncate ----------------------------------------------------------------
LIB=$TEST_DIR/lib/libhot-copy.so
mkdir -p "$TEST_DIR/lib"
cp "$TARGET_DIR/libhot.so" "$LIB"
# keep up to the end of the executable segment, page-rounded: the code the
# loop runs stays, .eh_frame_hdr and .eh_frame after it go
keep=$(LC_ALL=C readelf -lW "$LIB" | awk "$_AWK_HEX"'
	$1 == "LOAD" && / R E / { e = hex($2) + hex($5) }
	END { printf "%d\n", int((e + 4095) / 4096) * 4096 }')
eh=$(LC_ALL=C readelf -SW "$LIB" | awk '$2 == ".eh_frame_hdr" { print $5 }')
[ "$keep" -gt 0 ] && [ $((16#$eh)) -ge "$keep" ] ||
    fail "libhot.so's .eh_frame_hdr (offset 0x$eh) is not after its code (cut at $keep): the test would prove nothing"
TRIG=$TEST_DIR/truncate-now
start_target truncator "$LIB" "$keep" "$TRIG" 120
TRUNC_OUT=$TEST_DIR/target.$_nstarted.truncator.out
start_profd	# opens and maps the library now, before the cut
: >"$TRIG"
wait_for_line "$TRUNC_OUT" '^truncated$' 10 "$TARGET_PID" ||
    fail "the target did not truncate its library"
[ "$(stat -c %s "$LIB")" = "$keep" ] || fail "$LIB is $(stat -c %s "$LIB") bytes, not $keep"
P=$TEST_DIR/trunc.pb.gz
fetch_profile "$BASE/debug/pprof/profile?seconds=2&hz=999" "$P"
alive "$PROFD_PID" || fail "profd died on the truncated library"
pages=$(metric_get profd_file_pages_truncated_total)
say "pages of truncated files read as zeros: ${pages:-none}"
[ "${pages:-0}" -gt 0 ] ||
    fail "profd_file_pages_truncated_total is ${pages:-missing}: profd never touched the cut pages, the test proved nothing"
ok "truncated library: 200 with $(summary_get "$P.summary" 'total[0]') samples, $pages page(s) read as zeros, profd alive"
fetch_profile "$BASE/debug/pprof/threads?debug=0" "$TEST_DIR/trunc-threads.pb.gz"
ok "thread dump after the cut: 200"
stop_profd
assert_target_ok
kill "$TARGET_PID"

# ---- a chroot whose debug file is hostile ---------------------------------------
SPIN=$TARGET_DIR/spin
ROOT=$TEST_DIR/root
HOST=$TEST_DIR/host	# outside ROOT, and hidden in the target's namespace
mkdir -p "$ROOT/usr" "$HOST"
ln -s usr/lib "$ROOT/lib"
ln -s usr/lib64 "$ROOT/lib64"
objcopy --only-keep-debug "$SPIN" "$HOST/secret.debug" ||
    fail "objcopy --only-keep-debug failed"
# no .symtab: function names can only come from the debug file
objcopy --strip-all --add-gnu-debuglink="$HOST/secret.debug" "$SPIN" \
    "$ROOT/app" || fail "objcopy --strip-all failed"
# The target: its own mount namespace, /usr bound into the root, HOST
# covered by an empty tmpfs (so the file is outside its view), then chroot.
# unshare, sh and chroot exec: the target keeps the PID we started.
# shellcheck disable=SC2016  # $1..$3 are sh -c's
start_target_cmd chroot unshare -m --propagation private sh -c \
    'mount --bind /usr "$1/usr" && mount -t tmpfs none "$2" &&
     exec chroot "$1" /app 300' sh "$ROOT" "$HOST"
CHROOT_PID=$TARGET_PID
[ ! -e "/proc/$CHROOT_PID/root/secret.debug" ] || fail "secret.debug is in the root already"

# debug_round NAME: a new profd (nothing cached), a 1 s profile; sets NAMED
# to the CPU share (%) in spin_leaf, named from a debug file.
debug_round()
{
	local name=$1 P F
	start_profd
	P=$TEST_DIR/$name.pb.gz
	fetch_profile "$BASE/debug/pprof/profile?seconds=1" "$P"
	F=$P.folded
	pdump folded "$P" >"$F" || fail "$name: pprof-dump folded failed"
	NAMED=$(pct "$(fold_sum "$F" spin_leaf)" "$(fold_total "$F")")
	say "$name: CPU in spin_leaf (named by a debug file): $NAMED %"
	stop_profd
}

ln -s "$HOST/secret.debug" "$ROOT/secret.debug"
debug_round escape-absolute
expect_range "absolute symlink out of the root: CPU named spin_leaf (%)" "$NAMED" 0 0
rm "$ROOT/secret.debug"

up=$(awk -v p="$ROOT" 'BEGIN { n = split(p, a, "/"); s = ""
	for (i = 0; i < n + 3; i++) s = s "../"; print s }')
ln -s "${up}${HOST#/}/secret.debug" "$ROOT/secret.debug"
[ -e "$ROOT/secret.debug" ] || fail "the ../ symlink does not reach the host copy from profd's side"
debug_round escape-dotdot
expect_range "../ symlink out of the root: CPU named spin_leaf (%)" "$NAMED" 0 0
rm "$ROOT/secret.debug"

cp "$HOST/secret.debug" "$ROOT/secret.debug"
debug_round inside
expect_range "control, the debug file inside the root: CPU named spin_leaf (%)" "$NAMED" 90 100
rm "$ROOT/secret.debug"

# ---- mutated debug files ---------------------------------------------------------------
# Each round: a debug file with a few bytes of its DWARF changed (or cut
# short), whose CRC the executable's .gnu_debuglink names, so that profd
# takes it and libdw parses it; a new chroot'ed target and a new profd.
# profd must answer 200, stay up, and exit clean (the ASan/UBSan build
# included: a qsort(NULL, 0) on such a file once ended it).
MUTANTS=${MUTANTS:-12}
dw_lo=$(LC_ALL=C readelf -SW "$HOST/secret.debug" | awk '$2 == ".debug_info" { print $5 }')
[ -n "$dw_lo" ] || fail "no .debug_info in the debug file"
size=$(stat -c %s "$HOST/secret.debug")
named=0
for ((k = 1; k <= MUTANTS; k++)); do
	python3 - "$HOST/secret.debug" "$ROOT/m$k.debug" "$((16#$dw_lo))" "$size" "$k" <<'PY'
import random, sys
src, dst, lo, size, k = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
data = bytearray(open(src, "rb").read())
rnd = random.Random(20261203 + k)
if k % 4 == 0:
    data = data[:rnd.randrange(lo, size)]          # cut short
else:
    for _ in range(rnd.randrange(1, 9)):           # a few bytes changed
        i = rnd.randrange(lo, len(data))
        data[i] = rnd.choice([0, 0xff, rnd.randrange(256), data[i] ^ (1 << rnd.randrange(8))])
open(dst, "wb").write(data)
PY
	objcopy --strip-all --add-gnu-debuglink="$ROOT/m$k.debug" "$SPIN" \
	    "$ROOT/app$k" || fail "objcopy for mutant $k failed"
	# shellcheck disable=SC2016  # $1..$3 are sh -c's
	start_target_cmd "mutant$k" unshare -m --propagation private sh -c \
	    'mount --bind /usr "$1/usr" && exec chroot "$1" "$2" 120' sh \
	    "$ROOT" "/app$k"
	start_profd
	P=$TEST_DIR/mutant$k.pb.gz
	fetch_profile "$BASE/debug/pprof/profile?seconds=1" "$P"
	alive "$PROFD_PID" || fail "mutant $k: profd died"
	pdump folded "$P" >"$P.folded" || fail "mutant $k: pprof-dump folded failed"
	[ "$(fold_sum "$P.folded" spin_leaf)" -eq 0 ] || named=$((named + 1))
	stop_profd
	assert_target_ok
	kill "$TARGET_PID"
done
# the files were used: some still name the functions
expect_range "mutated debug files whose DWARF still named spin_leaf (of $MUTANTS)" "$named" 1 "$MUTANTS"
ok "$MUTANTS mutated debug files: every profile 200, profd up and clean"
TARGET_PID=$CHROOT_PID

# ---- a FIFO as the debug file, beside a well-behaved target -------------------------
mkfifo "$ROOT/secret.debug"
start_target spin 120
OTHER_PID=$TARGET_PID
start_profd_re "$LOOPBACK_RE" --pid "$CHROOT_PID" --pid "$OTHER_PID" \
    --listen 127.0.0.1:0
bg_fetch fifo "$BASE/pid/$CHROOT_PID/debug/pprof/profile?seconds=2" 30
fifo_pid=$BG_PID
bg_fetch other "$BASE/pid/$OTHER_PID/debug/pprof/profile?seconds=2" 30
bg_wait "$BG_PID" other
expect_profile "the other target, while the FIFO is there" "$TEST_DIR/other" "$BG_CODE"
bg_wait "$fifo_pid" fifo
expect_profile "the target with a FIFO for a debug file" "$TEST_DIR/fifo" "$BG_CODE"
fetch "$BASE/metrics" "$TEST_DIR/metrics" >/dev/null
ok "FIFO debug file: both targets answered 200"
stop_profd
rm "$ROOT/secret.debug"

TARGET_PID=$CHROOT_PID assert_target_ok
TARGET_PID=$OTHER_PID assert_target_ok
say "PASS hostile_files"
