#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_service_oom - a --match service killed by the kernel's OOM killer: its
# exit record says "oom" and /metrics counts it. A copy of
# tests/targets/grow (its grower thread maps and touches memory without
# end) runs in a memory cgroup this test creates below its own, with a
# 96 MiB limit; profd --continuous --match '^svcoomNNN$' takes it on,
# then the test lets the kernel kill it:
#   v1: the cgroup starts with oom_kill_disable 1, so that the process
#       waits at the limit (under_oom 1) until profd has taken it on, and
#       clearing it lets the OOM killer kill it;
#   v2: the cgroup starts without a limit; memory.max is lowered under
#       its usage once profd has taken it on.
# Either way the cgroup's oom_kill count goes from 0 to 1, the process
# dies of SIGKILL, and /services has one exit record with cause "oom",
# oom_kills 1, profd_service_oom_kills_total 1. Skipped (with the reason)
# where no memory cgroup can be created.
. "$(dirname "$0")/lib.sh"
t_begin service_oom
command -v python3 >/dev/null || fail "python3: not installed (scripts/deps.sh)"

BIN=$TEST_DIR/bin
mkdir -p "$BIN"
NAME=svcoom$$
cp "$TARGET_DIR/grow" "$BIN/$NAME"
RE="^$NAME\$"
LIMIT=$((96 << 20))

# ---- the memory cgroup ----------------------------------------------------------
v1=$(sed -n 's/^[0-9]*:[^:]*\bmemory\b[^:]*:\(.*\)$/\1/p' /proc/self/cgroup | first_line)
v2=$(sed -n 's/^0::\(.*\)$/\1/p' /proc/self/cgroup | first_line)
CG=
if [ -n "$v1" ] && [ -d "/sys/fs/cgroup/memory$v1" ]; then
	CG=/sys/fs/cgroup/memory${v1%/}/$NAME
	mkdir "$CG" 2>/dev/null || skip "cannot create a v1 memory cgroup under /sys/fs/cgroup/memory$v1"
	at_exit "rmdir '$CG' 2>/dev/null || true"
	echo "$LIMIT" >"$CG/memory.limit_in_bytes" || fail "$CG: cannot set memory.limit_in_bytes"
	[ ! -e "$CG/memory.memsw.limit_in_bytes" ] ||
	    echo "$LIMIT" >"$CG/memory.memsw.limit_in_bytes" 2>/dev/null || true
	echo 1 >"$CG/memory.oom_control" || fail "$CG: cannot set oom_kill_disable"
	KIND=v1
elif [ -n "$v2" ] && [ -f "/sys/fs/cgroup${v2%/}/cgroup.controllers" ] &&
    grep -qw memory "/sys/fs/cgroup${v2%/}/cgroup.subtree_control" 2>/dev/null; then
	CG=/sys/fs/cgroup${v2%/}/$NAME
	mkdir "$CG" 2>/dev/null || skip "cannot create a v2 cgroup under /sys/fs/cgroup$v2"
	at_exit "rmdir '$CG' 2>/dev/null || true"
	echo 0 >"$CG/memory.swap.max" 2>/dev/null || true
	KIND=v2
else
	skip "no memory cgroup to create: neither v1 nor v2 with the memory controller delegated here"
fi
say "memory cgroup ($KIND): $CG"

start_profd_re "$LOOPBACK_RE" --listen 127.0.0.1:0 --continuous --match "$RE"

# The process enters the cgroup before it exec's the target (the same PID).
head -c 64 /dev/zero >"$TEST_DIR/counters"
start_target_cmd "$NAME" sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" "$3" 512 120' \
    sh "$CG" "$BIN/$NAME" "$TEST_DIR/counters"
VICTIM=$TARGET_PID

wait_service "$NAME" 's["history_pid"]' "$VICTIM"
ok "profd records pid $VICTIM in the cgroup"

if [ "$KIND" = v1 ]; then
	echo 0 >"$CG/memory.oom_control" || fail "$CG: cannot clear oom_kill_disable"
else
	echo "$LIMIT" >"$CG/memory.max" || fail "$CG: cannot set memory.max"
fi
wait_gone "$VICTIM" 10 || fail "pid $VICTIM was not killed at the cgroup's limit"
if [ "$KIND" = v1 ]; then
	n=$(sed -n 's/^oom_kill //p' "$CG/memory.oom_control")
else
	n=$(sed -n 's/^oom_kill //p' "$CG/memory.events")
fi
[ "$n" = 1 ] || fail "the cgroup's oom_kill count is '$n', want 1"
ok "the kernel's OOM killer killed pid $VICTIM (oom_kill 1)"

wait_service "$NAME" 'len(s["exits"])' 1
rec=$(service_get "$NAME" '(s["exits"][0]["pid"], s["exits"][0]["cause"], s["oom_kills"])')
[ "$rec" = "($VICTIM, 'oom', 1)" ] || fail "/services: exit record (pid, cause, oom_kills) $rec, want ($VICTIM, 'oom', 1)"
ok "/services: pid $VICTIM ended with cause oom, oom_kills 1"
v=$(curl -sS --max-time 10 "$BASE/metrics" |
    awk -v l="profd_service_oom_kills_total{service=\"$NAME\"}" '$1 == l { print $2 }')
[ "$v" = 1 ] || fail "/metrics: profd_service_oom_kills_total is '$v', want 1"
ok "/metrics: profd_service_oom_kills_total{service=\"$NAME\"} 1"
stop_profd
