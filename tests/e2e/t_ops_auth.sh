#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_ops_auth - access control and TLS:
#  - --auth-token-file: no Authorization header, a wrong token, a cut or
#    lengthened token -> 401 with WWW-Authenticate (Bearer and Basic),
#    X-Go-Pprof and one line; 'Authorization: Bearer TOKEN' and Basic with
#    the token as password -> 200 and a profile that decodes; /healthz
#    needs no token; the token never appears in the log; go tool pprof
#    (which cannot send a header) fetches with http://x:TOKEN@host/...;
#  - token files that are missing, empty or too short: exit 1 with one
#    error line naming the file; one every user can read: a warning;
#  - --tls-cert/--tls-key: https with curl --cacert and with go tool pprof
#    (SSL_CERT_FILE; it ignores -tls_ca), a profile over https decodes,
#    plain http to the TLS port fails at once and profd keeps serving, the
#    combined PEM profd writes for civetweb is removed; a key that does not
#    match the certificate, or a missing one, is a clear start-up error;
#  - --listen beyond loopback without a token logs a warning, with one not.
. "$(dirname "$0")/lib.sh"
t_begin ops_auth
need_pprof_dump
need_go
command -v openssl >/dev/null || fail "openssl: not installed (scripts/deps.sh)"

start_target spin 120
P=$TARGET_PID

# start_profd_on RE ARGS...: as start_profd, for a profd whose "listening
# on" line is not 127.0.0.1 (RE, an ERE, matches "listening on HOST:PORT").
start_profd_on()
{
	local re=$1
	shift
	start_profd_re "$re" --pid "$TARGET_PID" "$@"
}

# profd_must_fail WHAT WANT_RE ARGS...: profd with ARGS exits 1 within 10 s,
# without listening, with an "error:" line matching WANT_RE (an ERE).
profd_must_fail()
{
	local what=$1 want=$2 log rc=0 line
	shift 2
	_nstarted=$((_nstarted + 1))
	log=$TEST_DIR/profd-fail.$_nstarted.log
	_logs+=("$log")
	timeout -k 2 10 "$PROFD" --pid "$P" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 || rc=$?
	[ "$rc" = 1 ] || fail "$what: profd exit status $rc, want 1: $(cat "$log")"
	! grep -q 'listening on' "$log" || fail "$what: profd listened: $(cat "$log")"
	line=$(grep -E 'error: ' "$log" | first_line)
	[ "$(grep -c 'error: ' "$log")" = 1 ] || fail "$what: want one error line: $(cat "$log")"
	grep -Eq -- "$want" <<<"$line" || fail "$what: error line '$line' does not match /$want/"
	ok "$what: exit 1: ${line#*profd: }"
}

# no_listen_warning: profd's log has no "beyond loopback" warning.
no_listen_warning()
{
	! grep -q 'beyond loopback' "$PROFD_LOG" ||
	    fail "unexpected warning: $(grep 'beyond loopback' "$PROFD_LOG")"
}

TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
[ "${#TOKEN}" = 48 ] || fail "could not make a token"
TOKF=$TEST_DIR/token
(umask 077 && printf '%s\n' "$TOKEN" >"$TOKF")

# ==== token files that cannot be used ==============================================
profd_must_fail "missing --auth-token-file" "cannot read --auth-token-file .*/nonexistent.*No such file" \
    --auth-token-file "$TEST_DIR/nonexistent"
(umask 077 && : >"$TEST_DIR/empty")
profd_must_fail "empty --auth-token-file" "auth-token-file .*/empty.*16 to" \
    --auth-token-file "$TEST_DIR/empty"
(umask 077 && echo short >"$TEST_DIR/short")
profd_must_fail "15-character token" "auth-token-file .*/short.*16 to" \
    --auth-token-file "$TEST_DIR/short"

# A token file every user can read: it starts, with a warning naming it.
cp "$TOKF" "$TEST_DIR/token644"
chmod 0644 "$TEST_DIR/token644"
start_profd --auth-token-file "$TEST_DIR/token644"
w=$(grep -E 'warning: .*token644' "$PROFD_LOG" | first_line) ||
    fail "no warning about the world-readable token file: $(cat "$PROFD_LOG")"
ok "token file of mode 0644: ${w#*profd: }"
stop_profd

# ==== --auth-token-file ===========================================================
start_profd --auth-token-file "$TOKF"
! grep -q 'warning:' "$PROFD_LOG" || fail "warnings with a 0600 token file: $(grep 'warning:' "$PROFD_LOG")"
ok "token file of mode $(stat -c %a "$TOKF"): no warning"

# /healthz: no token needed.
code=$(fetch "$BASE/healthz" "$TEST_DIR/healthz")
expect_status "GET /healthz without a token" "$code" 200
[ "$(cat "$TEST_DIR/healthz")" = ok ] || fail "/healthz: '$(cat "$TEST_DIR/healthz")'"
ok "GET /healthz without a token -> 200 ok"

# expect_401 WHAT URL [CURL ARGS...]: 401, WWW-Authenticate with Bearer and
# Basic, X-Go-Pprof: 1, a body of one line.
expect_401()
{
	local what=$1 url=$2 out code schemes
	shift 2
	_nstarted=$((_nstarted + 1))
	out=$TEST_DIR/unauth.$_nstarted
	code=$(fetch "$url" "$out" "$@")
	expect_status "$what" "$code" 401
	schemes=$(grep -i '^WWW-Authenticate:' "$out.headers" | tr -d '\r' |
	    sed 's/^[^:]*: *//' | awk '{ print $1 }' | sort | tr '\n' ' ')
	[ "$schemes" = "Basic Bearer " ] ||
	    fail "$what: WWW-Authenticate schemes '$schemes', want Basic and Bearer: $(cat "$out.headers")"
	[ "$(header "$out.headers" X-Go-Pprof)" = 1 ] || fail "$what: no X-Go-Pprof: 1"
	[ "$(wc -l <"$out")" = 1 ] || fail "$what: body is not one line: $(cat "$out")"
	ok "$what -> 401, WWW-Authenticate: $schemes: $(cat "$out")"
}

for path in /debug/pprof/cmdline "/debug/pprof/profile?seconds=1" \
    "/pid/$P/debug/pprof/profile?seconds=1" /debug/pprof/ /targets /metrics \
    /debug/pprof/symbol /nothing; do
	expect_401 "GET $path, no Authorization" "$BASE$path"
done
expect_401 "GET with a wrong Bearer token" "$BASE/debug/pprof/cmdline" \
    -H "Authorization: Bearer 0123456789abcdef0123456789abcdef0123456789abcdef"
expect_401 "GET with the token cut by one character" "$BASE/debug/pprof/cmdline" \
    -H "Authorization: Bearer ${TOKEN%?}"
expect_401 "GET with the token and one more character" "$BASE/debug/pprof/cmdline" \
    -H "Authorization: Bearer ${TOKEN}0"
expect_401 "GET with an empty Bearer token" "$BASE/debug/pprof/cmdline" \
    -H "Authorization: Bearer "
expect_401 "GET with Basic and a wrong password" "$BASE/debug/pprof/cmdline" \
    -u "x:wrong-password-0123456789"
expect_401 "GET with Basic and the token as user name" "$BASE/debug/pprof/cmdline" \
    -u "$TOKEN:"
expect_401 "GET with the token in an unknown scheme" "$BASE/debug/pprof/cmdline" \
    -H "Authorization: Token $TOKEN"
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -I "$BASE/debug/pprof/cmdline")
expect_status "HEAD without a token" "$code" 401
ok "HEAD /debug/pprof/cmdline without a token -> 401"

# The right token: Bearer, and Basic with any user name.
printf '%s\0' "${TARGET_ARGV[@]}" | head -c -1 >"$TEST_DIR/argv"
for how in "Bearer" "Basic"; do
	if [ "$how" = Bearer ]; then
		args=(-H "Authorization: Bearer $TOKEN")
	else
		args=(-u "anyone:$TOKEN")
	fi
	code=$(fetch "$BASE/debug/pprof/cmdline" "$TEST_DIR/cmd.$how" "${args[@]}")
	expect_status "GET /debug/pprof/cmdline with $how" "$code" 200
	cmp -s "$TEST_DIR/argv" "$TEST_DIR/cmd.$how" || fail "$how: cmdline '$(cat "$TEST_DIR/cmd.$how")'"
	f=$TEST_DIR/prof.$how.pb.gz
	code=$(fetch "$BASE/debug/pprof/profile?seconds=1" "$f" "${args[@]}")
	expect_status "GET /debug/pprof/profile?seconds=1 with $how" "$code" 200
	pdump summary "$f" >"$f.summary" || fail "$how: the profile does not decode"
	pdump folded "$f" >"$f.folded" || fail "$how: pprof-dump folded failed"
	leaf=$(fold_sum_leaf "$f.folded" spin_leaf)
	expect_range "$how: CPU in spin_leaf (% of $(summary_get "$f.summary" 'total[0]') samples)" \
	    "$(pct "$leaf" "$(fold_total "$f.folded")")" 80 100
done
code=$(fetch "$BASE/targets" "$TEST_DIR/targets" -H "authorization: bearer $TOKEN")
expect_status "GET /targets with 'authorization: bearer' in lower case" "$code" 200
grep -q "\"pid\": $P" "$TEST_DIR/targets" || fail "/targets: $(cat "$TEST_DIR/targets")"
ok "lower-case header and scheme accepted: /targets -> 200"

# go tool pprof has no option to send a header: the token goes in the URL
# and Go's client sends it as Basic authentication.
hflag=$(pprof -h 2>&1 | grep -ciE '^ *-(header|H) ' || true)
[ "$hflag" = 0 ] && say "go tool pprof ($(go version | awk '{print $3}')) has no header option: using http://x:TOKEN@..."
pprof -symbolize=none -top "http://x:$TOKEN@127.0.0.1:$PROFD_PORT/debug/pprof/profile?seconds=1" \
    >"$TEST_DIR/pprof.out" 2>"$TEST_DIR/pprof.err" ||
    fail "go tool pprof with the token in the URL failed: $(cat "$TEST_DIR/pprof.err")"
flat=$(awk '$NF == "spin_leaf" { sub(/%$/, "", $2); print $2 }' "$TEST_DIR/pprof.out")
expect_range "go tool pprof http://x:TOKEN@...: spin_leaf flat%" "${flat:-0}" 80 100
prc=0
pprof -symbolize=none -top "$BASE/debug/pprof/profile?seconds=1" \
    >"$TEST_DIR/pprof-no.out" 2>"$TEST_DIR/pprof-no.err" || prc=$?
[ "$prc" != 0 ] || fail "go tool pprof without the token succeeded"
grep -q '401.*authentication required' "$TEST_DIR/pprof-no.err" ||
    fail "go tool pprof without the token does not show profd's line: $(cat "$TEST_DIR/pprof-no.err")"
ok "go tool pprof without the token: exit $prc, $(grep -o '401.*' "$TEST_DIR/pprof-no.err" | first_line)"
! grep -qF "$TOKEN" "$PROFD_LOG" || fail "the token appears in profd's log"
ok "the token does not appear in profd's log ($(wc -l <"$PROFD_LOG") lines)"
no_listen_warning
stop_profd
assert_target_ok

# ==== TLS ========================================================================
CERT=$TEST_DIR/cert.pem KEY=$TEST_DIR/key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 2 \
    -keyout "$KEY" -out "$CERT" 2>"$TEST_DIR/openssl.err" ||
    fail "openssl req: $(cat "$TEST_DIR/openssl.err")"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=other -days 2 -keyout "$TEST_DIR/key2.pem" \
    -out "$TEST_DIR/cert2.pem" 2>"$TEST_DIR/openssl.err" ||
    fail "openssl req: $(cat "$TEST_DIR/openssl.err")"
say "certificate: $(openssl x509 -in "$CERT" -noout -subject -ext subjectAltName | tr '\n' ' ')"

# profd writes certificate and key into one private temporary file for
# civetweb (in $TMPDIR) and removes it once civetweb has read it.
PEMDIR=$TEST_DIR/tmpdir
mkdir -p "$PEMDIR"
TMPDIR=$PEMDIR start_profd --tls-cert "$CERT" --tls-key "$KEY" --auth-token-file "$TOKF"
grep -Eq "listening on 127\.0\.0\.1:$PROFD_PORT \(https\)" "$PROFD_LOG" ||
    fail "profd does not say it serves https: $(grep 'listening' "$PROFD_LOG")"
BASE=https://127.0.0.1:$PROFD_PORT
left=$(find "$PEMDIR" -mindepth 1 | wc -l)
[ "$left" = 0 ] || fail "profd left the combined PEM behind: $(ls -l "$PEMDIR")"
ok "https on $BASE; $left files left in TMPDIR"

code=$(fetch "$BASE/healthz" "$TEST_DIR/h1" --cacert "$CERT")
expect_status "GET https /healthz with --cacert" "$code" 200
ok "GET $BASE/healthz (curl --cacert) -> 200 $(cat "$TEST_DIR/h1")"
crc=0
curl -sS -o /dev/null --max-time 10 --cacert "$TEST_DIR/cert2.pem" \
    "$BASE/healthz" 2>"$TEST_DIR/noca.err" || crc=$?
[ "$crc" = 60 ] || fail "curl with another CA: exit $crc, want 60 (peer certificate not verified): $(cat "$TEST_DIR/noca.err")"
ok "with another CA curl refuses the certificate (exit $crc: $(head -n 1 "$TEST_DIR/noca.err"))"
expect_401 "GET https /debug/pprof/cmdline, no Authorization" "$BASE/debug/pprof/cmdline" --cacert "$CERT"

# A profile over https: curl with the CA (CURL_CA_BUNDLE), and go tool
# pprof, which takes the CA from SSL_CERT_FILE.
BASE=https://x:$TOKEN@127.0.0.1:$PROFD_PORT	# Basic, as go tool pprof does
CURL_CA_BUNDLE=$CERT fetch_profile "$BASE/debug/pprof/profile?seconds=1" "$TEST_DIR/tls.pb.gz"
BASE=https://127.0.0.1:$PROFD_PORT
pdump folded "$TEST_DIR/tls.pb.gz" >"$TEST_DIR/tls.folded" || fail "pprof-dump folded failed"
expect_range "https profile: CPU in spin_leaf (%)" \
    "$(pct "$(fold_sum_leaf "$TEST_DIR/tls.folded" spin_leaf)" "$(fold_total "$TEST_DIR/tls.folded")")" 80 100
SSL_CERT_FILE=$CERT pprof -symbolize=none -top \
    "https://x:$TOKEN@127.0.0.1:$PROFD_PORT/debug/pprof/profile?seconds=1" \
    >"$TEST_DIR/pprof-tls.out" 2>"$TEST_DIR/pprof-tls.err" ||
    fail "go tool pprof over https (SSL_CERT_FILE) failed: $(cat "$TEST_DIR/pprof-tls.err")"
flat=$(awk '$NF == "spin_leaf" { sub(/%$/, "", $2); print $2 }' "$TEST_DIR/pprof-tls.out")
expect_range "go tool pprof https://x:TOKEN@... (SSL_CERT_FILE): spin_leaf flat%" "${flat:-0}" 80 100
# What -tls_ca does (go tool pprof's own fetcher does not use it): shown,
# not checked.
prc=0
pprof -tls_ca="$CERT" -symbolize=none -top \
    "https://x:$TOKEN@127.0.0.1:$PROFD_PORT/debug/pprof/cmdline" \
    >/dev/null 2>"$TEST_DIR/pprof-ca.err" || prc=$?
say "note: go tool pprof -tls_ca: exit $prc: $(grep -v '^Fetching' "$TEST_DIR/pprof-ca.err" | first_line | sed "s/$TOKEN/TOKEN/g")"

# Plain http to the TLS port: refused at once, and profd keeps serving.
for _ in 1 2 3; do
	plain=$(curl -sS -o "$TEST_DIR/plain.out" -w '%{http_code}' --max-time 10 \
	    "http://127.0.0.1:$PROFD_PORT/healthz" 2>"$TEST_DIR/plain.err" || true)
	case $plain in
	000 | 400) ;;
	*) fail "plain http to the TLS port: HTTP status $plain: $(cat "$TEST_DIR/plain.out")" ;;
	esac
done
alive "$PROFD_PID" || fail "profd died after plain http on its TLS port"
code=$(fetch "$BASE/healthz" "$TEST_DIR/h2" --cacert "$CERT")
expect_status "GET https /healthz after plain http" "$code" 200
ok "3 plain http requests to the TLS port: status $plain ($(head -n 1 "$TEST_DIR/plain.err")); https still answers $code"
no_listen_warning
stop_profd
assert_target_ok

# Start-up errors: a key that is not the certificate's, a missing key,
# half of the pair.
PEMDIR2=$TEST_DIR/tmpdir2
mkdir -p "$PEMDIR2"
TMPDIR=$PEMDIR2 profd_must_fail "--tls-key of another certificate" "" \
    --tls-cert "$CERT" --tls-key "$TEST_DIR/key2.pem"
log=$TEST_DIR/profd-fail.$_nstarted.log
grep -qi 'key values mismatch' "$log" ||
    fail "without -v, the log does not say the key does not match the certificate: $(cat "$log")"
ok "mismatched key, without -v: $(grep -i 'mismatch' "$log" | first_line | sed 's/.*profd: //')"
# civetweb names the combined PEM it could not use: it was in $TMPDIR,
# and is gone.
grep -q "$PEMDIR2/profd-tls-" "$log" || fail "the combined PEM was not in TMPDIR: $(cat "$log")"
left=$(find "$PEMDIR2" -mindepth 1 | wc -l)
[ "$left" = 0 ] || fail "profd left the combined PEM behind after failing: $(ls -l "$PEMDIR2")"
ok "the combined PEM ($(grep -o "$PEMDIR2/profd-tls-[A-Za-z0-9]*" "$log" | first_line | sed "s|$TEST_DIR/||")) is removed after the failure"
profd_must_fail "missing --tls-key" "cannot read .*/nokey.pem.*No such file" \
    --tls-cert "$CERT" --tls-key "$TEST_DIR/nokey.pem"
rc=0
"$PROFD" --pid "$P" --listen 127.0.0.1:0 --tls-cert "$CERT" >"$TEST_DIR/half.out" 2>&1 || rc=$?
[ "$rc" = 64 ] || fail "--tls-cert alone: exit $rc, want 64: $(cat "$TEST_DIR/half.out")"
ok "--tls-cert alone: exit 64: $(head -n 1 "$TEST_DIR/half.out")"

# ==== beyond loopback ==============================================================
for listen in 0.0.0.0:0 :0; do
	start_profd_on 'listening on 0\.0\.0\.0:[0-9]+' --listen "$listen"
	w=$(grep -E 'warning: .*beyond loopback without authentication' "$PROFD_LOG" | first_line) ||
	    fail "--listen $listen without a token: no warning: $(cat "$PROFD_LOG")"
	ok "--listen $listen without a token: ${w#*profd: }"
	code=$(fetch "http://127.0.0.1:$PROFD_PORT/debug/pprof/cmdline" "$TEST_DIR/any")
	expect_status "GET /debug/pprof/cmdline on $listen, no token" "$code" 200
	stop_profd
done
start_profd_on 'listening on 0\.0\.0\.0:[0-9]+' --listen 0.0.0.0:0 --auth-token-file "$TOKF"
! grep -q 'warning:' "$PROFD_LOG" || fail "warnings: $(grep 'warning:' "$PROFD_LOG")"
ok "--listen 0.0.0.0:0 with --auth-token-file: no warning"
expect_401 "GET /debug/pprof/cmdline on 0.0.0.0, no token" \
    "http://127.0.0.1:$PROFD_PORT/debug/pprof/cmdline"
stop_profd
start_profd_on 'listening on 127\.0\.0\.1:[0-9]+' --listen localhost:0
! grep -q 'warning:' "$PROFD_LOG" || fail "warnings: $(grep 'warning:' "$PROFD_LOG")"
ok "--listen localhost:0 without a token: $(grep -o 'listening on.*' "$PROFD_LOG"), no warning"
stop_profd
assert_target_ok
say "PASS ops_auth"
