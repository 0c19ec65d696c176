/* test_memory - the smaps parser and memory view (daemon/smaps.c), the
 * /proc/PID/cgroup parser and the RSS trend (daemon/memory.c). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/memory.h"
#include "daemon/smaps.h"
#include "http/http.h"
#include "tests/unit/check.h"

static const char smaps1[] =
	"55d0c8a00000-55d0c8a21000 r-xp 00000000 08:01 1234"
	"                       /usr/bin/my prog\n"
	"Size:                132 kB\n"
	"Rss:                 100 kB\n"
	"Pss:                 100 kB\n"
	"Anonymous:             0 kB\n"
	"Swap:                  0 kB\n"
	"VmFlags: rd ex mr mw me dw sd\n"
	"55d0c8c21000-55d0c8c22000 rw-p 00021000 08:01 1234"
	"                       /usr/bin/my prog\n"
	"Rss:                   4 kB\n"
	"Anonymous:             4 kB\n"
	"55d0c9000000-55d0c9100000 rw-p 00000000 00:00 0"
	"                          [heap]\n"
	"Rss:                 800 kB\n"
	"Anonymous:           800 kB\n"
	"Swap:                 24 kB\n"
	"7f0000000000-7f0000200000 rw-p 00000000 00:00 0 \n"
	"Rss:                2048 kB\n"
	"Anonymous:          2048 kB\n"
	"7f0000200000-7f0000300000 rw-p 00000000 00:00 0\n"
	"Rss:                  16 kB\n"
	"Anonymous:            16 kB\n"
	"7f0000400000-7f0000401000 rw-s 00000000 00:05 99"
	"                         /memfd:x (deleted)\n"
	"Rss:                   4 kB\n"
	"7f0000500000-7f0000501000 r--p 00000000 08:01 77"
	"                         /tmp/a\\012b\n"
	"Rss:                   4 kB\n"
	"7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0"
	"                          [stack]\n"
	"Rss:                  12 kB\n"
	"Anonymous:            12 kB\n"
	"7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0"
	"                          [vdso]\n"
	"Rss:                   8 kB\n"
	"7ffc00200000-7ffc00201000 rw-p 00000000 00:00 0"
	"                          [stack:1234]\n"
	"Rss:                   4 kB\n"
	"Anonymous:             4 kB\n"
	"7ffc00300000-7ffc00301000 rw-p 00000000 00:00 0"
	"                          [heap]\n"
	"Rss:                   4";	/* cut short */

static const struct smaps_group *
find(const struct smaps *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->g[i].name, name) == 0)
			return &s->g[i];
	return NULL;
}

static void
test_smaps(void)
{
	const struct smaps_group *g;
	struct smaps s;
	struct pprof *p, *d;
	unsigned char *enc;
	size_t len, i;
	char err[256], name[64], *big;
	int r;

	memset(&s, 0, sizeof(s));
	/* a thread's stack pointer in the second anonymous mapping, one in
	 * the heap (not anonymous: stays [heap]) and one in no mapping */
	static const uint64_t sps[] = { 0x55d0c9000010, 0x7f0000280000,
					0x7f0000380000 };

	CHECK_EQ_INT(smaps_parse(smaps1, sizeof(smaps1) - 1, sps, 3, &s), 0,
		     "parse smaps");
	CHECK(s.partial, "a record cut short is flagged");
	CHECK_EQ_INT(s.maps, 11, "every header counted");
	g = find(&s, "/usr/bin/my prog");
	CHECK(g != NULL, "a path with a space is one group");
	CHECK(g && g->maps == 2 && g->rss == 104 * 1024 && g->anon == 4096,
	      "a file's mappings are summed");
	CHECK(g && g->size == 0x21000 + 0x1000, "sizes from the headers");
	g = find(&s, "[heap]");
	CHECK(g && g->rss == 800 * 1024 && g->swap == 24 * 1024 &&
		      g->maps == 2,
	      "[heap]: Rss, Swap; the cut record counts its header only");
	g = find(&s, "[anon]");
	CHECK(g && g->rss == 2048 * 1024 && g->maps == 1,
	      "a mapping without a path (with a blank) is [anon]");
	g = find(&s, "[stack]");
	CHECK(g && g->rss == 32 * 1024 && g->maps == 3,
	      "[stack], [stack:TID] and an anonymous mapping holding a "
	      "thread's stack pointer are one group");
	CHECK(find(&s, "/memfd:x (deleted)") != NULL,
	      "a deleted file keeps its (deleted) mark");
	CHECK(find(&s, "/tmp/a\\nb") != NULL,
	      "an escaped newline in a path shows as \\n");
	CHECK(find(&s, "[vdso]") != NULL, "[vdso] kept");
	CHECK_EQ_INT(s.rss, (100 + 4 + 800 + 2048 + 16 + 4 + 4 + 12 + 8 + 4) *
				    1024,
		     "resident total");
	CHECK_EQ_INT(s.swap, 24 * 1024, "swap total");

	p = smaps_profile(&s, 1, "note");
	CHECK(p != NULL, "profile built");
	r = p ? pprof_encode(p, true, &enc, &len) : -1;
	CHECK_EQ_INT(r, 0, "profile encodes");
	if (r == 0) {
		r = pprof_decode(enc, len, &d, err, sizeof(err));
		CHECK_EQ_INT(r, 0, "profile decodes");
		if (r == 0) {
			CHECK_EQ_INT(d->n_sample_types, 3, "three types");
			CHECK_EQ_STR(d->strings[d->sample_types[0].type],
				     "resident", "resident first");
			CHECK_EQ_STR(d->strings[d->sample_types[2].type],
				     "swap", "swap last");
			CHECK_EQ_STR(d->strings[d->default_sample_type],
				     "resident", "default resident");
			CHECK_EQ_INT(d->n_samples, s.n, "one sample a group");
			CHECK_EQ_INT(d->samples[0].values[0], 2048 * 1024,
				     "largest first");
			CHECK_EQ_STR(
				d->strings[d->functions[d->locations
						[d->samples[0].location_ids[0] -
						 1].lines[0].function_id - 1]
						   .name],
				"[anon]", "its frame is named after the group");
			pprof_free(d);
		}
		free(enc);
	}
	pprof_free(p);
	smaps_free(&s);

	/* names: cut, escapes at the cut, an empty path */
	smaps_group_name("", 0, name, sizeof(name));
	CHECK_EQ_STR(name, "[anon]", "no path: [anon]");
	big = malloc(5000);
	memset(big, 'a', 5000);
	big[0] = '/';
	smaps_group_name(big, 5000, name, 16);
	CHECK_EQ_STR(name, "/aaaaaaaaaaa...", "long path cut with ...");
	smaps_group_name("/\\012\\012\\012\\012\\012\\012", 25, name, 16);
	CHECK(strlen(name) < 16, "escapes never overrun the name");
	free(big);

	/* more groups than SMAPS_MAX_GROUPS: the rest is [other] */
	memset(&s, 0, sizeof(s));
	big = malloc(200 * (SMAPS_MAX_GROUPS + 10));
	len = 0;
	for (i = 0; i < SMAPS_MAX_GROUPS + 10; i++)
		len += (size_t)sprintf(big + len,
				       "1000-2000 r--p 0 0:0 1 /f%zu\n"
				       "Rss: 4 kB\n",
				       i);
	CHECK_EQ_INT(smaps_parse(big, len, NULL, 0, &s), 0, "parse many");
	CHECK_EQ_INT(s.n, SMAPS_MAX_GROUPS + 1, "capped, plus [other]");
	g = find(&s, "[other]");
	CHECK(g && g->maps == 10 && g->rss == 40 * 1024, "[other] sums the rest");
	smaps_free(&s);
	free(big);

	/* garbage and huge numbers */
	memset(&s, 0, sizeof(s));
	CHECK_EQ_INT(smaps_parse("Rss: 4 kB\nzz-1 x\n", 18, NULL, 0, &s), 0,
		     "garbage parses to nothing");
	CHECK_EQ_INT(s.maps, 0, "no mapping in garbage");
	big = strdup("0-1 r--p 0 0:0 0\nRss: 99999999999999999999999 kB\n"
		     "Rss: 99999999999999999999 kB\n");
	CHECK_EQ_INT(smaps_parse(big, strlen(big), NULL, 0, &s), 0, "huge values");
	CHECK(s.rss == UINT64_MAX, "huge values saturate");
	free(big);
	smaps_free(&s);
}

static void
test_cgroup(void)
{
	static const char v1[] =
		"12:pids:/user.slice\n"
		"4:cpu,cpuacct:/a\n"
		"3:memory:/kubepods/pod1/abc\n"
		"1:name=systemd:/user.slice/x\n"
		"0::/user.slice/x\n";
	static const char v2[] = "0::/system.slice/my service.service\n";
	static const char bad[] = "0::/../../outside\n9:memory:relative\n";
	struct cgroup_paths cg;

	CHECK_EQ_INT(cgroup_parse(v1, sizeof(v1) - 1, &cg), 0, "parse v1");
	CHECK_EQ_STR(cg.v1_memory, "/kubepods/pod1/abc", "v1 memory path");
	CHECK_EQ_STR(cg.v2, "/user.slice/x", "hybrid: v2 path too");
	CHECK_EQ_INT(cgroup_parse(v2, sizeof(v2) - 1, &cg), 0, "parse v2");
	CHECK_EQ_STR(cg.v2, "/system.slice/my service.service",
		     "v2 path with a space");
	CHECK_EQ_STR(cg.v1_memory, "", "no v1 memory line");
	CHECK_EQ_INT(cgroup_parse(bad, sizeof(bad) - 1, &cg), -ENOENT,
		     "outside the namespace, relative: no path");
	CHECK_EQ_INT(cgroup_parse("3:memory:/a", 11, &cg), 0,
		     "no final newline");
	CHECK_EQ_STR(cg.v1_memory, "/a", "last line read");
	CHECK_EQ_INT(cgroup_parse("5:cpu,memory,blkio:/b\n", 22, &cg), 0,
		     "memory inside a controller list");
	CHECK_EQ_STR(cg.v1_memory, "/b", "co-mounted memory controller");
	CHECK_EQ_INT(cgroup_parse("5:memoryx:/c\n", 13, &cg), -ENOENT,
		     "memoryx is not memory");
	CHECK_EQ_INT(cgroup_parse(v1, sizeof(v1) - 1, &cg), 0, "parse v1");
	CHECK_EQ_STR(cg.v1_cpu, "/a", "v1 cpu controller path (cpu,cpuacct)");
	CHECK_EQ_STR(cg.v1_memory, "/kubepods/pod1/abc",
		     "and the memory one");
}

/* "key N" lines: memory.events (v2), memory.oom_control (v1). */
static void
test_key_value(void)
{
	static const char v2[] = "low 0\nhigh 0\nmax 12\noom 3\n"
				 "oom_kill 2\noom_group_kill 0\n";
	static const char v1[] = "oom_kill_disable 0\nunder_oom 0\noom_kill 7";
	uint64_t v = 0;

	CHECK_EQ_INT(cgroup_key_value(v2, sizeof(v2) - 1, "oom_kill", &v), 0,
		     "v2 memory.events: oom_kill");
	CHECK_EQ_INT(v, 2, "oom_kill, not oom or oom_group_kill");
	CHECK_EQ_INT(cgroup_key_value(v1, sizeof(v1) - 1, "oom_kill", &v), 0,
		     "v1 memory.oom_control: oom_kill, no final newline");
	CHECK_EQ_INT(v, 7, "not oom_kill_disable");
	CHECK_EQ_INT(cgroup_key_value("oom_kill x\n", 11, "oom_kill", &v),
		     -ENOENT, "no number");
	CHECK_EQ_INT(cgroup_key_value("", 0, "oom_kill", &v), -ENOENT,
		     "empty");
}

static void
test_trend(void)
{
	struct rss_trend tr;
	double rate = 0;
	const uint64_t s = 1000000000ULL;

	rss_trend_init(&tr);
	CHECK(!rss_trend_add(&tr, 100 * s, 1000, &rate), "no rate at first");
	CHECK(!rss_trend_add(&tr, 100 * s + s / 2, 1000, &rate),
	      "none within a second");
	CHECK(rss_trend_add(&tr, 103 * s, 4000, &rate) && rate == 1000,
	      "rate from the first reading");
	CHECK(rss_trend_add(&tr, 112 * s, 4000, &rate) && rate == 250,
	      "the newest reading at least 10 s old is the base (100 s: "
	      "3000 in 12 s), not the one of 103 s");
	CHECK(rss_trend_add(&tr, 114 * s, 4000, &rate) && rate == 0,
	      "then the one of 103 s, 11 s old");
	rss_trend_destroy(&tr);
}

int
main(void)
{
	test_smaps();
	test_cgroup();
	test_key_value();
	test_trend();
	return check_report();
}
