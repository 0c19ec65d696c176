/* test_hash - the one hash table (common/hash.c): ids found again after
 * many adds and growths, callers' keys compared through the callback,
 * colliding hashes kept apart, the cap, reset, and the hash functions. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "tests/unit/check.h"

static const char *words[] = {
	"main", "hotA", "hotB", "__GI___qsort_r", "runtime.goexit", "",
	"a", "b", "ab", "ba",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static bool
word_eq(const void *ctx, uint64_t id, const void *key)
{
	const char *const *w = ctx;

	return strcmp(w[id - 1], key) == 0;
}

/* Every key hashes to 42: only the callback tells them apart. */
static bool
int_eq(const void *ctx, uint64_t id, const void *key)
{
	const int *v = ctx;

	return v[id - 1] == *(const int *)key;
}

int
main(void)
{
	struct htab t = { 0 }, c;
	struct htab_slot *s;
	size_t i, found, seen;
	int vals[100], k;
	bool all;

	/* a set of 100000 PCs: hash_u64 is a bijection, no callback */
	all = true;
	for (i = 1; i <= 100000; i++)
		if (htab_add(&t, hash_u64(i * 16), 1) < 0)
			all = false;
	CHECK(all, "100000 adds into a zeroed table");
	CHECK_EQ_INT(t.n, 100000, "count");
	CHECK(t.cap >= 2 * t.n, "load at most one half");
	found = 0;
	for (i = 1; i <= 100000; i++)
		found += htab_find(&t, hash_u64(i * 16), NULL, NULL, NULL) == 1;
	CHECK_EQ_INT(found, 100000, "every PC found after the growths");
	found = 0;
	for (i = 1; i <= 100000; i++)
		found += htab_find(&t, hash_u64(i * 16 + 8), NULL, NULL, NULL) != 0;
	CHECK_EQ_INT(found, 0, "no PC that was not added");
	seen = 0;
	HTAB_FOREACH(&t, s)
		seen++;
	CHECK_EQ_INT(seen, 100000, "HTAB_FOREACH visits each once");
	htab_reset(&t);
	CHECK_EQ_INT(t.n, 0, "reset empties");
	CHECK_EQ_INT(htab_find(&t, hash_u64(16), NULL, NULL, NULL), 0,
		     "nothing found after reset");
	CHECK(t.slot != NULL, "reset keeps the memory");
	htab_free(&t);
	CHECK(t.slot == NULL && t.cap == 0, "free");

	/* strings kept by the caller, ids = index + 1 */
	CHECK_EQ_INT(htab_init(&t, NWORDS, 0), 0, "init");
	for (i = 0; i < NWORDS; i++)
		htab_add(&t, hash_bytes(words[i], strlen(words[i])), i + 1);
	all = true;
	for (i = 0; i < NWORDS; i++) {
		char copy[64];

		snprintf(copy, sizeof(copy), "%s", words[i]);
		if (htab_find(&t, hash_bytes(copy, strlen(copy)), word_eq,
			      words, copy) != i + 1)
			all = false;
	}
	CHECK(all, "every string found by value, not by pointer");
	CHECK_EQ_INT(htab_find(&t, hash_bytes("hot", 3), word_eq, words, "hot"),
		     0, "a string not added");
	CHECK(hash_bytes("ab", 2) != hash_bytes("ba", 2), "byte order counts");
	htab_free(&t);

	/* all hashes equal: the callback decides */
	htab_init(&c, 0, 50);
	for (k = 0; k < 100; k++)
		vals[k] = k * 7;
	all = true;
	for (k = 0; k < 50; k++)
		if (htab_add(&c, 42, (uint64_t)k + 1) < 0)
			all = false;
	CHECK(all, "50 ids under one hash");
	CHECK_EQ_INT(htab_add(&c, 42, 51), -ENOSPC, "past the cap: -ENOSPC");
	CHECK_EQ_INT(c.n, 50, "the cap leaves the table unchanged");
	CHECK_EQ_INT(htab_add(&c, 7, 0), -EINVAL, "id 0 refused");
	k = 49 * 7;
	CHECK_EQ_INT(htab_find(&c, 42, int_eq, vals, &k), 50,
		     "the callback finds the right one of colliding keys");
	k = 3;
	CHECK_EQ_INT(htab_find(&c, 42, int_eq, vals, &k), 0,
		     "colliding hash, key absent");
	htab_free(&c);

	CHECK(hash_add(hash_add(1, 2), 3) != hash_add(hash_add(1, 3), 2),
	      "hash_add: order counts");
	CHECK(hash_u64(0) == 0 && hash_u64(1) != 1, "hash_u64 mixes");
	return check_report();
}
