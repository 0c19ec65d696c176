/* siglat - how late a periodic timer signal reaches a busy thread: the
 * signal latency a profiler adds to its target (attach-policy row of
 * `make bench`).
 *
 * Usage: siglat [-r RATE_HZ] [-s SECONDS] [-w] [-a ALARM_SECONDS]
 *
 * One worker thread computes without pause.  A POSIX timer
 * (CLOCK_MONOTONIC, absolute start, period 1/RATE_HZ, default 1000 Hz)
 * sends SIGRTMIN to that thread (SIGEV_THREAD_ID).  Its handler takes the
 * time and stores now - (start + k * period), k counting expirations
 * including overruns (a missed expiration is not counted as late).  The
 * process prints "ready PID"; with -w it waits for SIGUSR1 before arming
 * the timer.  After SECONDS (default 2) of signals it prints
 * "siglat n N mean_us M p50_us P p99_us Q max_us X overruns O" and exits.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "target.h"

static timer_t timer;
static int64_t t0_ns, period_ns;
static volatile int64_t *lat_ns;	/* filled by the handler */
static volatile size_t nlat, maxlat;
static volatile uint64_t expirations, overruns;
static volatile unsigned long sink;
static volatile pid_t worker_tid;

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
on_timer(int sig)
{
	int64_t now = mono_ns();
	int ov = timer_getoverrun(timer);

	(void)sig;
	if (ov > 0) {
		overruns += (uint64_t)ov;
		expirations += (uint64_t)ov;
	}
	expirations++;
	if (nlat < maxlat)
		lat_ns[nlat++] =
		    now - (t0_ns + (int64_t)expirations * period_ns);
}

static NOINLINE unsigned long
busy(unsigned long x)
{
	for (int i = 0; i < 10000; i++)
		x = (x ^ (x >> 29)) * 0x9e3779b97f4a7c15UL;
	return x;
}

static void *
worker(void *arg)
{
	unsigned long x = (unsigned long)arg + 1;

	worker_tid = (pid_t)syscall(SYS_gettid);
	for (;;)
		sink = x = busy(x);
	return NULL;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	unsigned long rate = 1000, seconds = 2;
	const char *alarm_arg = NULL;
	bool wait_sig = false;
	struct sigevent sev;
	struct itimerspec its;
	struct sigaction sa;
	struct timespec d = { 0, 1000000 };
	sigset_t set;
	pthread_t th;
	int64_t *v, sum = 0, start;
	size_t n;
	int opt, sig;

	while ((opt = getopt(argc, argv, "a:r:s:w")) != -1) {
		switch (opt) {
		case 'a': alarm_arg = optarg; break;
		case 'r': rate = target_arg(optarg, "rate"); break;
		case 's': seconds = target_arg(optarg, "seconds"); break;
		case 'w': wait_sig = true; break;
		default:
			fprintf(stderr, "usage: siglat [-r RATE_HZ] [-s SECONDS]"
					" [-w] [-a ALARM_SECONDS]\n");
			return 64;
		}
	}
	if (rate > 100000)
		return 64;
	target_init(alarm_arg);
	period_ns = 1000000000 / (int64_t)rate;
	maxlat = rate * seconds + 16;
	lat_ns = calloc(maxlat, sizeof(*lat_ns));
	if (!lat_ns)
		return 1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_timer;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGRTMIN, &sa, NULL);
	/* Only the worker takes SIGRTMIN; only sigwait takes SIGUSR1. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&th, NULL, worker, NULL) != 0)
		return 1;
	pthread_setname_np(th, "siglat-busy");
	sigaddset(&set, SIGRTMIN);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	while (worker_tid == 0)
		nanosleep(&d, NULL);
	target_ready();
	sigdelset(&set, SIGRTMIN);
	if (wait_sig) {
		while (sigwait(&set, &sig) != 0 || sig != SIGUSR1)
			;
	}

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGRTMIN;
	sev._sigev_un._tid = worker_tid;
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0)
		return 1;
	start = mono_ns() + 10 * period_ns;
	t0_ns = start - period_ns;	/* expiration k=1 is at start */
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = start / 1000000000;
	its.it_value.tv_nsec = start % 1000000000;
	its.it_interval.tv_nsec = period_ns;
	its.it_interval.tv_sec = 0;
	if (period_ns >= 1000000000) {
		its.it_interval.tv_sec = period_ns / 1000000000;
		its.it_interval.tv_nsec = period_ns % 1000000000;
	}
	if (timer_settime(timer, TIMER_ABSTIME, &its, NULL) != 0)
		return 1;
	d.tv_sec = 0;
	d.tv_nsec = 10000000;
	while (mono_ns() < start + (int64_t)seconds * 1000000000)
		nanosleep(&d, NULL);
	timer_delete(timer);

	n = nlat;
	v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return 1;
	for (size_t i = 0; i < n; i++) {
		v[i] = lat_ns[i];
		sum += v[i];
	}
	qsort(v, n, sizeof(*v), cmp_i64);
	if (n == 0) {
		printf("siglat n 0\n");
		return 1;
	}
	printf("siglat n %zu mean_us %.1f p50_us %.1f p99_us %.1f max_us %.1f "
	       "overruns %llu\n",
	       n, (double)sum / (double)n / 1e3, (double)v[n / 2] / 1e3,
	       (double)v[(n * 99) / 100] / 1e3, (double)v[n - 1] / 1e3,
	       (unsigned long long)overruns);
	fflush(stdout);
	return 0;
}
