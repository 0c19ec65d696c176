/* guardian.h - a small process that ends profd with SIGKILL when profd can
 * no longer let go of the target threads it holds.
 *
 * Between PTRACE_INTERRUPT and the release, and under --attach=window for
 * a whole window, a target thread waits for profd's sampler thread. If
 * profd is stopped (SIGSTOP, ^Z), traced (a debugger), or cannot run, the
 * target waits with it. The guardian is forked by main() before any
 * thread exists; it holds no ptrace relation and no capability, and it
 * watches a small MAP_SHARED region in which every sampler publishes, with
 * atomics, what it holds. When profd must go, it sends SIGKILL: the kernel
 * then detaches every tracee and resumes it (profd never sets
 * PTRACE_O_EXITKILL). The kill is logged on stderr and recorded in the
 * runtime directory, where the next profd finds it, logs it and counts it
 * (profd_guardian_kills_total). profd(8), GUARDIAN, states the bounds.
 *
 * Threads: guardian_start(), guardian_check() and guardian_stop() belong
 * to the main thread; a guard slot belongs to the sampler thread that
 * claimed it; guardian_status() may be called from any thread.
 */
#ifndef PROFD_GUARDIAN_H
#define PROFD_GUARDIAN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* While any window is open the guardian looks every GUARDIAN_POLL_MS; a
 * sampler that holds threads and has not run for GUARDIAN_BOUND_MS past
 * its own next deadline, while one of them waits in a ptrace stop, is
 * taken as unable to run. */
#define GUARDIAN_POLL_MS  20
#define GUARDIAN_BOUND_MS 100
/* A sampler waiting with threads seized wakes at least this often, so that
 * its deadline is never far away (see idle_until() in sampler.c). */
#define GUARDIAN_WAKE_MS  20

struct guardian_opts {
	bool enabled;			/* false: --no-guardian (a
					   predecessor's kill is still read) */
	const char *runtime_dir;	/* where kills are recorded; "" none */
	int rt_priority;		/* SCHED_FIFO priority, 0 for none */
	unsigned max_samplers;		/* sampler threads at once */
};

/* Read (and log) a predecessor's kill from the runtime directory, then
 * fork the guardian. Main thread, before any other thread exists. -errno
 * with err filled when there is no guardian; profd goes on without. */
int guardian_start(const struct guardian_opts *o, char *err, size_t errlen);

/* Main thread, about once a second: if the guardian has exited, reap it
 * and log how. */
void guardian_check(void);

/* Main thread, at exit, with no sampler left: end and reap the guardian. */
void guardian_stop(void);

struct guardian_status {
	bool enabled;			/* started (not --no-guardian) */
	bool up;			/* running, and checked lately */
	pid_t pid;
	uint64_t kills;			/* recorded in the runtime directory */
	int64_t last_kill;		/* Unix time of the last one, 0 none */
	double cpu_seconds;		/* the guardian's CPU time so far */
};

/* For /metrics; any thread. */
void guardian_status(struct guardian_status *st);

/* ---- sampler side (a sampler thread, its own slot only) --------------- */

struct guard_slot;

/* A slot for the calling sampler thread, which samples process target.
 * NULL when there is no guardian or every slot is taken; every function
 * below accepts NULL. */
struct guard_slot *guardian_claim(pid_t target);

/* Give the slot back (nothing held any more). */
void guardian_unclaim(struct guard_slot *g);

/*
 * Publish what the sampler holds: held threads (interrupted and not
 * released yet, or, under --attach=window, seized at all), whether it is
 * active (a window is open, or held > 0), and due: the sampler will run
 * again by then (the deadline of the wait it is about to enter; "now"
 * when it is not going to wait). Call it before the first INTERRUPT of a
 * hold, so that the guardian never misses one.
 */
void guardian_publish(struct guard_slot *g, unsigned held, bool active,
		      uint64_t due_ns);

/* The sampler is running (progress), nothing else changed. */
void guardian_beat(struct guard_slot *g);

#endif /* PROFD_GUARDIAN_H */
