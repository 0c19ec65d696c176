/* sleepers - a target with many threads of which only 2 use the CPU, for
 * the per-tick cost scaling row of `make bench`.
 *
 * Usage: sleepers [-n THREADS] [-a ALARM_SECONDS]
 *
 * The process has THREADS threads in all (default 10, at least 3): the main
 * thread and THREADS-3 others sleep in pthread_cond_wait (a condition that
 * is never signalled), 2 threads spin in spin_a/spin_b.  Prints
 * "ready PID" once every thread exists and runs until killed (or the alarm,
 * default 300 s).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>

#include "target.h"

static volatile unsigned long sink;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static NOINLINE unsigned long
spin_a(unsigned long x)
{
	for (int i = 0; i < 100000; i++)
		x = (x ^ (x >> 29)) * 0x9e3779b97f4a7c15UL;
	return x;
}

static NOINLINE unsigned long
spin_b(unsigned long x)
{
	for (int i = 0; i < 100000; i++)
		x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9UL;
	return x;
}

static void *
spinner(void *arg)
{
	unsigned long x = (unsigned long)arg;

	for (;;)
		sink = x = (arg ? spin_b(x) : spin_a(x)) + 1;
	return NULL;
}

static void *
sleeper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	for (;;)
		pthread_cond_wait(&never, &mu);
	return NULL;
}

int
main(int argc, char **argv)
{
	unsigned long n = 10;
	const char *alarm_arg = NULL;
	pthread_attr_t attr;
	pthread_t th;
	int opt;

	while ((opt = getopt(argc, argv, "a:n:")) != -1) {
		switch (opt) {
		case 'a': alarm_arg = optarg; break;
		case 'n': n = target_arg(optarg, "thread count"); break;
		default:
			fprintf(stderr, "usage: sleepers [-n THREADS] "
					"[-a ALARM_SECONDS]\n");
			return 64;
		}
	}
	if (n < 3 || n > 10000) {
		fprintf(stderr, "sleepers: THREADS must be 3..10000\n");
		return 64;
	}
	target_init(alarm_arg);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (unsigned long i = 0; i < n - 1; i++) {
		void *(*fn)(void *) = i < 2 ? spinner : sleeper;

		if (pthread_create(&th, &attr, fn, (void *)i) != 0) {
			fprintf(stderr, "sleepers: pthread_create failed at "
					"thread %lu\n", i + 1);
			return 1;
		}
	}
	target_ready();
	pthread_mutex_lock(&mu);
	for (;;)
		pthread_cond_wait(&never, &mu);
	return 0;
}
