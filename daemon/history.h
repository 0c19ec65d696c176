/* history.h - continuous mode's flight recorder (history.c): per target, a
 * ring of fixed-length time buckets, each with a CPU-weighted, a
 * wall-weighted and a growth-weighted (page faults) aggregate of the
 * samples the recorder took in it and the
 * module snapshot that names their PCs; and the recorder itself, which
 * runs beside the sessions on the target's sampler thread.
 *
 * Memory is bounded by a budget per history (--history-memory): the
 * history counts the bytes its buckets hold (aggregates, their entries
 * and PCs, index, list and thread names: struct agg's bytes; trigger
 * names) and the ring itself, and when the total passes the budget it
 * drops its oldest buckets, never the current one: it then reaches back
 * less far. One bucket can never pass the budget on its own: the cap of
 * distinct stacks per bucket and kind is at most
 * (budget - ring) / (3 x agg_max_bytes per stack of PROFD_MAX_FRAMES + 1
 * frames) and HIST_MAX_STACKS; samples of a stack that does not fit are
 * counted as dropped. Outside the budget: the module lists that name the
 * PCs (shared with the target's own) and what a request merging a span
 * allocates for its answer.
 *
 * Each bucket also carries figures of the process (struct hist_figures):
 * its RSS, memory cgroup, CPU time, and the triggers that fired.
 *
 * Ownership: history_new's caller owns the history (history_free). A
 * modsnap given to history_set_maps becomes the history's. What
 * history_span fills belongs to the caller (history_span_free), and so
 * does what history_list and history_buckets_json return (free()); a
 * trigger name given to history_note_trigger is copied.
 * Threads: the ring (history_*) has its own lock: the sampler thread
 * adds, rotates, sets maps and pid and notes figures and triggers (and
 * drops buckets over the budget while it adds), any thread (HTTP
 * workers, /metrics) reads spans, lists, counts and memory. The
 * recorder_* functions run on the target's sampler thread only, without
 * t->mu or t->space_mu held, never while a thread is stopped.
 * Errors: -ENOMEM, -ERANGE (no bucket in the span) or NULL; never logs
 * (the recorder, in daemon/, logs through log.c).
 */
#ifndef PROFD_DAEMON_HISTORY_H
#define PROFD_DAEMON_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/export.h"

#define HIST_BUCKET_NS	   (10ULL * 1000000000ULL)	/* one bucket */
#define HIST_MIN_SECONDS   10				/* --history */
#define HIST_MAX_SECONDS   (24 * 3600)
#define HIST_DEFAULT_SECONDS 600
#define HIST_MAX_STACKS	   4096		/* distinct stacks per bucket, kind */
#define HIST_DEFAULT_HZ	   19		/* --continuous without =HZ */
#define HIST_SPAN_PIDS	   16		/* processes a span names */
#define HIST_DEFAULT_BUDGET (64ULL << 20)	/* --history-memory */
#define HIST_MIN_BUDGET	   (4ULL << 20)
#define HIST_MAX_BUDGET	   (1ULL << 40)
#define HIST_BUCKET_TRIGGERS 4		/* trigger names kept per bucket */

/* HIST_GROWTH: page faults since the recorder's last sample of the
 * thread, times the page size (as a growth window weighs them). */
enum hist_kind { HIST_CPU, HIST_WALL, HIST_GROWTH, HIST_NKINDS };

struct history;

/* Buckets kept for `seconds` of history: enough that the oldest still
 * covers the start while the newest fills. */
size_t history_buckets(unsigned seconds);

/* An empty ring for `seconds` of history (HIST_MIN_SECONDS..
 * HIST_MAX_SECONDS) within budget bytes (HIST_MIN_BUDGET..
 * HIST_MAX_BUDGET), at most max_stacks (HIST_MAX_STACKS, less in tests)
 * distinct stacks per bucket and kind, fewer when the budget asks for
 * it. NULL when out of memory. */
struct history *history_new(unsigned seconds, uint64_t budget,
			    size_t max_stacks);

/* Free h and every bucket. Accepts NULL. */
void history_free(struct history *h);

/* Begin a new bucket at (mono, wall ns since the epoch) when there is none
 * yet, when force is set, or when the current one began HIST_BUCKET_NS
 * ago or more; the oldest is dropped when the ring is full. The new
 * bucket names its PCs with the maps set last. 1: a bucket began, 0: not
 * yet, -ENOMEM (the current bucket goes on). */
int history_rotate(struct history *h, uint64_t mono, int64_t wall,
		   bool force);

/* Whether history_rotate(h, mono, .., false) would begin a bucket now. */
bool history_rotation_due(struct history *h, uint64_t mono);

/* The maps of generation gen (space_generation) name the current
 * bucket's PCs from now on, and those of the buckets to come; *ms is
 * taken over (emptied). */
void history_set_maps(struct history *h, uint64_t gen, struct modsnap *ms);

/* The process that recorded into h is gone and another is to go on (a
 * --match service's restart, registry.c): the current bucket is closed
 * with its maps, samples are dropped until the next history_rotate,
 * which begins a new bucket whatever its age, and the next maps set are
 * taken whatever their generation. */
void history_handover(struct history *h);

/* The process recording into h from now on (recorder_start): the
 * buckets it begins say so. */
void history_set_pid(struct history *h, pid_t pid);

/* Whether the maps set last are of generation gen. */
bool history_maps_are(struct history *h, uint64_t gen);

/* Add a sample to the current bucket's aggregate of kind k (see agg_add).
 * Nothing happens before the first history_rotate. -ENOMEM. */
int history_add(struct history *h, enum hist_kind k, pid_t tid,
		const char *comm, char state, const uint64_t *pcs, size_t n,
		int64_t value);

/* The merge of the buckets that overlap a span. */
struct history_span {
	struct agg *agg;	/* merged samples of the kind asked for */
	struct modsnap ms;	/* names every PC of agg: the newest
				   bucket's maps, plus older modules they
				   do not overlap */
	int64_t start, end;	/* wall ns: first bucket's start, last
				   bucket's end (now, for the current) */
	int64_t oldest;		/* wall ns the history begins at */
	size_t nbuckets;
	uint64_t dropped;	/* samples of stacks over the caps */
	pid_t pids[HIST_SPAN_PIDS];	/* the processes that recorded
					   the span (a --match service's
					   restarts), oldest first */
	size_t npids;
	size_t more_pids;	/* changes of process past pids[] */
	size_t max_stacks;	/* the cap per bucket and kind */
	bool cut;		/* buckets of the span asked for (or of the
				   --history duration when it began
				   before) were dropped for memory */
	uint64_t budget;	/* --history-memory */
	bool have_rss;		/* the RSS range of the buckets merged */
	uint64_t rss_min, rss_max;
};

/* Merge the kind-k aggregates of every bucket overlapping [from, to)
 * (wall ns; from INT64_MIN: all) into out; now: the wall clock, the
 * current bucket's end.
 * 0, -ERANGE when no bucket overlaps (out empty), -ENOMEM. */
int history_span(struct history *h, enum hist_kind k, int64_t from,
		 int64_t to, int64_t now, struct history_span *out);

/* Free what history_span filled. */
void history_span_free(struct history_span *sp);

/* Buckets held and distinct stacks in them (every kind), for /metrics. */
void history_counts(struct history *h, uint64_t *buckets, uint64_t *stacks);

/* The history's memory, for /metrics and /history/buckets. */
struct history_mem {
	uint64_t bytes, budget;		/* held now, and the bound */
	uint64_t evicted;		/* buckets dropped for memory */
	uint64_t max_stacks;		/* per bucket and kind */
	int64_t oldest;			/* wall ns of the oldest bucket's
					   start, 0: none */
};

void history_memory(struct history *h, struct history_mem *out);

/* ---- figures of each bucket --------------------------------------------- */

/* What the recorder read of the process during a bucket. */
struct hist_figures {
	bool have_rss;
	uint64_t rss_min, rss_max, rss_last;	/* bytes (statm) */
	bool have_cgroup, cgroup_has_limit;
	uint64_t cgroup_usage, cgroup_limit;	/* bytes, last reading */
	uint64_t cpu_ns;	/* utime + stime of the process used within
				   the bucket (/proc/PID/stat) */
	bool have_go;
	uint64_t go_heap_alloc;	/* a Go program's HeapAlloc, last reading */
};

/* A reading of the process into the current bucket: its RSS (when
 * have_rss) and cpu_ns of CPU time used since the previous reading.
 * Nothing happens before the first bucket or after a handover. */
void history_note_usage(struct history *h, bool have_rss, uint64_t rss,
			uint64_t cpu_ns);

/* The memory cgroup's usage and limit (has_limit false: none) into the
 * current bucket. */
void history_note_cgroup(struct history *h, uint64_t usage, uint64_t limit,
			 bool has_limit);

/* A Go program's heap (gort_memstats' heap_alloc) into the current
 * bucket. */
void history_note_go_heap(struct history *h, uint64_t heap_alloc);

/* Trigger `name` fired in the current bucket (the first
 * HIST_BUCKET_TRIGGERS names are kept, copied; all are counted).
 * -ENOMEM. */
int history_note_trigger(struct history *h, const char *name);

/* One bucket as history_list tells it. */
struct hist_bucket_info {
	int64_t start, end;		/* wall ns (end: now for the current) */
	pid_t pid;			/* the process that recorded it */
	bool current;			/* the one being filled */
	struct hist_figures fig;
	uint64_t samples[HIST_NKINDS], dropped[HIST_NKINDS];
	unsigned ntriggers;		/* fired, all of them */
	char triggers[HIST_BUCKET_TRIGGERS][64];	/* the first ones */
};

/* The buckets overlapping [from, to) (wall ns), oldest first, into *out
 * (malloc'd, the caller frees it; NULL when *n is 0); now: the current
 * bucket's end. 0, -ENOMEM. */
int history_list(struct history *h, int64_t from, int64_t to, int64_t now,
		 struct hist_bucket_info **out, size_t *n);

/* /history/buckets: the buckets overlapping [from, to) (history_list) as
 * JSON into *out (malloc'd, *len bytes, the caller's): the history's
 * memory, then per bucket its span, process, CPU time, samples and
 * dropped per kind, RSS, cgroup figures and triggers. pid and name say
 * whose history it is. 0, -ENOMEM. Any thread. */
int history_buckets_json(struct history *h, pid_t pid, const char *name,
			 int64_t from, int64_t to, int64_t now, char **out,
			 size_t *len);

/* ---- the recorder (the sampler thread's side) ---------------------------
 * struct target (sampler.h) holds the history, struct sampler
 * (sampler_int.h) the recorder's schedule. */

struct target;
struct thr;
struct slot;

/* Start recording t at hz: read the maps and the threads (their CPU time
 * so far is not the history's) and open the first bucket. */
void recorder_start(struct target *t, unsigned hz);

/* After a tick the recorder took part in: note new maps, begin a new
 * bucket when this one is over, and schedule the next tick (in 10 s when
 * ptrace was refused). now: CLOCK_MONOTONIC ns. */
void recorder_after_tick(struct target *t, uint64_t now);

/* The process exec'd: what was recorded so far is the old program's, the
 * next samples go to a new bucket. */
void recorder_cut(struct target *t);

#endif /* PROFD_DAEMON_HISTORY_H */
