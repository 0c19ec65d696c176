#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_errors - the HTTP surface besides the profile itself: bad parameters and
# unknown or unavailable paths get 4xx, text/plain, X-Go-Pprof: 1 and a
# one-line body (and go tool pprof shows that line); the index, the redirect,
# /cmdline (the target's exact argv), /symbol (Go's protocol, with addresses
# taken from a real profile), the /pid/PID/ prefix, --max-seconds and
# --max-hz.
. "$(dirname "$0")/lib.sh"
t_begin errors
need_pprof_dump
need_go

start_target spin 120
P=$TARGET_PID
start_profd

# ---- index and redirect ----------------------------------------------------
code=$(fetch "$BASE/debug/pprof/" "$TEST_DIR/index")
expect_status "GET /debug/pprof/" "$code" 200
ct=$(header "$TEST_DIR/index.headers" Content-Type)
[[ $ct == text/html* ]] || fail "GET /debug/pprof/: Content-Type '$ct', want text/html"
grep -q 'profile' "$TEST_DIR/index" || fail "the index does not mention the profile endpoint"
ok "GET /debug/pprof/ -> 200 $ct"
code=$(fetch "$BASE/debug/pprof" "$TEST_DIR/redir")
expect_status "GET /debug/pprof" "$code" 30?
loc=$(header "$TEST_DIR/redir.headers" Location)
[[ $loc == */debug/pprof/ ]] || fail "GET /debug/pprof: Location '$loc', want .../debug/pprof/"
ok "GET /debug/pprof -> $code Location: $loc"

# ---- bad parameters: 400 ------------------------------------------------------
for q in seconds=abc seconds=601 seconds=-1 seconds=1.5 seconds=99999999999999999999; do
	expect_error "$BASE/debug/pprof/profile?$q" 400
done
for q in hz=0 hz=abc hz=1001; do
	expect_error "$BASE/debug/pprof/profile?seconds=1&$q" 4??
done
expect_error "$BASE/pid/$P/debug/pprof/profile?seconds=-1" 400

# The real client shows the error line (it does so only for text/plain with
# X-Go-Pprof).
code=$(fetch "$BASE/debug/pprof/profile?seconds=-1" "$TEST_DIR/s0")
msg=$(head -n 1 "$TEST_DIR/s0")
if [ "$code" != 400 ] || [ -z "$msg" ]; then
	fail "seconds=-1: $code '$msg'"
fi
prc=0
pprof -symbolize=none -top "$BASE/debug/pprof/profile?seconds=-1" \
    >"$TEST_DIR/pprof-err.out" 2>"$TEST_DIR/pprof-err.err" || prc=$?
[ "$prc" != 0 ] || fail "go tool pprof accepted seconds=-1"
grep -qF "$msg" "$TEST_DIR/pprof-err.err" ||
    fail "go tool pprof does not show profd's error line '$msg': $(cat "$TEST_DIR/pprof-err.err")"
ok "go tool pprof on seconds=-1 exits $prc: $(grep -F "$msg" "$TEST_DIR/pprof-err.err" | first_line)"

# ---- unknown and unavailable paths: 404 ---------------------------------------
for path in /debug/pprof/nonexistent /nothing /debug/pprof/profile/x \
    /debug/pprof/heap /debug/pprof/allocs /debug/pprof/block \
    /debug/pprof/mutex /debug/pprof/trace /debug/pprof/threadcreate \
    "/pid/$P/debug/pprof/heap" /pid/1/debug/pprof/cmdline \
    "/pid/1/debug/pprof/profile?seconds=1" /pid/abc/debug/pprof/cmdline; do
	expect_error "$BASE$path" 404
done

# ---- cmdline: the target's argv, NUL-separated, no trailing NUL ----------------
printf '%s\0' "${TARGET_ARGV[@]}" | head -c -1 >"$TEST_DIR/argv"
for prefix in "" "/pid/$P"; do
	code=$(fetch "$BASE$prefix/debug/pprof/cmdline" "$TEST_DIR/cmdline")
	expect_status "GET $prefix/debug/pprof/cmdline" "$code" 200
	ct=$(header "$TEST_DIR/cmdline.headers" Content-Type)
	[[ $ct == text/plain* ]] || fail "cmdline: Content-Type '$ct', want text/plain"
	cmp -s "$TEST_DIR/argv" "$TEST_DIR/cmdline" ||
	    fail "cmdline: got '$(tr '\0' ' ' <"$TEST_DIR/cmdline")', want '${TARGET_ARGV[*]}' (NUL-separated)"
	ok "GET $prefix/debug/pprof/cmdline -> 200 $ct: ${TARGET_ARGV[*]}"
done

# ---- symbol: Go's protocol, with PCs from a real profile -----------------------
PROF=$TEST_DIR/spin.pb.gz
fetch_profile "$BASE/debug/pprof/profile?seconds=2" "$PROF"
pprof -symbolize=none -raw "$PROF" >"$TEST_DIR/raw" || fail "go tool pprof -raw failed"
addr_of()
{
	awk -v fn="$1" '/^Locations/ { l = 1; next } /^Mappings/ { l = 0 }
		l && $4 == fn { print $2; exit }' "$TEST_DIR/raw"
}
leaf=$(addr_of spin_leaf)
mid=$(addr_of spin_mid)
if [ -z "$leaf" ] || [ -z "$mid" ]; then
	fail "no spin_leaf/spin_mid locations in go tool pprof -raw: $(sed -n '/^Locations/,$p' "$TEST_DIR/raw" | first_lines 10)"
fi
say "PCs from the profile: spin_leaf $leaf, spin_mid $mid"

code=$(fetch "$BASE/debug/pprof/symbol" "$TEST_DIR/sym-get")
expect_status "GET /debug/pprof/symbol" "$code" 200
[ "$(head -n 1 "$TEST_DIR/sym-get" | tr -d '\r')" = "num_symbols: 1" ] ||
    fail "GET /debug/pprof/symbol: first line '$(head -n 1 "$TEST_DIR/sym-get")', want 'num_symbols: 1'"
ok "GET /debug/pprof/symbol -> num_symbols: 1"

# resolved FILE ADDR: the name given for ADDR (compared as numbers).
resolved()
{
	local a n
	while read -r a n; do
		[[ $a == 0x* ]] || continue
		if (($(printf '%d' "$a") == $(printf '%d' "$2"))); then
			printf '%s\n' "$n"
			return 0
		fi
	done <"$1"
}
for prefix in "" "/pid/$P"; do
	out=$TEST_DIR/sym-post
	code=$(fetch "$BASE$prefix/debug/pprof/symbol" "$out" \
	    -H 'Content-Type: application/octet-stream' --data-binary "$leaf+$mid+0x1")
	expect_status "POST $prefix/debug/pprof/symbol" "$code" 200
	[ "$(head -n 1 "$out")" = "num_symbols: 1" ] ||
	    fail "POST symbol: first line '$(head -n 1 "$out")', want 'num_symbols: 1'"
	[ "$(resolved "$out" "$leaf")" = spin_leaf ] ||
	    fail "POST symbol: $leaf -> '$(resolved "$out" "$leaf")', want spin_leaf: $(cat "$out")"
	[ "$(resolved "$out" "$mid")" = spin_mid ] ||
	    fail "POST symbol: $mid -> '$(resolved "$out" "$mid")', want spin_mid: $(cat "$out")"
	case $(resolved "$out" 0x1) in
	spin_* | main) fail "POST symbol: 0x1 resolved to $(resolved "$out" 0x1)" ;;
	esac
	ok "POST $prefix/debug/pprof/symbol '$leaf+$mid+0x1': $(grep -c '^0x' "$out") lines, $leaf spin_leaf, $mid spin_mid"
done

# ---- a tracer that arrives after profd started: 403 naming it ---------------
if command -v strace >/dev/null; then
	(exec strace -qq -p "$P" -o /dev/null) &
	spid=$!
	_track "$spid"
	wait_traced_by "$spid" 10 || fail "strace -p $P never attached"
	out=$TEST_DIR/traced
	code=$(fetch "$BASE/debug/pprof/profile?seconds=1" "$out")
	expect_status "profile while strace holds the target" "$code" 403
	grep -q "strace" "$out" || fail "the 403 does not name the tracer: $(cat "$out")"
	[ "$(header "$out.headers" X-Go-Pprof)" = 1 ] || fail "403 without X-Go-Pprof"
	ok "profile while strace (pid $spid) holds the target -> 403: $(cat "$out")"
	traced_by "$spid" || fail "strace lost the target because of profd"
	kill -TERM "$spid"
	wait "$spid" 2>/dev/null || true
	wait_untraced 10 || fail "target still traced after strace exited"
	fetch_profile "$BASE/debug/pprof/profile?seconds=1" "$TEST_DIR/after-strace.pb.gz"
	ok "and profiles again once strace is gone"
else
	say "SKIP (sub-check): strace is not installed"
fi

stop_profd
assert_target_ok

# ---- --max-seconds and --max-hz ------------------------------------------------
start_profd --max-seconds 2 --hz 40 --max-hz 50
expect_error "$BASE/debug/pprof/profile?seconds=3" 400
expect_error "$BASE/debug/pprof/profile?seconds=1&hz=51" 4??
PROF2=$TEST_DIR/capped.pb.gz
fetch_profile "$BASE/debug/pprof/profile?seconds=2&hz=50" "$PROF2"
expect_range "samples in 2 s at hz=50, one thread" \
    "$(summary_get "$PROF2.summary" 'total[0]')" 1 120
stop_profd
assert_target_ok
say "PASS errors"
