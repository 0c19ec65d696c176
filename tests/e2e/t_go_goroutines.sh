#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_go_goroutines - goroutine dumps of a Go program in Go's own formats
# (issue 14, item 2), on tests/targets/gor built with DWARF (gor) and
# without (gor-stripped, -s -w): 5 goroutines parked on a channel
# (main.chanWaiter), 3 in time.Sleep (main.sleeper), 2 blocked in read(2)
# through syscall.Syscall (main.syscaller), one busy (main.busy) and one
# 200 calls deep (main.deep), each started by main.main; main.main itself
# is goroutine 1, parked in select {}.
#   debug=2: "goroutine N [STATUS]:" blocks, exactly those goroutines with
#            their wait reasons, frames "FUNC(ARGS)\n\tFILE:LINE +0xOFF" at
#            the lines gor's source marks ("// gor:NAME", found with grep
#            -n; main.busy's line is not checked: some PCs of its loop are
#            on line 1 in Go's own line table), "created by main.main" at
#            each go statement, the deep one whole (200 main.deep frames)
#            or cut as Go cuts it (50 or more, then "...additional frames
#            elided..."; Go 1.19's own dump cuts at 100 frames without that
#            line, which only the reference is allowed);
#   debug=1: "goroutine profile: total T", T the number of goroutines in a
#            debug=2 taken right after (+-2: the runtime's own goroutines
#            may come and go), groups adding up to T, the 5 chanWaiters in
#            one group "5 @ ..." with "#\tPC\tmain.chanWaiter+0xOFF\tFILE:LINE"
#            (a memory map may follow, as in threads?debug=1);
#   debug=0: a goroutine/count profile of T goroutines that pprof-dump and
#            go tool pprof read, each kind of goroutine counted right;
#   /debug/pprof/threads: still the OS threads, as many as /proc/PID/task.
# The goroutines block just after gor's "ready" line: the test polls the
# dump (15 s at most) until they all show as blocked.  The same checks run
# first on Go's own dumps of the same process (gor -dump, runtime/pprof):
# the reference that shows they hold for Go's formats and this program.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/go_lib.sh"
t_begin go_goroutines
need_pprof_dump
need_go

NCHAN=5 NSLEEP=3 NSYS=2 DEPTH=200
GOR_ARGS=(-chan "$NCHAN" -sleep "$NSLEEP" -syscall "$NSYS" -busy -deep "$DEPTH" -alarm 120)
# gor's own goroutines: main, the ones above, busy, deep, and for -dump
# main.selfDumps and os/signal's loop
NGOR=$((1 + NCHAN + NSLEEP + NSYS + 2 + 2))
# kind -> how many, its wait reason (ERE), its function, the marks of its
# blocking line and of its go statement
declare -A WANT=([main]=1 [chan]=$NCHAN [sleep]=$NSLEEP [sys]=$NSYS [busy]=1 [deep]=1)
declare -A STATUS=([main]='select \(no cases\)' [chan]='chan receive' [sleep]=sleep
    [sys]=syscall [busy]='running|runnable' [deep]='chan receive')
declare -A FUNC=([main]=main.main [chan]=main.chanWaiter [sleep]=main.sleeper
    [sys]=main.syscaller [busy]=main.busy [deep]=main.deep)
declare -A BLOCK=([main]=main-block [chan]=chan-block [sleep]=sleep-block
    [sys]=syscall-block [deep]=deep-block)
declare -A GOSTMT=([chan]=chan-go [sleep]=sleep-go [sys]=syscall-go [busy]=busy-go
    [deep]=deep-go)
KINDS="main chan sleep sys busy deep"
# Go adds ", N minutes" after a minute and ", locked to thread" to the
# wait reason
STATUS_TAIL='(, [0-9]+ minutes)?(, locked to thread)?'

# parse_dump2 FILE: Go's debug=2 text into FILE.rec, one record per line,
# tab-separated:
#   G ID STATUS                        a goroutine's header
#   F ID INDEX FUNC FILE LINE          a frame (INDEX 0 innermost)
#   C ID FUNC FILE LINE                its "created by"
#   E ID                               "...additional frames elided..."
#   U ID                               "goroutine running on other thread;
#                                      stack unavailable" (Go says so of a
#                                      goroutine running elsewhere)
# Fails (status 1, the reason in FILE.err) on any line that is none of
# these, a frame without its "\tFILE:LINE +0xOFF" line, a goroutine
# without frames or no goroutine at all.
parse_dump2()
{
	awk -v errf="$1.err" '
		BEGIN { OFS = "\t" }
		function bad(m) {
			printf "line %d: %s: \"%s\"\n", NR, m, $0 >errf
			err = 1
			exit 1
		}
		function endblock() {
			if (want == "file")
				bad("a frame without its file line")
			if (cur != "" && !nfr && !unavail)
				bad("goroutine " cur " has no frames")
			cur = ""
		}
		want == "file" {
			if ($0 !~ /^\t[^\t]+:[0-9]+( \+0x[0-9a-f]+)?$/)
				bad("want TAB FILE:LINE [+0xOFF]")
			loc = substr($0, 2)
			sub(/ \+0x[0-9a-f]+$/, "", loc)
			line = loc; sub(/.*:/, "", line)
			file = loc; sub(/:[0-9]+$/, "", file)
			if (kind == "F")
				print "F", cur, idx++, fn, file, line
			else
				print "C", cur, fn, file, line
			want = ""
			next
		}
		/^goroutine [0-9]+ \[[^]]*\]:$/ {
			if (cur != "")
				bad("no blank line before this goroutine")
			cur = $2
			st = $0
			sub(/^goroutine [0-9]+ \[/, "", st)
			sub(/\]:$/, "", st)
			print "G", cur, st
			idx = nfr = unavail = 0
			ngor++
			next
		}
		/^$/ { endblock(); next }
		cur == "" { bad("outside a goroutine block") }
		/^\tgoroutine running on other thread; stack unavailable$/ {
			print "U", cur
			unavail = 1
			next
		}
		/^\.\.\.additional frames elided\.\.\.$/ { print "E", cur; next }
		/^created by [^ ]+( in goroutine [0-9]+)?$/ {
			fn = $3
			kind = "C"
			want = "file"
			next
		}
		/^[^\t ][^\t]*\(.*\)$/ {
			fn = $0
			sub(/\([^()]*\)$/, "", fn)
			kind = "F"
			want = "file"
			nfr++
			next
		}
		{ bad("neither a goroutine header, a frame, \"created by\" nor a blank line") }
		END {
			if (err)
				exit 1
			endblock()
			if (err)
				exit 1
			if (!ngor) {
				print "no \"goroutine N [STATUS]:\" line at all" >errf
				exit 1
			}
		}' "$1" >"$1.rec"
}

# summarize_dump2 FILE: from FILE.rec, one line per goroutine into
# FILE.sum, tab-separated:
#   ID KIND STATUS FILE LINE CFUNC CFILE CLINE NDEEP DEEPBAD ELIDED UNAVAIL
# KIND is the first of main.main, main.chanWaiter, main.sleeper,
# main.syscaller, main.busy, main.deep found among its frames (main, chan,
# sleep, sys, busy, deep; "other" if none); FILE:LINE that frame's;
# CFUNC/CFILE/CLINE its "created by" ("-" if none); NDEEP its main.deep
# frames and DEEPBAD how many of them are not at the line gor marks
# (deep-block for the innermost, deep-call for the others).
summarize_dump2()
{
	awk -v dblock="$(gor_mark deep-block)" -v dcall="$(gor_mark deep-call)" '
		BEGIN {
			FS = OFS = "\t"
			k["main.main"] = "main"; k["main.chanWaiter"] = "chan"
			k["main.sleeper"] = "sleep"; k["main.syscaller"] = "sys"
			k["main.busy"] = "busy"; k["main.deep"] = "deep"
		}
		$1 == "G" {
			id = $2; ids[++n] = id; st[id] = $3; kind[id] = "other"
			file[id] = line[id] = cf[id] = cfile[id] = cline[id] = "-"
			nd[id] = db[id] = el[id] = un[id] = 0
		}
		$1 == "F" && kind[$2] == "other" && ($4 in k) {
			kind[$2] = k[$4]; file[$2] = $5; line[$2] = $6
		}
		$1 == "F" && $4 == "main.deep" {
			want = nd[$2] ? dcall : dblock
			nd[$2]++
			if ($6 != want)
				db[$2]++
		}
		$1 == "C" { cf[$2] = $3; cfile[$2] = $4; cline[$2] = $5 }
		$1 == "E" { el[$2] = 1 }
		$1 == "U" { un[$2] = 1 }
		END {
			for (i = 1; i <= n; i++) {
				id = ids[i]
				print id, kind[id], st[id], file[id], line[id], cf[id],
				    cfile[id], cline[id], nd[id], db[id], el[id], un[id]
			}
		}' "$1.rec" >"$1.sum"
}

# kind_count FILE KIND: goroutines of KIND in FILE.sum, and how many of
# them have KIND's wait reason: "ALL WITH_STATUS".
kind_count()
{
	awk -F '\t' -v k="$2" -v re="^(${STATUS[$2]})$STATUS_TAIL\$" '
		$2 == k { n++; if ($3 ~ re) s++ }
		END { printf "%d %d\n", n, s }' "$1.sum"
}

# dump_ready FILE [ref]: FILE is a debug=2 dump in Go's format with every
# kind of gor's goroutines there, as many as started and each in its wait
# reason; else prints why not and returns 1, or 2 when FILE is not in
# Go's format at all (no wait will change that).  With "ref" (Go's own dump), the busy
# goroutine may also be one whose stack Go could not show ("goroutine
# running on other thread").
dump_ready()
{
	local f=$1 kind n s why=""
	if ! parse_dump2 "$f"; then
		printf 'not in Go'"'"'s debug=2 format: %s (first lines: %s)\n' \
		    "$(cat "$f.err")" "$(first_lines 3 <"$f" | tr '\n' '|')"
		return 2
	fi
	summarize_dump2 "$f"
	for kind in $KINDS; do
		read -r n s <<<"$(kind_count "$f" "$kind")"
		if [ "$kind" = busy ] && [ "${2:-}" = ref ] && [ "$n" = 0 ] &&
		    [ "$(grep -c '^U' "$f.rec")" = 1 ]; then
			continue
		fi
		if [ "$n" != "${WANT[$kind]}" ] || [ "$s" != "$n" ]; then
			why+="$kind: $n goroutines with ${FUNC[$kind]} ($s of them [${STATUS[$kind]}]), want ${WANT[$kind]}; "
		fi
	done
	[ -z "$why" ] && return 0
	if grep -q '^U' "$f.rec"; then
		why+="some goroutines' stacks are unavailable ('goroutine running on other thread')"
	fi
	printf '%s\n' "$why"
	return 1
}

# wait_dump_ready OUT: fetch debug=2 into OUT every 0.2 s until dump_ready
# (15 s at most).
wait_dump_ready()
{
	local out=$1 i why rc
	for ((i = 0; i < 75; i++)); do
		fetch_text "$BASE/debug/pprof/goroutine?debug=2" "$out"
		rc=0
		why=$(dump_ready "$out") || rc=$?
		[ "$rc" = 0 ] && return 0
		[ "$rc" = 2 ] && break
		alive "$TARGET_PID" || fail "gor died: $(cat "$TARGET_OUT.err")"
		sleep 0.2
	done
	say "last debug=2 answer (first 40 lines):"
	first_lines 40 <"$out" | sed 's/^/  /'
	[ "$rc" = 2 ] || why="after 15 s, $why"
	fail "debug=2: $why"
}

# check_dump2 FILE [ref]: the checks of a ready debug=2 dump.  With
# "ref" (Go's own dump): Go 1.19 cuts a stack at 100 frames, hidden
# runtime frames included, without saying so (the elision line is printed
# only when 100 frames were shown).
check_dump2()
{
	local f=$1 kind id st file line cf cfile cline nd db el dup ok_kinds=""
	dup=$(awk '$1 == "G" { print $2 }' "$f.rec" | sort | uniq -d | first_line)
	[ -z "$dup" ] || fail "debug=2: goroutine $dup listed twice"
	while IFS=$'\t' read -r id kind st file line cf cfile cline nd db el _; do
		[ "$kind" = other ] && continue
		[[ $file =~ $GOR_FILE_RE ]] ||
		    fail "debug=2: goroutine $id ($kind): ${FUNC[$kind]} in file '$file', want gor's source, absolute, as the build named it"
		if [ "$kind" != busy ] && [ "$line" != "$(gor_mark "${BLOCK[$kind]}")" ]; then
			fail "debug=2: goroutine $id: ${FUNC[$kind]} at line $line, want $(gor_mark "${BLOCK[$kind]}") (gor:${BLOCK[$kind]})"
		fi
		if [ "$kind" = main ]; then
			[ "$id" = 1 ] || fail "debug=2: main.main is goroutine $id, want 1"
		else
			[ "$cf" = main.main ] ||
			    fail "debug=2: goroutine $id ($kind): created by '$cf', want main.main"
			if ! [[ $cfile =~ $GOR_FILE_RE ]] ||
			    [ "$cline" != "$(gor_mark "${GOSTMT[$kind]}")" ]; then
				fail "debug=2: goroutine $id ($kind): created by main.main at $cfile:$cline, want gor's main.go:$(gor_mark "${GOSTMT[$kind]}") (gor:${GOSTMT[$kind]})"
			fi
		fi
		if [ "$kind" = deep ]; then
			if [ "$el" = 1 ]; then
				# Go prints 100 frames (the runtime's hidden
				# ones count), then the elision line
				[ "$nd" -ge 50 ] ||
				    fail "debug=2: the deep goroutine: $nd main.deep frames before '...additional frames elided...', want 50 or more"
			elif [ "${2:-}" = ref ]; then
				[ "$nd" -ge 50 ] ||
				    fail "debug=2: the deep goroutine: $nd main.deep frames, want 50 or more"
			else
				[ "$nd" -ge "$DEPTH" ] ||
				    fail "debug=2: the deep goroutine: $nd main.deep frames and no '...additional frames elided...', want $DEPTH"
			fi
			[ "$db" = 0 ] ||
			    fail "debug=2: the deep goroutine: $db of its $nd main.deep frames not at gor:deep-call (or gor:deep-block for the innermost)"
			ok "debug=2: goroutine $id [$st]: $nd main.deep frames at the marked lines$([ "$el" = 1 ] && echo ", then '...additional frames elided...'"), created by main.main at line $cline"
		fi
		case " $ok_kinds " in *" $kind "*) ;; *)
			ok_kinds+=" $kind"
			ok "debug=2: $kind: ${WANT[$kind]} goroutine(s) [$st], e.g. $id: ${FUNC[$kind]} at main.go:$line$([ "$cf" = - ] || echo ", created by $cf at main.go:$cline")"
			;;
		esac
	done <"$f.sum"
}

# check_dump1 FILE NDUMP2: Go's debug=1 count text: total T within 2 of
# NDUMP2 (the goroutines of a debug=2 taken right after), groups "K @
# PC..." adding up to T, each followed by its "#\tPC\tFUNC+0xOFF\tFILE:LINE"
# lines; one group of NCHAN with main.chanWaiter at gor:chan-block, one
# of NSLEEP with main.sleeper, one of NSYS with main.syscaller.  A memory
# map at the end ("--- Memory map: ---", as threads?debug=1 has, for go
# tool pprof to symbolize with) may follow.  Sets T.
check_dump1()
{
	local f=$1 n2=$2 sum nbad msg kind fn cnt loc
	T=$(sed -n '1s/^goroutine profile: total \([0-9][0-9]*\)$/\1/p' "$f")
	[ -n "$T" ] || fail "debug=1: first line '$(first_line <"$f")', want 'goroutine profile: total N'"
	expect_range "debug=1: total minus the goroutines of a debug=2 right after" "$((T - n2))" -2 2
	# "COUNT FUNC FILE:LINE" for the first frame of ours in each group
	read -r sum nbad msg <<<"$(awk -v grp="$f.groups" '
		function endgroup() {
			if (ingroup && !nfr) { bad++; if (!msg) msg = "group at line " gline " has no # lines" }
			if (ingroup) print cnt, (mine == "" ? "-" : mine) >grp
			ingroup = 0
		}
		NR == 1 { next }
		inmap { next }
		/^--- Memory map: ---$/ { endgroup(); inmap = 1; next }
		/^[0-9]+ @( 0x[0-9a-f]+)+$/ {
			endgroup()
			ingroup = 1; gline = NR; cnt = $1; nfr = 0; mine = ""
			sum += $1; next
		}
		/^# labels: / { next }
		/^#[ \t]+0x[0-9a-f]+([ \t]+[^ \t]+\+0x[0-9a-f]+[ \t]+[^ \t]+:[0-9]+)?$/ {
			if (!ingroup) { bad++; if (!msg) msg = "# line outside a group at line " NR }
			nfr++
			n = split($0, w, /[ \t]+/)
			fn = w[3]; sub(/\+0x[0-9a-f]+$/, "", fn)
			if (n == 4 && mine == "" && fn ~ /^main\./)
				mine = fn " " w[4]
			next
		}
		/^$/ { endgroup(); next }
		{ bad++; if (!msg) msg = "unexpected line " NR ": " $0 }
		END { endgroup(); printf "%d %d %s\n", sum, bad, msg }' "$f")"
	[ "$nbad" = 0 ] || fail "debug=1: malformed ($nbad problems), first: $msg"
	[ "$sum" = "$T" ] || fail "debug=1: groups add up to $sum, the header says total $T"
	ok "debug=1: 'goroutine profile: total $T' ($n2 goroutines in debug=2), groups add up to it"
	for kind in chan sleep sys; do
		fn=${FUNC[$kind]}
		read -r cnt loc <<<"$(awk -v fn="$fn" '$2 == fn { print $1, $3; exit }' "$f.groups")"
		[ -n "$cnt" ] || fail "debug=1: no group whose first frame of main is $fn"
		[ "$cnt" = "${WANT[$kind]}" ] || fail "debug=1: the $fn group counts $cnt, want ${WANT[$kind]}"
		if ! [[ ${loc%:*} =~ $GOR_FILE_RE ]] ||
		    [ "${loc##*:}" != "$(gor_mark "${BLOCK[$kind]}")" ]; then
			fail "debug=1: $fn at $loc, want gor's main.go:$(gor_mark "${BLOCK[$kind]}")"
		fi
		ok "debug=1: group '$cnt @ ...' with $fn at main.go:${loc##*:}"
	done
}

# check_dump0 FILE: a goroutine/count profile of about T goroutines
# (+-2), each kind of gor's counted right, by pprof-dump and go tool pprof.
check_dump0()
{
	local f=$1 s=$1.summary types n kind fn fl tr
	types=$(grep '^sample_type ' "$s" | tr '\n' ' ')
	[ "$types" = "sample_type goroutine/count " ] ||
	    fail "debug=0: sample types '$types', want goroutine/count"
	n=$(summary_get "$s" 'total[0]')
	expect_range "debug=0: goroutines minus debug=1's total ($T)" "$((n - T))" -2 2
	fl=$f.folded
	pdump folded "$f" >"$fl" || fail "pprof-dump folded $f failed"
	tr=$f.traces
	pprof_traces_folded "$f" >"$tr" || fail "go tool pprof -traces $f failed"
	[ "$(fold_total "$tr")" = "$n" ] ||
	    fail "debug=0: go tool pprof -traces counts $(fold_total "$tr") goroutines, pprof-dump $n"
	for kind in $KINDS; do
		fn=${FUNC[$kind]}
		[ "$(fold_sum "$fl" "$fn")" = "${WANT[$kind]}" ] ||
		    fail "debug=0: $fn in $(fold_sum "$fl" "$fn") goroutines (pprof-dump), want ${WANT[$kind]}"
		[ "$(fold_sum "$tr" "$fn")" = "${WANT[$kind]}" ] ||
		    fail "debug=0: $fn in $(fold_sum "$tr" "$fn") goroutines (go tool pprof -traces), want ${WANT[$kind]}"
	done
	pprof -symbolize=none -raw "$f" >"$f.raw" 2>"$f.raw.err" ||
	    fail "go tool pprof -raw on debug=0 failed: $(cat "$f.raw.err")"
	grep -q '^PeriodType: goroutine count' "$f.raw" ||
	    fail "go tool pprof -raw: no 'PeriodType: goroutine count': $(first_lines 3 <"$f.raw")"
	ok "debug=0: goroutine/count, $n goroutines, each kind of gor's counted right by pprof-dump and go tool pprof"
}

# check_threads: /debug/pprof/threads?debug=1 counts the OS threads, as
# many as /proc/PID/task has before and after (retried while they differ:
# the runtime may start a thread).
check_threads()
{
	local i n0 n1 total f=$TEST_DIR/threads1.txt
	for ((i = 0; i < 5; i++)); do
		n0=$(find "/proc/$TARGET_PID/task" -mindepth 1 -maxdepth 1 | wc -l)
		fetch_text "$BASE/debug/pprof/threads?debug=1" "$f"
		n1=$(find "/proc/$TARGET_PID/task" -mindepth 1 -maxdepth 1 | wc -l)
		[ "$n0" = "$n1" ] && break
	done
	[ "$n0" = "$n1" ] || fail "the target's thread count kept changing ($n0, $n1)"
	total=$(sed -n '1s/^threads profile: total \([0-9][0-9]*\)$/\1/p' "$f")
	[ "$total" = "$n0" ] ||
	    fail "/debug/pprof/threads?debug=1: '$(first_line <"$f")', want 'threads profile: total $n0' (/proc/$TARGET_PID/task)"
	ok "/debug/pprof/threads?debug=1: total $total threads, as /proc/$TARGET_PID/task"
}

# check_reference VARIANT: Go's own dumps of the target (gor -dump, on
# SIGUSR2), asked for every 0.2 s until all goroutines show as blocked,
# pass check_dump2, check_dump1 and check_dump0: what is asked of profd
# holds for Go.
check_reference()
{
	local G=$TEST_DIR/$1.go i why
	for ((i = 1; i <= 75; i++)); do
		kill -USR2 "$TARGET_PID"
		wait_for_line "$TARGET_OUT" "^dump done $i\$" 10 "$TARGET_PID" ||
		    fail "gor wrote no dump $i: $(cat "$TARGET_OUT.err")"
		why=$(dump_ready "$G.2" ref) && break
		sleep 0.2
	done
	[ -z "$why" ] || fail "Go's own debug=2 after 15 s: $why"
	say "Go's own debug=2 (runtime/pprof), first 12 lines:"
	first_lines 12 <"$G.2" | sed 's/^/  /'
	check_dump2 "$G.2" ref
	check_dump1 "$G.1" "$(grep -c '^G' "$G.2.rec")"
	pdump summary "$G.0" >"$G.0.summary" || fail "pprof-dump cannot decode Go's own debug=0"
	check_dump0 "$G.0"
	ok "Go's own dumps pass the checks profd's must pass"
}

# check_variant VARIANT: all of the above on build/targets/VARIANT.
check_variant()
{
	local variant=$1 D2=$TEST_DIR/$1.dump2 D1=$TEST_DIR/$1.dump1 D0=$TEST_DIR/$1.dump0.pb.gz n
	say "---- $variant"
	start_target "$variant" "${GOR_ARGS[@]}" -dump "$TEST_DIR/$variant.go"
	[ "$(gor_said goroutines)" = "$NGOR" ] ||
	    fail "gor says it runs $(gor_said goroutines) goroutines, want $NGOR"
	say "-- Go's own dumps"
	check_reference "$variant"
	say "-- profd's dumps"
	start_profd

	wait_dump_ready "$D2"
	say "debug=2 (first 30 lines):"
	first_lines 30 <"$D2" | sed 's/^/  /'
	check_dump2 "$D2"

	fetch_text "$BASE/debug/pprof/goroutine?debug=1" "$D1"
	fetch_text "$BASE/debug/pprof/goroutine?debug=2" "$D2.after"
	parse_dump2 "$D2.after" || fail "debug=2: $(cat "$D2.after.err")"
	n=$(grep -c '^G' "$D2.after.rec")
	check_dump1 "$D1" "$n"

	fetch_profile "$BASE/debug/pprof/goroutine" "$D0"
	check_dump0 "$D0"

	check_threads
	gor_end
}

check_variant gor
check_variant gor-stripped
say "PASS go_goroutines"
