/* debuginfod.c - debug files from debuginfod servers, when the operator
 * opts in (reference/ptrace-sampling.md 7.3).
 *
 * libdw asks the servers in $DEBUGINFOD_URLS, through libdebuginfod
 * (dlopen'ed by libdw), after its local search fails
 * (dwfl_standard_find_debuginfo, elfutils libdwfl/find-debuginfo.c), one
 * client per Dwfl (dwfl_get_debuginfod_client). sym_init() unsets the
 * variable; symbolize_set_debuginfod() sets it, with the client's bounds,
 * from main() before any thread runs. The client reads its settings from
 * the environment at each query (debuginfod-client-config(7)):
 *   DEBUGINFOD_TIMEOUT   how long a server may take to send its first
 *                        100 KiB (default 90 s)
 *   DEBUGINFOD_MAXTIME   how long a whole download may take (no limit)
 *   DEBUGINFOD_MAXSIZE   the largest file to download: sent to the
 *                        server, which refuses bigger ones, and checked
 *                        by the client while it downloads
 *   DEBUGINFOD_CACHE_PATH  downloads, and failed lookups, which are not
 *                        asked for again for cache_miss_s (600 s)
 * With DEBUGINFOD_MAXSIZE set, libdebuginfod 0.188 dprintf()s "using max
 * size" to the client's verbose fd even when it has none (-1), and
 * glibc's dprintf() to a bad fd leaks its 8 KiB stdio buffer, on every
 * query (LeakSanitizer shows it). Each client libdw creates is therefore
 * given /dev/null as its verbose fd.
 *
 * Queries run inside symbolize(), under its lock, on the threads that
 * symbolize (HTTP workers, the warmer); never on the sampler thread.
 */
#include "symbolize/symbolize.h"
#include "symbolize/symbolize_int.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <elfutils/libdwfl.h>

#include "common/errmsg.h"

/* From elfutils' debuginfod.h (libdebuginfod-dev), which the build does
 * not need otherwise. */
typedef void (*set_verbose_fd_t)(debuginfod_client *c, int fd);

static int null_fd = -1;	/* set before threads start; -1: off */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void
do_init(void)
{
	space_lib_init();
	/* libdw asks debuginfod for missing debug files as soon as
	 * DEBUGINFOD_URLS is set, and a query can block for minutes
	 * (elfutils: libdwfl/debuginfod-client.c, debuginfod-client-config.7).
	 * Lookups stay local until the operator opts in
	 * (symbolize_set_debuginfod(), which calls this first). This runs
	 * once, before the first libdw call; unsetenv() is not safe against a
	 * concurrent getenv() in another thread, so profd should reach it
	 * early (main() calls symbolize_init()). */
	unsetenv("DEBUGINFOD_URLS");
}

void
sym_init(void)
{
	pthread_once(&init_once, do_init);
}

void
symbolize_init(void)
{
	sym_init();
}

/* mkdir -p, mode 0700 for what is created. */
static int
mkdirs(const char *dir)
{
	char path[PATH_MAX];
	size_t i, len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
		path[i] = i < len ? '/' : '\0';
	}
	return 0;
}

int
symbolize_set_debuginfod(const char *urls, unsigned int timeout_s,
			 uint64_t max, const char *cache_dir, char *err,
			 size_t errlen)
{
	char num[32];
	const char *p, *q;
	struct stat st;
	int rc;

	/* First, so that its unsetenv() cannot undo what follows. */
	sym_init();
	if (!urls || !cache_dir || !cache_dir[0] || timeout_s == 0) {
		errmsg(err, errlen, "debuginfod: no URL, cache or timeout");
		return -EINVAL;
	}
	for (p = urls; *p; p = q) {
		p += strspn(p, " ");
		q = p + strcspn(p, " ");
		if (q == p)
			break;
		if (strncmp(p, "http://", 7) != 0 &&
		    strncmp(p, "https://", 8) != 0) {
			errmsg(err, errlen,
			       "debuginfod URL '%.*s': want http:// or "
			       "https://",
			       (int)(q - p), p);
			return -EINVAL;
		}
	}
	rc = mkdirs(cache_dir);
	if (rc == 0 && (stat(cache_dir, &st) < 0 || !S_ISDIR(st.st_mode)))
		rc = -ENOTDIR;
	if (rc < 0) {
		errmsg(err, errlen, "debuginfod cache %s: mkdir: %s",
		       cache_dir, strerror(-rc));
		return rc;
	}
	if (null_fd < 0)
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd < 0) {
		rc = -errno;
		errmsg(err, errlen, "debuginfod: open /dev/null: %s",
		       strerror(-rc));
		return rc;
	}
	snprintf(num, sizeof(num), "%u", timeout_s);
	if (setenv("DEBUGINFOD_TIMEOUT", num, 1) < 0 ||
	    setenv("DEBUGINFOD_MAXTIME", num, 1) < 0 ||
	    setenv("DEBUGINFOD_CACHE_PATH", cache_dir, 1) < 0 ||
	    setenv("DEBUGINFOD_URLS", urls, 1) < 0)
		goto nomem;
	if (max) {
		snprintf(num, sizeof(num), "%" PRIu64, max);
		if (setenv("DEBUGINFOD_MAXSIZE", num, 1) < 0)
			goto nomem;
	} else {
		unsetenv("DEBUGINFOD_MAXSIZE");
	}
	/* No progress lines on our standard error. */
	unsetenv("DEBUGINFOD_PROGRESS");
	unsetenv("DEBUGINFOD_VERBOSE");
	return 0;
nomem:
	errmsg(err, errlen, "debuginfod: setenv: %s", strerror(ENOMEM));
	return -ENOMEM;
}

void
sym_debuginfod_setup(Dwfl *dwfl)
{
	set_verbose_fd_t set;
	debuginfod_client *c;
	void *so;

	if (null_fd < 0)
		return;
	/* Creates the client libdw would create at its first query, and
	 * loads libdebuginfod; NULL when libdw has no debuginfod support or
	 * the library is not installed. */
	c = dwfl_get_debuginfod_client(dwfl);
	if (!c)
		return;
	so = dlopen("libdebuginfod.so.1", RTLD_LAZY | RTLD_NOLOAD);
	if (!so)
		return;
	*(void **)&set = dlsym(so, "debuginfod_set_verbose_fd");
	if (set)
		set(c, null_fd);
	/* libdw holds its own reference: this only drops ours. */
	dlclose(so);
}

/* debuginfod_find_debuginfo(3), through the client libdw made for dwfl
 * (so the bounds set above apply). */
typedef int (*find_debuginfo_t)(debuginfod_client *, const unsigned char *,
				int, char **);

int
sym_debuginfod_find(struct Dwfl *dwfl, const char *build_id_hex)
{
	unsigned char bid[BUILDID_MAX];
	find_debuginfo_t find;
	debuginfod_client *c;
	size_t n = strlen(build_id_hex), i;
	unsigned int v;
	void *so;
	int fd;

	if (null_fd < 0 || !dwfl || n == 0 || n % 2 ||
	    n / 2 > sizeof(bid))
		return -1;
	for (i = 0; i < n / 2; i++) {
		if (sscanf(build_id_hex + 2 * i, "%2x", &v) != 1)
			return -1;
		bid[i] = (unsigned char)v;
	}
	c = dwfl_get_debuginfod_client(dwfl);
	if (!c)
		return -1;
	so = dlopen("libdebuginfod.so.1", RTLD_LAZY | RTLD_NOLOAD);
	if (!so)
		return -1;
	*(void **)&find = dlsym(so, "debuginfod_find_debuginfo");
	/* the file goes to profd's own cache: trusted, and only handed
	 * back when its build-id is the one asked for */
	fd = find ? find(c, bid, (int)(n / 2), NULL) : -1;
	dlclose(so);
	return fd >= 0 ? fd : -1;
}
