#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_symbol - /debug/pprof/symbol names an address as the profile does.
# The demo target (tests/targets/demo.c) spends CPU in its own functions
# and in libc's qsort, whose code has inline frames and whose functions
# have several ELF names (__qsort_r, __GI___qsort_r, qsort_r).
#   1. For up to 24 location addresses of a CPU profile, callers and
#      leaves (at most 12 per mapping, so libc's are among them), POST /debug/pprof/symbol answers
#      the name of the function that owns the code there: the profile's
#      non-inline frame for that location, alias and all.
#   2. go tool pprof -symbolize=remote, given the profile with the lines
#      of its file mappings stripped (pprof names remotely only locations
#      without lines), names every location from /symbol's answers, and the
#      -top -noinlines table is the one of the profile itself
#      (-symbolize=none). (-symbolize=remote:force on profd's own profile
#      would not ask /symbol at all: its locations have lines.)
. "$(dirname "$0")/lib.sh"
t_begin symbol
need_pprof_dump
need_go

start_target demo 120
start_profd
assert_target_ok

# ---- 1. /symbol against the profile's own names --------------------------------
P=$TEST_DIR/cpu.pb.gz
fetch_profile "$BASE/debug/pprof/profile?seconds=3&hz=199" "$P"
# "ADDRESS NAME" for every location with a name (go tool pprof -raw: a
# location's first line "ID: ADDRESS M=MAPPING NAME FILE:LINE s=N", its
# outer inline frames on the lines below), NAME its last (non-inline)
# frame; callers as well as leaves, at most 12 per mapping.
pprof -symbolize=none -raw "$P" >"$TEST_DIR/raw" 2>"$TEST_DIR/raw.err" ||
    fail "go tool pprof -raw failed: $(cat "$TEST_DIR/raw.err")"
awk '/^Locations/ { on = 1; next } /^Mappings/ { on = 0 }
    on && $1 ~ /^[0-9]+:$/ { if (a != "") print a, m, name
	a = $2; m = $3; name = $4; next }
    on && NF >= 2 && $1 !~ /^[0-9]+:$/ { name = $1 }
    END { if (a != "") print a, m, name }' "$TEST_DIR/raw" |
    awk '$3 !~ /^\[/ && n[$2]++ < 12 { print $1, $3 }' | first_lines 24 >"$TEST_DIR/want"
n=$(wc -l <"$TEST_DIR/want")
[ "$n" -ge 5 ] || fail "only $n named leaf addresses in the profile"
grep -q qsort "$TEST_DIR/want" ||
    say "(no qsort frame among them this time: $(cut -d' ' -f2 "$TEST_DIR/want" | sort -u | tr '\n' ' '))"
body=$(cut -d' ' -f1 "$TEST_DIR/want" | paste -sd+)
code=$(fetch "$BASE/debug/pprof/symbol" "$TEST_DIR/sym" \
    -H 'Content-Type: application/octet-stream' --data-binary "$body")
expect_status "POST /debug/pprof/symbol" "$code" 200
bad=0
while read -r addr want; do
	got=$(awk -v a="$addr" '$1 == a { $1 = ""; sub(/^ /, ""); print; exit }' "$TEST_DIR/sym")
	if [ "$got" != "$want" ]; then
		say "  $addr: /symbol '$got', profile '$want'"
		bad=$((bad + 1))
	fi
done <"$TEST_DIR/want"
[ "$bad" = 0 ] || fail "/symbol disagrees with the profile on $bad of $n addresses (above)"
ok "/symbol names all $n addresses as the profile does ($(cut -d' ' -f2 "$TEST_DIR/want" | sort -u | first_lines 8 | tr '\n' ' '))"

# ---- 2. pprof's remote symbolization names as the profile does -----------------
# pprof names remotely only locations without lines, and only for a profile
# it fetched over HTTP: a small server hands it the profile with the lines
# of its file mappings stripped (pprof-dump strip) and passes its /symbol
# requests on to profd. With every location named from /symbol, the
# -top -noinlines table must be the profile's own.
pdump strip "$P" >"$TEST_DIR/stripped.pb.gz" || fail "pprof-dump strip failed"
cat >"$TEST_DIR/proxy.py" <<'EOF_PY'
import http.server, sys, urllib.request
profile, upstream = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path.startswith("/debug/pprof/profile"):
            self.reply(200, open(profile, "rb").read())
        else:
            self.reply(404, b"not here\n")
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        req = urllib.request.Request(upstream + self.path, data=body, method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            self.reply(r.status, r.read())
    def log_message(self, fmt, *args):
        print("proxy: " + fmt % args, flush=True)
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print("listening on 127.0.0.1:%d" % s.server_address[1], flush=True)
s.serve_forever()
EOF_PY
(exec python3 "$TEST_DIR/proxy.py" "$TEST_DIR/stripped.pb.gz" "$BASE" \
    >"$TEST_DIR/proxy.log" 2>&1) &
PROXY_PID=$!
_track "$PROXY_PID"
wait_for_line "$TEST_DIR/proxy.log" 'listening on 127\.0\.0\.1:[0-9]+' 10 "$PROXY_PID" ||
    fail "the proxy did not start: $(cat "$TEST_DIR/proxy.log")"
PROXY=http://$(grep -Eo '127\.0\.0\.1:[0-9]+' "$TEST_DIR/proxy.log" | first_line)
mkdir -p "$TEST_DIR/pp"
PPROF_TMPDIR=$TEST_DIR/pp HOME=$TEST_DIR GOFLAGS='' GOPROXY=off \
    go tool pprof -symbolize=remote -top -noinlines -nodecount=200 \
    "$PROXY/debug/pprof/profile" >"$TEST_DIR/remote.top" 2>"$TEST_DIR/remote.err" ||
    fail "go tool pprof -symbolize=remote failed: $(cat "$TEST_DIR/remote.err")"
grep -q 'POST /debug/pprof/symbol' "$TEST_DIR/proxy.log" ||
    fail "go tool pprof never asked /debug/pprof/symbol: $(cat "$TEST_DIR/proxy.log" "$TEST_DIR/remote.err")"
pprof -symbolize=none -top -noinlines -nodecount=200 "$P" >"$TEST_DIR/none.top" 2>&1 ||
    fail "go tool pprof -symbolize=none failed: $(cat "$TEST_DIR/none.top")"
# the tables from the "flat flat%" header on (the header above names the file)
for f in remote none; do
	sed -n '/^ *flat  *flat%/,$p' "$TEST_DIR/$f.top" >"$TEST_DIR/$f.table"
done
[ "$(wc -l <"$TEST_DIR/none.table")" -ge 3 ] || fail "empty -top table: $(cat "$TEST_DIR/none.top")"
diff "$TEST_DIR/none.table" "$TEST_DIR/remote.table" >"$TEST_DIR/top.diff" ||
    fail "names from /symbol differ from the profile's: $(head -n 20 "$TEST_DIR/top.diff")"
ok "pprof -symbolize=remote over the stripped profile: the $(($(wc -l <"$TEST_DIR/none.table") - 1)) rows of -top -noinlines are the profile's"

stop_profd
say "PASS symbol"
