/* gort.c - the names of the fields and globals gort reads, and the one
 * way it reads the target's memory. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include "gort/gort.h"

#define GORT_NAME_FIELD(id, type, path)	{ #id, type, path },
#define GORT_NAME_GLOBAL(id, sym)	sym,
const struct gort_field_name gort_field_names[GORT_NFIELDS] = {
	GORT_FIELDS(GORT_NAME_FIELD)
};
const char *const gort_global_names[GORT_NGLOBALS] = {
	GORT_GLOBALS(GORT_NAME_GLOBAL)
};
#undef GORT_NAME_FIELD
#undef GORT_NAME_GLOBAL

bool
gort_has(const struct gort_info *gi, const enum gort_field *f, size_t nf,
	 const enum gort_global *g, size_t ng, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < nf; i++)
		if (gi->off[f[i]] == GORT_NONE) {
			snprintf(err, errlen, "%s: %s.%s not found%s%s",
				 gi->version[0] ? gi->version : "Go",
				 gort_field_names[f[i]].type,
				 gort_field_names[f[i]].path,
				 gi->why[0] ? ": " : "", gi->why);
			return false;
		}
	for (i = 0; i < ng; i++)
		if (gi->global[g[i]] == 0) {
			snprintf(err, errlen, "%s: %s not found%s%s",
				 gi->version[0] ? gi->version : "Go",
				 gort_global_names[g[i]], gi->why[0] ? ": " : "",
				 gi->why);
			return false;
		}
	return true;
}

uint32_t
gort_fields_end(const struct gort_info *gi, const enum gort_field *f,
		size_t n)
{
	uint32_t m = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (gi->off[f[i]] > m)
			m = gi->off[f[i]];
	return m + 8;
}

int
gort_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t got;

	if (len == 0)
		return 0;
	got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (got < 0)
		return errno == ESRCH ? -ESRCH : -EFAULT;
	return (size_t)got == len ? 0 : -EFAULT;
}
