/* sampler.h - what target.c (the API HTTP workers call) and sampler.c (the
 * per-target sampler thread) share. Private to daemon/.
 *
 * Ownership: everything under "sampler thread only" belongs to the sampler
 * thread; `mu` guards the session lists and the liveness fields; stats are
 * written by the sampler with relaxed atomics and read by /metrics.
 */
#ifndef PROFD_SAMPLER_H
#define PROFD_SAMPLER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "daemon/daemon.h"
#include "daemon/export.h"
#include "daemon/guardian.h"
#include "unwind/unwind.h"

#define MAX_BATCH_LIMIT	   256		/* --max-batch upper bound */
#define MAX_STACKS	   200000	/* distinct stacks per window */

/* Where a thread is in our stop protocol (whether we trace it at all is
 * thr.traced). */
enum thr_pt {
	PT_NONE,	/* running, as far as we are concerned */
	PT_PENDING,	/* interrupted, waiting for its stop this tick */
	PT_LATE,	/* interrupted, stop not arrived in time */
	PT_LISTEN,	/* --attach=window: in a group-stop (PTRACE_LISTEN) */
};

/* The stack a thread had when profd last copied it, with the scheduler
 * counters at that moment: while the counters are the same, the thread has
 * not run, and the stack is still right. */
struct stack_cache {
	uint64_t *pcs;
	uint16_t n, cap;
	bool partial;		/* the unwind stopped early */
	bool valid;
	uint64_t cpu_ns, slices;
	long sys_nr;		/* system call it was blocked in, or -1 */
	uint64_t sys_arg0;
};

struct thr {
	pid_t tid;
	uint64_t starttime;
	int stat_fd, sched_fd;
	char state;		/* from stat: R S D T t Z X I ... */
	char comm[16];
	uint64_t cpu_ns;	/* schedstat: on-CPU ns, latest known */
	uint64_t cpu_scan;	/* cpu_ns as the last scan read it */
	uint64_t slices;	/* schedstat: times scheduled in */
	uint64_t changed_ns;	/* CLOCK_MONOTONIC when the counters last
				   moved, as far as profd saw */
	uint64_t attributed[PROFD_MAX_SESSIONS];
	struct stack_cache cache;
	enum thr_pt pt;
	bool traced;		/* seized by us */
	int slot;		/* snapshot slot while PENDING */
	uint64_t seen;		/* scan generation */
	uint64_t read_gen;	/* tick whose counters we hold */
	uint64_t sampled_gen;	/* tick in which it was stopped */
	bool gone;
	bool unreadable;	/* last read failed: out of fds (thr_check) */
	bool hot;		/* used CPU recently: read every tick */
	int processor;		/* CPU it last ran on (stat) */
	double exec_start_ms;	/* se.exec_start before a dump's stops */
};

enum session_kind { SESSION_CPU, SESSION_WALL, SESSION_DUMP };

struct session {
	struct session *next;	/* pending list */
	enum session_kind kind;
	int slot;
	unsigned hz, seconds;
	uint64_t period_ns;
	uint64_t start_ns, end_ns, next_due;
	int64_t start_wall;
	struct agg *agg;
	uint64_t ticks, stops, lost, reused, nonstop, dropped;

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

struct slot {
	struct snapshot snap;
	uint64_t t_int, t_stop;
	struct thr *thr;
	bool valid;
	bool preempted;		/* was off CPU when interrupted */
};

struct hist {
	uint64_t count[HIST_BUCKETS + 1];	/* last: +Inf */
	uint64_t sum_ns, n, max_ns;
};

struct sampler_stats {
	uint64_t samples, stops, ticks, tick_ns, tick_cpu_ns;
	uint64_t late, exited_in_stop, signals_reinjected, group_stops;
	uint64_t preempted_dropped, truncated, unwind_failures;
	uint64_t stacks_reused, nonstop_captures, nonstop_failures;
	uint64_t threads_scanned, deferred;
	uint64_t unreadable;	/* thread reads that found no fd */
	struct hist stop, interrupt;
};

struct target {
	pid_t pid;
	uint64_t starttime;		/* of the process, against PID reuse */
	char comm[16];
	struct target_opts o;
	int task_fd;

	pthread_t thread;
	bool thread_started;
	timer_t timer;
	bool timer_ok;

	pthread_mutex_t mu;		/* lists and liveness below */
	pthread_cond_t wake;		/* sampler: new session or stop */
	pthread_cond_t done;		/* workers: a session finished */
	struct session *pending;
	struct session *active[PROFD_MAX_SESSIONS];
	unsigned used_slots;		/* bitmap: pending + active */
	unsigned nactive;
	bool stop;
	bool alive;
	char dead_msg[PROFD_ERRLEN];

	pthread_mutex_t space_mu;	/* space + unwinder vs. /symbol */
	struct space *space;
	struct unwinder *uw;

	struct sampler_stats stats;	/* relaxed atomics */

	/* sampler thread only */
	struct thr **thr;
	size_t nthr, capthr;
	uint64_t scan_gen, tick_gen;
	unsigned rotate;
	struct slot *slots;
	size_t nslots;
	unsigned late;			/* threads in PT_LATE */
	unsigned ntraced;		/* threads with traced set */
	bool execed;			/* it exec'd: see target_execed() */
	int64_t unexplained;		/* see scan_threads() */
	uint64_t pcs[PROFD_MAX_FRAMES + 1];
	uint8_t flags[PROFD_MAX_FRAMES + 1];
	char *dents;
	struct warmer *warm;		/* symbolizes new PCs meanwhile */
	uint64_t *seen_pcs;		/* PCs handed to the warmer */
	size_t seen_cap, seen_n;
	uint64_t seen_gen;		/* space generation they belong to */
	uint64_t proc_cpu_prev;		/* process CPU clock, last read */
	unsigned clock_ticks;		/* ticks since it was read */
	uint64_t last_full_scan;	/* CLOCK_MONOTONIC ns */
	int nthreads_prev;
	struct guard_slot *guard;	/* what the guardian sees of us */
	bool guard_active;		/* a window was open at last look */
};

/* Counters the sampler bumps and /metrics reads. */
#define STAT_ADD(t, f, v) __atomic_fetch_add(&(t)->stats.f, (v), __ATOMIC_RELAXED)
#define STAT_GET(t, f) __atomic_load_n(&(t)->stats.f, __ATOMIC_RELAXED)

void hist_add(struct hist *h, uint64_t ns);

uint64_t mono_ns(void);

/* sampler.c */
void *sampler_main(void *arg);
void sampler_install_signal(void);

#endif /* PROFD_SAMPLER_H */
