/* tick.h - one tick of the sampler (tick.c).
 *
 * Ownership: the tick's buffers (thread lists, stop slots, the PC set
 * handed to the warmer) belong to the sampler (sampler_int.h); they are
 * allocated the first time a tick needs them and grown when the target
 * has more threads, never freed and re-allocated per tick.
 * Threads: the sampler thread only, with neither t->mu nor t->space_mu
 * held. Stops go through stops.c (see its rules); samples are added to
 * the sessions only once every thread of the batch is running again.
 * Errors: none returned: a process that is gone ends the sessions
 * (sessions_target_exited), a refused ptrace ends them with 403 and a
 * warning in the log, a thread that could not be copied counts as lost.
 */
#ifndef PROFD_DAEMON_TICK_H
#define PROFD_DAEMON_TICK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct target;
struct session;
struct snapshot;

/* Take one sample of the target for due[0..ndue), every one due now. */
void tick(struct target *t, struct session **due, size_t ndue);

/* Unwind snap (a stop's copy, or a perf_event sample's) into t->sm->pcs,
 * leaf first, and its flags: the number of frames, or -1 (the process
 * exec'd: t->sm->execed is set; or nothing could be unwound: counted).
 * Re-reads the maps, at most once per *refreshed, when the PC is outside
 * every module; *partial: the walk stopped early. Sampler thread, with
 * t->space_mu held. */
int tick_unwind(struct target *t, const struct snapshot *snap,
		bool *refreshed, bool *partial);

/* Hand the PCs of pcs[0..n) the warmer has not seen yet to it, to be
 * symbolized meanwhile; a full set or a missing warmer leaves them to the
 * export. Sampler thread, with t->space_mu held. */
void tick_warm(struct target *t, const uint64_t *pcs, size_t n);

#endif /* PROFD_DAEMON_TICK_H */
