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

#include <stddef.h>

struct target;
struct session;

/* Take one sample of the target for due[0..ndue), every one due now. */
void tick(struct target *t, struct session **due, size_t ndue);

#endif /* PROFD_DAEMON_TICK_H */
