/* blocker - one spinning thread and threads blocked forever in read(2) on a
 * pipe, epoll_wait(2), nanosleep(2) and pthread_cond_wait(3), each in its own
 * function and thread, counting every time its blocking call returns.  For
 * wall-clock profiles and thread dumps, and for checking that a profiler
 * leaves blocked threads alone (reference/ptrace-sampling.md 2.1: a ptrace
 * stop makes epoll_wait return EINTR; read, futex and nanosleep are
 * restarted by the kernel and never return).
 *
 * Usage: blocker [COUNTERS [ALARM_SECONDS]]
 *   COUNTERS   file the counters are kept in (created, or truncated and
 *              zeroed; mmap'd MAP_SHARED, 4 KiB); "-" or none: anonymous
 *              memory, for use by hand without counters
 *
 * Threads (pthread_setname_np) and their stacks, innermost first; every
 * thread but the main one ends in start_thread, clone3:
 *   blocker  the main thread: pthread_join on the spinner, never returns
 *            futex wait (inline frames), __pthread_clockjoin_ex (pthread_join
 *            tail-calls it), main; system call futex
 *   spinner  spin_loop, spinner_main: a busy loop on a volatile counter,
 *            always runnable (R), no system call
 *   reader   __libc_read, read_blocked: read() on a pipe whose write end
 *            stays open and is never written to; system call read, first
 *            argument the fd of the pipe's read end
 *   epoller  epoll_wait, epoll_blocked: epoll_wait(epfd, ..., -1) on an
 *            eventfd that never fires; system call epoll_wait (epoll_pwait
 *            with other libcs), first argument the epoll fd
 *   sleeper  __clock_nanosleep, __nanosleep, sleep_blocked: nanosleep() of
 *            3600 s; system call clock_nanosleep (nanosleep with other
 *            libcs), restart_syscall once a stop has interrupted it
 *   waiter   futex wait (inline frames), ___pthread_cond_wait, cond_blocked:
 *            a condition variable that is never signalled; system call futex
 * Names below the test functions are glibc 2.36's (Debian 12).
 *
 * Counter file: four little-endian uint64 at offset 0, in this order
 *   offset 0   reader:  read() returned (EINTR, 0 or data; other errors exit 1)
 *   offset 8   epoller: epoll_wait() returned (EINTR, or anything else)
 *   offset 16  sleeper: nanosleep() returned before its 3600 s
 *   offset 24  waiter:  pthread_cond_wait() returned (spurious wakeup)
 * all 0 in an undisturbed target.  Read them without touching the target:
 *   od -An -v -t u8 -N 32 COUNTERS
 *
 * "ready PID" is printed (by the spinner, before it starts spinning) once
 * every blocking thread has announced that it is about to block and
 * /proc/self/task/TID shows it asleep (stat state S) in the expected system
 * call (/proc/self/task/TID/syscall), and the main thread likewise sleeps
 * in futex (pthread_join).  Readiness is polled every millisecond for at
 * most 10 s; the target exits 1 if it is not reached.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "target.h"

#define NBLOCKERS     4
#define READY_POLL_MS 1
#define READY_MAX_MS  10000

enum { C_READER, C_EPOLLER, C_SLEEPER, C_WAITER };

static volatile uint64_t *counters;	/* the mmap'd counter file */
static volatile unsigned long spins;

static int pipe_fd[2];			/* [0] read end, read by reader */
static int epoll_fd;			/* an eventfd that never fires */

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

/* Threads that are about to block, and their tids for the readiness check. */
static atomic_int announced;
static atomic_int blocker_tid[NBLOCKERS];

static const char *const blocker_name[NBLOCKERS] = {
	"reader", "epoller", "sleeper", "waiter"
};

static void
die(const char *what)
{
	fprintf(stderr, "blocker: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
count(int which)
{
	__atomic_fetch_add(&counters[which], 1, __ATOMIC_RELAXED);
}

/* Name the calling thread and say that it is about to block. */
static void
announce(int which)
{
	pthread_setname_np(pthread_self(), blocker_name[which]);
	atomic_store(&blocker_tid[which], (int)syscall(SYS_gettid));
	atomic_fetch_add(&announced, 1);
}

static NOINLINE void *
read_blocked(void *arg)
{
	char buf[64];

	(void)arg;
	announce(C_READER);
	for (;;) {
		/* nobody writes: a return of any kind is a disturbance */
		if (read(pipe_fd[0], buf, sizeof(buf)) < 0 && errno != EINTR)
			die("read");
		count(C_READER);
	}
	return NULL;
}

static NOINLINE void *
epoll_blocked(void *arg)
{
	struct epoll_event ev;

	(void)arg;
	announce(C_EPOLLER);
	for (;;) {
		/* -1 with EINTR after a ptrace stop; nothing else can happen */
		epoll_wait(epoll_fd, &ev, 1, -1);
		count(C_EPOLLER);
	}
	return NULL;
}

static NOINLINE void *
sleep_blocked(void *arg)
{
	struct timespec ts = { .tv_sec = 3600, .tv_nsec = 0 };

	(void)arg;
	announce(C_SLEEPER);
	for (;;) {
		nanosleep(&ts, NULL);
		count(C_SLEEPER);
	}
	return NULL;
}

static NOINLINE void *
cond_blocked(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mtx);
	announce(C_WAITER);
	for (;;) {
		pthread_cond_wait(&cond, &mtx);	/* never signalled */
		count(C_WAITER);
	}
	return NULL;
}

static NOINLINE void
spin_loop(void)
{
	for (;;)
		spins++;
}

/* Read /proc/self/task/TID/FILE into buf; 0 on success. */
static int
read_task_file(int tid, const char *file, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/%s", tid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* Thread tid sleeps (state S) in one of the system calls nr[0..nnr-1].  A
 * kernel without /proc/TID/syscall (no CONFIG_HAVE_ARCH_TRACEHOOK) gets the
 * state check only. */
static int
asleep_in(int tid, const long *nr, int nnr)
{
	char buf[512], *p;
	long got;

	if (read_task_file(tid, "stat", buf, sizeof(buf)) != 0)
		return 0;
	p = strrchr(buf, ')');		/* comm may hold spaces and ')' */
	if (!p || p[1] != ' ' || p[2] != 'S')
		return 0;
	if (read_task_file(tid, "syscall", buf, sizeof(buf)) != 0)
		return 1;
	if (strncmp(buf, "running", 7) == 0)
		return 0;
	got = strtol(buf, NULL, 10);
	for (int i = 0; i < nnr; i++)
		if (got == nr[i])
			return 1;
	return 0;
}

static int
all_asleep(void)
{
	static const long read_nr[] = { SYS_read };
	static const long epoll_nr[] = { SYS_epoll_wait, SYS_epoll_pwait,
					 441 /* epoll_pwait2 */ };
	static const long sleep_nr[] = { SYS_nanosleep, SYS_clock_nanosleep };
	static const long futex_nr[] = { SYS_futex };
	static const struct {
		const long *nr;
		int n;
	} want[NBLOCKERS] = {
		[C_READER] = { read_nr, 1 },
		[C_EPOLLER] = { epoll_nr, 3 },
		[C_SLEEPER] = { sleep_nr, 2 },
		[C_WAITER] = { futex_nr, 1 },
	};

	if (atomic_load(&announced) < NBLOCKERS)
		return 0;
	for (int i = 0; i < NBLOCKERS; i++)
		if (!asleep_in(atomic_load(&blocker_tid[i]), want[i].nr,
			       want[i].n))
			return 0;
	return asleep_in(getpid(), futex_nr, 1);	/* in pthread_join */
}

static NOINLINE void *
spinner_main(void *arg)
{
	struct timespec poll = { 0, READY_POLL_MS * 1000000L };
	int waited;

	(void)arg;
	pthread_setname_np(pthread_self(), "spinner");
	for (waited = 0; !all_asleep(); waited += READY_POLL_MS) {
		if (waited >= READY_MAX_MS) {
			fprintf(stderr, "blocker: threads not asleep after "
					"%d ms\n", READY_MAX_MS);
			exit(1);
		}
		nanosleep(&poll, NULL);
	}
	target_ready();
	spin_loop();
	return NULL;
}

static volatile uint64_t *
map_counters(const char *path)
{
	return target_counters(path, 1);
}

int
main(int argc, char **argv)
{
	void *(*const fn[NBLOCKERS])(void *) = {
		[C_READER] = read_blocked,
		[C_EPOLLER] = epoll_blocked,
		[C_SLEEPER] = sleep_blocked,
		[C_WAITER] = cond_blocked,
	};
	struct epoll_event ev = { .events = EPOLLIN };
	pthread_t th;
	int efd;

	target_init(argc > 2 ? argv[2] : NULL);
	counters = map_counters(argc > 1 ? argv[1] : NULL);
	if (pipe2(pipe_fd, O_CLOEXEC) != 0)
		die("pipe2");
	epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	efd = eventfd(0, EFD_CLOEXEC);
	if (epoll_fd < 0 || efd < 0)
		die("epoll_create1/eventfd");
	ev.data.fd = efd;
	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, efd, &ev) != 0)
		die("epoll_ctl");

	for (int i = 0; i < NBLOCKERS; i++)
		if (pthread_create(&th, NULL, fn[i], NULL) != 0)
			die("pthread_create");
	if (pthread_create(&th, NULL, spinner_main, NULL) != 0)
		die("pthread_create");
	pthread_join(th, NULL);		/* never returns */
	return 0;
}
