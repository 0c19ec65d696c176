/* sampler.h - struct target, which target.c (the API HTTP workers call)
 * and the target's sampler thread share, and the sampler's entry points.
 * Private to daemon/: target.c and the sampler's files (sampler.c,
 * tick.c, threads.c, stops.c, session.c, perfsamp.c) include it; nothing
 * else does.
 *
 * Ownership: target.c allocates and frees the target (target_new,
 * target_free) and, through sampler_new/sampler_free, the sampler's
 * private state (struct sampler, sampler_int.h).
 * Threads: each field group below says who writes it and under which
 * lock. Lock order: space_mu is never taken with mu held, nor mu with
 * space_mu held.
 * Errors: sampler_new returns NULL (out of memory); the sampler reports
 * failures through its sessions' status and message.
 */
#ifndef PROFD_SAMPLER_H
#define PROFD_SAMPLER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/daemon.h"
#include "daemon/export.h"
#include "daemon/guardian.h"
#include "daemon/memory.h"
#include "daemon/session.h"
#include "daemon/target.h"
#include "unwind/unwind.h"

#define MAX_BATCH_LIMIT	   256		/* --max-batch upper bound */
#define MAX_STACKS	   200000	/* distinct stacks per window */

struct sampler;

struct target {
	/* Set by target_new before the sampler starts, read-only after
	 * (any thread). comm is the exception: the sampler rewrites it,
	 * under mu, when the process exec's. */
	pid_t pid;
	uint64_t starttime;		/* of the process, against PID reuse */
	char comm[16];
	char service[64];		/* o.service's copy, "" for none */
	struct target_opts o;
	int task_fd;			/* /proc/PID/task */

	/* CPU windows use perf_event (perfsamp.c): set by the sampler
	 * thread as it starts, read by /metrics (relaxed atomics). */
	bool perf;

	/* The sampler thread, started and joined by target.c. */
	pthread_t thread;
	bool thread_started;

	/* mu guards the session lists and the liveness fields. Workers
	 * post to pending and wait on done; the sampler moves sessions to
	 * active, finishes them and waits on wake. Only the sampler clears
	 * active[] slots (cancel_locked() moves an active session's end_ns
	 * instead, atomically: the sampler reads it without mu). */
	pthread_mutex_t mu;
	pthread_cond_t wake;		/* sampler: new session or stop */
	pthread_cond_t done;		/* workers: a session finished */
	struct session *pending;
	struct session *active[PROFD_MAX_SESSIONS];
	unsigned used_slots;		/* bitmap: pending + active */
	unsigned nactive;
	bool stop;
	bool alive;
	char dead_msg[PROFD_ERRLEN];

	/* space_mu guards the address space against /symbol and the
	 * build-id lookup; the unwinder reads the space, and is used by the
	 * sampler only, with space_mu held. */
	pthread_mutex_t space_mu;
	struct space *space;
	struct unwinder *uw;

	/* Written by the sampler with relaxed atomics (STAT_ADD,
	 * hist_add), read by /metrics through target_stats(). */
	struct sampler_stats stats;

	/* RSS readings of /metrics, under its own lock (memory.h). */
	struct rss_trend trend;
	/* Continuous mode (history.c): the ring is set by target_new and
	 * freed by target_free, NULL without --continuous; it has its own
	 * lock. */
	struct history *hist;
	/* --trigger (watch.c): set by target_new when triggers are given
	 * with --continuous, freed by target_free; NULL otherwise. */
	struct watch *watch;
	bool hist_lent;		/* a --match service's: not ours to free */

	/* The sampler thread's own, no lock: see sampler_int.h. */
	struct sampler *sm;
};

/* Counters the sampler bumps and /metrics reads. */
#define STAT_ADD(t, f, v) \
	__atomic_fetch_add(&(t)->stats.f, (v), __ATOMIC_RELAXED)

/* Install the handler of the signal that interrupts a sampler's blocking
 * waitpid (once per process, before the first sampler starts). */
void sampler_install_signal(void);

/* The sampler's private state for t (t->pid, t->task_fd set): its thread
 * table, buffers and the thread that symbolizes PCs meanwhile (without
 * one, it logs a warning and goes on). NULL when out of memory. Called
 * by target_new before the sampler thread starts. */
struct sampler *sampler_new(struct target *t);

/* Free t->sm, once the sampler thread has been joined. Accepts NULL. */
void sampler_free(struct sampler *sm);

/* The sampler thread (pthread_create's start routine; arg: the target).
 * Runs until t->stop, then answers every window and lets go of every
 * thread. */
void *sampler_main(void *arg);

#endif /* PROFD_SAMPLER_H */
