/* threads.h - the target's thread table (threads.c): the threads of the
 * process, their scheduler counters and state, hot or cold, and the stack
 * each one had at its last copy.
 *
 * Ownership: the table (t->sm->thr) and every struct thr in it belong to
 * the sampler; a thread that is gone is freed at the next listing unless
 * it is in the middle of a stop (thr.pt != PT_NONE). threads_free frees
 * them all.
 * Threads: the sampler thread only. Reads /proc through file descriptors
 * kept per thread (two each, while all targets together hold less than
 * half of RLIMIT_NOFILE, a budget perfsamp.c's events share); never calls
 * ptrace, never logs.
 * Errors: negative errno: -ESRCH, the thread (or, from scan_threads, the
 * process) is gone; -EMFILE, profd is out of file descriptors and could
 * not look this time.
 */
#ifndef PROFD_DAEMON_THREADS_H
#define PROFD_DAEMON_THREADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct target;
struct sampler;
struct thr;

/* Bytes of /proc/PID/task listing read at once (sampler.dents). */
#define DENTS_SIZE 32768

enum scan_mode {
	SCAN_CPU,	/* hot threads, and cold ones when the CPU clock
			   says one of them ran */
	SCAN_WALL,	/* and every thread whose counters moved */
	SCAN_FULL,	/* list the threads and read every one */
};

/* The thread tid, or NULL. */
struct thr *thr_find(struct target *t, pid_t tid);

/* h's CPU time and number of times scheduled in (schedstat). */
int thr_sched(const struct target *t, const struct thr *h, uint64_t *cpu,
	      uint64_t *slices);

/* Read h's stat and schedstat into it. */
int thr_read(struct target *t, struct thr *h);

/* Take the result r of a read of h: -ESRCH marks it gone, -EMFILE
 * unreadable (and counts it). Returns r. */
int thr_check(struct target *t, struct thr *h, int r);

/* Bring the table up to date for this tick (see threads.c). unexplained:
 * the process CPU time the hot threads do not account for, carried from
 * tick to tick. */
int scan_threads(struct target *t, enum scan_mode mode, int64_t *unexplained);

/* Bring the table up to date for a tick that stops no thread: only when
 * the thread count changed or a while has passed (see threads.c). 0, or
 * -ESRCH when the process is gone. */
int threads_refresh(struct target *t);

/* The fds profd keeps open per thread (stat, schedstat, perf_event) share
 * one budget over all targets, half of RLIMIT_NOFILE: take n of it (true)
 * or, past it, nothing (false); give back n taken. Any thread (atomic). */
bool threads_fd_reserve(long n);
void threads_fd_release(long n);

/* Whether h's cached stack is still right: it has not run since. */
bool cache_valid(const struct thr *h);

/* Keep pcs[0..n) in c (a thread's cache or run stack) with the
 * counters (cpu, slices) of that moment; on allocation failure c is
 * marked invalid. */
struct stack_cache;
void cache_store(struct stack_cache *c, const uint64_t *pcs, size_t n,
		 bool partial, uint64_t cpu, uint64_t slices);

/* Free every thread of the table, and the table. */
void threads_free(struct sampler *sm);

#endif /* PROFD_DAEMON_THREADS_H */
