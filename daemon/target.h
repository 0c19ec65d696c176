/* target.h - one profiled process, as HTTP workers, /metrics and the
 * registry see it: start and stop its sampler, post windows (profiles,
 * thread dumps) to it and wait for them, read its counters.
 *
 * Ownership: target_new returns a target the caller frees with
 * target_free. struct target is opaque here (sampler.h defines it, for
 * target.c and the sampler's files only).
 * Threads: target_new, target_stop and target_free are called by the
 * thread that manages targets (main, the registry); everything else by any
 * thread, HTTP workers included. None of them calls ptrace: the target's
 * sampler thread does, and it alone.
 * Errors: target_new returns NULL with err filled and errno set, and
 * does not log it (the caller does); the request functions fill the
 * http_reply's status and msg. What happens to the process (exit, exec)
 * and to a window (cancelled by its client) is logged where it is
 * noticed, once.
 */
#ifndef PROFD_DAEMON_TARGET_H
#define PROFD_DAEMON_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/clock.h"
#include "http/http.h"

struct history;
struct target;
struct trigger;

struct target_opts {
	unsigned stack_bytes;
	unsigned max_hz;
	unsigned max_batch;	/* threads stopped at once */
	unsigned stop_budget_us; /* summed stop time per tick */
	unsigned max_stop_us;	/* a stop's bound (stops.c, stop_guard) */
	bool attach_window;	/* keep threads seized for the window */
	enum sampler_mode sampler;	/* --sampler */
	int rt_priority;	/* SCHED_FIFO priority of the sampler, 0:
				   none */
	unsigned continuous_hz;	/* --continuous: record at this rate, 0:
				   off */
	unsigned history_s;	/* --history, seconds */
	uint64_t history_budget;	/* --history-memory, bytes */
	const struct trigger *triggers;	/* --trigger (with --continuous);
					   the configuration's, borrowed */
	size_t ntriggers;
	const char *service;	/* the --match rule's name when the process
				   is served as a service (registry.c),
				   else NULL; target_new copies it */
};

/* Start watching pid: opens its /proc directory, starts the sampler
 * thread, does not attach. NULL with err filled (e.g. "no such process"). */
struct target *target_new(pid_t pid, const struct target_opts *o, char *err,
			  size_t errlen);

/* target_new, recording continuous mode into hist (not NULL), which
 * stays the caller's: a --match service's ring, which outlives each of
 * its processes (registry.c). target_free leaves it alone. */
struct target *target_new_hist(pid_t pid, const struct target_opts *o,
			       struct history *hist, char *err,
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
 * notices exits by itself only while a window is open or continuous mode
 * records. */
bool target_poll(struct target *t);
void target_comm(const struct target *t, char *buf, size_t len);

/* The name a snapshot and its --keep go by: the --match service's name
 * when there is one (target_opts.service), else the comm. Any thread. */
void target_snap_name(const struct target *t, char *buf, size_t len);

/* When the process started (/proc/PID/stat starttime against the boot
 * clock), as wall ns since the epoch; 0 when unknown. Any thread. */
int64_t target_start_wall(const struct target *t);

/* GNU build-id of the main executable, "" when unknown. */
void target_build_id(struct target *t, char *buf, size_t len);

/* Profile (CPU or wall clock) for req->seconds at req->hz; blocks the
 * calling (HTTP) thread. Fills r with a pprof profile or an error status
 * + message. */
void target_profile(struct target *t, const struct http_profile_req *req,
		    struct http_reply *r);

/* End t's open profile windows now, as if their time were up: each
 * answers its waiting caller with the samples it holds (200), not as a
 * cancelled one. Ctrl-C in profd record, and its COMMAND's exit. Any
 * thread; returns how many windows it ended (a window the sampler is
 * starting at this very moment is in no list: call again while one is
 * still awaited). */
size_t target_end_windows(struct target *t);

/* Continuous mode's history over req's span, merged into one profile at
 * once (CPU or wall, as req->kind says); 404 when the target keeps no
 * history or none of it falls in the span. Fills r as target_profile. */
void target_history(struct target *t, const struct http_history_req *req,
		    struct http_reply *r);

/* /history/buckets: continuous mode's buckets over req's span as JSON
 * text (history_buckets_json), at once; 404 when the target keeps no
 * history. req->kind is not used. Fills r as target_profile. */
void target_history_buckets(struct target *t,
			    const struct http_history_req *req,
			    struct http_reply *r);

/* Stacks of every thread now: pprof (debug 0) or text (1: aggregated,
 * 2: one block per thread). goroutine: name things as Go's
 * /debug/pprof/goroutine does. */
void target_threads(struct target *t, int debug, bool goroutine,
		    struct http_reply *r);

/* What the sampler counts, for /metrics. Every field is a uint64_t (the
 * histograms too): the sampler bumps them with relaxed atomics (STAT_ADD,
 * hist_add) and target_stats() copies them word by word. */
struct sampler_stats {
	uint64_t samples;		/* stacks added to windows */
	uint64_t stops;			/* threads stopped for a sample */
	uint64_t ticks, tick_ns, tick_cpu_ns;
	uint64_t late;			/* stops after the tick's deadline */
	uint64_t exited_in_stop;	/* threads that exited while seized */
	uint64_t signals_reinjected, group_stops;
	uint64_t preempted_dropped;	/* see sample_is_biased() */
	uint64_t preempted_moved;	/* and add_weighted() */
	uint64_t cpu_unattributed_ns;	/* see session_settle() */
	uint64_t stopped_again;		/* see stop_again() */
	uint64_t sleeper_stops;		/* stops of sleeping threads (thread
					   dumps only) */
	uint64_t truncated, unwind_failures;
	uint64_t stacks_reused, nonstop_captures, nonstop_failures;
	uint64_t threads_scanned;	/* by full scans */
	uint64_t deferred;		/* by the stop budget */
	uint64_t unreadable;		/* thread reads without an fd to
					   spare */
	uint64_t triggers_checked;	/* --trigger checks (watch.c) */
	uint64_t samples_lost;		/* the "N lost" of profiles answered */
	uint64_t go_crossed;		/* stops on a Go thread's system stack
					   that copied its goroutine too */
	uint64_t go_reads, go_read_ns;	/* goroutine dumps, time reading */
	uint64_t go_read_retries;	/* goroutine stacks read again */
	uint64_t go_goroutines;		/* listed by the last dump (gauge) */
	uint64_t stop_breaches;		/* stops past --max-stop-us, or held
					   while profd waited that long */
	uint64_t ticks_unstopped;	/* ticks that started no stop: profd
					   was short of CPU (stop_guard) */
	uint64_t copy_bytes;		/* stack bytes copied in stops */
	uint64_t copy_short;		/* stops whose shortened copy cut the
					   stack (adapt_copy) */
	uint64_t perf_lost;		/* perf_event samples the kernel could
					   not write (a ring full) */
	uint64_t perf_unsampled;	/* threads a perf window has no event
					   for (fds, locked memory) */
	struct hist stop, interrupt;	/* how long stops lasted, and took
					   to arrive */
};

/* Sampler counters, for /metrics. */
struct target_stats {
	struct sampler_stats sampler;
	unsigned windows_active;	/* windows the sampler runs now */
	bool history;			/* continuous mode records it */
	bool triggers;			/* --trigger conditions watch it */
	bool perf;			/* CPU windows use perf_event */
	uint64_t history_buckets, history_stacks;
	uint64_t history_bytes, history_budget;	/* held, and the bound */
	uint64_t history_evicted;	/* buckets dropped for memory */
	double history_oldest_s;	/* how far back it reaches now */
};

void target_stats(struct target *t, struct target_stats *out);

/* Over every target: profile windows open now (posted and not yet over),
 * in all and by kind (target_window_kind_name(k): "cpu", "wall", "dump"
 * for thread dumps, "growth"), and windows cancelled so far because their
 * client closed its connection. Any thread; cannot fail. */
#define TARGET_WINDOW_KINDS 4
void target_window_counts(uint64_t *open, uint64_t *cancelled,
			  uint64_t open_by_kind[TARGET_WINDOW_KINDS]);
const char *target_window_kind_name(size_t k);	/* static string */

/* Go's /symbol: for each runtime address, the name of the function that
 * owns the code there (a profile location's non-inline frame, the name
 * profiles give it), so that pprof's remote symbolization agrees with
 * profd's profiles. JIT code (perf maps) is not named here.
 * Blocks the calling (HTTP) thread. names[i] is malloc'd (the caller
 * frees it) or NULL when unknown; r carries the status. */
void target_symbol(struct target *t, const uint64_t *addrs, size_t n,
		   char **names, struct http_reply *r);

/* Where the resident memory sits now, by mapping (/debug/pprof/memory):
 * a pprof profile into r, or an error status (memory.h memory_view).
 * Reads /proc only: no window, no stop. */
void target_memory(struct target *t, struct http_reply *r);

struct gort_mem;

/* The Go runtime's heap figures of t now (gort_memstats), read without a
 * stop. 0, or -ENOENT (not a Go program, or its executable unreadable),
 * or gort_memstats' errors; err filled then. */
int target_go_mem(struct target *t, struct gort_mem *m, char *err,
		  size_t errlen);

/* target_go_mem as the line that heads thread dumps, into buf: "# go
 * heap: alloc 12.3 MB, objects N, next GC at X MB, GC cycles N, GOGC
 * 100". 0, or target_go_mem's -errno (buf untouched). */
int target_go_heap_line(struct target *t, char *buf, size_t len);

/* /debug/pprof/heap (allocs false) or allocs: a Go program's memory
 * profile from its runtime's buckets, as Go writes it (export_heap).
 * 404 with the reason for a program that is not Go, or whose binary
 * keeps no memory profile. */
void target_heap(struct target *t, bool allocs, struct http_reply *r);

/* Record rss (bytes, read now) and return in *rate its growth in bytes
 * per second over about the last 10 s of such readings: false when no
 * earlier reading is old enough yet (memory.h rss_trend_add). */
bool target_rss_rate(struct target *t, uint64_t rss, double *rate);

/* The command line, NUL-separated, without the trailing NUL, into r. */
void target_cmdline(struct target *t, struct http_reply *r);

#endif /* PROFD_DAEMON_TARGET_H */
