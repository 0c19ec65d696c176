#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_record - profd record, no server: --pid PID -o FILE writes a profile
# that go tool pprof and pprof-dump load, whose hot_a share is split's own
# calibration (loosely); --format folded has split's chains root first;
# Ctrl-C (SIGINT) ends the window early and the file is still written;
# record -- COMMAND runs the program to its end and exits with its status
# (3 from exit 3, 128+14 when SIGALRM kills it) with its profile written; a
# progress line on a terminal only; usage errors exit 64.  The target is
# left running, untraced, not stopped, and profd holds no socket.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cli_lib.sh"
t_begin record
need_pprof_dump
need_go

# split's own measurement of its hot_a share, on this machine, now.
calib=$("$TARGET_DIR/split" calib 500 | sed -nE 's/^hot_a ([0-9.]+)% .*/\1/p')
[ -n "$calib" ] || fail "split calib printed no hot_a share"
say "split calib: hot_a $calib % of the three"

start_target split 2 120
P=$TARGET_PID

# ---- --pid, pprof --------------------------------------------------------
R=$TEST_DIR/rec.pb.gz
run_cmd rec 60 record --pid "$P" --seconds 5 --hz 200 -o "$R"
expect_rc 0
[ -s "$R" ] || fail "record wrote no $R"
[ ! -s "$TEST_DIR/rec.out" ] || fail "record wrote to stdout: $(head -c 200 "$TEST_DIR/rec.out")"
grep -q 'recording pid' "$TEST_DIR/rec.err" &&
    fail "a progress line although stderr is not a terminal: $(cat "$TEST_DIR/rec.err")"
grep -q "wrote $R" "$TEST_DIR/rec.err" || fail "no 'wrote $R' line: $(cat "$TEST_DIR/rec.err")"
ok "record --pid $P --seconds 5 -> 0: $(tail -n 1 "$TEST_DIR/rec.err")"
assert_target_ok
pdump summary "$R" >"$R.summary" || fail "pprof-dump cannot read $R"
expect_range "duration (ns)" "$(summary_get "$R.summary" duration_nanos)" 4500000000 7000000000
pprof -top -nodecount=20 "$R" >"$TEST_DIR/top" 2>"$TEST_DIR/top.err" ||
    fail "go tool pprof -top $R: $(cat "$TEST_DIR/top.err")"
grep -Eq '[0-9]%  hot_a$' "$TEST_DIR/top" || fail "go tool pprof -top: no hot_a: $(cat "$TEST_DIR/top")"
ok "go tool pprof -top loads it: $(grep -E '  hot_a$' "$TEST_DIR/top")"
F=$TEST_DIR/rec.folded
pdump folded "$R" >"$F" || fail "pprof-dump folded failed"
A=$(fold_sum "$F" hot_a)
B=$(fold_sum "$F" hot_b)
C=$(fold_sum "$F" hot_c)
H=$(awk -v a="$A" -v b="$B" -v c="$C" 'BEGIN { printf "%.0f", a + b + c }')
nsamp=$(summary_get "$R.summary" 'total[0]')
expect_range "samples" "$nsamp" 30 1e9
share=$(pct "$A" "$H")
# how far a share of n samples may stray by chance: 4 standard deviations
# of a binomial proportion, plus 3 points for what the calibration itself
# misses (a loaded machine gives split less CPU, and fewer samples)
tol=$(awk -v p="$calib" -v n="$nsamp" 'BEGIN {
	p /= 100; printf "%.1f", 400 * sqrt(p * (1 - p) / n) + 3 }')
say "hot_a: $share % of the three in the profile ($nsamp samples), $calib % by split calib, +-$tol points allowed"
expect_range "hot_a share minus split calib's (points)" \
    "$(awk -v a="$share" -v b="$calib" 'BEGIN { print a - b }')" "-$tol" "$tol"

# ---- --format folded -------------------------------------------------------
FO=$TEST_DIR/rec2.folded
run_cmd fold 60 record --pid "$P" --seconds 3 --hz 200 --format folded -o "$FO"
expect_rc 0
bad=$(grep -cvE '^[^ ].* [0-9]+$' "$FO" || true)
[ "$bad" = 0 ] || fail "$bad lines of $FO are not 'FRAMES COUNT': $(grep -vE '^[^ ].* [0-9]+$' "$FO" | first_lines 3)"
for chain in "worker;do_round;chain_a1;hot_a" \
    "worker;do_round;chain_b1;chain_b2;chain_b3;hot_b" "worker;do_round;hot_c"; do
	grep -Eq "(^|;)$chain [0-9]+\$" "$FO" || fail "folded: no stack ending in $chain: $(head -n 5 "$FO")"
	ok "folded: $(grep -E -m 1 "(^|;)$chain [0-9]+\$" "$FO")"
done
expect_range "folded: hot_a+hot_b+hot_c share of all samples (%)" \
    "$(pct "$(($(fold_sum "$FO" hot_a) + $(fold_sum "$FO" hot_b) + $(fold_sum "$FO" hot_c)))" "$(fold_total "$FO")")" 85 100
assert_target_ok

# ---- --format svg: a flame graph that parses as XML and names them ---------
SV=$TEST_DIR/rec.svg
run_cmd svg 60 record --pid "$P" --seconds 2 --format svg -o "$SV"
expect_rc 0
xmllint --noout "$SV" || fail "record --format svg: $SV is not XML"
for fn in hot_a hot_b hot_c; do
	grep -q "$fn" "$SV" || fail "record --format svg: no $fn in $SV"
done
ok "record --format svg: XML, $(wc -c <"$SV") bytes, names hot_a, hot_b and hot_c"
assert_target_ok

# ---- --wall: every thread, the main one in pthread_join too -----------------
W=$TEST_DIR/wall.pb.gz
run_cmd wall 60 record --pid "$P" --seconds 2 --wall -o "$W"
expect_rc 0
pdump summary "$W" >"$W.summary" || fail "--wall: $W does not load"
grep -q '^sample_type wall/nanoseconds' "$W.summary" ||
    fail "--wall: no wall/nanoseconds sample type: $(grep sample_type "$W.summary")"
pdump folded "$W" >"$W.folded" || fail "pprof-dump folded $W failed"
grep -Eq '(^|;)main;' "$W.folded" || fail "--wall: the main thread (in pthread_join) is not in it: $(head -n 5 "$W.folded")"
ok "record --wall: wall/nanoseconds, the sleeping main thread in it"
assert_target_ok

# ---- Ctrl-C ends it early, the file is written, nothing listens ------------
I=$TEST_DIR/int.pb.gz
"$PROFD" record -vv --pid "$P" -o "$I" >"$TEST_DIR/int.out" 2>"$TEST_DIR/int.err" &
RP=$!
_track "$RP"
wait_for_line "$TEST_DIR/int.err" 'window started' 15 "$RP" ||
    fail "record never started its window: $(cat "$TEST_DIR/int.err")"
no_sockets "$RP"
ok "record (pid $RP) holds no socket"
kill -INT "$RP"
rc=0
wait_gone "$RP" 10 || fail "record did not end within 10 s of SIGINT"
wait "$RP" || rc=$?
[ "$rc" = 0 ] || fail "record after SIGINT: exit $rc, want 0: $(tail -n 3 "$TEST_DIR/int.err")"
if report=$(_sanitizer_report "$TEST_DIR/int.err"); then
	fail "record: sanitizer report: $report"
fi
pdump summary "$I" >"$I.summary" || fail "after SIGINT: $I does not load"
expect_range "after SIGINT: samples" "$(summary_get "$I.summary" 'total[0]')" 1 1e9
ok "SIGINT -> 0, $I written: $(grep -m 1 wrote "$TEST_DIR/int.err")"
assert_target_ok

# ---- a progress line on a terminal -------------------------------------------
if command -v script >/dev/null; then
	script -qec "$(printf '%q ' "$PROFD" record --pid "$P" --seconds 2 -o "$TEST_DIR/tty.pb.gz")" \
	    /dev/null >"$TEST_DIR/tty.out" 2>&1 </dev/null || fail "record on a terminal failed: $(cat "$TEST_DIR/tty.out")"
	grep -q "recording pid $P: .* samples (Ctrl-C to stop)" "$TEST_DIR/tty.out" ||
	    fail "no progress line on a terminal: $(cat -v "$TEST_DIR/tty.out")"
	ok "on a terminal: $(tr '\r' '\n' <"$TEST_DIR/tty.out" | grep -m 1 'recording pid')"
else
	say "SKIP (sub-check): no script(1) for a terminal"
fi
assert_target_ok

# ---- record -- COMMAND -------------------------------------------------------
# exit 3 after spinning for about 2 s in bash itself (no child process)
X=$TEST_DIR/cmd3.pb.gz
# shellcheck disable=SC2016  # $SECONDS is bash's, in the child
run_cmd cmd3 60 record -o "$X" -- bash -c 'while [ "$SECONDS" -lt 2 ]; do :; done; exit 3'
expect_rc 3
pdump summary "$X" >"$X.summary" || fail "record -- bash: $X does not load"
expect_range "record -- bash: samples" "$(summary_get "$X.summary" 'total[0]')" 1 1e9
ok "record -- bash -c '...; exit 3' -> 3, profile written"

# split with a 3 s alarm: SIGALRM kills it, 128+14; the profile is split's
Y=$TEST_DIR/alarm.folded
run_cmd alarm 60 record --format folded -o "$Y" -- "$TARGET_DIR/split" 2 3
expect_rc 142
cpid=$(sed -n 's/^ready \([0-9][0-9]*\)$/\1/p' "$TEST_DIR/alarm.out")
[ -n "$cpid" ] || fail "the command's output did not reach our stdout: $(head -c 200 "$TEST_DIR/alarm.out")"
grep -Eq '(^|;)worker;do_round;chain_a1;hot_a [0-9]+$' "$Y" || fail "record -- split: no hot_a chain: $(head -n 5 "$Y")"
ok "record -- split 2 3 (killed by SIGALRM) -> 142, hot_a in the profile"

# a wrapper that execs the program: the profile is the program's
E=$TEST_DIR/exec.folded
run_cmd exec 60 record --format folded -o "$E" -- sh -c "exec $(printf '%q' "$TARGET_DIR/split") 2 2"
expect_rc 142
grep -Eq '(^|;)worker;do_round;chain_a1;hot_a [0-9]+$' "$E" 2>/dev/null || fail "record -- sh -c 'exec split': no hot_a chain: $(head -n 5 "$E" 2>&1); stderr: $(head -c 600 "$TEST_DIR/exec.err")"
ok "record -- sh -c 'exec split 2 2' -> 142, the profile is split's"

# --seconds 1 of a 3 s command: the file is the first second's, and the
# status is still the command's, at its end
Z=$TEST_DIR/first.pb.gz
run_cmd first 60 record --seconds 1 -o "$Z" -- "$TARGET_DIR/split" 2 3
expect_rc 142
pdump summary "$Z" >"$Z.summary" || fail "record --seconds 1 -- split: $Z does not load"
expect_range "record --seconds 1 -- split: duration (ns)" \
    "$(summary_get "$Z.summary" duration_nanos)" 900000000 2000000000
ok "record --seconds 1 -- split 2 3 -> 142 at the command's end, a 1 s profile"

run_cmd nocmd 30 record -o "$TEST_DIR/none" -- "$TEST_DIR/no-such-program"
expect_rc 127
[ ! -e "$TEST_DIR/none" ] || fail "a file for a command that never ran"
ok "record -- (no such program) -> 127: $(head -n 1 "$TEST_DIR/nocmd.err")"

# an -o that cannot be written fails at once, before any window or command
run_cmd badout 10 record --pid "$P" -o "$TEST_DIR/no/such/dir/x"
expect_rc 1
grep -q 'cannot write' "$TEST_DIR/badout.err" || fail "-o in a missing directory: $(cat "$TEST_DIR/badout.err")"
run_cmd badout2 10 record -o "$TEST_DIR/no/such/dir/x" -- touch "$TEST_DIR/ran"
expect_rc 1
[ ! -e "$TEST_DIR/ran" ] || fail "the command ran although -o cannot be written"
ok "an unwritable -o -> 1 at once, the command not started: $(head -n 1 "$TEST_DIR/badout.err")"

# ---- usage errors ------------------------------------------------------------
usage64()
{
	local name=$1
	shift
	run_cmd "$name" 10 "$@"
	expect_rc 64
	[ ! -s "$TEST_DIR/$name.out" ] || fail "profd $*: wrote to stdout on a usage error"
	ok "profd $* -> 64: $(head -n 1 "$TEST_DIR/$name.err")"
}
usage64 noout record --pid "$P"
usage64 nothing record -o "$TEST_DIR/x"
usage64 both record --pid "$P" -o "$TEST_DIR/x" -- true
usage64 fmt record --pid "$P" -o "$TEST_DIR/x" --format xml
usage64 secs0 record --pid "$P" -o "$TEST_DIR/x" --seconds 0
usage64 servesecs --pid "$P" --seconds 5
[ ! -e "$TEST_DIR/x" ] || fail "a usage error wrote a file"
assert_target_ok
say "PASS record"
