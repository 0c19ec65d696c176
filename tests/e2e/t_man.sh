#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# t_man - man/profd.8 lints clean with mandoc -Tlint, and documents every
# long option that profd --help prints (curl's test 1139, small scale).
. "$(dirname "$0")/lib.sh"
t_begin man
command -v mandoc >/dev/null || fail "mandoc: not installed (scripts/deps.sh installs it)"

MAN=$E2E_ROOT/man/profd.8
lint=$(mandoc -Tlint -W warning "$MAN" 2>&1) || fail "mandoc -Tlint: $lint"
ok "mandoc -Tlint -W warning: clean"

"$PROFD" --help >"$TEST_DIR/help" || fail "profd --help failed"
n=0
while read -r opt; do
	# in mdoc "--max-hz" is written "Fl \-max\-hz"
	pat="Fl \\-$(printf '%s' "${opt#--}" | sed 's/-/\\-/g')"
	grep -qF -- "$pat" "$MAN" ||
	    fail "option $opt (profd --help) is not in man/profd.8"
	n=$((n + 1))
done < <(grep -oE -- '--[a-z][a-z-]+' "$TEST_DIR/help" | sort -u)
[ "$n" -ge 5 ] || fail "only $n long options found in --help"
ok "all $n long options of --help are in the man page"

mandoc -Tascii "$MAN" >"$TEST_DIR/page" || fail "mandoc cannot render the page"
for section in SYNOPSIS DESCRIPTION "HTTP API" SIGNALS "EXIT STATUS" \
    "SECURITY CONSIDERATIONS"; do
	grep -qx ".Sh $section" "$MAN" || fail "no $section section"
done
ok "sections present"
say "PASS man"
