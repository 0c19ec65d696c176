#!/bin/sh
# deps.sh - install the Debian packages profd's build, tests and demo need.
#
# A no-op when every package is installed; otherwise one apt-get update and
# one apt-get install of what is missing. Needs root (or sudo) only then.
set -eu

PKGS="
build-essential
pkg-config
clang
libclang-rt-14-dev
libunwind-dev
libdw-dev
libelf-dev
libcivetweb-dev
libssl3
openssl
zlib1g-dev
libiberty-dev
golang-go
protobuf-compiler
elfutils
mandoc
prometheus
tmux
curl
procps
strace
linux-perf
binutils
util-linux
debuginfod
libdebuginfod1
nodejs
python3
python3-yaml
jq
systemd
chromium
libxml2-utils
"

# Rust tests need rustc; one installed with rustup (~/.cargo/bin) does.
command -v rustc >/dev/null 2>&1 || PKGS="$PKGS rustc"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done

[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo"
else
	echo "deps: missing packages:$missing; run as root: apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing
