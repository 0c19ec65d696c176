# shellcheck shell=bash
# ui_lib.sh - headless Chromium for the page at /ui/ (t_ui.sh,
# t_ui_timeline.sh), sourced after lib.sh. The page's self test
# (/ui/?selftest=1&..., see ui/app.js) writes what the page shows as JSON
# into <pre id=selftest>; Chromium's --dump-dom gives it back. Chromium
# runs with a fresh profile directory each time and every address but
# loopback sent to a dead proxy, so the page reaches profd and nothing
# else.

# need_chromium: what the page's tests need; sets SHOT (where the
# screenshot is kept: tests/tmp/logs/TEST.BUILD.png) and CHROME_ERR.
need_chromium()
{
	command -v chromium >/dev/null || fail "chromium: not installed (scripts/deps.sh)"
	command -v xmllint >/dev/null || fail "xmllint: not installed (scripts/deps.sh installs libxml2-utils)"
	command -v python3 >/dev/null || fail "python3: not installed (scripts/deps.sh)"
	mkdir -p "$E2E_ROOT/tests/tmp/logs"
	# shellcheck disable=SC2034  # used by the t_*.sh scripts
	SHOT=$E2E_ROOT/tests/tmp/logs/t_$TEST_NAME.$(basename "$(dirname "$PROFD")").png
	CHROME_ERR=$TEST_DIR/chromium.err
}

# chrome ARGS... URL: one headless Chromium run with its own profile
# directory, no network but loopback, bounded in time. --no-sandbox: as
# root (CI) Chromium starts only without it, and the page is profd's own;
# --disable-dev-shm-usage: a container's small /dev/shm crashes it.
chrome()
{
	local dir
	dir=$(mktemp -d "$TEST_DIR/chrome.XXXXXX")
	timeout -k 5 60 chromium --headless --no-sandbox --disable-gpu \
	    --disable-dev-shm-usage \
	    --no-first-run --disable-extensions --disable-sync \
	    --disable-background-networking --disable-component-update \
	    --proxy-server=127.0.0.1:9 --window-size=1280,900 \
	    --user-data-dir="$dir" --virtual-time-budget=60000 "$@" \
	    2>>"$CHROME_ERR"
}

# selftest OUT QUERY: the page's self test with QUERY; its JSON into OUT.
selftest()
{
	local out=$1 query=$2
	chrome --dump-dom "$BASE/ui/?selftest=1&$query" >"$out.html" ||
	    fail "chromium --dump-dom failed (exit $?): $(tail -n 5 "$CHROME_ERR")"
	python3 - "$out.html" >"$out" <<'EOF' || fail "no self-test result in the page: $(head -c 600 "$out.html")"
import html, re, sys
m = re.search(r'<pre id="selftest"[^>]*>(.*?)</pre>', open(sys.argv[1]).read(), re.S)
if not m or not m.group(1).strip():
    sys.exit(1)
print(html.unescape(m.group(1)))
EOF
}

# check OUT PYTHON: run PYTHON (reading the self test's JSON as r) and
# print what it prints; fail when it exits non-zero.
check()
{
	local out=$1 code=$2 msg
	if msg=$(python3 -c "import json, sys
r = json.load(open(sys.argv[1]))
$code" "$out" 2>&1); then
		printf '%s\n' "$msg"
	else
		fail "$msg"
	fi
}

# check_phase_diff OUT: the self test OUT drew a profile of phases in phase
# 2 against one in phase 1: phase_two's share grew by 50 points or more,
# phase_one's (if still drawn) shrank by as much.
check_phase_diff()
{
	check "$1" '
if not r.get("done"):
    sys.exit("self test did not finish: %s" % r.get("error"))
fr = {f["name"]: f for f in r["frames"]}
if "phase_two" not in fr:
    sys.exit("no phase_two frame in the newer profile: %s" % list(fr))
two = fr["phase_two"]
if not (two["delta"] is not None and two["delta"] >= 50):
    sys.exit("phase_two share grew by %s points, want 50 or more" % two["delta"])
one = fr.get("phase_one")
if one and one["delta"] > -50:
    sys.exit("phase_one share changed by %s points, want -50 or less" % one["delta"])
print("ok: differential view: phase_two +%.1f points (share %.1f %%), phase_one %s" %
      (two["delta"], two["share"], "%.1f points" % one["delta"] if one else "gone from the newer profile"))'
}
