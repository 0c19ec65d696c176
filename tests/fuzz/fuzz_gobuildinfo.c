/* fuzz_gobuildinfo - the build info blob of a Go executable
 * (gort/layout.c, gort_buildinfo_parse), which profd reads from the
 * target's binary to learn its Go release: the input is the blob from
 * its magic on, as .go.buildinfo holds it. Parsed into buffers of a few
 * sizes; a version that comes back is then parsed for major.minor
 * (gort_version_parse), as gort_info() does.
 */
#include "tests/fuzz/fuzz.h"

#include "gort/gort.h"

#include <errno.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t vlens[] = { 1, 9, 32, 256 };
	char *copy = malloc(size ? size : 1), version[256];
	uint64_t addr;
	size_t i, l;
	int rc, major, minor;

	FUZZ_ASSERT(copy != NULL, "out of memory");
	/* a copy of exactly size bytes: ASan sees a read past the end */
	if (size)
		memcpy(copy, data, size);
	for (i = 0; i < sizeof(vlens) / sizeof(vlens[0]); i++) {
		memset(version, 'x', sizeof(version));
		rc = gort_buildinfo_parse(copy, size, version, vlens[i],
					  &addr);
		FUZZ_ASSERT(rc == -EINVAL || rc == 0 || rc == 1, "rc %d", rc);
		if (rc == 1)
			FUZZ_ASSERT(addr != 0, "pointer format, no address");
		if (rc != 0)
			continue;
		l = strnlen(version, vlens[i]);
		FUZZ_ASSERT(l > 0 && l < vlens[i], "version of %zu bytes in "
			    "%zu", l, vlens[i]);
		if (gort_version_parse(version, &major, &minor))
			FUZZ_ASSERT(major > 0 && minor >= 0, "%d.%d", major,
				    minor);
		else
			FUZZ_ASSERT(major == 0 && minor == 0, "%d.%d", major,
				    minor);
	}
	free(copy);
	return 0;
}
