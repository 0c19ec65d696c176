/* memory.h - a target's memory, as profd reads it from /proc and the
 * cgroup file system without stopping anything (memory.c): the memory
 * view (/debug/pprof/memory), the resident set and how fast it grows, and
 * the memory cgroup's usage and limit (/metrics).
 *
 * Ownership: what memory_view puts in the reply is the server's (see
 * struct http_reply); a struct rss_trend is embedded in its owner (struct
 * target), set up with rss_trend_init and torn down with rss_trend_destroy.
 * Threads: any thread (HTTP workers, /metrics); rss_trend has its own
 * lock. Never calls ptrace.
 * Errors: -errno (-ESRCH: the process is gone), or the reply's status and
 * message; the parser (cgroup_parse) is pure. Never logs.
 */
#ifndef PROFD_DAEMON_MEMORY_H
#define PROFD_DAEMON_MEMORY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http/http.h"

/* Bytes of /proc/PID/smaps read at most (about 60,000 mappings); past it
 * the view says it is partial. */
#define SMAPS_READ_MAX (64u << 20)

/* The memory view of pid into r: a gzip pprof profile (smaps.h), or 404
 * (gone), 403 (not allowed to read it), 503 (out of memory). comm names
 * the process in the profile's comment. */
void memory_view(pid_t pid, const char *comm, struct http_reply *r);

/* Resident set size of pid (VmRSS of /proc/PID/status), bytes. */
int memory_rss(pid_t pid, uint64_t *bytes);

/* RSS readings kept to tell how fast it grows. */
#define RSS_TREND_N 16

struct rss_trend {
	pthread_mutex_t mu;
	struct {
		uint64_t mono_ns, rss;
	} v[RSS_TREND_N];
	unsigned n, next;
};

void rss_trend_init(struct rss_trend *tr);
void rss_trend_destroy(struct rss_trend *tr);

/* Record rss read at mono_ns (kept when the last kept reading is at
 * least 2 s older) and return, in *rate, its growth in bytes per second
 * since the newest kept reading at least 10 s older (or else the oldest
 * at least 1 s older): false when there is none yet. */
bool rss_trend_add(struct rss_trend *tr, uint64_t mono_ns, uint64_t rss,
		   double *rate);

/* Where a process sits in the memory cgroup hierarchies, from the text of
 * /proc/PID/cgroup: the v1 memory controller's path ("N:...memory...:
 * PATH"), and the v2 unified path ("0::PATH"); "" for none. */
struct cgroup_paths {
	char v1_memory[512];
	char v1_cpu[512];	/* the v1 cpu controller's */
	char v2[512];
};

/* Parse /proc/PID/cgroup text buf[0..len) (pure). A path too long, or
 * holding a "/../" component or anything below a blank, is left out.
 * 0, or -ENOENT when no path was found. */
int cgroup_parse(const char *buf, size_t len, struct cgroup_paths *out);

/* The memory cgroup of pid, as profd sees it: usage and limit in bytes;
 * *has_limit false for none ("max" in v2, a value near 2^63 in v1).
 * Looked up under /sys/fs/cgroup (v1: /sys/fs/cgroup/memory) with the
 * path /proc/PID/cgroup gives profd, which is relative to profd's own
 * cgroup namespace: a process outside it (a path starting "/..") has no
 * figures. -ENOENT when the process is in no memory cgroup profd can
 * read. */
int memory_cgroup(pid_t pid, uint64_t *usage, uint64_t *limit,
		  bool *has_limit);

/* The cgroup directories of a process, resolved once (cgroup_dirs) so
 * that they can be read after it has exited (triggers, watch.c). "" when
 * none. */
struct cgroup_dirs {
	char mem[1100];
	bool mem_v2;
	char cpu[1100];
	bool cpu_v2;
};

/* Where the cgroup file systems are mounted: v1 hierarchies below it
 * (memory/, cpu/), v2 at it or, beside v1 (hybrid), at unified/. */
#define CGROUP_ROOT "/sys/fs/cgroup"

/* Resolve pid's memory and CPU cgroup directories below CGROUP_ROOT. 0,
 * -ENOENT (in none profd can read), -errno. */
int cgroup_dirs(pid_t pid, struct cgroup_dirs *out);

/* cgroup_dirs for the text of /proc/PID/cgroup buf[0..len) and the
 * mount point root (a test's fake tree): a directory is kept only when
 * its controller's file is readable there (v1 memory.usage_in_bytes,
 * cpu.cfs_quota_us; v2 memory.current, cpu.max); the memory controller
 * on v1 wins in a hybrid. Reads only the file system. 0, -ENOENT. */
int cgroup_dirs_at(const char *root, const char *buf, size_t len,
		   struct cgroup_dirs *out);

/* Usage and limit of the memory cgroup (see memory_cgroup): 0; -ENOENT
 * when usage or (v1) the limit is missing or not a number; -EINVAL for
 * a v2 memory.max that is neither a number nor "max" (a missing one is
 * no limit). */
int cgroup_memory(const struct cgroup_dirs *d, uint64_t *usage,
		  uint64_t *limit, bool *has_limit);

/* The memory cgroup's count of OOM kills: v2 memory.events 'oom_kill',
 * v1 memory.oom_control 'oom_kill'. 0, -ENOENT. */
int cgroup_oom_kills(const struct cgroup_dirs *d, uint64_t *n);

/* The CPU quota in cores (v2 cpu.max, v1 cpu.cfs_quota_us /
 * cpu.cfs_period_us): 0 with *cores set, 1 when there is none ("max",
 * v1's -1, a missing or unreadable file, garbage, a zero period). */
int cgroup_cpu_quota(const struct cgroup_dirs *d, double *cores);

/* The value of the line "key N" in text buf[0..len) (pure). 0, -ENOENT. */
int cgroup_key_value(const char *buf, size_t len, const char *key,
		     uint64_t *v);

#endif /* PROFD_DAEMON_MEMORY_H */
