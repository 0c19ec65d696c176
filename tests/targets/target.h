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

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, noclone))
#define TARGET_DEFAULT_ALARM 300
#define TARGET_COUNTERS_SIZE 4096

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

/* A worker thread count argument (ARG NULL: DEF), 1..64; exit 64 with a
 * message otherwise. */
static inline unsigned long
target_threads(const char *arg, unsigned long def)
{
	unsigned long n = arg ? target_arg(arg, "thread count") : def;

	if (n > 64) {
		fprintf(stderr, "at most 64 threads\n");
		exit(64);
	}
	return n;
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

/* The counter file the tests read without touching the target (od -t u8):
 * TARGET_COUNTERS_SIZE bytes of path mapped MAP_SHARED, zeroed first when
 * create is set; anonymous memory when path is NULL or "-". Exits 1 on
 * failure. */
static inline void *
target_counters(const char *path, int create)
{
	void *p;
	int fd;

	if (!path || strcmp(path, "-") == 0) {
		p = mmap(NULL, TARGET_COUNTERS_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			exit(1);
		}
		return p;
	}
	fd = open(path, O_RDWR | (create ? O_CREAT : 0) | O_CLOEXEC, 0644);
	/* truncating first zeroes whatever an earlier run left there */
	if (fd < 0 || (create && (ftruncate(fd, 0) != 0 ||
				  ftruncate(fd, TARGET_COUNTERS_SIZE) != 0))) {
		perror(path);
		exit(1);
	}
	p = mmap(NULL, TARGET_COUNTERS_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror(path);
		exit(1);
	}
	close(fd);
	return p;
}

static inline void
target_ready(void)
{
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
}

#endif /* PROFD_TARGET_H */
