#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_debuginfod - debug files from a debuginfod server, only when asked for:
# shlib and libhot.so stripped (no debug link, no debug file anywhere
# local), their debug files served by Debian's debuginfod (debuginfod -F
# DIR) on loopback.
#   1. profd with DEBUGINFOD_URLS pointing at the server in its environment
#      but no --debuginfod: lib_hot stays unnamed, the server is not asked.
#   2. profd --debuginfod http://127.0.0.1:PORT: lib_hot and its callers are
#      named with file:line, the files land in --debuginfod-cache.
#   2b. --debuginfod-max-size smaller than the files: not downloaded.
#   3. a server that does not answer (the same debuginfod, SIGSTOPped) with
#      --debuginfod-timeout 1: the profile still comes back, in seconds,
#      with [file+0xoffset] frames.
. "$(dirname "$0")/lib.sh"
t_begin debuginfod
need_pprof_dump
command -v debuginfod >/dev/null ||
    skip "debuginfod: not installed (scripts/deps.sh installs Debian's debuginfod)"
for tool in objcopy readelf; do
	command -v "$tool" >/dev/null || fail "$tool: not installed"
done

CHAIN="main;run_work;lib_outer;lib_hot"
read -r LO HI <<<"$(func_lines "$TARGET_SRC/libhot.c" lib_hot)"
bid_of() { readelf -n "$1" | awk '/Build ID:/ && !done { print $3; done = 1 }'; }

D=$TEST_DIR/app
SRV=$TEST_DIR/served
mkdir -p "$D" "$SRV"
for f in shlib libhot.so; do
	objcopy --only-keep-debug "$TARGET_DIR/$f" "$SRV/$f.debug" ||
	    fail "objcopy --only-keep-debug $f failed"
	objcopy --strip-all "$TARGET_DIR/$f" "$D/$f" || fail "objcopy $f failed"
done
LIB_BID=$(bid_of "$D/libhot.so")
EXE_BID=$(bid_of "$D/shlib")
for b in "$LIB_BID" "$EXE_BID"; do
	[ ! -e "/usr/lib/debug/.build-id/${b:0:2}/${b:2}.debug" ] ||
	    fail "/usr/lib/debug/.build-id has a debug file for $b: the test would prove nothing"
done

# ---- the server: Debian's debuginfod on a free port -----------------------------
# debuginfod has no port 0: try ports until one binds.  Readiness is the
# debug file being served, which needs the first scan of SRV to be done.
DPORT=
for try in 1 2 3 4 5 6 7 8; do
	port=$((20000 + (RANDOM * 7 + try * 997) % 40000))
	dlog=$TEST_DIR/debuginfod.$try.log
	(exec debuginfod -F -p "$port" -d "$TEST_DIR/db.$try.sqlite" -t 0 -g 0 \
	    -c 1 -v "$SRV" >"$dlog" 2>&1) &
	dpid=$!
	_track "$dpid"
	for ((n = 0; n < 100; n++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
		    "http://127.0.0.1:$port/buildid/$LIB_BID/debuginfo" || true)
		[ "$code" = 200 ] && break
		alive "$dpid" || break
		sleep 0.1
	done
	if [ "$code" = 200 ]; then
		DPORT=$port
		break
	fi
	kill "$dpid" 2>/dev/null
	wait "$dpid" 2>/dev/null
	say "debuginfod on port $port: not serving ($(tail -n 1 "$dlog")), trying another"
done
[ -n "$DPORT" ] || fail "could not start debuginfod"
DURL=http://127.0.0.1:$DPORT
requests() { grep -c "GET /buildid/" "$dlog" || true; }
ok "debuginfod serving $SRV on $DURL (pid $dpid)"

start_target_cmd shlib "$D/shlib" 120

# ---- 1: DEBUGINFOD_URLS alone does nothing ---------------------------------------
before=$(requests)
DEBUGINFOD_URLS=$DURL start_profd
P=$TEST_DIR/off.pb.gz
fetch_profile "$BASE/debug/pprof/profile?seconds=2" "$P"
F=$TEST_DIR/off.folded
pdump folded "$P" >"$F" || fail "pprof-dump folded failed"
say "without --debuginfod: $(head -n 1 "$F")"
if grep -q 'lib_hot' "$F"; then
	fail "lib_hot named without --debuginfod: DEBUGINFOD_URLS was used"
fi
expect_range "without --debuginfod: CPU in lib_outer;[libhot.so+0x...] (%)" \
    "$(pct "$(awk '$0 ~ /;lib_outer;\[libhot\.so\+0x[0-9a-f]+\] [0-9]+$/ { t += $NF }
	END { printf "%.0f\n", t }' "$F")" "$(fold_total "$F")")" 90 100
[ "$(requests)" = "$before" ] ||
    fail "profd asked debuginfod without --debuginfod: $(grep 'GET /buildid' "$dlog" | tail -n 2)"
ok "debuginfod was not asked"
stop_profd

# ---- 2: --debuginfod ---------------------------------------------------------------------
CACHE=$TEST_DIR/cache/profd
start_profd --debuginfod "$DURL" --debuginfod-timeout 5 \
    --debuginfod-max-size 10485760 --debuginfod-cache "$CACHE"
grep -q "debuginfod: $DURL" "$PROFD_LOG" || fail "profd did not log its debuginfod setting"
P=$TEST_DIR/on.pb.gz
fetch_profile "$BASE/debug/pprof/profile?seconds=2" "$P"
S=$P.summary
for m in "shlib $EXE_BID" "libhot.so $LIB_BID"; do
	read -r f bid <<<"$m"
	line=$(grep -F " $D/$f build_id=" "$S" | first_line || true)
	case $line in
	*"build_id=$bid has_functions=1 has_filenames=1 has_line_numbers=1"*) ;;
	*) fail "--debuginfod: mapping for $f: '$line'" ;;
	esac
done
ok "--debuginfod: shlib and libhot.so symbolized with files and lines"
F=$TEST_DIR/on.folded
pdump folded "$P" >"$F" || fail "pprof-dump folded failed"
say "with --debuginfod: $(head -n 1 "$F")"
expect_range "--debuginfod: CPU in $CHAIN as the leaf (%)" \
    "$(pct "$(fold_sum_leaf "$F" "$CHAIN")" "$(fold_total "$F")")" 90 100
FL=$TEST_DIR/on.folded-lines
pdump folded -L "$P" >"$FL" || fail "pprof-dump folded -L failed"
expect_range "--debuginfod: lib_hot leaf frames at libhot.c:$LO-$HI (%)" \
    "$(pct "$(awk -v lo="$LO" -v hi="$HI" '{
	n = split($0, fr, ";"); leaf = fr[n]; sub(/ [0-9]+$/, "", leaf)
	if (leaf !~ /^lib_hot@/) next
	line = leaf; sub(/.*:/, "", line)
	if (leaf ~ /libhot\.c:[0-9]+$/ && line + 0 >= lo && line + 0 <= hi)
		t += $NF
	} END { printf "%.0f\n", t }' "$FL")" "$(fold_total "$F")")" 90 100
grep -q "GET /buildid/$LIB_BID/debuginfo 200" "$dlog" ||
    fail "debuginfod's log shows no 200 for libhot.so's debuginfo"
[ -n "$(find "$CACHE" -path "*$LIB_BID*" -type f 2>/dev/null | first_line)" ] ||
    fail "nothing for $LIB_BID in the cache $CACHE: $(find "$CACHE" | first_lines 5)"
[ "$(stat -c %a "$CACHE")" = 700 ] || fail "cache $CACHE has mode $(stat -c %a "$CACHE"), want 700"
ok "debuginfod served libhot.so's debug file; cached in $CACHE (mode 700)"
stop_profd

# ---- 2b: --debuginfod-max-size below the debug files' size --------------------------
small=$(($(stat -c %s "$SRV/libhot.so.debug") / 2))
before=$(requests)
start_profd --debuginfod "$DURL" --debuginfod-max-size "$small" \
    --debuginfod-cache "$TEST_DIR/cache-small"
P=$TEST_DIR/small.pb.gz
fetch_profile "$BASE/debug/pprof/profile?seconds=2" "$P"
F=$TEST_DIR/small.folded
pdump folded "$P" >"$F" || fail "pprof-dump folded failed"
if grep -q 'lib_hot' "$F"; then
	fail "--debuginfod-max-size $small: lib_hot named, from a bigger file"
fi
[ "$(requests)" -gt "$before" ] || fail "--debuginfod-max-size: the server was not asked at all"
ok "--debuginfod-max-size $small: the server was asked, the bigger file not used"
stop_profd

# ---- 3: a server that never answers -----------------------------------------------------
# The same debuginfod, stopped: its socket still completes connections (the
# backlog), nothing answers.  A new cache, so that nothing is known yet.
kill -STOP "$dpid"
at_exit "kill -CONT $dpid 2>/dev/null"
start_profd --debuginfod "$DURL" --debuginfod-timeout 1 \
    --debuginfod-cache "$TEST_DIR/cache2"
t0=$(date +%s%N)
P=$TEST_DIR/silent.pb.gz
fetch_profile "$BASE/debug/pprof/profile?seconds=2" "$P"
ms=$((($(date +%s%N) - t0) / 1000000))
F=$TEST_DIR/silent.folded
pdump folded "$P" >"$F" || fail "pprof-dump folded failed"
expect_range "silent server: CPU in lib_outer;[libhot.so+0x...] (%)" \
    "$(pct "$(awk '$0 ~ /;lib_outer;\[libhot\.so\+0x[0-9a-f]+\] [0-9]+$/ { t += $NF }
	END { printf "%.0f\n", t }' "$F")" "$(fold_total "$F")")" 90 100
# 2 s of profile; each file without a local debug file may wait 1 s (per
# retry) for the server. Without the timeout, libdebuginfod would wait 90 s
# (its default) per file, past the client's own limit: the bound is set
# far from both, so that only a timeout that is not applied can break it,
# however slow the machine.
expect_range "silent server: profile answered in ms (--debuginfod-timeout 1; unbounded would be 90000+)" "$ms" 2000 60000
stop_profd
kill -CONT "$dpid"

assert_target_ok
say "PASS debuginfod"
