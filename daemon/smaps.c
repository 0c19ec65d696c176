/* smaps.c - /proc/PID/smaps summed by mapping name, and the memory view
 * built from it. See smaps.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "daemon/smaps.h"
#include "http/http.h"

/* A kB figure is at most this (16 EiB in bytes): anything larger is not
 * the kernel's, and saturates. */
#define KB_MAX (UINT64_MAX / 1024)

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Whether line[0..n) is a mapping's header, "START-END PERMS OFFSET DEV
 * INODE [PATH]"; *path and *pathlen get the path field (blanks skipped),
 * *size the mapping's length. */
static bool
parse_header(const char *line, size_t n, const char **path, size_t *pathlen,
	     uint64_t *start, uint64_t *size)
{
	uint64_t a = 0, b = 0;
	size_t i = 0, k;
	int field;

	for (k = 0; i < n && is_hex(line[i]); i++, k++)
		a = a << 4 | (uint64_t)(line[i] <= '9' ? line[i] - '0'
						       : line[i] - 'a' + 10);
	if (k == 0 || k > 16 || i >= n || line[i] != '-')
		return false;
	for (i++, k = 0; i < n && is_hex(line[i]); i++, k++)
		b = b << 4 | (uint64_t)(line[i] <= '9' ? line[i] - '0'
						       : line[i] - 'a' + 10);
	if (k == 0 || k > 16 || i >= n || line[i] != ' ')
		return false;
	/* perms, offset, dev, inode: four blank-separated fields */
	for (field = 0; field < 4; field++) {
		while (i < n && line[i] == ' ')
			i++;
		if (i >= n)
			return false;
		while (i < n && line[i] != ' ')
			i++;
	}
	while (i < n && line[i] == ' ')
		i++;
	*path = line + i;
	*pathlen = n - i;
	*start = a;
	*size = b > a ? b - a : 0;
	return true;
}

void
smaps_group_name(const char *p, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0, cap = outlen - 4;	/* room for "..." */

	if (n == 0) {
		snprintf(out, outlen, "[anon]");
		return;
	}
	if ((n == 7 && memcmp(p, "[stack]", 7) == 0) ||
	    (n > 7 && memcmp(p, "[stack:", 7) == 0 && p[n - 1] == ']')) {
		snprintf(out, outlen, "[stack]");
		return;
	}
	for (i = 0; i < n && o < cap; i++) {
		/* the kernel escapes a newline in a path as \012 (seq_path);
		 * shown as \n, since a name in a profile is one line */
		if (p[i] == '\\' && n - i >= 4 && memcmp(p + i, "\\012", 4) == 0) {
			if (o + 2 > cap)
				break;
			out[o++] = '\\';
			out[o++] = 'n';
			i += 3;
			continue;
		}
		out[o++] = p[i] == '\0' ? '?' : p[i];
	}
	if (i < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* The kB value of a "Key:   N kB" line, in bytes; false when the line is
 * not key's. */
static bool
kb_value(const char *line, size_t n, const char *key, uint64_t *bytes)
{
	size_t kl = strlen(key), i;
	uint64_t v = 0;

	if (n <= kl || memcmp(line, key, kl) != 0 || line[kl] != ':')
		return false;
	for (i = kl + 1; i < n && line[i] == ' '; i++)
		;
	if (i >= n || line[i] < '0' || line[i] > '9')
		return false;
	for (; i < n && line[i] >= '0' && line[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(line[i] - '0');
		if (v > KB_MAX)
			v = KB_MAX;
	}
	*bytes = v * 1024;
	return true;
}

static bool
name_eq(const void *ctx, uint64_t id, const void *key)
{
	const struct smaps *s = ctx;

	return strcmp(s->g[id - 1].name, key) == 0;
}

/* The group called name, added when new ("[other]" past
 * SMAPS_MAX_GROUPS); NULL when out of memory. */
static struct smaps_group *
group_of(struct smaps *s, const char *name)
{
	uint64_t h, id;
	struct smaps_group *g;

	if (s->n >= SMAPS_MAX_GROUPS)
		name = "[other]";
	h = hash_bytes(name, strlen(name));
	id = htab_find(&s->index, h, name_eq, s, name);
	if (id)
		return &s->g[id - 1];
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;

		g = realloc(s->g, cap * sizeof(*g));
		if (!g)
			return NULL;
		s->g = g;
		s->cap = cap;
	}
	g = &s->g[s->n];
	memset(g, 0, sizeof(*g));
	g->name = strdup(name);
	if (!g->name)
		return NULL;
	if (htab_add(&s->index, h, s->n + 1) < 0) {
		free(g->name);
		return NULL;
	}
	s->n++;
	return g;
}

/* Whether one of sps[0..n) (sorted) is in [start, start + size). */
static bool
holds_sp(const uint64_t *sps, size_t n, uint64_t start, uint64_t size)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sps[mid] < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && sps[lo] - start < size;
}

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

int
smaps_parse(const char *buf, size_t len, const uint64_t *sps, size_t nsps,
	    struct smaps *s)
{
	const char *p = buf, *end = buf + len;
	struct smaps_group *cur = NULL;
	char name[SMAPS_NAME_MAX + 4];

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *path;
		size_t n, pathlen;
		uint64_t v, start, size;

		if (!nl) {
			/* the read stopped inside this line */
			s->partial = true;
			break;
		}
		n = (size_t)(nl - p);
		if (parse_header(p, n, &path, &pathlen, &start, &size)) {
			smaps_group_name(path, pathlen, name, sizeof(name));
			if (strcmp(name, "[anon]") == 0 &&
			    holds_sp(sps, nsps, start, size))
				snprintf(name, sizeof(name), "[stack]");
			cur = group_of(s, name);
			if (!cur)
				return -ENOMEM;
			cur->size = sat_add(cur->size, size);
			cur->maps++;
			s->maps++;
		} else if (cur && kb_value(p, n, "Rss", &v)) {
			cur->rss = sat_add(cur->rss, v);
			s->rss = sat_add(s->rss, v);
		} else if (cur && kb_value(p, n, "Anonymous", &v)) {
			cur->anon = sat_add(cur->anon, v);
			s->anon = sat_add(s->anon, v);
		} else if (cur && kb_value(p, n, "Swap", &v)) {
			cur->swap = sat_add(cur->swap, v);
			s->swap = sat_add(s->swap, v);
		}
		p = nl + 1;
	}
	return 0;
}

void
smaps_free(struct smaps *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->g[i].name);
	free(s->g);
	htab_free(&s->index);
	memset(s, 0, sizeof(*s));
}

static int
by_rss(const void *a, const void *b)
{
	const struct smaps_group *x = *(const struct smaps_group *const *)a;
	const struct smaps_group *y = *(const struct smaps_group *const *)b;

	if (x->rss != y->rss)
		return x->rss < y->rss ? 1 : -1;
	return strcmp(x->name, y->name);
}

static int64_t
clamp64(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

struct pprof *
smaps_profile(const struct smaps *s, int64_t time_nanos, const char *comment)
{
	const struct smaps_group **order = NULL;
	struct pprof *p;
	size_t i;

	p = pprof_new();
	if (!p)
		goto nomem;
	if (pprof_add_sample_type(p, "resident", "bytes") < 0 ||
	    pprof_add_sample_type(p, "anonymous", "bytes") < 0 ||
	    pprof_add_sample_type(p, "swap", "bytes") < 0 ||
	    pprof_set_period(p, "resident", "bytes", 1) < 0)
		goto nomem;
	p->default_sample_type = pprof_string(p, "resident");
	if (p->default_sample_type < 0)
		goto nomem;
	pprof_set_time(p, time_nanos, 0);
	if (comment && pprof_add_comment(p, comment) < 0)
		goto nomem;
	order = malloc((s->n ? s->n : 1) * sizeof(*order));
	if (!order)
		goto nomem;
	for (i = 0; i < s->n; i++)
		order[i] = &s->g[i];
	if (s->n > 1)
		qsort(order, s->n, sizeof(*order), by_rss);
	for (i = 0; i < s->n; i++) {
		const struct smaps_group *g = order[i];
		struct pprof_line line = { 0, 0 };
		uint64_t loc;
		int64_t v[3];

		line.function_id = pprof_add_function(p, g->name, g->name, "",
						      0);
		if (!line.function_id)
			goto nomem;
		/* one location per group: address i + 1, no mapping */
		loc = pprof_add_location(p, 0, i + 1, &line, 1);
		if (!loc)
			goto nomem;
		v[0] = clamp64(g->rss);
		v[1] = clamp64(g->anon);
		v[2] = clamp64(g->swap);
		if (pprof_add_sample(p, &loc, 1, v, 3, NULL, 0) < 0)
			goto nomem;
	}
	free(order);
	return p;
nomem:
	free(order);
	pprof_free(p);
	errno = ENOMEM;
	return NULL;
}
