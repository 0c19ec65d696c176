#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_dump - profd dump --pid PID, no server: every thread's stack now, one
# block per thread (as many as /proc/PID/task has), naming the functions
# each thread of the split and blocker targets is known to be in; exit 0,
# nothing listening, and the target left running, untraced, not stopped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cli_lib.sh"
t_begin dump

# dump NAME: profd dump of the target into $TEST_DIR/NAME.out, exit 0.  A
# running thread whose stop comes after the tick's deadline (a loaded
# machine) is in it all the same, with its last known stack or
# [truncated].
dump()
{
	run_cmd "$1" 30 dump --pid "$TARGET_PID"
	expect_rc 0
}

# check_dump NAME: $TEST_DIR/NAME.out has one "thread TID ..." block per
# thread of the target, each TID one of its threads.
check_dump()
{
	local f=$TEST_DIR/$1.out blocks tasks tid
	blocks=$(grep -Ec '^thread [0-9]+ ' "$f")
	tasks=$(find "/proc/$TARGET_PID/task" -mindepth 1 -maxdepth 1 | wc -l)
	[ "$blocks" = "$tasks" ] || fail "$1: $blocks thread blocks, the target has $tasks threads: $(head -c 800 "$f")"
	while read -r tid; do
		[ -d "/proc/$TARGET_PID/task/$tid" ] || fail "$1: thread $tid is not one of the target's"
	done < <(sed -nE 's/^thread ([0-9]+) .*/\1/p' "$f")
	ok "$1: $blocks blocks, one per thread of the target"
}

# block_of DUMP NAME: the frames of the thread named NAME ("thread TID
# "NAME" ...:" up to the blank line).
block_of()
{
	awk -v n="\"$2\"" '$1 == "thread" && $3 == n { on = 1; next }
		on && /^$/ { exit } on { print }' "$1"
}

# expect_frames DUMP THREAD FUNC...: each FUNC is a frame of THREAD.
expect_frames()
{
	local dump=$1 th=$2 fn b
	shift 2
	b=$(block_of "$dump" "$th")
	[ -n "$b" ] || fail "no block for thread $th in $(basename "$dump")"
	for fn in "$@"; do
		grep -Eq "[[:space:]]$fn( |\$)" <<<"$b" ||
		    fail "thread $th: no $fn frame in: $b"
	done
	ok "thread $th: $*"
}

# ---- split: two workers in the hot chains, main in pthread_join -------------
start_target split 2 120
dump split
check_dump split
expect_frames "$TEST_DIR/split.out" split-w0 do_round worker
expect_frames "$TEST_DIR/split.out" split-w1 do_round worker
expect_frames "$TEST_DIR/split.out" split main
grep -Eq '[[:space:]]hot_[abc]( |$)' "$TEST_DIR/split.out" ||
    fail "no worker is in hot_a, hot_b or hot_c"
[ ! -s "$TEST_DIR/split.err" ] || fail "profd dump wrote to stderr: $(head -c 300 "$TEST_DIR/split.err")"
assert_target_ok
kill_target=$TARGET_PID

# ---- blocker: a thread in each blocking call -------------------------------
CNT=$TEST_DIR/counters
start_target blocker "$CNT" 120
dump blocker
check_dump blocker
B=$TEST_DIR/blocker.out
expect_frames "$B" spinner spin_loop spinner_main
expect_frames "$B" reader read_blocked
expect_frames "$B" epoller epoll_blocked
expect_frames "$B" sleeper sleep_blocked
expect_frames "$B" waiter cond_blocked
expect_frames "$B" blocker main
assert_target_ok
assert_target_ok "$kill_target"

# ---- usage errors ------------------------------------------------------------
run_cmd nopid 10 dump
expect_rc 64
grep -q 'profd dump --pid PID' "$TEST_DIR/nopid.err" || fail "dump without --pid: $(head -n 1 "$TEST_DIR/nopid.err")"
run_cmd two 10 dump --pid "$TARGET_PID" --pid "$kill_target"
expect_rc 64
run_cmd serveopt 10 dump --pid "$TARGET_PID" --continuous
expect_rc 64
run_cmd recopt 10 dump --pid "$TARGET_PID" -o "$TEST_DIR/x"
expect_rc 64
[ ! -s "$TEST_DIR/recopt.out" ] || fail "a usage error wrote to stdout"
ok "dump usage errors exit 64: $(head -n 1 "$TEST_DIR/recopt.err")"
assert_target_ok
say "PASS dump"
