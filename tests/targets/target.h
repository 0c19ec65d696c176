/* target.h - the contract every test target keeps with tests/e2e/lib.sh.
 *
 * target_init() makes the process traceable by any tracer (Yama
 * ptrace_scope=1 would otherwise only allow its parent), ties its life to the
 * harness shell (PR_SET_PDEATHSIG) and arms alarm(2) so that a hung test never
 * leaves it running.  target_ready() prints the one line the harness waits
 * for, "ready PID", once the workload is running.
 */
#ifndef PROFD_TARGET_H
#define PROFD_TARGET_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, noclone))
#define TARGET_DEFAULT_ALARM 300

/* Parse a positive integer argument; exit 64 with a message otherwise. */
static inline unsigned long
target_arg(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v == 0) {
		fprintf(stderr, "bad %s: %s\n", what, s);
		exit(64);
	}
	return v;
}

/* alarm_arg: seconds before SIGALRM ends the process, or NULL for the
 * default. */
static inline void
target_init(const char *alarm_arg)
{
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY);	/* Yama ptrace_scope=1 */
	prctl(PR_SET_PDEATHSIG, SIGKILL);		/* die with the harness */
	alarm(alarm_arg ? (unsigned)target_arg(alarm_arg, "alarm seconds")
			: TARGET_DEFAULT_ALARM);
}

static inline void
target_ready(void)
{
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
}

#endif /* PROFD_TARGET_H */
