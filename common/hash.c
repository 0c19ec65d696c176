/* hash.c - the one hash table of profd (see hash.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"

#define HTAB_MIN_CAP 16

static size_t
cap_for(size_t n)
{
	size_t cap = HTAB_MIN_CAP;

	while (cap / 2 < n && cap < SIZE_MAX / 4)
		cap *= 2;
	return cap;
}

int
htab_init(struct htab *t, size_t expected, size_t max)
{
	memset(t, 0, sizeof(*t));
	t->max = max;
	if (expected == 0)
		return 0;
	t->cap = cap_for(expected);
	t->slot = calloc(t->cap, sizeof(*t->slot));
	if (!t->slot) {
		t->cap = 0;
		return -ENOMEM;
	}
	return 0;
}

void
htab_free(struct htab *t)
{
	free(t->slot);
	t->slot = NULL;
	t->cap = 0;
	t->n = 0;
}

void
htab_reset(struct htab *t)
{
	if (t->slot)
		memset(t->slot, 0, t->cap * sizeof(*t->slot));
	t->n = 0;
}

uint64_t
htab_find(const struct htab *t, uint64_t hash, htab_eq_fn *eq,
	  const void *ctx, const void *key)
{
	size_t i, mask;

	if (t->n == 0)
		return 0;
	mask = t->cap - 1;
	for (i = hash & mask; t->slot[i].id != 0; i = (i + 1) & mask) {
		if (t->slot[i].hash == hash &&
		    (!eq || eq(ctx, t->slot[i].id, key)))
			return t->slot[i].id;
	}
	return 0;
}

/* Put (hash, id) in the first free slot of its probe sequence. */
static void
place(struct htab_slot *slot, size_t cap, uint64_t hash, uint64_t id)
{
	size_t i, mask = cap - 1;

	for (i = hash & mask; slot[i].id != 0; i = (i + 1) & mask)
		;
	slot[i].hash = hash;
	slot[i].id = id;
}

static int
grow(struct htab *t)
{
	size_t ncap = t->cap ? t->cap * 2 : HTAB_MIN_CAP, i;
	struct htab_slot *ns;

	if (ncap < t->cap)
		return -ENOMEM;
	ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (i = 0; i < t->cap; i++)
		if (t->slot[i].id != 0)
			place(ns, ncap, t->slot[i].hash, t->slot[i].id);
	free(t->slot);
	t->slot = ns;
	t->cap = ncap;
	return 0;
}

int
htab_add(struct htab *t, uint64_t hash, uint64_t id)
{
	int r;

	if (id == 0)
		return -EINVAL;
	if (t->max && t->n >= t->max)
		return -ENOSPC;
	if ((t->n + 1) * 2 > t->cap && (r = grow(t)) < 0)
		return r;
	place(t->slot, t->cap, hash, id);
	t->n++;
	return 0;
}

uint64_t
hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

uint64_t
hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a 64 offset basis */
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;		/* FNV-1a 64 prime */
	}
	return hash_u64(h ^ n);
}

uint64_t
hash_add(uint64_t h, uint64_t v)
{
	return hash_u64(h ^ hash_u64(v + 0x9e3779b97f4a7c15ULL));
}
