/* waitchild - run a command as its child and report, as its real parent,
 * every state change waitpid(2) shows: whether job control (SIGSTOP,
 * SIGCONT) reaches the parent of a process that a profiler traces exactly as
 * it would without one (reference/ptrace-sampling.md 1.3; a tracer that
 * swallows the stop hides it from the parent), and the exact exit status.
 *
 * Usage: waitchild EVENTS COMMAND [ARGS...]
 *
 * Appends one line per event to EVENTS (written with one write(2) each, so
 * a reader never sees half a line):
 *   MS stopped SIG       WIFSTOPPED (waitpid with WUNTRACED)
 *   MS continued         WIFCONTINUED (waitpid with WCONTINUED)
 *   MS exited STATUS     WIFEXITED
 *   MS killed SIG        WIFSIGNALED
 * MS is CLOCK_MONOTONIC in milliseconds.  Exits with the child's status (or
 * 128 + its signal) once it has gone; dies with its own parent
 * (PR_SET_PDEATHSIG), and the child, a test target, dies with it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "target.h"

static void
event(int fd, const char *fmt, int v)
{
	struct timespec ts;
	char line[128];
	int n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	n = snprintf(line, sizeof(line), "%lld ",
		     (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	n += snprintf(line + n, sizeof(line) - (size_t)n, fmt, v);
	if (write(fd, line, (size_t)n) != n)
		exit(70);
}

int
main(int argc, char **argv)
{
	pid_t pid;
	int fd, st;

	if (argc < 3) {
		fprintf(stderr, "usage: waitchild EVENTS COMMAND [ARGS...]\n");
		return 64;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
		  0644);
	if (fd < 0) {
		fprintf(stderr, "waitchild: %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "waitchild: %s: %s\n", argv[2],
			strerror(errno));
		_exit(127);
	}
	for (;;) {
		if (waitpid(pid, &st, WUNTRACED | WCONTINUED) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (WIFSTOPPED(st)) {
			event(fd, "stopped %d\n", WSTOPSIG(st));
		} else if (WIFCONTINUED(st)) {
			event(fd, "continued\n", 0);
		} else if (WIFEXITED(st)) {
			event(fd, "exited %d\n", WEXITSTATUS(st));
			return WEXITSTATUS(st);
		} else if (WIFSIGNALED(st)) {
			event(fd, "killed %d\n", WTERMSIG(st));
			return 128 + WTERMSIG(st);
		}
	}
}
