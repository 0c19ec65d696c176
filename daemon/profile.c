/* profile.c - aggregation of one window's samples: (thread, stack) ->
 * count and value. A sample of a stack already seen allocates nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "daemon/profile.h"

/* The hash of a (tid, state, stack) key. */
static uint64_t
hash_stack(pid_t tid, char state, const uint64_t *pcs, size_t n)
{
	uint64_t h = hash_add(hash_u64((uint64_t)(uint32_t)tid),
			      (uint64_t)(unsigned char)state |
				      (uint64_t)n << 8);
	size_t i;

	for (i = 0; i < n; i++)
		h = hash_add(h, pcs[i]);
	return h;
}

/* The key agg_add looks up: the new sample's. */
struct stack_key {
	pid_t tid;
	char state;
	size_t n;
	const uint64_t *pcs;
};

/* htab_eq_fn: does entry id (index in a->list + 1) hold the key? */
static bool
stack_eq(const void *ctx, uint64_t id, const void *key)
{
	const struct agg *a = ctx;
	const struct stack_key *k = key;
	const struct agg_entry *e = a->list[id - 1];

	return e->tid == k->tid && e->state == k->state && e->n == k->n &&
	       memcmp(e->pcs, k->pcs, k->n * sizeof(*k->pcs)) == 0;
}

struct agg *
agg_new(size_t max_entries)
{
	struct agg *a;

	/* a zeroed index is a valid empty one: no slots until the first
	 * add, so that the history's many small buckets cost little */
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->max_entries = max_entries;
	a->bytes = sizeof(*a) + AGG_MALLOC_OVERHEAD;
	return a;
}

/* First sizes of an aggregate's list and thread table (agg_add). */
#define LIST_FIRST 256
#define THREADS_FIRST 16

/* Room for k items in an array that starts at first and doubles. */
static size_t
doubled(size_t k, size_t first)
{
	return k <= first ? first : 2 * k;
}

size_t
agg_max_bytes(size_t k, size_t n)
{
	size_t slots = 2 * k <= 16 ? 16 : 4 * k;	/* HTAB_MIN_CAP */

	return sizeof(struct agg) +
	       k * (sizeof(struct agg_entry) + n * sizeof(uint64_t) +
		    2 * AGG_MALLOC_OVERHEAD) +
	       doubled(k, LIST_FIRST) * sizeof(struct agg_entry *) +
	       slots * sizeof(struct htab_slot) +
	       doubled(k, THREADS_FIRST) * sizeof(struct agg_thread) +
	       4 * AGG_MALLOC_OVERHEAD;
}

void
agg_free(struct agg *a)
{
	size_t i;

	if (!a)
		return;
	for (i = 0; i < a->nlist; i++) {
		free(a->list[i]->pcs);
		free(a->list[i]);
	}
	free(a->list);
	htab_free(&a->index);
	free(a->threads);
	free(a);
}

static int
note_thread(struct agg *a, pid_t tid, const char *name)
{
	struct agg_thread *t;
	size_t i;

	for (i = a->nthreads; i > 0; i--) {
		t = &a->threads[i - 1];
		if (t->tid == tid) {
			if (strcmp(t->name, name) != 0)
				snprintf(t->name, sizeof(t->name), "%s", name);
			return 0;
		}
	}
	if (a->nthreads == a->capthreads) {
		size_t nc = a->capthreads ? a->capthreads * 2
					    : THREADS_FIRST;

		t = realloc(a->threads, nc * sizeof(*t));
		if (!t)
			return -ENOMEM;
		a->bytes += (nc - a->capthreads) * sizeof(*t) +
			    (a->capthreads ? 0 : AGG_MALLOC_OVERHEAD);
		a->threads = t;
		a->capthreads = nc;
	}
	t = &a->threads[a->nthreads++];
	t->tid = tid;
	snprintf(t->name, sizeof(t->name), "%s", name);
	return 0;
}

const char *
agg_thread_name(const struct agg *a, pid_t tid)
{
	size_t i;

	for (i = 0; i < a->nthreads; i++)
		if (a->threads[i].tid == tid)
			return a->threads[i].name;
	return "";
}

int
agg_add(struct agg *a, pid_t tid, const char *thread_name, char state,
	const uint64_t *pcs, size_t n, int64_t count, int64_t value)
{
	struct stack_key k = { tid, state, n, pcs };
	uint64_t h = hash_stack(tid, state, pcs, n), id;
	struct agg_entry *e;
	size_t icap;

	a->samples += (uint64_t)count;
	id = htab_find(&a->index, h, stack_eq, a, &k);
	if (id) {
		e = a->list[id - 1];
		e->count += count;
		e->value += value;
		return 0;
	}
	if (a->nlist >= a->max_entries) {
		a->dropped += (uint64_t)count;
		return 0;
	}
	if (note_thread(a, tid, thread_name) < 0)
		return -ENOMEM;
	if (a->nlist == a->caplist) {
		size_t nc = a->caplist ? a->caplist * 2 : LIST_FIRST;
		struct agg_entry **nl = realloc(a->list, nc * sizeof(*nl));

		if (!nl)
			return -ENOMEM;
		a->bytes += (nc - a->caplist) * sizeof(*nl) +
			    (a->caplist ? 0 : AGG_MALLOC_OVERHEAD);
		a->list = nl;
		a->caplist = nc;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->pcs = malloc(n * sizeof(*pcs));
	icap = a->index.cap;
	if (!e->pcs || htab_add(&a->index, h, a->nlist + 1) < 0) {
		free(e->pcs);
		free(e);
		return -ENOMEM;
	}
	a->bytes += (a->index.cap - icap) * sizeof(struct htab_slot) +
		    (icap ? 0 : AGG_MALLOC_OVERHEAD) + sizeof(*e) +
		    n * sizeof(*pcs) + 2 * AGG_MALLOC_OVERHEAD;
	memcpy(e->pcs, pcs, n * sizeof(*pcs));
	e->tid = tid;
	e->state = state;
	e->n = (uint32_t)n;
	e->count = count;
	e->value = value;
	e->hash = h;
	a->list[a->nlist++] = e;
	return 0;
}
