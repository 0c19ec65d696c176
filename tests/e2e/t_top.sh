#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_top - profd top --pid PID in an 80x24 terminal (tmux, driven with
# send-keys and read with capture-pane): within a few seconds the screen
# shows split's hot_a, the thread count and the sample rate; 'q' quits with
# status 0 and the terminal back in its own mode (canonical, echo), and so
# do Ctrl-C and SIGTERM; profd holds no socket meanwhile; without a terminal top says
# so and exits 1. The target is left running, untraced, not stopped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cli_lib.sh"
t_begin top
command -v tmux >/dev/null || fail "tmux: not installed (scripts/deps.sh installs it)"

start_target split 2 120
P=$TARGET_PID
SOCK=$TEST_DIR/tmux.sock
at_exit "tmux -S '$SOCK' kill-server 2>/dev/null"
unset TMUX

# tmx ARGS...: tmux on our own server, without the user's configuration.
tmx() { tmux -S "$SOCK" -f /dev/null "$@"; }

# screen [-S -]: the pane's text now (-S -: with the lines scrolled off).
screen() { tmx capture-pane -p -t top "$@"; }

# wait_screen ERE SECONDS: poll the pane every 0.1 s until a line matches.
wait_screen()
{
	local n=$(($2 * 10))
	for (( ; n > 0; n--)); do
		screen -S - | grep -Eq -- "$1" && return 0
		sleep 0.1
	done
	return 1
}

# run_top NAME KEY: start profd top in a fresh 80x24 session, wait for
# hot_a, press KEY (or send it SIGTERM), and check the exit status and the terminal after it.
# The pane's shell ignores SIGINT, so that Ctrl-C ends top and not the
# shell that prints its status (profd takes SIGINT from its signalfd all
# the same: a blocked signal is never discarded as ignored).
run_top()
{
	local name=$1 key=$2 sh_pid top_pid tasks
	tmx kill-server 2>/dev/null || true
	tmx new-session -d -s top -x 80 -y 24 \
	    "trap '' INT; $(printf '%q ' "$PROFD" top --pid "$P") 2>$(printf '%q' "$TEST_DIR/$name.err"); echo EXIT=\$?; stty -a" \; \
	    set-option -t top remain-on-exit on ||
	    fail "tmux new-session failed"
	if ! wait_screen ' hot_a$' 20; then
		screen >&2
		fail "$name: no hot_a on the screen within 20 s: $(cat "$TEST_DIR/$name.err")"
	fi
	screen >"$TEST_DIR/$name.screen"
	sed 's/^/  | /' "$TEST_DIR/$name.screen"
	tasks=$(find "/proc/$P/task" -mindepth 1 -maxdepth 1 | wc -l)
	grep -Eq "pid $P +threads $tasks +[0-9]+ samples/s" "$TEST_DIR/$name.screen" ||
	    fail "$name: no 'pid $P threads $tasks N samples/s' header"
	grep -q 'q to quit' "$TEST_DIR/$name.screen" || fail "$name: the screen does not say how to quit"
	ok "$name: hot_a, $tasks threads and the sample rate on an 80x24 screen"
	sh_pid=$(tmx display-message -p -t top '#{pane_pid}')
	top_pid=$(pgrep -P "$sh_pid" | first_line)
	[ -n "$top_pid" ] || fail "$name: no profd under the pane's shell $sh_pid"
	no_sockets "$top_pid"
	ok "$name: profd top (pid $top_pid) holds no socket"
	if [ "$key" = SIGTERM ]; then
		kill -TERM "$top_pid"
	else
		tmx send-keys -t top "$key"
	fi
	if ! wait_screen '^EXIT=' 10; then
		screen >&2
		fail "$name: top still running 10 s after $key"
	fi
	screen -S - >"$TEST_DIR/$name.after"
	grep -q '^EXIT=0$' "$TEST_DIR/$name.after" || fail "$name: $(grep '^EXIT=' "$TEST_DIR/$name.after"), want EXIT=0"
	if ! grep -Eq '(^| )icanon( |$)' "$TEST_DIR/$name.after" ||
	    ! grep -Eq '(^| )echo( |$)' "$TEST_DIR/$name.after"; then
		fail "$name: the terminal is not back in canonical mode with echo: $(cat "$TEST_DIR/$name.after")"
	fi
	if report=$(_sanitizer_report "$TEST_DIR/$name.err"); then
		fail "$name: sanitizer report: $report"
	fi
	ok "$name: $key -> exit 0, terminal restored (icanon, echo)"
	assert_target_ok
}

run_top quit q
run_top ctrlc C-c
run_top term SIGTERM

run_cmd notty 10 top --pid "$P" </dev/null
expect_rc 1
grep -q 'needs a terminal' "$TEST_DIR/notty.err" || fail "top without a terminal: $(cat "$TEST_DIR/notty.err")"
ok "top without a terminal -> 1: $(head -n 1 "$TEST_DIR/notty.err")"
run_cmd topo 10 top --pid "$P" --wall
expect_rc 64
assert_target_ok
say "PASS top"
