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
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/proc.h"
#include "daemon/registry.h"
#include "daemon/target.h"
#include "http/http.h"

#define SCAN_NS (500 * 1000000ULL)
#ifndef IDLE_RELEASE_S
#define IDLE_RELEASE_S 1800	/* on-demand targets unused this long go */
#endif

/* Over every registry, for /metrics. */
static uint64_t evicted_total, idle_released_total;

struct rule {
	char *src;		/* as given */
	regex_t re;
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

/* Add a target for pid, with the lock held. -errno with err filled. When
 * the table is full, an idle on-demand target makes room: it is taken out
 * and handed back in *evicted, for the caller to free after unlocking
 * (target_free joins a thread). */
static int
add_locked(struct registry *r, pid_t pid, enum reg_origin origin, int rule,
	   char *err, size_t errlen, struct target **evicted)
{
	struct target *t;
	struct entry *e;
	long victim = -1;

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
	t = target_new(pid, &r->opts, err, errlen);
	if (!t)
		return -errno ? -errno : -EPERM;
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
	uint64_t now = mono_ns();
	DIR *d;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->n; i++) {
		struct entry *e = &r->v[i];

		if (e->listed && !target_poll(e->t) && e->origin != REG_PID) {
			log_info("pid %d: exited, no longer served",
				 (int)target_pid(e->t));
			e->listed = false;
			e->refs--;
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
			       &ev) == 0)
			log_info("pid %d: matches --match '%s', now served",
				 (int)pid, r->rules[rule].src);
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
	if (!nr->src) {
		regfree(&nr->re);
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

struct target *
registry_get(struct registry *r, pid_t pid, struct http_reply *reply)
{
	char err[PROFD_ERRLEN], list[192];
	struct entry *e = NULL;
	struct target *t = NULL, *ev = NULL;
	size_t i, n = 0, len = 0;

	pthread_mutex_lock(&r->mu);
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
				 "profd serves %zu processes, choose one with "
				 "/pid/<PID>/debug/pprof/...: %.*s",
				 n, (int)(sizeof(reply->msg) - 96), list);
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
	}
	free(r->rules);
	free(r->v);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
