/* pprof.c - build a pprof profile in memory and encode it as profile.proto.
 *
 * The daemon fills a struct pprof through the pprof_add_*() calls when a
 * profile window closes; server.c then calls pprof_encode() and sends the
 * gzip'd bytes. Strings, functions and locations are deduplicated through
 * hash tables (common/hash.h) kept in struct pprof_priv, so building a
 * profile costs O(1) per call however big it gets.
 *
 * The protobuf writer is hand-rolled, as Go's own is
 * (golang/go src/runtime/pprof/protobuf.go): varints for every integer
 * (int64 is not zigzag'd), length-delimited strings and messages.
 * Field numbers are those of google/pprof proto/profile.proto; see
 * shared/reference/pprof-compat.md section 2.
 */
#include "http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST		/* makes z_stream.next_in const */
#include <zlib.h>

#include "common/hash.h"

/* Largest encoding we produce. It keeps every length below 2^35, so a
 * 5-byte varint always has room for it (see msg_end), and keeps zlib's
 * 32-bit avail_in/avail_out counters from overflowing. */
#define PPROF_MAX_ENCODED	((size_t)1 << 31)

/* Bytes reserved for a message's length prefix until its size is known. */
#define LEN_RESERVE		5

enum wire {
	WIRE_VARINT = 0,
	WIRE_LEN = 2,
};

/* profile.proto field numbers. */
enum {
	PROFILE_SAMPLE_TYPE = 1,
	PROFILE_SAMPLE = 2,
	PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6,
	PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10,
	PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13,
	PROFILE_DEFAULT_SAMPLE_TYPE = 14,

	VALUE_TYPE_TYPE = 1,
	VALUE_TYPE_UNIT = 2,

	SAMPLE_LOCATION_ID = 1,
	SAMPLE_VALUE = 2,
	SAMPLE_LABEL = 3,

	LABEL_KEY = 1,
	LABEL_STR = 2,
	LABEL_NUM = 3,
	LABEL_NUM_UNIT = 4,

	MAPPING_ID = 1,
	MAPPING_START = 2,
	MAPPING_LIMIT = 3,
	MAPPING_OFFSET = 4,
	MAPPING_FILENAME = 5,
	MAPPING_BUILD_ID = 6,
	MAPPING_HAS_FUNCTIONS = 7,
	MAPPING_HAS_FILENAMES = 8,
	MAPPING_HAS_LINE_NUMBERS = 9,
	MAPPING_HAS_INLINE_FRAMES = 10,

	LOCATION_ID = 1,
	LOCATION_MAPPING_ID = 2,
	LOCATION_ADDRESS = 3,
	LOCATION_LINE = 4,

	LINE_FUNCTION_ID = 1,
	LINE_LINE = 2,

	FUNCTION_ID = 1,
	FUNCTION_NAME = 2,
	FUNCTION_SYSTEM_NAME = 3,
	FUNCTION_FILENAME = 4,
	FUNCTION_START_LINE = 5,
};

struct pprof_priv {
	struct htab strings;	/* id: index in strings[] (never 0: "" is not
				   in the table) */
	struct htab functions;	/* id: function id */
	struct htab locations;	/* id: location id */
	size_t cap_strings, cap_sample_types, cap_samples, cap_mappings;
	size_t cap_locations, cap_functions, cap_comments;
};

struct func_key {
	int64_t name, system_name, filename, start_line;
};

struct loc_key {
	uint64_t mapping_id, address;
};

/* Output buffer with a sticky error: writers do not check each call, the
 * encoder checks err once at the end. */
struct wbuf {
	unsigned char *data;
	size_t len, cap;
	int err;
};

/* ---- index keys --------------------------------------------------------
 *
 * The tables of common/hash.h keep only (hash, id); the keys are the
 * profile's own arrays, compared through these callbacks. Ids are handed
 * out in call order, never by the hash, so the encoding does not depend on
 * the hash functions. */

static bool
string_eq(const void *ctx, uint64_t id, const void *key)
{
	const struct pprof *p = ctx;

	return strcmp(p->strings[id], key) == 0;
}

static bool
function_eq(const void *ctx, uint64_t id, const void *key)
{
	const struct pprof *p = ctx;
	const struct pprof_function *f = &p->functions[id - 1];
	const struct func_key *k = key;

	return f->name == k->name && f->system_name == k->system_name &&
	       f->filename == k->filename && f->start_line == k->start_line;
}

static bool
location_eq(const void *ctx, uint64_t id, const void *key)
{
	const struct pprof *p = ctx;
	const struct pprof_location *l = &p->locations[id - 1];
	const struct loc_key *k = key;

	return l->mapping_id == k->mapping_id && l->address == k->address;
}

static uint64_t
function_hash(const struct func_key *k)
{
	return hash_add(hash_add(hash_add(hash_u64((uint64_t)k->name),
					  (uint64_t)k->system_name),
				 (uint64_t)k->filename),
			(uint64_t)k->start_line);
}

static uint64_t
location_hash(const struct loc_key *k)
{
	return hash_add(hash_u64(k->mapping_id), k->address);
}

/* ---- small helpers ---------------------------------------------------- */

/* Return arr with room for need elements of size bytes, doubling the
 * capacity *cap so that appends are amortised O(1). NULL on ENOMEM, with
 * arr left as it was. */
static void *
grow(void *arr, size_t *cap, size_t need, size_t size)
{
	size_t ncap;
	void *na;

	if (need <= *cap)
		return arr;
	ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return NULL;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / size)
		return NULL;
	na = realloc(arr, ncap * size);
	if (!na)
		return NULL;
	*cap = ncap;
	return na;
}

/* A malloc'd copy of n elements of size bytes; NULL (and no error) when n
 * is 0. Sets *fail on ENOMEM. */
static void *
dup_array(const void *src, size_t n, size_t size, bool *fail)
{
	void *d;

	if (!n)
		return NULL;
	if (n > SIZE_MAX / size) {
		*fail = true;
		return NULL;
	}
	d = malloc(n * size);
	if (!d) {
		*fail = true;
		return NULL;
	}
	memcpy(d, src, n * size);
	return d;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes available), or 0
 * when s[0] does not start one. Follows RFC 3629 table 3.7 of Unicode:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		if (s[0] == 0xf0)
			lo = 0x90;	/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else {
		return 0;
	}
	if (n < need + 1 || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i <= need; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return need + 1;
}

/* NULL when s is valid UTF-8; otherwise a malloc'd copy in which each byte
 * that does not start a valid sequence became U+FFFD, as Go's range loop
 * over a string reads it. Consumers such as Pyroscope reject invalid
 * UTF-8 (grafana/pyroscope PR 2620). Sets *fail on ENOMEM. */
static char *
utf8_sanitise(const char *s, bool *fail)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i, k, bad = 0;
	char *out, *o;

	for (i = 0; i < n; i += k) {
		k = utf8_len(u + i, n - i);
		if (!k) {
			bad++;
			k = 1;
		}
	}
	if (!bad)
		return NULL;
	out = malloc(n + 2 * bad + 1);	/* each bad byte grows to 3 */
	if (!out) {
		*fail = true;
		return NULL;
	}
	o = out;
	for (i = 0; i < n; i += k) {
		k = utf8_len(u + i, n - i);
		if (k) {
			memcpy(o, s + i, k);
			o += k;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			k = 1;
		}
	}
	*o = '\0';
	return out;
}

/* ---- builder ---------------------------------------------------------- */

struct pprof *
pprof_new(void)
{
	struct pprof *p;

	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->priv = calloc(1, sizeof(*p->priv));
	if (!p->priv)
		goto fail;
	p->strings = grow(NULL, &p->priv->cap_strings, 1, sizeof(*p->strings));
	if (!p->strings)
		goto fail;
	p->strings[0] = strdup("");
	if (!p->strings[0])
		goto fail;
	p->n_strings = 1;
	return p;
fail:
	pprof_free(p);
	errno = ENOMEM;
	return NULL;
}

void
pprof_free(struct pprof *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n_samples; i++) {
		free(p->samples[i].location_ids);
		free(p->samples[i].values);
		free(p->samples[i].labels);
	}
	free(p->samples);
	for (i = 0; i < p->n_locations; i++)
		free(p->locations[i].lines);
	free(p->locations);
	for (i = 0; i < p->n_strings; i++)
		free(p->strings[i]);
	free(p->strings);
	free(p->sample_types);
	free(p->mappings);
	free(p->functions);
	free(p->comments);
	if (p->priv) {
		htab_free(&p->priv->strings);
		htab_free(&p->priv->functions);
		htab_free(&p->priv->locations);
		free(p->priv);
	}
	free(p);
}

int64_t
pprof_string(struct pprof *p, const char *s)
{
	struct pprof_priv *pv = p->priv;
	char *clean, *copy;
	char **strs;
	bool fail = false;
	int64_t idx = -1;
	uint64_t h, id;

	if (!s || !*s)
		return 0;
	if (!pv)
		return -1;	/* decoded profiles have no index */
	clean = utf8_sanitise(s, &fail);
	if (fail)
		return -1;
	if (clean)
		s = clean;
	h = hash_bytes(s, strlen(s));
	id = htab_find(&pv->strings, h, string_eq, p, s);
	if (id) {
		idx = (int64_t)id;
		goto out;
	}
	strs = grow(p->strings, &pv->cap_strings, p->n_strings + 1,
		    sizeof(*strs));
	if (!strs)
		goto out;
	p->strings = strs;
	copy = clean ? clean : strdup(s);
	if (!copy)
		goto out;
	if (htab_add(&pv->strings, h, p->n_strings) < 0) {
		if (copy != clean)
			free(copy);
		goto out;
	}
	clean = NULL;		/* now owned by the table */
	strs[p->n_strings] = copy;
	idx = (int64_t)p->n_strings++;
out:
	free(clean);
	return idx;
}

int
pprof_add_sample_type(struct pprof *p, const char *type, const char *unit)
{
	struct pprof_vt *vt;
	int64_t t, u;

	if (!p->priv)
		return -EINVAL;
	t = pprof_string(p, type);
	u = pprof_string(p, unit);
	if (t < 0 || u < 0)
		return -ENOMEM;
	vt = grow(p->sample_types, &p->priv->cap_sample_types,
		  p->n_sample_types + 1, sizeof(*vt));
	if (!vt)
		return -ENOMEM;
	p->sample_types = vt;
	vt[p->n_sample_types].type = t;
	vt[p->n_sample_types].unit = u;
	p->n_sample_types++;
	return 0;
}

int
pprof_set_period(struct pprof *p, const char *type, const char *unit,
		 int64_t period)
{
	int64_t t, u;

	if (!p->priv)
		return -EINVAL;
	t = pprof_string(p, type);
	u = pprof_string(p, unit);
	if (t < 0 || u < 0)
		return -ENOMEM;
	p->period_type.type = t;
	p->period_type.unit = u;
	p->period = period;
	return 0;
}

void
pprof_set_time(struct pprof *p, int64_t time_nanos, int64_t duration_nanos)
{
	p->time_nanos = time_nanos;
	p->duration_nanos = duration_nanos;
}

int
pprof_add_comment(struct pprof *p, const char *comment)
{
	int64_t *c;
	int64_t s;

	if (!p->priv)
		return -EINVAL;
	s = pprof_string(p, comment);
	if (s < 0)
		return -ENOMEM;
	c = grow(p->comments, &p->priv->cap_comments, p->n_comments + 1,
		 sizeof(*c));
	if (!c)
		return -ENOMEM;
	p->comments = c;
	c[p->n_comments++] = s;
	return 0;
}

uint64_t
pprof_add_mapping(struct pprof *p, uint64_t start, uint64_t limit,
		  uint64_t offset, const char *filename, const char *build_id)
{
	struct pprof_mapping *m;
	int64_t f, b;

	if (!p->priv)
		return 0;
	f = pprof_string(p, filename);
	b = pprof_string(p, build_id);
	if (f < 0 || b < 0)
		return 0;
	m = grow(p->mappings, &p->priv->cap_mappings, p->n_mappings + 1,
		 sizeof(*m));
	if (!m)
		return 0;
	p->mappings = m;
	m += p->n_mappings;
	memset(m, 0, sizeof(*m));
	m->id = ++p->n_mappings;
	m->start = start;
	m->limit = limit;
	m->offset = offset;
	m->filename = f;
	m->build_id = b;
	return m->id;
}

uint64_t
pprof_add_function(struct pprof *p, const char *name,
		   const char *system_name, const char *filename,
		   int64_t start_line)
{
	struct pprof_function *f;
	struct func_key k;
	uint64_t h, id;

	if (!p->priv)
		return 0;
	k.name = pprof_string(p, name);
	k.system_name = pprof_string(p, system_name);
	k.filename = pprof_string(p, filename);
	k.start_line = start_line;
	if (k.name < 0 || k.system_name < 0 || k.filename < 0)
		return 0;
	h = function_hash(&k);
	id = htab_find(&p->priv->functions, h, function_eq, p, &k);
	if (id)
		return id;
	f = grow(p->functions, &p->priv->cap_functions, p->n_functions + 1,
		 sizeof(*f));
	if (!f)
		return 0;
	p->functions = f;
	if (htab_add(&p->priv->functions, h, p->n_functions + 1) < 0)
		return 0;
	f += p->n_functions;
	f->id = ++p->n_functions;
	f->name = k.name;
	f->system_name = k.system_name;
	f->filename = k.filename;
	f->start_line = k.start_line;
	return f->id;
}

uint64_t
pprof_add_location(struct pprof *p, uint64_t mapping_id, uint64_t address,
		   const struct pprof_line *lines, size_t n_lines)
{
	struct pprof_location *l;
	struct pprof_line *copy;
	struct loc_key k = { mapping_id, address };
	bool fail = false;
	uint64_t h, id;

	if (!p->priv)
		return 0;
	h = location_hash(&k);
	id = htab_find(&p->priv->locations, h, location_eq, p, &k);
	if (id)
		return id;
	l = grow(p->locations, &p->priv->cap_locations, p->n_locations + 1,
		 sizeof(*l));
	if (!l)
		return 0;
	p->locations = l;
	copy = dup_array(lines, n_lines, sizeof(*lines), &fail);
	if (fail)
		return 0;
	if (htab_add(&p->priv->locations, h, p->n_locations + 1) < 0) {
		free(copy);
		return 0;
	}
	l += p->n_locations;
	l->id = ++p->n_locations;
	l->mapping_id = mapping_id;
	l->address = address;
	l->lines = copy;
	l->n_lines = n_lines;
	return l->id;
}

int
pprof_add_sample(struct pprof *p, const uint64_t *location_ids,
		 size_t n_locations, const int64_t *values, size_t n_values,
		 const struct pprof_label_in *labels, size_t n_labels)
{
	struct pprof_sample *s, ns = { 0 };
	bool fail = false;
	size_t i;

	if (!p->priv || n_values != p->n_sample_types)
		return -EINVAL;
	for (i = 0; i < n_labels; i++)
		if (!labels[i].key || !*labels[i].key)
			return -EINVAL;	/* Parca rejects keyless labels */

	ns.location_ids = dup_array(location_ids, n_locations,
				    sizeof(*location_ids), &fail);
	ns.n_locations = n_locations;
	ns.values = dup_array(values, n_values, sizeof(*values), &fail);
	ns.n_values = n_values;
	if (n_labels && !fail) {
		ns.labels = calloc(n_labels, sizeof(*ns.labels));
		fail = !ns.labels;
	}
	for (i = 0; i < n_labels && !fail; i++) {
		struct pprof_label *l = &ns.labels[i];

		l->key = pprof_string(p, labels[i].key);
		if (labels[i].str) {
			l->str = pprof_string(p, labels[i].str);
		} else {
			l->num = labels[i].num;
			l->num_unit = pprof_string(p, labels[i].num_unit);
		}
		fail = l->key < 0 || l->str < 0 || l->num_unit < 0;
	}
	ns.n_labels = n_labels;
	s = fail ? NULL : grow(p->samples, &p->priv->cap_samples,
			       p->n_samples + 1, sizeof(*s));
	if (!s) {
		free(ns.location_ids);
		free(ns.values);
		free(ns.labels);
		return -ENOMEM;
	}
	p->samples = s;
	s[p->n_samples++] = ns;
	return 0;
}

/* ---- encoder ---------------------------------------------------------- */

static bool
str_ok(const struct pprof *p, int64_t i)
{
	return i >= 0 && (uint64_t)i < p->n_strings;
}

/* Refuse to write what pprof_decode() (and so pprof, Parca) would reject.
 * The builder cannot produce most of this, but callers may edit the arrays
 * (mapping flags, say) or pass ids that were never returned to them. */
static int
check(const struct pprof *p)
{
	size_t i, j;

	if (!p->n_strings || p->strings[0][0] != '\0')
		return -EINVAL;
	if (p->n_samples && !p->n_sample_types)
		return -EINVAL;
	for (i = 0; i < p->n_sample_types; i++)
		if (!str_ok(p, p->sample_types[i].type) ||
		    !str_ok(p, p->sample_types[i].unit))
			return -EINVAL;
	for (i = 0; i < p->n_samples; i++) {
		const struct pprof_sample *s = &p->samples[i];

		if (s->n_values != p->n_sample_types)
			return -EINVAL;
		for (j = 0; j < s->n_locations; j++)
			if (!s->location_ids[j] ||
			    s->location_ids[j] > p->n_locations)
				return -EINVAL;
		for (j = 0; j < s->n_labels; j++)
			if (!s->labels[j].key || !str_ok(p, s->labels[j].key) ||
			    !str_ok(p, s->labels[j].str) ||
			    !str_ok(p, s->labels[j].num_unit))
				return -EINVAL;
	}
	for (i = 0; i < p->n_mappings; i++)
		if (p->mappings[i].id != i + 1 ||
		    !str_ok(p, p->mappings[i].filename) ||
		    !str_ok(p, p->mappings[i].build_id))
			return -EINVAL;
	for (i = 0; i < p->n_locations; i++) {
		const struct pprof_location *l = &p->locations[i];

		if (l->id != i + 1 || l->mapping_id > p->n_mappings)
			return -EINVAL;
		for (j = 0; j < l->n_lines; j++)
			if (!l->lines[j].function_id ||
			    l->lines[j].function_id > p->n_functions)
				return -EINVAL;
	}
	for (i = 0; i < p->n_functions; i++) {
		const struct pprof_function *f = &p->functions[i];

		if (f->id != i + 1 || !str_ok(p, f->name) ||
		    !str_ok(p, f->system_name) || !str_ok(p, f->filename))
			return -EINVAL;
	}
	for (i = 0; i < p->n_comments; i++)
		if (!str_ok(p, p->comments[i]))
			return -EINVAL;
	if (!str_ok(p, p->period_type.type) ||
	    !str_ok(p, p->period_type.unit) ||
	    !str_ok(p, p->default_sample_type))
		return -EINVAL;
	return 0;
}

static bool
wb_room(struct wbuf *b, size_t n)
{
	unsigned char *nd;
	size_t ncap;

	if (b->err)
		return false;
	if (n > PPROF_MAX_ENCODED - b->len) {
		b->err = -E2BIG;
		return false;
	}
	if (b->len + n <= b->cap)
		return true;
	ncap = b->cap ? b->cap : 4096;
	while (ncap < b->len + n)
		ncap *= 2;
	nd = realloc(b->data, ncap);
	if (!nd) {
		b->err = -ENOMEM;
		return false;
	}
	b->data = nd;
	b->cap = ncap;
	return true;
}

static void
put_varint(struct wbuf *b, uint64_t v)
{
	if (!wb_room(b, 10))
		return;
	while (v >= 0x80) {
		b->data[b->len++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	b->data[b->len++] = (unsigned char)v;
}

static void
put_key(struct wbuf *b, unsigned field, enum wire w)
{
	put_varint(b, (uint64_t)field << 3 | w);
}

/* A scalar field; zero is the proto3 default and is left out. A negative
 * int64 is cast, not zigzag'd, and takes ten bytes. */
static void
put_uint(struct wbuf *b, unsigned field, uint64_t v)
{
	if (!v)
		return;
	put_key(b, field, WIRE_VARINT);
	put_varint(b, v);
}

static void
put_int(struct wbuf *b, unsigned field, int64_t v)
{
	put_uint(b, field, (uint64_t)v);
}

static void
put_string(struct wbuf *b, unsigned field, const char *s)
{
	size_t n = strlen(s);

	put_key(b, field, WIRE_LEN);
	put_varint(b, n);
	if (!wb_room(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

/* Start a length-delimited field whose size is not known yet: leave
 * LEN_RESERVE bytes for the length and return where they start. */
static size_t
msg_begin(struct wbuf *b, unsigned field)
{
	size_t start;

	put_key(b, field, WIRE_LEN);
	start = b->len;
	if (wb_room(b, LEN_RESERVE))
		b->len += LEN_RESERVE;
	return start;
}

/* Write the length at start and slide the body down over the unused part
 * of the reservation, as Go's protobuf.go endMessage does. */
static void
msg_end(struct wbuf *b, size_t start)
{
	unsigned char len[LEN_RESERVE];
	size_t body, n = 0;
	uint64_t v;

	if (b->err)
		return;
	body = b->len - start - LEN_RESERVE;
	v = body;
	do {
		len[n++] = (unsigned char)(v >= 0x80 ? (v | 0x80) : v);
		v >>= 7;
	} while (v);
	memcpy(b->data + start, len, n);
	memmove(b->data + start + n, b->data + start + LEN_RESERVE, body);
	b->len -= LEN_RESERVE - n;
}

static void
put_packed_uint(struct wbuf *b, unsigned field, const uint64_t *v, size_t n)
{
	size_t start, i;

	if (!n)
		return;
	start = msg_begin(b, field);
	for (i = 0; i < n; i++)
		put_varint(b, v[i]);
	msg_end(b, start);
}

/* int64 is written as its two's complement varint, not zigzag'd; reading
 * an int64_t through a uint64_t pointer is allowed (C11 6.5p7). */
static void
put_packed_int(struct wbuf *b, unsigned field, const int64_t *v, size_t n)
{
	put_packed_uint(b, field, (const uint64_t *)v, n);
}

/* Scalar fields 1..n-1 of the message being written, from v[] indexed by
 * field number (v[0] unused): every scalar of profile.proto is a varint,
 * and zeros are left out. */
static void
put_fields(struct wbuf *b, const uint64_t *v, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		put_uint(b, (unsigned)i, v[i]);
}

/* A message made of scalar fields only (see put_fields). */
static void
put_scalar_msg(struct wbuf *b, unsigned field, const uint64_t *v, size_t n)
{
	size_t start = msg_begin(b, field);

	put_fields(b, v, n);
	msg_end(b, start);
}

#define NFIELDS(v) (sizeof(v) / sizeof((v)[0]))

static void
put_value_type(struct wbuf *b, unsigned field, const struct pprof_vt *vt)
{
	const uint64_t v[] = {
		[VALUE_TYPE_TYPE] = (uint64_t)vt->type,
		[VALUE_TYPE_UNIT] = (uint64_t)vt->unit,
	};

	put_scalar_msg(b, field, v, NFIELDS(v));
}

static void
put_sample(struct wbuf *b, const struct pprof_sample *s)
{
	size_t start = msg_begin(b, PROFILE_SAMPLE), i;

	put_packed_uint(b, SAMPLE_LOCATION_ID, s->location_ids,
			s->n_locations);
	put_packed_int(b, SAMPLE_VALUE, s->values, s->n_values);
	for (i = 0; i < s->n_labels; i++) {
		const struct pprof_label *l = &s->labels[i];
		/* a string label carries no number, whatever num holds */
		const uint64_t v[] = {
			[LABEL_KEY] = (uint64_t)l->key,
			[LABEL_STR] = (uint64_t)l->str,
			[LABEL_NUM] = l->str ? 0 : (uint64_t)l->num,
			[LABEL_NUM_UNIT] = l->str ? 0 : (uint64_t)l->num_unit,
		};

		put_scalar_msg(b, SAMPLE_LABEL, v, NFIELDS(v));
	}
	msg_end(b, start);
}

static void
put_mapping(struct wbuf *b, const struct pprof_mapping *m)
{
	const uint64_t v[] = {
		[MAPPING_ID] = m->id,
		[MAPPING_START] = m->start,
		[MAPPING_LIMIT] = m->limit,
		[MAPPING_OFFSET] = m->offset,
		[MAPPING_FILENAME] = (uint64_t)m->filename,
		[MAPPING_BUILD_ID] = (uint64_t)m->build_id,
		[MAPPING_HAS_FUNCTIONS] = m->has_functions,
		[MAPPING_HAS_FILENAMES] = m->has_filenames,
		[MAPPING_HAS_LINE_NUMBERS] = m->has_line_numbers,
		[MAPPING_HAS_INLINE_FRAMES] = m->has_inline_frames,
	};

	put_scalar_msg(b, PROFILE_MAPPING, v, NFIELDS(v));
}

static void
put_location(struct wbuf *b, const struct pprof_location *l)
{
	const uint64_t v[] = {
		[LOCATION_ID] = l->id,
		[LOCATION_MAPPING_ID] = l->mapping_id,
		[LOCATION_ADDRESS] = l->address,
	};
	size_t start = msg_begin(b, PROFILE_LOCATION), i;

	put_fields(b, v, NFIELDS(v));
	for (i = 0; i < l->n_lines; i++) {
		const uint64_t lv[] = {
			[LINE_FUNCTION_ID] = l->lines[i].function_id,
			[LINE_LINE] = (uint64_t)l->lines[i].line,
		};

		put_scalar_msg(b, LOCATION_LINE, lv, NFIELDS(lv));
	}
	msg_end(b, start);
}

static void
put_function(struct wbuf *b, const struct pprof_function *f)
{
	const uint64_t v[] = {
		[FUNCTION_ID] = f->id,
		[FUNCTION_NAME] = (uint64_t)f->name,
		[FUNCTION_SYSTEM_NAME] = (uint64_t)f->system_name,
		[FUNCTION_FILENAME] = (uint64_t)f->filename,
		[FUNCTION_START_LINE] = (uint64_t)f->start_line,
	};

	put_scalar_msg(b, PROFILE_FUNCTION, v, NFIELDS(v));
}

static void
put_profile(struct wbuf *b, const struct pprof *p)
{
	size_t i;

	for (i = 0; i < p->n_sample_types; i++)
		put_value_type(b, PROFILE_SAMPLE_TYPE, &p->sample_types[i]);
	for (i = 0; i < p->n_samples; i++)
		put_sample(b, &p->samples[i]);
	for (i = 0; i < p->n_mappings; i++)
		put_mapping(b, &p->mappings[i]);
	for (i = 0; i < p->n_locations; i++)
		put_location(b, &p->locations[i]);
	for (i = 0; i < p->n_functions; i++)
		put_function(b, &p->functions[i]);
	/* strings[0] is "" and must be on the wire: index 0 has to resolve
	 * (google/pprof profile/encode.go). */
	for (i = 0; i < p->n_strings; i++)
		put_string(b, PROFILE_STRING_TABLE, p->strings[i]);
	/* Written even when zero, and only here: a second time_nanos makes
	 * pprof report "concatenated profiles detected". */
	put_key(b, PROFILE_TIME_NANOS, WIRE_VARINT);
	put_varint(b, (uint64_t)p->time_nanos);
	put_int(b, PROFILE_DURATION_NANOS, p->duration_nanos);
	put_value_type(b, PROFILE_PERIOD_TYPE, &p->period_type);
	put_int(b, PROFILE_PERIOD, p->period);
	for (i = 0; i < p->n_comments; i++)
		put_int(b, PROFILE_COMMENT, p->comments[i]);
	put_int(b, PROFILE_DEFAULT_SAMPLE_TYPE, p->default_sample_type);
}

/* gzip in one deflate() call: PPROF_MAX_ENCODED keeps both counts within
 * zlib's 32-bit uInt. BestSpeed, as Go's runtime/pprof uses. */
static int
gzip_buf(const unsigned char *in, size_t len, unsigned char **out,
	 size_t *out_len)
{
	z_stream zs;
	unsigned char *buf;
	uLong bound;
	int rc;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	bound = deflateBound(&zs, len);
	buf = malloc(bound);
	if (!buf) {
		deflateEnd(&zs);
		return -ENOMEM;
	}
	zs.next_in = in;
	zs.avail_in = (uInt)len;
	zs.next_out = buf;
	zs.avail_out = (uInt)bound;
	rc = deflate(&zs, Z_FINISH);
	deflateEnd(&zs);
	if (rc != Z_STREAM_END) {
		free(buf);
		return rc == Z_MEM_ERROR ? -ENOMEM : -EIO;
	}
	*out = buf;
	*out_len = zs.total_out;
	return 0;
}

int
pprof_encode(const struct pprof *p, bool gzip, unsigned char **out,
	     size_t *out_len)
{
	struct wbuf b = { 0 };
	int rc;

	rc = check(p);
	if (rc < 0)
		return rc;
	put_profile(&b, p);
	if (b.err) {
		free(b.data);
		return b.err;
	}
	if (gzip) {
		rc = gzip_buf(b.data, b.len, out, out_len);
		free(b.data);
		return rc;
	}
	*out = b.data;
	*out_len = b.len;
	return 0;
}
