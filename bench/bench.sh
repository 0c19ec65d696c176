#!/bin/bash
# bench.sh - profd's benchmark; `make bench` runs it (bench/bench.mk).
#
# One run measures, on this machine, with the targets in bench/:
#   slowdown   work rate without a profiler / with one: profd CPU profiles at
#              99 and 999 Hz with each sampler (ptrace, the default, and
#              --sampler perf), profd wall profiles at 99 Hz, perf record
#              at 99 and 999 Hz with -g and with --call-graph dwarf (and
#              -F 19 -g), and the ptrace floor (bench/floor.c: stop,
#              registers, 16 KiB of stack, resume, nothing else) at 99 and
#              999 Hz, on bench/work with 1, 2 and 8 threads; the cost of
#              one sample to the target, from the slowdown and from the
#              run time the target lost.  Each profd has taken a thread
#              dump of the waiting target first, as a long-running one
#              would have: its symbols are loaded (profd_warm); one more
#              row, a fresh profd at 99 Hz, shows what loading them during
#              the first window adds.
#              Each repetition runs a baseline, every tool in a shuffled
#              order, a baseline; slowdown = elapsed(tool)
#              / mean(the repetition's two baselines); the A/A row is the
#              second baseline / the first.  Medians [min-max] over
#              repetitions (reference/measured-here.md, "Method").
#   profd      per profd configuration: samples, achieved rate, profd's CPU
#              per sample and peak RSS, per-thread stop time p50/p99/max
#              (from profd's /metrics histograms, pooled over repetitions).
#   accuracy   one extra run per thread count with profd (999 Hz) and perf
#              -F 999 -g on the same target run (4.5 s of work, for
#              thousands of samples): share of hot_a/hot_b/hot_c among the
#              three (profd: leaf CPU time; perf: leaf samples).
#   scaling    per-tick cost on bench/sleepers with 10, 100 and 1000 threads,
#              all but 2 asleep.
#   response   window end to last byte, cold (fresh profd) and warm (second
#              request), on the large binary with full DWARF (bench/gen_big.py).
#   rss        profd's RSS while profiling the 8-thread target for
#              BENCH_RSS_SECONDS (default 60; 600 is the 10-minute goal).
#   hist       continuous mode's memory: profd's VmRSS and VmHWM after
#              BENCH_HIST_SECONDS (default 600) of --continuous recording of
#              a busy 8-thread target whose every sample is a new stack
#              (tests/targets/stacks.c, 64 calls deep), beside the bound
#              (profd_history_budget_bytes) and what the history holds
#              (profd_history_bytes); at the default rate (19 Hz) and at 99
#              Hz, two profds on two targets at once (BENCH_HIST_HZ); then
#              the disk the snapshots take: --trigger exit, the target
#              killed, du -sb of --output-dir.
#   attach     attach policy: signal latency added to bench/siglat (a busy
#              thread that gets a 1 kHz timer signal) and profd's cost per
#              tick, for --attach=sample and --attach=window.
#   starve     how long a busy target thread goes without running (bench/gap:
#              its longest gap between two clock reads, and how many gaps
#              passed 10 and 100 ms) over BENCH_STARVE_SECONDS (15), under a
#              12 s CPU window at 99 Hz: with 2 CPU hogs beside it (profd
#              unconstrained), and with 4 hogs and profd in a CPU cgroup
#              with the least share (cgroup v1 cpu.shares=10, v2
#              cpu.weight=1; skipped without one), the guardian on and
#              off, ptrace and --sampler perf; with no profiler as the
#              reference, and profd's longest stop, its --max-stop-us
#              breaches and ticks without stops.
#   goroutines goroutine dumps of a Go program with 10, 10,000 and 100,000
#              goroutines parked on a channel (tests/targets/gor
#              -goroutines G, built by make targets; skipped without it):
#              the time of /debug/pprof/goroutine?debug=2, first and second
#              request, the goroutines it lists, the time profd spent
#              reading them and its stack re-reads (/metrics), and the pause:
#              threads stopped during the dump (profd_stops_total) and, where
#              profd reports one, profd_go_goroutine_read_pause_seconds.
# and prints one report (stdout, bench/out/last/report.txt) and writes it as
# Markdown with the machine's description to bench/RESULTS.md.  Raw data stay
# in bench/out/run.DATE/ (bench/out/last points to the latest).
#
# Environment: PROFD (default build/profd), PPROF_DUMP (build/tools/
# pprof-dump), PERF_BIN (perf), BENCH_REPS (3), BENCH_THREADS ("1 2 8"),
# BENCH_WORK_SECONDS (1.5: length of a 1-thread run), BENCH_RSS_SECONDS (60),
# BENCH_HIST_SECONDS (600), BENCH_HIST_HZ ("19 99"),
# BENCH_ONLY (sections to run: slowdown accuracy scaling response attach rss
# hist goroutines starve; default all), BENCH_STARVE_SECONDS (15), BENCH_GOROUTINES ("10 10000 100000"), BENCH_DROP_CACHES=1 (drop the page cache before the cold
# response measurement), BENCH_RESULTS (where to write the Markdown; default
# bench/RESULTS.md), BENCH_DEADLINE (seconds; default 720 + RSS + HIST seconds, 0
# for none: fewer slowdown repetitions when a slow or busy machine would
# overrun it).
#
# The numbers are only as good as the machine is quiet: the report gives the
# CPU other processes used before, during (the baselines) and after the run,
# and flags slowdowns measured on a busy machine.
#
# Readiness is always polled for ("ready PID", "listening on", the window's
# start, perf's control-fifo ack); every process started here is killed by
# PID on exit.
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
cd "$ROOT"

abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$ROOT/$1" ;; esac; }
PROFD=$(abspath "${PROFD:-build/profd}")
PPROF_DUMP=$(abspath "${PPROF_DUMP:-build/tools/pprof-dump}")
BIN=$BENCH/out/bin
BIG=$BENCH/out/big/big
REPS=${BENCH_REPS:-3}
THREADS=${BENCH_THREADS:-1 2 8}
WORK_SECONDS=${BENCH_WORK_SECONDS:-1.5}
RSS_SECONDS=${BENCH_RSS_SECONDS:-60}
HIST_SECONDS=${BENCH_HIST_SECONDS:-600}
HIST_HZ=${BENCH_HIST_HZ:-19 99}
ONLY=${BENCH_ONLY:-all}
RESULTS=$(abspath "${BENCH_RESULTS:-bench/RESULTS.md}")
# Time budget of this script (make bench: < 10 min with the builds): the
# slowdown section does fewer repetitions when the next one would leave less
# than RESERVE seconds for the rest (measured: ~85 + RSS s on a quiet
# machine, ~110 + RSS s on a busy one).
want_hist() { [ "${BENCH_ONLY:-all}" = all ] || [[ " ${BENCH_ONLY} " == *" hist "* ]]; }
HIST_COST=0
want_hist && HIST_COST=$((HIST_SECONDS + 30))
want_gor() { [ "${BENCH_ONLY:-all}" = all ] || [[ " ${BENCH_ONLY} " == *" goroutines "* ]]; }
GOR_COUNTS=${BENCH_GOROUTINES:-10 10000 100000}
GOR_BIN=$ROOT/build/targets/gor
GOR_COST=0
want_gor && [ -x "$GOR_BIN" ] && GOR_COST=60
DEADLINE=${BENCH_DEADLINE:-$((720 + RSS_SECONDS + HIST_COST + GOR_COST))}
RESERVE=$((130 + RSS_SECONDS + HIST_COST + GOR_COST))
SCALE_SECONDS=5
SCALE_THREADS="10 100 1000"
RESP_SECONDS=5
SIGLAT_SECONDS=2
# accuracy: both tools at this rate on one run of about this length, for
# thousands of samples (at 99 Hz and 1.5 s, 1 sigma is ~4 pp)
ACC_HZ=999
ACC_SECONDS=4.5
SIGLAT_RATE=1000
CLK_TCK=$(getconf CLK_TCK)

START_EPOCH=$(date +%s)
OUT=$BENCH/out/run.$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
ln -sfn "$(basename "$OUT")" "$BENCH/out/last"
RUNS=$OUT/runs.kv	# one record per run: key=value fields
LOG=$OUT/bench.log	# progress, also on stderr
: >"$RUNS"

# ---- processes ----------------------------------------------------------------

_pids=()

say() { printf '%s\n' "$*" | tee -a "$LOG" >&2; }
die() { say "bench: $*"; exit 1; }

# alive PID: the process exists and is not a zombie (builtins only: it is
# polled while targets are timed).
alive()
{
	local s
	{ read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
	s=${s##*) }
	s=${s%% *}
	[ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]
}

# nap SECONDS: sleep without starting a process (read on a fifo that never
# gets data), so that polling does not disturb the timed targets.
mkfifo "$OUT/.nap"
exec {NAPFD}<>"$OUT/.nap"
nap() { read -r -t "$1" -u "$NAPFD" _ || true; }

# Only signal processes whose parent is this shell (PID reuse).
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

# start OUT ERR CMD...: run CMD in the background; BG is its PID.
start()
{
	local out=$1 err=$2
	shift 2
	(exec "$@" >"$out" 2>"$err") &
	BG=$!
	_pids+=("$BG")
}

# stop_pid PID [SIG]: signal (default TERM), up to 5 s to go, then KILL;
# reap.  STOP_RC is the exit status (or 128+signal); returns 0.
stop_pid()
{
	local pid=$1 sig=${2:-TERM} n=500
	STOP_RC=0
	[ -n "$pid" ] || return 0
	if alive "$pid" && my_child "$pid"; then
		kill "-$sig" "$pid" 2>/dev/null || true
		while alive "$pid" && [ "$n" -gt 0 ]; do
			nap 0.01
			n=$((n - 1))
		done
		if alive "$pid"; then
			say "bench: pid $pid ignored SIG$sig for 5 s, sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || STOP_RC=$?
	return 0
}

# wait_gone PID SECONDS: poll every 10 ms until PID has exited.
wait_gone()
{
	local pid=$1 n=$(($2 * 100))
	while alive "$pid"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		nap 0.01
	done
}

# wait_exit PID SECONDS: wait for PID to exit (polling every 50 ms with
# builtins only), SIGKILL it after SECONDS; EXIT_RC is its status.
wait_exit()
{
	local pid=$1 n=$(($2 * 20))
	while alive "$pid"; do
		n=$((n - 1))
		if [ "$n" -le 0 ]; then
			say "bench: pid $pid still running after $2 s, sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		nap 0.05
	done
	EXIT_RC=0
	wait "$pid" 2>/dev/null || EXIT_RC=$?
}

cleanup()
{
	local rc=$? pid
	set +e
	trap - EXIT INT TERM
	for pid in "${_pids[@]}"; do
		if alive "$pid" && my_child "$pid"; then
			stop_pid "$pid" TERM
		fi
	done
	rm -f "$OUT/.nap"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_line FILE ERE SECONDS [PID]: poll every 10 ms until a line of FILE
# matches ERE; 1 on timeout, 2 as soon as PID has exited.
wait_line()
{
	local file=$1 re=$2 n=$(($3 * 100)) pid=${4:-}
	for (( ; n > 0; n--)); do
		if [ -f "$file" ] && grep -Eq -- "$re" "$file"; then
			return 0
		fi
		if [ -n "$pid" ] && ! alive "$pid"; then
			grep -Eq -- "$re" "$file" 2>/dev/null && return 0
			return 2
		fi
		nap 0.01
	done
	return 1
}

# ---- /proc and /metrics ---------------------------------------------------------

# proc_cpu PID: "STAT SCHED": CPU seconds of the whole process from
# /proc/PID/stat (utime+stime, live and exited threads, 1/CLK_TCK
# resolution) and the sum over its live threads' schedstat (ns resolution).
proc_cpu()
{
	local st ss
	st=$(awk -v hz="$CLK_TCK" '{ s = $0; sub(/.*\) /, "", s); split(s, f, " ")
		printf "%.3f", (f[12] + f[13]) / hz }' "/proc/$1/stat" 2>/dev/null) ||
	    st=
	ss=$({ cat /proc/"$1"/task/*/schedstat 2>/dev/null || true; } |
	    awk '{ s += $1 } END { printf "%.6f", s / 1e9 }') || ss=
	printf '%s %s\n' "${st:-0}" "${ss:-0}"
}

# status_kb PID FIELD: VmRSS, VmHWM, ... in kB.
status_kb()
{
	awk -v k="$2:" '$1 == k { print $2; exit }' "/proc/$1/status" 2>/dev/null ||
	    true
}

# metrics BASE FILE: GET /metrics into FILE; 0 when profd has it.
metrics()
{
	local code
	code=$(curl -sS --max-time 10 -o "$2" -w '%{http_code}' "$1/metrics" \
	    2>/dev/null) || code=000
	[ "$code" = 200 ] || { : >"$2"; return 1; }
}

# msum FILE NAME: sum of every series NAME{...} in a Prometheus text file,
# or nothing when there is none.
msum()
{
	[ -s "$1" ] || return 0
	awk -v n="$2" '
		/^#/ { next }
		{
			line = $0
			sub(/\{[^}]*\}/, "", line)
			split(line, f, " ")
			if (f[1] == n) { s += f[2]; found = 1 }
		}
		END { if (found) printf "%.9g\n", s }' "$1"
}

# mmax FILE NAME: largest value of the series NAME, or nothing.
mmax()
{
	[ -s "$1" ] || return 0
	awk -v n="$2" '
		/^#/ { next }
		{
			line = $0
			sub(/\{[^}]*\}/, "", line)
			split(line, f, " ")
			if (f[1] == n && (!found || f[2] + 0 > m)) { m = f[2] + 0; found = 1 }
		}
		END { if (found) printf "%.9g\n", m }' "$1"
}

# mdelta BEFORE AFTER NAME: AFTER - BEFORE for NAME, or nothing.
mdelta()
{
	local a b
	a=$(msum "$2" "$3")
	[ -n "$a" ] || return 0
	b=$(msum "$1" "$3")
	awk -v a="$a" -v b="${b:-0}" 'BEGIN { printf "%.9g\n", a - b }'
}

# hdelta BEFORE AFTER NAME: the histogram NAME's cumulative bucket counts,
# AFTER - BEFORE, summed over series: "LE COUNT" lines, +Inf last.
hdelta()
{
	[ -s "$2" ] || return 0
	awk -v n="$3_bucket" '
		/^#/ { next }
		{
			line = $0
			le = ""
			if (match(line, /le="[^"]*"/))
				le = substr(line, RSTART + 4, RLENGTH - 5)
			sub(/\{[^}]*\}/, "", line)
			split(line, f, " ")
			if (f[1] != n || le == "") next
			c[le] += (FILENAME == ARGV[1] ? -1 : 1) * f[2]
		}
		END { for (le in c) print le, c[le] }' "$1" "$2" |
	    awk '{ k = ($1 == "+Inf") ? 1e300 : $1; print k, $1, $2 }' |
	    sort -g | awk '{ print $2, $3 }'
}

# hquantile Q FILE...: quantile Q of the summed "LE COUNT" histograms, as
# Prometheus' histogram_quantile: linear inside the bucket, the first
# bucket's lower bound 0, the +Inf bucket answers its lower bound.
hquantile()
{
	local q=$1
	shift
	{ cat "$@" 2>/dev/null || true; } | awk '{ c[$1] += $2 } END { for (le in c) print le, c[le] }' |
	    awk '{ k = ($1 == "+Inf") ? 1e300 : $1; print k, $1, $2 }' | sort -g |
	    awk -v q="$q" '
		{ le[n] = $2; c[n] = $3; n++ }
		END {
			if (n == 0 || c[n - 1] <= 0) exit
			rank = q * c[n - 1]
			for (i = 0; i < n && c[i] < rank; i++) ;
			if (i >= n) i = n - 1
			if (le[i] == "+Inf") {
				if (i > 0) printf "%.9g\n", le[i - 1]; else print "inf"
				exit
			}
			lo = (i > 0) ? le[i - 1] : 0; pc = (i > 0) ? c[i - 1] : 0
			if (c[i] == pc) { printf "%.9g\n", le[i]; exit }
			printf "%.9g\n", lo + (le[i] - lo) * (rank - pc) / (c[i] - pc)
		}'
}

# ---- records and statistics ------------------------------------------------------

# rec KEY=VALUE...: append one run's record.
rec() { printf '%s\n' "$*" >>"$RUNS"; }

# sel FIELD KEY=VALUE...: FIELD of every record that has all KEY=VALUEs.
sel()
{
	local field=$1
	shift
	awk -v field="$field" -v conds="$*" '
		BEGIN { nc = split(conds, cs, " ") }
		{
			delete r
			for (i = 1; i <= NF; i++) {
				p = index($i, "=")
				r[substr($i, 1, p - 1)] = substr($i, p + 1)
			}
			for (i = 1; i <= nc; i++) {
				p = index(cs[i], "=")
				if (r[substr(cs[i], 1, p - 1)] != substr(cs[i], p + 1)) next
			}
			if (field in r && r[field] != "" && r[field] != "-") print r[field]
		}' "$RUNS"
}

# sel1 FIELD KEY=VALUE...: the first match only.
sel1() { sel "$@" | awk 'NR == 1'; }

# selr F1 F2 KEY=VALUE...: 1e6 * F1 / F2 for every matching record that has
# both (e.g. CPU microseconds per sample).
selr()
{
	local f1=$1 f2=$2
	shift 2
	awk -v f1="$f1" -v f2="$f2" -v conds="$*" '
		BEGIN { nc = split(conds, cs, " ") }
		{
			delete r
			for (i = 1; i <= NF; i++) {
				p = index($i, "=")
				r[substr($i, 1, p - 1)] = substr($i, p + 1)
			}
			for (i = 1; i <= nc; i++) {
				p = index(cs[i], "=")
				if (r[substr(cs[i], 1, p - 1)] != substr(cs[i], p + 1)) next
			}
			if ((f1 in r) && (f2 in r) && r[f1] != "-" && r[f2] != "-" && r[f2] + 0 > 0)
				print 1e6 * r[f1] / r[f2]
		}' "$RUNS"
}

# stats: "MEDIAN MIN MAX N" of the numbers on stdin (nothing if none).
stats()
{
	sort -g | awk '{ v[n++] = $1 } END {
		if (n == 0) exit
		m = (n % 2) ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
		print m, v[0], v[n - 1], n }'
}

# med: the median of stdin, or nothing.
med() { stats | awk '{ print $1 }'; }

# clamp VALUE MAX: VALUE, or MAX when it is smaller (either may be empty).
clamp()
{
	if [ -n "$1" ] && [ -n "$2" ]; then
		calc 'v > m ? m : v' v="$1" m="$2"
	else
		printf '%s\n' "$1"
	fi
}

# pair A B: "A/B", or one "n/a" for two.
pair() { if [ "$1" = n/a ] && [ "$2" = n/a ]; then echo n/a; else echo "$1/$2"; fi; }

# fmt FORMAT VALUE: printf, or "n/a" for an empty value.
fmt()
{
	if [ -z "$2" ]; then
		printf 'n/a\n'
	else
		awk -v f="$1" -v v="$2" 'BEGIN { printf f "\n", v }' || true
	fi
}

# calc EXPR [VAR=VALUE...]: awk arithmetic; nothing when a VAR is empty.
calc()
{
	local e=$1 a args=()
	shift
	for a in "$@"; do
		[ -n "${a#*=}" ] || return 0
		args+=(-v "$a")
	done
	awk "${args[@]}" "BEGIN { x = $e; printf \"%.9g\n\", x }" 2>/dev/null || true
}

# ---- report ------------------------------------------------------------------------

REPORT_TXT=$OUT/details.txt
REPORT_MD=$OUT/details.md
: >"$REPORT_TXT"
: >"$REPORT_MD"

# table TITLE TSV: append TSV (header row first) as an aligned text table
# and as a Markdown table.
table()
{
	local title=$1 tsv=$2
	{
		printf '\n%s\n' "$title"
		awk -F '\t' '
			{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) }
			  if (NF > nf) nf = NF }
			END {
				for (r = 1; r <= NR; r++) {
					line = ""
					for (i = 1; i <= nf; i++)
						line = line sprintf(i < nf ? "%-" w[i] "s  " : "%s", c[r, i])
					print line
					if (r == 1) {
						line = ""
						for (i = 1; i <= nf; i++) {
							s = sprintf("%" w[i] "s", ""); gsub(/ /, "-", s)
							line = line s (i < nf ? "  " : "")
						}
						print line
					}
				}
			}' "$tsv"
	} >>"$REPORT_TXT"
	{
		printf '\n### %s\n\n' "$title"
		awk -F '\t' '
			{ line = "|"; for (i = 1; i <= NF; i++) { v = $i; gsub(/\|/, "\\|", v); line = line " " v " |" }
			  print line
			  if (NR == 1) { line = "|"; for (i = 1; i <= NF; i++) line = line "---|"; print line } }' "$tsv"
	} >>"$REPORT_MD"
}

# note TEXT: a line under the last table.
note()
{
	printf '%s\n' "$*" | fold -s -w 100 | sed 's/ *$//; s/^/  /' >>"$REPORT_TXT"
	printf '\n%s\n' "$*" >>"$REPORT_MD"
}

# row FIELD...: one TSV row on stdout.
row() { local IFS=$'\t'; printf '%s\n' "$*"; }

want() { [ "$ONLY" = all ] || [[ " $ONLY " == *" $1 "* ]]; }

# ---- targets --------------------------------------------------------------------------

# target_start TAG CMD...: start a target, wait for "ready PID"; TPID, TOUT.
target_start()
{
	local tag=$1 rc=0
	shift
	TOUT=$tag.target.out
	TLIMIT=${TLIMIT:-300}
	start "$TOUT" "$tag.target.err" "$@"
	TPID=$BG
	wait_line "$TOUT" '^ready [0-9]+$' 20 "$TPID" || rc=$?
	if [ "$rc" -ne 0 ]; then
		say "bench: $1 not ready (rc $rc): $(head -c 300 "$tag.target.err")"
		return 1
	fi
}

# busy_jiffies: CPU time used on this machine so far, all CPUs, in
# 1/CLK_TCK.
busy_jiffies() { awk '$1 == "cpu" { printf "%.0f\n", $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# target_run: release the waiting target (SIGUSR1) and wait for its exit;
# ELAPSED is what it measured, EXTCPU the CPU the rest of the machine used
# meanwhile, in % of one CPU (the tool, and any disturbance).
target_run()
{
	local rc b0 b1 cpu
	b0=$(busy_jiffies)
	kill -USR1 "$TPID" 2>/dev/null || true
	wait_exit "$TPID" "$TLIMIT"
	rc=$EXIT_RC
	b1=$(busy_jiffies)
	ELAPSED=$(sed -n 's/^elapsed \([0-9.]*\)$/\1/p' "$TOUT")
	cpu=$(sed -n 's/^cpu \([0-9.]*\)$/\1/p' "$TOUT")
	TCPU=$cpu
	EXTCPU=$(calc '100 * ((b1 - b0) / hz - c) / e' b1="$b1" b0="$b0" hz="$CLK_TCK" \
	    c="$cpu" e="$ELAPSED")
	if [ "$rc" -ne 0 ] || [ -z "$ELAPSED" ]; then
		say "bench: target $TPID exited with status $rc, no elapsed time"
		return 1
	fi
}

# ---- profd --------------------------------------------------------------------------

HAVE_METRICS=0
HAVE_WALL=0
HAVE_ATTACH=0
HAVE_CONT=0
HAVE_SAMPLER=0

# profd_start TPID TAG [ARGS...]: PFD, BASE, PLOG.
profd_start()
{
	local tpid=$1 tag=$2 rc=0 port
	shift 2
	PLOG=$tag.profd.log
	start "$PLOG" "$PLOG" "$PROFD" --pid "$tpid" --listen 127.0.0.1:0 -v "$@"
	PFD=$BG
	wait_line "$PLOG" 'listening on 127\.0\.0\.1:[0-9]+' 10 "$PFD" || rc=$?
	if [ "$rc" -ne 0 ]; then
		say "bench: profd did not start (rc $rc): $(tail -n 3 "$PLOG")"
		return 1
	fi
	port=$(grep -Eo 'listening on 127\.0\.0\.1:[0-9]+' "$PLOG" | awk 'NR == 1' |
	    sed 's/.*://')
	BASE=http://127.0.0.1:$port
}

# profd_warm TAG: a thread dump of the waiting target before its timed
# run, which loads the symbols and debug info of the modules on its
# stacks.  A profd that has been running for a while has them: the
# slowdown rows measure that steady state, what every sample costs
# around the clock; profd_cold99 skips this, and shows what a fresh
# profd's first window pays on top (libc's compressed DWARF alone is
# ~80 ms of CPU here).
profd_warm()
{
	local code
	code=$(curl -sS --max-time 60 -o "$1.warm.txt" -w '%{http_code}' \
	    "$BASE/debug/pprof/threads?debug=1" 2>>"$1.warm.err") || true
	[ "$code" = 200 ] && return 0
	say "bench: warm-up thread dump failed (HTTP ${code:-none}): $(head -c 300 "$1.warm.txt" "$1.warm.err" 2>/dev/null)"
	return 1
}

# profd_stop: SIGTERM, and reap it later (reap_profds): profd takes
# seconds to exit, idle, and the benchmark need not wait for that.
_stopping=()
profd_stop()
{
	[ -n "${PFD:-}" ] || return 0
	kill -TERM "$PFD" 2>/dev/null || true
	_stopping+=("$PFD:$PLOG")
	PFD=
}

# reap_profds SECONDS: reap the profds that have exited, waiting up to
# SECONDS for each (0: not at all); complain about a bad exit status.
reap_profds()
{
	local e pid log rc left=()
	for e in "${_stopping[@]}"; do
		pid=${e%%:*} log=${e#*:}
		[ "$1" -eq 0 ] || wait_gone "$pid" "$1" || true
		if alive "$pid"; then
			left+=("$e")
			continue
		fi
		rc=0
		wait "$pid" 2>/dev/null || rc=$?
		[ "$rc" -eq 0 ] || say "bench: profd $pid exited with status $rc after SIGTERM (log $log)"
	done
	_stopping=("${left[@]}")
}

# traced_any PID: some thread of PID has a tracer.
traced_any()
{
	local task k v
	for task in /proc/"$1"/task/*; do
		while read -r k v; do
			if [ "$k" = TracerPid: ]; then
				[ "$v" != 0 ] && return 0
				break
			fi
		done 2>/dev/null <"$task/status"
	done
	return 1
}

# profd_window_begin TAG PATH SECONDS HZ: request PATH (profile or wall) in
# the background and wait until profd's window is open (its log line, or
# profd_windows_active >= 1; with --attach=window also a tracer).  Takes
# the "before" readings.  CURL is the request's PID.
profd_window_begin()
{
	local tag=$1 path=$2 secs=$3 hz=$4 n=1000 m
	PTAG=$tag
	if [ "$HAVE_METRICS" = 1 ]; then
		metrics "$BASE" "$tag.metrics.before" || true
	else
		: >"$tag.metrics.before"
	fi
	read -r CPU0_STAT CPU0_SCHED < <(proc_cpu "$PFD")
	start "$tag.curl.out" "$tag.curl.err" curl -sS --max-time $((secs + 120)) \
	    -o "$tag.pb.gz" -w '%{http_code} %{time_total}\n' \
	    "$BASE/debug/pprof/$path?seconds=$secs&hz=$hz"
	CURL=$BG
	for (( ; n > 0; n--)); do
		if grep -q 'window started' "$PLOG" 2>/dev/null; then
			break
		fi
		if [ "$HAVE_METRICS" = 1 ] && metrics "$BASE" "$tag.metrics.poll" &&
		    m=$(msum "$tag.metrics.poll" profd_windows_active) &&
		    [ "${m%%.*}" -ge 1 ] 2>/dev/null; then
			break
		fi
		alive "$CURL" || break
		nap 0.01
	done
	if [ "$n" -eq 0 ] || ! alive "$CURL"; then
		say "bench: profd window did not open: $(cat "$tag.curl.out" "$tag.curl.err" 2>/dev/null | head -c 300)"
		return 1
	fi
	if [ "${ATTACH_WINDOW:-0}" = 1 ]; then
		for ((n = 1000; n > 0; n--)); do
			traced_any "$TPID" && break
			nap 0.01
		done
	fi
}

# profd_record_begin TAG: continuous mode, no window: wait until the
# recorder has ticked (it attaches by itself), then take the "before"
# figures as profd_window_begin does; run_work fetches the history of the
# run at its end, which profd_window_end then waits for.
profd_record_begin()
{
	local tag=$1 n=1000 m
	PTAG=$tag
	for (( ; n > 0; n--)); do
		if metrics "$BASE" "$tag.metrics.poll" &&
		    m=$(msum "$tag.metrics.poll" profd_ticks_total) &&
		    [ "${m%%.*}" -ge 1 ] 2>/dev/null; then
			break
		fi
		nap 0.01
	done
	if [ "$n" -eq 0 ]; then
		say "bench: continuous mode never ticked: $(tail -n 3 "$PLOG")"
		return 1
	fi
	metrics "$BASE" "$tag.metrics.before" || : >"$tag.metrics.before"
	read -r CPU0_STAT CPU0_SCHED < <(proc_cpu "$PFD")
}

# profd_window_end: wait for the answer; sets P_* (empty when unknown).
profd_window_end()
{
	local tag=$PTAG rc c1s c1x code m
	wait_exit "$CURL" 900
	rc=$EXIT_RC
	code=$(awk '{ print $1 }' "$tag.curl.out" 2>/dev/null)
	P_TIME=$(awk '{ print $2 }' "$tag.curl.out" 2>/dev/null)
	P_SAMPLES='' P_LOCS=''
	if [ "$rc" -ne 0 ] || [ "$code" != 200 ]; then
		say "bench: profile request failed (curl $rc, HTTP ${code:-none}): $(head -c 200 "$tag.pb.gz" 2>/dev/null) $(cat "$tag.curl.err")"
		P_OK=0
	else
		P_OK=1
		if "$PPROF_DUMP" summary "$tag.pb.gz" >"$tag.summary" 2>&1; then
			P_SAMPLES=$(awk '$1 == "total[0]" { print $2 }' "$tag.summary")
			P_LOCS=$(awk '$1 == "locations" { print $2 }' "$tag.summary")
		fi
	fi
	read -r c1s c1x < <(proc_cpu "$PFD")
	P_HWM=$(status_kb "$PFD" VmHWM)

	if [ "$HAVE_METRICS" = 1 ] && metrics "$BASE" "$tag.metrics.after"; then
		P_CPU=$(mdelta "$tag.metrics.before" "$tag.metrics.after" profd_cpu_seconds_total)
		P_STOPS=$(mdelta "$tag.metrics.before" "$tag.metrics.after" profd_stops_total)
		P_TICKS=$(mdelta "$tag.metrics.before" "$tag.metrics.after" profd_ticks_total)
		P_TICKCPU=$(mdelta "$tag.metrics.before" "$tag.metrics.after" profd_tick_cpu_seconds_total)
		P_TICKWALL=$(mdelta "$tag.metrics.before" "$tag.metrics.after" profd_tick_seconds_sum)
		P_MSAMPLES=$(mdelta "$tag.metrics.before" "$tag.metrics.after" profd_samples_total)
		P_STOPMAX=$(mmax "$tag.metrics.after" profd_stop_seconds_max)
		P_CHITS=$(mdelta "$tag.metrics.before" "$tag.metrics.after" profd_symbolize_cache_hits_total)
		P_CMISS=$(mdelta "$tag.metrics.before" "$tag.metrics.after" profd_symbolize_cache_misses_total)
		m=$(mmax "$tag.metrics.after" profd_peak_resident_memory_bytes)
		[ -z "$m" ] || P_HWM=$(calc 'm / 1024' m="$m")
		hdelta "$tag.metrics.before" "$tag.metrics.after" profd_stop_seconds >"$tag.stop.hist"
		hdelta "$tag.metrics.before" "$tag.metrics.after" profd_interrupt_seconds >"$tag.intr.hist"
	else
		P_CPU='' P_STOPS='' P_TICKS='' P_TICKCPU='' P_TICKWALL='' P_MSAMPLES='' P_STOPMAX=''
		P_CHITS='' P_CMISS=''
		: >"$tag.stop.hist"
		: >"$tag.intr.hist"
	fi
	# Without profd_cpu_seconds_total: /proc/PID/stat counts exited
	# threads too but in 10 ms steps, the live threads' schedstat is exact
	# but misses exited ones; take the larger.
	if [ -z "$P_CPU" ]; then
		P_CPU=$(calc 'a > b ? a : b' a="$(calc 'x - y' x="$c1s" y="$CPU0_STAT")" \
		    b="$(calc 'x - y' x="$c1x" y="$CPU0_SCHED")")
	fi
	[ "$P_OK" = 1 ]
}

# profd_probe: what this build of profd offers (/metrics, wall profiles,
# --attach), on a small sleepers target.
profd_probe()
{
	local tag=$OUT/probe code t0
	mkdir -p "$OUT"
	if "$PROFD" --attach=window -V >/dev/null 2>&1; then
		HAVE_ATTACH=1
	fi
	if "$PROFD" --continuous=19 -V >/dev/null 2>&1; then
		HAVE_CONT=1
	fi
	if "$PROFD" --sampler perf -V >/dev/null 2>&1; then
		HAVE_SAMPLER=1
	fi
	target_start "$tag" "$BIN/sleepers" -n 3 -a 60 || die "sleepers target does not start"
	profd_start "$TPID" "$tag" || die "profd does not start: $PROFD"
	metrics "$BASE" "$tag.metrics" && HAVE_METRICS=1
	code=$(curl -sS --max-time 30 -o "$tag.wall.pb.gz" -w '%{http_code}' \
	    "$BASE/debug/pprof/wall?seconds=1&hz=99" 2>/dev/null) || code=000
	[ "$code" = 200 ] && HAVE_WALL=1
	t0=$EPOCHREALTIME
	stop_pid "$PFD" TERM
	PROFD_EXIT_S=$(calc 'b - a' a="$t0" b="$EPOCHREALTIME")
	[ "$STOP_RC" -eq 0 ] || say "bench: profd exited with status $STOP_RC after SIGTERM (log $PLOG)"
	PFD=
	stop_pid "$TPID" KILL || true
	say "profd: $("$PROFD" -V 2>&1 | awk 'NR == 1'); /metrics: $HAVE_METRICS, wall: $HAVE_WALL (HTTP $code), --attach: $HAVE_ATTACH"
}

# ---- perf -------------------------------------------------------------------------

HAVE_PERF=0
PERF_BIN=${PERF_BIN:-perf}
command -v "$PERF_BIN" >/dev/null 2>&1 && "$PERF_BIN" --version >/dev/null 2>&1 && HAVE_PERF=1

# perf_begin TAG TPID FREQ CALLGRAPH: perf record on TPID, started with its
# events disabled; enabled through its control fifo, and we wait for the
# ack, so that perf's setup (opening events, reading /proc, synthesizing
# mmaps) is over before the target is released.  PERF is its PID.
perf_begin()
{
	local tag=$1 tpid=$2 freq=$3 cg=$4
	rm -f "$tag.ctl" "$tag.ack"
	mkfifo "$tag.ctl" "$tag.ack"
	start "$tag.perf.out" "$tag.perf.err" "$PERF_BIN" record -F "$freq" \
	    --call-graph "$cg" -D -1 --control "fifo:$tag.ctl,$tag.ack" -B -N \
	    -p "$tpid" -o "$tag.perf.data"
	PERF=$BG
	PTAG_PERF=$tag
	# shellcheck disable=SC2016  # $1, $2 are sh's
	if ! timeout 20 sh -c 'echo enable >"$1" && head -c 3 "$2"' _ \
	    "$tag.ctl" "$tag.ack" >"$tag.ack.out" 2>&1 ||
	    [ "$(cat "$tag.ack.out")" != ack ]; then
		say "bench: perf did not start: $(tail -n 3 "$tag.perf.err")"
		return 1
	fi
}

# perf_end: perf stops by itself when the target has exited; SIGINT after
# 20 s otherwise.
perf_end()
{
	local rc
	wait_gone "$PERF" 20 || true
	stop_pid "$PERF" INT
	rc=$STOP_RC
	PERF=
	rm -f "$PTAG_PERF.ctl" "$PTAG_PERF.ack"
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 130 ]; then
		say "bench: perf record exited with status $rc: $(tail -n 3 "$PTAG_PERF.perf.err")"
		return 1
	fi
}

# ---- sections ---------------------------------------------------------------------------

SLOW_CFGS=(profd_cpu99 profd_cpu999 profd_cold99 floor99 floor999 profd_perf99 profd_perf999 profd_wall99 profd_cont19 perf_fp99 perf_dwarf99 perf_fp999 perf_dwarf999 perf_fp19)
declare -A CFG_LABEL=(
	[profd_cpu99]="profd CPU profile, 99 Hz"
	[profd_cpu999]="profd CPU profile, 999 Hz"
	[profd_cold99]="profd CPU profile, 99 Hz, fresh profd (loads symbols meanwhile)"
	[floor99]="ptrace floor, 99 Hz (bench/floor.c)"
	[floor999]="ptrace floor, 999 Hz (bench/floor.c)"
	[profd_perf99]="profd perf 99 Hz"
	[profd_perf999]="profd perf 999 Hz"
	[profd_wall99]="profd wall profile, 99 Hz"
	[profd_cont19]="profd --continuous=19 (recorder, no window)"
	[perf_fp19]="perf record -F 19 -g"
	[perf_fp99]="perf record -F 99 -g"
	[perf_dwarf99]="perf record -F 99 --call-graph dwarf"
	[perf_fp999]="perf record -F 999 -g"
	[perf_dwarf999]="perf record -F 999 --call-graph dwarf"
)

cfg_available()
{
	case $1 in
	profd_wall*) [ "$HAVE_WALL" = 1 ] ;;
	profd_cont*) [ "$HAVE_CONT" = 1 ] ;;
	profd_perf*) [ "$HAVE_SAMPLER" = 1 ] ;;
	perf_*) [ "$HAVE_PERF" = 1 ] ;;
	floor*) [ -x "$BIN/floor" ] ;;
	*) return 0 ;;
	esac
}

# expected run time of the work target with T threads on this machine
work_seconds()
{
	calc 'w * (t > n ? t / n : 1)' w="$WORK_SECONDS" t="$1" n="$(nproc)"
}

calibrate()
{
	local out=$OUT/calib.out round_ms
	"$BIN/work" -c -r 100 >/dev/null	# warm up
	"$BIN/work" -c -r 300 >"$out" || die "work -c failed"
	round_ms=$(awk '$1 == "round_ms" { print $2 }' "$out")
	ROUNDS=$(calc 'int(s * 1000 / r + 0.5)' s="$WORK_SECONDS" r="$round_ms")
	CALIB_SPLIT=$(awk '$1 == "split" { printf "%.1f/%.1f/%.1f", $2, $3, $4 }' "$out")
	say "calibration: $round_ms ms per round, $ROUNDS rounds per thread, split $CALIB_SPLIT"
}

# run_abort: after a failed step, stop whatever this run started.
run_abort()
{
	[ -z "${PERF:-}" ] || stop_pid "$PERF" INT
	[ -z "${FLOOR:-}" ] || stop_pid "$FLOOR" TERM
	[ -z "${CURL:-}" ] || stop_pid "$CURL" TERM
	[ -z "${PFD:-}" ] || profd_stop
	stop_pid "$TPID" KILL
	PERF='' CURL='' PFD='' FLOOR=''
	return 1
}

# run_work SECTION REP T CFG [SCALE]: one run of the work target under CFG
# (base1, base2, profd_cpuHZ, profd_perfHZ (a CPU profile with --sampler
# perf), profd_wallHZ, perf_fpHZ, perf_dwarfHZ, or
# both: profd CPU profile and perf -g at ACC_HZ together), SCALE times the
# usual work; appends its record.
run_work()
{
	local sec=$1 rep=$2 t=$3 cfg=$4 scale=${5:-1} d tag secs path='' hz='' freq cg rounds
	local popts=()
	reap_profds 0
	d=$OUT/$sec/T$t/rep$rep
	mkdir -p "$d"
	tag=$d/$cfg
	PERF='' CURL='' PFD='' FLOOR=''
	# the profile window covers the run with a wide margin; the window
	# ends early when the target exits
	secs=$(calc 'int(3 * w * s + 10)' w="$(work_seconds "$t")" s="$scale")
	rounds=$(calc 'int(r * s + 0.5)' r="$ROUNDS" s="$scale")
	TLIMIT=$((secs + 60))
	target_start "$tag" "$BIN/work" -t "$t" -r "$rounds" -w -a $((TLIMIT + 30)) ||
	    return 1
	case $cfg in
	profd_cpu*) path=profile hz=${cfg#profd_cpu} ;;
	profd_cold*) path=profile hz=${cfg#profd_cold} ;;
	profd_perf*) path=profile hz=${cfg#profd_perf} popts=(--sampler perf) ;;
	profd_wall*) path=wall hz=${cfg#profd_wall} ;;
	both) path=profile hz=$ACC_HZ ;;
	esac
	if [ -n "$path" ]; then
		profd_start "$TPID" "$tag" "${popts[@]}" || run_abort || return 1
		if [[ $cfg != profd_cold* ]]; then
			profd_warm "$tag" || run_abort || return 1
		fi
		profd_window_begin "$tag" "$path" "$secs" "$hz" || run_abort || return 1
	fi
	case $cfg in
	profd_cont*)
		profd_start "$TPID" "$tag" --continuous="${cfg#profd_cont}" ||
		    run_abort || return 1
		profd_warm "$tag" || run_abort || return 1
		profd_record_begin "$tag" || run_abort || return 1
		;;
	esac
	case $cfg in
	floor*)
		start "$tag.floor.out" "$tag.floor.err" "$BIN/floor" -p "$TPID" \
		    -F "${cfg#floor}"
		FLOOR=$BG
		if ! wait_line "$tag.floor.out" '^ready ' 20 "$FLOOR"; then
			say "bench: floor did not start: $(tail -n 3 "$tag.floor.err")"
			run_abort || return 1
		fi
		;;
	esac
	case $cfg in
	perf_* | both)
		freq=${cfg##*[a-z]} cg=fp
		[ "$cfg" = both ] && freq=$ACC_HZ
		[[ $cfg == perf_dwarf* ]] && cg=dwarf
		perf_begin "$tag" "$TPID" "$freq" "$cg" || run_abort || return 1
		;;
	esac

	target_run || run_abort || return 1

	case $cfg in
	base*)
		rec "sec=$sec rep=$rep T=$t cfg=$cfg elapsed=$ELAPSED extcpu=${EXTCPU:--} tcpu=${TCPU:--}"
		;;
	floor*)
		# it exits once the target's threads are gone
		wait_gone "$FLOOR" 20 || true
		stop_pid "$FLOOR" TERM
		FLOOR=
		rec "sec=$sec rep=$rep T=$t cfg=$cfg elapsed=$ELAPSED extcpu=${EXTCPU:--} tcpu=${TCPU:--}" \
		    "samples=$(awk '$1 == "samples" { print $2 }' "$tag.floor.out")" \
		    "stopsum_us=$(awk '$1 == "samples" { print $6 }' "$tag.floor.out")" \
		    "floorcpu_us=$(awk '$1 == "samples" { print $8 }' "$tag.floor.out")"
		;;
	perf_*)
		perf_end || true
		rec "sec=$sec rep=$rep T=$t cfg=$cfg elapsed=$ELAPSED extcpu=${EXTCPU:--} tcpu=${TCPU:--}" \
		    "samples=$("$PERF_BIN" report -i "$tag.perf.data" --stats 2>/dev/null |
			awk '$1 == "SAMPLE" && $2 == "events:" { print $3; exit }')" \
		    "perfdata_kb=$(( $(stat -c %s "$tag.perf.data" 2>/dev/null || echo 0) / 1024 ))"
		rm -f "$tag.perf.data" "$tag.perf.data.old"
		;;
	profd_* | both)
		[ "$cfg" = both ] && { perf_end || true; }
		# continuous mode: what the recorder holds of the run, at once
		[[ $cfg == profd_cont* ]] && start "$tag.curl.out" "$tag.curl.err" \
		    curl -sS --max-time 60 -o "$tag.pb.gz" \
		    -w '%{http_code} %{time_total}\n' \
		    "$BASE/debug/pprof/history?seconds=$secs" && CURL=$BG
		profd_window_end || true
		CURL=
		profd_stop
		rec "sec=$sec rep=$rep T=$t cfg=$cfg elapsed=$ELAPSED extcpu=${EXTCPU:--} tcpu=${TCPU:--} ok=$P_OK" \
		    "samples=${P_SAMPLES:--} msamples=${P_MSAMPLES:--} cpu=${P_CPU:--}" \
		    "hwm_kb=${P_HWM:--} stops=${P_STOPS:--} ticks=${P_TICKS:--}" \
		    "tickcpu=${P_TICKCPU:--} stopmax=${P_STOPMAX:--}"
		;;
	esac
}

REPS_DONE=0
section_slowdown()
{
	local rep t cfg order t0 took
	for ((rep = 1; rep <= REPS; rep++)); do
		t0=$(date +%s)
		for t in $THREADS; do
			order=()
			for cfg in "${SLOW_CFGS[@]}"; do
				cfg_available "$cfg" && order+=("$cfg")
			done
			mapfile -t order < <(printf '%s\n' "${order[@]}" | shuf)
			say "slowdown: repetition $rep/$REPS, $t thread(s): base1 ${order[*]} base2"
			for cfg in base1 "${order[@]}" base2; do
				run_work slow "$rep" "$t" "$cfg" ||
				    say "bench: run failed: slowdown rep $rep, $t thread(s), $cfg"
			done
		done
		REPS_DONE=$rep
		took=$(($(date +%s) - t0))
		if [ "$DEADLINE" -gt 0 ] && [ "$rep" -lt "$REPS" ] &&
		    [ $(($(date +%s) - START_EPOCH + took)) -gt $((DEADLINE - RESERVE)) ]; then
			say "slowdown: stopping after $rep of $REPS repetitions (one took $took s): the next would not leave ${RESERVE} s of the ${DEADLINE} s budget (BENCH_DEADLINE) for the rest"
			break
		fi
	done
}

# shares FOLDED_OR_REPORT KIND: "A B C N" percentages of hot_a/hot_b/hot_c
# among the three, and their total (profd: CPU ns, perf: samples).
shares_profd()
{
	{
		"$PPROF_DUMP" folded "$1" 2>/dev/null | sed 's/^/v /'
		"$PPROF_DUMP" folded -i 0 "$1" 2>/dev/null | sed 's/^/n /'
	} | awk '
		{ v = $NF; s = substr($0, 3, length($0) - length($NF) - 3)
		  n = split(s, f, ";"); leaf = f[n]; sub(/ \(inline\)$/, "", leaf)
		  if (leaf != "hot_a" && leaf != "hot_b" && leaf != "hot_c") next
		  if ($1 == "v") t[leaf] += v; else cnt += v }
		END { s = t["hot_a"] + t["hot_b"] + t["hot_c"]; if (s == 0) exit
		      printf "%.2f %.2f %.2f %d\n", 100 * t["hot_a"] / s, 100 * t["hot_b"] / s, 100 * t["hot_c"] / s, cnt }'
}

shares_perf()
{
	"$PERF_BIN" report -i "$1" --no-children --sort sym --stdio -n -q -g none 2>/dev/null | awk '
		$3 == "[.]" && ($4 == "hot_a" || $4 == "hot_b" || $4 == "hot_c") { t[$4] += $2 }
		END { s = t["hot_a"] + t["hot_b"] + t["hot_c"]; if (s == 0) exit
		      printf "%.2f %.2f %.2f %d\n", 100 * t["hot_a"] / s, 100 * t["hot_b"] / s, 100 * t["hot_c"] / s, s }'
}

section_accuracy()
{
	local t tag sp sq scale
	if [ "$HAVE_PERF" = 0 ]; then
		say "accuracy: skipped, perf is not installed"
		return 0
	fi
	for t in $THREADS; do
		say "accuracy: profd $ACC_HZ Hz and perf -F $ACC_HZ -g on one ${ACC_SECONDS} s run, $t thread(s)"
		scale=$(calc 'a / w' a="$ACC_SECONDS" w="$(work_seconds "$t")")
		if ! run_work acc 1 "$t" both "$scale"; then
			say "bench: accuracy run failed, $t thread(s)"
			continue
		fi
		tag=$OUT/acc/T$t/rep1/both
		sp=$(shares_profd "$tag.pb.gz")
		sq=$(shares_perf "$tag.perf.data")
		rec "sec=accsh T=$t profd=${sp// /,} perf=${sq// /,}"
	done
}

section_scaling()
{
	local n tag d
	d=$OUT/scale
	mkdir -p "$d"
	for n in $SCALE_THREADS; do
		tag=$d/N$n
		reap_profds 0
		say "scaling: $n threads, 2 running, profd CPU profile ${SCALE_SECONDS} s at 99 Hz"
		target_start "$tag" "$BIN/sleepers" -n "$n" -a 300 || continue
		if ! profd_start "$TPID" "$tag"; then
			stop_pid "$TPID" KILL
			continue
		fi
		if profd_window_begin "$tag" profile "$SCALE_SECONDS" 99 &&
		    profd_window_end; then
			rec "sec=scale N=$n samples=${P_SAMPLES:--} cpu=${P_CPU:--}" \
			    "ticks=${P_TICKS:--} tickcpu=${P_TICKCPU:--}" \
			    "tickwall=${P_TICKWALL:--} stops=${P_STOPS:--} hwm_kb=${P_HWM:--}"
		else
			say "bench: scaling run failed, $n threads"
		fi
		profd_stop
		stop_pid "$TPID" KILL || true
	done
}

section_response()
{
	local d=$OUT/resp tag size i
	mkdir -p "$d"
	[ -x "$BIG" ] || { say "bench: $BIG not built"; return 0; }
	size=$(stat -c %s "$BIG")
	say "response: $(basename "$BIG"), $((size / 1048576)) MB, two ${RESP_SECONDS} s profiles (cold, warm)"
	target_start "$d/big" "$BIG" -t 1 -a 300 || return 0
	if [ "${BENCH_DROP_CACHES:-0}" = 1 ]; then
		sync
		echo 3 >/proc/sys/vm/drop_caches || say "bench: cannot drop the page cache"
	fi
	if ! profd_start "$TPID" "$d/big"; then
		stop_pid "$TPID" KILL
		return 0
	fi
	for i in cold warm; do
		tag=$d/$i
		if profd_window_begin "$tag" profile "$RESP_SECONDS" 99 &&
		    profd_window_end; then
			rec "sec=resp kind=$i size=$size time=$P_TIME" \
			    "resp=$(calc 't - s' t="$P_TIME" s="$RESP_SECONDS")" \
			    "samples=${P_SAMPLES:--} locs=${P_LOCS:--} cpu=${P_CPU:--}" \
			    "hwm_kb=${P_HWM:--} chits=${P_CHITS:--} cmiss=${P_CMISS:--}"
		else
			say "bench: $i response run failed"
		fi
	done
	profd_stop
	stop_pid "$TPID" KILL || true
}

section_rss()
{
	local d=$OUT/rss t0 now el rss10 last
	mkdir -p "$d"
	say "rss: profd CPU profile of the 8-thread target for ${RSS_SECONDS} s"
	target_start "$d/work" "$BIN/work" -t 8 -r 0 -w -a $((RSS_SECONDS + 300)) || return 0
	if ! profd_start "$TPID" "$d/work" --max-seconds "$RSS_SECONDS"; then
		stop_pid "$TPID" KILL
		return 0
	fi
	if ! profd_window_begin "$d/work" profile "$RSS_SECONDS" 99; then
		profd_stop
		stop_pid "$TPID" KILL
		return 0
	fi
	kill -USR1 "$TPID"
	t0=$(date +%s.%N)
	: >"$d/rss.tsv"
	# VmRSS every second; "at 10 s" and "at the end" are during the
	# window, the peak (VmHWM) after the answer includes the export.
	while alive "$CURL"; do
		nap 1
		now=$(date +%s.%N)
		el=$(calc 'n - s' n="$now" s="$t0")
		printf '%.1f\t%s\t%s\n' "$el" "$(status_kb "$PFD" VmRSS)" \
		    "$(status_kb "$PFD" VmHWM)" >>"$d/rss.tsv"
	done
	rss10=$(awk '$1 >= 10 { print $2; exit }' "$d/rss.tsv")
	last=$(awk -v end="$RSS_SECONDS" '$1 <= end - 0.5 { v = $2 } END { print v }' "$d/rss.tsv")
	profd_window_end || true
	rec "sec=rss seconds=$RSS_SECONDS rss10_kb=${rss10:--} rssend_kb=${last:--}" \
	    "hwm_kb=${P_HWM:--} samples=${P_SAMPLES:--} cpu=${P_CPU:--}"
	profd_stop
	stop_pid "$TPID" KILL || true
}

# hist_start HZ DIR: a stacks target and a profd recording it at HZ with
# --trigger exit into DIR/snaps; HT_<HZ>, HP_<HZ>, HB_<HZ>, HL_<HZ>.
hist_start()
{
	local hz=$1 d=$2
	mkdir -p "$d/snaps"
	target_start "$d/stacks" "$BIN/stacks" 8 64 $((HIST_SECONDS + 300)) || return 1
	if ! profd_start "$TPID" "$d/stacks" --continuous="$hz" \
	    --trigger exit --output-dir "$d/snaps"; then
		stop_pid "$TPID" KILL
		return 1
	fi
	printf -v "HT_$hz" %s "$TPID"
	printf -v "HP_$hz" %s "$PFD"
	printf -v "HB_$hz" %s "$BASE"
	printf -v "HL_$hz" %s "$PLOG"
}

# hist_end HZ DIR: read profd's memory and /metrics, kill the target, wait
# (60 s at most) for the exit snapshot, measure it, stop profd; one record.
hist_end()
{
	local hz=$1 d=$2 t p b m rss hwm n snap=- disk=- f
	t=$(eval echo "\$HT_$hz") p=$(eval echo "\$HP_$hz") b=$(eval echo "\$HB_$hz")
	rss=$(status_kb "$p" VmRSS)
	hwm=$(status_kb "$p" VmHWM)
	m=$d/metrics.end
	metrics "$b" "$m" || true
	stop_pid "$t" KILL
	for ((n = 600; n > 0; n--)); do
		f=$(find "$d/snaps" -mindepth 2 -maxdepth 2 -name manifest.json \
		    -not -path '*/.*' 2>/dev/null | head -n 1)
		[ -n "$f" ] && break
		nap 0.1
	done
	if [ -n "$f" ]; then
		snap=$(du -sb "$(dirname "$f")" | awk '{ print $1 }')
		disk=$(du -sb "$d/snaps" | awk '{ print $1 }')
	else
		say "bench: hist $hz Hz: no exit snapshot within 60 s: $(tail -n 3 "$d/stacks.profd.log")"
	fi
	PFD=$p PLOG=$(eval echo "\$HL_$hz")
	profd_stop
	rec "sec=hist hz=$hz seconds=$HIST_SECONDS rss_kb=${rss:--} hwm_kb=${hwm:--}" \
	    "hbytes=$(msum "$m" profd_history_bytes) budget=$(msum "$m" profd_history_budget_bytes)" \
	    "buckets=$(msum "$m" profd_history_buckets) evicted=$(msum "$m" profd_history_buckets_evicted_total)" \
	    "oldest=$(msum "$m" profd_history_oldest_seconds) stacks=$(msum "$m" profd_history_stacks)" \
	    "snap_b=$snap disk_b=$disk"
}

section_hist()
{
	local d=$OUT/hist hz started=()
	[ "$HAVE_CONT" = 1 ] || { say "bench: hist: this profd has no --continuous"; return 0; }
	[ -x "$BIN/stacks" ] || { say "bench: hist: $BIN/stacks not built (make bench-targets)"; return 0; }
	say "hist: continuous mode at ${HIST_HZ// /, } Hz of the 8-thread stacks target for ${HIST_SECONDS} s"
	for hz in $HIST_HZ; do
		hist_start "$hz" "$d/$hz" && started+=("$hz")
	done
	[ "${#started[@]}" -gt 0 ] || return 0
	nap "$HIST_SECONDS"
	for hz in "${started[@]}"; do
		hist_end "$hz" "$d/$hz"
	done
}

# section_goroutines: for each G of GOR_COUNTS, gor with G goroutines
# parked (and main), a profd, two goroutine?debug=2 requests (the first
# also symbolizes); per request one record with the HTTP status, curl's
# total time, the goroutines listed, the size, and from /metrics before
# and after it the read time, stack re-reads, threads stopped and the
# pause metric (each "-" where profd has no such metric).
section_goroutines()
{
	local d=$OUT/gor g tag i out res listed have m0 m1
	[ -x "$GOR_BIN" ] || { say "bench: goroutines: $GOR_BIN not built (make targets, with Go)"; return 0; }
	mkdir -p "$d"
	for g in $GOR_COUNTS; do
		tag=$d/G$g
		reap_profds 0
		say "goroutines: gor -goroutines $g, /debug/pprof/goroutine?debug=2 twice"
		target_start "$tag" "$GOR_BIN" -goroutines "$g" -alarm 600 || continue
		have=$(sed -n 's/^goroutines \([0-9][0-9]*\)$/\1/p' "$TOUT")
		if ! profd_start "$TPID" "$tag"; then
			stop_pid "$TPID" KILL
			continue
		fi
		for i in 1 2; do
			out=$tag.dump$i.txt
			m0=$tag.metrics$i.before
			m1=$tag.metrics$i.after
			metrics "$BASE" "$m0" || true
			res=$(curl -sS --max-time 300 -o "$out" -w '%{http_code} %{time_total}' \
			    "$BASE/debug/pprof/goroutine?debug=2" 2>"$tag.curl$i.err") ||
			    res="000 -"
			metrics "$BASE" "$m1" || true
			listed=$(grep -c '^goroutine [0-9][0-9]* \[' "$out" 2>/dev/null) || true
			rec "sec=gor G=$g req=$i have=${have:--} code=${res%% *} time=${res#* }" \
			    "listed=${listed:-0} bytes=$(stat -c %s "$out" 2>/dev/null || echo 0)" \
			    "threads=$(find "/proc/$TPID/task" -mindepth 1 -maxdepth 1 | wc -l)" \
			    "read_s=$(mdelta "$m0" "$m1" profd_go_goroutine_read_seconds_total)" \
			    "rereads=$(mdelta "$m0" "$m1" profd_go_goroutine_stack_rereads_total)" \
			    "stops=$(mdelta "$m0" "$m1" profd_stops_total)" \
			    "stopmax=$(mmax "$m1" profd_stop_seconds_max)" \
			    "pause=$(mmax "$m1" profd_go_goroutine_read_pause_seconds)"
		done
		profd_stop
		stop_pid "$TPID" KILL || true
	done
}

ATTACH_CFGS=(none sample window)

# starve: a CPU cgroup with the least share, for profd (cgroup v1 cpu
# controller or v2 with cpu enabled); prints its directory, nothing when
# neither can be made.
STARVE_CG=
starve_cgroup()
{
	local v1=/sys/fs/cgroup/cpu v2=/sys/fs/cgroup
	if [ -d "$v1" ] && mkdir -p "$v1/profd-bench" 2>/dev/null &&
	    echo 10 >"$v1/profd-bench/cpu.shares" 2>/dev/null; then
		echo "$v1/profd-bench"
	elif [ -f "$v2/cgroup.controllers" ] && grep -qw cpu "$v2/cgroup.controllers" &&
	    echo +cpu >"$v2/cgroup.subtree_control" 2>/dev/null &&
	    mkdir -p "$v2/profd-bench" 2>/dev/null &&
	    echo 1 >"$v2/profd-bench/cpu.weight" 2>/dev/null; then
		echo "$v2/profd-bench"
	fi
}

section_starve()
{
	local d=$OUT/starve cfg tag hogs i line args real=$PROFD secs=${BENCH_STARVE_SECONDS:-15}
	local -a hp
	mkdir -p "$d"
	STARVE_CG=$(starve_cgroup)
	[ -n "$STARVE_CG" ] || say "bench: starve: no CPU cgroup could be made: only the 2-hog rows"
	# profd moved into the cgroup before it runs, guardian included
	printf '#!/bin/sh\necho $$ >"%s/cgroup.procs" || exit 1\nexec "%s" "$@"\n' \
	    "$STARVE_CG" "$real" >"$d/in-cgroup.sh"
	chmod +x "$d/in-cgroup.sh"
	for cfg in none hogs2 cg cg-noguardian cg-perf; do
		case $cfg in cg*) [ -n "$STARVE_CG" ] || continue ;; esac
		case $cfg in hogs2|none) hogs=2 ;; *) hogs=4 ;; esac
		reap_profds 0
		tag=$d/$cfg
		hp=()
		for ((i = 0; i < hogs; i++)); do
			sh -c 'while :; do :; done' &
			hp+=($!)
		done
		if ! TLIMIT=120 target_start "$tag" "$BIN/gap" -s "$secs" -w -a 120; then
			kill "${hp[@]}" 2>/dev/null || true; wait "${hp[@]}" 2>/dev/null || true
			continue
		fi
		args=(--rt-priority 0)
		case $cfg in
		cg-noguardian) args+=(--no-guardian) ;;
		cg-perf) args+=(--sampler perf) ;;
		esac
		if [ "$cfg" != none ]; then
			case $cfg in cg*) PROFD=$d/in-cgroup.sh ;; esac
			if ! profd_start "$TPID" "$tag" "${args[@]}"; then
				PROFD=$real
				stop_pid "$TPID" KILL
				kill "${hp[@]}" 2>/dev/null || true; wait "${hp[@]}" 2>/dev/null || true
				continue
			fi
			PROFD=$real
			curl -sS --max-time 60 -o "$tag.pb" \
			    "$BASE/debug/pprof/profile?seconds=$((secs - 3))&hz=99" 2>"$tag.curl.err" &
			P_CURL=$!
		fi
		kill -USR1 "$TPID"
		wait "$TPID" || say "bench: gap exited with status $?"
		line=$(grep '^gap ' "$TOUT" || true)
		if [ "$cfg" != none ]; then
			wait "$P_CURL" 2>/dev/null || true
			metrics "$BASE" "$tag.metrics" || true
		fi
		rec "sec=starve cfg=$cfg" \
		    "$(awk '{ for (i = 2; i < NF; i += 2) printf "%s=%s ", $i, $(i + 1) }' <<<"$line")" \
		    "stopmax=$(mmax "$tag.metrics" profd_stop_seconds_max 2>/dev/null)" \
		    "breaches=$(mmax "$tag.metrics" profd_stop_bound_breaches_total 2>/dev/null)" \
		    "unstopped=$(mmax "$tag.metrics" profd_ticks_unstopped_total 2>/dev/null)" \
		    "ticks=$(mmax "$tag.metrics" profd_ticks_total 2>/dev/null)" \
		    "killed=$(grep -c 'killed profd' "$tag.profd.log" 2>/dev/null)"
		[ "$cfg" = none ] || profd_stop
		kill "${hp[@]}" 2>/dev/null || true; wait "${hp[@]}" 2>/dev/null || true
	done
	# the cgroup can go once the last profd (and its guardian) has
	reap_profds 10
	[ -z "$STARVE_CG" ] || rmdir "$STARVE_CG" 2>/dev/null ||
	    say "bench: starve: $STARVE_CG left behind (still in use)"
	return 0
}

section_attach()
{
	local rep cfg order tag d secs line args
	secs=$((SIGLAT_SECONDS + 5))
	for ((rep = 1; rep <= REPS; rep++)); do
		mapfile -t order < <(printf '%s\n' "${ATTACH_CFGS[@]}" | shuf)
		say "attach: repetition $rep/$REPS: ${order[*]}"
		for cfg in "${order[@]}"; do
			[ "$cfg" = window ] && [ "$HAVE_ATTACH" = 0 ] && continue
			reap_profds 0
			d=$OUT/attach/rep$rep
			mkdir -p "$d"
			tag=$d/$cfg
			target_start "$tag" "$BIN/siglat" -r "$SIGLAT_RATE" -s "$SIGLAT_SECONDS" -w -a 120 || continue
			if [ "$cfg" != none ]; then
				args=()
				[ "$HAVE_ATTACH" = 1 ] && args=(--attach="$cfg")
				if ! profd_start "$TPID" "$tag" "${args[@]}"; then
					stop_pid "$TPID" KILL
					continue
				fi
				[ "$cfg" = window ] && ATTACH_WINDOW=1
				if ! profd_window_begin "$tag" profile "$secs" 99; then
					ATTACH_WINDOW=0
					profd_stop
					stop_pid "$TPID" KILL
					continue
				fi
				ATTACH_WINDOW=0
			fi
			kill -USR1 "$TPID"
			wait "$TPID" || say "bench: siglat exited with status $?"
			line=$(grep '^siglat ' "$TOUT" || true)
			if [ "$cfg" != none ]; then
				profd_window_end || true
				profd_stop
			fi
			rec "sec=attach rep=$rep cfg=$cfg" \
			    "$(awk '{ for (i = 2; i < NF; i += 2) printf "%s=%s ", $i, $(i + 1) }' <<<"$line")" \
			    "cpu=${P_CPU:--} ticks=${P_TICKS:--} tickcpu=${P_TICKCPU:--} samples=${P_SAMPLES:--}"
			P_CPU='' P_TICKS='' P_TICKCPU='' P_SAMPLES=''
		done
	done
}

# ---- the report ----------------------------------------------------------------------------

pp() { fmt '%.1f' "$1"; }

# slow_cell T CFG: "MEDIAN [MIN-MAX]" of the per-repetition slowdowns.
slow_list()
{
	local t=$1 cfg=$2
	awk -v t="$t" -v cfg="$cfg" '
		{
			delete r
			for (i = 1; i <= NF; i++) { p = index($i, "="); r[substr($i, 1, p - 1)] = substr($i, p + 1) }
			if (r["sec"] != "slow" || r["T"] != t) next
			e[r["rep"], r["cfg"]] = r["elapsed"]; reps[r["rep"]] = 1
		}
		END {
			for (k in reps) {
				b1 = e[k, "base1"]; b2 = e[k, "base2"]
				if (b1 == "" || b2 == "") continue
				if (cfg == "aa") { print b2 / b1; continue }
				if (cfg == "base") { print (b1 + b2) / 2; continue }
				if (e[k, cfg] != "") print e[k, cfg] / ((b1 + b2) / 2)
			}
		}' "$RUNS"
}

slow_cell()
{
	local s
	s=$(slow_list "$1" "$2" | stats)
	[ -n "$s" ] || { printf 'n/a\n'; return; }
	awk -v s="$s" 'BEGIN { split(s, v, " ")
		if (v[4] > 1) printf "%.3f [%.3f-%.3f]\n", v[1], v[2], v[3]
		else printf "%.3f (n=1)\n", v[1] }'
}

report_slowdown()
{
	local tsv=$OUT/t_slow.tsv t cfg cells hdr=("tool") why
	for t in $THREADS; do hdr+=("$t thread$([ "$t" = 1 ] || echo s)"); done
	row "${hdr[@]}" >"$tsv"
	cells=("A/A noise (2nd/1st baseline)")
	for t in $THREADS; do cells+=("$(slow_cell "$t" aa)"); done
	row "${cells[@]}" >>"$tsv"
	for cfg in "${SLOW_CFGS[@]}"; do
		cells=("${CFG_LABEL[$cfg]}")
		if ! cfg_available "$cfg"; then
			case $cfg in
			profd_wall*) why="n/a (profd has no /debug/pprof/wall)" ;;
			profd_cont*) why="n/a (profd has no --continuous)" ;;
			profd_perf*) why="n/a (profd has no --sampler perf)" ;;
			*) why="n/a (perf not installed)" ;;
			esac
			for t in $THREADS; do cells+=("$why"); done
		else
			for t in $THREADS; do cells+=("$(slow_cell "$t" "$cfg")"); done
		fi
		row "${cells[@]}" >>"$tsv"
	done
	cells=("baseline elapsed, s (median)")
	for t in $THREADS; do cells+=("$(fmt '%.3f' "$(slow_list "$t" base | med)")"); done
	row "${cells[@]}" >>"$tsv"
	cells=("CPU used by others during baselines, % of a CPU: median [max]")
	for t in $THREADS; do
		cells+=("$(sel extcpu sec=slow T="$t" cfg=base1; sel extcpu sec=slow T="$t" cfg=base2)")
		cells[-1]=$(stats <<<"${cells[-1]}" | awk '{ printf "%.1f [%.1f]\n", $1, $3 }')
		[ -n "${cells[-1]}" ] || cells[-1]=n/a
	done
	row "${cells[@]}" >>"$tsv"
	OTHERS_MAX=$(for t in $THREADS; do sel extcpu sec=slow T="$t" cfg=base1; sel extcpu sec=slow T="$t" cfg=base2; done | stats | awk '{ print $3 }')
	table "Slowdown of bench/work (elapsed with tool / mean of the repetition's baselines), median [min-max] over $REPS_DONE repetitions" "$tsv"
	if [ "$REPS_DONE" -lt "$REPS" ]; then
		note "WARNING: only $REPS_DONE of $REPS repetitions fit in the time budget (BENCH_DEADLINE=$DEADLINE s; BENCH_DEADLINE=0 for no limit): the machine was slow or busy."
	fi
	if [ -n "${OTHERS_MAX:-}" ] && awk -v m="$OTHERS_MAX" 'BEGIN { exit !(m > 5) }'; then
		note "WARNING: other processes used up to $(fmt '%.0f' "$OTHERS_MAX") % of a CPU during baseline runs: this machine was not quiet, the slowdowns are disturbed."
	fi
	note "profd runs with its default options (attach policy included; --sampler perf for the profd perf rows), one fresh profd per run, which takes a thread dump of the waiting target before the timed run and so has its symbols loaded, as a long-running profd has (the fresh-profd row: without it); perf record -p with -B -N, started with its events disabled and enabled through its control fifo before the release. Work: $ROUNDS rounds per thread (calibrated to ${WORK_SECONDS} s per thread), hot_a/hot_b/hot_c = $CALIB_SPLIT % of a round; $(nproc) vCPUs, so 8 threads oversubscribe 4x. A ratio within the A/A row's range is noise."
}

# cost_list T CFG KIND: per repetition, the target's time one sample cost,
# in us. KIND slow: from the slowdown, (elapsed - mean baseline elapsed) x
# the threads that can run at once / samples. KIND lost: from the time the
# target's threads could run and did not, (elapsed x p - target CPU), less
# the same of the repetition's baselines, / samples: the VM's CPU speed,
# which moves from run to run by more than profd costs, cancels out of it.
cost_list()
{
	local t=$1 cfg=$2 kind=$3
	awk -v t="$t" -v cfg="$cfg" -v kind="$kind" -v n="$(nproc)" '
		{
			delete r
			for (i = 1; i <= NF; i++) { p = index($i, "="); r[substr($i, 1, p - 1)] = substr($i, p + 1) }
			if (r["sec"] != "slow" || r["T"] != t) next
			k = r["rep"]; c = r["cfg"]; reps[k] = 1
			e[k, c] = r["elapsed"]; u[k, c] = r["tcpu"]; sm[k, c] = r["samples"]
		}
		END {
			par = t < n ? t : n
			for (k in reps) {
				b1 = e[k, "base1"]; b2 = e[k, "base2"]
				if (b1 == "" || b2 == "" || e[k, cfg] == "" || sm[k, cfg] + 0 <= 0) continue
				if (kind == "slow") {
					print 1e6 * (e[k, cfg] - (b1 + b2) / 2) * par / sm[k, cfg]
					continue
				}
				if (u[k, cfg] == "" || u[k, cfg] == "-" || u[k, "base1"] == "" || u[k, "base1"] == "-" ||
				    u[k, "base2"] == "" || u[k, "base2"] == "-") continue
				lb = (b1 * par - u[k, "base1"] + b2 * par - u[k, "base2"]) / 2
				print 1e6 * (e[k, cfg] * par - u[k, cfg] - lb) / sm[k, cfg]
			}
		}' "$RUNS"
}

report_cost()
{
	local tsv=$OUT/t_cost.tsv t cfg samples a b
	row "sampler" threads "samples/run" "slowdown" "target us/sample, from the slowdown" \
	    "target us/sample, from its lost run time" >"$tsv"
	for cfg in profd_cpu99 profd_cpu999 profd_cold99 floor99 floor999 profd_perf99 profd_perf999 \
	    perf_fp99 perf_dwarf99 perf_fp999 perf_dwarf999; do
		cfg_available "$cfg" || continue
		for t in $THREADS; do
			samples=$(sel samples sec=slow T="$t" cfg="$cfg" | med)
			a=$(cost_list "$t" "$cfg" slow | stats | awk '{ printf "%.0f [%.0f-%.0f]\n", $1, $2, $3 }')
			b=$(cost_list "$t" "$cfg" lost | stats | awk '{ printf "%.0f [%.0f-%.0f]\n", $1, $2, $3 }')
			row "${CFG_LABEL[$cfg]}" "$t" "$(fmt '%.0f' "$samples")" "$(slow_cell "$t" "$cfg")" \
			    "${a:-n/a}" "${b:-n/a}" >>"$tsv"
		done
	done
	table "Cost of one sample to the target (medians [min-max] over repetitions)" "$tsv"
	note "From the slowdown: (elapsed - mean of the repetition's baselines) x threads that can run at once / samples. From the lost run time: (elapsed x threads that can run at once - the target's CPU time), less the same for the baselines, / samples; the target's CPU time for the same work moves with the VM's CPU speed from run to run, which the slowdown counts as cost and this does not. The ptrace floor (bench/floor.c) stops only running threads (state R), reads registers and 16 KiB of stack and resumes, SCHED_FIFO 1 like profd: what any ptrace sampler pays; what profd costs above it is its own (thread table, stop guard, unwind, aggregation, symbols)."
}

report_profd()
{
	local tsv=$OUT/t_profd.tsv t cfg samples el hz cpu cps tps hwm hists p50 p99 mx stops nthr i50 i99
	row "profd config" threads "samples/run" "Hz per sampled thread" "CPU ms/run" "CPU us/sample" "sampler CPU us/sample" \
	    "stop p50 us" "stop p99 us" "stop max us" "interrupt p50/p99 us" "peak RSS MB" >"$tsv"
	for cfg in profd_cpu99 profd_cpu999 profd_cold99 profd_perf99 profd_perf999 profd_wall99 profd_cont19; do
		cfg_available "$cfg" || continue
		for t in $THREADS; do
			samples=$(sel samples sec=slow T="$t" cfg="$cfg" | med)
			el=$(sel elapsed sec=slow T="$t" cfg="$cfg" | med)
			# a wall profile also samples the main thread
			nthr=$t
			[[ $cfg == profd_wall* ]] && nthr=$((t + 1))
			hz=$(calc 's / e / t' s="$samples" e="$el" t="$nthr")
			cpu=$(sel cpu sec=slow T="$t" cfg="$cfg" | med)
			cps=$(selr cpu samples sec=slow T="$t" cfg="$cfg" | med)
			tps=$(selr tickcpu samples sec=slow T="$t" cfg="$cfg" | med)
			hwm=$(sel hwm_kb sec=slow T="$t" cfg="$cfg" | stats | awk '{ print $3 }')
			hists=("$OUT"/slow/T"$t"/rep*/"$cfg".stop.hist)
			p50=$(hquantile 0.5 "${hists[@]}")
			p99=$(hquantile 0.99 "${hists[@]}")
			hists=("$OUT"/slow/T"$t"/rep*/"$cfg".intr.hist)
			i50=$(hquantile 0.5 "${hists[@]}")
			i99=$(hquantile 0.99 "${hists[@]}")
			mx=$(sel stopmax sec=slow T="$t" cfg="$cfg" | stats | awk '{ print $3 }')
			# interpolation inside the last bucket can overshoot the max
			p50=$(clamp "$p50" "$mx")
			p99=$(clamp "$p99" "$mx")
			stops=$(sel stops sec=slow T="$t" cfg="$cfg" | med)
			if [ -z "$p50" ] && [ "$HAVE_METRICS" = 0 ]; then
				p50="" p99="" mx=""
			fi
			row "${CFG_LABEL[$cfg]}" "$t" "$(fmt '%.0f' "$samples")" "$(fmt '%.1f' "$hz")" \
			    "$(fmt '%.1f' "$(calc '1000 * c' c="$cpu")")" "$(fmt '%.1f' "$cps")" "$(fmt '%.1f' "$tps")" \
			    "$(fmt '%.1f' "$(calc '1e6 * x' x="$p50")")" "$(fmt '%.1f' "$(calc '1e6 * x' x="$p99")")" \
			    "$(fmt '%.1f' "$(calc '1e6 * x' x="$mx")")" \
			    "$(pair "$(fmt '%.0f' "$(calc '1e6 * x' x="$i50")")" "$(fmt '%.0f' "$(calc '1e6 * x' x="$i99")")")" \
			    "$(fmt '%.1f' "$(calc 'k / 1024' k="$hwm")")" >>"$tsv"
			: "$stops"
		done
	done
	table "profd per run (medians over repetitions; stop times pooled over repetitions)" "$tsv"
	if [ "$HAVE_METRICS" = 1 ]; then
		note "Stop time: profd_stop_seconds histogram (stop reported -> released), p50/p99 interpolated inside buckets as histogram_quantile does; max: profd_stop_seconds_max. Interrupt: profd_interrupt_seconds (PTRACE_INTERRUPT -> stop reported; the thread still runs meanwhile). CPU: profd_cpu_seconds_total over the whole run (start, window, export: fixed costs weigh on short runs); sampler CPU: profd_tick_cpu_seconds_total, the ticks alone. Hz per sampled thread = samples / elapsed / threads sampled (CPU: the workers; wall: the workers and the main thread)."
	else
		note "profd has no /metrics: stop times n/a. CPU: the larger of /proc/PID/stat utime+stime (all threads, 10 ms steps) and the sum of the live threads' schedstat, over the whole run (window + export). Peak RSS: VmHWM. Hz per sampled thread = samples / elapsed / threads sampled (CPU: the workers; wall: the workers and the main thread)."
	fi
}

report_accuracy()
{
	local tsv=$OUT/t_acc.tsv t sp sq a b c n pa pb pc pn worst=
	row threads "profd a/b/c %" "perf a/b/c %" "delta a/b/c pp" "max abs delta pp" "2 sigma pp" "n profd/perf" >"$tsv"
	for t in $THREADS; do
		sp=$(sel profd sec=accsh T="$t" | awk 'NR == 1')
		sq=$(sel perf sec=accsh T="$t" | awk 'NR == 1')
		if [ "$HAVE_PERF" = 0 ]; then
			row "$t" "n/a (perf not installed)" n/a n/a n/a n/a n/a >>"$tsv"
			continue
		fi
		if [ -z "$sp" ] || [ -z "$sq" ]; then
			row "$t" "${sp:-n/a}" "${sq:-n/a}" n/a n/a n/a n/a >>"$tsv"
			continue
		fi
		IFS=, read -r a b c n <<<"$sp"
		IFS=, read -r pa pb pc pn <<<"$sq"
		local d
		d=$(awk -v a="$a" -v b="$b" -v c="$c" -v x="$pa" -v y="$pb" -v z="$pc" 'BEGIN {
			da = a - x; db = b - y; dc = c - z
			m = da < 0 ? -da : da; if ((db < 0 ? -db : db) > m) m = db < 0 ? -db : db
			if ((dc < 0 ? -dc : dc) > m) m = dc < 0 ? -dc : dc
			printf "%+.1f/%+.1f/%+.1f %.1f\n", da, db, dc, m }')
		row "$t" "$(printf '%.1f/%.1f/%.1f' "$a" "$b" "$c")" "$(printf '%.1f/%.1f/%.1f' "$pa" "$pb" "$pc")" \
		    "${d% *}" "${d##* }" "$(fmt '%.1f' "$(calc '200 * sqrt(0.24 / a + 0.24 / b)' a="$n" b="$pn")")" \
		    "$n/$pn" >>"$tsv"
		worst=$(calc 'w > d ? w : d' w="${worst:-0}" d="${d##* }")
	done
	ACC_WORST=$worst
	table "Accuracy: hot function shares, profd vs perf on the same run (profd CPU profile at $ACC_HZ Hz and perf record -F $ACC_HZ -g attached together, ${ACC_SECONDS} s of work)" "$tsv"
	note "Shares among hot_a/hot_b/hot_c only. profd: leaf CPU time (pprof-dump folded); perf: leaf samples (perf report --no-children --sort sym -n). Known split (work -c, thread CPU clock): $CALIB_SPLIT %. 2 sigma: sampling noise of the difference for a 60 % share with these sample counts; a delta beyond it is a bias."
}

report_scaling()
{
	local tsv=$OUT/t_scale.tsv n ticks tc tw cpu samples per est base='' ratio
	row "threads (2 running)" "samples" "ticks" "tick CPU us" "tick wall us" "profd CPU ms/s" "tick CPU vs 10 threads" >"$tsv"
	for n in $SCALE_THREADS; do
		ticks=$(sel ticks sec=scale N="$n" | awk 'NR == 1')
		tc=$(sel tickcpu sec=scale N="$n" | awk 'NR == 1')
		tw=$(sel tickwall sec=scale N="$n" | awk 'NR == 1')
		cpu=$(sel cpu sec=scale N="$n" | awk 'NR == 1')
		samples=$(sel samples sec=scale N="$n" | awk 'NR == 1')
		est=""
		if [ -n "$tc" ] && [ -n "$ticks" ]; then
			per=$(calc '1e6 * c / k' c="$tc" k="$ticks")
		else
			[ -n "$ticks" ] || { ticks=$((SCALE_SECONDS * 99)); est=" (est.)"; }
			per=$(calc '1e6 * c / k' c="$cpu" k="$ticks")
		fi
		[ -n "$base" ] || base=$per
		ratio=$(calc 'p / b' p="$per" b="$base")
		[ "$n" = 1000 ] && SCALE_RATIO=$ratio
		row "$n" "$(fmt '%.0f' "$samples")" "$ticks$est" "$(fmt '%.1f' "$per")$est" \
		    "$(fmt '%.1f' "$(calc '1e6 * w / k' w="$tw" k="$ticks")")" \
		    "$(fmt '%.1f' "$(calc '1000 * c / s' c="$cpu" s="$SCALE_SECONDS")")" \
		    "$(fmt '%.2f' "$ratio")" >>"$tsv"
	done
	table "Scaling: per-tick cost, bench/sleepers with all threads but 2 asleep, profd CPU profile ${SCALE_SECONDS} s at 99 Hz" "$tsv"
	if [ "$HAVE_METRICS" = 1 ]; then
		note "tick CPU = delta profd_tick_cpu_seconds_total / delta profd_ticks_total; tick wall = profd_tick_seconds_sum / ticks."
	else
		note "profd has no /metrics: tick CPU = profd's whole CPU time over the request (window + export) / (seconds x 99) (est.)."
	fi
}

report_response()
{
	local tsv=$OUT/t_resp.tsv size k
	size=$(sel size sec=resp | awk 'NR == 1')
	row "binary" "size MB" "request" "window s" "window end -> last byte s" "samples" "locations" "symbolize cache hits/misses" "profd CPU s" "peak RSS MB" >"$tsv"
	for k in cold warm; do
		row "$(basename "$BIG") (bench/gen_big.py)" "$(fmt '%.1f' "$(calc 's / 1048576' s="$size")")" "$k" \
		    "$RESP_SECONDS" "$(fmt '%.3f' "$(sel resp sec=resp kind=$k | awk 'NR == 1')")" \
		    "$(fmt '%.0f' "$(sel samples sec=resp kind=$k | awk 'NR == 1')")" \
		    "$(fmt '%.0f' "$(sel locs sec=resp kind=$k | awk 'NR == 1')")" \
		    "$(pair "$(fmt '%.0f' "$(sel1 chits sec=resp kind=$k)")" "$(fmt '%.0f' "$(sel1 cmiss sec=resp kind=$k)")")" \
		    "$(fmt '%.2f' "$(sel cpu sec=resp kind=$k | awk 'NR == 1')")" \
		    "$(fmt '%.1f' "$(calc 'k / 1024' k="$(sel hwm_kb sec=resp kind=$k | awk 'NR == 1')")")" >>"$tsv"
	done
	RESP_COLD=$(sel resp sec=resp kind=cold | awk 'NR == 1')
	RESP_WARM=$(sel resp sec=resp kind=warm | awk 'NR == 1')
	table "Response time: end of the window to the last byte of the answer (curl time_total - seconds)" "$tsv"
	note "cold: first request to a freshly started profd (its symbol and unwind caches empty$([ "${BENCH_DROP_CACHES:-0}" = 1 ] && echo ", page cache dropped" || echo "; the binary is in the page cache: BENCH_DROP_CACHES=1 drops it")); warm: a second request to the same profd. One thread calls $(basename "$BIG")'s functions round-robin, so samples land in hundreds of functions in many CUs, nearly every one at an address not seen before (the warm request's cache hits show how much an address cache can help). profd CPU: during the window and the export (symbolization may happen during the window)."
}

report_rss()
{
	local tsv=$OUT/t_rss.tsv
	row "profiled for s" "RSS at 10 s MB" "RSS at end of window MB" "peak RSS incl. export MB" "samples" "profd CPU s" >"$tsv"
	RSS_PEAK=$(sel hwm_kb sec=rss | awk 'NR == 1')
	row "$RSS_SECONDS" "$(fmt '%.1f' "$(calc 'k / 1024' k="$(sel rss10_kb sec=rss | awk 'NR == 1')")")" \
	    "$(fmt '%.1f' "$(calc 'k / 1024' k="$(sel rssend_kb sec=rss | awk 'NR == 1')")")" \
	    "$(fmt '%.1f' "$(calc 'k / 1024' k="$RSS_PEAK")")" \
	    "$(fmt '%.0f' "$(sel samples sec=rss | awk 'NR == 1')")" \
	    "$(fmt '%.2f' "$(sel cpu sec=rss | awk 'NR == 1')")" >>"$tsv"
	table "profd memory: one CPU profile window of ${RSS_SECONDS} s at 99 Hz on bench/work with 8 threads" "$tsv"
	note "VmRSS at 10 s and at the end of the window (before the export); peak: VmHWM (or profd_peak_resident_memory_bytes) after the answer, so it includes symbolization and encoding. Per-second VmRSS/VmHWM in bench/out/last/rss/rss.tsv. BENCH_RSS_SECONDS=600 runs the 10-minute case."
}

report_hist()
{
	local tsv=$OUT/t_hist.tsv hz
	row "rate Hz" "recorded s" "VmRSS MB" "VmHWM MB" "history MB" "bound MB" "buckets held" "dropped for memory" "reaches back s" "stacks" "exit snapshot MB" >"$tsv"
	for hz in $HIST_HZ; do
		[ -n "$(sel1 seconds sec=hist hz="$hz")" ] || continue
		row "$hz" "$HIST_SECONDS" \
		    "$(fmt '%.1f' "$(calc 'k / 1024' k="$(sel1 rss_kb sec=hist hz="$hz")")")" \
		    "$(fmt '%.1f' "$(calc 'k / 1024' k="$(sel1 hwm_kb sec=hist hz="$hz")")")" \
		    "$(fmt '%.1f' "$(calc 'b / 1048576' b="$(sel1 hbytes sec=hist hz="$hz")")")" \
		    "$(fmt '%.0f' "$(calc 'b / 1048576' b="$(sel1 budget sec=hist hz="$hz")")")" \
		    "$(fmt '%.0f' "$(sel1 buckets sec=hist hz="$hz")")" \
		    "$(fmt '%.0f' "$(sel1 evicted sec=hist hz="$hz")")" \
		    "$(fmt '%.0f' "$(sel1 oldest sec=hist hz="$hz")")" \
		    "$(fmt '%.0f' "$(sel1 stacks sec=hist hz="$hz")")" \
		    "$(fmt '%.2f' "$(calc 'b / 1048576' b="$(sel1 snap_b sec=hist hz="$hz")")")" >>"$tsv"
	done
	table "profd memory in continuous mode: --continuous of tests/targets/stacks (8 busy threads, a new stack 64 calls deep at nearly every sample) for ${HIST_SECONDS} s" "$tsv"
	note "VmRSS/VmHWM: the whole profd (one target) at the end of the recording. history: profd_history_bytes, what the history's buckets and ring hold, against its bound profd_history_budget_bytes (--history-memory, default 64 MiB); buckets dropped for memory make the history reach back less than --history (10 min). The rates ran at the same time, each with its own profd and target. exit snapshot: du -sb of the directory --trigger exit wrote when the target was killed (the whole history as cpu, wall and growth profiles, the last thread dump, the memory view, the manifest). BENCH_HIST_SECONDS=600 is the 10-minute case."
}

report_goroutines()
{
	local tsv=$OUT/t_gor.tsv g p st sm
	row "goroutines (gor -goroutines G, and main)" "threads" "listed by debug=2" "HTTP" "first dump s" "second dump s" "dump MB" "read s" "stack re-reads" "pause" >"$tsv"
	for g in $GOR_COUNTS; do
		[ -n "$(sel1 req sec=gor G="$g")" ] || continue
		p=$(calc '1000 * p' p="$(sel1 pause sec=gor G="$g" req=2)")
		st=$(sel1 stops sec=gor G="$g" req=2)
		sm=$(calc '1e6 * s' s="$(sel1 stopmax sec=gor G="$g" req=2)")
		if [ -n "$p" ]; then
			p="$(fmt '%.3f' "$p") ms"
		elif [ -n "$st" ] && [ "${st%%.*}" = 0 ]; then
			p="none (no thread stopped)"
		elif [ -n "$st" ] && [ -n "$sm" ]; then
			p="$(fmt '%.0f' "$st") thread stops, each <= $(fmt '%.0f' "$sm") us"
		else
			p="n/a"
		fi
		row "$(sel1 have sec=gor G="$g" req=1)" "$(sel1 threads sec=gor G="$g" req=2)" \
		    "$(sel1 listed sec=gor G="$g" req=2)" \
		    "$(sel1 code sec=gor G="$g" req=1)/$(sel1 code sec=gor G="$g" req=2)" \
		    "$(fmt '%.3f' "$(sel1 time sec=gor G="$g" req=1)")" \
		    "$(fmt '%.3f' "$(sel1 time sec=gor G="$g" req=2)")" \
		    "$(fmt '%.2f' "$(calc 'b / 1048576' b="$(sel1 bytes sec=gor G="$g" req=2)")")" \
		    "$(fmt '%.3f' "$(sel1 read_s sec=gor G="$g" req=2)")" \
		    "$(fmt '%.0f' "$(sel1 rereads sec=gor G="$g" req=2)")" "$p" >>"$tsv"
	done
	table "Goroutine dumps: /debug/pprof/goroutine?debug=2 of tests/targets/gor with G goroutines parked on a channel" "$tsv"
	note "first/second dump: curl's total time of two requests in a row (the first also symbolizes). listed: \"goroutine N [\" blocks of the second answer (a profd that does not know goroutines lists threads, or nothing). The other columns are of the second request, from /metrics before and after it: read s, profd_go_goroutine_read_seconds_total (reading runtime.allgs and the stacks while the target runs); stack re-reads, profd_go_goroutine_stack_rereads_total (stacks read again because their goroutine ran meanwhile); pause, profd_go_goroutine_read_pause_seconds where profd reports it, else how many threads the dump stopped (profd_stops_total) and the longest stop profd has seen so far (profd_stop_seconds_max), a bound on each of their pauses."
}

report_starve()
{
	local tsv=$OUT/t_starve.tsv cfg label
	row "configuration" "longest gap ms" "gaps > 10 ms" "gaps > 100 ms" "profd longest stop ms" "breaches" "ticks without stops" "profd killed by its guardian" >"$tsv"
	for cfg in none hogs2 cg cg-noguardian cg-perf; do
		[ -n "$(sel1 max_ms sec=starve cfg="$cfg")" ] || continue
		case $cfg in
		none) label="no profiler, 2 CPU hogs" ;;
		hogs2) label="profd 99 Hz, 2 CPU hogs" ;;
		cg) label="profd 99 Hz in a least-share cgroup, 4 hogs" ;;
		cg-noguardian) label="the same, --no-guardian" ;;
		cg-perf) label="the same, --sampler perf" ;;
		esac
		row "$label" "$(sel1 max_ms sec=starve cfg="$cfg")" \
		    "$(sel1 over10ms sec=starve cfg="$cfg")" "$(sel1 over100ms sec=starve cfg="$cfg")" \
		    "$(fmt '%.1f' "$(calc '1000 * s' s="$(sel1 stopmax sec=starve cfg="$cfg")")")" \
		    "$(sel1 breaches sec=starve cfg="$cfg")" \
		    "$(sel1 unstopped sec=starve cfg="$cfg")/$(sel1 ticks sec=starve cfg="$cfg")" \
		    "$(sel1 killed sec=starve cfg="$cfg")" >>"$tsv"
	done
	table "Starved profd: bench/gap's longest time without running under a 99 Hz CPU window" "$tsv"
	note "gap: a busy thread's largest difference between two CLOCK_MONOTONIC reads in a row (stopped, or waiting for a CPU). Least-share cgroup: cpu.shares=10 (v1) or cpu.weight=1 (v2), profd and its guardian inside, --rt-priority 0. breaches: profd_stop_bound_breaches_total (--max-stop-us); ticks without stops: profd_ticks_unstopped_total / profd_ticks_total. A profd killed by its guardian lets the target go and answers no more."
}

report_attach()
{
	local tsv=$OUT/t_attach.tsv cfg label m50 m99 mmean mmax n50 n99 nmean tc tk cpu per
	row "attach policy" "signal lateness p50 us" "p99 us" "mean us" "max us" "added p50/p99/mean us" "tick CPU us" "profd CPU ms/s" >"$tsv"
	n50=$(sel p50_us sec=attach cfg=none | med)
	n99=$(sel p99_us sec=attach cfg=none | med)
	nmean=$(sel mean_us sec=attach cfg=none | med)
	for cfg in "${ATTACH_CFGS[@]}"; do
		case $cfg in
		none) label="no profiler" ;;
		sample) label="profd --attach=sample (seize per tick)"
			[ "$HAVE_ATTACH" = 1 ] || label="profd, default (no --attach option)" ;;
		window) label="profd --attach=window (persistent SEIZE)" ;;
		esac
		if [ "$cfg" = window ] && [ "$HAVE_ATTACH" = 0 ]; then
			row "$label" "n/a (profd has no --attach)" "" "" "" "" "" "" >>"$tsv"
			continue
		fi
		m50=$(sel p50_us sec=attach cfg="$cfg" | med)
		m99=$(sel p99_us sec=attach cfg="$cfg" | med)
		mmean=$(sel mean_us sec=attach cfg="$cfg" | med)
		mmax=$(sel max_us sec=attach cfg="$cfg" | stats | awk '{ print $3 }')
		per="" cpu=""
		if [ "$cfg" != none ]; then
			tc=$(sel tickcpu sec=attach cfg="$cfg" | med)
			tk=$(sel ticks sec=attach cfg="$cfg" | med)
			cpu=$(sel cpu sec=attach cfg="$cfg" | med)
			if [ -n "$tc" ] && [ -n "$tk" ]; then
				per=$(fmt '%.1f' "$(calc '1e6 * c / k' c="$tc" k="$tk")")
			else
				per="$(fmt '%.1f' "$(calc '1e6 * c / k' c="$cpu" k="$((SIGLAT_SECONDS * 99))")") (est.)"
			fi
			cpu=$(fmt '%.1f' "$(calc '1000 * c / s' c="$cpu" s="$SIGLAT_SECONDS")")
		fi
		row "$label" "$(fmt '%.1f' "$m50")" "$(fmt '%.1f' "$m99")" "$(fmt '%.1f' "$mmean")" "$(fmt '%.1f' "$mmax")" \
		    "$([ "$cfg" = none ] && echo - || printf '%s/%s/%s' \
		        "$(fmt '%+.1f' "$(calc 'a - b' a="$m50" b="$n50")")" \
		        "$(fmt '%+.1f' "$(calc 'a - b' a="$m99" b="$n99")")" \
		        "$(fmt '%+.1f' "$(calc 'a - b' a="$mmean" b="$nmean")")")" \
		    "${per:--}" "${cpu:--}" >>"$tsv"
	done
	table "Attach policy: lateness of a ${SIGLAT_RATE} Hz timer signal to a busy thread (bench/siglat, ${SIGLAT_SECONDS} s), profd CPU profile at 99 Hz; medians over $REPS repetitions" "$tsv"
	note "Lateness = handler time - scheduled expiry (CLOCK_MONOTONIC). profd CPU ms/s is over the whole run (window + export) divided by the signal period of ${SIGLAT_SECONDS} s; tick CPU from profd_tick_cpu_seconds_total when /metrics has it, else (est.) = that CPU / (seconds x 99)."
}

# verdict VALUE OP LIMIT: ok / MISS / n/a
verdict()
{
	[ -n "$1" ] || { echo n/a; return; }
	awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
		ok = (op == "<=") ? (v <= l) : (v >= l); print ok ? "ok" : "MISS" }'
}

# hist_goals: per continuous-mode rate measured, the history's bytes
# against the bound it reported, and profd's peak RSS against that bound
# plus what profd holds without a history (the rss section's peak, else
# 64 MB).
hist_goals()
{
	local hz h b hwm base
	base=$(calc 'k / 1024' k="${RSS_PEAK:-}")
	base=${base:-64}
	for hz in $HIST_HZ; do
		h=$(calc 'x / 1048576' x="$(sel1 hbytes sec=hist hz="$hz")")
		b=$(calc 'x / 1048576' x="$(sel1 budget sec=hist hz="$hz")")
		hwm=$(calc 'k / 1024' k="$(sel1 hwm_kb sec=hist hz="$hz")")
		[ -n "$h" ] || continue
		row "history memory, --continuous=$hz, ${HIST_SECONDS} s" "<= $(fmt '%.0f' "$b") MB" "$(fmt '%.1f' "$h")" "$(verdict "$h" '<=' "$b")"
		row "profd peak RSS, --continuous=$hz, ${HIST_SECONDS} s" "<= $(fmt '%.0f' "$(calc 'x + y' x="$b" y="$base")") MB" \
		    "$(fmt '%.1f' "$hwm")" "$(verdict "$hwm" '<=' "$(calc 'x + y' x="$b" y="$base")")"
	done
}

report_goals()
{
	local tsv=$OUT/t_goals.tsv s99 s999 f99 f999 c99 pf99 aa p50 p99 rssmb hists mx noisy
	s99=$(slow_list 2 profd_cpu99 | med)
	s999=$(slow_list 2 profd_cpu999 | med)
	f99=$(slow_list 2 floor99 | med)
	f999=$(slow_list 2 floor999 | med)
	c99=$(slow_list 2 profd_cold99 | med)
	pf99=$(slow_list 2 perf_fp99 | med)
	aa=$(slow_list 2 aa | stats | awk '{ printf "%.3f-%.3f\n", $2, $3 }')
	hists=("$OUT"/slow/T2/rep*/profd_cpu99.stop.hist)
	mx=$(sel stopmax sec=slow T=2 cfg=profd_cpu99 | stats | awk '{ print $3 }')
	p50=$(calc '1e6 * x' x="$(clamp "$(hquantile 0.5 "${hists[@]}")" "$mx")")
	p99=$(calc '1e6 * x' x="$(clamp "$(hquantile 0.99 "${hists[@]}")" "$mx")")
	rssmb=$(calc 'k / 1024' k="${RSS_PEAK:-}")
	# a slowdown verdict means little when the machine was busy
	noisy=""
	if [ -n "${OTHERS_MAX:-}" ] && awk -v m="$OTHERS_MAX" 'BEGIN { exit !(m > 5) }'; then
		noisy=" (noisy: machine busy)"
	fi
	row "goal" "limit" "measured" "verdict" >"$tsv"
	{
		row "slowdown, profd CPU 99 Hz, 2 threads" "<= 1.01" "$(fmt '%.3f' "$s99")" "$(verdict "$s99" '<=' 1.01)$noisy"
		row "slowdown, profd CPU 999 Hz, 2 threads" "<= 1.05" "$(fmt '%.3f' "$s999")" "$(verdict "$s999" '<=' 1.05)$noisy"
		row "reference: ptrace floor 99 / 999 Hz, 2 threads (bench/floor.c)" "-" \
		    "$(fmt '%.3f' "$f99") / $(fmt '%.3f' "$f999")" "what any ptrace sampler costs here"
		row "reference: perf record -F 99 -g, 2 threads; A/A noise" "-" \
		    "$(fmt '%.3f' "$pf99"); ${aa:-n/a}" "the 99 Hz goal's other limit: within the A/A noise of this"
		row "reference: profd CPU 99 Hz, 2 threads, fresh profd" "-" \
		    "$(fmt '%.3f' "$c99")" "the first window also loads the symbols (once per profd and module)"
		row "stop time p50, CPU 99 Hz, 2 threads" "<= 30 us" "$(fmt '%.1f' "$p50")" "$(verdict "$p50" '<=' 30)"
		row "stop time p99, CPU 99 Hz, 2 threads" "<= 100 us" "$(fmt '%.1f' "$p99")" "$(verdict "$p99" '<=' 100)"
		row "tick cost, 1000 threads (998 asleep) / 10 threads" "<= 2" "$(fmt '%.2f' "${SCALE_RATIO:-}")" "$(verdict "${SCALE_RATIO:-}" '<=' 2)"
		row "hot function shares vs perf, max abs delta" "<= 3 pp" "$(fmt '%.1f' "${ACC_WORST:-}")" "$(verdict "${ACC_WORST:-}" '<=' 3)"
		row "response, warm, large binary" "<= 0.5 s" "$(fmt '%.3f' "${RESP_WARM:-}")" "$(verdict "${RESP_WARM:-}" '<=' 0.5)"
		row "response, cold, large binary" "<= 3 s" "$(fmt '%.3f' "${RESP_COLD:-}")" "$(verdict "${RESP_COLD:-}" '<=' 3)"
		row "profd peak RSS, 8 threads, ${RSS_SECONDS} s" "<= 50 MB" "$(fmt '%.1f' "$rssmb")" "$(verdict "$rssmb" '<=' 50)"
		hist_goals
	} >>"$tsv"
	table "Goals" "$tsv"
	[ "$RSS_SECONDS" -ge 600 ] || note "The RSS goal is for 10 minutes; this run profiled for ${RSS_SECONDS} s (BENCH_RSS_SECONDS=600 for the full case)."
}

machine()
{
	local cpu
	cpu=$(awk -F ': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	MACHINE_TSV=$OUT/t_machine.tsv
	row item value >"$MACHINE_TSV"
	{
		row date "$(date -u '+%Y-%m-%d %H:%M UTC')"
		row CPU "${cpu:-unknown}"
		row vCPUs "$(nproc)"
		row memory "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
		row kernel "$(uname -r) ($(uname -v | cut -c 1-40))"
		# shellcheck disable=SC1091
		row OS "$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-}")"
		row "hardware PMU" "$([ -e /sys/bus/event_source/devices/cpu ] && echo yes || echo "no (perf samples with cpu-clock)")"
		row perf "$([ "$HAVE_PERF" = 1 ] && "$PERF_BIN" --version || echo "not installed")"
		row profd "$("$PROFD" -V 2>&1 | awk 'NR == 1'), $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')"
		row "profd features" "/metrics: $([ "$HAVE_METRICS" = 1 ] && echo yes || echo no), wall: $([ "$HAVE_WALL" = 1 ] && echo yes || echo no), --attach: $([ "$HAVE_ATTACH" = 1 ] && echo yes || echo no); exits $(fmt '%.1f' "${PROFD_EXIT_S:-}") s after SIGTERM"
		row "CPU used by others, 1 s before / after the run" "${LOAD_BEFORE:-?} % / ${LOAD_AFTER:-?} % of one CPU (should be ~0)"
		row command "make bench (BENCH_REPS=$REPS BENCH_THREADS=\"$THREADS\" BENCH_RSS_SECONDS=$RSS_SECONDS${BENCH_ONLY:+ BENCH_ONLY=\"$ONLY\"})"
	} >>"$MACHINE_TSV"
}

# other_load: CPU used on this machine over 1 s, in % of one CPU (before
# and after the run: other work disturbs every number here).
other_load()
{
	local a b
	a=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
	nap 1
	b=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
	awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " ")
		busy = y[1] - x[1]; all = busy + y[2] - x[2]
		printf "%.0f\n", (all > 0) ? 100 * n * busy / all : 0 }'
}

# ---- main ------------------------------------------------------------------------------------

[ -x "$PROFD" ] || die "$PROFD: not built (make)"
[ -x "$PPROF_DUMP" ] || die "$PPROF_DUMP: not built (make tests)"
for b in work sleepers siglat stacks; do
	[ -x "$BIN/$b" ] || die "$BIN/$b: not built (make bench)"
done
command -v curl >/dev/null || die "curl: not installed"
[ "$HAVE_PERF" = 1 ] || say "bench: perf is not installed (Debian: apt-get install linux-perf): perf rows skipped"

say "bench: output in $OUT"
LOAD_BEFORE=$(other_load)
if [ "$LOAD_BEFORE" -gt 20 ]; then
	say "bench: WARNING: the machine is busy (${LOAD_BEFORE} % of a CPU used by other processes): expect noisy numbers"
fi
profd_probe
calibrate
want slowdown && section_slowdown
want accuracy && section_accuracy
want scaling && section_scaling
want response && section_response
want attach && section_attach
want rss && section_rss
want hist && section_hist
want goroutines && section_goroutines
want starve && section_starve
reap_profds 10

LOAD_AFTER=$(other_load)
ELAPSED_TOTAL=$(( $(date +%s) - START_EPOCH ))
machine
# details first (they set what the goals table reads), then the head:
# title, machine, goals
want slowdown && { report_slowdown; report_cost; report_profd; }
want accuracy && report_accuracy
want scaling && report_scaling
want response && report_response
want attach && report_attach
want rss && report_rss
want hist && report_hist
want goroutines && report_goroutines
want starve && report_starve
DETAILS_TXT=$REPORT_TXT DETAILS_MD=$REPORT_MD
REPORT_TXT=$OUT/head.txt REPORT_MD=$OUT/head.md
printf 'profd benchmark (make bench), %s, %s s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" \
    "$ELAPSED_TOTAL" >"$REPORT_TXT"
: >"$REPORT_MD"
table "Machine" "$MACHINE_TSV"
report_goals
note "Whole run: ${ELAPSED_TOTAL} s. Raw data: bench/out/$(basename "$OUT")/ (runs.kv: one line per run; one directory per run with the target's output, profd's log, the profile, /metrics before and after)."
cat "$REPORT_TXT" "$DETAILS_TXT" >"$OUT/report.txt"
{
	printf '# profd benchmark results\n\n'
	# shellcheck disable=SC2016
	printf 'Written by `make bench` (bench/bench.sh) in %s s. Compare runs over time with `git log -p bench/RESULTS.md`.\n' \
	    "$ELAPSED_TOTAL"
	cat "$REPORT_MD" "$DETAILS_MD"
} >"$RESULTS"
cp "$RESULTS" "$OUT/RESULTS.md"
cat "$OUT/report.txt"
say "bench: done in ${ELAPSED_TOTAL} s; Markdown in ${RESULTS#"$ROOT"/}"
