#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_rel_http - malformed and hostile HTTP: every answer is a status code
# (4xx/5xx for invalid input, 2xx only for valid requests, a one-line
# X-Go-Pprof body for profd's own errors), profd never crashes, the target is
# never left stopped or traced, and profd's memory stays bounded.
#
#   1. ~300 random invalid paths and queries (fixed seed): bad seconds= and
#      hz=, /pid/<garbage>/, /pid/<a process not served>/, %00, bad
#      percent-encoding, ../, very long paths and values;
#   2. raw requests (python3 sockets): request line, one header and the
#      header block over the 16 KiB limit, header lines without a colon,
#      HTTP/0.9 and HTTP/2.0 request lines, garbage and unsupported methods,
#      bad Content-Length, broken chunked bodies, pipelining, POST with a
#      body to the profile endpoint;
#   3. 200 connections at once (all connected before any sends);
#   4. profd's VmRSS and open fds before and after all that;
#   5. with --max-sessions 1 (the daemon asks for max-sessions + 16 = 17
#      civetweb workers, one per connection): 20 clients that send half a
#      request line and then nothing hold their connections while /healthz,
#      a profile window, the 503 for a second window and the 503 for a
#      thread dump are answered; profd's request timeout then drops them.
# Bad seconds/hz values above --max-seconds/--max-hz are t_errors' part.
. "$(dirname "$0")/lib.sh"
t_begin rel_http
need_pprof_dump
command -v python3 >/dev/null || fail "python3: not installed"

# rss_kib PID: VmRSS in KiB.
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

# nfds PID: open file descriptors.
nfds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# profd_alive WHAT: fail, with profd's exit status, if it has died.
profd_alive()
{
	local rc=0
	if ! alive "$PROFD_PID"; then
		wait "$PROFD_PID" || rc=$?
		fail "profd died during $1 (exit status $rc$( ((rc > 128)) && echo ", signal $((rc - 128))"))"
	fi
}

# check_go_error WHAT CODE WANT XGO CTYPE BODYFILE: the answer is an error
# in net/http/pprof's shape: status WANT (a pattern), X-Go-Pprof: 1,
# text/plain and a body of exactly one non-empty line.
check_go_error()
{
	local what=$1 code=$2 want=$3 xgo=$4 ct=$5 body=$6 content nls
	# shellcheck disable=SC2053  # $want is a pattern on purpose
	[[ $code == $want ]] || fail "$what: HTTP status $code, want $want: $(head -c 300 "$body" 2>/dev/null)"
	[ "$xgo" = 1 ] || fail "$what: no X-Go-Pprof: 1 header"
	[[ $ct == text/plain* ]] || fail "$what: Content-Type '$ct', want text/plain"
	# builtins only: this runs for hundreds of answers
	content=
	IFS= read -r -d '' content <"$body" || true
	nls=${content//[!$'\n']/}
	if [ "${#nls}" -ne 1 ] || [[ $content != *$'\n' ]] || [ "${#content}" -lt 5 ]; then
		fail "$what: the body should be one line, got: $(head -c 300 "$body" | od -c | first_lines 5)"
	fi
}

# ---- python3 helpers -------------------------------------------------------

# raw.py PORT PID: hand-made requests, one connection each; one line per
# case: label, outcome (status codes of the answers, comma-separated, or
# "closed" when the connection ended without an answer, "reset"), the
# outcomes allowed, whether a 4xx must be profd's one-line error (1/0),
# X-Go-Pprof of the first answer, 1 if its body is one line, its first line.
cat >"$TEST_DIR/raw.py" <<'EOF'
import re, socket, sys
port, tpid = int(sys.argv[1]), sys.argv[2]
H = b'Host: 127.0.0.1\r\n'
BIG = b'a' * 17000
OVER = '400|413|414|431|closed|reset'

def exchange(data, head=False):
    s = socket.create_connection(('127.0.0.1', port), timeout=30)
    out = b''
    try:
        try:
            if data:
                s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass        # profd answered and closed before all was sent
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                return 'reset' if not out else parse(out, head)
            if not b:
                break
            out += b
    except socket.timeout:
        return 'timeout'
    finally:
        s.close()
    return parse(out, head) if out else 'closed'

def parse(out, head):
    resps = []
    while out:
        hdr, sep, rest = out.partition(b'\r\n\r\n')
        m = re.match(rb'HTTP/\S+ (\d{3}) ', hdr)  # civetweb echoes the request's version
        if not sep or not m:
            resps.append(('garbage', {}, out))
            break
        hdrs = {}
        for l in hdr.split(b'\r\n')[1:]:
            k, _, v = l.partition(b':')
            hdrs.setdefault(k.strip().lower(), v.strip())
        if head:
            body, out = b'', rest
        elif b'content-length' in hdrs:
            n = int(hdrs[b'content-length'])
            body, out = rest[:n], rest[n:]
        else:
            body, out = rest, b''
        resps.append((m.group(1).decode(), hdrs, body))
    return resps

POSTB = b'x' * 65536
cases = [
    # over the 16 KiB limit (profd's max_request_size)
    ('request-line-17KiB', b'GET /debug/pprof/' + BIG + b' HTTP/1.1\r\n' + H + b'\r\n', OVER, 0),
    ('header-block-17KiB', b'GET /healthz HTTP/1.1\r\n' + H + b''.join(
        b'X-Pad-%d: %s\r\n' % (i, b'b' * 100) for i in range(170)) + b'\r\n', OVER, 0),
    ('one-header-17KiB', b'GET /healthz HTTP/1.1\r\n' + H + b'X-Big: ' + BIG + b'\r\n\r\n', OVER, 0),
    # malformed request lines and headers: civetweb's own answers
    ('header-without-colon', b'GET /healthz HTTP/1.1\r\n' + H + b'this line has no colon\r\n\r\n', '400', 0),
    ('http0.9-simple-request', b'GET /healthz\r\n\r\n', '400|closed', 0),
    ('version-HTTP/0.9', b'GET /healthz HTTP/0.9\r\n' + H + b'\r\n', '400|505', 0),
    ('version-HTTP/2.0', b'GET /healthz HTTP/2.0\r\n' + H + b'\r\n', '400|505', 0),
    ('version-garbage', b'GET /healthz HTTP/x.y\r\n' + H + b'\r\n', '400|505', 0),
    ('no-version', b'GET /healthz FOO\r\n' + H + b'\r\n', '400', 0),
    ('space-in-uri', b'GET /debug/pprof/ cmdline HTTP/1.1\r\n' + H + b'\r\n', '400|505', 0),
    ('method-garbage', b'FOO /healthz HTTP/1.1\r\n' + H + b'\r\n', '400|405|501', 0),
    ('method-lowercase', b'get /healthz HTTP/1.1\r\n' + H + b'\r\n', '400|405|501', 0),
    ('binary-garbage', b'\x00\x01\x02\xff\xfe garbage\r\n\r\n', '400|closed', 0),
    ('nul-in-request-line', b'GET /heal\x00thz HTTP/1.1\r\n' + H + b'\r\n', '400|404|closed', 0),
    ('control-char-in-header', b'GET /healthz HTTP/1.1\r\n' + H + b'X-C: a\x01b\r\n\r\n', '200|400', 0),
    ('bare-LF-line-ends', b'GET /healthz HTTP/1.1\nHost: x\n\n', '200|400', 0),
    ('100-headers', b'GET /healthz HTTP/1.1\r\n' + H + b'X-H: v\r\n' * 100 + b'\r\n', '200|400|431', 0),
    ('headers-never-end', b'GET /healthz HTTP/1.1\r\n' + H, '400|closed', 0),
    ('only-CRLFs', b'\r\n\r\n\r\n', '400|closed', 0),
    ('empty-connection', b'', 'closed', 0),
    ('relative-uri-no-slash', b'GET debug/pprof/ HTTP/1.1\r\n' + H + b'\r\n', '400', 0),
    # civetweb 1.15 drops absolute-form URIs and '*' without an answer
    # (they do not name a resource on "this" server without
    # authentication_domain)
    ('absolute-form-uri', b'GET http://127.0.0.1:%d/healthz HTTP/1.1\r\n' % port + H + b'\r\n', '200|closed', 0),
    ('asterisk-uri', b'OPTIONS * HTTP/1.1\r\n' + H + b'\r\n', '200|204|400|405|closed', 0),
    ('content-length-negative', b'POST /debug/pprof/symbol HTTP/1.1\r\n' + H + b'Content-Length: -5\r\n\r\n', '400|411', 0),
    ('content-length-garbage', b'POST /debug/pprof/symbol HTTP/1.1\r\n' + H + b'Content-Length: 1x\r\n\r\n', '400|411', 0),
    ('content-length-twice', b'POST /debug/pprof/symbol HTTP/1.1\r\n' + H +
        b'Content-Length: 3\r\nContent-Length: 10\r\n\r\n0x1', '200|400|411|413', 0),
    ('chunked-and-content-length', b'POST /debug/pprof/symbol HTTP/1.1\r\n' + H +
        b'Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n0x1\r\n0\r\n\r\n', '200|400|411', 0),
    # profd's own answers: one-line errors
    ('method-DELETE', b'DELETE /debug/pprof/profile HTTP/1.1\r\n' + H + b'\r\n', '405', 1),
    ('method-PUT-with-body', b'PUT /debug/pprof/profile HTTP/1.1\r\n' + H + b'Content-Length: 3\r\n\r\nabc', '405', 1),
    ('method-PATCH', b'PATCH /debug/pprof/ HTTP/1.1\r\n' + H + b'\r\n', '405', 1),
    ('method-OPTIONS', b'OPTIONS /debug/pprof/profile HTTP/1.1\r\n' + H + b'\r\n', '405', 1),
    ('path-%00', b'GET /debug/pprof/%00 HTTP/1.1\r\n' + H + b'\r\n', '400', 1),
    ('path-%00-then-profile', b'GET /debug/pprof/profile%00.txt?seconds=1 HTTP/1.1\r\n' + H + b'\r\n', '400', 1),
    ('path-truncated-escape', b'GET /debug/pprof/cmdline%4 HTTP/1.1\r\n' + H + b'\r\n', '400', 1),
    ('query-seconds-%0a', b'GET /debug/pprof/profile?seconds=1%0a2 HTTP/1.1\r\n' + H + b'\r\n', '400', 1),
    ('path-%1b-escape', b'GET /debug/pprof/x%1b%5b2J%0d%0aX-Injected:%201 HTTP/1.1\r\n' + H + b'\r\n', '404', 1),
    ('chunked-broken', b'POST /debug/pprof/symbol HTTP/1.1\r\n' + H +
        b'Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n', '400', 1),
    ('chunked-not-hex-addresses', b'POST /debug/pprof/symbol HTTP/1.1\r\n' + H +
        b'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', '400', 1),
    ('post-64KiB-to-profile-seconds=-1', b'POST /debug/pprof/profile?seconds=-1 HTTP/1.1\r\n' + H +
        b'Content-Length: %d\r\n\r\n' % len(POSTB) + POSTB, '400', 1),
    ('pid-prefix-other-process', b'GET /pid/1/debug/pprof/profile?seconds=1 HTTP/1.1\r\n' + H + b'\r\n', '404', 1),
    ('pipelined-3-with-error', b'GET /healthz HTTP/1.1\r\n' + H + b'\r\nGET /debug/pprof/profile?seconds=-1 HTTP/1.1\r\n' +
        H + b'\r\nGET /pid/%s/debug/pprof/cmdline HTTP/1.1\r\n' % tpid.encode() + H + b'\r\n', '200,400,200', 0),
]
for label, data, allowed, goerr in cases:
    r = exchange(data)
    if isinstance(r, str):
        outcome, xgo, one, first = r, '-', '-', '-'
    else:
        outcome = ','.join(x[0] for x in r)
        st, hdrs, body = r[0]
        xgo = hdrs.get(b'x-go-pprof', b'-').decode()
        one = '1' if (len(body) >= 5 and body.endswith(b'\n') and body.count(b'\n') == 1) else '0'
        first = body.split(b'\n')[0][:100].decode('utf-8', 'replace')
        first = ''.join(c if c.isprintable() else '?' for c in first) or '-'
    print('\t'.join([label, outcome, allowed, str(goerr), xgo, one, first]))
# HEAD: an error without a body
r = exchange(b'HEAD /debug/pprof/profile?seconds=-1 HTTP/1.1\r\n' + H + b'\r\n', head=True)
print('\t'.join(['HEAD-seconds=-1', r[0][0] if not isinstance(r, str) else r, '400', '0',
                 r[0][1].get(b'x-go-pprof', b'-').decode() if not isinstance(r, str) else '-', '-', '-']))
EOF

# conc.py PORT N: N connections, all connected before any sends (a
# barrier), then one GET each; prints "PATH STATUS" per connection.
cat >"$TEST_DIR/conc.py" <<'EOF'
import socket, sys, threading
port, n = int(sys.argv[1]), int(sys.argv[2])
paths = ['/healthz', '/debug/pprof/', '/debug/pprof/cmdline', '/metrics', '/targets', '/debug/pprof/nosuch']
barrier = threading.Barrier(n, timeout=60)
res = [None] * n
def run(i):
    path = paths[i % len(paths)]
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=60)
    except OSError as e:
        res[i] = (path, 'connect-' + type(e).__name__)
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        return
    try:
        barrier.wait()
        s.sendall(b'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' % path.encode())
        out = b''
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
        if out.startswith(b'HTTP/1.'):
            res[i] = (path, out[9:12].decode())
        else:
            res[i] = (path, 'closed' if not out else 'garbage')
    except Exception as e:
        res[i] = (path, type(e).__name__)
    finally:
        s.close()
ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
for path, st in res:
    print(path, st)
EOF

# slow.py PORT N: N connections that send half a request line and then
# nothing.  "held N" once all are connected; on SIGUSR1 "open K": how many
# profd still holds open without an answer; when profd has ended them all
# (or after 60 s): "dropped K of N after S s: STATUS..." (the first status
# code each got, or "closed" for none).
cat >"$TEST_DIR/slow.py" <<'EOF'
import collections, select, signal, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for i in range(n):
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    s.sendall(b'GET /debug/pprof/cmdl')
    socks.append(s)
t0 = time.monotonic()
print('held', n, flush=True)
done = {}
def report(*_):
    # open: nothing to read, neither an answer nor the end of the stream
    live = [s for s in socks if s not in done]
    r, _, _ = select.select(live, [], [], 0)
    print('open', len(live) - len(r), flush=True)
signal.signal(signal.SIGUSR1, report)
deadline = t0 + 60
while len(done) < n and time.monotonic() < deadline:
    r, _, _ = select.select([s for s in socks if s not in done], [], [], 0.2)
    for s in r:
        out = b''
        try:
            s.settimeout(5)
            while True:
                b = s.recv(4096)
                if not b:
                    break
                out += b
        except OSError:
            pass
        done[s] = out[9:12].decode() if out.startswith(b'HTTP/1.') else 'closed'
c = collections.Counter(done.values())
print('dropped %d of %d after %.1f s: %s' % (len(done), n, time.monotonic() - t0,
      ' '.join('%sx%d' % kv for kv in sorted(c.items()))), flush=True)
EOF

start_target spin 120
P=$TARGET_PID
start_profd

# ---- baseline ------------------------------------------------------------------
# One real window first, so that the symbol tables it loads are in the
# baseline and not counted as growth.
fetch_profile "$BASE/debug/pprof/profile?seconds=1" "$TEST_DIR/warm.pb.gz"
rss0=$(rss_kib "$PROFD_PID")
fd0=$(nfds "$PROFD_PID")
say "profd before the barrage: VmRSS $rss0 KiB, $fd0 fds"

# ---- 1. random invalid paths and queries -----------------------------------------
RANDOM=4711
bad_seconds=(-0 -1 1e9 %zz abc 1.5 '' 601 99999999999999999999 0x1 +1 %2B1
	1%20 %201 1%00 %31%zz 1e0 NaN inf -0 x0 '1;2' '1,2' % %3 %00
	"$(printf '1%.0s' {1..80})")
bad_hz=(-1 999999 0 abc %zz 1001 1e3 '' 1.5 % 0x10 -0 1%00 %0a)
bad_pids=(abc 0 -1 1x 99999999999 %20 '' 0x10 00 +1 2147483648)
other_pids=(1 "$$" "$PROFD_PID" 2147483647)
names=(heap allocs block mutex threadcreate trace nonexistent profile/
	profile/x Profile PROFILE symbol/x cmdline/ wall/ threads/x pprof
	debug .. profile.pb.gz %2e%2e cmdline%2f)
endpoints=('profile?seconds=1' cmdline 'threads?debug=1' symbol
	'wall?seconds=1' '' goroutine)
# Random choices set variables instead of printing: $(...) runs in a
# subshell, where bash reseeds RANDOM, and the sequence would not be fixed.
# garbage [MAX]: G = 1..MAX (default 24) characters that need no quoting in
# a URL or a curl config line, starting with x (never a number).
gchars="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~!\$()*,;:@"
garbage()
{
	local n=$((1 + RANDOM % ${1:-24}))
	G=x
	while [ "${#G}" -le "$n" ]; do
		G+=${gchars:RANDOM % ${#gchars}:1}
	done
}
# pick WORDS...: W = one of them.
pick() { W=${*:RANDOM % $# + 1:1}; }
# rep N CHAR: R = CHAR N times.
rep() { printf -v R '%*s' "$1" ''; R=${R// /$2}; }

urls=() wants=()
add() { urls+=("$1"); wants+=("$2"); }
while [ "${#urls[@]}" -lt 300 ]; do
	pick "" "/pid/$P"
	pfx=$W
	garbage
	case $((RANDOM % 14)) in
	0)
		pick "${bad_seconds[@]}" "$G"
		add "$pfx/debug/pprof/profile?seconds=$W" 400 ;;
	1)
		pick "${bad_hz[@]}"
		add "$pfx/debug/pprof/profile?seconds=1&hz=$W" 400 ;;
	2)
		pick "${bad_hz[@]}" "$G"
		add "/debug/pprof/profile?hz=$W&seconds=1" 400 ;;
	3)
		pick "${bad_seconds[@]}"
		s=$W
		pick wall profile
		add "$pfx/debug/pprof/$W?seconds=$s&$G=1" 400 ;;
	4)
		pick "${bad_pids[@]}" "$G"
		b=$W
		pick "${endpoints[@]}"
		add "/pid/$b/debug/pprof/$W" 404 ;;
	5)
		pick "${other_pids[@]}"
		b=$W
		pick "${endpoints[@]}"
		add "/pid/$b/debug/pprof/$W" 404 ;;
	6)
		pick "${names[@]}" "$G"
		add "$pfx/debug/pprof/$W" 404 ;;
	7)
		# %00 anywhere in a valid path
		pick cmdline profile threads symbol wall
		u="/pid/$P/debug/pprof/$W"
		k=$((1 + RANDOM % (${#u} - 1)))
		add "${u:0:k}%00${u:k}?seconds=1" 400 ;;
	8)
		case $((RANDOM % 4)) in
		0) add "/debug/pprof/../../$G" 404 ;;
		1)
			pick "${bad_seconds[@]}"
			add "/debug/pprof/x/../profile?seconds=$W" 400 ;;
		2)
			pick / /debug/pprof/ "/pid/$P/"
			add "$W../../../etc/passwd" 404 ;;
		3) add "/debug/pprof/..%2f..%2f$G" 404 ;;
		esac ;;
	9)
		n=$((1000 + RANDOM % 11000))
		case $((RANDOM % 3)) in
		0) rep "$n" x && add "/debug/pprof/$R" 404 ;;
		1) rep "$n" 9 && add "/debug/pprof/profile?seconds=$R" 400 ;;
		2) rep "$n" a && add "/debug/pprof/profile?seconds=-1&$R=1" 400 ;;
		esac ;;
	10)
		pick threads goroutine
		t=$W
		pick debug=3 debug=-1 debug=abc debug=%zz debug seconds=1 \
		    'debug=1&seconds=5' "debug=$G"
		add "$pfx/debug/pprof/$t?$W" 400 ;;
	11)
		pick zz 0x401000+q 0x q+0x1 %zz 0x1+0xzz "0x$G"
		add "$pfx/debug/pprof/symbol?$W" 400 ;;
	12)
		pick /debug/pprof/%zz /debug/pprof/cmd% /debug/pprof/cmd%4 /% \
		    /healthz% /debug/pprof/%GG /pid/%zz/debug/pprof/ \
		    "/pid/$P/debug/pprof/%0" /debug%2%2fpprof/
		add "$W" 400 ;;
	13)
		garbage 40
		add "/$G" 404 ;;
	esac
done

cfg=$TEST_DIR/random.curl
mkdir -p "$TEST_DIR/r"
: >"$cfg"
for i in "${!urls[@]}"; do
	printf 'url = "%s%s"\noutput = "%s/r/%d"\n' "$BASE" "${urls[$i]}" "$TEST_DIR" "$i" >>"$cfg"
done
curl -sS -g --path-as-is --max-time 60 -K "$cfg" \
    -w '%{http_code}\t%header{x-go-pprof}\t%{content_type}\n' \
    >"$TEST_DIR/random.out" 2>"$TEST_DIR/random.err" || true
profd_alive "the random requests"
nres=$(wc -l <"$TEST_DIR/random.out")
[ "$nres" -eq "${#urls[@]}" ] ||
    fail "random requests: $nres results for ${#urls[@]} requests: $(head -c 500 "$TEST_DIR/random.err")"
i=0
while IFS=$'\t' read -r code xgo ct; do
	u=${urls[$i]}
	[ "$code" != 000 ] || fail "GET ${u:0:120}: no answer (connection reset or closed): $(grep -m 1 . "$TEST_DIR/random.err")"
	check_go_error "GET ${u:0:120}" "$code" "${wants[$i]}" "$xgo" "$ct" "$TEST_DIR/r/$i"
	i=$((i + 1))
done <"$TEST_DIR/random.out"
longest=0
for u in "${urls[@]}"; do ((${#u} > longest)) && longest=${#u}; done
ok "${#urls[@]} random invalid requests (seed 4711, longest $longest bytes): $(cut -f1 "$TEST_DIR/random.out" | sort | uniq -c | awk '{ printf "%s%s x%s", s, $2, $1; s = ", " }'); every one the expected 4xx with X-Go-Pprof: 1 and a one-line body"
for i in 0 1 2; do
	say "  e.g. GET ${urls[$i]:0:80} -> $(cut -f1 "$TEST_DIR/random.out" | sed -n "$((i + 1))p"): $(head -c 120 "$TEST_DIR/r/$i")"
done

# ---- 2. raw malformed requests ---------------------------------------------------
python3 "$TEST_DIR/raw.py" "$PROFD_PORT" "$P" >"$TEST_DIR/raw.out" 2>"$TEST_DIR/raw.err" ||
    fail "raw.py: $(tail -n 5 "$TEST_DIR/raw.err")"
profd_alive "the raw requests"
nraw=0
while IFS=$'\t' read -r label outcome allowed goerr xgo one first; do
	[[ $outcome =~ ^($allowed)$ ]] ||
	    fail "raw $label: got '$outcome' (first line '$first'), want one of $allowed"
	if [ "$goerr" = 1 ] && [[ $outcome == 4* ]]; then
		[ "$xgo" = 1 ] || fail "raw $label: $outcome without X-Go-Pprof: 1"
		[ "$one" = 1 ] || fail "raw $label: $outcome body is not one line: '$first'"
	fi
	ok "raw $label -> $outcome${first:+ ($first)}"
	nraw=$((nraw + 1))
done <"$TEST_DIR/raw.out"
[ "$nraw" -ge 40 ] || fail "raw.py ran only $nraw cases: $(cat "$TEST_DIR/raw.err")"

# A POST with a body to the profile endpoint is a valid request: a profile.
head -c 4096 /dev/urandom >"$TEST_DIR/post.body"
code=$(fetch "$BASE/debug/pprof/profile?seconds=1" "$TEST_DIR/post.pb.gz" \
    -X POST -H 'Content-Type: application/octet-stream' --data-binary "@$TEST_DIR/post.body")
expect_status "POST /debug/pprof/profile?seconds=1 with a 4 KiB body" "$code" 200
pdump summary "$TEST_DIR/post.pb.gz" >"$TEST_DIR/post.summary" ||
    fail "POST profile: pprof-dump cannot decode the answer"
ok "POST /debug/pprof/profile?seconds=1 with a 4 KiB body -> 200, $(summary_get "$TEST_DIR/post.summary" 'total[0]') samples"

# ---- 3. 200 connections at once --------------------------------------------------
python3 "$TEST_DIR/conc.py" "$PROFD_PORT" 200 >"$TEST_DIR/conc.out" 2>"$TEST_DIR/conc.err" ||
    fail "conc.py: $(tail -n 5 "$TEST_DIR/conc.err")"
profd_alive "200 concurrent connections"
[ "$(wc -l <"$TEST_DIR/conc.out")" -eq 200 ] || fail "conc.py: $(wc -l <"$TEST_DIR/conc.out") results for 200 connections"
while read -r path st; do
	case $path in
	/debug/pprof/nosuch) [ "$st" = 404 ] || fail "concurrent GET $path: $st, want 404" ;;
	*) [ "$st" = 200 ] || [ "$st" = 503 ] || fail "concurrent GET $path: $st, want 200 (or 503)" ;;
	esac
done <"$TEST_DIR/conc.out"
ok "200 connections at once: $(awk '{ print $2 }' "$TEST_DIR/conc.out" | sort | uniq -c | awk '{ printf "%s%s x%s", s, $2, $1; s = ", " }') (404s: /debug/pprof/nosuch)"
code=$(fetch "$BASE/healthz" "$TEST_DIR/health1")
expect_status "GET /healthz after the barrage" "$code" 200

# ---- 4. memory and fds -----------------------------------------------------------
rss1=$(rss_kib "$PROFD_PID")
growth=$((rss1 - rss0))
case $PROFD in
*build-asan*) limit=$((512 * 1024)) ;;	# ASan's quarantine holds freed memory
*) limit=$((64 * 1024)) ;;
esac
[ "$growth" -lt "$limit" ] ||
    fail "profd's VmRSS grew by $growth KiB ($rss0 -> $rss1 KiB), limit $limit KiB"
ok "profd VmRSS $rss0 KiB before, $rss1 KiB after the barrage: +$growth KiB (limit $limit KiB)"
# civetweb closes a connection after its answer; give the last ones time
n=100
while fd1=$(nfds "$PROFD_PID") && [ "$fd1" -gt $((fd0 + 2)) ] && [ "$n" -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
[ "$fd1" -le $((fd0 + 2)) ] || fail "profd has $fd1 fds after the barrage, $fd0 before: $(find "/proc/$PROFD_PID/fd" -mindepth 1 -printf '%l\n' | sort | uniq -c | sort -rn | first_lines 5)"
ok "profd fds: $fd0 before, $fd1 after"
assert_target_ok
stop_profd
assert_target_ok

# ---- 5. --max-sessions 1 and slow clients ---------------------------------------
start_profd --max-sessions 1
python3 -u "$TEST_DIR/slow.py" "$PROFD_PORT" 20 >"$TEST_DIR/slow.out" 2>"$TEST_DIR/slow.err" &
spid=$!
_track "$spid"
wait_for_line "$TEST_DIR/slow.out" '^held 20$' 10 "$spid" ||
    fail "slow clients did not connect: $(cat "$TEST_DIR/slow.err")"
code=$(fetch "$BASE/healthz" "$TEST_DIR/health2")
expect_status "GET /healthz with 20 slow clients connected" "$code" 200
kill -USR1 "$spid"
wait_for_line "$TEST_DIR/slow.out" '^open [0-9]+$' 10 "$spid" || fail "slow.py did not report"
held=$(sed -n 's/^open //p' "$TEST_DIR/slow.out" | first_line)
[ "$held" = 20 ] || fail "only $held of 20 slow clients were still held when /healthz was answered"
ok "/healthz -> 200 while 20 clients hold half-sent requests (all $held still open)"

# One window open; a second one and a thread dump (a session too) get 503.
# 8 s: time for both requests, however loaded the machine.
A=$TEST_DIR/a.pb.gz
(fetch "$BASE/debug/pprof/profile?seconds=8" "$A" >"$A.code") &
apid=$!
_track "$apid"
wait_window_open 1 10 || fail "the first window never started (profd log)"
expect_error "$BASE/debug/pprof/profile?seconds=1" 503
grep -Eq 'max-sessions|retry' "$TEST_DIR/err.$_nstarted" ||
    fail "the 503 does not say what to do: $(cat "$TEST_DIR/err.$_nstarted")"
expect_error "$BASE/pid/$P/debug/pprof/threads?debug=1" 503
code=$(fetch "$BASE/debug/pprof/cmdline" "$TEST_DIR/cmdline")
expect_status "GET /debug/pprof/cmdline during the window" "$code" 200
ok "GET /debug/pprof/cmdline -> 200 during the window"
wait "$apid" || true
code=$(cat "$A.code")
[ "$code" = 200 ] || fail "the first window: HTTP status $code: $(head -c 300 "$A")"
pdump summary "$A" >"$A.summary" || fail "pprof-dump cannot decode the first window's profile"
ok "the first window -> 200, $(summary_get "$A.summary" 'total[0]') samples, while the second got 503"
code=$(fetch "$BASE/debug/pprof/threads?debug=1" "$TEST_DIR/dump")
expect_status "thread dump after the window ended" "$code" 200
ok "GET /debug/pprof/threads?debug=1 -> 200 once the window has ended"

# The slow clients are still connected or have just been dropped; profd's
# request timeout must end them all.
kill -USR1 "$spid" 2>/dev/null || true
wait_gone "$spid" 45 || fail "profd still holds slow clients 45 s after they connected: $(tail -n 3 "$TEST_DIR/slow.out")"
wait "$spid" || fail "slow.py failed: $(cat "$TEST_DIR/slow.err")"
drop=$(grep '^dropped' "$TEST_DIR/slow.out") || fail "slow.py: no result: $(cat "$TEST_DIR/slow.out")"
[[ $drop =~ ^dropped\ 20\ of\ 20\ after\ [0-9.]+\ s:\ ((400|408|closed)x[0-9]+\ ?)+$ ]] ||
    fail "slow clients: $drop; want all 20 ended by profd (400, 408 or closed)"
ok "slow clients: $drop (still open after the window: $(sed -n 's/^open //p' "$TEST_DIR/slow.out" | sed -n 2p))"
profd_alive "the slow clients"
stop_profd
assert_target_ok
say "PASS rel_http"
