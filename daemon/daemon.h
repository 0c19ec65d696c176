/* daemon.h - profd's targets: the per-target sampler and its sessions
 * (target.c, sampler.c). The rest of daemon/ has a header per file
 * (config.h, proc.h, faults.h, profile.h, textbuf.h, warmer.h, metrics.h,
 * export.h, registry.h, guardian.h, log.h).
 *
 * Threads: each target has one sampler thread that owns every ptrace
 * request, the target's thread table and its unwinder. civetweb workers
 * call target_profile() and friends, which post a session to the sampler
 * and block until it is finished; they never call ptrace.
 */
#ifndef PROFD_DAEMON_H
#define PROFD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http/http.h"
#include "space/space.h"
#include "symbolize/symbolize.h"

#define PROFD_ERRLEN	  256
#define PROFD_MAX_FRAMES  256		/* deeper stacks end in [truncated] */
#define PROFD_MAX_SESSIONS 16		/* concurrent windows per target */

/* ---- targets and sessions (target.c, sampler.c) ------------------------ */

struct target;

struct target_opts {
	unsigned stack_bytes;
	unsigned max_hz;
	unsigned max_batch;	/* threads stopped at once */
	unsigned stop_budget_us; /* summed stop time per tick */
	bool attach_window;	/* keep threads seized for the window */
	int rt_priority;	/* SCHED_FIFO priority of the sampler, 0:
				   none */
};

/* Start watching pid: opens its /proc directory, starts the sampler
 * thread, does not attach. NULL with err filled (e.g. "no such process"). */
struct target *target_new(pid_t pid, const struct target_opts *o, char *err,
			  size_t errlen);

/* Finish open windows (their clients get 503), let go of every thread and
 * join the sampler. Waiting workers wake up; call before http_stop(). */
void target_stop(struct target *t);

/* target_stop(), then free. Accepts NULL. */
void target_free(struct target *t);

pid_t target_pid(const struct target *t);
bool target_alive(struct target *t);

/* Look again whether the process still runs (an exited one may be a
 * zombie, a reused PID has another start time) and return it. The sampler
 * notices exits by itself only while a window is open. */
bool target_poll(struct target *t);
void target_comm(const struct target *t, char *buf, size_t len);

/* GNU build-id of the main executable, "" when unknown. */
void target_build_id(struct target *t, char *buf, size_t len);

/* Profile (CPU or wall clock) for req->seconds at req->hz; blocks the
 * calling (HTTP) thread. Fills r with a pprof profile or an error status
 * + message. */
void target_profile(struct target *t, const struct http_profile_req *req,
		    struct http_reply *r);

/* Stacks of every thread now: pprof (debug 0) or text (1: aggregated,
 * 2: one block per thread). goroutine: name things as Go's
 * /debug/pprof/goroutine does. */
void target_threads(struct target *t, int debug, bool goroutine,
		    struct http_reply *r);

/* Histogram buckets of stop and interrupt times, upper bounds in us. */
#define HIST_BUCKETS 14
extern const double hist_bounds_us[HIST_BUCKETS];

/* Sampler counters, for /metrics. */
struct target_stats {
	uint64_t samples, stops, ticks, tick_ns, tick_cpu_ns;
	uint64_t late, signals_reinjected, group_stops, preempted_dropped;
	uint64_t truncated, unwind_failures, stacks_reused;
	uint64_t nonstop_captures, nonstop_failures, threads_scanned;
	uint64_t deferred;
	uint64_t unreadable;	/* thread reads without an fd to spare */
	uint64_t stop_buckets[HIST_BUCKETS + 1];
	uint64_t stop_sum_ns, stop_n, stop_max_ns;
	uint64_t interrupt_buckets[HIST_BUCKETS + 1];
	uint64_t interrupt_sum_ns, interrupt_n, interrupt_max_ns;
	unsigned windows_active;
};

void target_stats(struct target *t, struct target_stats *out);

/* Over every target: profile windows open now (posted and not yet over),
 * and windows cancelled so far because their client closed its
 * connection. */
void target_window_counts(uint64_t *open, uint64_t *cancelled);

/* Go's /symbol: names for runtime addresses, innermost function first. */
void target_symbol(struct target *t, const uint64_t *addrs, size_t n,
		   char **names, struct http_reply *r);

/* The command line, NUL-separated, without the trailing NUL. */
void target_cmdline(struct target *t, struct http_reply *r);

int64_t wall_now_ns(void);

#endif /* PROFD_DAEMON_H */
