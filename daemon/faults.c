/* faults.c - a target cannot SIGBUS profd, and profd stops on time.
 *
 * profd reads files that targets map, and so can truncate: its own
 * mapping of an ELF image (the unwinder's access to .eh_frame_hdr and
 * code) and libdw's and libelf's mappings of the same files. A page past
 * the new end of such a file faults with SIGBUS (BUS_ADRERR) at the next
 * read. The handler puts a page of zeros where that page was and lets the
 * read go on: it reads zeros, which every reader survives (unwind tables
 * and DWARF are bounds-checked as they are parsed), the image's data is
 * wrong from then on, and the count goes to /metrics. Any other SIGBUS
 * (a hardware memory error, a bug) is fatal as before.
 *
 * Shutdown: after SIGTERM, profd detaches and frees everything, which
 * takes milliseconds; if something in flight does not return (a file on
 * a stalled file system), a watchdog ends the process after
 * FAULTS_SHUTDOWN_MS anyway. Exiting releases every traced thread.
 */
#include "daemon/faults.h"
#include "daemon/log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define FAULTS_SHUTDOWN_MS 800

static uint64_t patched;	/* pages replaced, atomic */
static uintptr_t page_mask;

static void
on_sigbus(int sig, siginfo_t *si, void *uc)
{
	void *page;
	int e = errno;

	(void)uc;
	if (si->si_code == BUS_ADRERR && si->si_addr) {
		page = (void *)((uintptr_t)si->si_addr & page_mask);
		/* mmap is a plain system call: async-signal-safe here */
		if (mmap(page, ~page_mask + 1, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			 0) == page) {
			__atomic_add_fetch(&patched, 1, __ATOMIC_RELAXED);
			errno = e;
			return;		/* the read is retried */
		}
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

void
faults_install(void)
{
	struct sigaction sa;
	long ps = sysconf(_SC_PAGESIZE);

	page_mask = ~(uintptr_t)((ps > 0 ? ps : 4096) - 1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) != 0)
		log_warn("sigaction SIGBUS");
}

uint64_t
faults_patched(void)
{
	return __atomic_load_n(&patched, __ATOMIC_RELAXED);
}

static void *
watchdog(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += FAULTS_SHUTDOWN_MS / 1000;
	ts.tv_nsec += (long)(FAULTS_SHUTDOWN_MS % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
	log_warnx("shutdown not done after %d ms (something in flight "
		  "does not return): exiting now",
		  FAULTS_SHUTDOWN_MS);
	_exit(0);
	return NULL;
}

void
faults_shutdown_deadline(void)
{
	pthread_attr_t a;
	pthread_t th;

	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &a, watchdog, NULL) != 0)
		log_warnx("no shutdown watchdog: a stuck shutdown may take "
			  "longer than %d ms",
			  FAULTS_SHUTDOWN_MS);
	pthread_attr_destroy(&a);
}
