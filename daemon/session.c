/* session.c - windows on the sampler's side: start one, add samples to
 * the due ones, end them (on time, when the process exits or exec's, or
 * with an error). See session.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/daemon.h"
#include "daemon/export.h"
#include "daemon/history.h"
#include "daemon/log.h"
#include "daemon/perfsamp.h"
#include "daemon/proc.h"
#include "daemon/profile.h"
#include "daemon/sampler.h"
#include "daemon/sampler_int.h"
#include "daemon/session.h"
#include "daemon/target.h"
#include "daemon/threads.h"
#include "space/space.h"

const char *
session_kind_name(enum session_kind kind)
{
	switch (kind) {
	case SESSION_CPU: return "cpu";
	case SESSION_WALL: return "wall";
	case SESSION_DUMP: return "dump";
	case SESSION_GROWTH: return "growth";
	}
	return "?";
}

void
session_finish(struct target *t, struct session *s, int status,
	       const char *msg)
{
	uint64_t now = mono_ns();

	s->duration_ns = now - s->start_ns;
	s->status = status;
	if (msg)
		snprintf(s->msg, sizeof(s->msg), "%s", msg);
	if (status == 200) {
		pthread_mutex_lock(&t->space_mu);
		if (modsnap_take(&s->ms, t->space) < 0) {
			s->status = 500;
			snprintf(s->msg, sizeof(s->msg),
				 "out of memory while finishing the profile");
		}
		pthread_mutex_unlock(&t->space_mu);
	}
	pthread_mutex_lock(&t->mu);
	if (t->active[s->slot] == s) {
		t->active[s->slot] = NULL;
		t->nactive--;
	}
	t->used_slots &= ~(1U << s->slot);
	s->done = true;
	pthread_cond_broadcast(&t->done);
	pthread_mutex_unlock(&t->mu);
}

void
session_start(struct target *t, struct session *s)
{
	struct sampler *sm = t->sm;
	char msg[PROFD_ERRLEN];
	int64_t unexplained = 0;
	size_t i;
	int r;

	s->start_ns = mono_ns();
	s->start_wall = wall_now_ns();
	r = proc_check_traceable(t->pid, msg, sizeof(msg));
	if (r < 0) {
		session_finish(t, s,
			       r == -ESRCH ? 404 : r == -EMFILE ? 503 : 403,
			       msg);
		return;
	}
	pthread_mutex_lock(&t->space_mu);
	r = space_refresh(t->space, msg, sizeof(msg));
	if (r > 0)
		unwinder_flush(t->uw);
	pthread_mutex_unlock(&t->space_mu);
	if (r == -ESRCH || scan_threads(t, SCAN_FULL, &unexplained) == -ESRCH) {
		snprintf(msg, sizeof(msg), "process %d has exited", (int)t->pid);
		session_finish(t, s, 404, msg);
		return;
	}
	/* CPU time used (pages faulted in) before the window is not the
	 * window's */
	for (i = 0; i < sm->nthr; i++)
		sm->thr[i]->attributed[s->slot] = s->kind == SESSION_GROWTH
							  ? sm->thr[i]->faults
							  : sm->thr[i]->cpu_ns;
	if (s->kind == SESSION_DUMP) {
		s->period_ns = 1;
		s->next_due = s->start_ns;
		s->end_ns = s->start_ns + 1;
	} else {
		s->period_ns = 1000000000ULL / s->hz;
		s->end_ns = s->start_ns + (uint64_t)s->seconds * 1000000000ULL;
		if (s->early)	/* ended while it waited to start */
			s->end_ns = s->start_ns;
		s->next_due = s->start_ns + s->period_ns;
	}
	/* a CPU window of the perf_event sampler: the kernel samples */
	if (s->kind == SESSION_CPU &&
	    __atomic_load_n(&t->perf, __ATOMIC_RELAXED) &&
	    perfsamp_window_start(t, s, msg, sizeof(msg)) < 0) {
		/* the worker logs the refusal with the request */
		session_finish(t, s, 503, msg);
		return;
	}
	pthread_mutex_lock(&t->mu);
	t->active[s->slot] = s;
	t->nactive++;
	pthread_mutex_unlock(&t->mu);
	if (s->kind != SESSION_DUMP)
		log_verbose("pid %d: %s window started: %u s at %u Hz (%s)",
			    (int)t->pid, session_kind_name(s->kind),
			    s->seconds, s->hz, perfsamp_name(s->perf));
}

void
sessions_target_exited(struct target *t)
{
	char msg[PROFD_ERRLEN];
	size_t i;

	pthread_mutex_lock(&t->mu);
	if (t->alive) {
		t->alive = false;
		snprintf(t->dead_msg, sizeof(t->dead_msg),
			 "process %d has exited", (int)t->pid);
		log_info("pid %d: process exited", (int)t->pid);
	}
	pthread_mutex_unlock(&t->mu);
	snprintf(msg, sizeof(msg),
		 "process %d exited before any sample was taken", (int)t->pid);
	for (i = 0; i < PROFD_MAX_SESSIONS; i++) {
		struct session *s = t->active[i];

		if (!s)
			continue;
		s->exited = true;
		if (s->agg && s->agg->samples > 0)
			session_finish(t, s, 200, NULL);
		else
			session_finish(t, s, 404, msg);
	}
}

/*
 * The process exec'd another program. The samples taken so far belong to
 * the old one, and can be named only with its maps: every open window
 * ends now with them (or, with none, a clear error), before the maps are
 * re-read. The next request profiles the new program.
 */
void
sessions_target_execed(struct target *t)
{
	struct sampler *sm = t->sm;
	char msg[PROFD_ERRLEN], comm[64], path[64], *buf = NULL;
	size_t i, len, n = 0;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)t->pid);
	comm[0] = '\0';
	if (proc_read(path, 64, &buf, &len) == 0) {
		if (len && buf[len - 1] == '\n')
			buf[len - 1] = '\0';
		snprintf(comm, sizeof(comm), "%s", buf);
		free(buf);
	}
	snprintf(msg, sizeof(msg),
		 "process %d exec'd %s before this window took any sample: "
		 "ask again to profile the new program",
		 (int)t->pid, comm[0] ? comm : "another program");
	for (i = 0; i < PROFD_MAX_SESSIONS; i++) {
		struct session *s = t->active[i];

		if (!s)
			continue;
		n++;
		if ((s->agg && s->agg->samples > 0) || s->ndump > 0)
			session_finish(t, s, 200, NULL);
		else
			session_finish(t, s, 503, msg);
	}
	log_info("pid %d: process exec'd %s (was %s): %zu window(s) end "
		 "with the samples taken before",
		 (int)t->pid, comm[0] ? comm : "?", t->comm, n);
	pthread_mutex_lock(&t->mu);
	if (comm[0])
		snprintf(t->comm, sizeof(t->comm), "%.15s", comm);
	pthread_mutex_unlock(&t->mu);
	pthread_mutex_lock(&t->space_mu);
	if (space_refresh(t->space, msg, sizeof(msg)) >= 0)
		unwinder_flush(t->uw);
	pthread_mutex_unlock(&t->space_mu);
	sm->execed = false;
}

void
sessions_fail(struct target *t, int status, const char *msg)
{
	size_t i;

	for (i = 0; i < PROFD_MAX_SESSIONS; i++)
		if (t->active[i])
			session_finish(t, t->active[i], status, msg);
}

/*
 * A thread found in state R is not necessarily on a CPU: it may be waiting
 * on a run queue. Our interrupt then takes effect only when the thread is
 * next scheduled, and the registers show where it was preempted. With the
 * kernel's lazy preemption, fair-class tasks are preempted on the way back
 * to user space, after an interrupt (a random point: a fair sample) or at
 * the end of a system call (not random at all: measured here, 60 % of a
 * demo's samples landed in clock_gettime(), where perf saw under 1 %).
 * A CPU sample is biased when the thread was scheduled in between our
 * read of its counters and its stop (it was not running when we looked)
 * and it stopped at a system call exit (orig_rax >= 0; an interrupt entry
 * sets it to -1). Its stack is not where the CPU went, but its CPU time
 * is not lost: it goes to the stack of the thread's last fair sample
 * (thr.run), or, when there is none yet, to its next one. On a busy
 * machine most of a bursty service's stops are biased (its threads wait
 * for a CPU after each wake-up): dropping them lost most of its CPU.
 * Wall samples keep the stack: waiting there is where the time went.
 */
bool
sample_is_biased(const struct slot *s)
{
	return s->preempted && (int64_t)s->snap.regs.orig_rax >= 0;
}

static void
dump_record(struct session *ss, struct thr *h, const uint64_t *pcs, size_t n,
	    bool partial, long nr, uint64_t arg0)
{
	struct dump_thread *d;

	if (ss->ndump >= (size_t)-1 / 2)
		return;
	d = realloc(ss->dump, (ss->ndump + 1) * sizeof(*d));
	if (!d)
		return;
	ss->dump = d;
	d = &ss->dump[ss->ndump];
	memset(d, 0, sizeof(*d));
	d->pcs = malloc((n ? n : 1) * sizeof(*pcs));
	if (!d->pcs)
		return;
	memcpy(d->pcs, pcs, n * sizeof(*pcs));
	d->n = n;
	d->tid = h->tid;
	memcpy(d->comm, h->comm, sizeof(d->comm));
	d->state = h->state;
	d->syscall_nr = nr;
	d->syscall_arg0 = arg0;
	d->partial = partial;
	d->idle_s = -1;
	d->cpu = h->processor;
	d->exec_start_ms = h->state == 'R' ? -1 : h->exec_start_ms;
	ss->ndump++;
}

/* Bytes per page fault (glibc answers from memory: no system call). */
static int64_t
page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? ps : 4096;
}

/* A sample of a stop worth what h's counter (CPU ns, page faults) moved
 * since the window last weighed it (h->attributed), times unit. A biased
 * sample's worth goes to the stack of the thread's last fair sample, and
 * counts no sample; without one, it is left to the thread's next
 * sample. */
static void
add_weighted(struct target *t, struct session *ss, struct thr *h,
	     uint64_t now, int64_t unit, const uint64_t *pcs, size_t n,
	     const struct slot *s)
{
	uint64_t *att = &h->attributed[ss->slot];
	int64_t v, count = 1;

	if (s->defer)
		return;		/* the stop again this tick weighs it */
	if (sample_is_biased(s)) {
		if (!h->run.valid) {
			ss->dropped++;
			STAT_ADD(t, preempted_dropped, 1);
			return;
		}
		pcs = h->run.pcs;
		n = h->run.n;
		count = 0;
		ss->moved++;
		STAT_ADD(t, preempted_moved, 1);
	}
	v = now > *att ? (int64_t)(now - *att) * unit : 0;
	*att = now;
	ss->stops++;
	if (agg_add(ss->agg, h->tid, h->comm, 0, pcs, n, count, v) < 0)
		ss->lost++;
	else
		STAT_ADD(t, samples, (uint64_t)count);
}

/*
 * A CPU or growth window ends: what each thread's counter moved since the
 * window last weighed it (the CPU time it used after its last sample, or
 * all of it when no tick found it running) is added, as no sample, to the
 * stack of its last fair sample; with none, it is counted as not
 * attributed (the profile's comment and /metrics say how much). Without
 * this, a service whose threads run in short bursts lost the CPU of every
 * burst after each thread's last sample: a quarter of it in 6 s, measured
 * here.
 */
void
session_settle(struct target *t, struct session *ss)
{
	struct sampler *sm = t->sm;
	int64_t unexplained = 0;
	size_t i;

	if (ss->kind != SESSION_CPU && ss->kind != SESSION_GROWTH)
		return;
	if (ss->perf) {
		/* its samples weigh what the kernel measured; the last of
		 * them are still in the rings */
		perfsamp_drain(t);
		return;
	}
	if (scan_threads(t, SCAN_FULL, &unexplained) < 0)
		return;
	for (i = 0; i < sm->nthr; i++) {
		struct thr *h = sm->thr[i];
		bool growth = ss->kind == SESSION_GROWTH;
		uint64_t now = growth ? h->faults : h->cpu_ns;
		uint64_t *att = &h->attributed[ss->slot];
		int64_t v;

		if (h->gone || now <= *att)
			continue;
		v = (int64_t)(now - *att) * (growth ? page_size() : 1);
		*att = now;
		if (!h->run.valid) {
			ss->unattributed += (uint64_t)v;
			if (!growth)
				STAT_ADD(t, cpu_unattributed_ns, (uint64_t)v);
			continue;
		}
		ss->settled += (uint64_t)v;
		if (agg_add(ss->agg, h->tid, h->comm, 0, h->run.pcs, h->run.n,
			    0, v) < 0)
			ss->lost++;
	}
}

/* Continuous mode: the recorder's sample, into the current history
 * bucket, weighted as a CPU, a wall and a growth window would weigh it,
 * the CPU time and the faults against the recorder's own baselines
 * (REC_SLOT, REC_FAULT_SLOT). */
static void
record_sample(struct target *t, struct thr *h, const uint64_t *pcs, size_t n,
	      const struct slot *s)
{
	uint64_t *att = &h->attributed[REC_SLOT];
	uint64_t *fatt = &h->attributed[REC_FAULT_SLOT];

	const uint64_t *cpcs = pcs;
	size_t cn = n;

	if (s && s->defer) {
		cpcs = NULL;	/* the stop again this tick weighs it */
	} else if (s && sample_is_biased(s)) {
		/* its worth goes to the last fair sample's stack (see
		 * sample_is_biased) */
		cpcs = h->run.valid ? h->run.pcs : NULL;
		cn = h->run.n;
	}
	if (s && cpcs) {
		int64_t v = h->cpu_ns > *att ? (int64_t)(h->cpu_ns - *att) : 0;

		*att = h->cpu_ns;
		history_add(t->hist, HIST_CPU, h->tid, h->comm, 0, cpcs, cn, v);
		if (h->faults > *fatt) {
			v = (int64_t)(h->faults - *fatt) * page_size();
			*fatt = h->faults;
			history_add(t->hist, HIST_GROWTH, h->tid, h->comm, 0,
				    cpcs, cn, v);
		}
	}
	if (!s || !s->again)	/* a stop again is for CPU weights only */
		history_add(t->hist, HIST_WALL, h->tid, h->comm, h->state,
			    pcs, n, (int64_t)t->sm->rec_period);
}

/* Add one thread's stack to every due session (see session.h), and to
 * the history when the recorder takes part in this tick. */
void
session_add_sample(struct target *t, struct session **due, size_t ndue,
		   struct thr *h, const uint64_t *pcs, size_t n, bool partial,
		   const struct slot *s, long nr, uint64_t arg0)
{
	size_t k;

	if (s && !sample_is_biased(s))
		cache_store(&h->run, pcs, n, partial, h->cpu_ns, h->slices);
	if (t->sm->rec_due)
		record_sample(t, h, pcs, n, s);

	for (k = 0; k < ndue; k++) {
		struct session *ss = due[k];

		/* a stop again is for CPU weights only: the wall sample
		 * and the dump took the first stop's stack */
		if (s && s->again && ss->kind != SESSION_CPU &&
		    ss->kind != SESSION_GROWTH)
			continue;
		switch (ss->kind) {
		case SESSION_CPU:
			if (s)
				add_weighted(t, ss, h, h->cpu_ns, 1, pcs, n, s);
			break;
		case SESSION_WALL:
			/* the state the tick found it in: a sleeper that
			 * had to be stopped was sleeping all the same */
			if (agg_add(ss->agg, h->tid, h->comm, h->state, pcs,
				    n, 1,
				    (int64_t)ss->period_ns) < 0)
				ss->lost++;
			else
				STAT_ADD(t, samples, 1);
			break;
		case SESSION_DUMP:
			dump_record(ss, h, pcs, n, partial, s ? -1 : nr, arg0);
			break;
		case SESSION_GROWTH:
			/* the faults since the previous sample go to this
			 * stack; a dropped sample leaves them to the next */
			if (s && h->faults > h->attributed[ss->slot])
				add_weighted(t, ss, h, h->faults, page_size(),
					     pcs, n, s);
			break;
		}
	}
}

/* A perf_event sample of h taken at time_ns (CLOCK_MONOTONIC) after
 * period_ns of its CPU time: one sample worth its period in every perf
 * window open at that time (see session.h). */
void
session_add_perf(struct target *t, struct thr *h, const uint64_t *pcs,
		 size_t n, uint64_t time_ns, uint64_t period_ns)
{
	size_t i;

	for (i = 0; i < PROFD_MAX_SESSIONS; i++) {
		struct session *ss = t->active[i];

		if (!ss || !ss->perf || time_ns < ss->start_ns ||
		    time_ns > __atomic_load_n(&ss->end_ns, __ATOMIC_RELAXED))
			continue;
		if (agg_add(ss->agg, h->tid, h->comm, 0, pcs, n, 1,
			    (int64_t)period_ns) < 0)
			ss->lost++;
		else
			STAT_ADD(t, samples, 1);
	}
}
