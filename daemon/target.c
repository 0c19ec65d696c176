/* target.c - one profiled process: its sampler thread, its threads, and the
 * windows (sessions) HTTP requests open on it.
 *
 * The sampler thread owns every ptrace request for the target (ptrace
 * relations belong to the tracer *thread*), the thread table and the
 * unwinder. HTTP workers post a session and sleep until the sampler marks
 * it done; then they export it (symbolization happens on their side,
 * outside the sampler).
 *
 * Each tick, for the sessions that are due:
 *   1. list /proc/PID/task and read every thread's stat and schedstat on
 *      kept fds (no stop);
 *   2. pick the threads that are running or runnable (state R): a sleeping
 *      thread is not on a CPU and is never stopped;
 *   3. SEIZE + INTERRUPT all of them first, then collect the stops as they
 *      arrive (stopping them one after another collapses when runnable
 *      threads outnumber CPUs: reference/measured-here.md section 3);
 *   4. in each stop: GETREGSET, one process_vm_readv, DETACH - nothing else;
 *   5. with every thread running again, unwind the copies and add them to
 *      the sessions, each sample weighted by the CPU time the thread used
 *      since its previous sample in that session (schedstat delta).
 *
 * Attach policy: a thread is seized only for the length of one sample and
 * detached right after (the model py-spy uses). Between samples nothing is
 * traced, so signals to the target never detour through profd, TracerPid
 * reads 0 outside the microseconds of a stop, and a crashed or SIGKILLed
 * profd leaves nothing behind (the kernel detaches and resumes tracees of
 * a dead tracer; SEIZE adds no SIGSTOP that could be left pending).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/log.h"
#include "unwind/unwind.h"

#define MAX_BATCH	   64		/* threads stopped per tick */
#define MAX_STACKS	   200000	/* distinct stacks per window */
#define STOP_DEADLINE_NS   (50 * 1000000ULL)
#define LATE_POLL_NS	   (1 * 1000000ULL)

enum thr_pt { PT_NONE, PT_PENDING, PT_LATE };

struct thr {
	pid_t tid;
	uint64_t starttime;
	int stat_fd, sched_fd;
	char state;
	char comm[16];
	uint64_t cpu_ns;
	uint64_t slices;		/* times scheduled in (schedstat) */
	uint64_t attributed[PROFD_MAX_SESSIONS];
	enum thr_pt pt;
	int slot;			/* snapshot slot while PENDING */
	uint64_t seen;			/* scan generation */
	bool gone;
};

struct session {
	struct session *next;		/* pending list */
	int slot;
	unsigned hz, seconds;
	uint64_t period_ns;
	uint64_t start_ns, end_ns, next_due;
	int64_t start_wall;
	struct agg *agg;
	uint64_t ticks, stops, lost;

	/* result, valid once done */
	bool done;
	int status;
	char msg[PROFD_ERRLEN];
	struct modsnap ms;
	uint64_t duration_ns;
	bool exited;
};

struct slot {
	struct snapshot snap;
	uint64_t t_int;
	struct thr *thr;
	bool valid;
	bool preempted;		/* was off CPU when interrupted */
};

struct target {
	pid_t pid;
	char comm[16];
	struct target_opts o;
	int task_fd;

	pthread_t thread;
	bool thread_started;
	timer_t timer;
	bool timer_ok;

	pthread_mutex_t mu;		/* everything down to `alive` */
	pthread_cond_t wake;		/* sampler: new session or stop */
	pthread_cond_t done;		/* workers: a session finished */
	struct session *pending;
	struct session *active[PROFD_MAX_SESSIONS];
	unsigned used_slots;		/* bitmap: pending + active */
	bool stop;
	bool alive;
	char dead_msg[PROFD_ERRLEN];

	pthread_mutex_t space_mu;	/* space + unwinder vs. /symbol */
	struct space *space;
	struct unwinder *uw;

	/* sampler thread only */
	struct thr **thr;
	size_t nthr, capthr;
	uint64_t scan_gen;
	unsigned rotate;
	struct slot slots[MAX_BATCH];
	size_t nslots;
	unsigned late;
	uint64_t pcs[PROFD_MAX_FRAMES + 1];
	uint8_t flags[PROFD_MAX_FRAMES + 1];
	char *dents;
	struct {
		uint64_t stops, late, exited_in_stop, signals_reinjected;
		uint64_t group_stops, detach_errors, preempted_dropped;
		uint64_t stop_ns_sum, stop_ns_max;
	} stats;
};

static int SIGWAKE;

static void
on_wake(int sig)
{
	(void)sig;
}

/* The deadline timer's signal interrupts a blocking waitpid in a sampler
 * thread: no SA_RESTART, so the wait returns EINTR. */
static void
install_signal_once(void)
{
	struct sigaction sa;

	SIGWAKE = SIGRTMIN + 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_wake;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGWAKE, &sa, NULL);
}

static void
install_wake_handler(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, install_signal_once);
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int64_t
wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
abs_timespec(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / 1000000000ULL);
	ts->tv_nsec = (long)(ns % 1000000000ULL);
}

/* ---- thread table ------------------------------------------------------ */

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

static void
thr_free(struct thr *h)
{
	if (h->stat_fd >= 0)
		close(h->stat_fd);
	if (h->sched_fd >= 0)
		close(h->sched_fd);
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
	snprintf(path, sizeof(path), "%d/stat", (int)tid);
	h->stat_fd = openat(t->task_fd, path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%d/schedstat", (int)tid);
	h->sched_fd = openat(t->task_fd, path, O_RDONLY | O_CLOEXEC);
	if (h->stat_fd < 0 || h->sched_fd < 0) {
		/* gone already, or out of fds: try again next tick */
		thr_free(h);
		return NULL;
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
thr_sched(const struct thr *h, uint64_t *cpu, uint64_t *slices)
{
	char buf[128];
	uint64_t wait;
	ssize_t n;

	n = pread(h->sched_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -ESRCH;
	return proc_parse_schedstat(buf, (size_t)n, cpu, &wait, slices) < 0
		       ? -ESRCH
		       : 0;
}

/* Read stat and schedstat of one thread. -ESRCH when it is gone. */
static int
thr_read(struct thr *h)
{
	char buf[1024];
	struct proc_stat st;
	uint64_t cpu, slices;
	ssize_t n;

	n = pread(h->stat_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -ESRCH;
	if (proc_parse_stat(buf, (size_t)n, &st) < 0)
		return -ESRCH;
	if (thr_sched(h, &cpu, &slices) < 0)
		return -ESRCH;
	if (h->starttime && h->starttime != st.starttime) {
		/* a new thread with a recycled tid: start over */
		memset(h->attributed, 0, sizeof(h->attributed));
	}
	h->starttime = st.starttime;
	h->state = st.state;
	memcpy(h->comm, st.comm, sizeof(h->comm));
	h->cpu_ns = cpu;
	h->slices = slices;
	return 0;
}

#define DENTS_SIZE 32768

/*
 * List /proc/PID/task and refresh every thread's state and CPU time.
 * New threads (created during open windows) start with nothing attributed,
 * so their first sample carries all the CPU time they have used.
 * Returns -ESRCH when the process is gone.
 */
static int
scan_threads(struct target *t)
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

		if (h->seen == t->scan_gen && !h->gone && thr_read(h) < 0)
			h->gone = true;
		if ((h->seen != t->scan_gen || h->gone) && h->pt == PT_NONE) {
			thr_free(h);
			continue;
		}
		t->thr[j++] = h;
	}
	t->nthr = j;
	return 0;
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

/*
 * Handle one stop or exit reported by waitpid. Every branch that finds the
 * thread stopped lets it go before returning.
 */
static void
handle_event(struct target *t, const struct pt_event *ev, unsigned *pending)
{
	struct thr *h = thr_find(t, ev->tid);
	struct slot *s = NULL;
	int resume_sig = 0;

	if (h && h->pt == PT_PENDING)
		s = &t->slots[h->slot];

	switch (ev->kind) {
	case PT_EV_EXITED:
		t->stats.exited_in_stop++;
		if (h)
			h->gone = true;
		break;
	case PT_EV_SIGNAL:
		/* A signal arrived while the thread was seized. Its
		 * registers are as good as at our interrupt: take the
		 * sample, then deliver the signal unchanged. */
		resume_sig = ev->sig;
		t->stats.signals_reinjected++;
		/* fall through */
	case PT_EV_INTERRUPT:
		if (s) {
			uint64_t cpu, slices;

			s->valid = snapshot_take(&s->snap, ev->tid) == 0;
			/* The one read besides the snapshot: whether the
			 * thread was on a CPU when interrupted (see
			 * sample_is_biased()), and its CPU time exactly at
			 * the stop. */
			if (s->valid && thr_sched(h, &cpu, &slices) == 0) {
				s->preempted = slices != h->slices;
				h->cpu_ns = cpu;
			}
			t->stats.stops++;
		}
		if (pt_detach(ev->tid, resume_sig) < 0 && resume_sig)
			t->stats.detach_errors++;
		if (s) {
			uint64_t d = mono_ns() - s->t_int;

			t->stats.stop_ns_sum += d;
			if (d > t->stats.stop_ns_max)
				t->stats.stop_ns_max = d;
		}
		break;
	case PT_EV_GROUP_STOP:
		/* Stopped by job control (SIGSTOP, ^Z): detaching keeps it
		 * in the group-stop, as if profd had never been there. */
		t->stats.group_stops++;
		pt_detach(ev->tid, 0);
		break;
	case PT_EV_OTHER:
		pt_detach(ev->tid, 0);
		break;
	}
	if (!h)
		return;
	if (h->pt == PT_PENDING && *pending > 0)
		(*pending)--;
	else if (h->pt == PT_LATE && t->late > 0)
		t->late--;
	h->pt = PT_NONE;
}

/* Stops that arrive after their tick gave up on them. */
static void
reap_late(struct target *t)
{
	struct pt_event ev;
	unsigned none = 0;

	while (t->late > 0 && pt_wait(&ev, false) == 1)
		handle_event(t, &ev, &none);
	if (t->late > 0 && pt_wait(&ev, false) == -ECHILD) {
		/* nothing is traced any more: they all exited */
		size_t i;

		for (i = 0; i < t->nthr; i++)
			if (t->thr[i]->pt == PT_LATE)
				t->thr[i]->pt = PT_NONE;
		t->late = 0;
	}
}

/* Seize and interrupt the chosen threads, then collect their stops until
 * all arrived or the deadline passed. Returns -EPERM (with msg) when the
 * kernel refuses to let profd trace the target. */
static int
stop_threads(struct target *t, struct thr **sel, size_t nsel, char *msg,
	     size_t msglen)
{
	unsigned pending = 0;
	uint64_t deadline;
	struct pt_event ev;
	size_t i;
	int r;

	for (i = 0; i < nsel; i++) {
		struct thr *h = sel[i];
		struct slot *s = &t->slots[i];

		s->valid = false;
		s->preempted = false;
		s->thr = h;
		r = pt_seize(h->tid);
		if (r == -EPERM) {
			/* EPERM also means "exiting" (remoteprocess#111):
			 * only a thread that is still there is a refusal. */
			if (thr_read(h) < 0) {
				h->gone = true;
				continue;
			}
			proc_explain_eperm(t->pid, msg, msglen);
			r = -EPERM;
			goto collect_and_fail;
		}
		if (r < 0) {
			h->gone = true;
			continue;
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
	r = 0;
collect_and_fail:
	deadline = mono_ns() + STOP_DEADLINE_NS;
	arm_timer(t, deadline);
	while (pending > 0) {
		int w = pt_wait(&ev, true);

		if (w == -EINTR) {
			if (mono_ns() >= deadline)
				break;
			continue;
		}
		if (w < 0)
			break;
		handle_event(t, &ev, &pending);
	}
	disarm_timer(t);
	if (pending > 0) {
		/* A thread that went into uninterruptible sleep between our
		 * read of its state and the interrupt stops only when it
		 * comes back to user space. Don't hold the tick for it: its
		 * stop is answered (detached) whenever it arrives. */
		for (i = 0; i < nsel; i++) {
			if (sel[i]->pt == PT_PENDING) {
				sel[i]->pt = PT_LATE;
				t->late++;
				t->stats.late++;
			}
		}
	}
	return r;
}

/* ---- sessions ------------------------------------------------------------ */

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
	t->active[s->slot] = NULL;
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
	size_t i;
	int r;

	s->start_ns = mono_ns();
	s->start_wall = wall_ns();
	r = proc_check_traceable(t->pid, msg, sizeof(msg));
	if (r < 0) {
		finish_session(t, s, r == -ESRCH ? 404 : 403, msg);
		return;
	}
	pthread_mutex_lock(&t->space_mu);
	r = space_refresh(t->space, msg, sizeof(msg));
	if (r > 0)
		unwinder_flush(t->uw);
	pthread_mutex_unlock(&t->space_mu);
	if (r == -ESRCH || scan_threads(t) == -ESRCH) {
		snprintf(msg, sizeof(msg), "process %d has exited", (int)t->pid);
		finish_session(t, s, 404, msg);
		return;
	}
	/* CPU time used before the window is not the window's */
	for (i = 0; i < t->nthr; i++)
		t->thr[i]->attributed[s->slot] = t->thr[i]->cpu_ns;
	s->period_ns = 1000000000ULL / s->hz;
	s->end_ns = s->start_ns + (uint64_t)s->seconds * 1000000000ULL;
	s->next_due = s->start_ns + s->period_ns;
	pthread_mutex_lock(&t->mu);
	t->active[s->slot] = s;
	pthread_mutex_unlock(&t->mu);
	log_verbose("pid %d: window started: %u s at %u Hz", (int)t->pid,
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
		if (s->agg->samples > 0)
			finish_session(t, s, 200, NULL);
		else
			finish_session(t, s, 404, msg);
	}
}

static void
fail_active(struct target *t, int status, const char *msg)
{
	size_t i;

	for (i = 0; i < PROFD_MAX_SESSIONS; i++)
		if (t->active[i])
			finish_session(t, t->active[i], status, msg);
}

/* ---- one tick ------------------------------------------------------------ */

/*
 * A thread found in state R is not necessarily on a CPU: it may be waiting
 * on a run queue. Our interrupt then takes effect only when the thread is
 * next scheduled, and the registers show where it was preempted. With the
 * kernel's lazy preemption, fair-class tasks are preempted on the way back
 * to user space, after an interrupt (a random point: a fair sample) or at
 * the end of a system call (not random at all: measured here, 60 % of a
 * demo's samples landed in clock_gettime(), where perf saw under 1 %).
 * A sample is dropped when the thread was scheduled in between our read of
 * its counters and its stop (it was not running when we looked) and it
 * stopped at a system call exit (orig_rax >= 0; an interrupt entry sets
 * it to -1). Its CPU time is not lost: it goes to the thread's next
 * sample.
 */
static bool
sample_is_biased(const struct slot *s)
{
	return s->preempted && (int64_t)s->snap.regs.orig_rax >= 0;
}

static void
tick(struct target *t, struct session **due, size_t ndue)
{
	struct thr *sel[MAX_BATCH];
	char msg[PROFD_ERRLEN];
	size_t i, k, nsel = 0, start;
	bool refreshed = false;
	int r;

	r = scan_threads(t);
	if (r == -ESRCH) {
		target_died(t);
		return;
	}
	if (r < 0)
		return;
	for (k = 0; k < ndue; k++)
		due[k]->ticks++;

	/* Running or runnable threads only; rotate so that a target with
	 * more of them than MAX_BATCH gets each sampled in turn. */
	start = t->nthr ? t->rotate++ % t->nthr : 0;
	for (i = 0; i < t->nthr && nsel < MAX_BATCH; i++) {
		struct thr *h = t->thr[(start + i) % t->nthr];

		if (h->state == 'R' && h->pt == PT_NONE && !h->gone)
			sel[nsel++] = h;
	}
	if (nsel == 0)
		return;
	for (i = t->nslots; i < nsel; i++) {
		t->slots[i].snap.cap = t->o.stack_bytes;
		t->slots[i].snap.stack = malloc(t->o.stack_bytes);
		if (!t->slots[i].snap.stack)
			break;
		t->nslots++;
	}
	if (nsel > t->nslots)
		nsel = t->nslots;

	r = stop_threads(t, sel, nsel, msg, sizeof(msg));
	if (r == -EPERM) {
		log_warnx("pid %d: %s", (int)t->pid, msg);
		fail_active(t, 403, msg);
		return;
	}

	/* Every thread runs again; unwind the copies. */
	pthread_mutex_lock(&t->space_mu);
	for (i = 0; i < nsel; i++) {
		struct slot *s = &t->slots[i];
		struct thr *h = s->thr;
		int n;

		if (!s->valid) {
			for (k = 0; k < ndue; k++)
				due[k]->lost++;
			continue;
		}
		if (sample_is_biased(s)) {
			t->stats.preempted_dropped++;
			continue;
		}
		/* A PC outside every known module: something was mapped
		 * since (dlopen, JIT). Re-read the maps once per tick. */
		if (!refreshed && !space_module(t->space, s->snap.regs.rip)) {
			refreshed = true;
			if (space_refresh(t->space, msg, sizeof(msg)) > 0)
				unwinder_flush(t->uw);
		}
		n = unwind_snapshot(t->uw, &s->snap, t->pcs, t->flags,
				    PROFD_MAX_FRAMES + 1);
		if (n < 1)
			continue;
		for (k = 0; k < ndue; k++) {
			struct session *ss = due[k];
			uint64_t *att = &h->attributed[ss->slot];
			int64_t v = h->cpu_ns > *att ? (int64_t)(h->cpu_ns - *att)
						     : 0;

			*att = h->cpu_ns;
			ss->stops++;
			if (agg_add(ss->agg, h->tid, h->comm, t->pcs, (size_t)n,
				    1, v) < 0)
				ss->lost++;
		}
	}
	pthread_mutex_unlock(&t->space_mu);
}

/* ---- the sampler thread ---------------------------------------------------- */

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

static void *
sampler_main(void *arg)
{
	struct target *t = arg;
	struct session *due[PROFD_MAX_SESSIONS];
	struct timespec ts;
	sigset_t set;
	size_t i, ndue;

	/* The deadline signal must reach this thread. */
	sigemptyset(&set);
	sigaddset(&set, SIGWAKE);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	start_timer(t);

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
		if (!any && t->late == 0) {
			pthread_cond_wait(&t->wake, &t->mu);
			continue;
		}
		now = mono_ns();
		if (t->late > 0 && now + LATE_POLL_NS < next)
			next = now + LATE_POLL_NS;
		if (now < next) {
			abs_timespec(next, &ts);
			pthread_cond_timedwait(&t->wake, &t->mu, &ts);
			continue;
		}
		pthread_mutex_unlock(&t->mu);

		if (t->late > 0)
			reap_late(t);
		now = mono_ns();
		ndue = 0;
		for (i = 0; i < PROFD_MAX_SESSIONS; i++) {
			struct session *s = t->active[i];

			if (s && s->next_due <= now && s->next_due < s->end_ns)
				due[ndue++] = s;
		}
		if (ndue > 0) {
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
		for (i = 0; i < PROFD_MAX_SESSIONS; i++) {
			struct session *s = t->active[i];

			if (s && s->end_ns <= now)
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
	if (t->late > 0) {
		uint64_t end = mono_ns() + 200000000ULL;

		while (t->late > 0 && mono_ns() < end) {
			struct timespec d = { 0, 1000000 };

			reap_late(t);
			nanosleep(&d, NULL);
		}
	}
	if (t->timer_ok)
		timer_delete(t->timer);
	return NULL;
}

/* ---- public API ------------------------------------------------------------ */

struct target *
target_new(pid_t pid, const struct target_opts *o, char *err, size_t errlen)
{
	char path[64], *comm;
	pthread_condattr_t ca;
	struct target *t;
	size_t len;
	int r;

	install_wake_handler();
	r = proc_check_traceable(pid, err, errlen);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->pid = pid;
	t->o = *o;
	t->alive = true;
	t->task_fd = -1;
	pthread_mutex_init(&t->mu, NULL);
	pthread_mutex_init(&t->space_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->wake, &ca);
	pthread_cond_init(&t->done, &ca);
	pthread_condattr_destroy(&ca);

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	t->task_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->task_fd < 0) {
		snprintf(err, errlen, "no such process: %d", (int)pid);
		goto fail;
	}
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (proc_read(path, 64, &comm, &len) == 0) {
		if (len && comm[len - 1] == '\n')
			comm[len - 1] = '\0';
		snprintf(t->comm, sizeof(t->comm), "%s", comm);
		free(comm);
	}
	t->dents = malloc(DENTS_SIZE);
	t->space = space_new(pid);
	if (!t->dents || !t->space) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* Read the maps now (no attach needed) so that /symbol works and
	 * the first window starts warm. */
	r = space_refresh(t->space, err, errlen);
	if (r < 0)
		goto fail;
	t->uw = unwinder_new(t->space);
	if (!t->uw) {
		snprintf(err, errlen, "libunwind: cannot create address space");
		goto fail;
	}
	r = pthread_create(&t->thread, NULL, sampler_main, t);
	if (r != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(r));
		goto fail;
	}
	t->thread_started = true;
	return t;
fail:
	target_free(t);
	return NULL;
}

void
target_stop(struct target *t)
{
	if (!t || !t->thread_started)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_broadcast(&t->wake);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	t->thread_started = false;
}

void
target_free(struct target *t)
{
	size_t i;

	if (!t)
		return;
	target_stop(t);
	for (i = 0; i < t->nthr; i++)
		thr_free(t->thr[i]);
	free(t->thr);
	for (i = 0; i < t->nslots; i++)
		free(t->slots[i].snap.stack);
	unwinder_free(t->uw);
	space_free(t->space);
	free(t->dents);
	if (t->task_fd >= 0)
		close(t->task_fd);
	pthread_cond_destroy(&t->wake);
	pthread_cond_destroy(&t->done);
	pthread_mutex_destroy(&t->mu);
	pthread_mutex_destroy(&t->space_mu);
	free(t);
}

pid_t
target_pid(const struct target *t)
{
	return t->pid;
}

bool
target_alive(struct target *t)
{
	bool a;

	pthread_mutex_lock(&t->mu);
	a = t->alive;
	pthread_mutex_unlock(&t->mu);
	return a;
}

void
target_comm(const struct target *t, char *buf, size_t len)
{
	snprintf(buf, len, "%s", t->comm);
}

static void
session_free(struct session *s)
{
	if (!s)
		return;
	agg_free(s->agg);
	modsnap_free(&s->ms);
	free(s);
}

/* Post a window and wait for it. Returns the finished session (caller
 * frees) or NULL with r filled. */
static struct session *
run_session(struct target *t, unsigned seconds, unsigned hz,
	    struct http_reply *r)
{
	struct session *s;
	int slot;

	s = calloc(1, sizeof(*s));
	if (s)
		s->agg = agg_new(MAX_STACKS);
	if (!s || !s->agg) {
		session_free(s);
		r->status = 503;
		snprintf(r->msg, sizeof(r->msg), "profd is out of memory");
		return NULL;
	}
	s->seconds = seconds;
	s->hz = hz;

	pthread_mutex_lock(&t->mu);
	if (t->stop || !t->alive) {
		r->status = t->stop ? 503 : 404;
		snprintf(r->msg, sizeof(r->msg), "%s",
			 t->stop ? "profd is shutting down" : t->dead_msg);
		pthread_mutex_unlock(&t->mu);
		session_free(s);
		return NULL;
	}
	for (slot = 0; slot < PROFD_MAX_SESSIONS; slot++)
		if (!(t->used_slots & (1U << slot)))
			break;
	if (slot == PROFD_MAX_SESSIONS) {
		pthread_mutex_unlock(&t->mu);
		session_free(s);
		r->status = 503;
		snprintf(r->msg, sizeof(r->msg),
			 "%d profiles of process %d are already running; "
			 "retry when one of them ends",
			 PROFD_MAX_SESSIONS, (int)t->pid);
		return NULL;
	}
	t->used_slots |= 1U << slot;
	s->slot = slot;
	s->next = t->pending;
	t->pending = s;
	pthread_cond_signal(&t->wake);
	while (!s->done)
		pthread_cond_wait(&t->done, &t->mu);
	pthread_mutex_unlock(&t->mu);
	return s;
}

/*
 * libdw needs far more stack than civetweb gives its workers (100 KiB in
 * Debian's build, not configurable at run time): parsing the line program
 * of a large CU, e.g. in libc's separate debug file, overflows it. Work
 * that symbolizes runs on a thread of our own with a full-size stack.
 */
#define SYMBOLIZE_STACK (16u << 20)

static int
run_big_stack(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t th;
	int r;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SYMBOLIZE_STACK);
	r = pthread_create(&th, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (r != 0)
		return -r;
	pthread_join(th, NULL);
	return 0;
}

struct export_job {
	struct target *t;
	struct session *s;
	struct http_reply *r;
};

static void *
export_main(void *arg)
{
	struct export_job *j = arg;
	struct session *s = j->s;
	char comment[512], err[PROFD_ERRLEN];
	struct export_info info;

	snprintf(comment, sizeof(comment),
		 "profd %s: pid %d (%s), %.1f s at %u Hz%s: %" PRIu64
		 " samples, %" PRIu64 " ticks, %" PRIu64 " lost",
		 PROFD_VERSION, (int)j->t->pid, j->t->comm,
		 (double)s->duration_ns / 1e9, s->hz,
		 s->exited ? " (process exited)" : "", s->agg->samples,
		 s->ticks, s->lost);
	memset(&info, 0, sizeof(info));
	info.sample_type = "cpu";
	info.sample_unit = "nanoseconds";
	info.period = (int64_t)s->period_ns;
	info.time_nanos = s->start_wall;
	info.duration_nanos = (int64_t)s->duration_ns;
	info.comment = comment;
	j->r->profile = export_pprof(s->agg, &s->ms, &info, err, sizeof(err));
	if (!j->r->profile) {
		j->r->status = 500;
		snprintf(j->r->msg, sizeof(j->r->msg), "%s", err);
	} else {
		j->r->status = 200;
	}
	return NULL;
}

void
target_profile(struct target *t, const struct http_profile_req *req,
	       struct http_reply *r)
{
	struct export_job j;
	struct session *s;
	int e;

	s = run_session(t, req->seconds, req->hz, r);
	if (!s)
		return;
	if (s->status != 200) {
		r->status = s->status;
		snprintf(r->msg, sizeof(r->msg), "%s", s->msg);
		session_free(s);
		return;
	}
	j.t = t;
	j.s = s;
	j.r = r;
	e = run_big_stack(export_main, &j);
	if (e < 0) {
		r->status = 503;
		snprintf(r->msg, sizeof(r->msg),
			 "cannot start a thread to build the profile: %s",
			 strerror(-e));
	}
	log_verbose("pid %d: window done: %.1f s, %" PRIu64 " samples",
		    (int)t->pid, (double)s->duration_ns / 1e9, s->agg->samples);
	session_free(s);
}

struct symbol_job {
	struct elfimg **imgs;
	uint64_t *vaddrs;
	char **names;
	size_t n;
};

static void *
symbol_main(void *arg)
{
	struct symbol_job *j = arg;
	size_t i;

	for (i = 0; i < j->n; i++) {
		struct sym_info si;

		if (!j->imgs[i])
			continue;
		if (symbolize(j->imgs[i], j->vaddrs[i], &si) == 0 && si.n > 0 &&
		    si.frames[0].name[0])
			j->names[i] = strdup(si.frames[0].name);
	}
	return NULL;
}

void
target_symbol(struct target *t, const uint64_t *addrs, size_t n,
	      char **names, struct http_reply *r)
{
	struct symbol_job j;
	size_t i;
	int e;

	memset(&j, 0, sizeof(j));
	j.imgs = calloc(n ? n : 1, sizeof(*j.imgs));
	j.vaddrs = calloc(n ? n : 1, sizeof(*j.vaddrs));
	j.names = names;
	j.n = n;
	if (!j.imgs || !j.vaddrs) {
		free(j.imgs);
		free(j.vaddrs);
		r->status = 503;
		snprintf(r->msg, sizeof(r->msg), "profd is out of memory");
		return;
	}
	/* Resolve modules under the lock, symbolize outside it so the
	 * sampler is never held up by a cold DWARF load. */
	pthread_mutex_lock(&t->space_mu);
	for (i = 0; i < n; i++) {
		const struct module *m = space_module(t->space, addrs[i]);

		names[i] = NULL;
		if (m && m->img) {
			j.imgs[i] = elfimg_get(m->img);
			j.vaddrs[i] = addrs[i] - m->bias;
		}
	}
	pthread_mutex_unlock(&t->space_mu);
	e = run_big_stack(symbol_main, &j);
	for (i = 0; i < n; i++)
		elfimg_put(j.imgs[i]);
	free(j.imgs);
	free(j.vaddrs);
	if (e < 0) {
		r->status = 503;
		snprintf(r->msg, sizeof(r->msg),
			 "cannot start a thread to symbolize: %s",
			 strerror(-e));
		return;
	}
	r->status = 200;
}

void
target_cmdline(struct target *t, struct http_reply *r)
{
	char path[64], *buf;
	size_t len;
	int e;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)t->pid);
	e = proc_read(path, 1 << 20, &buf, &len);
	if (e < 0) {
		r->status = 404;
		snprintf(r->msg, sizeof(r->msg), "process %d has exited",
			 (int)t->pid);
		return;
	}
	if (len && buf[len - 1] == '\0')
		len--;
	r->status = 200;
	r->text = buf;
	r->text_len = len;
}
