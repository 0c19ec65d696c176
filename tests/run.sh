#!/bin/bash
# run.sh - run profd's tests; `make check` calls it after building.
#
# Usage: tests/run.sh [FILTER]
#
# Runs every unit test binary build/tests/test_*, then every end-to-end
# script tests/e2e/t_*.sh twice: against build/profd ("e2e/t_NAME") and
# against the ASan+UBSan build build-asan/profd ("e2e-asan/t_NAME").  FILTER,
# an extended regular expression, keeps only the tests whose name matches.
# Each test runs under `timeout -k 5 $TEST_TIMEOUT` (default 120 s) and prints
# PASS, FAIL (with the last 40 lines of its output) or SKIP (with the reason);
# full logs go to tests/tmp/logs/.  The last line is always
# "N passed, N failed, N skipped"; the exit status is 1 if a test failed or
# no test ran.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
FILTER=${1:-}
TEST_TIMEOUT=${TEST_TIMEOUT:-120}
LOGDIR=tests/tmp/logs
mkdir -p "$LOGDIR" || exit 1

npass=0
nfail=0
nskip=0

selected()
{
	[ -z "$FILTER" ] || [[ $1 =~ $FILTER ]]
}

# run_one NAME COMMAND...: run one test and account for its result.
run_one()
{
	local name=$1 log rc=0 reason
	shift
	selected "$name" || return 0
	log=$LOGDIR/${name//\//_}.log
	timeout -k 5 "$TEST_TIMEOUT" "$@" >"$log" 2>&1 </dev/null || rc=$?
	case $rc in
	0)
		echo "PASS $name"
		npass=$((npass + 1))
		;;
	77)
		reason=$(sed -n 's/^SKIP: //p' "$log" | tail -n 1)
		echo "SKIP $name: ${reason:-exit status 77}"
		nskip=$((nskip + 1))
		;;
	*)
		case $rc in
		124 | 137) echo "FAIL $name (timed out after ${TEST_TIMEOUT}s)" ;;
		*) echo "FAIL $name (exit $rc)" ;;
		esac
		tail -n 40 "$log" | sed 's/^/    /'
		echo "    (full log: $log)"
		nfail=$((nfail + 1))
		;;
	esac
}

skip_one()
{
	selected "$1" || return 0
	echo "SKIP $1: $2"
	nskip=$((nskip + 1))
}

for t in build/tests/test_*; do
	case $t in *.*) continue ;; esac	# test_x.d and the like
	[ -x "$t" ] || continue
	run_one "unit/${t##*/}" "$t"
done

# The sanitized daemon reports errors on stderr (which the e2e harness
# scans) and exits non-zero; make UBSan print where.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

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

echo "$npass passed, $nfail failed, $nskip skipped"
[ "$nfail" -eq 0 ] && [ $((npass + nfail + nskip)) -gt 0 ]
