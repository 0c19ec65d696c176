/* history.c - continuous mode: the ring of time buckets a target's
 * recorder fills, merged on request into the profile of a span, and the
 * recorder's steps on the sampler thread. See history.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/clock.h"
#include "daemon/export.h"
#include "daemon/history.h"
#include "daemon/log.h"
#include "daemon/profile.h"
#include "daemon/sampler.h"
#include "daemon/sampler_int.h"
#include "daemon/threads.h"
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
	pid_t pid;			/* the process that recorded it */
};

struct history {
	pthread_mutex_t mu;
	struct hist_bucket *ring;
	size_t cap, first, count;	/* oldest at first, newest last */
	size_t max_stacks;
	struct hist_maps *maps;		/* set last; referenced */
	uint64_t gen;
	bool have_gen;
	bool sealed;			/* history_handover: the newest
					   bucket is the last process's */
	pid_t pid;			/* history_set_pid */
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
	maps_put(b->maps);
	memset(b, 0, sizeof(*b));
}

/* The i-th bucket, oldest first. */
static struct hist_bucket *
bucket_at(struct history *h, size_t i)
{
	return &h->ring[(h->first + i) % h->cap];
}

size_t
history_buckets(unsigned seconds)
{
	uint64_t ns = (uint64_t)seconds * 1000000000ULL;

	return (size_t)((ns + HIST_BUCKET_NS - 1) / HIST_BUCKET_NS) + 1;
}

struct history *
history_new(unsigned seconds, size_t max_stacks)
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
	h->max_stacks = max_stacks;
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

int
history_rotate(struct history *h, uint64_t mono, int64_t wall, bool force)
{
	struct agg *a[HIST_NKINDS];
	struct hist_bucket *b;
	int k;

	pthread_mutex_lock(&h->mu);
	if (h->count > 0 && !force && !h->sealed &&
	    mono - bucket_at(h, h->count - 1)->start_mono < HIST_BUCKET_NS) {
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
	if (h->count == h->cap) {
		bucket_clear(bucket_at(h, 0));
		h->first = (h->first + 1) % h->cap;
		h->count--;
	}
	b = bucket_at(h, h->count++);
	h->sealed = false;
	b->start_mono = mono;
	b->start = b->end = wall;
	memcpy(b->agg, a, sizeof(a));
	b->maps = maps_ref(h->maps);
	b->pid = h->pid;
	pthread_mutex_unlock(&h->mu);
	return 1;
}

void
history_set_pid(struct history *h, pid_t pid)
{
	pthread_mutex_lock(&h->mu);
	h->pid = pid;
	if (h->count > 0 && !h->sealed)
		bucket_at(h, h->count - 1)->pid = pid;
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
	int r = 0;

	pthread_mutex_lock(&h->mu);
	if (h->count > 0 && !h->sealed)
		r = agg_add(bucket_at(h, h->count - 1)->agg[k], tid, comm,
			    state, pcs, n, 1, value);
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

/* The maps that name every PC of the buckets in[0..n) (newest last):
 * each distinct snapshot once, newest first. Called with h->mu held. */
static int
span_maps(struct hist_bucket **in, size_t n, struct modsnap *out)
{
	const struct hist_maps *prev = NULL;
	size_t i, cap = 0;
	int r = 0;

	memset(out, 0, sizeof(*out));
	for (i = n; i-- > 0;)
		if (in[i]->maps && in[i]->maps != prev) {
			cap += in[i]->maps->ms.n;
			prev = in[i]->maps;
		}
	if (cap == 0)
		return 0;
	out->v = calloc(cap, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	prev = NULL;
	for (i = n; i-- > 0 && r == 0;) {
		if (!in[i]->maps || in[i]->maps == prev)
			continue;
		if (!prev)
			out->jit = perfmap_get(in[i]->maps->ms.jit);
		r = maps_union(out, cap, &in[i]->maps->ms, !prev);
		prev = in[i]->maps;
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

int
history_span(struct history *h, enum hist_kind k, int64_t from, int64_t to,
	     int64_t now, struct history_span *out)
{
	struct hist_bucket **in;
	size_t i, n = 0;
	int r = 0;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&h->mu);
	in = calloc(h->count ? h->count : 1, sizeof(*in));
	if (!in) {
		pthread_mutex_unlock(&h->mu);
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
			span_pid(out, b->pid, n ? in[n - 1]->pid : 0);
			in[n++] = b;
		}
	}
	if (n == 0) {
		r = -ERANGE;
		goto out;
	}
	out->nbuckets = n;
	out->agg = agg_new(n * h->max_stacks);
	if (!out->agg) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n && r == 0; i++)
		r = merge_agg(out->agg, in[i]->agg[k]);
	if (r == 0)
		r = span_maps(in, n, &out->ms);
	out->dropped = out->agg->dropped;
out:
	pthread_mutex_unlock(&h->mu);
	free(in);
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

	note_maps(t);
	if (history_rotate(t->hist, now, wall_now_ns(), false) < 0)
		log_warn("pid %d: no memory for a new history bucket; the "
			 "current one goes on",
			 (int)t->pid);
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
	if (history_rotate(t->hist, mono_ns(), wall_now_ns(), true) < 0)
		log_warn("pid %d: no memory for a new history bucket after "
			 "exec",
			 (int)t->pid);
}
