/* test_path - path_join_clean() (common/path.c): source file names joined
 * to their compilation directory and cleaned by their text alone, as
 * profiles show them. */
#include "common/path.h"

#include <errno.h>
#include <string.h>

#include "check.h"

/* The result of joining name to dir in a buffer of len bytes. */
static const char *
jc(size_t len, const char *dir, const char *name)
{
	static char buf[256];
	int rc;

	memset(buf, 'x', sizeof(buf));
	rc = path_join_clean(buf, len, dir, name);
	if (rc < 0)
		return rc == -ENAMETOOLONG ? "<too long>" : "<error>";
	if ((size_t)rc != strlen(buf))
		return "<bad length>";
	return buf;
}

int
main(void)
{
	char small[8];
	char exact[sizeof("/ab/c.c")];

	/* absolute names are kept (cleaned), the directory unused */
	CHECK_EQ_STR(jc(256, "/build", "/usr/include/stdio.h"),
		     "/usr/include/stdio.h", "absolute name: kept");
	CHECK_EQ_STR(jc(256, NULL, "/src/./a//b/../c.c"), "/src/a/c.c",
		     "absolute name without a dir: cleaned");
	/* relative names joined to comp_dir */
	CHECK_EQ_STR(jc(256, "/home/u/proj", "tests/targets/demo.c"),
		     "/home/u/proj/tests/targets/demo.c", "comp_dir joined");
	CHECK_EQ_STR(jc(256, "/home/u/proj/", "src/x.c"), "/home/u/proj/src/x.c",
		     "comp_dir with a trailing '/'");
	CHECK_EQ_STR(jc(256, "/", "x.c"), "/x.c", "comp_dir the root");
	/* ../ and ./ */
	CHECK_EQ_STR(jc(256, "/a/b/build", "../src/x.c"), "/a/b/src/x.c",
		     "../ climbs out of comp_dir");
	CHECK_EQ_STR(jc(256, "/a/b", "../../../../x.c"), "/x.c",
		     "../ stops at the root");
	CHECK_EQ_STR(jc(256, "/a/./b/.", "./c/./d.c"), "/a/b/c/d.c",
		     "./ components dropped");
	CHECK_EQ_STR(jc(256, "/a/b/..", "c/../d.c"), "/a/d.c",
		     ".. in both dir and name");
	CHECK_EQ_STR(jc(256, "/a", "b/.."), "/a", ".. at the end");
	/* // */
	CHECK_EQ_STR(jc(256, "//a//b//", "//c.c"), "/c.c",
		     "// in an absolute name");
	CHECK_EQ_STR(jc(256, "//a//b//", "c//d.c"), "/a/b/c/d.c",
		     "// in dir and name");
	/* no comp_dir: the name stays relative, cleaned */
	CHECK_EQ_STR(jc(256, "", "./src//x.c"), "src/x.c", "empty comp_dir");
	CHECK_EQ_STR(jc(256, NULL, "a/../../x.c"), "../x.c",
		     "no comp_dir: a leading .. is kept");
	CHECK_EQ_STR(jc(256, NULL, "../../a/../x.c"), "../../x.c",
		     "no comp_dir: .. after .. is kept, later ones apply");
	CHECK_EQ_STR(jc(256, "build", "../x.c"), "x.c", "relative comp_dir");
	CHECK_EQ_STR(jc(256, ".", "x.c"), "x.c", "comp_dir '.' (Go's)");
	CHECK_EQ_STR(jc(256, NULL, "a/.."), ".", "nothing left: '.'");
	CHECK_EQ_STR(jc(256, NULL, ""), ".", "empty name: '.'");
	CHECK_EQ_STR(jc(256, "/", ".."), "/", "/..: the root");
	/* buffers: the result and its NUL must fit */
	CHECK_EQ_INT(path_join_clean(exact, sizeof(exact), "/ab", "c.c"), 7,
		     "a result that just fits");
	CHECK_EQ_STR(exact, "/ab/c.c", "... written whole");
	CHECK_EQ_INT(path_join_clean(small, sizeof(small), "/abc", "d.c"),
		     -ENAMETOOLONG, "one byte too long: -ENAMETOOLONG");
	CHECK_EQ_STR(small, "", "... and the buffer holds \"\"");
	CHECK_EQ_INT(path_join_clean(small, sizeof(small), "/abcdefghij",
				     "../x.c"), -ENAMETOOLONG,
		     "a component too long for the buffer, even if .. would "
		     "remove it");
	CHECK_EQ_INT(path_join_clean(small, sizeof(small), "/abc/de/",
				     "../../x.c"), 4,
		     "a dir that fits, shortened by ..");
	CHECK_EQ_STR(small, "/x.c", "... to what .. left");
	CHECK_EQ_STR(jc(4, NULL, "long-name.c"), "<too long>",
		     "name longer than the buffer");
	CHECK_EQ_STR(jc(3, NULL, "../.."), "<too long>",
		     "relative .. longer than the buffer");
	CHECK_EQ_STR(jc(1, NULL, "x"), "<too long>", "a 1-byte buffer");
	CHECK_EQ_INT(path_join_clean(small, 0, "/a", "b"), -ENAMETOOLONG,
		     "a 0-byte buffer");
	CHECK_EQ_INT(path_join_clean(small, sizeof(small), "/a", NULL),
		     -EINVAL, "no name: -EINVAL");
	return check_report();
}
