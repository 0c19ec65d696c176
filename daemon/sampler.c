/* sampler.c - the per-target sampler thread: its loop, and its private
 * state's life.
 *
 * It owns every ptrace request for the target (ptrace relations belong to
 * the tracer *thread*), the thread table, the stack caches and the
 * unwinder. HTTP workers post sessions (windows) through target.c and sleep
 * until the sampler marks them done. The loop starts posted sessions
 * (session.c), sleeps until one is due, and runs a tick for the due ones
 * (tick.c), which scans the threads (threads.c) and stops the running ones
 * (stops.c), as follows:
 *   1. learn which threads ran, without stopping anything: the process CPU
 *      clock and /proc/PID/task/TID/{stat,schedstat} on kept fds; threads
 *      that have been idle are re-read only when the process used CPU time
 *      that the busy ones do not account for (so a thousand sleeping
 *      threads cost next to nothing);
 *   2. stop the threads that are running or runnable (state R) in batches:
 *      SEIZE + INTERRUPT the whole batch first, then collect the stops as
 *      they arrive (one after another collapses when runnable threads
 *      outnumber CPUs: reference/measured-here.md section 3); in each stop
 *      GETREGSET, one process_vm_readv of the stack and one pread of
 *      schedstat, then release; a stop-time budget per tick defers the rest
 *      of a big target to the next tick;
 *   3. for wall-clock windows and thread dumps, every other thread: its
 *      cached stack when its scheduler counters have not moved since the
 *      copy (it has not run, so it is still where it was), else a copy
 *      taken without stopping it, from the SP and PC that
 *      /proc/PID/task/TID/syscall gives for a thread blocked in the
 *      kernel. A sleeping thread is stopped only when that fails and its
 *      system call restarts transparently: an interrupted epoll_wait or
 *      sigtimedwait returns EINTR to the program (ptrace(2) BUGS);
 *   4. with every thread running again, unwind the copies and add them to
 *      the sessions: CPU samples weighted by the CPU time the thread used
 *      since its previous sample (schedstat), wall samples by the period.
 *
 * Attach policy (--attach): by default a thread is seized for one sample
 * and detached right after, as py-spy does: between samples nothing is
 * traced, signals never detour through profd, TracerPid reads 0, and a
 * SIGKILLed profd leaves nothing behind. --attach=window keeps every thread
 * seized for the window (cheaper per tick, but every signal to the target
 * waits for profd): the loop then services stops as they arrive, between
 * ticks too. bench/ measures both.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/hash.h"
#include "daemon/clock.h"
#include "daemon/daemon.h"
#include "daemon/guardian.h"
#include "daemon/history.h"
#include "daemon/log.h"
#include "daemon/perfsamp.h"
#include "daemon/proc.h"
#include "daemon/profile.h"
#include "daemon/sampler.h"
#include "daemon/sampler_int.h"
#include "daemon/session.h"
#include "daemon/stops.h"
#include "daemon/threads.h"
#include "daemon/tick.h"
#include "daemon/warmer.h"
#include "daemon/watch.h"

/* With stops still owed (PT_LATE), look for them this often. */
#define LATE_POLL_NS	   (1 * 1000000ULL)

static int SIGWAKE;

static void
on_wake(int sig)
{
	(void)sig;
}

/* The deadline timer's signal interrupts a blocking waitpid in a sampler
 * thread: no SA_RESTART, so the wait returns EINTR. */
void
sampler_install_signal(void)
{
	struct sigaction sa;

	SIGWAKE = SIGRTMIN + 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_wake;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGWAKE, &sa, NULL);
}

struct sampler *
sampler_new(struct target *t)
{
	struct sampler *sm = calloc(1, sizeof(*sm));

	if (!sm)
		return NULL;
	sm->dents = malloc(DENTS_SIZE);
	if (!sm->dents) {
		free(sm);
		return NULL;
	}
	sm->attach_window = t->o.attach_window;
	sm->self_sched_fd = -1;
	sm->cpu_clock_ok = clock_getcpuclockid(t->pid, &sm->cpu_clock) == 0;
	htab_init(&sm->seen, 0, SEEN_MAX);	/* allocates nothing yet */
	sm->warm = warmer_new();
	if (!sm->warm)
		log_warn("pid %d: no symbolizing thread; profiles will be "
			 "symbolized when windows end",
			 (int)t->pid);
	return sm;
}

void
sampler_free(struct sampler *sm)
{
	size_t i;

	if (!sm)
		return;
	warmer_free(sm->warm);
	threads_free(sm);	/* and their perf_event rings */
	perfsamp_free(sm);
	for (i = 0; i < sm->nslots; i++) {
		free(sm->slots[i].snap.stack);
		free(sm->slots[i].snap.go_stack);
	}
	go_sampler_free(&sm->go);
	free(sm->slots);
	htab_free(&sm->seen);
	free(sm->run);
	free(sm->later);
	free(sm->again);
	free(sm->dents);
	free(sm);
}

static void
start_timer(struct target *t)
{
	struct sampler *sm = t->sm;
	struct sigevent sev;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGWAKE;
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	sm->timer_ok = timer_create(CLOCK_MONOTONIC, &sev, &sm->timer) == 0;
	if (!sm->timer_ok)
		log_warn("pid %d: timer_create", (int)t->pid);
}

/* The sampler thread's scheduling, signal mask, deadline timer and
 * guardian slot. */
static void
sampler_setup(struct target *t)
{
	struct sampler *sm = t->sm;
	sigset_t set;

	/*
	 * A thread we stopped waits for this one. As an ordinary thread the
	 * sampler can be preempted by the target's own busy threads while it
	 * holds one stopped, which stretches a 20 us stop to milliseconds
	 * (measured here: stop p99 88 us, max 6.4 ms; with SCHED_FIFO 1:
	 * 61 us, 95 us). It never spins: every wait blocks, and a tick costs
	 * ~0.1 ms of CPU. Without CAP_SYS_NICE it stays as it is.
	 */
	if (t->o.rt_priority > 0) {
		struct sched_param sp = { .sched_priority = t->o.rt_priority };
		int e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);

		if (e != 0)
			log_debug("pid %d: sampler stays SCHED_OTHER: %s",
				  (int)t->pid, strerror(e));
	}
	/* The deadline signal must reach this thread. */
	sigemptyset(&set);
	sigaddset(&set, SIGWAKE);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	start_timer(t);
	stop_guard_open(t);
	perfsamp_setup(t);
	sm->guard = guardian_claim(t->pid);
	if (t->hist)
		recorder_start(t, t->o.continuous_hz);
	if (t->watch)
		watch_start(t);
}

/* Start every posted session. Called with t->mu held, which it drops
 * around each start. */
static void
start_pending(struct target *t)
{
	while (t->pending && !t->stop) {
		struct session *s = t->pending;

		t->pending = s->next;
		pthread_mutex_unlock(&t->mu);
		session_start(t, s);
		pthread_mutex_lock(&t->mu);
	}
}

/* Whether a session is active, and in *next the earliest time one is due
 * or ends. */
static bool
next_wakeup(struct target *t, uint64_t *next)
{
	bool any = false;
	size_t i;

	*next = UINT64_MAX;
	for (i = 0; i < PROFD_MAX_SESSIONS; i++) {
		struct session *s = t->active[i];

		if (!s)
			continue;
		any = true;
		if (s->next_due < *next)
			*next = s->next_due;
		if (s->end_ns < *next)
			*next = s->end_ns;
	}
	return any;
}

/* Whether continuous mode's recorder runs (until the process exits), and
 * then *next lowered to its next tick. Called with t->mu held. */
static bool
recorder_wakeup(struct target *t, uint64_t *next)
{
	struct sampler *sm = t->sm;

	if (!sm->rec_on || !t->alive)
		return false;
	if (sm->rec_next < *next)
		*next = sm->rec_next;
	return true;
}

/* Sleep until `until` (CLOCK_MONOTONIC) or a new session, with t->mu
 * held. With threads seized for the window, wait in waitpid instead, so
 * that every signal the target gets is passed on at once, not at the next
 * tick: Go's runtime sends ~50 SIGURG/s per busy thread, and deferring
 * them slowed a Go program 1.3-1.6x (reference/measured-here.md
 * section 8). */
static void
idle_until(struct target *t, uint64_t until)
{
	struct timespec ts;

	if (t->sm->ntraced > 0) {
		pthread_mutex_unlock(&t->mu);
		serve_seized_until(t, until);
		pthread_mutex_lock(&t->mu);
		return;
	}
	ns_to_timespec(until, &ts);
	pthread_cond_timedwait(&t->wake, &t->mu, &ts);
}

/* The sessions due at `now` into due[], their slots in active[] into
 * slot[]; returns how many. */
static size_t
pick_due(struct target *t, uint64_t now, struct session **due, size_t *slot)
{
	size_t i, ndue = 0;

	for (i = 0; i < PROFD_MAX_SESSIONS; i++) {
		struct session *s = t->active[i];

		/* end_ns: a worker whose client left moves it
		 * (target.c, cancel_locked()) */
		if (s && s->next_due <= now &&
		    s->next_due < __atomic_load_n(&s->end_ns, __ATOMIC_RELAXED)) {
			slot[ndue] = i;
			due[ndue++] = s;
		}
	}
	return ndue;
}

/* After a tick: when each session that took part is due next. A session
 * that finished during the tick (the process exited, its time ran out) may
 * be freed already: it is looked for in active[] by the slot it had, never
 * through the pointer, and only this thread clears active[]. */
static void
schedule_next(struct target *t, struct session **due, const size_t *slot,
	      size_t ndue, uint64_t now)
{
	size_t i;

	for (i = 0; i < ndue; i++) {
		struct session *s = due[i];

		if (t->active[slot[i]] != s)
			continue;
		s->next_due += s->period_ns;
		/* fell behind: skip, don't burst */
		if (s->next_due < now)
			s->next_due = now + s->period_ns / 2;
	}
}

/* One tick for the due windows, the one place that chooses the sampler:
 * the windows perf_event feeds (s->perf, set as they started) take their
 * samples from the kernel's rings (perfsamp.c); the others, and continuous
 * mode's recorder, from stopped threads (tick.c). */
static void
sample_due(struct target *t, struct session **due, size_t ndue)
{
	struct sampler *sm = t->sm;
	struct session *perf[PROFD_MAX_SESSIONS];
	struct session *stop[PROFD_MAX_SESSIONS];
	size_t i, nperf = 0, nstop = 0;

	for (i = 0; i < ndue; i++) {
		if (due[i]->perf)
			perf[nperf++] = due[i];
		else
			stop[nstop++] = due[i];
	}
	if (nperf > 0)
		perfsamp_tick(t, perf, nperf);
	if (nstop == 0 && !sm->rec_due)
		return;
	/* the recorder alone keeps the per-sample attach */
	if (sm->attach_window && nstop > 0) {
		seize_all(t);
		guard_report(t, 0, mono_ns());
	}
	tick(t, stop, nstop);
}

/* Something is due: pass on stops that came late, tick for the due
 * sessions, end the windows the process exec'd under and those whose
 * time is up. Called without t->mu. */
static void
run_due(struct target *t)
{
	struct sampler *sm = t->sm;
	struct session *due[PROFD_MAX_SESSIONS];
	size_t slot[PROFD_MAX_SESSIONS];
	size_t i, ndue;
	uint64_t now;

	service_events(t);
	now = mono_ns();
	ndue = pick_due(t, now, due, slot);
	sm->rec_due = sm->rec_on && sm->rec_next <= now;
	if (ndue > 0 || sm->rec_due) {
		sample_due(t, due, ndue);
		now = mono_ns();
		schedule_next(t, due, slot, ndue, now);
		if (sm->rec_due)
			recorder_after_tick(t, now);
		if (sm->rec_due && t->watch)
			watch_tick(t, now);
		sm->rec_due = false;
	}
	if (sm->execed) {
		if (sm->rec_on)
			recorder_cut(t);
		sessions_target_execed(t);
	}
	for (i = 0; i < PROFD_MAX_SESSIONS; i++) {
		struct session *s = t->active[i];

		if (s && __atomic_load_n(&s->end_ns, __ATOMIC_RELAXED) <= now) {
			if (now >= s->start_ns + (uint64_t)s->seconds *
							  1000000000ULL ||
			    __atomic_load_n(&s->early, __ATOMIC_RELAXED))
				session_settle(t, s);	/* not cancelled */
			session_finish(t, s, 200, NULL);
		}
	}
	perfsamp_idle(t);
}

/* Shutting down: answer every window, let go of every thread, leave the
 * guardian. */
static void
sampler_shutdown(struct target *t)
{
	struct sampler *sm = t->sm;

	while (t->pending) {
		struct session *s = t->pending;

		t->pending = s->next;
		s->start_ns = mono_ns();
		session_finish(t, s, 503, "profd is shutting down");
	}
	sessions_fail(t, 503, "profd is shutting down");
	stop_guard_close(t);
	perfsamp_idle(t);
	if (sm->ntraced > 0)
		release_all(t);
	if (sm->late > 0)
		wait_late_stops(t);
	sm->guard_active = false;
	guard_report(t, 0, mono_ns());
	guardian_unclaim(sm->guard);
	sm->guard = NULL;
	if (sm->timer_ok)
		timer_delete(sm->timer);
}

void *
sampler_main(void *arg)
{
	struct target *t = arg;
	struct sampler *sm = t->sm;

	prctl(PR_SET_NAME, "profd-sampler", 0, 0, 0);
	sampler_setup(t);
	pthread_mutex_lock(&t->mu);
	for (;;) {
		uint64_t now, next;
		bool any, rec;

		start_pending(t);
		if (t->stop)
			break;
		if (t->watch && !t->alive) {
			/* noticed here, by a window or by target_poll() */
			pthread_mutex_unlock(&t->mu);
			watch_exited(t);
			pthread_mutex_lock(&t->mu);
		}
		any = next_wakeup(t, &next);
		rec = recorder_wakeup(t, &next);
		sm->guard_active = any || rec;
		guard_report(t, 0, mono_ns());
		if (!any && sm->attach_window && sm->ntraced > 0) {
			/* last window of --attach=window closed */
			pthread_mutex_unlock(&t->mu);
			release_all(t);
			pthread_mutex_lock(&t->mu);
			continue;
		}
		if (!any && !rec && sm->late == 0) {
			pthread_cond_wait(&t->wake, &t->mu);
			continue;
		}
		now = mono_ns();
		if (sm->late > 0 && now + LATE_POLL_NS < next)
			next = now + LATE_POLL_NS;
		if (now < next) {
			idle_until(t, next);
			continue;
		}
		pthread_mutex_unlock(&t->mu);
		run_due(t);
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);
	sampler_shutdown(t);
	return NULL;
}
