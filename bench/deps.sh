#!/bin/sh
# deps.sh - what `make bench` needs beyond `make check`'s packages
# (scripts/deps.sh): perf (Debian's linux-perf), python3 and g++ for the
# large binary.  A no-op when they are there; otherwise one apt-get update
# and one apt-get install of what is missing (needs root or sudo then).
set -eu

missing=""
command -v perf >/dev/null 2>&1 || missing="$missing linux-perf"
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
command -v g++ >/dev/null 2>&1 || missing="$missing g++"
command -v curl >/dev/null 2>&1 || missing="$missing curl"

[ -z "$missing" ] && exit 0

echo "bench-deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo"
else
	echo "bench-deps: missing:$missing; as root: apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing
