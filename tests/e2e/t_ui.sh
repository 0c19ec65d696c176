#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_ui - the page at /ui/ and format=svg. Headless Chromium (a fresh
# profile directory; every address but loopback sent to a dead proxy, so
# the page can reach profd and nothing else) loads the page's self test
# (/ui/?selftest=1: load a profile, click a frame, search; what the page
# then shows written as JSON into <pre id=selftest>, read back with
# --dump-dom) against split (hot_a/hot_b/hot_c under their callers): the
# rendered frames hold each hot function under its own callers, in their
# 60/30/10 order; a click on chain_b1 makes it the full width and leaves
# only its callers and callees; a search highlights the three leaves and
# says their share; while the window runs the page counts down; hovering
# hot_a gives its samples, share and split.c:LINE; the thread filter keeps
# one worker's samples. The differential view: two windows of phases, whose
# hot function changes from phase_one to phase_two on SIGUSR1 between
# them, shows phase_two grown and phase_one shrunk. A screenshot is kept
# in tests/tmp/logs/. format=svg of profile, wall and memory is XML that
# names the hot functions; format=nonsense answers 400.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ui_lib.sh"
t_begin ui
need_chromium

# ---- the page itself ---------------------------------------------------------
start_target split 2 120
start_profd
code=$(fetch "$BASE/ui" "$TEST_DIR/redir")
expect_status "GET /ui" "$code" 301
[ "$(header "$TEST_DIR/redir.headers" Location)" = /ui/ ] || fail "GET /ui: not sent to /ui/"
for f in "" app.js app.css; do
	code=$(fetch "$BASE/ui/$f" "$TEST_DIR/asset")
	expect_status "GET /ui/$f" "$code" 200
	cmp -s "$TEST_DIR/asset" "ui/${f:-index.html}" || fail "GET /ui/$f is not ui/${f:-index.html}"
	csp=$(header "$TEST_DIR/asset.headers" Content-Security-Policy)
	[[ $csp == *"default-src 'self'"* ]] || fail "GET /ui/$f: Content-Security-Policy '$csp'"
done
ok "GET /ui/, app.js, app.css: the files of ui/, with a same-origin Content-Security-Policy"
if grep -Eiq '(src|href)="?(https?:)?//' ui/index.html ui/app.css ui/app.js; then
	fail "the page refers to another host: $(grep -Eio '(src|href)="?(https?:)?//[^ ]*' ui/* | first_line)"
fi
expect_error "$BASE/ui/nothing.js" 404

T=$TEST_DIR/split.json
selftest "$T" "target=pid:$TARGET_PID&mode=profile&seconds=3&click=chain_b1&search=%5Ehot_&hover=hot_a&thread=split-w0"
check "$T" '
if not r.get("done"):
    sys.exit("self test did not finish: %s" % r.get("error"))
print("page: " + r["title"])'
# each hot function under its callers, as drawn (parents found by geometry)
check "$T" '
fr = r["frames"]
want = {"hot_a": "do_round;chain_a1;hot_a", "hot_b": "do_round;chain_b1;chain_b2;chain_b3;hot_b",
        "hot_c": "do_round;hot_c"}
for leaf, chain in want.items():
    got = [f for f in fr if f["name"] == leaf]
    if not got:
        sys.exit("no frame %s drawn; frames: %s" % (leaf, [f["name"] for f in fr]))
    if not all(f["path"].endswith(chain) for f in got):
        sys.exit("%s drawn under %s, want ...;%s" % (leaf, [f["path"] for f in got], chain))
    print("ok: %s drawn under %s" % (leaf, got[0]["path"]))
w = {f["name"]: f["width"] for f in fr}
if not w["hot_a"] > w["hot_b"] > w["hot_c"]:
    sys.exit("widths hot_a %d, hot_b %d, hot_c %d: want 60/30/10 order" % (w["hot_a"], w["hot_b"], w["hot_c"]))
s = {f["name"]: f["share"] for f in fr}
print("ok: widths hot_a %d > hot_b %d > hot_c %d px (shares %.1f/%.1f/%.1f %%)" %
      (w["hot_a"], w["hot_b"], w["hot_c"], s["hot_a"], s["hot_b"], s["hot_c"]))'
check "$T" '
z = r["zoom"]
if abs(z["width"] - z["flame_width"]) > 2:
    sys.exit("after a click chain_b1 is %d px wide, the graph %d" % (z["width"], z["flame_width"]))
for gone in ("hot_a", "hot_c", "chain_a1"):
    if gone in z["frames"]:
        sys.exit("after zooming into chain_b1, %s is still drawn: %s" % (gone, z["frames"]))
for kept in ("do_round", "chain_b2", "hot_b"):
    if kept not in z["frames"]:
        sys.exit("after zooming into chain_b1, %s is gone: %s" % (kept, z["frames"]))
print("ok: a click on chain_b1 zooms: full width (%d px), callers and callees kept, hot_a/hot_c gone" % z["width"])'
check "$T" '
s = r["search"]
if sorted(s["matched"]) != ["hot_a", "hot_b", "hot_c"]:
    sys.exit("search ^hot_ highlighted %s" % s["matched"])
share = float(s["text"].split()[1].rstrip("%"))
if not 90 <= share <= 100:
    sys.exit("search ^hot_: %s, want 90..100 %%" % s["text"])
print("ok: search ^hot_ highlights hot_a, hot_b, hot_c: " + s["text"])'

check "$T" '
import re
c = r["collecting"]
if not re.fullmatch(r"Collecting CPU profile for 3 s: [0-9] s left", c):
    sys.exit("while the window ran the page said %r, want a countdown" % c)
print("ok: while the window ran: " + c)'
check "$T" '
import re
t = r["tooltip"]
if not re.search(r"^hot_a$", t, re.M) or not re.search(r"[0-9.]+% of all", t) or \
   not re.search(r"samples", t) or not re.search(r"split\.c:[0-9]+$", t, re.M):
    sys.exit("tooltip of hot_a: %r, want its name, samples, share and split.c:LINE" % t)
print("ok: tooltip of hot_a: " + t.replace("\n", " | "))'
check "$T" '
th = r["thread"]
if th["name"] != "split-w0" or not 0 < th["total"] < r["total"] or "hot_a" not in th["frames"]:
    sys.exit("thread filter split-w0: %s (all: %d)" % (th, r["total"]))
print("ok: thread filter split-w0 keeps %.0f %% of the samples, hot_a still drawn" % (100.0 * th["total"] / r["total"]))'

chrome --screenshot="$SHOT" "$BASE/ui/?selftest=1&target=pid:$TARGET_PID&mode=profile&seconds=2&search=hot_b" >/dev/null ||
    fail "chromium --screenshot failed: $(tail -n 5 "$CHROME_ERR")"
[ "$(head -c 4 "$SHOT" | od -An -c | tr -d ' ')" = '211PNG' ] || fail "no PNG screenshot at $SHOT"
ok "screenshot: $SHOT ($(wc -c <"$SHOT") bytes)"

# ---- format=svg --------------------------------------------------------------
for ep in "profile?seconds=2" "wall?seconds=2" "memory"; do
	S=$TEST_DIR/${ep%%\?*}.svg
	case $ep in *\?*) sep='&' ;; *) sep='?' ;; esac
	code=$(fetch "$BASE/debug/pprof/$ep${sep}format=svg" "$S")
	expect_status "GET $ep format=svg" "$code" 200
	[ "$(header "$S.headers" Content-Type)" = image/svg+xml ] ||
	    fail "$ep format=svg: Content-Type $(header "$S.headers" Content-Type)"
	xmllint --noout "$S" 2>"$S.err" || fail "$ep format=svg is not well-formed XML: $(head -n 3 "$S.err")"
	ok "$ep format=svg: $(wc -c <"$S") bytes of well-formed SVG"
done
S=$TEST_DIR/profile.svg
for fn in hot_a hot_b hot_c chain_b3 do_round; do
	xmllint --xpath "//*[local-name()='title'][starts-with(., '$fn (')]" "$S" >/dev/null 2>&1 ||
	    fail "profile format=svg: no frame titled $fn"
done
ok "profile format=svg: $(xmllint --xpath "string(//*[local-name()='title'][starts-with(., 'hot_a (')])" "$S")"
grep -E '<text[^>]*>\[heap\]|resident' "$TEST_DIR/memory.svg" >/dev/null ||
    fail "memory format=svg names neither [heap] nor resident bytes"
expect_error "$BASE/debug/pprof/profile?seconds=1&format=nonsense" 400
expect_error "$BASE/debug/pprof/history?format=png" 400
wait_untraced 5 || fail "profd still attached 5 s after the windows ended"
assert_target_ok
stop_profd

# ---- the differential view ------------------------------------------------------
start_target phases 2 120
PH_OUT=$TEST_DIR/target.$_nstarted.phases.out
start_profd
U="/pid/$TARGET_PID/debug/pprof/profile%3Fseconds%3D3"
D=$TEST_DIR/diff.json
selftest "$D" "target=pid:$TARGET_PID&base=$U&newer=$U&search=phase_two" &
chrome_pid=$!
# the first window (the older profile) in phase 1, then phase 2 for the
# second: the switch as soon as the first window is done
for ((n = 0; n < 300; n++)); do
	[ "$(grep -c 'window done' "$PROFD_LOG" || true)" -ge 1 ] && break
	alive "$chrome_pid" || break
	sleep 0.1
done
[ "$(grep -c 'window done' "$PROFD_LOG" || true)" -ge 1 ] || fail "the page's first window never ended"
kill -USR1 "$TARGET_PID"
wait_for_line "$PH_OUT" '^phase 2$' 10 "$TARGET_PID" || fail "phases did not switch to phase 2"
wait "$chrome_pid" || fail "the differential self test failed"
check_phase_diff "$D"
wait_untraced 5 || fail "profd still attached 5 s after the windows ended"
assert_target_ok
stop_profd
assert_target_ok
say "PASS ui"
