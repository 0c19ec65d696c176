/* fuzz_smaps - the parsers of what a process's memory files say
 * (daemon/smaps.c, daemon/memory.c): /proc/PID/smaps, whose paths the
 * target names (spaces, "\012", " (deleted)", any length) and which
 * profd may read cut short, summed into groups and built into the memory
 * view; and /proc/PID/cgroup, whose paths come from whoever made the
 * cgroups. Every parser gets the whole input; the profile is encoded and
 * decoded again. */
#include "tests/fuzz/fuzz.h"

#include "daemon/memory.h"
#include "daemon/smaps.h"
#include "http/http.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* Whether path has a ".." component. */
static int
climbs(const char *path)
{
	const char *p;

	for (p = strstr(path, "/.."); p; p = strstr(p + 1, "/.."))
		if (p[3] == '/' || p[3] == '\0')
			return 1;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct cgroup_paths cg;
	struct smaps s;
	struct pprof *p, *d;
	unsigned char *enc;
	char err[256];
	uint64_t rss = 0, sps[8];
	size_t i, len, nsps;

	memset(&s, 0, sizeof(s));
	/* stack pointers: the first bytes of the input, sorted */
	nsps = size / 64 < 8 ? size / 64 : 8;
	for (i = 0; i < nsps; i++)
		memcpy(&sps[i], data + i * 8, 8);
	qsort(sps, nsps, sizeof(sps[0]), cmp_u64);
	if (smaps_parse(buf, size, sps, nsps, &s) == 0) {
		FUZZ_ASSERT(s.n <= SMAPS_MAX_GROUPS + 1, "%zu groups", s.n);
		for (i = 0; i < s.n; i++) {
			FUZZ_ASSERT(strlen(s.g[i].name) <= SMAPS_NAME_MAX + 3,
				    "name of %zu bytes",
				    strlen(s.g[i].name));
			FUZZ_ASSERT(strchr(s.g[i].name, '\n') == NULL,
				    "newline in a group name");
			rss = s.g[i].rss > UINT64_MAX - rss ? UINT64_MAX
							    : rss + s.g[i].rss;
		}
		FUZZ_ASSERT(rss == s.rss, "groups do not add up to the total");
		p = smaps_profile(&s, 0, "fuzz");
		if (p && pprof_encode(p, false, &enc, &len) == 0) {
			FUZZ_ASSERT(pprof_decode(enc, len, &d, err,
						 sizeof(err)) == 0,
				    "memory view does not decode: %s", err);
			pprof_free(d);
			free(enc);
		}
		pprof_free(p);
	}
	smaps_free(&s);
	if (cgroup_parse(buf, size, &cg) == 0) {
		FUZZ_ASSERT(!climbs(cg.v1_memory) && !climbs(cg.v2),
			    "a path climbs out: %s %s", cg.v1_memory, cg.v2);
		fuzz_touch(cg.v1_memory);
		fuzz_touch(cg.v2);
	}
	return 0;
}
