/* unwind.c - offline unwinding of a register + stack snapshot.
 *
 * libunwind's remote API with accessors of our own, the way perf unwinds
 * its PERF_SAMPLE_STACK_USER copies (tools/perf/util/unwind-libunwind-
 * local.c): memory comes from the stack copy, then from the ELF images of
 * the target's file mappings; registers from the saved set; unwind tables
 * from each module's .eh_frame_hdr, located through PT_GNU_EH_FRAME and
 * handed to libunwind as a UNW_INFO_FORMAT_REMOTE_TABLE that it searches
 * with dwarf_search_unwind_table(). Nothing here touches the live process,
 * so unwinding needs no ptrace stop and costs the target nothing.
 *
 * Go code has no .eh_frame (pure Go binaries have none at all), and
 * libunwind's frame-pointer guess loses the caller of every frameless Go
 * leaf. Go frames are therefore stepped here, with Go's own SP-delta table
 * (.gopclntab's pcsp, through space/'s go_func_at()), the way the Go
 * runtime's traceback does it (runtime/traceback.go, gentraceback): the
 * return address is at SP + spdelta and the caller's SP 8 above it. A
 * walk switches between the two as PCs move between Go and other code
 * (cgo binaries): libunwind is (re)started from the registers the Go
 * steps recovered, and a Go step takes over from libunwind's cursor.
 *
 * libunwind 1.6.2 exports _Ux86_64_dwarf_search_unwind_table but its
 * headers do not declare it; perf declares it the same way.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define UNW_REMOTE_ONLY
#include <libunwind.h>

#include "unwind/unwind.h"

extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as,
					      unw_word_t ip,
					      unw_dyn_info_t *di,
					      unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

/* .eh_frame_hdr pointer encodings (LSB 5.0, "DWARF Extensions"). */
#define DW_EH_PE_absptr	 0x00
#define DW_EH_PE_udata4	 0x03
#define DW_EH_PE_sdata4	 0x0b
#define DW_EH_PE_udata8	 0x04
#define DW_EH_PE_sdata8	 0x0c
#define DW_EH_PE_pcrel	 0x10
#define DW_EH_PE_datarel 0x30
#define DW_EH_PE_omit	 0xff

/* What a module's .eh_frame_hdr says, computed once per (image, bias). */
struct ehinfo {
	const struct elfimg *img;
	uint64_t bias;
	bool ok;
	unw_word_t segbase;	/* runtime address of .eh_frame_hdr */
	unw_word_t table;	/* runtime address of the search table */
	unw_word_t fde_count;
};

#define EH_CACHE 64		/* modules with unwind tables per process */

struct unwinder {
	struct space *sp;
	unw_addr_space_t as;
	struct ehinfo eh[EH_CACHE];
	unsigned eh_next;
	struct unwind_stats stats;
	struct unwind_extent last;	/* of the last unwind_snapshot */
	bool ran_off;		/* a read fell past the end of the copy */
};

/* What libunwind's accessors see: the stack copy, and the registers of
 * the frame its cursor was started at. */
/* A read this far past the end of a stack copy is taken as the copy having
 * been too short (see unwind_extent), not as a wild address. */
#define RAN_OFF_SLACK (256u << 10)

struct uarg {
	struct unwinder *u;
	const struct snapshot *s;
	const struct user_regs_struct *regs;
	bool all_regs;		/* every register in regs is valid */
	bool bp_known;		/* without all_regs: rbp is valid too */
};

/* The frame a walk is at. */
struct wframe {
	uint64_t ip, sp, bp;
	bool exact;		/* ip is where the frame was stopped (the
				   leaf, or above a signal or injected call),
				   not a return address */
	bool bp_known;
};

enum step_result {
	STEP_OK,		/* *w is the caller */
	STEP_END,		/* the outermost frame: the stack is whole */
	STEP_TRUNC,		/* cannot go further */
};

static int
enc_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case DW_EH_PE_udata4:
	case DW_EH_PE_sdata4:
		return 4;
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
	case DW_EH_PE_absptr:
		return 8;
	default:
		return -1;
	}
}

static bool
read_enc(const unsigned char *p, uint8_t enc, uint64_t *out)
{
	switch (enc & 0x0f) {
	case DW_EH_PE_udata4: {
		uint32_t v;

		memcpy(&v, p, 4);
		*out = v;
		return true;
	}
	case DW_EH_PE_sdata4: {
		int32_t v;

		memcpy(&v, p, 4);
		*out = (uint64_t)(int64_t)v;
		return true;
	}
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
	case DW_EH_PE_absptr:
		memcpy(out, p, 8);
		return true;
	default:
		return false;
	}
}

/* Parse the .eh_frame_hdr header of mod's image. The binary search table
 * must be datarel|sdata4, which is what GNU ld and lld write and the only
 * form dwarf_search_unwind_table understands. */
static void
eh_compute(const struct module *mod, struct ehinfo *e)
{
	const unsigned char *h;
	uint64_t vaddr, size, off, count;
	int s1, s2;

	e->ok = false;
	if (elfimg_eh_frame_hdr(mod->img, &vaddr, &size) < 0 || size < 4)
		return;
	if (elfimg_vaddr_to_offset(mod->img, vaddr, &off) < 0)
		return;
	h = elfimg_at(mod->img, off, size);
	if (!h)
		return;
	/* version, eh_frame_ptr_enc, fde_count_enc, table_enc */
	if (h[0] != 1 || h[3] != (DW_EH_PE_datarel | DW_EH_PE_sdata4))
		return;
	if (h[1] == DW_EH_PE_omit || h[2] == DW_EH_PE_omit)
		return;
	s1 = enc_size(h[1]);
	s2 = enc_size(h[2]);
	if (s1 < 0 || s2 < 0 || size < (uint64_t)(4 + s1 + s2))
		return;
	if (!read_enc(h + 4 + s1, h[2], &count))
		return;
	if (count == 0 || count > (size - 4 - s1 - s2) / 8)
		return;
	e->segbase = vaddr + mod->bias;
	e->table = e->segbase + 4 + s1 + s2;
	e->fde_count = count;
	e->ok = true;
}

static const struct ehinfo *
eh_lookup(struct unwinder *u, const struct module *mod)
{
	struct ehinfo *e;
	unsigned i;

	for (i = 0; i < EH_CACHE; i++) {
		e = &u->eh[i];
		if (e->img == mod->img && e->bias == mod->bias)
			return e;
	}
	e = &u->eh[u->eh_next++ % EH_CACHE];
	e->img = mod->img;
	e->bias = mod->bias;
	eh_compute(mod, e);
	return e;
}

static int
find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
	       int need_unwind_info, void *arg)
{
	struct uarg *a = arg;
	const struct module *mod;
	const struct ehinfo *e;
	unw_dyn_info_t di;

	mod = space_module(a->u->sp, ip);
	if (!mod || !mod->img)
		return -UNW_ENOINFO;
	e = eh_lookup(a->u, mod);
	if (!e->ok)
		return -UNW_ENOINFO;
	memset(&di, 0, sizeof(di));
	di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	di.start_ip = mod->start;
	di.end_ip = mod->end;
	di.u.rti.segbase = e->segbase;
	di.u.rti.table_data = e->table;
	/* in unw_word_t units: each entry is two 32-bit words */
	di.u.rti.table_len = e->fde_count * 8 / sizeof(unw_word_t);
	return UNW_OBJ(dwarf_search_unwind_table)(as, ip, &di, pi,
						  need_unwind_info, arg);
}

static void
put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
	/* Only called for dynamic (JIT-registered) info, which we never
	 * return; table-based info lives in libunwind's own pool. */
	(void)as;
	(void)pi;
	(void)arg;
}

static int
get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
	(void)as;
	(void)addr;
	(void)arg;
	return -UNW_ENOINFO;
}

static int
access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *valp,
	   int write, void *arg)
{
	struct uarg *a = arg;
	const struct snapshot *s = a->s;
	const struct module *mod;

	(void)as;
	if (write)
		return -UNW_EINVAL;
	if (addr >= s->sp && addr - s->sp <= s->len &&
	    s->len - (addr - s->sp) >= sizeof(*valp)) {
		memcpy(valp, s->stack + (addr - s->sp), sizeof(*valp));
		return 0;
	}
	/* just past the copy: a longer copy would have had it */
	if (addr >= s->sp && addr - s->sp < s->len + RAN_OFF_SLACK)
		a->u->ran_off = true;
	if (space_read(a->u->sp, addr, valp, sizeof(*valp)) == sizeof(*valp))
		return 0;
	/* JIT code (anonymous executable memory) has no copy here. Without
	 * unwind info libunwind reads a frame's own IP only to see whether
	 * it is readable, and if it is not, takes [rsp] as the return
	 * address instead of walking frame pointers (Gstep.c, "Previous
	 * RIP was invalid"): in a V8 frame, a stack slot. Reading such code
	 * as zeroes keeps it on the frame-pointer walk, which JITs keep. */
	mod = space_module(a->u->sp, addr);
	if (mod && mod->anon) {
		*valp = 0;
		return 0;
	}
	return -UNW_EINVAL;
}

static int
access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *valp,
	   int write, void *arg)
{
	const struct uarg *a = arg;
	const struct user_regs_struct *r = a->regs;

	(void)as;
	if (write)
		return -UNW_EINVAL;
	if (!a->all_regs && reg != UNW_X86_64_RSP && reg != UNW_X86_64_RIP &&
	    !(reg == UNW_X86_64_RBP && a->bp_known))
		return -UNW_EBADREG;
	switch (reg) {
	case UNW_X86_64_RAX: *valp = r->rax; break;
	case UNW_X86_64_RDX: *valp = r->rdx; break;
	case UNW_X86_64_RCX: *valp = r->rcx; break;
	case UNW_X86_64_RBX: *valp = r->rbx; break;
	case UNW_X86_64_RSI: *valp = r->rsi; break;
	case UNW_X86_64_RDI: *valp = r->rdi; break;
	case UNW_X86_64_RBP: *valp = r->rbp; break;
	case UNW_X86_64_RSP: *valp = r->rsp; break;
	case UNW_X86_64_R8:  *valp = r->r8;  break;
	case UNW_X86_64_R9:  *valp = r->r9;  break;
	case UNW_X86_64_R10: *valp = r->r10; break;
	case UNW_X86_64_R11: *valp = r->r11; break;
	case UNW_X86_64_R12: *valp = r->r12; break;
	case UNW_X86_64_R13: *valp = r->r13; break;
	case UNW_X86_64_R14: *valp = r->r14; break;
	case UNW_X86_64_R15: *valp = r->r15; break;
	case UNW_X86_64_RIP: *valp = r->rip; break;
	default:
		return -UNW_EBADREG;
	}
	return 0;
}

static int
access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val,
	     int write, void *arg)
{
	(void)as;
	(void)reg;
	(void)val;
	(void)write;
	(void)arg;
	return -UNW_EBADREG;
}

static int
resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
	(void)as;
	(void)c;
	(void)arg;
	return -UNW_EINVAL;
}

static int
get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len,
	      unw_word_t *off, void *arg)
{
	/* Symbolization is symbolize/'s job, after the fact. */
	(void)as;
	(void)addr;
	(void)buf;
	(void)len;
	(void)off;
	(void)arg;
	return -UNW_ENOINFO;
}

static unw_accessors_t accessors = {
	.find_proc_info = find_proc_info,
	.put_unwind_info = put_unwind_info,
	.get_dyn_info_list_addr = get_dyn_info_list_addr,
	.access_mem = access_mem,
	.access_reg = access_reg,
	.access_fpreg = access_fpreg,
	.resume = resume,
	.get_proc_name = get_proc_name,
};

struct unwinder *
unwinder_new(struct space *sp)
{
	struct unwinder *u;

	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->sp = sp;
	u->as = unw_create_addr_space(&accessors, 0);
	if (!u->as) {
		free(u);
		errno = ENOMEM;
		return NULL;
	}
	/* Off by default for remote spaces (unw_set_caching_policy(3)).
	 * The cache is keyed by IP alone, hence one space per process; and
	 * one thread (the target's sampler) unwinds in it, so the per-thread
	 * cache does: the global one runs its lookups, our accessors
	 * included, with every signal blocked, and a read of a mapped file
	 * that the target truncated would then kill profd with SIGBUS
	 * instead of reaching the handler in daemon/faults.c. */
	unw_set_caching_policy(u->as, UNW_CACHE_PER_THREAD);
	return u;
}

void
unwinder_free(struct unwinder *u)
{
	if (!u)
		return;
	unw_destroy_addr_space(u->as);
	free(u);
}

void
unwinder_flush(struct unwinder *u)
{
	unw_flush_cache(u->as, 0, 0);
	memset(u->eh, 0, sizeof(u->eh));
	u->eh_next = 0;
}

const struct unwind_stats *
unwinder_stats(const struct unwinder *u)
{
	return &u->stats;
}

/* The word at addr in the copy [base, base + len) at buf. */
static bool
copy_word(const unsigned char *buf, uint64_t base, size_t len, uint64_t addr,
	  uint64_t *val)
{
	if (!buf || addr < base || addr - base > len ||
	    len - (addr - base) < sizeof(*val))
		return false;
	memcpy(val, buf + (addr - base), sizeof(*val));
	return true;
}

/* The word at addr in the stack copy, or in the copy of the goroutine's
 * stack a Go thread on its system stack switched away from. */
static bool
stack_word(const struct snapshot *s, uint64_t addr, uint64_t *val,
	   bool *ran_off)
{
	if (copy_word(s->stack, s->sp, s->len, addr, val) ||
	    copy_word(s->go_stack, s->go_sp, s->go_len, addr, val))
		return true;
	if (ran_off && addr >= s->sp && addr - s->sp < s->len + RAN_OFF_SLACK)
		*ran_off = true;
	return false;
}

/* How a Go runtime function that switches stacks is crossed. */
enum go_switch {
	GO_SWITCH_NONE,		/* it is not crossed: the walk stops */
	GO_SWITCH_CURG,		/* to m.curg's saved registers (g.sched) */
	GO_SWITCH_VDSO,		/* to m.vdsoPC and m.vdsoSP */
};

/* The Go runtime functions that switch a thread from a goroutine's stack
 * to its system stack, having saved the goroutine's registers in g.sched
 * (in m.vdsoPC and m.vdsoSP for the vDSO calls): past them, the walk goes
 * on with the goroutine's frames, as the runtime's own traceback does for
 * a CPU profile (_TraceJumpStack, and sigprof for vDSO calls). */
static enum go_switch
go_switch_kind(struct elfimg *img, uint64_t entry)
{
	static const struct {
		const char *name;
		enum go_switch kind;
	} fns[] = {
		{ "runtime.systemstack", GO_SWITCH_CURG },
		{ "runtime.mcall", GO_SWITCH_CURG },
		{ "runtime.morestack", GO_SWITCH_CURG },
		{ "runtime.asmcgocall", GO_SWITCH_CURG },
		{ "runtime.nanotime1", GO_SWITCH_VDSO },
		{ "runtime.walltime", GO_SWITCH_VDSO },
	};
	const struct gopcln *g = go_table(img);
	struct go_fn fn;
	const char *name;
	size_t i;

	if (!g || !go_fn_find(g, entry, &fn))
		return GO_SWITCH_NONE;
	name = go_funcname(g, fn.nameoff);
	if (!name)
		return GO_SWITCH_NONE;
	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		if (strcmp(name, fns[i].name) == 0)
			return fns[i].kind;
	return GO_SWITCH_NONE;
}

/* Step from Go frame *w, whose function is gi, to its caller. Go on amd64
 * keeps the return address right above the frame (gi->spdelta bytes above
 * SP at this PC, prologue and epilogue included) and saves the caller's BP
 * just below it when the function has a frame. A frameless leaf leaves
 * both alone, which is what a frame-pointer walk gets wrong. */
static enum step_result
go_step(const struct snapshot *s, struct wframe *w,
	const struct go_func_info *gi, struct elfimg *img, bool *jumped,
	bool *ran_off)
{
	uint64_t at, ra, bp;

	/* runtime.goexit, mstart, rt0_go: nothing called them. */
	if (gi->top)
		return STEP_END;
	/* Stack switches (systemstack, mcall, asmcgocall, morestack) and
	 * signal returns: the caller is on another stack. When the stop
	 * copied the goroutine this thread switched away from, the walk
	 * goes on at its saved PC and SP (once: the goroutine's own frames
	 * switch no more); otherwise it stops here. A saved PC of
	 * runtime.systemstack_switch is a marker the runtime plants, not a
	 * frame (the entry check of unwind_snapshot, and its SP delta of
	 * 0, lead straight to the caller of systemstack). */
	if (gi->spwrite) {
		enum go_switch k = img ? go_switch_kind(img, gi->entry)
				       : GO_SWITCH_NONE;

		if (k == GO_SWITCH_VDSO && s->go_vdso_sp != 0) {
			w->ip = s->go_vdso_pc;
			w->sp = s->go_vdso_sp;
			w->bp_known = false;
			w->exact = false;
			return STEP_OK;
		}
		if (k != GO_SWITCH_CURG || *jumped || s->go_len == 0)
			return STEP_TRUNC;
		*jumped = true;
		w->ip = s->go_pc;
		w->sp = s->go_sp;
		w->bp = s->go_bp;
		w->bp_known = true;
		w->exact = false;
		return STEP_OK;
	}
	at = w->sp + (uint64_t)gi->spdelta;
	if (!stack_word(s, at, &ra, ran_off))
		return STEP_TRUNC;
	if (gi->bp_saved && stack_word(s, at - 8, &bp, NULL)) {
		w->bp = bp;
		w->bp_known = true;
	}
	w->ip = ra;
	w->sp = at + 8;
	w->exact = gi->injected;
	return STEP_OK;
}

/* Step from non-Go frame *w with libunwind. *started says whether c is at
 * *w already (it is after a libunwind step); otherwise c is started from
 * w's registers: the snapshot's own for the leaf, else those the Go steps
 * recovered (rip, rsp and rbp if known; the rest is not known after Go
 * code, which preserves no registers). */
static enum step_result
unw_step_from(struct unwinder *u, struct uarg *a, unw_cursor_t *c,
	      bool *started, struct user_regs_struct *regs, bool leaf,
	      struct wframe *w)
{
	unw_word_t ip, sp, bp;
	int r;

	if (!*started) {
		if (leaf) {
			a->regs = &a->s->regs;
			a->all_regs = a->s->regs_known == SNAP_REGS_ALL;
			a->bp_known = false;
		} else {
			*regs = a->s->regs;
			/* At the call, not after it: the unwind row of a
			 * call that ends a function (noreturn) is the call's
			 * own; libunwind uses a first frame's IP as is. */
			regs->rip = w->exact ? w->ip : w->ip - 1;
			regs->rsp = w->sp;
			regs->rbp = w->bp;
			a->regs = regs;
			a->all_regs = false;
			a->bp_known = w->bp_known;
		}
		if (unw_init_remote(c, u->as, a) < 0)
			return STEP_TRUNC;
		*started = true;
	}
	/* The frame above a signal trampoline was interrupted, not
	 * calling: its IP is where it resumes, exact. */
	w->exact = unw_is_signal_frame(c) > 0;
	r = unw_step(c);
	if (r == 0)
		return STEP_END;
	if (r < 0)
		return STEP_TRUNC;
	if (unw_get_reg(c, UNW_REG_IP, &ip) < 0 ||
	    unw_get_reg(c, UNW_REG_SP, &sp) < 0)
		return STEP_END;
	w->ip = ip;
	w->sp = sp;
	w->bp_known = unw_get_reg(c, UNW_X86_64_RBP, &bp) == 0;
	w->bp = w->bp_known ? bp : 0;
	return STEP_OK;
}

/* The end of a walk of n frames: a walk that found none keeps the sampled
 * PC (and is truncated); a truncated one ends in a UNW_FRAME_TRUNCATED
 * pseudo-frame. pcs has room for both. Returns the number of entries. */
static size_t
walk_end(const struct snapshot *s, uint64_t *pcs, uint8_t *frame_flags,
	 size_t n, bool *truncated)
{
	if (n == 0) {
		pcs[0] = s->regs.rip;
		if (frame_flags)
			frame_flags[0] = UNW_FRAME_EXACT;
		n = 1;
		*truncated = true;
	}
	if (*truncated) {
		pcs[n] = 0;
		if (frame_flags)
			frame_flags[n] = UNW_FRAME_TRUNCATED;
		n++;
	}
	return n;
}

int
unwind_snapshot(struct unwinder *u, const struct snapshot *s, uint64_t *pcs,
		uint8_t *frame_flags, size_t max)
{
	struct uarg a = { u, s, &s->regs, s->regs_known == SNAP_REGS_ALL,
			  false };
	struct user_regs_struct regs;
	const struct module *mod;
	struct go_func_info gi;
	enum step_result r;
	struct wframe w;
	unw_cursor_t c;
	uint64_t pc, prev_sp = 0;
	bool truncated = false, started = false, jumped = false;
	uint64_t hi;
	size_t n = 0;
	int rc;

	if (max < 2)
		return -EINVAL;
	u->stats.stacks++;
	u->ran_off = false;
	hi = s->sp;
	w.ip = s->regs.rip;
	w.sp = s->regs.rsp;
	w.bp = s->regs.rbp;
	w.bp_known = s->regs_known == SNAP_REGS_ALL;
	w.exact = !s->leaf_return;
	for (;;) {
		if (w.ip == 0)
			break;
		/* A walk that does not move up the stack is going nowhere
		 * (a bad guess by the frame-pointer heuristics). */
		if (n > 0 && w.sp <= prev_sp) {
			truncated = true;
			break;
		}
		if (n == max - 1) {
			truncated = true;
			break;
		}
		pc = w.exact ? w.ip : w.ip - 1;
		mod = space_module(u->sp, pc);
		rc = mod && mod->img ? go_func_at(mod->img, pc - mod->bias, &gi)
				     : -ENOENT;
		/* A return address at the very entry of a Go function follows
		 * no call: the runtime plants such addresses (asmcgocall saves
		 * runtime.systemstack_switch as the goroutine's PC, and
		 * cgocallback returns there), and its traceback takes them as
		 * they are (gentraceback: tracepc-- only when pc > entry). */
		if (rc != 0 && !w.exact && mod && mod->img &&
		    go_func_at(mod->img, w.ip - mod->bias, &gi) == 0 &&
		    gi.entry == w.ip - mod->bias) {
			pc = w.ip;
			w.exact = true;
			rc = 0;
		}
		pcs[n] = pc;
		if (frame_flags)
			frame_flags[n] = w.exact ? UNW_FRAME_EXACT : 0;
		if (!jumped && w.sp > hi && w.sp - s->sp <= s->len)
			hi = w.sp;
		if (!mod)
			u->stats.no_module++;
		n++;
		prev_sp = w.sp;
		if (rc == 0) {
			r = go_step(s, &w, &gi, mod->img, &jumped,
				    &u->ran_off);
			/* crossed to another stack, which may lie below */
			if (gi.spwrite && r == STEP_OK)
				prev_sp = 0;
			started = false;
		} else if (rc == -ENOENT) {
			r = unw_step_from(u, &a, &c, &started, &regs, n == 1,
					  &w);
		} else {
			r = STEP_TRUNC;	/* Go code with a bad table */
		}
		if (r == STEP_END)
			break;
		if (r == STEP_TRUNC) {
			truncated = true;
			break;
		}
	}
	n = walk_end(s, pcs, frame_flags, n, &truncated);
	if (truncated)
		u->stats.truncated++;
	u->stats.frames += n;
	u->last.extent = (size_t)(hi - s->sp);
	u->last.short_copy = truncated && u->ran_off;
	return (int)n;
}

void
unwinder_extent(const struct unwinder *u, struct unwind_extent *out)
{
	*out = u->last;
}

int
unwind_go_stack(struct elfimg *img, uint64_t bias, const struct snapshot *s,
		uint64_t *pcs, uint8_t *frame_flags, size_t max)
{
	struct go_func_info gi;
	struct wframe w;
	uint64_t pc, prev_sp = 0;
	bool truncated = true, jumped = true;
	size_t n = 0;

	if (max < 2)
		return -EINVAL;
	w.ip = s->regs.rip;
	w.sp = s->regs.rsp;
	w.bp = s->regs.rbp;
	w.bp_known = false;
	w.exact = !s->leaf_return;
	for (;;) {
		enum step_result r;
		int rc;

		if (w.ip == 0) {
			truncated = false;
			break;
		}
		if (n == max - 1 || (n > 0 && w.sp <= prev_sp))
			break;
		pc = w.exact ? w.ip : w.ip - 1;
		rc = w.ip > bias ? go_func_at(img, pc - bias, &gi) : -ENOENT;
		/* a PC planted at a function's entry (see unwind_snapshot) */
		if (rc != 0 && !w.exact && w.ip > bias &&
		    go_func_at(img, w.ip - bias, &gi) == 0 &&
		    gi.entry == w.ip - bias) {
			pc = w.ip;
			w.exact = true;
			rc = 0;
		}
		if (rc != 0)
			break;
		pcs[n] = pc;
		if (frame_flags)
			frame_flags[n] = w.exact ? UNW_FRAME_EXACT : 0;
		n++;
		prev_sp = w.sp;
		r = go_step(s, &w, &gi, img, &jumped, NULL);
		if (r != STEP_OK) {
			truncated = r == STEP_TRUNC;
			break;
		}
	}
	return (int)walk_end(s, pcs, frame_flags, n, &truncated);
}
