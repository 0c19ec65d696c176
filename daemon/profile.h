/* profile.h - aggregation of one window's samples (profile.c): (thread,
 * state, stack) -> count and value. A sample of a stack already seen
 * allocates nothing.
 *
 * Ownership: the caller owns the struct agg (agg_new/agg_free); entries,
 * their PCs and thread names belong to it. Threads: none of its own; one
 * thread at a time (the sampler while the window is open, then the
 * exporting worker). Errors: -ENOMEM, NULL from agg_new. Never logs.
 */
#ifndef PROFD_PROFILE_H
#define PROFD_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/hash.h"

/* Stacks of one window, aggregated by (thread, state, PCs). */
struct agg_entry {
	pid_t tid;
	char state;		/* thread state letter, 0 when not a label */
	uint32_t n;		/* frames */
	int64_t count;		/* samples */
	int64_t value;		/* cpu or wall ns */
	uint64_t hash;		/* of (tid, state, PCs); also orders equal
				   counts in debug=1 thread dumps */
	uint64_t *pcs;		/* n PCs, leaf first; 0 = [truncated] */
};

struct agg_thread {
	pid_t tid;
	char name[16];
};

struct agg {
	struct htab index;	/* hash -> index in list + 1 */
	size_t max_entries;
	struct agg_entry **list;	/* insertion order, for export */
	size_t nlist, caplist;
	struct agg_thread *threads;	/* names by tid */
	size_t nthreads, capthreads;
	uint64_t samples, dropped;
	size_t bytes;		/* heap held, see agg_max_bytes */
};

/* What malloc adds to each block it hands out, as agg.bytes counts it
 * (glibc: 8 bytes of header, 16-byte alignment). */
#define AGG_MALLOC_OVERHEAD 16

/* The most heap an aggregate of k distinct stacks of at most n frames
 * each can hold, as agg.bytes counts it: the struct, per stack its entry
 * and PC array, and the list, index and thread names, which double when
 * full (the index is at most half full) from their first sizes. Pure,
 * any thread. */
size_t agg_max_bytes(size_t k, size_t n);

/* An empty aggregate that keeps at most max_entries distinct stacks; its
 * index is allocated at the first add, so an empty one holds only
 * sizeof(struct agg). NULL when out of memory. */
struct agg *agg_new(size_t max_entries);

/* Free a and everything in it. Accepts NULL. */
void agg_free(struct agg *a);

/* Add count/value to the (tid, state, pcs) entry; pcs is copied. When
 * max_entries distinct stacks are reached, new stacks are counted in
 * a.dropped. a.bytes follows what it allocates. -ENOMEM (the sample is
 * then counted in a.samples only). */
int agg_add(struct agg *a, pid_t tid, const char *thread_name, char state,
	    const uint64_t *pcs, size_t n, int64_t count, int64_t value);

/* The last name seen for tid, owned by a; "" when unknown. */
const char *agg_thread_name(const struct agg *a, pid_t tid);

#endif /* PROFD_PROFILE_H */
