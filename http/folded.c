/* folded.c - a profile as collapsed stacks ("folded": the input of
 * flamegraph.pl, speedscope, inferno): one line per distinct stack, its
 * frames from the root to the leaf joined by ';' (the inline frames of a
 * location expanded, the inlined callee after its caller), a space, and
 * the sum of the first sample type's values over the samples with that
 * stack. Served for format=folded on every profile endpoint.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "http/http.h"

/* A growing byte buffer; failed stays set after an allocation failure. */
struct obuf {
	char *s;
	size_t len, cap;
	bool failed;
};

static void
put(struct obuf *b, const char *s, size_t n)
{
	char *ns;
	size_t cap;

	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(ns = realloc(b->s, cap))) {
			b->failed = true;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
put_str(struct obuf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* One distinct stack: its text in the arena, and its total. */
struct fstack {
	size_t off, len;
	int64_t value;
};

struct fctx {
	const struct obuf *arena;
	const struct fstack *v;
};

static bool
same_text(const void *ctx, uint64_t id, const void *key)
{
	const struct fctx *c = ctx;
	const struct obuf *k = key;
	const struct fstack *f = &c->v[id - 1];

	return f->len == k->len &&
	       memcmp(c->arena->s + f->off, k->s, k->len) == 0;
}

/* A frame's name: the function's name, else its system name, else the
 * location's address (as pprof-dump and pprof print an unnamed frame). */
static void
put_frame(struct obuf *b, const struct pprof *p,
	  const struct pprof_location *l, const struct pprof_line *line)
{
	const struct pprof_function *fn;
	const char *name = "";
	char hex[24];

	if (line && line->function_id && line->function_id <= p->n_functions) {
		fn = &p->functions[line->function_id - 1];
		name = p->strings[fn->name];
		if (!*name)
			name = p->strings[fn->system_name];
	}
	if (*name) {
		put_str(b, name);
	} else {
		snprintf(hex, sizeof(hex), "0x%" PRIx64, l->address);
		put_str(b, hex);
	}
}

/* The stack of sample s, root first, into b (emptied first).
 * location_ids are leaf first and each location's lines innermost first,
 * so both are walked backwards. */
static void
stack_text(struct obuf *b, const struct pprof *p,
	   const struct pprof_sample *s)
{
	size_t i, j;
	bool first = true;

	b->len = 0;
	put(b, "", 0);
	for (i = s->n_locations; i-- > 0;) {
		const struct pprof_location *l;

		if (!s->location_ids[i] || s->location_ids[i] > p->n_locations)
			continue;
		l = &p->locations[s->location_ids[i] - 1];
		if (!l->n_lines) {
			if (!first)
				put(b, ";", 1);
			put_frame(b, p, l, NULL);
			first = false;
		}
		for (j = l->n_lines; j-- > 0;) {
			if (!first)
				put(b, ";", 1);
			put_frame(b, p, l, &l->lines[j]);
			first = false;
		}
	}
}

/* Add the stack text in key with value v to the table: a new entry (its
 * text copied into the arena) or the sum of an old one. 0 or -ENOMEM. */
static int
add_stack(struct htab *t, struct obuf *arena, struct fstack **v, size_t *n,
	  size_t *cap, const struct obuf *key, int64_t value)
{
	struct fctx c = { arena, *v };
	uint64_t h = hash_bytes(key->s, key->len), id;
	struct fstack *nv;

	id = htab_find(t, h, same_text, &c, key);
	if (id) {
		(*v)[id - 1].value += value;
		return 0;
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		if (!(nv = realloc(*v, *cap * sizeof(*nv))))
			return -ENOMEM;
		*v = nv;
	}
	(*v)[*n].off = arena->len;
	(*v)[*n].len = key->len;
	(*v)[*n].value = value;
	put(arena, key->s, key->len);
	if (arena->failed || htab_add(t, h, *n + 1) < 0)
		return -ENOMEM;
	(*n)++;
	return 0;
}

size_t
pprof_default_index(const struct pprof *p)
{
	size_t i;

	if (p->default_sample_type)
		for (i = 0; i < p->n_sample_types; i++)
			if (p->sample_types[i].type == p->default_sample_type)
				return i;
	return p->n_sample_types ? p->n_sample_types - 1 : 0;
}

int
pprof_folded(const struct pprof *p, char **out, size_t *out_len)
{
	size_t vi = pprof_default_index(p);
	struct obuf key = { 0 }, arena = { 0 }, text = { 0 };
	struct fstack *v = NULL;
	struct htab t = { 0 };
	size_t n = 0, cap = 0, i;
	char num[32];
	int e = 0;

	for (i = 0; i < p->n_samples && e == 0; i++) {
		const struct pprof_sample *s = &p->samples[i];

		stack_text(&key, p, s);
		if (key.failed)
			e = -ENOMEM;
		else
			e = add_stack(&t, &arena, &v, &n, &cap, &key,
				      vi < s->n_values ? s->values[vi] : 0);
	}
	for (i = 0; i < n && e == 0; i++) {
		put(&text, arena.s + v[i].off, v[i].len);
		snprintf(num, sizeof(num), " %" PRId64 "\n", v[i].value);
		put_str(&text, num);
	}
	put(&text, "", 0);
	if (text.failed)
		e = -ENOMEM;
	free(key.s);
	free(arena.s);
	free(v);
	htab_free(&t);
	if (e < 0) {
		free(text.s);
		return e;
	}
	*out = text.s;
	*out_len = text.len;
	return 0;
}
