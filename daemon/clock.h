/* clock.h - the clocks the daemon reads, and the latency histogram the
 * sampler fills for /metrics.
 *
 * Ownership: nothing here allocates; a struct hist belongs to whoever
 * embeds it (the target's stats). Threads: every function may be called
 * from any thread; hist_add updates with relaxed atomics, so one writer
 * (the sampler) and any number of readers (/metrics) need no lock.
 * Errors: the clock readers cannot fail on Linux, except process_cpu_ns,
 * which returns 0 when the clock cannot be read. Nothing here logs.
 */
#ifndef PROFD_DAEMON_CLOCK_H
#define PROFD_DAEMON_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC, in ns. */
uint64_t mono_ns(void);

/* CLOCK_REALTIME, in ns since the epoch. */
int64_t wall_now_ns(void);

/* ns since the epoch as an RFC 3339 UTC time, to the second, into buf
 * ("?" when it cannot be written). Any thread. */
void wall_rfc3339(int64_t ns, char *buf, size_t len);

/* CPU time of the calling thread, in ns. */
uint64_t thread_cpu_ns(void);

/* CPU time of every thread of a process, dead ones included, from its
 * CPU clock (clock_getcpuclockid(3)), which the kernel lets anyone read
 * for any process (kernel/time/posix-cpu-timers.c pid_for_clock). 0 when
 * the clock cannot be read (the process is gone). */
uint64_t process_cpu_ns(clockid_t clk);

/* ns (of any clock) as a struct timespec, for absolute deadlines. */
void ns_to_timespec(uint64_t ns, struct timespec *ts);

/* Buckets of the stop and interrupt time histograms, upper bounds in us
 * (the last bucket, +Inf, has no bound). */
#define HIST_BUCKETS 14
extern const double hist_bounds_us[HIST_BUCKETS];

/* Every field a uint64_t: see struct sampler_stats (target.h). */
struct hist {
	uint64_t count[HIST_BUCKETS + 1];	/* last: +Inf */
	uint64_t sum_ns, n, max_ns;
};

/* Count one duration of ns in h (relaxed atomics; a single writer). */
void hist_add(struct hist *h, uint64_t ns);

#endif /* PROFD_DAEMON_CLOCK_H */
