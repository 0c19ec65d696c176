/* stops.c - the ptrace stop protocol: seize and interrupt threads, wait
 * for their stops with a deadline, copy what a stop is for (registers, a
 * slice of stack, schedstat), and let them go; copy a sleeping thread's
 * stack without a stop when /proc says where it is blocked. The rules it
 * keeps are in stops.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/daemon.h"
#include "daemon/guardian.h"
#include "daemon/proc.h"
#include "daemon/sampler.h"
#include "daemon/sampler_int.h"
#include "daemon/stops.h"
#include "daemon/target.h"
#include "daemon/threads.h"

/* How long a tick waits for the stops of a batch; a thread dump, which
 * is taken once and must show every thread, longer (a runnable thread on
 * a loaded machine stops only once it gets a CPU). Nothing is held
 * stopped while waiting: each stop is let go as it arrives. */
#define STOP_DEADLINE_NS   (50 * 1000000ULL)
#define DUMP_STOP_DEADLINE_NS (1000 * 1000000ULL)
/* How long the end of a window (or shutdown) waits for every seized
 * thread to stop and be let go, and shutdown for stops still owed. */
#define RELEASE_DEADLINE_NS (200 * 1000000ULL)
#define LATE_SHUTDOWN_NS    (200 * 1000000ULL)

void
arm_deadline(struct target *t, uint64_t deadline)
{
	struct sampler *sm = t->sm;
	struct itimerspec its;

	if (!sm->timer_ok)
		return;
	memset(&its, 0, sizeof(its));
	ns_to_timespec(deadline, &its.it_value);
	/* Fires again every millisecond: if the first expiry lands between
	 * our deadline check and waitpid(), the next one still wakes us. */
	its.it_interval.tv_nsec = 1000000;
	timer_settime(sm->timer, TIMER_ABSTIME, &its, NULL);
}

void
disarm_deadline(struct target *t)
{
	struct sampler *sm = t->sm;
	struct itimerspec its;

	if (!sm->timer_ok)
		return;
	memset(&its, 0, sizeof(its));
	timer_settime(sm->timer, 0, &its, NULL);
}

static void
untraced(struct target *t, struct thr *h)
{
	struct sampler *sm = t->sm;

	if (h && h->traced) {
		h->traced = false;
		sm->ntraced--;
	}
}

/* Tell the guardian (guardian.c) what this sampler holds: every thread it
 * has seized (interrupted and not released yet, or, under --attach=window,
 * seized for the window), plus `extra` about to be; whether a window is
 * open; and due, until when it may legitimately not run: the deadline of
 * the wait it is about to enter, or now. */
void
guard_report(struct target *t, unsigned extra, uint64_t due)
{
	struct sampler *sm = t->sm;
	unsigned held = sm->ntraced + extra;

	guardian_publish(sm->guard, held, held > 0 || sm->guard_active, due);
}

/* Let a stopped thread go, delivering sig if it was stopped for one:
 * detach it, or under --attach=window continue it, still seized. */
static void
release(struct target *t, struct thr *h, pid_t tid, int sig)
{
	struct sampler *sm = t->sm;

	if (sm->attach_window && h && h->traced && !h->gone &&
	    pt_cont(tid, sig) == 0)
		return;
	pt_detach(tid, sig);
	untraced(t, h);
}

static void breach(struct target *t);

/*
 * Handle one stop or exit reported by waitpid. Every branch that finds the
 * thread stopped lets it go before returning.
 */
void
handle_event(struct target *t, const struct pt_event *ev, unsigned *pending)
{
	struct sampler *sm = t->sm;
	struct thr *h = thr_find(t, ev->tid);
	struct slot *s = NULL;
	enum thr_pt was = h ? h->pt : PT_NONE;
	int resume_sig = 0;

	if (h && h->pt == PT_PENDING)
		s = &sm->slots[h->slot];
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
			if (s->valid && h)
				go_sampler_take(t, h, &s->snap);
			STAT_ADD(t, copy_bytes, s->snap.len);
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
			uint64_t held = mono_ns() - s->t_stop;

			hist_add(&t->stats.interrupt, s->t_stop - s->t_int);
			hist_add(&t->stats.stop, held);
			STAT_ADD(t, stops, 1);
			if (held > (uint64_t)t->o.max_stop_us * 1000)
				breach(t);
		}
		break;
	case PT_EV_GROUP_STOP:
		/* Stopped by job control (SIGSTOP, ^Z): detaching keeps it
		 * in the group-stop, as if profd had never been there; a
		 * thread we keep seized listens for the SIGCONT instead
		 * (PTRACE_LISTEN: stays stopped, reports the continue). */
		STAT_ADD(t, group_stops, 1);
		if (sm->attach_window && h && h->traced && !h->gone &&
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
	else if (was == PT_LATE && sm->late > 0)
		sm->late--;
}

/* Stops that arrive after their tick gave up on them, and, under
 * --attach=window, every signal the target receives. */
void
service_events(struct target *t)
{
	struct sampler *sm = t->sm;
	struct pt_event ev;
	unsigned none = 0;

	while (pt_wait(&ev, false) == 1)
		handle_event(t, &ev, &none);
	if (sm->late > 0 && pt_wait(&ev, false) == -ECHILD) {
		/* nothing is traced any more: they all exited */
		size_t i;

		for (i = 0; i < sm->nthr; i++)
			if (sm->thr[i]->pt == PT_LATE) {
				sm->thr[i]->pt = PT_NONE;
				untraced(t, sm->thr[i]);
			}
		sm->late = 0;
	}
}

/* Handle stops and exits as waitpid reports them while *left > 0 (a
 * counter handle_event decrements, directly or through pending), until the
 * deadline: the timer's signal interrupts the blocking wait. */
void
collect_stops(struct target *t, uint64_t deadline, const unsigned *left,
	      unsigned *pending)
{
	struct pt_event ev;

	guard_report(t, 0, deadline);
	arm_deadline(t, deadline);
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
		guard_report(t, 0, deadline);
	}
	disarm_deadline(t);
	guard_report(t, 0, mono_ns());
}

/* Seize and interrupt a batch, then collect its stops until all arrived or
 * the deadline passed. Returns -EPERM (with msg) when the kernel refuses to
 * let profd trace the target. */
int
stop_batch(struct target *t, struct thr **sel, size_t nsel, char *msg,
	   size_t msglen)
{
	struct sampler *sm = t->sm;
	uint64_t wait_ns = sm->dump_due ? DUMP_STOP_DEADLINE_NS
					: STOP_DEADLINE_NS;
	unsigned pending = 0;
	size_t i;
	int r = 0, e;

	/* before the first INTERRUPT: the guardian must never miss a hold */
	guard_report(t, (unsigned)nsel, mono_ns() + wait_ns);
	stop_guard_batch_begin(t);
	for (i = 0; i < nsel; i++) {
		struct thr *h = sel[i];
		struct slot *s = &sm->slots[i];

		s->valid = false;
		s->preempted = false;
		s->thr = h;
		/* a dump copies all: it is asked for once, and must be whole */
		s->snap.want = sm->dump_due ? 0 : h->copy_bytes;
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
			sm->ntraced++;
		}
		s->t_int = mono_ns();
		if (pt_interrupt(h->tid) < 0) {
			/* seized but exiting: its exit will be reported */
			h->pt = PT_LATE;
			sm->late++;
			continue;
		}
		h->pt = PT_PENDING;
		h->slot = (int)i;
		pending++;
	}
	collect_stops(t, mono_ns() + wait_ns, &pending, &pending);
	stop_guard_batch_end(t);
	if (pending > 0) {
		/* A thread that went into uninterruptible sleep between our
		 * read of its state and the interrupt stops only when it
		 * comes back to user space. Don't hold the tick for it: its
		 * stop is answered whenever it arrives. */
		for (i = 0; i < nsel; i++) {
			if (sel[i]->pt == PT_PENDING) {
				sel[i]->pt = PT_LATE;
				sm->late++;
				STAT_ADD(t, late, 1);
			}
		}
	}
	return r;
}

/* System calls that an interrupt restarts transparently (measured here:
 * reference/measured-here.md section 6; signal(7)): a ptrace stop of a
 * thread blocked in one of them changes nothing the program can see. */
bool
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
int
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
	go_sampler_take(t, h, s);
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
/* ---- the bound of a stop (stops.h) ------------------------------------- */

#define BACKOFF_MIN_NS 100000000ULL	/* 100 ms */
#define BACKOFF_MAX_NS 2000000000ULL	/* 2 s */

void
stop_guard_open(struct target *t)
{
	t->sm->self_sched_fd =
		open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
}

void
stop_guard_close(struct target *t)
{
	if (t->sm->self_sched_fd >= 0)
		close(t->sm->self_sched_fd);
	t->sm->self_sched_fd = -1;
}

/* How long the sampler thread has waited on a runqueue so far (ns, the
 * second field of its schedstat); 0 when unknown. */
static uint64_t
self_run_delay(const struct sampler *sm)
{
	char b[96];
	unsigned long long run, wait;
	ssize_t n;

	if (sm->self_sched_fd < 0)
		return 0;
	n = pread(sm->self_sched_fd, b, sizeof(b) - 1, 0);
	if (n <= 0)
		return 0;
	b[n] = '\0';
	if (sscanf(b, "%llu %llu", &run, &wait) != 2)
		return 0;
	return (uint64_t)wait;
}

static void
breach(struct target *t)
{
	struct sampler *sm = t->sm;

	STAT_ADD(t, stop_breaches, 1);
	if (sm->breached)
		return;		/* once per tick */
	sm->breached = true;
	sm->backoff_ns = sm->backoff_ns ? sm->backoff_ns * 2 : BACKOFF_MIN_NS;
	if (sm->backoff_ns > BACKOFF_MAX_NS)
		sm->backoff_ns = BACKOFF_MAX_NS;
	sm->backoff_until = mono_ns() + sm->backoff_ns;
}

bool
stop_guard_tick(struct target *t)
{
	struct sampler *sm = t->sm;
	uint64_t rd, bound = (uint64_t)t->o.max_stop_us * 1000;

	sm->breached = false;
	if (mono_ns() < sm->backoff_until)
		return false;
	rd = self_run_delay(sm);
	if (rd && sm->rd_tick_end && rd - sm->rd_tick_end > bound)
		return false;
	return true;
}

void
stop_guard_tick_end(struct target *t)
{
	struct sampler *sm = t->sm;

	sm->rd_tick_end = self_run_delay(sm);
	/* a tick without a breach, past the backoff: start afresh */
	if (!sm->breached && mono_ns() >= sm->backoff_until)
		sm->backoff_ns = 0;
}

void
stop_guard_batch_begin(struct target *t)
{
	t->sm->rd_batch = self_run_delay(t->sm);
}

void
stop_guard_batch_end(struct target *t)
{
	struct sampler *sm = t->sm;
	uint64_t rd = self_run_delay(sm);

	if (rd && sm->rd_batch &&
	    rd - sm->rd_batch > (uint64_t)t->o.max_stop_us * 1000)
		breach(t);
}

/* Seize every thread not traced yet (new threads appear every scan). */
void
seize_all(struct target *t)
{
	struct sampler *sm = t->sm;
	size_t i;

	for (i = 0; i < sm->nthr; i++) {
		struct thr *h = sm->thr[i];

		if (h->gone || h->traced)
			continue;
		if (pt_seize(h->tid) == 0) {
			h->traced = true;
			sm->ntraced++;
		}
	}
}

/* The window is over: let every seized thread go. A seized thread must be
 * in a ptrace-stop to be detached: interrupt it, and detach on the stop
 * (a thread in a group-stop stays stopped after the detach). */
void
release_all(struct target *t)
{
	struct sampler *sm = t->sm;
	uint64_t deadline = mono_ns() + RELEASE_DEADLINE_NS;
	bool window = sm->attach_window;
	unsigned none = 0;
	size_t i;

	for (i = 0; i < sm->nthr; i++)
		if (sm->thr[i]->traced && sm->thr[i]->pt != PT_LATE)
			pt_interrupt(sm->thr[i]->tid);
	sm->attach_window = false;	/* from here on, stops detach */
	collect_stops(t, deadline, &sm->ntraced, &none);
	sm->attach_window = window;
}

/* Shutting down with stops still owed (threads in PT_LATE, e.g. in
 * uninterruptible sleep when interrupted): wait for them in waitpid, as
 * for any stop, for at most LATE_SHUTDOWN_NS, with the guardian told that
 * the sampler wakes at least every GUARDIAN_WAKE_MS. Without a deadline
 * timer a blocking wait could not be cut short: then only what has
 * arrived already is handled. */
void
wait_late_stops(struct target *t)
{
	struct sampler *sm = t->sm;
	uint64_t end = mono_ns() + LATE_SHUTDOWN_NS, now;
	unsigned none = 0;

	service_events(t);
	if (!sm->timer_ok)
		return;
	while (sm->late > 0 && (now = mono_ns()) < end) {
		uint64_t wake = now + GUARDIAN_WAKE_MS * 1000000ULL;

		collect_stops(t, wake < end ? wake : end, &sm->late, &none);
		/* waitpid's ECHILD: nothing is traced any more, the late
		 * ones all exited */
		service_events(t);
	}
}

/* --attach=window between ticks: wait in waitpid until `until`, so that
 * every signal the target gets is passed on at once (see sampler.c
 * idle_until). Returns early when nothing is seized any more. */
void
serve_seized_until(struct target *t, uint64_t until)
{
	struct sampler *sm = t->sm;
	uint64_t wake = 0, now;

	while ((now = mono_ns()) < until && sm->ntraced > 0) {
		struct pt_event ev;
		unsigned none = 0;
		int w;

		/* Wake at least every GUARDIAN_WAKE_MS: the guardian takes a
		 * sampler that misses its deadline by GUARDIAN_BOUND_MS while
		 * a thread waits for it for one that cannot run, so the
		 * deadline stays near. */
		if (now >= wake) {
			wake = now + GUARDIAN_WAKE_MS * 1000000ULL;
			if (wake > until)
				wake = until;
			arm_deadline(t, wake);
		}
		guard_report(t, 0, wake);
		w = pt_wait(&ev, true);
		if (w == 1)
			handle_event(t, &ev, &none);
		else if (w != -EINTR)
			break;
	}
	disarm_deadline(t);
	guard_report(t, 0, mono_ns());
}
