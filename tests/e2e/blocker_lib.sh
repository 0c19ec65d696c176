# shellcheck shell=bash
# blocker_lib.sh - what t_wall.sh and t_threads.sh share about the blocker
# target (tests/targets/blocker.c), sourced after lib.sh.  CNT is its
# counter file.

# counters: the four return counters of blocker.c (reader epoller sleeper
# waiter), read from the shared file without touching the target.
counters()
{
	od -An -v -t u8 -N 32 "$CNT" | awk '
		{ for (i = 1; i <= NF; i++) s = s (s == "" ? "" : " ") $i }
		END { print s }'
}

# counters_rise BEFORE AFTER: sum of the four differences.
counters_rise()
{
	awk -v a="$1" -v b="$2" 'BEGIN {
		n = split(a, x, " "); split(b, y, " ")
		for (i = 1; i <= n; i++) s += y[i] - x[i]
		print s
	}'
}

# sched_snapshot: "NAME TIMESLICES" per thread (schedstat field 3: how many
# times it got a CPU), sorted by name.
sched_snapshot()
{
	local t name n
	for t in /proc/"$TARGET_PID"/task/*; do
		read -r name <"$t/comm"
		read -r _ _ n <"$t/schedstat"
		printf '%s %s\n' "$name" "$n"
	done | LC_ALL=C sort
}
