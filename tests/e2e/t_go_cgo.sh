#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# t_go_cgo - t_go's checks on the same program built with cgo
# (CGO_ENABLED=1): dynamically linked against libc, with runtime/cgo's C
# code and its .eh_frame next to Go code that has none, and C units'
# DWARF that libdw would wrongly apply to Go addresses (see go_lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/go_lib.sh"
t_begin go_cgo
go_check gohot-cgo
say "PASS go_cgo"
