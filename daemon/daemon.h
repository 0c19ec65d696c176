/* daemon.h - limits every part of daemon/ shares. Each file of daemon/
 * has its own header for its API (target.h, sampler.h, session.h,
 * stops.h, threads.h, tick.h, clock.h, config.h, proc.h, faults.h,
 * profile.h, textbuf.h, warmer.h, metrics.h, export.h, registry.h,
 * guardian.h, log.h); doc/ARCHITECTURE.md says how they fit together.
 */
#ifndef PROFD_DAEMON_H
#define PROFD_DAEMON_H

#define PROFD_ERRLEN	  256		/* error messages a person reads */
#define PROFD_MAX_FRAMES  256		/* deeper stacks end in [truncated] */
#define PROFD_MAX_SESSIONS 16		/* concurrent windows per target */

/* --sampler: how CPU windows take their samples (perfsamp.h). */
enum sampler_mode {
	SAMPLER_PTRACE,		/* stop the running threads (the default) */
	SAMPLER_PERF,		/* perf_event, or a 503 where refused */
	SAMPLER_AUTO,		/* perf_event where permitted, else ptrace */
};

#endif /* PROFD_DAEMON_H */
