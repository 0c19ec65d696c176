/* sorted - comparing and searching arrays sorted by a 64-bit field.
 *
 * Maps, symbol tables and perf maps are arrays sorted by start address,
 * searched for "the last entry that starts at or below an address". Pure;
 * any thread; never logs.
 */
#ifndef PROFD_COMMON_SORTED_H
#define PROFD_COMMON_SORTED_H

#include <stddef.h>
#include <stdint.h>

/* -1, 0 or 1 as a is below, equal to or above b (for qsort callbacks). */
static inline int
cmp_u64(uint64_t a, uint64_t b)
{
	return (a > b) - (a < b);
}

/* The index of the last of n elements (base, size bytes each) whose
 * uint64_t at byte offset off is <= key, or n when none is. The elements
 * are sorted by that field. */
size_t sorted_last_le(const void *base, size_t n, size_t size, size_t off,
		      uint64_t key);

#endif /* PROFD_COMMON_SORTED_H */
