/* config.c - command line. One option table drives getopt_long, --help
 * and the man page check in tests (every long option printed by --help
 * must appear in man/profd.8).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/log.h"

#define SYNOPSIS \
	"usage: profd {-p PID | -m REGEX | --allow-any-pid} [-dhvV]\n" \
	"             [-l [HOST]:PORT] [--auth-token-file FILE]\n" \
	"             [--tls-cert FILE --tls-key FILE] [--max-targets N]\n" \
	"             [--max-sessions N] [--hz N] [--max-hz N]\n" \
	"             [--max-seconds N] [--stack-bytes N] [--max-batch N]\n" \
	"             [--stop-budget-us N] [--attach sample|window]\n" \
	"             [--rt-priority N] [--debuginfod URL]\n" \
	"             [--debuginfod-timeout N] [--debuginfod-max-size N]\n" \
	"             [--debuginfod-cache DIR] [--runtime-dir DIR]\n" \
	"             [--no-guardian]\n"

/* Where downloaded debug files go when --debuginfod-cache is not given:
 * for root, and under other users' XDG cache directory. */
#define DEBUGINFOD_CACHE_ROOT	"/var/cache/profd/debuginfod"
#define DEBUGINFOD_CACHE_USER	"profd/debuginfod"

/* Where the guardian records a kill when --runtime-dir is not given and
 * systemd's RuntimeDirectory= did not set $RUNTIME_DIRECTORY. */
#define RUNTIME_DIR_ROOT	"/run/profd"
#define RUNTIME_DIR_USER	"profd"

const char config_synopsis[] = SYNOPSIS;

const char config_usage[] =
	SYNOPSIS
	"\n"
	"Profile the running process PID from outside and serve Go-compatible\n"
	"pprof profiles over HTTP:\n"
	"  go tool pprof http://127.0.0.1:8005/debug/pprof/profile?seconds=30\n"
	"\n"
	"  -p, --pid PID          process to profile (repeatable)\n"
	"  -m, --match REGEX      profile every process whose command name or\n"
	"                         command line matches (extended regex;\n"
	"                         repeatable); new ones are found within 1 s\n"
	"      --allow-any-pid    serve any process asked for as /pid/PID/\n"
	"                         (host mode; the kernel's ptrace rules hold)\n"
	"      --max-targets N    processes served at once, at most (64)\n"
	"      --max-sessions N   profile windows open at once, all processes (64)\n"
	"      --auth-token-file FILE\n"
	"                         require 'Authorization: Bearer TOKEN' (or the\n"
	"                         token as a Basic password) for all but /healthz\n"
	"      --tls-cert FILE, --tls-key FILE\n"
	"                         serve HTTPS with this PEM certificate and key\n"
	"  -l, --listen ADDR      [HOST]:PORT to serve on (default 127.0.0.1:8005;\n"
	"                         :PORT means every interface, PORT 0 any port)\n"
	"      --hz N             default samples per second per thread (99)\n"
	"      --max-hz N         largest hz= a request may ask for (1000)\n"
	"      --max-seconds N    longest seconds= a request may ask for (600)\n"
	"      --stack-bytes N    stack copied per sample, 4096..1048576 (32768)\n"
	"      --max-batch N      threads stopped at once, 1..256 (16)\n"
	"      --stop-budget-us N summed stop time per tick before the rest\n"
	"                         waits for the next tick (5000)\n"
	"      --attach MODE      sample: attach for each sample (default);\n"
	"                         window: stay attached while a window is open\n"
	"      --rt-priority N    SCHED_FIFO priority of the sampler thread\n"
	"                         while it holds threads stopped, 0 for none (1)\n"
	"      --debuginfod URL   ask this debuginfod server (http:// or https://;\n"
	"                         repeat, or separate with spaces, for several)\n"
	"                         for debug files not found locally; off unless\n"
	"                         given (DEBUGINFOD_URLS is ignored)\n"
	"      --debuginfod-timeout N\n"
	"                         seconds a debuginfod download may take (10)\n"
	"      --debuginfod-max-size N\n"
	"                         largest file to download, in bytes, 0 for no\n"
	"                         limit (268435456)\n"
	"      --debuginfod-cache DIR\n"
	"                         downloads and failed lookups (root:\n"
	"                         " DEBUGINFOD_CACHE_ROOT ", others:\n"
	"                         $XDG_CACHE_HOME/" DEBUGINFOD_CACHE_USER ")\n"
	"      --runtime-dir DIR  where the guardian records killing a frozen\n"
	"                         profd, for the next one to report\n"
	"                         ($RUNTIME_DIRECTORY, else root: "
	RUNTIME_DIR_ROOT ",\n"
	"                         others: $XDG_RUNTIME_DIR/"
	RUNTIME_DIR_USER ")\n"
	"      --no-guardian      no guardian process (to debug profd: a\n"
	"                         stopped or traced profd is otherwise killed\n"
	"                         while a window is open)\n"
	"  -d, --debug            log debug messages (same as -vv)\n"
	"  -v, --verbose          log more; repeat for debug messages\n"
	"  -h, --help             print this help and exit\n"
	"  -V, --version          print the version and exit\n";

enum {
	OPT_HZ = 256,
	OPT_MAX_HZ,
	OPT_MAX_SECONDS,
	OPT_STACK_BYTES,
	OPT_MAX_BATCH,
	OPT_STOP_BUDGET,
	OPT_ATTACH,
	OPT_RT_PRIORITY,
	OPT_DEBUGINFOD,
	OPT_DEBUGINFOD_TIMEOUT,
	OPT_DEBUGINFOD_MAX_SIZE,
	OPT_DEBUGINFOD_CACHE,
	OPT_ALLOW_ANY_PID,
	OPT_MAX_TARGETS,
	OPT_MAX_SESSIONS,
	OPT_AUTH_TOKEN_FILE,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_RUNTIME_DIR,
	OPT_NO_GUARDIAN,
};

static const struct option longopts[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "match", required_argument, NULL, 'm' },
	{ "allow-any-pid", no_argument, NULL, OPT_ALLOW_ANY_PID },
	{ "max-targets", required_argument, NULL, OPT_MAX_TARGETS },
	{ "max-sessions", required_argument, NULL, OPT_MAX_SESSIONS },
	{ "auth-token-file", required_argument, NULL, OPT_AUTH_TOKEN_FILE },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "listen", required_argument, NULL, 'l' },
	{ "hz", required_argument, NULL, OPT_HZ },
	{ "max-hz", required_argument, NULL, OPT_MAX_HZ },
	{ "max-seconds", required_argument, NULL, OPT_MAX_SECONDS },
	{ "stack-bytes", required_argument, NULL, OPT_STACK_BYTES },
	{ "max-batch", required_argument, NULL, OPT_MAX_BATCH },
	{ "stop-budget-us", required_argument, NULL, OPT_STOP_BUDGET },
	{ "attach", required_argument, NULL, OPT_ATTACH },
	{ "rt-priority", required_argument, NULL, OPT_RT_PRIORITY },
	{ "debuginfod", required_argument, NULL, OPT_DEBUGINFOD },
	{ "debuginfod-timeout", required_argument, NULL,
	  OPT_DEBUGINFOD_TIMEOUT },
	{ "debuginfod-max-size", required_argument, NULL,
	  OPT_DEBUGINFOD_MAX_SIZE },
	{ "debuginfod-cache", required_argument, NULL, OPT_DEBUGINFOD_CACHE },
	{ "runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR },
	{ "no-guardian", no_argument, NULL, OPT_NO_GUARDIAN },
	{ "debug", no_argument, NULL, 'd' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

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

int
config_parse(struct config *c, int argc, char **argv, char *err,
	     size_t errlen)
{
	unsigned long v;
	bool have_hz = false;
	int ch;

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
	c->rt_priority = 1;
	c->verbosity = LOG_LVL_INFO;
	c->debuginfod_timeout = 10;
	c->debuginfod_max_size = 256UL << 20;

	optind = 0;		/* full reset, also for repeated unit tests */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":p:m:l:dvhV", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'p':
			if (parse_num("--pid", optarg, 1, INT_MAX, &v, err,
				      errlen) < 0)
				return -EINVAL;
			if (c->npids == PROFD_MAX_PIDS) {
				snprintf(err, errlen,
					 "too many --pid: at most %d; use "
					 "--match or --allow-any-pid",
					 PROFD_MAX_PIDS);
				return -EINVAL;
			}
			c->pids[c->npids++] = (pid_t)v;
			break;
		case 'm':
			if (c->nmatch == PROFD_MAX_MATCH) {
				snprintf(err, errlen,
					 "too many --match: at most %d; join "
					 "them with |",
					 PROFD_MAX_MATCH);
				return -EINVAL;
			}
			if (!optarg[0]) {
				snprintf(err, errlen,
					 "--match needs a regular expression");
				return -EINVAL;
			}
			c->match[c->nmatch++] = optarg;
			break;
		case OPT_ALLOW_ANY_PID:
			c->allow_any_pid = true;
			break;
		case OPT_MAX_TARGETS:
			if (parse_num("--max-targets", optarg, 1, 4096, &v, err,
				      errlen) < 0)
				return -EINVAL;
			c->max_targets = (unsigned)v;
			break;
		case OPT_MAX_SESSIONS:
			if (parse_num("--max-sessions", optarg, 1, 1024, &v,
				      err, errlen) < 0)
				return -EINVAL;
			c->max_sessions = (unsigned)v;
			break;
		case OPT_AUTH_TOKEN_FILE:
		case OPT_TLS_CERT:
		case OPT_TLS_KEY: {
			char *dst = ch == OPT_AUTH_TOKEN_FILE ? c->auth_token_file
				    : ch == OPT_TLS_CERT      ? c->tls_cert
							      : c->tls_key;

			if (!optarg[0] || strlen(optarg) >= 512) {
				snprintf(err, errlen, "%s needs a file name",
					 argv[optind - 1]);
				return -EINVAL;
			}
			snprintf(dst, 512, "%s", optarg);
			break;
		}
		case 'l':
			if (config_listen(optarg, c->listen,
					  sizeof(c->listen)) < 0) {
				snprintf(err, errlen,
					 "invalid --listen '%s': want "
					 "[HOST]:PORT, e.g. 127.0.0.1:8005, "
					 ":8005 or [::1]:8005",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_HZ:
			if (parse_num("--hz", optarg, 1, 10000, &v, err,
				      errlen) < 0)
				return -EINVAL;
			c->hz = (unsigned)v;
			have_hz = true;
			break;
		case OPT_MAX_HZ:
			if (parse_num("--max-hz", optarg, 1, 10000, &v, err,
				      errlen) < 0)
				return -EINVAL;
			c->max_hz = (unsigned)v;
			break;
		case OPT_MAX_SECONDS:
			if (parse_num("--max-seconds", optarg, 1, 86400, &v,
				      err, errlen) < 0)
				return -EINVAL;
			c->max_seconds = (unsigned)v;
			break;
		case OPT_STACK_BYTES:
			if (parse_num("--stack-bytes", optarg, 4096, 1048576,
				      &v, err, errlen) < 0)
				return -EINVAL;
			c->stack_bytes = (unsigned)v;
			break;
		case OPT_MAX_BATCH:
			if (parse_num("--max-batch", optarg, 1, 256, &v, err,
				      errlen) < 0)
				return -EINVAL;
			c->max_batch = (unsigned)v;
			break;
		case OPT_STOP_BUDGET:
			if (parse_num("--stop-budget-us", optarg, 1, 10000000,
				      &v, err, errlen) < 0)
				return -EINVAL;
			c->stop_budget_us = (unsigned)v;
			break;
		case OPT_RT_PRIORITY:
			if (parse_num("--rt-priority", optarg, 0, 99, &v, err,
				      errlen) < 0)
				return -EINVAL;
			c->rt_priority = (int)v;
			break;
		case OPT_DEBUGINFOD:
			if (add_debuginfod(c, optarg, err, errlen) < 0)
				return -EINVAL;
			break;
		case OPT_DEBUGINFOD_TIMEOUT:
			if (parse_num("--debuginfod-timeout", optarg, 1, 3600,
				      &v, err, errlen) < 0)
				return -EINVAL;
			c->debuginfod_timeout = (unsigned)v;
			break;
		case OPT_DEBUGINFOD_MAX_SIZE:
			if (parse_num("--debuginfod-max-size", optarg, 0,
				      1UL << 40, &v, err, errlen) < 0)
				return -EINVAL;
			c->debuginfod_max_size = v;
			break;
		case OPT_DEBUGINFOD_CACHE:
			if (optarg[0] != '/' ||
			    strlen(optarg) >= sizeof(c->debuginfod_cache)) {
				snprintf(err, errlen,
					 "invalid --debuginfod-cache '%s': "
					 "want an absolute path",
					 optarg);
				return -EINVAL;
			}
			strcpy(c->debuginfod_cache, optarg);
			break;
		case OPT_RUNTIME_DIR:
			if (optarg[0] != '/' ||
			    strlen(optarg) >= sizeof(c->runtime_dir)) {
				snprintf(err, errlen,
					 "invalid --runtime-dir '%s': want an "
					 "absolute path",
					 optarg);
				return -EINVAL;
			}
			strcpy(c->runtime_dir, optarg);
			break;
		case OPT_NO_GUARDIAN:
			c->no_guardian = true;
			break;
		case OPT_ATTACH:
			if (strcmp(optarg, "sample") == 0) {
				c->attach_window = false;
			} else if (strcmp(optarg, "window") == 0) {
				c->attach_window = true;
			} else {
				snprintf(err, errlen,
					 "invalid --attach '%s': want sample or "
					 "window",
					 optarg);
				return -EINVAL;
			}
			break;
		case 'd':
			c->verbosity = LOG_LVL_DEBUG;
			break;
		case 'v':
			if (c->verbosity < LOG_LVL_DEBUG)
				c->verbosity++;
			break;
		case 'h':
			c->help = true;
			return 0;
		case 'V':
			c->version = true;
			return 0;
		case ':':
			snprintf(err, errlen, "option %s needs an argument",
				 argv[optind - 1]);
			return -EINVAL;
		default:
			if (optopt)
				snprintf(err, errlen, "unknown option -%c",
					 optopt);
			else
				snprintf(err, errlen, "unknown option %s",
					 argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (c->npids == 0 && c->nmatch == 0 && !c->allow_any_pid) {
		snprintf(err, errlen,
			 "say which processes to profile: --pid PID, --match "
			 "REGEX or --allow-any-pid");
		return -EINVAL;
	}
	if (!c->tls_cert[0] != !c->tls_key[0]) {
		snprintf(err, errlen,
			 "--tls-cert and --tls-key go together: give both");
		return -EINVAL;
	}
	if (!have_hz && c->hz > c->max_hz)
		c->hz = c->max_hz;	/* the default follows a lower cap */
	if (c->hz > c->max_hz) {
		snprintf(err, errlen, "--hz %u is above --max-hz %u", c->hz,
			 c->max_hz);
		return -EINVAL;
	}
	if (!c->runtime_dir[0])
		default_runtime_dir(c);
	if (c->debuginfod[0] && !c->debuginfod_cache[0])
		return default_cache(c, err, errlen);
	return 0;
}
