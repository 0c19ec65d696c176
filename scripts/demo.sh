#!/bin/bash
# demo.sh - `make demo`: profile a running multi-threaded program from the
# outside and look at the result with go tool pprof.
#
# Starts build/targets/demo (threads "parser", "hasher", "sorter" using about
# 50/30/20 % of its CPU, plus a sleeping thread), attaches build/profd to it
# on 127.0.0.1:8005 (DEMO_PORT overrides the port), fetches a 5-second CPU
# profile over HTTP into build/demo.pb.gz, prints the top functions and the
# per-thread split, and stops both processes.  PROFD overrides build/profd.
set -euo pipefail

cd "$(dirname "$0")/.."
PORT=${DEMO_PORT:-8005}
PROFD=${PROFD:-build/profd}
SECS=5
OUT=build/demo.pb.gz
URL="http://127.0.0.1:$PORT/debug/pprof/profile?seconds=$SECS"
TMP=$(mktemp -d)
pids=()

cleanup()
{
	local pid n
	set +e
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${pids[@]}"; do
		# bounded wait for the exit, then SIGKILL
		for ((n = 0; n < 50; n++)); do
			kill -0 "$pid" 2>/dev/null || break
			[ "$(cut -d ' ' -f 3 "/proc/$pid/stat" 2>/dev/null)" != Z ] || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die()
{
	echo "demo: $*" >&2
	exit 1
}

# wait_line FILE ERE PID: poll for a readiness line (10 s at most).
wait_line()
{
	local n
	for ((n = 0; n < 100; n++)); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

for f in "$PROFD" build/targets/demo; do
	[ -x "$f" ] || die "$f is not built (make all targets)"
done
command -v go >/dev/null || die "go is not installed (scripts/deps.sh installs golang-go)"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
	die "port $PORT on 127.0.0.1 is already in use (see: ss -ltnp 'sport = :$PORT');" \
	    "stop that program or run: DEMO_PORT=8006 make demo"
fi

(exec build/targets/demo 120 >"$TMP/demo.out") &
pids+=($!)
wait_line "$TMP/demo.out" '^ready [0-9]+$' "$!" || die "the demo workload did not start"
TPID=$(sed -n 's/^ready //p' "$TMP/demo.out")
echo "demo: workload build/targets/demo running as pid $TPID"

(exec "$PROFD" --pid "$TPID" --listen "127.0.0.1:$PORT" >"$TMP/profd.log" 2>&1) &
pids+=($!)
if ! wait_line "$TMP/profd.log" "listening on 127\.0\.0\.1:$PORT" "$!"; then
	cat "$TMP/profd.log" >&2
	if grep -qi 'in use' "$TMP/profd.log"; then
		die "port $PORT is already in use; run: DEMO_PORT=8006 make demo"
	fi
	die "profd did not start (its log is above)"
fi
echo "demo: profd listening on 127.0.0.1:$PORT"

echo "demo: fetching a ${SECS}-second CPU profile: curl -o $OUT '$URL'"
code=$(curl -sS --max-time 60 -o "$OUT" -w '%{http_code}' "$URL") || true
if [ "$code" != 200 ]; then
	[ "$code" = 000 ] || cat "$OUT" >&2
	echo "--- profd's log:" >&2
	cat "$TMP/profd.log" >&2
	die "no profile: HTTP status $code"
fi

echo
echo "== go tool pprof -top -nodecount=25 $OUT"
go tool pprof -top -nodecount=25 "$OUT"
echo
echo "== go tool pprof -tags $OUT   (CPU per thread)"
go tool pprof -tags "$OUT" 2>/dev/null || true
cat <<EOF

To explore the profile in a browser:
    go tool pprof -http=:8080 $OUT
or profile a live process directly (profd --pid PID running):
    go tool pprof -http=:8080 'http://127.0.0.1:$PORT/debug/pprof/profile?seconds=30'
EOF
