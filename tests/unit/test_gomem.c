/* test_gomem - gort/mem.c against a Go runtime laid out by hand in this
 * process's own memory (process_vm_readv reads oneself as any target):
 * the figures readmemstats_m would compute, the mcache flush, the heap
 * goal with and without a memory limit, MemProfile's cycles, and garbage
 * (random bytes, a bucket list that loops) that must give an error or a
 * bounded answer, never a crash.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gort/gort.h"
#include "tests/unit/check.h"

/* The made-up layout: 4 size classes, 8 span classes. */
enum {
	NC = 4,
	HSD_SIZE = 112,
	MS_GEN = 3 * HSD_SIZE,
	MS_NUMGC = MS_GEN + 4,
	MS_SIZE = MS_NUMGC + 8,
	MC_ALLOC = 8,
	MC_SIZE = MC_ALLOC + 2 * NC * 8 + 8,
	B_SIZE = 48,
	MR_SIZE = 128,
};

static uint64_t memstats[MS_SIZE / 8], gcc[8], pstruct[2], mcache[MC_SIZE / 8];
static uint64_t allp[2], pslice[3], mbuckets, rate;
static uint32_t cycle;
static uint16_t class_to_size[NC] = { 0, 8, 16, 32 };
static uint16_t span1[4], span2[4], emptyspan[4];
static uint64_t b1[(B_SIZE + 2 * 8 + MR_SIZE) / 8];
static uint64_t b2[(B_SIZE + 1 * 8 + MR_SIZE) / 8];

#define ADDR(x) ((uint64_t)(uintptr_t)(x))

static void
layout(struct gort_info *gi)
{
	uint32_t *o = gi->off;
	size_t i;

	memset(gi, 0, sizeof(*gi));
	for (i = 0; i < GORT_NFIELDS; i++)
		o[i] = GORT_NONE;
	snprintf(gi->version, sizeof(gi->version), "go1.19.8");
	o[GORT_F_HSD_INHEAP] = 0;
	o[GORT_F_HSD_TINY] = 8;
	o[GORT_F_HSD_LARGEALLOC] = 16;
	o[GORT_F_HSD_LARGEALLOCN] = 24;
	o[GORT_F_HSD_SMALLALLOCN] = 32;
	o[GORT_F_HSD_LARGEFREE] = 32 + NC * 8;
	o[GORT_F_HSD_LARGEFREEN] = 40 + NC * 8;
	o[GORT_F_HSD_SMALLFREEN] = 48 + NC * 8;
	o[GORT_F_HSD_SIZE] = HSD_SIZE;
	o[GORT_F_MSTATS_STATS] = 0;
	o[GORT_F_MSTATS_GEN] = MS_GEN;
	o[GORT_F_MSTATS_NUMGC] = MS_NUMGC;
	o[GORT_F_MSTATS_SIZE] = MS_SIZE;
	o[GORT_F_GCC_PERCENT] = 0;
	o[GORT_F_GCC_MEMLIMIT] = 8;
	o[GORT_F_GCC_PCTGOAL] = 16;
	o[GORT_F_GCC_SWEEPDIST] = 24;
	o[GORT_F_GCC_TRIGGERED] = 32;
	o[GORT_F_GCC_HEAPMARKED] = 40;
	o[GORT_F_GCC_HEAPFREE] = 48;
	o[GORT_F_GCC_MAPPED] = 56;
	o[GORT_F_GCC_SIZE] = 64;
	o[GORT_F_P_MCACHE] = 8;
	o[GORT_F_MCACHE_TINYN] = 0;
	o[GORT_F_MCACHE_ALLOC] = MC_ALLOC;
	o[GORT_F_MCACHE_STACKCACHE] = MC_ALLOC + 2 * NC * 8;
	o[GORT_F_MCACHE_SIZE] = MC_SIZE;
	o[GORT_F_SPAN_ALLOCN] = 0;
	o[GORT_F_SPAN_ALLOCN0] = 2;
	o[GORT_F_BUCKET_ALLNEXT] = 8;
	o[GORT_F_BUCKET_TYP] = 16;
	o[GORT_F_BUCKET_SIZEF] = 32;
	o[GORT_F_BUCKET_NSTK] = 40;
	o[GORT_F_BUCKET_SIZE] = B_SIZE;
	o[GORT_F_MEMREC_ACTIVE] = 0;
	o[GORT_F_MEMREC_FUTURE] = 32;
	o[GORT_F_MEMREC_SIZE] = MR_SIZE;
	o[GORT_F_MRC_ALLOCS] = 0;
	o[GORT_F_MRC_FREES] = 8;
	o[GORT_F_MRC_ALLOCB] = 16;
	o[GORT_F_MRC_FREEB] = 24;
	o[GORT_F_MRC_SIZE] = 32;
	gi->global[GORT_G_MEMSTATS] = ADDR(memstats);
	gi->global[GORT_G_GCCONTROLLER] = ADDR(gcc);
	gi->global[GORT_G_CLASS_TO_SIZE] = ADDR(class_to_size);
	gi->global[GORT_G_ALLP] = ADDR(pslice);
	gi->global[GORT_G_MBUCKETS] = ADDR(&mbuckets);
	gi->global[GORT_G_MPROFCYCLE] = ADDR(&cycle);
	gi->global[GORT_G_MEMPROFRATE] = ADDR(&rate);
}

/* heapStatsDelta k's word at off. */
static uint64_t *
hsd(size_t k, uint32_t off)
{
	return &memstats[(k * HSD_SIZE + off) / 8];
}

static void
fill_stats(void)
{
	memset(memstats, 0, sizeof(memstats));
	*hsd(0, 0) = 8192;			/* inHeap */
	*hsd(0, 8) = 5;				/* tiny */
	*hsd(0, 16) = 1000;			/* largeAlloc */
	*hsd(0, 24) = 2;
	*hsd(0, 32 + 1 * 8) = 10;		/* smallAllocCount[1] */
	*hsd(0, 32 + NC * 8) = 500;		/* largeFree */
	*hsd(0, 40 + NC * 8) = 1;
	*hsd(0, 48 + NC * 8 + 1 * 8) = 4;	/* smallFreeCount[1] */
	*hsd(1, 0) = 4096;
	*hsd(1, 32 + 2 * 8) = 3;		/* smallAllocCount[2] */
	memcpy((char *)memstats + MS_NUMGC, &(uint32_t){ 7 }, 4);
	/* one P, its mcache: 7 tiny allocations, 4 slots of class 1 taken
	 * since the span was cached, none from class 2's */
	memset(mcache, 0, sizeof(mcache));
	mcache[0] = 7;
	span1[0] = 6;
	span1[1] = 2;
	span2[0] = 1;
	span2[1] = 1;
	for (size_t i = 0; i < 2 * NC; i++)
		mcache[MC_ALLOC / 8 + i] = ADDR(emptyspan);
	mcache[MC_ALLOC / 8 + 2] = ADDR(span1);	/* spanClass 2: class 1 */
	mcache[MC_ALLOC / 8 + 5] = ADDR(span2);	/* spanClass 5: class 2 */
	pstruct[1] = ADDR(mcache);
	allp[0] = ADDR(pstruct);
	allp[1] = 0;			/* a P slot not in use */
	pslice[0] = ADDR(allp);
	pslice[1] = pslice[2] = 2;
	memset(gcc, 0, sizeof(gcc));
	gcc[0] = 150;
	gcc[1] = INT64_MAX;
	gcc[2] = 4 << 20;		/* gcPercentHeapGoal */
	gcc[4] = UINT64_MAX;		/* triggered: not yet */
	gcc[5] = 1 << 20;		/* heapMarked */
	gcc[6] = 1 << 20;		/* heapFree */
	gcc[7] = 8 << 20;		/* mappedReady */
}

static void
test_memstats(const struct gort_info *gi)
{
	struct gort_mem m;
	char err[256];
	int e;

	fill_stats();
	e = gort_memstats(getpid(), 0, gi, &m, err, sizeof(err));
	CHECK_EQ_INT(e, 0, "memstats of the made-up runtime");
	/* (1000 - 500) + (10 + 4 - 4) * 8 + 3 * 16 */
	CHECK_EQ_INT(m.heap_alloc, 628, "heap_alloc: large + small + mcache");
	CHECK_EQ_INT(m.heap_objects, 14, "heap_objects: tiny ones cancel");
	CHECK_EQ_INT(m.heap_inuse, 12288, "heap_inuse: inHeap summed");
	CHECK_EQ_INT(m.num_gc, 7, "num_gc");
	CHECK_EQ_INT(m.gogc, 150, "gogc");
	CHECK(m.memory_limit == INT64_MAX, "no memory limit");
	CHECK_EQ_INT(m.next_gc, 4 << 20, "next_gc: the GOGC goal");

	/* a 6 MiB limit with 8 MiB mapped: over it, the goal is heapMarked */
	gcc[1] = 6 << 20;
	e = gort_memstats(getpid(), 0, gi, &m, err, sizeof(err));
	CHECK_EQ_INT(e, 0, "memstats under a memory limit");
	CHECK_EQ_INT(m.next_gc, 1 << 20, "next_gc: the limit's goal");
	/* 64 MiB limit: 64M - (8M - 1M - 628) - 1M headroom > 4M */
	gcc[1] = 64 << 20;
	gort_memstats(getpid(), 0, gi, &m, err, sizeof(err));
	CHECK_EQ_INT(m.next_gc, 4 << 20, "next_gc: GOGC's goal under the limit's");
	gcc[0] = (uint32_t)-1;
	gort_memstats(getpid(), 0, gi, &m, err, sizeof(err));
	CHECK_EQ_INT(m.gogc, -1, "GOGC=off is -1");
	/* a free count over the alloc count: garbage */
	*hsd(2, 48 + NC * 8 + 3 * 8) = 1000;
	e = gort_memstats(getpid(), 0, gi, &m, err, sizeof(err));
	CHECK_EQ_INT(e, -EFAULT, "more frees than allocations: -EFAULT");
	CHECK(strstr(err, "go memory statistics") != NULL, "err says what");
}

/* memRecordCycle c (0: active, 1..3: future[c - 1]) of bucket b with
 * nstk frames. */
static uint64_t *
mrc(uint64_t *b, size_t nstk, size_t c)
{
	return &b[(B_SIZE + nstk * 8 + (c ? 32 + (c - 1) * 32 : 0)) / 8];
}

static void
fill_buckets(void)
{
	uint64_t *r;

	memset(b1, 0, sizeof(b1));
	memset(b2, 0, sizeof(b2));
	b1[1] = ADDR(b2);		/* allnext */
	b1[2] = 1;			/* typ: memProfile */
	b1[5] = 2;			/* nstk */
	b1[6] = 0x401000;
	b1[7] = 0x402000;
	r = mrc(b1, 2, 0);
	r[0] = 3, r[1] = 1, r[2] = 300, r[3] = 100;
	r = mrc(b1, 2, 2);		/* future[1]: the cycle to flush */
	r[0] = 2, r[2] = 200;
	r = mrc(b1, 2, 3);		/* future[2]: not yet */
	r[0] = 100, r[2] = 10000;
	b2[2] = 1;
	b2[5] = 1;
	b2[6] = 0x403000;
	mbuckets = ADDR(b1);
	cycle = 4 << 1;			/* cycle 4: future[4 % 3] */
	rate = 512 * 1024;
}

static void
test_heap(const struct gort_info *gi)
{
	struct gort_heap h;
	char err[256];
	uint64_t *r;
	int e;

	fill_buckets();
	e = gort_heap_profile(getpid(), 0, gi, &h, err, sizeof(err));
	CHECK_EQ_INT(e, 0, "heap profile of the made-up runtime");
	CHECK_EQ_INT(h.rate, 512 * 1024, "rate");
	CHECK_EQ_INT(h.n, 2, "two buckets, one empty (inuseZero)");
	if (h.n == 2) {
		CHECK_EQ_INT(h.v[0].alloc_objects, 5, "active + the flushed cycle");
		CHECK_EQ_INT(h.v[0].alloc_bytes, 500, "alloc_bytes");
		CHECK_EQ_INT(h.v[0].free_objects, 1, "free_objects");
		CHECK_EQ_INT(h.v[0].free_bytes, 100, "free_bytes");
		CHECK_EQ_INT(h.v[0].nstk, 2, "stack depth");
		CHECK(h.v[0].stk[0] == 0x401000 && h.v[0].stk[1] == 0x402000,
		      "stack");
		CHECK(h.v[1].nstk == 1 && h.v[1].stk[0] == 0x403000,
		      "second bucket's stack");
	}
	gort_heap_free(&h);

	/* nothing published yet (no GC): every cycle counts, as MemProfile
	 * accumulates them */
	memset(mrc(b1, 2, 0), 0, 32);
	memset(mrc(b1, 2, 2), 0, 32);
	r = mrc(b1, 2, 1);
	r[0] = 9, r[2] = 900;
	e = gort_heap_profile(getpid(), 0, gi, &h, err, sizeof(err));
	CHECK(e == 0 && h.n == 2 && h.v[0].alloc_objects == 109 &&
		      h.v[0].alloc_bytes == 10900,
	      "no published cycle: all three futures");
	gort_heap_free(&h);

	b1[5] = GORT_HEAP_MAX_STACK + 1;
	e = gort_heap_profile(getpid(), 0, gi, &h, err, sizeof(err));
	CHECK_EQ_INT(e, -EFAULT, "a stack over the cap: -EFAULT");
	CHECK(h.n == 0 && !h.v && !h.pcs, "nothing kept on failure");
	b1[5] = 2;

	b1[1] = ADDR(b1);		/* a list that loops */
	e = gort_heap_profile(getpid(), 0, gi, &h, err, sizeof(err));
	CHECK(e == 0 && h.truncated && h.n == GORT_HEAP_MAX_BUCKETS,
	      "a looping list stops at the cap, marked truncated");
	gort_heap_free(&h);

	rate = 0;
	e = gort_heap_profile(getpid(), 0, gi, &h, err, sizeof(err));
	CHECK_EQ_INT(e, -ENOENT, "MemProfileRate 0: -ENOENT");
	CHECK(strstr(err, "import runtime/pprof or net/http/pprof") != NULL,
	      "and says what to do");
}

/* Random bytes everywhere the functions read: any answer but a crash. */
static void
test_garbage(const struct gort_info *gi)
{
	struct gort_mem m;
	struct gort_heap h;
	char err[256];
	unsigned i, bad = 0;
	uint64_t *bufs[] = { memstats, gcc, mcache, b1, b2 };
	size_t lens[] = { sizeof(memstats), sizeof(gcc), sizeof(mcache),
			  sizeof(b1), sizeof(b2) };

	/* TEST_SEED=N tries other garbage */
	srand(getenv("TEST_SEED") ? (unsigned)atoi(getenv("TEST_SEED")) : 14);
	for (i = 0; i < 300; i++) {
		size_t k, j;

		fill_stats();
		fill_buckets();
		for (k = 0; k < sizeof(bufs) / sizeof(bufs[0]); k++)
			for (j = 0; j < lens[k] / 8; j++)
				if (rand() % 4 == 0)
					bufs[k][j] = (uint64_t)rand() << 33 ^
						     (uint64_t)rand();
		if (i % 3 == 0)
			pslice[1] = (uint64_t)rand();
		if (gort_memstats(getpid(), 0, gi, &m, err, sizeof(err)) < 0)
			bad++;
		if (gort_heap_profile(getpid(), 0, gi, &h, err,
				      sizeof(err)) == 0)
			gort_heap_free(&h);
	}
	CHECK(bad > 0, "300 rounds of garbage: no crash, some refused");
}

static void
test_missing(const struct gort_info *gi0)
{
	struct gort_info gi = *gi0;
	struct gort_mem m;
	struct gort_heap h;
	char err[256];

	gi.global[GORT_G_ALLP] = 0;
	snprintf(gi.why, sizeof(gi.why), "no DWARF");
	CHECK_EQ_INT(gort_memstats(getpid(), 0, &gi, &m, err, sizeof(err)),
		     -ENOENT, "an unknown global: -ENOENT");
	CHECK(strstr(err, "runtime.allp") != NULL, "naming it");
	gi = *gi0;
	gi.off[GORT_F_BUCKET_NSTK] = GORT_NONE;
	CHECK_EQ_INT(gort_heap_profile(getpid(), 0, &gi, &h, err, sizeof(err)),
		     -ENOENT, "an unknown field: -ENOENT");
	CHECK(strstr(err, "runtime.bucket.nstk") != NULL, "naming it");
}

int
main(void)
{
	struct gort_info gi;

	layout(&gi);
	test_memstats(&gi);
	test_heap(&gi);
	test_missing(&gi);
	test_garbage(&gi);
	return check_report();
}
