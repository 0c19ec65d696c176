#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# t_go - CPU profile of a pure Go program built with DWARF
# (tests/targets/gohot, CGO_ENABLED=0 go build): Go names, whole stacks
# through frameless leaves, the 50/30/20 split, file:line, inline frames,
# and flat shares that agree with perf on the same run (see go_lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/go_lib.sh"
t_begin go
go_check gohot
say "PASS go"
