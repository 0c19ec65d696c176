/* fuzz_gomem - what gort/mem.c makes of a Go runtime's memory, which a
 * target controls entirely (gort_memstats, gort_heap_profile). The input
 * is that memory: it fills an arena in this process, which the harness
 * reads as a target reads (process_vm_readv on itself) at go1.19's
 * offsets (gort/table.c): runtime.memstats at the arena's start, then
 * gcController, class_to_size, allp, mbuckets, mProfCycle and
 * MemProfileRate at fixed places, the rest free for what they point to.
 * A word whose top 16 bits are 0xa5a5 is made a pointer into the arena
 * (its low 16 bits the offset), so that inputs can build mcaches, spans
 * and bucket lists; any other word points where it points (mostly
 * nowhere, which must be an error, not a crash). Whatever comes back is
 * used: every record's stack is read.
 */
#include "tests/fuzz/fuzz.h"

#include "gort/gort_int.h"

#include <errno.h>
#include <unistd.h>

#define ARENA		(64 << 10)
#define AT_MEMSTATS	0
#define AT_GCC		13568
#define AT_CLASSES	14016
#define AT_ALLP		14160
#define AT_MBUCKETS	14192
#define AT_CYCLE	14200
#define AT_RATE		14208

static uint64_t arena[ARENA / 8];
static struct gort_info gi;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct gort_table *t = gort_table_find(1, 19);
	uint64_t base = (uint64_t)(uintptr_t)arena;
	size_t i;

	(void)argc;
	(void)argv;
	for (i = 0; i < GORT_NFIELDS; i++)
		gi.off[i] = GORT_NONE;
	if (!t)
		abort();
	for (i = 0; i < t->nfields; i++)
		gi.off[t->fields[i].id] = t->fields[i].off;
	FUZZ_ASSERT(gi.off[GORT_F_MSTATS_SIZE] <= AT_GCC &&
			    gi.off[GORT_F_GCC_SIZE] <= AT_CLASSES - AT_GCC,
		    "go1.19's memstats and gcController fit their places");
	gi.global[GORT_G_MEMSTATS] = base + AT_MEMSTATS;
	gi.global[GORT_G_GCCONTROLLER] = base + AT_GCC;
	gi.global[GORT_G_CLASS_TO_SIZE] = base + AT_CLASSES;
	gi.global[GORT_G_ALLP] = base + AT_ALLP;
	gi.global[GORT_G_MBUCKETS] = base + AT_MBUCKETS;
	gi.global[GORT_G_MPROFCYCLE] = base + AT_CYCLE;
	gi.global[GORT_G_MEMPROFRATE] = base + AT_RATE;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t base = (uint64_t)(uintptr_t)arena;
	struct gort_mem m;
	struct gort_heap h;
	char err[256];
	volatile uint64_t sum = 0;
	size_t i, j;
	int e;

	memset(arena, 0, sizeof(arena));
	memcpy(arena, data, size < sizeof(arena) ? size : sizeof(arena));
	for (i = 0; i < ARENA / 8; i++)
		if (arena[i] >> 48 == 0xa5a5)
			arena[i] = base + (arena[i] & (ARENA - 8));
	e = gort_memstats(getpid(), 0, &gi, &m, err, sizeof(err));
	FUZZ_ASSERT(e == 0 || e == -EFAULT || e == -ENOMEM, "memstats %d",
		    e);
	if (e < 0)
		fuzz_touch(err);
	else
		sum += m.heap_alloc + m.next_gc;
	e = gort_heap_profile(getpid(), 0, &gi, &h, err, sizeof(err));
	FUZZ_ASSERT(e == 0 || e == -EFAULT || e == -ENOENT || e == -ENOMEM,
		    "heap profile %d", e);
	if (e < 0) {
		fuzz_touch(err);
		FUZZ_ASSERT(!h.v && !h.pcs && !h.n, "nothing kept on failure");
		return 0;
	}
	FUZZ_ASSERT(h.n <= GORT_HEAP_MAX_BUCKETS, "%zu buckets", h.n);
	for (i = 0; i < h.n; i++) {
		FUZZ_ASSERT(h.v[i].nstk <= GORT_HEAP_MAX_STACK, "nstk %zu",
			    h.v[i].nstk);
		for (j = 0; j < h.v[i].nstk; j++)
			sum += h.v[i].stk[j];
	}
	gort_heap_free(&h);
	(void)sum;
	return 0;
}
