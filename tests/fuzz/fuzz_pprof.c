/* fuzz_pprof - the profile decoder (http/pprof_decode.c: pprof_decode),
 * gzip or raw protobuf. A profile it accepts must keep the promises of
 * http.h (dense ids, references that resolve, one value per sample type),
 * which are checked here by following every reference, and must survive
 * pprof_encode() and a second decode with the same shape, pprof_folded()
 * must make text of the length it says, and http_flame_svg() (format=svg)
 * must draw it into a document of the length it says.
 */
#include <errno.h>

#include "tests/fuzz/fuzz.h"

#include "http/http.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
str(const struct pprof *p, int64_t i)
{
	FUZZ_ASSERT(i >= 0 && (uint64_t)i < p->n_strings,
		    "string index %lld of %zu", (long long)i, p->n_strings);
	fuzz_touch(p->strings[i]);
}

static void
walk(const struct pprof *p)
{
	size_t i, j;

	FUZZ_ASSERT(p->n_strings > 0 && p->strings[0][0] == '\0',
		    "string 0 is not \"\"");
	for (i = 0; i < p->n_strings; i++)
		fuzz_touch(p->strings[i]);
	for (i = 0; i < p->n_sample_types; i++) {
		str(p, p->sample_types[i].type);
		str(p, p->sample_types[i].unit);
	}
	for (i = 0; i < p->n_samples; i++) {
		const struct pprof_sample *s = &p->samples[i];

		FUZZ_ASSERT(s->n_values == p->n_sample_types,
			    "sample %zu: %zu values, %zu types", i,
			    s->n_values, p->n_sample_types);
		for (j = 0; j < s->n_locations; j++)
			FUZZ_ASSERT(s->location_ids[j] >= 1 &&
					    s->location_ids[j] <=
						    p->n_locations,
				    "sample %zu: location %llu", i,
				    (unsigned long long)s->location_ids[j]);
		for (j = 0; j < s->n_labels; j++) {
			str(p, s->labels[j].key);
			str(p, s->labels[j].str);
			str(p, s->labels[j].num_unit);
		}
	}
	for (i = 0; i < p->n_mappings; i++) {
		FUZZ_ASSERT(p->mappings[i].id == i + 1, "mapping %zu id", i);
		str(p, p->mappings[i].filename);
		str(p, p->mappings[i].build_id);
	}
	for (i = 0; i < p->n_locations; i++) {
		const struct pprof_location *l = &p->locations[i];

		FUZZ_ASSERT(l->id == i + 1, "location %zu id", i);
		FUZZ_ASSERT(l->mapping_id <= p->n_mappings,
			    "location %zu mapping", i);
		for (j = 0; j < l->n_lines; j++)
			FUZZ_ASSERT(l->lines[j].function_id >= 1 &&
					    l->lines[j].function_id <=
						    p->n_functions,
				    "location %zu line %zu function", i, j);
	}
	for (i = 0; i < p->n_functions; i++) {
		const struct pprof_function *f = &p->functions[i];

		FUZZ_ASSERT(f->id == i + 1, "function %zu id", i);
		str(p, f->name);
		str(p, f->system_name);
		str(p, f->filename);
	}
	for (i = 0; i < p->n_comments; i++)
		str(p, p->comments[i]);
	str(p, p->period_type.type);
	str(p, p->period_type.unit);
	str(p, p->default_sample_type);
}

/* Comments other than "" (index 0): the encoder writes comments as
 * single ints and leaves zeros out, as it does for every int field. */
static size_t
comments(const struct pprof *p)
{
	size_t i, n = 0;

	for (i = 0; i < p->n_comments; i++)
		n += p->comments[i] != 0;
	return n;
}

static void
same_shape(const struct pprof *a, const struct pprof *b)
{
	size_t i;

	FUZZ_ASSERT(a->n_sample_types == b->n_sample_types &&
			    a->n_samples == b->n_samples &&
			    a->n_mappings == b->n_mappings &&
			    a->n_locations == b->n_locations &&
			    a->n_functions == b->n_functions &&
			    a->n_strings == b->n_strings &&
			    comments(a) == comments(b),
		    "re-encoded profile differs in its counts");
	FUZZ_ASSERT(a->time_nanos == b->time_nanos &&
			    a->duration_nanos == b->duration_nanos &&
			    a->period == b->period,
		    "re-encoded profile differs in time or period");
	for (i = 0; i < a->n_samples; i++)
		FUZZ_ASSERT(a->samples[i].n_locations ==
					b->samples[i].n_locations &&
				    a->samples[i].n_labels ==
					    b->samples[i].n_labels &&
				    (a->samples[i].n_values == 0 ||
				     memcmp(a->samples[i].values,
					    b->samples[i].values,
					    a->samples[i].n_values *
						    sizeof(int64_t)) == 0),
			    "re-encoded sample %zu differs", i);
	for (i = 0; i < a->n_locations; i++)
		FUZZ_ASSERT(a->locations[i].address ==
					b->locations[i].address &&
				    a->locations[i].n_lines ==
					    b->locations[i].n_lines,
			    "re-encoded location %zu differs", i);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pprof *p = NULL, *q = NULL;
	unsigned char *enc = NULL;
	size_t enc_len = 0, text_len;
	char err[HTTP_ERRLEN], *text;
	int rc;

	rc = pprof_decode(data, size, &p, err, sizeof(err));
	if (rc < 0) {
		FUZZ_ASSERT(p == NULL, "failed decode returned a profile");
		FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL,
			    "error not terminated");
		fuzz_touch(err);
		return 0;
	}
	FUZZ_ASSERT(p != NULL, "decode returned 0 and no profile");
	walk(p);
	rc = pprof_encode(p, false, &enc, &enc_len);
	FUZZ_ASSERT(rc == 0, "a decoded profile does not encode: %d", rc);
	rc = pprof_decode(enc, enc_len, &q, err, sizeof(err));
	FUZZ_ASSERT(rc == 0, "re-encoded profile does not decode: %s", err);
	walk(q);
	same_shape(p, q);
	if (pprof_folded(p, &text, &text_len) == 0) {
		FUZZ_ASSERT(strlen(text) == text_len, "folded length");
		free(text);
	}
	{
		char *svg = NULL;
		size_t svg_len = 0;

		rc = http_flame_svg(p, "fuzz", &svg, &svg_len);
		FUZZ_ASSERT(rc == 0 || rc == -ENOMEM, "flame graph: %d", rc);
		FUZZ_ASSERT(rc < 0 || (svg && strlen(svg) == svg_len &&
				       strstr(svg, "</svg>\n")),
			    "flame graph: not one document");
		free(svg);
	}
	pprof_free(q);
	free(enc);
	pprof_free(p);
	return 0;
}
