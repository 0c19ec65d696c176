#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_rel_nofile - a target with more threads than profd has file descriptors
# for: 3000 sleeping threads and a busy main thread (build/targets/many),
# profd started with RLIMIT_NOFILE 400 (soft and hard), where keeping two
# fds per thread would need 6000. Once this made thread dumps silently
# list a part of the threads, then answer 403 blaming "a security module",
# then 404 "process exited" for a live process. Now: every answer is 200;
# the debug=2 dump lists every thread of the target (or says how many it
# lacks); CPU and wall profiles work; profd never holds more fds than the
# limit; no answer blames a security module; the target runs on, untraced.
. "$(dirname "$0")/lib.sh"
t_begin rel_nofile
need_pprof_dump
command -v prlimit >/dev/null || fail "prlimit: not installed (util-linux)"

N=3000
LIMIT=400
start_target many "$N" 120
nthreads=$(find "/proc/$TARGET_PID/task" -mindepth 1 -maxdepth 1 | wc -l)
[ "$nthreads" = $((N + 1)) ] || fail "many $N has $nthreads threads"

PROFD_WRAP=(prlimit "--nofile=$LIMIT:$LIMIT" --)
start_profd
PROFD_WRAP=()
[ "$(awk '$1 == "Max" && $2 == "open" { print $4 }' "/proc/$PROFD_PID/limits")" = "$LIMIT" ] ||
    fail "profd's RLIMIT_NOFILE is not $LIMIT: $(grep 'open files' "/proc/$PROFD_PID/limits")"

# fds_of_profd: how many fds profd holds now.
fds_of_profd() { find "/proc/$PROFD_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
maxfd=0
note_fds()
{
	local n
	n=$(fds_of_profd)
	[ "$n" -le "$maxfd" ] || maxfd=$n
}

D=$TEST_DIR/dump2
code=$(fetch "$BASE/debug/pprof/threads?debug=2" "$D")
expect_status "thread dump (debug=2) of $((N + 1)) threads" "$code" 200
note_fds
listed=$(grep -c '^thread [0-9]* "' "$D" || true)
missing=$(sed -n 's/^# incomplete: \([0-9]*\) of .*/\1/p' "$D")
say "debug=2: $listed threads listed, ${missing:-no} incomplete note"
if [ -n "$missing" ]; then
	[ "$listed" -eq $((N + 1)) ] || fail "the dump lists $listed of $((N + 1)) threads"
	ok "the dump lists all $listed threads and says $missing could not be read"
else
	expect_range "threads in the debug=2 dump (the target has $((N + 1)))" "$listed" $((N + 1)) $((N + 1))
fi
sleepers=$(grep -c '^thread [0-9]* "many-s"' "$D" || true)
[ "$sleepers" = "$N" ] || fail "the dump names $sleepers many-s threads, want $N"
grep -q 'sleeper' "$D" || fail "no sleeper frame in the dump"

fetch_profile "$BASE/debug/pprof/threads?debug=0" "$TEST_DIR/dump0.pb.gz"
note_fds
P=$TEST_DIR/cpu.pb.gz
fetch_profile "$BASE/debug/pprof/profile?seconds=1" "$P"
note_fds
pdump folded "$P" >"$P.folded" || fail "pprof-dump folded failed"
expect_range "CPU profile: CPU in spin_main (%)" \
    "$(pct "$(fold_sum "$P.folded" spin_main)" "$(fold_total "$P.folded")")" 90 100
W=$TEST_DIR/wall.pb.gz
fetch_profile "$BASE/debug/pprof/wall?seconds=1&hz=19" "$W"
note_fds
ticks=$(comment_count "$W.summary" ticks)
[ -n "$ticks" ] && [ "$ticks" -gt 0 ] || fail "no ticks in the wall profile's comment"
expect_range "wall profile: samples per tick ($((N + 1)) threads)" \
    "$(awk -v n="$(summary_get "$W.summary" 'total[0]')" -v t="$ticks" 'BEGIN { printf "%.1f", n / t }')" \
    "$((N + 1 - N / 20))" $((N + 1))
unreadable=$(metric_get profd_threads_unreadable_total)
say "profd: at most $maxfd fds held (limit $LIMIT); thread reads without an fd: ${unreadable:-?}"
[ "$maxfd" -lt "$LIMIT" ] || fail "profd held $maxfd fds, its limit is $LIMIT"
if grep -l 'security module' "$TEST_DIR"/*.pb.gz "$D" "$PROFD_LOG" 2>/dev/null; then
	fail "an answer or the log blames a security module"
fi
ok "3000 threads with RLIMIT_NOFILE $LIMIT: dumps, CPU and wall profiles all 200, at most $maxfd fds"
stop_profd
assert_target_ok
say "PASS rel_nofile"
