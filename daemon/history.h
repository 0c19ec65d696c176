/* history.h - continuous mode's flight recorder (history.c): per target, a
 * ring of fixed-length time buckets, each with a CPU-weighted, a
 * wall-weighted and a growth-weighted (page faults) aggregate of the
 * samples the recorder took in it and the
 * module snapshot that names their PCs; and the recorder itself, which
 * runs beside the sessions on the target's sampler thread.
 *
 * Memory is bounded: at most history_buckets(seconds) buckets, each with
 * at most max_stacks distinct stacks per kind (a stack is an agg_entry and
 * its PCs, the index and allocator overhead: at most 128 + 8 x frames
 * bytes, frames <= PROFD_MAX_FRAMES). Samples of
 * a stack that does not fit are counted as dropped.
 *
 * Ownership: history_new's caller owns the history (history_free). A
 * modsnap given to history_set_maps becomes the history's. What
 * history_span fills belongs to the caller (history_span_free).
 * Threads: the ring (history_*) has its own lock: the sampler thread
 * adds, rotates and sets maps, any thread (HTTP workers, /metrics) reads
 * spans and counts. The recorder_* functions run on the target's sampler
 * thread only, without t->mu or t->space_mu held.
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

/* HIST_GROWTH: page faults since the recorder's last sample of the
 * thread, times the page size (as a growth window weighs them). */
enum hist_kind { HIST_CPU, HIST_WALL, HIST_GROWTH, HIST_NKINDS };

struct history;

/* Buckets kept for `seconds` of history: enough that the oldest still
 * covers the start while the newest fills. */
size_t history_buckets(unsigned seconds);

/* An empty ring for `seconds` of history (HIST_MIN_SECONDS..
 * HIST_MAX_SECONDS), max_stacks distinct stacks per bucket and kind. NULL
 * when out of memory. */
struct history *history_new(unsigned seconds, size_t max_stacks);

/* Free h and every bucket. Accepts NULL. */
void history_free(struct history *h);

/* Begin a new bucket at (mono, wall ns since the epoch) when there is none
 * yet, when force is set, or when the current one began HIST_BUCKET_NS
 * ago or more; the oldest is dropped when the ring is full. The new
 * bucket names its PCs with the maps set last. 1: a bucket began, 0: not
 * yet, -ENOMEM (the current bucket goes on). */
int history_rotate(struct history *h, uint64_t mono, int64_t wall,
		   bool force);

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
 * current bucket, unless history_handover sealed it, and those to come
 * are pid's. */
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
};

/* Merge the kind-k aggregates of every bucket overlapping [from, to)
 * (wall ns) into out; now: the wall clock, the current bucket's end.
 * 0, -ERANGE when no bucket overlaps (out empty), -ENOMEM. */
int history_span(struct history *h, enum hist_kind k, int64_t from,
		 int64_t to, int64_t now, struct history_span *out);

/* Free what history_span filled. */
void history_span_free(struct history_span *sp);

/* Buckets held and distinct stacks in them (every kind), for /metrics. */
void history_counts(struct history *h, uint64_t *buckets, uint64_t *stacks);

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
