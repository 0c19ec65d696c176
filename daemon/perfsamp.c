/* perfsamp.c - the perf_event sampler: an event per thread, rings drained
 * every tick into the CPU windows. See perfsamp.h.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <asm/perf_regs.h>

#include "daemon/clock.h"
#include "daemon/daemon.h"
#include "daemon/guardian.h"
#include "daemon/log.h"
#include "daemon/perfsamp.h"
#include "daemon/proc.h"
#include "daemon/sampler.h"
#include "daemon/sampler_int.h"
#include "daemon/session.h"
#include "daemon/threads.h"
#include "daemon/tick.h"
#include "space/space.h"

/* The user registers a sample carries: every general register of x86-64
 * (the unwinder wants IP, SP, BP, BX and R12-R15; the rest cost 8 bytes
 * each). DS, ES, FS and GS the kernel refuses for 64-bit tasks. */
#define REG_BIT(r)	(1ULL << PERF_REG_X86_##r)
#define REGS_MASK                                                         \
	(((1ULL << PERF_REG_X86_64_MAX) - 1) &                             \
	 ~(REG_BIT(DS) | REG_BIT(ES) | REG_BIT(FS) | REG_BIT(GS)))
#define NREGS		((size_t)__builtin_popcountll(REGS_MASK))

/* A sample record is at most 64 KiB (its size is 16 bits): the stack copy
 * is capped below that, leaving room for the rest of the record. */
#define STACK_MAX	(65536 - 1024)
#define RECORD_MAX	65536

/* The fields before the stack: header, ip, pid/tid, time, period, abi,
 * registers; after it: size and dyn_size. */
#define RECORD_FIXED	(8 * (6 + NREGS) + 16)

/* Ring data pages, at least (the first page is the kernel's header). */
#define RING_MIN_PAGES	8

const char *
perfsamp_name(bool perf)
{
	return perf ? "perf_event" : "ptrace";
}

static size_t
stack_bytes(const struct target *t)
{
	size_t b = t->o.stack_bytes;

	if (b > STACK_MAX)
		b = STACK_MAX;
	return b & ~(size_t)7;
}

/* The ring's data pages: a power of two holding two samples of the
 * largest size, so that a tick's samples fit (the period is never
 * shorter than the tick's; a late tick loses the rest, counted). */
static size_t
ring_pages(const struct target *t)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	size_t need = 2 * (RECORD_FIXED + stack_bytes(t)), pages = RING_MIN_PAGES;

	while (pages * ps < need)
		pages *= 2;
	return pages;
}

static void
fill_attr(const struct target *t, uint64_t period_ns,
	  struct perf_event_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	a->type = PERF_TYPE_SOFTWARE;
	a->config = PERF_COUNT_SW_TASK_CLOCK;
	a->sample_period = period_ns;
	a->sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
			 PERF_SAMPLE_PERIOD | PERF_SAMPLE_REGS_USER |
			 PERF_SAMPLE_STACK_USER;
	a->sample_regs_user = REGS_MASK;
	a->sample_stack_user = (uint32_t)stack_bytes(t);
	a->disabled = 1;
	a->exclude_kernel = 1;
	a->exclude_hv = 1;
	/* sample times on the clock the windows use (mono_ns) */
	a->use_clockid = 1;
	a->clockid = CLOCK_MONOTONIC;
}

/* An event on thread tid with its ring mapped: 0, or -errno with *what
 * naming the step that failed. */
static int
open_event(const struct target *t, pid_t tid, uint64_t period_ns, int *fdp,
	   void **ringp, size_t *lenp, const char **what)
{
	struct perf_event_attr a;
	size_t len = (1 + ring_pages(t)) * (size_t)sysconf(_SC_PAGESIZE);
	void *ring;
	int fd, e;

	fill_attr(t, period_ns, &a);
	*what = "perf_event_open";
	fd = (int)syscall(SYS_perf_event_open, &a, tid, -1, -1,
			  PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	*what = "mapping the perf_event ring";
	ring = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ring == MAP_FAILED) {
		e = errno;
		close(fd);
		return -e;
	}
	*fdp = fd;
	*ringp = ring;
	*lenp = len;
	return 0;
}

/* What a refused event (step what, error err) means to the person who
 * asked, and what would let it be. */
static void
refusal(pid_t tid, const char *what, int err, char *msg, size_t msglen)
{
	char paranoid[32] = "?";
	char *buf = NULL;
	size_t len;

	if (proc_read("/proc/sys/kernel/perf_event_paranoid", 32, &buf,
		      &len) == 0) {
		snprintf(paranoid, sizeof(paranoid), "%.*s", (int)len, buf);
		paranoid[strcspn(paranoid, "\n")] = '\0';
		free(buf);
	}
	if (strcmp(what, "perf_event_open") == 0)
		snprintf(msg, msglen,
			 "perf_event_open on thread %d: %s (perf_event_paranoid "
			 "%s; the perf_event sampler needs root or CAP_PERFMON)",
			 (int)tid, strerror(err), paranoid);
	else
		snprintf(msg, msglen,
			 "%s of thread %d: %s (locked memory: "
			 "perf_event_mlock_kb, RLIMIT_MEMLOCK, or CAP_IPC_LOCK)",
			 what, (int)tid, strerror(err));
}

void
perfsamp_setup(struct target *t)
{
	char msg[PROFD_ERRLEN];
	const char *what;
	void *ring;
	size_t len;
	bool perf = t->o.sampler == SAMPLER_PERF;
	int fd, r;

	if (t->o.sampler == SAMPLER_AUTO) {
		r = open_event(t, t->pid, 1000000000ULL / 99, &fd, &ring, &len,
			       &what);
		if (r == 0) {
			munmap(ring, len);
			close(fd);
			perf = true;
			log_info("pid %d: sampler perf_event (--sampler auto: "
				 "perf_event_open is permitted)",
				 (int)t->pid);
		} else {
			refusal(t->pid, what, -r, msg, sizeof(msg));
			log_info("pid %d: sampler ptrace (--sampler auto: %s)",
				 (int)t->pid, msg);
		}
	}
	__atomic_store_n(&t->perf, perf, __ATOMIC_RELAXED);
}

/* Give h an event at sm->perf_period, enabled, within the fd budget.
 * -errno when perf_event_open or its ring failed, *what saying which
 * (-ESRCH: the thread is gone); 0 with no event when out of fds
 * (counted). */
static int
thr_open(struct target *t, struct thr *h, const char **what)
{
	struct sampler *sm = t->sm;
	int r;

	if (h->perf_fd >= 0 || h->perf_failed || h->gone)
		return 0;
	if (!threads_fd_reserve(1)) {
		h->perf_failed = true;
		STAT_ADD(t, perf_unsampled, 1);
		return 0;
	}
	r = open_event(t, h->tid, sm->perf_period, &h->perf_fd, &h->perf_ring,
		       &h->perf_len, what);
	if (r < 0) {
		threads_fd_release(1);
		h->perf_fd = -1;
		h->perf_ring = NULL;
		h->perf_failed = true;
		if (r != -ESRCH)
			STAT_ADD(t, perf_unsampled, 1);
		return r;
	}
	*what = "enabling the perf_event";
	if (ioctl(h->perf_fd, PERF_EVENT_IOC_ENABLE, 0) < 0)
		return -errno;
	return 0;
}

void
perfsamp_thr_close(struct thr *h)
{
	if (h->perf_ring)
		munmap(h->perf_ring, h->perf_len);
	if (h->perf_fd >= 0) {
		close(h->perf_fd);
		threads_fd_release(1);
	}
	h->perf_ring = NULL;
	h->perf_fd = -1;
	h->perf_failed = false;
}

/* Every thread's event closed: no perf window is open, or the first
 * could not start. */
static void
close_all(struct target *t)
{
	struct sampler *sm = t->sm;
	size_t i;

	for (i = 0; i < sm->nthr; i++)
		perfsamp_thr_close(sm->thr[i]);
	sm->perf_on = false;
}

/* The period the open perf windows want: that of the highest rate. */
static uint64_t
wanted_period(const struct target *t, const struct session *s)
{
	uint64_t p = s->period_ns;
	size_t i;

	for (i = 0; i < PROFD_MAX_SESSIONS; i++) {
		const struct session *o = t->active[i];

		if (o && o->perf && o->period_ns < p)
			p = o->period_ns;
	}
	return p ? p : 1;
}

int
perfsamp_window_start(struct target *t, struct session *s, char *msg,
		      size_t msglen)
{
	struct sampler *sm = t->sm;
	uint64_t period = wanted_period(t, s);
	const char *what = "perf_event_open", *first_what = what;
	size_t i, opened = 0;
	int r, first = 0;

	if (!sm->perf_buf) {
		sm->perf_buf = malloc(RECORD_MAX);
		if (!sm->perf_buf) {
			snprintf(msg, msglen, "out of memory");
			return -ENOMEM;
		}
		sm->perf_bufsz = RECORD_MAX;
	}
	if (sm->perf_on && period < sm->perf_period) {
		/* a faster window: every event samples at its rate */
		sm->perf_period = period;
		for (i = 0; i < sm->nthr; i++)
			if (sm->thr[i]->perf_fd >= 0)
				(void)ioctl(sm->thr[i]->perf_fd,
					    PERF_EVENT_IOC_PERIOD, &period);
	}
	if (!sm->perf_on) {
		sm->perf_period = period;
		for (i = 0; i < sm->nthr; i++)
			sm->thr[i]->perf_failed = false;
	}
	for (i = 0; i < sm->nthr; i++) {
		r = thr_open(t, sm->thr[i], &what);
		if (r < 0 && r != -ESRCH && first == 0) {
			first = r;
			first_what = what;
		}
		if (sm->thr[i]->perf_fd >= 0)
			opened++;
	}
	if (opened == 0 && !sm->perf_on) {
		/* the kernel refuses the process: the window cannot run */
		refusal(t->pid, first_what, first ? -first : ESRCH, msg,
			msglen);
		close_all(t);
		return first ? first : -ESRCH;
	}
	sm->perf_on = true;
	s->perf = true;
	return 0;
}

/* Copy the record at tail of a ring of size bytes (a power of two) into
 * buf, joining the two parts of one that wraps. Its size, or 0 when the
 * record is malformed. */
static size_t
copy_record(const unsigned char *data, uint64_t size, uint64_t tail,
	    unsigned char *buf, size_t bufsz)
{
	struct perf_event_header hdr;
	size_t off = (size_t)(tail & (size - 1)), first;

	memcpy(&hdr, data + off, sizeof(hdr));	/* 8-aligned: never split */
	if (hdr.size < sizeof(hdr) || hdr.size > bufsz || hdr.size > size)
		return 0;
	first = size - off < hdr.size ? size - off : hdr.size;
	memcpy(buf, data + off, first);
	memcpy(buf + first, data, hdr.size - first);
	return hdr.size;
}

/* perf's register order (asm/perf_regs.h) into ptrace's struct. */
static void
regs_of(const uint64_t *v, struct user_regs_struct *r)
{
	uint64_t all[PERF_REG_X86_64_MAX] = { 0 };
	size_t i, k = 0;

	for (i = 0; i < PERF_REG_X86_64_MAX; i++)
		if (REGS_MASK & (1ULL << i))
			all[i] = v[k++];
	memset(r, 0, sizeof(*r));
	r->rax = all[PERF_REG_X86_AX];
	r->rbx = all[PERF_REG_X86_BX];
	r->rcx = all[PERF_REG_X86_CX];
	r->rdx = all[PERF_REG_X86_DX];
	r->rsi = all[PERF_REG_X86_SI];
	r->rdi = all[PERF_REG_X86_DI];
	r->rbp = all[PERF_REG_X86_BP];
	r->rsp = all[PERF_REG_X86_SP];
	r->rip = all[PERF_REG_X86_IP];
	r->eflags = all[PERF_REG_X86_FLAGS];
	r->cs = all[PERF_REG_X86_CS];
	r->ss = all[PERF_REG_X86_SS];
	r->r8 = all[PERF_REG_X86_R8];
	r->r9 = all[PERF_REG_X86_R9];
	r->r10 = all[PERF_REG_X86_R10];
	r->r11 = all[PERF_REG_X86_R11];
	r->r12 = all[PERF_REG_X86_R12];
	r->r13 = all[PERF_REG_X86_R13];
	r->r14 = all[PERF_REG_X86_R14];
	r->r15 = all[PERF_REG_X86_R15];
	r->orig_rax = (uint64_t)-1;	/* not a system call exit */
}

/* One PERF_RECORD_SAMPLE (rec, len bytes) of thread h: unwound and added
 * to the open perf windows. Called with space_mu held. */
static void
take_sample(struct target *t, struct thr *h, unsigned char *rec, size_t len,
	    bool *refreshed)
{
	struct sampler *sm = t->sm;
	struct snapshot snap;
	uint64_t v[6 + NREGS + 1], size, dyn;
	size_t fixed = 8 * (6 + NREGS);
	bool partial = false;
	int n;

	/* header, ip, pid/tid, time, period, abi, regs, size */
	if (len < fixed + 8)
		goto bad;
	memcpy(v, rec, fixed + 8);
	if (v[5] != PERF_SAMPLE_REGS_ABI_64)
		goto bad;	/* no user registers: a kernel thread */
	size = v[6 + NREGS];
	if (size > len - fixed - 8 || (size > 0 && len < fixed + 16 + size))
		goto bad;
	dyn = 0;
	if (size > 0)
		memcpy(&dyn, rec + fixed + 8 + size, 8);
	if (dyn > size)
		dyn = size;
	memset(&snap, 0, sizeof(snap));
	snap.tid = h->tid;
	regs_of(&v[6], &snap.regs);
	snap.regs_known = SNAP_REGS_ALL;
	snap.sp = snap.regs.rsp;
	snap.stack = rec + fixed + 8;
	snap.len = (size_t)dyn;
	snap.cap = (size_t)size;
	n = tick_unwind(t, &snap, refreshed, &partial);
	if (n < 1)
		return;
	tick_warm(t, sm->pcs, (size_t)n);
	session_add_perf(t, h, sm->pcs, (size_t)n, v[3], v[4]);
	return;
bad:
	STAT_ADD(t, unwind_failures, 1);
}

/* Read every record of h's ring and hand the ring its space back. Called
 * with space_mu held. */
static void
drain_thread(struct target *t, struct thr *h, bool *refreshed)
{
	struct sampler *sm = t->sm;
	struct perf_event_mmap_page *mp = h->perf_ring;
	const unsigned char *data;
	uint64_t head, tail, size;

	head = __atomic_load_n(&mp->data_head, __ATOMIC_ACQUIRE);
	tail = mp->data_tail;
	data = (const unsigned char *)h->perf_ring + mp->data_offset;
	size = mp->data_size;
	while (tail < head) {
		struct perf_event_header hdr;
		size_t len = copy_record(data, size, tail, sm->perf_buf,
					 sm->perf_bufsz);

		if (len == 0) {
			tail = head;	/* cannot happen: skip it all */
			break;
		}
		memcpy(&hdr, sm->perf_buf, sizeof(hdr));
		if (hdr.type == PERF_RECORD_SAMPLE) {
			take_sample(t, h, sm->perf_buf, len, refreshed);
		} else if (hdr.type == PERF_RECORD_LOST && len >= 24) {
			uint64_t lost;

			memcpy(&lost, sm->perf_buf + 16, sizeof(lost));
			STAT_ADD(t, perf_lost, lost);
		}
		guardian_beat(sm->guard);
		tail += len;
	}
	__atomic_store_n(&mp->data_tail, tail, __ATOMIC_RELEASE);
}

void
perfsamp_drain(struct target *t)
{
	struct sampler *sm = t->sm;
	bool refreshed = false;
	size_t i;

	if (!sm->perf_on)
		return;
	pthread_mutex_lock(&t->space_mu);
	for (i = 0; i < sm->nthr; i++)
		if (sm->thr[i]->perf_ring)
			drain_thread(t, sm->thr[i], &refreshed);
	pthread_mutex_unlock(&t->space_mu);
}

void
perfsamp_tick(struct target *t, struct session **due, size_t ndue)
{
	struct sampler *sm = t->sm;
	uint64_t t0 = mono_ns(), c0 = thread_cpu_ns();
	const char *what;
	size_t i;
	int r;

	for (i = 0; i < ndue; i++)
		due[i]->ticks++;
	/* the samples of threads that are gone are in their rings still */
	perfsamp_drain(t);
	r = threads_refresh(t);
	if (r == -ESRCH) {
		sessions_target_exited(t);
		goto out;
	}
	for (i = 0; r == 0 && sm->perf_on && i < sm->nthr; i++)
		(void)thr_open(t, sm->thr[i], &what);
out:
	STAT_ADD(t, ticks, 1);
	STAT_ADD(t, tick_ns, mono_ns() - t0);
	STAT_ADD(t, tick_cpu_ns, thread_cpu_ns() - c0);
}

void
perfsamp_idle(struct target *t)
{
	size_t i;

	if (!t->sm->perf_on)
		return;
	for (i = 0; i < PROFD_MAX_SESSIONS; i++)
		if (t->active[i] && t->active[i]->perf)
			return;
	close_all(t);
}

void
perfsamp_free(struct sampler *sm)
{
	free(sm->perf_buf);
	sm->perf_buf = NULL;
	sm->perf_bufsz = 0;
}
