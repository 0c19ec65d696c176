/* export.c - a finished window as a pprof profile.
 *
 * Follows reference/pprof-compat.md section 8: samples/count plus the
 * window's value type; executable mappings with build-ids, main binary
 * first; one location per distinct address (leaf PC exact, callers at
 * return address - 1, as the unwinder already adjusted them) with its
 * inline chain innermost first; has_* flags set on every mapping profd
 * symbolized, so that pprof neither re-symbolizes against the viewer's own
 * files nor asks /symbol for what we already know.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

int
modsnap_take(struct modsnap *ms, const struct space *sp)
{
	const struct module *mods, *mainm;
	size_t i, n;

	memset(ms, 0, sizeof(*ms));
	mods = space_modules(sp, &n);
	mainm = space_main_module(sp);
	if (n == 0)
		return 0;
	ms->v = calloc(n, sizeof(*ms->v));
	if (!ms->v)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct modsnap_ent *e = &ms->v[i];

		e->start = mods[i].start;
		e->end = mods[i].end;
		e->offset = mods[i].offset;
		e->bias = mods[i].bias;
		e->anon = mods[i].anon;
		e->vdso = mods[i].vdso;
		e->main = &mods[i] == mainm;
		e->path = strdup(mods[i].path ? mods[i].path : "");
		if (!e->path) {
			ms->n = i;
			modsnap_free(ms);
			return -ENOMEM;
		}
		if (mods[i].img)
			e->img = elfimg_get(mods[i].img);
		ms->n = i + 1;
	}
	return 0;
}

void
modsnap_free(struct modsnap *ms)
{
	size_t i;

	for (i = 0; i < ms->n; i++) {
		free(ms->v[i].path);
		elfimg_put(ms->v[i].img);
	}
	free(ms->v);
	ms->v = NULL;
	ms->n = 0;
}

static const struct modsnap_ent *
modsnap_find(const struct modsnap *ms, uint64_t pc, size_t *idx)
{
	size_t lo = 0, hi = ms->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (pc < ms->v[mid].start)
			hi = mid;
		else if (pc >= ms->v[mid].end)
			lo = mid + 1;
		else {
			*idx = mid;
			return &ms->v[mid];
		}
	}
	return NULL;
}

/* PC -> location id, open addressing. */
struct pcmap {
	uint64_t *keys, *vals;
	size_t cap, n;
};

static int
pcmap_grow(struct pcmap *m)
{
	size_t nc = m->cap ? m->cap * 2 : 1024, i;
	uint64_t *k = calloc(nc, sizeof(*k)), *v = calloc(nc, sizeof(*v));

	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	for (i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->vals[i])
			continue;
		j = (m->keys[i] * 0x9e3779b97f4a7c15ULL >> 20) & (nc - 1);
		while (v[j])
			j = (j + 1) & (nc - 1);
		k[j] = m->keys[i];
		v[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = k;
	m->vals = v;
	m->cap = nc;
	return 0;
}

static uint64_t *
pcmap_slot(struct pcmap *m, uint64_t pc)
{
	size_t j;

	if ((m->n + 1) * 2 > m->cap && pcmap_grow(m) < 0)
		return NULL;
	j = (pc * 0x9e3779b97f4a7c15ULL >> 20) & (m->cap - 1);
	while (m->vals[j] && m->keys[j] != pc)
		j = (j + 1) & (m->cap - 1);
	if (!m->vals[j]) {
		m->keys[j] = pc;
		m->n++;
	}
	return &m->vals[j];
}

struct mapinfo {
	uint64_t id;
	bool lines, dwarf;
};

struct exporter {
	struct pprof *p;
	const struct modsnap *ms;
	struct mapinfo *mi;
	struct pcmap pcs;
	struct pprof_line *lines;
	size_t caplines;
};

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* A location with one synthetic frame: "[module+0xoffset]", "[unknown]",
 * "[truncated]". Samples keep their weight even when a frame has no
 * name. */
static uint64_t
synthetic_loc(struct exporter *x, uint64_t mapping_id, uint64_t pc,
	      const char *name)
{
	struct pprof_line line;

	line.function_id = pprof_add_function(x->p, name, name, "", 0);
	line.line = 0;
	if (!line.function_id)
		return 0;
	return pprof_add_location(x->p, mapping_id, pc, &line, 1);
}

static uint64_t
make_loc(struct exporter *x, uint64_t pc)
{
	const struct modsnap_ent *e;
	struct sym_info si;
	char name[256];
	size_t idx = 0, i;

	if (pc == 0)
		return synthetic_loc(x, 0, 0, "[truncated]");
	e = modsnap_find(x->ms, pc, &idx);
	if (!e)
		return synthetic_loc(x, 0, pc, "[unknown]");
	if (e->img && symbolize(e->img, pc - e->bias, &si) == 0 && si.n > 0 &&
	    si.frames[si.n - 1].name[0]) {
		if (si.n > x->caplines) {
			struct pprof_line *nl;

			nl = realloc(x->lines, si.n * sizeof(*nl));
			if (!nl)
				return 0;
			x->lines = nl;
			x->caplines = si.n;
		}
		for (i = 0; i < si.n; i++) {
			const struct sym_frame *f = &si.frames[i];

			x->lines[i].function_id = pprof_add_function(
				x->p, f->name[0] ? f->name : "[unknown]",
				f->system_name, f->file, f->start_line);
			if (!x->lines[i].function_id)
				return 0;
			x->lines[i].line = f->line;
		}
		x->mi[idx].lines |= si.lines;
		x->mi[idx].dwarf |= si.dwarf;
		return pprof_add_location(x->p, x->mi[idx].id, pc, x->lines,
					  si.n);
	}
	snprintf(name, sizeof(name), "[%s+0x%" PRIx64 "]",
		 e->path[0] ? base_name(e->path) : "anon",
		 pc - e->start + e->offset);
	return synthetic_loc(x, x->mi[idx].id, pc, name);
}

static int
add_mappings(struct exporter *x)
{
	size_t i, pass;

	/* Main executable first: pprof names the profile after mapping 0
	 * and shows its build id in the report header. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < x->ms->n; i++) {
			const struct modsnap_ent *e = &x->ms->v[i];
			const char *file = e->path;

			if ((pass == 0) != e->main)
				continue;
			if (e->anon || !file[0])
				file = "[anon]";
			x->mi[i].id = pprof_add_mapping(
				x->p, e->start, e->end, e->offset, file,
				e->img ? elfimg_build_id(e->img) : "");
			if (!x->mi[i].id)
				return -ENOMEM;
		}
	}
	return 0;
}

struct pprof *
export_pprof(const struct agg *a, const struct modsnap *ms,
	     const struct export_info *info, char *err, size_t errlen)
{
	struct exporter x;
	uint64_t *locs = NULL;
	size_t i, j, caplocs = 0;
	char note[128];

	memset(&x, 0, sizeof(x));
	x.ms = ms;
	x.p = pprof_new();
	x.mi = calloc(ms->n ? ms->n : 1, sizeof(*x.mi));
	if (!x.p || !x.mi)
		goto nomem;
	if (pprof_add_sample_type(x.p, "samples", "count") < 0 ||
	    pprof_add_sample_type(x.p, info->sample_type, info->sample_unit) <
		    0 ||
	    pprof_set_period(x.p, info->sample_type, info->sample_unit,
			     info->period) < 0)
		goto nomem;
	pprof_set_time(x.p, info->time_nanos, info->duration_nanos);
	if (info->comment && pprof_add_comment(x.p, info->comment) < 0)
		goto nomem;
	if (a->dropped) {
		snprintf(note, sizeof(note),
			 "%" PRIu64 " samples dropped: too many distinct stacks",
			 a->dropped);
		if (pprof_add_comment(x.p, note) < 0)
			goto nomem;
	}
	if (add_mappings(&x) < 0)
		goto nomem;

	for (i = 0; i < a->nlist; i++) {
		const struct agg_entry *e = a->list[i];
		struct pprof_label_in labels[2];
		int64_t values[2];

		if (e->n > caplocs) {
			uint64_t *nl = realloc(locs, e->n * sizeof(*nl));

			if (!nl)
				goto nomem;
			locs = nl;
			caplocs = e->n;
		}
		for (j = 0; j < e->n; j++) {
			uint64_t *slot = pcmap_slot(&x.pcs, e->pcs[j]);

			if (!slot)
				goto nomem;
			if (!*slot)
				*slot = make_loc(&x, e->pcs[j]);
			if (!*slot)
				goto nomem;
			locs[j] = *slot;
		}
		values[0] = e->count;
		values[1] = e->value;
		memset(labels, 0, sizeof(labels));
		labels[0].key = "thread";
		labels[0].str = agg_thread_name(a, e->tid);
		labels[1].key = "tid";
		labels[1].num = e->tid;
		if (!labels[0].str[0])
			labels[0].str = "?";
		if (pprof_add_sample(x.p, locs, e->n, values, 2, labels, 2) < 0)
			goto nomem;
	}
	for (i = 0; i < ms->n; i++) {
		struct pprof_mapping *m;

		if (!x.mi[i].id)
			continue;
		m = &x.p->mappings[x.mi[i].id - 1];
		m->has_functions = ms->v[i].img != NULL;
		m->has_filenames = x.mi[i].lines;
		m->has_line_numbers = x.mi[i].lines;
		m->has_inline_frames = x.mi[i].dwarf;
	}
	free(locs);
	free(x.mi);
	free(x.pcs.keys);
	free(x.pcs.vals);
	free(x.lines);
	return x.p;
nomem:
	snprintf(err, errlen, "out of memory while building the profile");
	free(locs);
	free(x.mi);
	free(x.pcs.keys);
	free(x.pcs.vals);
	free(x.lines);
	pprof_free(x.p);
	return NULL;
}
