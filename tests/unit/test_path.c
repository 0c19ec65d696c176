/* test_path - path_join_clean() (common/path.c): source file names joined
 * to their compilation directory and cleaned by their text alone, as
 * profiles show them. */
#include "common/path.h"

#include <errno.h>
#include <string.h>

#include "check.h"

/* dir, name -> what path_join_clean() makes of them */
static const struct {
	const char *dir, *name, *want, *what;
} cases[] = {
	/* absolute names are kept (cleaned), the directory unused */
	{ "/build", "/usr/include/stdio.h", "/usr/include/stdio.h",
	  "absolute name: kept" },
	{ NULL, "/src/./a//b/../c.c", "/src/a/c.c",
	  "absolute name without a dir: cleaned" },
	/* relative names joined to comp_dir */
	{ "/home/u/proj", "tests/targets/demo.c",
	  "/home/u/proj/tests/targets/demo.c", "comp_dir joined" },
	{ "/home/u/proj/", "src/x.c", "/home/u/proj/src/x.c",
	  "comp_dir with a trailing '/'" },
	{ "/", "x.c", "/x.c", "comp_dir the root" },
	/* ../ and ./ */
	{ "/a/b/build", "../src/x.c", "/a/b/src/x.c",
	  "../ climbs out of comp_dir" },
	{ "/a/b", "../../../../x.c", "/x.c", "../ stops at the root" },
	{ "/a/./b/.", "./c/./d.c", "/a/b/c/d.c", "./ components dropped" },
	{ "/a/b/..", "c/../d.c", "/a/d.c", ".. in both dir and name" },
	{ "/a", "b/..", "/a", ".. at the end" },
	{ "/", "..", "/", "/..: the root" },
	/* // */
	{ "//a//b//", "//c.c", "/c.c", "// in an absolute name" },
	{ "//a//b//", "c//d.c", "/a/b/c/d.c", "// in dir and name" },
	/* no comp_dir: the name stays relative, cleaned */
	{ "", "./src//x.c", "src/x.c", "empty comp_dir" },
	{ NULL, "a/../../x.c", "../x.c", "no comp_dir: a leading .. is kept" },
	{ NULL, "../../a/../x.c", "../../x.c",
	  "no comp_dir: .. after .. is kept, later ones apply" },
	{ "build", "../x.c", "x.c", "relative comp_dir" },
	{ ".", "x.c", "x.c", "comp_dir '.' (Go's)" },
	{ NULL, "a/..", ".", "nothing left: '.'" },
	{ NULL, "", ".", "empty name: '.'" },
};

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

	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_EQ_STR(jc(256, cases[i].dir, cases[i].name),
			     cases[i].want, cases[i].what);
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
