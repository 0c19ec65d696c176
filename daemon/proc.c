/* proc.c - what profd reads from /proc without stopping anything: thread
 * state and CPU time, tracer, permission checks with actionable messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/proc.h"

static const char *const syscall_names[] = {
#include "syscall_names.h"	/* generated from <asm/unistd_64.h> */
};

int
proc_parse_stat(const char *buf, size_t len, struct proc_stat *out)
{
	const char *open, *close, *p, *end = buf + len;
	unsigned long long v;
	size_t n;
	int field;

	memset(out, 0, sizeof(*out));
	/* "pid (comm) S ppid ...": comm may contain ')' and spaces, so the
	 * last ')' ends it (proc(5)). */
	open = memchr(buf, '(', len);
	if (!open)
		return -EINVAL;
	for (close = end - 1; close > open && *close != ')'; close--)
		;
	if (close <= open || close + 2 >= end)
		return -EINVAL;
	n = (size_t)(close - open - 1);
	if (n >= sizeof(out->comm))
		n = sizeof(out->comm) - 1;
	memcpy(out->comm, open + 1, n);
	out->comm[n] = '\0';
	p = close + 2;
	out->state = *p;
	/* field 3 is the state; walk to fields 4 (ppid), 10 and 12 (minflt,
	 * majflt), 22 (starttime) and 39 (processor) */
	field = 3;
	out->processor = -1;
	while (p < end && field < 39) {
		while (p < end && *p != ' ')
			p++;
		while (p < end && *p == ' ')
			p++;
		if (p >= end)
			break;
		field++;
		if (field == 4 || field == 10 || field == 12 || field == 22 ||
		    field == 39) {
			char tmp[32];
			size_t k = 0;

			while (p + k < end && p[k] >= '0' && p[k] <= '9' &&
			       k < sizeof(tmp) - 1) {
				tmp[k] = p[k];
				k++;
			}
			if (k == 0)
				return -EINVAL;
			tmp[k] = '\0';
			v = strtoull(tmp, NULL, 10);
			if (field == 4)
				out->ppid = (pid_t)v;
			else if (field == 10)
				out->minflt = v;
			else if (field == 12)
				out->majflt = v;
			else if (field == 22)
				out->starttime = v;
			else
				out->processor = (int)v;
		}
	}
	return field >= 22 ? 0 : -EINVAL;
}

int
proc_parse_schedstat(const char *buf, size_t len, uint64_t *cpu_ns,
		     uint64_t *wait_ns, uint64_t *slices)
{
	uint64_t v[3];
	size_t i = 0;
	int k;

	/* "CPU_NS WAIT_NS SLICES\n", read every tick for every busy thread:
	 * parsed by hand, sscanf costs more than the read */
	for (k = 0; k < 3; k++) {
		uint64_t x = 0;
		size_t start;

		while (i < len && buf[i] == ' ')
			i++;
		start = i;
		while (i < len && buf[i] >= '0' && buf[i] <= '9')
			x = x * 10 + (uint64_t)(buf[i++] - '0');
		if (i == start)
			return -EINVAL;
		v[k] = x;
	}
	*cpu_ns = v[0];
	*wait_ns = v[1];
	*slices = v[2];
	return 0;
}

int
proc_read(const char *path, size_t max, char **bufp, size_t *lenp)
{
	size_t len = 0, cap = 4096;
	char *buf, *nb;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= max)
				break;
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			free(buf);
			close(fd);
			/* a process that exited between open and read */
			return r == -EIO ? -ESRCH : (int)r;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
}

int
proc_status_value(const char *buf, const char *key, char *val, size_t vlen)
{
	const char *p, *e;
	size_t len, klen = strlen(key);

	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			p += klen + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			e = strchr(p, '\n');
			len = e ? (size_t)(e - p) : strlen(p);
			if (len >= vlen)
				len = vlen - 1;
			memcpy(val, p, len);
			val[len] = '\0';
			return 0;
		}
	}
	return -ENOENT;
}

int
proc_status_field(pid_t pid, const char *key, char *val, size_t vlen)
{
	char path[64], *buf;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	r = proc_read(path, 1 << 16, &buf, &len);
	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	r = proc_status_value(buf, key, val, vlen);
	free(buf);
	return r;
}

int
proc_tracer(pid_t pid)
{
	char v[32];
	int r;

	r = proc_status_field(pid, "TracerPid", v, sizeof(v));
	if (r < 0)
		return r;
	return atoi(v);
}

bool
proc_is_self(pid_t tid)
{
	char path[64];

	if (tid <= 0)
		return false;
	if (tid == getpid())
		return true;
	snprintf(path, sizeof(path), "/proc/self/task/%d", (int)tid);
	return access(path, F_OK) == 0;
}

static void
comm_of(pid_t pid, char *buf, size_t len)
{
	char path[64], *b;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (proc_read(path, 256, &b, &n) < 0) {
		snprintf(buf, len, "?");
		return;
	}
	if (n && b[n - 1] == '\n')
		b[n - 1] = '\0';
	snprintf(buf, len, "%s", b);
	free(b);
}

static bool
have_cap_sys_ptrace(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) != 0)
		return false;
	return (d[CAP_SYS_PTRACE / 32].effective >> (CAP_SYS_PTRACE % 32)) & 1;
}

void
proc_explain_eperm(pid_t pid, char *err, size_t errlen)
{
	char comm[64], *yama = NULL;
	size_t ylen;
	int tracer, scope = -1;

	tracer = proc_tracer(pid);
	if (tracer > 0 && !proc_is_self(tracer)) {
		comm_of(tracer, comm, sizeof(comm));
		snprintf(err, errlen,
			 "process %d is already traced by process %d (%s); "
			 "a process can have one tracer only: detach %s and "
			 "retry",
			 (int)pid, tracer, comm, comm);
		return;
	}
	if (proc_read("/proc/sys/kernel/yama/ptrace_scope", 64, &yama,
		      &ylen) == 0) {
		scope = atoi(yama);
		free(yama);
	}
	if (scope == 3) {
		snprintf(err, errlen,
			 "ptrace of process %d refused: "
			 "kernel.yama.ptrace_scope is 3 (no ptrace at all); "
			 "it can only be lowered by a reboot",
			 (int)pid);
	} else if (scope >= 1 && !have_cap_sys_ptrace()) {
		snprintf(err, errlen,
			 "ptrace of process %d refused: "
			 "kernel.yama.ptrace_scope is %d; run profd as root or "
			 "with CAP_SYS_PTRACE (in Kubernetes: "
			 "securityContext.capabilities.add: [SYS_PTRACE])",
			 (int)pid, scope);
	} else if (!have_cap_sys_ptrace()) {
		snprintf(err, errlen,
			 "ptrace of process %d refused: run profd as the "
			 "target's user, as root, or with CAP_SYS_PTRACE "
			 "(a set-uid or non-dumpable target needs "
			 "CAP_SYS_PTRACE)",
			 (int)pid);
	} else {
		snprintf(err, errlen,
			 "ptrace of process %d refused although profd has "
			 "CAP_SYS_PTRACE: a security module (SELinux, "
			 "AppArmor, seccomp) or a user namespace boundary is "
			 "in the way",
			 (int)pid);
	}
}

void
proc_explain_nofile(char *err, size_t errlen)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		rl.rlim_cur = 0;
	snprintf(err, errlen,
		 "profd has run out of file descriptors (its limit is %llu): "
		 "raise it (LimitNOFILE= in the systemd unit, ulimit -n) or "
		 "serve fewer processes or threads",
		 (unsigned long long)rl.rlim_cur);
}

int
proc_check_traceable(pid_t pid, char *err, size_t errlen)
{
	char path[64];
	int fd, tracer;

	tracer = proc_tracer(pid);
	if (tracer == -EMFILE || tracer == -ENFILE) {
		proc_explain_nofile(err, errlen);
		return -EMFILE;
	}
	if (tracer == -ESRCH || tracer == -ENOENT) {
		snprintf(err, errlen,
			 "no such process: %d (check the PID with ps or "
			 "pgrep)",
			 (int)pid);
		return -ESRCH;
	}
	if (tracer > 0 && !proc_is_self(tracer)) {
		proc_explain_eperm(pid, err, errlen);
		return -EBUSY;
	}
	/*
	 * /proc/PID/mem is guarded by the same check as PTRACE_SEIZE
	 * (PTRACE_MODE_ATTACH, Yama included: proc(5), ptrace(2) "Ptrace
	 * access mode checking"), so opening it tells whether an attach
	 * would be allowed without stopping anything.
	 */
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if (e == ENOENT || e == ESRCH) {
			snprintf(err, errlen, "no such process: %d", (int)pid);
			return -ESRCH;
		}
		if (e == EMFILE || e == ENFILE) {
			proc_explain_nofile(err, errlen);
			return -EMFILE;
		}
		proc_explain_eperm(pid, err, errlen);
		return -EPERM;
	}
	close(fd);
	return 0;
}

int
proc_parse_syscall(const char *buf, size_t len, struct proc_syscall *out)
{
	char tmp[512], *p, *end;
	int i, nargs;

	if (len >= sizeof(tmp))
		len = sizeof(tmp) - 1;
	memcpy(tmp, buf, len);
	tmp[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (strncmp(tmp, "running", 7) == 0)
		return -EAGAIN;
	/* "NR ARG1 .. ARG6 SP PC", or "-1 SP PC" outside a system call
	 * (proc(5)); numbers after NR are 0x-prefixed hex */
	errno = 0;
	out->nr = strtol(tmp, &end, 10);
	if (end == tmp || errno)
		return -EINVAL;
	nargs = out->nr == -1 ? 0 : 6;
	p = end;
	for (i = 0; i < nargs + 2; i++) {
		uint64_t v;

		v = strtoull(p, &end, 16);
		if (end == p)
			return -EINVAL;
		p = end;
		if (i < nargs)
			out->args[i] = v;
		else if (i == nargs)
			out->sp = v;
		else
			out->pc = v;
	}
	return 0;
}

const char *
proc_syscall_name(long nr)
{
	if (nr < 0 ||
	    (size_t)nr >= sizeof(syscall_names) / sizeof(syscall_names[0]))
		return NULL;
	return syscall_names[nr];
}

const char *
proc_state_word(char state)
{
	switch (state) {
	case 'R': return "running";
	case 'S': return "sleeping";
	case 'D': return "disk";
	case 'T': return "stopped";
	case 't': return "traced";
	case 'Z': return "zombie";
	case 'X': return "dead";
	case 'I': return "idle";
	default: return "other";
	}
}

static int
exec_start_of(const char *path, double *ms)
{
	char *buf, *p;
	size_t len;
	int r;

	r = proc_read(path, 1 << 16, &buf, &len);
	if (r < 0)
		return r;
	p = strstr(buf, "se.exec_start");
	r = -ENOENT;
	if (p && (p = strchr(p, ':')) && sscanf(p + 1, "%lf", ms) == 1)
		r = 0;
	free(buf);
	return r;
}

int
proc_sched_exec_start(pid_t pid, pid_t tid, double *ms)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/sched", (int)pid,
		 (int)tid);
	return exec_start_of(path, ms);
}

int
proc_sched_clock_now(int cpu, double *ms)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		return -errno;
	/* Just scheduled in, our own exec_start is "now" on this CPU's
	 * scheduler clock, give or take the microseconds until the caller
	 * reads the other threads'. */
	sched_yield();
	return exec_start_of("/proc/thread-self/sched", ms);
}

/* /proc/PID/stat: the state, the CPU time used (utime + stime) and, of a
 * zombie, the exit status (field 52, as wait(2) reports it). 0, -errno. */
int
proc_process_stat(pid_t pid, char *state, uint64_t *cpu_ns, int *exit_code)
{
	char path[64], *buf, *p;
	unsigned long long ut = 0, st = 0;
	long hz = sysconf(_SC_CLK_TCK);
	size_t len;
	int field, e;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	e = proc_read(path, 4096, &buf, &len);
	if (e < 0)
		return e;
	p = strrchr(buf, ')');
	*exit_code = -1;
	if (!p || p[1] != ' ') {
		free(buf);
		return -EINVAL;
	}
	*state = p[2];
	/* fields after the comm, 3 (state) on, space-separated */
	for (field = 3, p += 2; *p; field++) {
		if (field == 14)
			ut = strtoull(p, NULL, 10);
		else if (field == 15)
			st = strtoull(p, NULL, 10);
		else if (field == 52)
			*exit_code = (int)strtol(p, NULL, 10);
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
	}
	free(buf);
	*cpu_ns = (ut + st) * (1000000000ULL / (uint64_t)(hz > 0 ? hz : 100));
	return 0;
}

/* Resident set (statm's second field, in pages). */
int
proc_statm_rss(pid_t pid, uint64_t *rss)
{
	char path[64], *buf, *p;
	size_t len;
	int e;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	e = proc_read(path, 256, &buf, &len);
	if (e < 0)
		return e;
	p = strchr(buf, ' ');
	*rss = p ? strtoull(p + 1, NULL, 10) * (uint64_t)sysconf(_SC_PAGESIZE)
		 : 0;
	free(buf);
	return p ? 0 : -EINVAL;
}
