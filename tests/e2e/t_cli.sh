#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_cli - command line: usage errors exit 64 with the synopsis on stderr,
# --help/--version exit 0, a missing PID and an already traced PID exit 1
# with a line saying why, and none of it disturbs the target.
. "$(dirname "$0")/lib.sh"
t_begin cli

start_target spin 120

# run_profd NAME ARGS...: run profd to completion (10 s at most: a profd that
# wrongly accepts the arguments would serve forever).  Sets RC; output in
# $TEST_DIR/NAME.out and NAME.err.
run_profd()
{
	local name=$1
	shift
	RC=0
	timeout -k 2 10 "$PROFD" "$@" >"$TEST_DIR/$name.out" \
	    2>"$TEST_DIR/$name.err" || RC=$?
	if [ "$RC" = 124 ] || [ "$RC" = 137 ]; then
		fail "profd $*: still running after 10 s (should have exited)"
	fi
}

# usage_error NAME ARGS...: exit 64, nothing on stdout, a message and the
# synopsis ("usage: profd ... PID ...") on stderr.
usage_error()
{
	local name=$1
	shift
	run_profd "$name" "$@"
	[ "$RC" = 64 ] || fail "profd $*: exit $RC, want 64 (stderr: $(head -c 300 "$TEST_DIR/$name.err"))"
	[ ! -s "$TEST_DIR/$name.out" ] || fail "profd $*: wrote to stdout on a usage error"
	grep -Eiq '^usage: +profd .*(-p|--pid) PID' "$TEST_DIR/$name.err" ||
	    fail "profd $*: no synopsis (usage: profd ... PID ...) on stderr: $(head -c 300 "$TEST_DIR/$name.err")"
	[ "$(wc -l <"$TEST_DIR/$name.err")" -ge 2 ] ||
	    fail "profd $*: want a message and the synopsis, got: $(cat "$TEST_DIR/$name.err")"
	ok "profd ${*:-(no arguments)} -> 64: $(head -n 1 "$TEST_DIR/$name.err")"
}

P=$TARGET_PID
L=127.0.0.1:0
usage_error noargs
usage_error unknown --pid "$P" --listen "$L" --bogus
usage_error nopid --listen "$L"
usage_error pidnoarg --pid
usage_error hz0 --pid "$P" --listen "$L" --hz 0
usage_error hzabc --pid "$P" --listen "$L" --hz abc
usage_error maxsec0 --pid "$P" --listen "$L" --max-seconds 0
usage_error listenport --pid "$P" --listen 127.0.0.1:notaport
usage_error listenbig --pid "$P" --listen 127.0.0.1:70000
usage_error extra --pid "$P" --listen "$L" extra
usage_error short -p "$P" -l "$L" extra
usage_error cont0 --pid "$P" --listen "$L" --continuous=0
usage_error contabc --pid "$P" --listen "$L" --continuous=abc
usage_error hist5s --pid "$P" --listen "$L" --continuous --history 5s
usage_error hist25h --pid "$P" --listen "$L" --continuous --history 25h
usage_error hist10d --pid "$P" --listen "$L" --continuous --history 10d
usage_error histalone --pid "$P" --listen "$L" --history 1m
usage_error histmem1m --pid "$P" --listen "$L" --continuous --history-memory 1MiB
usage_error histmem2t --pid "$P" --listen "$L" --continuous --history-memory 2048GiB
usage_error histmemabc --pid "$P" --listen "$L" --continuous --history-memory lots
usage_error histmemalone --pid "$P" --listen "$L" --history-memory 64MiB
D=$TEST_DIR/snaps
usage_error trigbad --pid "$P" --listen "$L" --continuous --output-dir "$D" --trigger 'rss>=lots'
usage_error trignocont --pid "$P" --listen "$L" --output-dir "$D" --trigger exit
usage_error trignodir --pid "$P" --listen "$L" --continuous --trigger exit
usage_error trigreldir --pid "$P" --listen "$L" --continuous --output-dir snaps --trigger exit
usage_error keepalone --pid "$P" --listen "$L" --continuous --keep 5
grep -q -- '--trigger needs --continuous' "$TEST_DIR/trignodir.err" ||
    fail "--trigger without --output-dir: the message does not say what it needs: $(head -n 1 "$TEST_DIR/trignodir.err")"

# --help: usage on stdout naming every long option, exit 0.
for h in --help -h; do
	run_profd help "$h"
	[ "$RC" = 0 ] || fail "profd $h: exit $RC, want 0"
	for opt in --pid --listen --hz --max-seconds --max-hz --help --version; do
		grep -q -e "$opt" "$TEST_DIR/help.out" || fail "profd $h: '$opt' missing from the usage"
	done
	[ ! -s "$TEST_DIR/help.err" ] || fail "profd $h: wrote to stderr"
	ok "profd $h -> 0, usage on stdout names every option"
done

want="profd $(cat VERSION)"
for v in --version -V; do
	run_profd version "$v"
	[ "$RC" = 0 ] || fail "profd $v: exit $RC, want 0"
	[ "$(cat "$TEST_DIR/version.out")" = "$want" ] ||
	    fail "profd $v: printed '$(cat "$TEST_DIR/version.out")', want '$want'"
	ok "profd $v -> 0: $want"
done

# A PID nobody uses: count down from pid_max.
nopid=$(($(cat /proc/sys/kernel/pid_max) - 1))
while [ -e "/proc/$nopid" ]; do
	nopid=$((nopid - 1))
done
run_profd nosuch --pid "$nopid" --listen "$L"
[ "$RC" = 1 ] || fail "profd --pid $nopid (no such process): exit $RC, want 1"
grep -qi 'no such process' "$TEST_DIR/nosuch.err" ||
    fail "profd --pid $nopid: stderr lacks 'no such process': $(cat "$TEST_DIR/nosuch.err")"
ok "profd --pid $nopid -> 1: $(grep -i -m 1 'no such process' "$TEST_DIR/nosuch.err")"

# Usage errors and failed starts left the target alone.
assert_target_ok

# A target that another tracer holds: strace -p, or gdb kept attached.
tracer=""
if command -v strace >/dev/null; then
	tracer=strace
	(exec strace -qq -p "$P" -o /dev/null) &
elif command -v gdb >/dev/null; then
	tracer=gdb
	# The python sleep keeps gdb attached (and the target stopped) until we
	# kill gdb; it is not a wait for anything.
	(exec gdb -q -nx -batch -p "$P" -ex 'python import time; time.sleep(600)' \
	    >"$TEST_DIR/gdb.out" 2>&1) &
fi
if [ -z "$tracer" ]; then
	say "SKIP (sub-check): neither strace nor gdb is installed"
else
	tpid=$!
	_track "$tpid"
	wait_traced_by "$tpid" 10 || fail "$tracer -p $P never attached"
	say "$tracer (pid $tpid) is tracing the target"
	run_profd traced --pid "$P" --listen "$L"
	[ "$RC" = 1 ] || fail "profd --pid $P under $tracer: exit $RC, want 1"
	grep -Eq "$tracer|(^|[^0-9])$tpid([^0-9]|$)" "$TEST_DIR/traced.err" ||
	    fail "profd under $tracer: stderr does not name the tracer ($tracer, pid $tpid): $(cat "$TEST_DIR/traced.err")"
	ok "profd --pid $P under $tracer -> 1: $(grep -E -m 1 "$tracer|$tpid" "$TEST_DIR/traced.err")"
	traced_by "$tpid" ||
	    fail "after profd gave up, $tracer (pid $tpid) no longer traces the target"
	ok "$tracer still holds the target"
	kill -KILL "$tpid"
	wait "$tpid" 2>/dev/null || true
	wait_untraced 10 || fail "target still traced after $tracer was killed"
	if [ "$(state_of "$P")" = T ]; then
		kill -CONT "$P"	# gdb's attach SIGSTOP may be left pending
	fi
fi

# An unprivileged profd may not trace a root-owned target: one line that
# names the missing capability.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	: >"$TEST_DIR/unpriv.out"
	rc=0
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	    "$PROFD" --pid "$P" --listen "$L" >"$TEST_DIR/unpriv.out" 2>&1 || rc=$?
	[ "$rc" = 1 ] || fail "unprivileged profd: exit $rc, want 1: $(cat "$TEST_DIR/unpriv.out")"
	grep -q 'CAP_SYS_PTRACE' "$TEST_DIR/unpriv.out" ||
	    fail "unprivileged profd: no mention of CAP_SYS_PTRACE: $(cat "$TEST_DIR/unpriv.out")"
	ok "unprivileged profd -> 1: $(head -n 1 "$TEST_DIR/unpriv.out")"
else
	say "SKIP (sub-check): not root, or no setpriv"
fi

# Finally profd does start on this target.
start_profd
stop_profd
assert_target_ok
say "PASS cli"
