/* gostacks.h - whole Go stacks (gostacks.c): which runtime M each thread
 * of a Go target is, and, inside a stop, the goroutine a thread on its
 * system stack (g0) serves, so the walk crosses systemstack, mcall,
 * morestack and cgo calls into the goroutine's own frames.
 *
 * Threads: the sampler thread only (its struct sampler holds the state).
 * Errors: none reported; what cannot be read leaves a thread's M unknown
 * and its stacks as they were (ending at the switch, [truncated]).
 */
#ifndef PROFD_DAEMON_GOSTACKS_H
#define PROFD_DAEMON_GOSTACKS_H

#include <stdbool.h>
#include <stdint.h>

struct elfimg;
struct gort_info;
struct snapshot;
struct target;
struct thr;

struct go_sampler {
	bool checked;		/* the main module was looked at */
	const struct gort_info *gi;	/* NULL: not Go, or not readable */
	struct elfimg *img;	/* referenced while gi is set */
	uint64_t bias;		/* runtime = ELF vaddr + bias */
	bool vdso;		/* m.vdsoSP and m.vdsoPC are known */
	uint64_t last_walk;	/* CLOCK_MONOTONIC ns of the last M walk */
	uint64_t walks;
};

/* Once the maps are read: whether t is a Go program whose runtime profd
 * can read; then, at most once a second while some thread has no M yet,
 * walk the runtime's list of Ms (runtime.allm) and note each thread's M
 * and its system stack's bounds. Outside any stop. */
void go_sampler_tick(struct target *t);

/* In a stop (or for a sleeping thread whose stack was just copied): when
 * h's SP is on its M's system stack and the M serves a goroutine, copy
 * that goroutine's saved registers and stack into s (go_* fields).
 * Three small reads at most; none when the thread runs goroutine code. */
void go_sampler_take(struct target *t, struct thr *h, struct snapshot *s);

/* Drop the image reference. */
void go_sampler_free(struct go_sampler *g);

#endif /* PROFD_DAEMON_GOSTACKS_H */
