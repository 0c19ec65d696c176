/* hash - the one hash table of profd, and the hash functions it uses.
 *
 * struct htab maps a 64-bit hash to a caller's id (an index + 1, a
 * location id...). The keys themselves stay with the caller: a lookup
 * compares candidates through an equality callback, so one table serves
 * strings, stacks and functions alike. Where the hash is a bijection of
 * the key (hash_u64 of a 64-bit key), no callback is needed: equal
 * hashes are equal keys, and a set of PCs or a PC -> id map stores
 * nothing but the slots.
 *
 * Open addressing with linear probing, a power-of-two capacity, and a load
 * of at most one half. Ids are never 0 (0 marks an empty slot and "not
 * found"). Entries cannot be removed one by one: htab_reset() empties the
 * table and keeps its memory.
 *
 * Ownership: the caller owns the struct htab (zeroed, or set by
 * htab_init) and frees it with htab_free. Threads: none of its own; the
 * caller serialises. Errors: -ENOMEM, or -ENOSPC past the cap given to
 * htab_init; the table is unchanged then. Never logs.
 */
#ifndef PROFD_COMMON_HASH_H
#define PROFD_COMMON_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct htab_slot {
	uint64_t hash;
	uint64_t id;		/* 0: empty */
};

struct htab {
	struct htab_slot *slot;	/* cap slots, NULL until the first add */
	size_t cap;		/* 0 or a power of two */
	size_t n;		/* ids stored */
	size_t max;		/* most ids htab_add accepts; 0: no cap */
};

/* Does the caller's key KEY equal the key stored under ID? */
typedef bool htab_eq_fn(const void *ctx, uint64_t id, const void *key);

/* An empty table sized for EXPECTED ids without growing, holding at most
 * MAX ids (0: no cap). A zeroed struct htab is also a valid empty table
 * without a cap. -ENOMEM. */
int htab_init(struct htab *t, size_t expected, size_t max);
void htab_free(struct htab *t);
/* Forget every id; the memory stays for the next use. */
void htab_reset(struct htab *t);

/* The id stored for KEY under HASH, or 0. EQ NULL: equal hashes are equal
 * keys (the hash is a bijection of the key). */
uint64_t htab_find(const struct htab *t, uint64_t hash, htab_eq_fn *eq,
		   const void *ctx, const void *key);
/* Store ID (non-zero) under HASH. The caller has checked with htab_find
 * that the key is absent. -ENOMEM, -ENOSPC (the cap), -EINVAL (ID 0). */
int htab_add(struct htab *t, uint64_t hash, uint64_t id);

/* for (HTAB_FOREACH(t, s)) is not it: HTAB_FOREACH(t, s) { ... } runs the
 * block for every used slot s (a struct htab_slot *), in slot order. */
#define HTAB_FOREACH(t, s)						\
	for ((s) = (t)->slot; (t)->slot && (s) < (t)->slot + (t)->cap; (s)++) \
		if ((s)->id != 0)

/* ---- hash functions -------------------------------------------------- */

/* A bijective mix of a 64-bit value (splitmix64's finalizer): distinct
 * keys have distinct hashes, so tables keyed by it need no callback. */
uint64_t hash_u64(uint64_t x);
/* FNV-1a over N bytes, then mixed. */
uint64_t hash_bytes(const void *p, size_t n);
/* Fold V into the running hash H (order matters). Start from any seed. */
uint64_t hash_add(uint64_t h, uint64_t v);

#endif /* PROFD_COMMON_HASH_H */
