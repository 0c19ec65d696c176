/* threads.c - the target's thread table: which threads there are (from
 * /proc/PID/task), what each one's scheduler counters and state say, which
 * are hot (ran lately: read every tick) and which are cold (read only when
 * the process's CPU time says one of them ran), and the stack each one
 * had when profd last copied it.
 *
 * Runs on the sampler thread only; it reads /proc and never calls ptrace.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/daemon.h"
#include "daemon/perfsamp.h"
#include "daemon/proc.h"
#include "daemon/sampler.h"
#include "daemon/sampler_int.h"
#include "daemon/threads.h"

#define FULL_SCAN_NS	   (10 * 1000000000ULL)
#define SCHED_TICK_NS	   (4 * 1000000ULL)	/* schedstat lag per running
						   thread: one timer tick */
/* A thread whose counters have not moved for this long, and that is not
 * runnable, turns cold: 200 ms, 20 ticks at 100 Hz, whatever the rate. */
#define COLD_AFTER_NS	   (200 * 1000000ULL)

struct thr *
thr_find(struct target *t, pid_t tid)
{
	struct sampler *sm = t->sm;
	size_t lo = 0, hi = sm->nthr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (sm->thr[mid]->tid == tid)
			return sm->thr[mid];
		if (sm->thr[mid]->tid < tid)
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

static long
budget(void)
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
	return b;
}

static bool
fds_to_spare(void)
{
	return __atomic_load_n(&kept_fds, __ATOMIC_RELAXED) + 2 <= budget();
}

bool
threads_fd_reserve(long n)
{
	if (__atomic_add_fetch(&kept_fds, n, __ATOMIC_RELAXED) <= budget())
		return true;
	__atomic_sub_fetch(&kept_fds, n, __ATOMIC_RELAXED);
	return false;
}

void
threads_fd_release(long n)
{
	__atomic_sub_fetch(&kept_fds, n, __ATOMIC_RELAXED);
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
	perfsamp_thr_close(h);
	free(h->cache.pcs);
	free(h->run.pcs);
	free(h);
}

static struct thr *
thr_add(struct target *t, pid_t tid)
{
	struct sampler *sm = t->sm;
	char path[64];
	struct thr *h;
	size_t lo = 0, hi = sm->nthr;

	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->tid = tid;
	h->hot = true;		/* until proven idle */
	h->stat_fd = h->sched_fd = -1;
	h->perf_fd = -1;
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
	if (sm->nthr == sm->capthr) {
		size_t nc = sm->capthr ? sm->capthr * 2 : 64;
		struct thr **nt = realloc(sm->thr, nc * sizeof(*nt));

		if (!nt) {
			thr_free(h);
			return NULL;
		}
		sm->thr = nt;
		sm->capthr = nc;
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (sm->thr[mid]->tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&sm->thr[lo + 1], &sm->thr[lo],
		(sm->nthr - lo) * sizeof(*sm->thr));
	sm->thr[lo] = h;
	sm->nthr++;
	return h;
}

/* CPU time and number of times scheduled in, from schedstat. */
int
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
int
thr_read(struct target *t, struct thr *h)
{
	struct sampler *sm = t->sm;
	char buf[1024];
	struct proc_stat st;
	uint64_t cpu, slices;
	bool first;
	ssize_t n;

	n = thr_pread(t, h, h->stat_fd, "stat", buf, sizeof(buf) - 1);
	if (n < 0)
		return (int)n;
	if (proc_parse_stat(buf, (size_t)n, &st) < 0)
		return -ESRCH;
	n = thr_sched(t, h, &cpu, &slices);
	if (n < 0)
		return (int)n;
	first = h->starttime != st.starttime;
	if (h->starttime && first) {
		/* a new thread with a recycled tid: start over */
		memset(h->attributed, 0, sizeof(h->attributed));
		h->cache.valid = false;
		h->run.valid = false;
	}
	h->starttime = st.starttime;
	h->state = st.state;
	h->processor = st.processor;
	h->faults = st.minflt + st.majflt;
	memcpy(h->comm, st.comm, sizeof(h->comm));
	/* the first read of a thread has nothing to compare with: hot only
	 * if it runs, or a thousand sleepers found at attach would all be
	 * read every tick for COLD_AFTER_NS; a sleeper that wakes later
	 * shows in the process CPU clock */
	if ((!first && (cpu != h->cpu_ns || slices != h->slices)) ||
	    st.state == 'R') {
		h->changed_ns = mono_ns();
		h->hot = true;
	}
	h->cpu_ns = cpu;
	h->slices = slices;
	h->read_gen = sm->tick_gen;
	return 0;
}

/* What a read of a thread's files says of it: -ESRCH, it is gone; -EMFILE,
 * profd could not read it (out of fds): still there, but unknown this
 * time, and counted. Returns r. */
int
thr_check(struct target *t, struct thr *h, int r)
{
	h->unreadable = r == -EMFILE;
	if (r == -ESRCH)
		h->gone = true;
	else if (r == -EMFILE)
		STAT_ADD(t, unreadable, 1);
	return r;
}

/* List /proc/PID/task: add new threads, forget those that are gone.
 * -ESRCH when the process is gone. */
static int
list_threads(struct target *t)
{
	struct sampler *sm = t->sm;
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

	sm->scan_gen++;
	if (lseek(t->task_fd, 0, SEEK_SET) < 0)
		return -ESRCH;
	for (;;) {
		n = syscall(SYS_getdents64, t->task_fd, sm->dents, DENTS_SIZE);
		if (n < 0)
			return errno == ENOENT ? -ESRCH : -errno;
		if (n == 0)
			break;
		for (off = 0; off < n; off += d->d_reclen) {
			struct thr *h;
			pid_t tid;

			d = (struct linux_dirent64 *)(sm->dents + off);
			if (d->d_name[0] < '0' || d->d_name[0] > '9')
				continue;
			tid = (pid_t)atoi(d->d_name);
			found++;
			h = thr_find(t, tid);
			if (!h)
				h = thr_add(t, tid);
			if (h)
				h->seen = sm->scan_gen;
		}
	}
	if (found == 0)
		return -ESRCH;
	for (i = j = 0; i < sm->nthr; i++) {
		struct thr *h = sm->thr[i];

		if (h->seen != sm->scan_gen)
			h->gone = true;
		if (h->gone && h->pt == PT_NONE) {
			if (h->traced)
				sm->ntraced--;	/* the kernel let it go */
			thr_free(h);
			continue;
		}
		sm->thr[j++] = h;
	}
	sm->nthr = j;
	return 0;
}

/* The process CPU clock (see process_cpu_ns()), 0 when unavailable. */
static uint64_t
process_cpu(const struct sampler *sm)
{
	return sm->cpu_clock_ok ? process_cpu_ns(sm->cpu_clock) : 0;
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

/* A tick that is not a full scan: read the hot threads (and, for a wall
 * tick, every cold one whose counters moved). With a fresh reading pcpu
 * of the process CPU clock (clock true), add the CPU time the hot threads
 * do not account for to *unexplained. Returns whether that calls for a
 * full scan after all. */
static bool
scan_known(struct target *t, enum scan_mode mode, bool clock, uint64_t pcpu,
	   int64_t *unexplained)
{
	struct sampler *sm = t->sm;
	uint64_t hot_delta = 0;
	unsigned running = 0;
	size_t i;

	for (i = 0; i < sm->nthr; i++) {
		struct thr *h = sm->thr[i];
		uint64_t before = h->cpu_ns, before_sl = h->slices;

		if (h->gone)
			continue;
		if (!h->hot) {
			uint64_t cpu, sl;

			if (mode != SCAN_WALL)
				continue;
			if (thr_check(t, h, thr_sched(t, h, &cpu, &sl)) < 0)
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
		/* against each thread's reading at the previous clock read,
		 * not the one taken in a stop since */
		for (i = 0; i < sm->nthr; i++) {
			struct thr *h = sm->thr[i];

			if (h->gone || !h->hot)
				continue;
			if (h->cpu_ns > h->cpu_scan)
				hot_delta += h->cpu_ns - h->cpu_scan;
			h->cpu_scan = h->cpu_ns;
		}
		if (pcpu >= sm->proc_cpu_prev)
			*unexplained += (int64_t)(pcpu - sm->proc_cpu_prev) -
					(int64_t)hot_delta;
		if (*unexplained < 0)
			*unexplained = 0;
		sm->proc_cpu_prev = pcpu;
	}
	return mode == SCAN_CPU &&
	       *unexplained > (int64_t)((running + 1) * SCHED_TICK_NS);
}

/* List the threads and read every one; pcpu: the process CPU clock now,
 * nthreads: the thread count now. -ESRCH when the process is gone. */
static int
scan_full(struct target *t, uint64_t now, uint64_t pcpu, int nthreads,
	  int64_t *unexplained)
{
	struct sampler *sm = t->sm;
	size_t i;
	int r;

	sm->proc_cpu_prev = pcpu;
	r = list_threads(t);
	if (r < 0)
		return r;
	for (i = 0; i < sm->nthr; i++) {
		struct thr *h = sm->thr[i];

		if (!h->gone)
			(void)thr_check(t, h, thr_read(t, h));
		h->cpu_scan = h->cpu_ns;
	}
	STAT_ADD(t, threads_scanned, sm->nthr);
	*unexplained = 0;
	sm->last_full_scan = now;
	sm->nthreads_prev = nthreads;
	return 0;
}

/* A thread that has not moved for COLD_AFTER_NS, and is not runnable,
 * turns cold. */
static void
cool_down(struct sampler *sm, uint64_t now)
{
	size_t i;

	for (i = 0; i < sm->nthr; i++) {
		struct thr *h = sm->thr[i];

		/* changed_ns may be later than now: thr_read() stamps it
		 * while this tick's scan runs */
		if (h->hot && h->state != 'R' &&
		    h->changed_ns + COLD_AFTER_NS < now) {
			h->hot = false;
			/* short of fds: the hot ones keep theirs */
			if (h->stat_fd >= 0 && !fds_to_spare())
				thr_close_fds(h);
		}
	}
}

/*
 * Bring the thread table up to date for this tick.
 *
 * A full scan lists the threads and reads every one (thread dumps, thread
 * count changes, every FULL_SCAN_NS). A wall-clock tick reads every
 * thread's schedstat, and stat only for those whose counters moved: a
 * thread that has not run keeps its state and stack.
 *
 * A CPU tick reads only hot threads (those whose counters moved in the
 * last COLD_AFTER_NS), and the process CPU clock tells whether the cold
 * ones may have run: the CPU time the whole process used since the last
 * tick minus what the hot threads account for adds up in `unexplained`.
 * schedstat of a running thread lags by up to one scheduler tick, so it
 * wavers around zero, but a cold thread that runs makes it grow tick
 * after tick until a full scan finds it. A thousand sleeping threads then
 * cost next to nothing. -ESRCH when the process is gone.
 */
int
scan_threads(struct target *t, enum scan_mode mode, int64_t *unexplained)
{
	struct sampler *sm = t->sm;
	uint64_t now = mono_ns(), pcpu = 0;
	bool full = mode == SCAN_FULL, clock;
	int nthreads, r;

	/*
	 * The process CPU clock sums every thread's runtime in the kernel
	 * (thread_group_cputime): with a thousand threads that loop was half
	 * of profd's CPU time. Read it once per nthreads/100 ticks; the sum
	 * of unexplained time simply covers the longer span.
	 */
	nthreads = thread_count(t);
	clock = ++sm->clock_ticks >= (unsigned)(nthreads / 100 + 1);
	if (clock) {
		sm->clock_ticks = 0;
		pcpu = process_cpu(sm);
	}
	if (nthreads != sm->nthreads_prev || (clock && pcpu == 0) ||
	    now - sm->last_full_scan > FULL_SCAN_NS)
		full = true;
	if (!full)
		full = scan_known(t, mode, clock, pcpu, unexplained);
	if (full) {
		r = scan_full(t, now, clock ? pcpu : process_cpu(sm), nthreads,
			      unexplained);
		if (r < 0)
			return r;
	}
	cool_down(sm, now);
	return 0;
}
/* A tick that stops nothing (the perf_event sampler's): the table is
 * listed and read again only when the thread count changed, or after
 * FULL_SCAN_NS, so that new threads get an event and gone ones give
 * theirs back. */
int
threads_refresh(struct target *t)
{
	struct sampler *sm = t->sm;
	uint64_t now = mono_ns();
	int64_t unexplained = 0;

	if (thread_count(t) == sm->nthreads_prev &&
	    now - sm->last_full_scan <= FULL_SCAN_NS)
		return 0;
	return scan_threads(t, SCAN_FULL, &unexplained);
}

bool
cache_valid(const struct thr *h)
{
	return h->cache.valid && h->cache.cpu_ns == h->cpu_ns &&
	       h->cache.slices == h->slices;
}

void
cache_store(struct stack_cache *c, const uint64_t *pcs, size_t n,
	    bool partial, uint64_t cpu, uint64_t slices)
{

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

void
threads_free(struct sampler *sm)
{
	size_t i;

	for (i = 0; i < sm->nthr; i++)
		thr_free(sm->thr[i]);
	free(sm->thr);
	sm->thr = NULL;
	sm->nthr = 0;
}
