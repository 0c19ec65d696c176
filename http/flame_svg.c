/* flame_svg.c - format=svg: a profile as a standalone SVG flame graph, in
 * the manner of Brendan Gregg's flamegraph.pl: the root at the bottom,
 * callers below their callees, siblings in name order, each frame's width
 * its share of the total of one sample type. Every frame has a <title>
 * (name, value, share), which a browser shows on hover without any
 * script.
 *
 * The merge: a node is (parent node, function name); a sample walks from
 * its root (its last location) to its leaf, expanding each location's
 * inline frames outermost first, and adds its value to every node on the
 * way. Nodes are numbered in creation order, so a parent always comes
 * before its children and the layout needs no recursion.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/textbuf.h"
#include "http/http.h"

#define SVG_WIDTH 1200
#define SVG_FRAME_H 16
#define SVG_PAD 10
#define SVG_TOP 46		/* title, subtitle */
#define SVG_MIN_PX 0.1		/* narrower frames are left out */
#define SVG_CHAR_PX 7.0		/* a character of the 12 px font */

struct fnode {
	int64_t name;		/* string index; -1: no function (addr) */
	uint64_t addr;		/* the location's address when name < 0 */
	uint32_t parent;	/* node index; the root is node 0 */
	uint32_t depth;
	int64_t value, count;
	double x;		/* left edge, in units of value */
	uint32_t first, next;	/* children, sorted before layout */
};

struct flame {
	const struct pprof *p;
	struct fnode *v;
	size_t n, cap;
	struct htab idx;
};

struct fkey {
	uint32_t parent;
	int64_t name;
	uint64_t addr;
};

/* S with &, <, >, " and control characters escaped for XML text and
 * attributes, at most about MAXCH bytes (then ".."). Plain runs are
 * copied in one print. */
static void
sb_xml(struct textbuf *b, const char *s, size_t maxch)
{
	size_t i = 0, run;

	while (*s && i < maxch) {
		const char *esc;
		unsigned char ch;

		run = strcspn(s, "&<>\"\x7f\x01\x02\x03\x04\x05\x06\x07\x08\t\n"
			      "\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16"
			      "\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f");
		if (run > maxch - i) {
			/* cut at a character, not inside one's UTF-8 */
			run = maxch - i;
			while (run > 0 && ((unsigned char)s[run] & 0xc0) == 0x80)
				run--;
			if (run == 0)
				break;
		}
		if (run) {
			textbuf_printf(b, "%.*s", (int)run, s);
			s += run;
			i += run;
			continue;
		}
		ch = (unsigned char)*s++;
		i++;
		esc = ch == '&' ? "&amp;" : ch == '<' ? "&lt;" : ch == '>' ? "&gt;"
		    : ch == '"' ? "&quot;" : "?";
		textbuf_printf(b, "%s", esc);
	}
	if (*s)
		textbuf_printf(b, "..");
}

static bool
key_eq(const void *ctx, uint64_t id, const void *key)
{
	const struct flame *f = ctx;
	const struct fkey *k = key;
	const struct fnode *n = &f->v[id - 1];

	return n->parent == k->parent && n->name == k->name &&
	       n->addr == k->addr;
}

/* The child of PARENT named NAME (or at ADDR), made when new; its index,
 * or -1 on ENOMEM. */
static int64_t
child(struct flame *f, uint32_t parent, int64_t name, uint64_t addr)
{
	struct fkey k = { parent, name, name < 0 ? addr : 0 };
	uint64_t h = hash_add(hash_add(hash_u64(parent), (uint64_t)name),
			      k.addr);
	uint64_t id = htab_find(&f->idx, h, key_eq, f, &k);
	struct fnode *n;

	if (id)
		return (int64_t)id - 1;
	if (f->n == f->cap) {
		size_t nc = f->cap ? f->cap * 2 : 1024;
		struct fnode *nv = realloc(f->v, nc * sizeof(*nv));

		if (!nv)
			return -1;
		f->v = nv;
		f->cap = nc;
	}
	if (f->n >= UINT32_MAX - 1 || htab_add(&f->idx, h, f->n + 1) < 0)
		return -1;
	n = &f->v[f->n];
	memset(n, 0, sizeof(*n));
	n->name = name;
	n->addr = k.addr;
	n->parent = parent;
	n->depth = f->v[parent].depth + 1;
	return (int64_t)f->n++;
}

/* A + B, held at the int64 limits: a decoded profile's values may be
 * anything. */
static int64_t
sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (!__builtin_add_overflow(a, b, &r))
		return r;
	return b > 0 ? INT64_MAX : INT64_MIN;
}

/* Add sample S (value VAL, count CNT) along its stack. 0 or -ENOMEM. */
static int
add_sample(struct flame *f, const struct pprof_sample *s, int64_t val,
	   int64_t cnt)
{
	const struct pprof *p = f->p;
	uint32_t at = 0;
	size_t i, j;

	f->v[0].value = sat_add(f->v[0].value, val);
	f->v[0].count = sat_add(f->v[0].count, cnt);
	for (i = s->n_locations; i-- > 0;) {
		uint64_t lid = s->location_ids[i];
		const struct pprof_location *loc;

		if (lid == 0 || lid > p->n_locations)
			continue;
		loc = &p->locations[lid - 1];
		for (j = loc->n_lines ? loc->n_lines : 1; j-- > 0;) {
			int64_t name = -1, c;

			if (loc->n_lines) {
				uint64_t fid = loc->lines[j].function_id;

				if (fid && fid <= p->n_functions)
					name = p->functions[fid - 1].name;
			}
			c = child(f, at, name, loc->address);
			if (c < 0)
				return -ENOMEM;
			at = (uint32_t)c;
			f->v[at].value = sat_add(f->v[at].value, val);
			f->v[at].count = sat_add(f->v[at].count, cnt);
		}
	}
	return 0;
}

static const char *
node_name(const struct flame *f, const struct fnode *n, char *buf,
	  size_t len)
{
	if (n->name >= 0 && (size_t)n->name < f->p->n_strings &&
	    f->p->strings[n->name][0])
		return f->p->strings[n->name];
	snprintf(buf, len, "0x%" PRIx64, n->addr);
	return buf;
}

/* qsort_r's comparison: several workers may draw at once. */
static int
cmp_name(const void *a, const void *b, void *ctx)
{
	const struct flame *f = ctx;
	const struct fnode *x = &f->v[*(const uint32_t *)a];
	const struct fnode *y = &f->v[*(const uint32_t *)b];
	char ba[32], bb[32];
	int c = strcmp(node_name(f, x, ba, sizeof(ba)),
		       node_name(f, y, bb, sizeof(bb)));

	return c ? c : (x < y ? -1 : x > y);
}

/* Link each node's children in name order and give each its x: a child
 * starts where its parent does plus the values of the siblings before it.
 * Parents come before children in the array, so one pass in index order
 * places every node. 0 or -ENOMEM. */
static int
layout(struct flame *f)
{
	uint32_t *order, *cnt, *pos;
	size_t i;

	order = malloc(f->n * sizeof(*order));
	cnt = calloc(f->n + 1, sizeof(*cnt));
	pos = malloc((f->n + 1) * sizeof(*pos));
	if (!order || !cnt || !pos) {
		free(order);
		free(cnt);
		free(pos);
		return -ENOMEM;
	}
	/* bucket the children by parent (a counting sort), then sort each
	 * bucket by name */
	for (i = 1; i < f->n; i++)
		cnt[f->v[i].parent + 1]++;
	for (i = 1; i <= f->n; i++)
		cnt[i] += cnt[i - 1];
	memcpy(pos, cnt, (f->n + 1) * sizeof(*pos));
	for (i = 1; i < f->n; i++)
		order[pos[f->v[i].parent]++] = (uint32_t)i;
	for (i = 0; i < f->n; i++) {
		uint32_t a = cnt[i], z = cnt[i + 1], k;
		double x = f->v[i].x;

		if (z - a > 1)
			qsort_r(order + a, z - a, sizeof(*order), cmp_name,
				f);
		for (k = a; k < z; k++) {
			f->v[order[k]].x = x;
			x += (double)f->v[order[k]].value;
		}
	}
	free(order);
	free(cnt);
	free(pos);
	return 0;
}

/* The sample type the graph weighs by: the profile's default one, else
 * the last (pprof's choice). */
static size_t
value_index(const struct pprof *p)
{
	size_t i;

	for (i = 0; p->default_sample_type && i < p->n_sample_types; i++)
		if (p->sample_types[i].type == p->default_sample_type)
			return i;
	return p->n_sample_types ? p->n_sample_types - 1 : 0;
}

static const char *
str_at(const struct pprof *p, int64_t i)
{
	return i > 0 && (size_t)i < p->n_strings ? p->strings[i] : "";
}

/* VALUE in UNIT for a person: seconds for nanoseconds, MiB for bytes. */
static void
fmt_value(char *buf, size_t len, int64_t v, const char *unit)
{
	if (strcmp(unit, "nanoseconds") == 0)
		snprintf(buf, len, "%.3g s", (double)v / 1e9);
	else if (strcmp(unit, "bytes") == 0)
		snprintf(buf, len, "%.3g MiB", (double)v / 1048576.0);
	else
		snprintf(buf, len, "%" PRId64 " %s", v, unit);
}

static void
frame_color(const char *name, unsigned *r, unsigned *g, unsigned *b)
{
	uint64_t h = hash_bytes(name, strlen(name));

	*r = 205 + (unsigned)(h % 50);
	*g = (unsigned)((h >> 8) % 180);
	*b = (unsigned)((h >> 16) % 55);
}

/* One frame's <g>: rect, title and the name when it fits. */
static void
emit_frame(struct textbuf *b, const struct flame *f, const struct fnode *n,
	   double scale, uint32_t maxdepth, bool counts, const char *unit)
{
	char nb[32], val[64];
	const char *name = n == f->v ? "all" : node_name(f, n, nb, sizeof(nb));
	double w = (double)n->value * scale, x = SVG_PAD + n->x * scale;
	double y = SVG_TOP + (double)(maxdepth - n->depth) * SVG_FRAME_H;
	double share = f->v[0].value ? 100.0 * (double)n->value /
					       (double)f->v[0].value
				     : 0;
	unsigned r, g, bl;
	size_t fit;

	frame_color(name, &r, &g, &bl);
	fmt_value(val, sizeof(val), n->value, unit);
	textbuf_printf(b, "<g class=\"f\"><title>");
	sb_xml(b, name, 4096);
	if (counts)
		textbuf_printf(b, " (%" PRId64 " samples, %s, %.2f%%)", n->count,
			  val, share);
	else
		textbuf_printf(b, " (%s, %.2f%%)", val, share);
	textbuf_printf(b,
		  "</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		  "height=\"%d\" fill=\"rgb(%u,%u,%u)\" rx=\"2\"/>",
		  x, y, w, SVG_FRAME_H - 1, r, g, bl);
	fit = w > 3 * SVG_CHAR_PX ? (size_t)((w - 6) / SVG_CHAR_PX) : 0;
	if (fit >= 3) {
		textbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", x + 3,
			  y + SVG_FRAME_H - 4);
		sb_xml(b, name, fit - 2);
		textbuf_printf(b, "</text>");
	}
	textbuf_printf(b, "</g>\n");
}

/* The document around the frames. */
static void
emit_svg(struct textbuf *b, const struct flame *f, const char *title)
{
	const struct pprof *p = f->p;
	size_t vi = value_index(p), i;
	const char *type = "", *unit = "";
	uint32_t maxdepth = 0;
	double scale, height;
	bool counts;
	char total[64];

	if (p->n_sample_types) {
		type = str_at(p, p->sample_types[vi].type);
		unit = str_at(p, p->sample_types[vi].unit);
	}
	counts = vi > 0 && p->n_sample_types &&
		 strcmp(str_at(p, p->sample_types[0].type), "samples") == 0;
	for (i = 0; i < f->n; i++)
		if (f->v[i].depth > maxdepth)
			maxdepth = f->v[i].depth;
	scale = f->v[0].value > 0 ? (SVG_WIDTH - 2.0 * SVG_PAD) /
					    (double)f->v[0].value
				  : 0;
	height = SVG_TOP + (maxdepth + 1.0) * SVG_FRAME_H + SVG_PAD;
	fmt_value(total, sizeof(total), f->v[0].value, unit);
	textbuf_printf(b,
		  "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		  "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
		  "width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\">\n"
		  "<style>text{font-family:monospace;font-size:12px;"
		  "fill:#000;pointer-events:none}"
		  "g.f:hover rect{stroke:#000;stroke-width:0.5}"
		  ".t{font-family:sans-serif}</style>\n"
		  "<rect width=\"100%%\" height=\"100%%\" fill=\"#f8f8f0\"/>\n"
		  "<text class=\"t\" x=\"%d\" y=\"22\" style=\"font-size:17px\">",
		  SVG_WIDTH, height, SVG_WIDTH, height, SVG_WIDTH / 2 - 200);
	sb_xml(b, title, 200);
	textbuf_printf(b, "</text>\n<text class=\"t\" x=\"%d\" y=\"38\">", SVG_PAD);
	sb_xml(b, type, 64);
	textbuf_printf(b, " (%s); hover a frame for its value and share</text>\n",
		  total);
	for (i = 0; i < f->n; i++)
		if ((double)f->v[i].value * scale >= SVG_MIN_PX)
			emit_frame(b, f, &f->v[i], scale, maxdepth, counts,
				   unit);
	textbuf_printf(b, "</svg>\n");
}

int
http_flame_svg(const struct pprof *p, const char *title, char **out,
	       size_t *out_len)
{
	struct flame f;
	struct textbuf b = { 0 };
	size_t vi = value_index(p), i;
	int e = 0;

	memset(&f, 0, sizeof(f));
	f.p = p;
	f.v = calloc(1024, sizeof(*f.v));
	if (!f.v)
		return -ENOMEM;
	f.cap = 1024;
	f.n = 1;		/* the root, "all" */
	for (i = 0; i < p->n_samples && e == 0; i++) {
		const struct pprof_sample *s = &p->samples[i];
		int64_t val = vi < s->n_values ? s->values[vi] : 0;
		int64_t cnt = s->n_values ? s->values[0] : 0;

		if (val > 0)
			e = add_sample(&f, s, val, cnt);
	}
	if (e == 0)
		e = layout(&f);
	if (e == 0) {
		emit_svg(&b, &f, title);
		if (b.oom) {
			free(b.s);
			e = -ENOMEM;
		} else {
			*out = b.s;
			*out_len = b.len;
		}
	}
	htab_free(&f.idx);
	free(f.v);
	return e;
}
