/* sigcount - counts the SIGUSR1 it receives, in a handler, for checking that
 * a profiler neither loses nor duplicates nor delays signals (ptrace stops
 * turn every signal that arrives during one into a signal-delivery-stop the
 * tracer must re-inject: reference/ptrace-sampling.md 1.4), and that job
 * control (SIGSTOP/SIGCONT from a third process) works as without it (1.3).
 *
 * Usage: sigcount COUNTERS [ALARM_SECONDS]     the target
 *        sigcount send PID N COUNTERS [TID]    the sender (a third process)
 *        sigcount kill PID STOP|CONT|USR1      one signal, from a third process
 *
 * The target has two threads: the main thread ("sigcount") sleeps in
 * nanosleep(2) and receives the process-directed SIGUSR1s (the kernel
 * prefers the main thread when it does not block the signal); "busy" runs a
 * loop with no system call, always runnable.  SIGUSR1 is handled with
 * SA_RESTART by a handler that adds 1 to the counters.
 *
 * Counter file: little-endian uint64 at these offsets (mmap'd MAP_SHARED,
 * 4 KiB, truncated and zeroed at start), read without touching the target:
 *   od -An -v -t u8 -N 48 COUNTERS
 *   offset 0   SIGUSR1 handled, all threads
 *   offset 8   SIGUSR1 handled on the busy thread
 *   offset 16  SIGUSR1 handled on the other (sleeping) thread
 *   offset 24  busy loop progress, in millions of iterations
 *   offset 32  tid of the busy thread (written before "ready PID")
 *
 * The sender sends N SIGUSR1 one at a time: the odd ones with kill(2) to
 * the process, the even ones, when TID is given, with tgkill(2) to that
 * thread.  Standard signals coalesce while pending, so before sending the
 * next one it waits (polling the counter file every ~20 us, at most 5 s) for
 * the count to move; the count is then exact: a lost signal stops the
 * sender, a duplicated one shows as an excess.  It prints one line:
 *   sent N in MS ms (slowest US us, K by tgkill), count +D
 * and exits 0 if the count moved by exactly N, 1 otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "target.h"

#define WAIT_MAX_NS   5000000000LL
#define POLL_NS       20000L

enum { C_TOTAL, C_BUSY, C_OTHER, C_PROGRESS, C_BUSY_TID };

static volatile uint64_t *counters;
static __thread int on_busy;	/* initial-exec TLS: safe in a handler */

static void
die(const char *what)
{
	fprintf(stderr, "sigcount: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
on_usr1(int sig)
{
	(void)sig;
	__atomic_fetch_add(&counters[on_busy ? C_BUSY : C_OTHER], 1,
			   __ATOMIC_RELAXED);
	__atomic_fetch_add(&counters[C_TOTAL], 1, __ATOMIC_RELEASE);
}

static NOINLINE void
busy_loop(void)
{
	volatile unsigned long x = 0;

	for (;;) {
		for (int i = 0; i < 1000000; i++)
			x++;
		__atomic_fetch_add(&counters[C_PROGRESS], 1, __ATOMIC_RELAXED);
	}
}

static void *
busy_main(void *arg)
{
	(void)arg;
	on_busy = 1;
	pthread_setname_np(pthread_self(), "busy");
	__atomic_store_n(&counters[C_BUSY_TID], (uint64_t)syscall(SYS_gettid),
			 __ATOMIC_RELEASE);
	busy_loop();
	return NULL;
}

static NOINLINE void
sleep_loop(void)
{
	struct timespec ts = { 3600, 0 };

	for (;;)
		nanosleep(&ts, NULL);	/* EINTR after each handler */
}

static volatile uint64_t *
map_counters(const char *path, int truncate)
{
	return target_counters(path, truncate);
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int
sender(pid_t pid, unsigned long n, const char *path, pid_t tid)
{
	struct timespec poll = { 0, POLL_NS };
	uint64_t base, want, got;
	int64_t t0, ts, slowest = 0;
	unsigned long i, ntg = 0;

	counters = map_counters(path, 0);
	prctl(PR_SET_TIMERSLACK, 1UL);
	base = __atomic_load_n(&counters[C_TOTAL], __ATOMIC_ACQUIRE);
	t0 = now_ns();
	for (i = 1; i <= n; i++) {
		int r;

		ts = now_ns();
		if (tid > 0 && i % 2 == 0) {
			r = (int)syscall(SYS_tgkill, pid, tid, SIGUSR1);
			ntg++;
		} else {
			r = kill(pid, SIGUSR1);
		}
		if (r != 0)
			die("kill");
		want = base + i;
		while ((got = __atomic_load_n(&counters[C_TOTAL],
					      __ATOMIC_ACQUIRE)) < want) {
			if (now_ns() - ts > WAIT_MAX_NS) {
				printf("signal %lu of %lu: count stuck at +%llu "
				       "for 5 s\n", i, n,
				       (unsigned long long)(got - base));
				return 1;
			}
			nanosleep(&poll, NULL);
		}
		if (now_ns() - ts > slowest)
			slowest = now_ns() - ts;
		if (got > want) {
			printf("signal %lu of %lu: count +%llu, one too many\n",
			       i, n, (unsigned long long)(got - base));
			return 1;
		}
	}
	got = __atomic_load_n(&counters[C_TOTAL], __ATOMIC_ACQUIRE) - base;
	printf("sent %lu in %.3f ms (slowest %.0f us, %lu by tgkill), "
	       "count +%llu\n", n, (now_ns() - t0) / 1e6, slowest / 1e3, ntg,
	       (unsigned long long)got);
	return got == n ? 0 : 1;
}

static int
one_signal(pid_t pid, const char *name)
{
	int sig;

	if (strcmp(name, "STOP") == 0)
		sig = SIGSTOP;
	else if (strcmp(name, "CONT") == 0)
		sig = SIGCONT;
	else if (strcmp(name, "USR1") == 0)
		sig = SIGUSR1;
	else {
		fprintf(stderr, "sigcount: unknown signal %s\n", name);
		return 64;
	}
	if (kill(pid, sig) != 0)
		die("kill");
	return 0;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	pthread_t th;

	if (argc >= 5 && strcmp(argv[1], "send") == 0)
		return sender((pid_t)target_arg(argv[2], "pid"),
			      target_arg(argv[3], "count"), argv[4],
			      argc > 5 ? (pid_t)target_arg(argv[5], "tid")
				       : 0);
	if (argc == 4 && strcmp(argv[1], "kill") == 0)
		return one_signal((pid_t)target_arg(argv[2], "pid"), argv[3]);
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: sigcount COUNTERS [ALARM_SECONDS]\n"
				"       sigcount send PID N COUNTERS [TID]\n"
				"       sigcount kill PID STOP|CONT|USR1\n");
		return 64;
	}
	target_init(argc > 2 ? argv[2] : NULL);
	counters = map_counters(argv[1], 1);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		die("sigaction");
	if (pthread_create(&th, NULL, busy_main, NULL) != 0)
		die("pthread_create");
	while (__atomic_load_n(&counters[C_BUSY_TID], __ATOMIC_ACQUIRE) == 0)
		sched_yield();
	target_ready();
	sleep_loop();
	return 0;
}
