/* tracer - a debugger that attached and went to lunch, for
 * tests/e2e/t_rel_freeze.sh: it seizes every thread of PID and stops it
 * (PTRACE_SEIZE + PTRACE_INTERRUPT: what a debugger's attach leaves
 * behind, without the SIGSTOP that PTRACE_ATTACH would queue), then
 * answers nothing: the threads stay in their ptrace stop until the tracer
 * exits or the process dies.  Not a profiling target: it has no stack to
 * check.
 *
 * Usage: tracer PID [ALARM_SECONDS]
 * Prints "attached N" once N threads are stopped (threads created while it
 * attaches are attached too), then "gone" and exits 0 when every tracee
 * has exited; exits 1 if it could attach to none.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "target.h"

#define MAX_THREADS 4096

static pid_t seized[MAX_THREADS];
static int nseized;

static bool
have(pid_t tid)
{
	int i;

	for (i = 0; i < nseized; i++)
		if (seized[i] == tid)
			return true;
	return false;
}

/* Seize and interrupt every thread of pid not seized yet; how many new. */
static int
attach_all(pid_t pid)
{
	char path[64];
	struct dirent *de;
	int added = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)) && nseized < MAX_THREADS) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid <= 0 || have(tid))
			continue;
		if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0)
			continue;
		ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
		seized[nseized++] = tid;
		added++;
	}
	closedir(d);
	return added;
}

int
main(int argc, char **argv)
{
	unsigned long alarm_s = 120;
	int status, left;
	pid_t pid;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: tracer PID [ALARM_SECONDS]\n");
		return 64;
	}
	pid = (pid_t)target_arg(argv[1], "pid");
	if (argc == 3)
		alarm_s = target_arg(argv[2], "alarm seconds");
	prctl(PR_SET_PDEATHSIG, SIGKILL);	/* die with the harness */
	alarm((unsigned)alarm_s);		/* never outlive a hung test */
	while (attach_all(pid) > 0)
		;
	if (nseized == 0) {
		fprintf(stderr, "tracer: cannot attach to %d: %s\n", (int)pid,
			strerror(errno));
		return 1;
	}
	printf("attached %d\n", nseized);
	fflush(stdout);
	/* Collect stops and exits; answer none of the stops. */
	left = nseized;
	while (left > 0) {
		pid_t tid = waitpid(-1, &status, __WALL);

		if (tid < 0) {
			if (errno == EINTR)
				continue;
			break;		/* ECHILD: nothing traced any more */
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			left--;
	}
	printf("gone\n");
	return 0;
}
