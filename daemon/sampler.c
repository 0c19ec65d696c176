/* sampler.c - the per-target sampler thread.
 *
 * It owns every ptrace request for the target (ptrace relations belong to
 * the tracer *thread*), the thread table, the stack caches and the
 * unwinder. HTTP workers post sessions (windows) through target.c and sleep
 * until the sampler marks them done.
 *
 * Each tick, for the sessions that are due:
 *   1. learn which threads ran, without stopping anything: the process CPU
 *      clock and /proc/PID/task/TID/{stat,schedstat} on kept fds; threads
 *      that have been idle are re-read only when the process used CPU time
 *      that the busy ones do not account for (so a thousand sleeping
 *      threads cost next to nothing);
 *   2. stop the threads that are running or runnable (state R) in batches:
 *      SEIZE + INTERRUPT the whole batch first, then collect the stops as
 *      they arrive (one after another collapses when runnable threads
 *      outnumber CPUs: reference/measured-here.md section 3); in each stop
 *      GETREGSET, one process_vm_readv of the stack and one pread of
 *      schedstat, then release; a stop-time budget per tick defers the rest
 *      of a big target to the next tick;
 *   3. for wall-clock windows and thread dumps, every other thread: its
 *      cached stack when its scheduler counters have not moved since the
 *      copy (it has not run, so it is still where it was), else a copy
 *      taken without stopping it, from the SP and PC that
 *      /proc/PID/task/TID/syscall gives for a thread blocked in the
 *      kernel. A sleeping thread is stopped only when that fails and its
 *      system call restarts transparently: an interrupted epoll_wait or
 *      sigtimedwait returns EINTR to the program (ptrace(2) BUGS);
 *   4. with every thread running again, unwind the copies and add them to
 *      the sessions: CPU samples weighted by the CPU time the thread used
 *      since its previous sample (schedstat), wall samples by the period.
 *
 * Attach policy (--attach): by default a thread is seized for one sample
 * and detached right after, as py-spy does: between samples nothing is
 * traced, signals never detour through profd, TracerPid reads 0, and a
 * SIGKILLed profd leaves nothing behind. --attach=window keeps every thread
 * seized for the window (cheaper per tick, but every signal to the target
 * waits for profd): the loop then services stops as they arrive, between
 * ticks too. bench/ measures both.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/proc.h"
#include "daemon/profile.h"
#include "daemon/warmer.h"
#include "daemon/sampler.h"

#define STOP_DEADLINE_NS   (50 * 1000000ULL)
#define LATE_POLL_NS	   (1 * 1000000ULL)
#define HOT_TICKS	   20		/* idle ticks before a thread is cold */
#define FULL_SCAN_NS	   (10 * 1000000000ULL)
#define SCHED_TICK_NS	   (4 * 1000000ULL)	/* schedstat lag per running
						   thread: one timer tick */

const double hist_bounds_us[HIST_BUCKETS] = {
	5, 10, 20, 30, 50, 75, 100, 200, 500, 1000, 2000, 5000, 10000, 50000,
};

static int SIGWAKE;

uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int64_t
wall_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t
thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* CPU time of every thread of pid, dead ones included: clock_gettime on
 * the process CPU clock, which the kernel lets anyone read for any process
 * (kernel/time/posix-cpu-timers.c pid_for_clock). 0 when unavailable. */
static uint64_t
process_cpu_ns(pid_t pid)
{
	clockid_t clk = (clockid_t)((~(unsigned)pid << 3) | 2);	/* SCHED */
	struct timespec ts;

	if (clock_gettime(clk, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
abs_timespec(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / 1000000000ULL);
	ts->tv_nsec = (long)(ns % 1000000000ULL);
}

void
hist_add(struct hist *h, uint64_t ns)
{
	double us = (double)ns / 1000.0;
	size_t i;

	for (i = 0; i < HIST_BUCKETS && us > hist_bounds_us[i]; i++)
		;
	__atomic_fetch_add(&h->count[i], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->sum_ns, ns, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->n, 1, __ATOMIC_RELAXED);
	if (ns > __atomic_load_n(&h->max_ns, __ATOMIC_RELAXED))
		__atomic_store_n(&h->max_ns, ns, __ATOMIC_RELAXED);
}

static void
on_wake(int sig)
{
	(void)sig;
}

/* The deadline timer's signal interrupts a blocking waitpid in a sampler
 * thread: no SA_RESTART, so the wait returns EINTR. */
void
sampler_install_signal(void)
{
	struct sigaction sa;

	SIGWAKE = SIGRTMIN + 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_wake;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGWAKE, &sa, NULL);
}

/* ---- thread table ---------------------------------------------------------- */

static struct thr *
thr_find(struct target *t, pid_t tid)
{
	size_t lo = 0, hi = t->nthr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t->thr[mid]->tid == tid)
			return t->thr[mid];
		if (t->thr[mid]->tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * File descriptors. Every thread's stat and schedstat are read often, so
 * they stay open, two fds a thread, while that fits: all targets together
 * keep at most half of RLIMIT_NOFILE (the rest is for connections, ELF
 * files, /proc reads). Past that a new thread gets none, a thread that
 * turns cold gives its back, and their files are opened for each read. A
 * read that cannot get an fd at all says -EMFILE, never "gone".
 */
static long kept_fds;		/* over all targets, atomic */
static long fd_budget;		/* set once, first use */

static bool
fds_to_spare(void)
{
	long b = __atomic_load_n(&fd_budget, __ATOMIC_RELAXED);
	struct rlimit rl;

	if (b == 0) {
		b = getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
				    rl.rlim_cur != RLIM_INFINITY
			    ? (long)(rl.rlim_cur / 2)
			    : 1L << 20;
		if (b < 64)
			b = 64;
		__atomic_store_n(&fd_budget, b, __ATOMIC_RELAXED);
	}
	return __atomic_load_n(&kept_fds, __ATOMIC_RELAXED) + 2 <= b;
}

static void
thr_close_fds(struct thr *h)
{
	long n = 0;

	if (h->stat_fd >= 0) {
		close(h->stat_fd);
		n++;
	}
	if (h->sched_fd >= 0) {
		close(h->sched_fd);
		n++;
	}
	h->stat_fd = h->sched_fd = -1;
	__atomic_sub_fetch(&kept_fds, n, __ATOMIC_RELAXED);
}

/* pread of the thread's file NAME ("stat", "schedstat") through *fd, or
 * through a file opened for this read when the thread keeps none. Bytes
 * read, -ESRCH when the thread is gone, -EMFILE when out of fds. */
static ssize_t
thr_pread(const struct target *t, const struct thr *h, int fd,
	  const char *name, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int e;

	if (fd < 0) {
		snprintf(path, sizeof(path), "%d/%s", (int)h->tid, name);
		fd = openat(t->task_fd, path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return errno == EMFILE || errno == ENFILE ? -EMFILE
								  : -ESRCH;
		n = pread(fd, buf, len, 0);
		e = errno;
		close(fd);
		errno = e;
	} else {
		n = pread(fd, buf, len, 0);
	}
	return n > 0 ? n : -ESRCH;
}

static void
thr_free(struct thr *h)
{
	thr_close_fds(h);
	free(h->cache.pcs);
	free(h);
}

static struct thr *
thr_add(struct target *t, pid_t tid)
{
	char path[64];
	struct thr *h;
	size_t lo = 0, hi = t->nthr;

	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->tid = tid;
	h->hot = true;		/* until proven idle */
	h->stat_fd = h->sched_fd = -1;
	if (fds_to_spare()) {
		snprintf(path, sizeof(path), "%d/stat", (int)tid);
		h->stat_fd = openat(t->task_fd, path, O_RDONLY | O_CLOEXEC);
		snprintf(path, sizeof(path), "%d/schedstat", (int)tid);
		h->sched_fd = openat(t->task_fd, path, O_RDONLY | O_CLOEXEC);
		__atomic_add_fetch(&kept_fds,
				   (h->stat_fd >= 0) + (h->sched_fd >= 0),
				   __ATOMIC_RELAXED);
		if (h->stat_fd < 0 || h->sched_fd < 0) {
			bool gone = errno != EMFILE && errno != ENFILE;

			thr_close_fds(h);
			if (gone) {
				thr_free(h);
				return NULL;
			}
			/* out of fds: read it through passing ones */
		}
	}
	if (t->nthr == t->capthr) {
		size_t nc = t->capthr ? t->capthr * 2 : 64;
		struct thr **nt = realloc(t->thr, nc * sizeof(*nt));

		if (!nt) {
			thr_free(h);
			return NULL;
		}
		t->thr = nt;
		t->capthr = nc;
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t->thr[mid]->tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&t->thr[lo + 1], &t->thr[lo],
		(t->nthr - lo) * sizeof(*t->thr));
	t->thr[lo] = h;
	t->nthr++;
	return h;
}

/* CPU time and number of times scheduled in, from schedstat. */
static int
thr_sched(const struct target *t, const struct thr *h, uint64_t *cpu,
	  uint64_t *slices)
{
	char buf[128];
	uint64_t wait;
	ssize_t n;

	n = thr_pread(t, h, h->sched_fd, "schedstat", buf, sizeof(buf) - 1);
	if (n < 0)
		return (int)n;
	return proc_parse_schedstat(buf, (size_t)n, cpu, &wait, slices) < 0
		       ? -ESRCH
		       : 0;
}

/* Read stat and schedstat of one thread. -ESRCH when it is gone. */
static int
thr_read(struct target *t, struct thr *h)
{
	char buf[1024];
	struct proc_stat st;
	uint64_t cpu, slices;
	ssize_t n;

	n = thr_pread(t, h, h->stat_fd, "stat", buf, sizeof(buf) - 1);
	if (n < 0)
		return (int)n;
	if (proc_parse_stat(buf, (size_t)n, &st) < 0)
		return -ESRCH;
	n = thr_sched(t, h, &cpu, &slices);
	if (n < 0)
		return (int)n;
	if (h->starttime && h->starttime != st.starttime) {
		/* a new thread with a recycled tid: start over */
		memset(h->attributed, 0, sizeof(h->attributed));
		h->cache.valid = false;
	}
	h->starttime = st.starttime;
	h->state = st.state;
	h->processor = st.processor;
	memcpy(h->comm, st.comm, sizeof(h->comm));
	if (cpu != h->cpu_ns || slices != h->slices || st.state == 'R') {
		h->changed_ns = mono_ns();
		h->hot = true;
	}
	h->cpu_ns = cpu;
	h->slices = slices;
	h->read_gen = t->tick_gen;
	return 0;
}

/* What a read of a thread's files says of it: -ESRCH, it is gone; -EMFILE,
 * profd could not read it (out of fds): still there, but unknown this
 * time, and counted. Returns r. */
static int
thr_check(struct target *t, struct thr *h, int r)
{
	h->unreadable = r == -EMFILE;
	if (r == -ESRCH)
		h->gone = true;
	else if (r == -EMFILE)
		STAT_ADD(t, unreadable, 1);
	return r;
}

#define DENTS_SIZE 32768

/* List /proc/PID/task: add new threads, forget those that are gone.
 * -ESRCH when the process is gone. */
enum scan_mode { SCAN_CPU, SCAN_WALL, SCAN_FULL };

static int
list_threads(struct target *t)
{
	struct linux_dirent64 {
		uint64_t d_ino;
		int64_t d_off;
		unsigned short d_reclen;
		unsigned char d_type;
		char d_name[];
	} *d;
	size_t i, j;
	long n, off;
	int found = 0;

	t->scan_gen++;
	if (lseek(t->task_fd, 0, SEEK_SET) < 0)
		return -ESRCH;
	for (;;) {
		n = syscall(SYS_getdents64, t->task_fd, t->dents, DENTS_SIZE);
		if (n < 0)
			return errno == ENOENT ? -ESRCH : -errno;
		if (n == 0)
			break;
		for (off = 0; off < n; off += d->d_reclen) {
			struct thr *h;
			pid_t tid;

			d = (struct linux_dirent64 *)(t->dents + off);
			if (d->d_name[0] < '0' || d->d_name[0] > '9')
				continue;
			tid = (pid_t)atoi(d->d_name);
			found++;
			h = thr_find(t, tid);
			if (!h)
				h = thr_add(t, tid);
			if (h)
				h->seen = t->scan_gen;
		}
	}
	if (found == 0)
		return -ESRCH;
	for (i = j = 0; i < t->nthr; i++) {
		struct thr *h = t->thr[i];

		if (h->seen != t->scan_gen)
			h->gone = true;
		if (h->gone && h->pt == PT_NONE) {
			if (h->traced)
				t->ntraced--;	/* the kernel let it go */
			thr_free(h);
			continue;
		}
		t->thr[j++] = h;
	}
	t->nthr = j;
	return 0;
}

/* Threads in /proc/PID/task, from the directory's link count (proc
 * counts one link per thread): O(1), no listing. */
static int
thread_count(const struct target *t)
{
	struct stat st;

	if (fstat(t->task_fd, &st) != 0)
		return -1;
	return (int)st.st_nlink - 2;
}

/*
 * Bring the thread table up to date for this tick.
 *
 * A full scan lists the threads and reads every one (thread dumps, thread
 * count changes, every FULL_SCAN_NS). A wall-clock tick reads every
 * thread's schedstat, and stat only for those whose counters moved: a
 * thread that has not run keeps its state and stack.
 *
 * A CPU tick reads only hot threads (those that ran in the last HOT_TICKS
 * ticks), and the process CPU clock tells whether the cold ones may have
 * run: the CPU time the whole process used since the last tick minus what
 * the hot threads account for adds up in `unexplained`. schedstat of a
 * running thread lags by up to one scheduler tick, so it wavers around
 * zero, but a cold thread that runs makes it grow tick after tick until a
 * full scan finds it. A thousand sleeping threads then cost next to
 * nothing. -ESRCH when the process is gone.
 */
static int
scan_threads(struct target *t, enum scan_mode mode, int64_t *unexplained)
{
	uint64_t now = mono_ns(), pcpu = 0, hot_delta = 0;
	bool full = mode == SCAN_FULL, clock;
	unsigned running = 0;
	int nthreads;
	size_t i;
	int r;

	/*
	 * The process CPU clock sums every thread's runtime in the kernel
	 * (thread_group_cputime): with a thousand threads that loop was half
	 * of profd's CPU time. Read it once per nthreads/100 ticks; the sum
	 * of unexplained time simply covers the longer span.
	 */
	nthreads = thread_count(t);
	clock = ++t->clock_ticks >= (unsigned)(nthreads / 100 + 1);
	if (clock) {
		t->clock_ticks = 0;
		pcpu = process_cpu_ns(t->pid);
	}
	if (nthreads != t->nthreads_prev || (clock && pcpu == 0) ||
	    now - t->last_full_scan > FULL_SCAN_NS)
		full = true;
	if (!full) {
		for (i = 0; i < t->nthr; i++) {
			struct thr *h = t->thr[i];
			uint64_t before = h->cpu_ns, before_sl = h->slices;

			if (h->gone)
				continue;
			if (!h->hot) {
				uint64_t cpu, sl;

				if (mode != SCAN_WALL)
					continue;
				if (thr_check(t, h,
					      thr_sched(t, h, &cpu, &sl)) < 0)
					continue;
				if (cpu == before && sl == before_sl)
					continue;	/* has not run */
			}
			if (thr_check(t, h, thr_read(t, h)) < 0)
				continue;
			if (h->state == 'R')
				running++;
		}
		if (clock) {
			/* against each thread's reading at the previous
			 * clock read, not the one taken in a stop since */
			for (i = 0; i < t->nthr; i++) {
				struct thr *h = t->thr[i];

				if (h->gone || !h->hot)
					continue;
				if (h->cpu_ns > h->cpu_scan)
					hot_delta += h->cpu_ns - h->cpu_scan;
				h->cpu_scan = h->cpu_ns;
			}
			if (pcpu >= t->proc_cpu_prev)
				*unexplained += (int64_t)(pcpu - t->proc_cpu_prev) -
						(int64_t)hot_delta;
			if (*unexplained < 0)
				*unexplained = 0;
			t->proc_cpu_prev = pcpu;
		}
		if (mode == SCAN_CPU &&
		    *unexplained > (int64_t)((running + 1) * SCHED_TICK_NS))
			full = true;
	}
	if (!full)
		goto cool;
	if (!clock)
		pcpu = process_cpu_ns(t->pid);
	t->proc_cpu_prev = pcpu;

	r = list_threads(t);
	if (r < 0)
		return r;
	for (i = 0; i < t->nthr; i++) {
		struct thr *h = t->thr[i];

		if (!h->gone)
			(void)thr_check(t, h, thr_read(t, h));
		h->cpu_scan = h->cpu_ns;
	}
	STAT_ADD(t, threads_scanned, t->nthr);
	*unexplained = 0;
	t->last_full_scan = now;
	t->nthreads_prev = nthreads;
cool:
	/* A thread that has not moved for HOT_TICKS ticks turns cold. */
	for (i = 0; i < t->nthr; i++) {
		struct thr *h = t->thr[i];

		if (h->hot && h->state != 'R' &&
		    now - h->changed_ns > HOT_TICKS * 10000000ULL) {
			h->hot = false;
			/* short of fds: the hot ones keep theirs */
			if (h->stat_fd >= 0 && !fds_to_spare())
				thr_close_fds(h);
		}
	}
	return 0;
}

/* ---- symbolizing while sampling ------------------------------------------------ */

#define SEEN_MAX (1u << 18)	/* PCs remembered per target: 2 MiB */

/* Hand the PCs of a stack that the warmer has not seen to it. Called with
 * space_mu held. A PC means something else once the maps change, so the
 * set starts over with each new generation. */
static void
warm_pcs(struct target *t, const uint64_t *pcs, size_t n)
{
	uint64_t gen = space_generation(t->space);
	size_t i;

	if (!t->warm)
		return;
	if (gen != t->seen_gen) {
		if (t->seen_pcs)
			memset(t->seen_pcs, 0, t->seen_cap * sizeof(uint64_t));
		t->seen_n = 0;
		t->seen_gen = gen;
	}
	if (!t->seen_pcs) {
		t->seen_cap = 4096;
		t->seen_pcs = calloc(t->seen_cap, sizeof(uint64_t));
		if (!t->seen_pcs)
			return;
	}
	for (i = 0; i < n; i++) {
		const struct module *m;
		uint64_t pc = pcs[i];
		size_t j;

		if (pc == 0)
			continue;
		if ((t->seen_n + 1) * 2 > t->seen_cap) {
			size_t nc = t->seen_cap * 2, k;
			uint64_t *ns;

			if (nc > SEEN_MAX)
				return;	/* full: the export resolves the rest */
			ns = calloc(nc, sizeof(*ns));
			if (!ns)
				return;
			for (k = 0; k < t->seen_cap; k++) {
				uint64_t v = t->seen_pcs[k];

				if (!v)
					continue;
				j = (v * 0x9e3779b97f4a7c15ULL >> 24) & (nc - 1);
				while (ns[j])
					j = (j + 1) & (nc - 1);
				ns[j] = v;
			}
			free(t->seen_pcs);
			t->seen_pcs = ns;
			t->seen_cap = nc;
		}
		j = (pc * 0x9e3779b97f4a7c15ULL >> 24) & (t->seen_cap - 1);
		while (t->seen_pcs[j] && t->seen_pcs[j] != pc)
			j = (j + 1) & (t->seen_cap - 1);
		if (t->seen_pcs[j])
			continue;
		t->seen_pcs[j] = pc;
		t->seen_n++;
		m = space_module(t->space, pc);
		if (m && m->img)
			warmer_push(t->warm, elfimg_get(m->img), pc - m->bias);
	}
}

/* ---- stack cache ------------------------------------------------------------- */

static bool
cache_valid(const struct thr *h)
{
	return h->cache.valid && h->cache.cpu_ns == h->cpu_ns &&
	       h->cache.slices == h->slices;
}

static void
cache_store(struct thr *h, const uint64_t *pcs, size_t n, bool partial,
	    uint64_t cpu, uint64_t slices)
{
	struct stack_cache *c = &h->cache;

	if (n > c->cap) {
		uint64_t *np = realloc(c->pcs, n * sizeof(*np));

		if (!np) {
			c->valid = false;
			return;
		}
		c->pcs = np;
		c->cap = (uint16_t)n;
	}
	memcpy(c->pcs, pcs, n * sizeof(*pcs));
	c->n = (uint16_t)n;
	c->partial = partial;
	c->cpu_ns = cpu;
	c->slices = slices;
	c->valid = true;
}

/* ---- stops --------------------------------------------------------------- */

static void
arm_timer(struct target *t, uint64_t deadline)
{
	struct itimerspec its;

	if (!t->timer_ok)
		return;
	memset(&its, 0, sizeof(its));
	abs_timespec(deadline, &its.it_value);
	/* Fires again every millisecond: if the first expiry lands between
	 * our deadline check and waitpid(), the next one still wakes us. */
	its.it_interval.tv_nsec = 1000000;
	timer_settime(t->timer, TIMER_ABSTIME, &its, NULL);
}

static void
disarm_timer(struct target *t)
{
	struct itimerspec its;

	if (!t->timer_ok)
		return;
	memset(&its, 0, sizeof(its));
	timer_settime(t->timer, 0, &its, NULL);
}

static void
untraced(struct target *t, struct thr *h)
{
	if (h && h->traced) {
		h->traced = false;
		t->ntraced--;
	}
}

/* Tell the guardian (guardian.c) what this sampler holds: every thread it
 * has seized (interrupted and not released yet, or, under --attach=window,
 * seized for the window), plus `extra` about to be; whether a window is
 * open; and due, until when it may legitimately not run: the deadline of
 * the wait it is about to enter, or now. */
static void
guard(struct target *t, unsigned extra, uint64_t due)
{
	unsigned held = t->ntraced + extra;

	guardian_publish(t->guard, held, held > 0 || t->guard_active, due);
}

/* Let a stopped thread go, delivering sig if it was stopped for one:
 * detach it, or under --attach=window continue it, still seized. */
static void
release(struct target *t, struct thr *h, pid_t tid, int sig)
{
	if (t->o.attach_window && h && h->traced && !h->gone &&
	    pt_cont(tid, sig) == 0)
		return;
	pt_detach(tid, sig);
	untraced(t, h);
}

/*
 * Handle one stop or exit reported by waitpid. Every branch that finds the
 * thread stopped lets it go before returning.
 */
static void
handle_event(struct target *t, const struct pt_event *ev, unsigned *pending)
{
	struct thr *h = thr_find(t, ev->tid);
	struct slot *s = NULL;
	enum thr_pt was = h ? h->pt : PT_NONE;
	int resume_sig = 0;

	if (h && h->pt == PT_PENDING)
		s = &t->slots[h->slot];
	if (h)
		h->pt = PT_NONE;

	switch (ev->kind) {
	case PT_EV_EXITED:
		STAT_ADD(t, exited_in_stop, 1);
		if (h) {
			h->gone = true;
			untraced(t, h);
		}
		break;
	case PT_EV_SIGNAL:
		/* A signal arrived while the thread was seized. Its
		 * registers are as good as at our interrupt: take the
		 * sample, then deliver the signal unchanged. */
		resume_sig = ev->sig;
		STAT_ADD(t, signals_reinjected, 1);
		/* fall through */
	case PT_EV_INTERRUPT:
		if (s) {
			uint64_t cpu, slices;

			s->t_stop = mono_ns();
			s->valid = snapshot_take(&s->snap, ev->tid) == 0;
			/* The one read besides the snapshot: whether the
			 * thread was on a CPU when interrupted (see
			 * sample_is_biased()), and its counters exactly at
			 * the stop, for the CPU weight and the cache. */
			if (s->valid && thr_sched(t, h, &cpu, &slices) == 0) {
				s->preempted = slices != h->slices;
				h->cpu_ns = cpu;
				h->slices = slices;
			}
		}
		release(t, h, ev->tid, resume_sig);
		if (s) {
			hist_add(&t->stats.interrupt, s->t_stop - s->t_int);
			hist_add(&t->stats.stop, mono_ns() - s->t_stop);
			STAT_ADD(t, stops, 1);
		}
		break;
	case PT_EV_GROUP_STOP:
		/* Stopped by job control (SIGSTOP, ^Z): detaching keeps it
		 * in the group-stop, as if profd had never been there; a
		 * thread we keep seized listens for the SIGCONT instead
		 * (PTRACE_LISTEN: stays stopped, reports the continue). */
		STAT_ADD(t, group_stops, 1);
		if (t->o.attach_window && h && h->traced && !h->gone &&
		    pt_listen(ev->tid) == 0) {
			h->pt = PT_LISTEN;
		} else {
			pt_detach(ev->tid, 0);
			untraced(t, h);
		}
		break;
	case PT_EV_OTHER:
		release(t, h, ev->tid, 0);
		break;
	}
	if (was == PT_PENDING && *pending > 0)
		(*pending)--;
	else if (was == PT_LATE && t->late > 0)
		t->late--;
}

/* Stops that arrive after their tick gave up on them, and, under
 * --attach=window, every signal the target receives. */
static void
service_events(struct target *t)
{
	struct pt_event ev;
	unsigned none = 0;

	while (pt_wait(&ev, false) == 1)
		handle_event(t, &ev, &none);
	if (t->late > 0 && pt_wait(&ev, false) == -ECHILD) {
		/* nothing is traced any more: they all exited */
		size_t i;

		for (i = 0; i < t->nthr; i++)
			if (t->thr[i]->pt == PT_LATE) {
				t->thr[i]->pt = PT_NONE;
				untraced(t, t->thr[i]);
			}
		t->late = 0;
	}
}

/* Handle stops and exits as waitpid reports them while *left > 0 (a
 * counter handle_event decrements, directly or through pending), until the
 * deadline: the timer's signal interrupts the blocking wait. */
static void
collect_stops(struct target *t, uint64_t deadline, const unsigned *left,
	      unsigned *pending)
{
	struct pt_event ev;

	guard(t, 0, deadline);
	arm_timer(t, deadline);
	while (*left > 0) {
		int w = pt_wait(&ev, true);

		if (w == -EINTR) {
			if (mono_ns() >= deadline)
				break;
			continue;
		}
		if (w < 0)
			break;
		handle_event(t, &ev, pending);
		guard(t, 0, deadline);
	}
	disarm_timer(t);
	guard(t, 0, mono_ns());
}

/* Seize and interrupt a batch, then collect its stops until all arrived or
 * the deadline passed. Returns -EPERM (with msg) when the kernel refuses to
 * let profd trace the target. */
static int
stop_batch(struct target *t, struct thr **sel, size_t nsel, char *msg,
	   size_t msglen)
{
	unsigned pending = 0;
	size_t i;
	int r = 0, e;

	/* before the first INTERRUPT: the guardian must never miss a hold */
	guard(t, (unsigned)nsel, mono_ns() + STOP_DEADLINE_NS);
	for (i = 0; i < nsel; i++) {
		struct thr *h = sel[i];
		struct slot *s = &t->slots[i];

		s->valid = false;
		s->preempted = false;
		s->thr = h;
		if (!h->traced) {
			r = pt_seize(h->tid);
			if (r == -EPERM) {
				/* EPERM also means "exiting"
				 * (remoteprocess#111): only a thread that is
				 * still there is a refusal. */
				r = 0;
				if (thr_check(t, h, thr_read(t, h)) < 0)
					continue;
				/* Already ours: a thread that exec'd while
				 * seized comes back as the leader, still
				 * seized, its stop never reported under this
				 * TID. Take it as seized: interrupt it (the
				 * stop is reported) and let it go as usual. */
				if (proc_is_self(proc_tracer(h->tid)))
					goto seized;
				/* A thread an exec is killing refuses too:
				 * only a process profd may not trace (the
				 * check behind PTRACE_SEIZE, on /proc/PID/mem)
				 * is a refusal; otherwise skip it this tick. */
				e = proc_check_traceable(t->pid, msg, msglen);
				if (e == 0 || e == -ESRCH || e == -EMFILE)
					continue;
				r = -EPERM;
				break;
			}
			if (r < 0) {
				r = 0;
				h->gone = true;
				continue;
			}
seized:
			h->traced = true;
			t->ntraced++;
		}
		s->t_int = mono_ns();
		if (pt_interrupt(h->tid) < 0) {
			/* seized but exiting: its exit will be reported */
			h->pt = PT_LATE;
			t->late++;
			continue;
		}
		h->pt = PT_PENDING;
		h->slot = (int)i;
		pending++;
	}
	collect_stops(t, mono_ns() + STOP_DEADLINE_NS, &pending, &pending);
	if (pending > 0) {
		/* A thread that went into uninterruptible sleep between our
		 * read of its state and the interrupt stops only when it
		 * comes back to user space. Don't hold the tick for it: its
		 * stop is answered whenever it arrives. */
		for (i = 0; i < nsel; i++) {
			if (sel[i]->pt == PT_PENDING) {
				sel[i]->pt = PT_LATE;
				t->late++;
				STAT_ADD(t, late, 1);
			}
		}
	}
	return r;
}

/* ---- sleeping threads, without a stop ----------------------------------------- */

/* System calls that an interrupt restarts transparently (measured here:
 * reference/measured-here.md section 6; signal(7)): a ptrace stop of a
 * thread blocked in one of them changes nothing the program can see. */
static bool
restarts_transparently(long nr)
{
	switch (nr) {
	case SYS_futex:
	case SYS_nanosleep:
	case SYS_clock_nanosleep:
	case SYS_poll:
	case SYS_ppoll:
	case SYS_select:
	case SYS_pselect6:
	case SYS_wait4:
	case SYS_waitid:
		return true;
	default:
		return false;
	}
}

/*
 * Copy the stack of a thread that is not running, without stopping it.
 * /proc/PID/task/TID/syscall gives the user SP and PC of a thread blocked
 * in the kernel (the kernel reads them only while the thread is off CPU:
 * lib/syscall.c task_current_syscall). The copy is kept only if the
 * syscall line and the scheduler counters are the same after it: the
 * thread did not run in between, so its stack did not change.
 * -EAGAIN when it ran (try again later, or stop it).
 */
static int
capture_sleeper(struct target *t, struct thr *h, struct snapshot *s,
		struct proc_syscall *sc)
{
	char path[64], a[512], b[512];
	uint64_t cpu0, sl0, cpu1, sl1;
	ssize_t na, nb;
	int fd, r;

	snprintf(path, sizeof(path), "%d/syscall", (int)h->tid);
	fd = openat(t->task_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ESRCH;
	r = -EAGAIN;
	if (thr_sched(t, h, &cpu0, &sl0) < 0)
		goto out;
	na = pread(fd, a, sizeof(a) - 1, 0);
	if (na <= 0 || proc_parse_syscall(a, (size_t)na, sc) < 0)
		goto out;
	memset(&s->regs, 0, sizeof(s->regs));
	s->regs.rsp = sc->sp;
	s->regs.rip = sc->pc;
	s->sp = sc->sp;
	s->regs_known = SNAP_REGS_SP_PC;
	if (snapshot_read_stack(s, h->tid) < 0)
		goto out;
	nb = pread(fd, b, sizeof(b) - 1, 0);
	if (nb != na || memcmp(a, b, (size_t)na) != 0)
		goto out;
	if (thr_sched(t, h, &cpu1, &sl1) < 0 || cpu1 != cpu0 || sl1 != sl0)
		goto out;
	h->cpu_ns = cpu1;
	h->slices = sl1;
	r = 0;
out:
	close(fd);
	return r;
}

/* ---- sessions --------------------------------------------------------------- */

static void
finish_session(struct target *t, struct session *s, int status,
	       const char *msg)
{
	uint64_t now = mono_ns();

	s->duration_ns = now - s->start_ns;
	s->status = status;
	if (msg)
		snprintf(s->msg, sizeof(s->msg), "%s", msg);
	if (status == 200) {
		pthread_mutex_lock(&t->space_mu);
		if (modsnap_take(&s->ms, t->space) < 0) {
			s->status = 500;
			snprintf(s->msg, sizeof(s->msg),
				 "out of memory while finishing the profile");
		}
		pthread_mutex_unlock(&t->space_mu);
	}
	pthread_mutex_lock(&t->mu);
	if (t->active[s->slot] == s) {
		t->active[s->slot] = NULL;
		t->nactive--;
	}
	t->used_slots &= ~(1U << s->slot);
	s->done = true;
	pthread_cond_broadcast(&t->done);
	pthread_mutex_unlock(&t->mu);
}

/* Called on the sampler thread when a posted session begins. */
static void
start_session(struct target *t, struct session *s)
{
	char msg[PROFD_ERRLEN];
	int64_t unexplained = 0;
	size_t i;
	int r;

	s->start_ns = mono_ns();
	s->start_wall = wall_now_ns();
	r = proc_check_traceable(t->pid, msg, sizeof(msg));
	if (r < 0) {
		finish_session(t, s, r == -ESRCH ? 404 : r == -EMFILE ? 503 : 403,
			       msg);
		return;
	}
	pthread_mutex_lock(&t->space_mu);
	r = space_refresh(t->space, msg, sizeof(msg));
	if (r > 0)
		unwinder_flush(t->uw);
	pthread_mutex_unlock(&t->space_mu);
	if (r == -ESRCH || scan_threads(t, SCAN_FULL, &unexplained) == -ESRCH) {
		snprintf(msg, sizeof(msg), "process %d has exited", (int)t->pid);
		finish_session(t, s, 404, msg);
		return;
	}
	/* CPU time used before the window is not the window's */
	for (i = 0; i < t->nthr; i++)
		t->thr[i]->attributed[s->slot] = t->thr[i]->cpu_ns;
	if (s->kind == SESSION_DUMP) {
		s->period_ns = 1;
		s->next_due = s->start_ns;
		s->end_ns = s->start_ns + 1;
	} else {
		s->period_ns = 1000000000ULL / s->hz;
		s->end_ns = s->start_ns + (uint64_t)s->seconds * 1000000000ULL;
		s->next_due = s->start_ns + s->period_ns;
	}
	pthread_mutex_lock(&t->mu);
	t->active[s->slot] = s;
	t->nactive++;
	pthread_mutex_unlock(&t->mu);
	if (s->kind != SESSION_DUMP)
		log_verbose("pid %d: %s window started: %u s at %u Hz",
			    (int)t->pid, s->kind == SESSION_CPU ? "cpu" : "wall",
			    s->seconds, s->hz);
}

static void
target_died(struct target *t)
{
	char msg[PROFD_ERRLEN];
	size_t i;

	pthread_mutex_lock(&t->mu);
	if (t->alive) {
		t->alive = false;
		snprintf(t->dead_msg, sizeof(t->dead_msg),
			 "process %d has exited", (int)t->pid);
		log_info("pid %d: process exited", (int)t->pid);
	}
	pthread_mutex_unlock(&t->mu);
	snprintf(msg, sizeof(msg),
		 "process %d exited before any sample was taken", (int)t->pid);
	for (i = 0; i < PROFD_MAX_SESSIONS; i++) {
		struct session *s = t->active[i];

		if (!s)
			continue;
		s->exited = true;
		if (s->agg && s->agg->samples > 0)
			finish_session(t, s, 200, NULL);
		else
			finish_session(t, s, 404, msg);
	}
}

/*
 * The process exec'd another program. The samples taken so far belong to
 * the old one, and can be named only with its maps: every open window
 * ends now with them (or, with none, a clear error), before the maps are
 * re-read. The next request profiles the new program.
 */
static void
target_execed(struct target *t)
{
	char msg[PROFD_ERRLEN], comm[64], path[64], *buf = NULL;
	size_t i, len, n = 0;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)t->pid);
	comm[0] = '\0';
	if (proc_read(path, 64, &buf, &len) == 0) {
		if (len && buf[len - 1] == '\n')
			buf[len - 1] = '\0';
		snprintf(comm, sizeof(comm), "%s", buf);
		free(buf);
	}
	snprintf(msg, sizeof(msg),
		 "process %d exec'd %s before this window took any sample: "
		 "ask again to profile the new program",
		 (int)t->pid, comm[0] ? comm : "another program");
	for (i = 0; i < PROFD_MAX_SESSIONS; i++) {
		struct session *s = t->active[i];

		if (!s)
			continue;
		n++;
		if ((s->agg && s->agg->samples > 0) || s->ndump > 0)
			finish_session(t, s, 200, NULL);
		else
			finish_session(t, s, 503, msg);
	}
	log_info("pid %d: process exec'd %s (was %s): %zu window(s) end "
		 "with the samples taken before",
		 (int)t->pid, comm[0] ? comm : "?", t->comm, n);
	pthread_mutex_lock(&t->mu);
	if (comm[0])
		snprintf(t->comm, sizeof(t->comm), "%.15s", comm);
	pthread_mutex_unlock(&t->mu);
	pthread_mutex_lock(&t->space_mu);
	if (space_refresh(t->space, msg, sizeof(msg)) >= 0)
		unwinder_flush(t->uw);
	pthread_mutex_unlock(&t->space_mu);
	t->execed = false;
}

static void
fail_active(struct target *t, int status, const char *msg)
{
	size_t i;

	for (i = 0; i < PROFD_MAX_SESSIONS; i++)
		if (t->active[i])
			finish_session(t, t->active[i], status, msg);
}

/* ---- one tick ------------------------------------------------------------------ */

/*
 * A thread found in state R is not necessarily on a CPU: it may be waiting
 * on a run queue. Our interrupt then takes effect only when the thread is
 * next scheduled, and the registers show where it was preempted. With the
 * kernel's lazy preemption, fair-class tasks are preempted on the way back
 * to user space, after an interrupt (a random point: a fair sample) or at
 * the end of a system call (not random at all: measured here, 60 % of a
 * demo's samples landed in clock_gettime(), where perf saw under 1 %).
 * A CPU sample is dropped when the thread was scheduled in between our
 * read of its counters and its stop (it was not running when we looked)
 * and it stopped at a system call exit (orig_rax >= 0; an interrupt entry
 * sets it to -1). Its CPU time is not lost: it goes to the thread's next
 * sample. Wall samples keep it: waiting there is where the time went.
 */
static bool
sample_is_biased(const struct slot *s)
{
	return s->preempted && (int64_t)s->snap.regs.orig_rax >= 0;
}

static void
dump_record(struct session *ss, struct thr *h, const uint64_t *pcs, size_t n,
	    bool partial, long nr, uint64_t arg0)
{
	struct dump_thread *d;

	if (ss->ndump >= (size_t)-1 / 2)
		return;
	d = realloc(ss->dump, (ss->ndump + 1) * sizeof(*d));
	if (!d)
		return;
	ss->dump = d;
	d = &ss->dump[ss->ndump];
	memset(d, 0, sizeof(*d));
	d->pcs = malloc((n ? n : 1) * sizeof(*pcs));
	if (!d->pcs)
		return;
	memcpy(d->pcs, pcs, n * sizeof(*pcs));
	d->n = n;
	d->tid = h->tid;
	memcpy(d->comm, h->comm, sizeof(d->comm));
	d->state = h->state;
	d->syscall_nr = nr;
	d->syscall_arg0 = arg0;
	d->partial = partial;
	d->idle_s = -1;
	d->cpu = h->processor;
	d->exec_start_ms = h->state == 'R' ? -1 : h->exec_start_ms;
	ss->ndump++;
}

/* Add one thread's stack to every due session. from_stop: it came from a
 * ptrace stop of a running thread (CPU sessions take only those). */
static void
add_sample(struct target *t, struct session **due, size_t ndue,
	   struct thr *h, const uint64_t *pcs, size_t n, bool partial,
	   const struct slot *s, long nr, uint64_t arg0)
{
	size_t k;

	for (k = 0; k < ndue; k++) {
		struct session *ss = due[k];
		uint64_t *att = &h->attributed[ss->slot];
		int64_t v;

		switch (ss->kind) {
		case SESSION_CPU:
			if (!s)
				break;
			if (sample_is_biased(s)) {
				ss->dropped++;
				STAT_ADD(t, preempted_dropped, 1);
				break;
			}
			v = h->cpu_ns > *att ? (int64_t)(h->cpu_ns - *att) : 0;
			*att = h->cpu_ns;
			ss->stops++;
			if (agg_add(ss->agg, h->tid, h->comm, 0, pcs, n, 1, v) < 0)
				ss->lost++;
			else
				STAT_ADD(t, samples, 1);
			break;
		case SESSION_WALL:
			if (agg_add(ss->agg, h->tid, h->comm,
				    s ? 'R' : h->state, pcs, n, 1,
				    (int64_t)ss->period_ns) < 0)
				ss->lost++;
			else
				STAT_ADD(t, samples, 1);
			break;
		case SESSION_DUMP:
			dump_record(ss, h, pcs, n, partial, s ? -1 : nr, arg0);
			break;
		}
	}
}

static int
unwind_one(struct target *t, const struct snapshot *snap, bool *refreshed,
	   bool *partial)
{
	char msg[PROFD_ERRLEN];
	int n;

	/* After an exec, the stacks are the new program's; the windows
	 * open end first, with the old program's maps (target_execed). */
	if (t->execed)
		return -1;
	/* A PC outside every known module: something was mapped since
	 * (dlopen, JIT), or the process exec'd. Re-read the maps once per
	 * tick. */
	if (!*refreshed && !space_module(t->space, snap->regs.rip)) {
		*refreshed = true;
		switch (space_refresh_unless_exec(t->space, msg,
						  sizeof(msg))) {
		case SPACE_EXECED:
			t->execed = true;
			return -1;
		case 1:
			unwinder_flush(t->uw);
			break;
		}
	}
	n = unwind_snapshot(t->uw, snap, t->pcs, t->flags,
			    PROFD_MAX_FRAMES + 1);
	if (n < 1) {
		STAT_ADD(t, unwind_failures, 1);
		return -1;
	}
	*partial = (t->flags[n - 1] & UNW_FRAME_TRUNCATED) != 0;
	if (*partial)
		STAT_ADD(t, truncated, 1);
	return n;
}

static bool
ensure_slots(struct target *t, size_t n)
{
	size_t i;

	if (n <= t->nslots)
		return true;
	if (!t->slots) {
		t->slots = calloc(MAX_BATCH_LIMIT, sizeof(*t->slots));
		if (!t->slots)
			return false;
	}
	for (i = t->nslots; i < n; i++) {
		t->slots[i].snap.cap = t->o.stack_bytes;
		t->slots[i].snap.stack = malloc(t->o.stack_bytes);
		if (!t->slots[i].snap.stack)
			return false;
		t->nslots++;
	}
	return true;
}

/* Stop the threads in list[0..n) in batches within the tick's budget and
 * add their stacks to the due sessions. Returns -EPERM with msg filled
 * when ptrace is refused. *used_ns accumulates stop time. */
static int
stop_and_sample(struct target *t, struct session **due, size_t ndue,
		struct thr **list, size_t n, uint64_t *used_ns, char *msg,
		size_t msglen, bool *refreshed)
{
	size_t done = 0, i, batch = t->o.max_batch;
	int r;

	if (!ensure_slots(t, batch < n ? batch : n))
		return 0;
	while (done < n) {
		size_t nb = n - done < batch ? n - done : batch;

		if (*used_ns >= (uint64_t)t->o.stop_budget_us * 1000) {
			/* the rest waits for the next tick, rotated first */
			STAT_ADD(t, deferred, n - done);
			break;
		}
		r = stop_batch(t, list + done, nb, msg, msglen);
		if (r == -EPERM)
			return r;
		pthread_mutex_lock(&t->space_mu);
		for (i = 0; i < nb; i++) {
			struct slot *s = &t->slots[i];
			struct thr *h = s->thr;
			bool partial = false;
			int k;

			guardian_beat(t->guard);
			if (!s->valid) {
				for (k = 0; k < (int)ndue; k++)
					due[k]->lost++;
				continue;
			}
			*used_ns += mono_ns() - s->t_stop;
			k = unwind_one(t, &s->snap, refreshed, &partial);
			if (k < 1)
				continue;
			cache_store(h, t->pcs, (size_t)k, partial, h->cpu_ns,
				    h->slices);
			warm_pcs(t, t->pcs, (size_t)k);
			h->read_gen = t->tick_gen;
			add_sample(t, due, ndue, h, t->pcs, (size_t)k, partial,
				   s, -1, 0);
			h->sampled_gen = t->tick_gen;
		}
		pthread_mutex_unlock(&t->space_mu);
		done += nb;
	}
	return 0;
}

static void
tick(struct target *t, struct session **due, size_t ndue)
{
	struct thr **run = NULL, **later = NULL;
	size_t i, k, nrun = 0, nlater = 0, start;
	uint64_t t0 = mono_ns(), c0 = thread_cpu_ns(), used = 0;
	char msg[PROFD_ERRLEN];
	bool all = false, dump = false, refreshed = false;
	int r;

	for (k = 0; k < ndue; k++) {
		due[k]->ticks++;
		if (due[k]->kind != SESSION_CPU)
			all = true;
		if (due[k]->kind == SESSION_DUMP)
			dump = true;
	}
	t->tick_gen++;
	r = scan_threads(t, dump ? SCAN_FULL : all ? SCAN_WALL : SCAN_CPU,
			 &t->unexplained);
	if (r == -ESRCH) {
		target_died(t);
		return;
	}
	if (r < 0 || t->nthr == 0)
		goto out;
	if (dump) {
		/* When each sleeping thread last ran, read before any stop
		 * (a stop would make it run). */
		for (i = 0; i < t->nthr; i++) {
			struct thr *h = t->thr[i];

			h->exec_start_ms = -1;
			if (h->state != 'R' && !h->gone &&
			    proc_sched_exec_start(t->pid, h->tid,
						  &h->exec_start_ms) < 0)
				h->exec_start_ms = -1;
		}
		for (k = 0; k < ndue; k++) {
			due[k]->dump_mono = mono_ns();
			for (i = 0; i < t->nthr; i++)
				if (!t->thr[i]->gone && t->thr[i]->unreadable)
					due[k]->dump_unreadable++;
		}
	}
	run = malloc(t->nthr * sizeof(*run));
	later = malloc(t->nthr * sizeof(*later));
	if (!run || !later)
		goto out;

	/* Running or runnable threads, rotated so that a target with more of
	 * them than one tick's budget gets each sampled in turn. */
	start = t->rotate++ % t->nthr;
	for (i = 0; i < t->nthr; i++) {
		struct thr *h = t->thr[(start + i) % t->nthr];

		if (h->state == 'R' && !h->gone && h->pt == PT_NONE)
			run[nrun++] = h;
	}
	r = stop_and_sample(t, due, ndue, run, nrun, &used, msg, sizeof(msg),
			    &refreshed);
	if (r == -EPERM) {
		log_warnx("pid %d: %s", (int)t->pid, msg);
		fail_active(t, 403, msg);
		goto out;
	}
	if (!all)
		goto out;

	/* Every other thread, for wall windows and dumps. */
	pthread_mutex_lock(&t->space_mu);
	for (i = 0; i < t->nthr; i++) {
		struct thr *h = t->thr[i];
		struct proc_syscall sc;
		struct snapshot *snap;
		bool partial = false;
		int n;

		guardian_beat(t->guard);

		if (h->gone || h->sampled_gen == t->tick_gen ||
		    h->state == 'Z' || h->state == 'X' ||
		    (h->pt != PT_NONE && h->pt != PT_LISTEN))
			continue;
		if (h->state == 'R') {
			/* not stopped this tick (budget, or lost): its
			 * cached stack is all we have */
			if (h->cache.valid)
				add_sample(t, due, ndue, h, h->cache.pcs,
					   h->cache.n, h->cache.partial, NULL,
					   -1, 0);
			continue;
		}
		if (cache_valid(h)) {
			STAT_ADD(t, stacks_reused, 1);
			add_sample(t, due, ndue, h, h->cache.pcs, h->cache.n,
				   h->cache.partial, NULL, h->cache.sys_nr,
				   h->cache.sys_arg0);
			continue;
		}
		if (!ensure_slots(t, 1))
			break;
		snap = &t->slots[0].snap;
		n = -1;
		if (capture_sleeper(t, h, snap, &sc) == 0) {
			STAT_ADD(t, nonstop_captures, 1);
			n = unwind_one(t, snap, &refreshed, &partial);
			if (n >= 1)
				warm_pcs(t, t->pcs, (size_t)n);
		} else {
			STAT_ADD(t, nonstop_failures, 1);
			sc.nr = -1;
			sc.args[0] = 0;
		}
		if (n >= 1 && !partial) {
			cache_store(h, t->pcs, (size_t)n, false, h->cpu_ns,
				    h->slices);
			h->cache.sys_nr = sc.nr;
			h->cache.sys_arg0 = sc.args[0];
			add_sample(t, due, ndue, h, t->pcs, (size_t)n, false,
				   NULL, sc.nr, sc.args[0]);
			continue;
		}
		/* Only a stop gives the whole register set. Never for a
		 * thread in uninterruptible sleep or stopped by job control,
		 * and only in system calls that restart transparently. */
		if (h->state == 'S' && n >= 1 && restarts_transparently(sc.nr)) {
			later[nlater++] = h;
			continue;
		}
		if (n >= 1) {
			cache_store(h, t->pcs, (size_t)n, true, h->cpu_ns,
				    h->slices);
			h->cache.sys_nr = sc.nr;
			h->cache.sys_arg0 = sc.args[0];
			add_sample(t, due, ndue, h, t->pcs, (size_t)n, true,
				   NULL, sc.nr, sc.args[0]);
		} else if (h->cache.valid) {
			add_sample(t, due, ndue, h, h->cache.pcs, h->cache.n,
				   h->cache.partial, NULL, h->cache.sys_nr,
				   h->cache.sys_arg0);
		} else {
			uint64_t unknown = 0;	/* [truncated] */

			add_sample(t, due, ndue, h, &unknown, 1, true, NULL,
				   sc.nr, sc.args[0]);
		}
	}
	pthread_mutex_unlock(&t->space_mu);
	if (nlater > 0) {
		r = stop_and_sample(t, due, ndue, later, nlater, &used, msg,
				    sizeof(msg), &refreshed);
		if (r == -EPERM) {
			log_warnx("pid %d: %s", (int)t->pid, msg);
			fail_active(t, 403, msg);
		}
	}
out:
	free(run);
	free(later);
	STAT_ADD(t, ticks, 1);
	STAT_ADD(t, tick_ns, mono_ns() - t0);
	STAT_ADD(t, tick_cpu_ns, thread_cpu_ns() - c0);
}

/* ---- --attach=window ----------------------------------------------------------- */

/* Seize every thread not traced yet (new threads appear every scan). */
static void
seize_all(struct target *t)
{
	size_t i;

	for (i = 0; i < t->nthr; i++) {
		struct thr *h = t->thr[i];

		if (h->gone || h->traced)
			continue;
		if (pt_seize(h->tid) == 0) {
			h->traced = true;
			t->ntraced++;
		}
	}
}

/* The window is over: let every seized thread go. A seized thread must be
 * in a ptrace-stop to be detached: interrupt it, and detach on the stop
 * (a thread in a group-stop stays stopped after the detach). */
static void
release_all(struct target *t)
{
	uint64_t deadline = mono_ns() + 200000000ULL;
	bool window = t->o.attach_window;
	unsigned none = 0;
	size_t i;

	for (i = 0; i < t->nthr; i++)
		if (t->thr[i]->traced && t->thr[i]->pt != PT_LATE)
			pt_interrupt(t->thr[i]->tid);
	t->o.attach_window = false;	/* from here on, stops detach */
	collect_stops(t, deadline, &t->ntraced, &none);
	t->o.attach_window = window;
}

/* ---- the sampler thread ----------------------------------------------------------- */

static void
start_timer(struct target *t)
{
	struct sigevent sev;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGWAKE;
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	t->timer_ok = timer_create(CLOCK_MONOTONIC, &sev, &t->timer) == 0;
	if (!t->timer_ok)
		log_warn("pid %d: timer_create", (int)t->pid);
}

/* Sleep until `until` (CLOCK_MONOTONIC) or a new session. With threads
 * seized for the window, wait in waitpid instead, so that every signal the
 * target gets is passed on at once, not at the next tick: Go's runtime
 * sends ~50 SIGURG/s per busy thread, and deferring them slowed a Go
 * program 1.3-1.6x (reference/measured-here.md section 8). */
static void
idle_until(struct target *t, uint64_t until)
{
	struct timespec ts;

	if (t->ntraced > 0) {
		uint64_t wake = 0, now;

		pthread_mutex_unlock(&t->mu);
		while ((now = mono_ns()) < until && t->ntraced > 0) {
			struct pt_event ev;
			unsigned none = 0;
			int w;

			/* Wake at least every GUARDIAN_WAKE_MS: the guardian
			 * takes a sampler that misses its deadline by
			 * GUARDIAN_BOUND_MS while a thread waits for it for
			 * one that cannot run, so the deadline stays near. */
			if (now >= wake) {
				wake = now + GUARDIAN_WAKE_MS * 1000000ULL;
				if (wake > until)
					wake = until;
				arm_timer(t, wake);
			}
			guard(t, 0, wake);
			w = pt_wait(&ev, true);
			if (w == 1)
				handle_event(t, &ev, &none);
			else if (w != -EINTR)
				break;
		}
		disarm_timer(t);
		guard(t, 0, mono_ns());
		pthread_mutex_lock(&t->mu);
		return;
	}
	abs_timespec(until, &ts);
	pthread_cond_timedwait(&t->wake, &t->mu, &ts);
}

void *
sampler_main(void *arg)
{
	struct target *t = arg;
	struct session *due[PROFD_MAX_SESSIONS];
	sigset_t set;
	size_t i, ndue;

	/*
	 * A thread we stopped waits for this one. As an ordinary thread the
	 * sampler can be preempted by the target's own busy threads while it
	 * holds one stopped, which stretches a 20 us stop to milliseconds
	 * (measured here: stop p99 88 us, max 6.4 ms; with SCHED_FIFO 1:
	 * 61 us, 95 us). It never spins: every wait blocks, and a tick costs
	 * ~0.1 ms of CPU. Without CAP_SYS_NICE it stays as it is.
	 */
	if (t->o.rt_priority > 0) {
		struct sched_param sp = { .sched_priority = t->o.rt_priority };
		int e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);

		if (e != 0)
			log_debug("pid %d: sampler stays SCHED_OTHER: %s",
				  (int)t->pid, strerror(e));
	}
	/* The deadline signal must reach this thread. */
	sigemptyset(&set);
	sigaddset(&set, SIGWAKE);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	start_timer(t);
	t->guard = guardian_claim(t->pid);

	pthread_mutex_lock(&t->mu);
	for (;;) {
		uint64_t now, next = UINT64_MAX;
		bool any = false;

		while (t->pending && !t->stop) {
			struct session *s = t->pending;

			t->pending = s->next;
			pthread_mutex_unlock(&t->mu);
			start_session(t, s);
			pthread_mutex_lock(&t->mu);
		}
		if (t->stop)
			break;
		for (i = 0; i < PROFD_MAX_SESSIONS; i++) {
			struct session *s = t->active[i];

			if (!s)
				continue;
			any = true;
			if (s->next_due < next)
				next = s->next_due;
			if (s->end_ns < next)
				next = s->end_ns;
		}
		t->guard_active = any;
		guard(t, 0, mono_ns());
		if (!any && t->o.attach_window && t->ntraced > 0) {
			/* last window of --attach=window closed */
			pthread_mutex_unlock(&t->mu);
			release_all(t);
			pthread_mutex_lock(&t->mu);
			continue;
		}
		if (!any && t->late == 0) {
			pthread_cond_wait(&t->wake, &t->mu);
			continue;
		}
		now = mono_ns();
		if (t->late > 0 && now + LATE_POLL_NS < next)
			next = now + LATE_POLL_NS;
		if (now < next) {
			idle_until(t, next);
			continue;
		}
		pthread_mutex_unlock(&t->mu);

		service_events(t);
		now = mono_ns();
		ndue = 0;
		for (i = 0; i < PROFD_MAX_SESSIONS; i++) {
			struct session *s = t->active[i];

			/* end_ns: a worker whose client left moves it
			 * (target.c, cancel_locked()) */
			if (s && s->next_due <= now &&
			    s->next_due < __atomic_load_n(&s->end_ns,
							  __ATOMIC_RELAXED))
				due[ndue++] = s;
		}
		if (ndue > 0) {
			if (t->o.attach_window) {
				seize_all(t);
				guard(t, 0, mono_ns());
			}
			tick(t, due, ndue);
			now = mono_ns();
			for (i = 0; i < ndue; i++) {
				struct session *s = due[i];

				/* finished (and maybe freed) during the tick:
				 * only this thread clears active[] */
				if (t->active[s->slot] != s)
					continue;
				s->next_due += s->period_ns;
				/* fell behind: skip, don't burst */
				if (s->next_due < now)
					s->next_due = now + s->period_ns / 2;
			}
		}
		if (t->execed)
			target_execed(t);
		for (i = 0; i < PROFD_MAX_SESSIONS; i++) {
			struct session *s = t->active[i];

			if (s && __atomic_load_n(&s->end_ns,
						 __ATOMIC_RELAXED) <= now)
				finish_session(t, s, 200, NULL);
		}
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);

	/* Shutting down: answer every window, let go of every thread. */
	while (t->pending) {
		struct session *s = t->pending;

		t->pending = s->next;
		s->start_ns = mono_ns();
		finish_session(t, s, 503, "profd is shutting down");
	}
	fail_active(t, 503, "profd is shutting down");
	if (t->ntraced > 0)
		release_all(t);
	if (t->late > 0) {
		uint64_t end = mono_ns() + 200000000ULL;

		while (t->late > 0 && mono_ns() < end) {
			struct timespec d = { 0, 1000000 };

			service_events(t);
			guard(t, 0, mono_ns() + 1000000);
			nanosleep(&d, NULL);
		}
	}
	t->guard_active = false;
	guard(t, 0, mono_ns());
	guardian_unclaim(t->guard);
	t->guard = NULL;
	if (t->timer_ok)
		timer_delete(t->timer);
	return NULL;
}

/* ---- teardown helpers for target.c -------------------------------------------- */

void sampler_free_threads(struct target *t);

void
sampler_free_threads(struct target *t)
{
	size_t i;

	for (i = 0; i < t->nthr; i++)
		thr_free(t->thr[i]);
	free(t->thr);
	t->thr = NULL;
	t->nthr = 0;
	for (i = 0; i < t->nslots; i++)
		free(t->slots[i].snap.stack);
	free(t->slots);
	t->slots = NULL;
	t->nslots = 0;
	free(t->seen_pcs);
	t->seen_pcs = NULL;
}
