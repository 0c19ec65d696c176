/* goroutines.c - a Go target's goroutines as a dump: see goroutines.h.
 *
 * How the read stays consistent without stopping the program: see
 * gort/goroutines.c. A goroutine whose stack changed three times while it
 * was copied is listed with its state and without a stack.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/clock.h"
#include "daemon/daemon.h"
#include "daemon/export.h"
#include "daemon/goroutines.h"
#include "gort/gort.h"
#include "space/space.h"
#include "unwind/unwind.h"

/* A goroutine's stack copied at most (Go's own default maximum is 1 GB;
 * the frames past this are [truncated]). */
#define G_STACK_MAX (1u << 20)
#define TRIES 3

/* Whether the goroutine started at startpc is one of the runtime's own,
 * which Go leaves out of its dumps and counts (isSystemGoroutine): its
 * function is in package runtime, other than runtime.main. */
static bool
system_goroutine(struct elfimg *img, uint64_t vaddr)
{
	const struct gopcln *g = go_table(img);
	const char *name;
	struct go_fn fn;

	if (!g || !go_fn_find(g, vaddr, &fn))
		return false;
	name = go_funcname(g, fn.nameoff);
	if (!name || strncmp(name, "runtime.", 8) != 0)
		return false;
	return strcmp(name, "runtime.main") != 0 &&
	       strcmp(name, "runtime.handleAsyncEvent") != 0;
}

/* The running goroutine's stack: its thread's, from the dump. */
static int
running_stack(pid_t pid, const struct gort_info *gi, const struct gort_g *g,
	      const struct dump_thread *threads, size_t nthreads,
	      struct dump_thread *d)
{
	uint64_t procid;
	size_t i;

	if (!g->m || gi->off[GORT_F_M_PROCID] == GORT_NONE ||
	    gort_read(pid, g->m + gi->off[GORT_F_M_PROCID], &procid,
		      sizeof(procid)) < 0)
		return 0;
	for (i = 0; i < nthreads; i++) {
		if ((uint64_t)threads[i].tid != procid)
			continue;
		d->tid = threads[i].tid;
		if (threads[i].n == 0)
			return 0;
		d->pcs = malloc(threads[i].n * sizeof(*d->pcs));
		if (!d->pcs)
			return -ENOMEM;
		memcpy(d->pcs, threads[i].pcs, threads[i].n * sizeof(*d->pcs));
		d->n = threads[i].n;
		d->partial = threads[i].partial;
		d->leaf_exact = true;
		return 0;
	}
	return 0;
}

/* A goroutine that is not running: copy its stack, unwind its Go frames
 * from its saved PC. */
static int
parked_stack(pid_t pid, struct elfimg *img, uint64_t bias,
	     const struct gort_info *gi, struct gort_g *g, unsigned char *buf,
	     uint64_t *pcs, struct go_dump_stats *st, struct dump_thread *d)
{
	struct snapshot s;
	size_t len = 0;
	int r = -EAGAIN, k, n;

	for (k = 0; k < TRIES && r == -EAGAIN; k++) {
		r = gort_g_stack(pid, gi, g, buf, G_STACK_MAX, &len);
		if (r == -EAGAIN)
			st->retries++;
	}
	if (r == -EAGAIN) {
		st->unavailable++;
		return 0;
	}
	if (r < 0)
		return 0;	/* no stack (a goroutine being created) */
	memset(&s, 0, sizeof(s));
	s.regs.rip = g->pc;
	s.regs.rsp = g->sp;
	s.regs.rbp = g->bp;
	s.regs_known = SNAP_REGS_SP_PC;
	s.sp = g->sp;
	s.len = len;
	s.cap = G_STACK_MAX;
	s.stack = buf;
	s.leaf_return = true;
	n = unwind_go_stack(img, bias, &s, pcs, NULL, PROFD_MAX_FRAMES + 1);
	if (n < 1)
		return 0;
	d->pcs = malloc((size_t)n * sizeof(*pcs));
	if (!d->pcs)
		return -ENOMEM;
	memcpy(d->pcs, pcs, (size_t)n * sizeof(*pcs));
	d->n = (size_t)n;
	d->partial = pcs[n - 1] == 0;
	return 0;
}

static const struct modsnap_ent *
main_ent(const struct modsnap *ms)
{
	size_t i;

	for (i = 0; i < ms->n; i++)
		if (ms->v[i].main && ms->v[i].img)
			return &ms->v[i];
	return NULL;
}

int
go_dump(pid_t pid, const struct modsnap *ms,
	const struct dump_thread *threads, size_t nthreads,
	struct dump_thread **out, size_t *n, struct go_dump_stats *st,
	char *err, size_t errlen)
{
	const struct modsnap_ent *e = main_ent(ms);
	const struct gort_info *gi;
	struct dump_thread *v = NULL;
	struct gort_g *gs = NULL;
	unsigned char *buf = NULL;
	uint64_t *pcs = NULL, t0 = mono_ns(), now;
	size_t ng = 0, i, nv = 0;
	bool more;
	int r;

	*out = NULL;
	*n = 0;
	memset(st, 0, sizeof(*st));
	if (!e || !elfimg_is_go(e->img) || !(gi = gort_info(e->img))) {
		snprintf(err, errlen, "not a Go program");
		return -ENOENT;
	}
	r = gort_goroutines(pid, e->bias, gi, &gs, &ng, &more, err, errlen);
	if (r < 0)
		return r;
	buf = malloc(G_STACK_MAX);
	pcs = malloc((PROFD_MAX_FRAMES + 1) * sizeof(*pcs));
	v = calloc(ng ? ng : 1, sizeof(*v));
	if (!buf || !pcs || !v) {
		r = -ENOMEM;
		goto nomem;
	}
	now = mono_ns();
	for (i = 0; i < ng; i++) {
		struct gort_g *g = &gs[i];
		struct dump_thread *d = &v[nv];

		if (g->startpc > e->bias &&
		    system_goroutine(e->img, g->startpc - e->bias)) {
			st->system++;
			continue;
		}
		nv++;
		d->goid = g->goid;
		d->syscall_nr = -1;
		d->idle_s = -1;
		d->cpu = -1;
		d->exec_start_ms = -1;
		d->state = g->status == GORT_GRUNNING ? 'R' : 'S';
		d->locked = g->locked;
		d->created_pc = g->gopc;
		if (g->status == GORT_GRUNNING)
			r = running_stack(pid, gi, g, threads, nthreads, d);
		else
			r = parked_stack(pid, e->img, e->bias, gi, g, buf, pcs,
					 st, d);
		if (r < 0)
			goto nomem;
		/* after the stack read: it may have updated the state */
		gort_status_text(e->img, gi, g, d->status, sizeof(d->status));
		if ((g->status == GORT_GWAITING ||
		     g->status == GORT_GSYSCALL) && g->waitsince > 0 &&
		    (uint64_t)g->waitsince < now)
			d->wait_minutes =
				(int64_t)((now - (uint64_t)g->waitsince) /
					  60000000000ULL);
	}
	st->goroutines = nv;
	st->read_ns = mono_ns() - t0;
	free(buf);
	free(pcs);
	free(gs);
	*out = v;
	*n = nv;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory reading %zu goroutines", ng);
	go_dump_free(v, nv);
	free(buf);
	free(pcs);
	free(gs);
	return -ENOMEM;
}

void
go_dump_free(struct dump_thread *d, size_t n)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < n; i++)
		free(d[i].pcs);
	free(d);
}
