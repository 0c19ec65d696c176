/* test_history - continuous mode's bucket ring (daemon/history.c) without a
 * sampler: rotation every 10 s and when the ring is full, which buckets a
 * span selects, the merge of their aggregates and of their module
 * snapshots, the handover of a service's ring to its next process; and
 * --history's durations (daemon/config.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/history.h"
#include "daemon/profile.h"
#include "tests/unit/check.h"

#define S 1000000000LL		/* one second in ns */
#define WALL0 (1700000000LL * S)

/* A snapshot of one module [start, end) named path. */
static void
one_module(struct modsnap *ms, uint64_t start, uint64_t end, const char *path)
{
	memset(ms, 0, sizeof(*ms));
	ms->v = calloc(1, sizeof(*ms->v));
	ms->v[0].start = start;
	ms->v[0].end = end;
	ms->v[0].path = strdup(path);
	ms->v[0].main = true;
	ms->n = 1;
}

/* The value of the entry whose leaf PC is pc, summed; -1 when none. */
static int64_t
value_of(const struct agg *a, uint64_t pc)
{
	int64_t v = -1;
	size_t i;

	for (i = 0; i < a->nlist; i++)
		if (a->list[i]->n > 0 && a->list[i]->pcs[0] == pc)
			v = (v < 0 ? 0 : v) + a->list[i]->value;
	return v;
}

static void
test_duration(void)
{
	unsigned s = 0;

	CHECK(config_duration("10m", 10, 86400, &s) == 0 && s == 600, "10m");
	CHECK(config_duration("90s", 10, 86400, &s) == 0 && s == 90, "90s");
	CHECK(config_duration("2h", 10, 86400, &s) == 0 && s == 7200, "2h");
	CHECK(config_duration("45", 10, 86400, &s) == 0 && s == 45,
	      "no suffix: seconds");
	CHECK(config_duration("24h", 10, 86400, &s) == 0 && s == 86400,
	      "24h is the most");
	CHECK(config_duration("25h", 10, 86400, &s) == -EINVAL, "25h: too long");
	CHECK(config_duration("9s", 10, 86400, &s) == -EINVAL, "9s: too short");
	CHECK(config_duration("10d", 10, 86400, &s) == -EINVAL, "10d: no days");
	CHECK(config_duration("", 10, 86400, &s) == -EINVAL, "empty");
	CHECK(config_duration("-1m", 10, 86400, &s) == -EINVAL, "negative");
	CHECK(config_duration("99999999999999999999h", 10, 86400, &s) ==
		      -EINVAL,
	      "overflow");
}

/* Add `stacks` distinct stacks of `frames` frames (leaf pc0 + i) to the
 * current bucket's aggregate of kind k. */
static void
add_stacks(struct history *h, enum hist_kind k, uint64_t pc0, int stacks,
	   size_t frames)
{
	uint64_t pcs[PROFD_MAX_FRAMES + 1];
	size_t f;
	int i;

	for (f = 0; f < frames; f++)
		pcs[f] = 0x100000 + f;
	for (i = 0; i < stacks; i++) {
		pcs[0] = pc0 + (uint64_t)i;
		history_add(h, k, 1, "t", 0, pcs, frames, 1);
	}
}

/* --history-memory: the bytes counted stay within the budget, the oldest
 * buckets go first and the current one never, spans still merge, and a
 * bucket alone fits. */
static void
test_budget(void)
{
	const uint64_t budget = HIST_MIN_BUDGET;
	struct history_mem hm;
	struct history_span sp;
	uint64_t buckets, stacks, mono = 5 * (uint64_t)S;
	bool within = true, had_current = true;
	struct history *h;
	int i;

	h = history_new(3600, budget, HIST_MAX_STACKS);
	CHECK(h != NULL, "history_new with a 4 MiB budget");
	history_memory(h, &hm);
	CHECK(hm.budget == budget && hm.bytes > 0 && hm.bytes < budget / 4,
	      "an empty history: the ring only");
	CHECK(hm.max_stacks > 10 && hm.max_stacks < HIST_MAX_STACKS,
	      "the budget lowers the cap of stacks per bucket");
	/* 40 buckets of 200 deep stacks each: ~1.4 MiB a bucket, so only
	 * a few fit */
	for (i = 0; i < 40; i++) {
		CHECK_EQ_INT(history_rotate(h, mono + (uint64_t)i * 10 * S,
					    WALL0 + i * 10 * S, false),
			     1, "rotation");
		add_stacks(h, HIST_CPU, 0x1000000 * (uint64_t)(i + 1), 200,
			   256);
		history_memory(h, &hm);
		within &= hm.bytes <= budget;
		history_counts(h, &buckets, &stacks);
		had_current &= buckets >= 1 && hm.oldest <= WALL0 + i * 10 * S;
	}
	CHECK(within, "bytes stay within the budget at every step");
	CHECK(had_current, "the current bucket is never dropped");
	history_memory(h, &hm);
	history_counts(h, &buckets, &stacks);
	CHECK(hm.evicted > 0 && hm.evicted + buckets == 40,
	      "buckets dropped for memory are counted");
	CHECK(buckets >= 2, "more than the current bucket fits");
	CHECK(hm.oldest == WALL0 + (40 - (int64_t)buckets) * 10 * S,
	      "the oldest go first");
	CHECK_EQ_INT(history_span(h, HIST_CPU, INT64_MIN, WALL0 + 400 * S,
				  WALL0 + 395 * S, &sp),
		     0, "the span of what is left");
	CHECK_EQ_INT(sp.nbuckets, buckets, "every bucket left merged");
	CHECK_EQ_INT(sp.agg->samples, 200 * buckets,
		     "each bucket's samples in the merge");
	CHECK(sp.cut, "the span says it was cut by the budget");
	history_span_free(&sp);
	CHECK_EQ_INT(history_span(h, HIST_CPU, WALL0 + 385 * S, WALL0 + 400 * S,
				  WALL0 + 395 * S, &sp),
		     0, "a recent span");
	CHECK(!sp.cut, "a span within what is left is not cut");
	history_span_free(&sp);

	/* one bucket with more distinct stacks than the cap: it stays
	 * within the budget alone, the rest counted as dropped */
	CHECK_EQ_INT(history_rotate(h, mono + 400 * S, WALL0 + 400 * S, false),
		     1, "a new bucket");
	add_stacks(h, HIST_CPU, 0x7000000000, (int)hm.max_stacks + 50, 257);
	add_stacks(h, HIST_WALL, 0x7000000000, (int)hm.max_stacks, 257);
	add_stacks(h, HIST_GROWTH, 0x7000000000, (int)hm.max_stacks, 257);
	history_memory(h, &hm);
	history_counts(h, &buckets, &stacks);
	CHECK(hm.bytes <= budget, "a bucket full of the deepest stacks fits");
	CHECK_EQ_INT(buckets, 1, "everything older went");
	CHECK(hm.bytes > budget / 2, "and it uses the budget");
	CHECK_EQ_INT(history_span(h, HIST_CPU, WALL0 + 400 * S, WALL0 + 401 * S,
				  WALL0 + 401 * S, &sp),
		     0, "the full bucket");
	CHECK_EQ_INT(sp.dropped, 50, "the stacks over the cap are dropped");
	history_span_free(&sp);
	history_free(h);
}

/* Each bucket's figures: RSS range, CPU time, cgroup, triggers, pid. */
static void
test_figures(void)
{
	struct hist_bucket_info *v;
	struct history_span sp;
	uint64_t mono = 5 * (uint64_t)S;
	struct history *h;
	char *json;
	size_t n, len;

	h = history_new(60, HIST_DEFAULT_BUDGET, HIST_MAX_STACKS);
	history_note_usage(h, true, 100, 5);	/* before any bucket */
	history_set_pid(h, 42);
	history_rotate(h, mono, WALL0, false);
	history_note_usage(h, true, 300, S / 2);
	history_note_usage(h, true, 100, S / 4);
	history_note_usage(h, true, 200, 0);
	history_note_cgroup(h, 1000, 5000, true);
	CHECK_EQ_INT(history_note_trigger(h, "rss>=1MiB"), 0, "a trigger");
	history_note_trigger(h, "a");
	history_note_trigger(h, "b");
	history_note_trigger(h, "c");
	history_note_trigger(h, "e");	/* the fifth: counted only */
	history_set_pid(h, 43);
	history_rotate(h, mono + 10 * S, WALL0 + 10 * S, false);
	history_note_usage(h, false, 0, S);
	CHECK_EQ_INT(history_list(h, INT64_MIN, WALL0 + 20 * S,
				  WALL0 + 15 * S, &v, &n),
		     0, "history_list");
	CHECK_EQ_INT(n, 2, "two buckets");
	if (n == 2) {
		CHECK(v[0].fig.have_rss && v[0].fig.rss_min == 100 &&
			      v[0].fig.rss_max == 300 &&
			      v[0].fig.rss_last == 200,
		      "RSS min, max, last");
		CHECK_EQ_INT(v[0].fig.cpu_ns, 3 * S / 4, "CPU time summed");
		CHECK(v[0].fig.have_cgroup && v[0].fig.cgroup_limit == 5000,
		      "cgroup");
		CHECK(v[0].ntriggers == 5 &&
			      strcmp(v[0].triggers[0], "rss>=1MiB") == 0 &&
			      strcmp(v[0].triggers[3], "c") == 0,
		      "the first four trigger names, five counted");
		CHECK(v[0].pid == 42 && v[1].pid == 43, "the pid of each");
		CHECK(v[0].end == WALL0 + 10 * S && !v[0].current,
		      "the first ends where the second begins");
		CHECK(v[1].current && v[1].end == WALL0 + 15 * S,
		      "the current one ends now");
		CHECK(!v[1].fig.have_rss && v[1].fig.cpu_ns == S,
		      "no RSS reading, CPU time");
	}
	free(v);
	CHECK_EQ_INT(history_span(h, HIST_CPU, INT64_MIN, WALL0 + 20 * S,
				  WALL0 + 15 * S, &sp),
		     0, "a span without samples");
	CHECK(sp.have_rss && sp.rss_min == 100 && sp.rss_max == 300,
	      "the span's RSS range");
	history_span_free(&sp);
	CHECK_EQ_INT(history_buckets_json(h, 42, "a\"b", INT64_MIN,
					  WALL0 + 20 * S, WALL0 + 15 * S,
					  &json, &len),
		     0, "JSON");
	CHECK(strstr(json, "\"name\":\"a\\\"b\"") != NULL, "name escaped");
	CHECK(strstr(json, "\"rss_bytes\":{\"min\":100,\"max\":300,"
			   "\"last\":200}") != NULL,
	      "rss_bytes in the JSON");
	CHECK(strstr(json, "\"cgroup\":{\"usage_bytes\":1000,"
			   "\"limit_bytes\":5000}") != NULL,
	      "cgroup in the JSON");
	CHECK(strstr(json, "\"rss_bytes\":null,\"cgroup\":null") != NULL,
	      "nulls for no reading");
	CHECK(strstr(json, "\"triggers\":[\"rss>=1MiB\",\"a\",\"b\",\"c\"]") !=
		      NULL,
	      "triggers in the JSON");
	free(json);
	history_free(h);
}

int
main(void)
{
	struct history *h;
	struct history_span sp;
	struct modsnap ms;
	uint64_t pc, buckets, stacks, mono = 5 * (uint64_t)S;
	int i;

	test_duration();
	CHECK_EQ_INT(history_buckets(600), 61, "10 min: 60 buckets + the one "
					       "filling");
	CHECK_EQ_INT(history_buckets(15), 3, "15 s: 2 buckets + 1");

	h = history_new(30, HIST_MAX_BUDGET, 2);	/* 4 buckets, 2 stacks each */
	CHECK(h != NULL, "history_new");
	pc = 0x1000;
	CHECK_EQ_INT(history_add(h, HIST_CPU, 1, "t", 0, &pc, 1, 5), 0,
		     "add before any bucket: ignored");
	history_counts(h, &buckets, &stacks);
	CHECK(buckets == 0 && stacks == 0, "no bucket yet");

	one_module(&ms, 0x1000, 0x2000, "/old");
	history_set_maps(h, 1, &ms);
	CHECK(ms.v == NULL, "set_maps takes the snapshot over");
	CHECK(history_maps_are(h, 1) && !history_maps_are(h, 2), "maps gen");
	CHECK_EQ_INT(history_rotate(h, mono, WALL0, false), 1, "first bucket");
	CHECK_EQ_INT(history_rotate(h, mono + 9 * S, WALL0 + 9 * S, false), 0,
		     "no rotation within 10 s");

	/* buckets 0..5 at 10 s apart, each with pc 0x1000 + i*16 and
	 * value i + 1; bucket 3 onward with other maps */
	for (i = 0; i < 6; i++) {
		if (i > 0)
			CHECK_EQ_INT(history_rotate(h, mono + (uint64_t)i * 10 * S,
						    WALL0 + i * 10 * S, false),
				     1, "rotation after 10 s");
		if (i == 3) {
			one_module(&ms, 0x1800, 0x3000, "/new");
			history_set_maps(h, 2, &ms);
		}
		pc = 0x1000 + (uint64_t)i * 16;
		history_add(h, HIST_CPU, 1, "t", 0, &pc, 1, i + 1);
		history_add(h, HIST_CPU, 1, "t", 0, &pc, 1, i + 1);
		history_add(h, HIST_WALL, 1, "t", 'S', &pc, 1, 100);
		pc = 0x9000;	/* a common stack */
		history_add(h, HIST_CPU, 1, "t", 0, &pc, 1, 1);
		pc = 0x9999;	/* over the cap of 2 stacks */
		history_add(h, HIST_CPU, 1, "t", 0, &pc, 1, 1);
	}
	history_counts(h, &buckets, &stacks);
	CHECK_EQ_INT(buckets, 4, "ring full: 4 buckets kept");
	CHECK_EQ_INT(stacks, 4 * 3, "2 cpu + 1 wall stacks per bucket");

	/* the whole history: buckets 2..5 */
	CHECK_EQ_INT(history_span(h, HIST_CPU, 0, WALL0 + 100 * S,
				  WALL0 + 55 * S, &sp),
		     0, "span of everything");
	CHECK_EQ_INT(sp.nbuckets, 4, "4 buckets");
	CHECK(sp.start == WALL0 + 20 * S && sp.end == WALL0 + 55 * S,
	      "span from the oldest bucket's start to now");
	CHECK(sp.oldest == WALL0 + 20 * S, "history begins with bucket 2");
	CHECK_EQ_INT(value_of(sp.agg, 0x1000), -1, "bucket 0 was dropped");
	CHECK_EQ_INT(value_of(sp.agg, 0x1020), 2 * 3, "bucket 2 merged");
	CHECK_EQ_INT(value_of(sp.agg, 0x1050), 2 * 6, "bucket 5 merged");
	CHECK_EQ_INT(value_of(sp.agg, 0x9000), 4, "a stack of every bucket "
						  "summed");
	CHECK_EQ_INT(sp.dropped, 4, "samples over the cap counted");
	CHECK_EQ_INT(sp.agg->samples, 4 * 4, "samples, dropped included");
	/* maps: /new [0x1800,0x3000) wins, /old kept where it does not
	 * overlap: nothing of it does, so only /new */
	CHECK_EQ_INT(sp.ms.n, 1, "overlapping older module left out");
	CHECK(sp.ms.n == 1 && strcmp(sp.ms.v[0].path, "/new") == 0 &&
		      sp.ms.v[0].main,
	      "the newest maps win");
	history_span_free(&sp);

	/* a span inside bucket 3 and 4 only */
	CHECK_EQ_INT(history_span(h, HIST_CPU, WALL0 + 35 * S, WALL0 + 45 * S,
				  WALL0 + 55 * S, &sp),
		     0, "span of 10 s");
	CHECK_EQ_INT(sp.nbuckets, 2, "two buckets overlap 35..45 s");
	CHECK(sp.start == WALL0 + 30 * S && sp.end == WALL0 + 50 * S,
	      "whole buckets: 30..50 s");
	CHECK_EQ_INT(value_of(sp.agg, 0x1020), -1, "bucket 2 not in it");
	CHECK_EQ_INT(value_of(sp.agg, 0x1030), 8, "bucket 3 in it");
	history_span_free(&sp);

	/* buckets 2 (old maps) and 3 (new): the union names both */
	CHECK_EQ_INT(history_span(h, HIST_WALL, WALL0 + 25 * S, WALL0 + 35 * S,
				  WALL0 + 55 * S, &sp),
		     0, "wall span across a maps change");
	CHECK_EQ_INT(value_of(sp.agg, 0x1020), 100, "wall value: the period");
	CHECK_EQ_INT(sp.agg->list[0]->state, 'S', "wall state kept");
	CHECK_EQ_INT(sp.ms.n, 1, "old /old overlaps /new: one module");
	history_span_free(&sp);

	CHECK_EQ_INT(history_span(h, HIST_CPU, WALL0, WALL0 + 10 * S,
				  WALL0 + 55 * S, &sp),
		     -ERANGE, "span before the history: nothing");
	history_span_free(&sp);

	/* forced rotation (exec) */
	CHECK_EQ_INT(history_rotate(h, mono + 51 * S, WALL0 + 51 * S, true), 1,
		     "forced rotation");
	history_counts(h, &buckets, &stacks);
	CHECK_EQ_INT(buckets, 4, "still 4 buckets");
	history_free(h);
	history_free(NULL);

	/* union of non-overlapping modules */
	h = history_new(10, HIST_MAX_BUDGET, 8);
	one_module(&ms, 0x1000, 0x2000, "/a");
	history_set_maps(h, 1, &ms);
	history_rotate(h, mono, WALL0, false);
	pc = 0x1100;
	history_add(h, HIST_CPU, 1, "t", 0, &pc, 1, 1);
	history_rotate(h, mono + 10 * S, WALL0 + 10 * S, false);
	one_module(&ms, 0x5000, 0x6000, "/b");
	history_set_maps(h, 2, &ms);
	CHECK_EQ_INT(history_span(h, HIST_CPU, 0, WALL0 + 20 * S,
				  WALL0 + 15 * S, &sp),
		     0, "span over two snapshots");
	CHECK(sp.ms.n == 2 && strcmp(sp.ms.v[0].path, "/a") == 0 &&
		      strcmp(sp.ms.v[1].path, "/b") == 0,
	      "both modules, sorted by address");
	CHECK(sp.ms.n == 2 && !sp.ms.v[0].main && sp.ms.v[1].main,
	      "the newest snapshot's main module is the main one");
	history_span_free(&sp);
	history_free(h);

	/* handover (a --match service's restart): the old process's bucket
	 * keeps its maps, samples wait for the new bucket, which begins at
	 * once, and maps of the same generation number are taken again */
	h = history_new(60, HIST_MAX_BUDGET, 8);
	one_module(&ms, 0x1000, 0x2000, "/old");
	history_set_maps(h, 1, &ms);
	history_set_pid(h, 11);
	history_rotate(h, mono, WALL0, false);
	pc = 0x1100;
	history_add(h, HIST_CPU, 11, "t", 0, &pc, 1, 1);
	history_handover(h);
	CHECK(!history_maps_are(h, 1), "after handover no generation is known");
	history_set_pid(h, 12);
	pc = 0x1200;
	CHECK_EQ_INT(history_add(h, HIST_CPU, 12, "t", 0, &pc, 1, 1), 0,
		     "a sample before the new bucket");
	one_module(&ms, 0x3000, 0x4000, "/new");
	history_set_maps(h, 1, &ms);
	CHECK_EQ_INT(history_rotate(h, mono + 2 * S, WALL0 + 2 * S, false), 1,
		     "the next rotation begins a bucket, 2 s after the last");
	pc = 0x3100;
	history_add(h, HIST_CPU, 12, "t", 0, &pc, 1, 1);
	CHECK_EQ_INT(history_span(h, HIST_CPU, 0, WALL0 + 60 * S,
				  WALL0 + 3 * S, &sp),
		     0, "span over both processes");
	CHECK_EQ_INT(sp.nbuckets, 2, "two buckets");
	CHECK(sp.npids == 2 && sp.pids[0] == 11 && sp.pids[1] == 12 &&
		      sp.more_pids == 0,
	      "the span names both processes, oldest first (the sealed "
	      "bucket stays the old one's)");
	CHECK(value_of(sp.agg, 0x1100) == 1 && value_of(sp.agg, 0x3100) == 1,
	      "a sample of each process");
	CHECK(value_of(sp.agg, 0x1200) == -1,
	      "none added between handover and the new bucket");
	CHECK(sp.ms.n == 2 && strcmp(sp.ms.v[0].path, "/old") == 0 &&
		      strcmp(sp.ms.v[1].path, "/new") == 0,
	      "the old bucket is named by the old program");
	history_span_free(&sp);
	history_free(h);
	test_budget();
	test_figures();
	return check_report();
}
