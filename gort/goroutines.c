/* goroutines.c - the target's goroutines, from runtime.allgs.
 *
 * Consistency without stopping the target: a goroutine that is not
 * running cannot change its own stack's frames (only running code pushes
 * and pops them; the GC moves a stack only with the goroutine's status
 * at _Gcopystack or while it holds the scan bit, and then sched.sp
 * changes). So the stack is copied, the goroutine read again, and the copy
 * kept only when status, saved registers and stack bounds are the same
 * both times. A running goroutine's stack is its thread's, which the
 * daemon stops and copies as for a thread dump.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "gort/gort.h"
#include "space/space.h"

/* goroutines per process_vm_readv (IOV_MAX is 1024) */
#define BATCH 512
/* bytes of a g read, at most */
#define G_READ_MAX 2048

static const enum gort_field list_fields[] = {
	GORT_F_G_STACK_LO, GORT_F_G_STACK_HI, GORT_F_G_SCHED_SP,
	GORT_F_G_SCHED_PC, GORT_F_G_SCHED_BP, GORT_F_G_M, GORT_F_G_STATUS,
	GORT_F_G_GOID, GORT_F_G_WAITSINCE, GORT_F_G_WAITREASON,
	GORT_F_G_GOPC, GORT_F_G_STARTPC, GORT_F_G_LOCKEDM,
	GORT_F_G_SYSCALLSP, GORT_F_G_SYSCALLPC,
};
#define NLIST_FIELDS (sizeof(list_fields) / sizeof(list_fields[0]))
static const enum gort_global list_globals[] = {
	GORT_G_ALLGS,
};

/* Bytes of a g that hold every field read. */
static uint32_t
g_read_len(const struct gort_info *gi)
{
	return gort_fields_end(gi, list_fields, NLIST_FIELDS);
}

bool
gort_can_list(const struct gort_info *gi, char *err, size_t errlen)
{
	if (!gort_has(gi, list_fields, NLIST_FIELDS, list_globals, 1, err,
		      errlen))
		return false;
	if (g_read_len(gi) > G_READ_MAX) {
		snprintf(err, errlen, "%s: runtime.g is laid out beyond what "
			 "profd reads", gi->version);
		return false;
	}
	return true;
}

static void
decode_g(const struct gort_info *gi, uint64_t addr, const unsigned char *b,
	 struct gort_g *g)
{
	uint32_t st = gort_u32(b, gi->off[GORT_F_G_STATUS]);
	uint64_t syssp = gort_u64(b, gi->off[GORT_F_G_SYSCALLSP]);

	memset(g, 0, sizeof(*g));
	g->addr = addr;
	g->goid = (int64_t)gort_u64(b, gi->off[GORT_F_G_GOID]);
	g->scan = (st & GORT_GSCAN) != 0;
	g->status = st & ~(uint32_t)GORT_GSCAN;
	g->waitreason = b[gi->off[GORT_F_G_WAITREASON]];
	g->waitsince = (int64_t)gort_u64(b, gi->off[GORT_F_G_WAITSINCE]);
	g->gopc = gort_u64(b, gi->off[GORT_F_G_GOPC]);
	g->startpc = gort_u64(b, gi->off[GORT_F_G_STARTPC]);
	g->m = gort_u64(b, gi->off[GORT_F_G_M]);
	g->locked = gort_u64(b, gi->off[GORT_F_G_LOCKEDM]) != 0;
	g->stack_lo = gort_u64(b, gi->off[GORT_F_G_STACK_LO]);
	g->stack_hi = gort_u64(b, gi->off[GORT_F_G_STACK_HI]);
	/* as the runtime's traceback: a goroutine in a system call resumes
	 * where it entered it */
	if (syssp != 0) {
		g->sp = syssp;
		g->pc = gort_u64(b, gi->off[GORT_F_G_SYSCALLPC]);
		g->bp = 0;
	} else {
		g->sp = gort_u64(b, gi->off[GORT_F_G_SCHED_SP]);
		g->pc = gort_u64(b, gi->off[GORT_F_G_SCHED_PC]);
		g->bp = gort_u64(b, gi->off[GORT_F_G_SCHED_BP]);
	}
}

/* Read n gs of glen bytes each, at addrs[], into buf: one
 * process_vm_readv for all, then one by one from where it stopped (a g
 * freed meanwhile is skipped: ok[i] false). */
static void
read_gs(pid_t pid, const uint64_t *addrs, size_t n, uint32_t glen,
	unsigned char *buf, bool *ok)
{
	struct iovec local = { buf, (size_t)glen * n }, remote[BATCH];
	ssize_t got;
	size_t i, done;

	for (i = 0; i < n; i++) {
		remote[i].iov_base = (void *)(uintptr_t)addrs[i];
		remote[i].iov_len = glen;
	}
	got = process_vm_readv(pid, &local, 1, remote, n, 0);
	done = got > 0 ? (size_t)got / glen : 0;
	for (i = 0; i < n; i++)
		ok[i] = i < done ||
			gort_read(pid, addrs[i], buf + (size_t)i * glen, glen) == 0;
}

int
gort_goroutines(pid_t pid, uint64_t bias, const struct gort_info *gi,
		struct gort_g **out, size_t *n, bool *more, char *err,
		size_t errlen)
{
	uint64_t hdr[3], ptrs[BATCH];
	unsigned char *buf = NULL;
	struct gort_g *v = NULL;
	bool ok[BATCH];
	size_t len, i, k, nv = 0;
	uint32_t glen;
	int r;

	*out = NULL;
	*n = 0;
	*more = false;
	if (!gort_can_list(gi, err, errlen))
		return -ENOTSUP;
	glen = g_read_len(gi);
	/* allgs is a slice: pointer, length, capacity */
	r = gort_read(pid, gi->global[GORT_G_ALLGS] + bias, hdr, sizeof(hdr));
	if (r < 0) {
		snprintf(err, errlen, "cannot read runtime.allgs: %s",
			 strerror(-r));
		return r;
	}
	len = hdr[1];
	if (hdr[1] > hdr[2] || (hdr[0] == 0 && len > 0)) {
		snprintf(err, errlen, "runtime.allgs does not look like a "
			 "slice (len %" PRIu64 ", cap %" PRIu64 ")",
			 hdr[1], hdr[2]);
		return -EFAULT;
	}
	if (len > GORT_MAX_GOROUTINES) {
		len = GORT_MAX_GOROUTINES;
		*more = true;
	}
	v = malloc((len ? len : 1) * sizeof(*v));
	buf = malloc((size_t)BATCH * glen);
	if (!v || !buf) {
		snprintf(err, errlen, "out of memory for %zu goroutines", len);
		r = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < len; i += k) {
		k = len - i < BATCH ? len - i : BATCH;
		r = gort_read(pid, hdr[0] + i * 8, ptrs, k * 8);
		if (r < 0) {
			snprintf(err, errlen, "cannot read runtime.allgs[%zu]: "
				 "%s", i, strerror(-r));
			goto fail;
		}
		read_gs(pid, ptrs, k, glen, buf, ok);
		for (size_t j = 0; j < k; j++) {
			struct gort_g *g = &v[nv];

			if (!ok[j] || ptrs[j] == 0)
				continue;
			decode_g(gi, ptrs[j], buf + j * glen, g);
			if (g->status == GORT_GDEAD || g->status > 9)
				continue;
			nv++;
		}
	}
	free(buf);
	*out = v;
	*n = nv;
	return 0;
fail:
	free(buf);
	free(v);
	return r;
}

static bool
same_g(const struct gort_g *a, const struct gort_g *b)
{
	return a->goid == b->goid && a->status == b->status &&
	       a->scan == b->scan && a->pc == b->pc && a->sp == b->sp &&
	       a->stack_lo == b->stack_lo && a->stack_hi == b->stack_hi;
}

int
gort_g_stack(pid_t pid, const struct gort_info *gi, struct gort_g *g,
	     unsigned char *buf, size_t cap, size_t *len)
{
	unsigned char b[G_READ_MAX];
	uint32_t glen = g_read_len(gi);
	struct gort_g again;
	size_t want;
	int r;

	*len = 0;
	if (g->status == GORT_GRUNNING)
		return -EBUSY;
	if (g->sp < g->stack_lo || g->sp >= g->stack_hi || g->pc == 0)
		return -EFAULT;
	want = g->stack_hi - g->sp < cap ? g->stack_hi - g->sp : cap;
	r = gort_read(pid, g->sp, buf, want);
	if (r < 0)
		return r;
	r = gort_read(pid, g->addr, b, glen);
	if (r < 0)
		return r;
	decode_g(gi, g->addr, b, &again);
	if (!same_g(g, &again)) {
		*g = again;
		return -EAGAIN;
	}
	*len = want;
	return 0;
}

/* Go 1.19's runtime.waitReasonStrings, for a stripped binary whose table
 * could not be found (runtime2.go). */
static const char *const reasons_go119[] = {
	"", "GC assist marking", "IO wait", "chan receive (nil chan)",
	"chan send (nil chan)", "dumping heap", "garbage collection",
	"garbage collection scan", "panicwait", "select",
	"select (no cases)", "GC assist wait", "GC sweep wait",
	"GC scavenge wait", "chan receive", "chan send", "finalizer wait",
	"force gc (idle)", "semacquire", "sleep", "sync.Cond.Wait",
	"timer goroutine (idle)", "trace reader (blocked)",
	"wait for GC cycle", "GC worker (idle)", "preempted", "debug call",
};

/* The binary's own string for a wait reason (a [N]string array in its
 * data; each string's bytes in its read-only data), or NULL. */
static bool
reason_from_binary(struct elfimg *img, const struct gort_info *gi,
		   uint8_t reason, char *buf, size_t len)
{
	const unsigned char *h, *str;
	uint64_t p, l;
	size_t have = 16;

	if (!img || gi->global[GORT_G_WAITREASONS] == 0)
		return false;
	h = elfimg_vaddr_bytes(img, gi->global[GORT_G_WAITREASONS] +
					    (uint64_t)reason * 16, &have);
	if (!h || have < 16)
		return false;
	p = gort_u64(h, 0);
	l = gort_u64(h, 8);
	if (l == 0 || l >= len || l > 64)
		return false;
	have = (size_t)l;
	str = elfimg_vaddr_bytes(img, p, &have);
	if (!str || have < l)
		return false;
	memcpy(buf, str, (size_t)l);
	buf[l] = '\0';
	return true;
}

const char *
gort_status_text(struct elfimg *img, const struct gort_info *gi,
		 const struct gort_g *g, char *buf, size_t len)
{
	static const char *const names[] = {
		[GORT_GIDLE] = "idle",	       [GORT_GRUNNABLE] = "runnable",
		[GORT_GRUNNING] = "running",   [GORT_GSYSCALL] = "syscall",
		[GORT_GWAITING] = "waiting",   [GORT_GDEAD] = "dead",
		[GORT_GCOPYSTACK] = "copystack",
		[GORT_GPREEMPTED] = "preempted",
	};
	const char *s = NULL;

	if (g->status == GORT_GWAITING && g->waitreason != 0) {
		if (reason_from_binary(img, gi, g->waitreason, buf, len))
			return buf;
		if (gi->major == 1 && gi->minor == 19 &&
		    g->waitreason < sizeof(reasons_go119) /
					    sizeof(reasons_go119[0]))
			s = reasons_go119[g->waitreason];
	}
	if (!s && g->status < sizeof(names) / sizeof(names[0]))
		s = names[g->status];
	snprintf(buf, len, "%s", s && s[0] ? s : "???");
	return buf;
}
