/* fuzz_http - the request parsing of http/server.c that is profd's own
 * (civetweb has split the request by then): the path's percent-decoding
 * and /pid/N/ prefix, the query parameters seconds=, hz= and debug= with
 * their limits, the Authorization header, and the addresses of a /symbol
 * request.
 *
 * Input: PATH '\n' QUERY '\n' AUTHORIZATION '\n' BODY; missing fields are
 * empty. The body, which may hold anything, is also parsed as a query.
 */
#include "tests/fuzz/fuzz.h"

#include "http/http.h"

#define UPATH_LEN 16384		/* server.c: MAX_REQUEST_SIZE */
#define TOKEN "s3cret-token"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* The next '\n'-terminated field of [*p, end) as a malloc'd string. */
static char *
field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	const uint8_t *stop = nl ? nl : end;
	char *s = fuzz_strndup(*p, (size_t)(stop - *p));

	*p = nl ? nl + 1 : end;
	return s;
}

static void
path_checks(const char *path)
{
	static char upath[UPATH_LEN];
	const char *rest;
	pid_t pid;

	if (http_decode_path(path, upath, sizeof(upath)) < 0)
		return;
	FUZZ_ASSERT(strlen(upath) < sizeof(upath), "decoded path overran");
	if (http_split_pid(upath, &pid, &rest) < 0)
		return;
	FUZZ_ASSERT(pid >= 0, "negative pid %d", (int)pid);
	FUZZ_ASSERT(rest[0] == '/' || (pid == 0 && rest == upath),
		    "rest \"%s\" of \"%s\"", rest, upath);
	fuzz_touch(rest);
}

/* A parameter as route_profile() and route_threads() take it. */
static void
param(const char *q, const char *name, unsigned min, unsigned max)
{
	char v[64];
	unsigned u = 0;
	int n;

	n = http_query_var(q, name, v, sizeof(v));
	if (n < 0)
		return;
	FUZZ_ASSERT((size_t)n < sizeof(v) && strlen(v) == (size_t)n,
		    "%s: length %d, strlen %zu", name, n, strlen(v));
	if (http_parse_uint(v, min, max, &u) == 0)
		FUZZ_ASSERT(u >= min && u <= max, "%s=%u outside [%u, %u]",
			    name, u, min, max);
}

static void
query_checks(const char *q)
{
	param(q, "seconds", 1, 600);
	param(q, "hz", 1, 1000);
	param(q, "debug", 0, 2);
}

static void
symbol_checks(const char *s, size_t len)
{
	uint64_t addrs[8];
	int n;

	n = http_parse_symbol_addrs(s, len, addrs, 8);
	FUZZ_ASSERT(n <= 8, "%d addresses stored in 8", n);
	n = http_parse_symbol_addrs(s, len, addrs, 0);
	FUZZ_ASSERT(n <= 0, "%d addresses stored in 0", n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char *path, *query, *auth, *body;
	size_t body_len;

	path = field(&p, end);
	query = field(&p, end);
	auth = field(&p, end);
	body_len = (size_t)(end - p);
	body = fuzz_strndup(p, body_len);

	path_checks(path);
	query_checks(query);
	query_checks(body);
	http_auth_ok(auth, TOKEN);
	http_auth_ok(auth, "");
	symbol_checks(body, body_len);
	symbol_checks(query, strlen(query));

	free(path);
	free(query);
	free(auth);
	free(body);
	return 0;
}
