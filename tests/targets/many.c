/* many - a target with many threads: N sleep in pthread_cond_wait, the
 * main thread spins.
 *
 * Usage: many N [ALARM_SECONDS]
 *
 * Threads get 64 KiB stacks so that thousands fit. Prints "ready PID" once
 * all N are created. Expected stacks, innermost first: spin_main, main for
 * the main thread; pthread_cond_wait..., sleeper, start_thread for the
 * others (named "many-s").
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "target.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static volatile unsigned long sink = 1;

static NOINLINE void *
sleeper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	for (;;)
		pthread_cond_wait(&never, &mu);
	return NULL;
}

static NOINLINE void
spin_main(void)
{
	for (;;)
		sink = sink * 6364136223846793005UL + 1;
}

int
main(int argc, char **argv)
{
	pthread_attr_t a;
	unsigned long i, n;
	pthread_t th;
	int r;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: many N [ALARM_SECONDS]\n");
		return 64;
	}
	n = target_arg(argv[1], "thread count");
	target_init(argc > 2 ? argv[2] : NULL);
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	for (i = 0; i < n; i++) {
		r = pthread_create(&th, &a, sleeper, NULL);
		if (r != 0) {
			fprintf(stderr, "pthread_create %lu: %s\n", i,
				strerror(r));
			return 1;
		}
		pthread_setname_np(th, "many-s");
	}
	target_ready();
	spin_main();
	return 0;
}
