/* pprof_decode.c - parse a profile.proto (gzip'd or raw) into struct pprof
 * and check it the way pprof and Parca would.
 *
 * profd itself only writes profiles; the decoder exists so that the unit
 * tests and tests/tools/pprof-dump can read back what the daemon served
 * and fail on anything a real consumer would refuse. It follows
 * google/pprof profile/encode.go and proto.go (packed and unpacked repeated
 * ints, unknown fields skipped, a known field with the wrong wire type is
 * an error, a second time_nanos means concatenated profiles) and then the
 * rules of pprof's CheckValid and Parca's pkg/normalizer/validate.go: dense
 * ids 1..N in array order, every reference resolves, strings[0] == "".
 *
 * Each message is read twice: once to count its repeated fields, once to
 * fill arrays allocated to exactly that size.
 */
#include "http.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST		/* makes z_stream.next_in const */
#include <zlib.h>

/* Refuse to inflate past this: a few KiB of gzip can expand to gigabytes. */
#define PPROF_MAX_DECODED	((size_t)256 << 20)

enum wire {
	WIRE_VARINT = 0,
	WIRE_I64 = 1,
	WIRE_LEN = 2,
	WIRE_I32 = 5,
};

struct reader {
	const unsigned char *p, *end;
};

/* One field of a message. For WIRE_LEN, data/len is the payload. */
struct field {
	uint64_t num;
	enum wire wire;
	uint64_t v;
	const unsigned char *data;
	size_t len;
};

struct dec {
	struct pprof *p;
	char *err;
	size_t errlen;
	int64_t drop_frames, keep_frames;	/* checked, not kept */
};

__attribute__((format(printf, 2, 3))) static int
fail(struct dec *d, const char *fmt, ...)
{
	va_list ap;

	if (d->errlen) {
		va_start(ap, fmt);
		vsnprintf(d->err, d->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* ---- wire format ------------------------------------------------------ */

static int
read_varint(struct reader *r, uint64_t *v)
{
	uint64_t x = 0;
	unsigned shift;

	for (shift = 0; shift < 70; shift += 7) {
		if (r->p == r->end)
			return -EINVAL;
		x |= (uint64_t)(*r->p & 0x7f) << shift;
		if (!(*r->p++ & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -EINVAL;		/* more than ten bytes */
}

/* Read the next field of the message in r. `what` names the message for
 * the error text. */
static int
next_field(struct dec *d, struct reader *r, struct field *f, const char *what)
{
	uint64_t key, n;
	size_t left;

	if (read_varint(r, &key) < 0)
		return fail(d, "%s: truncated field key", what);
	f->num = key >> 3;
	f->wire = (enum wire)(key & 7);
	if (!f->num)
		return fail(d, "%s: field number 0", what);
	left = (size_t)(r->end - r->p);
	switch (f->wire) {
	case WIRE_VARINT:
		if (read_varint(r, &f->v) < 0)
			return fail(d, "%s: field %" PRIu64 ": truncated "
				    "varint", what, f->num);
		return 0;
	case WIRE_I64:
	case WIRE_I32:
		n = f->wire == WIRE_I64 ? 8 : 4;
		if (left < n)
			return fail(d, "%s: field %" PRIu64 ": truncated",
				    what, f->num);
		r->p += n;
		return 0;
	case WIRE_LEN:
		if (read_varint(r, &n) < 0)
			return fail(d, "%s: field %" PRIu64 ": truncated "
				    "length", what, f->num);
		left = (size_t)(r->end - r->p);
		if (n > left)
			return fail(d, "%s: field %" PRIu64 ": length %" PRIu64
				    " runs past the end (%zu bytes left)",
				    what, f->num, n, left);
		f->data = r->p;
		f->len = (size_t)n;
		r->p += n;
		return 0;
	}
	return fail(d, "%s: field %" PRIu64 ": unsupported wire type %d",
		    what, f->num, (int)f->wire);
}

static int
want_wire(struct dec *d, const struct field *f, enum wire w, const char *what)
{
	if (f->wire == w)
		return 0;
	return fail(d, "%s: field %" PRIu64 " has wire type %d, want %d",
		    what, f->num, (int)f->wire, (int)w);
}

/* How many integers a repeated int field holds: one when unpacked, the
 * number of varints in the payload when packed. Negative on error. */
static int64_t
count_ints(struct dec *d, const struct field *f, const char *what)
{
	struct reader r;
	uint64_t v;
	int64_t n = 0;

	if (f->wire == WIRE_VARINT)
		return 1;
	if (f->wire != WIRE_LEN)
		return fail(d, "%s: field %" PRIu64 " has wire type %d, want "
			    "0 or 2", what, f->num, (int)f->wire);
	r.p = f->data;
	r.end = f->data + f->len;
	while (r.p < r.end) {
		if (read_varint(&r, &v) < 0)
			return fail(d, "%s: field %" PRIu64 ": truncated "
				    "packed varint", what, f->num);
		n++;
	}
	return n;
}

/* Append the integers of a field count_ints() accepted to out[*n]. */
static void
get_ints(const struct field *f, uint64_t *out, size_t *n)
{
	struct reader r;

	if (f->wire == WIRE_VARINT) {
		out[(*n)++] = f->v;
		return;
	}
	r.p = f->data;
	r.end = f->data + f->len;
	while (r.p < r.end && read_varint(&r, &out[*n]) == 0)
		(*n)++;
}

/* calloc that treats n == 0 as "no array" rather than a failure. */
static void *
alloc_array(size_t n, size_t size, int *rc)
{
	void *a;

	if (!n)
		return NULL;
	a = calloc(n, size);
	if (!a)
		*rc = -ENOMEM;
	return a;
}

/* ---- messages --------------------------------------------------------- */

static int
decode_value_type(struct dec *d, const struct field *in, struct pprof_vt *vt,
		  const char *what)
{
	struct reader r = { in->data, in->data + in->len };
	struct field f;
	int rc;

	while (r.p < r.end) {
		rc = next_field(d, &r, &f, what);
		if (rc < 0)
			return rc;
		if (f.num != 1 && f.num != 2)
			continue;
		rc = want_wire(d, &f, WIRE_VARINT, what);
		if (rc < 0)
			return rc;
		if (f.num == 1)
			vt->type = (int64_t)f.v;
		else
			vt->unit = (int64_t)f.v;
	}
	return 0;
}

static int
decode_label(struct dec *d, const struct field *in, struct pprof_label *l)
{
	struct reader r = { in->data, in->data + in->len };
	struct field f;
	int rc;

	while (r.p < r.end) {
		rc = next_field(d, &r, &f, "label");
		if (rc < 0)
			return rc;
		if (f.num < 1 || f.num > 4)
			continue;
		rc = want_wire(d, &f, WIRE_VARINT, "label");
		if (rc < 0)
			return rc;
		if (f.num == 1)
			l->key = (int64_t)f.v;
		else if (f.num == 2)
			l->str = (int64_t)f.v;
		else if (f.num == 3)
			l->num = (int64_t)f.v;
		else
			l->num_unit = (int64_t)f.v;
	}
	return 0;
}

static int
decode_sample(struct dec *d, const struct field *in, struct pprof_sample *s)
{
	struct reader r = { in->data, in->data + in->len };
	size_t n_loc = 0, n_val = 0, n_lab = 0;
	struct field f;
	int64_t n;
	int rc = 0;

	while (r.p < r.end) {
		rc = next_field(d, &r, &f, "sample");
		if (rc < 0)
			return rc;
		if (f.num == 1 || f.num == 2) {
			n = count_ints(d, &f, "sample");
			if (n < 0)
				return (int)n;
			if (f.num == 1)
				n_loc += (size_t)n;
			else
				n_val += (size_t)n;
		} else if (f.num == 3) {
			rc = want_wire(d, &f, WIRE_LEN, "sample");
			if (rc < 0)
				return rc;
			n_lab++;
		}
	}

	s->location_ids = alloc_array(n_loc, sizeof(uint64_t), &rc);
	s->values = alloc_array(n_val, sizeof(int64_t), &rc);
	s->labels = alloc_array(n_lab, sizeof(struct pprof_label), &rc);
	if (rc < 0)
		return rc;

	r.p = in->data;
	while (r.p < r.end) {
		rc = next_field(d, &r, &f, "sample");
		if (rc < 0)
			return rc;
		if (f.num == 1) {
			get_ints(&f, s->location_ids, &s->n_locations);
		} else if (f.num == 2) {
			/* int64 on the wire is the two's complement varint */
			get_ints(&f, (uint64_t *)s->values, &s->n_values);
		} else if (f.num == 3) {
			rc = decode_label(d, &f, &s->labels[s->n_labels++]);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int
decode_mapping(struct dec *d, const struct field *in, struct pprof_mapping *m)
{
	struct reader r = { in->data, in->data + in->len };
	struct field f;
	int rc;

	while (r.p < r.end) {
		rc = next_field(d, &r, &f, "mapping");
		if (rc < 0)
			return rc;
		if (f.num < 1 || f.num > 10)
			continue;
		rc = want_wire(d, &f, WIRE_VARINT, "mapping");
		if (rc < 0)
			return rc;
		switch (f.num) {
		case 1:
			m->id = f.v;
			break;
		case 2:
			m->start = f.v;
			break;
		case 3:
			m->limit = f.v;
			break;
		case 4:
			m->offset = f.v;
			break;
		case 5:
			m->filename = (int64_t)f.v;
			break;
		case 6:
			m->build_id = (int64_t)f.v;
			break;
		case 7:
			m->has_functions = f.v != 0;
			break;
		case 8:
			m->has_filenames = f.v != 0;
			break;
		case 9:
			m->has_line_numbers = f.v != 0;
			break;
		default:
			m->has_inline_frames = f.v != 0;
			break;
		}
	}
	return 0;
}

static int
decode_line(struct dec *d, const struct field *in, struct pprof_line *l)
{
	struct reader r = { in->data, in->data + in->len };
	struct field f;
	int rc;

	while (r.p < r.end) {
		rc = next_field(d, &r, &f, "line");
		if (rc < 0)
			return rc;
		if (f.num < 1 || f.num > 3)
			continue;
		rc = want_wire(d, &f, WIRE_VARINT, "line");
		if (rc < 0)
			return rc;
		if (f.num == 1)
			l->function_id = f.v;
		else if (f.num == 2)
			l->line = (int64_t)f.v;
		/* 3 is column: checked, not kept */
	}
	return 0;
}

static int
decode_location(struct dec *d, const struct field *in,
		struct pprof_location *l)
{
	struct reader r = { in->data, in->data + in->len };
	size_t n_lines = 0;
	struct field f;
	int rc = 0;

	while (r.p < r.end) {
		rc = next_field(d, &r, &f, "location");
		if (rc < 0)
			return rc;
		if (f.num < 1 || f.num > 5)
			continue;
		rc = want_wire(d, &f, f.num == 4 ? WIRE_LEN : WIRE_VARINT,
			       "location");
		if (rc < 0)
			return rc;
		if (f.num == 4)
			n_lines++;
	}

	l->lines = alloc_array(n_lines, sizeof(*l->lines), &rc);
	if (rc < 0)
		return rc;

	r.p = in->data;
	while (r.p < r.end) {
		rc = next_field(d, &r, &f, "location");
		if (rc < 0)
			return rc;
		if (f.num == 1) {
			l->id = f.v;
		} else if (f.num == 2) {
			l->mapping_id = f.v;
		} else if (f.num == 3) {
			l->address = f.v;
		} else if (f.num == 4) {
			rc = decode_line(d, &f, &l->lines[l->n_lines++]);
			if (rc < 0)
				return rc;
		}
		/* 5 is is_folded: checked, not kept */
	}
	return 0;
}

static int
decode_function(struct dec *d, const struct field *in,
		struct pprof_function *fn)
{
	struct reader r = { in->data, in->data + in->len };
	struct field f;
	int rc;

	while (r.p < r.end) {
		rc = next_field(d, &r, &f, "function");
		if (rc < 0)
			return rc;
		if (f.num < 1 || f.num > 5)
			continue;
		rc = want_wire(d, &f, WIRE_VARINT, "function");
		if (rc < 0)
			return rc;
		if (f.num == 1)
			fn->id = f.v;
		else if (f.num == 2)
			fn->name = (int64_t)f.v;
		else if (f.num == 3)
			fn->system_name = (int64_t)f.v;
		else if (f.num == 4)
			fn->filename = (int64_t)f.v;
		else
			fn->start_line = (int64_t)f.v;
	}
	return 0;
}

/* Wire type of each Profile field this decoder knows (1..14); -1 for the
 * repeated ints that may come packed or not. Field 15 and above differ
 * between versions of profile.proto and are skipped. */
static const int profile_wire[15] = {
	[1] = WIRE_LEN, [2] = WIRE_LEN, [3] = WIRE_LEN, [4] = WIRE_LEN,
	[5] = WIRE_LEN, [6] = WIRE_LEN, [7] = WIRE_VARINT, [8] = WIRE_VARINT,
	[9] = WIRE_VARINT, [10] = WIRE_VARINT, [11] = WIRE_LEN,
	[12] = WIRE_VARINT, [13] = -1, [14] = WIRE_VARINT,
};

/* First pass over Profile: check wire types, count the repeated fields and
 * allocate their arrays. */
static int
size_profile(struct dec *d, const unsigned char *buf, size_t len)
{
	struct reader r = { buf, buf + len };
	struct pprof *p = d->p;
	size_t n[15] = { 0 };
	bool have_time = false;
	struct field f;
	int64_t k;
	int rc = 0;

	while (r.p < r.end) {
		rc = next_field(d, &r, &f, "profile");
		if (rc < 0)
			return rc;
		if (f.num >= 15)
			continue;
		if (f.num == 13) {
			k = count_ints(d, &f, "profile");
			if (k < 0)
				return (int)k;
			n[13] += (size_t)k;
			continue;
		}
		rc = want_wire(d, &f, (enum wire)profile_wire[f.num],
			       "profile");
		if (rc < 0)
			return rc;
		if (f.num == 9) {
			/* google/pprof profile/encode.go does the same */
			if (have_time)
				return fail(d, "profile: time_nanos appears "
					    "twice (concatenated profiles)");
			have_time = true;
		}
		n[f.num]++;
	}

	p->sample_types = alloc_array(n[1], sizeof(*p->sample_types), &rc);
	p->samples = alloc_array(n[2], sizeof(*p->samples), &rc);
	p->mappings = alloc_array(n[3], sizeof(*p->mappings), &rc);
	p->locations = alloc_array(n[4], sizeof(*p->locations), &rc);
	p->functions = alloc_array(n[5], sizeof(*p->functions), &rc);
	p->strings = alloc_array(n[6], sizeof(*p->strings), &rc);
	p->comments = alloc_array(n[13], sizeof(*p->comments), &rc);
	return rc;
}

static char *
copy_string(const struct field *f)
{
	char *s = malloc(f->len + 1);

	if (!s)
		return NULL;
	memcpy(s, f->data, f->len);
	s[f->len] = '\0';
	return s;
}

/* Second pass: fill what size_profile() allocated. The counts grow as
 * elements are filled, so pprof_free() on a half-decoded profile frees
 * exactly what was allocated. */
static int
fill_profile(struct dec *d, const unsigned char *buf, size_t len)
{
	struct reader r = { buf, buf + len };
	struct pprof *p = d->p;
	struct pprof_vt *vt;
	struct field f;
	int rc = 0;

	while (r.p < r.end && rc == 0) {
		rc = next_field(d, &r, &f, "profile");
		if (rc < 0)
			break;
		switch (f.num) {
		case 1:
			vt = &p->sample_types[p->n_sample_types++];
			rc = decode_value_type(d, &f, vt, "sample_type");
			break;
		case 2:
			rc = decode_sample(d, &f, &p->samples[p->n_samples++]);
			break;
		case 3:
			rc = decode_mapping(d, &f,
					    &p->mappings[p->n_mappings++]);
			break;
		case 4:
			rc = decode_location(d, &f,
					     &p->locations[p->n_locations++]);
			break;
		case 5:
			rc = decode_function(d, &f,
					     &p->functions[p->n_functions++]);
			break;
		case 6:
			p->strings[p->n_strings] = copy_string(&f);
			if (!p->strings[p->n_strings++])
				rc = -ENOMEM;
			break;
		case 7:
			d->drop_frames = (int64_t)f.v;
			break;
		case 8:
			d->keep_frames = (int64_t)f.v;
			break;
		case 9:
			p->time_nanos = (int64_t)f.v;
			break;
		case 10:
			p->duration_nanos = (int64_t)f.v;
			break;
		case 11:
			rc = decode_value_type(d, &f, &p->period_type,
					       "period_type");
			break;
		case 12:
			p->period = (int64_t)f.v;
			break;
		case 13:
			get_ints(&f, (uint64_t *)p->comments, &p->n_comments);
			break;
		case 14:
			p->default_sample_type = (int64_t)f.v;
			break;
		default:
			break;
		}
	}
	if (rc == -ENOMEM)
		snprintf(d->err, d->errlen, "out of memory");
	return rc;
}

/* ---- validation ------------------------------------------------------- */

/* Fail unless string index i resolves. The message names the element as
 * "<kind>[<idx>] <field>", or just "<field>" when kind is NULL. */
static int
check_str(struct dec *d, int64_t i, const char *kind, size_t idx,
	  const char *field)
{
	size_t n = d->p->n_strings;

	if (i >= 0 && (uint64_t)i < n)
		return 0;
	if (kind)
		return fail(d, "%s[%zu] %s: string index %" PRId64 " out of "
			    "range (%zu strings)", kind, idx, field, i, n);
	return fail(d, "%s: string index %" PRId64 " out of range (%zu "
		    "strings)", field, i, n);
}

/* Parca resolves ids as array[id - 1] and so requires exactly 1..N in
 * array order; pprof's CheckValid requires non-zero, unique ids. */
static int
check_id(struct dec *d, uint64_t id, const char *kind, size_t idx)
{
	if (id == idx + 1)
		return 0;
	if (!id)
		return fail(d, "%s[%zu] has the reserved id 0", kind, idx);
	return fail(d, "%s[%zu] has id %" PRIu64 ", want %zu (ids must be "
		    "1..N in array order)", kind, idx, id, idx + 1);
}

static int
check_samples(struct dec *d)
{
	const struct pprof *p = d->p;
	size_t i, j;
	int rc;

	if (p->n_samples && !p->n_sample_types)
		return fail(d, "%zu samples but no sample types",
			    p->n_samples);
	for (i = 0; i < p->n_sample_types; i++) {
		rc = check_str(d, p->sample_types[i].type, "sample_type", i,
			       "type");
		if (!rc)
			rc = check_str(d, p->sample_types[i].unit,
				       "sample_type", i, "unit");
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < p->n_samples; i++) {
		const struct pprof_sample *s = &p->samples[i];

		if (s->n_values != p->n_sample_types)
			return fail(d, "sample[%zu] has %zu values but there "
				    "are %zu sample types", i, s->n_values,
				    p->n_sample_types);
		for (j = 0; j < s->n_locations; j++) {
			if (!s->location_ids[j])
				return fail(d, "sample[%zu] location_id[%zu] "
					    "is the reserved id 0", i, j);
			if (s->location_ids[j] > p->n_locations)
				return fail(d, "sample[%zu] location_id[%zu] "
					    "= %" PRIu64 " does not exist "
					    "(%zu locations)", i, j,
					    s->location_ids[j],
					    p->n_locations);
		}
		for (j = 0; j < s->n_labels; j++) {
			const struct pprof_label *l = &s->labels[j];

			if (!l->key)
				return fail(d, "sample[%zu] label[%zu] has no "
					    "key", i, j);
			rc = check_str(d, l->key, "sample", i, "label key");
			if (!rc)
				rc = check_str(d, l->str, "sample", i,
					       "label str");
			if (!rc)
				rc = check_str(d, l->num_unit, "sample", i,
					       "label num_unit");
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int
check_tables(struct dec *d)
{
	const struct pprof *p = d->p;
	size_t i, j;
	int rc;

	for (i = 0; i < p->n_mappings; i++) {
		const struct pprof_mapping *m = &p->mappings[i];

		rc = check_id(d, m->id, "mapping", i);
		if (!rc)
			rc = check_str(d, m->filename, "mapping", i,
				       "filename");
		if (!rc)
			rc = check_str(d, m->build_id, "mapping", i,
				       "build_id");
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < p->n_locations; i++) {
		const struct pprof_location *l = &p->locations[i];

		rc = check_id(d, l->id, "location", i);
		if (rc < 0)
			return rc;
		/* mapping_id 0 is allowed: pprof and Parca treat it as
		 * "no mapping". */
		if (l->mapping_id > p->n_mappings)
			return fail(d, "location[%zu] mapping_id %" PRIu64
				    " does not exist (%zu mappings)", i,
				    l->mapping_id, p->n_mappings);
		for (j = 0; j < l->n_lines; j++) {
			uint64_t fid = l->lines[j].function_id;

			if (!fid)
				return fail(d, "location[%zu] line[%zu] has "
					    "no function_id", i, j);
			if (fid > p->n_functions)
				return fail(d, "location[%zu] line[%zu] "
					    "function_id %" PRIu64 " does "
					    "not exist (%zu functions)", i, j,
					    fid, p->n_functions);
		}
	}
	for (i = 0; i < p->n_functions; i++) {
		const struct pprof_function *f = &p->functions[i];

		rc = check_id(d, f->id, "function", i);
		if (!rc)
			rc = check_str(d, f->name, "function", i, "name");
		if (!rc)
			rc = check_str(d, f->system_name, "function", i,
				       "system_name");
		if (!rc)
			rc = check_str(d, f->filename, "function", i,
				       "filename");
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
check_profile(struct dec *d)
{
	const struct pprof *p = d->p;
	size_t i;
	int rc;

	/* Index 0 must resolve to "", so the table cannot be empty
	 * (google/pprof profile/encode.go). */
	if (!p->n_strings)
		return fail(d, "string table is empty (string 0 must be \"\")");
	if (p->strings[0][0])
		return fail(d, "string 0 is \"%.40s\", must be \"\"",
			    p->strings[0]);
	rc = check_samples(d);
	if (!rc)
		rc = check_tables(d);
	if (!rc)
		rc = check_str(d, p->period_type.type, NULL, 0,
			       "period_type type");
	if (!rc)
		rc = check_str(d, p->period_type.unit, NULL, 0,
			       "period_type unit");
	for (i = 0; i < p->n_comments && !rc; i++)
		rc = check_str(d, p->comments[i], "comment", i, "text");
	if (!rc)
		rc = check_str(d, p->default_sample_type, NULL, 0,
			       "default_sample_type");
	if (!rc)
		rc = check_str(d, d->drop_frames, NULL, 0, "drop_frames");
	if (!rc)
		rc = check_str(d, d->keep_frames, NULL, 0, "keep_frames");
	return rc;
}

/* ---- gzip ------------------------------------------------------------- */

/* Inflate every gzip member in buf, as Go's gzip.Reader does (so
 * concatenated gzip'd profiles come out as one protobuf stream and then
 * fail on the second time_nanos, like in pprof). */
static int
gunzip(struct dec *d, const unsigned char *buf, size_t len,
       unsigned char **out, size_t *out_len)
{
	unsigned char *o = NULL, *no;
	size_t cap = 0, used = 0, ncap;
	z_stream zs;
	int rc = 0, zrc;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 32) != Z_OK) {
		snprintf(d->err, d->errlen, "out of memory");
		return -ENOMEM;
	}
	zs.next_in = buf;
	zs.avail_in = (uInt)len;	/* len <= PPROF_MAX_DECODED */
	for (;;) {
		if (used == cap) {
			if (cap >= PPROF_MAX_DECODED) {
				rc = -E2BIG;
				snprintf(d->err, d->errlen, "decompressed "
					 "profile is larger than %zu MiB",
					 PPROF_MAX_DECODED >> 20);
				break;
			}
			ncap = cap ? cap * 2 : 4 * len + 4096;
			if (ncap > PPROF_MAX_DECODED)
				ncap = PPROF_MAX_DECODED;
			no = realloc(o, ncap);
			if (!no) {
				rc = -ENOMEM;
				snprintf(d->err, d->errlen, "out of memory");
				break;
			}
			o = no;
			cap = ncap;
		}
		zs.next_out = o + used;
		zs.avail_out = (uInt)(cap - used);
		zrc = inflate(&zs, Z_NO_FLUSH);
		used = cap - zs.avail_out;
		if (zrc == Z_STREAM_END) {
			if (!zs.avail_in)
				break;
			if (zs.avail_in < 2 || zs.next_in[0] != 0x1f ||
			    zs.next_in[1] != 0x8b) {
				rc = fail(d, "%u stray bytes after the gzip "
					  "data", zs.avail_in);
				break;
			}
			inflateReset(&zs);
		} else if (zrc == Z_OK) {
			continue;
		} else if (zrc == Z_BUF_ERROR && zs.avail_out) {
			rc = fail(d, "gzip data is truncated");
			break;
		} else if (zrc == Z_MEM_ERROR) {
			rc = -ENOMEM;
			snprintf(d->err, d->errlen, "out of memory");
			break;
		} else if (zrc != Z_BUF_ERROR) {
			rc = fail(d, "gzip data is corrupt: %s",
				  zs.msg ? zs.msg : "unknown error");
			break;
		}
	}
	inflateEnd(&zs);
	if (rc < 0) {
		free(o);
		return rc;
	}
	*out = o;
	*out_len = used;
	return 0;
}

/* ---- entry point ------------------------------------------------------ */

int
pprof_decode(const void *buf, size_t len, struct pprof **out, char *err,
	     size_t errlen)
{
	const unsigned char *b = buf;
	unsigned char *raw = NULL;
	size_t raw_len = len;
	struct dec d = { 0 };
	int rc;

	*out = NULL;
	d.err = err;
	d.errlen = errlen;
	if (errlen)
		err[0] = '\0';
	if (len > PPROF_MAX_DECODED) {
		snprintf(err, errlen, "profile is larger than %zu MiB",
			 PPROF_MAX_DECODED >> 20);
		return -E2BIG;
	}
	/* gzip magic; pprof's ParseData takes raw protobuf otherwise */
	if (len >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
		rc = gunzip(&d, b, len, &raw, &raw_len);
		if (rc < 0)
			return rc;
		b = raw;
	}
	if (!raw_len) {
		free(raw);
		return fail(&d, "empty profile");
	}

	d.p = calloc(1, sizeof(*d.p));
	if (!d.p) {
		free(raw);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = size_profile(&d, b, raw_len);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (!rc)
		rc = fill_profile(&d, b, raw_len);
	if (!rc)
		rc = check_profile(&d);
	free(raw);
	if (rc < 0) {
		pprof_free(d.p);
		return rc;
	}
	*out = d.p;
	return 0;
}
