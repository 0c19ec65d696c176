#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# t_metrics - /metrics passes `promtool check metrics` and says exactly
# what the man page and README say it does.  profd serves a spin target
# as a --match service with --continuous and a --trigger, so that every
# family can appear; then it runs a CPU window, a wall window and answers
# a bad request, so that every family has samples.
#   1. promtool check metrics prints nothing and exits 0.
#   2. Every family /metrics has (its # TYPE lines) is listed in the man
#      page's /metrics section and in README's Metrics tables, and every
#      family they list is on /metrics (the cgroup ones only where the
#      target is in a memory cgroup, the limit only under a limit).
#   3. The new series count what happened: profd_http_requests_total by
#      handler and code (the two windows, the 400), profd_build_info,
#      profd_sessions_open while a window runs, profd_samples_lost_total
#      equal to the sum of the windows' "N lost".
#   4. seconds=0 means 30 s: a window asked with seconds=0 and cancelled
#      by its client is logged as a window of 30 s.
#   5. format=: anything but pprof and folded (t_folded) is a 400 on every
#      profile endpoint.
#   6. With two targets, promtool is still silent: each family once, with
#      a series per target.
. "$(dirname "$0")/lib.sh"
t_begin metrics
need_pprof_dump
command -v promtool >/dev/null ||
    fail "promtool: not installed (scripts/deps.sh installs prometheus)"

BIN=$TEST_DIR/bin
mkdir -p "$BIN"
NAME=met$$
cp "$TARGET_DIR/spin" "$BIN/$NAME"
start_target_cmd "$NAME" "$BIN/$NAME" 120
start_profd_re "$LOOPBACK_RE" --listen 127.0.0.1:0 --continuous=99 \
    --output-dir "$TEST_DIR/out" --trigger 'rss>=64GiB' --match "^$NAME\$"
SVC=$BASE/service/$NAME
wait_service "$NAME" 's and s["up"]' True
M=$TEST_DIR/metrics

# A window open now shows in profd_sessions_open{kind="wall"}; it is
# fetched (and answered) with the others below.
bg_fetch wall "$SVC/debug/pprof/wall?seconds=2"
WALL_PID=$BG_PID
wait_window_open 1 || fail "the wall window did not start"
curl -sS --max-time 10 "$BASE/metrics" >"$M.0" || fail "GET /metrics failed"
grep -qx 'profd_sessions_open{kind="wall"} 1' "$M.0" ||
    fail "profd_sessions_open with a wall window open: $(grep '^profd_sessions_open' "$M.0" | tr '\n' ' ')"
ok "a wall window open: profd_sessions_open{kind=\"wall\"} 1"

fetch_profile "$SVC/debug/pprof/profile?seconds=1" "$TEST_DIR/cpu.pb.gz"
bg_wait "$WALL_PID" wall
expect_profile "wall window" "$TEST_DIR/wall" "$BG_CODE"
expect_error "$SVC/debug/pprof/profile?seconds=-1" 400

# ---- 1. promtool ---------------------------------------------------------------
curl -sS --max-time 10 "$BASE/metrics" >"$M" || fail "GET /metrics failed"
out=$(promtool check metrics <"$M" 2>&1) && rc=0 || rc=$?
if [ "$rc" != 0 ] || [ -n "$out" ]; then
	fail "promtool check metrics: exit $rc: $(printf '%s' "$out" | first_lines 10)"
fi
ok "promtool check metrics: silent, exit 0 ($(grep -c '^# TYPE' "$M") families)"

# ---- 2. the families, both ways ------------------------------------------------
awk '$1 == "#" && $2 == "TYPE" { print $3 }' "$M" | sort -u >"$TEST_DIR/fam.emitted"
awk '/^\.It Li GET \/metrics/ { on = 1; next } on && /^\.It Li GET / { exit }
    on && /^\.Ss / { exit } on && /^\.It Li profd_/ { print $3 }' \
    "$E2E_ROOT/man/profd.8" | sort -u >"$TEST_DIR/fam.man"
# shellcheck disable=SC2016  # the backquotes are README's
sed -n '/^### Metrics/,/^## /p' "$E2E_ROOT/README.md" |
    sed -nE 's/^\| `(profd_[a-z_]+)` \|.*/\1/p' | sort -u >"$TEST_DIR/fam.readme"
[ "$(wc -l <"$TEST_DIR/fam.man")" -ge 40 ] ||
    fail "only $(wc -l <"$TEST_DIR/fam.man") families found in the man page"
# families that depend on the machine: the target's memory cgroup; and
# those of Go targets only (t_go_mem checks them)
maybe="profd_target_cgroup_memory_usage_bytes profd_target_cgroup_memory_limit_bytes
profd_go_heap_alloc_bytes profd_go_heap_objects profd_go_heap_inuse_bytes
profd_go_next_gc_bytes profd_go_gc_cycles_total profd_go_gogc_percent
profd_go_memory_limit_bytes"
maybe=${maybe//$'\n'/ }
for where in man readme; do
	extra=$(comm -23 "$TEST_DIR/fam.emitted" "$TEST_DIR/fam.$where")
	[ -z "$extra" ] || fail "on /metrics but not in the $where: ${extra//$'\n'/ }"
	missing=$(comm -13 "$TEST_DIR/fam.emitted" "$TEST_DIR/fam.$where")
	for f in $missing; do
		case " $maybe " in
		*" $f "*) say "($f absent: no memory cgroup limit here, or not a Go target)" ;;
		*) fail "in the $where but not on /metrics: $f" ;;
		esac
	done
done
cmp -s "$TEST_DIR/fam.man" "$TEST_DIR/fam.readme" ||
    fail "the man page and README list different families: $(diff "$TEST_DIR/fam.man" "$TEST_DIR/fam.readme" | tr '\n' ' ')"
ok "the $(wc -l <"$TEST_DIR/fam.emitted") families on /metrics are those of the man page and README"

# ---- 3. what the new series count ----------------------------------------------
series() { awk -v l="$1" '$1 == l { print $2 }' "$M"; }
for s in 'profd_http_requests_total{handler="profile",code="200"} 1' \
    'profd_http_requests_total{handler="wall",code="200"} 1' \
    'profd_http_requests_total{handler="profile",code="400"} 1' \
    "profd_build_info{version=\"$(cat "$E2E_ROOT/VERSION")\"} 1" \
    'profd_sessions_open{kind="wall"} 0'; do
	[ "$(series "${s% *}")" = "${s##* }" ] ||
	    fail "/metrics: ${s% *} is '$(series "${s% *}")', want ${s##* }"
done
ok "http requests by handler and code, build info, sessions by kind"
lost=0
for p in "$TEST_DIR/cpu.pb.gz" "$TEST_DIR/wall"; do
	n=$(comment_count "$p.summary" lost)
	[ -n "$n" ] || fail "no 'N lost' in the comment of $p"
	lost=$((lost + n))
done
tp=$(pgrep -xn "$NAME") || fail "the target is gone"
for s in profd_samples_lost_total "profd_errors_total{pid=\"$tp\",kind=\"lost\"}"; do
	[ "${s#*\{}" != "$s" ] || s="$s{pid=\"$tp\"}"
	[ "$(series "$s")" = "$lost" ] ||
	    fail "/metrics: $s is '$(series "$s")', want $lost (the windows' N lost)"
done
ok "profd_samples_lost_total = the windows' N lost = $lost"

# ---- 4. seconds=0 --------------------------------------------------------------
n0=$(grep -c 'window cancelled' "$PROFD_LOG" || true)
bg_fetch zero "$SVC/debug/pprof/profile?seconds=0" 60
ZERO_PID=$BG_PID
wait_window_open 3 || fail "the seconds=0 window did not start"
line=$(grep 'window started' "$PROFD_LOG" | sed -n 3p)
[[ $line == *"cpu window started: 30 s "* ]] ||
    fail "seconds=0: want a 30 s window, log: $line"
kill "$ZERO_PID" 2>/dev/null
bg_wait "$ZERO_PID" zero
for ((i = 0; i < 100; i++)); do
	[ "$(grep -c 'window cancelled' "$PROFD_LOG")" -gt "$n0" ] && break
	sleep 0.1
done
grep 'window cancelled' "$PROFD_LOG" | sed -n "$((n0 + 1))p" | grep ' of 30: ' >/dev/null ||
    fail "the seconds=0 window was not cancelled as a 30 s one: $(grep 'window cancelled' "$PROFD_LOG")"
ok "seconds=0 is a 30 s window (${line#*: }), cancelled when its client left"

# ---- 5. format= ----------------------------------------------------------------
for ep in debug/pprof/profile debug/pprof/wall debug/fgprof debug/pprof/growth \
    debug/pprof/memory debug/pprof/history debug/pprof/threads \
    debug/pprof/goroutine; do
	expect_error "$SVC/$ep?format=xml&seconds=1" 400
	grep -q '^unknown format xml; use ' "$TEST_DIR/err.$_nstarted" ||
	    fail "$ep?format=xml: $(cat "$TEST_DIR/err.$_nstarted")"
done
ok "format=xml: 400 'unknown format' on every profile endpoint"

stop_profd

# ---- 6. two targets: each family once, a series per target --------------------
tp1=$TARGET_PID
start_target spin 120
start_profd_re "$LOOPBACK_RE" --listen 127.0.0.1:0 --pid "$tp1" --pid "$TARGET_PID"
fetch_profile "$BASE/pid/$tp1/debug/pprof/profile?seconds=1" "$TEST_DIR/cpu2.pb.gz"
curl -sS --max-time 10 "$BASE/metrics" >"$M.2" || fail "GET /metrics failed"
out=$(promtool check metrics <"$M.2" 2>&1) && rc=0 || rc=$?
if [ "$rc" != 0 ] || [ -n "$out" ]; then
	fail "promtool check metrics, two targets: exit $rc: $(printf '%s' "$out" | first_lines 10)"
fi
n=$(grep -c '^profd_samples_total{pid=' "$M.2")
[ "$n" = 2 ] || fail "two targets: $n profd_samples_total series, want 2"
dup=$(awk '$1 == "#" && $2 == "TYPE" { print $3 }' "$M.2" | sort | uniq -d | first_lines 3)
[ -z "$dup" ] || fail "two targets: families typed twice: $dup"
ok "two targets: promtool silent, each family once, a series per target"
stop_profd
say "PASS metrics"
