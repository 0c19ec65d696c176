#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_jit - JIT code named from the JIT's perf map: node --perf-basic-prof
# runs tests/targets/jit.js, whose hot function hotLoop is machine code in
# anonymous memory that only /tmp/perf-PID.map names.  The profile must
# show hotLoop as the leaf under outer, in a "[jit]" mapping with
# has_functions.  Twice: node as an ordinary process, and node as PID 1 of
# its own PID and mount namespaces with a private /tmp, where the map is
# /tmp/perf-1.map as node sees it and exists only under /proc/PID/root.
. "$(dirname "$0")/lib.sh"
t_begin jit
need_pprof_dump
need_go

NODE=${NODE:-$(command -v node || command -v nodejs || true)}
[ -n "$NODE" ] || skip "node: not installed (scripts/deps.sh installs nodejs)"
for tool in setpriv unshare; do
	command -v "$tool" >/dev/null || fail "$tool: not installed (util-linux)"
done
# node cannot allow any tracer with PR_SET_PTRACER as the C targets do.
if [ "$(id -u)" != 0 ] &&
    [ "$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo 0)" != 0 ]; then
	skip "node cannot be traced by a non-ancestor (kernel.yama.ptrace_scope != 0, not root)"
fi
say "node $("$NODE" --version)"
JS=$TARGET_SRC/jit.js
NODE_ARGS=(--perf-basic-prof --interpreted-frames-native-stack "$JS" 120)

# wait_map FILE: poll (10 s at most) until V8 has written optimized code for
# hotLoop ("*hotLoop") into its perf map.
wait_map()
{
	wait_for_line "$1" '[*]hotLoop( |$)' 10 "$TARGET_PID" ||
	    fail "no optimized hotLoop in $1 within 10 s: $(grep -c . "$1" 2>/dev/null) lines"
	ok "perf map $1: $(grep -c . "$1") lines, $(grep -m 1 '[*]hotLoop' "$1")"
}

# check_profile NAME: profile the target, check the JIT frames.
check_profile()
{
	local name=$1 P S F T hot caller jline TB top
	start_profd
	P=$TEST_DIR/$name.pb.gz
	fetch_profile "$BASE/debug/pprof/profile?seconds=3" "$P"
	S=$P.summary

	jline=$(grep -E '^mapping [0-9]+ [^ ]+ [^ ]+ \[jit\] ' "$S" | first_line)
	[ -n "$jline" ] || fail "$name: no [jit] mapping: $(grep '^mapping' "$S" | first_lines 5)"
	case $jline in
	*has_functions=1*) ok "$name: $jline" ;;
	*) fail "$name: [jit] mapping without has_functions: $jline" ;;
	esac

	F=$TEST_DIR/$name.folded
	pdump folded "$P" >"$F" || fail "pprof-dump folded failed"
	say "top stacks (pprof-dump folded, last 3 frames):"
	awk '{ print $NF "\t" $0 }' "$F" | sort -t "$(printf '\t')" -k 1,1nr |
	    first_lines 3 | cut -f 2- |
	    awk '{ n = split($0, f, ";"); print "  ..." f[n - 2] ";" f[n - 1] ";" f[n] }'
	T=$(fold_total "$F")
	# The leaf's name ends in "hotLoop PATH:LINE[:COL]" whatever prefix
	# this node version writes; its caller is outer.
	read -r hot caller <<<"$(awk '{
		v = $NF
		n = split(substr($0, 1, length($0) - length($NF) - 1), f, ";")
		if (f[n] !~ /(^|[ :*~^+])hotLoop [^;]*jit\.js:[0-9]+/)
			next
		hot += v
		if (n > 1 && f[n - 1] ~ /(^|[ :*~^+])outer [^;]*jit\.js:[0-9]+/)
			caller += v
	} END { printf "%.0f %.0f\n", hot, caller }' "$F")"
	expect_range "$name: CPU in hotLoop (JIT, perf map name) as the leaf (%)" \
	    "$(pct "$hot" "$T")" 80 100
	expect_range "$name: of that, under outer (%)" "$(pct "$caller" "$hot")" 90 100

	TB=$TEST_DIR/$name.top
	pprof_table "$P" >"$TB" || fail "go tool pprof -top failed"
	top=$(head -n 1 "$TB")
	say "go tool pprof -top: $top"
	case $(cut -f 3 <<<"$top") in
	*hotLoop*) ;;
	*) fail "go tool pprof -top: the top function is not hotLoop: $top" ;;
	esac
	expect_range "$name: go tool pprof flat% of hotLoop" "$(cut -f 1 <<<"$top")" 80 100

	wait_untraced 5 || fail "profd still attached 5 s after the window ended"
	stop_profd
	assert_target_ok
}

# ---- node as an ordinary process ---------------------------------------------
say "--- node, same namespaces"
# setpriv --pdeathsig: node dies with this shell, as the C targets do; env
# -C: V8 writes its isolate-*-v8.log into the working directory.
start_target_cmd jit env -C "$TEST_DIR" \
    setpriv --pdeathsig KILL "$NODE" "${NODE_ARGS[@]}"
map=/tmp/perf-$TARGET_PID.map
at_exit "rm -f '$map'"
wait_map "$map"
check_profile plain
kill "$TARGET_PID"

# ---- node alone in PID and mount namespaces, with its own /tmp ---------------
say "--- node as PID 1 of a PID namespace, private /tmp"
_nstarted=$((_nstarted + 1))
out=$TEST_DIR/target.$_nstarted.jit-ns.out
# --kill-child: unshare (our child) takes node down with it.  The tmpfs
# hides everything under /tmp, the checkout too when it is there: node runs
# a copy of the script from a directory outside /tmp.
NSDIR=$(mktemp -d /var/tmp/profd-jit.XXXXXX) || fail "mktemp in /var/tmp failed"
at_exit "rm -rf '$NSDIR'"
cp "$JS" "$NSDIR/jit.js"
NS_ARGS=("${NODE_ARGS[@]}")
NS_ARGS[${#NS_ARGS[@]} - 2]=$NSDIR/jit.js
(cd "$NSDIR" && exec unshare --pid --fork --kill-child --mount-proc \
    --propagation private \
    sh -c 'mount -t tmpfs -o mode=1777 profd-test /tmp && exec "$@"' sh \
    setpriv --pdeathsig KILL "$NODE" "${NS_ARGS[@]}" \
    >"$out" 2>"$out.err") &
upid=$!
_track "$upid"
rc=0
wait_for_line "$out" '^ready [0-9]+$' 10 "$upid" || rc=$?
[ "$rc" = 0 ] || fail "node in a PID namespace did not start: $(cat "$out.err")"
nspid=$(sed -n 's/^ready \([0-9][0-9]*\)$/\1/p' "$out" | first_line)
TARGET_PID=$(awk '{ print $1 }' "/proc/$upid/task/$upid/children" 2>/dev/null || true)
[ -n "$TARGET_PID" ] || fail "cannot find node's PID: unshare $upid has no child"
grep -q "^NSpid:.*[[:space:]]$nspid\$" "/proc/$TARGET_PID/status" ||
    fail "pid $TARGET_PID is not node with namespace PID $nspid: $(grep NSpid "/proc/$TARGET_PID/status")"
say "node: pid $TARGET_PID, $nspid in its namespace"
if [ -e "/tmp/perf-$nspid.map" ] || [ -e "/tmp/perf-$TARGET_PID.map" ]; then
	fail "a perf map for pid $nspid or $TARGET_PID exists in our /tmp: the test would prove nothing"
fi
wait_map "/proc/$TARGET_PID/root/tmp/perf-$nspid.map"
check_profile pidns
# As PID 1 of its namespace node ignores SIGTERM (it has no handler).
kill -KILL "$TARGET_PID"
wait_gone "$upid" 5 || fail "unshare $upid did not exit after node was killed"
say "PASS jit"
