/* history.c - continuous mode: the ring of time buckets a target's
 * recorder fills, merged on request into the profile of a span, and the
 * recorder's steps on the sampler thread. See history.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/clock.h"
#include "daemon/daemon.h"
#include "daemon/export.h"
#include "daemon/history.h"
#include "daemon/log.h"
#include "daemon/memory.h"
#include "daemon/proc.h"
#include "daemon/profile.h"
#include "daemon/sampler.h"
#include "daemon/sampler_int.h"
#include "daemon/textbuf.h"
#include "daemon/threads.h"
#include "gort/gort.h"
#include "space/space.h"
#include "symbolize/symbolize.h"

/* A module snapshot shared by the buckets recorded while the maps did not
 * change. refs is guarded by the history's lock. */
struct hist_maps {
	unsigned refs;
	struct modsnap ms;
};

struct hist_bucket {
	uint64_t start_mono;
	int64_t start, end;		/* wall ns; end set when it closes */
	struct agg *agg[HIST_NKINDS];
	struct hist_maps *maps;		/* referenced, NULL before any */
	size_t bytes;			/* aggs' and trigger names' */
	pid_t pid;
	struct hist_figures fig;
	unsigned ntrig;			/* fired; the first names in trig */
	char *trig[HIST_BUCKET_TRIGGERS];
};

struct history {
	pthread_mutex_t mu;
	struct hist_bucket *ring;
	size_t cap, first, count;	/* oldest at first, newest last */
	size_t max_stacks;
	unsigned seconds;		/* --history */
	uint64_t budget, bytes;		/* bytes: the ring's and buckets' */
	uint64_t evicted;		/* buckets dropped for memory */
	int64_t cut_end;		/* wall ns: end of the newest of them */
	pid_t pid;			/* recording now */
	struct hist_maps *maps;		/* set last; referenced */
	uint64_t gen;
	bool have_gen;
	bool sealed;			/* history_handover: the newest
					   bucket is the last process's */
};

static struct hist_maps *
maps_ref(struct hist_maps *m)
{
	if (m)
		m->refs++;
	return m;
}

static void
maps_put(struct hist_maps *m)
{
	if (!m || --m->refs > 0)
		return;
	modsnap_free(&m->ms);
	free(m);
}

static void
bucket_clear(struct hist_bucket *b)
{
	int k;

	for (k = 0; k < HIST_NKINDS; k++)
		agg_free(b->agg[k]);
	for (k = 0; k < HIST_BUCKET_TRIGGERS; k++)
		free(b->trig[k]);
	maps_put(b->maps);
	memset(b, 0, sizeof(*b));
}

/* The i-th bucket, oldest first. */
static struct hist_bucket *
bucket_at(struct history *h, size_t i)
{
	return &h->ring[(h->first + i) % h->cap];
}

/* Drop the oldest bucket (for memory: counted, and the history now
 * begins later than --history says). Called with h->mu held. */
static void
drop_oldest(struct history *h, bool for_memory)
{
	struct hist_bucket *b = bucket_at(h, 0);

	if (for_memory) {
		h->evicted++;
		if (b->end > h->cut_end)
			h->cut_end = b->end;
	}
	h->bytes -= b->bytes;
	bucket_clear(b);
	h->first = (h->first + 1) % h->cap;
	h->count--;
}

/* Over the budget: drop the oldest buckets, never the newest (the one
 * filling, or a service's last before its restart). Called with h->mu
 * held. */
static void
evict_over_budget(struct history *h)
{
	while (h->bytes > h->budget && h->count > 1)
		drop_oldest(h, true);
}

size_t
history_buckets(unsigned seconds)
{
	uint64_t ns = (uint64_t)seconds * 1000000000ULL;

	return (size_t)((ns + HIST_BUCKET_NS - 1) / HIST_BUCKET_NS) + 1;
}

/* The most a bucket of k stacks per kind holds, trigger names included. */
static uint64_t
bucket_max_bytes(size_t k)
{
	return HIST_NKINDS * agg_max_bytes(k, PROFD_MAX_FRAMES + 1) +
	       HIST_BUCKET_TRIGGERS * (64 + AGG_MALLOC_OVERHEAD);
}

/* The cap of stacks per bucket and kind that keeps one bucket and the
 * ring (fixed bytes) within budget: the budget shared by three kinds of
 * stacks of the most frames (what one more stack costs, amortised), then
 * lowered until the bound of a whole bucket fits. */
static size_t
stacks_for_budget(uint64_t budget, uint64_t fixed, size_t max_stacks)
{
	uint64_t per = HIST_NKINDS *
		       (agg_max_bytes(1024, PROFD_MAX_FRAMES + 1) -
			agg_max_bytes(512, PROFD_MAX_FRAMES + 1)) /
		       512;
	size_t k, lo = 1, mid;

	if (budget <= fixed + bucket_max_bytes(1))
		return 1;
	k = (size_t)((budget - fixed) / per);
	if (k > max_stacks)
		k = max_stacks;
	if (k < 1)
		k = 1;
	/* the largest in [1, k] whose bucket fits */
	while (lo < k) {
		mid = lo + (k - lo + 1) / 2;
		if (fixed + bucket_max_bytes(mid) <= budget)
			lo = mid;
		else
			k = mid - 1;
	}
	return lo;
}

struct history *
history_new(unsigned seconds, uint64_t budget, size_t max_stacks)
{
	struct history *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->cap = history_buckets(seconds);
	h->ring = calloc(h->cap, sizeof(*h->ring));
	if (!h->ring) {
		free(h);
		return NULL;
	}
	h->seconds = seconds;
	h->budget = budget;
	h->bytes = sizeof(*h) + h->cap * sizeof(*h->ring) +
		   2 * AGG_MALLOC_OVERHEAD;
	h->max_stacks = stacks_for_budget(budget, h->bytes, max_stacks);
	pthread_mutex_init(&h->mu, NULL);
	return h;
}

void
history_free(struct history *h)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->count; i++)
		bucket_clear(bucket_at(h, i));
	maps_put(h->maps);
	free(h->ring);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

/* Called with h->mu held. */
static bool
rotation_due(struct history *h, uint64_t mono)
{
	return h->count == 0 || h->sealed ||
	       mono - bucket_at(h, h->count - 1)->start_mono >= HIST_BUCKET_NS;
}

bool
history_rotation_due(struct history *h, uint64_t mono)
{
	bool due;

	pthread_mutex_lock(&h->mu);
	due = rotation_due(h, mono);
	pthread_mutex_unlock(&h->mu);
	return due;
}

int
history_rotate(struct history *h, uint64_t mono, int64_t wall, bool force)
{
	struct agg *a[HIST_NKINDS];
	struct hist_bucket *b;
	int k;

	pthread_mutex_lock(&h->mu);
	if (!force && !rotation_due(h, mono)) {
		pthread_mutex_unlock(&h->mu);
		return 0;
	}
	for (k = 0; k < HIST_NKINDS; k++) {
		a[k] = agg_new(h->max_stacks);
		if (!a[k]) {
			while (k-- > 0)
				agg_free(a[k]);
			pthread_mutex_unlock(&h->mu);
			return -ENOMEM;
		}
	}
	if (h->count > 0)
		bucket_at(h, h->count - 1)->end = wall;
	if (h->count == h->cap)
		drop_oldest(h, false);
	b = bucket_at(h, h->count++);
	h->sealed = false;
	b->start_mono = mono;
	b->start = b->end = wall;
	b->pid = h->pid;
	memcpy(b->agg, a, sizeof(a));
	for (k = 0; k < HIST_NKINDS; k++)
		b->bytes += a[k]->bytes;
	h->bytes += b->bytes;
	b->maps = maps_ref(h->maps);
	evict_over_budget(h);
	pthread_mutex_unlock(&h->mu);
	return 1;
}

void
history_set_pid(struct history *h, pid_t pid)
{
	pthread_mutex_lock(&h->mu);
	h->pid = pid;
	pthread_mutex_unlock(&h->mu);
}

/* Note pid, the process of a bucket whose predecessor in the span was
 * prev's, among sp's: once each, in the order met; past HIST_SPAN_PIDS,
 * counted (a process records one run of buckets, so each change is
 * another process). */
static void
span_pid(struct history_span *sp, pid_t pid, pid_t prev)
{
	size_t i;

	if (pid <= 0 || pid == prev)
		return;
	for (i = 0; i < sp->npids; i++)
		if (sp->pids[i] == pid)
			return;
	if (sp->npids < HIST_SPAN_PIDS)
		sp->pids[sp->npids++] = pid;
	else
		sp->more_pids++;
}

void
history_set_maps(struct history *h, uint64_t gen, struct modsnap *ms)
{
	struct hist_maps *m = calloc(1, sizeof(*m));
	struct hist_bucket *b;

	if (!m) {
		modsnap_free(ms);
		return;
	}
	m->refs = 1;
	m->ms = *ms;
	memset(ms, 0, sizeof(*ms));
	pthread_mutex_lock(&h->mu);
	maps_put(h->maps);
	h->maps = m;
	h->gen = gen;
	h->have_gen = true;
	if (h->count > 0 && !h->sealed) {
		b = bucket_at(h, h->count - 1);
		maps_put(b->maps);
		b->maps = maps_ref(m);
	}
	pthread_mutex_unlock(&h->mu);
}

void
history_handover(struct history *h)
{
	pthread_mutex_lock(&h->mu);
	h->have_gen = false;
	h->sealed = h->count > 0;
	pthread_mutex_unlock(&h->mu);
}

bool
history_maps_are(struct history *h, uint64_t gen)
{
	bool same;

	pthread_mutex_lock(&h->mu);
	same = h->have_gen && h->gen == gen;
	pthread_mutex_unlock(&h->mu);
	return same;
}

int
history_add(struct history *h, enum hist_kind k, pid_t tid, const char *comm,
	    char state, const uint64_t *pcs, size_t n, int64_t value)
{
	struct hist_bucket *b;
	size_t before;
	int r = 0;

	pthread_mutex_lock(&h->mu);
	if (h->count > 0 && !h->sealed) {
		b = bucket_at(h, h->count - 1);
		before = b->agg[k]->bytes;
		r = agg_add(b->agg[k], tid, comm, state, pcs, n, 1, value);
		if (b->agg[k]->bytes != before) {
			b->bytes += b->agg[k]->bytes - before;
			h->bytes += b->agg[k]->bytes - before;
			evict_over_budget(h);
		}
	}
	pthread_mutex_unlock(&h->mu);
	return r;
}

/* The bucket being filled, or NULL (none yet, or sealed by a handover).
 * Called with h->mu held. */
static struct hist_bucket *
current(struct history *h)
{
	return h->count > 0 && !h->sealed ? bucket_at(h, h->count - 1) : NULL;
}

void
history_note_usage(struct history *h, bool have_rss, uint64_t rss,
		   uint64_t cpu_ns)
{
	struct hist_bucket *b;
	struct hist_figures *f;

	pthread_mutex_lock(&h->mu);
	b = current(h);
	if (b) {
		f = &b->fig;
		f->cpu_ns += cpu_ns;
		if (have_rss) {
			if (!f->have_rss || rss < f->rss_min)
				f->rss_min = rss;
			if (!f->have_rss || rss > f->rss_max)
				f->rss_max = rss;
			f->rss_last = rss;
			f->have_rss = true;
		}
	}
	pthread_mutex_unlock(&h->mu);
}

void
history_note_go_heap(struct history *h, uint64_t heap_alloc)
{
	struct hist_bucket *b;

	pthread_mutex_lock(&h->mu);
	if ((b = current(h))) {
		b->fig.have_go = true;
		b->fig.go_heap_alloc = heap_alloc;
	}
	pthread_mutex_unlock(&h->mu);
}

void
history_note_cgroup(struct history *h, uint64_t usage, uint64_t limit,
		    bool has_limit)
{
	struct hist_bucket *b;

	pthread_mutex_lock(&h->mu);
	b = current(h);
	if (b) {
		b->fig.have_cgroup = true;
		b->fig.cgroup_usage = usage;
		b->fig.cgroup_limit = has_limit ? limit : 0;
		b->fig.cgroup_has_limit = has_limit;
	}
	pthread_mutex_unlock(&h->mu);
}

int
history_note_trigger(struct history *h, const char *name)
{
	struct hist_bucket *b;
	size_t len = strnlen(name, 63);
	int r = 0;

	pthread_mutex_lock(&h->mu);
	b = current(h);
	if (b && b->ntrig < HIST_BUCKET_TRIGGERS) {
		b->trig[b->ntrig] = strndup(name, len);
		if (!b->trig[b->ntrig]) {
			r = -ENOMEM;
		} else {
			b->bytes += len + 1 + AGG_MALLOC_OVERHEAD;
			h->bytes += len + 1 + AGG_MALLOC_OVERHEAD;
			evict_over_budget(h);
		}
	}
	if (b && r == 0)
		b->ntrig++;
	pthread_mutex_unlock(&h->mu);
	return r;
}

/* Whether module e overlaps one of ms's. */
static bool
overlaps(const struct modsnap *ms, const struct modsnap_ent *e)
{
	size_t i;

	for (i = 0; i < ms->n; i++)
		if (e->start < ms->v[i].end && ms->v[i].start < e->end)
			return true;
	return false;
}

static int
ent_cmp(const void *a, const void *b)
{
	const struct modsnap_ent *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Add to out, whose room is cap entries, src's modules that overlap none
 * of out's (the newest maps come first: they win), copying their paths
 * and referencing their images; only the newest (newest set) says which
 * module is the main one. -ENOMEM. */
static int
maps_union(struct modsnap *out, size_t cap, const struct modsnap *src,
	   bool newest)
{
	size_t i;

	for (i = 0; i < src->n && out->n < cap; i++) {
		struct modsnap_ent *e;

		if (overlaps(out, &src->v[i]))
			continue;
		e = &out->v[out->n];
		*e = src->v[i];
		e->path = strdup(src->v[i].path ? src->v[i].path : "");
		if (!e->path)
			return -ENOMEM;
		if (e->img)
			e->img = elfimg_get(e->img);
		if (!newest)
			e->main = false;
		out->n++;
	}
	return 0;
}

/* The maps that name every PC of the buckets whose maps are in[0..n)
 * (newest last; referenced, so no lock is needed: a snapshot never
 * changes): each distinct snapshot once, newest first. */
static int
span_maps(struct hist_maps **in, size_t n, struct modsnap *out)
{
	const struct hist_maps *prev = NULL;
	size_t i, cap = 0;
	int r = 0;

	memset(out, 0, sizeof(*out));
	for (i = n; i-- > 0;)
		if (in[i] && in[i] != prev) {
			cap += in[i]->ms.n;
			prev = in[i];
		}
	if (cap == 0)
		return 0;
	out->v = calloc(cap, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	prev = NULL;
	for (i = n; i-- > 0 && r == 0;) {
		if (!in[i] || in[i] == prev)
			continue;
		if (!prev)
			out->jit = perfmap_get(in[i]->ms.jit);
		r = maps_union(out, cap, &in[i]->ms, !prev);
		prev = in[i];
	}
	if (r < 0) {
		modsnap_free(out);
		return r;
	}
	qsort(out->v, out->n, sizeof(*out->v), ent_cmp);
	return 0;
}

/* Add every entry of bucket aggregate a to out. */
static int
merge_agg(struct agg *out, const struct agg *a)
{
	size_t i;

	for (i = 0; i < a->nlist; i++) {
		const struct agg_entry *e = a->list[i];

		if (agg_add(out, e->tid, agg_thread_name(a, e->tid), e->state,
			    e->pcs, e->n, e->count, e->value) < 0)
			return -ENOMEM;
	}
	out->samples += a->dropped;
	out->dropped += a->dropped;
	return 0;
}

/* Widen the span's RSS range by a bucket's. */
static void
span_rss(struct history_span *sp, const struct hist_figures *f)
{
	if (!f->have_rss)
		return;
	if (!sp->have_rss || f->rss_min < sp->rss_min)
		sp->rss_min = f->rss_min;
	if (!sp->have_rss || f->rss_max > sp->rss_max)
		sp->rss_max = f->rss_max;
	sp->have_rss = true;
}

/* Merge the kind-k aggregate of the bucket that began at start_mono, if
 * it is still held, into out. A bucket's lock hold is short: the
 * sampler thread, which adds to the history, must never wait long for
 * it (a thread whose stop came late waits for the sampler). */
static int
merge_bucket(struct history *h, uint64_t start_mono, enum hist_kind k,
	     struct agg *out)
{
	size_t i;
	int r = 0;

	pthread_mutex_lock(&h->mu);
	for (i = 0; i < h->count; i++) {
		struct hist_bucket *b = bucket_at(h, i);

		if (b->start_mono == start_mono) {
			r = merge_agg(out, b->agg[k]);
			break;
		}
	}
	pthread_mutex_unlock(&h->mu);
	return r;
}

/*
 * Which buckets overlap the span, their figures and their maps
 * (referenced) are read in one hold of the lock; each bucket is then
 * merged in a hold of its own, so that a span of hours does not keep the
 * sampler waiting (a bucket dropped meanwhile is left out).
 */
int
history_span(struct history *h, enum hist_kind k, int64_t from, int64_t to,
	     int64_t now, struct history_span *out)
{
	struct hist_maps **maps;
	uint64_t *ids;
	size_t i, n = 0, cap;
	pid_t prev = 0;
	int r = 0;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&h->mu);
	cap = h->count ? h->count : 1;
	ids = calloc(cap, sizeof(*ids));
	maps = calloc(cap, sizeof(*maps));
	if (!ids || !maps) {
		pthread_mutex_unlock(&h->mu);
		free(ids);
		free(maps);
		return -ENOMEM;
	}
	if (h->count > 0)
		out->oldest = bucket_at(h, 0)->start;
	for (i = 0; i < h->count; i++) {
		struct hist_bucket *b = bucket_at(h, i);
		int64_t end = i + 1 == h->count ? now : b->end;

		if (b->start < to && end > from) {
			if (n == 0)
				out->start = b->start;
			out->end = end;
			span_pid(out, b->pid, prev);
			prev = b->pid;
			ids[n] = b->start_mono;
			maps[n++] = maps_ref(b->maps);
			span_rss(out, &b->fig);
		}
	}
	out->max_stacks = h->max_stacks;
	out->budget = h->budget;
	/* what was dropped for memory reached into the span, or into the
	 * --history duration when the span began before it */
	if (h->evicted > 0)
		out->cut = h->cut_end >
			   (from > now - (int64_t)h->seconds * 1000000000LL
				    ? from
				    : now - (int64_t)h->seconds * 1000000000LL);
	if (n == 0) {
		r = -ERANGE;
		goto out;
	}
	out->nbuckets = n;
	out->agg = agg_new(n * h->max_stacks);
	if (!out->agg)
		r = -ENOMEM;
out:
	pthread_mutex_unlock(&h->mu);
	for (i = 0; i < n && r == 0; i++)
		r = merge_bucket(h, ids[i], k, out->agg);
	if (r == 0 && n > 0) {
		r = span_maps(maps, n, &out->ms);
		out->dropped = out->agg->dropped;
	}
	pthread_mutex_lock(&h->mu);
	for (i = 0; i < n; i++)
		maps_put(maps[i]);
	pthread_mutex_unlock(&h->mu);
	free(ids);
	free(maps);
	if (r < 0 && r != -ERANGE) {
		history_span_free(out);
		memset(out, 0, sizeof(*out));
	}
	return r;
}

void
history_span_free(struct history_span *sp)
{
	agg_free(sp->agg);
	sp->agg = NULL;
	modsnap_free(&sp->ms);
}

void
history_counts(struct history *h, uint64_t *buckets, uint64_t *stacks)
{
	size_t i;
	int k;

	*stacks = 0;
	pthread_mutex_lock(&h->mu);
	*buckets = h->count;
	for (i = 0; i < h->count; i++)
		for (k = 0; k < HIST_NKINDS; k++)
			*stacks += bucket_at(h, i)->agg[k]->nlist;
	pthread_mutex_unlock(&h->mu);
}

void
history_memory(struct history *h, struct history_mem *out)
{
	pthread_mutex_lock(&h->mu);
	out->bytes = h->bytes;
	out->budget = h->budget;
	out->evicted = h->evicted;
	out->max_stacks = h->max_stacks;
	out->oldest = h->count > 0 ? bucket_at(h, 0)->start : 0;
	pthread_mutex_unlock(&h->mu);
}

int
history_list(struct history *h, int64_t from, int64_t to, int64_t now,
	     struct hist_bucket_info **out, size_t *n)
{
	struct hist_bucket_info *v;
	size_t i, k;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&h->mu);
	v = calloc(h->count ? h->count : 1, sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&h->mu);
		return -ENOMEM;
	}
	for (i = 0; i < h->count; i++) {
		struct hist_bucket *b = bucket_at(h, i);
		struct hist_bucket_info *o = &v[*n];
		int64_t end = i + 1 == h->count ? now : b->end;

		if (!(b->start < to && end > from))
			continue;
		o->start = b->start;
		o->end = end;
		o->pid = b->pid;
		o->current = i + 1 == h->count && !h->sealed;
		o->fig = b->fig;
		for (k = 0; k < HIST_NKINDS; k++) {
			o->samples[k] = b->agg[k]->samples;
			o->dropped[k] = b->agg[k]->dropped;
		}
		o->ntriggers = b->ntrig;
		for (k = 0; k < HIST_BUCKET_TRIGGERS && b->trig[k]; k++)
			snprintf(o->triggers[k], sizeof(o->triggers[k]), "%s",
				 b->trig[k]);
		(*n)++;
	}
	pthread_mutex_unlock(&h->mu);
	if (*n == 0)
		free(v);
	else
		*out = v;
	return 0;
}

/* One bucket of /history/buckets. */
static void
bucket_json(struct textbuf *b, const struct hist_bucket_info *o)
{
	static const char *const kind[HIST_NKINDS] = { "cpu", "wall",
						       "growth" };
	char st[32], en[32];
	unsigned k;

	wall_rfc3339(o->start, st, sizeof(st));
	wall_rfc3339(o->end, en, sizeof(en));
	textbuf_printf(b,
		       "{\"start\":\"%s\",\"end\":\"%s\",\"start_unix_ns\":%" PRId64
		       ",\"end_unix_ns\":%" PRId64 ",\"current\":%s,\"pid\":%d,"
		       "\"cpu_seconds\":%.3f",
		       st, en, o->start, o->end, o->current ? "true" : "false",
		       (int)o->pid, (double)o->fig.cpu_ns / 1e9);
	for (k = 0; k < 2 * HIST_NKINDS; k++)
		textbuf_printf(b, "%s\"%s\":%" PRIu64 "%s",
			       k == 0		  ? ",\"samples\":{"
			       : k == HIST_NKINDS ? ",\"dropped\":{"
						  : ",",
			       kind[k % HIST_NKINDS],
			       k < HIST_NKINDS ? o->samples[k]
					       : o->dropped[k - HIST_NKINDS],
			       k % HIST_NKINDS == HIST_NKINDS - 1 ? "}" : "");
	if (o->fig.have_rss)
		textbuf_printf(b,
			       ",\"rss_bytes\":{\"min\":%" PRIu64 ",\"max\":%" PRIu64
			       ",\"last\":%" PRIu64 "}",
			       o->fig.rss_min, o->fig.rss_max, o->fig.rss_last);
	else
		textbuf_printf(b, ",\"rss_bytes\":null");
	if (!o->fig.have_cgroup)
		textbuf_printf(b, ",\"cgroup\":null");
	else if (o->fig.cgroup_has_limit)
		textbuf_printf(b,
			       ",\"cgroup\":{\"usage_bytes\":%" PRIu64
			       ",\"limit_bytes\":%" PRIu64 "}",
			       o->fig.cgroup_usage, o->fig.cgroup_limit);
	else
		textbuf_printf(b,
			       ",\"cgroup\":{\"usage_bytes\":%" PRIu64
			       ",\"limit_bytes\":null}",
			       o->fig.cgroup_usage);
	if (o->fig.have_go)
		textbuf_printf(b, ",\"go_heap_alloc_bytes\":%" PRIu64,
			       o->fig.go_heap_alloc);
	else
		textbuf_printf(b, ",\"go_heap_alloc_bytes\":null");
	textbuf_printf(b, ",\"triggers\":[");
	for (k = 0; k < HIST_BUCKET_TRIGGERS && o->triggers[k][0]; k++) {
		textbuf_printf(b, "%s", k ? "," : "");
		textbuf_json(b, o->triggers[k], strlen(o->triggers[k]));
	}
	textbuf_printf(b, "],\"triggers_fired\":%u}", o->ntriggers);
}

int
history_buckets_json(struct history *h, pid_t pid, const char *name,
		     int64_t from, int64_t to, int64_t now, char **out,
		     size_t *len)
{
	struct hist_bucket_info *v;
	struct history_mem hm;
	struct textbuf b = { 0 };
	uint64_t nbuckets, stacks;
	char oldest[32];
	size_t n, i;

	if (history_list(h, from, to, now, &v, &n) < 0)
		return -ENOMEM;
	history_memory(h, &hm);
	history_counts(h, &nbuckets, &stacks);
	wall_rfc3339(hm.oldest, oldest, sizeof(oldest));
	textbuf_printf(&b, "{\"pid\":%d,\"name\":", (int)pid);
	textbuf_json(&b, name, strlen(name));
	textbuf_printf(&b,
		       ",\"bucket_seconds\":%llu,\"history_seconds\":%u,"
		       "\"budget_bytes\":%" PRIu64 ",\"bytes\":%" PRIu64
		       ",\"buckets_held\":%" PRIu64 ",\"buckets_evicted\":%" PRIu64
		       ",\"max_stacks_per_bucket\":%" PRIu64 ",\"oldest\":",
		       (unsigned long long)(HIST_BUCKET_NS / 1000000000ULL),
		       h->seconds, hm.budget, hm.bytes, nbuckets, hm.evicted,
		       hm.max_stacks);
	if (hm.oldest)
		textbuf_printf(&b, "\"%s\"", oldest);
	else
		textbuf_printf(&b, "null");
	textbuf_printf(&b, ",\"buckets\":[");
	for (i = 0; i < n; i++) {
		textbuf_printf(&b, "%s\n", i ? "," : "");
		bucket_json(&b, &v[i]);
	}
	textbuf_printf(&b, "%s]}\n", n ? "\n" : "");
	free(v);
	if (b.oom) {
		free(b.s);
		return -ENOMEM;
	}
	*out = b.s;
	*len = b.len;
	return 0;
}

/* ---- the recorder ---------------------------------------------------- */

/* When the maps changed since the history last took them (a dlopen, an
 * exec), take them again: the current bucket names its PCs with them. */
static void
note_maps(struct target *t)
{
	struct modsnap ms;
	uint64_t gen;

	pthread_mutex_lock(&t->space_mu);
	gen = space_generation(t->space);
	if (!history_maps_are(t->hist, gen) &&
	    modsnap_take(&ms, t->space) == 0)
		history_set_maps(t->hist, gen, &ms);
	pthread_mutex_unlock(&t->space_mu);
}

/* Read the process's RSS and CPU time (at most once a second, or when
 * the caller zeroed rec_read_next: cheap reads of statm and stat, with
 * every thread running), and a Go program's heap (its runtime's
 * statistics, read as they are) into the current bucket, and its memory
 * cgroup once per bucket. The first reading is the CPU baseline: what
 * was used before it is not the history's. */
static void
read_figures(struct target *t, uint64_t now)
{
	struct sampler *sm = t->sm;
	uint64_t rss = 0, cpu_ns, usage, limit;
	bool have_rss, has_limit;
	struct gort_mem gm;
	char state, err[PROFD_ERRLEN];
	int code;

	if (now < sm->rec_read_next)
		return;
	sm->rec_read_next = now + 1000000000ULL;
	have_rss = proc_statm_rss(t->pid, &rss) == 0;
	if (proc_process_stat(t->pid, &state, &cpu_ns, &code) == 0) {
		history_note_usage(t->hist, have_rss, rss,
				   sm->rec_have_cpu && cpu_ns > sm->rec_cpu_prev
					   ? cpu_ns - sm->rec_cpu_prev
					   : 0);
		sm->rec_cpu_prev = cpu_ns;
		sm->rec_have_cpu = true;
	} else if (have_rss) {
		history_note_usage(t->hist, true, rss, 0);
	}
	if (target_go_mem(t, &gm, err, sizeof(err)) == 0)
		history_note_go_heap(t->hist, gm.heap_alloc);
	if (sm->rec_cgroup_due) {
		sm->rec_cgroup_due = false;
		if (memory_cgroup(t->pid, &usage, &limit, &has_limit) == 0)
			history_note_cgroup(t->hist, usage, limit, has_limit);
	}
}

void
recorder_start(struct target *t, unsigned hz)
{
	struct sampler *sm = t->sm;
	char msg[PROFD_ERRLEN];
	uint64_t now;
	size_t i;

	pthread_mutex_lock(&t->space_mu);
	if (space_refresh(t->space, msg, sizeof(msg)) > 0)
		unwinder_flush(t->uw);
	pthread_mutex_unlock(&t->space_mu);
	/* CPU time used (pages faulted in) before the recorder started
	 * is not its own */
	if (scan_threads(t, SCAN_FULL, &sm->unexplained) == 0)
		for (i = 0; i < sm->nthr; i++) {
			sm->thr[i]->attributed[REC_SLOT] = sm->thr[i]->cpu_ns;
			sm->thr[i]->attributed[REC_FAULT_SLOT] =
				sm->thr[i]->faults;
		}
	history_set_pid(t->hist, t->pid);
	note_maps(t);
	now = mono_ns();
	if (history_rotate(t->hist, now, wall_now_ns(), false) < 0)
		log_warn("pid %d: no memory for the first history bucket",
			 (int)t->pid);
	sm->rec_have_cpu = false;
	sm->rec_cgroup_due = true;
	sm->rec_read_next = 0;
	read_figures(t, now);
	sm->rec_period = 1000000000ULL / hz;
	sm->rec_next = now + sm->rec_period;
	sm->rec_on = true;
	log_verbose("pid %d: continuous mode: recording at %u Hz", (int)t->pid,
		    hz);
}

void
recorder_after_tick(struct target *t, uint64_t now)
{
	struct sampler *sm = t->sm;
	int r;

	note_maps(t);
	/* the figures first, and now whatever the time of the last reading
	 * when a bucket is to end: the CPU time so far is the ending
	 * bucket's */
	if (history_rotation_due(t->hist, now))
		sm->rec_read_next = 0;
	read_figures(t, now);
	r = history_rotate(t->hist, now, wall_now_ns(), false);
	if (r < 0)
		log_warn("pid %d: no memory for a new history bucket; the "
			 "current one goes on",
			 (int)t->pid);
	if (r > 0)
		sm->rec_cgroup_due = true;
	if (sm->rec_refused) {
		/* ptrace refused: try again later, not at every tick */
		sm->rec_refused = false;
		sm->rec_next = now + HIST_BUCKET_NS;
		return;
	}
	sm->rec_next += sm->rec_period;
	if (sm->rec_next < now)
		sm->rec_next = now + sm->rec_period / 2;	/* no burst */
}

void
recorder_cut(struct target *t)
{
	int r = history_rotate(t->hist, mono_ns(), wall_now_ns(), true);

	if (r < 0)
		log_warn("pid %d: no memory for a new history bucket after "
			 "exec",
			 (int)t->pid);
	if (r > 0)
		t->sm->rec_cgroup_due = true;
}
