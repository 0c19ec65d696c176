/* tick.c - one tick of the sampler, for the sessions that are due:
 *   1. learn which threads ran, without stopping anything (threads.c
 *      scan_threads);
 *   2. stop the threads that are running or runnable (state R) in batches
 *      within the tick's stop budget (stops.c stop_batch), and, with them
 *      running again, unwind the copies and add them to the sessions;
 *   3. for wall-clock windows and thread dumps, every other thread: its
 *      cached stack when it has not run since, else a copy taken without
 *      stopping it (stops.c capture_sleeper), else, for a thread blocked
 *      in a system call that restarts transparently, a stop after all.
 * Every PC unwound is handed once to the warmer, which symbolizes it
 * meanwhile. The perf_event sampler (perfsamp.c) unwinds its samples and
 * warms their PCs through the same two functions (tick_unwind, tick_warm). Runs on the sampler thread only.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "common/hash.h"
#include "daemon/clock.h"
#include "daemon/daemon.h"
#include "daemon/gostacks.h"
#include "daemon/guardian.h"
#include "daemon/log.h"
#include "daemon/proc.h"
#include "daemon/sampler.h"
#include "daemon/sampler_int.h"
#include "daemon/session.h"
#include "daemon/stops.h"
#include "daemon/threads.h"
#include "daemon/tick.h"
#include "daemon/warmer.h"
#include "space/space.h"

/* Hand the PCs of a stack that the warmer has not seen to it. Called with
 * space_mu held. A PC means something else once the maps change, so the
 * set starts over with each new generation. When the set is full (SEEN_MAX
 * PCs), the export resolves the rest. */
void
tick_warm(struct target *t, const uint64_t *pcs, size_t n)
{
	struct sampler *sm = t->sm;
	uint64_t gen = space_generation(t->space);
	size_t i;

	if (!sm->warm)
		return;
	if (gen != sm->seen_gen) {
		htab_reset(&sm->seen);
		sm->seen_gen = gen;
	}
	for (i = 0; i < n; i++) {
		const struct module *m;
		uint64_t pc = pcs[i], hash;

		if (pc == 0)
			continue;
		hash = hash_u64(pc);
		if (htab_find(&sm->seen, hash, NULL, NULL, NULL) != 0)
			continue;
		if (htab_add(&sm->seen, hash, 1) < 0)
			return;	/* full, or out of memory */
		m = space_module(t->space, pc);
		if (m && m->img)
			warmer_push(sm->warm, elfimg_get(m->img), pc - m->bias);
	}
}

/* Unwind one copy into sm->pcs (leaf first) and sm->flags: the number of
 * frames, or -1 (the process exec'd, or nothing could be unwound). Re-reads
 * the maps, at most once a tick, when the PC is outside every module.
 * Called with space_mu held. */
int
tick_unwind(struct target *t, const struct snapshot *snap, bool *refreshed,
	    bool *partial)
{
	struct sampler *sm = t->sm;
	char msg[PROFD_ERRLEN];
	int n;

	/* After an exec, the stacks are the new program's; the windows
	 * open end first, with the old program's maps
	 * (sessions_target_execed). */
	if (sm->execed)
		return -1;
	/* A PC outside every known module: something was mapped since
	 * (dlopen, JIT), or the process exec'd. Re-read the maps once per
	 * tick. */
	if (!*refreshed && !space_module(t->space, snap->regs.rip)) {
		*refreshed = true;
		switch (space_refresh_unless_exec(t->space, msg,
						  sizeof(msg))) {
		case SPACE_EXECED:
			sm->execed = true;
			return -1;
		case 1:
			unwinder_flush(t->uw);
			break;
		}
	}
	n = unwind_snapshot(t->uw, snap, sm->pcs, sm->flags,
			    PROFD_MAX_FRAMES + 1);
	if (n < 1) {
		STAT_ADD(t, unwind_failures, 1);
		return -1;
	}
	*partial = (sm->flags[n - 1] & UNW_FRAME_TRUNCATED) != 0;
	if (*partial)
		STAT_ADD(t, truncated, 1);
	return n;
}

/* Make n stop slots ready, each with a stack buffer of --stack-bytes:
 * allocated the first time a tick needs them, kept for every tick after. */
static bool
ensure_slots(struct target *t, size_t n)
{
	struct sampler *sm = t->sm;
	size_t i;

	if (n <= sm->nslots &&
	    (n == 0 || !sm->go.gi || sm->slots[n - 1].snap.go_stack))
		return true;
	if (!sm->slots) {
		sm->slots = calloc(MAX_BATCH_LIMIT, sizeof(*sm->slots));
		if (!sm->slots)
			return false;
	}
	for (i = sm->nslots; i < n; i++) {
		sm->slots[i].snap.cap = t->o.stack_bytes;
		sm->slots[i].snap.stack = malloc(t->o.stack_bytes);
		if (!sm->slots[i].snap.stack)
			return false;
		sm->nslots++;
	}
	/* Go: room for the goroutine a thread on g0 serves (gostacks.c) */
	for (i = 0; sm->go.gi && i < n; i++) {
		struct snapshot *s = &sm->slots[i].snap;

		if (s->go_stack)
			continue;
		s->go_stack = malloc(t->o.stack_bytes);
		if (!s->go_stack)
			return false;
		s->go_cap = t->o.stack_bytes;
	}
	return true;
}

/* The stack a stop copies, adapted per thread: most of a stop's cost to
 * the thread beyond the stop itself is the copy (measured here: 32 KiB
 * against 4 KiB made a stop last ~30 % longer), and most threads use a
 * few KiB of it. The next copy takes twice what this unwind used plus
 * COPY_MARGIN, growing at once and shrinking by an eighth of the
 * difference per stop; a walk that ran off the end of a shortened copy
 * (its stack is [truncated], counted in copy_short) has the next stop
 * copy --stack-bytes again. */
#define COPY_MARGIN 4096u
#define COPY_MIN 8192u

static void
adapt_copy(struct target *t, struct thr *h, const struct snapshot *snap,
	   int nframes)
{
	struct unwind_extent e;
	size_t cur = h->copy_bytes ? h->copy_bytes : snap->cap, need;

	if (nframes < 1) {
		h->copy_bytes = 0;
		return;
	}
	unwinder_extent(t->uw, &e);
	if (e.short_copy) {
		if (h->copy_bytes && snap->len >= h->copy_bytes)
			STAT_ADD(t, copy_short, 1);
		h->copy_bytes = 0;
		return;
	}
	need = e.extent * 2 + COPY_MARGIN;
	need = (need + 1023) & ~(size_t)1023;
	if (need < COPY_MIN)
		need = COPY_MIN;
	if (need < cur)
		need = cur - (cur - need) / 8;
	h->copy_bytes = need >= snap->cap ? 0 : (uint32_t)need;
}

/* Stop the threads in list[0..n) in batches within the tick's budget and
 * add their stacks to the due sessions. Returns -EPERM with msg filled
 * when ptrace is refused. *used_ns accumulates stop time. nagain: where
 * the threads whose stop was biased are counted (put in sm->again), or
 * NULL; again: this pass stops them again (see stop_again). */
static int
stop_and_sample(struct target *t, struct session **due, size_t ndue,
		struct thr **list, size_t n, uint64_t *used_ns, char *msg,
		size_t msglen, bool *refreshed, size_t *nagain, bool again)
{
	struct sampler *sm = t->sm;
	size_t done = 0, i, batch = t->o.max_batch;
	int r;

	if (!ensure_slots(t, batch < n ? batch : n))
		return 0;
	while (done < n) {
		size_t nb = n - done < batch ? n - done : batch;

		if (*used_ns >= (uint64_t)t->o.stop_budget_us * 1000) {
			/* the rest waits for the next tick, rotated first */
			STAT_ADD(t, deferred, n - done);
			break;
		}
		r = stop_batch(t, list + done, nb, msg, msglen);
		if (r == -EPERM)
			return r;
		pthread_mutex_lock(&t->space_mu);
		for (i = 0; i < nb; i++) {
			struct slot *s = &sm->slots[i];
			struct thr *h = s->thr;
			bool partial = false;
			int k;

			guardian_beat(sm->guard);
			if (!s->valid) {
				/* a stop again only owed a CPU weight, which
				 * waits for the next fair sample */
				for (k = 0; !again && k < (int)ndue; k++)
					due[k]->lost++;
				continue;
			}
			*used_ns += mono_ns() - s->t_stop;
			s->again = again;
			s->defer = nagain && sample_is_biased(s);
			if (s->defer)
				sm->again[(*nagain)++] = h;
			k = tick_unwind(t, &s->snap, refreshed, &partial);
			adapt_copy(t, h, &s->snap, k);
			if (k < 1)
				continue;
			cache_store(&h->cache, sm->pcs, (size_t)k, partial,
				    h->cpu_ns, h->slices);
			tick_warm(t, sm->pcs, (size_t)k);
			h->read_gen = sm->tick_gen;
			session_add_sample(t, due, ndue, h, sm->pcs, (size_t)k,
					   partial, s, -1, 0);
			h->sampled_gen = sm->tick_gen;
		}
		pthread_mutex_unlock(&t->space_mu);
		done += nb;
	}
	return 0;
}

/* Grow the tick's thread lists to the table's size, once for all ticks. */
static bool
ensure_lists(struct sampler *sm)
{
	struct thr **r, **l;
	size_t cap = sm->caplists ? sm->caplists : 64;

	if (sm->nthr <= sm->caplists)
		return true;
	while (cap < sm->nthr)
		cap *= 2;
	r = realloc(sm->run, cap * sizeof(*r));
	if (!r)
		return false;
	sm->run = r;
	l = realloc(sm->later, cap * sizeof(*l));
	if (!l)
		return false;
	sm->later = l;
	l = realloc(sm->again, cap * sizeof(*l));
	if (!l)
		return false;
	sm->again = l;
	sm->caplists = cap;
	return true;
}

/* A thread dump: when each sleeping thread last ran, read before any stop
 * (a stop would make it run), and how many threads could not be read. */
static void
dump_prepare(struct target *t, struct session **due, size_t ndue)
{
	struct sampler *sm = t->sm;
	size_t i, k;

	for (i = 0; i < sm->nthr; i++) {
		struct thr *h = sm->thr[i];

		h->exec_start_ms = -1;
		if (h->state != 'R' && !h->gone &&
		    proc_sched_exec_start(t->pid, h->tid,
					  &h->exec_start_ms) < 0)
			h->exec_start_ms = -1;
	}
	for (k = 0; k < ndue; k++) {
		due[k]->dump_mono = mono_ns();
		for (i = 0; i < sm->nthr; i++)
			if (!sm->thr[i]->gone && sm->thr[i]->unreadable)
				due[k]->dump_unreadable++;
	}
}

/* Whether h took a page fault that one of the due growth windows has not
 * weighed yet. */
static bool
has_new_faults(const struct thr *h, struct session **due, size_t ndue)
{
	size_t k;

	for (k = 0; k < ndue; k++)
		if (due[k]->kind == SESSION_GROWTH &&
		    h->faults > h->attributed[due[k]->slot])
			return true;
	return false;
}

/* Running or runnable threads into sm->run, rotated so that a target with
 * more of them than one tick's budget gets each sampled in turn. When
 * only growth windows are due (faults_only), a thread without new faults
 * has nothing to give them and is left running. */
static size_t
select_running(struct sampler *sm, struct session **due, size_t ndue,
	       bool faults_only)
{
	size_t i, n = 0, start = sm->rotate++ % sm->nthr;

	for (i = 0; i < sm->nthr; i++) {
		struct thr *h = sm->thr[(start + i) % sm->nthr];

		if (h->state == 'R' && !h->gone && h->pt == PT_NONE &&
		    (!faults_only || has_new_faults(h, due, ndue)))
			sm->run[n++] = h;
	}
	return n;
}

/*
 * Threads whose stop was biased (they were waiting for a CPU, and stopped
 * at a system call exit: session.c sample_is_biased) are running now:
 * stop them once more, those still running, for their CPU weight alone.
 * On a busy machine that is most stops of a service whose threads wake,
 * run briefly and sleep: the first stop lands where the thread woke, the
 * second inside the work it woke for. A thread that is no longer running
 * is not stopped (it sleeps: a stop would disturb it); its CPU goes to its
 * next fair sample, or to its last one when the window ends.
 */
static int
stop_again(struct target *t, struct session **due, size_t ndue, size_t n,
	   uint64_t *used_ns, char *msg, size_t msglen, bool *refreshed)
{
	struct sampler *sm = t->sm;
	size_t i, m = 0;

	for (i = 0; i < n; i++) {
		struct thr *h = sm->again[i];

		if (thr_check(t, h, thr_read(t, h)) == 0 && h->state == 'R' &&
		    !h->gone && h->pt == PT_NONE)
			sm->again[m++] = h;
	}
	STAT_ADD(t, stopped_again, m);
	return stop_and_sample(t, due, ndue, sm->again, m, used_ns, msg,
			       msglen, refreshed, NULL, true);
}

/* The kernel refused to let profd trace the target: every window ends. */
static void
ptrace_refused(struct target *t, const char *msg)
{
	log_warnx("pid %d: %s", (int)t->pid, msg);
	sessions_fail(t, 403, msg);
	if (t->sm->rec_due)
		t->sm->rec_refused = true;	/* retried in a while */
}

/* A thread that is not running and has run since its stack was copied:
 * copy it without a stop and add it to the due sessions. Returns true
 * when only a stop will do: may_stop is set (a thread dump is due), the
 * copy is partial, and the thread sleeps in a system call that a stop
 * does not disturb. Called with space_mu held and slot 0 ready. */
static bool
sample_sleeper(struct target *t, struct session **due, size_t ndue,
	       struct thr *h, bool may_stop, bool *refreshed)
{
	struct sampler *sm = t->sm;
	struct snapshot *snap = &sm->slots[0].snap;
	struct proc_syscall sc;
	bool partial = false;
	int n = -1;

	snap->want = 0;		/* no stop: no cost to the thread */
	if (capture_sleeper(t, h, snap, &sc) == 0) {
		STAT_ADD(t, nonstop_captures, 1);
		n = tick_unwind(t, snap, refreshed, &partial);
		if (n >= 1)
			tick_warm(t, sm->pcs, (size_t)n);
	} else {
		STAT_ADD(t, nonstop_failures, 1);
		sc.nr = -1;
		sc.args[0] = 0;
	}
	if (n >= 1 && !partial) {
		cache_store(&h->cache, sm->pcs, (size_t)n, false, h->cpu_ns,
			    h->slices);
		h->cache.sys_nr = sc.nr;
		h->cache.sys_arg0 = sc.args[0];
		session_add_sample(t, due, ndue, h, sm->pcs, (size_t)n, false,
				   NULL, sc.nr, sc.args[0]);
		return false;
	}
	/* Only a stop gives the whole register set. Only for a thread
	 * dump (a wall-clock window, which looks many times a second, takes
	 * the partial stack: the stop would make the sleeper run), never
	 * for a thread in uninterruptible sleep or stopped by job control,
	 * and only in system calls that restart transparently. */
	if (may_stop && h->state == 'S' && n >= 1 &&
	    restarts_transparently(sc.nr))
		return true;
	if (n >= 1) {
		cache_store(&h->cache, sm->pcs, (size_t)n, true, h->cpu_ns,
			    h->slices);
		h->cache.sys_nr = sc.nr;
		h->cache.sys_arg0 = sc.args[0];
		session_add_sample(t, due, ndue, h, sm->pcs, (size_t)n, true,
				   NULL, sc.nr, sc.args[0]);
	} else if (h->cache.valid) {
		session_add_sample(t, due, ndue, h, h->cache.pcs, h->cache.n,
				   h->cache.partial, NULL, h->cache.sys_nr,
				   h->cache.sys_arg0);
	} else {
		uint64_t unknown = 0;	/* [truncated] */

		session_add_sample(t, due, ndue, h, &unknown, 1, true, NULL,
				   sc.nr, sc.args[0]);
	}
	return false;
}

/* Every thread not stopped this tick, for wall windows and dumps: its
 * cached stack while it has not run, else sample_sleeper(). Returns how
 * many threads it put in sm->later, to be stopped after all (dump: a
 * thread dump is due). */
static size_t
sample_others(struct target *t, struct session **due, size_t ndue,
	      bool dump, bool *refreshed)
{
	struct sampler *sm = t->sm;
	size_t i, nlater = 0;

	pthread_mutex_lock(&t->space_mu);
	for (i = 0; i < sm->nthr; i++) {
		struct thr *h = sm->thr[i];

		guardian_beat(sm->guard);

		if (h->gone || h->sampled_gen == sm->tick_gen ||
		    h->state == 'Z' || h->state == 'X' ||
		    (h->pt != PT_NONE && h->pt != PT_LISTEN &&
		     h->pt != PT_LATE))
			continue;
		if (h->state == 'R' || h->pt == PT_LATE) {
			/* not stopped this tick (budget, or its stop is
			 * late: it waits for a CPU on a loaded machine):
			 * its cached stack is all we have; without one, it
			 * is still there, as [truncated] */
			uint64_t unknown = 0;

			if (h->cache.valid)
				session_add_sample(t, due, ndue, h,
						   h->cache.pcs, h->cache.n,
						   h->cache.partial, NULL, -1,
						   0);
			else
				session_add_sample(t, due, ndue, h, &unknown,
						   1, true, NULL, -1, 0);
			continue;
		}
		if (cache_valid(h)) {
			STAT_ADD(t, stacks_reused, 1);
			session_add_sample(t, due, ndue, h, h->cache.pcs,
					   h->cache.n, h->cache.partial, NULL,
					   h->cache.sys_nr, h->cache.sys_arg0);
			continue;
		}
		if (!ensure_slots(t, 1))
			break;
		if (sample_sleeper(t, due, ndue, h, dump, refreshed))
			sm->later[nlater++] = h;
	}
	pthread_mutex_unlock(&t->space_mu);
	return nlater;
}

void
tick(struct target *t, struct session **due, size_t ndue)
{
	struct sampler *sm = t->sm;
	uint64_t t0 = mono_ns(), c0 = thread_cpu_ns(), used = 0;
	char msg[PROFD_ERRLEN];
	/* continuous mode's recorder keeps wall data: every thread; and
	 * CPU data: every running thread, faults or not */
	bool all = sm->rec_due, dump = false, refreshed = false;
	bool faults_only = !sm->rec_due, weights = sm->rec_due;
	size_t k, nrun, nlater, nagain;
	int r;

	for (k = 0; k < ndue; k++) {
		due[k]->ticks++;
		if (due[k]->kind != SESSION_GROWTH)
			faults_only = false;
		if (due[k]->kind == SESSION_CPU ||
		    due[k]->kind == SESSION_GROWTH)
			weights = true;
		if (due[k]->kind == SESSION_WALL || due[k]->kind == SESSION_DUMP)
			all = true;
		if (due[k]->kind == SESSION_DUMP)
			dump = true;
	}
	sm->tick_gen++;
	sm->dump_due = dump;
	r = scan_threads(t, dump ? SCAN_FULL : all ? SCAN_WALL : SCAN_CPU,
			 &sm->unexplained);
	if (r == -ESRCH) {
		sessions_target_exited(t);
		return;
	}
	if (r < 0 || sm->nthr == 0)
		goto out;
	go_sampler_tick(t);
	if (dump)
		dump_prepare(t, due, ndue);
	if (!ensure_lists(sm))
		goto out;
	nrun = select_running(sm, due, ndue, faults_only);
	nagain = 0;
	/* profd short of CPU: a stop now could outlast --max-stop-us; the
	 * running threads' CPU time waits for their next sample */
	if (!dump && !stop_guard_tick(t)) {
		STAT_ADD(t, ticks_unstopped, 1);
		for (k = 0; k < ndue; k++)
			due[k]->unstopped++;
		nrun = 0;
	}
	/* stopping again is for CPU and growth weights only */
	r = stop_and_sample(t, due, ndue, sm->run, nrun, &used, msg,
			    sizeof(msg), &refreshed, weights ? &nagain : NULL,
			    false);
	if (r == 0 && nagain > 0)
		r = stop_again(t, due, ndue, nagain, &used, msg, sizeof(msg),
			       &refreshed);
	if (r == -EPERM) {
		ptrace_refused(t, msg);
		goto out;
	}
	if (!all)
		goto out;
	nlater = sample_others(t, due, ndue, dump, &refreshed);
	if (nlater > 0) {
		STAT_ADD(t, sleeper_stops, nlater);
		r = stop_and_sample(t, due, ndue, sm->later, nlater, &used, msg,
				    sizeof(msg), &refreshed, NULL, false);
		if (r == -EPERM)
			ptrace_refused(t, msg);
	}
out:
	stop_guard_tick_end(t);
	STAT_ADD(t, ticks, 1);
	STAT_ADD(t, tick_ns, mono_ns() - t0);
	STAT_ADD(t, tick_cpu_ns, thread_cpu_ns() - c0);
}
