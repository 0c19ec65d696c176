/* proc.h - what profd reads from /proc without stopping anything (proc.c):
 * thread state and CPU time, tracer, system call, permission checks with
 * messages that say what to do.
 *
 * Threads: every function may be called from any thread, except
 * proc_sched_clock_now() (see there). Errors: -errno, or the code given
 * per function; functions that take err fill it with a message for the
 * user. Never logs. The parsers (proc_parse_*, proc_status_value) are
 * pure and are fuzzed (tests/fuzz/fuzz_proc.c).
 */
#ifndef PROFD_PROC_H
#define PROFD_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_stat {
	char state;		/* R S D T t Z X I ... */
	char comm[16];
	pid_t ppid;
	uint64_t starttime;	/* clock ticks after boot; identifies a
				   thread together with its tid */
	int processor;		/* CPU it last ran on, -1 if not given */
	uint64_t minflt, majflt;	/* page faults so far (fields 10,
					   12): minor, and those that read */
};

/* Parse /proc/PID/task/TID/stat text (pure; the comm may hold spaces and
 * parentheses). -EINVAL on garbage. */
int proc_parse_stat(const char *buf, size_t len, struct proc_stat *out);

/* Parse schedstat: on-CPU ns, run-queue wait ns, timeslices (pure).
 * -EINVAL on garbage. */
int proc_parse_schedstat(const char *buf, size_t len, uint64_t *cpu_ns,
			 uint64_t *wait_ns, uint64_t *slices);

/* TracerPid of pid (0 when untraced), or -errno. */
int proc_tracer(pid_t pid);

/* Whether tid, a TracerPid, is a thread of profd itself: TracerPid names
 * the tracing thread (the sampler), not its process. */
bool proc_is_self(pid_t tid);

/* Read a whole /proc file into a NUL-terminated malloc'd buffer (at most
 * max bytes) that the caller frees. -errno, *buf untouched then. */
int proc_read(const char *path, size_t max, char **buf, size_t *len);

/* The value of "KEY:" in the NUL-terminated text of a /proc status file,
 * blanks after the colon skipped, cut to vlen - 1 bytes (pure). -ENOENT
 * when absent. Exposed for the fuzz harness (tests/fuzz/fuzz_proc.c). */
int proc_status_value(const char *buf, const char *key, char *val,
		      size_t vlen);

/* The value of "KEY:" in /proc/PID/status (proc_status_value). -ESRCH
 * when the process is gone, -ENOENT when the key is absent, -errno. */
int proc_status_field(pid_t pid, const char *key, char *val, size_t vlen);

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

/* Name of an x86-64 system call number (static string), or NULL. */
const char *proc_syscall_name(long nr);

/* The word for a state letter (static string): running, sleeping, disk,
 * stopped, traced, zombie, dead, idle, other. */
const char *proc_state_word(char state);

/* se.exec_start of /proc/PID/task/TID/sched, in ms of the scheduler's
 * clock (only with CONFIG_SCHED_DEBUG). -ENOENT when absent, -errno. */
int proc_sched_exec_start(pid_t pid, pid_t tid, double *ms);

/* The scheduler clock of CPU `cpu` now, in ms, as se.exec_start counts
 * it: the calling thread moves to that CPU and reads its own exec_start
 * right after sched_yield() (each CPU's task clock runs apart from the
 * others, by the interrupt and steal time it subtracted). The calling
 * thread's CPU affinity is changed: call it on a thread of its own.
 * -ENOENT without CONFIG_SCHED_DEBUG, -errno. */
int proc_sched_clock_now(int cpu, double *ms);

/* Explain an EPERM from PTRACE_SEIZE on pid into err (always filled). */
void proc_explain_eperm(pid_t pid, char *err, size_t errlen);

/* Say in err that profd is out of file descriptors, with its limit and
 * what to do (for -EMFILE/-ENFILE anywhere). Always fills err. */
void proc_explain_nofile(char *err, size_t errlen);

/* Of process pid, from /proc/PID/stat: its state, the CPU time all its
 * threads used (utime + stime, ns) and, of a zombie, its exit status
 * (field 52, as wait(2) reports it; -1 when not given). 0, -EINVAL,
 * -errno. */
int proc_process_stat(pid_t pid, char *state, uint64_t *cpu_ns,
		      int *exit_code);

/* Resident set of pid (the second field of /proc/PID/statm, in pages),
 * bytes: cheaper to read than VmRSS of status. 0, -EINVAL, -errno. */
int proc_statm_rss(pid_t pid, uint64_t *bytes);

#endif /* PROFD_PROC_H */
