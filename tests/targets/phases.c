/* phases - worker threads whose hot function changes on SIGUSR1, for the
 * differential flame graph (tests/e2e/t_ui.sh): in phase 1 every worker
 * spends its CPU in phase_one, after the first SIGUSR1 in phase_two, after
 * the next in phase_one again, and so on.
 *
 * Usage: phases [THREADS [ALARM_SECONDS]]   THREADS workers (default 2)
 *
 * Expected stacks, innermost first (below worker: start_thread, clone3):
 *   phase 1: phase_one, step, worker
 *   phase 2: phase_two, step, worker
 * The main thread waits for SIGUSR1 in sigwait(2) (the workers block it)
 * and prints "phase N" once the workers have been told, so that a test
 * waits for that line, not for a time.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>

#include "target.h"

#define ITERS 200000

static volatile int phase = 1;
static volatile unsigned long sink;

static NOINLINE unsigned long
phase_one(unsigned long x)
{
	for (int i = 0; i < ITERS; i++)
		x = (x ^ (x >> 29)) * 0x9e3779b97f4a7c15UL;
	return x;
}

static NOINLINE unsigned long
phase_two(unsigned long x)
{
	for (int i = 0; i < ITERS; i++)
		x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9UL;
	return x;
}

/* "+ 1" keeps each call from becoming a tail call. */
static NOINLINE unsigned long
step(unsigned long x)
{
	return (phase == 1 ? phase_one(x) : phase_two(x)) + 1;
}

static void *
worker(void *arg)
{
	unsigned long x = (unsigned long)arg + 1;

	for (;;)
		sink = x = step(x);
	return NULL;
}

int
main(int argc, char **argv)
{
	unsigned long nthreads;
	pthread_t th;
	sigset_t set;
	int sig;

	nthreads = target_threads(argc > 1 ? argv[1] : NULL, 2);
	target_init(argc > 2 ? argv[2] : NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* the workers inherit it */
	for (unsigned long i = 0; i < nthreads; i++) {
		if (pthread_create(&th, NULL, worker, (void *)i) != 0)
			return 1;
		pthread_setname_np(th, "phases-w");
	}
	target_ready();
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			return 1;
		phase = 3 - phase;
		printf("phase %d\n", phase);
		fflush(stdout);
	}
}
