/* warmer.c - symbolize while sampling.
 *
 * The first lookup in a binary with a lot of DWARF loads its CU ranges and
 * line tables, which can take seconds; done only when the window ends, it
 * delays the answer by as much (a scraper's 10 s window must be answered
 * within ~3 s: reference/pprof-compat.md 5.1). The sampler hands every PC
 * it has not seen before to this thread, which resolves it into
 * symbolize/'s cache while the window is still open; the export then finds
 * everything cached. The queue is bounded and never blocks the sampler:
 * when it is full, the PC is left for the export to resolve.
 *
 * The work is done at SCHED_IDLE, on CPU time nobody else wants: loading
 * a libc's compressed debug info takes ~100 ms of CPU, and at normal
 * priority, beside a target that keeps every CPU busy, all of it came out
 * of the target's time (bench/work, 99 Hz, 2 threads on 2 CPUs, with
 * --rt-priority 0: 1.06x slower instead of 1.02x; with the default
 * real-time sampler the CPUs go idle for moments around its stops, and the
 * warmer gets most of what it needs there). A thread that needs
 * symbolize's lock while a starved warmer holds it raises that warmer to
 * SCHED_OTHER (the wait hook below), which then stays there for
 * WARM_RAISED_NS, so that an export never waits
 * on a thread that gets no CPU. Going back from SCHED_IDLE takes
 * CAP_SYS_NICE or an RLIMIT_NICE of 20; without either, the warmer never
 * goes idle and works as an ordinary thread.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <stdint.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/proc.h"
#include "daemon/warmer.h"
#include "symbolize/symbolize.h"

#define WARM_QUEUE 65536
#define WARM_RAISED_NS 1000000000ULL	/* normal priority after a raise */

struct warm_item {
	struct elfimg *img;	/* referenced */
	uint64_t vaddr;
};

struct warmer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct warm_item *q;
	size_t head, tail, n;	/* ring of WARM_QUEUE items */
	bool stop;
	uint64_t done, dropped;
	/* under reg_mu: */
	struct warmer *next;	/* in warmers, while the thread runs */
	pid_t tid;
	bool idle;		/* SCHED_IDLE now */
	uint64_t raised_until;	/* CLOCK_MONOTONIC ns; UINT64_MAX: for good */
};

/* The running warmers, for the wait hook; a thread leaves the list before
 * it exits, so the hook never names a thread that is gone. */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct warmer *warmers;
static bool can_raise;		/* set once, before the first thread */
static _Thread_local bool in_warmer;
static uint64_t raises;		/* atomic */

/* Whether this process may move a thread from SCHED_IDLE back to
 * SCHED_OTHER at nice 0 (sched(7)): CAP_SYS_NICE, or RLIMIT_NICE >= 20. */
static bool
may_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NICE, &rl) == 0 &&
	    (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= 20))
		return true;
	return proc_have_cap(CAP_SYS_NICE);
}

/* Raise w, if idle, to SCHED_OTHER until `until`. Called with reg_mu. */
static void
raise_one(struct warmer *w, uint64_t until)
{
	struct sched_param sp = { 0 };

	if (w->idle && sched_setscheduler(w->tid, SCHED_OTHER, &sp) == 0) {
		w->idle = false;
		__atomic_add_fetch(&raises, 1, __ATOMIC_RELAXED);
	}
	w->raised_until = until;
}

/* symbolize's wait hook: raise every idle warmer. Never called on a warmer
 * thread's own behalf: it would undo its idling for nothing. */
static void
raise_warmers(void)
{
	struct warmer *w;

	if (in_warmer)
		return;
	pthread_mutex_lock(&reg_mu);
	for (w = warmers; w; w = w->next)
		raise_one(w, mono_ns() + WARM_RAISED_NS);
	pthread_mutex_unlock(&reg_mu);
}

/* Before each item: back to SCHED_IDLE unless raised a moment ago. */
static void
settle(struct warmer *w)
{
	struct sched_param sp = { 0 };

	pthread_mutex_lock(&reg_mu);
	if (!w->idle && mono_ns() >= w->raised_until &&
	    sched_setscheduler(0, SCHED_IDLE, &sp) == 0)
		w->idle = true;
	pthread_mutex_unlock(&reg_mu);
}

static void
enlist(struct warmer *w)
{
	pthread_mutex_lock(&reg_mu);
	w->tid = (pid_t)syscall(SYS_gettid);
	w->next = warmers;
	warmers = w;
	pthread_mutex_unlock(&reg_mu);
}

static void
delist(struct warmer *w)
{
	struct warmer **pp;

	pthread_mutex_lock(&reg_mu);
	for (pp = &warmers; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	pthread_mutex_unlock(&reg_mu);
}

static void *
warmer_main(void *arg)
{
	struct warmer *w = arg;

	prctl(PR_SET_NAME, "profd-warmer", 0, 0, 0);
	in_warmer = true;
	if (can_raise)
		enlist(w);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct warm_item it;
		struct sym_info si;

		while (w->n == 0 && !w->stop)
			pthread_cond_wait(&w->cond, &w->mu);
		if (w->stop)
			break;
		it = w->q[w->head];
		w->head = (w->head + 1) % WARM_QUEUE;
		w->n--;
		pthread_mutex_unlock(&w->mu);
		if (can_raise)
			settle(w);
		symbolize(it.img, it.vaddr, &si);
		elfimg_put(it.img);
		pthread_mutex_lock(&w->mu);
		w->done++;
	}
	pthread_mutex_unlock(&w->mu);
	if (can_raise)
		delist(w);
	return NULL;
}

static pthread_once_t raise_once = PTHREAD_ONCE_INIT;

static void
raise_setup(void)
{
	can_raise = may_raise();
	if (can_raise)
		symbolize_set_wait_hook(raise_warmers);
}

struct warmer *
warmer_new(void)
{
	pthread_attr_t attr;
	struct warmer *w;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->q = calloc(WARM_QUEUE, sizeof(*w->q));
	if (!w->q) {
		free(w);
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_once(&raise_once, raise_setup);
	/* libdw needs a full-size stack (see run_big_stack() in target.c) */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 16u << 20);
	r = pthread_create(&w->thread, &attr, warmer_main, w);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cond);
		free(w->q);
		free(w);
		errno = r;
		return NULL;
	}
	return w;
}

void
warmer_push(struct warmer *w, struct elfimg *img, uint64_t vaddr)
{
	pthread_mutex_lock(&w->mu);
	if (w->n == WARM_QUEUE || w->stop) {
		w->dropped++;
		pthread_mutex_unlock(&w->mu);
		elfimg_put(img);
		return;
	}
	w->q[w->tail].img = img;
	w->q[w->tail].vaddr = vaddr;
	w->tail = (w->tail + 1) % WARM_QUEUE;
	w->n++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

uint64_t
warmer_raises(void)
{
	return __atomic_load_n(&raises, __ATOMIC_RELAXED);
}

void
warmer_free(struct warmer *w)
{
	struct warmer *o;

	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
	/* a starved warmer would finish its item only when the target
	 * leaves it a CPU: raise it for good (it is still listed: it
	 * leaves the list itself, on its way out) */
	pthread_mutex_lock(&reg_mu);
	for (o = warmers; o; o = o->next)
		if (o == w)
			raise_one(w, UINT64_MAX);
	pthread_mutex_unlock(&reg_mu);
	pthread_join(w->thread, NULL);
	while (w->n > 0) {
		elfimg_put(w->q[w->head].img);
		w->head = (w->head + 1) % WARM_QUEUE;
		w->n--;
	}
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cond);
	free(w->q);
	free(w);
}
