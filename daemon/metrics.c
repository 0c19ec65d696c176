/* metrics.c - /metrics in Prometheus' text format: what the sampler did
 * (samples, stops and how long they lasted, ticks and what they cost,
 * truncated stacks, cache reuse) and what profd itself costs (CPU time,
 * memory), per target where it applies.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
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
#include "daemon/perfsamp.h"
#include "daemon/proc.h"
#include "daemon/registry.h"
#include "daemon/snapshot.h"
#include "daemon/target.h"
#include "daemon/textbuf.h"
#include "gort/gort.h"
#include "http/http.h"
#include "symbolize/symbolize.h"

/* The HELP and TYPE lines of a family, printed once before its series
 * (Prometheus' text format wants each family in one group). */
static void
family(struct textbuf *b, const char *name, const char *type,
       const char *help)
{
	textbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
		       type);
}

/* One histogram's series for one target (family() printed before). */
static void
histogram(struct textbuf *b, const char *name, pid_t pid,
	  const struct hist *h)
{
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i < HIST_BUCKETS; i++) {
		cum += h->count[i];
		textbuf_printf(b, "%s_bucket{pid=\"%d\",le=\"%g\"} %" PRIu64 "\n",
			       name, (int)pid, hist_bounds_us[i] / 1e6, cum);
	}
	cum += h->count[HIST_BUCKETS];
	textbuf_printf(b, "%s_bucket{pid=\"%d\",le=\"+Inf\"} %" PRIu64 "\n", name,
		       (int)pid, cum);
	textbuf_printf(b, "%s_sum{pid=\"%d\"} %.9f\n", name, (int)pid,
		       (double)h->sum_ns / 1e9);
	textbuf_printf(b, "%s_count{pid=\"%d\"} %" PRIu64 "\n", name, (int)pid,
		       h->n);
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
	uint64_t wkind[TARGET_WINDOW_KINDS];
	size_t k;

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
	target_window_counts(&wopen, &wcancelled, wkind);
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
	family(b, "profd_sessions_open", "gauge",
	       "Windows under way (all targets) by kind: cpu, wall, growth, "
	       "dump (thread dumps).");
	for (k = 0; k < TARGET_WINDOW_KINDS; k++)
		textbuf_printf(b, "profd_sessions_open{kind=\"%s\"} %" PRIu64
			       "\n",
			       target_window_kind_name(k), wkind[k]);
}

/* The memory figures of a target, in the order of mem_families[]. */
enum {
	MEM_RSS, MEM_RATE, MEM_CG_USAGE, MEM_CG_LIMIT,
	MEM_GO_ALLOC, MEM_GO_OBJECTS, MEM_GO_INUSE, MEM_GO_NEXT_GC,
	MEM_GO_GCS, MEM_GO_GOGC, MEM_GO_LIMIT, MEM_N
};

static const struct {
	const char *name, *help, *type;
} mem_families[MEM_N] = {
	{ "profd_target_rss_bytes",
	  "Resident set size of the process (VmRSS).", "gauge" },
	{ "profd_target_rss_growth_bytes_per_second",
	  "How fast the resident set grew over about the last 10 s of "
	  "/metrics readings (negative: it shrank).", "gauge" },
	{ "profd_target_cgroup_memory_usage_bytes",
	  "Memory charged to the process's memory cgroup (memory.current, "
	  "v1 memory.usage_in_bytes).", "gauge" },
	{ "profd_target_cgroup_memory_limit_bytes",
	  "Memory limit of the process's memory cgroup (memory.max, v1 "
	  "memory.limit_in_bytes).", "gauge" },
	{ "profd_go_heap_alloc_bytes",
	  "Go programs: bytes of allocated heap objects, live and not yet "
	  "swept (runtime.MemStats.HeapAlloc), read from the runtime.",
	  "gauge" },
	{ "profd_go_heap_objects",
	  "Go programs: allocated heap objects (MemStats.HeapObjects).",
	  "gauge" },
	{ "profd_go_heap_inuse_bytes",
	  "Go programs: bytes in in-use heap spans (MemStats.HeapInuse).",
	  "gauge" },
	{ "profd_go_next_gc_bytes",
	  "Go programs: the heap size the next garbage collection aims at "
	  "(MemStats.NextGC).", "gauge" },
	{ "profd_go_gc_cycles_total",
	  "Go programs: completed garbage collections (MemStats.NumGC).",
	  "counter" },
	{ "profd_go_gogc_percent",
	  "Go programs: GOGC, the garbage collector's target percentage (-1: "
	  "off).", "gauge" },
	{ "profd_go_memory_limit_bytes",
	  "Go programs: GOMEMLIMIT, the runtime's soft memory limit "
	  "(math.MaxInt64, about 9.22e18: none).", "gauge" },
};

/* What /metrics reports of one target, read once per scrape (the RSS
 * reading feeds the growth rate, so it must not be taken twice). A
 * memory figure profd cannot read has has[] false: left out, not 0. */
struct tinfo {
	pid_t pid;
	bool alive;
	struct target_stats st;
	bool has[MEM_N];
	double mem[MEM_N];
};

/* A Go target's runtime heap figures (gort/mem.c), when it is one. */
static void
read_go(struct target *t, struct tinfo *ti)
{
	struct gort_mem m;
	char err[PROFD_ERRLEN];
	size_t i;

	if (target_go_mem(t, &m, err, sizeof(err)) < 0)
		return;
	for (i = MEM_GO_ALLOC; i <= MEM_GO_LIMIT; i++)
		ti->has[i] = true;
	ti->mem[MEM_GO_ALLOC] = (double)m.heap_alloc;
	ti->mem[MEM_GO_OBJECTS] = (double)m.heap_objects;
	ti->mem[MEM_GO_INUSE] = (double)m.heap_inuse;
	ti->mem[MEM_GO_NEXT_GC] = (double)m.next_gc;
	ti->mem[MEM_GO_GCS] = m.num_gc;
	ti->mem[MEM_GO_GOGC] = m.gogc;
	ti->mem[MEM_GO_LIMIT] = (double)m.memory_limit;
}

/* The target's counters, and its memory read now (memory.c): RSS, its
 * growth over about the last 10 s of /metrics readings, and its memory
 * cgroup's usage and limit. */
static void
read_target(struct target *t, struct tinfo *ti)
{
	uint64_t rss, usage, limit;
	bool has_limit;

	memset(ti, 0, sizeof(*ti));
	ti->pid = target_pid(t);
	ti->alive = target_alive(t);
	target_stats(t, &ti->st);
	/* an exited target's PID may be another process's by now */
	if (!target_poll(t))
		return;
	if (memory_rss(ti->pid, &rss) == 0) {
		ti->has[MEM_RSS] = true;
		ti->mem[MEM_RSS] = (double)rss;
		ti->has[MEM_RATE] = target_rss_rate(t, rss, &ti->mem[MEM_RATE]);
	}
	if (memory_cgroup(ti->pid, &usage, &limit, &has_limit) == 0) {
		ti->has[MEM_CG_USAGE] = true;
		ti->mem[MEM_CG_USAGE] = (double)usage;
		ti->has[MEM_CG_LIMIT] = has_limit;
		ti->mem[MEM_CG_LIMIT] = (double)limit;
	}
	read_go(t, ti);
}

#define SST(f) offsetof(struct sampler_stats, f)

/* The sampler's counters (struct sampler_stats), one family each. */
static const struct {
	const char *name, *help;
	size_t off;
} target_counters[] = {
	{ "profd_samples_total", "Stack samples added to windows.",
	  SST(samples) },
	{ "profd_samples_lost_total",
	  "Samples a profile window could not keep (its stack table full, "
	  "or a thread that could not be read): the \"N lost\" of each "
	  "profile's comment, summed over the profiles answered (thread "
	  "dumps are not counted).",
	  SST(samples_lost) },
	{ "profd_stops_total", "Threads stopped with ptrace for a sample.",
	  SST(stops) },
	{ "profd_ticks_total", "Sampling ticks.", SST(ticks) },
	{ "profd_truncated_stacks_total",
	  "Stacks whose unwinding stopped early.", SST(truncated) },
	{ "profd_unwind_failures_total",
	  "Snapshots that could not be unwound at all.",
	  SST(unwind_failures) },
	{ "profd_late_stops_total",
	  "Stops that came after the tick's deadline.", SST(late) },
	{ "profd_preempted_samples_dropped_total",
	  "CPU samples of threads that were waiting for a CPU and stopped "
	  "at a system call exit, stopped again to no avail, and with no "
	  "fair sample yet: their CPU time goes to the thread's next "
	  "sample.",
	  SST(preempted_dropped) },
	{ "profd_preempted_samples_moved_total",
	  "The same, with a fair sample before: their CPU time went to "
	  "that sample's stack.",
	  SST(preempted_moved) },
	{ "profd_stopped_again_total",
	  "Threads stopped a second time in a tick, for their CPU weight, "
	  "because their first stop found them waiting for a CPU at a "
	  "system call exit.",
	  SST(stopped_again) },
	{ "profd_sleeping_thread_stops_total",
	  "Stops of threads that were not running (thread dumps only: a "
	  "wall-clock window never stops a sleeper).",
	  SST(sleeper_stops) },
	{ "profd_signals_reinjected_total",
	  "Signals that arrived during a stop, passed on.",
	  SST(signals_reinjected) },
	{ "profd_group_stops_total",
	  "Job-control stops seen (left stopped).", SST(group_stops) },
	{ "profd_stacks_reused_total",
	  "Stacks of threads that had not run, reused without a stop.",
	  SST(stacks_reused) },
	{ "profd_nonstop_captures_total",
	  "Stacks of sleeping threads copied without a stop.",
	  SST(nonstop_captures) },
	{ "profd_threads_deferred_total",
	  "Threads left for the next tick by the stop budget.",
	  SST(deferred) },
	{ "profd_threads_scanned_total",
	  "Thread counters read by full scans.", SST(threads_scanned) },
	{ "profd_threads_exited_in_stop_total",
	  "Threads that exited while profd had them seized.",
	  SST(exited_in_stop) },
	{ "profd_threads_unreadable_total",
	  "Thread reads that failed for want of a file descriptor (raise "
	  "LimitNOFILE).",
	  SST(unreadable) },
	{ "profd_stop_bound_breaches_total",
	  "Stops that held a thread longer than --max-stop-us, or batches "
	  "of stops during which profd waited that long for a CPU; each "
	  "starts a backoff without stops (100 ms, doubling to 2 s).",
	  SST(stop_breaches) },
	{ "profd_ticks_unstopped_total",
	  "Ticks that started no stop because profd was short of CPU: it "
	  "had waited more than --max-stop-us for one since its last tick, "
	  "or was backing off after a breach.",
	  SST(ticks_unstopped) },
	{ "profd_stack_copy_bytes_total",
	  "Stack bytes copied inside stops (each thread's copy adapts to "
	  "the depth its stack had: see --stack-bytes).",
	  SST(copy_bytes) },
	{ "profd_stack_copy_short_total",
	  "Stops whose shortened stack copy turned out too short for the "
	  "stack (its sample ends in [truncated]; the thread's next stop "
	  "copies --stack-bytes).",
	  SST(copy_short) },
	{ "profd_go_stacks_crossed_total",
	  "Stops of a Go thread on its system stack (systemstack, mcall, "
	  "morestack, cgo) that copied the goroutine it serves, so its stack "
	  "goes on into the goroutine's frames.",
	  SST(go_crossed) },
	{ "profd_perf_samples_lost_total",
	  "perf_event samples the kernel could not write because a "
	  "thread's ring was full (profd late to drain it).",
	  SST(perf_lost) },
	{ "profd_perf_threads_unsampled_total",
	  "Threads a perf_event window could open no event for (file "
	  "descriptors or locked memory short): their CPU time is in no "
	  "stack.",
	  SST(perf_unsampled) },
	{ "profd_go_goroutine_reads_total",
	  "Goroutine dumps of a Go target (runtime.allgs read, no thread "
	  "stopped for it).",
	  SST(go_reads) },
	{ "profd_go_goroutine_stack_rereads_total",
	  "Goroutine stacks read again because the goroutine ran while it "
	  "was copied.",
	  SST(go_read_retries) },
};

/* The sampler's histograms (struct hist in struct sampler_stats). */
static const struct {
	const char *name, *help;
	size_t off;
} target_hists[] = {
	{ "profd_stop_seconds",
	  "Time a thread stayed stopped: from its stop being reported to its "
	  "release.",
	  SST(stop) },
	{ "profd_interrupt_seconds",
	  "From PTRACE_INTERRUPT to the stop being reported (the thread runs "
	  "meanwhile).",
	  SST(interrupt) },
};

/* profd_errors_total{kind}: what went wrong while sampling, by kind. */
static const struct {
	const char *kind;
	size_t off;
} error_kinds[] = {
	{ "unwind", SST(unwind_failures) },
	{ "capture", SST(nonstop_failures) },
	{ "unreadable", SST(unreadable) },
	{ "lost", SST(samples_lost) },
};

static uint64_t
stat_at(const struct tinfo *ti, size_t off)
{
	return *(const uint64_t *)(const void *)((const char *)&ti->st.sampler +
						 off);
}

/* The memory of each target (read_target): a family only when some
 * target has the figure. */
static void
target_memory_metrics(struct textbuf *b, const struct tinfo *ti, size_t n)
{
	size_t i, m;

	for (m = 0; m < MEM_N; m++) {
		for (i = 0; i < n && !ti[i].has[m]; i++)
			;
		if (i == n)
			continue;
		family(b, mem_families[m].name, mem_families[m].type,
		       mem_families[m].help);
		for (; i < n; i++)
			if (ti[i].has[m])
				textbuf_printf(b, "%s{pid=\"%d\"} %.0f\n",
					       mem_families[m].name,
					       (int)ti[i].pid, ti[i].mem[m]);
	}
}

/* The per-target gauges (and the one counter) that are not plain
 * sampler counters, each read from a struct tinfo by tvalue(). */
enum tval {
	TV_UP, TV_WINDOWS, TV_HIST_BUCKETS, TV_HIST_STACKS, TV_HIST_BYTES,
	TV_HIST_BUDGET, TV_HIST_OLDEST, TV_HIST_EVICTED, TV_TRIG_CHECKED,
	TV_STOP_MAX, TV_INTERRUPT_MAX, TV_TICK_CPU, TV_CPU_UNATTRIBUTED,
	TV_GO_READ, TV_GO_GOROUTINES
};

static const struct {
	const char *name, *type, *help;
	enum tval v;
	bool seconds;		/* printed with ns precision */
	bool history;		/* only for targets continuous mode records */
	bool triggers;		/* only for targets --trigger watches */
} target_values[] = {
	{ "profd_target_up", "gauge", "1 while the process runs.", TV_UP,
	  false, false, false },
	{ "profd_windows_active", "gauge", "Profile windows open.",
	  TV_WINDOWS, false, false, false },
	{ "profd_history_buckets", "gauge",
	  "Time buckets continuous mode holds.", TV_HIST_BUCKETS, false,
	  true, false },
	{ "profd_history_stacks", "gauge",
	  "Distinct stacks in them, CPU and wall.", TV_HIST_STACKS, false,
	  true, false },
	{ "profd_history_bytes", "gauge",
	  "Memory the history's buckets and ring hold (their stacks, index "
	  "and figures), bytes.",
	  TV_HIST_BYTES, false, true, false },
	{ "profd_history_budget_bytes", "gauge",
	  "The bound of profd_history_bytes (--history-memory).",
	  TV_HIST_BUDGET, false, true, false },
	{ "profd_history_oldest_seconds", "gauge",
	  "How far back the history reaches now: the age of its oldest "
	  "bucket's start.",
	  TV_HIST_OLDEST, true, true, false },
	{ "profd_history_buckets_evicted_total", "counter",
	  "History buckets dropped to stay within --history-memory (not "
	  "for age).",
	  TV_HIST_EVICTED, false, true, false },
	{ "profd_triggers_checked_total", "counter",
	  "Times the --trigger conditions were checked against the process "
	  "(about once a second).",
	  TV_TRIG_CHECKED, false, false, true },
	{ "profd_cpu_unattributed_seconds_total", "counter",
	  "CPU time that ended a CPU window in no stack: its thread had no "
	  "fair sample yet.",
	  TV_CPU_UNATTRIBUTED, true, false, false },
	{ "profd_go_goroutine_read_seconds_total", "counter",
	  "Time goroutine dumps spent reading the goroutines and their "
	  "stacks (the target runs meanwhile).",
	  TV_GO_READ, true, false, false },
	{ "profd_go_goroutines", "gauge",
	  "Goroutines the last goroutine dump listed (the runtime's own "
	  "left out, as Go does).",
	  TV_GO_GOROUTINES, false, false, false },
	{ "profd_stop_seconds_max", "gauge",
	  "Longest stop so far (see profd_stop_seconds).", TV_STOP_MAX, true,
	  false, false },
	{ "profd_interrupt_seconds_max", "gauge",
	  "Longest interrupt so far (see profd_interrupt_seconds).",
	  TV_INTERRUPT_MAX, true, false, false },
	{ "profd_tick_cpu_seconds_total", "counter",
	  "Sampler CPU time spent in ticks.", TV_TICK_CPU, true, false, false },
};

static double
tvalue(const struct tinfo *ti, enum tval v)
{
	const struct sampler_stats *c = &ti->st.sampler;

	switch (v) {
	case TV_UP: return ti->alive ? 1 : 0;
	case TV_WINDOWS: return ti->st.windows_active;
	case TV_HIST_BUCKETS: return (double)ti->st.history_buckets;
	case TV_HIST_STACKS: return (double)ti->st.history_stacks;
	case TV_HIST_BYTES: return (double)ti->st.history_bytes;
	case TV_HIST_BUDGET: return (double)ti->st.history_budget;
	case TV_HIST_OLDEST: return ti->st.history_oldest_s;
	case TV_HIST_EVICTED: return (double)ti->st.history_evicted;
	case TV_TRIG_CHECKED: return (double)c->triggers_checked;
	case TV_CPU_UNATTRIBUTED: return (double)c->cpu_unattributed_ns / 1e9;
	case TV_STOP_MAX: return (double)c->stop.max_ns / 1e9;
	case TV_INTERRUPT_MAX: return (double)c->interrupt.max_ns / 1e9;
	case TV_TICK_CPU: return (double)c->tick_cpu_ns / 1e9;
	case TV_GO_READ: return (double)c->go_read_ns / 1e9;
	case TV_GO_GOROUTINES: return (double)c->go_goroutines;
	}
	return 0;
}

/* The families of target_values[]; a history family only when some
 * target has a history. */
static void
target_value_metrics(struct textbuf *b, const struct tinfo *ti, size_t n)
{
	size_t i, k;
	bool hist = false, trig = false;

	for (i = 0; i < n; i++) {
		hist |= ti[i].st.history;
		trig |= ti[i].st.triggers;
	}
	for (k = 0; k < sizeof(target_values) / sizeof(target_values[0]);
	     k++) {
		if ((target_values[k].history && !hist) ||
		    (target_values[k].triggers && !trig))
			continue;
		family(b, target_values[k].name, target_values[k].type,
		       target_values[k].help);
		for (i = 0; i < n; i++) {
			double v = tvalue(&ti[i], target_values[k].v);

			if ((target_values[k].history && !ti[i].st.history) ||
			    (target_values[k].triggers && !ti[i].st.triggers))
				continue;
			if (target_values[k].seconds)
				textbuf_printf(b, "%s{pid=\"%d\"} %.9f\n",
					       target_values[k].name,
					       (int)ti[i].pid, v);
			else
				textbuf_printf(b, "%s{pid=\"%d\"} %.0f\n",
					       target_values[k].name,
					       (int)ti[i].pid, v);
		}
	}
}

/* Every per-target family, each with one series per target labelled with
 * its pid: the one list of what the sampler counts (struct
 * target_stats). */
static void
target_metrics(struct textbuf *b, const struct tinfo *ti, size_t n)
{
	size_t i, k;

	target_value_metrics(b, ti, n);
	target_memory_metrics(b, ti, n);
	for (k = 0; k < sizeof(target_counters) / sizeof(target_counters[0]);
	     k++) {
		family(b, target_counters[k].name, "counter",
		       target_counters[k].help);
		for (i = 0; i < n; i++)
			textbuf_printf(b, "%s{pid=\"%d\"} %" PRIu64 "\n",
				       target_counters[k].name, (int)ti[i].pid,
				       stat_at(&ti[i], target_counters[k].off));
	}
	family(b, "profd_sampler_info", "gauge",
	       "1, labelled with the sampler the target's CPU windows use: "
	       "ptrace or perf_event (--sampler).");
	for (i = 0; i < n; i++)
		textbuf_printf(b,
			       "profd_sampler_info{pid=\"%d\",sampler=\"%s\"} "
			       "1\n",
			       (int)ti[i].pid, perfsamp_name(ti[i].st.perf));
	family(b, "profd_errors_total", "counter",
	       "What went wrong while sampling, by kind: unwind (a snapshot "
	       "that could not be unwound), capture (a sleeping thread's "
	       "stack that could not be copied without a stop), unreadable "
	       "(a thread read without a file descriptor to spare), lost (a "
	       "sample a window could not keep).");
	for (i = 0; i < n; i++)
		for (k = 0; k < sizeof(error_kinds) / sizeof(error_kinds[0]);
		     k++)
			textbuf_printf(b,
				       "profd_errors_total{pid=\"%d\",kind=\"%s\"} "
				       "%" PRIu64 "\n",
				       (int)ti[i].pid, error_kinds[k].kind,
				       stat_at(&ti[i], error_kinds[k].off));
	for (k = 0; k < sizeof(target_hists) / sizeof(target_hists[0]); k++) {
		family(b, target_hists[k].name, "histogram",
		       target_hists[k].help);
		for (i = 0; i < n; i++)
			histogram(b, target_hists[k].name, ti[i].pid,
				  (const struct hist *)(const void *)((
					  const char *)&ti[i].st.sampler +
					  target_hists[k].off));
	}
	family(b, "profd_tick_seconds", "summary",
	       "Sampler wall time spent in ticks (_count: ticks).");
	for (i = 0; i < n; i++)
		textbuf_printf(b,
			       "profd_tick_seconds_sum{pid=\"%d\"} %.9f\n"
			       "profd_tick_seconds_count{pid=\"%d\"} %" PRIu64
			       "\n",
			       (int)ti[i].pid,
			       (double)ti[i].st.sampler.tick_ns / 1e9,
			       (int)ti[i].pid, ti[i].st.sampler.ticks);
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

/* Requests answered, by endpoint class and status code (http.h). */
static void
http_metrics(struct textbuf *b)
{
	unsigned h;
	int code;

	family(b, "profd_http_requests_total", "counter",
	       "HTTP requests answered, by endpoint class (handler) and "
	       "status code (499: the client went away during its window).");
	for (h = 0; http_handler_name(h); h++)
		for (code = HTTP_CODE_MIN; code <= HTTP_CODE_MAX; code++) {
			uint64_t v = http_requests(h, code);

			if (v)
				textbuf_printf(b,
					       "profd_http_requests_total{"
					       "handler=\"%s\",code=\"%d\"} "
					       "%" PRIu64 "\n",
					       http_handler_name(h), code, v);
		}
	family(b, "profd_build_info", "gauge",
	       "Always 1; the version label says which profd this is.");
	textbuf_printf(b, "profd_build_info{version=\"%s\"} 1\n",
		       PROFD_VERSION);
}

int
metrics_text(struct target **targets, size_t n, char **out, size_t *len)
{
	struct textbuf b = { 0 };
	struct tinfo *ti = calloc(n ? n : 1, sizeof(*ti));
	size_t i;

	if (!ti)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		read_target(targets[i], &ti[i]);
	process_metrics(&b, n);
	http_metrics(&b);
	guardian_metrics(&b);
	registry_metrics(&b);
	target_metrics(&b, ti, n);
	snapshot_metrics(&b);
	file_metrics(&b);
	free(ti);
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
