/* http - the HTTP face of profd: civetweb server, routes, parameter
 * checking, and the encoders (pprof protobuf + gzip).
 *
 * The server knows nothing about ptrace or symbols: every route that needs
 * data calls into the daemon through struct http_ops, which returns a
 * finished struct pprof (or text) or an HTTP status with a one-line message.
 * Errors go out as Go's net/http/pprof does: non-2xx, text/plain,
 * X-Go-Pprof: 1, one line that says what to do.
 *
 * Errors: most functions return 0 (or a count) or -errno; those that
 * return an id return 0 and those that return a pointer NULL on failure;
 * where they take one, `err` (errlen bytes, HTTP_ERRLEN will do) is filled
 * with a message for a person. Each prototype says which it follows.
 *
 * Threads: a struct pprof belongs to one thread at a time (the caller
 * serialises; no locks inside). http_start, http_stop and
 * http_tls_preload are for the daemon's main thread. The http_ops
 * callbacks run on civetweb's worker threads, several at once. The pure
 * helpers at the end hold no state and are safe from any thread.
 *
 * This module never logs and never exits; civetweb's own messages are
 * handed to http_ops.log.
 */
#ifndef PROFD_HTTP_H
#define PROFD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_ERRLEN 256

/* ---- pprof profiles ---------------------------------------------------
 *
 * One struct serves both as the builder (pprof_new + pprof_add_*) and as
 * the result of pprof_decode(). Everything that refers to a string holds an
 * index into strings[]; strings[0] is always "". IDs of mappings,
 * locations and functions are dense, 1..N, and element i of each array has
 * id i + 1 (what Parca and Pyroscope require).
 */

struct pprof_vt {
	int64_t type, unit;	/* string indexes */
};

struct pprof_mapping {
	uint64_t id, start, limit, offset;
	int64_t filename, build_id;
	bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
};

struct pprof_line {
	uint64_t function_id;
	int64_t line;
};

struct pprof_location {
	uint64_t id, mapping_id, address;
	struct pprof_line *lines;	/* innermost (inlined callee) first */
	size_t n_lines;
};

struct pprof_function {
	uint64_t id;
	int64_t name, system_name, filename, start_line;
};

struct pprof_label {
	int64_t key;
	int64_t str;		/* string label when non-zero */
	int64_t num;		/* numeric label when str == 0 */
	int64_t num_unit;	/* optional, string index */
};

struct pprof_sample {
	uint64_t *location_ids;	/* leaf first */
	size_t n_locations;
	int64_t *values;	/* one per sample type */
	size_t n_values;
	struct pprof_label *labels;
	size_t n_labels;
};

struct pprof_priv;

struct pprof {
	struct pprof_vt *sample_types;
	size_t n_sample_types;
	struct pprof_sample *samples;
	size_t n_samples;
	struct pprof_mapping *mappings;
	size_t n_mappings;
	struct pprof_location *locations;
	size_t n_locations;
	struct pprof_function *functions;
	size_t n_functions;
	char **strings;
	size_t n_strings;
	int64_t time_nanos, duration_nanos;
	struct pprof_vt period_type;
	int64_t period;
	int64_t *comments;
	size_t n_comments;
	int64_t default_sample_type;
	struct pprof_priv *priv;	/* builder indexes; NULL when decoded */
};

/* The builder calls below (pprof_string, pprof_add_*, pprof_set_*) copy
 * every string and array they are given: the caller keeps its own. They
 * work only on a profile from pprof_new(): on one from pprof_decode() they
 * fail (-EINVAL, -1 or 0 as each says). A failed call adds no element
 * (it may have interned some of its strings): the profile stays valid to
 * encode or free. */

/* A new, empty profile whose string table holds "". The caller owns it
 * and frees it with pprof_free(). NULL with errno ENOMEM. */
struct pprof *pprof_new(void);

/* Free P and everything it holds (built or decoded). Accepts NULL. */
void pprof_free(struct pprof *p);

/* Intern a string (UTF-8 sanitised: invalid bytes become U+FFFD) and
 * return its index; NULL and "" give 0. The profile keeps its own copy.
 * -1 on ENOMEM or on a decoded profile. */
int64_t pprof_string(struct pprof *p, const char *s);

/* Append a sample type, e.g. ("cpu", "nanoseconds"). 0, or -EINVAL on a
 * decoded profile, -ENOMEM. */
int pprof_add_sample_type(struct pprof *p, const char *type,
			  const char *unit);

/* Set the period type (its strings interned) and the period. 0, or
 * -EINVAL on a decoded profile, -ENOMEM. */
int pprof_set_period(struct pprof *p, const char *type, const char *unit,
		     int64_t period);

/* Set the profile's start time and length, in nanoseconds. Cannot fail. */
void pprof_set_time(struct pprof *p, int64_t time_nanos,
		    int64_t duration_nanos);

/* Append a comment (interned). 0, or -EINVAL on a decoded profile,
 * -ENOMEM. */
int pprof_add_comment(struct pprof *p, const char *comment);

/* Append a mapping; returns its id (1..N), or 0 on ENOMEM or on a decoded
 * profile. Flags can be changed later through p->mappings[id - 1]. */
uint64_t pprof_add_mapping(struct pprof *p, uint64_t start, uint64_t limit,
			   uint64_t offset, const char *filename,
			   const char *build_id);

/* A function, deduplicated on (name, system_name, filename, start_line);
 * returns its id, or 0 on ENOMEM or on a decoded profile. */
uint64_t pprof_add_function(struct pprof *p, const char *name,
			    const char *system_name, const char *filename,
			    int64_t start_line);

/* A location, deduplicated on (mapping_id, address): a second call with the
 * same pair returns the first id and ignores `lines`. lines[] (innermost
 * first) is copied. Returns its id, or 0 on ENOMEM or on a decoded
 * profile. */
uint64_t pprof_add_location(struct pprof *p, uint64_t mapping_id,
			    uint64_t address, const struct pprof_line *lines,
			    size_t n_lines);

/* Label for pprof_add_sample: str != NULL makes a string label, otherwise
 * num (with optional num_unit) makes a numeric one. */
struct pprof_label_in {
	const char *key;
	const char *str;
	int64_t num;
	const char *num_unit;
};

/* Append a sample; location_ids leaf first. Arrays and label strings are
 * copied. 0, or -EINVAL (a decoded profile, n_values not the number of
 * sample types, a label without a key), -ENOMEM. */
int pprof_add_sample(struct pprof *p, const uint64_t *location_ids,
		     size_t n_locations, const int64_t *values,
		     size_t n_values, const struct pprof_label_in *labels,
		     size_t n_labels);

/* Serialise to profile.proto, gzip-compressed when gzip is true. P is
 * only read (a decoded profile encodes too). On success *out is malloc'd,
 * *out_len bytes, and the caller frees it; on failure *out is untouched.
 * 0, or -EINVAL (P would not decode: a dangling id or string index, ids
 * out of order), -E2BIG (2 GiB or more), -ENOMEM, -EIO (zlib). */
int pprof_encode(const struct pprof *p, bool gzip, unsigned char **out,
		 size_t *out_len);

/* The sample type pprof shows by default: P's default_sample_type, else
 * its last (cpu/nanoseconds, wall/nanoseconds, faults/bytes...). */
size_t pprof_default_index(const struct pprof *p);

/* P as collapsed stacks (format=folded): one line per distinct stack,
 * frames root first joined by ';' (inline frames expanded, a callee after
 * its caller; a frame without a name as its address in hex), a space, the
 * sum of the values of the sample type pprof shows by default
 * (pprof_default_index) over the samples with that stack, in the order
 * the stacks first occur. P is only read. On success
 * *out is malloc'd text of *out_len bytes (NUL-terminated) the caller
 * frees; on failure *out is untouched. 0 or -ENOMEM. Any thread. */
int pprof_folded(const struct pprof *p, char **out, size_t *out_len);

/* Parse a profile (gzip or raw protobuf) and check it as pprof and Parca
 * would: ids dense and in order, references valid, strings[0] == "", value
 * counts matching sample types. BUF is only read. On success *out is a new
 * profile the caller frees with pprof_free(); it cannot be added to (no
 * builder indexes). On failure *out is NULL and err says why: -EINVAL
 * (not a valid profile), -E2BIG (over 256 MiB, compressed or not),
 * -ENOMEM. Any thread. */
int pprof_decode(const void *buf, size_t len, struct pprof **out, char *err,
		 size_t errlen);

/* A standalone SVG flame graph of P (format=svg): the root at the
 * bottom, each frame as wide as its share of the profile's default sample
 * type (else the last one), with a <title> giving its name, value and
 * share; no script. TITLE (borrowed) heads it. P is only read. On success
 * *out is malloc'd, *out_len bytes, and the caller frees it. 0, or
 * -ENOMEM. Any thread. */
int http_flame_svg(const struct pprof *p, const char *title, char **out,
		   size_t *out_len);

/* The page at /ui/NAME ("" for the page itself, "app.js", "app.css"),
 * embedded at build time: *data (static, never freed), *len bytes,
 * *ctype its Content-Type. False for a name that is not one of them.
 * Any thread. */
bool http_ui_asset(const char *name, const void **data, size_t *len,
		   const char **ctype);

/* ---- server ---------------------------------------------------------- */

/* What a data callback hands back. The server zeroes it before the call.
 * On success status is 200 and exactly one of profile / text is set
 * (malloc'd; the server owns it from then and frees it). On failure
 * status is 4xx/5xx and msg says what to do (one line, no newline);
 * anything set in profile / text is freed too. */
struct http_reply {
	int status;
	struct pprof *profile;		/* encoded as gzip pprof */
	char *text;			/* sent as text/plain */
	size_t text_len;
	char msg[HTTP_ERRLEN];
};

enum http_profile_kind {
	HTTP_PROFILE_CPU,	/* /debug/pprof/profile */
	HTTP_PROFILE_WALL,	/* /debug/pprof/wall, /debug/fgprof */
	HTTP_PROFILE_GROWTH,	/* /debug/pprof/growth: page faults */
};

/* The client connection of a request, to notice while its window runs
 * that the client has gone. Opaque; see http_client_gone(). */
struct http_client;

struct http_profile_req {
	enum http_profile_kind kind;
	pid_t pid;		/* 0: the default target */
	unsigned seconds;	/* already checked against the limits */
	unsigned hz;
	const struct http_client *client;	/* NULL: cannot tell */
};

/* /debug/pprof/history: the span asked for, in wall-clock ns since the
 * epoch, as the request gave it; what was not given is 0 (seconds) or
 * INT64_MIN (since, until). The daemon puts in the rest. */
struct http_history_req {
	enum http_profile_kind kind;	/* kind=cpu|wall|growth */
	pid_t pid;		/* 0: the default target */
	unsigned seconds;	/* 0: not given */
	int64_t since, until;	/* INT64_MIN: not given */
};

/* Whether the client of a request has closed its connection (or shut down
 * its sending side, which a client waiting for its answer does not do):
 * the answer can no longer be delivered. Never blocks; valid only while
 * the request's handler runs (until its ops->profile call returns), from
 * any thread; false for NULL or when it cannot tell. C is borrowed. */
bool http_client_gone(const struct http_client *c);

struct http_target_info {
	pid_t pid;
	char comm[64];
	bool alive;
};

/* The daemon's side of every route. Each callback runs on a civetweb
 * worker thread, several at once (the daemon locks what they share), gets
 * back the ctx given to http_start, and answers through R, which the
 * server zeroed (see struct http_reply for who frees what). Arguments are
 * borrowed for the call. None may be NULL except log. */
struct http_ops {
	/* Block for the window and fill r.
	 * Status 499 when req->client went away and the window was
	 * cancelled: the server then sends nothing and closes. */
	void (*profile)(void *ctx, const struct http_profile_req *req,
			struct http_reply *r);
	/* Where the target's resident memory sits now, by mapping
	 * (/debug/pprof/memory): a profile, at once (no window). */
	void (*memory)(void *ctx, pid_t pid, struct http_reply *r);
	/* A Go program's memory profile (/debug/pprof/heap, allocs true
	 * for /debug/pprof/allocs), read from its runtime at once; 404
	 * with the reason for other programs. */
	void (*heap)(void *ctx, pid_t pid, bool allocs, struct http_reply *r);
	/* The merged profile of continuous mode's history over a span, at
	 * once (404 with a hint without --continuous). */
	void (*history)(void *ctx, const struct http_history_req *req,
			struct http_reply *r);
	/* /history/buckets: the history's buckets over the span as JSON
	 * text (req->kind unused); 404 with a hint without --continuous. */
	void (*history_buckets)(void *ctx, const struct http_history_req *req,
				struct http_reply *r);
	/* The target's command line, NUL-separated (as Go serves it). */
	void (*cmdline)(void *ctx, pid_t pid, struct http_reply *r);
	/* Names for runtime addresses of the target (Go's /symbol protocol):
	 * names[i] is malloc'd or NULL when unknown. The server frees them.
	 * On success r carries only its status 200. */
	void (*symbol)(void *ctx, pid_t pid, const uint64_t *addrs, size_t n,
		       char **names, struct http_reply *r);
	/* Stacks of every thread now (/debug/pprof/threads, goroutine):
	 * debug 0 gives a profile, 1 and 2 text. */
	void (*threads)(void *ctx, pid_t pid, int debug, bool goroutine,
			struct http_reply *r);
	/* Prometheus text for /metrics. */
	void (*metrics)(void *ctx, struct http_reply *r);
	/* /targets: JSON array describing every served process. */
	void (*targets_json)(void *ctx, struct http_reply *r);
	/* /services: JSON array describing every --match service. */
	void (*services_json)(void *ctx, struct http_reply *r);
	/* The id of the --match service NAME (/service/NAME/...): a
	 * negative pid the other callbacks take; 0 when there is none. */
	pid_t (*service)(void *ctx, const char *name);
	/* Targets for the index page; returns how many were written. */
	size_t (*targets)(void *ctx, struct http_target_info *out, size_t max);
	/* Check pid names a target this server may serve (0 = default).
	 * Fills r (404, 409, 403...) and returns false when it does not. */
	bool (*check_target)(void *ctx, pid_t pid, struct http_reply *r);
	/* /snapshots/ (name NULL): the list, as JSON text; /snapshots/NAME/
	 * FILE: the file's bytes as text. name and file hold no '/', are
	 * not "." or ".." and do not begin with '.'. 404 for anything not
	 * listed. */
	void (*snapshots)(void *ctx, const char *name, const char *file,
			  struct http_reply *r);
	/* civetweb's log lines (LINE borrowed, no newline needed), from any
	 * civetweb thread. May be NULL. */
	void (*log)(void *ctx, const char *line);
};

struct http_config {
	const char *listen;	/* civetweb listening_ports syntax, e.g.
				   "127.0.0.1:8005", "8005", "[::1]:8005" */
	unsigned max_seconds;	/* seconds=1..max_seconds */
	unsigned default_seconds;
	unsigned default_hz;
	unsigned max_hz;
	unsigned threads;	/* civetweb worker threads (at least 64) */
	const char *auth_token;	/* NULL: no authentication */
	const char *tls_cert;	/* PEM files, or NULL for plain HTTP */
	const char *tls_key;
};

struct http_server;

/* Start listening, with civetweb's threads. CFG is copied, but its
 * auth_token string, OPS and CTX are borrowed and must stay valid until
 * http_stop(). The caller owns the result and ends it with http_stop().
 * NULL with err filled when the configuration asks for what this civetweb
 * lacks (IPv6, TLS), when a TLS file cannot be read, or when civetweb
 * cannot start (e.g. the port is taken). Main thread. */
struct http_server *http_start(const struct http_config *cfg,
			       const struct http_ops *ops, void *ctx,
			       char *err, size_t errlen);

/* The address and port actually bound (port 0 resolved), as "HOST:PORT".
 * Borrowed: valid until http_stop(S). Cannot fail; any thread. */
const char *http_bound(const struct http_server *s);

/* Requests answered so far, by endpoint class and status code, over every
 * server of the process (one in profd), for /metrics' request counters.
 * Classes are 0..HTTP_HANDLERS-1: http_handler_name(h) is a static string
 * ("profile", "wall", "growth", "memory", "history", "threads", "symbol",
 * "cmdline", "index", "metrics", "targets", "services", "snapshots",
 * "healthz", "other"), NULL past the end. http_requests(h, code) is the
 * count for code HTTP_CODE_MIN..HTTP_CODE_MAX, 0 outside. A window whose
 * client went away counts as 499. Cannot fail; any thread (relaxed
 * atomics, so a count may lag a request being answered). */
#define HTTP_HANDLERS 15
#define HTTP_CODE_MIN 100
#define HTTP_CODE_MAX 599
const char *http_handler_name(unsigned h);
uint64_t http_requests(unsigned h, int code);

/* Load the OpenSSL compatibility libraries civetweb needs for TLS (see
 * http/tls/libssl-compat.c); they stay loaded for the life of the
 * process, and a call after a success does nothing. http_start() calls it
 * when TLS is asked for. 0, or -1 with err filled. Main thread (no lock
 * inside). */
int http_tls_preload(char *err, size_t errlen);

/* Stop accepting, wait for running handlers, free S. Accepts NULL. Main
 * thread; never from an http_ops callback (it would wait for itself). */
void http_stop(struct http_server *s);

/* Pure helpers, exposed for unit tests: no state, no allocation, any
 * thread; inputs are only read. */

/* Parse "seconds"-style positive integers into *out: 0, or -EINVAL on
 * garbage and -ERANGE out of [min, max] (*out untouched then). */
int http_parse_uint(const char *s, unsigned min, unsigned max,
		    unsigned *out);

/* A time as RFC 3339 ("2026-12-03T13:00:00Z", "...T14:00:00.5+01:00")
 * or as Unix seconds ("1764766800", fractions allowed) into *ns since the
 * epoch. 0, or -EINVAL. */
int http_parse_time(const char *s, int64_t *ns);

/* Split "/pid/1234/debug/pprof/profile" into pid 1234 and the rest
 * "/debug/pprof/profile" (*rest points into URI, or is a static "/" for
 * "/pid/1234"); a path without the prefix gives pid 0 and itself. 0, or
 * -EINVAL on a malformed prefix. */
int http_split_pid(const char *uri, pid_t *pid, const char **rest);

/* Whether an Authorization header value carries token: "Bearer TOKEN",
 * or "Basic base64(USER:TOKEN)" with any user (so that
 * http://x:TOKEN@host/ works with go tool pprof). Constant time in the
 * token's length. */
bool http_auth_ok(const char *header, const char *token);

/* Parse Go's /symbol request body or query (S, len bytes, need not end
 * in NUL): hex addresses joined by '+'. Returns how many were stored in
 * addrs (at most max; more are parsed and dropped), -EINVAL on garbage. */
int http_parse_symbol_addrs(const char *s, size_t len, uint64_t *addrs,
			    size_t max);

/* The value of query parameter `name` in query string q (may be NULL),
 * percent-decoded into buf (len bytes), the first one when it repeats; a
 * bare "name" gives "". Returns its length, -1 when absent, -2 when the
 * value holds a NUL (%00) or does not fit in buf. Exposed for the fuzz
 * harness (tests/fuzz/fuzz_http.c). */
int http_query_var(const char *q, const char *name, char *buf, size_t len);

/* Percent-decode request path src into dst (len bytes). -1 on %00, on a
 * '%' without two hex digits, or when it does not fit. Exposed for the
 * fuzz harness. */
int http_decode_path(const char *src, char *dst, size_t len);

#endif /* PROFD_HTTP_H */
