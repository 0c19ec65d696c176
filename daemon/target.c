/* target.c - one profiled process as HTTP workers see it: start and stop
 * its sampler (sampler.c), post windows to it and wait for them, export
 * what they collected.
 *
 * Symbolization and encoding run here, on the worker's side, never on the
 * sampler: a cold DWARF load must not hold up sampling. They run on a
 * thread of their own with a full-size stack (run_big_stack()).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/daemon.h"
#include "daemon/export.h"
#include "daemon/goroutines.h"
#include "daemon/history.h"
#include "daemon/log.h"
#include "daemon/memory.h"
#include "daemon/perfsamp.h"
#include "daemon/proc.h"
#include "daemon/profile.h"
#include "daemon/sampler.h"
#include "daemon/session.h"
#include "daemon/target.h"
#include "daemon/warmer.h"
#include "daemon/watch.h"
#include "gort/gort.h"
#include "space/space.h"
#include "symbolize/symbolize.h"

static uint64_t process_starttime(pid_t pid);

/* How often a worker waiting for a window looks whether its client is
 * still there. */
#define CLIENT_POLL_NS (200 * 1000000ULL)

/* Over every target, for /metrics: windows posted and not yet over, and
 * windows cancelled because their client went away. */
static uint64_t windows_open, windows_cancelled;
static uint64_t windows_open_kind[TARGET_WINDOW_KINDS];	/* by session kind */
_Static_assert(SESSION_CPU == 0 && SESSION_WALL == 1 && SESSION_DUMP == 2 &&
		       SESSION_GROWTH == TARGET_WINDOW_KINDS - 1,
	       "windows_open_kind is indexed by enum session_kind");

static void
install_wake_handler(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, sampler_install_signal);
}

struct target *
target_new(pid_t pid, const struct target_opts *o, char *err, size_t errlen)
{
	return target_new_hist(pid, o, NULL, err, errlen);
}

/* Long (110 lines) on purpose: one straight sequence of set-ups (fds,
 * maps, sampler state, history, triggers, unwinder, thread), each of
 * which unwinds through the single fail path and target_free(). */
struct target *
target_new_hist(pid_t pid, const struct target_opts *o, struct history *lent,
		char *err, size_t errlen)
{
	char path[64], *comm;
	pthread_condattr_t ca;
	struct target *t;
	size_t len;
	int r;

	install_wake_handler();
	r = proc_check_traceable(pid, err, errlen);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->pid = pid;
	t->o = *o;
	/* auto: resolved as the sampler starts (perfsamp_setup) */
	t->perf = o->sampler == SAMPLER_PERF;
	if (o->service)
		snprintf(t->service, sizeof(t->service), "%s", o->service);
	t->o.service = NULL;	/* the caller's: t->service is ours */
	t->alive = true;
	t->task_fd = -1;
	pthread_mutex_init(&t->mu, NULL);
	pthread_mutex_init(&t->space_mu, NULL);
	rss_trend_init(&t->trend);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->wake, &ca);
	pthread_cond_init(&t->done, &ca);
	pthread_condattr_destroy(&ca);

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	t->task_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->task_fd < 0) {
		if (errno == EMFILE || errno == ENFILE) {
			proc_explain_nofile(err, errlen);
			errno = EMFILE;
		} else {
			snprintf(err, errlen, "no such process: %d", (int)pid);
			errno = ESRCH;
		}
		goto fail;
	}
	t->starttime = process_starttime(pid);
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (proc_read(path, 64, &comm, &len) == 0) {
		if (len && comm[len - 1] == '\n')
			comm[len - 1] = '\0';
		snprintf(t->comm, sizeof(t->comm), "%s", comm);
		free(comm);
	}
	t->space = space_new(pid);
	if (!t->space) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		goto fail;
	}
	/* Read the maps now (no attach needed) so that /symbol works and
	 * the first window starts warm. */
	r = space_refresh(t->space, err, errlen);
	if (r == -EMFILE || r == -ENFILE)
		proc_explain_nofile(err, errlen);
	if (r < 0) {
		errno = r == -ENFILE ? EMFILE : -r;
		goto fail;
	}
	t->sm = sampler_new(t);
	if (!t->sm) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		goto fail;
	}
	if (o->continuous_hz > 0 && lent) {
		t->hist = lent;
		t->hist_lent = true;
	} else if (o->continuous_hz > 0) {
		t->hist = history_new(o->history_s, o->history_budget,
				      HIST_MAX_STACKS);
		if (!t->hist) {
			snprintf(err, errlen, "out of memory");
			errno = ENOMEM;
			goto fail;
		}
	}
	if (o->continuous_hz > 0 && o->ntriggers > 0) {
		t->watch = watch_new(t, o->triggers, o->ntriggers);
		if (!t->watch) {
			snprintf(err, errlen, "out of memory");
			errno = ENOMEM;
			goto fail;
		}
	}
	t->uw = unwinder_new(t->space);
	if (!t->uw) {
		snprintf(err, errlen, "libunwind: cannot create address space");
		goto fail;
	}
	r = pthread_create(&t->thread, NULL, sampler_main, t);
	if (r != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(r));
		goto fail;
	}
	t->thread_started = true;
	return t;
fail:
	r = errno;
	target_free(t);
	errno = r;
	return NULL;
}

void
target_stop(struct target *t)
{
	if (!t || !t->thread_started)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_broadcast(&t->wake);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	t->thread_started = false;
	/* The registry may have seen the exit first and stopped the
	 * sampler before it looked: fire exit here, the sampler's work
	 * being over (once: a second call does nothing). */
	if (t->watch && !target_alive(t))
		watch_exited(t);
	/* after the sampler: an exit it noticed last may still be written */
	watch_stop(t->watch);
}

void
target_free(struct target *t)
{
	if (!t)
		return;
	target_stop(t);
	sampler_free(t->sm);
	if (!t->hist_lent)
		history_free(t->hist);
	watch_free(t->watch);
	unwinder_free(t->uw);
	space_free(t->space);
	if (t->task_fd >= 0)
		close(t->task_fd);
	pthread_cond_destroy(&t->wake);
	pthread_cond_destroy(&t->done);
	pthread_mutex_destroy(&t->mu);
	pthread_mutex_destroy(&t->space_mu);
	rss_trend_destroy(&t->trend);
	free(t);
}

pid_t
target_pid(const struct target *t)
{
	return t->pid;
}

/* Start time of pid (stat field 22), 0 when it is gone or a zombie. */
static uint64_t
process_starttime(pid_t pid)
{
	struct proc_stat st;
	char path[64], *buf;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (proc_read(path, 4096, &buf, &len) < 0)
		return 0;
	r = proc_parse_stat(buf, len, &st);
	free(buf);
	if (r < 0 || st.state == 'Z' || st.state == 'X')
		return 0;
	return st.starttime;
}

bool
target_poll(struct target *t)
{
	uint64_t st = process_starttime(t->pid);

	pthread_mutex_lock(&t->mu);
	if (t->alive && (st == 0 || st != t->starttime)) {
		t->alive = false;
		snprintf(t->dead_msg, sizeof(t->dead_msg),
			 "process %d has exited", (int)t->pid);
	}
	st = t->alive;
	pthread_mutex_unlock(&t->mu);
	return st;
}

bool
target_alive(struct target *t)
{
	bool a;

	pthread_mutex_lock(&t->mu);
	a = t->alive;
	pthread_mutex_unlock(&t->mu);
	return a;
}

void
target_comm(const struct target *t, char *buf, size_t len)
{
	snprintf(buf, len, "%s", t->comm);
}

void
target_snap_name(const struct target *t, char *buf, size_t len)
{
	if (t->service[0])
		snprintf(buf, len, "%s", t->service);
	else
		target_comm(t, buf, len);
}

int64_t
target_start_wall(const struct target *t)
{
	long hz = sysconf(_SC_CLK_TCK);
	struct timespec bt;
	uint64_t boot_ns, start_ns;

	/* starttime counts clock ticks on the boot clock (proc(5)), which
	 * goes on during a suspend as CLOCK_BOOTTIME does */
	if (!t->starttime || hz <= 0 ||
	    clock_gettime(CLOCK_BOOTTIME, &bt) < 0)
		return 0;
	boot_ns = (uint64_t)bt.tv_sec * 1000000000ULL + (uint64_t)bt.tv_nsec;
	start_ns = t->starttime * (1000000000ULL / (uint64_t)hz);
	if (start_ns > boot_ns)
		return 0;
	return wall_now_ns() - (int64_t)(boot_ns - start_ns);
}

void
target_build_id(struct target *t, char *buf, size_t len)
{
	const struct module *m;

	buf[0] = '\0';
	pthread_mutex_lock(&t->space_mu);
	m = space_main_module(t->space);
	if (m && m->img)
		snprintf(buf, len, "%s", elfimg_profile_build_id(m->img));
	pthread_mutex_unlock(&t->space_mu);
}

static void
session_free(struct session *s)
{
	size_t i;

	if (!s)
		return;
	agg_free(s->agg);
	modsnap_free(&s->ms);
	for (i = 0; i < s->ndump; i++)
		free(s->dump[i].pcs);
	free(s->dump);
	free(s);
}

/*
 * End a window whose client has gone, with t->mu held. A pending one is
 * taken off the list at once; an active one gets its end moved to its
 * start, and the sampler, woken, finishes it at its next pass (within a
 * tick: 10 ms at 99 Hz) and frees its slot. One the sampler is starting
 * right now is in neither place: the caller asks again at its next poll.
 * The sampler reads end_ns outside t->mu too, hence the atomic store.
 */
static void
cancel_locked(struct target *t, struct session *s)
{
	struct session **pp;

	for (pp = &t->pending; *pp; pp = &(*pp)->next) {
		if (*pp != s)
			continue;
		*pp = s->next;
		t->used_slots &= ~(1U << s->slot);
		s->done = true;
		return;
	}
	if (t->active[s->slot] == s && s->end_ns != s->start_ns) {
		__atomic_store_n(&s->end_ns, s->start_ns, __ATOMIC_RELAXED);
		pthread_cond_broadcast(&t->wake);
	}
}

size_t
target_end_windows(struct target *t)
{
	struct session *s;
	size_t i, n = 0;
	uint64_t now = mono_ns();

	pthread_mutex_lock(&t->mu);
	for (s = t->pending; s; s = s->next)
		if (s->kind != SESSION_DUMP && !s->early) {
			s->early = true;	/* session_start sees it */
			n++;
		}
	for (i = 0; i < PROFD_MAX_SESSIONS; i++) {
		s = t->active[i];
		if (!s || s->kind == SESSION_DUMP ||
		    __atomic_load_n(&s->early, __ATOMIC_RELAXED))
			continue;
		__atomic_store_n(&s->early, true, __ATOMIC_RELAXED);
		if (__atomic_load_n(&s->end_ns, __ATOMIC_RELAXED) > now)
			__atomic_store_n(&s->end_ns, now, __ATOMIC_RELAXED);
		n++;
	}
	if (n)
		pthread_cond_broadcast(&t->wake);
	pthread_mutex_unlock(&t->mu);
	return n;
}

/* Wait for s, with t->mu held. With a client to watch, look every
 * CLIENT_POLL_NS whether it has gone, and cancel s if so. Returns whether
 * s was cancelled. */
static bool
wait_session(struct target *t, struct session *s,
	     const struct http_client *client)
{
	bool gone = false;

	while (!s->done) {
		struct timespec ts;
		uint64_t at;

		if (!client) {
			pthread_cond_wait(&t->done, &t->mu);
			continue;
		}
		at = mono_ns() + CLIENT_POLL_NS;
		ns_to_timespec(at, &ts);
		pthread_cond_timedwait(&t->done, &t->mu, &ts);
		if (s->done)
			break;
		if (!gone) {
			pthread_mutex_unlock(&t->mu);
			gone = http_client_gone(client);
			pthread_mutex_lock(&t->mu);
		}
		if (gone && !s->done)
			cancel_locked(t, s);
	}
	return gone;
}

/* Post a window and wait for it. Returns the session, finished with 200
 * (caller frees), or NULL with r filled (the session's error, if any; 499
 * when its client went away and it was cancelled). */
static struct session *
run_session(struct target *t, enum session_kind kind, unsigned seconds,
	    unsigned hz, const struct http_client *client,
	    struct http_reply *r)
{
	struct session *s;
	bool cancelled;
	int slot;

	s = calloc(1, sizeof(*s));
	if (s)
		s->agg = agg_new(MAX_STACKS);
	if (!s || !s->agg) {
		session_free(s);
		r->status = 503;
		snprintf(r->msg, sizeof(r->msg), "profd is out of memory");
		return NULL;
	}
	s->kind = kind;
	s->seconds = seconds;
	s->hz = hz;

	pthread_mutex_lock(&t->mu);
	if (t->stop || !t->alive) {
		r->status = t->stop ? 503 : 404;
		snprintf(r->msg, sizeof(r->msg), "%s",
			 t->stop ? "profd is shutting down" : t->dead_msg);
		pthread_mutex_unlock(&t->mu);
		session_free(s);
		return NULL;
	}
	for (slot = 0; slot < PROFD_MAX_SESSIONS; slot++)
		if (!(t->used_slots & (1U << slot)))
			break;
	if (slot == PROFD_MAX_SESSIONS) {
		pthread_mutex_unlock(&t->mu);
		session_free(s);
		r->status = 503;
		snprintf(r->msg, sizeof(r->msg),
			 "%d profiles of process %d are already running; "
			 "retry when one of them ends",
			 PROFD_MAX_SESSIONS, (int)t->pid);
		return NULL;
	}
	t->used_slots |= 1U << slot;
	s->slot = slot;
	s->next = t->pending;
	t->pending = s;
	pthread_cond_signal(&t->wake);
	__atomic_add_fetch(&windows_open, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&windows_open_kind[kind], 1, __ATOMIC_RELAXED);
	cancelled = wait_session(t, s, client);
	pthread_mutex_unlock(&t->mu);
	__atomic_sub_fetch(&windows_open, 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&windows_open_kind[kind], 1, __ATOMIC_RELAXED);
	if (cancelled) {
		__atomic_add_fetch(&windows_cancelled, 1, __ATOMIC_RELAXED);
		log_info("pid %d: %s window cancelled after %.1f s of %u: "
			 "its client closed the connection",
			 (int)t->pid, session_kind_name(kind),
			 s->start_ns ? (double)s->duration_ns / 1e9 : 0.0,
			 seconds);
		r->status = 499;
		snprintf(r->msg, sizeof(r->msg),
			 "window cancelled: the client closed its connection");
		session_free(s);
		return NULL;
	}
	if (s->status != 200) {
		r->status = s->status;
		snprintf(r->msg, sizeof(r->msg), "%s", s->msg);
		session_free(s);
		return NULL;
	}
	return s;
}

/*
 * libdw needs far more stack than civetweb gives its workers (100 KiB in
 * Debian's build, not configurable at run time): parsing the line program
 * of a large CU, e.g. in libc's separate debug file, overflows it. Work
 * that symbolizes runs on a thread of our own with a full-size stack.
 */
#define SYMBOLIZE_STACK (16u << 20)

/* Run fn(arg) on a thread with SYMBOLIZE_STACK of stack and wait for it.
 * When no thread can be started, r gets 503 "cannot start a thread to
 * WHAT: cause" and -errno comes back. */
static int
run_big_stack(void *(*fn)(void *), void *arg, struct http_reply *r,
	      const char *what)
{
	pthread_attr_t attr;
	pthread_t th;
	int e;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SYMBOLIZE_STACK);
	e = pthread_create(&th, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (e != 0) {
		r->status = 503;
		snprintf(r->msg, sizeof(r->msg),
			 "cannot start a thread to %s: %s", what, strerror(e));
		return -e;
	}
	pthread_join(th, NULL);
	return 0;
}

/* A profile of agg into r (200, or 500 with the reason): info's sample
 * type and labels are set here from the kind of data (wall clock, page
 * faults or CPU), the rest is the caller's. */
static void
export_reply(const struct agg *a, const struct modsnap *ms, bool wall,
	     bool growth, struct export_info *info, struct http_reply *r)
{
	char err[PROFD_ERRLEN];

	info->sample_type = wall ? "wall" : growth ? "faults" : "cpu";
	info->sample_unit = growth ? "bytes" : "nanoseconds";
	info->state_labels = wall;
	r->profile = export_pprof(a, ms, info, err, sizeof(err));
	if (!r->profile) {
		r->status = 500;
		snprintf(r->msg, sizeof(r->msg), "%s", err);
	} else {
		r->status = 200;
	}
}

struct export_job {
	struct target *t;
	struct session *s;
	struct http_reply *r;
};

static void *
export_main(void *arg)
{
	struct export_job *j = arg;
	struct session *s = j->s;
	char comment[896], est[256], unst[96];
	struct export_info info;
	bool wall = s->kind == SESSION_WALL;
	bool growth = s->kind == SESSION_GROWTH;
	double div = growth ? 1048576.0 : 1e6;
	const char *unit = growth ? "MiB" : "ms of CPU";

	est[0] = '\0';
	if (!wall && (s->moved || s->settled || s->unattributed))
		snprintf(est, sizeof(est),
			 "; %.1f %s after threads' last samples, and %" PRIu64
			 " samples of threads waiting for a CPU, went to their "
			 "last fair samples' stacks; %.1f %s in no stack "
			 "(threads never sampled running)",
			 (double)s->settled / div, unit, s->moved,
			 (double)s->unattributed / div, unit);
	unst[0] = '\0';
	if (s->unstopped)
		snprintf(unst, sizeof(unst),
			 "; %" PRIu64 " ticks stopped no thread: profd was "
			 "short of CPU (--max-stop-us)",
			 s->unstopped);
	snprintf(comment, sizeof(comment),
		 "profd %s: pid %d (%s), %s, %.1f s at %u Hz, sampler %s%s: "
		 "%" PRIu64 " samples, %" PRIu64 " ticks, %" PRIu64 " lost%s%s",
		 PROFD_VERSION, (int)j->t->pid, j->t->comm,
		 wall	  ? "wall clock, every thread"
		 : growth ? "memory growth, page faults of running threads "
			    "by stack, attributed by sampling"
			  : "cpu, running threads",
		 (double)s->duration_ns / 1e9, s->hz, perfsamp_name(s->perf),
		 s->exited ? " (process exited)" : "", s->agg->samples,
		 s->ticks, s->lost, unst, est);
	/* the "N lost" of the comment, for /metrics */
	STAT_ADD(j->t, samples_lost, s->lost);
	memset(&info, 0, sizeof(info));
	info.period = growth ? (int64_t)sysconf(_SC_PAGESIZE)
			     : (int64_t)s->period_ns;
	info.time_nanos = s->start_wall;
	info.duration_nanos = (int64_t)s->duration_ns;
	info.comment = comment;
	export_reply(s->agg, &s->ms, wall, growth, &info, j->r);
	return NULL;
}

void
target_profile(struct target *t, const struct http_profile_req *req,
	       struct http_reply *r)
{
	struct export_job j;
	struct session *s;

	s = run_session(t,
			req->kind == HTTP_PROFILE_WALL	   ? SESSION_WALL
			: req->kind == HTTP_PROFILE_GROWTH ? SESSION_GROWTH
							   : SESSION_CPU,
			req->seconds, req->hz, req->client, r);
	if (!s)
		return;
	j.t = t;
	j.s = s;
	j.r = r;
	run_big_stack(export_main, &j, r, "build the profile");
	log_verbose("pid %d: window done: %.1f s, %" PRIu64 " samples",
		    (int)t->pid, (double)s->duration_ns / 1e9, s->agg->samples);
	session_free(s);
}

struct history_job {
	struct target *t;
	const struct http_history_req *req;
	struct history_span *sp;
	int64_t from;
	struct http_reply *r;
};

/* Who recorded span sp of t's history, for its comment: "pid N (comm)",
 * or, when several processes of a --match service did (its restarts),
 * "service NAME, pids A, B, C (comm)", every one of them. */
static void
span_who(const struct target *t, const struct history_span *sp, char *out,
	 size_t len)
{
	size_t i, o;
	int k;

	if (sp->npids <= 1 && !sp->more_pids) {
		snprintf(out, len, "pid %d (%s)",
			 sp->npids ? (int)sp->pids[0] : (int)t->pid, t->comm);
		return;
	}
	k = snprintf(out, len, "%s%s%spids ", t->service[0] ? "service " : "",
		     t->service, t->service[0] ? ", " : "");
	o = k > 0 ? (size_t)k : 0;
	for (i = 0; i < sp->npids && o < len; i++) {
		k = snprintf(out + o, len - o, "%s%d", i ? ", " : "",
			     (int)sp->pids[i]);
		o += k > 0 ? (size_t)k : 0;
	}
	if (sp->more_pids && o < len) {
		k = snprintf(out + o, len - o, " and %zu more", sp->more_pids);
		o += k > 0 ? (size_t)k : 0;
	}
	if (o < len)
		snprintf(out + o, len - o, " (%s)", t->comm);
}

/* Export a merged span (on a thread with a big stack, as export_main). */
static void *
history_export_main(void *arg)
{
	struct history_job *j = arg;
	const struct history_span *sp = j->sp;
	char comment[1024], a[32], b[32], o[32], note[200], cut[200];
	char rss[80], who[256];
	bool wall = j->req->kind == HTTP_PROFILE_WALL;
	bool growth = j->req->kind == HTTP_PROFILE_GROWTH;
	struct export_info info;

	span_who(j->t, sp, who, sizeof(who));
	wall_rfc3339(sp->start, a, sizeof(a));
	wall_rfc3339(sp->end, b, sizeof(b));
	note[0] = cut[0] = rss[0] = '\0';
	if (sp->cut) {
		wall_rfc3339(sp->oldest, o, sizeof(o));
		snprintf(cut, sizeof(cut),
			 "; cut by the memory budget (--history-memory %.1f "
			 "MiB): older buckets were dropped, the history "
			 "begins at %s",
			 (double)sp->budget / 1048576.0, o);
	}
	if (sp->have_rss)
		snprintf(rss, sizeof(rss), "; RSS %.1f to %.1f MiB",
			 (double)sp->rss_min / 1048576.0,
			 (double)sp->rss_max / 1048576.0);
	if (!sp->cut && j->from != INT64_MIN && j->from < sp->oldest) {
		wall_rfc3339(sp->oldest, o, sizeof(o));
		snprintf(note, sizeof(note),
			 "; the span asked for begins before the history, "
			 "which begins at %s: this is all there is",
			 o);
	}
	snprintf(comment, sizeof(comment),
		 "profd %s: %s, history, %s, %s to %s (%.1f s) in "
		 "%zu bucket(s) of %llu s at %u Hz: %" PRIu64
		 " samples, %" PRIu64 " over the cap of %zu stacks per "
		 "bucket%s%s%s",
		 PROFD_VERSION, who,
		 wall	  ? "wall clock, every thread"
		 : growth ? "memory growth (page faults), running threads"
			  : "cpu, running threads",
		 a,
		 b, (double)(sp->end - sp->start) / 1e9, sp->nbuckets,
		 (unsigned long long)(HIST_BUCKET_NS / 1000000000ULL),
		 j->t->o.continuous_hz, sp->agg->samples, sp->dropped,
		 sp->max_stacks, rss, note, cut);
	memset(&info, 0, sizeof(info));
	info.period = (int64_t)(1000000000ULL / j->t->o.continuous_hz);
	info.time_nanos = sp->start;
	info.duration_nanos = sp->end - sp->start;
	info.comment = comment;
	export_reply(sp->agg, &sp->ms, wall, growth, &info, j->r);
	return NULL;
}

/* The span a history request asks for, [*from, *to) in wall ns: what it
 * gave, the rest from now and the history's start. */
static void
history_bounds(const struct http_history_req *req, int64_t now,
	       int64_t *from, int64_t *to)
{
	int64_t secs = (int64_t)req->seconds * 1000000000LL;

	*from = INT64_MIN;
	*to = now;
	if (req->since != INT64_MIN && req->until != INT64_MIN) {
		*from = req->since;
		*to = req->until;
	} else if (req->since != INT64_MIN) {
		*from = req->since;
		if (secs)
			*to = req->since + secs;
	} else if (req->until != INT64_MIN) {
		*to = req->until;
		if (secs)
			*from = req->until - secs;
	} else if (secs) {
		*from = now - secs;
	}
}

/* Whether t keeps a history; 404 into r when it does not. */
static bool
keeps_history(struct target *t, struct http_reply *r)
{
	if (t->hist)
		return true;
	r->status = 404;
	snprintf(r->msg, sizeof(r->msg),
		 "process %d keeps no history: start profd with --continuous",
		 (int)t->pid);
	return false;
}

void
target_history(struct target *t, const struct http_history_req *req,
	       struct http_reply *r)
{
	struct history_span sp;
	struct history_job j;
	int64_t now = wall_now_ns(), from, to;
	char o[32];
	int e;

	if (!keeps_history(t, r))
		return;
	history_bounds(req, now, &from, &to);
	e = history_span(t->hist,
			 req->kind == HTTP_PROFILE_WALL	    ? HIST_WALL
			 : req->kind == HTTP_PROFILE_GROWTH ? HIST_GROWTH
							    : HIST_CPU,
			 from, to, now, &sp);
	if (e == -ERANGE) {
		wall_rfc3339(sp.oldest, o, sizeof(o));
		r->status = 404;
		if (sp.oldest)
			snprintf(r->msg, sizeof(r->msg),
				 "no history of process %d in that span: it "
				 "holds %s to now",
				 (int)t->pid, o);
		else
			snprintf(r->msg, sizeof(r->msg),
				 "no history of process %d yet", (int)t->pid);
		return;
	}
	if (e < 0) {
		r->status = 503;
		snprintf(r->msg, sizeof(r->msg), "profd is out of memory");
		return;
	}
	j.t = t;
	j.req = req;
	j.sp = &sp;
	j.from = from;
	j.r = r;
	run_big_stack(history_export_main, &j, r, "build the profile");
	log_verbose("pid %d: history of %zu bucket(s): %" PRIu64 " samples",
		    (int)t->pid, sp.nbuckets, sp.agg->samples);
	history_span_free(&sp);
}

void
target_history_buckets(struct target *t, const struct http_history_req *req,
		       struct http_reply *r)
{
	int64_t now = wall_now_ns(), from, to;
	char comm[16];

	if (!keeps_history(t, r))
		return;
	/* the sampler rewrites comm under mu when the process exec's */
	pthread_mutex_lock(&t->mu);
	memcpy(comm, t->comm, sizeof(comm));
	pthread_mutex_unlock(&t->mu);
	history_bounds(req, now, &from, &to);
	if (history_buckets_json(t->hist, t->pid, comm, from, to, now,
				 &r->text, &r->text_len) < 0) {
		r->status = 503;
		snprintf(r->msg, sizeof(r->msg), "profd is out of memory");
		return;
	}
	r->status = 200;
}

struct dump_job {
	struct target *t;
	struct session *s;
	int debug;
	bool goroutine;
	struct http_reply *r;
};

/*
 * How long each thread of a dump has not run: the scheduler's own record
 * of when it last ran (se.exec_start in /proc/PID/task/TID/sched, with
 * CONFIG_SCHED_DEBUG), which the sampler read before it stopped anything,
 * against the scheduler clock at the time of the dump. That clock is per
 * CPU (each CPU leaves out the interrupt and steal time it accounted), so
 * a thread is compared with the clock of the CPU it last ran on, read by
 * moving this short-lived export thread there. Threads of unknown
 * duration keep idle_s < 0 and print none.
 */
static void
thread_idle_times(struct dump_thread *d, size_t n, uint64_t dump_mono)
{
	int c, maxcpu = -1;
	size_t i;

	for (i = 0; i < n; i++) {
		if (d[i].state == 'R')
			d[i].idle_s = 0;
		else if (d[i].exec_start_ms >= 0 && d[i].cpu > maxcpu)
			maxcpu = d[i].cpu;
	}
	for (c = 0; c <= maxcpu; c++) {
		double now_ms = 0, since_dump_ms;
		bool have = false;

		for (i = 0; i < n; i++) {
			if (d[i].cpu != c || d[i].state == 'R' ||
			    d[i].exec_start_ms < 0)
				continue;
			if (!have) {
				if (proc_sched_clock_now(c, &now_ms) < 0)
					break;
				since_dump_ms =
					(double)(mono_ns() - dump_mono) / 1e6;
				now_ms -= since_dump_ms;
				have = true;
			}
			if (now_ms >= d[i].exec_start_ms)
				d[i].idle_s =
					(now_ms - d[i].exec_start_ms) / 1000.0;
		}
	}
}

static void *
dump_main(void *arg)
{
	struct dump_job *j = arg;
	struct session *s = j->s;
	struct dump_info di;
	struct dump_thread *gv = NULL;
	struct go_dump_stats gst;
	char err[PROFD_ERRLEN], header[160];
	size_t gn = 0;
	int r;

	thread_idle_times(s->dump, s->ndump, s->dump_mono);
	memset(&di, 0, sizeof(di));
	di.pid = j->t->pid;
	di.threads = s->dump;
	di.n = s->ndump;
	di.goroutine = j->goroutine;
	di.time_nanos = s->start_wall;
	di.unreadable = s->dump_unreadable;
	if (j->goroutine) {
		r = go_dump(j->t->pid, &s->ms, s->dump, s->ndump, &gv, &gn, &gst,
			    err, sizeof(err));
		if (r == 0) {
			STAT_ADD(j->t, go_reads, 1);
			STAT_ADD(j->t, go_read_ns, gst.read_ns);
			STAT_ADD(j->t, go_read_retries, gst.retries);
			__atomic_store_n(&j->t->stats.go_goroutines,
					 (uint64_t)gst.goroutines,
					 __ATOMIC_RELAXED);
			di.threads = gv;
			di.n = gn;
			di.goroutines = true;
			di.unreadable = 0;
			if (gst.unavailable > 0) {
				snprintf(header, sizeof(header),
					 "# %zu goroutines ran all the while "
					 "profd copied their stacks: shown "
					 "without one",
					 gst.unavailable);
				di.header = header;
			}
		} else if (r != -ENOENT) {
			j->r->status = 501;
			snprintf(j->r->msg, sizeof(j->r->msg),
				 "cannot list the goroutines of pid %d: %.150s; "
				 "/debug/pprof/threads lists its threads",
				 (int)j->t->pid, err);
			return NULL;
		}
	}
	/* /debug/pprof/threads only: goroutine keeps Go's own format */
	if (!j->goroutine &&
	    target_go_heap_line(j->t, header, sizeof(header)) == 0)
		di.header = header;
	if (di.unreadable)
		log_warnx("pid %d: thread dump: %zu of %zu threads could not "
			  "be read: profd is out of file descriptors",
			  (int)j->t->pid, di.unreadable, di.n);
	if (j->debug == 0) {
		j->r->profile = export_threads_pprof(&di, &s->ms, err,
						     sizeof(err));
		if (!j->r->profile)
			goto fail;
	} else {
		if (export_threads_text(&di, &s->ms, j->debug, &j->r->text,
					&j->r->text_len, err, sizeof(err)) < 0)
			goto fail;
	}
	j->r->status = 200;
	go_dump_free(gv, gn);
	return NULL;
fail:
	go_dump_free(gv, gn);
	j->r->status = 500;
	snprintf(j->r->msg, sizeof(j->r->msg), "%s", err);
	return NULL;
}

void
target_threads(struct target *t, int debug, bool goroutine,
	       struct http_reply *r)
{
	struct dump_job j;
	struct session *s;

	s = run_session(t, SESSION_DUMP, 0, 1, NULL, r);
	if (!s)
		return;
	j.t = t;
	j.s = s;
	j.debug = debug;
	j.goroutine = goroutine;
	j.r = r;
	run_big_stack(dump_main, &j, r, "build the dump");
	session_free(s);
}

/* Every counter of the sampler, each read atomically: struct
 * sampler_stats is all uint64_t (target.h). */
void
target_stats(struct target *t, struct target_stats *o)
{
	const uint64_t *from = (const uint64_t *)&t->stats;
	uint64_t *to = (uint64_t *)&o->sampler;
	size_t i;

	_Static_assert(sizeof(struct sampler_stats) % sizeof(uint64_t) == 0,
		       "struct sampler_stats holds uint64_t only");
	memset(o, 0, sizeof(*o));
	for (i = 0; i < sizeof(t->stats) / sizeof(uint64_t); i++)
		to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
	pthread_mutex_lock(&t->mu);
	o->windows_active = t->nactive;
	pthread_mutex_unlock(&t->mu);
	o->history = t->hist != NULL;
	o->triggers = t->watch != NULL;
	o->perf = __atomic_load_n(&t->perf, __ATOMIC_RELAXED);
	if (t->hist) {
		struct history_mem hm;

		history_counts(t->hist, &o->history_buckets,
			       &o->history_stacks);
		history_memory(t->hist, &hm);
		o->history_bytes = hm.bytes;
		o->history_budget = hm.budget;
		o->history_evicted = hm.evicted;
		if (hm.oldest)
			o->history_oldest_s =
				(double)(wall_now_ns() - hm.oldest) / 1e9;
	}
}

void
target_window_counts(uint64_t *open, uint64_t *cancelled,
		     uint64_t open_by_kind[TARGET_WINDOW_KINDS])
{
	size_t k;

	*open = __atomic_load_n(&windows_open, __ATOMIC_RELAXED);
	*cancelled = __atomic_load_n(&windows_cancelled, __ATOMIC_RELAXED);
	for (k = 0; k < TARGET_WINDOW_KINDS; k++)
		open_by_kind[k] = __atomic_load_n(&windows_open_kind[k],
						  __ATOMIC_RELAXED);
}

const char *
target_window_kind_name(size_t k)
{
	return session_kind_name((enum session_kind)k);
}

struct symbol_job {
	struct elfimg **imgs;
	uint64_t *vaddrs;
	char **names;
	size_t n;
};

static void *
symbol_main(void *arg)
{
	struct symbol_job *j = arg;
	size_t i;

	for (i = 0; i < j->n; i++) {
		struct sym_info si;

		if (!j->imgs[i])
			continue;
		/* the function that owns the code (the last frame), as the
		 * profile's location names it: pprof's remote symbolization
		 * gives each location that one name, and frames[0] would be
		 * an inlined callee (msort_with_tmp for __qsort_r) */
		if (symbolize(j->imgs[i], j->vaddrs[i], &si) == 0 && si.n > 0 &&
		    si.frames[si.n - 1].name[0])
			j->names[i] = strdup(si.frames[si.n - 1].name);
	}
	return NULL;
}

void
target_symbol(struct target *t, const uint64_t *addrs, size_t n,
	      char **names, struct http_reply *r)
{
	struct symbol_job j;
	char **unnamed;
	size_t i;
	int e;

	memset(&j, 0, sizeof(j));
	j.imgs = calloc(n ? n : 1, sizeof(*j.imgs));
	j.vaddrs = calloc(n ? n : 1, sizeof(*j.vaddrs));
	unnamed = calloc(n ? n : 1, sizeof(*unnamed));
	j.names = names;
	j.n = n;
	if (!j.imgs || !j.vaddrs || !unnamed) {
		free(j.imgs);
		free(j.vaddrs);
		free(unnamed);
		r->status = 503;
		snprintf(r->msg, sizeof(r->msg), "profd is out of memory");
		return;
	}
	/* Resolve modules under the lock, symbolize outside it so the
	 * sampler is never held up by a cold DWARF load. */
	pthread_mutex_lock(&t->space_mu);
	for (i = 0; i < n; i++) {
		const struct module *m = space_module(t->space, addrs[i]);

		names[i] = NULL;
		if (m && m->img) {
			j.imgs[i] = elfimg_get(m->img);
			j.vaddrs[i] = addrs[i] - m->bias;
		}
		if (m) {
			/* what a profile calls it when no symbol does */
			char name[512];

			export_unnamed(m->path, addrs[i] - m->start + m->offset,
				       name, sizeof(name));
			unnamed[i] = strdup(name);
		}
	}
	pthread_mutex_unlock(&t->space_mu);
	e = run_big_stack(symbol_main, &j, r, "symbolize");
	for (i = 0; i < n; i++) {
		elfimg_put(j.imgs[i]);
		if (e >= 0 && !names[i]) {
			names[i] = unnamed[i];
			unnamed[i] = NULL;
		}
		free(unnamed[i]);
	}
	free(unnamed);
	free(j.imgs);
	free(j.vaddrs);
	if (e < 0)
		return;
	r->status = 200;
}

void
target_cmdline(struct target *t, struct http_reply *r)
{
	char path[64], *buf;
	size_t len;
	int e;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)t->pid);
	e = proc_read(path, 1 << 20, &buf, &len);
	if (e < 0) {
		r->status = 404;
		snprintf(r->msg, sizeof(r->msg), "process %d has exited",
			 (int)t->pid);
		return;
	}
	if (len && buf[len - 1] == '\0')
		len--;
	r->status = 200;
	r->text = buf;
	r->text_len = len;
}

/* ---- the Go runtime's memory ------------------------------------------ */

/* The main executable's image (referenced: elfimg_put it) and bias, its
 * Go description in *gi; NULL with err filled when the process's
 * executable is unknown or not a Go program. */
static struct elfimg *
go_image(struct target *t, uint64_t *bias, const struct gort_info **gi,
	 struct modsnap *ms, char *err, size_t errlen)
{
	const struct module *m;
	struct elfimg *img = NULL;

	pthread_mutex_lock(&t->space_mu);
	m = space_main_module(t->space);
	if (m && m->img) {
		img = elfimg_get(m->img);
		*bias = m->bias;
		if (ms && modsnap_take(ms, t->space) < 0) {
			elfimg_put(img);
			img = NULL;
		}
	}
	pthread_mutex_unlock(&t->space_mu);
	if (!img) {
		snprintf(err, errlen, "the executable of process %d cannot be "
			 "read", (int)t->pid);
		return NULL;
	}
	*gi = gort_info(img);
	if (!*gi) {
		snprintf(err, errlen, "process %d is not a Go program",
			 (int)t->pid);
		if (ms)
			modsnap_free(ms);
		elfimg_put(img);
		return NULL;
	}
	return img;
}

int
target_go_mem(struct target *t, struct gort_mem *m, char *err, size_t errlen)
{
	const struct gort_info *gi;
	struct elfimg *img;
	uint64_t bias;
	int e;

	if (!(img = go_image(t, &bias, &gi, NULL, err, errlen)))
		return -ENOENT;
	e = gort_memstats(t->pid, bias, gi, m, err, errlen);
	elfimg_put(img);
	return e;
}

int
target_go_heap_line(struct target *t, char *buf, size_t len)
{
	struct gort_mem m;
	char err[PROFD_ERRLEN], gogc[16];
	int e;

	if ((e = target_go_mem(t, &m, err, sizeof(err))) < 0)
		return e;
	if (m.gogc < 0)
		snprintf(gogc, sizeof(gogc), "off");
	else
		snprintf(gogc, sizeof(gogc), "%d", (int)m.gogc);
	snprintf(buf, len,
		 "# go heap: alloc %.1f MB, objects %" PRIu64 ", next GC at "
		 "%.1f MB, GC cycles %" PRIu32 ", GOGC %s",
		 (double)m.heap_alloc / 1e6, m.heap_objects,
		 (double)m.next_gc / 1e6, m.num_gc, gogc);
	return 0;
}

struct heap_job {
	const struct gort_heap *h;
	const struct modsnap *ms;
	bool allocs;
	struct http_reply *r;
};

static void *
heap_main(void *arg)
{
	struct heap_job *j = arg;
	char err[PROFD_ERRLEN];

	j->r->profile = export_heap(j->h, j->ms,
				    j->allocs ? "alloc_space" : NULL,
				    wall_now_ns(), err, sizeof(err));
	if (!j->r->profile) {
		j->r->status = 500;
		snprintf(j->r->msg, sizeof(j->r->msg), "%s", err);
	} else {
		j->r->status = 200;
	}
	return NULL;
}

void
target_heap(struct target *t, bool allocs, struct http_reply *r)
{
	const char *what = allocs ? "allocs" : "heap";
	const struct gort_info *gi;
	struct modsnap ms = { 0 };
	struct gort_heap h;
	struct heap_job j = { &h, &ms, allocs, r };
	struct elfimg *img;
	char err[PROFD_ERRLEN];
	uint64_t bias;
	int e;

	r->status = 404;
	if (!target_poll(t)) {
		snprintf(r->msg, sizeof(r->msg), "process %d has exited",
			 (int)t->pid);
		return;
	}
	img = go_image(t, &bias, &gi, &ms, err, sizeof(err));
	if (!img) {
		snprintf(r->msg, sizeof(r->msg),
			 "%s profile not available: %.48s; other programs "
			 "need an allocator hook inside the process "
			 "(/debug/pprof/memory shows where the resident "
			 "memory sits, /debug/pprof/growth who grows it)",
			 what, err);
		return;
	}
	e = gort_heap_profile(t->pid, bias, gi, &h, err, sizeof(err));
	elfimg_put(img);
	if (e == 0) {
		run_big_stack(heap_main, &j, r, "build the heap profile");
		gort_heap_free(&h);
	} else {
		r->status = e == -ENOENT ? 404 : e == -ENOMEM ? 503 : 500;
		if (e == -ESRCH)
			r->status = 404;
		snprintf(r->msg, sizeof(r->msg), "%s profile not available: "
			 "%.200s", what, err);
	}
	modsnap_free(&ms);
}

void
target_memory(struct target *t, struct http_reply *r)
{
	char comm[16];

	/* after an exit the PID may be another process's: checked before
	 * and after the read */
	if (target_poll(t)) {
		pthread_mutex_lock(&t->mu);
		memcpy(comm, t->comm, sizeof(comm));
		pthread_mutex_unlock(&t->mu);
		memory_view(t->pid, comm, r);
		if (r->status != 200 || target_poll(t))
			return;
		pprof_free(r->profile);
		r->profile = NULL;
	}
	r->status = 404;
	snprintf(r->msg, sizeof(r->msg), "process %d has exited", (int)t->pid);
}

bool
target_rss_rate(struct target *t, uint64_t rss, double *rate)
{
	return rss_trend_add(&t->trend, mono_ns(), rss, rate);
}
