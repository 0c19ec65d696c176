/* server.c - civetweb server and routes, in the shape of Go's
 * net/http/pprof (reference/pprof-compat.md section 1): same paths, same
 * parameters, same content types, same error convention, so that
 * `go tool pprof http://HOST:PORT/debug/pprof/profile` and scrapers such as
 * Parca and Grafana Alloy work unchanged.
 *
 * Every endpoint also answers under /pid/<PID>/ (scrapers use a
 * path_prefix; the target is chosen by the path, never by the query,
 * because pprof drops the query when it calls /symbol).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <civetweb.h>

#include "common/hex.h"
#include "http/http.h"

#define MAX_SYMBOL_BODY (1 << 20)
#define MAX_REQUEST_SIZE 16384	/* request line and headers */
#define MIN_THREADS 64		/* civetweb workers, at least */
#define MAX_SYMBOL_ADDRS 65536

struct http_server {
	struct mg_context *ctx;
	struct http_config cfg;
	const struct http_ops *ops;
	void *opsctx;
	char bound[128];
};

/* Profiles Go serves that cannot be produced from outside the process. */
static const struct {
	const char *name, *why;
} unavailable[] = {
	{ "block", "block profiles need runtime hooks inside the process" },
	{ "mutex", "mutex profiles need runtime hooks inside the process" },
	{ "threadcreate", "thread creation profiles need runtime hooks "
			  "inside the process" },
	{ "trace", "execution traces exist only inside the Go runtime" },
};

/* ---- pure helpers ------------------------------------------------------ */

int
http_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v = 0;
	const char *p;

	if (!s || !*s)
		return -EINVAL;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > UINT_MAX)
			return -ERANGE;
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = (unsigned)v;
	return 0;
}

int
http_split_pid(const char *uri, pid_t *pid, const char **rest)
{
	const char *p;
	long v = 0;

	if (strncmp(uri, "/pid/", 5) != 0) {
		*pid = 0;
		*rest = uri;
		return 0;
	}
	p = uri + 5;
	if (*p < '1' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > INT_MAX)
			return -EINVAL;
	}
	if (*p != '/' && *p != '\0')
		return -EINVAL;
	*pid = (pid_t)v;
	*rest = *p ? p : "/";
	return 0;
}

static bool
same_secret(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b), i;
	unsigned char diff = alen != blen;

	/* every byte of the token is looked at, whatever the input */
	for (i = 0; i < blen; i++)
		diff |= (unsigned char)(b[i] ^ (i < alen ? a[i] : 0));
	return diff == 0;
}

static int
b64_val(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

bool
http_auth_ok(const char *h, const char *token)
{
	char dec[512];
	size_t n = 0;
	unsigned acc = 0;
	int bits = 0;
	const char *colon;

	if (!h)
		return false;
	while (*h == ' ')
		h++;
	if (strncasecmp(h, "Bearer ", 7) == 0) {
		h += 7;
		while (*h == ' ')
			h++;
		return same_secret(h, strcspn(h, " \t"), token);
	}
	if (strncasecmp(h, "Basic ", 6) != 0)
		return false;
	for (h += 6; *h == ' '; h++)
		;
	for (; *h && *h != '='; h++) {
		int v = b64_val(*h);

		if (v < 0 || n >= sizeof(dec) - 1)
			return false;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			dec[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	dec[n] = '\0';
	colon = memchr(dec, ':', n);
	if (!colon)
		return false;
	return same_secret(colon + 1, n - (size_t)(colon + 1 - dec), token);
}

int
http_parse_symbol_addrs(const char *s, size_t len, uint64_t *addrs,
			size_t max)
{
	const char *p = s, *end = s + len;
	size_t n = 0;

	while (p < end) {
		uint64_t v = 0;
		int digits = 0;

		while (p < end && (*p == '+' || *p == ' ' || *p == '\n' ||
				   *p == '\r'))
			p++;
		if (p >= end)
			break;
		if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
			p += 2;
		for (; p < end && *p != '+' && *p != ' ' && *p != '\n' &&
		       *p != '\r';
		     p++) {
			int d = hex_digit(*p);

			if (d < 0)
				return -EINVAL;
			if (v >> 60)
				return -EINVAL;
			v = v * 16 + (uint64_t)d;
			digits++;
		}
		if (!digits)
			return -EINVAL;
		if (n < max)
			addrs[n++] = v;
	}
	return (int)n;
}

/* ---- responses ---------------------------------------------------------- */

static void
send_body(struct mg_connection *c, int status, const char *ctype,
	  const void *body, size_t len, const char *disposition, bool go_err)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	char cl[32];

	snprintf(cl, sizeof(cl), "%zu", len);
	mg_response_header_start(c, status);
	mg_response_header_add(c, "Content-Type", ctype, -1);
	mg_response_header_add(c, "Content-Length", cl, -1);
	mg_response_header_add(c, "X-Content-Type-Options", "nosniff", -1);
	mg_response_header_add(c, "Cache-Control", "no-store", -1);
	if (disposition)
		mg_response_header_add(c, "Content-Disposition", disposition,
				       -1);
	if (go_err)
		mg_response_header_add(c, "X-Go-Pprof", "1", -1);
	mg_response_header_send(c);
	if (len && strcmp(ri->request_method, "HEAD") != 0)
		mg_write(c, body, len);
}

/* Go's serveError: status, text/plain, X-Go-Pprof: 1, one line. pprof
 * prints the body only when both of the last two are there. */
static int
send_error(struct mg_connection *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
send_error(struct mg_connection *c, int status, const char *fmt, ...)
{
	char msg[HTTP_ERRLEN + 2];
	va_list ap;
	int n, i;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(msg) - 2)
		n = (int)sizeof(msg) - 2;
	/* messages quote the request (seconds=%0a, /debug/pprof/a%1b[31m):
	 * one line, and no terminal escapes for pprof to print */
	for (i = 0; i < n; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = '?';
	msg[n++] = '\n';
	msg[n] = '\0';
	send_body(c, status, "text/plain; charset=utf-8", msg, (size_t)n, NULL,
		  true);
	return status;
}

/* format= of a profile answer (check_format decides it, send_profile
 * honours it). */
enum reply_format { FORMAT_PPROF, FORMAT_FOLDED, FORMAT_SVG };

/* Profile P as an SVG flame graph titled after the request. */
static int
send_svg(struct mg_connection *c, const struct pprof *p, const char *name)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	char title[160], *svg;
	size_t len;
	int e;

	snprintf(title, sizeof(title), "profd %s: %.120s", name,
		 ri->local_uri ? ri->local_uri : "");
	e = http_flame_svg(p, title, &svg, &len);
	if (e < 0)
		return send_error(c, 500, "cannot draw the flame graph: %s",
				  strerror(-e));
	send_body(c, 200, "image/svg+xml", svg, len, NULL, false);
	free(svg);
	return 200;
}

static int
send_reply(struct mg_connection *c, struct http_reply *r, const char *name)
{
	char disp[96];
	unsigned char *buf;
	size_t len;
	int e;

	if (r->status != 200) {
		e = send_error(c, r->status ? r->status : 500, "%s",
			       r->msg[0] ? r->msg : "internal error");
		pprof_free(r->profile);
		free(r->text);
		return e;
	}
	if (r->profile) {
		e = pprof_encode(r->profile, true, &buf, &len);
		pprof_free(r->profile);
		if (e < 0)
			return send_error(c, 500,
					  "cannot encode the profile: %s",
					  strerror(-e));
		snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"",
			 name);
		send_body(c, 200, "application/octet-stream", buf, len, disp,
			  false);
		free(buf);
		return 200;
	}
	send_body(c, 200, "text/plain; charset=utf-8", r->text ? r->text : "",
		  r->text_len, NULL, false);
	free(r->text);
	return 200;
}

static int
redirect(struct mg_connection *c, const char *to)
{
	mg_response_header_start(c, 301);
	mg_response_header_add(c, "Location", to, -1);
	mg_response_header_add(c, "Content-Length", "0", -1);
	mg_response_header_send(c);
	return 301;
}

/* ---- request counters ------------------------------------------------- */

/* Answers by endpoint class and status code, for /metrics. Process-wide
 * (profd runs one server); relaxed atomics, any thread. */
enum {
	H_PROFILE, H_WALL, H_GROWTH, H_MEMORY, H_HISTORY, H_THREADS, H_SYMBOL,
	H_CMDLINE, H_INDEX, H_METRICS, H_TARGETS, H_SERVICES, H_SNAPSHOTS,
	H_HEALTHZ, H_OTHER
};
static const char *const handler_names[HTTP_HANDLERS] = {
	"profile", "wall", "growth", "memory", "history", "threads",
	"symbol", "cmdline", "index", "metrics", "targets", "services",
	"snapshots", "healthz", "other",
};
static uint64_t requests[HTTP_HANDLERS][HTTP_CODE_MAX - HTTP_CODE_MIN + 1];

const char *
http_handler_name(unsigned h)
{
	return h < HTTP_HANDLERS ? handler_names[h] : NULL;
}

uint64_t
http_requests(unsigned h, int code)
{
	if (h >= HTTP_HANDLERS || code < HTTP_CODE_MIN || code > HTTP_CODE_MAX)
		return 0;
	return __atomic_load_n(&requests[h][code - HTTP_CODE_MIN],
			       __ATOMIC_RELAXED);
}

/* The class of a decoded request path (what follows any /pid/N or
 * /service/NAME prefix): the profile endpoints by name, the rest by
 * their first component. */
static unsigned
handler_class(const char *path)
{
	static const struct {
		const char *path;
		unsigned h;
	} exact[] = {
		{ "/debug/pprof/profile", H_PROFILE },
		{ "/debug/pprof/wall", H_WALL },
		{ "/debug/fgprof", H_WALL },
		{ "/debug/pprof/growth", H_GROWTH },
		{ "/debug/pprof/memory", H_MEMORY },
		{ "/debug/pprof/history", H_HISTORY },
		{ "/debug/pprof/threads", H_THREADS },
		{ "/debug/pprof/goroutine", H_THREADS },
		{ "/debug/pprof/symbol", H_SYMBOL },
		{ "/debug/pprof/cmdline", H_CMDLINE },
		{ "/debug/pprof/", H_INDEX },
		{ "/debug/pprof", H_INDEX },
		{ "/", H_INDEX },
		{ "/metrics", H_METRICS },
		{ "/targets", H_TARGETS },
		{ "/services", H_SERVICES },
		{ "/healthz", H_HEALTHZ },
	};
	size_t i;

	for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strcmp(path, exact[i].path) == 0)
			return exact[i].h;
	if (strncmp(path, "/snapshots", 10) == 0)
		return H_SNAPSHOTS;
	return H_OTHER;
}

static void
count_request(const char *path, int status)
{
	unsigned h = handler_class(path);

	if (status < HTTP_CODE_MIN || status > HTTP_CODE_MAX)
		return;
	__atomic_add_fetch(&requests[h][status - HTTP_CODE_MIN], 1,
			   __ATOMIC_RELAXED);
}

/* ---- routes -------------------------------------------------------------- */

int
http_query_var(const char *q, const char *name, char *buf, size_t len)
{
	const char *p;
	size_t nl = strlen(name);
	int n;

	if (!q)
		return -1;
	/* the first value wins when a key repeats, as with Go's FormValue
	 * (Parca may append a second seconds=) */
	n = mg_get_var(q, strlen(q), name, buf, len);
	if (n >= 0 && memchr(buf, '\0', (size_t)n))
		return -2;	/* seconds=1%00 is not seconds=1 */
	if (n != -1)
		return n;
	/* a bare "seconds" is "seconds=" to Go, not an absent key */
	for (p = q; *p; p += strcspn(p, "&"), p += *p == '&') {
		if (strncasecmp(p, name, nl) == 0 &&
		    (p[nl] == '\0' || p[nl] == '&') && len > 0) {
			buf[0] = '\0';
			return 0;
		}
	}
	return -1;
}

static int
get_var(const struct mg_request_info *ri, const char *name, char *buf,
	size_t len)
{
	return http_query_var(ri->query_string, name, buf, len);
}

/* ---- the client of a window ---------------------------------------------
 *
 * civetweb blocks a handler for the whole window and tells it nothing when
 * the client goes, nor does its API give the connection's socket. The
 * socket is found once per window among profd's own descriptors, as the
 * one connected socket whose peer is the request's remote address and port
 * and whose local port is the request's server port (a TCP connection is
 * unique by those); while the handler runs, civetweb neither closes nor
 * reuses it. Then a poll() for POLLRDHUP, which never reads, tells whether
 * the client has closed its side.
 */

struct http_client {
	int fd;
};

/* IPv4 address A4 (4 bytes, network order) as ::ffff:a.b.c.d. */
static void
v4_mapped(unsigned char out[16], const void *a4)
{
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, a4, 4);
}

/* An IPv4 or IPv6 address as 16 bytes (IPv4 as ::ffff:a.b.c.d) and its
 * port. */
static bool
sock_addr16(const struct sockaddr_storage *ss, unsigned char out[16],
	    int *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		v4_mapped(out, &a->sin_addr);
		*port = ntohs(a->sin_port);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		memcpy(out, &a->sin6_addr, 16);
		*port = ntohs(a->sin6_port);
		return true;
	}
	return false;
}

static bool
str_addr16(const char *s, unsigned char out[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		v4_mapped(out, &a4);
		return true;
	}
	return inet_pton(AF_INET6, s, out) == 1;
}

/* The socket of the request's connection, or -1 when not exactly one
 * matches. */
static int
client_fd(const struct mg_request_info *ri)
{
	unsigned char want[16], got[16];
	struct dirent *de;
	int found = -1, n = 0, port;
	DIR *d;

	if (!str_addr16(ri->remote_addr, want) || ri->remote_port <= 0 ||
	    ri->server_port <= 0)
		return -1;
	d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		struct sockaddr_storage ss;
		struct stat st;
		socklen_t sl;
		int fd;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		fd = atoi(de->d_name);
		if (fd == dirfd(d) || fstat(fd, &st) < 0 ||
		    !S_ISSOCK(st.st_mode))
			continue;
		sl = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
		    !sock_addr16(&ss, got, &port) || port != ri->server_port)
			continue;
		sl = sizeof(ss);
		if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0 ||
		    !sock_addr16(&ss, got, &port) || port != ri->remote_port ||
		    memcmp(got, want, 16) != 0)
			continue;
		found = fd;
		n++;
	}
	closedir(d);
	return n == 1 ? found : -1;
}

bool
http_client_gone(const struct http_client *c)
{
	struct pollfd p;

	if (!c || c->fd < 0)
		return false;
	p.fd = c->fd;
	p.events = POLLRDHUP;
	p.revents = 0;
	if (poll(&p, 1, 0) <= 0)
		return false;
	return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* seconds=0 asks for Go's default window (net/http/pprof's
 * "seconds <= 0 means 30"), on every endpoint that takes seconds. */
#define ZERO_SECONDS 30

/* format=: pprof (the default), folded (collapsed stacks, folded.c) or
 * svg (a flame graph, flame_svg.c); anything else is a 400 that names
 * what exists, never a pprof answer the client did not ask for. Checked
 * before any window starts. 0 when acceptable, with *fmt set; else the
 * status sent. */
static int
check_format(struct mg_connection *c, enum reply_format *fmt)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	char v[64];
	int n = get_var(ri, "format", v, sizeof(v));

	*fmt = FORMAT_PPROF;
	if (n == -1 || (n >= 0 && strcmp(v, "pprof") == 0))
		return 0;
	if (n >= 0 && strcmp(v, "folded") == 0) {
		*fmt = FORMAT_FOLDED;
		return 0;
	}
	if (n >= 0 && strcmp(v, "svg") == 0) {
		*fmt = FORMAT_SVG;
		return 0;
	}
	return send_error(c, 400, "unknown format %.32s; use format=pprof "
			  "(the default), format=folded or format=svg",
			  n >= 0 ? v : "...");
}

/* send_reply, with a profile in the format asked for. */
static int
send_profile(struct mg_connection *c, struct http_reply *r, const char *name,
	     enum reply_format fmt)
{
	char *text;
	size_t len;
	int e;

	if (fmt == FORMAT_PPROF || r->status != 200 || !r->profile)
		return send_reply(c, r, name);
	if (fmt == FORMAT_SVG) {
		e = send_svg(c, r->profile, name);
		pprof_free(r->profile);
		free(r->text);
		return e;
	}
	e = pprof_folded(r->profile, &text, &len);
	pprof_free(r->profile);
	free(r->text);
	if (e < 0)
		return send_error(c, 503, "profd is out of memory");
	send_body(c, 200, "text/plain; charset=utf-8", text, len, NULL, false);
	free(text);
	return 200;
}

static int
route_profile(struct http_server *s, struct mg_connection *c, pid_t pid,
	      enum http_profile_kind kind)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	struct http_client client;
	struct http_profile_req req;
	struct http_reply r;
	char v[64];
	enum reply_format fmt;
	int n;

	memset(&req, 0, sizeof(req));
	req.kind = kind;
	req.pid = pid;
	req.seconds = s->cfg.default_seconds;
	req.hz = s->cfg.default_hz;
	if ((n = check_format(c, &fmt)) != 0)
		return n;
	n = get_var(ri, "seconds", v, sizeof(v));
	if (n == -2 ||
	    (n >= 0 && http_parse_uint(v, 0, s->cfg.max_seconds,
				       &req.seconds) < 0))
		return send_error(c, 400,
				  "invalid seconds=%.32s: want a whole number "
				  "of seconds from 1 to %u (profd "
				  "--max-seconds), or 0 for %u",
				  n >= 0 ? v : "...", s->cfg.max_seconds,
				  ZERO_SECONDS);
	if (req.seconds == 0 && ZERO_SECONDS > s->cfg.max_seconds)
		return send_error(c, 400,
				  "seconds=0 means %u s, over profd "
				  "--max-seconds %u: give seconds=1..%u",
				  ZERO_SECONDS, s->cfg.max_seconds,
				  s->cfg.max_seconds);
	if (req.seconds == 0)
		req.seconds = ZERO_SECONDS;
	n = get_var(ri, "hz", v, sizeof(v));
	if (n == -2 ||
	    (n >= 0 && http_parse_uint(v, 1, s->cfg.max_hz, &req.hz) < 0))
		return send_error(c, 400,
				  "invalid hz=%.32s: want samples per second "
				  "from 1 to %u (profd --max-hz)",
				  n >= 0 ? v : "...", s->cfg.max_hz);
	client.fd = client_fd(ri);
	if (client.fd >= 0)
		req.client = &client;
	memset(&r, 0, sizeof(r));
	s->ops->profile(s->opsctx, &req, &r);
	if (r.status == 499) {
		/* the client has gone (its window was cancelled): nothing
		 * would read an answer, so none is sent, as nginx does */
		pprof_free(r.profile);
		free(r.text);
		mg_disable_connection_keep_alive(c);
		return 499;
	}
	return send_profile(c, &r,
			    kind == HTTP_PROFILE_WALL	  ? "wall"
			    : kind == HTTP_PROFILE_GROWTH ? "growth"
							  : "profile",
			    fmt);
}

static int
route_memory(struct http_server *s, struct mg_connection *c, pid_t pid)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	struct http_reply r;
	char v[64];
	enum reply_format fmt;
	int e;

	if ((e = check_format(c, &fmt)) != 0)
		return e;
	if (get_var(ri, "seconds", v, sizeof(v)) != -1)
		return send_error(c, 400,
				  "\"seconds\" parameter is not supported for "
				  "this profile type: the memory view is taken "
				  "now");
	memset(&r, 0, sizeof(r));
	s->ops->memory(s->opsctx, pid, &r);
	return send_profile(c, &r, "memory", fmt);
}

/* /debug/pprof/heap and allocs: a Go program's memory profile, as its
 * runtime holds it now. gc=1 would have Go collect first, which profd
 * cannot ask of the target; seconds= (a delta) and debug= (text) are
 * not served. */
static int
route_heap(struct http_server *s, struct mg_connection *c, pid_t pid,
	   bool allocs)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	struct http_reply r;
	char v[64];
	enum reply_format fmt;
	int e, n;

	if ((e = check_format(c, &fmt)) != 0)
		return e;
	n = get_var(ri, "gc", v, sizeof(v));
	if (n == -2 || (n >= 0 && strcmp(v, "0") != 0 && v[0]))
		return send_error(c, 400,
				  "gc=%.32s: profd cannot run a garbage "
				  "collection in the target; ask without gc "
				  "(the profile is as of the runtime's last "
				  "collection)",
				  n >= 0 ? v : "...");
	if (get_var(ri, "seconds", v, sizeof(v)) != -1)
		return send_error(c, 400,
				  "\"seconds\" parameter is not supported for "
				  "this profile type: profd serves the profile "
				  "as the runtime holds it now");
	n = get_var(ri, "debug", v, sizeof(v));
	if (n == -2 || (n >= 0 && strcmp(v, "0") != 0 && v[0]))
		return send_error(c, 400,
				  "debug=%.32s is not supported for this "
				  "profile type: ask for debug=0 (pprof)",
				  n >= 0 ? v : "...");
	memset(&r, 0, sizeof(r));
	s->ops->heap(s->opsctx, pid, allocs, &r);
	return send_profile(c, &r, allocs ? "allocs" : "heap", fmt);
}

/* n digits of s as a number into *v; false when one is not a digit. */
static bool
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

/* A fraction of a second ("5" of "12.5") into ns; the end in *end. */
static int64_t
fraction_ns(const char *s, const char **end)
{
	int64_t ns = 0, scale = 100000000;

	for (; *s >= '0' && *s <= '9'; s++) {
		ns += (*s - '0') * scale;
		scale /= 10;
	}
	*end = s;
	return ns;
}

/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM). */
static int
parse_rfc3339(const char *s, int64_t *ns)
{
	int y, mo, d, h, mi, sec, oh, om, off = 0;
	int64_t frac = 0;
	struct tm tm;
	time_t t;

	if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' ||
	    !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' ||
	    !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec))
		return -EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return -EINVAL;
	s += 19;
	if (*s == '.') {
		const char *e;

		frac = fraction_ns(s + 1, &e);
		if (e == s + 1)
			return -EINVAL;
		s = e;
	}
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0') {
		off = 0;
	} else if ((*s == '+' || *s == '-') && strlen(s) == 6 &&
		   digits(s + 1, 2, &oh) && s[3] == ':' &&
		   digits(s + 4, 2, &om) && oh < 24 && om < 60) {
		off = (oh * 60 + om) * 60 * (*s == '-' ? -1 : 1);
	} else {
		return -EINVAL;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != d)	/* e.g. February 30 */
		return -EINVAL;
	*ns = ((int64_t)t - off) * 1000000000LL + frac;
	return 0;
}

int
http_parse_time(const char *s, int64_t *ns)
{
	const char *e;
	int64_t sec = 0, frac = 0;
	size_t n = strspn(s, "0123456789");

	if (n == 0)
		return -EINVAL;
	if (s[n] == '-')
		return parse_rfc3339(s, ns);
	if (n > 12)	/* beyond the year 33000 */
		return -EINVAL;
	for (e = s; e < s + n; e++)
		sec = sec * 10 + (*e - '0');
	e = s + n;
	if (*e == '.') {
		frac = fraction_ns(e + 1, &e);
		if (e == s + n + 1)
			return -EINVAL;
	}
	if (*e != '\0')
		return -EINVAL;
	*ns = sec * 1000000000LL + frac;
	return 0;
}

/* HISTORY_MAX_SECONDS: a seconds= longer than any history asks for all
 * of it. */
#define HISTORY_MAX_SECONDS (366u * 86400u)

/* since= or until= into *ns (left INT64_MIN when absent). */
static int
history_time(struct mg_connection *c, const char *name, int64_t *ns)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	char v[64];
	int n = get_var(ri, name, v, sizeof(v));

	if (n == -1)
		return 0;
	if (n == -2 || http_parse_time(v, ns) < 0)
		return send_error(c, 400,
				  "invalid %s=%.40s: want an RFC 3339 time "
				  "(2026-12-03T13:00:00Z) or Unix seconds",
				  name, n >= 0 ? v : "...");
	return 0;
}

/* The span of a history request (seconds=, since=, until=, and kind=
 * when with_kind) into *req: 0, or the status of the 400 already sent. */
static int
history_req(struct mg_connection *c, pid_t pid, bool with_kind,
	    struct http_history_req *req)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	char v[64];
	int n, e;

	memset(req, 0, sizeof(*req));
	req->kind = HTTP_PROFILE_CPU;
	req->pid = pid;
	req->since = req->until = INT64_MIN;
	n = with_kind ? get_var(ri, "kind", v, sizeof(v)) : -1;
	if (n >= 0 && strcmp(v, "wall") == 0)
		req->kind = HTTP_PROFILE_WALL;
	else if (n >= 0 && strcmp(v, "growth") == 0)
		req->kind = HTTP_PROFILE_GROWTH;
	else if (n == -2 || (n >= 0 && strcmp(v, "cpu") != 0))
		return send_error(c, 400,
				  "invalid kind=%.32s: want cpu, wall or growth",
				  n >= 0 ? v : "...");
	n = get_var(ri, "seconds", v, sizeof(v));
	if (n == -2 || (n >= 0 && http_parse_uint(v, 0, HISTORY_MAX_SECONDS,
						  &req->seconds) < 0))
		return send_error(c, 400,
				  "invalid seconds=%.32s: want a whole number "
				  "of seconds from 1 to %u, or 0 for %u",
				  n >= 0 ? v : "...", HISTORY_MAX_SECONDS,
				  ZERO_SECONDS);
	if (n >= 0 && req->seconds == 0)
		req->seconds = ZERO_SECONDS;
	if ((e = history_time(c, "since", &req->since)) != 0 ||
	    (e = history_time(c, "until", &req->until)) != 0)
		return e;
	if (req->seconds && req->since != INT64_MIN && req->until != INT64_MIN)
		return send_error(c, 400,
				  "give at most two of seconds=, since= and "
				  "until=");
	if (req->since != INT64_MIN && req->until != INT64_MIN &&
	    req->since >= req->until)
		return send_error(c, 400, "since= must be before until=");
	return 0;
}

/* /debug/pprof/history: continuous mode's record of a span, at once. */
static int
route_history(struct http_server *s, struct mg_connection *c, pid_t pid)
{
	struct http_history_req req;
	struct http_reply r;
	enum reply_format fmt;
	int e;

	if ((e = check_format(c, &fmt)) != 0 ||
	    (e = history_req(c, pid, true, &req)) != 0)
		return e;
	memset(&r, 0, sizeof(r));
	s->ops->history(s->opsctx, &req, &r);
	return send_profile(c, &r, "history", fmt);
}

/* /history/buckets: the same span, the buckets' figures as JSON. */
static int
route_history_buckets(struct http_server *s, struct mg_connection *c,
		      pid_t pid)
{
	struct http_history_req req;
	struct http_reply r;
	int e;

	if ((e = history_req(c, pid, false, &req)) != 0)
		return e;
	memset(&r, 0, sizeof(r));
	s->ops->history_buckets(s->opsctx, &req, &r);
	if (r.status != 200)
		return send_reply(c, &r, "buckets");
	send_body(c, 200, "application/json", r.text, r.text_len, NULL,
		  false);
	free(r.text);
	return 200;
}

static int
route_threads(struct http_server *s, struct mg_connection *c, pid_t pid,
	      bool goroutine)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	struct http_reply r;
	unsigned debug = 0;
	char v[64];
	enum reply_format fmt;
	int n;

	n = get_var(ri, "debug", v, sizeof(v));
	if (n == -2 || (n >= 0 && http_parse_uint(v, 0, 2, &debug) < 0))
		return send_error(c, 400,
				  "invalid debug=%.32s: want 0 (pprof), 1 "
				  "(stacks with counts) or 2 (every thread)",
				  n >= 0 ? v : "...");
	if ((n = check_format(c, &fmt)) != 0)
		return n;
	if (fmt != FORMAT_PPROF && debug != 0)
		return send_error(c, 400,
				  "format=folded and svg need debug=0 (a "
				  "profile); debug=%u is text",
				  debug);
	if (get_var(ri, "seconds", v, sizeof(v)) >= 0)
		return send_error(c, 400,
				  "\"seconds\" parameter is not supported for "
				  "this profile type: a thread dump is taken "
				  "now");
	memset(&r, 0, sizeof(r));
	s->ops->threads(s->opsctx, pid, (int)debug, goroutine, &r);
	return send_profile(c, &r, goroutine ? "goroutine" : "threads",
			    fmt);
}

static int
route_metrics(struct http_server *s, struct mg_connection *c)
{
	struct http_reply r;

	memset(&r, 0, sizeof(r));
	s->ops->metrics(s->opsctx, &r);
	if (r.status != 200)
		return send_reply(c, &r, "metrics");
	send_body(c, 200, "text/plain; version=0.0.4; charset=utf-8",
		  r.text ? r.text : "", r.text_len, NULL, false);
	free(r.text);
	return 200;
}

static int
route_cmdline(struct http_server *s, struct mg_connection *c, pid_t pid)
{
	struct http_reply r;

	memset(&r, 0, sizeof(r));
	s->ops->cmdline(s->opsctx, pid, &r);
	return send_reply(c, &r, "cmdline");
}

/* The addresses of a /symbol request as text: the POST body (at most
 * MAX_SYMBOL_BODY bytes) or the query string. *body is malloc'd, or NULL
 * with *len 0 when the request has neither. Returns 0, or the status of
 * the error answer already sent. */
static int
symbol_request(struct mg_connection *c, char **body, size_t *len)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	char *b;
	size_t n = 0;

	*body = NULL;
	*len = 0;
	if (strcmp(ri->request_method, "POST") == 0) {
		if (ri->content_length > MAX_SYMBOL_BODY)
			return send_error(c, 413,
					  "symbol request too large: send at "
					  "most %d bytes of addresses",
					  MAX_SYMBOL_BODY);
		b = malloc(MAX_SYMBOL_BODY + 1);
		if (!b)
			return send_error(c, 503, "profd is out of memory");
		for (;;) {
			int got = mg_read(c, b + n, MAX_SYMBOL_BODY - n);

			if (got < 0) {
				/* a broken chunked body is not the probe */
				free(b);
				return send_error(c, 400,
						  "cannot read the request "
						  "body: send the addresses "
						  "with a Content-Length or "
						  "valid chunks");
			}
			if (got == 0)
				break;
			n += (size_t)got;
			if (n == MAX_SYMBOL_BODY)
				break;
		}
	} else if (ri->query_string) {
		b = strdup(ri->query_string);
		if (!b)
			return send_error(c, 503, "profd is out of memory");
		n = strlen(b);
	} else {
		return 0;
	}
	*body = b;
	*len = n;
	return 0;
}

/* Go's /symbol answer: "num_symbols: 1", then "0xADDR NAME" for each of
 * the n addresses that has a name. Malloc'd, *outlen bytes, not
 * NUL-terminated; NULL on ENOMEM. */
static char *
symbol_answer(const uint64_t *addrs, char *const *names, size_t n,
	      size_t *outlen)
{
	char *out = NULL;
	size_t len = 0, cap = 0, i;

	for (i = 0; i <= n; i++) {
		char line[64];
		const char *name = "";
		size_t need;
		int k;

		if (i == 0) {
			k = snprintf(line, sizeof(line), "num_symbols: 1\n");
		} else {
			if (!names[i - 1])
				continue;
			name = names[i - 1];
			k = snprintf(line, sizeof(line), "%#" PRIx64 " ",
				     addrs[i - 1]);
		}
		need = (size_t)k + strlen(name) + 2;
		if (len + need > cap) {
			char *no;

			cap = (len + need) * 2;
			no = realloc(out, cap);
			if (!no) {
				free(out);
				return NULL;
			}
			out = no;
		}
		memcpy(out + len, line, (size_t)k);
		len += (size_t)k;
		if (i > 0) {
			memcpy(out + len, name, strlen(name));
			len += strlen(name);
			out[len++] = '\n';
		}
	}
	*outlen = len;
	return out;
}

/* Go's /symbol protocol: GET without addresses is the probe ("we do
 * symbols"); GET with a query or POST with a body asks for names. */
static int
route_symbol(struct http_server *s, struct mg_connection *c, pid_t pid)
{
	uint64_t *addrs = NULL;
	char **names = NULL, *body, *text;
	struct http_reply r;
	size_t len, i, textlen;
	int n = 0, status;

	status = symbol_request(c, &body, &len);
	if (status)
		return status;
	if (len == 0) {
		/* the probe pprof-style clients send: "we do symbols" */
		send_body(c, 200, "text/plain; charset=utf-8",
			  "num_symbols: 1\n", 15, NULL, false);
		status = 200;
		goto out;
	}
	addrs = malloc(MAX_SYMBOL_ADDRS * sizeof(*addrs));
	if (!addrs) {
		status = send_error(c, 503, "profd is out of memory");
		goto out;
	}
	n = http_parse_symbol_addrs(body, len, addrs, MAX_SYMBOL_ADDRS);
	free(body);
	body = NULL;
	if (n < 0) {
		n = 0;
		status = send_error(c, 400,
				    "invalid symbol request: want hex "
				    "addresses joined by '+', e.g. "
				    "0x401000+0x401234");
		goto out;
	}
	names = calloc((size_t)n + 1, sizeof(*names));
	if (!names) {
		status = send_error(c, 503, "profd is out of memory");
		goto out;
	}
	memset(&r, 0, sizeof(r));
	s->ops->symbol(s->opsctx, pid, addrs, (size_t)n, names, &r);
	if (r.status != 200) {
		status = send_reply(c, &r, "symbol");
		goto out;
	}
	text = symbol_answer(addrs, names, (size_t)n, &textlen);
	if (!text) {
		status = send_error(c, 503, "profd is out of memory");
		goto out;
	}
	send_body(c, 200, "text/plain; charset=utf-8", text, textlen, NULL,
		  false);
	free(text);
	status = 200;
out:
	for (i = 0; names && i < (size_t)n; i++)
		free(names[i]);
	free(names);
	free(addrs);
	free(body);
	return status;
}

/* A JSON answer the daemon builds (/targets, /services). */
static int
route_json(struct mg_connection *c,
	   void (*op)(void *ctx, struct http_reply *r), void *ctx,
	   const char *what)
{
	struct http_reply r;

	memset(&r, 0, sizeof(r));
	op(ctx, &r);
	if (r.status != 200)
		return send_reply(c, &r, what);
	send_body(c, 200, "application/json", r.text ? r.text : "[]",
		  r.text ? r.text_len : 2, NULL, false);
	free(r.text);
	return 200;
}

static int
route_targets(struct http_server *s, struct mg_connection *c)
{
	return route_json(c, s->ops->targets_json, s->opsctx, "targets");
}

static void
html_escape(char *dst, size_t len, const char *src)
{
	size_t o = 0;

	for (; *src && o + 7 < len; src++) {
		switch (*src) {
		case '<': o += (size_t)snprintf(dst + o, len - o, "&lt;"); break;
		case '>': o += (size_t)snprintf(dst + o, len - o, "&gt;"); break;
		case '&': o += (size_t)snprintf(dst + o, len - o, "&amp;"); break;
		case '"': o += (size_t)snprintf(dst + o, len - o, "&quot;"); break;
		default: dst[o++] = *src;
		}
	}
	dst[o] = '\0';
}

static int
route_index(struct http_server *s, struct mg_connection *c, pid_t pid)
{
	struct http_target_info ti[16];
	char *page, comm[256];
	size_t n, i, len = 0, cap = 16384;
	int k;

	n = s->ops->targets(s->opsctx, ti, 16);
	page = malloc(cap);
	if (!page)
		return send_error(c, 503, "profd is out of memory");
#define OUT(...)                                                              \
	do {                                                                  \
		k = snprintf(page + len, cap - len, __VA_ARGS__);             \
		if (k > 0 && (size_t)k < cap - len)                           \
			len += (size_t)k;                                     \
	} while (0)
	OUT("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>profd /debug/pprof/</title>"
	    "<style>body{font-family:sans-serif}td{padding:0 1em}"
	    ".profile-name{display:inline-block;width:6rem}</style>"
	    "</head><body>\n<h1>profd /debug/pprof/</h1>\n");
	for (i = 0; i < n; i++) {
		if (pid && ti[i].pid != pid)
			continue;
		html_escape(comm, sizeof(comm), ti[i].comm);
		OUT("<p>Target: process %d (%s)%s &mdash; "
		    "<a href=\"/pid/%d/debug/pprof/\">/pid/%d/debug/pprof/</a>"
		    "</p>\n",
		    (int)ti[i].pid, comm, ti[i].alive ? "" : ", exited",
		    (int)ti[i].pid, (int)ti[i].pid);
	}
	if (!pid && n != 1)
		OUT("<p>%zu processes are served (<a href=\"/targets\">"
		    "/targets</a>): choose one of the links above; the "
		    "endpoints below answer only with one process.</p>\n",
		    n);
	OUT("<p>Types of profiles available:</p>\n<table>\n"
	    "<tr><td><a href=\"profile?seconds=%u\">profile</a></td>"
	    "<td>CPU profile of the target's running threads, sampled from "
	    "outside with ptrace. Add <code>seconds=N</code> (1..%u; 0 "
	    "means 30) and <code>hz=N</code> (1..%u). Open it with "
	    "<code>go tool pprof</code>; <code>format=folded</code> gives "
	    "collapsed stacks (every profile here).</td></tr>\n"
	    "<tr><td><a href=\"wall?seconds=%u\">wall</a></td>"
	    "<td>Wall-clock profile of every thread, running or waiting, "
	    "with thread, tid and state labels (alias /debug/fgprof)."
	    "</td></tr>\n"
	    "<tr><td><a href=\"growth?seconds=%u\">growth</a></td>"
	    "<td>Memory growth: the stacks of running threads weighted by "
	    "the page faults each took since its previous sample "
	    "(faults/bytes), i.e. who grew the resident memory. Attributed "
	    "by sampling: see the man page.</td></tr>\n"
	    "<tr><td><a href=\"memory\">memory</a></td>"
	    "<td>Where the resident memory sits now, by mapping ([heap], "
	    "[stack], [anon], each file): resident, anonymous and swap "
	    "bytes, from /proc/PID/smaps.</td></tr>\n"
	    "<tr><td><a href=\"heap\">heap</a>, <a href=\"allocs\">"
	    "allocs</a></td>"
	    "<td>Go programs only: the runtime's own memory profile (in use "
	    "and allocated objects and bytes, by allocating stack), as Go "
	    "writes it; other programs: see memory and growth.</td></tr>\n"
	    "<tr><td><a href=\"history?seconds=60\">history</a></td>"
	    "<td>With <code>profd --continuous</code>: the recorded CPU "
	    "(or <code>kind=wall</code>, <code>kind=growth</code>) profile "
	    "of the last "
	    "<code>seconds=N</code>, or <code>since=</code>/"
	    "<code>until=</code> (RFC 3339 or Unix seconds), at once."
	    "</td></tr>\n"
	    "<tr><td><a href=\"threads?debug=1\">threads</a></td>"
	    "<td>Stacks of every thread now: <a href=\"threads?debug=2\">"
	    "one block per thread</a> with state, system call and idle time, "
	    "or a pprof profile (debug=0; alias goroutine).</td></tr>\n"
	    "<tr><td><a href=\"cmdline\">cmdline</a></td>"
	    "<td>The target's command line.</td></tr>\n"
	    "<tr><td><a href=\"symbol\">symbol</a></td>"
	    "<td>Addresses to function names (pprof's remote symbolization "
	    "protocol).</td></tr>\n</table>\n"
	    "<p>Example: <code>go tool pprof -http=:8080 "
	    "http://HOST:PORT%s/debug/pprof/profile?seconds=30</code></p>\n"
	    "<p>Not available from outside a process: block, "
	    "mutex, threadcreate, trace. Metrics: <a href=\"/metrics\">"
	    "/metrics</a>.</p>\n<p>Flame graphs in the browser: "
	    "<a href=\"/ui/\">/ui/</a>; any profile above as one SVG file: "
	    "add <code>format=svg</code>.</p>\n</body></html>\n",
	    s->cfg.default_seconds, s->cfg.max_seconds, s->cfg.max_hz,
	    s->cfg.default_seconds, s->cfg.default_seconds,
	    pid ? "/pid/PID" : "");
#undef OUT
	send_body(c, 200, "text/html; charset=utf-8", page, len, NULL, false);
	free(page);
	return 200;
}

/* Percent-decode a path (civetweb is told not to: decode_url=no). Its own
 * decoder cuts the path at a %00, so that /debug/pprof/%00 was the index
 * and /debug/pprof/profile%00x a profile, and lets a malformed escape
 * through as text; Go's net/http answers both with 400. */
int
http_decode_path(const char *src, char *dst, size_t len)
{
	size_t o = 0;
	int hi, lo;

	for (; *src; src++) {
		char ch = *src;

		if (ch == '%') {
			hi = hex_digit(src[1]);
			lo = hi < 0 ? -1 : hex_digit(src[2]);
			if (lo < 0 || (hi == 0 && lo == 0))
				return -1;
			ch = (char)(hi << 4 | lo);
			src += 2;
		}
		if (o + 1 >= len)
			return -1;
		dst[o++] = ch;
	}
	dst[o] = '\0';
	return 0;
}

/* PATH (what follows /debug/pprof/) for target PID, 0 for the default
 * one; the target is already checked. */
static int
route_pprof(struct http_server *s, struct mg_connection *c, pid_t pid,
	    const char *path)
{
	size_t i;

	if (*path == '\0')
		return route_index(s, c, pid);
	if (strcmp(path, "profile") == 0)
		return route_profile(s, c, pid, HTTP_PROFILE_CPU);
	if (strcmp(path, "wall") == 0)
		return route_profile(s, c, pid, HTTP_PROFILE_WALL);
	if (strcmp(path, "growth") == 0)
		return route_profile(s, c, pid, HTTP_PROFILE_GROWTH);
	if (strcmp(path, "memory") == 0)
		return route_memory(s, c, pid);
	if (strcmp(path, "heap") == 0)
		return route_heap(s, c, pid, false);
	if (strcmp(path, "allocs") == 0)
		return route_heap(s, c, pid, true);
	if (strcmp(path, "history") == 0)
		return route_history(s, c, pid);
	if (strcmp(path, "threads") == 0)
		return route_threads(s, c, pid, false);
	if (strcmp(path, "goroutine") == 0)
		return route_threads(s, c, pid, true);
	if (strcmp(path, "cmdline") == 0)
		return route_cmdline(s, c, pid);
	if (strcmp(path, "symbol") == 0)
		return route_symbol(s, c, pid);
	for (i = 0; i < sizeof(unavailable) / sizeof(unavailable[0]); i++)
		if (strcmp(path, unavailable[i].name) == 0)
			return send_error(c, 404,
					  "%s profile not available: %s; profd "
					  "serves /debug/pprof/profile (CPU)",
					  unavailable[i].name,
					  unavailable[i].why);
	return send_error(c, 404,
			  "unknown profile %.64s; see /debug/pprof/ for the "
			  "list",
			  path);
}

/* /snapshots/ and /snapshots/NAME/FILE (rest: what follows
 * "/snapshots"): one name and one file, each without '/' and not
 * hidden, else 404. */
static int
route_snapshots(struct http_server *s, struct mg_connection *c,
		const char *rest)
{
	char name[256], file[64];
	const char *slash, *type = "application/octet-stream";
	struct http_reply r;
	size_t nl;

	if (rest[0] == '\0')
		return redirect(c, "/snapshots/");
	if (rest[0] != '/')
		return send_error(c, 404, "unknown path; see /snapshots/");
	rest++;
	memset(&r, 0, sizeof(r));
	if (rest[0] == '\0') {
		s->ops->snapshots(s->opsctx, NULL, NULL, &r);
		if (r.status != 200)
			return send_reply(c, &r, "snapshots");
		send_body(c, 200, "application/json", r.text, r.text_len,
			  NULL, false);
		free(r.text);
		return 200;
	}
	slash = strchr(rest, '/');
	nl = slash ? (size_t)(slash - rest) : 0;
	if (!slash || nl == 0 || nl >= sizeof(name) || rest[0] == '.' ||
	    slash[1] == '.' || slash[1] == '\0' || strchr(slash + 1, '/') ||
	    strlen(slash + 1) >= sizeof(file))
		return send_error(c, 404,
				  "no such snapshot file; see /snapshots/");
	memcpy(name, rest, nl);
	name[nl] = '\0';
	snprintf(file, sizeof(file), "%s", slash + 1);
	s->ops->snapshots(s->opsctx, name, file, &r);
	if (r.status != 200)
		return send_reply(c, &r, "snapshot");
	nl = strlen(file);
	if (nl > 5 && strcmp(file + nl - 5, ".json") == 0)
		type = "application/json";
	else if (nl > 4 && strcmp(file + nl - 4, ".txt") == 0)
		type = "text/plain; charset=utf-8";
	send_body(c, 200, type, r.text, r.text_len, NULL, false);
	free(r.text);
	return 200;
}

/* /ui/NAME: the embedded page (http/ui.c), which may reach profd and
 * nothing else. */
static int
route_ui(struct mg_connection *c, const char *name)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	const char *ctype;
	const void *data;
	size_t len;
	char cl[32];

	if (!http_ui_asset(name, &data, &len, &ctype))
		return send_error(c, 404, "no such file; the page is /ui/");
	snprintf(cl, sizeof(cl), "%zu", len);
	mg_response_header_start(c, 200);
	mg_response_header_add(c, "Content-Type", ctype, -1);
	mg_response_header_add(c, "Content-Length", cl, -1);
	mg_response_header_add(c, "X-Content-Type-Options", "nosniff", -1);
	mg_response_header_add(c, "Cache-Control", "no-cache", -1);
	mg_response_header_add(c, "Content-Security-Policy",
			       "default-src 'self'; img-src 'self' data:; "
			       "frame-ancestors 'none'",
			       -1);
	mg_response_header_send(c);
	if (strcmp(ri->request_method, "HEAD") != 0)
		mg_write(c, data, len);
	return 200;
}

/* 401 with both schemes go tool pprof and browsers can answer. */
static int
send_unauthorized(struct mg_connection *c)
{
	static const char no[] =
		"authentication required: send 'Authorization: "
		"Bearer TOKEN', or use http://x:TOKEN@host:port/...\n";
	const struct mg_request_info *ri = mg_get_request_info(c);
	char cl[16];

	snprintf(cl, sizeof(cl), "%zu", sizeof(no) - 1);
	mg_response_header_start(c, 401);
	mg_response_header_add(c, "Content-Type", "text/plain; charset=utf-8",
			       -1);
	mg_response_header_add(c, "X-Go-Pprof", "1", -1);
	mg_response_header_add(c, "WWW-Authenticate", "Bearer realm=\"profd\"",
			       -1);
	mg_response_header_add(c, "WWW-Authenticate", "Basic realm=\"profd\"",
			       -1);
	mg_response_header_add(c, "Content-Length", cl, -1);
	mg_response_header_send(c);
	if (strcmp(ri->request_method, "HEAD") != 0)
		mg_write(c, no, sizeof(no) - 1);
	return 401;
}

/* Route one request. upath (MAX_REQUEST_SIZE bytes) receives the decoded
 * path; *pathp is left pointing at the part that names the endpoint (for
 * the request counters), or at "" before it is known. Returns the status
 * sent. */
static int
dispatch(struct http_server *s, struct mg_connection *c, char *upath,
	 const char **pathp)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	const char *path, *uri;
	const char *m = ri->request_method;
	struct http_reply r;
	char loc[128];
	pid_t pid;

	if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 &&
	    strcmp(m, "POST") != 0)
		return send_error(c, 405,
				  "method %.16s not allowed: use GET (or POST "
				  "for /debug/pprof/symbol)",
				  m);
	if (http_decode_path(ri->local_uri ? ri->local_uri : "/", upath,
			     MAX_REQUEST_SIZE) < 0)
		return send_error(c, 400,
				  "invalid path: bad percent-encoding (%%00 "
				  "or %% without two hex digits)");
	uri = upath;
	*pathp = uri;
	/* for liveness and readiness probes: no token, no target needed */
	if (strcmp(uri, "/healthz") == 0) {
		send_body(c, 200, "text/plain; charset=utf-8", "ok\n", 3, NULL,
			  false);
		return 200;
	}
	if (s->cfg.auth_token &&
	    !http_auth_ok(mg_get_header(c, "Authorization"),
			  s->cfg.auth_token))
		return send_unauthorized(c);
	if (strncmp(uri, "/service/", 9) == 0) {
		/* a --match service by name: its id is a negative pid */
		size_t nl = strcspn(uri + 9, "/");
		char name[64];

		snprintf(name, sizeof(name), "%.*s", (int)nl, uri + 9);
		pid = nl < sizeof(name) ? s->ops->service(s->opsctx, name) : 0;
		if (pid >= 0)
			return send_error(c, 404,
					  "no service %.64s: services are "
					  "named after their --match rule "
					  "(see /services)",
					  name);
		path = uri[9 + nl] ? uri + 9 + nl : "/";
	} else if (http_split_pid(uri, &pid, &path) < 0) {
		return send_error(c, 404,
				  "bad target prefix: want /pid/<PID>/debug/"
				  "pprof/...");
	}
	*pathp = path;
	if (pid == 0 && strncmp(path, "/snapshots", 10) == 0)
		return route_snapshots(s, c, path + 10);
	if (pid == 0) {
		if (strcmp(path, "/services") == 0)
			return route_json(c, s->ops->services_json,
					  s->opsctx, "services");
		if (strcmp(path, "/metrics") == 0)
			return route_metrics(s, c);
		if (strcmp(path, "/targets") == 0)
			return route_targets(s, c);
		if (strcmp(path, "/debug/pprof/") == 0)
			return route_index(s, c, 0);
		if (strcmp(path, "/ui") == 0)
			return redirect(c, "/ui/");
		if (strncmp(path, "/ui/", 4) == 0)
			return route_ui(c, path + 4);
	}
	if (pid == 0 && strcmp(path, "/history/buckets") == 0) {
		/* also ?pid=N, beside /pid/N/history/buckets */
		char v[16];
		unsigned p = 0;
		int n = get_var(ri, "pid", v, sizeof(v));

		if (n == -2 ||
		    (n >= 0 && http_parse_uint(v, 1, INT_MAX, &p) < 0))
			return send_error(c, 400,
					  "invalid pid=%.15s: want a process "
					  "id",
					  n >= 0 ? v : "...");
		pid = (pid_t)p;
	}
	memset(&r, 0, sizeof(r));
	if (!s->ops->check_target(s->opsctx, pid, &r))
		return send_reply(c, &r, "");
	if (strcmp(path, "/history/buckets") == 0)
		return route_history_buckets(s, c, pid);

	if (strcmp(path, "/debug/fgprof") == 0)
		return route_profile(s, c, pid, HTTP_PROFILE_WALL);
	if (strcmp(path, "/") == 0 || strcmp(path, "/debug/pprof") == 0) {
		if (pid < 0)
			snprintf(loc, sizeof(loc), "%.*s/debug/pprof/",
				 (int)(strlen(uri) - strlen(path)), uri);
		else if (pid)
			snprintf(loc, sizeof(loc), "/pid/%d/debug/pprof/",
				 (int)pid);
		else
			snprintf(loc, sizeof(loc), "/debug/pprof/");
		return redirect(c, loc);
	}
	if (strncmp(path, "/debug/pprof/", 13) != 0)
		return send_error(c, 404,
				  "unknown path; profiles are under "
				  "/debug/pprof/ (see /debug/pprof/ for the "
				  "list)");
	return route_pprof(s, c, pid, path + 13);
}

static int
handler(struct mg_connection *c, void *cbdata)
{
	char upath[MAX_REQUEST_SIZE];
	const char *path = "";
	int status;

	status = dispatch(cbdata, c, upath, &path);
	count_request(path, status);
	return status;
}


/* civetweb's own error answers (malformed requests, over 16 KiB): it
 * writes the request's HTTP version into the status line, and after a
 * malformed request line ("GET /a b HTTP/1.1") that "version" is the rest
 * of the request, CRLFs and headers included, sent back as response
 * headers. Answer those in HTTP/1.1; civetweb still writes the answer. */
static int
http_error(struct mg_connection *c, int status, const char *msg)
{
	/* the request's own struct, which civetweb lets handlers read */
	struct mg_request_info *ri =
		(struct mg_request_info *)(uintptr_t)mg_get_request_info(c);

	(void)status;
	(void)msg;
	if (ri && ri->http_version && strcmp(ri->http_version, "1.0") != 0 &&
	    strcmp(ri->http_version, "1.1") != 0)
		ri->http_version = "1.1";
	return 1;
}

static int
log_message(const struct mg_connection *c, const char *msg)
{
	const struct mg_context *ctx = mg_get_context(c);
	struct http_server *s = ctx ? mg_get_user_data(ctx) : NULL;

	if (s && s->ops->log)
		s->ops->log(s->opsctx, msg);
	return 1;
}

/* civetweb takes the certificate and its key from one PEM file: write both
 * into a private temporary file; it is read by mg_start and removed right
 * after. */
static int
tls_pem(const char *cert, const char *key, char *path, size_t len, char *err,
	size_t errlen)
{
	const char *dirs[] = { getenv("RUNTIME_DIRECTORY"), getenv("TMPDIR"),
			       "/tmp" };
	const char *files[] = { cert, key };
	char buf[8192];
	size_t i;
	int fd = -1, in;

	for (i = 0; i < 3 && fd < 0; i++) {
		if (!dirs[i] || !dirs[i][0])
			continue;
		snprintf(path, len, "%s/profd-tls-XXXXXX", dirs[i]);
		fd = mkstemp(path);	/* mode 0600 */
	}
	if (fd < 0) {
		snprintf(err, errlen, "TLS: cannot create a temporary file: %s",
			 strerror(errno));
		return -1;
	}
	for (i = 0; i < 2; i++) {
		ssize_t n;

		in = open(files[i], O_RDONLY | O_CLOEXEC);
		if (in < 0) {
			snprintf(err, errlen, "cannot read %s: %s", files[i],
				 strerror(errno));
			goto fail;
		}
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(fd, buf, (size_t)n) != n)
				n = -1;
		close(in);
		if (n < 0 || write(fd, "\n", 1) != 1) {
			snprintf(err, errlen, "TLS: cannot copy %s: %s",
				 files[i], strerror(errno));
			goto fail;
		}
	}
	close(fd);
	return 0;
fail:
	close(fd);
	unlink(path);
	return -1;
}

/* What the configuration asks of this civetweb build, and the PEM file
 * for TLS (path in pem, "" without TLS; the caller unlinks it). -1 with
 * err filled. */
static int
start_checks(const struct http_config *cfg, char *pem, size_t pemlen,
	     char *err, size_t errlen)
{
	pem[0] = '\0';
	if (cfg->listen[0] == '[' && !mg_check_feature(8)) {
		snprintf(err, errlen,
			 "cannot listen on %s: this civetweb was built without "
			 "IPv6; give an IPv4 address",
			 cfg->listen);
		return -1;
	}
	if (!cfg->tls_cert)
		return 0;
	if (!mg_check_feature(2)) {
		snprintf(err, errlen, "this civetweb was built without TLS");
		return -1;
	}
	if (http_tls_preload(err, errlen) < 0)
		return -1;
	return tls_pem(cfg->tls_cert, cfg->tls_key, pem, pemlen, err, errlen);
}

/* civetweb's options, and the strings they point to. */
struct civet_opts {
	const char *v[24];	/* name, value, ..., NULL */
	int n;
	char threads[16], max_req[16], listen[160];
};

static void
civet_opt(struct civet_opts *o, const char *name, const char *value)
{
	o->v[o->n++] = name;
	o->v[o->n++] = value;
	o->v[o->n] = NULL;
}

static void
civet_options(struct civet_opts *o, const struct http_config *cfg,
	      const char *pem)
{
	o->n = 0;
	/* civetweb serves each connection on a worker of its own, idle
	 * keep-alive and slow clients included: never fewer than
	 * MIN_THREADS, or with --max-sessions 1 (17 workers) 17 silent
	 * connections were enough to block every request */
	snprintf(o->threads, sizeof(o->threads), "%u",
		 cfg->threads > MIN_THREADS ? cfg->threads : MIN_THREADS);
	snprintf(o->max_req, sizeof(o->max_req), "%d", MAX_REQUEST_SIZE);
	snprintf(o->listen, sizeof(o->listen), "%s%s", cfg->listen,
		 pem[0] ? "s" : "");

	civet_opt(o, "listening_ports", o->listen);
	civet_opt(o, "num_threads", o->threads);
	/* No document_root: civetweb serves no files at all. */
	civet_opt(o, "enable_directory_listing", "no");
	/* One thread per connection: a client that connects and sends its
	 * request slowly, or not at all, holds a worker until this timeout
	 * (for the request line and headers; for a body or an answer, the
	 * most time without progress). 60 s let a few such clients starve
	 * every other request for a minute. */
	civet_opt(o, "request_timeout_ms", "10000");
	/* the handler decodes the path itself (decode_path) */
	civet_opt(o, "decode_url", "no");
	civet_opt(o, "enable_keep_alive", "yes");
	/* headers and body are two writes: with Nagle, every answer on a
	 * reused connection waited 40 ms for the client's delayed ACK */
	civet_opt(o, "tcp_nodelay", "1");
	civet_opt(o, "keep_alive_timeout_ms", "5000");
	/* request line and headers together; beyond it civetweb (1.15)
	 * answers 400 "Malformed message" without calling us */
	civet_opt(o, "max_request_size", o->max_req);
	if (pem[0]) {
		civet_opt(o, "ssl_certificate", pem);
		/* TLS 1.2 and newer */
		civet_opt(o, "ssl_protocol_version", "4");
	}
}

/* s->bound: the host of --listen (0.0.0.0 when it names only a port) and
 * the port civetweb actually bound. */
static void
set_bound(struct http_server *s)
{
	struct mg_server_port ports[4];
	const char *host = s->cfg.listen, *colon = strrchr(host, ':');
	int hlen = colon ? (int)(colon - host) : 0, np;

	if (!colon) {
		host = "0.0.0.0";
		hlen = 7;
	}
	np = mg_get_server_ports(s->ctx, 4, ports);
	snprintf(s->bound, sizeof(s->bound), "%.*s:%d", hlen, host,
		 np > 0 ? ports[0].port : 0);
}

struct http_server *
http_start(const struct http_config *cfg, const struct http_ops *ops,
	   void *ctx, char *err, size_t errlen)
{
	struct mg_callbacks cb;
	struct http_server *s;
	struct mg_init_data init;
	struct mg_error_data ed;
	struct civet_opts opts;
	char ebuf[256], pem[512];

	if (start_checks(cfg, pem, sizeof(pem), err, errlen) < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	s->cfg = *cfg;
	s->ops = ops;
	s->opsctx = ctx;
	civet_options(&opts, cfg, pem);

	memset(&cb, 0, sizeof(cb));
	cb.log_message = log_message;
	cb.http_error = http_error;
	memset(&init, 0, sizeof(init));
	init.callbacks = &cb;
	init.user_data = s;
	init.configuration_options = opts.v;
	memset(&ed, 0, sizeof(ed));
	ebuf[0] = '\0';
	ed.text = ebuf;
	ed.text_buffer_size = sizeof(ebuf);

	mg_init_library(pem[0] ? MG_FEATURES_TLS : 0);
	s->ctx = mg_start2(&init, &ed);
	if (!s->ctx) {
		snprintf(err, errlen, "cannot listen on %s: %s", cfg->listen,
			 ebuf[0] ? ebuf : "civetweb failed to start");
		mg_exit_library();
		free(s);
		s = NULL;
		goto out;
	}
	mg_set_request_handler(s->ctx, "/", handler, s);
	set_bound(s);
out:
	if (pem[0])
		unlink(pem);
	return s;
}

const char *
http_bound(const struct http_server *s)
{
	return s->bound;
}

struct poke {
	struct addrinfo *ai;	/* loopback, the listening port */
	volatile int done;
};

/* civetweb's master thread notices mg_stop() only when its poll() on the
 * listening sockets returns, after up to SOCKET_TIMEOUT_QUANTUM (2 s in
 * Debian's build). A connection wakes it at once. */
static void *
poke_main(void *arg)
{
	struct poke *p = arg;

	while (!__atomic_load_n(&p->done, __ATOMIC_ACQUIRE)) {
		struct timespec d = { 0, 20 * 1000000L };
		int fd;

		fd = socket(p->ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0) {
			(void)connect(fd, p->ai->ai_addr, p->ai->ai_addrlen);
			close(fd);
		}
		nanosleep(&d, NULL);
	}
	return NULL;
}

/* The loopback address of the bound socket's family and its port, for
 * poke_main; false when there is no port to poke. Numeric: no lookup. */
static bool
poke_addr(const struct http_server *s, struct addrinfo **ai)
{
	const char *colon = strrchr(s->bound, ':');
	struct addrinfo hints;

	if (!colon || atoi(colon + 1) <= 0)
		return false;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	return getaddrinfo(s->bound[0] == '[' ? "::1" : "127.0.0.1",
			   colon + 1, &hints, ai) == 0;
}

void
http_stop(struct http_server *s)
{
	struct poke p;
	pthread_t th;
	bool poking = false;

	if (!s)
		return;
	memset(&p, 0, sizeof(p));
	if (poke_addr(s, &p.ai))
		poking = pthread_create(&th, NULL, poke_main, &p) == 0;
	mg_stop(s->ctx);
	if (poking) {
		__atomic_store_n(&p.done, 1, __ATOMIC_RELEASE);
		pthread_join(th, NULL);
	}
	if (p.ai)
		freeaddrinfo(p.ai);
	mg_exit_library();
	free(s);
}
