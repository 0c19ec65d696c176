/* stops.h - the ptrace stop protocol (stops.c): seize, interrupt, wait for
 * the stop with a deadline, copy, let go.
 *
 * The rules, which every change here must keep:
 *   - Only the sampler thread calls ptrace (ptrace relations belong to the
 *     tracer *thread*), and it does so only through this file. Every other
 *     thread (HTTP workers, the warmer, the guardian) waits for the
 *     sampler or reads what it published.
 *   - While a thread is stopped, nothing allocates, logs or symbolizes:
 *     a stop copies the registers, one slice of stack (process_vm_readv)
 *     and schedstat (one pread), then releases the thread. Unwinding,
 *     aggregation, symbolization and logging happen after, with every
 *     thread running again. One known exception: when PTRACE_SEIZE is
 *     refused, stop_batch asks /proc why (proc_tracer and
 *     proc_check_traceable read files into malloc'd buffers) while
 *     threads interrupted earlier in the same batch may be stopped.
 *   - Every wait blocks in waitpid and is cut short by the deadline timer
 *     (SIGWAKE, no SA_RESTART): nothing spins. (Polling for the first
 *     100 us, so that a sampler short of CPU would keep the one it has,
 *     was tried: it cost the target more than it saved, measured with
 *     make bench at 999 Hz on two threads.)
 *   - The guardian (guardian.c) is told what the sampler holds before the
 *     first interrupt and after every change (guard_report), so a sampler
 *     that stops running while threads wait for it is found.
 *
 * Ownership: stop slots and the thread table belong to the sampler (see
 * sampler_int.h); nothing here allocates.
 * Threads: the sampler thread only.
 * Errors: stop_batch returns -EPERM (with msg filled) when the kernel
 * refuses to let profd trace the target; capture_sleeper -EAGAIN/-ESRCH.
 * A thread that is gone, or late, is noted in its struct thr, not
 * returned. Nothing here logs.
 */
#ifndef PROFD_DAEMON_STOPS_H
#define PROFD_DAEMON_STOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct target;
struct thr;
struct snapshot;
struct proc_syscall;
struct pt_event;

/* Arm the deadline timer for `deadline` (CLOCK_MONOTONIC ns): its signal
 * interrupts a blocking waitpid then, and every millisecond after. */
void arm_deadline(struct target *t, uint64_t deadline);
void disarm_deadline(struct target *t);

/* Tell the guardian what this sampler holds: every thread it has seized
 * (interrupted and not released yet, or, under --attach=window, seized
 * for the window), plus `extra` about to be; whether a window is open;
 * and due, until when it may legitimately not run. */
void guard_report(struct target *t, unsigned extra, uint64_t due);

/* Handle one stop or exit waitpid reported: copy and release (or listen,
 * for a group-stop), and count it off *pending or the late ones. */
void handle_event(struct target *t, const struct pt_event *ev,
		  unsigned *pending);

/* Handle, without blocking, stops that arrived after their tick gave up
 * on them and, under --attach=window, signals to pass on. */
void service_events(struct target *t);

/* Handle stops as they arrive while *left > 0, until deadline. */
void collect_stops(struct target *t, uint64_t deadline, const unsigned *left,
		   unsigned *pending);

/* Seize (unless seized) and interrupt sel[0..nsel) into t->sm->slots[i],
 * then collect the stops until all arrived or the deadline passed; those
 * that did not become PT_LATE. -EPERM with msg filled when ptrace is
 * refused; 0 otherwise (the slots say which copies are valid). */
int stop_batch(struct target *t, struct thr **sel, size_t nsel, char *msg,
	       size_t msglen);

/* Whether an interrupt of a thread blocked in system call nr changes
 * nothing the program can see (the call restarts transparently). */
bool restarts_transparently(long nr);

/* Copy the stack of a sleeping thread without stopping it, into s, with
 * the system call it is blocked in in sc. -EAGAIN when it ran meanwhile
 * (the copy may be torn), -ESRCH when gone. */
int capture_sleeper(struct target *t, struct thr *h, struct snapshot *s,
		    struct proc_syscall *sc);

/* --attach=window: seize every thread not traced yet. */
void seize_all(struct target *t);

/*
 * The bound of a stop (--max-stop-us). Only the sampler thread can let a
 * thread it stopped go, so a sampler kept off the CPU (other work, its
 * cgroup's CPU share or quota) keeps the thread stopped meanwhile. What
 * profd does about it: it starts no stop while it is short of CPU (it
 * waited more than the bound for a CPU since its last tick ended), and a
 * stop that lasted longer than the bound, or a batch during which the
 * sampler waited that long for a CPU, is a breach
 * (profd_stop_bound_breaches_total): no stop is started for 100 ms, then
 * 200 ms... up to 2 s while breaches go on. Thread dumps stop threads
 * whatever the state (they are asked for once); their breaches count.
 */
void stop_guard_open(struct target *t);
void stop_guard_close(struct target *t);
/* Whether this tick may start stops (not a dump's: always). */
bool stop_guard_tick(struct target *t);
/* The end of a tick, and around each batch of stops. */
void stop_guard_tick_end(struct target *t);
void stop_guard_batch_begin(struct target *t);
void stop_guard_batch_end(struct target *t);

/* Let every seized thread go (interrupt it, detach on the stop), waiting
 * for at most 200 ms. */
void release_all(struct target *t);

/* --attach=window, between ticks: pass on every signal the seized threads
 * get as it arrives, until `until` (CLOCK_MONOTONIC ns) or until nothing
 * is seized any more. */
void serve_seized_until(struct target *t, uint64_t until);

/* At shutdown: wait a short while for the stops still owed (PT_LATE). */
void wait_late_stops(struct target *t);

#endif /* PROFD_DAEMON_STOPS_H */
