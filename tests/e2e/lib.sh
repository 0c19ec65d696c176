# shellcheck shell=bash
# lib.sh - harness for profd's end-to-end tests (sourced by tests/e2e/t_*.sh).
#
# A test starts real targets from build/targets, a real profd on loopback,
# fetches over real HTTP and checks the answers with the real client
# (`go tool pprof`) and with build/tools/pprof-dump.  Pattern: elfutils'
# test-subr.sh plus Redis' server.tcl (STYLE.md 2.10):
#
#   . "$(dirname "$0")/lib.sh"
#   t_begin NAME            tests/tmp/NAME.PID, EXIT trap that cleans up
#   start_target spin 120   sets TARGET_PID, TARGET_ARGV
#   start_profd [ARGS]      sets PROFD_PID, PROFD_PORT, PROFD_LOG, BASE
#   ... checks: ok MSG / fail MSG / skip MSG ...
#   stop_profd              SIGTERM, exit status 0, no sanitizer reports
#   assert_target_ok        alive, not stopped, TracerPid 0 in every thread
#
# Readiness is always a signal that is polled for (a "ready PID" line, a
# "listening on" line, a TracerPid value), every 0.1 s or less and for a
# bounded time; never a fixed sleep.  Exit status: 0 pass, 1 fail, 77 skip.
#
# Environment: PROFD (default build/profd), PPROF_DUMP (default
# build/tools/pprof-dump), KEEP=1 keeps the test directory.

set -euo pipefail

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$E2E_ROOT"

PROFD=${PROFD:-build/profd}
case $PROFD in /*) ;; *) PROFD=$E2E_ROOT/$PROFD ;; esac
PPROF_DUMP=${PPROF_DUMP:-build/tools/pprof-dump}
case $PPROF_DUMP in /*) ;; *) PPROF_DUMP=$E2E_ROOT/$PPROF_DUMP ;; esac
TARGET_DIR=$E2E_ROOT/build/targets
# shellcheck disable=SC2034  # used by the t_*.sh scripts
TARGET_SRC=$E2E_ROOT/tests/targets
FETCH_MAX_TIME=${FETCH_MAX_TIME:-90}

_pids=()	# every background process this test started
_logs=()	# every profd log, printed when the test fails
_cleanups=()	# commands run at exit, after the processes are gone
_nstarted=0

# ---- reporting --------------------------------------------------------------

say() { printf '%s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }
skip() { printf 'SKIP: %s\n' "$*"; exit 77; }

# ---- pipelines ----------------------------------------------------------------

# first_line, first_lines N: the first line (N lines) of standard input.
# Unlike head, grep -q or awk's exit they read all of it: under
# set -o pipefail a producer killed by SIGPIPE (exit 141) because its reader
# stopped early fails the pipeline, and with it the test.  Every consumer in
# a pipeline here reads to the end; to test for a match, use
# `grep RE >/dev/null`, not `grep -q RE`.
first_line() { sed -n 1p; }
first_lines() { sed -n "1,${1}p"; }

# ---- lifecycle ----------------------------------------------------------------

# t_begin NAME: make the test directory and arm the cleanup trap.
t_begin()
{
	TEST_NAME=$1
	TEST_DIR=$E2E_ROOT/tests/tmp/$TEST_NAME.$$
	rm -rf "$TEST_DIR"
	mkdir -p "$TEST_DIR"
	trap _t_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	say "== $TEST_NAME (profd: $PROFD)"
	[ -x "$PROFD" ] || fail "$PROFD: not built (make all, or make asan)"
	command -v curl >/dev/null || fail "curl: not installed (scripts/deps.sh)"
	_check_ptrace
}

# ptrace is the whole point; without it nothing here can run.  The targets
# are our own children and allow any tracer (PR_SET_PTRACER_ANY), so only
# Yama's stricter modes stand in the way.
_check_ptrace()
{
	local scope
	if [ -r /proc/sys/kernel/yama/ptrace_scope ]; then
		scope=$(cat /proc/sys/kernel/yama/ptrace_scope)
		if [ "$scope" = 3 ]; then
			skip "ptrace disabled (kernel.yama.ptrace_scope=3)"
		fi
		if [ "$scope" = 2 ] && [ "$(id -u)" != 0 ]; then
			skip "ptrace needs CAP_SYS_PTRACE (kernel.yama.ptrace_scope=2)"
		fi
	fi
}

_t_exit()
{
	local rc=$? log c
	set +e
	trap - EXIT INT TERM
	_kill_all
	for c in "${_cleanups[@]}"; do
		eval "$c"
	done
	# A sanitizer report fails the test even when every check passed.
	for log in "${_logs[@]}"; do
		if [ "$rc" -eq 0 ] && _sanitizer_report "$log" >/dev/null; then
			say "FAIL: sanitizer report in $log"
			rc=1
		fi
	done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		for log in "${_logs[@]}"; do
			say "--- $log (last 80 lines)"
			tail -n 80 "$log" 2>/dev/null
		done
		say "--- $TEST_NAME failed (exit $rc)"
	fi
	if [ "${KEEP:-0}" = 1 ]; then
		say "kept $TEST_DIR"
	else
		rm -rf "$TEST_DIR"
	fi
	exit "$rc"
}

# Remember a background process so that the EXIT trap kills it.
_track() { _pids+=("$1"); }

# start_hogs: one busy shell loop per CPU, at this shell's nice value, their
# PIDs in HOGS; stop_hogs kills them (and the test's end does anyway).
start_hogs()
{
	local i
	HOGS=()
	for ((i = 0; i < $(nproc); i++)); do
		(exec nice -n "$(nice)" sh -c 'while :; do :; done') &
		_track "$!"
		HOGS+=("$!")
	done
}
stop_hogs() { kill "${HOGS[@]}" 2>/dev/null || true; HOGS=(); }

# at_exit COMMAND: run COMMAND (a string for eval) when the test ends, pass
# or fail, after its processes have been killed: for files a test had to
# create outside its directory, such as a JIT's /tmp/perf-PID.map.
at_exit() { _cleanups+=("$1"); }

# state_of PID: the process state letter (R, S, D, T, t, Z, ...); fails if
# there is no such process.  /proc/PID/stat's comm may contain spaces and
# parentheses, so the state is the field after the last ") ".
state_of()
{
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[ -n "$s" ] || return 1
	printf '%s\n' "${s%% *}"
}

# alive PID: the process exists and has not exited (zombies count as gone).
alive()
{
	local s
	s=$(state_of "$1") || return 1
	[ "$s" != Z ] && [ "$s" != X ]
}

# wait_gone PID SECONDS: poll every 0.1 s until PID has exited.
wait_gone()
{
	local pid=$1 n=$(($2 * 10))
	while alive "$pid"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

# Kill, by PID, every process this test started and that is still its
# child: SIGTERM to all, up to 3 s for them to go, then SIGKILL; reap them.
_kill_all()
{
	local pid n live=()
	for pid in "${_pids[@]}"; do
		if alive "$pid" && _is_my_child "$pid"; then
			live+=("$pid")
			kill -TERM "$pid" 2>/dev/null
		fi
	done
	for pid in "${live[@]}"; do
		n=30
		while alive "$pid" && [ "$n" -gt 0 ]; do
			sleep 0.1
			n=$((n - 1))
		done
		if alive "$pid"; then
			say "cleanup: pid $pid ignored SIGTERM, sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null
		fi
	done
	for pid in "${_pids[@]}"; do
		if alive "$pid"; then
			say "cleanup: pid $pid is still running"
		else
			wait "$pid" 2>/dev/null	# reap
		fi
	done
	return 0
}

# Guard against PID reuse: only signal processes whose parent is this shell.
_is_my_child()
{
	local k v
	while read -r k v; do
		if [ "$k" = PPid: ]; then
			# An explicit status: a bare "return" in a trap handler
			# returns the status from before the trap.
			[ "$v" = $$ ] && return 0
			return 1
		fi
	done 2>/dev/null <"/proc/$1/status"
	return 1
}

# wait_for_line FILE ERE SECONDS [PID]: poll FILE every 0.1 s until a line
# matches ERE.  Returns 1 on timeout, 2 as soon as PID (if given) has exited.
wait_for_line()
{
	local file=$1 re=$2 n=$(($3 * 10)) pid=${4:-}
	for (( ; n > 0; n--)); do
		if [ -f "$file" ] && grep -Eq -- "$re" "$file"; then
			return 0
		fi
		if [ -n "$pid" ] && ! alive "$pid"; then
			# It may have written the line just before exiting.
			grep -Eq -- "$re" "$file" 2>/dev/null && return 0
			return 2
		fi
		sleep 0.1
	done
	return 1
}

# memcg_create NAME LIMIT: a memory cgroup NAME.$$ limited to LIMIT bytes
# ("max": no limit), v1 where the memory hierarchy is writable
# (/sys/fs/cgroup/memory), else v2 where the memory controller can be
# enabled; removed when the test ends.  Sets CG (empty when neither can be
# made), CG_USAGE_FILE and CG_LIMIT_FILE.
memcg_create()
{
	local name=$1 limit=$2
	CG=
	if [ -w /sys/fs/cgroup/memory/cgroup.procs ] &&
	    [ -e /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
		CG=/sys/fs/cgroup/memory/$name.$$
		mkdir "$CG" 2>/dev/null || { CG=; return 0; }
		at_exit "rmdir '$CG' 2>/dev/null"
		[ "$limit" != max ] || limit=-1
		echo "$limit" >"$CG/memory.limit_in_bytes" || fail "cannot set $CG's limit"
		CG_USAGE_FILE=memory.usage_in_bytes
		CG_LIMIT_FILE=memory.limit_in_bytes
	elif grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null &&
	    [ -w /sys/fs/cgroup/cgroup.subtree_control ]; then
		echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
		CG=/sys/fs/cgroup/$name.$$
		mkdir "$CG" 2>/dev/null || { CG=; return 0; }
		at_exit "rmdir '$CG' 2>/dev/null"
		[ -e "$CG/memory.max" ] || fail "$CG has no memory.max (memory controller not enabled)"
		echo "$limit" >"$CG/memory.max" || fail "cannot set $CG's memory.max"
		CG_USAGE_FILE=memory.current
		CG_LIMIT_FILE=memory.max
	fi
}

# cpucg_create NAME CORES: a CPU cgroup NAME.$$ whose quota is CORES
# (whole) cores, v1 where the cpu hierarchy is writable
# (/sys/fs/cgroup/cpu: cpu.cfs_quota_us over cpu.cfs_period_us), else v2
# where the cpu controller can be enabled (cpu.max); removed when the test
# ends.  Sets CPUCG (empty when neither can be made).
cpucg_create()
{
	local name=$1 cores=$2
	CPUCG=
	if [ -w /sys/fs/cgroup/cpu/cgroup.procs ] &&
	    [ -e /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
		CPUCG=/sys/fs/cgroup/cpu/$name.$$
		mkdir "$CPUCG" 2>/dev/null || { CPUCG=; return 0; }
		at_exit "rmdir '$CPUCG' 2>/dev/null"
		echo 100000 >"$CPUCG/cpu.cfs_period_us" || fail "cannot set $CPUCG's period"
		echo $((cores * 100000)) >"$CPUCG/cpu.cfs_quota_us" || fail "cannot set $CPUCG's quota"
	elif grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null &&
	    [ -w /sys/fs/cgroup/cgroup.subtree_control ]; then
		echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
		CPUCG=/sys/fs/cgroup/$name.$$
		mkdir "$CPUCG" 2>/dev/null || { CPUCG=; return 0; }
		at_exit "rmdir '$CPUCG' 2>/dev/null"
		[ -e "$CPUCG/cpu.max" ] || fail "$CPUCG has no cpu.max (cpu controller not enabled)"
		echo "$((cores * 100000)) 100000" >"$CPUCG/cpu.max" || fail "cannot set $CPUCG's cpu.max"
	fi
}

# ---- targets ------------------------------------------------------------------

# start_target NAME [ARGS...]: start build/targets/NAME in the background and
# wait (10 s at most) for its "ready PID" line.  Sets TARGET_PID,
# TARGET_ARGV (the exact argv, for /cmdline) and TARGET_OUT (the file its
# standard output goes to).
start_target()
{
	local name=$1
	shift
	[ -x "$TARGET_DIR/$name" ] || fail "$TARGET_DIR/$name: not built (make targets)"
	start_target_cmd "$name" "$TARGET_DIR/$name" "$@"
}

# start_target_cmd NAME COMMAND [ARGS...]: as start_target, for any command
# that ends up exec'ing a target (a copy of one, one in a chroot or an
# unshare'd namespace, node with a script).  The process started must be
# the one that prints "ready PID", with its own PID.
start_target_cmd()
{
	local name=$1 out pid rc=0
	shift
	_nstarted=$((_nstarted + 1))
	out=$TEST_DIR/target.$_nstarted.$name.out
	# exec: the target itself is our child, so PR_SET_PDEATHSIG fires when
	# this shell dies and $! is the target's PID.
	(exec "$@" >"$out" 2>"$out.err") &
	pid=$!
	_track "$pid"
	wait_for_line "$out" '^ready [0-9]+$' 10 "$pid" || rc=$?
	case $rc in
	0) ;;
	2) fail "target $name exited before it was ready: $(cat "$out.err")" ;;
	*) fail "target $name: no 'ready PID' line within 10 s" ;;
	esac
	TARGET_PID=$(sed -n 's/^ready \([0-9][0-9]*\)$/\1/p' "$out" | first_line)
	[ "$TARGET_PID" = "$pid" ] ||
	    fail "target $name: ready line names pid $TARGET_PID, started $pid"
	# shellcheck disable=SC2034  # used by the t_*.sh scripts
	TARGET_ARGV=("$@")
	TARGET_OUT=$out
	say "target $name ready: pid $TARGET_PID"
}

# _read_status FILE: sets _STATE and _TRACER from a /proc/.../status file
# with shell builtins only (cheap enough for 10 ms polling).
_read_status()
{
	local k v rest
	_STATE="" _TRACER=""
	while read -r k v rest; do
		case $k in
		State:) _STATE=$v ;;
		TracerPid:) _TRACER=$v ;;
		esac
	done <"$1"
}

# target_problem [PID]: print what is wrong with the target and fail, or
# print nothing: it must be alive, no thread stopped (T) or in a tracing stop
# (t), TracerPid 0 for the process and every thread (threads that exit
# meanwhile are skipped).
target_problem()
{
	local pid=${1:-$TARGET_PID} st task n=0
	if ! st=$(state_of "$pid"); then
		say "target $pid is gone"
		return 1
	fi
	case $st in
	T | t | Z | X)
		say "target $pid: state $st"
		return 1
		;;
	esac
	for task in "/proc/$pid" /proc/"$pid"/task/*; do
		_read_status "$task/status" 2>/dev/null || continue
		if [ -z "$_STATE" ] || [ -z "$_TRACER" ]; then
			# a thread that exited while its status was read
			[ -d "$task" ] || continue
			_read_status "$task/status" 2>/dev/null || continue
			if [ -z "$_STATE" ] || [ -z "$_TRACER" ]; then
				continue
			fi
		fi
		case $_STATE in
		T | t)
			say "target $pid thread ${task##*/}: state $_STATE"
			return 1
			;;
		esac
		if [ "$_TRACER" != 0 ]; then
			say "target $pid thread ${task##*/}: TracerPid $_TRACER"
			return 1
		fi
		n=$((n + 1))
	done
	if [ "$n" -lt 2 ]; then
		say "target $pid: cannot read its status"
		return 1
	fi
}

# assert_target_ok [PID]: target_problem finds nothing.
assert_target_ok()
{
	local pid=${1:-$TARGET_PID} problem
	problem=$(target_problem "$pid") || fail "$problem"
	ok "target $pid alive, no thread stopped, TracerPid 0 in all $(find "/proc/$pid/task" -mindepth 1 -maxdepth 1 | wc -l) thread(s)"
}

# traced_by PID [TARGET]: some thread of the target is traced by a thread of
# process PID.  TracerPid is the tracing *thread's* id (fs/proc/array.c uses
# task_pid_nr_ns on the tracer task), so for a multi-threaded tracer it is
# one of /proc/PID/task/*, not PID itself.
traced_by()
{
	local tracer=$1 pid=${2:-$TARGET_PID} task
	for task in /proc/"$pid"/task/*; do
		_read_status "$task/status" 2>/dev/null || continue
		if [ "$_TRACER" != 0 ] && { [ "$_TRACER" = "$tracer" ] ||
		    [ -d "/proc/$tracer/task/$_TRACER" ]; }; then
			return 0
		fi
	done
	return 1
}

# wait_traced_by TRACER SECONDS [PID]: poll every 10 ms until traced_by
# TRACER holds: the signal that a profile window is open.
wait_traced_by()
{
	local tracer=$1 n=$(($2 * 100)) pid=${3:-$TARGET_PID}
	for (( ; n > 0; n--)); do
		traced_by "$tracer" "$pid" && return 0
		alive "$tracer" || return 1
		sleep 0.01
	done
	return 1
}

# wait_window_open [N] [SECONDS]: wait (10 s by default) until profd's log
# says N (default 1) profile windows have started.  profd is attached to
# the target only for microseconds per sample, so polling TracerPid would
# miss most windows; the log line is the deterministic signal.
wait_window_open()
{
	local want=${1:-1} n=$((${2:-10} * 100)) have
	for (( ; n > 0; n--)); do
		have=$(grep -Ec 'window started' "$PROFD_LOG" 2>/dev/null || true)
		[ "${have:-0}" -ge "$want" ] && return 0
		alive "$PROFD_PID" || return 1
		sleep 0.01
	done
	return 1
}

# wait_untraced SECONDS [PID]: poll every 0.1 s until no thread of the
# target has a tracer (the tracer detaches asynchronously to our requests).
wait_untraced()
{
	local n=$(($1 * 10)) pid=${2:-$TARGET_PID} task traced
	for (( ; n > 0; n--)); do
		traced=0
		for task in /proc/"$pid"/task/*; do
			_read_status "$task/status" 2>/dev/null || continue
			[ "$_TRACER" = 0 ] || traced=1
		done
		[ "$traced" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# target_cpu_ns [PID]: CPU time used so far by all the target's threads, in
# ns (first field of /proc/PID/task/TID/schedstat).
target_cpu_ns()
{
	local pid=${1:-$TARGET_PID}
	cat /proc/"$pid"/task/*/schedstat 2>/dev/null |
	    awk '{ s += $1 } END { printf "%.0f\n", s }'
}

# ---- profd ----------------------------------------------------------------------

# start_profd_re RE ARGS...: start profd with ARGS (and -v) and wait (10 s
# at most) for a line of its log matching RE, an ERE that ends with the
# port ("listening on 127\.0\.0\.1:[0-9]+").  Sets PROFD_PID, PROFD_PORT,
# PROFD_LOG and BASE (http://127.0.0.1:PORT).  PROFD_WRAP, an array, is a
# command that execs its arguments (e.g. setpriv dropping capabilities)
# to run profd through.
PROFD_WRAP=()
start_profd_re()
{
	local re=$1 rc=0
	shift
	_nstarted=$((_nstarted + 1))
	PROFD_LOG=$TEST_DIR/profd.$_nstarted.log
	_logs+=("$PROFD_LOG")
	(exec "${PROFD_WRAP[@]}" "$PROFD" -v "$@" >"$PROFD_LOG" 2>&1) &
	PROFD_PID=$!
	_track "$PROFD_PID"
	wait_for_line "$PROFD_LOG" "$re" 10 "$PROFD_PID" || rc=$?
	case $rc in
	0) ;;
	2)
		rc=0
		wait "$PROFD_PID" || rc=$?
		fail "profd $* exited with status $rc before listening"
		;;
	*) fail "profd $*: no '$re' line within 10 s" ;;
	esac
	PROFD_PORT=$(grep -Eo "$re" "$PROFD_LOG" | first_line | sed 's/.*://')
	[ "$PROFD_PORT" -gt 0 ] || fail "profd announced port $PROFD_PORT"
	BASE=http://127.0.0.1:$PROFD_PORT
	say "profd ready: pid $PROFD_PID, $BASE ($*)"
}

# start_profd [ARGS...]: profd for TARGET_PID on an ephemeral loopback port.
LOOPBACK_RE='listening on 127\.0\.0\.1:[0-9]+'
start_profd()
{
	start_profd_re "$LOOPBACK_RE" --pid "$TARGET_PID" --listen 127.0.0.1:0 "$@"
}

# _sanitizer_report LOG: print the first sanitizer report line, if any.
_sanitizer_report()
{
	grep -E -m 1 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer|runtime error:|==[0-9]+==ERROR: ' \
	    "$1" 2>/dev/null
}

# stop_profd: SIGTERM, wait (10 s at most), exit status 0, clean log.
stop_profd()
{
	local rc=0 report
	kill -TERM "$PROFD_PID" 2>/dev/null || fail "profd $PROFD_PID already gone"
	wait_gone "$PROFD_PID" 10 || fail "profd did not exit within 10 s of SIGTERM"
	wait "$PROFD_PID" || rc=$?
	[ "$rc" -eq 0 ] || fail "profd exited with status $rc after SIGTERM"
	if report=$(_sanitizer_report "$PROFD_LOG"); then
		fail "sanitizer report in profd's log: $report"
	fi
	ok "profd exited 0 on SIGTERM, no sanitizer reports"
}

# ---- HTTP -----------------------------------------------------------------------

# fetch URL OUTFILE [CURL ARGS...]: prints the HTTP status ("000" when there
# was no answer); the headers go to OUTFILE.headers.
fetch()
{
	local url=$1 out=$2
	shift 2
	curl -sS --max-time "$FETCH_MAX_TIME" -o "$out" -D "$out.headers" \
	    -w '%{http_code}' "$@" "$url" 2>"$out.curl" || true
}

# header FILE NAME: value of header NAME (case-insensitive) in a headers file.
header()
{
	awk -v name="$2" '
		{ sub(/\r$/, "") }
		tolower(substr($0, 1, length(name) + 1)) == tolower(name) ":" {
			v = substr($0, length(name) + 2)
			sub(/^[ \t]+/, "", v)
			print v
			exit
		}' "$1"
}

# expect_status WHAT GOT WANT: WANT may be a pattern such as 4??.
expect_status()
{
	# shellcheck disable=SC2053  # $3 is a pattern on purpose
	[[ $2 == $3 ]] || fail "$1: HTTP status $2, want $3"
}

# expect_error URL STATUS: an error answer as net/http/pprof gives it:
# STATUS (a pattern such as 4??), Content-Type text/plain, X-Go-Pprof: 1, a
# body of one non-empty line.
expect_error()
{
	local url=$1 want=$2 out code ct xg lines
	_nstarted=$((_nstarted + 1))
	out=$TEST_DIR/err.$_nstarted
	code=$(fetch "$url" "$out")
	expect_status "GET $url" "$code" "$want"
	ct=$(header "$out.headers" Content-Type)
	xg=$(header "$out.headers" X-Go-Pprof)
	[[ $ct == text/plain* ]] || fail "GET $url: Content-Type '$ct', want text/plain"
	[ "$xg" = 1 ] || fail "GET $url: X-Go-Pprof '$xg', want 1"
	lines=$(wc -l <"$out")
	if [ "$lines" -ne 1 ] || [ "$(tr -d '\n' <"$out" | wc -c)" -lt 5 ]; then
		fail "GET $url: body should be one line saying what to do, got: $(head -c 300 "$out")"
	fi
	ok "GET ${url#"$BASE"} -> $code, X-Go-Pprof: 1, $ct: $(head -n 1 "$out")"
}

# fetch_text URL OUT: 200 and text/plain, or fail.
fetch_text()
{
	local url=$1 out=$2 code ct
	code=$(fetch "$url" "$out")
	expect_status "GET $url" "$code" 200
	ct=$(header "$out.headers" Content-Type)
	[[ $ct == text/plain* ]] || fail "GET $url: Content-Type '$ct', want text/plain"
	ok "GET ${url#"$BASE"} -> 200 $ct, $(wc -l <"$out") lines"
}

# fetch_profile URL OUTFILE: fetch a CPU profile and check the envelope: 200,
# application/octet-stream, gzip bytes without Content-Encoding, a profile
# pprof-dump can decode.  The decoded summary goes to OUTFILE.summary.
fetch_profile()
{
	local url=$1 out=$2 code ct ce
	code=$(fetch "$url" "$out")
	if [ "$code" = 000 ] && [ -n "${PROFD_PID:-}" ] && ! alive "$PROFD_PID"; then
		local rc=0
		wait "$PROFD_PID" || rc=$?
		fail "GET $url: no answer: profd died during the request (exit status $rc$( ((rc > 128)) && echo ", signal $((rc - 128))"))"
	fi
	expect_status "GET $url" "$code" 200
	ct=$(header "$out.headers" Content-Type)
	ce=$(header "$out.headers" Content-Encoding)
	[ "$ct" = application/octet-stream ] ||
	    fail "GET $url: Content-Type '$ct', want application/octet-stream"
	[ -z "$ce" ] || fail "GET $url: Content-Encoding '$ce': gzip belongs in the body"
	[ "$(head -c 2 "$out" | od -An -tx1 | tr -d ' \n')" = 1f8b ] ||
	    fail "GET $url: body is not gzip"
	pdump summary "$out" >"$out.summary" ||
	    fail "pprof-dump cannot decode the profile from $url"
	ok "GET ${url#"$BASE"} -> 200, $(wc -c <"$out") bytes of gzip pprof, $(summary_get "$out.summary" 'total[0]') samples"
}

# ---- profile checks -----------------------------------------------------------

need_pprof_dump()
{
	[ -x "$PPROF_DUMP" ] || fail "$PPROF_DUMP: not built (make tests)"
}

need_go()
{
	command -v go >/dev/null || fail "go: not installed (scripts/deps.sh installs golang-go)"
}

pdump() { "$PPROF_DUMP" "$@"; }

# pprof ARGS...: the real client, kept away from $HOME and the network.
pprof()
{
	HOME=$TEST_DIR PPROF_TMPDIR=$TEST_DIR GOFLAGS='' GOPROXY=off \
	    go tool pprof "$@"
}

# summary_get SUMMARY KEY: value of "KEY VALUE" in pprof-dump summary output.
summary_get()
{
	awk -v k="$2" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$1"
}

# leaf_frames_vs_addr2line PROFILE EXE: inline frames checked address by
# address, against binutils' addr2line -i (a DWARF reader other than the
# libdw profd uses). For every sample whose leaf PC lies in EXE, profd's
# frames for that PC (innermost first) must have the FILE:LINE addr2line
# gives for it, file names absolute and equal (both cleaned of "." and
# ".."). Which PCs the samples land on depends on the CPU model; that each
# PC is named right does not. Prints "GOOD ALL EXAMPLE": the samples whose
# frames match, all samples in EXE (last sample type), and the first
# mismatch ("-" if none).
leaf_frames_vs_addr2line() { _frames_vs_addr2line leaves "$@"; }

# files_vs_addr2line PROFILE EXE: every location of the profile in EXE,
# the callers' too (profd named them at return address - 1, and that is
# their address in the profile), checked against addr2line -i: each of
# its frames' Function.filename must be absolute and the file addr2line
# names for that frame (cleaned of "." and ".." as profd cleans it).
# Prints "GOOD ALL EXAMPLE" as leaf_frames_vs_addr2line does, counting
# locations.
files_vs_addr2line() { _frames_vs_addr2line locations "$@"; }

# _frames_vs_addr2line leaves|locations PROFILE EXE
_frames_vs_addr2line()
{
	local what=$1 P=$2 exe L
	exe=$(realpath "$3")
	L=$TEST_DIR/$what.$(basename "$exe")
	if ! pdump "$what" -L "$P" >"$L"; then
		echo "0 0 pprof-dump-$what-failed"
		return
	fi
	# file offset -> ELF address, through the program headers
	LC_ALL=C readelf -lW "$exe" | awk '$1 == "LOAD" { print $2, $3, $5 }' >"$L.load"
	awk -v exe="$exe" "$_AWK_HEX"'
		NR == FNR { off[NR] = hex($1); va[NR] = hex($2); sz[NR] = hex($3)
			n = NR; next }
		$3 == exe {
			o = hex($2)
			for (i = 1; i <= n; i++)
				if (o >= off[i] && o < off[i] + sz[i]) {
					printf "%s 0x%x\n", $1, o - off[i] + va[i]
					break
				}
		}' "$L.load" "$L" | sort -u >"$L.va"
	awk '{ print $2 }' "$L.va" | sort -u >"$L.vas"
	# -a: each address's frames (file:line, innermost first) follow it
	if [ ! -s "$L.vas" ] || ! addr2line -a -i -e "$exe" <"$L.vas" >"$L.a2l"; then
		echo "0 0 no-PC-in-$exe-or-addr2line-failed"
		return
	fi
	# leaves: FILE:LINE of each frame, weighed by the sample's value;
	# locations: the FILE of each frame, each location counted once.
	awk -v exe="$exe" -v what="$what" "$_AWK_HEX$_AWK_CLEAN"'
		function key(file, line) {
			return what == "leaves" ? file ":" line : file
		}
		FILENAME == ARGV[1] {
			if ($0 ~ /^0x[0-9a-f]+$/) { cur = hex($0); want[cur] = ""; next }
			sub(/ \(discriminator [0-9]+\)$/, "")
			line = $0; sub(/.*:/, "", line)
			file = $0; sub(/:[^:]*$/, "", file)
			if (file == "??") file = ""	# no line known
			want[cur] = want[cur] (want[cur] == "" ? "" : ";") \
			    key(file == "" ? "" : clean(file), line)
			next
		}
		FILENAME == ARGV[2] { va[$1] = hex($2); next }
		$3 == exe {
			v = what == "leaves" ? $4 : 1
			all += v
			got = ""
			abs = 1
			frames = $0	# names may have spaces: all after field 4
			sub(/^[^ ]+ [^ ]+ [^ ]+ [^ ]+ /, "", frames)
			n = split(frames, fr, ";")
			for (i = 1; i <= n; i++) {
				loc = fr[i]; sub(/.*@/, "", loc)	# NAME@FILE:LINE
				line = loc; sub(/.*:/, "", line)
				file = loc; sub(/:[^:]*$/, "", file)
				if (file != "" && substr(file, 1, 1) != "/")
					abs = 0
				got = got (i > 1 ? ";" : "") key(file, line)
			}
			w = want[va[$1]]
			if (got == w && abs)
				good += v
			else if (bad == "")
				bad = $1 ":profd=" got "/addr2line=" w
		}
		END { printf "%d %d %s\n", good, all, (bad == "" ? "-" : bad) }
	' "$L.a2l" "$L.va" "$L"
}

# pprof_list_check PROFILE FUNC SRC: `go tool pprof -list '^FUNC$'`, run
# from / so that a relative file name could not be found by searching up
# from the working directory (pprof's default -source_path), must name
# SRC (absolute, as the build saw it) for FUNC, report no missing file,
# and print source lines of FUNC that are SRC's lines.
pprof_list_check()
{
	local P=$1 fn=$2 src=$3 out
	case $P in /*) ;; *) P=$PWD/$P ;; esac
	out=$TEST_DIR/list.$(printf '%s' "$fn" | tr -c 'A-Za-z0-9_.\n' _)
	(cd / && pprof -symbolize=none -list "^$fn\$" "$P") >"$out" 2>"$out.err" ||
	    fail "go tool pprof -list '^$fn\$' failed: $(cat "$out.err")"
	grep -Fqx "ROUTINE ======================== $fn in $src" "$out" ||
	    fail "go tool pprof -list '^$fn\$': no 'ROUTINE ... $fn in $src': $(grep ROUTINE "$out" | first_lines 3)"
	if grep -Eq 'could not find|Error:' "$out" "$out.err"; then
		fail "go tool pprof -list '^$fn\$': $(grep -Eh 'could not find|Error:' "$out" "$out.err" | first_line)"
	fi
	# "   flat   cum   N:TEXT": each listed line must be line N of src
	awk '
		NR == FNR { text[FNR] = $0; next }
		/^ *[^ ]+ +[^ ]+ +[0-9]+:/ {
			s = $0; sub(/^ *[^ ]+ +[^ ]+ +/, "", s)
			n = s; sub(/:.*/, "", n)
			t = substr(s, length(n) + 2)
			all++
			if (text[n + 0] == t) good++
			else if (bad == "") bad = n ": " t
		}
		END {
			if (!all) { print "no source lines listed"; exit 1 }
			if (good != all) { print all - good " of " all " lines differ from the file, e.g. " bad; exit 1 }
			print all
		}' "$src" "$out" >"$out.check" ||
	    fail "go tool pprof -list '^$fn\$' $src: $(cat "$out.check")"
	ok "go tool pprof -list '^$fn\$' from /: $(cat "$out.check") source lines of $src"
}

# check_source_files PROFILE EXE SRC FUNC...: every frame of every
# location in EXE names an absolute file, the one addr2line -i names
# (files_vs_addr2line), and go tool pprof -list reads each FUNC's source
# from SRC (pprof_list_check).
check_source_files()
{
	local P=$1 exe=$2 src=$3 fn good all ex
	shift 3
	read -r good all ex <<<"$(files_vs_addr2line "$P" "$exe")"
	[ "$all" -gt 0 ] || fail "no location in $exe to check ($ex)"
	expect_range "locations in $exe whose frames' files are absolute and addr2line -i's (%; first mismatch: $ex)" \
	    "$(pct "$good" "$all")" 100 100
	for fn in "$@"; do
		pprof_list_check "$P" "$fn" "$src"
	done
}

# An awk function hex("0x1f" or "1f") -> 31, for awks without strtonum
# (Debian's default awk is mawk); exact up to 2^53.
# shellcheck disable=SC2016
_AWK_HEX='function hex(s,    i, c, v) {
	sub(/^0[xX]/, "", s); v = 0
	for (i = 1; i <= length(s); i++) {
		c = index("0123456789abcdef", tolower(substr(s, i, 1)))
		if (!c) break
		v = v * 16 + c - 1
	}
	return v
}'

# An awk function clean(path): "." and ".." components and repeated '/'
# removed by the text alone, as profd cleans source file names (Go's
# path.Clean); addr2line prints them as the build wrote them.
# shellcheck disable=SC2016
_AWK_CLEAN='function clean(p,    n, i, c, out, k, abs, parts) {
	abs = substr(p, 1, 1) == "/"
	n = split(p, c, "/"); k = 0
	for (i = 1; i <= n; i++) {
		if (c[i] == "" || c[i] == ".") continue
		if (c[i] == ".." && k > 0 && parts[k] != "..") { k--; continue }
		if (c[i] == ".." && abs) continue
		parts[++k] = c[i]
	}
	out = ""
	for (i = 1; i <= k; i++) out = out (i > 1 ? "/" : "") parts[i]
	if (abs) return "/" out
	return out == "" ? "." : out
}'

# comment_count SUMMARY WHAT: the number before " WHAT" in profd's comment
# on the profile ("...: 412 samples, 99 ticks, 0 lost"): WHAT is samples,
# ticks or lost.  The sampler's own count of what it did in the window is
# the same-run reference for checks on how many samples there are.
comment_count()
{
	sed -n "s/^comment profd .*[:,] \([0-9][0-9]*\) $2\([,;].*\)\{0,1\}\$/\1/p" "$1" |
	    sed -n '$p'
}

# pprof_table FILE [PPROF FLAGS...]: `go tool pprof -top` as tab-separated
# "flat%<TAB>cum%<TAB>name" lines; " (inline)" stays on the name.  Names are
# only what profd put in the profile (-symbolize=none).
pprof_table()
{
	local file=$1
	shift
	pprof -symbolize=none -top -nodecount=200 "$@" "$file" | awk '
		/^ *flat +flat%/ { body = 1; next }
		body && NF >= 6 {
			f = $2; c = $5; sub(/%$/, "", f); sub(/%$/, "", c)
			name = $0
			for (i = 0; i < 5; i++)
				sub(/^ *[^ ]+/, "", name)
			sub(/^ +/, "", name)
			print f "\t" c "\t" name
		}'
}

# table_get TABLE NAME COLUMN: from pprof_table output, the flat% (COLUMN 1)
# or cum% (COLUMN 2) of the function NAME; 0 when NAME is absent.
table_get()
{
	awk -F '\t' -v n="$2" -v c="$3" '
		$3 == n { print $c; found = 1; exit }
		END { if (!found) print 0 }' "$1"
}

# pprof_traces_folded FILE [PPROF FLAGS...]: `go tool pprof -traces` turned
# into one line per trace, frames root first joined by ';' (" (inline)"
# removed), then a space and pprof's value.  -traces prints "%10s   %s" per
# frame and "%10s:  %s" per label, so column 11 tells them apart.  Flags
# given come after -symbolize=none and may override it.
pprof_traces_folded()
{
	local file=$1
	shift
	pprof -symbolize=none -traces "$@" "$file" | awk '
		function flush() {
			if (n > 0) {
				s = f[n]
				for (i = n - 1; i >= 1; i--)
					s = s ";" f[i]
				print s " " v
			}
			n = 0
		}
		/^-----------\+/ { flush(); inblk = 1; next }
		inblk && substr($0, 11, 3) == "   " && length($0) > 13 {
			name = substr($0, 14)
			sub(/ \(inline\)$/, "", name)
			if (n == 0) {
				v = substr($0, 1, 10)
				gsub(/ /, "", v)
			}
			f[++n] = name
		}
		END { flush() }'
}

# fold_sum FOLDED SEQ: sum of the values of the folded stacks that contain
# the frame sequence SEQ ("a;b;c", whole frame names, root first).
fold_sum()
{
	awk -v seq=";$2;" '{
		v = $NF
		s = ";" substr($0, 1, length($0) - length($NF) - 1) ";"
		if (index(s, seq))
			t += v
	} END { printf "%.0f\n", t }' "$1"
}

# fold_sum_leaf FOLDED SEQ: as fold_sum, but SEQ must end the stack.
fold_sum_leaf()
{
	awk -v seq=";$2;" '{
		v = $NF
		s = ";" substr($0, 1, length($0) - length($NF) - 1) ";"
		if (length(s) >= length(seq) &&
		    substr(s, length(s) - length(seq) + 1) == seq)
			t += v
	} END { printf "%.0f\n", t }' "$1"
}

# fold_total FOLDED: sum of all values.
fold_total()
{
	awk '{ t += $NF } END { printf "%.0f\n", t }' "$1"
}

# frames_in_lines FOLDED_L FUNC FILE_RE LO HI: "GOOD ALL EXAMPLE" for the
# frames of FUNC in pprof-dump folded -L output: ALL their value, GOOD the
# part whose file matches FILE_RE and whose line is in LO..HI.
frames_in_lines()
{
	awk -v fn="$2" -v re="$3" -v lo="$4" -v hi="$5" '{
		v = $NF
		n = split(substr($0, 1, length($0) - length($NF) - 1), fr, ";")
		for (i = 1; i <= n; i++) {
			if (substr(fr[i], 1, length(fn) + 1) != fn "@")
				continue
			all += v
			loc = substr(fr[i], length(fn) + 2)
			line = loc; sub(/.*:/, "", line)
			file = loc; sub(/:[^:]*$/, "", file)
			if (file ~ re && line + 0 >= lo && line + 0 <= hi) {
				good += v
				ex = fr[i]
			}
		}
	} END { printf "%.0f %.0f %s\n", good, all, ex }' "$1"
}

# func_lines SRC NAME: "FIRST LAST" source lines of a function written in
# kernel style ("NAME(" at the start of a line ... "}" at the start of one).
func_lines()
{
	awk -v n="$2(" '
		!start && substr($0, 1, length(n)) == n { start = NR }
		start && /^}/ { print start, NR; exit }' "$1"
}

# pct PART WHOLE: 100 * PART / WHOLE with two decimals (0 when WHOLE is 0).
pct()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", (b > 0 ? 100 * a / b : 0) }'
}

# expect_range WHAT VALUE LO HI: LO <= VALUE <= HI (numbers, decimals ok).
expect_range()
{
	if awk -v v="$2" -v lo="$3" -v hi="$4" 'BEGIN { exit !(v >= lo && v <= hi) }'; then
		ok "$1 = $2 (expected $3..$4)"
	else
		fail "$1 = $2, expected $3..$4"
	fi
}

# ---- reliability helpers ----
# Used by the t_rel_*.sh tests (signals, thread churn, exit and exec).

# count_matches FILE ERE: how many lines of FILE match ERE (0 when none or
# no file); always status 0, so that it is safe under set -e.
count_matches()
{
	grep -Ec -- "$2" "$1" 2>/dev/null || true
}

# counter_get FILE INDEX: the little-endian uint64 at byte INDEX*8 of a
# target's counter file (sigcount, churn), read without touching the target.
counter_get()
{
	local v
	v=$(od -An -v -t u8 -j $(($2 * 8)) -N 8 "$1") || return 1
	v=${v//[!0-9]/}
	printf '%s\n' "${v:-0}"
}

# task_states [PID]: the state letters of all the target's threads, sorted
# and joined ("R S"); threads that vanish while being read are left out.
task_states()
{
	local pid=${1:-$TARGET_PID} t s
	for t in /proc/"$pid"/task/*; do
		s=$(state_of "${t##*/}" 2>/dev/null) || continue
		printf '%s\n' "$s"
	done | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
	printf '\n'
}

# wait_task_states STATE SECONDS [PID]: poll every 10 ms until every thread
# of the target is in STATE (a letter such as T).
wait_task_states()
{
	local want=$1 n=$(($2 * 100)) pid=${3:-$TARGET_PID} s
	for (( ; n > 0; n--)); do
		s=$(task_states "$pid")
		[ -n "$s" ] && [ -z "${s//[ $want]/}" ] && return 0
		sleep 0.01
	done
	return 1
}

# bg_fetch NAME URL [MAX_TIME]: GET URL with curl in the background (at
# most MAX_TIME seconds, default FETCH_MAX_TIME); the body goes to
# $TEST_DIR/NAME, the status to NAME.code, the headers to NAME.headers.
# Sets BG_PID.  Collect it with bg_wait.
bg_fetch()
{
	local out=$TEST_DIR/$1
	(exec curl -sS --max-time "${3:-$FETCH_MAX_TIME}" -o "$out" \
	    -D "$out.headers" -w '%{http_code}' "$2" >"$out.code" \
	    2>"$out.curl") &
	BG_PID=$!
	_track "$BG_PID"
}

# bg_wait PID NAME: wait for a bg_fetch; sets BG_CODE to its HTTP status
# ("000" when there was no answer, e.g. curl's --max-time ran out).  Not in
# a $(...): only this shell can wait for its children.
bg_wait()
{
	wait "$1" 2>/dev/null || true
	BG_CODE=$(cat "$TEST_DIR/$2.code" 2>/dev/null) || BG_CODE=""
	BG_CODE=${BG_CODE:-000}
}

# expect_profile WHAT FILE CODE: FILE holds an answer with HTTP status CODE
# and headers in FILE.headers: as fetch_profile, it must be 200, gzip pprof
# that pprof-dump decodes; the summary goes to FILE.summary.  Sets
# PROFILE_SAMPLES to its number of samples.
expect_profile()
{
	local what=$1 out=$2 code=$3 ct
	expect_status "$what" "$code" 200
	ct=$(header "$out.headers" Content-Type)
	[ "$ct" = application/octet-stream ] ||
	    fail "$what: Content-Type '$ct', want application/octet-stream"
	[ "$(head -c 2 "$out" | od -An -tx1 | tr -d ' \n')" = 1f8b ] ||
	    fail "$what: body is not gzip"
	pdump summary "$out" >"$out.summary" ||
	    fail "$what: pprof-dump cannot decode the profile"
	# shellcheck disable=SC2034  # used by the t_*.sh scripts
	PROFILE_SAMPLES=$(summary_get "$out.summary" 'total[0]')
}

# expect_error_body WHAT FILE CODE: FILE holds an error answer: non-2xx,
# text/plain, X-Go-Pprof: 1, one non-empty line.  Sets ERROR_LINE to it.
expect_error_body()
{
	local what=$1 out=$2 code=$3 ct
	[[ $code == [3-5]?? ]] || fail "$what: HTTP status '$code', want an error status"
	ct=$(header "$out.headers" Content-Type)
	[[ $ct == text/plain* ]] || fail "$what: Content-Type '$ct', want text/plain"
	[ "$(header "$out.headers" X-Go-Pprof)" = 1 ] ||
	    fail "$what: no X-Go-Pprof: 1 header"
	if [ "$(wc -l <"$out")" -ne 1 ] || [ "$(tr -d '\n' <"$out" | wc -c)" -lt 5 ]; then
		fail "$what: body should be one line saying what to do, got: $(head -c 300 "$out")"
	fi
	# shellcheck disable=SC2034  # used by the t_*.sh scripts
	ERROR_LINE=$(head -n 1 "$out")
}

# metric_get NAME [PID]: the value of profd's /metrics sample NAME for the
# target ({pid="PID"}), or of an unlabelled NAME; empty when absent.
metric_get()
{
	local pid=${2:-$TARGET_PID}
	curl -sS --max-time 10 "$BASE/metrics" 2>/dev/null | awk -v n="$1" \
	    -v l="$1{pid=\"$pid\"}" '($1 == l || $1 == n) && !done { print $2; done = 1 }'
}

# snap_wait DIR GLOB SECONDS: poll until one snapshot DIR/GLOB exists;
# prints its path.
snap_wait()
{
	local n=$(($3 * 10)) d
	while :; do
		for d in "$1"/$2; do
			[ -d "$d" ] && { printf '%s\n' "$d"; return 0; }
		done
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		alive "$PROFD_PID" || fail "profd died"
		sleep 0.1
	done
}

# wait_history: until the recorder holds a bucket (/metrics), 20 s at most.
wait_history()
{
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(metric_get profd_history_buckets)" -ge 1 ] 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no history bucket 20 s after profd started"
}

# wait_checks PID N: until profd has checked PID's --trigger conditions N
# times or more (profd_triggers_checked_total), N / 2 + 20 s at most;
# prints the count.
wait_checks()
{
	local i v
	for ((i = 0; i < $2 * 5 + 200; i++)); do
		v=$(metric_get profd_triggers_checked_total "$1")
		[ "${v:-0}" -ge "$2" ] && { printf '%s\n' "$v"; return 0; }
		alive "$PROFD_PID" || fail "profd died"
		sleep 0.1
	done
	fail "pid $1: triggers checked ${v:-0} times, want $2"
}

# service_get NAME EXPR: a Python expression over s, the object of
# profd's /services for the --match service NAME (None when it is not
# listed); /services is left in $TEST_DIR/services.json.
service_get()
{
	curl -sS --max-time 10 "$BASE/services" >"$TEST_DIR/services.json" 2>/dev/null || return 1
	python3 - "$TEST_DIR/services.json" "$1" "$2" <<'EOF' 2>/dev/null
import json, sys
s = [x for x in json.load(open(sys.argv[1])) if x["service"] == sys.argv[2]]
s = s[0] if s else None
print(eval(sys.argv[3]))
EOF
}

# wait_service NAME EXPR WANT: poll /services every 0.1 s (at most 15 s)
# until service_get NAME EXPR prints WANT.
wait_service()
{
	local n have
	for ((n = 150; n > 0; n--)); do
		have=$(service_get "$1" "$2") || have="(no answer)"
		[ "$have" = "$3" ] && return 0
		alive "$PROFD_PID" || fail "profd died: $(tail -n 5 "$PROFD_LOG")"
		sleep 0.1
	done
	fail "/services: $1: $2 is '$have' after 15 s, want '$3': $(cat "$TEST_DIR/services.json")"
}
