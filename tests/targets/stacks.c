/* stacks - a busy target with many distinct stacks: N threads each walk
 * a random path DEPTH calls deep through two functions, then spin a
 * little at the bottom, again and again.  Nearly every sample is a stack
 * not seen before, as in a large service, which is what fills continuous
 * mode's history (t_history_mem.sh, bench/bench.sh's rss row).
 *
 * Usage: stacks N DEPTH [ALARM_SECONDS]
 *
 * Threads (named "stacks-w"), innermost first: stacks_leaf, then DEPTH
 * frames of stacks_a and stacks_b in a random order, stacks_worker,
 * start_thread, clone3.  The main thread waits in pthread_join.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "target.h"

static unsigned long depth;
static volatile uint64_t sink;

/* A few microseconds of work, with the path walked as its input. */
static NOINLINE void
stacks_leaf(uint64_t x)
{
	int i;

	for (i = 0; i < 2000; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	sink += x;
}

static NOINLINE void stacks_b(uint64_t rng, unsigned long left);

/* Go one level down, to stacks_a or stacks_b as the next random bit says;
 * the addition after the call keeps it from being a tail call. */
static NOINLINE void
stacks_a(uint64_t rng, unsigned long left)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	if (left == 0)
		stacks_leaf(rng);
	else if (rng & 1)
		stacks_a(rng, left - 1);
	else
		stacks_b(rng, left - 1);
	sink += left;
}

static NOINLINE void
stacks_b(uint64_t rng, unsigned long left)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	if (left == 0)
		stacks_leaf(rng);
	else if (rng & 2)
		stacks_b(rng, left - 1);
	else
		stacks_a(rng, left - 1);
	sink += left;
}

static NOINLINE void *
stacks_worker(void *arg)
{
	uint64_t rng = 0x9e3779b97f4a7c15ULL * ((uintptr_t)arg + 1);

	for (;;) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		stacks_a(rng | 1, depth - 1);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	unsigned long i, n;
	pthread_t th;
	int r;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: stacks N DEPTH [ALARM_SECONDS]\n");
		return 64;
	}
	n = target_arg(argv[1], "thread count");
	depth = target_arg(argv[2], "depth");
	target_init(argc > 3 ? argv[3] : NULL);
	for (i = 0; i < n; i++) {
		r = pthread_create(&th, NULL, stacks_worker, (void *)i);
		if (r != 0) {
			fprintf(stderr, "pthread_create: %s\n", strerror(r));
			return 1;
		}
		pthread_setname_np(th, "stacks-w");
	}
	target_ready();
	pthread_join(th, NULL);
	return 0;
}
