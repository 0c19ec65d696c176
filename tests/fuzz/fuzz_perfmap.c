/* fuzz_perfmap - a JIT's perf map (symbolize/perfmap.c), which the target
 * writes itself: the input is this process's /tmp/perf-PID.map, read
 * through the public API as profd reads a target's. The first half is
 * there at the first lookup; the second is appended before the second
 * round, as a JIT appends, and then the file is cut short (a JIT that
 * restarted), which makes the reader start over.
 *
 * Addresses looked up: the first hex number of every line (at most 8
 * lines), one past it, and a few fixed ones. Every miss makes the reader
 * look at the file again, which is most of the time a run takes.
 */
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "symbolize/symbolize.h"

#define MAX_ADDRS 19

static char path[64];

static void
cleanup(void)
{
	if (path[0])
		unlink(path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The reader names the file after the PID in the process's own PID
	 * namespace, which for this process is getpid(). */
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	atexit(cleanup);
	return 0;
}

static void
put(const uint8_t *data, size_t size, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | flags,
		      0600);
	size_t off = 0;

	FUZZ_ASSERT(fd >= 0, "open %s: %s", path, strerror(errno));
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);

		FUZZ_ASSERT(n > 0, "write %s: %s", path, strerror(errno));
		off += (size_t)n;
	}
	close(fd);
}

static size_t
addrs_of(const uint8_t *data, size_t size, uint64_t *addrs)
{
	char *text = fuzz_strndup(data, size), *p = text, *end;
	size_t n = 0;

	addrs[n++] = 0;
	addrs[n++] = UINT64_MAX;
	addrs[n++] = 0x1000;
	while (p && n + 2 <= MAX_ADDRS) {
		uint64_t a = strtoull(p, &end, 16);

		if (end != p) {
			addrs[n++] = a;
			addrs[n++] = a + 1;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	free(text);
	return n;
}

static void
lookups(struct perfmap *pm, const uint64_t *addrs, size_t n)
{
	static const size_t lens[] = { 1, 7, 2048 };
	char name[2048];
	uint64_t start;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		size_t len = lens[i % 3];

		memset(name, 'x', sizeof(name));
		rc = perfmap_lookup(pm, addrs[i], name, len, &start);
		if (rc != 0)
			continue;
		FUZZ_ASSERT(memchr(name, '\0', len) != NULL,
			    "name not terminated within %zu bytes", len);
		fuzz_touch(name);
		FUZZ_ASSERT(start <= addrs[i], "start %#llx above %#llx",
			    (unsigned long long)start,
			    (unsigned long long)addrs[i]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t addrs[MAX_ADDRS];
	size_t n, half = size / 2;
	struct perfmap *pm;

	n = addrs_of(data, size, addrs);
	put(data, half, O_TRUNC);
	pm = perfmap_new(getpid());
	FUZZ_ASSERT(pm != NULL, "perfmap_new: %s", strerror(errno));
	lookups(pm, addrs, n);
	put(data + half, size - half, O_APPEND);
	lookups(pm, addrs, n);
	put(data, half / 2, O_TRUNC);
	lookups(pm, addrs, n);
	perfmap_put(pm);
	return 0;
}
