#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# t_man - man/profd.8 lints clean with mandoc -Tlint, and profd --help, the
# man page's option list and README's option table name the same options,
# with the same short names in the page, and both synopses name them all
# (curl's test 1139, small scale).
. "$(dirname "$0")/lib.sh"
t_begin man
command -v mandoc >/dev/null || fail "mandoc: not installed (scripts/deps.sh installs it)"

MAN=$E2E_ROOT/man/profd.8
lint=$(mandoc -Tlint -W warning "$MAN" 2>&1) || fail "mandoc -Tlint: $lint"
ok "mandoc -Tlint -W warning: clean"

"$PROFD" --help >"$TEST_DIR/help" || fail "profd --help failed"

# The options each place lists, one "--name" (or "-x --name") a line:
# --help's option lines ("  -p, --pid PID", "      --hz N");
sed -nE 's/^  (-([A-Za-z]), |    )--([a-z][a-z-]*).*/\2 --\3/p' \
    "$TEST_DIR/help" | sed 's/^ //' | sort -u >"$TEST_DIR/help.opts"
sed 's/.* //' "$TEST_DIR/help.opts" | sort -u >"$TEST_DIR/help.long"
# the man page's option list (".It Fl p , Fl \-pid Ar pid" between "The
# options are as follows:" and its .El);
awk '/^The options are as follows:/ { on = 1 } on && /^\.El/ { exit }
    on && /^\.It / { print }' "$MAN" >"$TEST_DIR/man.items"
sed -nE 's/^\.It Fl ([A-Za-z]) , Fl \\-([a-z\\-]+).*/\1 --\2/p' \
    "$TEST_DIR/man.items" | sed 's/\\-/-/g' >"$TEST_DIR/man.short"
grep -oE 'Fl \\-[a-z\\-]+' "$TEST_DIR/man.items" |
    sed 's/^Fl \\-/--/; s/\\-/-/g' |
    sort -u >"$TEST_DIR/man.long"
# README's option table (the first cell of each "| `-..." row).
grep -E '^\| `-' "$E2E_ROOT/README.md" | cut -d'|' -f2 |
    grep -oE -- '--[a-z][a-z-]*' | sort -u >"$TEST_DIR/readme.long"

n=$(wc -l <"$TEST_DIR/help.long")
[ "$n" -ge 20 ] || fail "only $n options found in --help"
for where in man readme; do
	missing=$(comm -23 "$TEST_DIR/help.long" "$TEST_DIR/$where.long")
	[ -z "$missing" ] || fail "in profd --help but not in the $where" \
	    "options: ${missing//$'\n'/ }"
	extra=$(comm -13 "$TEST_DIR/help.long" "$TEST_DIR/$where.long")
	[ -z "$extra" ] || fail "in the $where options but not in" \
	    "profd --help: ${extra//$'\n'/ }"
done
ok "the $n options of --help are those of the man page and README"
# short names: "-p, --pid" in --help is ".It Fl p , Fl \-pid" in the page
grep ' ' "$TEST_DIR/help.opts" | sed 's/^/-/' | sort >"$TEST_DIR/help.short"
sed 's/^/-/' "$TEST_DIR/man.short" | sort >"$TEST_DIR/man.short.s"
diff "$TEST_DIR/help.short" "$TEST_DIR/man.short.s" >&2 ||
    fail "short options of --help and the man page differ (above)"
ok "short options agree"
# the synopses (--help's first lines, the page's SYNOPSIS) name every option
sed '/^$/q' "$TEST_DIR/help" >"$TEST_DIR/help.synopsis"
sed -n '/^\.Sh SYNOPSIS/,/^\.Sh /p' "$MAN" | sed 's/Fl \\-/Fl --/g; s/\\-/-/g' \
    >"$TEST_DIR/man.synopsis"
while read -r a b; do
	if [ -n "$b" ]; then	# "-p --pid": -p, or p in a cluster like -dhvV
		l=${a#-}
		grep -qE -- "(^|[[{ ])-[A-Za-z]*$l" "$TEST_DIR/help.synopsis" ||
		    fail "$a is not in the synopsis of --help"
		grep -qE "Fl [A-Za-z]*$l" "$TEST_DIR/man.synopsis" ||
		    fail "$a is not in the man page's SYNOPSIS"
	else
		grep -qE -- "$a([^a-z-]|$)" "$TEST_DIR/help.synopsis" ||
		    fail "$a is not in the synopsis of --help"
		grep -qE -- "Fl $a( |$)" "$TEST_DIR/man.synopsis" ||
		    fail "$a is not in the man page's SYNOPSIS"
	fi
done < <(sed 's/^\([A-Za-z]\) /-\1 /' "$TEST_DIR/help.opts")
ok "both synopses name every option"

mandoc -Tascii "$MAN" >"$TEST_DIR/page" || fail "mandoc cannot render the page"
for section in SYNOPSIS DESCRIPTION "HTTP API" SIGNALS "EXIT STATUS" \
    "SECURITY CONSIDERATIONS"; do
	grep -qx ".Sh $section" "$MAN" || fail "no $section section"
done
ok "sections present"
say "PASS man"
