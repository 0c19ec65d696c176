#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_go_buildid - the build ID of a Go binary's mapping, as pprof tools and
# continuous profilers read it: the GNU build-id note when the binary has
# one, else the Go toolchain's own build ID note (".note.go.buildid",
# owner "Go", type 4).  Three builds of tests/targets/gohot:
#   gohot        Go's note only: build_id is what `go tool buildid` prints;
#   gohot-gnuid  -ldflags=-B 0x...: both notes, build_id is the GNU one;
#   gohot-cgo    linked by the C linker: both notes, the GNU one again.
# The expectations come from readelf -n and go tool buildid, not from profd;
# /targets' build_id must agree with the profile's mapping.
. "$(dirname "$0")/lib.sh"
t_begin go_buildid
need_pprof_dump
need_go

# gnu_id FILE: the hex of FILE's NT_GNU_BUILD_ID note, "" without one.
gnu_id()
{
	LC_ALL=C readelf -n "$1" | awk '$1 == "Build" && $2 == "ID:" { print $3; exit }'
}

kinds=""
for variant in gohot gohot-gnuid gohot-cgo; do
	BIN=$TARGET_DIR/$variant
	[ -x "$BIN" ] || fail "$BIN: not built (make targets)"
	want=$(gnu_id "$BIN")
	if [ -n "$want" ]; then
		kind=gnu
	else
		want=$(GOFLAGS='' go tool buildid "$BIN") ||
		    fail "go tool buildid $BIN failed"
		kind=go
		LC_ALL=C readelf -n "$BIN" | grep 'GO BUILDID' >/dev/null ||
		    fail "$variant: readelf -n shows no Go build ID note"
	fi
	[ -n "$want" ] || fail "$variant: no build ID to expect"
	case $variant in
	gohot) [ "$kind" = go ] || fail "gohot has a GNU build-id ($want): the test would not see Go's note" ;;
	*) [ "$kind" = gnu ] || fail "$variant has no GNU build-id: the Makefile's -B or the C linker did not add one" ;;
	esac
	kinds="$kinds $kind"

	start_target "$variant" 1 120
	start_profd
	P=$TEST_DIR/$variant.pb.gz
	fetch_profile "$BASE/debug/pprof/profile?seconds=1" "$P"
	exe=$(readlink "/proc/$TARGET_PID/exe")
	got=$(awk -v f="$exe" '$1 == "mapping" && $5 == f {
		sub(/^build_id=/, "", $6); print $6; exit }' "$P.summary")
	[ "$got" = "$want" ] ||
	    fail "$variant: mapping of $exe has build_id '$got', want the $kind build ID '$want'"
	curl -sS --max-time 10 "$BASE/targets" >"$TEST_DIR/$variant.targets" ||
	    fail "GET /targets failed"
	grep -qF "\"build_id\": \"$want\"" "$TEST_DIR/$variant.targets" ||
	    fail "$variant: /targets does not give build_id $want: $(cat "$TEST_DIR/$variant.targets")"
	ok "$variant: mapping and /targets carry the $kind build ID $want"
	stop_profd
	kill "$TARGET_PID"
	wait_gone "$TARGET_PID" 10 || fail "$variant did not exit on SIGTERM"
done
[ "$kinds" = " go gnu gnu" ] || fail "build ID kinds seen:$kinds"
say "PASS go_buildid"
