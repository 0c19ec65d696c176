#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_go_gcstacks - whole Go stacks (issue 14, item 1): CPU samples taken
# while a thread runs on its system stack (g0: GC assists, write barrier
# buffer flushes, the background mark workers' gcDrain, all entered
# through runtime.systemstack; stack growth through runtime.morestack)
# continue into the goroutine's own frames, as Go's own CPU profile shows
# them, instead of ending in "[truncated]".
#
# tests/targets/gor -gc runs main.churn, a GC-heavy loop, and on SIGUSR1
# records its own CPU profile with runtime/pprof for SECS seconds: the
# reference, taken over the same seconds as profd's CPU profile of it (the
# signal is sent once profd's window is open). Go's profile has every
# sample under main.churn or runtime.gcBgMarkWorker (the functions of go
# statements) and none cut short. Of profd's profile, for gor (DWARF) and
# gor-stripped (-s -w), by pprof-dump and by go tool pprof:
#   - the samples with a "[truncated]" frame or whose outermost frame is
#     runtime.systemstack, runtime.mcall or runtime.morestack (where an
#     unwind that does not switch back to the goroutine stops) have 5 % of
#     the CPU time at most;
#   - main.churn's share of the CPU time is Go's share within four
#     standard deviations of the difference of the two samplings (for
#     their sample counts), and never less than 5 points;
#   - /metrics reports profd_truncated_stacks_total, and its rise over the
#     window is 5 % of the samples' rise at most; profd_go_stacks_crossed_total
#     (stops of a Go thread on its system stack that went on into its
#     goroutine's stack) rose.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/go_lib.sh"
t_begin go_gcstacks
need_pprof_dump
need_go

SECS=${GC_SECS:-5}
HZ=${GC_HZ:-250}
# frames where an unwind of the system stack ends if it does not go on to
# the goroutine's stack (Go's own traceback goes on, through g.m.curg)
G0_ROOTS='runtime.systemstack runtime.mcall runtime.morestack'

# shares FOLDED: "ALL CUT CHURN BGWORK": CPU time (pprof-dump folded:
# the last sample type, cpu/nanoseconds, in both profiles: profd's counts
# a thread once per tick it ran, however briefly, Go's per 10 ms of CPU),
# that of the samples with a [truncated] frame or rooted at one of
# G0_ROOTS, under main.churn and under runtime.gcBgMarkWorker.
shares()
{
	awk -v roots=" $G0_ROOTS " '{
		v = $NF
		s = ";" substr($0, 1, length($0) - length($NF) - 1) ";"
		all += v
		root = substr(s, 2); sub(/;.*/, "", root)
		if (index(s, ";[truncated];") || index(roots, " " root " "))
			cut += v
		if (index(s, ";main.churn;"))
			churn += v
		if (index(s, ";runtime.gcBgMarkWorker;"))
			bg += v
	} END { printf "%.0f %.0f %.0f %.0f\n", all, cut, churn, bg }' "$1"
}

# churn_cum PROFILE: main.churn's cum% of CPU time by go tool pprof -top.
churn_cum()
{
	pprof_table "$1" -sample_index=cpu >"$1.top" ||
	    fail "go tool pprof -top $1 failed"
	table_get "$1.top" main.churn 2
}

# check_variant VARIANT: the test on build/targets/VARIANT.
check_variant()
{
	local variant=$1 P G F GF t0 t1 s0 s1 x0 x1 dt ds
	local all cut churn bg gall gcut gchurn gbg n gn pp pg tol cp cg
	say "---- $variant"
	P=$TEST_DIR/$variant.profd.pb.gz
	G=$TEST_DIR/$variant.go.pb.gz
	start_target "$variant" -gc -cpuprofile "$G" -seconds "$SECS" -alarm 120
	start_profd
	t0=$(metric_get profd_truncated_stacks_total)
	s0=$(metric_get profd_samples_total)
	x0=$(metric_get profd_go_stacks_crossed_total)
	if [ -z "$t0" ] || [ -z "$s0" ]; then
		fail "/metrics has no profd_truncated_stacks_total or profd_samples_total for pid $TARGET_PID"
	fi

	# profd's window first, then Go's profile inside it: the same seconds
	bg_fetch "${P##*/}" "$BASE/debug/pprof/profile?seconds=$SECS&hz=$HZ" $((SECS + 60))
	wait_window_open 1 || fail "profd's window did not open"
	kill -USR1 "$TARGET_PID"
	wait_for_line "$TARGET_OUT" '^cpuprofile started$' 10 "$TARGET_PID" ||
	    fail "gor did not start its own CPU profile: $(cat "$TARGET_OUT.err")"
	bg_wait "$BG_PID" "${P##*/}"
	expect_profile "profd's CPU profile of $variant" "$P" "$BG_CODE"
	wait_for_line "$TARGET_OUT" '^cpuprofile done$' $((SECS + 20)) "$TARGET_PID" ||
	    fail "gor did not finish its own CPU profile: $(cat "$TARGET_OUT.err")"
	pdump summary "$G" >"$G.summary" || fail "pprof-dump cannot decode Go's own profile"
	t1=$(metric_get profd_truncated_stacks_total)
	s1=$(metric_get profd_samples_total)
	x1=$(metric_get profd_go_stacks_crossed_total)

	F=$P.folded
	GF=$G.folded
	pdump folded "$P" >"$F" || fail "pprof-dump folded $P failed"
	pdump folded "$G" >"$GF" || fail "pprof-dump folded $G failed"
	read -r all cut churn bg <<<"$(shares "$F")"
	read -r gall gcut gchurn gbg <<<"$(shares "$GF")"
	n=$(summary_get "$P.summary" 'total[0]')
	gn=$(summary_get "$G.summary" 'total[0]')
	[ "$gn" -gt 0 ] || fail "Go's own profile has no samples"
	[ "$n" -gt 0 ] || fail "profd's profile has no samples"
	if [ "$gall" -le 0 ] || [ "$all" -le 0 ]; then
		fail "a profile with samples but no CPU time"
	fi
	say "Go's own profile: $gn samples: main.churn $(pct "$gchurn" "$gall") % of the CPU time, runtime.gcBgMarkWorker $(pct "$gbg" "$gall") %, cut short $(pct "$gcut" "$gall") %"
	say "profd's profile:  $n samples: main.churn $(pct "$churn" "$all") % of the CPU time, runtime.gcBgMarkWorker $(pct "$bg" "$all") %, cut short $(pct "$cut" "$all") %"
	say "profd's top stacks (pprof-dump folded, CPU ns):"
	awk '{ print $NF "\t" $0 }' "$F" | sort -t "$(printf '\t')" -k 1,1nr |
	    first_lines 8 | cut -f 2- | cut -c 1-300 | sed 's/^/  /'
	# the reference must be what the test says it is: Go's own profile
	# attributes (almost) all of the CPU to the go statements' functions
	# (the rest: the scheduler, rooted at runtime.mcall, and the sweeper)
	expect_range "Go's own profile: samples under main.churn or runtime.gcBgMarkWorker (%)" \
	    "$(pct "$((gchurn + gbg))" "$gall")" 90 100

	expect_range "profd: CPU time in samples with [truncated] or rooted at ${G0_ROOTS// /, } (%; Go's own: $(pct "$gcut" "$gall"))" \
	    "$(pct "$cut" "$all")" 0 5

	# the two shares differ by both samplings' noise
	pp=$(pct "$churn" "$all")
	pg=$(pct "$gchurn" "$gall")
	tol=$(awk -v p="$pg" -v n1="$n" -v n2="$gn" 'BEGIN {
		p /= 100; s = 400 * sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
		printf "%.1f", (s > 5 ? s : 5) }')
	expect_range "main.churn's share, profd minus Go's own (points; profd $pp % of $n, Go $pg % of $gn)" \
	    "$(awk -v a="$pp" -v b="$pg" 'BEGIN { printf "%.2f", a - b }')" "-$tol" "$tol"

	# the same through go tool pprof
	cp=$(churn_cum "$P")
	cg=$(churn_cum "$G")
	expect_range "go tool pprof -top: main.churn cum %, profd minus Go's own (profd $cp, Go $cg)" \
	    "$(awk -v a="$cp" -v b="$cg" 'BEGIN { printf "%.2f", a - b }')" "-$tol" "$tol"
	expect_range "main.churn cum %: go tool pprof minus pprof-dump on profd's profile" \
	    "$(awk -v a="$cp" -v b="$pp" 'BEGIN { printf "%.2f", a - b }')" -0.6 0.6

	# /metrics: the truncation counter, consistent with the profile
	if [ -z "$t1" ] || [ -z "$s1" ]; then
		fail "/metrics lost profd_truncated_stacks_total or profd_samples_total"
	fi
	dt=$((t1 - t0))
	ds=$((s1 - s0))
	[ "$ds" -gt 0 ] || fail "profd_samples_total did not rise over the window ($s0 -> $s1)"
	expect_range "/metrics: profd_truncated_stacks_total's rise over the window, % of profd_samples_total's ($dt of $ds)" \
	    "$(pct "$dt" "$ds")" 0 5
	[ -n "$x1" ] || fail "/metrics has no profd_go_stacks_crossed_total for pid $TARGET_PID"
	[ "$((x1 - ${x0:-0}))" -gt 0 ] ||
	    fail "/metrics: profd_go_stacks_crossed_total did not rise over the window (${x0:-0} -> $x1)"
	ok "/metrics: profd_go_stacks_crossed_total rose by $((x1 - ${x0:-0})) over the window"

	gor_end
}

check_variant gor
check_variant gor-stripped
say "PASS go_gcstacks"
