/* folded.c - a profile as collapsed stacks (Brendan Gregg's "folded"
 * format, what flamegraph.pl, inferno and speedscope read): one line per
 * distinct stack, frames root first joined by ';', a space, the value.
 * See http.h, pprof_folded().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "http/http.h"

/* A growable byte buffer. */
struct buf {
	char *p;
	size_t len, cap;
};

static int
buf_grow(struct buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int
buf_add(struct buf *b, const char *s, size_t n)
{
	if (buf_grow(b, n + 1) < 0)
		return -ENOMEM;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* One distinct stack: its text in the arena, and its value. */
struct stack {
	size_t off, len;
	int64_t value;
};

struct folder {
	struct buf arena;	/* the stacks' text, one after another */
	struct stack *v;
	size_t n, cap;
	struct htab tab;	/* hash of the text -> index + 1 */
};

static bool
stack_eq(const void *ctx, uint64_t id, const void *key)
{
	const struct folder *f = ctx;
	const struct buf *k = key;
	const struct stack *s = &f->v[id - 1];

	return s->len == k->len && memcmp(f->arena.p + s->off, k->p, k->len) == 0;
}

/* A frame's name into b: ';' (the separator) and line breaks become ':'
 * and ' ', so that a name can never split a line or a stack. */
static int
add_name(struct buf *b, const char *name)
{
	size_t start = b->len, i;

	if (buf_add(b, name, strlen(name)) < 0)
		return -ENOMEM;
	for (i = start; i < b->len; i++) {
		if (b->p[i] == ';')
			b->p[i] = ':';
		else if (b->p[i] == '\n' || b->p[i] == '\r')
			b->p[i] = ' ';
	}
	return 0;
}

/* The frames of one location, outermost (the caller) first. A location
 * without lines is named by its address. */
static int
add_location(struct buf *b, const struct pprof *p, uint64_t id)
{
	const struct pprof_location *l;
	char hex[32];
	size_t j;

	if (id == 0 || id > p->n_locations)
		return -EINVAL;
	l = &p->locations[id - 1];
	if (l->n_lines == 0) {
		if (b->len && buf_add(b, ";", 1) < 0)
			return -ENOMEM;
		snprintf(hex, sizeof(hex), "0x%" PRIx64, l->address);
		return buf_add(b, hex, strlen(hex));
	}
	for (j = l->n_lines; j-- > 0;) {
		uint64_t fid = l->lines[j].function_id;
		const char *name = "?";

		if (fid > 0 && fid <= p->n_functions) {
			int64_t si = p->functions[fid - 1].name;

			if (si > 0 && (size_t)si < p->n_strings)
				name = p->strings[si];
		}
		if (b->len && buf_add(b, ";", 1) < 0)
			return -ENOMEM;
		if (add_name(b, name) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Add value v to the stack in k (new or seen before). */
static int
fold_add(struct folder *f, const struct buf *k, int64_t v)
{
	uint64_t h = hash_bytes(k->p, k->len), id;
	struct stack *s;

	id = htab_find(&f->tab, h, stack_eq, f, k);
	if (id) {
		f->v[id - 1].value += v;
		return 0;
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 256;

		s = realloc(f->v, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		f->v = s;
		f->cap = cap;
	}
	s = &f->v[f->n];
	s->off = f->arena.len;
	s->len = k->len;
	s->value = v;
	if (buf_add(&f->arena, k->p, k->len) < 0 ||
	    htab_add(&f->tab, h, f->n + 1) < 0)
		return -ENOMEM;
	f->n++;
	return 0;
}

static void
folder_free(struct folder *f)
{
	free(f->arena.p);
	free(f->v);
	htab_free(&f->tab);
}

int
pprof_folded(const struct pprof *p, size_t vi, char **out, size_t *out_len)
{
	struct folder f;
	struct buf k = { 0 }, o = { 0 };
	char num[32];
	size_t i, j;
	int e = 0;

	if (vi >= p->n_sample_types)
		return -EINVAL;
	memset(&f, 0, sizeof(f));
	for (i = 0; i < p->n_samples && e == 0; i++) {
		const struct pprof_sample *s = &p->samples[i];

		if (vi >= s->n_values || s->values[vi] == 0 ||
		    s->n_locations == 0)
			continue;
		k.len = 0;
		for (j = s->n_locations; j-- > 0 && e == 0;)
			e = add_location(&k, p, s->location_ids[j]);
		if (e == 0)
			e = fold_add(&f, &k, s->values[vi]);
	}
	for (i = 0; i < f.n && e == 0; i++) {
		int n = snprintf(num, sizeof(num), " %" PRId64 "\n",
				 f.v[i].value);

		if (buf_add(&o, f.arena.p + f.v[i].off, f.v[i].len) < 0 ||
		    buf_add(&o, num, (size_t)n) < 0)
			e = -ENOMEM;
	}
	if (e == 0 && !o.p)
		e = buf_add(&o, "", 0);	/* no stacks: an empty text */
	free(k.p);
	folder_free(&f);
	if (e < 0) {
		free(o.p);
		return e;
	}
	*out = o.p;
	*out_len = o.len;
	return 0;
}
