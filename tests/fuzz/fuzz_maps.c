/* fuzz_maps - /proc/PID/maps text (space/maps.c: pmaps_parse,
 * pmaps_find). The kernel writes it, but the paths in it are the
 * target's: any bytes but NUL and '\n', " (deleted)" included. */
#include "tests/fuzz/fuzz.h"

#include "space/space.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
find(const struct pmaps *m, uint64_t addr)
{
	const struct pmap *p = pmaps_find(m, addr);

	if (!p)
		return;
	FUZZ_ASSERT(p >= m->v && p < m->v + m->n,
		    "pmaps_find: entry outside the array");
	FUZZ_ASSERT(addr >= p->start && addr < p->end,
		    "pmaps_find(%#llx): [%#llx, %#llx) does not hold it",
		    (unsigned long long)addr, (unsigned long long)p->start,
		    (unsigned long long)p->end);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pmaps m = { 0 };
	char err[SPACE_ERRLEN];
	size_t i;

	if (pmaps_parse((const char *)data, size, &m, err, sizeof(err)) < 0) {
		fuzz_touch(err);
		FUZZ_ASSERT(m.v == NULL && m.n == 0, "failed parse left %zu",
			    m.n);
		return 0;
	}
	for (i = 0; i < m.n; i++) {
		const struct pmap *p = &m.v[i];

		FUZZ_ASSERT(p->start <= p->end, "line %zu: end below start",
			    i);
		FUZZ_ASSERT(i == 0 || m.v[i - 1].start <= p->start,
			    "entry %zu: not sorted", i);
		fuzz_touch(p->path);
		find(&m, p->start);
		find(&m, p->end);
		find(&m, p->start + (p->end - p->start) / 2);
		if (p->end > p->start)
			find(&m, p->end - 1);
		if (i >= 16)
			break;
	}
	find(&m, 0);
	find(&m, UINT64_MAX);
	pmaps_free(&m);
	FUZZ_ASSERT(m.v == NULL && m.n == 0, "pmaps_free left entries");
	return 0;
}
