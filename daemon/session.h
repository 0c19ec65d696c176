/* session.h - windows (CPU and wall-clock profiles, thread dumps): what a
 * worker posts to a target's sampler, and what the sampler does with them
 * as they start, take samples and end, when the process exits and when
 * it exec's.
 *
 * Ownership: the worker that posts a session allocates it and frees it
 * after it is done (target.c); the sampler never frees one. Its agg and
 * dump are filled by the sampler until done, read by the worker after.
 * Threads: the struct's fields are the sampler's until `done` is set
 * under t->mu (end_ns excepted: see target.c cancel_locked()); every
 * function below runs on the sampler thread only. They take t->mu and
 * t->space_mu themselves; call them with neither held.
 * Errors: a session that fails ends with an HTTP status and a message
 * (session_finish); nothing here returns an error.
 *
 * What comes next: per-target history (time-bucketed aggregates kept
 * while no window is open) and triggers (a condition that opens a window
 * or keeps the history around it) belong beside the sessions, here. They
 * would hook in where a sample is added to the due sessions
 * (session_add_sample) and where the loop picks what is due (sampler.c
 * pick_due), and be answered through target.c like the windows.
 */
#ifndef PROFD_DAEMON_SESSION_H
#define PROFD_DAEMON_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/daemon.h"

struct target;
struct thr;
struct slot;

/* SESSION_GROWTH: CPU-like samples of running threads, each weighted by
 * the page faults its thread took since its previous one (memory growth
 * by stack; threads without new faults are not stopped for it). */
enum session_kind { SESSION_CPU, SESSION_WALL, SESSION_DUMP, SESSION_GROWTH };

/* "cpu", "wall", "dump", "growth" (static). */
const char *session_kind_name(enum session_kind kind);

struct session {
	struct session *next;	/* pending list */
	enum session_kind kind;
	int slot;
	unsigned hz, seconds;
	uint64_t period_ns;
	uint64_t start_ns, end_ns, next_due;
	bool early;		/* ended before its time, with its samples
				   (target_end_windows); atomic */
	int64_t start_wall;
	bool perf;		/* a CPU window fed by perf_event
				   (perfsamp.c), not by stops */
	struct agg *agg;
	uint64_t ticks, stops, lost, reused, nonstop, dropped;
	uint64_t unstopped;	/* ticks that started no stop (stop_guard) */
	uint64_t moved;		/* biased samples whose worth went to the
				   thread's last fair sample's stack */
	uint64_t settled;	/* CPU ns (bytes) added as the window ended
				   (session_settle) */
	uint64_t unattributed;	/* CPU ns (bytes) of threads never sampled
				   fairly: in no stack */

	/* DUMP sessions */
	struct dump_thread *dump;
	size_t ndump;
	uint64_t dump_mono;	/* CLOCK_MONOTONIC of the dump */
	size_t dump_unreadable;	/* threads whose files could not be read */

	/* result, valid once done */
	bool done;
	int status;
	char msg[PROFD_ERRLEN];
	struct modsnap ms;
	uint64_t duration_ns;
	bool exited;
};

/* A posted session begins: check the process may be traced, refresh the
 * maps, scan the threads and make it active; or finish it with 403, 404
 * or 503 at once. */
void session_start(struct target *t, struct session *s);

/* End s with an HTTP status (200: the samples so far, with the modules
 * to name them) and msg (NULL: none), free its slot and wake its worker.
 * s may be freed by its worker as soon as this returns. */
void session_finish(struct target *t, struct session *s, int status,
		    const char *msg);

/* Whether a stop's registers are not where the thread spends its CPU
 * (it waited for a CPU and stopped at a system call exit; see session.c). */
bool sample_is_biased(const struct slot *s);

/* A CPU or growth window's time is up: add what each thread used since
 * its last sample to the window (see session.c). Nothing for the other
 * kinds. */
void session_settle(struct target *t, struct session *s);

/* End every active session with status and msg. */
void sessions_fail(struct target *t, int status, const char *msg);

/* The process has exited: mark it dead and end every active session
 * (200 with what it has, else 404). Logs it once. */
void sessions_target_exited(struct target *t);

/* The process exec'd: end every active session with the old program's
 * maps (200, or 503 with none taken), then re-read the maps. Logs it. */
void sessions_target_execed(struct target *t);

/* Add one thread's stack (pcs[0..n), leaf first) to every due session:
 * weighted by CPU time for CPU windows, by the period for wall windows,
 * by the bytes of the pages it faulted in since its previous sample for
 * growth windows (none when it took no fault), recorded as is for thread
 * dumps. s: the stop it came from, or NULL
 * when it was copied without a stop (CPU and growth windows take only
 * stops); nr,
 * arg0: the system call it is blocked in (-1: none). Allocates (the
 * aggregates); never called while a thread is stopped. */
void session_add_sample(struct target *t, struct session **due, size_t ndue,
			struct thr *h, const uint64_t *pcs, size_t n,
			bool partial, const struct slot *s, long nr,
			uint64_t arg0);

/* A perf_event sample of thread h (perfsamp.c): pcs[0..n), taken at
 * time_ns (CLOCK_MONOTONIC) after period_ns of h's CPU time, added with
 * that weight to every perf window (s->perf) open at that time, whether
 * due now or not. Allocates (the aggregates); space_mu may be held. */
void session_add_perf(struct target *t, struct thr *h, const uint64_t *pcs,
		      size_t n, uint64_t time_ns, uint64_t period_ns);

#endif /* PROFD_DAEMON_SESSION_H */
