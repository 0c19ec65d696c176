/* main.c - profd: profile running processes from outside and serve
 * Go-compatible pprof profiles over HTTP.
 *
 * Lifecycle: parse the command line, drop every capability profd does not
 * need (before any thread exists: capabilities are per thread), check that
 * the --pid targets exist and may be traced (without attaching), start
 * their samplers, the --match watcher and the HTTP server, tell systemd we
 * are ready, then wait for SIGTERM/SIGINT on the main thread. Shutdown
 * answers open windows, lets go of every thread, stops the server and
 * frees everything (so that sanitizer leak reports mean something).
 *
 * Exit status: 0 after SIGTERM/SIGINT, 1 on a failure, 64 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/cli.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/faults.h"
#include "daemon/guardian.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/proc.h"
#include "daemon/registry.h"
#include "daemon/snapshot.h"
#include "daemon/target.h"
#include "http/http.h"
#include "symbolize/symbolize.h"

#define EXIT_USAGE 64

struct profd {
	struct config cfg;
	struct registry *reg;
	unsigned sessions;		/* windows open now, all targets */
	bool serving;			/* http_start() succeeded */
	char token[256];
};

/* Windows across every target: each one holds a civetweb worker. */
static bool
session_begin(struct profd *d, struct http_reply *r)
{
	unsigned n = __atomic_add_fetch(&d->sessions, 1, __ATOMIC_ACQ_REL);

	if (n <= d->cfg.max_sessions)
		return true;
	__atomic_sub_fetch(&d->sessions, 1, __ATOMIC_ACQ_REL);
	r->status = 503;
	snprintf(r->msg, sizeof(r->msg),
		 "profd is already running its limit of %u profile "
		 "window(s) (--max-sessions); retry when one ends",
		 d->cfg.max_sessions);
	return false;
}

static void
session_end(struct profd *d)
{
	__atomic_sub_fetch(&d->sessions, 1, __ATOMIC_ACQ_REL);
}

static void
op_profile(void *ctx, const struct http_profile_req *req, struct http_reply *r)
{
	struct profd *d = ctx;
	struct target *t = registry_get(d->reg, req->pid, r);

	if (!t)
		return;
	if (session_begin(d, r)) {
		log_verbose("pid %d: %s request: %u s at %u Hz",
			    (int)target_pid(t),
			    req->kind == HTTP_PROFILE_WALL     ? "wall"
			    : req->kind == HTTP_PROFILE_GROWTH ? "growth"
							       : "profile",
			    req->seconds, req->hz);
		target_profile(t, req, r);
		session_end(d);
	}
	/* 499: the client left, and target.c said so already */
	if (r->status != 200 && r->status != 499)
		log_info("pid %d: profile request failed: %d %s",
			 (int)target_pid(t), r->status, r->msg);
	registry_put(d->reg, t);
}

/* The target whose history a request asks for (registry_put it), or NULL
 * with r filled: 404 without --continuous. */
static struct target *
history_target(struct profd *d, const struct http_history_req *req,
	       struct http_reply *r)
{
	if (!d->cfg.continuous_hz) {
		r->status = 404;
		snprintf(r->msg, sizeof(r->msg),
			 "no history is recorded: start profd with "
			 "--continuous to keep one");
		return NULL;
	}
	return registry_get_recorded(d->reg, req->pid, r);
}

static void
op_history(void *ctx, const struct http_history_req *req,
	   struct http_reply *r)
{
	struct profd *d = ctx;
	struct target *t = history_target(d, req, r);

	if (!t)
		return;
	target_history(t, req, r);
	if (r->status != 200)
		log_verbose("pid %d: history request failed: %d %s",
			    (int)target_pid(t), r->status, r->msg);
	registry_put(d->reg, t);
}

static void
op_history_buckets(void *ctx, const struct http_history_req *req,
		   struct http_reply *r)
{
	struct profd *d = ctx;
	struct target *t = history_target(d, req, r);

	if (!t)
		return;
	target_history_buckets(t, req, r);
	registry_put(d->reg, t);
}

static void
op_threads(void *ctx, pid_t pid, int debug, bool goroutine,
	   struct http_reply *r)
{
	struct profd *d = ctx;
	struct target *t = registry_get(d->reg, pid, r);

	if (!t)
		return;
	if (session_begin(d, r)) {
		target_threads(t, debug, goroutine, r);
		session_end(d);
	}
	registry_put(d->reg, t);
}

static void
op_memory(void *ctx, pid_t pid, struct http_reply *r)
{
	struct profd *d = ctx;
	struct target *t = registry_get(d->reg, pid, r);

	if (!t)
		return;
	target_memory(t, r);
	registry_put(d->reg, t);
}

static void
op_heap(void *ctx, pid_t pid, bool allocs, struct http_reply *r)
{
	struct profd *d = ctx;
	struct target *t = registry_get(d->reg, pid, r);

	if (!t)
		return;
	target_heap(t, allocs, r);
	registry_put(d->reg, t);
}

static void
op_cmdline(void *ctx, pid_t pid, struct http_reply *r)
{
	struct profd *d = ctx;
	struct target *t = registry_get(d->reg, pid, r);

	if (!t)
		return;
	target_cmdline(t, r);
	registry_put(d->reg, t);
}

static void
op_symbol(void *ctx, pid_t pid, const uint64_t *addrs, size_t n, char **names,
	  struct http_reply *r)
{
	struct profd *d = ctx;
	struct target *t = registry_get(d->reg, pid, r);

	if (!t)
		return;
	target_symbol(t, addrs, n, names, r);
	registry_put(d->reg, t);
}

/* The status of a text answer built from n targets (rc from the builder:
 * 0, or -ENOMEM), and the targets' references given back. */
static void
text_reply(struct profd *d, struct http_reply *r, int rc, struct target **ts,
	   size_t n)
{
	size_t i;

	if (rc < 0) {
		r->status = 503;
		snprintf(r->msg, sizeof(r->msg), "profd is out of memory");
	} else {
		r->status = 200;
	}
	for (i = 0; i < n; i++)
		registry_put(d->reg, ts[i]);
}

static void
op_metrics(void *ctx, struct http_reply *r)
{
	struct profd *d = ctx;
	struct target *ts[256];
	size_t n;
	int rc;

	n = registry_snapshot(d->reg, ts, 256, NULL);
	rc = metrics_text(ts, n, &r->text, &r->text_len);
	if (rc == 0)
		rc = registry_services_metrics(d->reg, &r->text, &r->text_len);
	text_reply(d, r, rc, ts, n);
}

static void
op_services_json(void *ctx, struct http_reply *r)
{
	struct profd *d = ctx;

	text_reply(d, r,
		   registry_services_json(d->reg, &r->text, &r->text_len),
		   NULL, 0);
}

static pid_t
op_service(void *ctx, const char *name)
{
	struct profd *d = ctx;

	return registry_service_id(d->reg, name);
}

static void
op_targets_json(void *ctx, struct http_reply *r)
{
	struct profd *d = ctx;
	struct registry_info info[256];
	struct target *ts[256];
	size_t n, i;

	n = registry_snapshot(d->reg, ts, 256, info);
	/* "alive" as of now: without a watcher (--pid only) nothing else
	 * looks whether an idle target's process still exists */
	for (i = 0; i < n; i++)
		target_poll(ts[i]);
	text_reply(d, r, targets_json(ts, info, n, &r->text, &r->text_len),
		   ts, n);
}

static size_t
op_targets(void *ctx, struct http_target_info *out, size_t max)
{
	struct profd *d = ctx;
	struct target *ts[64];
	size_t n, i;

	if (max > 64)
		max = 64;
	n = registry_snapshot(d->reg, ts, max, NULL);
	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].pid = target_pid(ts[i]);
		target_comm(ts[i], out[i].comm, sizeof(out[i].comm));
		out[i].alive = target_poll(ts[i]);
		registry_put(d->reg, ts[i]);
	}
	return n;
}

static bool
op_check_target(void *ctx, pid_t pid, struct http_reply *r)
{
	struct profd *d = ctx;
	struct target *t;

	/* a service (its name was looked up): each request finds its
	 * process, or waits for one in a restart gap, or serves history */
	if (pid < 0)
		return true;
	t = registry_get(d->reg, pid, r);
	if (!t)
		return false;
	registry_put(d->reg, t);
	return true;
}

static void
op_log(void *ctx, const char *line)
{
	struct profd *d = ctx;
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	/* before the server runs, civetweb says why it cannot start (a TLS
	 * key that does not match the certificate): show it without -v */
	if (!__atomic_load_n(&d->serving, __ATOMIC_ACQUIRE))
		log_warnx("http: %.*s", (int)n, line);
	else
		log_verbose("http: %.*s", (int)n, line);
}

static void
op_snapshots(void *ctx, const char *name, const char *file,
	     struct http_reply *r)
{
	(void)ctx;
	snapshot_serve(name, file, r);
}

static const struct http_ops ops = {
	.profile = op_profile,
	.memory = op_memory,
	.heap = op_heap,
	.history = op_history,
	.history_buckets = op_history_buckets,
	.cmdline = op_cmdline,
	.symbol = op_symbol,
	.threads = op_threads,
	.metrics = op_metrics,
	.targets_json = op_targets_json,
	.services_json = op_services_json,
	.service = op_service,
	.targets = op_targets,
	.check_target = op_check_target,
	.snapshots = op_snapshots,
	.log = op_log,
};

/* One fd per thread file is kept open (stat and schedstat): a target with
 * thousands of threads needs more than the default soft limit of 1024. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static bool
is_loopback(const char *listen)
{
	return strncmp(listen, "127.", 4) == 0 ||
	       strncmp(listen, "[::1]", 5) == 0;
}

/*
 * Keep only the capabilities profd uses: CAP_SYS_PTRACE (stop and read
 * other processes), CAP_DAC_READ_SEARCH (their /proc files and the files
 * they map), CAP_CHECKPOINT_RESTORE (/proc/PID/map_files, for deleted and
 * replaced files), CAP_SYS_NICE (a real-time sampler, --rt-priority) and,
 * for a port below 1024, CAP_NET_BIND_SERVICE. The rest goes from the
 * bounding set too, and no exec can get any back. Capabilities belong to
 * threads, so this runs before the first thread is created.
 */
static void
drop_capabilities(const struct config *c)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	const char *colon = strrchr(c->listen, ':');
	int port = atoi(colon ? colon + 1 : c->listen);
	uint64_t keep = 0, eff, perm;
	int cap, last = 40;
	FILE *f;

	keep |= 1ULL << CAP_SYS_PTRACE;
	keep |= 1ULL << CAP_DAC_READ_SEARCH;
	keep |= 1ULL << 40;	/* CAP_CHECKPOINT_RESTORE, Linux 5.9 */
	if (c->rt_priority > 0)
		keep |= 1ULL << CAP_SYS_NICE;
	if (port > 0 && port < 1024)
		keep |= 1ULL << CAP_NET_BIND_SERVICE;
	f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = 40;
		fclose(f);
	}
	if (syscall(SYS_capget, &h, d) != 0)
		return;
	eff = d[0].effective | (uint64_t)d[1].effective << 32;
	perm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	if ((perm & ~keep) == 0) {
		/* nothing to drop (a unit's CapabilityBoundingSet, a
		 * non-root user): no exec may gain privileges all the same */
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		return;
	}
	for (cap = 0; cap <= last && cap < 64; cap++)
		if (!(keep & (1ULL << cap)))
			prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	eff &= keep;
	perm &= keep;
	d[0].effective = (uint32_t)eff;
	d[1].effective = (uint32_t)(eff >> 32);
	d[0].permitted = (uint32_t)perm;
	d[1].permitted = (uint32_t)(perm >> 32);
	d[0].inheritable = d[1].inheritable = 0;
	if (syscall(SYS_capset, &h, d) != 0)
		log_warn("capset: keeping every capability");
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

/* systemd's readiness protocol (sd_notify(3)), without libsystemd: one
 * datagram to $NOTIFY_SOCKET. */
static void
notify_systemd(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sa.sun_path))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if (path[0] == '@')
		sa.sun_path[0] = '\0';	/* abstract socket */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), 0, (struct sockaddr *)&sa, len) <
	    0)
		log_warn("sd_notify %s", state);
	close(fd);
}

/* The token of --auth-token-file: its first line, trimmed. */
static void
read_token(const char *file, char *tok, size_t len)
{
	struct stat st;
	char *buf;
	size_t n, i, j;

	if (proc_read(file, 4096, &buf, &n) < 0)
		fatal("cannot read --auth-token-file %s", file);
	if (stat(file, &st) == 0 && (st.st_mode & S_IROTH))
		log_warnx("--auth-token-file %s can be read by every user "
			  "(mode %04o): chmod o-r %s",
			  file, (unsigned)(st.st_mode & 07777), file);
	for (i = 0; i < n && (buf[i] == ' ' || buf[i] == '\t'); i++)
		;
	for (j = i; j < n && buf[j] != '\n' && buf[j] != '\r' &&
		    buf[j] != ' ' && buf[j] != '\t';
	     j++)
		;
	if (j - i < 16 || j - i >= len) {
		free(buf);
		fatalx("--auth-token-file %s: want one token of 16 to %zu "
		       "characters on its first line",
		       file, len - 1);
	}
	memcpy(tok, buf + i, j - i);
	tok[j - i] = '\0';
	free(buf);
}

/* The command line: -1 to go on, else the exit status (--help,
 * --version, a usage error). */
static int
parse_cmdline(struct config *c, int argc, char **argv)
{
	char err[PROFD_ERRLEN];

	if (config_parse(c, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "profd: %s\n%s", err, config_synopsis);
		return EXIT_USAGE;
	}
	if (c->help) {
		config_help(stdout);
		return 0;
	}
	if (c->version) {
		printf("profd %s\n", PROFD_VERSION);
		return 0;
	}
	return -1;
}

/* The guardian is forked now: before any thread exists (fork copies only
 * the calling one) and before the token is read, so that its copy of our
 * memory holds nothing it does not need. */
static void
start_guardian(const struct config *c)
{
	struct guardian_opts go = {
		.enabled = !c->no_guardian,
		.runtime_dir = c->runtime_dir,
		.rt_priority = c->rt_priority,
		.max_samplers = c->max_targets + 16,
	};
	char err[PROFD_ERRLEN];

	if (guardian_start(&go, err, sizeof(err)) < 0)
		log_warnx("%s", err);
}

/* symbolize/ and --debuginfod. Before any thread starts: this sets
 * environment variables. */
static void
start_symbolize(const struct config *c)
{
	char err[PROFD_ERRLEN];

	symbolize_init();
	if (!c->debuginfod[0])
		return;
	if (symbolize_set_debuginfod(c->debuginfod, c->debuginfod_timeout,
				     c->debuginfod_max_size,
				     c->debuginfod_cache, err,
				     sizeof(err)) < 0)
		fatalx("%s", err);
	log_info("debuginfod: %s (%u s, %" PRIu64 " bytes at most a file; "
		 "cache %s)",
		 c->debuginfod, c->debuginfod_timeout, c->debuginfod_max_size,
		 c->debuginfod_cache);
}

/* Signals are taken synchronously by the main thread only; every thread
 * created afterwards inherits the mask. A client that hangs up must not
 * kill us with SIGPIPE. */
static void
block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* What every target is made with, from the command line. */
static void
target_opts_of(const struct config *c, struct target_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->stack_bytes = c->stack_bytes;
	o->max_hz = c->max_hz;
	o->max_batch = c->max_batch;
	o->stop_budget_us = c->stop_budget_us;
	o->max_stop_us = c->max_stop_us;
	o->attach_window = c->attach_window;
	o->sampler = c->sampler;
	o->rt_priority = c->rt_priority;
	o->continuous_hz = c->continuous_hz;
	o->history_s = c->history_s;
	o->history_budget = c->history_memory;
	o->triggers = c->triggers;
	o->ntriggers = c->ntriggers;
}

/* The registry with its --match rules and --pid targets, watching. false
 * after a bad --match, said on stderr (a usage error); other failures are
 * fatal. */
static bool
start_registry(struct profd *d)
{
	const struct config *c = &d->cfg;
	struct target_opts topts;
	char err[PROFD_ERRLEN];
	size_t i;

	target_opts_of(c, &topts);
	if (c->ntriggers > 0 &&
	    snapshot_init(c->output_dir, c->keep, err, sizeof(err)) < 0)
		fatalx("%s", err);
	d->reg = registry_new(&topts, c->allow_any_pid, c->max_targets);
	if (!d->reg)
		fatalx("out of memory");
	for (i = 0; i < c->nmatch; i++)
		if (registry_add_rule(d->reg, c->match[i], err, sizeof(err)) <
		    0) {
			registry_free(d->reg);
			fprintf(stderr, "profd: %s\n%s", err, config_synopsis);
			return false;
		}
	for (i = 0; i < c->npids; i++) {
		if (registry_add_pid(d->reg, c->pids[i], err, sizeof(err)) <
		    0) {
			registry_free(d->reg);
			fatalx("%s", err);
		}
	}
	if (registry_start(d->reg) < 0) {
		registry_free(d->reg);
		fatalx("cannot start the --match watcher");
	}
	return true;
}

/* The HTTP server; fatal when it cannot start. */
static struct http_server *
start_http(struct profd *d)
{
	const struct config *c = &d->cfg;
	struct http_config hc;
	struct http_server *srv;
	char err[PROFD_ERRLEN];

	memset(&hc, 0, sizeof(hc));
	hc.listen = c->listen;
	hc.max_seconds = c->max_seconds;
	hc.default_seconds = c->max_seconds < 30 ? c->max_seconds : 30;
	hc.default_hz = c->hz;
	hc.max_hz = c->max_hz;
	/* every window holds a worker; keep some for quick requests */
	hc.threads = c->max_sessions + 16;
	hc.auth_token = d->token[0] ? d->token : NULL;
	hc.tls_cert = c->tls_cert[0] ? c->tls_cert : NULL;
	hc.tls_key = c->tls_key[0] ? c->tls_key : NULL;
	srv = http_start(&hc, &ops, d, err, sizeof(err));
	if (!srv) {
		registry_free(d->reg);
		fatalx("%s", err);
	}
	__atomic_store_n(&d->serving, true, __ATOMIC_RELEASE);
	return srv;
}

/* What profd serves, where, and a warning when anyone may ask. */
static void
log_serving(struct profd *d, struct http_server *srv)
{
	const struct config *c = &d->cfg;
	struct http_target_info ti[8];
	size_t n = op_targets(d, ti, 8), i;

	for (i = 0; i < n; i++)
		log_info("profiling process %d (%s)", (int)ti[i].pid,
			 ti[i].comm);
	for (i = 0; i < c->nmatch; i++)
		log_info("watching for processes matching '%s'", c->match[i]);
	if (c->allow_any_pid)
		log_info("serving any process by /pid/PID/ "
			 "(--allow-any-pid)");
	log_info("listening on %s%s", http_bound(srv),
		 c->tls_cert[0] ? " (https)" : "");
	if (!is_loopback(c->listen) && !d->token[0])
		log_warnx("listening on %s beyond loopback without "
			  "authentication: anyone who can reach it can stop "
			  "and profile the target processes; add "
			  "--auth-token-file",
			  http_bound(srv));
}

/* Block until SIGTERM or SIGINT and return it; once a second, look
 * whether the guardian has died. */
static int
wait_for_stop(const sigset_t *set)
{
	int sig;

	for (;;) {
		struct timespec second = { 1, 0 };

		sig = sigtimedwait(set, NULL, &second);
		guardian_check();
		if (sig < 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			return sig;
		if (sig == SIGHUP)
			log_info("SIGHUP ignored (no configuration to reload)");
	}
}

int
main(int argc, char **argv)
{
	struct http_server *srv;
	static struct profd d;
	struct cli_child child;
	sigset_t set;
	int sig, rc;

	rc = parse_cmdline(&d.cfg, argc, argv);
	if (rc >= 0)
		return rc;
	log_init(d.cfg.verbosity);
	log_set_timestamps(d.cfg.cmd == CMD_SERVE);
	faults_install();
	/* record -- COMMAND forks before anything else does */
	rc = cli_spawn(&d.cfg, &child);
	if (rc > 0)
		return rc;
	start_guardian(&d.cfg);
	if (d.cfg.auth_token_file[0])
		read_token(d.cfg.auth_token_file, d.token, sizeof(d.token));
	start_symbolize(&d.cfg);
	drop_capabilities(&d.cfg);
	block_signals(&set);
	raise_nofile();

	if (d.cfg.cmd != CMD_SERVE) {
		struct target_opts topts;

		target_opts_of(&d.cfg, &topts);
		rc = cli_main(&d.cfg, &topts, &set, &child);
		symbolize_shutdown();
		guardian_stop();
		return rc;
	}
	if (!start_registry(&d))
		return EXIT_USAGE;
	srv = start_http(&d);
	log_serving(&d, srv);
	notify_systemd("READY=1");

	sig = wait_for_stop(&set);
	log_info("%s: detaching and exiting", strsignal(sig));
	faults_shutdown_deadline();
	notify_systemd("STOPPING=1");
	/* Answer open windows first, so the workers the server waits for in
	 * http_stop() are not asleep on a sampler. */
	registry_stop(d.reg);
	http_stop(srv);
	registry_free(d.reg);
	symbolize_shutdown();
	guardian_stop();
	return 0;
}
