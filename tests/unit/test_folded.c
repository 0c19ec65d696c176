/* test_folded - collapsed stacks from a profile (http/folded.c,
 * pprof_folded): frames root first with inline frames, stacks that differ
 * only by label added up, value index, zero values left out, names that
 * hold ';', locations without lines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "tests/unit/check.h"

int
main(void)
{
	struct pprof *p = pprof_new();
	struct pprof_label_in la = { "thread", "a", 0, NULL };
	struct pprof_label_in lb = { "thread", "b", 0, NULL };
	uint64_t fmain, ff, fg, fodd, m, l1, l2, l3, l4;
	struct pprof_line inl[2], lmain, lodd;
	uint64_t s1[2], s2[2], s3[2];
	int64_t v[2];
	char *out = NULL;
	size_t len = 0;

	CHECK(p != NULL, "pprof_new");
	CHECK_EQ_INT(pprof_add_sample_type(p, "samples", "count"), 0, "type 0");
	CHECK_EQ_INT(pprof_add_sample_type(p, "cpu", "nanoseconds"), 0,
		     "type 1");
	m = pprof_add_mapping(p, 0x1000, 0x2000, 0, "/bin/x", "");
	fmain = pprof_add_function(p, "main", "main", "x.c", 1);
	ff = pprof_add_function(p, "f", "f", "x.c", 10);
	fg = pprof_add_function(p, "g", "g", "x.c", 20);
	fodd = pprof_add_function(p, "a;b\nc", "a;b\nc", "x.c", 30);
	/* g inlined into f: innermost first */
	inl[0] = (struct pprof_line){ fg, 21 };
	inl[1] = (struct pprof_line){ ff, 11 };
	lmain = (struct pprof_line){ fmain, 2 };
	lodd = (struct pprof_line){ fodd, 31 };
	l1 = pprof_add_location(p, m, 0x1010, inl, 2);
	l2 = pprof_add_location(p, m, 0x1020, &lmain, 1);
	l3 = pprof_add_location(p, m, 0x1030, NULL, 0);
	l4 = pprof_add_location(p, m, 0x1040, &lodd, 1);
	CHECK(m && fmain && ff && fg && fodd && l1 && l2 && l3 && l4,
	      "built the profile");
	s1[0] = l1, s1[1] = l2;	/* leaf first */
	s2[0] = l3, s2[1] = l2;
	s3[0] = l4, s3[1] = l2;
	v[0] = 2, v[1] = 200;
	CHECK_EQ_INT(pprof_add_sample(p, s1, 2, v, 2, &la, 1), 0, "sample a");
	v[0] = 3, v[1] = 300;
	CHECK_EQ_INT(pprof_add_sample(p, s1, 2, v, 2, &lb, 1), 0, "sample b");
	v[0] = 1, v[1] = 100;
	CHECK_EQ_INT(pprof_add_sample(p, s2, 2, v, 2, NULL, 0), 0,
		     "sample without lines");
	v[0] = 0, v[1] = 0;
	CHECK_EQ_INT(pprof_add_sample(p, s3, 2, v, 2, NULL, 0), 0,
		     "a zero sample");
	v[0] = 4, v[1] = 0;
	CHECK_EQ_INT(pprof_add_sample(p, s3, 2, v, 2, NULL, 0), 0,
		     "odd name");

	CHECK_EQ_INT(pprof_folded(p, 0, &out, &len), 0, "folded, samples");
	CHECK_EQ_STR(out, "main;f;g 5\nmain;0x1030 1\nmain;a:b c 4\n",
		     "root first, inline frames, labels merged, ';' -> ':'");
	CHECK_EQ_INT(len, strlen(out), "length");
	free(out);
	out = NULL;
	CHECK_EQ_INT(pprof_folded(p, 1, &out, &len), 0, "folded, cpu");
	CHECK_EQ_STR(out, "main;f;g 500\nmain;0x1030 100\n",
		     "second value; a zero value is left out");
	free(out);
	out = NULL;
	CHECK_EQ_INT(pprof_folded(p, 2, &out, &len), -EINVAL,
		     "no such sample type");
	CHECK(out == NULL, "out untouched on failure");
	pprof_free(p);

	p = pprof_new();
	CHECK(p && pprof_add_sample_type(p, "samples", "count") == 0,
	      "an empty profile");
	CHECK_EQ_INT(pprof_folded(p, 0, &out, &len), 0, "folded, empty");
	CHECK(out && len == 0 && out[0] == '\0', "empty text");
	free(out);
	pprof_free(p);
	return check_report();
}
