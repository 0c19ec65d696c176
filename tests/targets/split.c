/* split - worker threads whose CPU time splits 60/30/10 between three leaf
 * functions reached through distinct call chains.  Built with
 * -O2 -fomit-frame-pointer, so callers can only be found through CFI.
 *
 * Usage: split [THREADS [ALARM_SECONDS]]   THREADS workers (default 2),
 *                                          named split-w0, split-w1, ...
 *        split calib [ROUNDS]             measure the split and print it
 *
 * Expected stacks, innermost first (below worker: start_thread, clone3):
 *   hot_a, chain_a1, do_round, worker                          60 % of CPU
 *   hot_b, chain_b3, chain_b2, chain_b1, do_round, worker      30 %
 *   hot_c, do_round, worker                                    10 %
 * The main thread sleeps in pthread_join and burns no CPU.
 *
 * Every hot function runs the same unit of work, UNIT, a whole number of
 * times (6, 3, 1), so the split holds by construction: UNIT is a serially
 * dependent integer loop whose speed is bound by the multiply latency, not
 * by how the compiler unrolls or schedules it.  UNIT is a macro rather than a
 * static inline function on purpose: an inlined helper would show up as an
 * inline frame below hot_a, and the leaf (pprof's "flat") would then be the
 * helper instead of hot_a.  A macro's code is attributed to the line that
 * expands it, inside the hot function.  Each unit is ~0.1 ms, so a round
 * (~1 ms) is far shorter than a sampling period and cannot alias with it.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "target.h"

#define UNIT_ITERS 100000

#define UNIT(x)                                                              \
	do {                                                                 \
		for (int unit_i_ = 0; unit_i_ < UNIT_ITERS; unit_i_++)      \
			(x) = ((x) ^ ((x) >> 29)) * 0x9e3779b97f4a7c15UL;   \
	} while (0)

static volatile unsigned long sink;
static volatile unsigned long seed = 1;

static NOINLINE unsigned long
hot_a(unsigned long x)
{
	for (int i = 0; i < 6; i++)
		UNIT(x);
	return x;
}

static NOINLINE unsigned long
hot_b(unsigned long x)
{
	for (int i = 0; i < 3; i++)
		UNIT(x);
	return x;
}

static NOINLINE unsigned long
hot_c(unsigned long x)
{
	UNIT(x);
	return x;
}

/* "+ 1" after each call keeps it from becoming a tail call (jmp), which
 * would drop the caller from the stack. */
static NOINLINE unsigned long
chain_a1(unsigned long x)
{
	return hot_a(x) + 1;
}

static NOINLINE unsigned long
chain_b3(unsigned long x)
{
	return hot_b(x) + 1;
}

static NOINLINE unsigned long
chain_b2(unsigned long x)
{
	return chain_b3(x) + 1;
}

static NOINLINE unsigned long
chain_b1(unsigned long x)
{
	return chain_b2(x) + 1;
}

static NOINLINE unsigned long
do_round(unsigned long x)
{
	x = chain_a1(x);
	x = chain_b1(x);
	x = hot_c(x);
	return x + 1;
}

static void *
worker(void *arg)
{
	unsigned long x = seed + (unsigned long)arg;

	for (;;) {
		x = do_round(x);
		sink = x;
	}
	return NULL;
}

static double
thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Time each hot function's chain over many rounds on this thread's CPU
 * clock and print the split the profiler should find. */
static int
calib(unsigned long rounds)
{
	double t[3] = { 0, 0, 0 }, t0, sum;
	unsigned long x = seed;

	for (unsigned long r = 0; r < rounds; r++) {
		t0 = thread_cpu_ns();
		x = chain_a1(x);
		t[0] += thread_cpu_ns() - t0;
		t0 = thread_cpu_ns();
		x = chain_b1(x);
		t[1] += thread_cpu_ns() - t0;
		t0 = thread_cpu_ns();
		x = hot_c(x);
		t[2] += thread_cpu_ns() - t0;
	}
	sink = x;
	sum = t[0] + t[1] + t[2];
	printf("rounds %lu, %.3f ms per round\n", rounds, sum / rounds / 1e6);
	printf("hot_a %.2f%% hot_b %.2f%% hot_c %.2f%%\n", 100 * t[0] / sum,
	       100 * t[1] / sum, 100 * t[2] / sum);
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned long nthreads;
	pthread_t *th;
	char name[32];	/* the kernel keeps 15 bytes */

	if (argc > 1 && strcmp(argv[1], "calib") == 0)
		return calib(argc > 2 ? target_arg(argv[2], "rounds") : 2000);
	nthreads = target_threads(argc > 1 ? argv[1] : NULL, 2);
	target_init(argc > 2 ? argv[2] : NULL);

	th = calloc(nthreads, sizeof(*th));
	if (th == NULL)
		return 1;
	for (unsigned long i = 0; i < nthreads; i++) {
		if (pthread_create(&th[i], NULL, worker, (void *)i) != 0)
			return 1;
		snprintf(name, sizeof(name), "split-w%lu", i);
		pthread_setname_np(th[i], name);
	}
	target_ready();
	pthread_join(th[0], NULL);	/* never returns: workers loop forever */
	return 0;
}
