/* sampler_int.h - the sampler thread's private state: its thread table,
 * stop slots, buffers and bookkeeping. Private to the sampler's files
 * (sampler.c, tick.c, threads.c, stops.c, session.c, perfsamp.c);
 * target.c sees only the pointer t->sm.
 *
 * Ownership: sampler_new allocates a struct sampler and everything it
 * points to; sampler_free frees them (threads_free for the table).
 * Threads: the sampler thread alone reads and writes all of it, without
 * a lock, from sampler_main's start to its return; target.c frees it
 * after joining that thread.
 * Errors: none here (data only).
 */
#ifndef PROFD_SAMPLER_INT_H
#define PROFD_SAMPLER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/hash.h"
#include "daemon/daemon.h"
#include "daemon/gostacks.h"
#include "unwind/unwind.h"

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

/* One thread of the target (threads.c keeps the table). */
struct thr {
	pid_t tid;
	uint64_t starttime;
	int stat_fd, sched_fd;
	char state;		/* from stat: R S D T t Z X I ... */
	char comm[16];
	uint64_t cpu_ns;	/* schedstat: on-CPU ns, latest known */
	uint64_t cpu_scan;	/* cpu_ns as the last scan read it */
	uint64_t slices;	/* schedstat: times scheduled in */
	uint64_t faults;	/* stat: minflt + majflt, latest read */
	uint64_t changed_ns;	/* CLOCK_MONOTONIC when the counters last
				   moved, as far as profd saw */
	uint64_t attributed[PROFD_MAX_SESSIONS + 2];	/* cpu_ns (faults for
				   a growth window) already weighed into
				   each session slot, cpu_ns into the
				   recorder's (REC_SLOT) and faults into
				   its growth (REC_FAULT_SLOT) */
	struct stack_cache cache;
	struct stack_cache run;	/* its stack at its last stop that was a
				   fair CPU sample (session.c) */
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
	/* Go (gostacks.c): the runtime's M this thread is, 0 unknown, and
	 * the bounds of its system stack (g0) */
	uint64_t go_m, go_g0_lo, go_g0_hi;
	/* bytes of stack its next stop copies, 0: --stack-bytes (tick.c,
	 * adapt_copy) */
	uint32_t copy_bytes;
	/* perf_event (perfsamp.c): the thread's event, -1 none, and its
	 * ring (perf_len bytes mapped, NULL none); perf_failed: opening
	 * one failed, not tried again this window */
	int perf_fd;
	void *perf_ring;
	size_t perf_len;
	bool perf_failed;
};

/* thr.attributed[] of continuous mode's recorder (history.c). */
#define REC_SLOT PROFD_MAX_SESSIONS
#define REC_FAULT_SLOT (PROFD_MAX_SESSIONS + 1)

/* One stopped thread's copy (stops.c fills it, tick.c unwinds it). */
struct slot {
	struct snapshot snap;
	uint64_t t_int, t_stop;
	struct thr *thr;
	bool valid;
	bool preempted;		/* was off CPU when interrupted */
	bool defer;		/* biased (session.c): its CPU waits for the
				   thread's stop again this tick */
	bool again;		/* that stop again: for CPU weights only */
};

/* PCs handed to the warmer per generation of the maps, at most (the
 * table then takes 4 MiB); past it the export resolves the rest. */
#define SEEN_MAX (1u << 17)

struct sampler {
	/* the thread table, sorted by tid (threads.c) */
	struct thr **thr;
	size_t nthr, capthr;
	uint64_t scan_gen, tick_gen;
	char *dents;			/* getdents64 buffer, DENTS_SIZE */
	int64_t unexplained;		/* see scan_threads() */
	clockid_t cpu_clock;		/* the process's CPU clock */
	bool cpu_clock_ok;
	uint64_t proc_cpu_prev;		/* process CPU clock, last read */
	unsigned clock_ticks;		/* ticks since it was read */
	uint64_t last_full_scan;	/* CLOCK_MONOTONIC ns */
	int nthreads_prev;

	/* the stop protocol (stops.c) */
	struct slot *slots;		/* MAX_BATCH_LIMIT, nslots ready */
	size_t nslots;
	unsigned late;			/* threads in PT_LATE */
	unsigned ntraced;		/* threads with traced set */
	bool attach_window;		/* o.attach_window, but false while
					   release_all() lets every thread go */
	timer_t timer;			/* the wait deadline (SIGWAKE) */
	bool timer_ok;
	struct guard_slot *guard;	/* what the guardian sees of us */
	bool guard_active;		/* a window was open at last look */

	/* the bound of a stop (stops.c, stop_guard): the sampler thread's
	 * own schedstat (-1: none), its run delay at the end of the last
	 * tick and before the batch in flight, and the backoff after a
	 * breach */
	int self_sched_fd;
	uint64_t rd_tick_end, rd_batch;
	uint64_t backoff_until, backoff_ns;
	bool breached;			/* in this tick */

	/* whole Go stacks (gostacks.c) */
	struct go_sampler go;

	/* one tick (tick.c) */
	unsigned rotate;
	struct thr **run, **later;	/* threads to stop; caplists each */
	struct thr **again;		/* biased, to stop again; caplists */
	bool dump_due;			/* a thread dump takes part */
	size_t caplists;
	uint64_t pcs[PROFD_MAX_FRAMES + 1];
	uint8_t flags[PROFD_MAX_FRAMES + 1];
	struct warmer *warm;		/* symbolizes new PCs meanwhile */
	struct htab seen;		/* PCs handed to the warmer */
	uint64_t seen_gen;		/* space generation they belong to */

	/* perf_event windows (perfsamp.c) */
	bool perf_on;			/* events open */
	uint64_t perf_period;		/* their sample period, CPU ns */
	unsigned char *perf_buf;	/* one record, copied out of a ring */
	size_t perf_bufsz;

	/* sessions (session.c) */
	bool execed;			/* it exec'd: see
					   sessions_target_execed() */

	/* continuous mode's recorder (history.c), when t->hist is set */
	bool rec_on;			/* started */
	bool rec_due;			/* takes part in this tick */
	bool rec_refused;		/* ptrace refused in this tick */
	uint64_t rec_next, rec_period;	/* CLOCK_MONOTONIC ns */
	uint64_t rec_read_next;		/* the next reading of RSS and CPU
					   time (once a second) */
	uint64_t rec_cpu_prev;		/* the process's CPU ns, last read */
	bool rec_have_cpu;		/* rec_cpu_prev is a reading */
	bool rec_cgroup_due;		/* the bucket has no cgroup reading */
};

#endif /* PROFD_SAMPLER_INT_H */
