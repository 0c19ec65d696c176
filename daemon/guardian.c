/* guardian.c - see guardian.h.
 *
 * One process, forked by main() before any thread exists (fork copies
 * only the calling thread), in its own process group so that job control
 * aimed at profd's (^Z, kill -STOP -PGID) does not stop it too. It keeps
 * nothing of profd's but three fds (its runtime directory, an eventfd, a
 * pidfd of profd) and stderr; it drops every capability, holds no ptrace
 * relation, and exits when profd does (PR_SET_PDEATHSIG, the pidfd, and a
 * getppid() check).
 *
 * What it watches, in a MAP_SHARED anonymous region: one slot per sampler
 * thread, which the sampler writes with atomics (guardian_publish()) and
 * the guardian only reads. While no slot is active the guardian sleeps in
 * poll(2) on the eventfd (a sampler writes it when a window opens) and
 * wakes once a second to say it is alive; while one is, it looks every
 * GUARDIAN_POLL_MS and ends profd with SIGKILL when
 *   1. an active sampler thread is stopped: state T (SIGSTOP, SIGTSTP:
 *      the whole of profd stops) or t (a tracer's stop) in
 *      /proc/PID/task/TID/stat;
 *   2. profd is traced: TracerPid in /proc/PID/status is not 0 (read
 *      every GUARDIAN_TRACER_EVERY looks: it costs twice a stat file,
 *      and a tracer that stops the sampler shows in 1 at once);
 *   3. a sampler holds threads and has not run for GUARDIAN_BOUND_MS past
 *      its own next deadline, and one of the target's threads waits in a
 *      ptrace stop of that sampler (state t, TracerPid = the sampler).
 * 1 and 2 apply as soon as a window is open, not only at the instants a
 * thread is held: in the default attach mode a hold lasts microseconds,
 * and a stopped or traced profd with an open window is about to hold one
 * (its stop reaches its threads one by one, and a debugger can let it run
 * into a hold at any moment).
 */
#include "daemon/guardian.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"

#define GUARDIAN_IDLE_MS   1000		/* no window open: alive beat */
#define GUARDIAN_TRACER_EVERY 3		/* looks between TracerPid reads */
#define GUARDIAN_STALE_NS  (3 * 1000000000ULL)	/* up gauge: beat age */
#define RECORD_NAME	   "guardian.state"
#define RECORD_TMP	   ".guardian.state.tmp"
#define RECORD_MAX	   4096

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* One sampler's view, one cache line. Written by the sampler only. */
struct guard_slot {
	pid_t target;		/* 0: free, -1: being claimed */
	pid_t sampler;		/* tid of the sampler thread */
	uint32_t held;		/* threads held now */
	uint32_t active;	/* a window is open, or held > 0 */
	uint64_t held_since;	/* CLOCK_MONOTONIC ns; 0 while none held */
	uint64_t beat;		/* the sampler ran then */
	uint64_t due;		/* and will run again by then */
	uint64_t pad[4];
};

struct guard_shm {
	pid_t profd, guardian;
	uint32_t nslots;
	uint32_t used;		/* slots [0, used) have been claimed */
	uint64_t beat;		/* the guardian's last look */
	uint64_t pad[6];
	struct guard_slot slot[];
};

/* What a kill leaves in the runtime directory for the next profd. */
struct record {
	uint64_t kills;		/* so far, this one included */
	double unix_time;
	pid_t profd, target;
	unsigned held;
	double held_ms;
	char reason[512];
	bool reported;		/* a later profd has logged it */
};

/* profd's side. guardian_pid and reaped are read by /metrics. */
static struct guard_shm *shm;
static size_t shm_size;
static int wake_fd = -1;
static pid_t guardian_pid;
static bool reaped;
static uint64_t kills_at_start;
static int64_t last_kill_at_start;
static char rundir[512];
static bool warned_full;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#define LOAD(p)	    __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* ---- the record ---------------------------------------------------------- */

static int
record_read(int dfd, struct record *r)
{
	char buf[RECORD_MAX + 1], *line, *save = NULL;
	struct stat st;
	ssize_t n;
	int fd;

	memset(r, 0, sizeof(*r));
	r->reported = true;
	fd = openat(dfd, RECORD_NAME,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	n = pread(fd, buf, RECORD_MAX, 0);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, ' ');

		if (!v)
			continue;
		*v++ = '\0';
		if (strcmp(line, "kills") == 0)
			r->kills = strtoull(v, NULL, 10);
		else if (strcmp(line, "unix") == 0)
			r->unix_time = strtod(v, NULL);
		else if (strcmp(line, "pid") == 0)
			r->profd = (pid_t)atoi(v);
		else if (strcmp(line, "target") == 0)
			r->target = (pid_t)atoi(v);
		else if (strcmp(line, "held") == 0)
			r->held = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(line, "held_ms") == 0)
			r->held_ms = strtod(v, NULL);
		else if (strcmp(line, "reason") == 0)
			snprintf(r->reason, sizeof(r->reason), "%s", v);
		else if (strcmp(line, "reported") == 0)
			r->reported = atoi(v) != 0;
	}
	return 0;
}

/* Write r to the record atomically (a new file renamed over the old). */
static int
record_write(int dfd, const struct record *r)
{
	char buf[RECORD_MAX];
	int fd, n, e = 0;

	n = snprintf(buf, sizeof(buf),
		     "# profd guardian: the last time it killed profd\n"
		     "kills %" PRIu64 "\nunix %.3f\npid %d\ntarget %d\n"
		     "held %u\nheld_ms %.3f\nreason %s\nreported %d\n",
		     r->kills, r->unix_time, (int)r->profd, (int)r->target,
		     r->held, r->held_ms, r->reason, r->reported ? 1 : 0);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -E2BIG;
	(void)unlinkat(dfd, RECORD_TMP, 0);
	fd = openat(dfd, RECORD_TMP,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, (size_t)n) != n)
		e = errno ? -errno : -EIO;
	if (close(fd) != 0 && !e)
		e = -errno;
	if (!e && renameat(dfd, RECORD_TMP, dfd, RECORD_NAME) != 0)
		e = -errno;
	if (e)
		(void)unlinkat(dfd, RECORD_TMP, 0);
	return e;
}

static void
format_utc(double unix_time, char *buf, size_t len)
{
	time_t sec = (time_t)unix_time;
	struct tm tm;

	gmtime_r(&sec, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The runtime directory: created (mode 0700, the last component only)
 * when missing. An fd, or -errno. */
static int
open_rundir(const char *dir)
{
	int fd;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* ---- the guardian process ------------------------------------------------ */

struct gstate {
	pid_t profd;
	int pidfd, status_fd, dfd;
	int *sfd;		/* per slot: /proc/PROFD/task/TID/stat */
	pid_t *stid;		/* the tid sfd is open for */
	uint64_t last_ok;	/* last look that found nothing wrong */
	unsigned looks;		/* since a window opened */
};

/* The text of the /proc file open on fd (-1: none), read again from its
 * start into buf (size bytes) and NUL-terminated; false when unreadable
 * or empty. */
static bool
pread_text(int fd, char *buf, size_t size)
{
	ssize_t n;

	if (fd < 0)
		return false;
	n = pread(fd, buf, size - 1, 0);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* The state letter of a /proc stat file read on fd, 0 when unreadable. */
static char
stat_state(int fd)
{
	char buf[512], *p;

	if (!pread_text(fd, buf, sizeof(buf)))
		return 0;
	p = strrchr(buf, ')');	/* the comm may hold spaces and ')' */
	return p && p[1] == ' ' ? p[2] : 0;
}

/* TracerPid of a /proc status file read on fd; 0 when none or unknown. */
static pid_t
status_tracer(int fd)
{
	char buf[4096], *p;

	if (!pread_text(fd, buf, sizeof(buf)))
		return 0;
	p = strstr(buf, "\nTracerPid:");
	return p ? (pid_t)atoi(p + 11) : 0;
}

static char
path_state(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char s = stat_state(fd);

	if (fd >= 0)
		close(fd);
	return s;
}

static pid_t
path_tracer(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	pid_t p = status_tracer(fd);

	if (fd >= 0)
		close(fd);
	return p;
}

/*
 * A thread of target that waits in a ptrace stop of sampler (state t and
 * TracerPid = the sampler thread): its tid; 0 when there is none, or the
 * target is gone; -1 when the target's threads cannot be read (then the
 * guardian cannot tell, and acts as if there were one).
 */
static pid_t
stuck_thread(pid_t target, pid_t sampler)
{
	char path[96];
	struct dirent *de;
	pid_t found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)target);
	d = opendir(path);
	if (!d)
		return errno == ENOENT || errno == ESRCH ? 0 : -1;
	while (!found && (de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat",
			 (int)target, (int)tid);
		if (path_state(path) != 't')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/status",
			 (int)target, (int)tid);
		if (path_tracer(path) == sampler)
			found = tid;
	}
	closedir(d);
	return found;
}

static void
tracer_name(pid_t tid, char *buf, size_t len)
{
	char path[64], *p;
	ssize_t n;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	/* any process names itself: keep the log line and record one line */
	for (p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
}

/* End profd now, then say so and record it. Never returns. */
static void __attribute__((noreturn))
kill_profd(struct gstate *g, const struct guard_slot *v, uint64_t now,
	   const char *why)
{
	struct pollfd p = { g->pidfd, POLLIN, 0 };
	struct record rec, old;
	uint64_t t_kill, t_gone = 0;
	double held_ms = 0;
	struct timespec wall;
	char held[256], gone[96];

	/* profd's death must not end the guardian before it has written
	 * the record */
	prctl(PR_SET_PDEATHSIG, 0);
	if (g->pidfd < 0 ||
	    syscall(SYS_pidfd_send_signal, g->pidfd, SIGKILL, NULL, 0) != 0)
		kill(g->profd, SIGKILL);
	t_kill = now_ns();
	clock_gettime(CLOCK_REALTIME, &wall);
	/* The kernel releases the tracees as profd exits (exit_ptrace());
	 * the pidfd turns readable once it has. */
	if (g->pidfd >= 0 && poll(&p, 1, 1000) == 1)
		t_gone = now_ns();

	if (v->held_since && v->held_since < now)
		held_ms = (double)(now - v->held_since) / 1e6;
	if (v->held)
		snprintf(held, sizeof(held),
			 "its sampler for pid %d held %u thread(s), for %.1f "
			 "ms",
			 (int)v->target, v->held, held_ms);
	else
		snprintf(held, sizeof(held),
			 "a window was open on pid %d (no thread held at that "
			 "moment)",
			 (int)v->target);

	memset(&rec, 0, sizeof(rec));
	if (g->dfd >= 0 && record_read(g->dfd, &old) == 0)
		rec.kills = old.kills;
	rec.kills++;
	rec.unix_time = (double)wall.tv_sec + (double)wall.tv_nsec / 1e9;
	rec.profd = g->profd;
	rec.target = v->target;
	rec.held = v->held;
	rec.held_ms = held_ms;
	snprintf(rec.reason, sizeof(rec.reason), "%s", why);
	rec.reported = false;
	if (t_gone)
		snprintf(gone, sizeof(gone),
			 "profd was gone %.1f ms after the signal, its "
			 "threads released",
			 (double)(t_gone - t_kill) / 1e6);
	else
		snprintf(gone, sizeof(gone),
			 "profd was not gone 1 s after the signal");
	if (g->dfd >= 0 && record_write(g->dfd, &rec) != 0)
		log_warnx("guardian: cannot record the kill in %s/%s", rundir,
			  RECORD_NAME);
	log_warnx("guardian: killed profd (pid %d) with SIGKILL: %s, while "
		  "%s; the previous look, %.1f ms earlier, found nothing "
		  "wrong; %s (kill #%" PRIu64 ", recorded in %s)",
		  (int)g->profd, why, held, (double)(now - g->last_ok) / 1e6,
		  gone, rec.kills,
		  g->dfd >= 0 ? rundir : "nowhere: no runtime directory");
	_exit(0);
}

/* A copy of slot i, taken with the same atomics the sampler writes with;
 * false when it is not active. */
static bool
slot_view(uint32_t i, struct guard_slot *v)
{
	const struct guard_slot *s = &shm->slot[i];

	memset(v, 0, sizeof(*v));
	v->active = LOAD(&s->active);
	v->target = LOAD(&s->target);
	if (!v->active || v->target <= 0)
		return false;
	v->sampler = LOAD(&s->sampler);
	v->held = LOAD(&s->held);
	v->held_since = LOAD(&s->held_since);
	v->beat = LOAD(&s->beat);
	v->due = LOAD(&s->due);
	return true;
}

/* The state of sampler thread tid, on an fd kept per slot. */
static char
sampler_state(struct gstate *g, uint32_t i, pid_t tid)
{
	char path[64];

	if (g->stid[i] != tid) {
		if (g->sfd[i] >= 0)
			close(g->sfd[i]);
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat",
			 (int)g->profd, (int)tid);
		g->sfd[i] = open(path, O_RDONLY | O_CLOEXEC);
		g->stid[i] = tid;
	}
	return stat_state(g->sfd[i]);
}

/* One look at every active slot: the state of its sampler thread (one
 * pread), and every GUARDIAN_TRACER_EVERY looks profd's TracerPid (a
 * status file costs twice a stat file, and a tracer that stops a sampler
 * shows in its state at the next look anyway). */
static void
check(struct gstate *g)
{
	uint32_t used = LOAD(&shm->used), i;
	struct guard_slot v, worst;
	uint64_t now = now_ns(), deadline;
	char why[256], st, comm[32];
	bool any = false;
	pid_t tracer, stuck;

	if (used > shm->nslots)
		used = shm->nslots;
	for (i = 0; i < used; i++) {
		if (!slot_view(i, &v))
			continue;
		if (!any || v.held > worst.held)
			worst = v;	/* named when profd as a whole is */
		any = true;
		st = sampler_state(g, i, v.sampler);
		if (st == 'T' || st == 't') {
			snprintf(why, sizeof(why),
				 "profd was %s (state %c of its sampler thread "
				 "%d)",
				 st == 'T' ? "stopped" : "in a tracer's stop",
				 st, (int)v.sampler);
			kill_profd(g, &v, now, why);
		}
		deadline = v.due > v.beat ? v.due : v.beat;
		if (!v.held || now < deadline + GUARDIAN_BOUND_MS * 1000000ULL)
			continue;
		stuck = stuck_thread(v.target, v.sampler);
		if (stuck == 0)
			continue;
		if (stuck > 0)
			snprintf(why, sizeof(why),
				 "its sampler thread %d had not run for %.1f "
				 "ms (%.1f ms past its own deadline) while "
				 "thread %d of pid %d waited in its ptrace "
				 "stop",
				 (int)v.sampler, (double)(now - v.beat) / 1e6,
				 (double)(now - deadline) / 1e6, (int)stuck,
				 (int)v.target);
		else
			snprintf(why, sizeof(why),
				 "its sampler thread %d had not run for %.1f "
				 "ms (%.1f ms past its own deadline) and the "
				 "threads of pid %d cannot be read",
				 (int)v.sampler, (double)(now - v.beat) / 1e6,
				 (double)(now - deadline) / 1e6,
				 (int)v.target);
		kill_profd(g, &v, now, why);
	}
	if (!any) {
		g->looks = 0;	/* the first look of a window reads it */
		g->last_ok = now;
		return;
	}
	if (g->looks++ % GUARDIAN_TRACER_EVERY == 0) {
		tracer = status_tracer(g->status_fd);
		if (tracer > 0) {
			tracer_name(tracer, comm, sizeof(comm));
			snprintf(why, sizeof(why),
				 "profd was traced by pid %d%s%s%s",
				 (int)tracer, comm[0] ? " (" : "", comm,
				 comm[0] ? ")" : "");
			kill_profd(g, &worst, now, why);
		}
	}
	g->last_ok = now;
}

/* Keep only the fds in keep (ascending) and 0-2; 0 and 1 read and write
 * /dev/null. */
static void
close_others(const int *keep, size_t n)
{
	unsigned from = 3;
	size_t i;
	int fd;

	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		if (fd > 2)
			close(fd);
	}
	for (i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < from)
			continue;
		if ((unsigned)keep[i] > from)
			syscall(SYS_close_range, from, (unsigned)keep[i] - 1,
				0);
		from = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0U, 0);
}

static int
cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Nothing but what watching needs: no capability (it reads /proc files
 * any process of the same user may read, and signals a process of its
 * own user), no way to gain one. */
static void
drop_privileges(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	int cap;

	for (cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 &&
		    errno == EINVAL)
			break;	/* past the last capability */
	memset(d, 0, sizeof(d));
	(void)syscall(SYS_capset, &h, d);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static void __attribute__((noreturn))
guardian_main(const struct guardian_opts *o, pid_t profd, int dfd, int ready)
{
	struct gstate g;
	struct sigaction sa;
	sigset_t none;
	char path[64];
	int keep[6], nkeep = 0;
	uint32_t i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != profd)
		_exit(0);	/* profd died before the line above */
	prctl(PR_SET_NAME, "profd-guardian", 0, 0, 0);
	setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	/* it ends with profd, not with a terminal's or a unit's signals;
	 * SIGTSTP/TTIN/TTOU: a ^Z must not stop the guardian with profd */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGTSTP, &sa, NULL);
	sigaction(SIGTTIN, &sa, NULL);
	sigaction(SIGTTOU, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	memset(&g, 0, sizeof(g));
	g.profd = profd;
	g.dfd = dfd;
	g.pidfd = (int)syscall(SYS_pidfd_open, profd, 0);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)profd);
	g.status_fd = open(path, O_RDONLY | O_CLOEXEC);
	g.sfd = malloc(shm->nslots * sizeof(*g.sfd));
	g.stid = calloc(shm->nslots, sizeof(*g.stid));
	if (!g.sfd || !g.stid || g.status_fd < 0) {
		log_warn("guardian: cannot watch profd (pid %d)", (int)profd);
		_exit(1);
	}
	for (i = 0; i < shm->nslots; i++)
		g.sfd[i] = -1;
	keep[nkeep++] = dfd;
	keep[nkeep++] = wake_fd;
	keep[nkeep++] = g.pidfd;
	keep[nkeep++] = g.status_fd;
	keep[nkeep++] = ready;
	qsort(keep, (size_t)nkeep, sizeof(keep[0]), cmp_int);
	close_others(keep, (size_t)nkeep);
	if (o->rt_priority > 0) {
		/* as prompt as the sampler it watches (--rt-priority); it
		 * sleeps between looks of a few microseconds */
		struct sched_param sp = { .sched_priority = o->rt_priority };

		(void)sched_setscheduler(0, SCHED_FIFO, &sp);
	}
	drop_privileges();

	STORE(&shm->guardian, getpid());
	STORE(&shm->beat, now_ns());
	g.last_ok = now_ns();
	if (write(ready, "1", 1) != 1)
		_exit(1);
	close(ready);

	for (;;) {
		struct pollfd p[2];
		uint32_t used = LOAD(&shm->used);
		bool active = false;
		int np = 0;
		uint64_t junk;

		for (i = 0; i < used && i < shm->nslots && !active; i++)
			active = LOAD(&shm->slot[i].active) &&
				 LOAD(&shm->slot[i].target) > 0;
		p[np++] = (struct pollfd){ wake_fd, POLLIN, 0 };
		if (g.pidfd >= 0)
			p[np++] = (struct pollfd){ g.pidfd, POLLIN, 0 };
		if (poll(p, (nfds_t)np,
			 active ? GUARDIAN_POLL_MS : GUARDIAN_IDLE_MS) > 0) {
			if (np > 1 && p[1].revents)
				_exit(0);	/* profd has exited */
			if (p[0].revents &&
			    read(wake_fd, &junk, sizeof(junk)) < 0) {
				/* EAGAIN: another look drained it */
			}
		}
		if (getppid() != profd)
			_exit(0);
		STORE(&shm->beat, now_ns());
		check(&g);
	}
}

/* ---- profd's side -------------------------------------------------------- */

/* Open the runtime directory (a negative value when there is none), take
 * the counts of its record, and log once a kill of the previous profd
 * that no profd has reported yet. */
static int
open_record(const char *runtime_dir)
{
	struct record rec;
	char when[32];
	int dfd = -1;

	snprintf(rundir, sizeof(rundir), "%s", runtime_dir);
	if (!rundir[0]) {
		log_verbose("no runtime directory (--runtime-dir): guardian "
			    "kills will only be logged");
	} else {
		dfd = open_rundir(rundir);
		if (dfd < 0)
			log_warnx("runtime directory %s: %s; guardian kills "
				  "will not be recorded (--runtime-dir DIR)",
				  rundir, strerror(-dfd));
	}
	if (dfd >= 0 && record_read(dfd, &rec) == 0) {
		kills_at_start = rec.kills;
		last_kill_at_start = (int64_t)rec.unix_time;
		if (!rec.reported) {
			format_utc(rec.unix_time, when, sizeof(when));
			log_warnx("the previous profd (pid %d) was killed by "
				  "its guardian at %s: %s; it held %u "
				  "thread(s) of pid %d for %.1f ms (kill "
				  "#%" PRIu64 " recorded in %s)",
				  (int)rec.profd, when, rec.reason, rec.held,
				  (int)rec.target, rec.held_ms, rec.kills,
				  rundir);
			rec.reported = true;
			if (record_write(dfd, &rec) != 0)
				log_warn("%s/%s: cannot mark it reported",
					 rundir, RECORD_NAME);
		}
	}
	return dfd;
}

int
guardian_start(const struct guardian_opts *o, char *err, size_t errlen)
{
	struct pollfd p;
	int dfd, pfd[2], r;
	pid_t profd = getpid(), pid;
	char c;
	size_t n;

	dfd = open_record(o->runtime_dir);
	if (!o->enabled) {
		if (dfd >= 0)
			close(dfd);
		log_verbose("guardian off (--no-guardian): a stopped or traced "
			    "profd can keep target threads stopped");
		return 0;
	}

	n = o->max_samplers ? o->max_samplers : 1;
	shm_size = sizeof(*shm) + n * sizeof(shm->slot[0]);
	shm_size = (shm_size + 4095) & ~(size_t)4095;
	shm = mmap(NULL, shm_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED) {
		r = -errno;
		shm = NULL;
		snprintf(err, errlen, "guardian: mmap: %s", strerror(-r));
		goto fail;
	}
	shm->profd = profd;
	shm->nslots = (uint32_t)n;
	wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wake_fd < 0 || pipe2(pfd, O_CLOEXEC) != 0) {
		r = -errno;
		snprintf(err, errlen, "guardian: eventfd/pipe: %s",
			 strerror(-r));
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pfd[0]);
		close(pfd[1]);
		snprintf(err, errlen, "guardian: fork: %s", strerror(-r));
		goto fail;
	}
	if (pid == 0) {
		close(pfd[0]);
		guardian_main(o, profd, dfd, pfd[1]);
	}
	close(pfd[1]);
	if (dfd >= 0)
		close(dfd);
	dfd = -1;
	guardian_pid = pid;
	/* It says it is ready once it watches, in a millisecond or so. */
	p = (struct pollfd){ pfd[0], POLLIN, 0 };
	r = poll(&p, 1, 5000) == 1 && read(pfd[0], &c, 1) == 1 ? 0 : -ESRCH;
	close(pfd[0]);
	if (r < 0) {
		snprintf(err, errlen,
			 "guardian (pid %d) did not start: profd goes on "
			 "without one",
			 (int)pid);
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		guardian_pid = 0;
		goto fail;
	}
	log_verbose("guardian: pid %d watches profd (every %d ms while a "
		    "window is open; a sampler that cannot run is ended %d ms "
		    "past its deadline)",
		    (int)pid, GUARDIAN_POLL_MS, GUARDIAN_BOUND_MS);
	return 0;
fail:
	if (dfd >= 0)
		close(dfd);
	if (wake_fd >= 0)
		close(wake_fd);
	wake_fd = -1;
	if (shm)
		munmap(shm, shm_size);
	shm = NULL;
	return r;
}

void
guardian_check(void)
{
	pid_t pid = __atomic_load_n(&guardian_pid, __ATOMIC_ACQUIRE);
	int st;

	if (pid <= 0 || __atomic_load_n(&reaped, __ATOMIC_ACQUIRE))
		return;
	if (waitpid(pid, &st, WNOHANG) != pid)
		return;
	__atomic_store_n(&reaped, true, __ATOMIC_RELEASE);
	if (WIFSIGNALED(st))
		log_warnx("guardian (pid %d) was killed by signal %d (%s): "
			  "profd goes on without one",
			  (int)pid, WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		log_warnx("guardian (pid %d) exited with status %d: profd "
			  "goes on without one",
			  (int)pid, WEXITSTATUS(st));
}

void
guardian_stop(void)
{
	pid_t pid = guardian_pid;

	if (pid > 0 && !__atomic_load_n(&reaped, __ATOMIC_ACQUIRE)) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		__atomic_store_n(&reaped, true, __ATOMIC_RELEASE);
	}
	if (wake_fd >= 0)
		close(wake_fd);
	wake_fd = -1;
}

void
guardian_status(struct guardian_status *st)
{
	pid_t pid = __atomic_load_n(&guardian_pid, __ATOMIC_ACQUIRE);
	uint64_t beat;
	char path[64], buf[128], c;
	ssize_t n;
	int fd;

	memset(st, 0, sizeof(*st));
	st->kills = kills_at_start;
	st->last_kill = last_kill_at_start;
	if (pid <= 0 || !shm)
		return;
	st->enabled = true;
	st->pid = pid;
	if (__atomic_load_n(&reaped, __ATOMIC_ACQUIRE))
		return;
	beat = LOAD(&shm->beat);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	c = stat_state(fd);
	st->up = beat && now_ns() - beat < GUARDIAN_STALE_NS && c &&
		 c != 'T' && c != 't' && c != 'Z';
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			st->cpu_seconds = strtod(buf, NULL) / 1e9;
		}
		close(fd);
	}
}

/* ---- sampler side ------------------------------------------------------- */

struct guard_slot *
guardian_claim(pid_t target)
{
	uint32_t i, used;

	if (!shm || target <= 0)
		return NULL;
	for (i = 0; i < shm->nslots; i++) {
		struct guard_slot *g = &shm->slot[i];
		pid_t zero = 0;

		if (!__atomic_compare_exchange_n(&g->target, &zero, -1, false,
						 __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		STORE(&g->active, 0);
		STORE(&g->held, 0);
		STORE(&g->held_since, 0);
		STORE(&g->beat, now_ns());
		STORE(&g->due, 0);
		STORE(&g->sampler, (pid_t)syscall(SYS_gettid));
		STORE(&g->target, target);
		used = LOAD(&shm->used);
		while (used < i + 1 &&
		       !__atomic_compare_exchange_n(&shm->used, &used, i + 1,
						    false, __ATOMIC_ACQ_REL,
						    __ATOMIC_ACQUIRE))
			;
		return g;
	}
	if (!__atomic_exchange_n(&warned_full, true, __ATOMIC_ACQ_REL))
		log_warnx("guardian: all %u slots in use: the sampler for pid "
			  "%d is not watched",
			  shm->nslots, (int)target);
	return NULL;
}

void
guardian_unclaim(struct guard_slot *g)
{
	if (!g)
		return;
	STORE(&g->active, 0);
	STORE(&g->held, 0);
	STORE(&g->held_since, 0);
	STORE(&g->target, 0);
}

void
guardian_publish(struct guard_slot *g, unsigned held, bool active,
		 uint64_t due_ns)
{
	uint64_t now;
	uint32_t was;

	if (!g)
		return;
	now = now_ns();
	if (!held)
		STORE(&g->held_since, 0);
	else if (!__atomic_load_n(&g->held_since, __ATOMIC_RELAXED))
		STORE(&g->held_since, now);
	STORE(&g->held, held);
	STORE(&g->due, due_ns > now ? due_ns : now);
	STORE(&g->beat, now);
	was = __atomic_load_n(&g->active, __ATOMIC_RELAXED);
	STORE(&g->active, (active || held) ? 1U : 0U);
	if ((active || held) && !was && wake_fd >= 0) {
		uint64_t one = 1;

		/* the guardian sleeps while no window is open */
		if (write(wake_fd, &one, sizeof(one)) < 0) {
			/* EAGAIN: it is awake already */
		}
	}
}

void
guardian_beat(struct guard_slot *g)
{
	if (g)
		__atomic_store_n(&g->beat, now_ns(), __ATOMIC_RELEASE);
}
