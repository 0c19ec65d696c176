/* registry.c - the processes profd serves: given by --pid, found by
 * --match, or asked for by /pid/<PID>/ under --allow-any-pid.
 *
 * A watcher thread rescans /proc twice a second for processes whose
 * command name or command line matches a --match rule, so that a matching
 * service that starts later, or restarts with a new PID, is picked up
 * within a second, and drops targets whose process has exited. HTTP
 * workers take a reference to a target for the length of a request, so a
 * target is freed only when no request uses it any more.
 *
 * Under --allow-any-pid, when --max-targets processes are served, a new
 * one takes the place of the on-demand target used least recently among
 * those no request uses (an open window holds a reference, so it is never
 * one with a window open); and the watcher lets go of on-demand targets
 * no request has used for IDLE_RELEASE_S. A target let go stops its
 * sampler and lets go of every thread, as at shutdown.
 *
 * Each --match rule is a service (struct service), named after its rule:
 * it outlives the processes it matches. In continuous mode it owns a
 * history ring that it lends to one process of the rule at a time (the
 * first one it takes on while no other holds it); when that process
 * exits, the watcher stops its sampler, hands the ring over
 * (history_handover) and the next process of the rule records into the
 * same ring, so the history of a service spans its restarts. Other
 * processes matching the rule at the same time keep their own ring, as
 * --pid targets do. The service keeps an exit record of each process of
 * the rule that ended, counts restarts, and keeps the last process that
 * held its ring (a reference) so that its history stays served in a
 * restart gap.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <regex.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>

#include "daemon/clock.h"
#include "daemon/daemon.h"
#include "daemon/history.h"
#include "daemon/memory.h"
#include "daemon/log.h"
#include "daemon/proc.h"
#include "daemon/registry.h"
#include "daemon/target.h"
#include "daemon/textbuf.h"
#include "http/http.h"

#define SCAN_NS (500 * 1000000ULL)
#ifndef IDLE_RELEASE_S
#define IDLE_RELEASE_S 1800	/* on-demand targets unused this long go */
#endif

/* Over every registry, for /metrics. */
static uint64_t evicted_total, idle_released_total;

/* A process of a service that ended. */
struct exit_rec {
	pid_t pid;
	char comm[64];
	int64_t start, end;	/* wall ns: the process started (its
				   /proc/PID/stat starttime), noticed gone */
	int64_t since;		/* wall ns: profd took it on */
	uint64_t rss;		/* bytes, at the watcher's last look */
	const char *cause;	/* "oom": its memory cgroup's oom_kill
				   count went up while it ran; else
				   "unknown" (profd is not its parent) */
};

#define SVC_EXITS 32		/* exit records kept per service */

struct service {
	char name[64];		/* /service/NAME/ */
	struct history *hist;	/* continuous mode's ring, or NULL */
	struct target *holder;	/* the process recording into hist */
	struct target *last;	/* the last holder, with a reference of
				   its entry, until another takes over */
	uint64_t restarts, exits, pending;	/* pending: exits not yet
						   followed by a start */
	uint64_t oom_kills;	/* exits with the cgroup's oom_kill up */
	uint64_t gap_from;	/* CLOCK_MONOTONIC ns: the exit the next
				   start follows (while pending) */
	uint64_t max_gap;	/* ns: the longest restart gap seen */
	struct exit_rec rec[SVC_EXITS];	/* the last exits, a ring */
};

struct rule {
	char *src;		/* as given */
	regex_t re;
	struct service svc;
};

struct entry {
	struct target *t;
	unsigned refs;		/* requests using it, + 1 while listed */
	enum reg_origin origin;
	int rule;		/* index of the --match rule, or -1 */
	int64_t since;		/* wall ns when profd took it on */
	uint64_t used;		/* CLOCK_MONOTONIC ns when a request last
				   took or gave back a reference */
	unsigned peeks;		/* references of registry_snapshot() (for
				   /metrics, /targets): not a use */
	uint64_t rss;		/* --match: bytes, at the watcher's last
				   look */
	struct cgroup_dirs cg;	/* --match: its cgroups, for the OOM kill
				   count after it is gone */
	uint64_t oom0;		/* ... when it was taken on */
	bool has_oom;
	bool listed;
};

struct registry {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct entry *v;
	size_t n, cap;
	struct rule *rules;
	size_t nrules;
	struct target_opts opts;
	bool any_pid;
	size_t max_targets;
	pthread_t watcher;
	bool watching, stop;
};

static struct entry *
find(struct registry *r, pid_t pid)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->v[i].listed && target_pid(r->v[i].t) == pid)
			return &r->v[i];
	return NULL;
}

static size_t
nlisted(struct registry *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->n; i++)
		n += r->v[i].listed;
	return n;
}

/* The target to let go to make room, with the lock held: the on-demand
 * one used least recently among those no request uses now; -1 when there
 * is none. */
static long
lru_locked(struct registry *r)
{
	long best = -1;
	size_t i;

	for (i = 0; i < r->n; i++) {
		struct entry *e = &r->v[i];

		if (!e->listed || e->origin != REG_ON_DEMAND || e->refs != 1)
			continue;
		if (best < 0 || e->used < r->v[best].used)
			best = (long)i;
	}
	return best;
}

/* A process of svc was taken on (t; lend: it records into the
 * service's ring), with the lock held: a restart when a process of the
 * service ended before. */
static void
service_started(struct registry *r, struct service *svc, struct target *t,
		bool lend)
{
	struct target *last = svc->last;
	size_t i;

	if (svc->pending > 0) {
		uint64_t now = mono_ns();

		if (now - svc->gap_from > svc->max_gap)
			svc->max_gap = now - svc->gap_from;
		svc->gap_from = now;	/* for the next pending exit */
		svc->pending--;
		svc->restarts++;
	}
	if (!lend)
		return;
	svc->holder = t;
	svc->last = NULL;
	/* the reference kept for the gap's history requests */
	for (i = 0; last && i < r->n; i++)
		if (r->v[i].t == last && r->v[i].refs > 0) {
			r->v[i].refs--;
			break;
		}
}

/* The process of entry e (of service svc) was noticed gone, with the
 * lock held: keep its exit record; when it held the service's ring, stop
 * its sampler (nothing records into the ring any more) and hand the ring
 * over, keeping the target (and a reference) for the gap. */
static void
service_exited(struct service *svc, struct entry *e)
{
	struct exit_rec *x = &svc->rec[svc->exits % SVC_EXITS];
	char comm[64];
	uint64_t n;

	memset(x, 0, sizeof(*x));
	x->pid = target_pid(e->t);
	target_comm(e->t, comm, sizeof(comm));
	snprintf(x->comm, sizeof(x->comm), "%s", comm);
	x->since = e->since;
	x->start = target_start_wall(e->t);
	if (x->start <= 0 || x->start > e->since)
		x->start = e->since;	/* unknown: what profd knows */
	x->end = wall_now_ns();
	x->rss = e->rss;
	x->cause = "unknown";
	/* the kernel counts the kill before the process is gone */
	if (e->has_oom && cgroup_oom_kills(&e->cg, &n) == 0 &&
	    n > e->oom0) {
		x->cause = "oom";
		svc->oom_kills++;
	}
	svc->exits++;
	if (svc->pending++ == 0)
		svc->gap_from = mono_ns();
	if (svc->holder != e->t)
		return;
	/* its sampler may still be at a tick: after the join nothing but
	 * the next holder adds to the ring */
	target_stop(e->t);
	history_handover(svc->hist);
	svc->holder = NULL;
	svc->last = e->t;
	e->refs++;
}

/* Add a target for pid, with the lock held. -errno with err filled. When
 * the table is full, an idle on-demand target makes room: it is taken out
 * and handed back in *evicted, for the caller to free after unlocking
 * (target_free joins a thread). */
static int
add_locked(struct registry *r, pid_t pid, enum reg_origin origin, int rule,
	   char *err, size_t errlen, struct target **evicted)
{
	struct target_opts o;
	struct service *svc;
	struct target *t;
	struct entry *e;
	long victim = -1;
	bool lend;

	*evicted = NULL;
	if (find(r, pid))
		return 0;
	if (nlisted(r) >= r->max_targets) {
		int tr = proc_tracer(pid);

		/* a PID that does not exist is 404, full or not */
		if (tr == -ESRCH || tr == -ENOENT) {
			snprintf(err, errlen,
				 "no such process: %d (check the PID with ps "
				 "or pgrep)",
				 (int)pid);
			return -ESRCH;
		}
		victim = lru_locked(r);
		if (victim < 0) {
			snprintf(err, errlen,
				 "profd already serves %zu processes (the "
				 "most it will, --max-targets), none idle: "
				 "retry when a window ends, or use a narrower "
				 "--match or a larger --max-targets",
				 r->max_targets);
			return -ENOSPC;
		}
	}
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 8;
		struct entry *nv = realloc(r->v, nc * sizeof(*nv));

		if (!nv) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		r->v = nv;
		r->cap = nc;
	}
	svc = rule >= 0 ? &r->rules[rule].svc : NULL;
	lend = svc && svc->hist && !svc->holder;
	o = r->opts;
	o.service = svc ? svc->name : NULL;
	t = target_new_hist(pid, &o, lend ? svc->hist : NULL, err, errlen);
	if (!t)
		return -errno ? -errno : -EPERM;
	if (svc)
		service_started(r, svc, t, lend);
	if (victim >= 0) {
		e = &r->v[victim];
		log_info("pid %d: no longer served, to make room for pid %d "
			 "(--max-targets %zu): the least recently used, "
			 "unused for %.1f s",
			 (int)target_pid(e->t), (int)pid, r->max_targets,
			 (double)(mono_ns() - e->used) / 1e9);
		*evicted = e->t;
		memmove(e, e + 1,
			(r->n - (size_t)victim - 1) * sizeof(*e));
		r->n--;
		__atomic_add_fetch(&evicted_total, 1, __ATOMIC_RELAXED);
	}
	e = &r->v[r->n++];
	memset(e, 0, sizeof(*e));
	e->t = t;
	e->refs = 1;
	e->origin = origin;
	e->rule = rule;
	e->since = wall_now_ns();
	e->used = mono_ns();
	e->listed = true;
	if (rule >= 0 && memory_rss(pid, &e->rss) < 0)
		e->rss = 0;	/* the watcher's next look */
	e->has_oom = rule >= 0 && cgroup_dirs(pid, &e->cg) == 0 &&
		     cgroup_oom_kills(&e->cg, &e->oom0) == 0;
	return 0;
}

/* Drop entries no longer listed and no longer used, with the lock held;
 * the targets are freed by the caller after unlocking (target_free joins
 * a thread). Returns how many were moved to out[]. */
static size_t
reap_locked(struct registry *r, struct target **out, size_t max)
{
	size_t i, j, n = 0;

	for (i = j = 0; i < r->n; i++) {
		struct entry *e = &r->v[i];

		if (e->refs == 0 && n < max) {
			out[n++] = e->t;
			continue;
		}
		r->v[j++] = *e;
	}
	r->n = j;
	return n;
}

static bool
read_small(const char *path, char *buf, size_t len, size_t *got)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	*got = n;
	return true;
}

/* Which --match rule pid satisfies (its comm, or its command line with
 * the arguments joined by spaces), or -1. */
static int
match(struct registry *r, pid_t pid)
{
	char path[64], comm[64], cmd[4096];
	size_t i, n;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (!read_small(path, comm, sizeof(comm), &n))
		return -1;
	if (n && comm[n - 1] == '\n')
		comm[n - 1] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (!read_small(path, cmd, sizeof(cmd), &n) || n == 0)
		return -1;	/* kernel threads and zombies have none */
	for (i = 0; i + 1 < n; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	for (i = 0; i < r->nrules; i++)
		if (regexec(&r->rules[i].re, comm, 0, NULL, 0) == 0 ||
		    regexec(&r->rules[i].re, cmd, 0, NULL, 0) == 0)
			return (int)i;
	return -1;
}

/* One pass: add matching processes, unlist those that exited and
 * on-demand ones no request has used for IDLE_RELEASE_S. */
static void
scan(struct registry *r)
{
	struct target *dead[64], *ev;
	char err[PROFD_ERRLEN];
	struct dirent *de;
	size_t i, nd;
	pid_t self = getpid();
	uint64_t now = mono_ns(), rss;
	DIR *d;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->n; i++) {
		struct entry *e = &r->v[i];

		if (e->listed && !target_poll(e->t) && e->origin != REG_PID) {
			log_info("pid %d: exited, no longer served",
				 (int)target_pid(e->t));
			e->listed = false;
			e->refs--;
			if (e->rule >= 0)
				service_exited(&r->rules[e->rule].svc, e);
		} else if (e->listed && e->rule >= 0) {
			/* the last RSS of its exit record */
			if (memory_rss(target_pid(e->t), &rss) == 0)
				e->rss = rss;
		} else if (e->listed && e->origin == REG_ON_DEMAND &&
			   e->refs == 1 &&
			   now - e->used >= IDLE_RELEASE_S * 1000000000ULL) {
			log_info("pid %d: no longer served: unused for %d s",
				 (int)target_pid(e->t), IDLE_RELEASE_S);
			e->listed = false;
			e->refs--;
			__atomic_add_fetch(&idle_released_total, 1,
					   __ATOMIC_RELAXED);
		}
	}
	nd = reap_locked(r, dead, sizeof(dead) / sizeof(dead[0]));
	pthread_mutex_unlock(&r->mu);
	for (i = 0; i < nd; i++)
		target_free(dead[i]);

	if (r->nrules == 0)
		return;
	d = opendir("/proc");
	if (!d)
		return;
	while ((de = readdir(d))) {
		pid_t pid;
		int rule;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = (pid_t)atoi(de->d_name);
		if (pid == self)
			continue;
		pthread_mutex_lock(&r->mu);
		if (find(r, pid)) {
			pthread_mutex_unlock(&r->mu);
			continue;
		}
		pthread_mutex_unlock(&r->mu);
		rule = match(r, pid);
		if (rule < 0)
			continue;
		pthread_mutex_lock(&r->mu);
		if (add_locked(r, pid, REG_MATCH, rule, err, sizeof(err),
			       &ev) == 0) {
			log_info("pid %d: matches --match '%s', now served "
				 "as service %s",
				 (int)pid, r->rules[rule].src,
				 r->rules[rule].svc.name);
			/* requests waiting out a restart gap */
			pthread_cond_broadcast(&r->cond);
		}
		else
			log_warnx("pid %d matches --match '%s' but cannot be "
				  "profiled: %s",
				  (int)pid, r->rules[rule].src, err);
		pthread_mutex_unlock(&r->mu);
		target_free(ev);
	}
	closedir(d);
}

static void *
watcher_main(void *arg)
{
	struct registry *r = arg;
	struct timespec ts;

	prctl(PR_SET_NAME, "profd-watcher", 0, 0, 0);
	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		pthread_mutex_unlock(&r->mu);
		scan(r);
		pthread_mutex_lock(&r->mu);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)SCAN_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!r->stop)
			pthread_cond_timedwait(&r->cond, &r->mu, &ts);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

struct registry *
registry_new(const struct target_opts *o, bool any_pid, size_t max_targets)
{
	pthread_condattr_t ca;
	struct registry *r;

	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	r->opts = *o;
	r->any_pid = any_pid;
	r->max_targets = max_targets;
	return r;
}

/* The name of rule i: the regex without its anchors when what remains is
 * a plain name ([A-Za-z0-9._-]), else "match<i+1>". */
static void
service_name(const char *re, size_t i, char *out, size_t len)
{
	size_t n = strlen(re), k;

	if (n && re[0] == '^') {
		re++;
		n--;
	}
	if (n && re[n - 1] == '$')
		n--;
	for (k = 0; k < n; k++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789._-",
			    re[k]))
			break;
	if (n == 0 || k < n || n >= len)
		snprintf(out, len, "match%zu", i + 1);
	else
		snprintf(out, len, "%.*s", (int)n, re);
}

int
registry_add_rule(struct registry *r, const char *re, char *err,
		  size_t errlen)
{
	struct rule *nr;
	int e;

	nr = realloc(r->rules, (r->nrules + 1) * sizeof(*nr));
	if (!nr) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->rules = nr;
	nr = &r->rules[r->nrules];
	e = regcomp(&nr->re, re, REG_EXTENDED | REG_NOSUB);
	if (e != 0) {
		char why[128];

		regerror(e, &nr->re, why, sizeof(why));
		snprintf(err, errlen, "invalid --match '%s': %s", re, why);
		return -EINVAL;
	}
	nr->src = strdup(re);
	memset(&nr->svc, 0, sizeof(nr->svc));
	service_name(re, r->nrules, nr->svc.name, sizeof(nr->svc.name));
	if (nr->src && r->opts.continuous_hz)
		nr->svc.hist = history_new(r->opts.history_s,
					   r->opts.history_budget,
					   HIST_MAX_STACKS);
	if (!nr->src || (r->opts.continuous_hz && !nr->svc.hist)) {
		regfree(&nr->re);
		free(nr->src);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->nrules++;
	return 0;
}

int
registry_add_pid(struct registry *r, pid_t pid, char *err, size_t errlen)
{
	struct target *ev;
	int e;

	pthread_mutex_lock(&r->mu);
	e = add_locked(r, pid, REG_PID, -1, err, errlen, &ev);
	pthread_mutex_unlock(&r->mu);
	target_free(ev);
	return e;
}

int
registry_start(struct registry *r)
{
	int e;

	scan(r);	/* matches at start-up are served from the start */
	/* --allow-any-pid: the watcher also drops on-demand targets whose
	 * process exited, or they would stay listed and count against
	 * --max-targets for ever */
	if (r->nrules == 0 && !r->any_pid)
		return 0;
	e = pthread_create(&r->watcher, NULL, watcher_main, r);
	if (e != 0)
		return -e;
	r->watching = true;
	return 0;
}

size_t
registry_count(struct registry *r)
{
	size_t i, n = 0;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->n; i++)
		n += r->v[i].listed;
	pthread_mutex_unlock(&r->mu);
	return n;
}

/* The service of id pid (< 0: registry_service_id), or NULL. */
static struct service *
service_of(struct registry *r, pid_t pid)
{
	size_t i = (size_t)(-(long)pid) - 1;

	return i < r->nrules ? &r->rules[i].svc : NULL;
}

/* How long a request for svc waits for its next process in a restart
 * gap, seconds: twice the longest gap seen, so that a service that
 * always takes 8 s to come back is waited for, within the bounds. */
static unsigned
gap_wait_s(const struct service *svc)
{
	uint64_t s = (2 * svc->max_gap + 999999999ULL) / 1000000000ULL;

	return s < REG_SERVICE_WAIT_MIN_S   ? REG_SERVICE_WAIT_MIN_S
	       : s > REG_SERVICE_WAIT_MAX_S ? REG_SERVICE_WAIT_MAX_S
					    : (unsigned)s;
}

/* A process of service id pid with a reference, with the lock held: the
 * one that records its history (or the only one), waiting gap_wait_s()
 * for the next in a restart gap; recorded: the last that recorded it
 * will do (history requests, in the gap). NULL with reply filled: 404
 * (no such service, nothing came), 409 (several processes and none
 * records the service's history). */
static struct target *
service_get_locked(struct registry *r, pid_t pid, bool recorded,
		   struct http_reply *reply)
{
	struct service *svc = service_of(r, pid);
	int rule = (int)(-(long)pid) - 1;
	struct entry *e = NULL;
	struct timespec ts;
	bool waited = false;
	unsigned wait_s;
	size_t i, n;

	if (!svc) {
		reply->status = 404;
		snprintf(reply->msg, sizeof(reply->msg),
			 "no such service (see /services)");
		return NULL;
	}
	wait_s = gap_wait_s(svc);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += wait_s;
	for (;;) {
		for (i = n = 0; i < r->n; i++) {
			struct entry *x = &r->v[i];

			if (x->rule != rule)
				continue;
			if ((x->listed && x->t == svc->holder) ||
			    (recorded && !svc->holder && x->t == svc->last)) {
				e = x;
				break;
			}
			if (x->listed) {
				e = x;
				n++;
			}
		}
		if (i < r->n || n == 1)
			break;
		e = NULL;
		if (n > 1) {
			reply->status = 409;
			snprintf(reply->msg, sizeof(reply->msg),
				 "%zu processes match --match '%s' and none "
				 "records the service's history: choose one "
				 "with /pid/<PID>/ (see /targets), or anchor "
				 "the regex ('^name$')",
				 n, r->rules[rule].src);
			return NULL;
		}
		if (!waited)
			log_info("service %s: no process now (a restart?): "
				 "a request waits up to %u s for the next "
				 "(twice the longest restart gap so far, "
				 "%.1f s, within %d..%d s)",
				 svc->name, wait_s, (double)svc->max_gap / 1e9,
				 REG_SERVICE_WAIT_MIN_S, REG_SERVICE_WAIT_MAX_S);
		waited = true;
		if (r->stop || pthread_cond_timedwait(&r->cond, &r->mu, &ts) ==
				       ETIMEDOUT) {
			reply->status = 404;
			snprintf(reply->msg, sizeof(reply->msg),
				 "no process of service %s (--match '%s') "
				 "came within %u s; see /services",
				 svc->name, r->rules[rule].src, wait_s);
			return NULL;
		}
	}
	e->refs++;
	e->used = mono_ns();
	return e->t;
}

pid_t
registry_service_id(struct registry *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nrules; i++)
		if (strcmp(r->rules[i].svc.name, name) == 0)
			return (pid_t)(-(long)i - 1);
	return 0;
}

struct target *
registry_get_recorded(struct registry *r, pid_t pid,
		      struct http_reply *reply)
{
	struct target *t;

	if (pid >= 0)
		return registry_get(r, pid, reply);
	pthread_mutex_lock(&r->mu);
	t = service_get_locked(r, pid, true, reply);
	pthread_mutex_unlock(&r->mu);
	return t;
}

/* Long because each kind of name has its own answers: a service (< 0),
 * the default (0: the only one, else 404 or a 409 listing them), a PID
 * (served, taken on under --allow-any-pid, or 403/404/503). */
struct target *
registry_get(struct registry *r, pid_t pid, struct http_reply *reply)
{
	char err[PROFD_ERRLEN], list[192];
	struct entry *e = NULL;
	struct target *t = NULL, *ev = NULL;
	size_t i, n = 0, len = 0;

	pthread_mutex_lock(&r->mu);
	if (pid < 0) {
		t = service_get_locked(r, pid, false, reply);
		pthread_mutex_unlock(&r->mu);
		return t;
	}
	if (pid == 0) {
		for (i = 0; i < r->n; i++) {
			if (!r->v[i].listed)
				continue;
			e = &r->v[i];
			n++;
		}
		if (n == 1) {
			e->refs++;
			e->used = mono_ns();
			t = e->t;
		} else if (n == 0) {
			reply->status = 404;
			if (r->nrules)
				snprintf(reply->msg, sizeof(reply->msg),
					 "no process matches --match '%s' "
					 "yet; see /targets",
					 r->rules[0].src);
			else
				snprintf(reply->msg, sizeof(reply->msg),
					 "profd serves no process: use "
					 "/pid/<PID>/debug/pprof/...");
		} else {
			list[0] = '\0';
			for (i = 0; i < r->n && len < sizeof(list) - 16; i++) {
				char comm[64];
				int k;

				if (!r->v[i].listed)
					continue;
				target_comm(r->v[i].t, comm, sizeof(comm));
				k = snprintf(list + len, sizeof(list) - len,
					     "%s%d (%s)", len ? ", " : "",
					     (int)target_pid(r->v[i].t), comm);
				if (k > 0)
					len += (size_t)k;
			}
			reply->status = 409;
			/* the list may be cut short; the advice must not be */
			snprintf(reply->msg, sizeof(reply->msg),
				 "profd serves %zu processes, each apart: "
				 "choose one with /pid/<PID>/debug/pprof/..., "
				 "or anchor --match ('^name$'): %.*s",
				 n, (int)(sizeof(reply->msg) - 132), list);
		}
		pthread_mutex_unlock(&r->mu);
		return t;
	}
	e = find(r, pid);
	if (!e && r->any_pid) {
		int rc = add_locked(r, pid, REG_ON_DEMAND, -1, err,
				    sizeof(err), &ev);

		if (rc == 0) {
			e = find(r, pid);
			log_info("pid %d: profiled on request", (int)pid);
		} else {
			/* full of targets in use: a moment's condition */
			reply->status = rc == -ENOSPC || rc == -ENOMEM ||
						rc == -EMFILE
					? 503
				      : strstr(err, "no such process") ? 404
									: 403;
			snprintf(reply->msg, sizeof(reply->msg), "%s", err);
		}
	} else if (!e) {
		reply->status = 404;
		snprintf(reply->msg, sizeof(reply->msg),
			 "process %d is not served by this profd (see /targets; "
			 "profd --allow-any-pid serves any process)",
			 (int)pid);
	}
	if (e) {
		e->refs++;
		e->used = mono_ns();
		t = e->t;
	}
	pthread_mutex_unlock(&r->mu);
	target_free(ev);
	return t;
}

void
registry_put(struct registry *r, struct target *t)
{
	struct target *dead[1];
	size_t i, nd = 0;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->n; i++) {
		if (r->v[i].t == t) {
			r->v[i].refs--;
			/* which reference this is does not matter, only
			 * that as many puts as peeks leave used alone */
			if (r->v[i].peeks > 0)
				r->v[i].peeks--;
			else
				r->v[i].used = mono_ns();
			break;
		}
	}
	nd = reap_locked(r, dead, 1);
	pthread_mutex_unlock(&r->mu);
	if (nd)
		target_free(dead[0]);
}

size_t
registry_snapshot(struct registry *r, struct target **out, size_t max,
		  struct registry_info *info)
{
	size_t i, n = 0;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->n && n < max; i++) {
		struct entry *e = &r->v[i];

		if (!e->listed)
			continue;
		e->refs++;
		e->peeks++;
		out[n] = e->t;
		if (info) {
			info[n].origin = e->origin;
			info[n].since = e->since;
			info[n].rule = e->rule >= 0 ? r->rules[e->rule].src
						    : NULL;
		}
		n++;
	}
	pthread_mutex_unlock(&r->mu);
	return n;
}

void
registry_counts(uint64_t *evicted, uint64_t *idle_released)
{
	*evicted = __atomic_load_n(&evicted_total, __ATOMIC_RELAXED);
	*idle_released = __atomic_load_n(&idle_released_total,
					 __ATOMIC_RELAXED);
}

void
registry_stop(struct registry *r)
{
	size_t i;

	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
	if (r->watching) {
		pthread_join(r->watcher, NULL);
		r->watching = false;
	}
	for (i = 0; i < r->n; i++)
		target_stop(r->v[i].t);
}

void
registry_free(struct registry *r)
{
	size_t i;

	if (!r)
		return;
	registry_stop(r);
	for (i = 0; i < r->n; i++)
		target_free(r->v[i].t);
	for (i = 0; i < r->nrules; i++) {
		regfree(&r->rules[i].re);
		free(r->rules[i].src);
		history_free(r->rules[i].svc.hist);
	}
	free(r->rules);
	free(r->v);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* One service's object of /services, with the lock held. */
static void
service_json(struct registry *r, size_t k, struct textbuf *b)
{
	struct service *svc = &r->rules[k].svc;
	uint64_t i, first;
	size_t j, np = 0;
	char a[32], s[32], z[32];

	textbuf_printf(b, "{\"service\": ");
	textbuf_json(b, svc->name, strlen(svc->name));
	textbuf_printf(b, ", \"match\": ");
	textbuf_json(b, r->rules[k].src, strlen(r->rules[k].src));
	textbuf_printf(b, ", \"pids\": [");
	for (j = 0; j < r->n; j++)
		if (r->v[j].listed && r->v[j].rule == (int)k)
			textbuf_printf(b, "%s%d", np++ ? ", " : "",
				       (int)target_pid(r->v[j].t));
	textbuf_printf(b, "], \"up\": %s, \"history_pid\": %d, "
			  "\"restarts\": %" PRIu64 ", \"oom_kills\": %" PRIu64
			  ", \"longest_gap_seconds\": %.1f, "
			  "\"gap_wait_seconds\": %u, \"exits\": [",
		       np ? "true" : "false",
		       svc->holder ? (int)target_pid(svc->holder) : 0,
		       svc->restarts, svc->oom_kills,
		       (double)svc->max_gap / 1e9, gap_wait_s(svc));
	first = svc->exits > SVC_EXITS ? svc->exits - SVC_EXITS : 0;
	for (i = first; i < svc->exits; i++) {
		const struct exit_rec *x = &svc->rec[i % SVC_EXITS];

		wall_rfc3339(x->start, a, sizeof(a));
		wall_rfc3339(x->since, s, sizeof(s));
		wall_rfc3339(x->end, z, sizeof(z));
		textbuf_printf(b, "%s\n    {\"pid\": %d, \"comm\": ",
			       i > first ? "," : "", (int)x->pid);
		textbuf_json(b, x->comm, strlen(x->comm));
		textbuf_printf(b,
			       ", \"start\": \"%s\", \"served_since\": \"%s\", "
			       "\"end\": \"%s\", \"uptime_seconds\": %.1f, "
			       "\"cause\": \"%s\", \"last_rss_bytes\": %" PRIu64
			       "}",
			       a, s, z, (double)(x->end - x->start) / 1e9,
			       x->cause, x->rss);
	}
	textbuf_printf(b, "%s]}", svc->exits ? "\n  " : "");
}

int
registry_services_json(struct registry *r, char **out, size_t *len)
{
	struct textbuf b = { 0 };
	size_t k;

	pthread_mutex_lock(&r->mu);
	textbuf_printf(&b, "[");
	for (k = 0; k < r->nrules; k++) {
		textbuf_printf(&b, "%s\n  ", k ? "," : "");
		service_json(r, k, &b);
	}
	textbuf_printf(&b, "%s]\n", r->nrules ? "\n" : "");
	pthread_mutex_unlock(&r->mu);
	if (b.oom) {
		free(b.s);
		return -ENOMEM;
	}
	*out = b.s;
	*len = b.len;
	return 0;
}

int
registry_services_metrics(struct registry *r, char **text, size_t *len)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} counters[] = {
		{ "restarts",
		  "Processes of the service taken on after one of it ended.",
		  offsetof(struct service, restarts) },
		{ "oom_kills",
		  "Processes of the service that ended while their memory "
		  "cgroup's oom_kill count went up.",
		  offsetof(struct service, oom_kills) },
		{ "exits", "Processes of the service that ended.",
		  offsetof(struct service, exits) },
	};
	struct textbuf b = { 0 };
	size_t k, j, c;
	char *nt;

	if (r->nrules == 0)
		return 0;
	pthread_mutex_lock(&r->mu);
	textbuf_printf(&b, "# HELP profd_service_up Whether a process of the "
			   "--match service runs now.\n"
			   "# TYPE profd_service_up gauge\n");
	for (k = 0; k < r->nrules; k++) {
		bool up = false;

		for (j = 0; j < r->n; j++)
			up |= r->v[j].listed && r->v[j].rule == (int)k;
		textbuf_printf(&b, "profd_service_up{service=\"%s\"} %d\n",
			       r->rules[k].svc.name, up);
	}
	for (c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
		textbuf_printf(&b,
			       "# HELP profd_service_%s_total %s\n"
			       "# TYPE profd_service_%s_total counter\n",
			       counters[c].name, counters[c].help,
			       counters[c].name);
		for (k = 0; k < r->nrules; k++) {
			const struct service *svc = &r->rules[k].svc;

			textbuf_printf(&b,
				       "profd_service_%s_total{service=\"%s\"} "
				       "%" PRIu64 "\n",
				       counters[c].name, svc->name,
				       *(const uint64_t *)(const void *)((
					       const char *)svc +
					       counters[c].off));
		}
	}
	pthread_mutex_unlock(&r->mu);
	if (b.oom || !(nt = realloc(*text, *len + b.len + 1))) {
		free(b.s);
		return -ENOMEM;
	}
	memcpy(nt + *len, b.s, b.len + 1);
	*text = nt;
	*len += b.len;
	free(b.s);
	return 0;
}
