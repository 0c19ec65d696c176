#!/bin/bash
# run.sh - run the libFuzzer harnesses that `make fuzz-build` built into
# build-fuzz/fuzz/; `make fuzz` and tests/run.sh (fuzz/NAME) call it.
#
# Usage: tests/fuzz/run.sh [-c] [-t SECONDS] [NAME...]
#
#   NAME        harness tests/fuzz/fuzz_NAME.c; default: every one
#   -t SECONDS  run each for this long in all (60); its corpus runs whole
#               first, however long that takes
#   -c          check mode, for make check: one harness, its output on
#               stdout, new inputs in a scratch directory that is removed
#               afterwards instead of the kept corpus
#
# A harness runs over its corpus directories: build-fuzz/corpus/NAME (where
# new inputs are written and kept from run to run; not in check mode),
# tests/fuzz/corpus/NAME (committed seeds and inputs of fixed crashes),
# build-fuzz/seeds/NAME (generated at build time), tests/fixtures/maps for
# maps; with tests/fuzz/NAME.dict when there is one. Memory is capped at
# 2 GiB (-rss_limit_mb), one input at 30 s (-timeout). A crash, sanitizer
# report, leak, timeout or out-of-memory leaves the input in
# build-fuzz/crashes/ (NAME-crash-SHA1, NAME-leak-..., NAME-timeout-...,
# NAME-oom-...) and fails the run; reproduce it with
#
#   build-fuzz/fuzz/fuzz_NAME build-fuzz/crashes/NAME-crash-SHA1
#
# Logs of make fuzz: build-fuzz/logs/NAME.log. Exit status: 0 when every
# harness ran clean, 1 when one failed or is not built, 64 on bad usage.
set -uo pipefail

USAGE="usage: tests/fuzz/run.sh [-c] [-t SECONDS] [NAME...]"
cd "$(dirname "$0")/../.." || exit 1

FB=build-fuzz
SECONDS_EACH=60
CHECK=0
while getopts ct:h opt; do
	case $opt in
	c) CHECK=1 ;;
	t) SECONDS_EACH=$OPTARG ;;
	h)
		echo "$USAGE"
		exit 0
		;;
	*)
		echo "$USAGE" >&2
		exit 64
		;;
	esac
done
shift $((OPTIND - 1))
if ! [[ $SECONDS_EACH =~ ^[1-9][0-9]{0,5}$ ]]; then
	echo "$USAGE" >&2
	exit 64
fi

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for s in tests/fuzz/fuzz_*.c; do
		n=${s##*/fuzz_}
		names+=("${n%.c}")
	done
fi
if [ "$CHECK" = 1 ] && [ ${#names[@]} -ne 1 ]; then
	echo "run.sh: -c runs one harness" >&2
	exit 64
fi

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
mkdir -p "$FB/crashes" "$FB/logs" || exit 1

SCRATCH=
trap '[ -z "$SCRATCH" ] || rm -rf "$SCRATCH"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_one NAME: fuzz one harness; 0 when clean.
run_one()
{
	local name=$1 bin=$FB/fuzz/fuzz_$1 out rc=0 d
	local -a dirs args

	if [ ! -x "$bin" ]; then
		echo "fuzz/$name: $bin not built (make fuzz-build)" >&2
		return 1
	fi
	if [ "$CHECK" = 1 ]; then
		SCRATCH=$(mktemp -d "$FB/check-$name.XXXXXX") || return 1
		out=$SCRATCH
	else
		out=$FB/corpus/$name
		mkdir -p "$out" || return 1
	fi
	dirs=("$out")
	for d in "tests/fuzz/corpus/$name" "$FB/seeds/$name"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	[ "$name" = maps ] && dirs+=(tests/fixtures/maps)
	args=(-max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=30
	      -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1
	      -artifact_prefix="$FB/crashes/$name-")
	[ -f "tests/fuzz/$name.dict" ] && args+=(-dict="tests/fuzz/$name.dict")

	if [ "$CHECK" = 1 ]; then
		echo "$bin ${args[*]} ${dirs[*]}"
		"$bin" "${args[@]}" "${dirs[@]}" 2>&1 || rc=$?
	else
		"$bin" "${args[@]}" "${dirs[@]}" >"$FB/logs/$name.log" 2>&1 ||
			rc=$?
		summary "$name" "$FB/logs/$name.log" "$rc"
	fi
	return "$rc"
}

# summary NAME LOG RC: one line per harness from libFuzzer's final stats.
summary()
{
	local runs eps cov
	runs=$(sed -n 's/^stat::number_of_executed_units: //p' "$2" | tail -n 1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: //p' "$2" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$2" | tail -n 1)
	if [ "$3" = 0 ]; then
		printf 'PASS fuzz/%s: %s runs, %s/s, %s\n' "$1" "${runs:-?}" \
			"${eps:-?}" "${cov:-?}"
	else
		printf 'FAIL fuzz/%s (exit %s): %s runs; see %s\n' "$1" "$3" \
			"${runs:-?}" "$2"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)|artifact_prefix|Test unit written' \
			"$2" | sed -n '1,8s/^/    /p'
	fi
}

failed=0
for name in "${names[@]}"; do
	run_one "$name" || failed=1
done
exit "$failed"
