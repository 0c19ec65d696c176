#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_wall - wall-clock profiles leave blocked threads alone.  The blocker
# target (tests/targets/blocker.c) has six threads: spinner (spin_loop,
# busy), reader (read_blocked, read on a pipe), epoller (epoll_blocked,
# epoll_wait), sleeper (sleep_blocked, nanosleep), waiter (cond_blocked,
# pthread_cond_wait) and the main thread "blocker" (main, pthread_join),
# and counts in a shared file every time a blocking call returns: a ptrace
# stop makes epoll_wait return EINTR, the others are restarted.
#   1. A 4 s CPU profile is >= 90 % spin_loop, has no blocked function and
#      no sleeping thread anywhere, wakes no sleeping thread (schedstat
#      timeslices unchanged) and leaves the EINTR counters at 0.
#   2. A 5 s wall profile at 99 Hz samples every thread at every tick: each
#      thread and each thread's function has 1/6 of the samples (+-10
#      points), labels thread, tid and state are right (pprof-dump and
#      go tool pprof -tags, -tagfocus), and the blocked threads are stopped
#      so rarely that the EINTR counters rise by 5 at most (not ~500).
#   3. /debug/fgprof and /pid/PID/debug/pprof/wall give the same profile.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blocker_lib.sh"
t_begin wall
need_pprof_dump
need_go

CNT=$TEST_DIR/counters
NTHREADS=6
# thread name -> the function its stack must contain
declare -A FN=([spinner]=spin_loop [reader]=read_blocked [epoller]=epoll_blocked
    [sleeper]=sleep_blocked [waiter]=cond_blocked [blocker]=main)
BLOCKED="read_blocked epoll_blocked sleep_blocked cond_blocked"
STATES='running|sleeping|disk|stopped|traced|zombie|idle|other'

start_target blocker "$CNT" 120
start_profd
assert_target_ok

# wakeups BEFORE AFTER: "NAME DELTA" for every thread but the spinner.
wakeups()
{
	LC_ALL=C join "$1" "$2" | awk '$1 != "spinner" { print $1, $3 - $2 }'
}

# ---- the target ---------------------------------------------------------------
names=$(cat /proc/"$TARGET_PID"/task/*/comm | LC_ALL=C sort | tr '\n' ' ')
[ "$names" = "blocker epoller reader sleeper spinner waiter " ] ||
    fail "target threads: '$names', want blocker epoller reader sleeper spinner waiter"
c0=$(counters)
[ "$c0" = "0 0 0 0" ] || fail "EINTR counters of an undisturbed target: $c0, want 0 0 0 0"
ok "target has the $NTHREADS threads ($names), counters $c0"

# ---- 1. CPU profile: only the spinner, nobody woken ---------------------------
P=$TEST_DIR/cpu.pb.gz
sched_snapshot >"$TEST_DIR/sched0"
fetch_profile "$BASE/debug/pprof/profile?seconds=4" "$P"
sched_snapshot >"$TEST_DIR/sched1"
c1=$(counters)
F=$TEST_DIR/cpu.folded
pdump folded "$P" >"$F" || fail "pprof-dump folded failed"
T=$(fold_total "$F")
[ "$T" -gt 0 ] || fail "empty CPU profile"
say "top stacks (pprof-dump folded):"
awk '{ print $NF "\t" $0 }' "$F" | sort -t "$(printf '\t')" -k 1,1nr |
    first_lines 4 | cut -f 2- | sed 's/^/  /'
expect_range "CPU profile: spin_loop share (%)" "$(pct "$(fold_sum "$F" spin_loop)" "$T")" 90 100
pprof -symbolize=none -raw "$P" >"$TEST_DIR/cpu.raw" 2>"$TEST_DIR/cpu.raw.err" ||
    fail "go tool pprof -raw failed: $(cat "$TEST_DIR/cpu.raw.err")"
for fn in $BLOCKED; do
	if grep -qw "$fn" "$F" "$TEST_DIR/cpu.raw"; then
		fail "CPU profile mentions $fn: $(grep -hw "$fn" "$F" "$TEST_DIR/cpu.raw" | first_lines 2)"
	fi
done
ok "CPU profile: none of $BLOCKED, in samples or anywhere in go tool pprof -raw"
FT=$TEST_DIR/cpu.folded-threads
pdump folded -t "$P" >"$FT" || fail "pprof-dump folded -t failed"
others=$(grep -v '^thread=spinner;' "$FT" | first_lines 3 || true)
[ -z "$others" ] || fail "CPU profile has samples of sleeping threads: $others"
ok "CPU profile: every sample is thread=spinner"
wakeups "$TEST_DIR/sched0" "$TEST_DIR/sched1" >"$TEST_DIR/woken1"
say "sleeping threads woken during the CPU profile: $(tr '\n' ' ' <"$TEST_DIR/woken1")"
awk '$2 != 0 { exit 1 }' "$TEST_DIR/woken1" ||
    fail "the CPU profile woke (stopped) sleeping threads: $(tr '\n' ' ' <"$TEST_DIR/woken1")"
ok "CPU profile: no sleeping thread got a CPU (schedstat timeslices unchanged)"
[ "$c1" = "$c0" ] || fail "EINTR counters went from $c0 to $c1 during the CPU profile"
ok "CPU profile: EINTR counters still $c1"

# check_wall_count SUMMARY SECS HZ: a wall profile has a sample of every
# thread at every tick the sampler made (profd's comment counts them: the
# reference from the same run, since how many ticks a loaded machine lets
# the sampler make is not for this test to decide), so samples/count is
# NTHREADS x ticks, less the few a failed unwind may cost; and the ticks
# are no more than the window's (10 % slack for a window that ends late),
# and not so few that the count says nothing.
check_wall_count()
{
	local s=$1 secs=$2 hz=$3 n ticks
	n=$(summary_get "$s" 'total[0]')
	ticks=$(comment_count "$s" ticks)
	[ -n "$ticks" ] || fail "$s: no tick count in profd's comment: $(grep '^comment' "$s")"
	expect_range "$(basename "$s"): ticks in ${secs}s at $hz Hz" \
	    "$ticks" $((secs * hz / 4)) $((secs * hz * 11 / 10))
	expect_range "$(basename "$s"): samples/count per tick ($NTHREADS threads)" \
	    "$(awk -v n="$n" -v t="$ticks" 'BEGIN { printf "%.2f", n / t }')" \
	    "$(awk -v k="$NTHREADS" 'BEGIN { print 0.95 * k }')" "$NTHREADS"
}

# ---- 2. wall profile: every thread, every tick, without stopping them -----------
SECS=5
HZ=99
W=$TEST_DIR/wall.pb.gz
sched_snapshot >"$TEST_DIR/sched2"
fetch_profile "$BASE/debug/pprof/wall?seconds=$SECS&hz=$HZ" "$W"
sched_snapshot >"$TEST_DIR/sched3"
c2=$(counters)
S=$W.summary
sed 's/^/  summary: /' "$S"

types=$(grep '^sample_type ' "$S" | tr '\n' ' ')
[ "$types" = "sample_type samples/count sample_type wall/nanoseconds " ] ||
    fail "sample types: '$types', want samples/count then wall/nanoseconds"
[ "$(summary_get "$S" period_type)" = wall/nanoseconds ] ||
    fail "period_type $(summary_get "$S" period_type), want wall/nanoseconds"
period=$(summary_get "$S" period)
expect_range "period (ns, 1e9/$HZ)" "$period" $((1000000000 / HZ - 1)) $((1000000000 / HZ + 1))
nsamp=$(summary_get "$S" 'total[0]')
want=$((NTHREADS * SECS * HZ))
say "samples: $nsamp; $NTHREADS threads x ${SECS}s x ${HZ} Hz = $want"
check_wall_count "$S" "$SECS" "$HZ"
wtot=$(summary_get "$S" 'total[1]')
expect_range "wall/nanoseconds total / (samples x period)" \
    "$(awk -v w="$wtot" -v n="$nsamp" -v p="$period" 'BEGIN { printf "%.4f", w / (n * p) }')" 0.999 1.001

# Labels: thread, tid and state on every sample; tid names a thread of the
# target whose comm is the thread label.  Ticks per sample = value / period
# (pprof-dump labels prints the last value, wall/nanoseconds), so merged
# samples count right too.
LB=$TEST_DIR/wall.labels
pdump labels "$W" >"$LB" || fail "pprof-dump labels failed"
[ -s "$LB" ] || fail "pprof-dump labels printed nothing"
awk -v p="$period" '{
	th = tid = st = ""; v = 0
	for (i = 1; i <= NF; i++) {
		if ($i ~ /^thread=/) th = substr($i, 8)
		else if ($i ~ /^tid=/) tid = substr($i, 5)
		else if ($i ~ /^state=/) st = substr($i, 7)
		else if ($i ~ /^value=/) v = substr($i, 7)
	}
	printf "%s %s %s %.0f\n", th == "" ? "-" : th, tid == "" ? "-" : tid,
	    st == "" ? "-" : st, v / p
}' "$LB" >"$TEST_DIR/wall.tts"
bad=$(awk -v re="^($STATES)\$" '$1 == "-" || $2 !~ /^[0-9]+$/ || $3 !~ re' "$TEST_DIR/wall.tts" | first_lines 3)
[ -z "$bad" ] || fail "samples without thread, numeric tid or a known state label (thread tid state ticks): $bad"
while read -r th tid; do
	[ -d "/proc/$TARGET_PID/task/$tid" ] || fail "label tid=$tid is not a thread of $TARGET_PID"
	read -r comm <"/proc/$TARGET_PID/task/$tid/comm"
	[ "$th" = "$comm" ] || fail "label thread=$th with tid=$tid, but that thread is '$comm'"
done < <(awk '{ print $1, $2 }' "$TEST_DIR/wall.tts" | sort -u)
ntid=$(awk '{ print $2 }' "$TEST_DIR/wall.tts" | sort -u | wc -l)
[ "$ntid" = "$NTHREADS" ] || fail "samples name $ntid tids, want all $NTHREADS threads"
ok "every sample has thread, tid and state labels; all $NTHREADS tids, each matching its thread's name"

# share THREAD [STATE]: % of all ticks that THREAD had (in STATE).
ticks_of()
{
	awk -v th="$1" -v st="${2:-}" '$1 == th && (st == "" || $3 == st) { t += $4 }
	    END { printf "%.0f\n", t }' "$TEST_DIR/wall.tts"
}
all=$(awk '{ t += $4 } END { printf "%.0f\n", t }' "$TEST_DIR/wall.tts")
[ "$all" = "$nsamp" ] || fail "ticks from the labels ($all) differ from samples/count total ($nsamp)"
FW=$TEST_DIR/wall.folded-threads
pdump folded -i 0 -t "$W" >"$FW" || fail "pprof-dump folded -i 0 -t failed"
say "wall profile, per thread (pprof-dump):"
for th in spinner reader epoller sleeper waiter blocker; do
	fn=${FN[$th]}
	n=$(ticks_of "$th")
	say "  $th: $n ticks ($(pct "$n" "$nsamp") %), states:" \
	    "$(awk -v th="$th" '$1 == th { s[$3] += $4 } END { for (k in s) printf "%s=%d ", k, s[k] }' "$TEST_DIR/wall.tts")"
	expect_range "thread $th: share of samples (%, 1/$NTHREADS = 16.7)" "$(pct "$n" "$nsamp")" 6.7 26.7
	expect_range "$fn: share of samples/count (%, 1/$NTHREADS = 16.7)" \
	    "$(pct "$(fold_sum "$FW" "$fn")" "$nsamp")" 6.7 26.7
	# the thread's own function is in (almost) all of its stacks
	read -r mine with <<<"$(awk -v p="thread=$th;" -v fn="$fn" '
		substr($0, 1, length(p)) == p {
			v = $NF; m += v
			s = ";" substr($0, 1, length($0) - length($NF) - 1) ";"
			if (index(s, ";" fn ";")) w += v
		} END { printf "%.0f %.0f\n", m, w }' "$FW")"
	expect_range "thread $th: samples whose stack has $fn (%)" "$(pct "$with" "$mine")" 90 100
	if [ "$th" = spinner ]; then
		expect_range "thread spinner: state=running (% of its samples)" \
		    "$(pct "$(ticks_of spinner running)" "$n")" 80 100
	else
		expect_range "thread $th: state=sleeping (% of its samples)" \
		    "$(pct "$(ticks_of "$th" sleeping)" "$n")" 90 100
	fi
done

# The same through go tool pprof: -tags (per thread and per state) and
# -tagfocus thread=reader.
TG=$TEST_DIR/wall.tags
pprof -symbolize=none -sample_index=samples -tags "$W" >"$TG" 2>"$TG.err" ||
    fail "go tool pprof -tags failed: $(cat "$TG.err")"
sed 's/^/  /' "$TG"
# tag_pct KEY VALUE: the percentage -tags gives VALUE in the KEY section.
tag_pct()
{
	awk -v k="$1" -v v="$2" '
		/^ *[^ ]+: Total / { sec = $1; sub(/:$/, "", sec); next }
		sec == k && /%\): / {
			name = $0; sub(/^.*%\): /, "", name)
			if (name == v) {
				p = $0; sub(/^[^(]*\(/, "", p); sub(/%.*/, "", p)
				print p; found = 1; exit
			}
		}
		END { if (!found) print "absent" }' "$TG"
}
for th in spinner reader epoller sleeper waiter blocker; do
	expect_range "go tool pprof -tags: thread $th (%)" "$(tag_pct thread "$th")" 6.7 26.7
done
expect_range "go tool pprof -tags: state running (%, the spinner: 16.7)" "$(tag_pct state running)" 6.7 26.7
expect_range "go tool pprof -tags: state sleeping (%, 5 threads: 83.3)" "$(tag_pct state sleeping)" 73.3 93.3
ntags=$(awk '/^ *tid: Total/ { sec = 1; next } /: Total/ { sec = 0 }
    sec && /%\): [0-9]+$/ { n++ } END { print n + 0 }' "$TG")
[ "$ntags" = "$NTHREADS" ] || fail "go tool pprof -tags: $ntags tid values, want $NTHREADS"
ok "go tool pprof -tags: thread, state and $ntags tid values"

TF=$TEST_DIR/wall.top-reader
pprof_table "$W" -sample_index=samples -tagfocus=thread=reader >"$TF" ||
    fail "go tool pprof -tagfocus=thread=reader failed"
head -n 5 "$TF" | sed 's/^/  /'
expect_range "go tool pprof -tagfocus=thread=reader: read_blocked cum (%)" \
    "$(table_get "$TF" read_blocked 2)" 6.7 26.7
for fn in spin_loop epoll_blocked sleep_blocked cond_blocked main; do
	[ "$(table_get "$TF" "$fn" 2)" = 0 ] ||
	    fail "go tool pprof -tagfocus=thread=reader shows $fn: $(grep -w "$fn" "$TF")"
done
ok "go tool pprof -tagfocus=thread=reader: read_blocked only"

# The point of it all: blocked threads were not stopped at every tick.
rise=$(counters_rise "$c1" "$c2")
wakeups "$TEST_DIR/sched2" "$TEST_DIR/sched3" >"$TEST_DIR/woken2"
say "during the ${SECS}s wall profile at $HZ Hz ($((SECS * HZ)) ticks): EINTR counters $c1 -> $c2 (+$rise);" \
    "times each sleeping thread got a CPU: $(tr '\n' ' ' <"$TEST_DIR/woken2")"
expect_range "EINTR counters' rise during the wall profile (reader epoller sleeper waiter: $c1 -> $c2)" "$rise" 0 5
maxwake=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$TEST_DIR/woken2")
expect_range "most times a sleeping thread got a CPU during the wall profile (a stop per tick: $((SECS * HZ)))" \
    "$maxwake" 0 $((SECS * HZ / 20))

# ---- 3. the other routes -----------------------------------------------------
# check_wall FILE SECS HZ: sample types, a plausible count, every thread.
check_wall()
{
	local f=$1 secs=$2 hz=$3 s=$1.summary types n th
	types=$(grep '^sample_type ' "$s" | tr '\n' ' ')
	[ "$types" = "sample_type samples/count sample_type wall/nanoseconds " ] ||
	    fail "$f: sample types '$types'"
	[ "$(summary_get "$s" period_type)" = wall/nanoseconds ] ||
	    fail "$f: period_type $(summary_get "$s" period_type)"
	check_wall_count "$s" "$secs" "$hz"
	pdump folded -i 0 -t "$f" >"$f.folded" || fail "pprof-dump folded -t $f failed"
	for th in spinner reader epoller sleeper waiter blocker; do
		[ "$(fold_sum "$f.folded" "thread=$th")" -gt 0 ] || fail "$f: no samples of thread $th"
		[ "$(fold_sum "$f.folded" "${FN[$th]}")" -gt 0 ] || fail "$f: no samples in ${FN[$th]}"
	done
	ok "$(basename "$f"): all $NTHREADS threads, each with its function"
}
FG=$TEST_DIR/fgprof.pb.gz
fetch_profile "$BASE/debug/fgprof?seconds=2&hz=49" "$FG"
check_wall "$FG" 2 49
PW=$TEST_DIR/pid-wall.pb.gz
fetch_profile "$BASE/pid/$TARGET_PID/debug/pprof/wall?seconds=1&hz=49" "$PW"
check_wall "$PW" 1 49
c3=$(counters)
say "EINTR counters (reader epoller sleeper waiter): start $c0, after the CPU profile $c1," \
    "after the wall profile $c2, at the end $c3"

# ---- after the windows -------------------------------------------------------
wait_untraced 5 || fail "profd still attached 5 s after the windows ended"
assert_target_ok
stop_profd
assert_target_ok
say "PASS wall"
