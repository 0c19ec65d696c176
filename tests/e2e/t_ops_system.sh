#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119  # SC2119: optional arguments
# t_ops_system - profd as a system service:
#  (a) capabilities: started as root, every thread of profd keeps exactly
#      the capabilities profd(8) lists (CAP_SYS_NICE only with
#      --rt-priority > 0, CAP_NET_BIND_SERVICE only for a port below
#      1024) in its effective, permitted and bounding sets, none
#      inheritable or ambient, NoNewPrivs 1, and still profiles; with
#      nothing to drop (a bounding set already reduced, as systemd's
#      CapabilityBoundingSet does) NoNewPrivs is 1 too;
#  (b) systemd readiness: READY=1 on $NOTIFY_SOCKET (a path or an abstract
#      name) only once the port answers (/healthz, asked the moment READY=1
#      arrives, says 200), STOPPING=1 on SIGTERM;
#  (c) deploy/: profd.service passes systemd-analyze verify without a word
#      and has the hardening it promises; its ExecStart arguments start
#      profd; the Kubernetes manifests (sidecar, DaemonSet) parse and have
#      a shared process namespace (or hostPID), SYS_PTRACE, a read-only
#      root, /healthz probes, --match, a token not every user can read
#      and --output-dir on a volume, pass only options profd --help lists,
#      and start profd; deploy/Containerfile builds the image they name,
#      its runtime stage installs the package of every library profd
#      links; the Parca and Alloy examples
#      use only keys their schemas know, and every profile type they leave
#      enabled is one profd serves (fetched here, decoded), every one it
#      does not serve is disabled (404 here).
. "$(dirname "$0")/lib.sh"
t_begin ops_system
need_pprof_dump
PY=python3
if ! "$PY" -c 'import yaml' 2>/dev/null && [ -x /usr/bin/python3 ]; then
	PY=/usr/bin/python3	# Debian's, with python3-yaml
fi
"$PY" -c 'import yaml' 2>/dev/null || fail "python3 yaml module: not installed (scripts/deps.sh: python3-yaml)"
CAPH=/usr/include/linux/capability.h
[ -r "$CAPH" ] || fail "$CAPH: not installed (linux-libc-dev)"

start_target spin 120

# start_profd_bare ARGS...: start_profd without --pid $TARGET_PID (the
# arguments say which processes), waiting for LISTEN_RE (default: listening
# on 127.0.0.1:PORT).
start_profd_bare() { start_profd_re "${LISTEN_RE:-$LOOPBACK_RE}" "$@"; }

# check_caps WANT: every thread of profd has exactly the capabilities WANT
# (names, sorted, space-separated) effective, permitted and bounding, none
# inheritable or ambient, and NoNewPrivs 1. Names from linux/capability.h.
check_caps()
{
	local r
	r=$("$PY" - "$PROFD_PID" "$CAPH" "$1" 2>&1 <<'EOF'
import glob, re, sys
pid, caph, want = sys.argv[1], sys.argv[2], sys.argv[3]
names = {}
for line in open(caph):
    m = re.match(r"#define\s+(CAP_[A-Z_]+)\s+(\d+)\s*$", line)
    if m and m.group(1) != "CAP_LAST_CAP":
        names[int(m.group(2))] = m.group(1)
def decode(mask):
    return " ".join(sorted(names.get(b, "cap%d" % b) for b in range(64) if mask >> b & 1))
n = 0
for f in glob.glob("/proc/%s/task/*/status" % pid):
    st = dict(l.split(":", 1) for l in open(f) if ":" in l)
    st = {k: v.strip() for k, v in st.items()}
    tid = f.split("/")[4]
    for k in ("CapEff", "CapPrm", "CapBnd"):
        got = decode(int(st[k], 16))
        if got != want:
            sys.exit("profd thread %s: %s %s = '%s', want '%s'" % (tid, k, st[k], got, want))
    for k in ("CapInh", "CapAmb"):
        if int(st[k], 16):
            sys.exit("profd thread %s: %s %s (%s), want none" % (tid, k, st[k], decode(int(st[k], 16))))
    if st["NoNewPrivs"] != "1":
        sys.exit("profd thread %s: NoNewPrivs %s, want 1" % (tid, st["NoNewPrivs"]))
    n += 1
    eff = st["CapEff"]
print("all %d threads of profd: CapEff = CapPrm = CapBnd = %s (%s), CapInh = CapAmb = 0, NoNewPrivs 1"
      % (n, eff, want))
EOF
) || fail "$r"
	ok "$r"
}

# profile_spin WHAT: a 1 s profile of the target is spin_leaf.
profile_spin()
{
	local f=$TEST_DIR/$1.pb.gz
	fetch_profile "$BASE/debug/pprof/profile?seconds=1" "$f"
	pdump folded "$f" >"$f.folded" || fail "pprof-dump folded failed"
	expect_range "$1: CPU in spin_leaf (%)" \
	    "$(pct "$(fold_sum_leaf "$f.folded" spin_leaf)" "$(fold_total "$f.folded")")" 80 100
}

sorted() { tr ' ' '\n' | grep . | sort -u | tr '\n' ' ' | sed 's/ $//'; }

# ==== (a) capabilities ===========================================================
# What profd(8) says it keeps, and what daemon/main.c keeps: the same.
MAN_CAPS=$(awk '/drops every capability but/ { on = 1 } on && /^\.Dv CAP_/ { print $2 }
	/from its effective/ { on = 0 }' man/profd.8 | sorted)
SRC_CAPS=$(sed -n 's/.*keep |= 1ULL << \(CAP_[A-Z_]*\);.*/\1/p; s/.*keep |= 1ULL << [0-9]*;.*\(CAP_[A-Z_]*\).*/\1/p' daemon/main.c | sorted)
[ -n "$MAN_CAPS" ] || fail "no capability list in man/profd.8"
[ "$MAN_CAPS" = "$SRC_CAPS" ] || fail "man/profd.8 lists '$MAN_CAPS', daemon/main.c keeps '$SRC_CAPS'"
ok "profd(8) and daemon/main.c: profd keeps at most $MAN_CAPS"
MYCAPS=$((16#$(awk '$1 == "CapPrm:" { print $2 }' /proc/self/status)))
# without_caps LIST NAME...: LIST without NAMEs, and without capabilities
# this shell does not have itself (so profd cannot either: a container's
# set, CAP_CHECKPOINT_RESTORE before Linux 5.9).
without_caps()
{
	local list=$1 c n out=""
	shift
	for c in $list; do
		n=$(awk -v c="$c" '$1 == "#define" && $2 == c { print $3 }' "$CAPH")
		[ -n "$n" ] || continue
		(((MYCAPS >> n) & 1)) || continue
		case " $* " in *" $c "*) continue ;; esac
		out="$out $c"
	done
	echo "$out" | sorted
}

DEFAULT_CAPS=""
# Dropping from the bounding set takes CAP_SETPCAP (8).
if [ "$(id -u)" = 0 ] && (((MYCAPS >> 8) & 1)); then
	start_profd
	profile_spin "default"		# the sampler thread now exists
	DEFAULT_CAPS=$(without_caps "$MAN_CAPS" CAP_NET_BIND_SERVICE)
	check_caps "$DEFAULT_CAPS"
	stop_profd

	start_profd --rt-priority 0
	check_caps "$(without_caps "$MAN_CAPS" CAP_NET_BIND_SERVICE CAP_SYS_NICE)"
	profile_spin "rt-priority-0"
	stop_profd

	# A port below 1024 keeps CAP_NET_BIND_SERVICE (a free one, if any).
	low=$("$PY" - <<'EOF'
import socket
for port in range(1023, 600, -1):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
EOF
)
	if [ -n "$low" ]; then
		start_profd --listen "127.0.0.1:$low"
		check_caps "$(without_caps "$MAN_CAPS")"
		stop_profd
	else
		say "SKIP (sub-check): no free port below 1024"
	fi

	# Nothing to drop: a bounding set that is already profd's own (as
	# systemd's CapabilityBoundingSet=, or a container's capabilities).
	if command -v setpriv >/dev/null; then
		# shellcheck disable=SC2054  # the commas belong to setpriv
		PROFD_WRAP=(setpriv --inh-caps=-all --bounding-set=-all,+sys_ptrace,+dac_read_search)
		start_profd
		PROFD_WRAP=()
		check_caps "$(without_caps "CAP_DAC_READ_SEARCH CAP_SYS_PTRACE")"
		profile_spin "bounding-set-ptrace-dac"
		stop_profd
	else
		say "SKIP (sub-check): no setpriv"
	fi
	assert_target_ok
else
	say "SKIP (sub-check): capabilities: not root, or no CAP_SETPCAP"
fi

# ==== (b) systemd readiness ========================================================
cat >"$TEST_DIR/notify.py" <<'EOF'
# notify.py ADDR LOG OUT: a service manager's end of sd_notify(3): records
# each datagram on ADDR (a path, or @name for the abstract namespace) in
# OUT; the moment READY=1 arrives, asks profd's /healthz (port from LOG).
import http.client, re, socket, sys, time
addr, log, out = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
s.settimeout(0.5)
with open(out, "w", buffering=1) as o:
    o.write("bound\n")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            data = s.recv(4096).decode()
        except socket.timeout:
            continue
        for line in data.split("\n"):
            if not line:
                continue
            o.write("msg %s\n" % line)
            if line == "READY=1":
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", open(log).read())
                if not m:
                    o.write("healthz no-listening-line\n")
                    continue
                try:
                    c = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=5)
                    c.request("GET", "/healthz")
                    r = c.getresponse()
                    o.write("healthz %d %s\n" % (r.status, r.read().decode().strip()))
                except OSError as e:
                    o.write("healthz error %s\n" % e)
            elif line == "STOPPING=1":
                o.write("done\n")
                sys.exit(0)
    o.write("timeout\n")
EOF
nn=0
for addr in "$TEST_DIR/notify.sock" "@profd-t-ops-system-$$"; do
	nn=$((nn + 1))
	out=$TEST_DIR/notify.$nn.out
	plog=$TEST_DIR/profd.$((_nstarted + 1)).log	# the next start_profd's
	(exec "$PY" "$TEST_DIR/notify.py" "$addr" "$plog" "$out") &
	npid=$!
	_track "$npid"
	wait_for_line "$out" '^bound$' 10 "$npid" || fail "notify.py did not bind $addr"
	NOTIFY_SOCKET=$addr start_profd
	[ "$PROFD_LOG" = "$plog" ] || fail "profd's log is $PROFD_LOG, notify.py reads $plog"
	wait_for_line "$out" '^healthz ' 10 "$npid" || fail "no READY=1 on $addr: $(cat "$out")"
	h=$(grep '^healthz ' "$out")
	[ "$h" = "healthz 200 ok" ] || fail "READY=1 came before /healthz answered: $h"
	stop_profd
	wait_for_line "$out" '^done$' 10 "$npid" || fail "no STOPPING=1 on $addr after SIGTERM: $(cat "$out")"
	wait "$npid" || fail "notify.py failed: $(cat "$out")"
	msgs=$(sed -n 's/^msg //p' "$out" | tr '\n' ' ' | sed 's/ $//')
	[ "$msgs" = "READY=1 STOPPING=1" ] || fail "notifications on $addr: '$msgs', want 'READY=1 STOPPING=1'"
	ok "NOTIFY_SOCKET=${addr#"$TEST_DIR/"}: $msgs; /healthz when READY=1 arrived: ${h#healthz }"
done
assert_target_ok

# ==== (c) deploy/profd.service =====================================================
UNIT=deploy/profd.service
unit_get() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }
for kv in Type=notify NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes; do
	[ "$(unit_get "${kv%%=*}")" = "${kv#*=}" ] ||
	    fail "$UNIT: ${kv%%=*}='$(unit_get "${kv%%=*}")', want ${kv#*=}"
done
ok "$UNIT: Type=notify NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes"
BSET=$(unit_get CapabilityBoundingSet | sorted)
for c in CAP_SYS_PTRACE CAP_DAC_READ_SEARCH; do
	case " $BSET " in *" $c "*) ;; *) fail "$UNIT: CapabilityBoundingSet '$BSET' lacks $c, which profd needs" ;; esac
done
# and nothing that profd would drop anyway
for c in $BSET; do
	case " CAP_SYS_PTRACE CAP_DAC_READ_SEARCH $DEFAULT_CAPS " in
	*" $c "*) ;;
	*) fail "$UNIT: CapabilityBoundingSet has $c, which profd does not keep" ;;
	esac
done
for c in $BSET $(unit_get AmbientCapabilities); do
	grep -Eq "^#define[[:space:]]+${c}[[:space:]]" "$CAPH" || fail "$UNIT: unknown capability $c"
done
ok "$UNIT: CapabilityBoundingSet=$BSET: what profd needs, none it would drop (it keeps: ${DEFAULT_CAPS:-not measured: not root})"
case " $(unit_get RestrictAddressFamilies) " in
*" AF_UNIX "*" AF_INET "* | *" AF_INET "*" AF_UNIX "*) ;;
*) fail "$UNIT: RestrictAddressFamilies='$(unit_get RestrictAddressFamilies)' must allow AF_UNIX (sd_notify) and AF_INET" ;;
esac

# systemd-analyze verify: with ExecStart pointing at this profd (the unit
# names the installed path), and man:profd(8) findable when man is there.
command -v systemd-analyze >/dev/null ||
    fail "systemd-analyze: not installed (scripts/deps.sh: systemd)"
mkdir -p "$TEST_DIR/unit" "$TEST_DIR/man/man8"
sed "s#^ExecStart=/usr/local/sbin/profd #ExecStart=$PROFD #" "$UNIT" >"$TEST_DIR/unit/profd.service"
nd=$(diff "$UNIT" "$TEST_DIR/unit/profd.service" | grep -c '^>' || true)
[ "$nd" = 1 ] || fail "rewriting ExecStart changed $nd lines"
cp man/profd.8 "$TEST_DIR/man/man8/"
vargs=()
if command -v man >/dev/null; then
	export MANPATH=$TEST_DIR/man
else
	vargs=(--man=no)
	say "note: no man(1): systemd-analyze verify --man=no"
fi
vrc=0
systemd-analyze verify "${vargs[@]}" "$TEST_DIR/unit/profd.service" >"$TEST_DIR/verify.out" 2>&1 || vrc=$?
[ "$vrc" = 0 ] || fail "systemd-analyze verify: exit $vrc: $(cat "$TEST_DIR/verify.out")"
[ ! -s "$TEST_DIR/verify.out" ] || fail "systemd-analyze verify says: $(cat "$TEST_DIR/verify.out")"
ok "systemd-analyze verify $UNIT (ExecStart=$PROFD${vargs[*]:+, ${vargs[*]}}): exit 0, no output"
# The unit as shipped: nothing but the binary it cannot find installed.
systemd-analyze verify --man=no "$UNIT" >"$TEST_DIR/verify0.out" 2>&1 || true
if grep -v '/usr/local/sbin/profd' "$TEST_DIR/verify0.out" | grep . >/dev/null; then
	fail "systemd-analyze verify $UNIT: $(cat "$TEST_DIR/verify0.out")"
fi
ok "systemd-analyze verify $UNIT as shipped: $(wc -l <"$TEST_DIR/verify0.out") line(s), all about /usr/local/sbin/profd$([ -x /usr/local/sbin/profd ] && echo ' (installed)' || echo ' (not installed)')"

# Its ExecStart arguments (systemd's quoting: shlex is close enough for
# these) start profd; only the port is changed.
mapfile -t xargs < <("$PY" -c 'import shlex, sys
for a in shlex.split(sys.argv[1])[1:]:
    print(a)' "$(unit_get ExecStart)")
for i in "${!xargs[@]}"; do
	case ${xargs[$i]} in
	--listen) xargs[i + 1]=127.0.0.1:0 ;;
	--listen=* | -l*) xargs[i]=--listen=127.0.0.1:0 ;;
	esac
done
start_profd_bare "${xargs[@]}"
rule=$(printf '%s\n' "${xargs[@]}" | sed -n '/^--match$/{n;p}; s/^--match=//p' | first_line)
[ -n "$rule" ] || fail "$UNIT: ExecStart has no --match"
grep -qF "watching for processes matching '$rule'" "$PROFD_LOG" ||
    fail "profd with the unit's arguments does not watch for '$rule': $(cat "$PROFD_LOG")"
ok "profd ${xargs[*]}: watching for '$rule'"
stop_profd

# ==== (c) deploy/kubernetes ========================================================
TOKF=$TEST_DIR/token
(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TOKF" && echo >>"$TOKF")
TOKEN=$(head -n 1 "$TOKF")
# profd --help's long options, one a line (as t_man reads them)
"$PROFD" --help | sed -nE 's/^  (-[A-Za-z], |    )(--[a-z][a-z-]*).*/\2/p' |
    sort -u >"$TEST_DIR/help.long"
[ "$(wc -l <"$TEST_DIR/help.long")" -ge 20 ] || fail "profd --help: too few options: $(cat "$TEST_DIR/help.long")"
for y in deploy/kubernetes/*.yaml; do
	"$PY" - "$y" >"$TEST_DIR/k8s.args" <<'EOF' || fail "$y: $(cat "$TEST_DIR/k8s.args")"
import sys, yaml
def die(msg):
    print(msg)
    sys.exit(1)
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
found = 0
for d in docs:
    spec = d.get("spec", {})
    spec = spec.get("template", {}).get("spec", spec)   # Deployment & co.
    for c in spec.get("containers", []):
        args = [str(a) for a in c.get("args", []) + c.get("command", [])]
        if not any(a.startswith("--match") or a == "-m" for a in args):
            continue
        found += 1
        name = "%s/%s" % (d["metadata"]["name"], c["name"])
        # a sidecar shares the pod's PID namespace, a DaemonSet the host's
        if spec.get("shareProcessNamespace") is not True and spec.get("hostPID") is not True:
            die("%s: neither shareProcessNamespace nor hostPID is true" % name)
        outdir = [a.split("=", 1)[1] for a in args if a.startswith("--output-dir=")]
        for o in outdir:
            if not [m for m in c.get("volumeMounts", []) if m["mountPath"].rstrip("/") == o.rstrip("/")]:
                die("%s: --output-dir %s is no volume (the root is read-only)" % (name, o))
        sc = c.get("securityContext", {})
        if "SYS_PTRACE" not in sc.get("capabilities", {}).get("add", []):
            die("%s: no SYS_PTRACE" % name)
        if sc.get("readOnlyRootFilesystem") is not True:
            die("%s: readOnlyRootFilesystem is not true" % name)
        if sc.get("privileged"):
            die("%s: privileged" % name)
        listen = [a.split("=", 1)[1] for a in args if a.startswith("--listen=")]
        port = int(listen[-1].rsplit(":", 1)[1]) if listen else 8005
        for probe in ("readinessProbe", "livenessProbe"):
            g = c.get(probe, {}).get("httpGet", {})
            if g.get("path") != "/healthz" or g.get("port") not in (port, "pprof"):
                die("%s: %s is %r, want httpGet /healthz on port %d" % (name, probe, g, port))
        if port not in [p.get("containerPort") for p in c.get("ports", [])]:
            die("%s: port %d is not a containerPort" % (name, port))
        tok = [a.split("=", 1)[1] for a in args if a.startswith("--auth-token-file=")]
        if listen and not listen[-1].startswith("127.") and not tok:
            die("%s: listens on %s without --auth-token-file" % (name, listen[-1]))
        for t in tok:
            mounts = [m for m in c.get("volumeMounts", []) if t.startswith(m["mountPath"].rstrip("/") + "/")]
            if not mounts:
                die("%s: token %s is on no volume" % (name, t))
            vol = [v for v in spec.get("volumes", []) if v["name"] == mounts[0]["name"]][0]
            mode = vol.get("secret", {}).get("defaultMode", 0o644)
            if mode & 0o004:
                die("%s: token volume mode %o: every user can read it" % (name, mode))
        print("\n".join(args))
        sys.stderr.write("ok: %s: a shared PID namespace, SYS_PTRACE, readOnlyRootFilesystem, "
                         "probes on /healthz:%d, %s\n" % (name, port, " ".join(args)))
if not found:
    die("no container runs profd with --match")
EOF
	# Every option the manifest passes is one of profd --help's.
	mapfile -t kargs <"$TEST_DIR/k8s.args"
	run=()
	for a in "${kargs[@]}"; do
		o=${a%%=*}
		[[ $o != --* ]] || grep -qxF -- "$o" "$TEST_DIR/help.long" ||
		    fail "$y: passes $o, which profd --help does not list"
		# the manifest's own paths and port: the token and the
		# snapshot directory from here, any port
		case $a in
		--auth-token-file=*) a=--auth-token-file=$TOKF ;;
		--output-dir=*) mkdir -p "$TEST_DIR/snapshots"; a=--output-dir=$TEST_DIR/snapshots ;;
		--listen=*) a=${a%:*}:0 ;;
		esac
		run+=("$a")
	done
	ok "$y: every option it passes is in profd --help"
	kargs=("${run[@]}")
	LISTEN_RE='listening on [0-9.]+:[0-9]+' start_profd_bare "${kargs[@]}"
	! grep -q 'warning:' "$PROFD_LOG" || fail "profd ${kargs[*]}: $(grep 'warning:' "$PROFD_LOG")"
	code=$(fetch "$BASE/healthz" "$TEST_DIR/k8s.healthz")
	expect_status "/healthz (the probes' path) without a token" "$code" 200
	ok "profd ${kargs[*]}: starts without warnings, /healthz -> $code"
	stop_profd
done

# ==== (c) deploy/Containerfile ======================================================
# The image the manifests name is the one it builds; its runtime stage
# installs the Debian package of every shared library profd links (NEEDED
# in the profd tested here; libc6 is in the base image), and the
# ENTRYPOINT is where make install PREFIX=/usr puts profd.
CF=deploy/Containerfile
for y in deploy/kubernetes/*.yaml; do
	img=$(sed -nE 's/^ *image: *(.*profd.*)$/\1/p' "$y" | sort -u)
	[ -n "$img" ] || fail "$y: no profd image"
	grep -qF -- "-t $img " "$CF" || fail "$CF does not build $img (the image $y names)"
done
ok "$CF builds the image the manifests name"
runtime=$(awk '/^FROM/ { n++ } n == 2' "$CF")
inst=$(printf '%s\n' "$runtime" | sed -n '/apt-get install/,/rm -rf/p')
command -v dpkg >/dev/null || fail "dpkg: not found"
for lib in $(objdump -p "$PROFD" | awk '$1 == "NEEDED" { print $2 }'); do
	path=$(ldd "$PROFD" | awk -v l="$lib" '$1 == l { print $3 }')
	[ -n "$path" ] || fail "ldd $PROFD: $lib not found"
	# dpkg knows each file by one name, /lib or /usr/lib (merged /usr)
	real=$(readlink -f "$path")
	pkg=
	for p in "$path" "$real" "/usr${path#/usr}" "${real#/usr}"; do
		pkg=$(dpkg -S "$p" 2>/dev/null | first_line | cut -d: -f1) || pkg=
		[ -z "$pkg" ] || break
	done
	[ -n "$pkg" ] || fail "$lib ($path): no Debian package owns it"
	case $pkg in
	libc6) continue ;;
	lib[alt]san[0-9]* | libubsan[0-9]*) continue ;;	# the sanitizer build's
	esac
	grep -w -- "$pkg" <<<"$inst" >/dev/null ||
	    fail "$CF: the runtime stage does not install $pkg ($lib, which profd links)"
	ok "$lib: $pkg, installed by the runtime stage"
done
grep '^ENTRYPOINT \["/usr/sbin/profd"\]' <<<"$runtime" >/dev/null ||
    fail "$CF: ENTRYPOINT is not /usr/sbin/profd"
grep -q 'make install PREFIX=/usr DESTDIR=/out' "$CF" ||
    fail "$CF: profd is not installed with PREFIX=/usr"

# ==== (c) deploy/parca.yaml and deploy/alloy.alloy ===================================
# Both scrape a profd for the profile types they enable: PATH [delta].
"$PY" - deploy/parca.yaml >"$TEST_DIR/parca.types" <<'EOF' || fail "deploy/parca.yaml: $(cat "$TEST_DIR/parca.types")"
# Keys as Parca's pkg/config (yaml.v3, KnownFields) knows them.
import re, sys, yaml
def die(msg):
    print(msg)
    sys.exit(1)
def dur(s):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", str(s))
    if not m:
        die("bad duration %r" % s)
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]
cfg = yaml.safe_load(open(sys.argv[1]))
if set(cfg) - {"object_storage", "scrape_configs"}:
    die("unknown top-level keys %s" % (set(cfg) - {"object_storage", "scrape_configs"}))
http_client = {"authorization", "basic_auth", "oauth2", "bearer_token", "bearer_token_file",
               "tls_config", "proxy_url", "no_proxy", "proxy_from_environment",
               "proxy_connect_header", "follow_redirects", "enable_http2", "http_headers"}
scrape = {"job_name", "params", "scrape_interval", "scrape_timeout", "scheme",
          "normalized_addresses", "profiling_config", "relabel_configs"} | http_client
defaults = {"memory": "/debug/pprof/allocs", "block": "/debug/pprof/block",
            "goroutine": "/debug/pprof/goroutine", "mutex": "/debug/pprof/mutex",
            "process_cpu": "/debug/pprof/profile"}
for sc in cfg["scrape_configs"]:
    bad = {k for k in sc if k not in scrape and not k.endswith("_configs")}
    if bad:
        die("%s: unknown keys %s" % (sc.get("job_name"), bad))
    iv, to = dur(sc.get("scrape_interval", "10s")), dur(sc.get("scrape_timeout", "0s"))
    if to and to <= iv:
        die("scrape_timeout %s must be greater than scrape_interval %s" % (to, iv))
    auth = sc.get("authorization", {})
    if auth and (auth.get("type") != "Bearer" or "credentials_file" not in auth):
        die("authorization %r: want type Bearer and a credentials_file" % auth)
    pc = sc.get("profiling_config", {})
    if set(pc) - {"pprof_config", "path_prefix"}:
        die("profiling_config: unknown keys %s" % (set(pc) - {"pprof_config", "path_prefix"}))
    pp = pc.get("pprof_config") or {}
    for name, t in pp.items():
        if set(t) - {"enabled", "path", "delta", "keep_sample_type"}:
            die("pprof_config.%s: unknown keys %s" % (name, set(t) - {"enabled", "path", "delta", "keep_sample_type"}))
        if name not in defaults and ("path" not in t or "enabled" not in t):
            die("pprof_config.%s: a custom profile needs enabled and path" % name)
    # Parca merges its defaults in: a type left out is enabled as its
    # default; one given keeps its own delta.
    prefix = pc.get("path_prefix", "").rstrip("/")
    for name in sorted(set(defaults) | set(pp)):
        if name in pp:
            t = dict(pp[name] or {})
            t.setdefault("enabled", True)
            t.setdefault("path", defaults.get(name))
            delta = bool(t.get("delta"))
        else:
            t = {"enabled": True, "path": defaults[name]}
            delta = name == "process_cpu"
        if name == "process_cpu" and t["enabled"] and not delta:
            die("process_cpu without delta: true gets no seconds= and profd's 30 s default")
        print("%s %s %s" % (name, prefix + t["path"], "off" if not t["enabled"] else "delta" if delta else "-"))
EOF
"$PY" - deploy/alloy.alloy >"$TEST_DIR/alloy.types" <<'EOF' || fail "deploy/alloy.alloy: $(cat "$TEST_DIR/alloy.types")"
# Blocks and attributes as Alloy's pyroscope.scrape (Arguments,
# ProfilingConfig, ProfilingTarget) knows them, with its defaults.
import re, sys
def die(msg):
    print(msg)
    sys.exit(1)
src = open(sys.argv[1]).read()
tokens = re.findall(r'"(?:[^"\\]|\\.)*"|[{}\[\]=,]|[A-Za-z_][A-Za-z0-9_.]*|\d+', src)
# A tiny parser: block := NAME [LABEL] { body }, attr := NAME = value,
# value := token | [ ... ] | { ... }.
tok_re = r'"(?:[^"\\]|\\.)*"|//[^\n]*|/\*(?:.|\n)*?\*/|[{}\[\]=,()]|[A-Za-z_][A-Za-z0-9_.]*|\d+'
if re.sub(tok_re, "", src).strip():
    die("cannot tokenize: %r" % re.sub(tok_re, "", src).strip()[:80])
tokens = [t for t in re.findall(tok_re, src) if not t.startswith(("//", "/*"))]
pos = 0
def value():
    global pos
    start, depth = pos, 0
    while True:
        if tokens[pos] in "[{(":
            depth += 1
        elif tokens[pos] in "]})":
            depth -= 1
        pos += 1
        if depth == 0 and (pos >= len(tokens) or tokens[pos] != "("):
            return " ".join(tokens[start:pos])
def body(end):
    global pos
    out = []
    while pos < len(tokens) and tokens[pos] != end:
        name = tokens[pos]
        pos += 1
        if tokens[pos] == "=":
            pos += 1
            out.append(("attr", name, value()))
            continue
        label = None
        if tokens[pos].startswith('"'):
            label = tokens[pos].strip('"')
            pos += 1
        if tokens[pos] != "{":
            die("expected { after %s, got %s" % (name, tokens[pos]))
        pos += 1
        out.append(("block", name, label, body("}")))
        pos += 1
    return out
top = body(None)
scrapes = [b for b in top if b[0] == "block" and b[1] == "pyroscope.scrape"]
if len(scrapes) != 1:
    die("want one pyroscope.scrape block, found %d" % len(scrapes))
attrs = {"targets", "forward_to", "job_name", "params", "scrape_interval", "scrape_timeout",
         "scheme", "delta_profiling_duration", "bearer_token", "bearer_token_file",
         "proxy_url", "no_proxy", "proxy_from_environment", "proxy_connect_header",
         "follow_redirects", "enable_http2", "http_headers"}
blocks = {"profiling_config", "basic_auth", "authorization", "oauth2", "tls_config", "clustering"}
types = {"memory": ("/debug/pprof/allocs", True, False), "block": ("/debug/pprof/block", True, False),
         "goroutine": ("/debug/pprof/goroutine", True, False), "mutex": ("/debug/pprof/mutex", True, False),
         "process_cpu": ("/debug/pprof/profile", True, True), "fgprof": ("/debug/fgprof", False, True),
         "godeltaprof_memory": ("/debug/pprof/delta_heap", False, False),
         "godeltaprof_mutex": ("/debug/pprof/delta_mutex", False, False),
         "godeltaprof_block": ("/debug/pprof/delta_block", False, False)}
eff = {k: {"path": v[0], "enabled": v[1], "delta": v[2]} for k, v in types.items()}
a = {}
for item in scrapes[0][3]:
    if item[0] == "attr":
        if item[1] not in attrs:
            die("pyroscope.scrape: unknown attribute %s" % item[1])
        a[item[1]] = item[2]
        continue
    if item[1] not in blocks:
        die("pyroscope.scrape: unknown block %s" % item[1])
    if item[1] != "profiling_config":
        continue
    for p in item[3]:
        if p[0] == "attr":
            if p[1] != "path_prefix":
                die("profiling_config: unknown attribute %s" % p[1])
            continue
        kind = p[1][len("profile."):] if p[1].startswith("profile.") else None
        if kind not in types and kind != "custom":
            die("profiling_config: unknown block %s" % p[1])
        t = eff.setdefault(p[2] if kind == "custom" else kind, {"path": None, "enabled": False, "delta": False})
        for q in p[3]:
            if q[0] != "attr" or q[1] not in ("enabled", "path", "delta"):
                die("%s: unknown %s %s" % (p[1], q[0], q[1]))
            t[q[1]] = {"true": True, "false": False}.get(q[2], q[2].strip('"'))
def secs(s, default):
    s = (s or default).strip('"')
    m = re.fullmatch(r"(\d+)s", s)
    if not m:
        die("duration %s: want seconds" % s)
    return int(m.group(1))
iv = secs(a.get("scrape_interval"), "15s")
dd = secs(a.get("delta_profiling_duration"), '"%ds"' % (iv - 1) if "scrape_interval" in a else "14s")
if any(t["enabled"] and t["delta"] for t in eff.values()) and not (iv >= 2 and 1 < dd <= iv - 1):
    die("delta profiling: scrape_interval %d s, delta_profiling_duration %d s" % (iv, dd))
if "bearer_token_file" not in a and "authorization" not in [i[1] for i in scrapes[0][3]]:
    die("no bearer_token_file: profd in the examples needs its token")
for name, t in sorted(eff.items()):
    print("%s %s %s" % (name, t["path"], "off" if not t["enabled"] else "delta" if t["delta"] else "-"))
EOF

start_profd --auth-token-file "$TOKF"
for f in parca alloy; do
	n_on=0 n_off=0
	while read -r name path how; do
		out=$TEST_DIR/$f.$name
		if [ "$how" = off ]; then
			code=$(fetch "$BASE$path" "$out" -H "Authorization: Bearer $TOKEN")
			expect_status "$f: disabled $name ($path) must be a type profd does not serve" "$code" 404
			n_off=$((n_off + 1))
			continue
		fi
		url=$BASE$path
		[ "$how" = delta ] && url="$url?seconds=1"
		code=$(fetch "$url" "$out" -H "Authorization: Bearer $TOKEN")
		expect_status "$f: enabled $name: GET $path" "$code" 200
		ct=$(header "$out.headers" Content-Type)
		[ "$ct" = application/octet-stream ] || fail "$f: $name: Content-Type '$ct' (Alloy wants application/octet-stream)"
		pdump summary "$out" >"$out.summary" || fail "$f: $name: the profile from $path does not decode"
		ok "$f: enabled $name: GET ${url#"$BASE"} -> 200 $ct, $(summary_get "$out.summary" sample_type | first_line), $(summary_get "$out.summary" 'total[0]') samples"
		n_on=$((n_on + 1))
	done <"$TEST_DIR/$f.types"
	[ "$n_on" -ge 1 ] || fail "$f: no profile type enabled"
	grep -q '^process_cpu /debug/pprof/profile delta$' "$TEST_DIR/$f.types" ||
	    fail "$f: process_cpu is not /debug/pprof/profile with seconds=: $(cat "$TEST_DIR/$f.types")"
	ok "$f: $n_on enabled profile types served by profd, $n_off disabled ones answer 404: $(awk '$3 != "off" { printf "%s ", $1 }' "$TEST_DIR/$f.types")"
done
stop_profd
assert_target_ok
say "PASS ops_system"
