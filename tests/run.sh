#!/bin/bash
# run.sh - run profd's tests; `make check` calls it after building.
#
# Usage: tests/run.sh [--repeat N] [--load] [FILTER]
#
# Runs every unit test binary build/tests/test_* ("unit/test_NAME"), the
# same unit tests built with ASan+UBSan, build-asan/tests/test_*
# ("unit-asan/test_NAME"), each libFuzzer harness build-fuzz/fuzz/fuzz_*
# over its whole corpus and on for FUZZ_CHECK_SECONDS (default 5) in all
# ("fuzz/NAME", tests/fuzz/run.sh -c), then every end-to-end script
# tests/e2e/t_*.sh twice: against build/profd ("e2e/t_NAME") and against
# the ASan+UBSan build build-asan/profd ("e2e-asan/t_NAME").  `make asan`
# builds build-asan/, `make fuzz-build` build-fuzz/; what they lack is
# skipped with the reason.  FILTER, an extended regular expression, keeps
# only the tests whose name matches.
#
#   --repeat N  run the selected tests N times over (the whole selection,
#               then again); every run counts in the totals and has its own
#               log, NAME.runK.log
#   --load      run them while one CPU hog per core (nproc) spins at nice
#               10, to shake out timing assumptions; the hogs are killed when
#               run.sh ends, however it ends
#
# Each test runs under `timeout -k 5 $TEST_TIMEOUT` (default 120 s) and prints
# PASS, FAIL (with the last 40 lines of its output) or SKIP (with the reason);
# full logs go to tests/tmp/logs/.  The last line is always
# "N passed, N failed, N skipped"; the exit status is 1 if a test failed or
# no test ran, 64 for a usage error, 130/143 when interrupted.
set -uo pipefail

USAGE="usage: tests/run.sh [--repeat N] [--load] [FILTER]"
usage()
{
	echo "$USAGE" >&2
	exit 64
}

REPEAT=1
LOAD=0
FILTER=
nfilter=0
while [ $# -gt 0 ]; do
	case $1 in
	--repeat)
		[ $# -ge 2 ] || usage
		REPEAT=$2
		shift 2
		;;
	--repeat=*)
		REPEAT=${1#--repeat=}
		shift
		;;
	--load)
		LOAD=1
		shift
		;;
	-h | --help)
		echo "$USAGE"
		exit 0
		;;
	--)
		shift
		[ $# -le 1 ] || usage
		if [ $# -eq 1 ]; then
			FILTER=$1
			nfilter=$((nfilter + 1))
		fi
		break
		;;
	-*) usage ;;
	*)
		FILTER=$1
		nfilter=$((nfilter + 1))
		shift
		;;
	esac
done
[ "$nfilter" -le 1 ] || usage
[[ $REPEAT =~ ^[1-9][0-9]{0,5}$ ]] || usage

cd "$(dirname "$0")/.." || exit 1
TEST_TIMEOUT=${TEST_TIMEOUT:-120}
FUZZ_CHECK_SECONDS=${FUZZ_CHECK_SECONDS:-5}
LOGDIR=tests/tmp/logs
mkdir -p "$LOGDIR" || exit 1

# The sanitized binaries report errors on stderr (which the e2e harness
# scans) and exit non-zero; make UBSan print where.  -fno-sanitize-recover
# already makes every report fatal.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
# For the unit tests under ASan: leaks count (they are short-lived programs
# that should free what they allocate), and a few checks that are off by
# default.  The e2e-asan daemon keeps ASan's defaults (or ASAN_OPTIONS).
UNIT_ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=1}

npass=0
nfail=0
nskip=0
run=1		# which of the REPEAT runs this is
CUR_PID=	# the test running now (its timeout process)
HOGS=()		# the --load CPU hogs

selected()
{
	[ -z "$FILTER" ] || [[ $1 =~ $FILTER ]]
}

# label NAME: NAME as printed, with the run number when repeating.
label()
{
	if [ "$REPEAT" -gt 1 ]; then
		printf '%s [run %d/%d]\n' "$1" "$run" "$REPEAT"
	else
		printf '%s\n' "$1"
	fi
}

# run_one NAME COMMAND...: run one test and account for its result.  The
# test runs in the background and is waited for, so that an INT or TERM
# reaches this shell's traps at once, not after the test.
run_one()
{
	local name=$1 log rc=0 reason what
	shift
	selected "$name" || return 0
	what=$(label "$name")
	log=$LOGDIR/${name//\//_}
	[ "$REPEAT" -eq 1 ] || log=$log.run$run
	log=$log.log
	timeout -k 5 "$TEST_TIMEOUT" "$@" >"$log" 2>&1 </dev/null &
	CUR_PID=$!
	wait "$CUR_PID" || rc=$?
	CUR_PID=
	case $rc in
	0)
		echo "PASS $what"
		npass=$((npass + 1))
		;;
	77)
		reason=$(sed -n 's/^SKIP: //p' "$log" | tail -n 1)
		echo "SKIP $what: ${reason:-exit status 77}"
		nskip=$((nskip + 1))
		;;
	*)
		case $rc in
		124 | 137) echo "FAIL $what (timed out after ${TEST_TIMEOUT}s)" ;;
		*) echo "FAIL $what (exit $rc)" ;;
		esac
		# The reason first: a long tail may be cut by whoever shows it.
		grep -E '^(FAIL|ERROR|==[0-9]+==ERROR|.*runtime error):? ' "$log" |
		    sed -n '1,5s/^/    reason: /p'
		tail -n 40 "$log" | sed 's/^/    /'
		echo "    (full log: $log)"
		nfail=$((nfail + 1))
		;;
	esac
}

skip_one()
{
	selected "$1" || return 0
	echo "SKIP $(label "$1"): $2"
	nskip=$((nskip + 1))
}

# my_child PID: PID is still a child of this shell (guards kill against PID
# reuse once bash has reaped it).
my_child()
{
	local k v
	while read -r k v; do
		if [ "$k" = PPid: ]; then
			[ "$v" = $$ ] && return 0
			return 1
		fi
	done 2>/dev/null <"/proc/$1/status"
	return 1
}

# start_load: one busy loop per core, at nice 10.
start_load()
{
	local i n
	n=$(nproc 2>/dev/null) || n=1
	for ((i = 0; i < n; i++)); do
		nice -n 10 bash -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
		HOGS+=($!)
	done
	echo "load: $n CPU hog(s) at nice 10, pid(s) ${HOGS[*]}"
}

# stop_load: kill the hogs by PID and reap them.
stop_load()
{
	local pid
	for pid in "${HOGS[@]}"; do
		my_child "$pid" && kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	HOGS=()
}

# stop_test: end the test that is running (timeout passes the TERM on, then
# SIGKILL 5 s later) and reap it.
stop_test()
{
	[ -n "$CUR_PID" ] || return 0
	my_child "$CUR_PID" && kill -TERM "$CUR_PID" 2>/dev/null
	wait "$CUR_PID" 2>/dev/null
	CUR_PID=
}

summary()
{
	echo "$npass passed, $nfail failed, $nskip skipped"
}

# interrupted STATUS: INT or TERM: stop everything, summary, exit.
interrupted()
{
	trap '' INT TERM
	stop_test
	stop_load
	echo "interrupted" >&2
	summary
	exit "$1"
}

trap 'stop_test; stop_load' EXIT
trap 'interrupted 130' INT
trap 'interrupted 143' TERM

run_suite()
{
	local t s name

	for t in build/tests/test_*; do
		case $t in *.*) continue ;; esac	# test_x.d and the like
		[ -x "$t" ] || continue
		run_one "unit/${t##*/}" "$t"
	done

	for s in tests/unit/test_*.c; do
		[ -f "$s" ] || continue
		name=$(basename "$s" .c)
		t=build-asan/tests/$name
		if [ -x "$t" ]; then
			run_one "unit-asan/$name" env ASAN_OPTIONS="$UNIT_ASAN_OPTIONS" "$t"
		else
			skip_one "unit-asan/$name" "$t not built (make asan)"
		fi
	done

	for s in tests/fuzz/fuzz_*.c; do
		[ -f "$s" ] || continue
		name=$(basename "$s" .c)
		name=${name#fuzz_}
		t=build-fuzz/fuzz/fuzz_$name
		if [ -x "$t" ]; then
			run_one "fuzz/$name" tests/fuzz/run.sh -c \
				-t "$FUZZ_CHECK_SECONDS" "$name"
		else
			skip_one "fuzz/$name" "$t not built (make fuzz-build)"
		fi
	done

	for s in tests/e2e/t_*.sh; do
		[ -f "$s" ] || continue
		name=$(basename "$s" .sh)
		run_one "e2e/$name" env PROFD=build/profd bash "$s"
		if [ -x build-asan/profd ]; then
			run_one "e2e-asan/$name" env PROFD=build-asan/profd bash "$s"
		else
			skip_one "e2e-asan/$name" "build-asan/profd not built (make asan)"
		fi
	done
}

[ "$LOAD" = 0 ] || start_load
for ((run = 1; run <= REPEAT; run++)); do
	run_suite
done
stop_load
summary
[ "$nfail" -eq 0 ] && [ $((npass + nfail + nskip)) -gt 0 ]
