/* gap - the longest time a busy thread goes without running: what a
 * profiler that holds it stopped costs it (starve section of `make bench`).
 *
 * Usage: gap [-s SECONDS] [-w] [-a ALARM_SECONDS]
 *
 * The main thread reads CLOCK_MONOTONIC in a loop for SECONDS (default
 * 15) and keeps the largest difference between two reads in a row, and
 * how many exceeded 10 and 100 ms: time it spent stopped or waiting for
 * a CPU. It prints "ready PID"; with -w it waits for SIGUSR1 first. At
 * the end it prints "gap max_ms M over10ms N over100ms K" and exits.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "target.h"

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int
main(int argc, char **argv)
{
	const char *alarm_arg = NULL;
	unsigned long seconds = 15;
	uint64_t end, prev, max = 0, over10 = 0, over100 = 0;
	bool wait_go = false;
	sigset_t set;
	int opt, sig;

	while ((opt = getopt(argc, argv, "a:s:w")) != -1) {
		switch (opt) {
		case 'a': alarm_arg = optarg; break;
		case 's': seconds = target_arg(optarg, "seconds"); break;
		case 'w': wait_go = true; break;
		default:
			fprintf(stderr, "usage: gap [-s SECONDS] [-w] "
				"[-a ALARM_SECONDS]\n");
			return 2;
		}
	}
	target_init(alarm_arg);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	target_ready();
	if (wait_go)
		while (sigwait(&set, &sig) != 0 || sig != SIGUSR1)
			;
	prev = mono_ns();
	end = prev + seconds * 1000000000ULL;
	for (;;) {
		uint64_t now = mono_ns(), d = now - prev;

		if (d > max)
			max = d;
		over10 += d > 10000000ULL;
		over100 += d > 100000000ULL;
		prev = now;
		if (now >= end)
			break;
	}
	printf("gap max_ms %.1f over10ms %llu over100ms %llu\n",
	       (double)max / 1e6, (unsigned long long)over10,
	       (unsigned long long)over100);
	return 0;
}
