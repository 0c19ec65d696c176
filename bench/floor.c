/*
 * floor.c - the least a ptrace sampler must do per sample, as a benchmark
 * reference: what profd's stops cost beyond it is profd's own.
 *
 *   floor -p PID -F HZ [-s STACK_BYTES] [-r RT_PRIORITY]
 *
 * Seizes every thread of PID, then at each tick of HZ interrupts those
 * that are running (state R in /proc/PID/task/TID/stat, read with pread on
 * a descriptor kept open: a sleeping thread must not be interrupted, its
 * system call would see EINTR), and in each stop reads the registers and STACK_BYTES (default 16384) of
 * stack from SP with one process_vm_readv, and resumes the thread: what
 * every ptrace sampler pays, with no unwinding, no symbols, no other /proc
 * reads, no aggregation. Runs SCHED_FIFO at RT_PRIORITY (default 1, as profd's
 * --rt-priority; 0: an ordinary thread). Prints "ready PID" once every
 * thread is seized, and when the target has exited, "samples N ticks N
 * stop_us_sum N cpu_us N" (stop: from PTRACE_INTERRUPT to PTRACE_CONT;
 * cpu: its own, from start to exit).
 *
 * Not a profiler: signals are passed on, group-stops are listened through,
 * threads created later are not sampled. Exit status 64 on usage errors, 1
 * when the target cannot be seized.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#define MAX_THREADS 256
#define MAX_IOV 257	/* 1 MiB in pages, plus a partial one */

static pid_t tids[MAX_THREADS];
static bool live[MAX_THREADS], stopped[MAX_THREADS];
static int statfd[MAX_THREADS];
static int nthr;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int
find(pid_t tid)
{
	int i;

	for (i = 0; i < nthr; i++)
		if (tids[i] == tid)
			return i;
	return -1;
}

/* One wait status of a thread that is not in our interrupt-stop: mark it
 * dead, or pass its signal on / listen through a group-stop. Returns true
 * when st is the interrupt-stop itself. */
static bool
handle(pid_t tid, int st)
{
	int i = find(tid), sig;

	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		if (i >= 0)
			live[i] = false;
		return false;
	}
	if (!WIFSTOPPED(st))
		return false;
	sig = WSTOPSIG(st);
	if ((st >> 16) == PTRACE_EVENT_STOP) {
		if (sig == SIGTRAP)
			return true;	/* PTRACE_INTERRUPT's stop */
		ptrace(PTRACE_LISTEN, tid, 0, 0);	/* group-stop */
		return false;
	}
	ptrace(PTRACE_CONT, tid, 0, (void *)(uintptr_t)sig);
	return false;
}

/* Whether the thread is running or runnable (state R); a thread that
 * cannot be read counts as running. */
static bool
running(int fd)
{
	char b[512], *p;
	ssize_t n;

	if (fd < 0 || (n = pread(fd, b, sizeof(b) - 1, 0)) <= 0)
		return true;
	b[n] = '\0';
	p = strrchr(b, ')');
	return !p || p[1] != ' ' || p[2] == 'R';
}

/* Reap whatever is pending without blocking. */
static void
reap(void)
{
	pid_t w;
	int st;

	while ((w = waitpid(-1, &st, WNOHANG | __WALL)) > 0)
		(void)handle(w, st);
}

int
main(int argc, char **argv)
{
	struct user_regs_struct regs;
	struct iovec rv = { &regs, sizeof(regs) }, lv, rm[MAX_IOV];
	struct sched_param sp = { 0 };
	struct rusage ru;
	unsigned long long samples = 0, ticks = 0, stop_us = 0;
	uint64_t period, next, t0[MAX_THREADS];
	size_t stack = 16384;
	int hz = 0, prio = 1, c, i, alive;
	pid_t pid = 0;
	sigset_t chld;
	struct timespec ts;
	char path[64];
	struct dirent *de;
	unsigned char *buf;
	DIR *d;

	while ((c = getopt(argc, argv, "p:F:s:r:")) != -1) {
		switch (c) {
		case 'p': pid = atoi(optarg); break;
		case 'F': hz = atoi(optarg); break;
		case 's': stack = (size_t)atol(optarg); break;
		case 'r': prio = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (pid <= 0 || hz <= 0 || hz > 100000 || stack == 0 ||
	    stack > (1 << 20) || prio < 0 || prio > 99)
		goto usage;
	buf = malloc(stack);
	if (!buf)
		return 1;
	memset(buf, 0, stack);	/* no page faults inside a stop */

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d) {
		fprintf(stderr, "floor: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((de = readdir(d)) && nthr < MAX_THREADS) {
		pid_t tid = atoi(de->d_name);

		if (tid <= 0)
			continue;
		if (ptrace(PTRACE_SEIZE, tid, 0, 0) != 0) {
			fprintf(stderr, "floor: seize %d: %s\n", (int)tid,
				strerror(errno));
			return 1;
		}
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid,
			 (int)tid);
		statfd[nthr] = open(path, O_RDONLY | O_CLOEXEC);
		tids[nthr] = tid;
		live[nthr++] = true;
	}
	closedir(d);
	if (prio > 0) {
		sp.sched_priority = prio;
		if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0)
			fprintf(stderr, "floor: SCHED_FIFO: %s\n",
				strerror(errno));
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);

	period = 1000000000ULL / (uint64_t)hz;
	next = now_ns();
	for (;;) {
		next += period;
		if (now_ns() > next + period)
			next = now_ns();	/* late: no catch-up burst */
		/* sleep until the tick, serving stops and exits meanwhile */
		for (;;) {
			uint64_t n = now_ns();

			reap();
			if (n >= next)
				break;
			ts.tv_sec = (time_t)((next - n) / 1000000000ULL);
			ts.tv_nsec = (long)((next - n) % 1000000000ULL);
			(void)sigtimedwait(&chld, NULL, &ts);
		}
		for (alive = 0, i = 0; i < nthr; i++)
			alive += live[i];
		if (!alive)
			break;
		ticks++;
		for (i = 0; i < nthr; i++) {
			stopped[i] = false;
			if (!live[i] || !running(statfd[i]))
				continue;
			t0[i] = now_ns();
			if (ptrace(PTRACE_INTERRUPT, tids[i], 0, 0) != 0)
				live[i] = false;
			else
				stopped[i] = true;
		}
		for (i = 0; i < nthr; i++) {
			int st;

			if (!stopped[i])
				continue;
			for (;;) {
				if (waitpid(tids[i], &st, __WALL) != tids[i]) {
					live[i] = false;
					break;
				}
				if (handle(tids[i], st))
					break;
				if (!live[i])
					break;
			}
			if (!live[i])
				continue;
			if (ptrace(PTRACE_GETREGSET, tids[i], (void *)NT_PRSTATUS,
				   &rv) == 0) {
				/* page-sized remote pieces: a piece past the
				 * end of the stack mapping fails alone */
				uint64_t a = regs.rsp, end = a + stack;
				int n = 0;

				while (a < end && n < MAX_IOV) {
					uint64_t nx = (a | 4095) + 1;

					if (nx > end)
						nx = end;
					rm[n].iov_base = (void *)(uintptr_t)a;
					rm[n++].iov_len = nx - a;
					a = nx;
				}
				lv.iov_base = buf;
				lv.iov_len = stack;
				(void)process_vm_readv(tids[i], &lv, 1, rm,
						       (unsigned long)n, 0);
				samples++;
			}
			ptrace(PTRACE_CONT, tids[i], 0, 0);
			stop_us += (now_ns() - t0[i]) / 1000;
		}
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("samples %llu ticks %llu stop_us_sum %llu cpu_us %llu\n",
	       samples, ticks, stop_us,
	       (unsigned long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
			       1000000ULL +
		       (unsigned long long)(ru.ru_utime.tv_usec +
					    ru.ru_stime.tv_usec));
	return 0;
usage:
	fprintf(stderr, "usage: floor -p PID -F HZ [-s STACK_BYTES] "
			"[-r RT_PRIORITY]\n");
	return 64;
}
