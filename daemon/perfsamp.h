/* perfsamp.h - the perf_event sampler (--sampler perf|auto): CPU windows
 * sampled by the kernel instead of by stopping threads.
 *
 * Each thread of the target gets a software event counting its CPU time
 * (PERF_COUNT_SW_TASK_CLOCK) that, every 1/hz s of that CPU time, writes
 * the thread's user registers and a copy of its user stack into a small
 * ring mapped into profd. Every tick of a perf window the sampler thread
 * drains the rings: each sample becomes a struct snapshot, is unwound as
 * a ptrace stop's copy is (tick.c tick_unwind) and weighs its period, in
 * CPU ns, in every perf window open. Nothing is stopped and nothing is
 * traced: TracerPid stays 0.
 *
 * Wall-clock windows, thread dumps, growth windows and continuous mode's
 * recorder stay on ptrace; sampler.c sample_due() is the one place that
 * chooses between the two for each due window.
 *
 * Ownership: the events and rings hang off the thread table (struct thr
 * perf_fd, perf_ring), the scratch buffer off struct sampler; perfsamp
 * closes and frees them (perfsamp_thr_close, perfsamp_free).
 * Threads: every function runs on the target's sampler thread, with
 * neither t->mu nor t->space_mu held, except perfsamp_thr_close (threads.c,
 * same thread) and perfsamp_name (any thread).
 * Errors: perfsamp_window_start returns -errno and fills a message a
 * person reads; the rest count what they could not do in /metrics.
 */
#ifndef PROFD_DAEMON_PERFSAMP_H
#define PROFD_DAEMON_PERFSAMP_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/daemon.h"

struct target;
struct session;
struct sampler;
struct thr;

/* "perf_event" or "ptrace" (static): the names /metrics and the profile
 * comment give the two samplers. */
const char *perfsamp_name(bool perf);

/* Decide which sampler t's CPU windows use (t->o.sampler): ptrace, perf,
 * or, for auto, perf when perf_event_open and its ring are permitted on
 * the process's main thread, else ptrace; logs one line saying which and
 * why. Sets t->perf (read by /metrics). Called once, as the sampler
 * thread starts. */
void perfsamp_setup(struct target *t);

/* A CPU window s begins on the perf sampler (t->perf): an event for each
 * thread of the table, enabled, at the highest rate of the perf windows
 * open. Sets s->perf. 0, or -errno with msg filled (the kernel refused
 * perf_event_open on the process: the window is to end with 503). */
int perfsamp_window_start(struct target *t, struct session *s, char *msg,
			  size_t msglen);

/* A tick for the perf windows due[0..ndue): drain every ring into the
 * open perf windows, bring the thread table up to date, give new threads
 * an event. Ends the windows when the process is gone. */
void perfsamp_tick(struct target *t, struct session **due, size_t ndue);

/* Drain every ring into the open perf windows (a window is about to end:
 * its last samples are still in the rings). */
void perfsamp_drain(struct target *t);

/* With no perf window open any more, close every event and ring. */
void perfsamp_idle(struct target *t);

/* Close h's event and unmap its ring, if it has one (the thread is gone,
 * or the table is freed). */
void perfsamp_thr_close(struct thr *h);

/* Free what perfsamp holds in sm besides the threads' events (which
 * threads_free closes). Accepts a sampler without any. */
void perfsamp_free(struct sampler *sm);

#endif /* PROFD_DAEMON_PERFSAMP_H */
