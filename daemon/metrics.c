/* metrics.c - /metrics in Prometheus' text format: what the sampler did
 * (samples, stops and how long they lasted, ticks and what they cost,
 * truncated stacks, cache reuse) and what profd itself costs (CPU time,
 * memory), per target where it applies.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/faults.h"
#include "daemon/guardian.h"
#include "daemon/memory.h"
#include "daemon/metrics.h"
#include "daemon/proc.h"
#include "daemon/registry.h"
#include "daemon/snapshot.h"
#include "daemon/target.h"
#include "daemon/textbuf.h"
#include "symbolize/symbolize.h"

static void
counter(struct textbuf *b, const char *name, const char *help, pid_t pid,
	uint64_t v)
{
	textbuf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s{pid=\"%d\"} %" PRIu64
		       "\n",
		       name, help, name, name, (int)pid, v);
}

/* A counter of seconds. */
static void
counter_f(struct textbuf *b, const char *name, const char *help, pid_t pid,
	  double v)
{
	textbuf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s{pid=\"%d\"} %.9f\n",
		       name, help, name, name, (int)pid, v);
}

static void
histogram(struct textbuf *b, const char *name, const char *help, pid_t pid,
	  const struct hist *h)
{
	const uint64_t *buckets = h->count;
	uint64_t sum_ns = h->sum_ns, n = h->n, max_ns = h->max_ns;
	uint64_t cum = 0;
	size_t i;

	textbuf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (i = 0; i < HIST_BUCKETS; i++) {
		cum += buckets[i];
		textbuf_printf(b, "%s_bucket{pid=\"%d\",le=\"%g\"} %" PRIu64 "\n",
			       name, (int)pid, hist_bounds_us[i] / 1e6, cum);
	}
	cum += buckets[HIST_BUCKETS];
	textbuf_printf(b, "%s_bucket{pid=\"%d\",le=\"+Inf\"} %" PRIu64 "\n", name,
		       (int)pid, cum);
	textbuf_printf(b, "%s_sum{pid=\"%d\"} %.9f\n", name, (int)pid,
		       (double)sum_ns / 1e9);
	textbuf_printf(b, "%s_count{pid=\"%d\"} %" PRIu64 "\n", name, (int)pid, n);
	textbuf_printf(b, "# HELP %s_max Longest so far, in seconds.\n"
		       "# TYPE %s_max gauge\n%s_max{pid=\"%d\"} %.9f\n",
		       name, name, name, (int)pid, (double)max_ns / 1e9);
}

/* resident and peak resident set size from /proc/self/status, bytes */
static void
memory(uint64_t *rss, uint64_t *hwm)
{
	char *buf, *p;
	size_t len;

	*rss = *hwm = 0;
	if (proc_read("/proc/self/status", 1 << 16, &buf, &len) < 0)
		return;
	if ((p = strstr(buf, "VmRSS:")))
		*rss = strtoull(p + 6, NULL, 10) * 1024;
	if ((p = strstr(buf, "VmHWM:")))
		*hwm = strtoull(p + 6, NULL, 10) * 1024;
	free(buf);
}

/* The guardian (guardian.c): whether it watches, what it cost, and the
 * kills recorded in the runtime directory by this profd's predecessors. */
static void
guardian_metrics(struct textbuf *b)
{
	struct guardian_status g;

	guardian_status(&g);
	textbuf_printf(b,
		       "# HELP profd_guardian_up 1 while the guardian process "
		       "watches profd (0: --no-guardian, or it died or "
		       "stopped).\n"
		       "# TYPE profd_guardian_up gauge\n"
		       "profd_guardian_up %d\n"
		       "# HELP profd_guardian_cpu_seconds_total CPU time the "
		       "guardian process used.\n"
		       "# TYPE profd_guardian_cpu_seconds_total counter\n"
		       "profd_guardian_cpu_seconds_total %.6f\n"
		       "# HELP profd_guardian_kills_total Times a guardian "
		       "killed a profd that held target threads while "
		       "stopped, traced or unable to run (recorded in the "
		       "runtime directory, so counted across restarts).\n"
		       "# TYPE profd_guardian_kills_total counter\n"
		       "profd_guardian_kills_total %" PRIu64 "\n"
		       "# HELP profd_guardian_last_kill_timestamp_seconds When "
		       "the last of them happened (Unix time), 0 never.\n"
		       "# TYPE profd_guardian_last_kill_timestamp_seconds "
		       "gauge\n"
		       "profd_guardian_last_kill_timestamp_seconds %" PRId64
		       "\n",
		       g.up ? 1 : 0, g.cpu_seconds, g.kills, g.last_kill);
}

/* What profd itself costs, and how many processes it serves. */
static void
process_metrics(struct textbuf *b, size_t ntargets)
{
	uint64_t rss, hwm;
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	memory(&rss, &hwm);
	textbuf_printf(b,
		       "# HELP profd_cpu_seconds_total CPU time profd used, all "
		       "threads.\n# TYPE profd_cpu_seconds_total counter\n"
		       "profd_cpu_seconds_total %.6f\n",
		       (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	textbuf_printf(b,
		       "# HELP profd_resident_memory_bytes Resident set size.\n"
		       "# TYPE profd_resident_memory_bytes gauge\n"
		       "profd_resident_memory_bytes %" PRIu64 "\n"
		       "# HELP profd_peak_resident_memory_bytes Largest resident set "
		       "size so far.\n"
		       "# TYPE profd_peak_resident_memory_bytes gauge\n"
		       "profd_peak_resident_memory_bytes %" PRIu64 "\n",
		       rss, hwm);
	textbuf_printf(b, "# HELP profd_targets Processes profd serves.\n"
		       "# TYPE profd_targets gauge\nprofd_targets %zu\n",
		       ntargets);
}

/* Over every target: targets let go, windows open and cancelled. */
static void
registry_metrics(struct textbuf *b)
{
	uint64_t wopen, wcancelled, evicted, idle;

	registry_counts(&evicted, &idle);
	textbuf_printf(b,
		       "# HELP profd_targets_evicted_total On-demand targets let "
		       "go to make room for another (--max-targets), least "
		       "recently used first.\n"
		       "# TYPE profd_targets_evicted_total counter\n"
		       "profd_targets_evicted_total %" PRIu64 "\n"
		       "# HELP profd_targets_idle_released_total On-demand "
		       "targets let go because nobody asked for them in a "
		       "while.\n"
		       "# TYPE profd_targets_idle_released_total counter\n"
		       "profd_targets_idle_released_total %" PRIu64 "\n",
		       evicted, idle);
	target_window_counts(&wopen, &wcancelled);
	textbuf_printf(b,
		       "# HELP profd_windows_open Profile windows and thread "
		       "dumps under way, all targets.\n"
		       "# TYPE profd_windows_open gauge\n"
		       "profd_windows_open %" PRIu64 "\n"
		       "# HELP profd_windows_cancelled_total Profile windows "
		       "cancelled because their client closed its "
		       "connection.\n"
		       "# TYPE profd_windows_cancelled_total counter\n"
		       "profd_windows_cancelled_total %" PRIu64 "\n",
		       wopen, wcancelled);
}

static void
gauge(struct textbuf *b, const char *name, const char *help, pid_t pid,
      double v)
{
	textbuf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s{pid=\"%d\"} %.0f\n",
		       name, help, name, name, (int)pid, v);
}

/* The target's memory, read now (memory.c): RSS, its growth over about
 * the last 10 s of /metrics readings, and its memory cgroup's usage and
 * limit. A figure profd cannot read is left out, not given as 0. */
static void
target_memory_metrics(struct textbuf *b, struct target *t)
{
	pid_t pid = target_pid(t);
	uint64_t rss, usage, limit;
	bool has_limit;
	double rate;

	/* an exited target's PID may be another process's by now */
	if (!target_poll(t))
		return;
	if (memory_rss(pid, &rss) == 0) {
		gauge(b, "profd_target_rss_bytes",
		      "Resident set size of the process (VmRSS).", pid,
		      (double)rss);
		if (target_rss_rate(t, rss, &rate))
			gauge(b, "profd_target_rss_growth_bytes_per_second",
			      "How fast the resident set grew over about the "
			      "last 10 s of /metrics readings (negative: it "
			      "shrank).",
			      pid, rate);
	}
	if (memory_cgroup(pid, &usage, &limit, &has_limit) == 0) {
		gauge(b, "profd_target_cgroup_memory_usage_bytes",
		      "Memory charged to the process's memory cgroup "
		      "(memory.current, v1 memory.usage_in_bytes).",
		      pid, (double)usage);
		if (has_limit)
			gauge(b, "profd_target_cgroup_memory_limit_bytes",
			      "Memory limit of the process's memory cgroup "
			      "(memory.max, v1 memory.limit_in_bytes).",
			      pid, (double)limit);
	}
}

/* Continuous mode's memory bound (history.h): what the history holds
 * against its budget, how far back it reaches, and the buckets dropped
 * to stay within it. */
static void
history_memory_metrics(struct textbuf *b, pid_t pid,
		       const struct target_stats *st)
{
	gauge(b, "profd_history_bytes",
	      "Memory the history's buckets and ring hold (their stacks, "
	      "index and figures), bytes.",
	      pid, (double)st->history_bytes);
	gauge(b, "profd_history_budget_bytes",
	      "The bound of profd_history_bytes (--history-memory).", pid,
	      (double)st->history_budget);
	textbuf_printf(b,
		       "# HELP profd_history_oldest_seconds How far back the "
		       "history reaches now: the age of its oldest bucket's "
		       "start.\n"
		       "# TYPE profd_history_oldest_seconds gauge\n"
		       "profd_history_oldest_seconds{pid=\"%d\"} %.3f\n",
		       (int)pid, st->history_oldest_s);
	counter(b, "profd_history_buckets_evicted_total",
		"History buckets dropped to stay within --history-memory "
		"(not for age).",
		pid, st->history_evicted);
}

/* Every per-target series, labelled with the target's pid: the one list
 * of what the sampler counts (struct target_stats). */
static void
target_metrics(struct textbuf *b, struct target *t)
{
	pid_t pid = target_pid(t);
	struct target_stats st;
	const struct sampler_stats *c = &st.sampler;

	target_stats(t, &st);
	textbuf_printf(b,
		       "# HELP profd_target_up 1 while the process runs.\n"
		       "# TYPE profd_target_up gauge\n"
		       "profd_target_up{pid=\"%d\"} %d\n",
		       (int)pid, target_alive(t) ? 1 : 0);
	target_memory_metrics(b, t);
	textbuf_printf(b,
		       "# HELP profd_windows_active Profile windows open.\n"
		       "# TYPE profd_windows_active gauge\n"
		       "profd_windows_active{pid=\"%d\"} %u\n",
		       (int)pid, st.windows_active);
	if (st.history)
		textbuf_printf(b,
			       "# HELP profd_history_buckets Time buckets "
			       "continuous mode holds.\n"
			       "# TYPE profd_history_buckets gauge\n"
			       "profd_history_buckets{pid=\"%d\"} %" PRIu64 "\n"
			       "# HELP profd_history_stacks Distinct stacks "
			       "in them, CPU and wall.\n"
			       "# TYPE profd_history_stacks gauge\n"
			       "profd_history_stacks{pid=\"%d\"} %" PRIu64
			       "\n",
			       (int)pid, st.history_buckets, (int)pid,
			       st.history_stacks);
	if (st.triggers)
		counter(b, "profd_triggers_checked_total",
			"Times the --trigger conditions were checked against "
			"the process (about once a second).",
			pid, c->triggers_checked);
	if (st.history)
		history_memory_metrics(b, pid, &st);
	counter(b, "profd_samples_total",
		"Stack samples added to windows.", pid, c->samples);
	counter(b, "profd_stops_total",
		"Threads stopped with ptrace for a sample.", pid,
		c->stops);
	histogram(b, "profd_stop_seconds",
		  "Time a thread stayed stopped: from its stop being "
		  "reported to its release.",
		  pid, &c->stop);
	histogram(b, "profd_interrupt_seconds",
		  "From PTRACE_INTERRUPT to the stop being reported "
		  "(the thread runs meanwhile).",
		  pid, &c->interrupt);
	counter(b, "profd_ticks_total", "Sampling ticks.", pid,
		c->ticks);
	textbuf_printf(b,
		       "# HELP profd_tick_seconds_sum Sampler wall time "
		       "spent in ticks.\n"
		       "# TYPE profd_tick_seconds_sum counter\n"
		       "profd_tick_seconds_sum{pid=\"%d\"} %.9f\n"
		       "profd_tick_seconds_count{pid=\"%d\"} %" PRIu64 "\n",
		       (int)pid, (double)c->tick_ns / 1e9, (int)pid,
		       c->ticks);
	textbuf_printf(b,
		       "# HELP profd_tick_cpu_seconds_total Sampler CPU time "
		       "spent in ticks.\n"
		       "# TYPE profd_tick_cpu_seconds_total counter\n"
		       "profd_tick_cpu_seconds_total{pid=\"%d\"} %.9f\n",
		       (int)pid, (double)c->tick_cpu_ns / 1e9);
	counter(b, "profd_truncated_stacks_total",
		"Stacks whose unwinding stopped early.", pid,
		c->truncated);
	counter(b, "profd_unwind_failures_total",
		"Snapshots that could not be unwound at all.", pid,
		c->unwind_failures);
	counter(b, "profd_late_stops_total",
		"Stops that came after the tick's deadline.", pid,
		c->late);
	counter(b, "profd_preempted_samples_dropped_total",
		"CPU samples of threads that were waiting for a CPU "
		"and stopped at a system call exit.",
		pid, c->preempted_dropped);
	counter(b, "profd_preempted_samples_moved_total",
		"CPU samples of threads that were waiting for a CPU and "
		"stopped at a system call exit, whose CPU time went to the "
		"thread's last fair sample's stack.",
		pid, c->preempted_moved);
	counter_f(b, "profd_cpu_unattributed_seconds_total",
		  "CPU time that ended a CPU window in no stack: its thread "
		  "had no fair sample yet.",
		  pid, (double)c->cpu_unattributed_ns / 1e9);
	counter(b, "profd_stopped_again_total",
		"Threads stopped a second time in a tick because their "
		"first stop was such a sample, for their CPU weight.",
		pid, c->stopped_again);
	counter(b, "profd_sleeping_thread_stops_total",
		"Stops of threads that were not running (thread dumps "
		"only: a wall-clock window never stops a sleeper).",
		pid, c->sleeper_stops);
	counter(b, "profd_signals_reinjected_total",
		"Signals that arrived during a stop, passed on.", pid,
		c->signals_reinjected);
	counter(b, "profd_group_stops_total",
		"Job-control stops seen (left stopped).", pid,
		c->group_stops);
	counter(b, "profd_stacks_reused_total",
		"Stacks of threads that had not run, reused without a "
		"stop.",
		pid, c->stacks_reused);
	counter(b, "profd_nonstop_captures_total",
		"Stacks of sleeping threads copied without a stop.",
		pid, c->nonstop_captures);
	counter(b, "profd_threads_deferred_total",
		"Threads left for the next tick by the stop budget.",
		pid, c->deferred);
	counter(b, "profd_threads_scanned_total",
		"Thread counters read by full scans.", pid,
		c->threads_scanned);
	counter(b, "profd_threads_exited_in_stop_total",
		"Threads that exited while profd had them seized.",
		pid, c->exited_in_stop);
	counter(b, "profd_threads_unreadable_total",
		"Thread reads that failed for want of a file "
		"descriptor (raise LimitNOFILE).",
		pid, c->unreadable);
}

/* File pages read as zeros, and the symbol cache. */
static void
file_metrics(struct textbuf *b)
{
	uint64_t hits, misses;

	textbuf_printf(b,
		       "# HELP profd_file_pages_truncated_total Pages of "
		       "mapped target files that were truncated under profd "
		       "(read as zeros instead of a SIGBUS).\n"
		       "# TYPE profd_file_pages_truncated_total counter\n"
		       "profd_file_pages_truncated_total %" PRIu64 "\n",
		       faults_patched());
	symbolize_metrics(&hits, &misses);
	textbuf_printf(b,
		       "# HELP profd_symbolize_cache_hits_total Addresses answered "
		       "from the symbol cache.\n"
		       "# TYPE profd_symbolize_cache_hits_total counter\n"
		       "profd_symbolize_cache_hits_total %" PRIu64 "\n"
		       "# HELP profd_symbolize_cache_misses_total Addresses "
		       "resolved with libdw.\n"
		       "# TYPE profd_symbolize_cache_misses_total counter\n"
		       "profd_symbolize_cache_misses_total %" PRIu64 "\n",
		       hits, misses);
}

int
metrics_text(struct target **targets, size_t n, char **out, size_t *len)
{
	struct textbuf b = { 0 };
	size_t i;

	process_metrics(&b, n);
	guardian_metrics(&b);
	registry_metrics(&b);
	for (i = 0; i < n; i++)
		target_metrics(&b, targets[i]);
	snapshot_metrics(&b);
	file_metrics(&b);
	if (b.oom) {
		free(b.s);
		return -ENOMEM;
	}
	*out = b.s;
	*len = b.len;
	return 0;
}

/* ---- /targets ---------------------------------------------------------- */

#define json_str textbuf_json

int
targets_json(struct target **ts, const struct registry_info *info, size_t n,
	     char **out, size_t *len)
{
	static const char *const origin[] = { "pid", "match", "on-demand" };
	struct textbuf b = { 0 };
	size_t i;

	textbuf_printf(&b, "[");
	for (i = 0; i < n; i++) {
		pid_t pid = target_pid(ts[i]);
		char path[64], exe[4096], comm[64], bid[128], since[64];
		char *cmd = NULL;
		size_t cl = 0, k;
		time_t sec = (time_t)(info[i].since / 1000000000LL);
		struct tm tm;
		ssize_t el;

		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		if (proc_read(path, 1 << 16, &cmd, &cl) == 0) {
			while (cl && cmd[cl - 1] == '\0')
				cl--;
			for (k = 0; k < cl; k++)
				if (cmd[k] == '\0')
					cmd[k] = ' ';
		}
		snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
		el = readlink(path, exe, sizeof(exe) - 1);
		exe[el > 0 ? el : 0] = '\0';
		target_comm(ts[i], comm, sizeof(comm));
		target_build_id(ts[i], bid, sizeof(bid));
		gmtime_r(&sec, &tm);
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);

		textbuf_printf(&b, "%s\n  {\"pid\": %d, \"comm\": ", i ? "," : "",
			       (int)pid);
		json_str(&b, comm, strlen(comm));
		textbuf_printf(&b, ", \"cmdline\": ");
		json_str(&b, cmd ? cmd : "", cmd ? cl : 0);
		textbuf_printf(&b, ", \"exe\": ");
		json_str(&b, exe, strlen(exe));
		textbuf_printf(&b, ", \"build_id\": ");
		json_str(&b, bid, strlen(bid));
		textbuf_printf(&b, ", \"origin\": \"%s\", \"match\": ",
			       origin[info[i].origin]);
		if (info[i].rule)
			json_str(&b, info[i].rule, strlen(info[i].rule));
		else
			textbuf_printf(&b, "null");
		textbuf_printf(&b, ", \"since\": \"%s\", \"alive\": %s}", since,
			       target_alive(ts[i]) ? "true" : "false");
		free(cmd);
	}
	textbuf_printf(&b, "%s]\n", n ? "\n" : "");
	if (b.oom) {
		free(b.s);
		return -ENOMEM;
	}
	*out = b.s;
	*len = b.len;
	return 0;
}
