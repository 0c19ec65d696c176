# shellcheck shell=bash
# cli_lib.sh - what t_dump.sh, t_record.sh and t_top.sh share: running
# one of profd's commands (dump, record, top) to its end, sourced after
# lib.sh.

# run_cmd NAME SECONDS ARGS...: run "profd ARGS..." to completion (SECONDS
# at most; a profd still running then fails the test).  Sets RC; its
# output in $TEST_DIR/NAME.out and NAME.err, which must hold no sanitizer
# report.
run_cmd()
{
	local name=$1 secs=$2 report
	CMD_NAME=$name
	shift 2
	RC=0
	timeout -k 2 "$secs" "$PROFD" "$@" >"$TEST_DIR/$name.out" \
	    2>"$TEST_DIR/$name.err" || RC=$?
	if [ "$RC" = 124 ] || [ "$RC" = 137 ]; then
		fail "profd $*: still running after $secs s"
	fi
	if report=$(_sanitizer_report "$TEST_DIR/$name.err"); then
		fail "profd $*: sanitizer report: $report"
	fi
}

# expect_rc WANT: the last run_cmd's exit status is WANT.
expect_rc()
{
	[ "$RC" = "$1" ] || fail "exit status $RC, want $1; stderr: $(head -c 600 "$TEST_DIR/$CMD_NAME.err" 2>/dev/null)"
}

# no_sockets PID: the process PID has no socket open (nothing listens).
no_sockets()
{
	local fds
	fds=$(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 -lname 'socket:*' 2>/dev/null | wc -l)
	[ "$fds" = 0 ] || fail "profd $1 has $fds socket(s) open: $(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 -lname 'socket:*' -printf '%p -> %l\n' 2>/dev/null)"
}
