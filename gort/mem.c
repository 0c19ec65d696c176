/* mem.c - a Go target's heap figures and memory profile, read from outside
 * while it runs.
 *
 * The runtime keeps its allocation counts in memstats.heapStats (three
 * heapStatsDelta that readmemstats_m sums) and, between flushes, in each
 * P's mcache: a span an mcache is allocating from has counted as
 * allocated only the slots it had before it was cached, and tiny
 * allocations wait in mcache.tinyAllocs. ReadMemStats stops the world and
 * flushes; profd cannot, so it adds what the flush would add
 * (mcache.releaseAll). The heap goal is gcControllerState.heapGoal(),
 * computed from its inputs as the runtime does.
 *
 * Everything read is another process's memory that changes meanwhile:
 * every size, count and pointer is checked before use, and what makes no
 * sense is -EFAULT, never a crash or a loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gort/gort.h"

/* Sizes of runtime structures profd is willing to copy: far above what
 * any Go version has, low enough that garbage cannot make it allocate. */
#define MAX_STRUCT	(64u << 10)
#define MAX_CLASSES	256u	/* _NumSizeClasses is 68 in go1.19 */
#define MAX_PROCS	4096u	/* allp's length (GOMAXPROCS) */
#define MAX_SPANCLASSES	(2 * MAX_CLASSES)
#define STATS_RING	3	/* consistentHeapStats.stats[3] */
#define MEMREC_FUTURE	3	/* memRecord.future[3] */
#define MEM_PROFILE	1	/* bucketType memProfile */
/* memoryLimitHeapGoalHeadroom in mgcpacer.go */
#define LIMIT_HEADROOM	(1ull << 20)
/* minRunway in heapGoalInternal */
#define MIN_RUNWAY	(64ull << 10)

static int
fail(int e, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s", what,
		 e == -ESRCH  ? "the process has exited"
		 : e == -EFAULT ? "unreadable or inconsistent runtime memory"
				: strerror(-e));
	return e;
}

/* Whether field f of a struct of size sz holds w bytes. */
static bool
fits(const struct gort_info *gi, enum gort_field f, uint32_t sz, uint32_t w)
{
	return gi->off[f] != GORT_NONE && (uint64_t)gi->off[f] + w <= sz;
}

/* Read a whole runtime struct whose size is field `size` of gi into a
 * new buffer. 0 or -errno. */
static int
read_struct(pid_t pid, uint64_t addr, const struct gort_info *gi,
	    enum gort_field size, unsigned char **buf)
{
	uint32_t sz = gi->off[size];
	int e;

	if (sz == 0 || sz > MAX_STRUCT)
		return -EFAULT;
	*buf = malloc(sz);
	if (!*buf)
		return -ENOMEM;
	if ((e = gort_read(pid, addr, *buf, sz)) < 0) {
		free(*buf);
		*buf = NULL;
	}
	return e;
}

/* ---- memory statistics --------------------------------------------------- */

static const enum gort_field stat_fields[] = {
	GORT_F_MSTATS_STATS, GORT_F_MSTATS_GEN, GORT_F_MSTATS_NUMGC,
	GORT_F_MSTATS_SIZE, GORT_F_HSD_INHEAP, GORT_F_HSD_TINY,
	GORT_F_HSD_LARGEALLOC, GORT_F_HSD_LARGEALLOCN, GORT_F_HSD_SMALLALLOCN,
	GORT_F_HSD_LARGEFREE, GORT_F_HSD_LARGEFREEN, GORT_F_HSD_SMALLFREEN,
	GORT_F_HSD_SIZE, GORT_F_GCC_PERCENT, GORT_F_GCC_MEMLIMIT,
	GORT_F_GCC_PCTGOAL, GORT_F_GCC_SWEEPDIST, GORT_F_GCC_TRIGGERED,
	GORT_F_GCC_HEAPMARKED, GORT_F_GCC_HEAPFREE, GORT_F_GCC_MAPPED,
	GORT_F_GCC_SIZE, GORT_F_P_MCACHE, GORT_F_MCACHE_TINYN,
	GORT_F_MCACHE_ALLOC, GORT_F_MCACHE_STACKCACHE, GORT_F_MCACHE_SIZE,
	GORT_F_SPAN_ALLOCN, GORT_F_SPAN_ALLOCN0,
};
static const enum gort_global stat_globals[] = {
	GORT_G_MEMSTATS, GORT_G_GCCONTROLLER, GORT_G_CLASS_TO_SIZE,
	GORT_G_ALLP,
};

/* The sums readmemstats_m makes of the three heapStatsDelta. */
struct counts {
	size_t nclass;
	uint64_t small_alloc[MAX_CLASSES], small_free[MAX_CLASSES];
	uint64_t tiny, large_alloc, large_allocn, large_free, large_freen;
	uint64_t in_heap;	/* a sum of signed deltas, wrapping */
	uint32_t num_gc;
};

/* Sum the three heapStatsDelta of a copy of memstats (sz bytes). The
 * number of size classes is the length of smallAllocCount, the gap to
 * the field after it. */
static int
sum_deltas(const struct gort_info *gi, const unsigned char *ms, uint32_t sz,
	   struct counts *c)
{
	const uint32_t *o = gi->off;
	uint32_t dsz = o[GORT_F_HSD_SIZE], base = o[GORT_F_MSTATS_STATS];
	size_t i, k;

	if (o[GORT_F_HSD_LARGEFREE] <= o[GORT_F_HSD_SMALLALLOCN])
		return -EFAULT;
	c->nclass = (o[GORT_F_HSD_LARGEFREE] - o[GORT_F_HSD_SMALLALLOCN]) / 8;
	if (c->nclass == 0 || c->nclass > MAX_CLASSES || dsz == 0 ||
	    dsz > MAX_STRUCT ||
	    (uint64_t)base + (uint64_t)STATS_RING * dsz > sz ||
	    !fits(gi, GORT_F_HSD_SMALLFREEN, dsz, (uint32_t)c->nclass * 8) ||
	    !fits(gi, GORT_F_HSD_SMALLALLOCN, dsz, (uint32_t)c->nclass * 8) ||
	    !fits(gi, GORT_F_HSD_TINY, dsz, 8) ||
	    !fits(gi, GORT_F_HSD_INHEAP, dsz, 8) ||
	    !fits(gi, GORT_F_HSD_LARGEALLOC, dsz, 8) ||
	    !fits(gi, GORT_F_HSD_LARGEALLOCN, dsz, 8) ||
	    !fits(gi, GORT_F_HSD_LARGEFREEN, dsz, 8) ||
	    !fits(gi, GORT_F_MSTATS_NUMGC, sz, 4))
		return -EFAULT;
	for (k = 0; k < STATS_RING; k++) {
		const unsigned char *d = ms + base + k * dsz;

		c->in_heap += gort_u64(d, o[GORT_F_HSD_INHEAP]);
		c->tiny += gort_u64(d, o[GORT_F_HSD_TINY]);
		c->large_alloc += gort_u64(d, o[GORT_F_HSD_LARGEALLOC]);
		c->large_allocn += gort_u64(d, o[GORT_F_HSD_LARGEALLOCN]);
		c->large_free += gort_u64(d, o[GORT_F_HSD_LARGEFREE]);
		c->large_freen += gort_u64(d, o[GORT_F_HSD_LARGEFREEN]);
		for (i = 0; i < c->nclass; i++) {
			c->small_alloc[i] += gort_u64(
				d, o[GORT_F_HSD_SMALLALLOCN] + (uint32_t)i * 8);
			c->small_free[i] += gort_u64(
				d, o[GORT_F_HSD_SMALLFREEN] + (uint32_t)i * 8);
		}
	}
	c->num_gc = gort_u32(ms, o[GORT_F_MSTATS_NUMGC]);
	return 0;
}

/* Copy memstats and sum its deltas. The runtime rotates the ring when
 * something reads it (merging one delta into another, then clearing it):
 * a copy taken across a rotation could count a delta twice, so the copy
 * is retaken until the generation is the same before and after. */
static int
read_counts(pid_t pid, uint64_t bias, const struct gort_info *gi,
	    struct counts *c)
{
	uint64_t addr = gi->global[GORT_G_MEMSTATS] + bias;
	uint32_t sz = gi->off[GORT_F_MSTATS_SIZE], gen;
	unsigned char *ms = NULL;
	int e, tries;

	if (!fits(gi, GORT_F_MSTATS_GEN, sz, 4))
		return -EFAULT;
	for (tries = 0; tries < 5; tries++) {
		free(ms);
		e = read_struct(pid, addr, gi, GORT_F_MSTATS_SIZE, &ms);
		if (e < 0)
			return e;
		if ((e = gort_read(pid, addr + gi->off[GORT_F_MSTATS_GEN], &gen,
				   sizeof(gen))) < 0)
			break;
		if (gen == gort_u32(ms, gi->off[GORT_F_MSTATS_GEN]))
			break;
	}
	if (e == 0) {
		memset(c, 0, sizeof(*c));
		e = sum_deltas(gi, ms, sz, c);
	}
	free(ms);
	return e;
}

/* A span's allocCount and allocCountBeforeCache (uint16 both), in one
 * read when they are close (they are neighbours in go1.19). */
static int
span_counts(pid_t pid, const struct gort_info *gi, uint64_t span,
	    uint16_t *n, uint16_t *n0)
{
	uint32_t a = gi->off[GORT_F_SPAN_ALLOCN];
	uint32_t b = gi->off[GORT_F_SPAN_ALLOCN0];
	uint32_t lo = a < b ? a : b, hi = (a < b ? b : a) + 2;
	unsigned char buf[32];
	int e;

	if (hi - lo > sizeof(buf)) {
		if ((e = gort_read(pid, span + a, n, sizeof(*n))) < 0)
			return e;
		return gort_read(pid, span + b, n0, sizeof(*n0));
	}
	if ((e = gort_read(pid, span + lo, buf, hi - lo)) < 0)
		return e;
	memcpy(n, buf + (a - lo), sizeof(*n));
	memcpy(n0, buf + (b - lo), sizeof(*n0));
	return 0;
}

/* Add what mcache.releaseAll would flush from every P's mcache: the
 * slots allocated from each cached span since it was cached, and the
 * tiny allocations. */
static int
add_mcaches(pid_t pid, uint64_t bias, const struct gort_info *gi,
	    struct counts *c)
{
	const uint32_t *o = gi->off;
	uint64_t slice[2], *ps = NULL, empty = 0;
	uint32_t msz = o[GORT_F_MCACHE_SIZE], nsc;
	unsigned char *mc = NULL;
	size_t i, j;
	int e;

	if (o[GORT_F_MCACHE_STACKCACHE] <= o[GORT_F_MCACHE_ALLOC])
		return -EFAULT;
	nsc = (o[GORT_F_MCACHE_STACKCACHE] - o[GORT_F_MCACHE_ALLOC]) / 8;
	if (nsc == 0 || nsc > MAX_SPANCLASSES || nsc / 2 > c->nclass ||
	    !fits(gi, GORT_F_MCACHE_ALLOC, msz, nsc * 8) ||
	    !fits(gi, GORT_F_MCACHE_TINYN, msz, 8))
		return -EFAULT;
	if ((e = gort_read(pid, gi->global[GORT_G_ALLP] + bias, slice,
			   sizeof(slice))) < 0)
		return e;
	if (slice[1] == 0)
		return 0;
	if (slice[1] > MAX_PROCS || slice[0] == 0)
		return -EFAULT;
	ps = calloc(slice[1], sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	if ((e = gort_read(pid, slice[0], ps, slice[1] * sizeof(*ps))) < 0)
		goto out;
	for (i = 0; i < slice[1]; i++) {
		uint64_t mcache;

		if (!ps[i])
			continue;
		/* a P being destroyed may be unreadable: skip it */
		if (gort_read(pid, ps[i] + o[GORT_F_P_MCACHE], &mcache,
			      sizeof(mcache)) < 0 || !mcache)
			continue;
		free(mc);
		mc = NULL;
		if (read_struct(pid, mcache, gi, GORT_F_MCACHE_SIZE, &mc) < 0)
			continue;
		c->tiny += gort_u64(mc, o[GORT_F_MCACHE_TINYN]);
		for (j = 0; j < nsc; j++) {
			uint64_t span = gort_u64(mc, o[GORT_F_MCACHE_ALLOC] +
							     (uint32_t)j * 8);
			uint16_t n, n0;

			/* most slots hold &emptymspan, nothing to flush:
			 * a span read as empty once is not read again */
			if (!span || span == empty ||
			    span_counts(pid, gi, span, &n, &n0) < 0)
				continue;
			if (n == 0 && n0 == 0)
				empty = span;
			/* spanClass j is size class j>>1 (noscan bit) */
			if (n > n0)
				c->small_alloc[j >> 1] += (uint64_t)(n - n0);
		}
	}
out:
	free(mc);
	free(ps);
	return e;
}

/* gcControllerState.heapGoal(), go1.19: the GOGC goal, unless the
 * memory-limit goal is smaller; heap_alloc is the flushed figure. */
static uint64_t
heap_goal(const struct gort_info *gi, const unsigned char *g,
	  uint64_t heap_alloc)
{
	const uint32_t *o = gi->off;
	uint64_t goal = gort_u64(g, o[GORT_F_GCC_PCTGOAL]);
	uint64_t limit = gort_u64(g, o[GORT_F_GCC_MEMLIMIT]);
	uint64_t mapped = gort_u64(g, o[GORT_F_GCC_MAPPED]);
	uint64_t hfree = gort_u64(g, o[GORT_F_GCC_HEAPFREE]);
	uint64_t marked = gort_u64(g, o[GORT_F_GCC_HEAPMARKED]);
	uint64_t trig = gort_u64(g, o[GORT_F_GCC_TRIGGERED]);
	uint64_t sweep = gort_u64(g, o[GORT_F_GCC_SWEEPDIST]);
	uint64_t nonheap, over = 0, lgoal;

	/* memoryLimitHeapGoal; figures updated apart may overlap for a
	 * moment: then no non-heap memory */
	nonheap = hfree + heap_alloc <= mapped ? mapped - hfree - heap_alloc
					       : 0;
	if (mapped > limit)
		over = mapped - limit;
	if (nonheap + over >= limit) {
		lgoal = marked;
	} else {
		lgoal = limit - (nonheap + over);
		if (lgoal < LIMIT_HEADROOM ||
		    lgoal - LIMIT_HEADROOM < LIMIT_HEADROOM)
			lgoal = LIMIT_HEADROOM;
		else
			lgoal -= LIMIT_HEADROOM;
		if (lgoal < marked)
			lgoal = marked;
	}
	if (lgoal < goal)
		return lgoal;
	if (sweep > goal)
		goal = sweep;
	if (trig != UINT64_MAX && goal < trig + MIN_RUNWAY)
		goal = trig + MIN_RUNWAY;
	return goal;
}

int
gort_memstats(pid_t pid, uint64_t bias, const struct gort_info *gi,
	      struct gort_mem *out, char *err, size_t errlen)
{
	struct counts *c;
	uint16_t *sizes = NULL;
	unsigned char *g = NULL;
	uint32_t gsz = gi->off[GORT_F_GCC_SIZE];
	size_t i;
	int e;

	if (!gort_has(gi, stat_fields,
		      sizeof(stat_fields) / sizeof(stat_fields[0]),
		      stat_globals,
		      sizeof(stat_globals) / sizeof(stat_globals[0]), err,
		      errlen))
		return -ENOENT;
	c = calloc(1, sizeof(*c));
	if (!c)
		return fail(-ENOMEM, err, errlen, "go memory statistics");
	if ((e = read_counts(pid, bias, gi, c)) < 0 ||
	    (e = add_mcaches(pid, bias, gi, c)) < 0)
		goto out;
	e = -ENOMEM;
	if (!(sizes = calloc(c->nclass, sizeof(*sizes))))
		goto out;
	if ((e = gort_read(pid, gi->global[GORT_G_CLASS_TO_SIZE] + bias, sizes,
			   c->nclass * sizeof(*sizes))) < 0 ||
	    (e = read_struct(pid, gi->global[GORT_G_GCCONTROLLER] + bias, gi,
			     GORT_F_GCC_SIZE, &g)) < 0)
		goto out;
	e = -EFAULT;
	if (!fits(gi, GORT_F_GCC_PERCENT, gsz, 4) ||
	    !fits(gi, GORT_F_GCC_MEMLIMIT, gsz, 8) ||
	    !fits(gi, GORT_F_GCC_PCTGOAL, gsz, 8) ||
	    !fits(gi, GORT_F_GCC_SWEEPDIST, gsz, 8) ||
	    !fits(gi, GORT_F_GCC_TRIGGERED, gsz, 8) ||
	    !fits(gi, GORT_F_GCC_HEAPMARKED, gsz, 8) ||
	    !fits(gi, GORT_F_GCC_HEAPFREE, gsz, 8) ||
	    !fits(gi, GORT_F_GCC_MAPPED, gsz, 8) || (int64_t)c->in_heap < 0)
		goto out;
	memset(out, 0, sizeof(*out));
	/* as readmemstats_m: tiny allocations count as both a malloc and
	 * a free, so they leave HeapObjects alone */
	out->heap_alloc = c->large_alloc - c->large_free;
	out->heap_objects = c->large_allocn - c->large_freen;
	for (i = 0; i < c->nclass; i++) {
		out->heap_alloc += (c->small_alloc[i] - c->small_free[i]) *
				   sizes[i];
		out->heap_objects += c->small_alloc[i] - c->small_free[i];
	}
	/* counts read a moment apart can cross: a negative heap is garbage */
	if ((int64_t)out->heap_alloc < 0 || (int64_t)out->heap_objects < 0)
		goto out;
	out->heap_inuse = c->in_heap;
	out->num_gc = c->num_gc;
	out->gogc = (int32_t)gort_u32(g, gi->off[GORT_F_GCC_PERCENT]);
	out->memory_limit = (int64_t)gort_u64(g, gi->off[GORT_F_GCC_MEMLIMIT]);
	out->next_gc = heap_goal(gi, g, out->heap_alloc);
	if (out->gogc < 0)
		out->gogc = -1;
	e = 0;
out:
	free(g);
	free(sizes);
	free(c);
	return e < 0 ? fail(e, err, errlen, "go memory statistics") : 0;
}

/* ---- the memory profile -------------------------------------------------- */

static const enum gort_field heap_fields[] = {
	GORT_F_BUCKET_ALLNEXT, GORT_F_BUCKET_TYP, GORT_F_BUCKET_SIZEF,
	GORT_F_BUCKET_NSTK, GORT_F_BUCKET_SIZE, GORT_F_MEMREC_ACTIVE,
	GORT_F_MEMREC_FUTURE, GORT_F_MEMREC_SIZE, GORT_F_MRC_ALLOCS,
	GORT_F_MRC_FREES, GORT_F_MRC_ALLOCB, GORT_F_MRC_FREEB, GORT_F_MRC_SIZE,
};
static const enum gort_global heap_globals[] = {
	GORT_G_MBUCKETS, GORT_G_MPROFCYCLE, GORT_G_MEMPROFRATE,
};

/* memRecordCycle at off of a copied bucket. */
struct cycle {
	uint64_t allocs, frees, alloc_bytes, free_bytes;
};

static void
cycle_add(struct cycle *a, const struct gort_info *gi,
	  const unsigned char *b, uint32_t off)
{
	a->allocs += gort_u64(b, off + gi->off[GORT_F_MRC_ALLOCS]);
	a->frees += gort_u64(b, off + gi->off[GORT_F_MRC_FREES]);
	a->alloc_bytes += gort_u64(b, off + gi->off[GORT_F_MRC_ALLOCB]);
	a->free_bytes += gort_u64(b, off + gi->off[GORT_F_MRC_FREEB]);
}

/* Whether the layout of a bucket makes sense: header words, the memRecord
 * and its cycles inside their structs. */
static bool
heap_layout_ok(const struct gort_info *gi)
{
	const uint32_t *o = gi->off;
	uint32_t csz = o[GORT_F_MRC_SIZE], rsz = o[GORT_F_MEMREC_SIZE];
	uint32_t hsz = o[GORT_F_BUCKET_SIZE];

	return hsz > 0 && hsz <= 1024 && rsz > 0 && rsz <= 1024 &&
	       csz >= 32 && fits(gi, GORT_F_BUCKET_ALLNEXT, hsz, 8) &&
	       fits(gi, GORT_F_BUCKET_TYP, hsz, 4) &&
	       fits(gi, GORT_F_BUCKET_SIZEF, hsz, 8) &&
	       fits(gi, GORT_F_BUCKET_NSTK, hsz, 8) &&
	       fits(gi, GORT_F_MEMREC_ACTIVE, rsz, csz) &&
	       fits(gi, GORT_F_MEMREC_FUTURE, rsz, MEMREC_FUTURE * csz) &&
	       fits(gi, GORT_F_MRC_ALLOCS, csz, 8) &&
	       fits(gi, GORT_F_MRC_FREES, csz, 8) &&
	       fits(gi, GORT_F_MRC_ALLOCB, csz, 8) &&
	       fits(gi, GORT_F_MRC_FREEB, csz, 8);
}

/* A bucket as read: its stack and the records' cycles. */
struct rawb {
	struct cycle active, future[MEMREC_FUTURE];
	size_t nstk, pc0;	/* its PCs: h->pcs[pc0 .. pc0 + nstk) */
};

/* Walk the bucket list into raw (grown) and h->pcs. 0 or -errno. */
static int
walk_buckets(pid_t pid, uint64_t head, const struct gort_info *gi,
	     struct gort_heap *h, struct rawb **raw, size_t *nraw)
{
	const uint32_t *o = gi->off;
	uint32_t hsz = o[GORT_F_BUCKET_SIZE], csz = o[GORT_F_MRC_SIZE];
	size_t cap = 0, pcap = 0, npcs = 0, k;
	unsigned char *buf;
	uint64_t b;
	int e = 0;

	buf = malloc(hsz + GORT_HEAP_MAX_STACK * 8 + o[GORT_F_MEMREC_SIZE]);
	if (!buf)
		return -ENOMEM;
	for (b = head; b && e == 0;
	     b = gort_u64(buf, o[GORT_F_BUCKET_ALLNEXT])) {
		uint64_t nstk, keep;
		unsigned char *mr;
		struct rawb *r;

		if (*nraw == GORT_HEAP_MAX_BUCKETS) {
			h->truncated = true;
			break;
		}
		if ((e = gort_read(pid, b, buf, hsz)) < 0)
			break;
		nstk = gort_u64(buf, o[GORT_F_BUCKET_NSTK]);
		if (gort_u32(buf, o[GORT_F_BUCKET_TYP]) != MEM_PROFILE ||
		    nstk > GORT_HEAP_MAX_STACK) {
			e = -EFAULT;
			break;
		}
		if ((e = gort_read(pid, b + hsz, buf + hsz,
				   nstk * 8 + o[GORT_F_MEMREC_SIZE])) < 0)
			break;
		if (*nraw == cap) {
			struct rawb *nr;

			cap = cap ? cap * 2 : 64;
			if (!(nr = realloc(*raw, cap * sizeof(*nr)))) {
				e = -ENOMEM;
				break;
			}
			*raw = nr;
		}
		keep = nstk;
		if (!h->pcs || npcs + keep > pcap) {
			uint64_t *np;

			pcap = (npcs + keep) * 2 + 256;
			if (!(np = realloc(h->pcs, pcap * sizeof(*np)))) {
				e = -ENOMEM;
				break;
			}
			h->pcs = np;
		}
		r = &(*raw)[(*nraw)++];
		memset(r, 0, sizeof(*r));
		r->pc0 = npcs;
		r->nstk = keep;
		memcpy(h->pcs + npcs, buf + hsz, keep * 8);
		npcs += keep;
		mr = buf + hsz + nstk * 8;
		cycle_add(&r->active, gi, mr, o[GORT_F_MEMREC_ACTIVE]);
		for (k = 0; k < MEMREC_FUTURE; k++)
			cycle_add(&r->future[k], gi, mr,
				  o[GORT_F_MEMREC_FUTURE] + (uint32_t)k * csz);
	}
	free(buf);
	return e;
}

/* MemProfile's view of the raw buckets: active plus the cycle it would
 * flush, or every cycle while nothing is published (no GC yet). */
static int
heap_records(struct gort_heap *h, const struct rawb *raw, size_t n,
	     uint32_t cycle)
{
	bool clear = true;
	size_t i, k;

	h->v = calloc(n ? n : 1, sizeof(*h->v));
	if (!h->v)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct cycle *a = &raw[i].active,
				   *f = &raw[i].future[cycle % MEMREC_FUTURE];

		if (a->allocs + f->allocs || a->frees + f->frees)
			clear = false;
	}
	for (i = 0; i < n; i++) {
		struct cycle c = raw[i].active;
		struct gort_heap_rec *r = &h->v[i];

		for (k = 0; k < MEMREC_FUTURE; k++) {
			const struct cycle *f = &raw[i].future[k];

			if (!clear && k != cycle % MEMREC_FUTURE)
				continue;
			c.allocs += f->allocs;
			c.frees += f->frees;
			c.alloc_bytes += f->alloc_bytes;
			c.free_bytes += f->free_bytes;
		}
		r->alloc_objects = (int64_t)c.allocs;
		r->free_objects = (int64_t)c.frees;
		r->alloc_bytes = (int64_t)c.alloc_bytes;
		r->free_bytes = (int64_t)c.free_bytes;
		r->stk = h->pcs + raw[i].pc0;
		r->nstk = raw[i].nstk;
	}
	h->n = n;
	return 0;
}

int
gort_heap_profile(pid_t pid, uint64_t bias, const struct gort_info *gi,
		  struct gort_heap *out, char *err, size_t errlen)
{
	struct rawb *raw = NULL;
	size_t nraw = 0;
	uint64_t head, rate;
	uint32_t cycle;
	int e;

	memset(out, 0, sizeof(*out));
	if (!gort_has(gi, heap_fields,
		      sizeof(heap_fields) / sizeof(heap_fields[0]),
		      heap_globals,
		      sizeof(heap_globals) / sizeof(heap_globals[0]), err,
		      errlen))
		return -ENOENT;
	if (!heap_layout_ok(gi))
		return fail(-EFAULT, err, errlen, "go heap profile");
	/* mbuckets and mProfCycle are atomics: the value comes first */
	if ((e = gort_read(pid, gi->global[GORT_G_MEMPROFRATE] + bias, &rate,
			   sizeof(rate))) < 0 ||
	    (e = gort_read(pid, gi->global[GORT_G_MBUCKETS] + bias, &head,
			   sizeof(head))) < 0 ||
	    (e = gort_read(pid, gi->global[GORT_G_MPROFCYCLE] + bias, &cycle,
			   sizeof(cycle))) < 0)
		return fail(e, err, errlen, "go heap profile");
	if ((int64_t)rate <= 0) {
		snprintf(err, errlen,
			 "the binary does not keep a memory profile "
			 "(runtime.MemProfileRate is 0): it must import "
			 "runtime/pprof or net/http/pprof, and not set the "
			 "rate to 0");
		return -ENOENT;
	}
	out->rate = (int64_t)rate;
	e = walk_buckets(pid, head, gi, out, &raw, &nraw);
	if (e == 0)
		e = heap_records(out, raw, nraw, cycle >> 1);
	free(raw);
	if (e < 0) {
		gort_heap_free(out);
		return fail(e, err, errlen, "go heap profile");
	}
	return 0;
}

void
gort_heap_free(struct gort_heap *h)
{
	free(h->v);
	free(h->pcs);
	memset(h, 0, sizeof(*h));
}
