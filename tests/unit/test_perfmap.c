/* test_perfmap - JIT perf maps (symbolize/perfmap.c), read for this very
 * process: /tmp/perf-PID.map through /proc/PID/root, appended to, with a
 * partial last line, replaced, owned by someone else, a symlink. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolize/symbolize.h"
#include "tests/unit/check.h"

static char path[64];

static void
put(const char *mode, const char *text)
{
	FILE *f = fopen(path, mode);

	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

/* The name at addr, or "" with *rc set. */
static const char *
name_at(struct perfmap *pm, uint64_t addr, int *rc, uint64_t *start)
{
	static char name[64];

	name[0] = '\0';
	*rc = perfmap_lookup(pm, addr, name, sizeof(name), start);
	return name;
}

int
main(void)
{
	struct perfmap *pm;
	char other[80], longname[200], text[300];
	uint64_t start = 0;
	int rc;

	/* In our own PID namespace the namespace PID is getpid(). */
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	snprintf(other, sizeof(other), "/tmp/perf-%d.other", (int)getpid());
	unlink(path);

	pm = perfmap_new(getpid());
	CHECK(pm != NULL, "perfmap_new");
	name_at(pm, 0x1000, &rc, NULL);
	CHECK_EQ_INT(rc, -ENOENT, "no perf map: -ENOENT");

	put("w", "1000 100 first\n2000 10 JS:*second /x.js:2:3\n"
		 "zzz 10 bad\n6000 0 empty\n7000 10\n");
	CHECK_EQ_STR(name_at(pm, 0x1050, &rc, &start), "first",
		     "a line is read after a miss");
	CHECK(rc == 0 && start == 0x1000, "its start");
	CHECK_EQ_STR(name_at(pm, 0x2009, &rc, NULL), "JS:*second /x.js:2:3",
		     "names keep their spaces");
	name_at(pm, 0x2010, &rc, NULL);
	CHECK_EQ_INT(rc, -ENOENT, "START+SIZE (hex) is outside");
	name_at(pm, 0x6000, &rc, NULL);
	CHECK_EQ_INT(rc, -ENOENT, "a zero size is skipped");
	name_at(pm, 0x7000, &rc, NULL);
	CHECK_EQ_INT(rc, -ENOENT, "a line without a name is skipped");

	/* The JIT appends; its last line may be half written. */
	put("a", "3000 20 third\n4000 10 fou");
	CHECK_EQ_STR(name_at(pm, 0x3010, &rc, NULL), "third",
		     "appended lines are read on a miss");
	name_at(pm, 0x4000, &rc, NULL);
	CHECK_EQ_INT(rc, -ENOENT, "a partial last line waits");
	put("a", "rth\n");
	CHECK_EQ_STR(name_at(pm, 0x4004, &rc, NULL), "fourth",
		     "and is read once complete");

	/* Code moved: a later line over an earlier one wins. */
	put("a", "1040 8 newer\n");
	CHECK_EQ_STR(name_at(pm, 0x1010, &rc, NULL), "first",
		     "the old line outside the new one");
	CHECK_EQ_STR(name_at(pm, 0x1044, &rc, NULL), "first",
		     "a hit does not re-read the file");
	CHECK_EQ_STR(name_at(pm, 0x5000 - 1, &rc, NULL), "",
		     "a miss re-reads it");
	CHECK_EQ_STR(name_at(pm, 0x1044, &rc, NULL), "newer",
		     "the later line wins where both cover");

	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	snprintf(text, sizeof(text), "8000 10 %s\n", longname);
	put("a", text);
	CHECK_EQ_INT(strlen(name_at(pm, 0x8000, &rc, NULL)), 63,
		     "a long name is cut to the buffer");

	/* A new JIT run (or a reused PID): the file starts over. */
	unlink(path);
	put("w", "5000 10 fifth\n");
	CHECK_EQ_STR(name_at(pm, 0x5000, &rc, NULL), "fifth",
		     "a replaced file is read from the start");
	name_at(pm, 0x3010, &rc, NULL);
	CHECK_EQ_INT(rc, -ENOENT, "the old file's lines are gone");

	/* Only a regular file owned by the process's user counts. */
	unlink(path);
	put("w", "9000 10 other\n");
	if (geteuid() == 0 && chown(path, 65534, 65534) == 0) {
		name_at(pm, 0x9000, &rc, NULL);
		CHECK_EQ_INT(rc, -EPERM, "another user's file: -EPERM");
	}
	unlink(path);
	put("w", "9000 10 other\n");
	rename(path, other);
	CHECK(symlink(other, path) == 0, "symlink");
	name_at(pm, 0x9000, &rc, NULL);
	CHECK_EQ_INT(rc, -EPERM, "a symlink: -EPERM");
	unlink(path);
	unlink(other);
	CHECK(mkfifo(path, 0600) == 0, "mkfifo");
	name_at(pm, 0x9000, &rc, NULL);
	CHECK_EQ_INT(rc, -EPERM, "a FIFO: -EPERM, without blocking");
	unlink(path);

	CHECK(perfmap_get(pm) == pm, "perfmap_get");
	perfmap_put(pm);
	perfmap_put(pm);
	perfmap_put(NULL);

	pm = perfmap_new(999999999);
	name_at(pm, 0x1000, &rc, NULL);
	CHECK_EQ_INT(rc, -ESRCH, "no such process: -ESRCH");
	perfmap_put(pm);
	return check_report();
}
