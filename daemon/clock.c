/* clock.c - clocks and the latency histogram (see clock.h). */
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "daemon/clock.h"

const double hist_bounds_us[HIST_BUCKETS] = {
	5, 10, 20, 30, 50, 75, 100, 200, 500, 1000, 2000, 5000, 10000, 50000,
};

/* clk in ns, 0 when it cannot be read. */
static uint64_t
clock_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t
mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t
wall_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void
wall_rfc3339(int64_t ns, char *buf, size_t len)
{
	time_t sec = (time_t)(ns / 1000000000LL);
	struct tm tm;

	if (!gmtime_r(&sec, &tm) ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
}

uint64_t
thread_cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

uint64_t
process_cpu_ns(clockid_t clk)
{
	return clock_ns(clk);
}

void
ns_to_timespec(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / 1000000000ULL);
	ts->tv_nsec = (long)(ns % 1000000000ULL);
}

void
hist_add(struct hist *h, uint64_t ns)
{
	double us = (double)ns / 1000.0;
	size_t i;

	for (i = 0; i < HIST_BUCKETS && us > hist_bounds_us[i]; i++)
		;
	__atomic_fetch_add(&h->count[i], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->sum_ns, ns, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->n, 1, __ATOMIC_RELAXED);
	if (ns > __atomic_load_n(&h->max_ns, __ATOMIC_RELAXED))
		__atomic_store_n(&h->max_ns, ns, __ATOMIC_RELAXED);
}
