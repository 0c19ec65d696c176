/* memory.c - a target's memory without stopping it: the memory view from
 * /proc/PID/smaps, VmRSS and its trend, the memory cgroup's usage and
 * limit. See memory.h.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/daemon.h"
#include "daemon/memory.h"
#include "daemon/proc.h"
#include "daemon/smaps.h"

/* Threads whose stack pointers are read, at most. */
#define MAX_SP_THREADS 65536

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The stack pointers of pid's threads that are not running, from
 * /proc/PID/task/TID/syscall (a running thread's is not given), sorted
 * into *sps (malloc'd; NULL with none). Returns how many. */
static size_t
thread_sps(pid_t pid, uint64_t **sps)
{
	struct proc_syscall sc;
	struct dirent *de;
	char path[96], *buf;
	size_t n = 0, cap = 0, len;
	uint64_t *v = NULL, *nv;
	DIR *d;

	*sps = NULL;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < MAX_SP_THREADS) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/syscall",
			 (int)pid, de->d_name);
		if (proc_read(path, 512, &buf, &len) < 0)
			continue;
		if (proc_parse_syscall(buf, len, &sc) == 0 && sc.sp) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(buf);
					break;
				}
				v = nv;
			}
			v[n++] = sc.sp;
		}
		free(buf);
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_u64);
	*sps = v;
	return n;
}

void
memory_view(pid_t pid, const char *comm, struct http_reply *r)
{
	struct smaps s;
	char path[64], comment[512], *buf = NULL;
	uint64_t *sps;
	size_t len, nsps;
	int e;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	e = proc_read(path, SMAPS_READ_MAX, &buf, &len);
	if (e == -ENOENT || e == -ESRCH) {
		r->status = 404;
		snprintf(r->msg, sizeof(r->msg), "process %d has exited",
			 (int)pid);
		return;
	}
	if (e == -EACCES || e == -EPERM) {
		r->status = 403;
		snprintf(r->msg, sizeof(r->msg),
			 "cannot read /proc/%d/smaps: run profd as the "
			 "target's user, as root, or with CAP_SYS_PTRACE",
			 (int)pid);
		return;
	}
	if (e < 0) {
		r->status = 503;
		snprintf(r->msg, sizeof(r->msg), "cannot read /proc/%d/smaps: %s",
			 (int)pid, strerror(-e));
		return;
	}
	nsps = thread_sps(pid, &sps);
	memset(&s, 0, sizeof(s));
	e = smaps_parse(buf, len, sps, nsps, &s);
	free(sps);
	/* proc_read stops one byte short of its cap: the text may go on */
	if (len + 1 >= SMAPS_READ_MAX)
		s.partial = true;
	free(buf);
	if (e < 0 || s.maps == 0) {
		smaps_free(&s);
		r->status = e < 0 ? 503 : 404;
		snprintf(r->msg, sizeof(r->msg), "%s",
			 e < 0 ? "profd is out of memory"
			       : "the process has no mappings (it has exited)");
		return;
	}
	snprintf(comment, sizeof(comment),
		 "profd %s: pid %d (%s), memory by mapping from "
		 "/proc/%d/smaps: %" PRIu64 " mappings, resident %" PRIu64
		 " bytes, anonymous %" PRIu64 " bytes, swap %" PRIu64
		 " bytes%s",
		 PROFD_VERSION, (int)pid, comm, (int)pid, s.maps, s.rss, s.anon,
		 s.swap,
		 s.partial ? " (partial: the mappings read stop short of "
			     "the process's)"
			   : "");
	r->profile = smaps_profile(&s, wall_now_ns(), comment);
	smaps_free(&s);
	if (!r->profile) {
		r->status = 503;
		snprintf(r->msg, sizeof(r->msg), "profd is out of memory");
		return;
	}
	r->status = 200;
}

int
memory_rss(pid_t pid, uint64_t *bytes)
{
	char val[64];
	int e;

	e = proc_status_field(pid, "VmRSS", val, sizeof(val));
	if (e == -ENOENT)
		return -ESRCH;	/* a zombie has no VmRSS */
	if (e < 0)
		return e;
	*bytes = strtoull(val, NULL, 10) * 1024;
	return 0;
}

void
rss_trend_init(struct rss_trend *tr)
{
	memset(tr, 0, sizeof(*tr));
	pthread_mutex_init(&tr->mu, NULL);
}

void
rss_trend_destroy(struct rss_trend *tr)
{
	pthread_mutex_destroy(&tr->mu);
}

#define TREND_KEEP_NS	 (2 * 1000000000ULL)
#define TREND_WINDOW_NS	 (10 * 1000000000ULL)
#define TREND_MIN_NS	 (1 * 1000000000ULL)

bool
rss_trend_add(struct rss_trend *tr, uint64_t now, uint64_t rss, double *rate)
{
	unsigned i, k, base = RSS_TREND_N;
	bool have = false;

	pthread_mutex_lock(&tr->mu);
	/* newest first: the first reading at least TREND_WINDOW_NS old,
	 * else the oldest at least TREND_MIN_NS old */
	for (i = 0; i < tr->n; i++) {
		k = (tr->next + RSS_TREND_N - 1 - i) % RSS_TREND_N;
		if (tr->v[k].mono_ns > now || now - tr->v[k].mono_ns < TREND_MIN_NS)
			continue;
		base = k;
		if (now - tr->v[k].mono_ns >= TREND_WINDOW_NS)
			break;
	}
	if (base < RSS_TREND_N) {
		*rate = ((double)rss - (double)tr->v[base].rss) /
			((double)(now - tr->v[base].mono_ns) / 1e9);
		have = true;
	}
	k = (tr->next + RSS_TREND_N - 1) % RSS_TREND_N;
	if (tr->n == 0 || now - tr->v[k].mono_ns >= TREND_KEEP_NS) {
		tr->v[tr->next].mono_ns = now;
		tr->v[tr->next].rss = rss;
		tr->next = (tr->next + 1) % RSS_TREND_N;
		if (tr->n < RSS_TREND_N)
			tr->n++;
	}
	pthread_mutex_unlock(&tr->mu);
	return have;
}

/* Copy a path p[0..n) into out when it is safe to put below a mount
 * point: absolute, no "." or ".." component, nothing below a blank. */
static bool
copy_path(const char *p, size_t n, char *out, size_t outlen)
{
	size_t i;

	if (n == 0 || n >= outlen || p[0] != '/')
		return false;
	for (i = 0; i < n; i++) {
		if ((unsigned char)p[i] < 0x20)
			return false;
		if (p[i] == '/' && i + 1 < n && p[i + 1] == '.' &&
		    (i + 2 == n || p[i + 2] == '/' ||
		     (p[i + 2] == '.' && (i + 3 == n || p[i + 3] == '/'))))
			return false;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

/* Whether the comma-separated list c[0..n) names controller want. */
static bool
has_controller(const char *c, size_t n, const char *want)
{
	size_t wl = strlen(want), i = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && c[j] != ',')
			j++;
		if (j - i == wl && memcmp(c + i, want, wl) == 0)
			return true;
		i = j + 1;
	}
	return false;
}

int
cgroup_parse(const char *buf, size_t len, struct cgroup_paths *out)
{
	const char *p = buf, *end = buf + len;

	memset(out, 0, sizeof(*out));
	/* "ID:CONTROLLERS:PATH" per line (cgroups(7)); v2's is "0::PATH" */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *c1, *c2;

		c1 = memchr(p, ':', (size_t)(le - p));
		c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;
		if (c2) {
			const char *path = c2 + 1;
			size_t pl = (size_t)(le - path);

			if (c1 - p == 1 && p[0] == '0' && c2 == c1 + 1) {
				if (!out->v2[0])
					(void)copy_path(path, pl, out->v2,
							sizeof(out->v2));
			} else if (has_controller(c1 + 1,
						  (size_t)(c2 - c1 - 1),
						  "cpu") &&
				   !out->v1_cpu[0]) {
				(void)copy_path(path, pl, out->v1_cpu,
						sizeof(out->v1_cpu));
			}
			if (c2 != c1 + 1 && has_controller(c1 + 1,
						  (size_t)(c2 - c1 - 1),
						  "memory") &&
				   !out->v1_memory[0]) {
				(void)copy_path(path, pl, out->v1_memory,
						sizeof(out->v1_memory));
			}
		}
		p = le + 1;
	}
	return out->v1_memory[0] || out->v1_cpu[0] || out->v2[0] ? 0
								 : -ENOENT;
}

/* The first number in the file dir/name: 0, 1 for "max", -ENOENT (no
 * file), -EINVAL (no number). */
static int
read_u64(const char *dir, const char *name, uint64_t *v)
{
	char path[1100], *buf, *end;
	size_t len;
	int e;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	e = proc_read(path, 128, &buf, &len);
	if (e < 0)
		return e;
	if (strncmp(buf, "max", 3) == 0) {
		free(buf);
		return 1;
	}
	errno = 0;
	*v = strtoull(buf, &end, 10);
	e = end == buf || errno ? -EINVAL : 0;
	free(buf);
	return e;
}

/* A v1 limit at or past this is "no limit" (the kernel's default is
 * PAGE_COUNTER_MAX pages, 2^63 - 4096 bytes on x86-64). */
#define V1_UNLIMITED (UINT64_C(1) << 62)

int
cgroup_dirs_at(const char *root, const char *buf, size_t len,
	       struct cgroup_dirs *out)
{
	struct cgroup_paths cg;
	char probe[1200];
	size_t i;
	int e;

	memset(out, 0, sizeof(*out));
	e = cgroup_parse(buf, len, &cg);
	if (e < 0)
		return e;
	/* the root cgroup is no memory cgroup: no limit, the host's usage */
	if (strcmp(cg.v1_memory, "/") == 0)
		cg.v1_memory[0] = '\0';
	if (strcmp(cg.v2, "/") == 0)
		cg.v2[0] = '\0';
	/* the memory controller is on v1 where both are mounted (hybrid) */
	if (cg.v1_memory[0]) {
		snprintf(out->mem, sizeof(out->mem), "%s/memory%s", root,
			 cg.v1_memory);
		snprintf(probe, sizeof(probe), "%s/memory.usage_in_bytes",
			 out->mem);
		if (access(probe, R_OK) < 0)
			out->mem[0] = '\0';
	}
	/* the cpu hierarchy is often co-mounted with cpuacct, with a
	 * "cpu" link to it; not always */
	for (i = 0; i < 2 && cg.v1_cpu[0] && strcmp(cg.v1_cpu, "/") != 0 &&
		    !out->cpu[0];
	     i++) {
		snprintf(out->cpu, sizeof(out->cpu), "%s/%s%s", root,
			 i ? "cpu,cpuacct" : "cpu", cg.v1_cpu);
		snprintf(probe, sizeof(probe), "%s/cpu.cfs_quota_us",
			 out->cpu);
		if (access(probe, R_OK) < 0)
			out->cpu[0] = '\0';
	}
	/* v2 at the root (unified), or beside v1 under unified/ (hybrid) */
	for (i = 0; i < 2 && cg.v2[0]; i++) {
		const char *sub = i ? "/unified" : "";

		snprintf(probe, sizeof(probe), "%s%s%s/memory.current", root,
			 sub, cg.v2);
		if (!out->mem[0] && access(probe, R_OK) == 0) {
			snprintf(out->mem, sizeof(out->mem), "%s%s%s", root,
				 sub, cg.v2);
			out->mem_v2 = true;
		}
		snprintf(probe, sizeof(probe), "%s%s%s/cpu.max", root, sub,
			 cg.v2);
		if (!out->cpu[0] && access(probe, R_OK) == 0) {
			snprintf(out->cpu, sizeof(out->cpu), "%s%s%s", root,
				 sub, cg.v2);
			out->cpu_v2 = true;
		}
	}
	return out->mem[0] || out->cpu[0] ? 0 : -ENOENT;
}

int
cgroup_dirs(pid_t pid, struct cgroup_dirs *out)
{
	char path[64], *buf;
	size_t len;
	int e;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	e = proc_read(path, 1 << 16, &buf, &len);
	if (e < 0)
		return e;
	e = cgroup_dirs_at(CGROUP_ROOT, buf, len, out);
	free(buf);
	return e;
}

int
cgroup_memory(const struct cgroup_dirs *d, uint64_t *usage, uint64_t *limit,
	      bool *has_limit)
{
	int e;

	if (!d->mem[0])
		return -ENOENT;
	if (!d->mem_v2) {
		if (read_u64(d->mem, "memory.usage_in_bytes", usage) != 0 ||
		    read_u64(d->mem, "memory.limit_in_bytes", limit) != 0)
			return -ENOENT;
		*has_limit = *limit < V1_UNLIMITED;
		return 0;
	}
	if (read_u64(d->mem, "memory.current", usage) != 0)
		return -ENOENT;
	/* "max", or no file (the root cgroup has none): no limit */
	e = read_u64(d->mem, "memory.max", limit);
	if (e < 0 && e != -ENOENT)
		return e;
	*has_limit = e == 0;
	return 0;
}

int
cgroup_key_value(const char *buf, size_t len, const char *key, uint64_t *v)
{
	size_t kl = strlen(key);
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		if ((size_t)(le - p) > kl + 1 && memcmp(p, key, kl) == 0 &&
		    p[kl] == ' ' && p[kl + 1] >= '0' && p[kl + 1] <= '9') {
			uint64_t x = 0;

			for (p += kl + 1; p < le && *p >= '0' && *p <= '9'; p++)
				x = x * 10 + (uint64_t)(*p - '0');
			*v = x;
			return 0;
		}
		p = le + 1;
	}
	return -ENOENT;
}

int
cgroup_oom_kills(const struct cgroup_dirs *d, uint64_t *n)
{
	char path[1200], *buf;
	size_t len;
	int e;

	if (!d->mem[0])
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/%s", d->mem,
		 d->mem_v2 ? "memory.events" : "memory.oom_control");
	e = proc_read(path, 4096, &buf, &len);
	if (e < 0)
		return e;
	e = cgroup_key_value(buf, len, "oom_kill", n);
	free(buf);
	return e;
}

int
cgroup_cpu_quota(const struct cgroup_dirs *d, double *cores)
{
	char path[1200], *buf;
	uint64_t quota, period;
	size_t len;
	int e;

	if (!d->cpu[0])
		return 1;
	if (!d->cpu_v2) {
		if (read_u64(d->cpu, "cpu.cfs_quota_us", &quota) != 0 ||
		    read_u64(d->cpu, "cpu.cfs_period_us", &period) != 0 ||
		    period == 0)
			return 1;	/* -1: none, which strtoull wraps */
		if (quota == 0 || quota > (UINT64_C(1) << 40))
			return 1;
		*cores = (double)quota / (double)period;
		return 0;
	}
	/* "QUOTA PERIOD" or "max PERIOD" */
	snprintf(path, sizeof(path), "%s/cpu.max", d->cpu);
	e = proc_read(path, 128, &buf, &len);
	if (e < 0)
		return 1;
	e = sscanf(buf, "%" SCNu64 " %" SCNu64, &quota, &period) == 2 &&
			    period > 0 && quota > 0
		    ? 0
		    : 1;
	free(buf);
	if (e == 0)
		*cores = (double)quota / (double)period;
	return e;
}

int
memory_cgroup(pid_t pid, uint64_t *usage, uint64_t *limit, bool *has_limit)
{
	struct cgroup_dirs d;
	int e = cgroup_dirs(pid, &d);

	if (e < 0)
		return e;
	return cgroup_memory(&d, usage, limit, has_limit);
}
