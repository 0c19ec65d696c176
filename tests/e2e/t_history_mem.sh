#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119,SC2016  # SC2119: optional arguments; SC2016: jq's $i
# t_history_mem - continuous mode's memory bound and the buckets' figures.
# Against tests/targets/stacks.c (2 busy threads, random paths 250 calls
# deep: nearly every sample a new stack of about 2 KiB):
#   1. without --continuous, /history/buckets is a 404 that says to start
#      profd with --continuous;
#   2. with --history-memory 4MiB (the least), the history fills its
#      budget within seconds: profd_history_bytes, read every 0.5 s, never
#      passes profd_history_budget_bytes while buckets are dropped for
#      memory (profd_history_buckets_evicted_total goes up) and
#      profd_history_oldest_seconds stays short of the run's length;
#   3. the history still answers, and its comment says the span was cut
#      by the memory budget and gives the RSS range;
#   4. /history/buckets parses (jq): budget and bytes as in /metrics,
#      buckets contiguous, only the last one current, samples and dropped
#      per kind; the CPU time the buckets say the target used
#      agrees with the target's own (/proc/PID/stat utime + stime) over
#      the same span, interpolated from readings taken in this run, within
#      a third of a bucket's length of CPU at the rate the target ran at;
#      the current bucket's last RSS agrees with /proc/PID/statm within
#      10 %; seconds= selects fewer buckets; ?pid= and /pid/PID/ both work;
#   5. profd leaves the target running and untraced.
. "$(dirname "$0")/lib.sh"
t_begin history_mem
need_pprof_dump
command -v jq >/dev/null || skip "jq is not installed (scripts/deps.sh installs it)"

BUDGET=$((4 << 20))
CLK_TCK=$(getconf CLK_TCK)
PAGE=$(getconf PAGESIZE)
start_target stacks 2 250 180

# ---- 1. no buckets without --continuous ---------------------------------------
start_profd
expect_error "$BASE/history/buckets" 404
grep -q -- --continuous "$TEST_DIR/err.$_nstarted" ||
    fail "the 404 does not say to start profd with --continuous: $(cat "$TEST_DIR/err.$_nstarted")"
stop_profd

# target_cpu_stat: the target's CPU time (utime + stime of /proc/PID/stat),
# in seconds.
target_cpu_stat()
{
	awk -v hz="$CLK_TCK" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' \
	    /proc/"$TARGET_PID"/stat
}
# cpu_mark: a line "WALL_NS CPU_S" of the target, now, into cpu.tsv.
CPU=$TEST_DIR/cpu.tsv
cpu_mark() { echo "$(date +%s%N) $(target_cpu_stat)" >>"$CPU"; }

# ---- 2. the bound holds while buckets are dropped -----------------------------
: >"$CPU"
cpu_mark
start_profd --continuous=99 --history-memory 4MiB
t0=$(date +%s)
M=$TEST_DIR/metrics
polls=0 maxb=0
for ((;;)); do
	cpu_mark
	curl -sS --max-time 10 -o "$M" "$BASE/metrics" || fail "GET /metrics failed"
	read -r b bud ev old <<<"$(awk -v p="{pid=\"$TARGET_PID\"}" '
		$1 == "profd_history_bytes" p { b = $2 }
		$1 == "profd_history_budget_bytes" p { bud = $2 }
		$1 == "profd_history_buckets_evicted_total" p { ev = $2 }
		$1 == "profd_history_oldest_seconds" p { old = $2 }
		END { print b + 0, bud + 0, ev + 0, old + 0 }' "$M")"
	[ "$bud" = "$BUDGET" ] || fail "profd_history_budget_bytes $bud, want $BUDGET"
	if [ "$b" -le 0 ] || [ "$b" -gt "$BUDGET" ]; then
		fail "profd_history_bytes $b after $polls polls: want 1..$BUDGET"
	fi
	((b > maxb)) && maxb=$b
	polls=$((polls + 1))
	[ "$ev" -ge 2 ] && break
	(($(date +%s) - t0 > 120)) && fail "no 2 buckets dropped for memory within 120 s (profd_history_bytes $b, evicted $ev)"
	alive "$PROFD_PID" || fail "profd died while recording"
	sleep 0.5
done
el=$(($(date +%s) - t0))
ok "profd_history_bytes <= $BUDGET over $polls readings (at most $maxb) while $ev buckets were dropped for memory, in ${el}s"
expect_range "profd_history_bytes at its most, % of the budget" "$(pct "$maxb" "$BUDGET")" 50 100
expect_range "profd_history_oldest_seconds (the run: ${el}s)" "$old" 0 "$((el - 5))"

# ---- 3. the history still answers, and says it was cut --------------------------
H=$TEST_DIR/history.pb.gz
fetch_profile "$BASE/debug/pprof/history?seconds=600" "$H"
comment=$(summary_get "$H.summary" comment)
case $comment in
*"cut by the memory budget (--history-memory 4.0 MiB)"*"; RSS "*) ;;
*"; RSS "*"cut by the memory budget (--history-memory 4.0 MiB)"*) ;;
*) fail "history?seconds=600: the comment does not say it was cut by the budget and give the RSS range: $comment" ;;
esac
ok "history?seconds=600: $comment"
expect_range "history samples" "$(summary_get "$H.summary" 'total[0]')" 100 1e9
fetch_profile "$BASE/debug/pprof/history?seconds=3" "$TEST_DIR/recent.pb.gz"
case $(summary_get "$TEST_DIR/recent.pb.gz.summary" comment) in
*"cut by the memory"*) fail "history?seconds=3 says it was cut, but what it asked for is there" ;;
esac

# ---- 4. /history/buckets --------------------------------------------------------
B=$TEST_DIR/buckets.json
cpu_mark
code=$(fetch "$BASE/history/buckets" "$B")
cpu_mark
statm_rss=$(awk -v p="$PAGE" '{ print $2 * p }' /proc/"$TARGET_PID"/statm)
[ "$code" = 200 ] || fail "GET /history/buckets: HTTP $code: $(head -c 300 "$B")"
[ "$(header "$B.headers" Content-Type)" = application/json ] ||
    fail "GET /history/buckets: Content-Type $(header "$B.headers" Content-Type)"
jq -e . "$B" >/dev/null || fail "/history/buckets is not JSON: $(head -c 300 "$B")"
# jq_check WHAT FILTER: FILTER is true of buckets.json.
jq_check()
{
	jq -e "$2" "$B" >/dev/null || fail "/history/buckets: not $1: $(head -c 600 "$B")"
	ok "/history/buckets: $1"
}
jq_check "pid, name, 10 s buckets, the budget" \
    ".pid == $TARGET_PID and .name == \"stacks\" and .bucket_seconds == 10 and .budget_bytes == $BUDGET"
jq_check "bytes within the budget, buckets dropped" \
    '.bytes > 0 and .bytes <= .budget_bytes and .buckets_evicted >= 2'
jq_check "at least 2 buckets, each of this process" \
    ".buckets | length >= 2 and all(.[]; .pid == $TARGET_PID)"
jq_check "contiguous: each begins where the one before ends" \
    '.buckets | [range(1; length) as $i | .[$i].start_unix_ns == .[$i - 1].end_unix_ns] | all'
jq_check "start before end, RFC 3339 times" \
    '.buckets | all(.[]; .start_unix_ns < .end_unix_ns and (.start | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")))'
jq_check "only the last one is current" \
    '.buckets | (.[-1].current == true) and ([.[:-1][] | .current] | all(. == false))'
jq_check "samples and dropped per kind, CPU samples in every closed bucket" \
    '.buckets | all(.[]; (.samples | has("cpu") and has("wall") and has("growth")) and (.dropped | has("cpu") and has("wall") and has("growth"))) and all(.[:-1][]; .samples.cpu > 0)'
jq_check "RSS min <= last <= max, cgroup null or figures, triggers a list" \
    '.buckets | all(.[]; .rss_bytes.min <= .rss_bytes.last and .rss_bytes.last <= .rss_bytes.max and (.cgroup == null or (.cgroup.usage_bytes | type) == "number") and (.triggers | type) == "array")'

read -r s_ns e_ns sum <<<"$(jq -r '[.buckets[0].start_unix_ns, .buckets[-1].end_unix_ns, ([.buckets[].cpu_seconds] | add)] | map(tostring) | join(" ")' "$B")"
# cpu_at NS: the target's CPU seconds at wall time NS, linear between the
# readings of cpu.tsv around it.
cpu_at()
{
	awk -v t="$1" '
		{ w[NR] = $1; c[NR] = $2 }
		END {
			for (i = 2; i <= NR; i++)
				if (w[i] >= t) {
					f = (t - w[i - 1]) / (w[i] - w[i - 1])
					printf "%.3f\n", c[i - 1] + f * (c[i] - c[i - 1])
					exit
				}
			print c[NR]
		}' "$CPU"
}
used=$(awk -v a="$(cpu_at "$s_ns")" -v b="$(cpu_at "$e_ns")" 'BEGIN { printf "%.3f\n", b - a }')
# the rate the target ran at in this run, and the tolerance: a third of a
# bucket's length of it (the recorder reads the CPU time once a second and
# as a bucket ends, at its next tick; the current bucket misses what was
# used since its last reading, and this test's readings are 0.5 s apart)
read -r rate tol <<<"$(awk 'NR == 1 { w0 = $1; c0 = $2 } { w = $1; c = $2 }
	END { r = (c - c0) / ((w - w0) / 1e9); printf "%.3f %.3f\n", r, r * 10 / 3 }' "$CPU")"
say "buckets' cpu_seconds $sum, the target's own over their span $used (at $rate cores; tolerance $tol s)"
expect_range "buckets' CPU time minus the target's own over the same span (s)" \
    "$(awk -v a="$sum" -v b="$used" 'BEGIN { print a - b }')" "-$tol" "$tol"
awk -v u="$used" 'BEGIN { exit !(u > 1) }' || fail "the target used only $used s of CPU over the buckets' span: too little to compare"
# the newest bucket with a reading (one just begun has none yet: null)
last_rss=$(jq -r '[.buckets[] | select(.rss_bytes != null)] | last | .rss_bytes.last' "$B")
[ "$last_rss" != null ] || fail "no bucket has an RSS reading: $(jq -c '[.buckets[].rss_bytes]' "$B")"
expect_range "newest bucket's last RSS as % of /proc/PID/statm's" "$(pct "$last_rss" "$statm_rss")" 90 110

n_all=$(jq '.buckets | length' "$B")
code=$(fetch "$BASE/history/buckets?seconds=3" "$B.recent")
[ "$code" = 200 ] || fail "GET /history/buckets?seconds=3: HTTP $code"
n_recent=$(jq '.buckets | length' "$B.recent")
expect_range "buckets of the last 3 s" "$n_recent" 1 2
((n_recent <= n_all)) || fail "seconds=3 gave more buckets ($n_recent) than the whole history ($n_all)"
for u in "history/buckets?pid=$TARGET_PID" "pid/$TARGET_PID/history/buckets"; do
	code=$(fetch "$BASE/$u" "$B.pid")
	if [ "$code" != 200 ] || ! jq -e ".pid == $TARGET_PID" "$B.pid" >/dev/null; then
		fail "GET /$u: HTTP $code: $(head -c 300 "$B.pid")"
	fi
	ok "GET /$u -> 200, the target's buckets"
done
expect_error "$BASE/history/buckets?pid=x" 400
expect_error "$BASE/history/buckets?seconds=-1" 400
expect_error "$BASE/history/buckets?since=yesterday" 400

# ---- 5. the target after profd --------------------------------------------------
stop_profd
assert_target_ok
say "PASS history_mem"
