/* sorted.c - binary search of arrays sorted by a 64-bit field (sorted.h). */
#include <string.h>

#include "common/sorted.h"

static uint64_t
field(const void *base, size_t i, size_t size, size_t off)
{
	uint64_t v;

	memcpy(&v, (const unsigned char *)base + i * size + off, sizeof(v));
	return v;
}

size_t
sorted_last_le(const void *base, size_t n, size_t size, size_t off,
	       uint64_t key)
{
	size_t lo = 0, hi = n;

	if (n == 0 || field(base, 0, size, off) > key)
		return n;
	/* field(lo) <= key, and everything from hi on is above it */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (field(base, mid, size, off) <= key)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}
