#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# t_go_stripped - t_go's checks on the same program built with
# -ldflags='-s -w': no .symtab, no DWARF, so every name, file:line and
# inline frame comes from .gopclntab (see go_lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/go_lib.sh"
t_begin go_stripped
go_check gohot-stripped
say "PASS go_stripped"
