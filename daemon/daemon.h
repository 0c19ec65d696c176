/* daemon.h - profd's daemon: configuration, /proc readers, the per-target
 * sampler and its sessions, aggregation, and export to pprof.
 *
 * Threads: each target has one sampler thread that owns every ptrace
 * request, the target's thread table and its unwinder. civetweb workers
 * call target_profile() and friends, which post a session to the sampler
 * and block until it is finished; they never call ptrace.
 */
#ifndef PROFD_DAEMON_H
#define PROFD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http/http.h"
#include "symbolize/symbolize.h"

#define PROFD_ERRLEN	  256
#define PROFD_MAX_FRAMES  256		/* deeper stacks end in [truncated] */
#define PROFD_MAX_SESSIONS 16		/* concurrent windows per target */

/* ---- configuration (config.c) ----------------------------------------- */

#define PROFD_MAX_PIDS	  64		/* --pid given */
#define PROFD_MAX_MATCH	  16		/* --match given */

struct config {
	pid_t pids[PROFD_MAX_PIDS];	/* --pid, repeatable */
	size_t npids;
	const char *match[PROFD_MAX_MATCH];	/* --match REGEX; argv's */
	size_t nmatch;
	bool allow_any_pid;
	unsigned max_targets;
	unsigned max_sessions;		/* windows open at once, in all */
	char auth_token_file[512];
	char tls_cert[512], tls_key[512];
	char listen[128];	/* civetweb syntax: "127.0.0.1:8005", "8005" */
	unsigned hz;		/* default sampling rate */
	unsigned max_hz;
	unsigned max_seconds;
	unsigned stack_bytes;	/* stack copied per sample */
	unsigned max_batch;	/* threads stopped at once */
	unsigned stop_budget_us; /* summed stop time per tick */
	bool attach_window;	/* --attach=window */
	int rt_priority;	/* --rt-priority */
	int verbosity;		/* LOG_LVL_* */
	bool help, version;
	char debuginfod[1024];	/* space-separated URLs; "" when off */
	unsigned debuginfod_timeout;	/* seconds */
	uint64_t debuginfod_max_size;	/* bytes; 0: no limit */
	char debuginfod_cache[512];	/* set when debuginfod is on */
	char runtime_dir[512];	/* the guardian's record; "" none */
	bool no_guardian;	/* --no-guardian */
};

/* Parse argv. Returns 0, or -EINVAL with err set to a one-line message
 * (the caller prints it with the synopsis and exits 64). */
int config_parse(struct config *c, int argc, char **argv, char *err,
		 size_t errlen);

/* Translate --listen "[HOST]:PORT" into civetweb's listening_ports syntax:
 * ":8005" -> "8005" (every IPv4 interface), "[::1]:8005" unchanged,
 * "localhost:8005" -> "127.0.0.1:8005". -EINVAL on a bad address. */
int config_listen(const char *arg, char *out, size_t outlen);

extern const char config_usage[];	/* synopsis + options, for --help */
extern const char config_synopsis[];

/* ---- /proc (proc.c) ---------------------------------------------------- */

struct proc_stat {
	char state;		/* R S D T t Z X I ... */
	char comm[16];
	pid_t ppid;
	uint64_t starttime;	/* clock ticks after boot; identifies a
				   thread together with its tid */
	int processor;		/* CPU it last ran on, -1 if not given */
};

/* Parse /proc/PID/task/TID/stat text (pure; the comm may hold spaces and
 * parentheses). -EINVAL on garbage. */
int proc_parse_stat(const char *buf, size_t len, struct proc_stat *out);

/* Parse schedstat: on-CPU ns, run-queue wait ns, timeslices. */
int proc_parse_schedstat(const char *buf, size_t len, uint64_t *cpu_ns,
			 uint64_t *wait_ns, uint64_t *slices);

/* TracerPid of pid (0 when untraced), or -errno. */
int proc_tracer(pid_t pid);

/* Whether tid, a TracerPid, is a thread of profd itself: TracerPid names
 * the tracing thread (the sampler), not its process. */
bool proc_is_self(pid_t tid);

/* Read a whole /proc file into a NUL-terminated malloc'd buffer (at most
 * max bytes). -errno. */
int proc_read(const char *path, size_t max, char **buf, size_t *len);

/* The value of "KEY:" in the NUL-terminated text of a /proc status file,
 * blanks after the colon skipped, cut to vlen - 1 bytes (pure). -ENOENT
 * when absent. Exposed for the fuzz harness (tests/fuzz/fuzz_proc.c). */
int proc_status_value(const char *buf, const char *key, char *val,
		      size_t vlen);

/* Whether profd may trace pid, without stopping it: the process exists
 * (-ESRCH), nobody else traces it (-EBUSY), and the ptrace access check
 * passes (-EPERM; Yama and capabilities are named in err); -EMFILE when
 * profd is out of file descriptors. On failure err says what to do. */
int proc_check_traceable(pid_t pid, char *err, size_t errlen);

/* /proc/PID/task/TID/syscall of a thread that is not running: the system
 * call it is blocked in (nr -1 when blocked elsewhere, e.g. a page fault)
 * and its user stack pointer and PC. */
struct proc_syscall {
	long nr;
	uint64_t args[6];
	uint64_t sp, pc;
};

/* Parse the syscall file (pure). -EAGAIN for "running", -EINVAL on
 * garbage. */
int proc_parse_syscall(const char *buf, size_t len, struct proc_syscall *out);

/* Name of an x86-64 system call number, or NULL. */
const char *proc_syscall_name(long nr);

/* The word for a state letter: running, sleeping, disk, stopped, traced,
 * zombie, dead, idle, other. */
const char *proc_state_word(char state);

/* se.exec_start of /proc/PID/task/TID/sched, in ms of the scheduler's
 * clock (only with CONFIG_SCHED_DEBUG). -ENOENT when absent. */
int proc_sched_exec_start(pid_t pid, pid_t tid, double *ms);

/* The scheduler clock of CPU `cpu` now, in ms, as se.exec_start counts
 * it: the calling thread moves to that CPU and reads its own exec_start
 * right after sched_yield() (each CPU's task clock runs apart from the
 * others, by the interrupt and steal time it subtracted). The calling
 * thread's CPU affinity is changed: call it on a thread of its own.
 * -ENOENT without CONFIG_SCHED_DEBUG. */
int proc_sched_clock_now(int cpu, double *ms);

/* Explain an EPERM from PTRACE_SEIZE on pid into err. */
void proc_explain_eperm(pid_t pid, char *err, size_t errlen);

/* Say in err that profd is out of file descriptors, with its limit and
 * what to do (for -EMFILE/-ENFILE anywhere). */
void proc_explain_nofile(char *err, size_t errlen);

/* ---- faults.c ----------------------------------------------------------- */

/* Install the SIGBUS handler that turns a fault on a truncated mapped file
 * into a page of zeros (see faults.c). Main thread, before any thread. */
void faults_install(void);

/* Pages replaced so far. Any thread. */
uint64_t faults_patched(void);

/* End the process in a short while whatever is still running: called
 * once, when shutdown starts. */
void faults_shutdown_deadline(void);

/* ---- aggregation (profile.c) ------------------------------------------- */

/* Stacks of one window, aggregated by (thread, PCs). */
struct agg_entry {
	pid_t tid;
	char state;		/* thread state letter, 0 when not a label */
	uint32_t n;		/* frames */
	int64_t count;		/* samples */
	int64_t value;		/* cpu or wall ns */
	uint64_t hash;
	uint64_t *pcs;		/* n PCs, leaf first; 0 = [truncated] */
	struct agg_entry *next;	/* hash chain */
};

struct agg_thread {
	pid_t tid;
	char name[16];
};

struct agg {
	struct agg_entry **buckets;
	size_t nbuckets, nentries, max_entries;
	struct agg_entry **list;	/* insertion order, for export */
	size_t nlist, caplist;
	struct agg_thread *threads;	/* names by tid */
	size_t nthreads, capthreads;
	uint64_t samples, dropped;
};

struct agg *agg_new(size_t max_entries);
void agg_free(struct agg *a);
/* Add count/value to the (tid, state, pcs) entry. When max_entries
 * distinct stacks are reached, new stacks are counted in a.dropped.
 * -ENOMEM. */
int agg_add(struct agg *a, pid_t tid, const char *thread_name, char state,
	    const uint64_t *pcs, size_t n, int64_t count, int64_t value);
const char *agg_thread_name(const struct agg *a, pid_t tid);

/* ---- targets and sessions (target.c, sampler.c) ------------------------ */

#include "daemon/target.h"

/* ---- text answers (textbuf.c) ------------------------------------------- */

/* A growing text buffer, zero-initialized; after an allocation failure it
 * stays failed (oom) and the caller reports it once. s is malloc'd. */
struct textbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

void textbuf_printf(struct textbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- symbolizing while sampling (warmer.c) ------------------------------ */

struct warmer;

/* A thread that resolves addresses into symbolize/'s cache. NULL + errno. */
struct warmer *warmer_new(void);

/* Queue (img, vaddr); takes over the caller's reference to img. Never
 * blocks: a full queue drops the item (the export resolves it later). */
void warmer_push(struct warmer *w, struct elfimg *img, uint64_t vaddr);

/* Stop the thread, drop what is queued. Accepts NULL. */
void warmer_free(struct warmer *w);

/* ---- metrics (metrics.c) ------------------------------------------------ */

/* Prometheus text for /metrics. *out is malloc'd. -ENOMEM. */
int metrics_text(struct target **targets, size_t n, char **out, size_t *len);

struct registry_info;

/* JSON for /targets: pid, comm, cmdline, exe, build_id, origin, match,
 * since, alive of each target. *out is malloc'd. -ENOMEM. */
int targets_json(struct target **ts, const struct registry_info *info,
		 size_t n, char **out, size_t *len);

/* Go's /symbol: names for runtime addresses, innermost function first. */
void target_symbol(struct target *t, const uint64_t *addrs, size_t n,
		   char **names, struct http_reply *r);

/* The command line, NUL-separated, without the trailing NUL. */
void target_cmdline(struct target *t, struct http_reply *r);

/* ---- export (export.c) ------------------------------------------------- */

/* The executable mappings a window's PCs are resolved against: copies of
 * the target's modules, holding image references. */
struct modsnap {
	struct modsnap_ent {
		uint64_t start, end, offset, bias;
		char *path;
		struct elfimg *img;	/* referenced, may be NULL */
		bool main, anon, vdso;
	} *v;
	size_t n;
	struct perfmap *jit;	/* names for anonymous code; referenced */
};

int modsnap_take(struct modsnap *ms, const struct space *sp);
void modsnap_free(struct modsnap *ms);

struct export_info {
	const char *sample_type, *sample_unit;	/* "cpu", "nanoseconds" */
	int64_t period;
	int64_t time_nanos, duration_nanos;
	const char *comment;			/* NULL or a note */
	bool state_labels;			/* label samples with state */
};

/* Build the pprof profile of a window: symbolizes every distinct PC once
 * (symbolize/ caches per build-id). Caller frees with pprof_free(). */
struct pprof *export_pprof(const struct agg *a, const struct modsnap *ms,
			   const struct export_info *info, char *err,
			   size_t errlen);

/* One thread of a thread dump. */
struct dump_thread {
	pid_t tid;
	char comm[16];
	char state;
	long syscall_nr;	/* -1: not in a system call */
	uint64_t syscall_arg0;
	double idle_s;		/* how long it has not run; < 0: unknown */
	int cpu;		/* CPU it last ran on, -1 unknown */
	double exec_start_ms;	/* when it last ran (scheduler clock of
				   that CPU), < 0 unknown */
	uint64_t *pcs;		/* leaf first, as from the unwinder */
	size_t n;
	bool partial;
};

struct dump_info {
	pid_t pid;
	const struct dump_thread *threads;
	size_t n;
	bool goroutine;		/* /debug/pprof/goroutine names */
	int64_t time_nanos;
	size_t unreadable;	/* threads profd had no fd to read: their
				   state and stack may be stale */
};

/* The dump as a pprof profile: threads/count (or goroutine/count), one
 * sample per distinct stack, value = number of threads. */
struct pprof *export_threads_pprof(const struct dump_info *di,
				   const struct modsnap *ms, char *err,
				   size_t errlen);

/* The dump as Go's text: debug 1 (aggregated, with a memory map section
 * go tool pprof reads) or 2 (one block per thread). *text is malloc'd. */
int export_threads_text(const struct dump_info *di, const struct modsnap *ms,
			int debug, char **text, size_t *len, char *err,
			size_t errlen);

/* ---- the processes profd serves (registry.c) --------------------------- */

enum reg_origin {
	REG_PID,	/* --pid */
	REG_MATCH,	/* --match */
	REG_ON_DEMAND,	/* /pid/<PID>/ under --allow-any-pid */
};

struct registry_info {
	enum reg_origin origin;
	int64_t since;		/* wall ns when profd took it on */
	const char *rule;	/* the --match rule, or NULL */
};

struct registry;

struct registry *registry_new(const struct target_opts *o, bool any_pid,
			      size_t max_targets);
/* A --match rule: POSIX extended regex against a process's command name
 * and its command line. -EINVAL with err filled. */
int registry_add_rule(struct registry *r, const char *re, char *err,
		      size_t errlen);
/* A --pid target, checked and started now. -errno with err filled. */
int registry_add_pid(struct registry *r, pid_t pid, char *err,
		     size_t errlen);
/* First scan, then the watcher thread (with --match rules, and with
 * --allow-any-pid to drop targets that exited). */
int registry_start(struct registry *r);
size_t registry_count(struct registry *r);
/* The target for pid (0: the only one), with a reference the caller drops
 * with registry_put(); NULL with reply's status and msg filled. */
struct target *registry_get(struct registry *r, pid_t pid,
			    struct http_reply *reply);
void registry_put(struct registry *r, struct target *t);
/* Up to max listed targets, each with a reference (registry_put each). */
size_t registry_snapshot(struct registry *r, struct target **out, size_t max,
			 struct registry_info *info);
/* Over every registry: --allow-any-pid targets let go to make room for
 * another under --max-targets (least recently used first), and those let
 * go because nobody had asked for them in a while. */
void registry_counts(uint64_t *evicted, uint64_t *idle_released);
/* Stop the watcher and every sampler (waiting workers wake up). */
void registry_stop(struct registry *r);
/* registry_stop(), then free every target. Accepts NULL. */
void registry_free(struct registry *r);

#endif /* PROFD_DAEMON_H */
