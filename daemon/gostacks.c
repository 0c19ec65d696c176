/* gostacks.c - whole Go stacks: see gostacks.h.
 *
 * The runtime runs some of a goroutine's work on the thread's system
 * stack (g0): runtime.systemstack (GC assists, write barrier flushes,
 * stack growth's allocation), runtime.mcall (parking), morestack and cgo
 * calls (asmcgocall). Before switching, it saves the goroutine's SP, PC
 * and BP in g.sched, and m.curg still names the goroutine. A stop that
 * finds the thread's SP within its M's g0 stack reads m.curg, then
 * curg.sched and curg's stack from sched.sp: the goroutine is not running
 * meanwhile (the thread that would run it is stopped, in our hands), so
 * the copy is as consistent as the thread's own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "daemon/clock.h"
#include "daemon/gostacks.h"
#include "daemon/sampler.h"
#include "daemon/sampler_int.h"
#include "daemon/threads.h"
#include "gort/gort.h"
#include "space/space.h"
#include "unwind/unwind.h"

/* Ms walked at most (a runtime never has this many threads; a corrupt
 * list must end). */
#define MAX_MS 10000
/* The fields read from an M and from a g, at most. */
#define M_READ 4096
#define G_HDR_READ 1024
#define WALK_EVERY_NS 1000000000ULL

static const enum gort_field needed_fields[] = {
	GORT_F_M_G0, GORT_F_M_CURG, GORT_F_M_PROCID, GORT_F_M_ALLLINK,
	GORT_F_G_STACK_LO, GORT_F_G_STACK_HI, GORT_F_G_SCHED_SP,
	GORT_F_G_SCHED_PC, GORT_F_G_SCHED_BP,
};
static const enum gort_global needed_globals[] = { GORT_G_ALLM };

static void
setup(struct target *t)
{
	struct go_sampler *g = &t->sm->go;
	const struct module *mod;
	const struct gort_info *gi;
	char err[256];

	mod = space_main_module(t->space);
	if (!mod)
		return;		/* the maps are not read yet: look again */
	g->checked = true;
	if (!mod->img || !elfimg_is_go(mod->img))
		return;
	gi = gort_info(mod->img);
	if (!gi || !gort_has(gi, needed_fields,
			     sizeof(needed_fields) / sizeof(needed_fields[0]),
			     needed_globals, 1, err, sizeof(err)))
		return;
	/* everything read below must fit the buffers */
	if (gort_fields_end(gi, needed_fields, 4) > M_READ ||
	    gort_fields_end(gi, needed_fields + 4, 5) > G_HDR_READ)
		return;
	g->vdso = gi->off[GORT_F_M_VDSOSP] != GORT_NONE &&
		  gi->off[GORT_F_M_VDSOPC] != GORT_NONE &&
		  gi->off[GORT_F_M_VDSOSP] < M_READ &&
		  gi->off[GORT_F_M_VDSOPC] < M_READ;
	g->gi = gi;
	g->img = elfimg_get(mod->img);
	g->bias = mod->bias;
}

/* Walk runtime.allm: note each thread's M and its g0 stack. */
static void
walk_ms(struct target *t)
{
	struct go_sampler *g = &t->sm->go;
	const struct gort_info *gi = g->gi;
	unsigned char mb[M_READ], gb[16];
	uint32_t mlen = gort_fields_end(gi, needed_fields, 4);
	uint64_t m, g0;
	size_t n = 0;

	if (gort_read(t->pid, gi->global[GORT_G_ALLM] + g->bias, &m,
		      sizeof(m)) < 0)
		return;
	while (m != 0 && n++ < MAX_MS) {
		struct thr *h;

		if (gort_read(t->pid, m, mb, mlen) < 0)
			return;
		h = thr_find(t, (pid_t)gort_u64(mb, gi->off[GORT_F_M_PROCID]));
		g0 = gort_u64(mb, gi->off[GORT_F_M_G0]);
		if (h && g0 &&
		    gort_read(t->pid, g0 + gi->off[GORT_F_G_STACK_LO], gb,
			      8) == 0 &&
		    gort_read(t->pid, g0 + gi->off[GORT_F_G_STACK_HI], gb + 8,
			      8) == 0 &&
		    gort_u64(gb, 0) < gort_u64(gb, 8)) {
			h->go_m = m;
			h->go_g0_lo = gort_u64(gb, 0);
			h->go_g0_hi = gort_u64(gb, 8);
		}
		m = gort_u64(mb, gi->off[GORT_F_M_ALLLINK]);
	}
}

void
go_sampler_tick(struct target *t)
{
	struct sampler *sm = t->sm;
	struct go_sampler *g = &sm->go;
	uint64_t now;
	size_t i;

	if (!g->checked)
		setup(t);
	if (!g->gi)
		return;
	now = mono_ns();
	if (g->walks > 0 && now - g->last_walk < WALK_EVERY_NS)
		return;
	for (i = 0; i < sm->nthr; i++)
		if (!sm->thr[i]->go_m && !sm->thr[i]->gone)
			break;
	if (i == sm->nthr && g->walks > 0)
		return;
	g->last_walk = now;
	g->walks++;
	walk_ms(t);
}

/* m.curg, m.vdsoSP and m.vdsoPC in one read (vDSO fields: 0 when not
 * known) */
static int
read_m_words(pid_t pid, const struct go_sampler *g, uint64_t m,
	     uint64_t w[3])
{
	const struct gort_info *gi = g->gi;
	struct iovec local = { w, 3 * sizeof(*w) }, remote[3];
	size_t n = 1;

	w[1] = w[2] = 0;
	remote[0].iov_base = (void *)(uintptr_t)(m + gi->off[GORT_F_M_CURG]);
	remote[0].iov_len = 8;
	if (g->vdso) {
		remote[1].iov_base =
			(void *)(uintptr_t)(m + gi->off[GORT_F_M_VDSOSP]);
		remote[2].iov_base =
			(void *)(uintptr_t)(m + gi->off[GORT_F_M_VDSOPC]);
		remote[1].iov_len = remote[2].iov_len = 8;
		n = 3;
	}
	local.iov_len = n * sizeof(*w);
	return process_vm_readv(pid, &local, 1, remote, n, 0) ==
			       (ssize_t)local.iov_len
		       ? 0
		       : -EFAULT;
}

void
go_sampler_take(struct target *t, struct thr *h, struct snapshot *s)
{
	const struct go_sampler *g = &t->sm->go;
	const struct gort_info *gi = g->gi;
	unsigned char gh[G_HDR_READ];
	uint64_t w[3], sp, hi;
	uint32_t glen;

	s->go_len = 0;
	s->go_vdso_sp = s->go_vdso_pc = 0;
	if (!gi || !h->go_m || !s->go_stack || s->sp < h->go_g0_lo ||
	    s->sp >= h->go_g0_hi)
		return;
	if (read_m_words(t->pid, g, h->go_m, w) < 0)
		return;
	/* In a vDSO call (nanotime1, walltime), the runtime switched to g0
	 * without saving the goroutine in g.sched (stale then): it keeps
	 * its caller's PC and SP in m.vdsoPC and m.vdsoSP. Called from a
	 * goroutine's stack, that stack is the one to copy; called on g0,
	 * the walk goes on there and may cross to m.curg after. */
	if (w[1] != 0) {
		s->go_vdso_sp = w[1];
		s->go_vdso_pc = w[2];
		if (w[1] < h->go_g0_lo || w[1] >= h->go_g0_hi) {
			s->go_sp = w[1];
			s->go_pc = w[2];
			s->go_bp = 0;
			if (stack_copy(h->tid, s->go_sp, s->go_stack,
				       s->go_cap, &s->go_len) < 0)
				s->go_len = 0;
			goto out;
		}
	}
	if (w[0] == 0)
		return;
	glen = gort_fields_end(gi, needed_fields + 4, 5);
	if (gort_read(t->pid, w[0], gh, glen) < 0)
		return;
	sp = gort_u64(gh, gi->off[GORT_F_G_SCHED_SP]);
	hi = gort_u64(gh, gi->off[GORT_F_G_STACK_HI]);
	/* a goroutine's saved SP lies on its own stack, not on g0's */
	if (sp == 0 || sp >= hi || sp < gort_u64(gh, gi->off[GORT_F_G_STACK_LO]))
		return;
	s->go_sp = sp;
	s->go_pc = gort_u64(gh, gi->off[GORT_F_G_SCHED_PC]);
	s->go_bp = gort_u64(gh, gi->off[GORT_F_G_SCHED_BP]);
	if (stack_copy(h->tid, sp, s->go_stack,
		       hi - sp < s->go_cap ? hi - sp : s->go_cap,
		       &s->go_len) < 0)
		s->go_len = 0;
out:
	if (s->go_len > 0)
		STAT_ADD(t, go_crossed, 1);
}

void
go_sampler_free(struct go_sampler *g)
{
	elfimg_put(g->img);
	g->img = NULL;
	g->gi = NULL;
}
