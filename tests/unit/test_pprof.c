/* test_pprof - the pprof builder, encoder and decoder (http/pprof*.c).
 *
 * Builds a profile shaped like profd's CPU profile, round-trips it through
 * pprof_encode() and pprof_decode(), and compares every field. Because the
 * encoder and decoder could share a misreading of profile.proto, the same
 * bytes are also read by two independent decoders when they are installed:
 * `protoc --decode_raw` (wire structure) and `go tool pprof -raw` (the real
 * consumer, including its validity checks).
 */
#include "http/http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ZLIB_CONST
#include <zlib.h>

#include "check.h"

#define PERIOD		10101010
#define TIME_NANOS	1700000000123456789LL
#define DURATION	3000000000LL
#define BUILD_ID_EXE	"4fa1d25e3c0b9a7e6d5c4b3a29180716f5e4d3c2"
#define BUILD_ID_LIBC	"c2d3e4f5160718293a4b5c6d7e9a0b3c5ed2a14f"

/* Function and location ids of the CPU-like profile, in creation order. */
enum { F_ADD_ONE = 1, F_LEAF, F_MID, F_ROOT, F_MAIN, F_LIBC };
enum { L_LEAF = 1, L_MID, L_ROOT, L_MAIN, L_LIBC, L_NOSYM };

static const char *
str(const struct pprof *p, int64_t i)
{
	if (i < 0 || (uint64_t)i >= p->n_strings)
		return "(out of range)";
	return p->strings[i];
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- strings and dedup ------------------------------------------------ */

static void
test_strings(void)
{
	struct pprof *p = pprof_new();
	int64_t a, b, many[1000];
	char buf[32];
	size_t i;
	int bad = 0;

	CHECK(p != NULL, "pprof_new");
	if (!p)
		return;
	CHECK_EQ_INT(p->n_strings, 1, "new profile has one string");
	CHECK_EQ_STR(p->strings[0], "", "string 0 is empty");
	CHECK(p->priv != NULL, "builder has its indexes");
	CHECK_EQ_INT(pprof_string(p, NULL), 0, "NULL interns as 0");
	CHECK_EQ_INT(pprof_string(p, ""), 0, "\"\" interns as 0");
	a = pprof_string(p, "cpu");
	b = pprof_string(p, "nanoseconds");
	CHECK_EQ_INT(a, 1, "first string gets index 1");
	CHECK_EQ_INT(b, 2, "second string gets index 2");
	CHECK_EQ_INT(pprof_string(p, "cpu"), a, "same string, same index");
	CHECK_EQ_INT(p->n_strings, 3, "no duplicate strings");

	a = pprof_string(p, "ab\xff" "c");
	CHECK_EQ_STR(str(p, a), "ab\xef\xbf\xbd" "c",
		     "invalid byte becomes U+FFFD");
	CHECK_EQ_INT(pprof_string(p, "ab\xef\xbf\xbd" "c"), a,
		     "sanitised string dedups with its valid twin");
	a = pprof_string(p, "\xc0\xaf");
	CHECK_EQ_STR(str(p, a), "\xef\xbf\xbd\xef\xbf\xbd",
		     "overlong form: one U+FFFD per byte");
	a = pprof_string(p, "x\xed\xa0\x80");
	CHECK_EQ_STR(str(p, a), "x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
		     "surrogate rejected");
	a = pprof_string(p, "end\xe2\x82");
	CHECK_EQ_STR(str(p, a), "end\xef\xbf\xbd\xef\xbf\xbd",
		     "sequence cut short at the end");
	a = pprof_string(p, "\xf4\x90\x80\x80");
	CHECK_EQ_STR(str(p, a), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
		     "\xef\xbf\xbd", "code point above U+10FFFF rejected");
	a = pprof_string(p, "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x94\xa5");
	CHECK_EQ_STR(str(p, a), "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x94\xa5",
		     "valid UTF-8 kept as is");

	/* enough strings to grow the hash table several times */
	for (i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "sym_%zu", i);
		many[i] = pprof_string(p, buf);
	}
	for (i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "sym_%zu", i);
		if (pprof_string(p, buf) != many[i] ||
		    strcmp(str(p, many[i]), buf) != 0)
			bad++;
	}
	CHECK_EQ_INT(bad, 0, "1000 strings keep their index across growth");
	pprof_free(p);
}

static void
test_dedup(void)
{
	struct pprof *p = pprof_new();
	struct pprof_line l1 = { 1, 10 }, l2 = { 2, 20 };
	struct pprof_label_in nokey = { NULL, "x", 0, NULL };
	uint64_t f1, f2, m1, m2, a, b, loc;
	int64_t v[2] = { 1, 2 };
	size_t i;
	int bad = 0;

	if (!p)
		return;
	f1 = pprof_add_function(p, "f", "_Z1fv", "/src/f.c", 3);
	f2 = pprof_add_function(p, "g", "g", "/src/g.c", 7);
	CHECK_EQ_INT(f1, 1, "first function id 1");
	CHECK_EQ_INT(f2, 2, "second function id 2");
	CHECK_EQ_INT(pprof_add_function(p, "f", "_Z1fv", "/src/f.c", 3), f1,
		     "same function key, same id");
	CHECK_EQ_INT(pprof_add_function(p, "f", "_Z1fv", "/src/f.c", 4), 3,
		     "other start_line, new function");
	CHECK_EQ_INT(pprof_add_function(p, "f", "f", "/src/f.c", 3), 4,
		     "other system_name, new function");
	CHECK_EQ_INT(pprof_add_function(p, "f", "_Z1fv", "/src/h.c", 3), 5,
		     "other filename, new function");
	CHECK_EQ_INT(p->n_functions, 5, "five distinct functions");

	m1 = pprof_add_mapping(p, 0x1000, 0x2000, 0, "/bin/a", "aa");
	m2 = pprof_add_mapping(p, 0x3000, 0x4000, 0x1000, "/lib/b.so", "");
	CHECK_EQ_INT(m1, 1, "first mapping id 1");
	CHECK_EQ_INT(m2, 2, "second mapping id 2");
	a = pprof_add_location(p, m1, 0x1234, &l1, 1);
	b = pprof_add_location(p, m1, 0x1234, &l2, 1);
	CHECK_EQ_INT(a, 1, "first location id 1");
	CHECK_EQ_INT(b, a, "same (mapping, address), same location");
	CHECK_EQ_INT(p->locations[0].lines[0].function_id, 1,
		     "second call's lines are ignored");
	CHECK_EQ_INT(pprof_add_location(p, m2, 0x1234, &l2, 1), 2,
		     "same address in another mapping, new location");
	CHECK_EQ_INT(pprof_add_location(p, 0, 0x1234, NULL, 0), 3,
		     "mapping 0, new location");

	/* many locations: the index must keep finding them after growth */
	for (i = 0; i < 5000; i++)
		pprof_add_location(p, m1, 0x10000 + i * 4, &l1, 1);
	for (i = 0; i < 5000; i++) {
		loc = pprof_add_location(p, m1, 0x10000 + i * 4, &l2, 1);
		if (loc != 4 + i || p->locations[loc - 1].id != loc)
			bad++;
	}
	CHECK_EQ_INT(bad, 0, "5000 locations: dense ids, found again");
	CHECK_EQ_INT(p->n_locations, 5003, "no duplicate locations");

	CHECK_EQ_INT(pprof_add_sample_type(p, "samples", "count"), 0,
		     "add sample type");
	CHECK_EQ_INT(pprof_add_sample(p, &a, 1, v, 2, NULL, 0), -EINVAL,
		     "2 values for 1 sample type is -EINVAL");
	CHECK_EQ_INT(pprof_add_sample(p, &a, 1, v, 1, &nokey, 1), -EINVAL,
		     "label without key is -EINVAL");
	CHECK_EQ_INT(pprof_add_sample(p, &a, 1, v, 1, NULL, 0), 0,
		     "valid sample added");
	CHECK_EQ_INT(p->n_samples, 1, "only the valid sample was kept");
	pprof_free(p);
}

/* ---- the CPU-like profile --------------------------------------------- */

static int
add_samples(struct pprof *p)
{
	/* leaf first; L_LEAF carries add_one inlined into spin_leaf */
	static const uint64_t stack1[] = { L_LEAF, L_MID, L_ROOT, L_MAIN,
					   L_LIBC };
	static const uint64_t stack2[] = { L_MID, L_ROOT, L_MAIN, L_LIBC };
	static const uint64_t stack3[] = { L_NOSYM, L_MAIN, L_LIBC };
	struct pprof_label_in lab1[] = {
		{ "thread", "main", 0, NULL },
		{ "tid", NULL, 1234, NULL },
	};
	struct pprof_label_in lab2[] = {
		{ "thread", "worker\xff", 0, NULL },
		{ "tid", NULL, 1235, NULL },
		{ "delta", NULL, -5, "bytes" },
	};
	int64_t v1[] = { 7, 7 * PERIOD }, v2[] = { 2, 2 * PERIOD };
	int64_t v3[] = { 1, PERIOD };
	int rc;

	rc = pprof_add_sample(p, stack1, 5, v1, 2, lab1, 2);
	if (!rc)
		rc = pprof_add_sample(p, stack2, 4, v2, 2, lab2, 3);
	if (!rc)
		rc = pprof_add_sample(p, stack3, 3, v3, 2, lab1, 1);
	return rc;
}

static struct pprof *
build_cpu_profile(void)
{
	struct pprof *p = pprof_new();
	struct pprof_line leaf[2] = { { F_ADD_ONE, 6 }, { F_LEAF, 21 } };
	struct pprof_line line;
	uint64_t exe, libc, loc;
	int rc = 0;

	if (!p)
		return NULL;
	rc |= pprof_add_sample_type(p, "samples", "count");
	rc |= pprof_add_sample_type(p, "cpu", "nanoseconds");
	rc |= pprof_set_period(p, "cpu", "nanoseconds", PERIOD);
	pprof_set_time(p, TIME_NANOS, DURATION);
	rc |= pprof_add_comment(p, "profd unit test");
	exe = pprof_add_mapping(p, 0x400000, 0x452000, 0x1000,
				"/usr/bin/spin", BUILD_ID_EXE);
	libc = pprof_add_mapping(p, 0x7f1234528000, 0x7f12346bd000, 0x28000,
				 "/lib/x86_64-linux-gnu/libc.so.6",
				 BUILD_ID_LIBC);
	if (rc || exe != 1 || libc != 2)
		goto fail;
	p->mappings[exe - 1].has_functions = true;
	p->mappings[exe - 1].has_filenames = true;
	p->mappings[exe - 1].has_line_numbers = true;
	p->mappings[exe - 1].has_inline_frames = true;
	p->mappings[libc - 1].has_functions = true;

	if (pprof_add_function(p, "add_one", "add_one", "/src/spin.h", 4) !=
		    F_ADD_ONE ||
	    pprof_add_function(p, "spin_leaf", "spin_leaf", "/src/spin.c",
			       18) != F_LEAF ||
	    pprof_add_function(p, "spin_mid", "spin_mid", "/src/spin.c",
			       24) != F_MID ||
	    pprof_add_function(p, "spin_root", "spin_root", "/src/spin.c",
			       28) != F_ROOT ||
	    pprof_add_function(p, "main", "main", "/src/spin.c", 33) !=
		    F_MAIN ||
	    pprof_add_function(p, "ns::start_main", "_ZN2ns10start_mainEv",
			       "", 0) != F_LIBC)
		goto fail;

	loc = pprof_add_location(p, exe, 0x401136, leaf, 2);
	line = (struct pprof_line){ F_MID, 25 };
	loc |= pprof_add_location(p, exe, 0x40115a, &line, 1) << 8;
	line = (struct pprof_line){ F_ROOT, 29 };
	loc |= pprof_add_location(p, exe, 0x40116a, &line, 1) << 16;
	line = (struct pprof_line){ F_MAIN, 36 };
	loc |= pprof_add_location(p, exe, 0x4011a0, &line, 1) << 24;
	line = (struct pprof_line){ F_LIBC, 0 };
	loc |= pprof_add_location(p, libc, 0x7f1234551d8f, &line, 1) << 32;
	/* an address nothing resolved: no lines */
	loc |= pprof_add_location(p, libc, 0x7f12345fffff, NULL, 0) << 40;
	if (loc != 0x060504030201ULL)
		goto fail;
	if (add_samples(p) < 0)
		goto fail;
	return p;
fail:
	pprof_free(p);
	return NULL;
}

/* Print the first few differences; return how many there were. */
static int ndiff;

static void
differs(bool bad, const char *what, size_t i)
{
	if (!bad)
		return;
	if (ndiff++ < 10)
		printf("#   differs: %s [%zu]\n", what, i);
}

static int
diff_profiles(const struct pprof *a, const struct pprof *b)
{
	size_t i, j;

	ndiff = 0;
	differs(a->n_strings != b->n_strings, "n_strings", 0);
	for (i = 0; i < a->n_strings && i < b->n_strings; i++)
		differs(strcmp(a->strings[i], b->strings[i]) != 0, "string",
			i);
	differs(a->n_sample_types != b->n_sample_types, "n_sample_types", 0);
	for (i = 0; i < a->n_sample_types && i < b->n_sample_types; i++)
		differs(a->sample_types[i].type != b->sample_types[i].type ||
			a->sample_types[i].unit != b->sample_types[i].unit,
			"sample_type", i);
	differs(a->period_type.type != b->period_type.type ||
		a->period_type.unit != b->period_type.unit, "period_type", 0);
	differs(a->period != b->period, "period", 0);
	differs(a->time_nanos != b->time_nanos, "time_nanos", 0);
	differs(a->duration_nanos != b->duration_nanos, "duration_nanos", 0);
	differs(a->default_sample_type != b->default_sample_type,
		"default_sample_type", 0);
	differs(a->n_comments != b->n_comments, "n_comments", 0);
	for (i = 0; i < a->n_comments && i < b->n_comments; i++)
		differs(a->comments[i] != b->comments[i], "comment", i);

	differs(a->n_mappings != b->n_mappings, "n_mappings", 0);
	for (i = 0; i < a->n_mappings && i < b->n_mappings; i++) {
		const struct pprof_mapping *x = &a->mappings[i];
		const struct pprof_mapping *y = &b->mappings[i];

		differs(x->id != y->id || x->start != y->start ||
			x->limit != y->limit || x->offset != y->offset ||
			x->filename != y->filename ||
			x->build_id != y->build_id ||
			x->has_functions != y->has_functions ||
			x->has_filenames != y->has_filenames ||
			x->has_line_numbers != y->has_line_numbers ||
			x->has_inline_frames != y->has_inline_frames,
			"mapping", i);
	}
	differs(a->n_functions != b->n_functions, "n_functions", 0);
	for (i = 0; i < a->n_functions && i < b->n_functions; i++) {
		const struct pprof_function *x = &a->functions[i];
		const struct pprof_function *y = &b->functions[i];

		differs(x->id != y->id || x->name != y->name ||
			x->system_name != y->system_name ||
			x->filename != y->filename ||
			x->start_line != y->start_line, "function", i);
	}
	differs(a->n_locations != b->n_locations, "n_locations", 0);
	for (i = 0; i < a->n_locations && i < b->n_locations; i++) {
		const struct pprof_location *x = &a->locations[i];
		const struct pprof_location *y = &b->locations[i];

		differs(x->id != y->id || x->mapping_id != y->mapping_id ||
			x->address != y->address || x->n_lines != y->n_lines,
			"location", i);
		for (j = 0; j < x->n_lines && j < y->n_lines; j++)
			differs(x->lines[j].function_id !=
					y->lines[j].function_id ||
				x->lines[j].line != y->lines[j].line,
				"location line", i);
	}
	differs(a->n_samples != b->n_samples, "n_samples", 0);
	for (i = 0; i < a->n_samples && i < b->n_samples; i++) {
		const struct pprof_sample *x = &a->samples[i];
		const struct pprof_sample *y = &b->samples[i];

		differs(x->n_locations != y->n_locations ||
			x->n_values != y->n_values ||
			x->n_labels != y->n_labels, "sample sizes", i);
		for (j = 0; j < x->n_locations && j < y->n_locations; j++)
			differs(x->location_ids[j] != y->location_ids[j],
				"sample location_id", i);
		for (j = 0; j < x->n_values && j < y->n_values; j++)
			differs(x->values[j] != y->values[j], "sample value",
				i);
		for (j = 0; j < x->n_labels && j < y->n_labels; j++)
			differs(x->labels[j].key != y->labels[j].key ||
				x->labels[j].str != y->labels[j].str ||
				x->labels[j].num != y->labels[j].num ||
				x->labels[j].num_unit != y->labels[j].num_unit,
				"sample label", i);
	}
	return ndiff;
}

/* Spot checks that name the expected values, on top of the comparison. */
static void
check_cpu_fields(const struct pprof *d)
{
	const struct pprof_location *l;
	const struct pprof_sample *s;

	CHECK_EQ_INT(d->n_sample_types, 2, "two sample types");
	if (d->n_sample_types != 2)
		return;
	CHECK_EQ_STR(str(d, d->sample_types[0].type), "samples",
		     "sample_type[0] samples");
	CHECK_EQ_STR(str(d, d->sample_types[0].unit), "count",
		     "sample_type[0] count");
	CHECK_EQ_STR(str(d, d->sample_types[1].type), "cpu",
		     "sample_type[1] cpu");
	CHECK_EQ_STR(str(d, d->sample_types[1].unit), "nanoseconds",
		     "sample_type[1] nanoseconds");
	CHECK_EQ_STR(str(d, d->period_type.type), "cpu", "period_type cpu");
	CHECK_EQ_STR(str(d, d->period_type.unit), "nanoseconds",
		     "period_type nanoseconds");
	CHECK_EQ_INT(d->period, PERIOD, "period");
	CHECK_EQ_INT(d->time_nanos, TIME_NANOS, "time_nanos");
	CHECK_EQ_INT(d->duration_nanos, DURATION, "duration_nanos");
	CHECK_EQ_INT(d->n_comments, 1, "one comment");
	CHECK_EQ_INT(d->n_mappings, 2, "two mappings");
	CHECK_EQ_INT(d->n_functions, 6, "six functions");
	CHECK_EQ_INT(d->n_locations, 6, "six locations");
	CHECK_EQ_INT(d->n_samples, 3, "three samples");
	if (d->n_mappings != 2 || d->n_locations != 6 || d->n_samples != 3 ||
	    d->n_functions != 6)
		return;
	CHECK_EQ_STR(str(d, d->mappings[0].build_id), BUILD_ID_EXE,
		     "mapping 1 build id");
	CHECK_EQ_INT(d->mappings[1].offset, 0x28000, "mapping 2 offset");
	CHECK(d->mappings[0].has_functions && d->mappings[0].has_filenames &&
	      d->mappings[0].has_line_numbers &&
	      d->mappings[0].has_inline_frames, "mapping 1 has every flag");
	CHECK(d->mappings[1].has_functions && !d->mappings[1].has_filenames &&
	      !d->mappings[1].has_line_numbers &&
	      !d->mappings[1].has_inline_frames,
	      "mapping 2 has_functions only");
	l = &d->locations[L_LEAF - 1];
	CHECK_EQ_INT(l->n_lines, 2, "leaf location has an inline frame");
	if (l->n_lines == 2) {
		CHECK_EQ_STR(str(d, d->functions[l->lines[0].function_id - 1]
					    .name),
			     "add_one", "innermost line first");
		CHECK_EQ_INT(l->lines[1].line, 21, "outer line number");
	}
	CHECK_EQ_STR(str(d, d->functions[F_LIBC - 1].system_name),
		     "_ZN2ns10start_mainEv", "system_name kept");
	CHECK_EQ_INT(d->locations[L_NOSYM - 1].n_lines, 0,
		     "unsymbolised location has no lines");
	s = &d->samples[1];
	CHECK(s->n_labels == 3 && s->n_locations == 4, "sample 2 sizes");
	if (s->n_labels == 3) {
		CHECK_EQ_STR(str(d, s->labels[0].key), "thread",
			     "string label key");
		CHECK_EQ_STR(str(d, s->labels[0].str), "worker\xef\xbf\xbd",
			     "string label value, sanitised");
		CHECK_EQ_INT(s->labels[1].num, 1235, "numeric label tid");
		CHECK_EQ_INT(s->labels[2].num, -5, "negative numeric label");
		CHECK_EQ_STR(str(d, s->labels[2].num_unit), "bytes",
			     "numeric label unit");
	}
	CHECK_EQ_INT(d->samples[0].values[1], 7LL * PERIOD, "sample value");
	CHECK_EQ_INT(d->samples[0].location_ids[0], L_LEAF,
		     "location ids leaf first");
}

static void
test_round_trip(void)
{
	struct pprof *p = build_cpu_profile(), *d = NULL, *d2 = NULL;
	unsigned char *gz = NULL, *raw = NULL, *raw2 = NULL;
	size_t gz_len = 0, raw_len = 0, raw2_len = 0;
	char err[HTTP_ERRLEN];
	int rc;

	CHECK(p != NULL, "build the CPU-like profile");
	if (!p)
		return;
	rc = pprof_encode(p, true, &gz, &gz_len);
	CHECK_EQ_INT(rc, 0, "encode gzip");
	CHECK(rc == 0 && gz_len > 10 && gz[0] == 0x1f && gz[1] == 0x8b,
	      "output has the gzip magic");
	rc = pprof_decode(gz, gz_len, &d, err, sizeof(err));
	CHECK_EQ_INT(rc, 0, "decode gzip");
	if (rc)
		printf("#   %s\n", err);
	if (d) {
		CHECK(d->priv == NULL, "decoded profile has no builder index");
		CHECK_EQ_INT(diff_profiles(p, d), 0,
			     "decoded profile equals the original");
		check_cpu_fields(d);
		CHECK_EQ_INT(pprof_string(d, "new"), -1,
			     "decoded profile refuses new strings");
		CHECK_EQ_INT(pprof_add_mapping(d, 1, 2, 0, "x", NULL), 0,
			     "decoded profile refuses new mappings");
	}

	rc = pprof_encode(p, false, &raw, &raw_len);
	CHECK_EQ_INT(rc, 0, "encode raw");
	CHECK(raw_len > 0 && raw[0] != 0x1f, "raw output is not gzip'd");
	rc = pprof_decode(raw, raw_len, &d2, err, sizeof(err));
	CHECK_EQ_INT(rc, 0, "decode raw");
	if (d2) {
		CHECK_EQ_INT(diff_profiles(p, d2), 0,
			     "raw decode equals the original");
		rc = pprof_encode(d2, false, &raw2, &raw2_len);
		CHECK(rc == 0 && raw2_len == raw_len &&
		      memcmp(raw, raw2, raw_len) == 0,
		      "decoded profile re-encodes to the same bytes");
	}

	/* the encoder refuses what a consumer would reject */
	p->locations[0].lines[1].function_id = 99;
	free(raw2);
	raw2 = NULL;
	CHECK_EQ_INT(pprof_encode(p, false, &raw2, &raw2_len), -EINVAL,
		     "encode refuses a line with an unknown function");
	p->locations[0].lines[1].function_id = F_LEAF;
	p->samples[0].location_ids[2] = 0;
	CHECK_EQ_INT(pprof_encode(p, false, &raw2, &raw2_len), -EINVAL,
		     "encode refuses location id 0 in a sample");
	p->samples[0].location_ids[2] = L_ROOT;

	free(gz);
	free(raw);
	free(raw2);
	pprof_free(d);
	pprof_free(d2);
	pprof_free(p);
}

static void
test_default_sample_type(void)
{
	struct pprof *p = build_cpu_profile(), *d = NULL;
	unsigned char *raw = NULL;
	size_t len = 0;
	char err[HTTP_ERRLEN];

	if (!p)
		return;
	p->default_sample_type = pprof_string(p, "cpu");
	if (pprof_encode(p, false, &raw, &len) == 0 &&
	    pprof_decode(raw, len, &d, err, sizeof(err)) == 0)
		CHECK_EQ_STR(str(d, d->default_sample_type), "cpu",
			     "default_sample_type round trip");
	else
		CHECK(0, "default_sample_type round trip");
	free(raw);
	pprof_free(d);
	pprof_free(p);
}

/* Go packs repeated ints only when there are more than two
 * (golang/go src/runtime/pprof/protobuf.go), so real profiles mix both
 * encodings. */
static void
test_unpacked(void)
{
	static const unsigned char buf[] = {
		0x0a, 0x00,				/* sample_type {} */
		0x12, 0x0a,				/* sample { */
		0x08, 0x01, 0x08, 0x02,			/*  location_id 1, 2 */
		0x0a, 0x02, 0x01, 0x02,			/*  packed 1, 2 */
		0x10, 0x7f,				/*  value 127 } */
		0x22, 0x02, 0x08, 0x01,			/* location { id 1 } */
		0x22, 0x02, 0x08, 0x02,			/* location { id 2 } */
		0x32, 0x00,				/* string "" */
		0x68, 0x00, 0x6a, 0x02, 0x00, 0x00,	/* comment 0; 0, 0 */
		0x79, 1, 2, 3, 4, 5, 6, 7, 8,		/* field 15, fixed64 */
		0x85, 0x01, 1, 2, 3, 4,			/* field 16, fixed32 */
	};
	struct pprof *d = NULL;
	char err[HTTP_ERRLEN];
	int rc;

	rc = pprof_decode(buf, sizeof(buf), &d, err, sizeof(err));
	CHECK_EQ_INT(rc, 0, "unpacked and packed repeated ints decode");
	if (rc)
		printf("#   %s\n", err);
	CHECK(d && d->n_samples == 1 && d->n_locations == 2,
	      "unknown fixed64/fixed32 fields skipped");
	if (d && d->n_samples == 1) {
		const struct pprof_sample *s = &d->samples[0];

		CHECK(s->n_locations == 4 && s->location_ids[0] == 1 &&
		      s->location_ids[1] == 2 && s->location_ids[2] == 1 &&
		      s->location_ids[3] == 2,
		      "location ids from both encodings, in order");
		CHECK_EQ_INT(s->values[0], 127, "unpacked value");
		CHECK_EQ_INT(d->n_comments, 3, "comments from both encodings");
	}
	pprof_free(d);
}

/* ---- malformed input -------------------------------------------------- */

/* Decode and expect -EINVAL with `want` somewhere in the message. */
static void
expect_reject(const void *buf, size_t len, const char *want, const char *what)
{
	struct pprof *d = NULL;
	char err[HTTP_ERRLEN];
	int rc;

	rc = pprof_decode(buf, len, &d, err, sizeof(err));
	CHECK(rc == -EINVAL && d == NULL && strstr(err, want) != NULL, what);
	if (rc != -EINVAL || !strstr(err, want))
		printf("#   rc %d, err \"%s\", want \"%s\"\n", rc,
		       rc ? err : "", want);
	pprof_free(d);
}

static unsigned char *
concat(const unsigned char *a, size_t alen, const void *b, size_t blen)
{
	unsigned char *c = malloc(alen + blen);

	if (!c)
		return NULL;
	memcpy(c, a, alen);
	memcpy(c + alen, b, blen);
	return c;
}

/* A gzip stream of n zero bytes, compressed 1 MiB at a time. */
static unsigned char *
gzip_zeros(size_t n, size_t *out_len)
{
	static unsigned char zeros[1 << 20];
	unsigned char *out;
	size_t cap = n / 500 + 65536;
	z_stream zs;
	int rc = Z_OK;

	memset(&zs, 0, sizeof(zs));
	out = malloc(cap);
	if (!out || deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(out);
		return NULL;
	}
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	while (n && rc == Z_OK) {
		size_t k = n < sizeof(zeros) ? n : sizeof(zeros);

		zs.next_in = zeros;
		zs.avail_in = (uInt)k;
		n -= k;
		rc = deflate(&zs, n ? Z_NO_FLUSH : Z_FINISH);
	}
	*out_len = zs.total_out;
	deflateEnd(&zs);
	if (rc != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	return out;
}

static void
test_reject(void)
{
	/* "" then a location with an explicit id 0 */
	static const unsigned char loc0[] = { 0x32, 0x00, 0x22, 0x02, 0x08,
					      0x00 };
	/* sample type, a sample at location 0 with one value, one location */
	static const unsigned char sloc0[] = {
		0x0a, 0x00, 0x12, 0x06, 0x0a, 0x01, 0x00, 0x12, 0x01, 0x05,
		0x22, 0x02, 0x08, 0x01, 0x32, 0x00,
	};
	/* a location whose id comes as a length-delimited field */
	static const unsigned char locwire[] = { 0x32, 0x00, 0x22, 0x02,
						 0x0a, 0x00 };
	static const unsigned char badstr0[] = { 0x32, 0x01, 'x' };
	static const unsigned char badidx[] = { 0x32, 0x00, 0x0a, 0x02,
						0x08, 0x07 };
	static const unsigned char group[] = { 0x32, 0x00, 0x0b };
	/* one sample type, a sample with two packed values */
	static const unsigned char nvals[] = { 0x0a, 0x00, 0x12, 0x04, 0x12,
					       0x02, 0x01, 0x02, 0x32, 0x00 };
	/* a sample whose label has a value but no key */
	static const unsigned char nokey[] = {
		0x0a, 0x00, 0x12, 0x07, 0x12, 0x01, 0x05, 0x1a, 0x02, 0x10,
		0x01, 0x32, 0x00, 0x32, 0x01, 'x',
	};
	static const unsigned char time2[] = { 0x48, 0x01 };
	static const unsigned char period_len[] = { 0x62, 0x00 };
	struct pprof *p = build_cpu_profile();
	unsigned char *gz = NULL, *raw = NULL, *buf;
	size_t gz_len = 0, raw_len = 0, len;

	if (!p || pprof_encode(p, true, &gz, &gz_len) ||
	    pprof_encode(p, false, &raw, &raw_len)) {
		CHECK(0, "encode for the rejection tests");
		goto out;
	}
	expect_reject("", 0, "empty", "empty buffer rejected");
	expect_reject(raw, raw_len - 1, "truncated",
		      "raw profile cut by one byte rejected");
	expect_reject(raw, raw_len / 2, "profile: field",
		      "raw profile cut in half rejected");
	expect_reject(gz, gz_len - 9, "truncated",
		      "gzip profile cut short rejected");
	expect_reject(loc0, sizeof(loc0), "location[0] has the reserved id 0",
		      "location id 0 rejected");
	expect_reject(sloc0, sizeof(sloc0), "location_id[0] is the reserved",
		      "sample location id 0 rejected");
	expect_reject(locwire, sizeof(locwire), "wire type 2, want 0",
		      "location id with wrong wire type rejected");
	expect_reject(badstr0, sizeof(badstr0), "string 0",
		      "non-empty string 0 rejected");
	expect_reject(badidx, sizeof(badidx), "out of range",
		      "string index out of range rejected");
	expect_reject(group, sizeof(group), "unsupported wire type",
		      "group wire type rejected");
	expect_reject(nvals, sizeof(nvals), "has 2 values but there are 1",
		      "value count != sample type count rejected");
	expect_reject(nokey, sizeof(nokey), "label[0] has no key",
		      "label without key rejected");

	buf = concat(raw, raw_len, time2, sizeof(time2));
	if (buf)
		expect_reject(buf, raw_len + sizeof(time2), "concatenated",
			      "second time_nanos rejected");
	free(buf);
	buf = concat(raw, raw_len, period_len, sizeof(period_len));
	if (buf)
		expect_reject(buf, raw_len + sizeof(period_len),
			      "field 12 has wire type 2",
			      "period with wrong wire type rejected");
	free(buf);
	buf = concat(gz, gz_len, gz, gz_len);
	if (buf)
		expect_reject(buf, 2 * gz_len, "concatenated",
			      "two gzip members: concatenated profiles");
	free(buf);
	buf = concat(gz, gz_len, "junk", 4);
	if (buf)
		expect_reject(buf, gz_len + 4, "stray bytes",
			      "junk after the gzip data rejected");
	free(buf);

	/* 300 MiB of zeros gzip to ~300 KiB: must stop at the cap */
	buf = gzip_zeros((size_t)300 << 20, &len);
	if (buf) {
		struct pprof *d = NULL;
		char err[HTTP_ERRLEN];
		int rc = pprof_decode(buf, len, &d, err, sizeof(err));

		CHECK(rc == -E2BIG && strstr(err, "larger than"),
		      "gzip bomb stopped at the size cap");
		pprof_free(d);
	}
	free(buf);
out:
	free(gz);
	free(raw);
	pprof_free(p);
}

/* Every truncation and many one-byte corruptions of a valid profile: the
 * decoder must never crash (ASan watches), must explain every refusal,
 * and whatever it accepts the encoder must accept too. */
static void
test_corruption(void)
{
	static const unsigned char subst[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };
	struct pprof *p = build_cpu_profile(), *d;
	unsigned char *raw = NULL, *buf = NULL, *out;
	size_t raw_len = 0, i, k, out_len;
	char err[HTTP_ERRLEN];
	int silent = 0, reencode = 0, accepted = 0, rc;

	if (!p || pprof_encode(p, false, &raw, &raw_len) ||
	    !(buf = malloc(raw_len))) {
		CHECK(0, "encode for the corruption tests");
		goto out;
	}
	for (i = 0; i < raw_len; i++) {
		d = NULL;
		rc = pprof_decode(raw, i, &d, err, sizeof(err));
		if (rc && !err[0])
			silent++;
		if (!rc) {
			accepted++;
			out = NULL;
			if (pprof_encode(d, false, &out, &out_len))
				reencode++;
			free(out);
		}
		pprof_free(d);
	}
	for (i = 0; i < raw_len; i++) {
		for (k = 0; k < sizeof(subst); k++) {
			memcpy(buf, raw, raw_len);
			buf[i] = subst[k];
			d = NULL;
			rc = pprof_decode(buf, raw_len, &d, err, sizeof(err));
			if (rc && !err[0])
				silent++;
			if (!rc) {
				accepted++;
				out = NULL;
				if (pprof_encode(d, false, &out, &out_len))
					reencode++;
				free(out);
			}
			pprof_free(d);
		}
	}
	printf("# corruption: %zu inputs, %d accepted\n",
	       raw_len * (1 + sizeof(subst)), accepted);
	CHECK_EQ_INT(silent, 0, "every rejection has a message");
	CHECK_EQ_INT(reencode, 0, "whatever decodes also encodes");
out:
	free(buf);
	free(raw);
	pprof_free(p);
}

/* ---- scale ------------------------------------------------------------ */

/* 100k locations and 1M samples, as a long window on a big binary could
 * give: catches anything quadratic. */
static void
test_scale(void)
{
	struct pprof *p = pprof_new(), *d = NULL;
	unsigned char *gz = NULL;
	size_t gz_len = 0, i;
	struct pprof_label_in lab = { "tid", NULL, 0, NULL };
	struct pprof_line line;
	uint64_t stack[4];
	int64_t v[2];
	char name[32], err[HTTP_ERRLEN];
	double t0 = now(), t1, t2;
	int bad = 0, rc;

	if (!p)
		return;
	pprof_add_sample_type(p, "samples", "count");
	pprof_add_sample_type(p, "cpu", "nanoseconds");
	pprof_add_mapping(p, 0x400000, 0x2000000, 0, "/bin/big", "");
	for (i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "fn_%zu", i / 4);
		line.function_id = pprof_add_function(p, name, name, "/x.c",
						      0);
		line.line = (int64_t)i;
		if (pprof_add_location(p, 1, 0x400000 + i * 16, &line, 1) !=
		    i + 1)
			bad++;
	}
	for (i = 0; i < 1000000; i++) {
		stack[0] = 1 + (i * 7919) % 100000;
		stack[1] = 1 + (i * 104729) % 100000;
		stack[2] = 1 + i % 100000;
		stack[3] = 1;
		v[0] = 1;
		v[1] = PERIOD;
		lab.num = (int64_t)(i % 64);
		if (pprof_add_sample(p, stack, 4, v, 2, &lab, 1))
			bad++;
	}
	t1 = now();
	rc = pprof_encode(p, true, &gz, &gz_len);
	if (!rc)
		rc = pprof_decode(gz, gz_len, &d, err, sizeof(err));
	t2 = now();
	printf("# scale: build %.2fs, encode+decode %.2fs, %zu bytes gzip'd\n",
	       t1 - t0, t2 - t1, gz_len);
	CHECK_EQ_INT(bad, 0, "100k locations, 1M samples added");
	CHECK_EQ_INT(p->n_functions, 25000, "25k functions after dedup");
	CHECK(rc == 0 && d && d->n_samples == 1000000 &&
	      d->n_locations == 100000, "1M samples round trip");
	free(gz);
	pprof_free(d);
	pprof_free(p);
}

/* ---- independent decoders --------------------------------------------- */

static bool
have_tool(const char *name)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

static int
write_file(const char *path, const unsigned char *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	int rc = 0;

	if (!f)
		return -errno;
	if (fwrite(buf, 1, len, f) != len)
		rc = -EIO;
	if (fclose(f) != 0 && !rc)
		rc = -EIO;
	return rc;
}

/* Run a shell command; its stdout+stderr go into a malloc'd string.
 * Returns the exit status, or -1 if it could not run. */
static int
run(const char *cmd, char **out)
{
	size_t len = 0, cap = 4096, n;
	char *buf = malloc(cap), *nb;
	FILE *f;
	int st;

	*out = NULL;
	if (!buf)
		return -1;
	f = popen(cmd, "r");
	if (!f) {
		free(buf);
		return -1;
	}
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	buf[len] = '\0';
	st = pclose(f);
	*out = buf;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_protoc(const char *dir, const unsigned char *raw, size_t len)
{
	char path[512], cmd[1024], *out = NULL;
	int st;

	if (!have_tool("protoc")) {
		printf("# skip protoc --decode_raw: protoc not installed\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/profile.pb", dir);
	if (write_file(path, raw, len) < 0) {
		CHECK(0, "write the raw profile");
		return;
	}
	snprintf(cmd, sizeof(cmd), "protoc --decode_raw < '%s' 2>&1", path);
	st = run(cmd, &out);
	CHECK_EQ_INT(st, 0, "protoc --decode_raw accepts the raw profile");
	if (out) {
		CHECK(strstr(out, "6: \"\"\n") != NULL,
		      "protoc: string table starts with \"\"");
		CHECK(strstr(out, "6: \"cpu\"") &&
		      strstr(out, "6: \"nanoseconds\""),
		      "protoc: field 6 strings cpu, nanoseconds");
		CHECK(strstr(out, "6: \"/usr/bin/spin\"") &&
		      strstr(out, "6: \"" BUILD_ID_EXE "\""),
		      "protoc: mapping file name and build id strings");
		CHECK(strstr(out, "1 {\n  1: ") != NULL,
		      "protoc: field 1 sample_type messages");
		CHECK(strstr(out, "9: 1700000000123456789\n") != NULL,
		      "protoc: field 9 time_nanos");
		CHECK(strstr(out, "10: 3000000000\n") != NULL,
		      "protoc: field 10 duration_nanos");
		CHECK(strstr(out, "12: 10101010\n") != NULL,
		      "protoc: field 12 period");
		CHECK(strstr(out, "11 {\n") != NULL,
		      "protoc: field 11 period_type message");
		CHECK(strstr(out, "  3: 18446744073709551611\n") != NULL,
		      "protoc: negative label as a 10-byte varint");
		if (st)
			printf("#   %.300s\n", out);
	}
	free(out);
	unlink(path);
}

static void
test_go_pprof(const char *dir, const unsigned char *gz, size_t len)
{
	static const char *const want[] = {
		"samples/count cpu/nanoseconds", "PeriodType: cpu nanoseconds",
		"Period: 10101010", "spin_leaf", "add_one", "spin_mid",
		"spin_root", "main", "ns::start_main", "thread:[main]",
		"tid:[1234]", BUILD_ID_EXE, "/usr/bin/spin",
	};
	char path[512], cmd[1536], what[128], *out = NULL;
	const char *go = "/usr/bin/go";
	size_t i;
	int st;

	if (access(go, X_OK) != 0) {
		if (!have_tool("go")) {
			printf("# skip go tool pprof -raw: go not installed\n");
			return;
		}
		go = "go";
	}
	snprintf(path, sizeof(path), "%s/profile.pb.gz", dir);
	if (write_file(path, gz, len) < 0) {
		CHECK(0, "write the gzip profile");
		return;
	}
	/* HOME and PPROF_TMPDIR in the scratch directory: pprof may write
	 * there, and must not touch the real home. */
	snprintf(cmd, sizeof(cmd),
		 "HOME='%s' PPROF_TMPDIR='%s' GOCACHE='%s/gocache' "
		 "GOTOOLCHAIN=local %s tool pprof -raw '%s' 2>&1",
		 dir, dir, dir, go, path);
	st = run(cmd, &out);
	CHECK_EQ_INT(st, 0, "go tool pprof -raw accepts the profile");
	if (out) {
		for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			snprintf(what, sizeof(what), "go tool pprof shows %s",
				 want[i]);
			CHECK(strstr(out, want[i]) != NULL, what);
		}
		CHECK(strstr(out, "Local symbolization failed") == NULL,
		      "go tool pprof does not try to re-symbolize");
		if (st)
			printf("#   %.500s\n", out);
	}
	free(out);
	unlink(path);
}

static void
test_external(void)
{
	struct pprof *p = build_cpu_profile();
	unsigned char *gz = NULL, *raw = NULL;
	size_t gz_len = 0, raw_len = 0;
	const char *tmp = getenv("TMPDIR");
	char dir[256], cmd[300];

	snprintf(dir, sizeof(dir), "%s/test_pprof.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!p || pprof_encode(p, true, &gz, &gz_len) ||
	    pprof_encode(p, false, &raw, &raw_len) || !mkdtemp(dir)) {
		CHECK(0, "set up the external checks");
		goto out;
	}
	test_protoc(dir, raw, raw_len);
	test_go_pprof(dir, gz, gz_len);
	/* go may have left a build cache under HOME */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
out:
	free(gz);
	free(raw);
	pprof_free(p);
}

/* pprof_folded: root first, inline frames expanded (the callee after its
 * caller), equal texts merged (two locations that print alike), a frame
 * without a name as its address, the first sample type's value. */
static void
test_folded(void)
{
	struct pprof *p = pprof_new();
	struct pprof_line in[2], l_main, l_unk;
	uint64_t fmain, fouter, finl, fnone, mp, loc_inl, loc_inl2, loc_main,
		loc_unk, st[2];
	int64_t v[2];
	char *text = NULL;
	size_t len = 0;

	CHECK(p != NULL, "pprof_new");
	CHECK_EQ_INT(pprof_add_sample_type(p, "samples", "count"), 0, "type 0");
	CHECK_EQ_INT(pprof_add_sample_type(p, "cpu", "nanoseconds"), 0,
		     "type 1");
	mp = pprof_add_mapping(p, 0x1000, 0x9000, 0, "/bin/x", "");
	fmain = pprof_add_function(p, "main", "main", "/src/x.c", 1);
	fouter = pprof_add_function(p, "outer", "outer", "/src/x.c", 5);
	finl = pprof_add_function(p, "inl", "inl", "/src/x.c", 9);
	fnone = pprof_add_function(p, "", "", "", 0);
	in[0].function_id = finl;	/* innermost first */
	in[0].line = 10;
	in[1].function_id = fouter;
	in[1].line = 6;
	l_main.function_id = fmain;
	l_main.line = 2;
	l_unk.function_id = fnone;
	l_unk.line = 0;
	loc_inl = pprof_add_location(p, mp, 0x1100, in, 2);
	loc_inl2 = pprof_add_location(p, mp, 0x1104, in, 2);
	loc_main = pprof_add_location(p, mp, 0x1200, &l_main, 1);
	loc_unk = pprof_add_location(p, mp, 0x1abc, &l_unk, 1);
	st[0] = loc_inl;	/* leaf first */
	st[1] = loc_main;
	v[0] = 2;
	v[1] = 20;
	CHECK_EQ_INT(pprof_add_sample(p, st, 2, v, 2, NULL, 0), 0, "sample 1");
	st[0] = loc_inl2;	/* another address, the same text */
	v[0] = 3;
	CHECK_EQ_INT(pprof_add_sample(p, st, 2, v, 2, NULL, 0), 0, "sample 2");
	st[0] = loc_unk;
	v[0] = 7;
	CHECK_EQ_INT(pprof_add_sample(p, st, 2, v, 2, NULL, 0), 0, "sample 3");
	CHECK_EQ_INT(pprof_folded(p, &text, &len), 0, "pprof_folded");
	/* the last sample type's values: no default_sample_type */
	CHECK_EQ_STR(text ? text : "", "main;outer;inl 40\nmain;0x1abc 20\n",
		     "folded text");
	CHECK_EQ_INT(len, text ? strlen(text) : 0, "length");
	free(text);
	pprof_free(p);
}

int
main(void)
{
	test_strings();
	test_dedup();
	test_round_trip();
	test_default_sample_type();
	test_unpacked();
	test_reject();
	test_corruption();
	test_scale();
	test_external();
	test_folded();
	return check_report();
}
