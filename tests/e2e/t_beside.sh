#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_beside - what profd runs beside the target (profd(8), "What profd runs
# beside the target"), read from each profd thread's scheduling policy
# (/proc/PID/task/TID/stat, field 41) while a window is open:
#  (a) the sampler is SCHED_FIFO (--rt-priority 1, the default) and no
#      thread is SCHED_IDLE: a warmer at idle priority, starved by a busy
#      target, held locks the sampler waited for while it held target
#      threads stopped; without CAP_SYS_NICE (bounding set dropped with
#      setpriv) no thread is real-time either;
#  (b) with every CPU taken (a busy Go target, whose DWARF takes the
#      warmer a while to load, and one CPU hog per core) the window's
#      export is answered and symbolized, and profd then exits on SIGTERM,
#      the CPUs still busy, within stop_profd's 10 s.
. "$(dirname "$0")/lib.sh"
t_begin beside
need_pprof_dump

# policies READS: READS reads of every profd thread's policy, 20 ms apart;
# prints "FIFO IDLE": how many reads found a SCHED_FIFO (1) thread, a
# SCHED_IDLE (5) one.
policies()
{
	local n=$1 i fifo=0 idle=0 line
	for ((i = 0; i < n; i++)); do
		# one awk for every thread: a process per thread per read is
		# too slow on a loaded machine (profd has ~80 threads)
		line=$(awk '{ sub(/^.*\) /, ""); printf " %s", $39 }' \
		    /proc/"$PROFD_PID"/task/*/stat 2>/dev/null) || true
		case " $line " in *" 1 "*) fifo=$((fifo + 1)) ;; esac
		case " $line " in *" 5 "*) idle=$((idle + 1)) ;; esac
		sleep 0.02
	done
	echo "$fifo $idle"
}

# ==== (a) ======================================================================
# profd can be real-time only if it is given CAP_SYS_NICE (23)
MYCAPS=$((16#$(awk '$1 == "CapEff:" { print $2 }' /proc/self/status)))
start_target split 2 120
start_profd
bg_fetch a.pb.gz "$BASE/debug/pprof/profile?seconds=3&hz=999" 60
wait_window_open 1 10 || fail "(a): the window did not start"
read -r FIFO IDLE <<<"$(policies 100)"
say "(a) 100 reads over a 999 Hz window: $FIFO found a SCHED_FIFO thread, $IDLE a SCHED_IDLE one"
bg_wait "$BG_PID" a.pb.gz
expect_profile "(a) profile" "$TEST_DIR/a.pb.gz" "$BG_CODE"
if (((MYCAPS >> 23) & 1)); then
	[ "$FIFO" -ge 1 ] || fail "(a): no thread of profd was SCHED_FIFO during the window: the sampler is not real-time"
fi
[ "$IDLE" -eq 0 ] || fail "(a): a thread of profd was SCHED_IDLE in $IDLE of 100 reads"
ok "(a) the sampler is real-time ($FIFO of 100 reads), no thread idles"
stop_profd

if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	PROFD_WRAP=(setpriv --bounding-set=-sys_nice --inh-caps=-sys_nice --)
	start_profd
	PROFD_WRAP=()
	bg_fetch b.pb.gz "$BASE/debug/pprof/profile?seconds=2&hz=999" 60
	wait_window_open 1 10 || fail "(a): the window did not start"
	read -r FIFO IDLE <<<"$(policies 50)"
	bg_wait "$BG_PID" b.pb.gz
	expect_profile "(a) profile without CAP_SYS_NICE" "$TEST_DIR/b.pb.gz" "$BG_CODE"
	[ "$FIFO" -eq 0 ] || fail "(a): without CAP_SYS_NICE a thread of profd was SCHED_FIFO"
	[ "$IDLE" -eq 0 ] || fail "(a): without CAP_SYS_NICE a thread of profd was SCHED_IDLE"
	ok "(a) without CAP_SYS_NICE: no thread real-time or idle (50 reads)"
	stop_profd
else
	say "(a) without CAP_SYS_NICE: skipped (needs root and setpriv)"
fi
kill "$TARGET_PID"

# ==== (b) ======================================================================
need_go
start_target gohot 1 120
start_hogs
start_profd
bg_fetch c.pb.gz "$BASE/debug/pprof/profile?seconds=2&hz=99" 120
wait_window_open 1 10 || fail "(b): the window did not start"
bg_wait "$BG_PID" c.pb.gz
expect_profile "(b) profile with every CPU busy" "$TEST_DIR/c.pb.gz" "$BG_CODE"
# shutting down with every CPU still busy
stop_profd
stop_hogs
pdump folded "$TEST_DIR/c.pb.gz" >"$TEST_DIR/c.folded" || fail "(b): pprof-dump folded failed"
H=$(fold_sum "$TEST_DIR/c.folded" main.hotA)
[ "${H:-0}" -gt 0 ] || fail "(b): no sample under main.hotA: the export gave up on symbols"
ok "(b) answered and symbolized with every CPU busy (main.hotA in $(pct "$H" "$(fold_total "$TEST_DIR/c.folded")") % of the samples)"
assert_target_ok
say "PASS beside"
