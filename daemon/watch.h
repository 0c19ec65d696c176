/* watch.h - triggers at work (watch.c): per target, the --trigger
 * conditions checked about once a second on the sampler thread, beside
 * the recorder, and the worker thread that writes the snapshots they
 * fire (snapshot.h) and keeps the last thread dump and memory view for
 * when the process dies.
 *
 * Ownership: target_new creates the watch (watch_new) and target_free
 * frees it (watch_free) after target_stop has joined the sampler and the
 * worker (watch_stop). The triggers array is borrowed for the watch's
 * life (the configuration's).
 * Threads: watch_start, watch_tick and watch_exited run on the target's
 * sampler thread only, with neither t->mu nor t->space_mu held, never
 * while a thread is stopped; they only read /proc and cgroup files and
 * post jobs. The worker calls the target's API like an HTTP worker
 * (history, thread dump, memory view). watch_fired_count from any thread.
 * Errors: none returned; what fails is logged and counted
 * (profd_snapshot_errors_total).
 */
#ifndef PROFD_DAEMON_WATCH_H
#define PROFD_DAEMON_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/trigger.h"

struct watch;
struct target;

/* A watch of t over triggers[0..n). NULL when out of memory. */
struct watch *watch_new(struct target *t, const struct trigger *triggers,
			size_t n);

/* Let the worker finish the jobs posted so far and join it. Call after
 * the sampler has been joined. Accepts NULL. */
void watch_stop(struct watch *w);

/* watch_stop, then free. Accepts NULL. */
void watch_free(struct watch *w);

/* Sampler thread, when it starts: the baselines (cgroup, OOM kills, the
 * first readings) and the worker. */
void watch_start(struct target *t);

/* Sampler thread, after the recorder's tick: check the triggers when a
 * second has passed since the last check. now: CLOCK_MONOTONIC ns. */
void watch_tick(struct target *t, uint64_t now);

/* Sampler thread, or target_stop once it has joined the sampler: the
 * process has exited (once; later calls do nothing): fire exit, and oom
 * when the cgroup's oom_kill count went up. */
void watch_exited(struct target *t);

#endif /* PROFD_DAEMON_WATCH_H */
