#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_threads - thread dumps of the blocker target (tests/targets/blocker.c:
# spinner in spin_loop; reader, epoller, sleeper, waiter blocked in read,
# epoll_wait, nanosleep, pthread_cond_wait from read_blocked,
# epoll_blocked, sleep_blocked, cond_blocked; the main thread "blocker" in
# pthread_join from main).
#   debug=2: one block per thread of /proc/PID/task, with its tid, name,
#            state, the system call it is blocked in (the same number and
#            first argument the kernel shows in /proc/PID/task/TID/syscall;
#            read's fd is the pipe, epoll_wait's the epoll fd), how long it
#            has not run, and its stack, innermost first, with its own
#            function at the right file:line;
#   debug=1: Go's count format, totals adding up, loadable by go tool pprof
#            (which symbolizes it from the memory map at the end);
#   debug=0: a threads/count profile, one sample per distinct stack;
#   /debug/pprof/goroutine: the same as goroutine/count and "goroutine
#            profile: total N";
# and none of it wakes the blocked threads often: the EINTR counters rise
# by 5 at most over all the dumps.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blocker_lib.sh"
t_begin threads
need_pprof_dump
need_go

SRC=$TARGET_SRC/blocker.c
CNT=$TEST_DIR/counters
NTHREADS=6
declare -A FN=([spinner]=spin_loop [reader]=read_blocked [epoller]=epoll_blocked
    [sleeper]=sleep_blocked [waiter]=cond_blocked [blocker]=main)
# system calls the blocked threads may be reported in (x86-64 names)
declare -A SYSCALLS=([reader]='read' [epoller]='epoll_wait|epoll_pwait|epoll_pwait2'
    [sleeper]='nanosleep|clock_nanosleep' [waiter]='futex' [blocker]='futex')
# the x86-64 numbers of those, for /proc/PID/task/TID/syscall
declare -A NR=([0]=read [35]=nanosleep [202]=futex [219]=restart_syscall
    [230]=clock_nanosleep [232]=epoll_wait [281]=epoll_pwait [441]=epoll_pwait2)

# now: seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }

t_launch=$(now)
start_target blocker "$CNT" 120
t_ready=$(now)
start_profd

# kernel_syscalls: "TID NR ARG0" per thread from /proc/PID/task/TID/syscall
# (ARG0 in decimal; "TID running" for a thread on a CPU).  Reading it does
# not wake the thread.
kernel_syscalls()
{
	local t nr a0 rest
	for t in /proc/"$TARGET_PID"/task/*; do
		read -r nr a0 rest <"$t/syscall" || continue
		case $nr in
		running | -1) printf '%s running\n' "${t##*/}" ;;
		*) printf '%s %s %s\n' "${t##*/}" "$nr" "$((a0))" ;;
		esac
	done | LC_ALL=C sort
}

mapfile -t TIDS < <(for t in /proc/"$TARGET_PID"/task/*; do echo "${t##*/}"; done | sort -n)
[ "${#TIDS[@]}" = "$NTHREADS" ] || fail "target has ${#TIDS[@]} threads, want $NTHREADS"
declare -A NAME
for tid in "${TIDS[@]}"; do
	read -r name <"/proc/$TARGET_PID/task/$tid/comm"
	NAME[$tid]=$name
done
c0=$(counters)
[ "$c0" = "0 0 0 0" ] || fail "EINTR counters of an undisturbed target: $c0, want 0 0 0 0"
sched_snapshot >"$TEST_DIR/sched0"
ok "target threads: $(for t in "${TIDS[@]}"; do printf '%s=%s ' "$t" "${NAME[$t]}"; done)"

# ---- debug=2 --------------------------------------------------------------------
# First, on threads nobody has stopped yet, and once they have been asleep
# for at least MIN_AGE seconds (they blocked before "ready"): a wait for a
# condition, polled.
MIN_AGE=0.5
while awk -v a="$(now)" -v b="$t_ready" -v m="$MIN_AGE" 'BEGIN { exit !(a - b < m) }'; do
	sleep 0.05
done
kernel_syscalls >"$TEST_DIR/sys0"
t_req=$(now)
D2=$TEST_DIR/threads2.txt
fetch_text "$BASE/debug/pprof/threads?debug=2" "$D2"
t_done=$(now)
kernel_syscalls >"$TEST_DIR/sys1"
say "debug=2 dump (asleep for $(awk -v a="$t_req" -v b="$t_ready" 'BEGIN { printf "%.2f", a - b }') s at the request):"
sed 's/^/  /' "$D2"

# Parse it: THR lines "TID NAME STATE SYSCALL ARG0 SECONDS" ("-" when
# absent), FRM lines "TID INDEX FUNC INLINE FILE:LINE".  Anything that is not
# a header, a frame or the blank line after a block fails.
THR=$TEST_DIR/threads2.thr
FRM=$TEST_DIR/threads2.frm
: >"$THR"
: >"$FRM"
re_head='^thread ([0-9]+) "([^"]*)" \[([a-z]+)(.*)\]:$'
re_sys=', syscall ([a-z0-9_]+)\((-?[0-9]+)[^)]*\)'
re_dur=', ([0-9]+(\.[0-9]+)?)s(,|$)'
re_frame=$'^\t0x([0-9a-f]+) (.+) ([^ ]+)$'
cur="" idx=0 lineno=0
while IFS= read -r line; do
	lineno=$((lineno + 1))
	if [[ $line =~ $re_head ]]; then
		[ -z "$cur" ] || fail "debug=2 line $lineno: header without a blank line before it: $line"
		cur=${BASH_REMATCH[1]}
		name=${BASH_REMATCH[2]} state=${BASH_REMATCH[3]} rest=${BASH_REMATCH[4]}
		sys=- arg0=- dur=-
		if [[ $rest =~ $re_sys ]]; then
			sys=${BASH_REMATCH[1]} arg0=${BASH_REMATCH[2]}
		fi
		if [[ $rest =~ $re_dur ]]; then
			dur=${BASH_REMATCH[1]}
		fi
		printf '%s %s %s %s %s %s\n' "$cur" "$name" "$state" "$sys" "$arg0" "$dur" >>"$THR"
		idx=0
	elif [[ $line =~ $re_frame ]]; then
		[ -n "$cur" ] || fail "debug=2 line $lineno: frame outside a thread block: $line"
		fn=${BASH_REMATCH[2]} inl=-
		if [[ $fn == *" (inline)" ]]; then
			fn=${fn% (inline)} inl=inline
		fi
		printf '%s %s %s %s %s\n' "$cur" "$idx" "${fn// /_}" "$inl" "${BASH_REMATCH[3]}" >>"$FRM"
		idx=$((idx + 1))
	elif [ -z "$line" ]; then
		[ -n "$cur" ] || fail "debug=2 line $lineno: blank line outside a thread block"
		[ "$idx" -gt 0 ] || fail "debug=2 line $lineno: thread $cur has no frames"
		cur=""
	else
		fail "debug=2 line $lineno: neither a thread header, a frame nor a blank line: '$line'"
	fi
done <"$D2"
[ -z "$cur" ] || [ "$idx" -gt 0 ] || fail "debug=2: last thread $cur has no frames"

# Every thread exactly once, with its name.
got=$(awk '{ print $1 }' "$THR" | sort -n | tr '\n' ' ')
[ "$got" = "$(printf '%s ' "${TIDS[@]}")" ] ||
    fail "debug=2 lists tids '$got', the target has '$(printf '%s ' "${TIDS[@]}")'"
while read -r tid name state sys arg0 dur; do
	[ "$name" = "${NAME[$tid]}" ] || fail "debug=2: thread $tid is \"$name\", its comm is \"${NAME[$tid]}\""
done <"$THR"
ok "debug=2 lists each of the $NTHREADS threads once, by tid and name"

# thr_field TID COLUMN
thr_field() { awk -v t="$1" -v c="$2" '$1 == t { print $c }' "$THR"; }

for tid in "${TIDS[@]}"; do
	th=${NAME[$tid]}
	fn=${FN[$th]}
	state=$(thr_field "$tid" 3)
	sys=$(thr_field "$tid" 4)
	arg0=$(thr_field "$tid" 5)
	dur=$(thr_field "$tid" 6)
	# its own function, at a line inside it in blocker.c, and not as the
	# innermost frame for a blocked thread (the libc wrapper is)
	read -r fidx floc <<<"$(awk -v t="$tid" -v f="$fn" '$1 == t && $3 == f { print $2, $5; exit }' "$FRM")"
	[ -n "$fidx" ] || fail "debug=2: thread $tid \"$th\": no $fn frame: $(awk -v t="$tid" '$1 == t { printf "%s ", $3 }' "$FRM")"
	read -r lo hi <<<"$(func_lines "$SRC" "$fn")"
	fline=${floc##*:}
	# the file as the build named it, absolute, as profiles name it
	case $floc in
	"$SRC:"*) ;;
	*) fail "debug=2: thread $th: $fn at $floc, want $SRC:$lo-$hi" ;;
	esac
	if [ "$fline" -lt "$lo" ] || [ "$fline" -gt "$hi" ]; then
		fail "debug=2: thread $th: $fn at $floc, want blocker.c:$lo-$hi"
	fi
	if [ "$th" = spinner ]; then
		[ "$state" = running ] || fail "debug=2: spinner state '$state', want running"
		[ "$fidx" = 0 ] || fail "debug=2: spinner's innermost frame is not spin_loop but $(awk -v t="$tid" '$1 == t && $2 == 0 { print $3 }' "$FRM")"
		[ "$sys" = - ] || fail "debug=2: the spinner is not in a system call, but profd says $sys"
		ok "debug=2: thread $tid \"spinner\" [running], innermost frame spin_loop at $floc"
		continue
	fi
	[ "$state" = sleeping ] || fail "debug=2: thread $th state '$state', want sleeping"
	[ "$fidx" -gt 0 ] || fail "debug=2: thread $th: $fn is the innermost frame, want the libc wrapper below it"
	# the system call: one of those expected, and what the kernel says if
	# it said the same before and after the request
	[[ $sys =~ ^(${SYSCALLS[$th]})$ ]] ||
	    { [ "$th" = sleeper ] && [ "$sys" = restart_syscall ]; } ||
	    fail "debug=2: thread $th in syscall '$sys', want ${SYSCALLS[$th]}"
	k0=$(awk -v t="$tid" '$1 == t { print $2, $3 }' "$TEST_DIR/sys0")
	k1=$(awk -v t="$tid" '$1 == t { print $2, $3 }' "$TEST_DIR/sys1")
	if [ "$k0" = "$k1" ] && [ "$k0" != running ]; then
		read -r knr ka0 <<<"$k0"
		[ "$sys" = "${NR[$knr]:-nr$knr}" ] ||
		    fail "debug=2: thread $th in syscall $sys, the kernel says $knr (${NR[$knr]:-?})"
		[ "$arg0" = "$ka0" ] ||
		    fail "debug=2: thread $th: $sys($arg0, ...), the kernel says first argument $ka0"
	else
		say "thread $th: /proc/$TARGET_PID/task/$tid/syscall changed during the request ($k0 -> $k1), not compared"
	fi
	case $th in
	reader)
		link=$(readlink "/proc/$TARGET_PID/fd/$arg0" || true)
		flags=$(awk '$1 == "flags:" { print $2 }' "/proc/$TARGET_PID/fdinfo/$arg0" 2>/dev/null || true)
		if [[ $link != pipe:* ]] || [ $((8#${flags:-1} & 3)) != 0 ]; then
			fail "debug=2: reader in read($arg0, ...), but fd $arg0 is '$link' flags '$flags', not a pipe's read end"
		fi
		;;
	epoller)
		link=$(readlink "/proc/$TARGET_PID/fd/$arg0" || true)
		[ "$link" = "anon_inode:[eventpoll]" ] ||
		    fail "debug=2: epoller in $sys($arg0, ...), but fd $arg0 is '$link', not an epoll fd"
		;;
	esac
	# How long it has not run: it blocked between the target's launch and
	# its "ready" line, and nothing woke it since, so at least since
	# t_ready and at most since t_launch (+-0.15 s: one decimal, clocks).
	if [ "$dur" = - ] && [ ! -r "/proc/$TARGET_PID/task/$tid/sched" ]; then
		# no CONFIG_SCHED_DEBUG: a fresh profd cannot know how long
		say "debug=2: thread $th: no duration (no /proc/PID/task/TID/sched here)"
		ok "debug=2: thread $tid \"$th\" [$state, syscall $sys($arg0, ...)], $fn at $floc (frame $fidx)"
		continue
	fi
	[ "$dur" != - ] || fail "debug=2: thread $th: no ', N.Ns' duration in its header"
	expect_range "debug=2: thread $th asleep for (s; blocked between $(awk -v a="$t_req" -v b="$t_launch" 'BEGIN { printf "%.2f", a - b }') and $(awk -v a="$t_req" -v b="$t_ready" 'BEGIN { printf "%.2f", a - b }') s before the request)" \
	    "$dur" "$(awk -v a="$t_req" -v b="$t_ready" 'BEGIN { d = a - b - 0.15; printf "%.2f", (d > 0.1 ? d : 0.1) }')" \
	    "$(awk -v a="$t_done" -v b="$t_launch" 'BEGIN { printf "%.2f", a - b + 0.15 }')"
	ok "debug=2: thread $tid \"$th\" [$state, syscall $sys($arg0, ...), ${dur}s], $fn at $floc (frame $fidx)"
done
ninl=$(awk '$4 == "inline"' "$FRM" | wc -l)
say "debug=2: $(wc -l <"$FRM") frames, $ninl of them inline"

# ---- debug=1 --------------------------------------------------------------------
# check_count_text FILE HEADER_NAME: Go's count format with a memory map.
check_count_text()
{
	local f=$1 what=$2 total sum nbad msg
	total=$(sed -n "1s/^$what profile: total \\([0-9][0-9]*\\)\$/\\1/p" "$f")
	[ -n "$total" ] || fail "$f: first line '$(head -n 1 "$f")', want '$what profile: total N'"
	[ "$total" = "$NTHREADS" ] || fail "$f: total $total, the target has $NTHREADS threads"
	# groups: "N @ 0x.. 0x..", then a "#" line per frame (an address has
	# one or more, inline frames share its PC), then a blank line; then
	# the memory map
	read -r sum nbad msg <<<"$(awk '
		function endgroup() {
			if (ingroup && runs != naddr) {
				bad++
				if (!msg) msg = "group at line " gline ": " naddr " addresses, " runs " distinct # PCs"
			}
			ingroup = 0
		}
		NR == 1 { next }
		/^--- Memory map: ---$/ { endgroup(); inmap = 1; next }
		inmap { next }
		/^[0-9]+ @( 0x[0-9a-f]+)+$/ {
			if (ingroup || (prev != "" && NR > 2)) { bad++; if (!msg) msg = "no blank line before line " NR }
			ingroup = 1; gline = NR; naddr = NF - 2; runs = 0; lastpc = ""
			sum += $1; prev = $0; next
		}
		/^#[ \t]+0x[0-9a-f]+/ {
			if (!ingroup) { bad++; if (!msg) msg = "# line outside a group: " NR }
			split($0, w, /[ \t]+/)
			if (w[2] != lastpc) { runs++; lastpc = w[2] }
			prev = $0; next
		}
		/^$/ { endgroup(); prev = ""; next }
		{ bad++; if (!msg) msg = "unexpected line " NR ": " $0 }
		END { endgroup(); if (!inmap) { bad++; if (!msg) msg = "no --- Memory map: --- section" }
		      printf "%d %d %s\n", sum, bad, msg }' "$f")"
	[ "$nbad" = 0 ] || fail "$f: malformed count text ($nbad problems), first: $msg"
	[ "$sum" = "$total" ] || fail "$f: group counts add up to $sum, header says total $total"
	ok "$f: '$what profile: total $total', group counts add up to $sum, one # PC per address, memory map present"
}
D1=$TEST_DIR/threads1.txt
fetch_text "$BASE/debug/pprof/threads?debug=1" "$D1"
sed 's/^/  /' "$D1" | first_lines 60
check_count_text "$D1" threads
for fn in spin_loop read_blocked epoll_blocked sleep_blocked cond_blocked main; do
	l=$(grep -E "^#[[:space:]]+0x[0-9a-f]+[[:space:]]+$fn\\+0x[0-9a-f]+[[:space:]]+[^[:space:]]*blocker\\.c:[0-9]+\$" "$D1" | first_line) ||
	    fail "debug=1: no '#  0xPC  $fn+0xOFF  .../blocker.c:LINE' line"
	f=$(awk '{ f = $NF; sub(/:[0-9]+$/, "", f); print f }' <<<"$l")
	[ "$f" = "$SRC" ] || fail "debug=1: $fn in $f, want $SRC (as the build named it)"
done
ok "debug=1: a # line with FUNC+0xOFF and $SRC:LINE for each thread's function"
exe=$(realpath "$TARGET_DIR/blocker")
sed -n '/^--- Memory map: ---$/,$p' "$D1" | grep -E "^[0-9a-f]+-[0-9a-f]+ r-xp [0-9a-f]+ [0-9a-f]+:[0-9a-f]+ [0-9]+ +$exe\$" >/dev/null ||
    fail "debug=1: the memory map has no r-xp line for $exe"
ok "debug=1: memory map has the executable mapping of $exe"

# go tool pprof reads the text; it symbolizes from the binaries the memory
# map names (as the only source of names: the # lines are comments to it).
pprof -raw "$D1" >"$D1.raw" 2>"$D1.raw.err" || fail "go tool pprof -raw on the debug=1 text failed: $(cat "$D1.raw.err")"
grep -q '^PeriodType: threads count' "$D1.raw" ||
    fail "go tool pprof -raw: no 'PeriodType: threads count' line: $(head -n 5 "$D1.raw")"
pprof -top -nodecount=200 "$D1" >"$D1.top" 2>"$D1.top.err" ||
    fail "go tool pprof -top on the debug=1 text failed: $(cat "$D1.top.err")"
sed 's/^/  /' "$D1.top" | first_lines 20
for fn in spin_loop read_blocked epoll_blocked sleep_blocked cond_blocked main; do
	cum=$(awk -v f="$fn" 'NF == 6 && $6 == f { c = $5; sub(/%$/, "", c); print c; exit }' "$D1.top")
	expect_range "go tool pprof -top on debug=1: $fn cum (%, one thread of $NTHREADS: 16.67)" "${cum:-0}" 16 17.5
done

# ---- debug=0 --------------------------------------------------------------------
# check_count_profile FILE TYPE: TYPE/count, one sample per distinct stack,
# counts adding up to the thread count, no labels.
check_count_profile()
{
	local f=$1 type=$2 s=$1.summary types fl
	types=$(grep '^sample_type ' "$s" | tr '\n' ' ')
	[ "$types" = "sample_type $type/count " ] || fail "$f: sample types '$types', want $type/count"
	[ "$(summary_get "$s" period_type)" = "$type/count" ] ||
	    fail "$f: period_type $(summary_get "$s" period_type), want $type/count"
	[ "$(summary_get "$s" period)" = 1 ] || fail "$f: period $(summary_get "$s" period), want 1"
	[ "$(summary_get "$s" 'total[0]')" = "$NTHREADS" ] ||
	    fail "$f: total[0] $(summary_get "$s" 'total[0]'), the target has $NTHREADS threads"
	fl=$f.folded
	pdump folded "$f" >"$fl" || fail "pprof-dump folded $f failed"
	for fn in spin_loop read_blocked epoll_blocked sleep_blocked cond_blocked main; do
		[ "$(fold_sum "$fl" "$fn")" = 1 ] || fail "$f: $fn in $(fold_sum "$fl" "$fn") threads, want 1"
	done
	[ "$(summary_get "$s" samples)" = "$(wc -l <"$fl")" ] ||
	    fail "$f: $(summary_get "$s" samples) samples for $(wc -l <"$fl") distinct stacks"
	pdump labels "$f" >"$f.labels" || fail "pprof-dump labels $f failed"
	! grep -qv '^value=[0-9]*$' "$f.labels" || fail "$f: samples with labels: $(grep -v '^value=' "$f.labels" | first_lines 2)"
	ok "$f: $type/count, period 1, $NTHREADS threads in $(wc -l <"$fl") distinct stacks, each function in 1, no labels"
}
D0=$TEST_DIR/threads0.pb.gz
fetch_profile "$BASE/debug/pprof/threads?debug=0" "$D0"
check_count_profile "$D0" threads
TB=$TEST_DIR/threads0.top
pprof_table "$D0" >"$TB" || fail "go tool pprof -top on debug=0 failed"
for fn in spin_loop read_blocked epoll_blocked sleep_blocked cond_blocked; do
	expect_range "go tool pprof -top on debug=0: $fn cum (%)" "$(table_get "$TB" "$fn" 2)" 16 17.5
done
DD=$TEST_DIR/threads-default.pb.gz
fetch_profile "$BASE/debug/pprof/threads" "$DD"
check_count_profile "$DD" threads

# ---- the /goroutine alias and the /pid/PID/ prefix --------------------------------
G0=$TEST_DIR/goroutine0.pb.gz
fetch_profile "$BASE/debug/pprof/goroutine?debug=0" "$G0"
check_count_profile "$G0" goroutine
G1=$TEST_DIR/goroutine1.txt
fetch_text "$BASE/debug/pprof/goroutine?debug=1" "$G1"
check_count_text "$G1" goroutine
P1=$TEST_DIR/pid-threads1.txt
fetch_text "$BASE/pid/$TARGET_PID/debug/pprof/threads?debug=1" "$P1"
check_count_text "$P1" threads

# ---- the target was left alone --------------------------------------------------
c1=$(counters)
sched_snapshot >"$TEST_DIR/sched1"
rise=$(counters_rise "$c0" "$c1")
say "EINTR counters (reader epoller sleeper waiter) over 7 dumps: $c0 -> $c1 (+$rise);" \
    "times each sleeping thread got a CPU: $(LC_ALL=C join "$TEST_DIR/sched0" "$TEST_DIR/sched1" |
	awk '$1 != "spinner" { printf "%s %d ", $1, $3 - $2 }')"
expect_range "EINTR counters' rise over all the dumps" "$rise" 0 5
wait_untraced 5 || fail "profd still attached 5 s after the dumps"
assert_target_ok
stop_profd
assert_target_ok
say "PASS threads"
