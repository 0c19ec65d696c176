/* config.c - command line. One option table (options[] below) drives
 * getopt_long, the parser (one handler per option) and --help; t_man
 * checks --help against man/profd.8 and README.md both ways.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/history.h"
#include "daemon/log.h"

#define SYNOPSIS \
	"usage: profd {-p PID | -m REGEX | --allow-any-pid} [-dhvV]\n" \
	"             [-l [HOST]:PORT] [--auth-token-file FILE]\n" \
	"             [--tls-cert FILE --tls-key FILE] [--max-targets N]\n" \
	"             [--max-sessions N] [--hz N] [--max-hz N]\n" \
	"             [--max-seconds N] [--stack-bytes N] [--max-batch N]\n" \
	"             [--stop-budget-us N] [--max-stop-us N]\n" \
	"             [--attach sample|window]\n" \
	"             [--sampler ptrace|perf|auto] [--rt-priority N]\n" \
	"             [--debuginfod URL]\n" \
	"             [--debuginfod-timeout N] [--debuginfod-max-size N]\n" \
	"             [--debuginfod-cache DIR] [--runtime-dir DIR]\n" \
	"             [--no-guardian] [--continuous[=HZ]]\n" \
	"             [--history DURATION] [--history-memory SIZE]\n" \
	"             [--trigger EXPR] [--output-dir DIR] [--keep N]\n"

/* The commands that need no server (cli.c), after the daemon's line. */
#define CMD_SYNOPSIS \
	"       profd dump -p PID [-v]\n" \
	"       profd record {-p PID | [--] COMMAND [ARG...]} -o FILE\n" \
	"             [--seconds N] [--hz N] [--wall]\n" \
	"             [--format pprof|folded|svg] [-v]\n" \
	"       profd top -p PID [--hz N] [-v]\n"

/* Where downloaded debug files go when --debuginfod-cache is not given:
 * for root, and under other users' XDG cache directory. */
#define DEBUGINFOD_CACHE_ROOT	"/var/cache/profd/debuginfod"
#define DEBUGINFOD_CACHE_USER	"profd/debuginfod"

/* Where the guardian records a kill when --runtime-dir is not given and
 * systemd's RuntimeDirectory= did not set $RUNTIME_DIRECTORY. */
#define RUNTIME_DIR_ROOT	"/run/profd"
#define RUNTIME_DIR_USER	"profd"

const char config_synopsis[] = SYNOPSIS CMD_SYNOPSIS;

static int
parse_num(const char *opt, const char *arg, unsigned long min,
	  unsigned long max, unsigned long *out, char *err, size_t errlen)
{
	unsigned long v;
	char *end;

	errno = 0;
	if (*arg < '0' || *arg > '9')
		goto bad;
	v = strtoul(arg, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	snprintf(err, errlen, "invalid %s '%s': want an integer from %lu to %lu",
		 opt, arg, min, max);
	return -EINVAL;
}

/* Append the space-separated URLs of one --debuginfod argument to
 * c->debuginfod. */
static int
add_debuginfod(struct config *c, const char *arg, char *err, size_t errlen)
{
	size_t len = strlen(c->debuginfod), n;
	const char *p, *q;

	for (p = arg; *p; p = q) {
		p += strspn(p, " \t");
		q = p + strcspn(p, " \t");
		n = (size_t)(q - p);
		if (n == 0)
			break;
		if ((strncmp(p, "http://", 7) != 0 || n == 7) &&
		    (strncmp(p, "https://", 8) != 0 || n == 8)) {
			snprintf(err, errlen,
				 "invalid --debuginfod '%.*s': want an "
				 "http:// or https:// URL",
				 (int)n, p);
			return -EINVAL;
		}
		if (len + n + 2 > sizeof(c->debuginfod)) {
			snprintf(err, errlen,
				 "--debuginfod: the URLs add up to more than "
				 "%zu bytes",
				 sizeof(c->debuginfod) - 1);
			return -EINVAL;
		}
		if (len)
			c->debuginfod[len++] = ' ';
		memcpy(c->debuginfod + len, p, n);
		len += n;
		c->debuginfod[len] = '\0';
	}
	if (len == 0) {
		snprintf(err, errlen, "--debuginfod needs a URL");
		return -EINVAL;
	}
	return 0;
}

/* The runtime directory when --runtime-dir is not given: systemd's
 * RuntimeDirectory= (the first of a colon-separated list), else one for
 * root or under the user's XDG runtime directory; "" when there is none
 * (kills are then not recorded). */
static void
default_runtime_dir(struct config *c)
{
	const char *sd = getenv("RUNTIME_DIRECTORY");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n = -1;

	if (sd && sd[0] == '/')
		n = snprintf(c->runtime_dir, sizeof(c->runtime_dir), "%.*s",
			     (int)strcspn(sd, ":"), sd);
	else if (geteuid() == 0)
		n = snprintf(c->runtime_dir, sizeof(c->runtime_dir), "%s",
			     RUNTIME_DIR_ROOT);
	else if (xdg && xdg[0] == '/')
		n = snprintf(c->runtime_dir, sizeof(c->runtime_dir), "%s/%s",
			     xdg, RUNTIME_DIR_USER);
	if (n < 0 || (size_t)n >= sizeof(c->runtime_dir))
		c->runtime_dir[0] = '\0';
}

/* The cache directory when --debuginfod-cache is not given. */
static int
default_cache(struct config *c, char *err, size_t errlen)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;

	if (geteuid() == 0)
		n = snprintf(c->debuginfod_cache, sizeof(c->debuginfod_cache),
			     "%s", DEBUGINFOD_CACHE_ROOT);
	else if (xdg && xdg[0] == '/')
		n = snprintf(c->debuginfod_cache, sizeof(c->debuginfod_cache),
			     "%s/%s", xdg, DEBUGINFOD_CACHE_USER);
	else if (home && home[0] == '/')
		n = snprintf(c->debuginfod_cache, sizeof(c->debuginfod_cache),
			     "%s/.cache/%s", home, DEBUGINFOD_CACHE_USER);
	else
		n = -1;
	if (n < 0 || (size_t)n >= sizeof(c->debuginfod_cache)) {
		c->debuginfod_cache[0] = '\0';
		snprintf(err, errlen,
			 "--debuginfod: no cache directory (neither "
			 "XDG_CACHE_HOME nor HOME is set): give "
			 "--debuginfod-cache DIR");
		return -EINVAL;
	}
	return 0;
}

int
config_listen(const char *arg, char *out, size_t outlen)
{
	const char *colon, *port;
	unsigned long p;
	char *end;
	int r;

	colon = strrchr(arg, ':');
	if (!colon)
		return -EINVAL;
	port = colon + 1;
	if (*port < '0' || *port > '9')
		return -EINVAL;
	errno = 0;
	p = strtoul(port, &end, 10);
	if (errno || *end != '\0' || p > 65535)
		return -EINVAL;
	if (colon == arg) {
		/* ":8005": every IPv4 interface, as Go's ":8005" */
		r = snprintf(out, outlen, "%lu", p);
	} else if (arg[0] == '[') {
		/* "[::1]:8005" */
		if (colon[-1] != ']' || colon - arg < 3)
			return -EINVAL;
		r = snprintf(out, outlen, "%.*s:%lu", (int)(colon - arg), arg,
			     p);
	} else if ((size_t)(colon - arg) == strlen("localhost") &&
		   strncmp(arg, "localhost", 9) == 0) {
		r = snprintf(out, outlen, "127.0.0.1:%lu", p);
	} else {
		/* civetweb binds numeric IPv4 addresses only */
		const char *c;
		int dots = 0;

		for (c = arg; c < colon; c++) {
			if (*c == '.')
				dots++;
			else if (*c < '0' || *c > '9')
				return -EINVAL;
		}
		if (dots != 3)
			return -EINVAL;
		r = snprintf(out, outlen, "%.*s:%lu", (int)(colon - arg), arg,
			     p);
	}
	if (r < 0 || (size_t)r >= outlen)
		return -EINVAL;
	return 0;
}

/* ---- the option table ---------------------------------------------------- */

/* What a handler works on while argv is parsed. */
struct parse_ctx {
	struct config *c;
	char **argv;
	char *err;
	size_t errlen;
	bool have_hz;		/* --hz given */
};

struct opt;

/* Take one option (arg NULL when it has none). 0: go on, 1: stop parsing
 * (--help, --version), -EINVAL with x->err filled. */
typedef int opt_fn(const struct opt *o, const char *arg, struct parse_ctx *x);

/* One option: its names, the argument and help --help prints, and the
 * handler with what it stores. */
struct opt {
	const char *name;	/* long name, without the dashes */
	char letter;		/* short name, 0 for none */
	const char *arg;	/* argument's name in --help, NULL: none */
	const char *help;	/* --help text; '\n' starts another line */
	opt_fn *set;
	size_t off, size;	/* the struct config field set_* write */
	unsigned long min, max;	/* set_num's range */
	bool optional;		/* the argument may be left out (--x=ARG) */
};

#define FIELD(f) .off = offsetof(struct config, f), \
		 .size = sizeof(((struct config *)0)->f)

static void *
field(const struct opt *o, struct parse_ctx *x)
{
	return (char *)x->c + o->off;
}

/* An integer in [o->min, o->max], into an unsigned, int or uint64_t
 * field. */
static int
set_num(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	unsigned long v;
	char name[64];

	snprintf(name, sizeof(name), "--%s", o->name);
	if (parse_num(name, arg, o->min, o->max, &v, x->err, x->errlen) < 0)
		return -EINVAL;
	if (o->size == sizeof(uint64_t)) {
		uint64_t v64 = v;

		memcpy(field(o, x), &v64, sizeof(v64));
	} else {
		unsigned u = (unsigned)v;	/* int fields: max <= INT_MAX */

		memcpy(field(o, x), &u, sizeof(u));
	}
	return 0;
}

static int
set_hz(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	x->have_hz = true;
	return set_num(o, arg, x);
}

static int
set_flag(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	(void)arg;
	*(bool *)field(o, x) = true;
	return 0;
}

static int
set_pid(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	unsigned long v;

	(void)o;
	if (parse_num("--pid", arg, 1, INT_MAX, &v, x->err, x->errlen) < 0)
		return -EINVAL;
	if (x->c->npids == PROFD_MAX_PIDS) {
		snprintf(x->err, x->errlen,
			 "too many --pid: at most %d; use --match or "
			 "--allow-any-pid",
			 PROFD_MAX_PIDS);
		return -EINVAL;
	}
	x->c->pids[x->c->npids++] = (pid_t)v;
	return 0;
}

static int
set_match(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	(void)o;
	if (x->c->nmatch == PROFD_MAX_MATCH) {
		snprintf(x->err, x->errlen,
			 "too many --match: at most %d; join them with |",
			 PROFD_MAX_MATCH);
		return -EINVAL;
	}
	if (!arg[0]) {
		snprintf(x->err, x->errlen,
			 "--match needs a regular expression");
		return -EINVAL;
	}
	x->c->match[x->c->nmatch++] = arg;
	return 0;
}

/* A file name, into a char array field. */
static int
set_file(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	if (!arg[0] || strlen(arg) >= o->size) {
		snprintf(x->err, x->errlen, "%s needs a file name",
			 x->argv[optind - 1]);
		return -EINVAL;
	}
	snprintf(field(o, x), o->size, "%s", arg);
	return 0;
}

/* An absolute path, into a char array field. */
static int
set_abs_path(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	if (arg[0] != '/' || strlen(arg) >= o->size) {
		snprintf(x->err, x->errlen,
			 "invalid --%s '%s': want an absolute path", o->name,
			 arg);
		return -EINVAL;
	}
	strcpy(field(o, x), arg);
	return 0;
}

static int
set_listen(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	(void)o;
	if (config_listen(arg, x->c->listen, sizeof(x->c->listen)) < 0) {
		snprintf(x->err, x->errlen,
			 "invalid --listen '%s': want [HOST]:PORT, e.g. "
			 "127.0.0.1:8005, :8005 or [::1]:8005",
			 arg);
		return -EINVAL;
	}
	return 0;
}

static int
set_debuginfod(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	(void)o;
	return add_debuginfod(x->c, arg, x->err, x->errlen);
}

static int
set_attach(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	(void)o;
	if (strcmp(arg, "sample") == 0) {
		x->c->attach_window = false;
	} else if (strcmp(arg, "window") == 0) {
		x->c->attach_window = true;
	} else {
		snprintf(x->err, x->errlen,
			 "invalid --attach '%s': want sample or window", arg);
		return -EINVAL;
	}
	return 0;
}

static int
set_sampler(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	(void)o;
	if (strcmp(arg, "ptrace") == 0) {
		x->c->sampler = SAMPLER_PTRACE;
	} else if (strcmp(arg, "perf") == 0) {
		x->c->sampler = SAMPLER_PERF;
	} else if (strcmp(arg, "auto") == 0) {
		x->c->sampler = SAMPLER_AUTO;
	} else {
		snprintf(x->err, x->errlen,
			 "invalid --sampler '%s': want ptrace, perf or auto",
			 arg);
		return -EINVAL;
	}
	return 0;
}

static int
set_debug(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	(void)o;
	(void)arg;
	x->c->verbosity = LOG_LVL_DEBUG;
	return 0;
}

static int
set_verbose(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	(void)o;
	(void)arg;
	if (x->c->verbosity < LOG_LVL_DEBUG)
		x->c->verbosity++;
	return 0;
}

/* --continuous[=HZ]: record every target at HZ, 19 when not given. */
static int
set_continuous(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	unsigned long v = HIST_DEFAULT_HZ;

	(void)o;
	if (arg && parse_num("--continuous", arg, 1, 1000, &v, x->err,
			     x->errlen) < 0)
		return -EINVAL;
	x->c->continuous_hz = (unsigned)v;
	return 0;
}

int
config_duration(const char *arg, unsigned min, unsigned max,
		unsigned *seconds)
{
	unsigned long v, mul = 1;
	char *end;

	errno = 0;
	if (*arg < '0' || *arg > '9')
		return -EINVAL;
	v = strtoul(arg, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end == 's')
		end++;
	else if (*end == 'm')
		mul = 60, end++;
	else if (*end == 'h')
		mul = 3600, end++;
	if (*end != '\0' || v > max / mul || v * mul < min)
		return -EINVAL;
	*seconds = (unsigned)(v * mul);
	return 0;
}

static int
set_history(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	(void)o;
	if (config_duration(arg, HIST_MIN_SECONDS, HIST_MAX_SECONDS,
			    &x->c->history_s) < 0) {
		snprintf(x->err, x->errlen,
			 "invalid --history '%s': want a duration from 10s "
			 "to 24h, e.g. 90s, 10m or 2h",
			 arg);
		return -EINVAL;
	}
	x->c->have_history = true;
	return 0;
}

/* --history-memory SIZE (trigger.h's SIZE: 64MiB, 1.5GiB, bytes). */
static int
set_history_memory(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	const char *p = arg;
	uint64_t v;

	(void)o;
	if (trigger_size(&p, &v) < 0 || *p != '\0' || v < HIST_MIN_BUDGET ||
	    v > HIST_MAX_BUDGET) {
		snprintf(x->err, x->errlen,
			 "invalid --history-memory '%s': want a size from "
			 "4MiB to 1TiB, e.g. 64MiB or 1.5GiB",
			 arg);
		return -EINVAL;
	}
	x->c->history_memory = v;
	x->c->have_history_memory = true;
	return 0;
}

/* --trigger EXPR, repeatable (trigger.h). */
static int
set_trigger(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	(void)o;
	if (x->c->ntriggers >= TRIGGER_MAX) {
		snprintf(x->err, x->errlen, "--trigger: at most %d of them",
			 TRIGGER_MAX);
		return -EINVAL;
	}
	if (trigger_parse(arg, &x->c->triggers[x->c->ntriggers], x->err,
			  x->errlen) < 0)
		return -EINVAL;
	x->c->ntriggers++;
	return 0;
}

static int
set_keep(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	x->c->have_keep = true;
	return set_num(o, arg, x);
}

/* record --format pprof|folded|svg. */
static int
set_format(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	(void)o;
	if (strcmp(arg, "pprof") == 0) {
		x->c->format = FORMAT_PPROF;
	} else if (strcmp(arg, "folded") == 0) {
		x->c->format = FORMAT_FOLDED;
	} else if (strcmp(arg, "svg") == 0) {
		x->c->format = FORMAT_SVG;
	} else {
		snprintf(x->err, x->errlen,
			 "invalid --format '%s': want pprof, folded or svg",
			 arg);
		return -EINVAL;
	}
	return 0;
}

/* --help and --version: stop at once, as before any other check. */
static int
set_stop(const struct opt *o, const char *arg, struct parse_ctx *x)
{
	(void)arg;
	*(bool *)field(o, x) = true;
	return 1;
}

/* Every option, in --help's order. */
static const struct opt options[] = {
	{ "pid", 'p', "PID", "process to profile (repeatable)",
	  .set = set_pid },
	{ "match", 'm', "REGEX",
	  "profile every process whose command name or\n"
	  "command line matches (extended regex;\n"
	  "repeatable); new ones are found within 1 s",
	  .set = set_match },
	{ "allow-any-pid", 0, NULL,
	  "serve any process asked for as /pid/PID/\n"
	  "(host mode; the kernel's ptrace rules hold)",
	  .set = set_flag, FIELD(allow_any_pid) },
	{ "max-targets", 0, "N", "processes served at once, at most (64)",
	  .set = set_num, FIELD(max_targets), 1, 4096 },
	{ "max-sessions", 0, "N",
	  "profile windows open at once, all processes (64)", .set = set_num,
	  FIELD(max_sessions), 1, 1024 },
	{ "auth-token-file", 0, "FILE",
	  "require 'Authorization: Bearer TOKEN' (or the\n"
	  "token as a Basic password) for all but /healthz",
	  .set = set_file, FIELD(auth_token_file) },
	{ "tls-cert", 0, "FILE",
	  "serve HTTPS with this PEM certificate (and --tls-key)",
	  .set = set_file, FIELD(tls_cert) },
	{ "tls-key", 0, "FILE", "the PEM private key of --tls-cert",
	  .set = set_file, FIELD(tls_key) },
	{ "listen", 'l', "ADDR",
	  "[HOST]:PORT to serve on (default 127.0.0.1:8005;\n"
	  ":PORT means every interface, PORT 0 any port)",
	  .set = set_listen },
	{ "hz", 0, "N", "default samples per second per thread (99)",
	  .set = set_hz, FIELD(hz), 1, 10000 },
	{ "max-hz", 0, "N", "largest hz= a request may ask for (1000)",
	  .set = set_num, FIELD(max_hz), 1, 10000 },
	{ "max-seconds", 0, "N", "longest seconds= a request may ask for (600)",
	  .set = set_num, FIELD(max_seconds), 1, 86400 },
	{ "stack-bytes", 0, "N",
	  "stack copied per sample, 4096..1048576 (32768)", .set = set_num,
	  FIELD(stack_bytes), 4096, 1048576 },
	{ "max-batch", 0, "N", "threads stopped at once, 1..256 (16)",
	  .set = set_num, FIELD(max_batch), 1, 256 },
	{ "stop-budget-us", 0, "N",
	  "summed stop time per tick before the rest\n"
	  "waits for the next tick (5000)",
	  .set = set_num, FIELD(stop_budget_us), 1, 10000000 },
	{ "max-stop-us", 0, "N",
	  "how long a stop may hold a thread: past it, or\n"
	  "when profd waits that long for a CPU, no stop\n"
	  "is started for a while (1000)",
	  .set = set_num, FIELD(max_stop_us), 100, 1000000 },
	{ "attach", 0, "MODE",
	  "sample: attach for each sample (default);\n"
	  "window: stay attached while a window is open",
	  .set = set_attach },
	{ "sampler", 0, "MODE",
	  "how CPU windows sample: ptrace (stop the\n"
	  "running threads; the default), perf (perf_event:\n"
	  "nothing stopped; needs root or CAP_PERFMON) or\n"
	  "auto (perf where permitted, else ptrace)",
	  .set = set_sampler },
	{ "rt-priority", 0, "N",
	  "SCHED_FIFO priority of the sampler thread\n"
	  "while it holds threads stopped, 0 for none (1)",
	  .set = set_num, FIELD(rt_priority), 0, 99 },
	{ "debuginfod", 0, "URL",
	  "ask this debuginfod server (http:// or https://;\n"
	  "repeat, or separate with spaces, for several)\n"
	  "for debug files not found locally; off unless\n"
	  "given (DEBUGINFOD_URLS is ignored)",
	  .set = set_debuginfod },
	{ "debuginfod-timeout", 0, "N",
	  "seconds a debuginfod download may take (10)", .set = set_num,
	  FIELD(debuginfod_timeout), 1, 3600 },
	{ "debuginfod-max-size", 0, "N",
	  "largest file to download, in bytes, 0 for no\n"
	  "limit (268435456)",
	  .set = set_num, FIELD(debuginfod_max_size), 0, 1UL << 40 },
	{ "debuginfod-cache", 0, "DIR",
	  "downloads and failed lookups (root:\n" DEBUGINFOD_CACHE_ROOT
	  ", others:\n$XDG_CACHE_HOME/" DEBUGINFOD_CACHE_USER ")",
	  .set = set_abs_path, FIELD(debuginfod_cache) },
	{ "runtime-dir", 0, "DIR",
	  "where the guardian records killing a frozen\n"
	  "profd, for the next one to report\n"
	  "($RUNTIME_DIRECTORY, else root: " RUNTIME_DIR_ROOT ",\n"
	  "others: $XDG_RUNTIME_DIR/" RUNTIME_DIR_USER ")",
	  .set = set_abs_path, FIELD(runtime_dir) },
	{ "no-guardian", 0, NULL,
	  "no guardian process (to debug profd: a\n"
	  "stopped or traced profd is otherwise killed\n"
	  "while a window is open)",
	  .set = set_flag, FIELD(no_guardian) },
	{ "continuous", 0, "HZ",
	  "sample every target all the time at HZ (19),\n"
	  "CPU and wall, into the history that\n"
	  "/debug/pprof/history serves",
	  .optional = true, .set = set_continuous },
	{ "history", 0, "DURATION",
	  "history --continuous keeps, 10s..24h (10m)",
	  .set = set_history },
	{ "history-memory", 0, "SIZE",
	  "memory each process's (service's) history may\n"
	  "hold, 4MiB..1TiB (64MiB); past it the oldest\n"
	  "buckets go",
	  .set = set_history_memory },
	{ "trigger", 0, "EXPR",
	  "write a snapshot when EXPR holds (repeatable):\n"
	  "rss>=SIZE, rss>=N%, rss-growth>=SIZE/DURATION,\n"
	  "cpu>=N%/DURATION, exit, oom; needs\n"
	  "--continuous and --output-dir",
	  .set = set_trigger },
	{ "output-dir", 0, "DIR",
	  "where triggers write snapshots (absolute)",
	  .set = set_abs_path, FIELD(output_dir) },
	{ "keep", 0, "N",
	  "snapshots kept per target name (20)",
	  .set = set_keep, FIELD(keep), 1, 100000 },
	{ "seconds", 0, "N",
	  "record: stop after N seconds (default: when\n"
	  "the process exits, or at Ctrl-C)",
	  .set = set_num, FIELD(seconds), 1, 86400 },
	{ "wall", 0, NULL,
	  "record: wall clock, every thread (default: CPU)",
	  .set = set_flag, FIELD(wall) },
	{ "output", 'o', "FILE", "record: write the profile to FILE",
	  .set = set_file, FIELD(output) },
	{ "format", 0, "FMT",
	  "record: pprof (default) or folded (stacks\n"
	  "root first, ';'-joined, then CPU or wall ns)",
	  .set = set_format },
	{ "debug", 'd', NULL, "log debug messages (same as -vv)",
	  .set = set_debug },
	{ "verbose", 'v', NULL, "log more; repeat for debug messages",
	  .set = set_verbose },
	{ "help", 'h', NULL, "print this help and exit", .set = set_stop,
	  FIELD(help) },
	{ "version", 'V', NULL, "print the version and exit", .set = set_stop,
	  FIELD(version) },
};

#define NOPTS (sizeof(options) / sizeof(options[0]))
#define HELP_COLUMN 25		/* where the help text starts */

/* getopt_long's val for options[i]: its letter, else 256 + i. */
static int
opt_val(size_t i)
{
	return options[i].letter ? options[i].letter : 256 + (int)i;
}

static const struct opt *
opt_by_val(int val)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		if (opt_val(i) == val)
			return &options[i];
	return NULL;
}

void
config_help(FILE *f)
{
	const char *h, *nl;
	size_t i;
	int w;

	fputs(SYNOPSIS CMD_SYNOPSIS "\n"
	      "Profile the running process PID from outside and serve "
	      "Go-compatible\n"
	      "pprof profiles over HTTP:\n"
	      "  go tool pprof http://127.0.0.1:8005/debug/pprof/profile"
	      "?seconds=30\n"
	      "or, without a server: dump prints every thread's stack "
	      "now; record writes\n"
	      "a profile of PID, or of COMMAND run to its end, to FILE; "
	      "top shows the\n"
	      "busiest functions, refreshed every second ('q' quits).\n\n",
	      f);
	for (i = 0; i < NOPTS; i++) {
		const struct opt *o = &options[i];

		if (o->letter)
			w = fprintf(f, "  -%c, --%s", o->letter, o->name);
		else
			w = fprintf(f, "      --%s", o->name);
		if (o->arg)
			w += fprintf(f, o->optional ? "[=%s]" : " %s", o->arg);
		if (w >= HELP_COLUMN) {
			fputc('\n', f);
			w = 0;
		}
		for (h = o->help; h; h = nl ? nl + 1 : NULL) {
			nl = strchr(h, '\n');
			fprintf(f, "%*s%.*s\n", HELP_COLUMN - w, "",
				nl ? (int)(nl - h) : (int)strlen(h), h);
			w = 0;
		}
	}
}

/* The usage error of getopt_long's answer ch (':' or '?'). */
static int
bad_option(int ch, struct parse_ctx *x)
{
	const struct opt *o = optopt ? opt_by_val(optopt) : NULL;

	if (ch == ':')
		snprintf(x->err, x->errlen, "option %s needs an argument",
			 x->argv[optind - 1]);
	else if (o && strncmp(x->argv[optind - 1], "--", 2) == 0)
		/* "--no-guardian=1": getopt_long sets optopt to its val */
		snprintf(x->err, x->errlen, "option --%s takes no argument",
			 o->name);
	else if (optopt)
		snprintf(x->err, x->errlen, "unknown option -%c", optopt);
	else
		snprintf(x->err, x->errlen, "unknown option %s",
			 x->argv[optind - 1]);
	return -EINVAL;
}

static const char *const cmd_names[] = {
	[CMD_SERVE] = "profd",
	[CMD_DUMP] = "dump",
	[CMD_RECORD] = "record",
	[CMD_TOP] = "top",
};

const char *
config_cmd_name(enum profd_cmd cmd)
{
	return cmd_names[cmd];
}

/* A command's options together (dump, record, top): one process, and
 * nothing only the server uses. */
static int
check_cmd(struct parse_ctx *x)
{
	struct config *c = x->c;
	const char *name = cmd_names[c->cmd];

	if (c->nmatch || c->allow_any_pid || c->ntriggers ||
	    c->continuous_hz) {
		snprintf(x->err, x->errlen,
			 "%s takes one process: --pid PID%s", name,
			 c->cmd == CMD_RECORD ? " or -- COMMAND" : "");
		return -EINVAL;
	}
	if (c->cmd != CMD_RECORD &&
	    (c->seconds || c->wall || c->output[0] || c->format)) {
		snprintf(x->err, x->errlen,
			 "--seconds, --wall, --output and --format go with "
			 "profd record, not profd %s",
			 name);
		return -EINVAL;
	}
	if (c->npids > 1 || (c->npids == 1 && c->command)) {
		snprintf(x->err, x->errlen,
			 "%s takes one process: one --pid PID%s", name,
			 c->cmd == CMD_RECORD ? ", or -- COMMAND" : "");
		return -EINVAL;
	}
	if (c->npids == 0 && !c->command) {
		snprintf(x->err, x->errlen, "say which process: profd %s %s",
			 name,
			 c->cmd == CMD_RECORD
				 ? "--pid PID -o FILE, or -o FILE -- COMMAND"
				 : "--pid PID");
		return -EINVAL;
	}
	if (c->cmd == CMD_RECORD && !c->output[0]) {
		snprintf(x->err, x->errlen,
			 "say where the profile goes: profd record -o FILE");
		return -EINVAL;
	}
	if (!x->have_hz && c->hz > c->max_hz)
		c->hz = c->max_hz;
	if (c->hz > c->max_hz) {
		snprintf(x->err, x->errlen, "--hz %u is above --max-hz %u",
			 c->hz, c->max_hz);
		return -EINVAL;
	}
	/* a command's diagnostics are warnings unless -v asks for more */
	if (c->verbosity == LOG_LVL_INFO)
		c->verbosity = LOG_LVL_WARN;
	else if (c->verbosity > LOG_LVL_INFO)
		c->verbosity--;
	if (!c->runtime_dir[0])
		default_runtime_dir(c);
	return 0;
}

/* What no single option can check: the options together. */
static int
check_config(struct parse_ctx *x)
{
	struct config *c = x->c;

	if (c->cmd != CMD_SERVE)
		return check_cmd(x);
	if (c->seconds || c->wall || c->output[0] || c->format) {
		snprintf(x->err, x->errlen,
			 "--seconds, --wall, --output and --format go with "
			 "profd record");
		return -EINVAL;
	}
	if (c->npids == 0 && c->nmatch == 0 && !c->allow_any_pid) {
		snprintf(x->err, x->errlen,
			 "say which processes to profile: --pid PID, --match "
			 "REGEX or --allow-any-pid");
		return -EINVAL;
	}
	if (!c->tls_cert[0] != !c->tls_key[0]) {
		snprintf(x->err, x->errlen,
			 "--tls-cert and --tls-key go together: give both");
		return -EINVAL;
	}
	if (!x->have_hz && c->hz > c->max_hz)
		c->hz = c->max_hz;	/* the default follows a lower cap */
	if (c->hz > c->max_hz) {
		snprintf(x->err, x->errlen, "--hz %u is above --max-hz %u",
			 c->hz, c->max_hz);
		return -EINVAL;
	}
	if ((c->have_history || c->have_history_memory) &&
	    !c->continuous_hz) {
		snprintf(x->err, x->errlen,
			 "--history and --history-memory go with "
			 "--continuous: give both");
		return -EINVAL;
	}
	if (c->ntriggers && (!c->continuous_hz || !c->output_dir[0])) {
		snprintf(x->err, x->errlen,
			 "--trigger needs --continuous (the history a "
			 "snapshot holds) and --output-dir (where it goes)");
		return -EINVAL;
	}
	if ((c->output_dir[0] || c->have_keep) && !c->ntriggers) {
		snprintf(x->err, x->errlen,
			 "--output-dir and --keep go with --trigger");
		return -EINVAL;
	}
	if (!c->runtime_dir[0])
		default_runtime_dir(c);
	if (c->debuginfod[0] && !c->debuginfod_cache[0])
		return default_cache(c, x->err, x->errlen);
	return 0;
}

static void
set_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->listen, "127.0.0.1:8005");
	c->hz = 99;
	c->max_targets = 64;
	c->max_sessions = 64;
	c->max_hz = 1000;
	c->max_seconds = 600;
	c->stack_bytes = 32768;
	c->max_batch = 16;
	c->stop_budget_us = 5000;
	c->max_stop_us = 1000;
	c->rt_priority = 1;
	c->verbosity = LOG_LVL_INFO;
	c->debuginfod_timeout = 10;
	c->debuginfod_max_size = 256UL << 20;
	c->history_s = HIST_DEFAULT_SECONDS;
	c->history_memory = HIST_DEFAULT_BUDGET;
	c->keep = 20;
}

int
config_parse(struct config *c, int argc, char **argv, char *err,
	     size_t errlen)
{
	struct parse_ctx x = { c, argv, err, errlen, false };
	struct option longopts[NOPTS + 1];
	char shortopts[2 * NOPTS + 3], *p = shortopts;
	const struct opt *o;
	size_t i;
	int ch, r;

	set_defaults(c);
	/* profd dump|record|top ...: parse what follows as the options of
	 * the command (argv[0] is then its name) */
	for (i = CMD_SERVE + 1; argc > 1 && i < sizeof(cmd_names) /
							 sizeof(cmd_names[0]);
	     i++)
		if (strcmp(argv[1], cmd_names[i]) == 0) {
			c->cmd = (enum profd_cmd)i;
			argc--;
			argv++;
			x.argv = argv;
			break;
		}
	/* record's COMMAND ends the options: "+" stops at it */
	if (c->cmd == CMD_RECORD)
		*p++ = '+';
	*p++ = ':';		/* a missing argument returns ':' */
	for (i = 0; i < NOPTS; i++) {
		longopts[i] = (struct option){
			options[i].name,
			!options[i].arg	      ? no_argument
			: options[i].optional ? optional_argument
					      : required_argument,
			NULL,
			opt_val(i)
		};
		if (options[i].letter) {
			*p++ = options[i].letter;
			if (options[i].arg)
				*p++ = ':';
		}
	}
	*p = '\0';
	memset(&longopts[NOPTS], 0, sizeof(longopts[NOPTS]));

	optind = 0;		/* full reset, also for repeated unit tests */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) !=
	       -1) {
		o = opt_by_val(ch);
		if (!o)
			return bad_option(ch, &x);
		r = o->set(o, optarg, &x);
		if (r < 0)
			return -EINVAL;
		if (r > 0)
			return 0;
	}
	if (optind < argc && c->cmd == CMD_RECORD) {
		c->command = argv + optind;	/* argv ends in NULL */
	} else if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return check_config(&x);
}
