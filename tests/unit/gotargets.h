/* gotargets.h - what the unit tests that read the Go test targets share
 * (test_gopclntab.c, test_gort.c): where `make targets` put them, and
 * how to open one as an image the way a process mapping it would.
 */
#ifndef PROFD_TESTS_GOTARGETS_H
#define PROFD_TESTS_GOTARGETS_H

#include "space/space.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* build/targets/NAME from the top of the tree, or from two levels above
 * this binary (build/tests/, build-<san>/tests/). */
static inline bool
target_path(const char *name, char *out, size_t len)
{
	char exe[PATH_MAX], *slash;
	ssize_t n;

	snprintf(out, len, "build/targets/%s", name);
	if (access(out, X_OK) == 0)
		return true;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return false;
	*slash = '\0';
	snprintf(out, len, "%s/../../build/targets/%s", exe, name);
	return access(out, X_OK) == 0;
}

static inline bool
have_go(void)
{
	return system("go version >/dev/null 2>&1") == 0;
}

/* The image of file path, opened as if a process mapped it: elfimg_open()
 * wants a mapping, and checks its device and inode. */
static inline struct elfimg *
open_image(const char *path)
{
	char err[SPACE_ERRLEN], real[PATH_MAX];
	struct pmap m;
	struct stat st;
	struct elfimg *img;

	if (!realpath(path, real) || stat(real, &st) < 0)
		return NULL;
	memset(&m, 0, sizeof(m));
	m.path = real;
	m.inode = st.st_ino;
	m.dev_major = major(st.st_dev);
	m.dev_minor = minor(st.st_dev);
	m.start = 0x1000;	/* no such map_files entry: found by path */
	m.end = 0x2000;
	img = elfimg_open(getpid(), &m, err, sizeof(err));
	if (!img)
		printf("# %s: %s\n", path, err);
	return img;
}

/* The three builds of gohot (with DWARF, -s -w, cgo) into paths of len
 * bytes each, and go to check them with; false, with a "# skip" line
 * saying what is missing, when a test cannot run. */
static inline bool
go_targets(char *dwarf, char *stripped, char *cgo, size_t len)
{
	if (!target_path("gohot", dwarf, len) ||
	    !target_path("gohot-stripped", stripped, len) ||
	    !target_path("gohot-cgo", cgo, len)) {
		printf("# skip: build/targets/gohot* not built (make targets "
		       "needs go)\n");
		return false;
	}
	if (!have_go()) {
		printf("# skip: go not installed\n");
		return false;
	}
	return true;
}

#endif /* PROFD_TESTS_GOTARGETS_H */
