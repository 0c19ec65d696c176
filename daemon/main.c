/* main.c - profd: profile a running process from outside and serve
 * Go-compatible pprof profiles over HTTP.
 *
 * Lifecycle: parse the command line, check that the target exists and may
 * be traced (without attaching), start its sampler thread and the HTTP
 * server, then wait for SIGTERM/SIGINT on the main thread. Shutdown answers
 * open windows, lets go of every thread, stops the server and frees
 * everything (so that sanitizer leak reports mean something).
 *
 * Exit status: 0 after SIGTERM/SIGINT, 1 on a failure, 64 on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/log.h"
#include "http/http.h"
#include "symbolize/symbolize.h"

#define EXIT_USAGE 64

struct profd {
	struct config cfg;
	struct target *target;
};

static bool
is_target(struct profd *d, pid_t pid, struct http_reply *r)
{
	pid_t tp = target_pid(d->target);

	if (pid == 0 || pid == tp)
		return true;
	r->status = 404;
	snprintf(r->msg, sizeof(r->msg),
		 "process %d is not profiled by this profd; it serves process "
		 "%d: use /debug/pprof/ or /pid/%d/debug/pprof/",
		 (int)pid, (int)tp, (int)tp);
	return false;
}

static void
op_profile(void *ctx, const struct http_profile_req *req, struct http_reply *r)
{
	struct profd *d = ctx;

	log_verbose("profile request: %u s at %u Hz", req->seconds, req->hz);
	target_profile(d->target, req, r);
	if (r->status != 200)
		log_info("profile request failed: %d %s", r->status, r->msg);
}

static void
op_cmdline(void *ctx, pid_t pid, struct http_reply *r)
{
	struct profd *d = ctx;

	(void)pid;
	target_cmdline(d->target, r);
}

static void
op_symbol(void *ctx, pid_t pid, const uint64_t *addrs, size_t n, char **names,
	  struct http_reply *r)
{
	struct profd *d = ctx;

	(void)pid;
	target_symbol(d->target, addrs, n, names, r);
}

static void
op_threads(void *ctx, pid_t pid, int debug, bool goroutine,
	   struct http_reply *r)
{
	struct profd *d = ctx;

	(void)pid;
	target_threads(d->target, debug, goroutine, r);
}

static void
op_metrics(void *ctx, struct http_reply *r)
{
	struct profd *d = ctx;

	if (metrics_text(&d->target, 1, &r->text, &r->text_len) < 0) {
		r->status = 503;
		snprintf(r->msg, sizeof(r->msg), "profd is out of memory");
		return;
	}
	r->status = 200;
}

static size_t
op_targets(void *ctx, struct http_target_info *out, size_t max)
{
	struct profd *d = ctx;

	if (max == 0)
		return 0;
	memset(out, 0, sizeof(*out));
	out->pid = target_pid(d->target);
	target_comm(d->target, out->comm, sizeof(out->comm));
	out->alive = target_alive(d->target);
	return 1;
}

static bool
op_check_target(void *ctx, pid_t pid, struct http_reply *r)
{
	return is_target(ctx, pid, r);
}

static void
op_log(void *ctx, const char *line)
{
	size_t n = strlen(line);

	(void)ctx;
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	log_verbose("http: %.*s", (int)n, line);
}

static const struct http_ops ops = {
	.profile = op_profile,
	.cmdline = op_cmdline,
	.symbol = op_symbol,
	.threads = op_threads,
	.metrics = op_metrics,
	.targets = op_targets,
	.check_target = op_check_target,
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

int
main(int argc, char **argv)
{
	struct target_opts topts;
	struct http_config hc;
	struct http_server *srv;
	struct profd d;
	char err[PROFD_ERRLEN];
	sigset_t set;
	int sig;

	if (config_parse(&d.cfg, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "profd: %s\n%s", err, config_synopsis);
		return EXIT_USAGE;
	}
	if (d.cfg.help) {
		fputs(config_usage, stdout);
		return 0;
	}
	if (d.cfg.version) {
		printf("profd %s\n", PROFD_VERSION);
		return 0;
	}
	log_init(d.cfg.verbosity);
	symbolize_init();
	/* Before any thread starts: this sets environment variables. */
	if (d.cfg.debuginfod[0]) {
		if (symbolize_set_debuginfod(d.cfg.debuginfod,
					     d.cfg.debuginfod_timeout,
					     d.cfg.debuginfod_max_size,
					     d.cfg.debuginfod_cache, err,
					     sizeof(err)) < 0)
			fatalx("%s", err);
		log_info("debuginfod: %s (%u s, %" PRIu64 " bytes at most a "
			 "file; cache %s)",
			 d.cfg.debuginfod, d.cfg.debuginfod_timeout,
			 d.cfg.debuginfod_max_size, d.cfg.debuginfod_cache);
	}

	/* Signals are taken synchronously by this thread only; every thread
	 * created below inherits the mask. A client that hangs up must not
	 * kill us with SIGPIPE. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	raise_nofile();

	memset(&topts, 0, sizeof(topts));
	topts.stack_bytes = d.cfg.stack_bytes;
	topts.max_hz = d.cfg.max_hz;
	topts.max_batch = d.cfg.max_batch;
	topts.stop_budget_us = d.cfg.stop_budget_us;
	topts.attach_window = d.cfg.attach_window;
	topts.rt_priority = d.cfg.rt_priority;
	d.target = target_new(d.cfg.pid, &topts, err, sizeof(err));
	if (!d.target)
		fatalx("%s", err);

	memset(&hc, 0, sizeof(hc));
	hc.listen = d.cfg.listen;
	hc.max_seconds = d.cfg.max_seconds;
	hc.default_seconds = d.cfg.max_seconds < 30 ? d.cfg.max_seconds : 30;
	hc.default_hz = d.cfg.hz;
	hc.max_hz = d.cfg.max_hz;
	hc.threads = 2 * PROFD_MAX_SESSIONS;
	srv = http_start(&hc, &ops, &d, err, sizeof(err));
	if (!srv) {
		target_free(d.target);
		fatalx("%s", err);
	}
	{
		char comm[64];

		target_comm(d.target, comm, sizeof(comm));
		log_info("profiling process %d (%s)", (int)d.cfg.pid, comm);
	}
	log_info("listening on %s", http_bound(srv));
	if (!is_loopback(d.cfg.listen))
		log_warnx("listening on %s beyond loopback without "
			  "authentication: anyone who can reach it can profile "
			  "process %d",
			  http_bound(srv), (int)d.cfg.pid);

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP)
			log_info("SIGHUP ignored (no configuration to reload)");
	}
	log_info("%s: detaching and exiting", strsignal(sig));
	/* Answer open windows first, so the workers the server waits for in
	 * http_stop() are not asleep on a sampler. */
	target_stop(d.target);
	http_stop(srv);
	target_free(d.target);
	symbolize_shutdown();
	return 0;
}
