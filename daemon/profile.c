/* profile.c - aggregation of one window's samples: (thread, stack) ->
 * count and value. A sample of a stack already seen allocates nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

static uint64_t
hash_stack(pid_t tid, char state, const uint64_t *pcs, size_t n)
{
	/* FNV-1a over the words, then a final mix */
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uint32_t)tid ^
		     ((uint64_t)(unsigned char)state << 32);
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= pcs[i];
		h *= 1099511628211ULL;
		h ^= h >> 29;
	}
	h ^= n;
	h *= 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 32);
}

struct agg *
agg_new(size_t max_entries)
{
	struct agg *a;

	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->nbuckets = 1024;
	a->buckets = calloc(a->nbuckets, sizeof(*a->buckets));
	if (!a->buckets) {
		free(a);
		return NULL;
	}
	a->max_entries = max_entries;
	return a;
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
	free(a->buckets);
	free(a->threads);
	free(a);
}

static int
grow(struct agg *a)
{
	struct agg_entry **nb, *e, *next;
	size_t i, nn = a->nbuckets * 2;

	nb = calloc(nn, sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	for (i = 0; i < a->nbuckets; i++) {
		for (e = a->buckets[i]; e; e = next) {
			next = e->next;
			e->next = nb[e->hash & (nn - 1)];
			nb[e->hash & (nn - 1)] = e;
		}
	}
	free(a->buckets);
	a->buckets = nb;
	a->nbuckets = nn;
	return 0;
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
		size_t nc = a->capthreads ? a->capthreads * 2 : 16;

		t = realloc(a->threads, nc * sizeof(*t));
		if (!t)
			return -ENOMEM;
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
	uint64_t h = hash_stack(tid, state, pcs, n);
	struct agg_entry *e;

	a->samples += (uint64_t)count;
	for (e = a->buckets[h & (a->nbuckets - 1)]; e; e = e->next) {
		if (e->hash == h && e->tid == tid && e->state == state &&
		    e->n == n &&
		    memcmp(e->pcs, pcs, n * sizeof(*pcs)) == 0) {
			e->count += count;
			e->value += value;
			return 0;
		}
	}
	if (a->nentries >= a->max_entries) {
		a->dropped += (uint64_t)count;
		return 0;
	}
	if (note_thread(a, tid, thread_name) < 0)
		return -ENOMEM;
	if (a->nlist == a->caplist) {
		size_t nc = a->caplist ? a->caplist * 2 : 256;
		struct agg_entry **nl = realloc(a->list, nc * sizeof(*nl));

		if (!nl)
			return -ENOMEM;
		a->list = nl;
		a->caplist = nc;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->pcs = malloc(n * sizeof(*pcs));
	if (!e->pcs) {
		free(e);
		return -ENOMEM;
	}
	memcpy(e->pcs, pcs, n * sizeof(*pcs));
	e->tid = tid;
	e->state = state;
	e->n = (uint32_t)n;
	e->count = count;
	e->value = value;
	e->hash = h;
	e->next = a->buckets[h & (a->nbuckets - 1)];
	a->buckets[h & (a->nbuckets - 1)] = e;
	a->list[a->nlist++] = e;
	a->nentries++;
	if (a->nentries > a->nbuckets * 2 && grow(a) < 0)
		return -ENOMEM;
	return 0;
}
