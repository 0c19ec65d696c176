/* burst - a mostly idle service: threads that sleep, wake, run a short
 * burst of CPU in a known function and sleep again, so that most of the
 * time nothing runs and the CPU is used between a profiler's ticks.
 *
 * Usage: burst NTHREADS WORK_US SLEEP_US [ALARM_SECONDS]
 *
 * Each thread loops: burst_work() spins for WORK_US microseconds of its
 * own CPU time (CLOCK_THREAD_CPUTIME_ID), then nanosleep()s SLEEP_US
 * microseconds, +-50 % (a per-thread xorshift), so that wake-ups do not
 * line up with a profiler's ticks. Expected CPU stack, innermost first:
 *   burst_work, burst_loop, start_thread...
 */
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "target.h"

static unsigned long work_us, sleep_us;
static volatile unsigned long sink;

static uint64_t
thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static NOINLINE void
burst_work(void)
{
	uint64_t end = thread_cpu_ns() + work_us * 1000;

	while (thread_cpu_ns() < end) {
		unsigned i;

		for (i = 0; i < 2000; i++)
			sink += i;
	}
}

static NOINLINE void *
burst_loop(void *arg)
{
	uint64_t x = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;

	for (;;) {
		struct timespec ts;
		uint64_t us;

		burst_work();
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		us = sleep_us / 2 + x % (sleep_us + 1);
		ts.tv_sec = (time_t)(us / 1000000);
		ts.tv_nsec = (long)(us % 1000000) * 1000;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	unsigned long n, i;

	if (argc < 4) {
		fprintf(stderr, "usage: burst NTHREADS WORK_US SLEEP_US "
				"[ALARM_SECONDS]\n");
		return 64;
	}
	n = target_arg(argv[1], "thread count");
	work_us = target_arg(argv[2], "work microseconds");
	sleep_us = target_arg(argv[3], "sleep microseconds");
	target_init(argc > 4 ? argv[4] : NULL);
	for (i = 0; i < n; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, burst_loop, (void *)(i + 1)) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	target_ready();
	for (;;)
		pause();
	return 0;
}
