/* exiter - a busy target that exits, or execs another program, when told
 * to: for checking what a profiler does when its target goes away, or turns
 * into another program, in the middle of a profile window
 * (reference/ptrace-sampling.md 3.3).
 *
 * Usage: exiter CONTROL [ALARM_SECONDS]
 *
 * CONTROL is a FIFO (created if missing) that the "ctl" thread reads lines
 * from; it is opened read-write, so writers never block and the reader
 * never sees end-of-file.  Commands:
 *   exit N              exit(N) (from the ctl thread: the whole process)
 *   exec PATH [ARG...]  execv(PATH, [PATH, ARG...]) from the ctl thread, a
 *                       thread that is not the thread-group leader: the
 *                       kernel kills every other thread and the ctl thread
 *                       takes over the process ID
 * e.g.  printf 'exit 3\n' >CONTROL
 *
 * Threads and their stacks, innermost first:
 *   exiter  the main thread: pthread_join, never returns
 *   busy    busy_leaf, busy_main, start_thread, clone3 (always R)
 *   ctl     read, ctl_main, start_thread, clone3 (blocked on CONTROL)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "target.h"

#define MAX_ARGS 16

static volatile unsigned long sink;

static void
die(const char *what)
{
	fprintf(stderr, "exiter: %s: %s\n", what, strerror(errno));
	exit(1);
}

static NOINLINE void
busy_leaf(void)
{
	for (;;)
		sink++;
}

static void *
busy_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "busy");
	busy_leaf();
	return NULL;
}

/* Carry out one command line; returns only if it was not understood. */
static void
command(char *line)
{
	char *argv[MAX_ARGS + 1], *save = NULL, *w;
	int argc = 0;

	for (w = strtok_r(line, " \t\n", &save); w && argc < MAX_ARGS;
	     w = strtok_r(NULL, " \t\n", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	if (argc == 2 && strcmp(argv[0], "exit") == 0) {
		fflush(stdout);
		exit(atoi(argv[1]));
	}
	if (argc >= 2 && strcmp(argv[0], "exec") == 0) {
		fflush(stdout);
		execv(argv[1], argv + 1);
		fprintf(stderr, "exiter: exec %s: %s\n", argv[1],
			strerror(errno));
		return;
	}
	fprintf(stderr, "exiter: unknown command: %s\n", argc ? argv[0] : "");
}

static void *
ctl_main(void *arg)
{
	char buf[4096];
	size_t len = 0;
	int fd = *(int *)arg;

	pthread_setname_np(pthread_self(), "ctl");
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("read");
		len += (size_t)n;
		buf[len] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			command(buf);
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len + 1);
		}
		if (len == sizeof(buf) - 1)
			len = 0;	/* an overlong line: drop it */
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t busy, ctl;
	static int fd;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: exiter CONTROL [ALARM_SECONDS]\n");
		return 64;
	}
	target_init(argc > 2 ? argv[2] : NULL);
	if (mkfifo(argv[1], 0600) != 0 && errno != EEXIST)
		die(argv[1]);
	/* O_RDWR: no end-of-file when a writer closes, no blocking open */
	fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die(argv[1]);
	if (pthread_create(&busy, NULL, busy_main, NULL) != 0 ||
	    pthread_create(&ctl, NULL, ctl_main, &fd) != 0)
		die("pthread_create");
	target_ready();
	pthread_join(busy, NULL);	/* never returns */
	return 0;
}
