/* churn - thread churn: creates and joins RATE short-lived threads per
 * second (default 1000), each doing ~100 us of work, next to one steady
 * busy thread.  For checking that a sampler that lists /proc/PID/task and
 * then stops threads copes with threads that are gone, or just born, by the
 * time it gets to them (reference/ptrace-sampling.md 3.1).
 *
 * Usage: churn COUNTERS [RATE [ALARM_SECONDS]]
 *
 * Threads and their stacks, innermost first:
 *   churn     the main thread: creates CHURN_BATCH threads, joins them,
 *             waits for the next batch's due time (clock_nanosleep on an
 *             absolute CLOCK_MONOTONIC deadline, so the rate holds)
 *   churn-t   churn_work, churn_thread, start_thread, clone3 (short-lived)
 *   steady    steady_work, steady_main, start_thread, clone3 (always R)
 *
 * Counter file: little-endian uint64 (mmap'd MAP_SHARED, 4 KiB, zeroed):
 *   offset 0   threads created
 *   offset 8   threads joined
 *   offset 16  pthread_create failures
 *   offset 24  batches that started late (the creator fell behind)
 * Read them without touching the target: od -An -v -t u8 -N 32 COUNTERS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "target.h"

#define CHURN_BATCH   4
#define WORK_ITERS    40000	/* ~100 us */

enum { C_CREATED, C_JOINED, C_FAILED, C_LATE };

static volatile uint64_t *counters;
static volatile unsigned long sink;

static void
die(const char *what)
{
	fprintf(stderr, "churn: %s: %s\n", what, strerror(errno));
	exit(1);
}

static NOINLINE unsigned long
churn_work(unsigned long x)
{
	for (int i = 0; i < WORK_ITERS; i++)
		x = (x ^ (x >> 29)) * 0x9e3779b97f4a7c15UL;
	return x;
}

static void *
churn_thread(void *arg)
{
	prctl(PR_SET_NAME, "churn-t");
	sink = churn_work((unsigned long)arg + 1);
	return NULL;
}

static NOINLINE void
steady_work(void)
{
	unsigned long x = 1;

	for (;;)
		sink = x = churn_work(x);
}

static void *
steady_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "steady");
	steady_work();
	return NULL;
}

static volatile uint64_t *
map_counters(const char *path)
{
	return target_counters(path, 1);
}

static void
add(int which)
{
	__atomic_fetch_add(&counters[which], 1, __ATOMIC_RELAXED);
}

int
main(int argc, char **argv)
{
	unsigned long rate = 1000, k = 0;
	struct timespec due, now;
	pthread_attr_t attr;
	pthread_t th[CHURN_BATCH];
	long period_ns;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: churn COUNTERS [RATE [ALARM_SECONDS]]\n");
		return 64;
	}
	if (argc > 2)
		rate = target_arg(argv[2], "rate");
	if (rate > 100000) {
		fprintf(stderr, "churn: at most 100000 threads per second\n");
		return 64;
	}
	target_init(argc > 3 ? argv[3] : NULL);
	counters = map_counters(argv[1]);
	period_ns = (long)(1000000000.0 * CHURN_BATCH / rate);

	if (pthread_create(&th[0], NULL, steady_main, NULL) != 0)
		die("pthread_create");
	/* small stacks: creating them is the point, not their size */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	target_ready();

	clock_gettime(CLOCK_MONOTONIC, &due);
	for (;;) {
		int n = 0, r;

		for (int i = 0; i < CHURN_BATCH; i++) {
			r = pthread_create(&th[n], &attr, churn_thread,
					   (void *)k++);
			if (r != 0) {
				add(C_FAILED);
				continue;
			}
			add(C_CREATED);
			n++;
		}
		for (int i = 0; i < n; i++) {
			if (pthread_join(th[i], NULL) != 0)
				die("pthread_join");
			add(C_JOINED);
		}
		due.tv_nsec += period_ns;
		while (due.tv_nsec >= 1000000000L) {
			due.tv_nsec -= 1000000000L;
			due.tv_sec++;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > due.tv_sec ||
		    (now.tv_sec == due.tv_sec && now.tv_nsec > due.tv_nsec)) {
			/* behind: count it and do not try to catch up */
			add(C_LATE);
			due = now;
			continue;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL);
	}
	return 0;
}
