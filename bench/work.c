/* work - CPU-bound work-rate target for `make bench` (bench/bench.sh).
 *
 * THREADS workers each run ROUNDS rounds of a fixed amount of work whose CPU
 * time splits 60/30/10 between three leaf functions reached through distinct
 * call chains (the same shape as tests/targets/split.c):
 *   hot_a, chain_a1, do_round, worker                          60 %
 *   hot_b, chain_b3, chain_b2, chain_b1, do_round, worker      30 %
 *   hot_c, do_round, worker                                    10 %
 * Built with -O2 -g -fomit-frame-pointer.
 *
 * Usage: work [-t THREADS] [-r ROUNDS] [-w] [-a ALARM_SECONDS]
 *        work -c [-r ROUNDS]      calibrate: print the split and ms/round
 *
 * The workers are created first and wait on a barrier; the process prints
 * "ready PID".  With -w it then waits for SIGUSR1 (so that a profiler can
 * attach before the timed work starts), without -w it starts at once.  The
 * timed part is from the release to the last worker's join (CLOCK_MONOTONIC);
 * at the end it prints "elapsed SECONDS" and "cpu SECONDS" (the process's
 * user + system time) and exits 0.  ROUNDS 0 means run
 * until killed.  The main thread sleeps in pthread_join and burns no CPU.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "target.h"

/* One unit is ~0.1 ms: a serially dependent integer loop, bound by the
 * multiply latency.  A macro, not an inline function, so that its code is
 * attributed to the hot function that expands it. */
#define UNIT_ITERS 100000
#define UNIT(x)                                                              \
	do {                                                                 \
		for (int unit_i_ = 0; unit_i_ < UNIT_ITERS; unit_i_++)      \
			(x) = ((x) ^ ((x) >> 29)) * 0x9e3779b97f4a7c15UL;   \
	} while (0)

static volatile unsigned long sink;
static volatile unsigned long seed = 1;
static unsigned long rounds = 1500;
static pthread_barrier_t start_line;

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

/* "+ 1" after each call keeps it from becoming a tail call. */
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

	pthread_barrier_wait(&start_line);
	for (unsigned long r = 0; rounds == 0 || r < rounds; r++)
		x = do_round(x);
	sink = x;
	return NULL;
}

static double
now_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Time each chain on this thread's CPU clock: the split a profiler should
 * find, and the cost of one round. */
static int
calib(void)
{
	double t[3] = { 0, 0, 0 }, t0, sum;
	unsigned long x = seed;

	for (unsigned long r = 0; r < rounds; r++) {
		t0 = now_s(CLOCK_THREAD_CPUTIME_ID);
		x = chain_a1(x);
		t[0] += now_s(CLOCK_THREAD_CPUTIME_ID) - t0;
		t0 = now_s(CLOCK_THREAD_CPUTIME_ID);
		x = chain_b1(x);
		t[1] += now_s(CLOCK_THREAD_CPUTIME_ID) - t0;
		t0 = now_s(CLOCK_THREAD_CPUTIME_ID);
		x = hot_c(x);
		t[2] += now_s(CLOCK_THREAD_CPUTIME_ID) - t0;
	}
	sink = x;
	sum = t[0] + t[1] + t[2];
	printf("round_ms %.4f\n", sum / (double)rounds * 1e3);
	printf("split %.2f %.2f %.2f\n", 100 * t[0] / sum, 100 * t[1] / sum,
	       100 * t[2] / sum);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: work [-t THREADS] [-r ROUNDS] [-w] "
			"[-a ALARM_SECONDS]\n       work -c [-r ROUNDS]\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	unsigned long nthreads = 1;
	const char *alarm_arg = NULL;
	bool wait_sig = false, cal = false;
	pthread_t *th;
	char name[32];	/* the kernel keeps 15 bytes */
	struct rusage ru;
	sigset_t set;
	double t0, t1;
	int opt, sig;

	while ((opt = getopt(argc, argv, "a:cr:t:w")) != -1) {
		switch (opt) {
		case 'a': alarm_arg = optarg; break;
		case 'c': cal = true; break;
		case 'r':
			/* 0 is allowed here: run until killed */
			rounds = strcmp(optarg, "0") == 0
					 ? 0 : target_arg(optarg, "rounds");
			break;
		case 't': nthreads = target_arg(optarg, "thread count"); break;
		case 'w': wait_sig = true; break;
		default: usage();
		}
	}
	if (optind != argc || nthreads > 256)
		usage();
	if (cal)
		return calib();
	target_init(alarm_arg);

	/* Block SIGUSR1 before any thread exists so that every thread
	 * inherits the mask and sigwait() below receives it. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	th = calloc(nthreads, sizeof(*th));
	if (th == NULL ||
	    pthread_barrier_init(&start_line, NULL, (unsigned)nthreads + 1))
		return 1;
	for (unsigned long i = 0; i < nthreads; i++) {
		if (pthread_create(&th[i], NULL, worker, (void *)i) != 0)
			return 1;
		snprintf(name, sizeof(name), "work-w%lu", i);
		pthread_setname_np(th[i], name);
	}
	target_ready();
	if (wait_sig) {
		while (sigwait(&set, &sig) != 0 || sig != SIGUSR1)
			;
	}
	t0 = now_s(CLOCK_MONOTONIC);
	pthread_barrier_wait(&start_line);
	for (unsigned long i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	t1 = now_s(CLOCK_MONOTONIC);
	getrusage(RUSAGE_SELF, &ru);
	printf("elapsed %.6f\n", t1 - t0);
	printf("cpu %.6f\n", (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
				(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	fflush(stdout);
	return 0;
}
