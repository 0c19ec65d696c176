/* test_flame_svg - http_flame_svg (format=svg): frames merged by stack
 * from the root, inline frames expanded outermost first, widths in
 * proportion to the default sample type, names escaped for XML, a frame
 * without a function named by its address, and an empty profile drawn. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http/http.h"

/* The x and width of the <rect> in the frame titled TITLE ("name (").
 * False when there is none. */
static bool
frame_rect(const char *svg, const char *title, double *x, double *w)
{
	char want[128];
	const char *p;

	snprintf(want, sizeof(want), "<title>%s (", title);
	p = strstr(svg, want);
	if (!p || !(p = strstr(p, "<rect x=\"")))
		return false;
	*x = strtod(p + 9, NULL);
	p = strstr(p, "width=\"");
	*w = p ? strtod(p + 7, NULL) : -1;
	return p != NULL;
}

static size_t
count(const char *s, const char *what)
{
	size_t n = 0;

	for (; (s = strstr(s, what)); s += strlen(what))
		n++;
	return n;
}

int
main(void)
{
	struct pprof *p = pprof_new();
	struct pprof_line l_main = { 0, 10 }, l_hot[2], l_tmpl = { 0, 30 };
	uint64_t fmain, fhot, finl, ftmpl, m, lmain, lhot, ltmpl, lnone;
	uint64_t st1[2], st2[2], st3[2];
	int64_t v1[2] = { 3, 3000 }, v2[2] = { 1, 1000 }, v3[2] = { 2, 0 };
	double xa, wa, xb, wb;
	char *svg = NULL;
	size_t len = 0;

	CHECK(p != NULL, "pprof_new");
	pprof_add_sample_type(p, "samples", "count");
	pprof_add_sample_type(p, "cpu", "nanoseconds");
	m = pprof_add_mapping(p, 0x1000, 0x9000, 0, "/bin/x", "");
	fmain = pprof_add_function(p, "main", "main", "x.c", 1);
	fhot = pprof_add_function(p, "hot", "hot", "x.c", 20);
	finl = pprof_add_function(p, "inl", "inl", "x.c", 25);
	ftmpl = pprof_add_function(p, "f<int&>", "f<int&>", "x.cc", 30);
	l_main.function_id = fmain;
	l_hot[0] = (struct pprof_line){ finl, 26 };	/* innermost first */
	l_hot[1] = (struct pprof_line){ fhot, 21 };
	l_tmpl.function_id = ftmpl;
	lmain = pprof_add_location(p, m, 0x1100, &l_main, 1);
	lhot = pprof_add_location(p, m, 0x1200, l_hot, 2);
	ltmpl = pprof_add_location(p, m, 0x1300, &l_tmpl, 1);
	lnone = pprof_add_location(p, m, 0x1abc, NULL, 0);
	st1[0] = lhot, st1[1] = lmain;	/* leaf first */
	st2[0] = ltmpl, st2[1] = lmain;
	st3[0] = lnone, st3[1] = lmain;
	CHECK_EQ_INT(pprof_add_sample(p, st1, 2, v1, 2, NULL, 0), 0, "sample 1");
	CHECK_EQ_INT(pprof_add_sample(p, st2, 2, v2, 2, NULL, 0), 0, "sample 2");
	CHECK_EQ_INT(pprof_add_sample(p, st1, 2, v2, 2, NULL, 0), 0, "sample 3");
	CHECK_EQ_INT(pprof_add_sample(p, st3, 2, v3, 2, NULL, 0), 0,
		     "sample 4 (no cpu value)");

	CHECK_EQ_INT(http_flame_svg(p, "t <1>", &svg, &len), 0, "draw");
	CHECK(svg && len == strlen(svg), "length");
	CHECK(strncmp(svg, "<?xml", 5) == 0 && strstr(svg, "</svg>\n"),
	      "an XML document");
	CHECK(strstr(svg, "t &lt;1&gt;") != NULL, "title escaped");
	CHECK(strstr(svg, "<title>all (5 samples, 5e-06 s, 100.00%)") != NULL,
	      "root: samples, value and share");
	CHECK(strstr(svg, "<title>hot (4 samples, 4e-06 s, 80.00%)") != NULL,
	      "hot merged over two samples");
	CHECK(strstr(svg, "<title>inl (4 samples") != NULL,
	      "inline frame expanded");
	CHECK(strstr(svg, "f&lt;int&amp;&gt; (1 samples") != NULL,
	      "C++ name escaped");
	CHECK(strstr(svg, "f<int") == NULL, "no raw < in a name");
	CHECK(strstr(svg, "0x1abc") == NULL,
	      "a stack without cpu value is left out");
	CHECK_EQ_INT(count(svg, "<title>main ("), 1, "main once");
	CHECK(frame_rect(svg, "hot", &xa, &wa) &&
		      frame_rect(svg, "f&lt;int&amp;&gt;", &xb, &wb),
	      "rects");
	CHECK(wa > 3.9 * wb && wa < 4.1 * wb, "widths 4:1");
	CHECK(xb < xa, "siblings in name order: f<int&> before hot");
	free(svg);

	/* weighed by samples/count alone: the address frame appears */
	{
		struct pprof *q = pprof_new();
		uint64_t mq, ln;
		int64_t one = 7;

		pprof_add_sample_type(q, "samples", "count");
		mq = pprof_add_mapping(q, 0x1000, 0x9000, 0, "/bin/x", "");
		ln = pprof_add_location(q, mq, 0x1abc, NULL, 0);
		pprof_add_sample(q, &ln, 1, &one, 1, NULL, 0);
		CHECK_EQ_INT(http_flame_svg(q, "q", &svg, &len), 0, "draw q");
		CHECK(strstr(svg, "<title>0x1abc (7 count, 100.00%)") != NULL,
		      "a frame without a function is its address");
		free(svg);
		pprof_free(q);
	}
	pprof_free(p);

	/* a name cut to fit its frame is cut between UTF-8 characters */
	{
		struct pprof *q = pprof_new();
		char name[400];
		uint64_t mq, fq, lq;
		struct pprof_line ql = { 0, 1 };
		int64_t one = 1;
		size_t k;

		for (k = 0; k + 2 < sizeof(name); k += 2)
			memcpy(name + k, "\xc3\xa9", 2);	/* e acute */
		name[k] = '\0';
		pprof_add_sample_type(q, "samples", "count");
		mq = pprof_add_mapping(q, 0x1000, 0x9000, 0, "/bin/x", "");
		fq = pprof_add_function(q, name, name, "x.c", 1);
		ql.function_id = fq;
		lq = pprof_add_location(q, mq, 0x1100, &ql, 1);
		pprof_add_sample(q, &lq, 1, &one, 1, NULL, 0);
		CHECK_EQ_INT(http_flame_svg(q, "u", &svg, &len), 0, "draw u");
		{
			const char *gt = strstr(svg, "\">\xc3\xa9");
			const char *dots = gt ? strstr(gt, "</text>") : NULL;

			dots = dots && dots - gt > 4 && dots[-1] == '.' ? dots - 2
								       : NULL;

			CHECK(dots != NULL, "a long name is cut with ..");
			CHECK(dots && (dots - gt - 2) % 2 == 0,
			      "cut after a whole character");
		}
		free(svg);
		pprof_free(q);
	}

	p = pprof_new();
	CHECK_EQ_INT(http_flame_svg(p, "empty", &svg, &len), 0,
		     "an empty profile draws");
	CHECK(strstr(svg, "</svg>") != NULL, "and is a document");
	free(svg);
	pprof_free(p);
	return check_report();
}
