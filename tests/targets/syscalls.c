/* syscalls - busy threads that make a few system calls between long
 * stretches of pure computation, with more such threads than CPUs.
 *
 * Usage: syscalls [THREADS [ALARM_SECONDS]]   THREADS workers (default 4),
 *                                             named sys-w0, sys-w1, ...
 *
 * Expected stacks, innermost first (below worker: start_thread, clone3):
 *   crunch, worker                                  about 99 % of CPU
 *   clock_gettime / getppid wrappers, worker        under 1 %
 * Each round is ~1 ms of crunch() followed by clock_gettime() on the thread
 * CPU clock (a real system call) and getppid(). perf record sees crunch at
 * ~99 %. A sampler that stops threads where they happen to be when they
 * next run (preempted threads, which the kernel prefers to preempt at a
 * system call exit) would instead find them in the wrappers far more often
 * than they spend time there.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "target.h"

#define CRUNCH_ITERS 400000	/* ~1 ms */

static volatile unsigned long sink;

static NOINLINE unsigned long
crunch(unsigned long x)
{
	for (int i = 0; i < CRUNCH_ITERS; i++)
		x = (x ^ (x >> 29)) * 0x9e3779b97f4a7c15UL;
	return x;
}

static NOINLINE void *
worker(void *arg)
{
	unsigned long x = (unsigned long)arg + 1;
	struct timespec ts;

	for (;;) {
		x = crunch(x);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		sink += (unsigned long)ts.tv_nsec + (unsigned long)getppid();
		sink += x;
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? target_arg(argv[1], "thread count") : 4;
	pthread_t th;
	char name[16];

	target_init(argc > 2 ? argv[2] : NULL);
	for (unsigned long i = 0; i < n; i++) {
		if (pthread_create(&th, NULL, worker, (void *)i) != 0)
			return 1;
		snprintf(name, sizeof(name), "sys-w%u", (unsigned)(i % 1000));
		pthread_setname_np(th, name);
	}
	target_ready();
	pthread_join(th, NULL);	/* never returns */
	return 0;
}
