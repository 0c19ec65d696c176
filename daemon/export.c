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
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "daemon/export.h"
#include "daemon/profile.h"
#include "daemon/proc.h"
#include "daemon/textbuf.h"
#include "gort/gort.h"
#include "http/http.h"
#include "symbolize/symbolize.h"

int
modsnap_take(struct modsnap *ms, const struct space *sp)
{
	const struct module *mods, *mainm;
	size_t i, n;

	memset(ms, 0, sizeof(*ms));
	mods = space_modules(sp, &n);
	mainm = space_main_module(sp);
	ms->jit = perfmap_get(space_perfmap(sp));
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
	perfmap_put(ms->jit);
	ms->jit = NULL;
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

struct mapinfo {
	uint64_t id;
	bool named;		/* a location got a name, not [file+0xoff] */
	bool jit;		/* named from the JIT's perf map */
	bool lines, dwarf;
};

/* JIT symbol names can be long: V8 puts the script path in them. */
#define JIT_NAME_MAX 1024

struct exporter {
	struct pprof *p;
	const struct modsnap *ms;
	struct mapinfo *mi;
	struct htab pcs;	/* hash_u64(pc) -> location id */
	struct pprof_line *lines;
	size_t caplines;
};

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

void
export_unnamed(const char *path, uint64_t off, char *out, size_t len)
{
	snprintf(out, len, "[%s+0x%" PRIx64 "]",
		 path && path[0] ? base_name(path) : "anon", off);
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

/* The perf map's name for pc in anonymous executable mapping e, into
 * name (JIT_NAME_MAX bytes). */
static bool
jit_name(const struct modsnap *ms, const struct modsnap_ent *e, uint64_t pc,
	 char *name)
{
	return e->anon && ms->jit &&
	       perfmap_lookup(ms->jit, pc, name, JIT_NAME_MAX, NULL) == 0;
}

static uint64_t
make_loc(struct exporter *x, uint64_t pc)
{
	const struct modsnap_ent *e;
	struct sym_info si;
	char name[JIT_NAME_MAX];
	size_t idx = 0, i;

	if (pc == 0)
		return synthetic_loc(x, 0, 0, "[truncated]");
	e = modsnap_find(x->ms, pc, &idx);
	if (!e)
		return synthetic_loc(x, 0, pc, "[unknown]");
	if (jit_name(x->ms, e, pc, name)) {
		x->mi[idx].named = x->mi[idx].jit = true;
		return synthetic_loc(x, x->mi[idx].id, pc, name);
	}
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
		x->mi[idx].named = true;
		x->mi[idx].lines |= si.lines;
		x->mi[idx].dwarf |= si.dwarf || si.inlines;
		return pprof_add_location(x->p, x->mi[idx].id, pc, x->lines,
					  si.n);
	}
	export_unnamed(e->path, pc - e->start + e->offset, name, sizeof(name));
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
				e->img ? elfimg_profile_build_id(e->img) : "");
			if (!x->mi[i].id)
				return -ENOMEM;
		}
	}
	return 0;
}

static void
exporter_done(struct exporter *x)
{
	free(x->mi);
	htab_free(&x->pcs);
	free(x->lines);
}

static int
exporter_init(struct exporter *x, const struct modsnap *ms)
{
	memset(x, 0, sizeof(*x));
	x->ms = ms;
	x->p = pprof_new();
	x->mi = calloc(ms->n ? ms->n : 1, sizeof(*x->mi));
	if (!x->p || !x->mi || add_mappings(x) < 0) {
		pprof_free(x->p);
		x->p = NULL;
		exporter_done(x);
		return -ENOMEM;
	}
	return 0;
}

/* Location ids for a stack, into *locs (grown as needed). */
static int
stack_locs(struct exporter *x, const uint64_t *pcs, size_t n, uint64_t **locs,
	   size_t *cap)
{
	size_t j;

	if (n > *cap) {
		uint64_t *nl = realloc(*locs, n * sizeof(*nl));

		if (!nl)
			return -ENOMEM;
		*locs = nl;
		*cap = n;
	}
	for (j = 0; j < n; j++) {
		uint64_t h = hash_u64(pcs[j]);
		uint64_t id = htab_find(&x->pcs, h, NULL, NULL, NULL);

		if (!id) {
			id = make_loc(x, pcs[j]);
			if (!id || htab_add(&x->pcs, h, id) < 0)
				return -ENOMEM;
		}
		(*locs)[j] = id;
	}
	return 0;
}

/* Mapping flags once every location is in: has_functions where profd
 * named at least one location (from symbols, DWARF or a perf map), lines
 * and inline frames where DWARF gave them. A mapping whose locations are
 * all "[file+0xoff]" keeps has_functions false, so that pprof symbolizes
 * it with the viewer's own copy of the file when given one (go tool pprof
 * -symbolize=local BINARY PROFILE, or by build-id in PPROF_BINARY_PATH).
 * JIT mappings are called "[jit]", which pprof never tries to open. */
static void
set_mapping_flags(struct exporter *x)
{
	size_t i;

	for (i = 0; i < x->ms->n; i++) {
		struct pprof_mapping *m;
		int64_t jit;

		if (!x->mi[i].id)
			continue;
		m = &x->p->mappings[x->mi[i].id - 1];
		if (x->mi[i].jit && (jit = pprof_string(x->p, "[jit]")) > 0)
			m->filename = jit;
		m->has_functions = x->mi[i].named;
		m->has_filenames = x->mi[i].lines;
		m->has_line_numbers = x->mi[i].lines;
		m->has_inline_frames = x->mi[i].dwarf;
	}
}

struct pprof *
export_pprof(const struct agg *a, const struct modsnap *ms,
	     const struct export_info *info, char *err, size_t errlen)
{
	struct exporter x;
	uint64_t *locs = NULL;
	size_t i, caplocs = 0;
	char note[128];

	if (exporter_init(&x, ms) < 0)
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
	for (i = 0; i < a->nlist; i++) {
		const struct agg_entry *e = a->list[i];
		struct pprof_label_in labels[3];
		int64_t values[2];
		size_t nl = 2;

		if (stack_locs(&x, e->pcs, e->n, &locs, &caplocs) < 0)
			goto nomem;
		values[0] = e->count;
		values[1] = e->value;
		memset(labels, 0, sizeof(labels));
		labels[0].key = "thread";
		labels[0].str = agg_thread_name(a, e->tid);
		labels[1].key = "tid";
		labels[1].num = e->tid;
		if (!labels[0].str[0])
			labels[0].str = "?";
		if (info->state_labels && e->state) {
			labels[2].key = "state";
			labels[2].str = proc_state_word(e->state);
			nl = 3;
		}
		if (pprof_add_sample(x.p, locs, e->n, values, 2, labels, nl) <
		    0)
			goto nomem;
	}
	set_mapping_flags(&x);
	free(locs);
	exporter_done(&x);
	return x.p;
nomem:
	snprintf(err, errlen, "out of memory while building the profile");
	free(locs);
	pprof_free(x.p);
	exporter_done(&x);
	return NULL;
}

/* ---- Go heap profiles ---------------------------------------------------- */

/* d as int64_t, saturated (figures read from a target may be garbage). */
static int64_t
clamp_i64(double d)
{
	if (!(d > -9.2e18))
		return d != d ? 0 : INT64_MIN;
	return d < 9.2e18 ? (int64_t)d : INT64_MAX;
}

/* runtime/pprof's scaleHeapSample: a sample of average size S stands for
 * 1 / (1 - exp(-S / rate)) allocations (Poisson sampling). */
static void
scale_heap(int64_t count, int64_t size, int64_t rate, int64_t *oc, int64_t *os)
{
	double scale;

	if (count == 0 || size == 0) {
		*oc = *os = 0;
		return;
	}
	if (rate <= 1) {
		*oc = count;
		*os = size;
		return;
	}
	scale = 1 / (1 - exp(-((double)size / (double)count) / (double)rate));
	*oc = clamp_i64((double)count * scale);
	*os = clamp_i64((double)size * scale);
}

/* Whether location id names a runtime function (its innermost frame, as
 * runtime.FuncForPC answers for an inlined PC). */
static bool
runtime_loc(const struct pprof *p, uint64_t id)
{
	const struct pprof_location *l = &p->locations[id - 1];
	const char *name;

	if (!l->n_lines)
		return false;
	name = p->strings[p->functions[l->lines[0].function_id - 1].name];
	return strncmp(name, "runtime.", 8) == 0;
}

struct pprof *
export_heap(const struct gort_heap *h, const struct modsnap *ms,
	    const char *default_type, int64_t time_nanos, char *err,
	    size_t errlen)
{
	static const char *const types[] = { "alloc_objects", "alloc_space",
					     "inuse_objects", "inuse_space" };
	struct exporter x;
	uint64_t *locs = NULL, *pcs = NULL;
	size_t i, j, caplocs = 0;

	if (exporter_init(&x, ms) < 0)
		goto nomem;
	pcs = malloc(GORT_HEAP_MAX_STACK * sizeof(*pcs));
	if (!pcs || pprof_set_period(x.p, "space", "bytes", h->rate) < 0)
		goto nomem;
	for (i = 0; i < 4; i++)
		if (pprof_add_sample_type(x.p, types[i], i & 1 ? "bytes"
							      : "count") < 0)
			goto nomem;
	x.p->default_sample_type = pprof_string(x.p, default_type);
	if (x.p->default_sample_type < 0)
		goto nomem;
	pprof_set_time(x.p, time_nanos, 0);
	if (h->truncated &&
	    pprof_add_comment(x.p, "more buckets than profd reads: the "
				   "profile is incomplete") < 0)
		goto nomem;
	for (i = 0; i < h->n; i++) {
		const struct gort_heap_rec *r = &h->v[i];
		struct pprof_label_in label = { .key = "bytes" };
		int64_t v[4];
		size_t skip = 0, n = r->nstk;

		/* return addresses: the call is the byte before */
		for (j = 0; j < n; j++)
			pcs[j] = r->stk[j] ? r->stk[j] - 1 : 0;
		if (stack_locs(&x, pcs, n, &locs, &caplocs) < 0)
			goto nomem;
		/* as runtime/pprof: the allocator's own frames hidden, unless
		 * the whole stack is the runtime's */
		while (skip < n && runtime_loc(x.p, locs[skip]))
			skip++;
		if (skip == n)
			skip = 0;
		scale_heap(r->alloc_objects, r->alloc_bytes, h->rate, &v[0],
			   &v[1]);
		/* wrapping, as Go's int64 arithmetic: garbage in, no UB */
		scale_heap((int64_t)((uint64_t)r->alloc_objects -
				     (uint64_t)r->free_objects),
			   (int64_t)((uint64_t)r->alloc_bytes -
				     (uint64_t)r->free_bytes),
			   h->rate, &v[2], &v[3]);
		label.num = r->alloc_objects > 0
				    ? r->alloc_bytes / r->alloc_objects
				    : 0;
		if (pprof_add_sample(x.p, locs + skip, n - skip, v, 4, &label,
				     label.num != 0) < 0)
			goto nomem;
	}
	set_mapping_flags(&x);
	free(pcs);
	free(locs);
	exporter_done(&x);
	return x.p;
nomem:
	snprintf(err, errlen, "out of memory while building the profile");
	free(pcs);
	free(locs);
	pprof_free(x.p);
	exporter_done(&x);
	return NULL;
}

/* ---- thread dumps ---------------------------------------------------------- */

/* Distinct stacks of a dump with their thread counts, in first-seen
 * order. */
static struct agg *
dump_stacks(const struct dump_info *di)
{
	struct agg *a = agg_new(di->n + 1);
	size_t i;

	if (!a)
		return NULL;
	for (i = 0; i < di->n; i++) {
		const struct dump_thread *d = &di->threads[i];

		if (agg_add(a, 0, "", 0, d->pcs, d->n, 1, 1) < 0) {
			agg_free(a);
			return NULL;
		}
	}
	return a;
}

struct pprof *
export_threads_pprof(const struct dump_info *di, const struct modsnap *ms,
		     char *err, size_t errlen)
{
	const char *type = di->goroutine ? "goroutine" : "threads";
	struct exporter x;
	struct agg *a;
	uint64_t *locs = NULL;
	size_t i, caplocs = 0;

	a = dump_stacks(di);
	if (!a || exporter_init(&x, ms) < 0) {
		agg_free(a);
		snprintf(err, errlen, "out of memory while building the dump");
		return NULL;
	}
	if (pprof_add_sample_type(x.p, type, "count") < 0 ||
	    pprof_set_period(x.p, type, "count", 1) < 0)
		goto nomem;
	pprof_set_time(x.p, di->time_nanos, 0);
	if (di->header && pprof_add_comment(x.p, di->header + 2) < 0)
		goto nomem;
	for (i = 0; i < a->nlist; i++) {
		const struct agg_entry *e = a->list[i];

		if (stack_locs(&x, e->pcs, e->n, &locs, &caplocs) < 0 ||
		    pprof_add_sample(x.p, locs, e->n, &e->count, 1, NULL, 0) <
			    0)
			goto nomem;
	}
	set_mapping_flags(&x);
	free(locs);
	agg_free(a);
	exporter_done(&x);
	return x.p;
nomem:
	snprintf(err, errlen, "out of memory while building the dump");
	free(locs);
	agg_free(a);
	pprof_free(x.p);
	exporter_done(&x);
	return NULL;
}

/* One frame line per (inline) function at pc: the caller formats it. */
typedef void (*frame_fn)(struct textbuf *b, uint64_t pc, const char *name,
			 bool inlined, uint64_t off, bool have_off,
			 const char *file, int line, void *arg);

static void
each_frame(struct exporter *x, uint64_t pc, struct textbuf *b, frame_fn fn,
	   void *arg)
{
	const struct modsnap_ent *e;
	struct sym_info si;
	char name[JIT_NAME_MAX];
	size_t idx = 0, i;

	if (pc == 0) {
		fn(b, 0, "[truncated]", false, 0, false, "", 0, arg);
		return;
	}
	e = modsnap_find(x->ms, pc, &idx);
	if (e && jit_name(x->ms, e, pc, name)) {
		fn(b, pc, name, false, 0, false, "", 0, arg);
		return;
	}
	if (e && e->img && symbolize(e->img, pc - e->bias, &si) == 0 &&
	    si.n > 0) {
		for (i = 0; i < si.n; i++) {
			const struct sym_frame *f = &si.frames[i];
			bool owner = i == si.n - 1;

			fn(b, pc, f->name[0] ? f->name : "?", !owner,
			   owner && si.entry ? pc - e->bias - si.entry : 0,
			   owner && si.entry != 0, f->file, f->line, arg);
		}
		return;
	}
	if (e)
		export_unnamed(e->path, pc - e->start + e->offset, name,
			       sizeof(name));
	else
		snprintf(name, sizeof(name), "[unknown]");
	fn(b, pc, name, false, 0, false, "", 0, arg);
}

/* debug=1: "#\t0xPC\tFUNC+0xOFF\tFILE:LINE", as Go's printCountProfile */
static void
frame_debug1(struct textbuf *b, uint64_t pc, const char *name, bool inlined,
	     uint64_t off, bool have_off, const char *file, int line,
	     void *arg)
{
	(void)arg;
	(void)inlined;
	(void)have_off;
	if (pc == 0)
		return;
	textbuf_printf(b, "#\t%#" PRIx64 "\t%s+0x%" PRIx64 "\t", pc, name, off);
	if (file[0] && line > 0)
		textbuf_printf(b, "%s:%d\n", file, line);
	else
		textbuf_printf(b, "?\n");
}

/* debug=2: "\t0xPC NAME[ (inline)] FILE:LINE" */
static void
frame_debug2(struct textbuf *b, uint64_t pc, const char *name, bool inlined,
	     uint64_t off, bool have_off, const char *file, int line,
	     void *arg)
{
	(void)arg;
	(void)off;
	(void)have_off;
	if (pc == 0) {
		textbuf_printf(b, "\t%s\n", name);
		return;
	}
	textbuf_printf(b, "\t%#" PRIx64 " %s%s ", pc, name,
		       inlined ? " (inline)" : "");
	if (file[0] && line > 0)
		textbuf_printf(b, "%s:%d\n", file, line);
	else
		textbuf_printf(b, "?\n");
}

/* Frames Go's traceback prints at its default level (showfuncinfo):
 * names with a package, and of the runtime only its exported functions. */
static bool
go_frame_shown(const char *name)
{
	if (!strchr(name, '.'))
		return false;
	if (strncmp(name, "runtime.", 8) == 0)
		return name[8] >= 'A' && name[8] <= 'Z';
	return true;
}

/* Go prints at most this many frames of a goroutine (_TracebackMaxFrames) */
#define GO_MAX_FRAMES 100

struct go_frames {
	int shown;
	bool exact;		/* the frame is where it runs: no +1 */
	bool elided;
};

/* debug=2 of a goroutine: "NAME(...)\n\tFILE:LINE +0xOFF", as Go's
 * traceback (the offset from a return address, on the function's own
 * frame, not on frames inlined into it) */
static void
frame_go(struct textbuf *b, uint64_t pc, const char *name, bool inlined,
	 uint64_t off, bool have_off, const char *file, int line, void *arg)
{
	struct go_frames *g = arg;

	if (pc == 0 || !go_frame_shown(name))
		return;
	if (g->shown >= GO_MAX_FRAMES) {
		if (!g->elided)
			textbuf_printf(b, "...additional frames elided...\n");
		g->elided = true;
		return;
	}
	g->shown++;
	textbuf_printf(b, "%s(...)\n\t%s:%d", name, file[0] ? file : "?",
		       line > 0 ? line : 0);
	if (!inlined && have_off)
		textbuf_printf(b, " +%#" PRIx64, off + (g->exact ? 0 : 1));
	textbuf_printf(b, "\n");
}

/* "created by NAME\n\tFILE:LINE +0xOFF": the go statement's function,
 * when Go would show it */
static void
frame_created(struct textbuf *b, uint64_t pc, const char *name, bool inlined,
	      uint64_t off, bool have_off, const char *file, int line,
	      void *arg)
{
	struct go_frames *g = arg;

	(void)pc;
	if (g->shown == 0 && !inlined && go_frame_shown(name)) {
		g->shown = 1;
		textbuf_printf(b, "created by %s\n\t%s:%d", name,
			       file[0] ? file : "?", line > 0 ? line : 0);
		if (have_off)
			textbuf_printf(b, " +%#" PRIx64, off + 1);
		textbuf_printf(b, "\n");
	}
}

/* Go's debug=2 goroutine dump: one block per goroutine, as
 * runtime.Stack(buf, true) prints it. */
static void
goroutines_text(struct exporter *x, const struct dump_info *di,
		struct textbuf *b)
{
	size_t i, j;

	for (i = 0; i < di->n; i++) {
		const struct dump_thread *d = &di->threads[i];
		struct go_frames g = { 0 };

		textbuf_printf(b, "goroutine %" PRId64 " [%s", d->goid,
			       d->status);
		if (d->wait_minutes >= 1)
			textbuf_printf(b, ", %" PRId64 " minutes",
				       d->wait_minutes);
		if (d->locked)
			textbuf_printf(b, ", locked to thread");
		textbuf_printf(b, "]:\n");
		if (d->n == 0)
			textbuf_printf(b, "goroutine running on other thread; "
				       "stack unavailable\n");
		for (j = 0; j < d->n; j++) {
			g.exact = j == 0 && d->leaf_exact;
			each_frame(x, d->pcs[j], b, frame_go, &g);
		}
		if (d->created_pc && d->goid != 1) {
			/* the function that holds the call: its owner frame
			 * is the one printed */
			struct go_frames c = { 0 };

			each_frame(x, d->created_pc - 1, b, frame_created, &c);
		}
		textbuf_printf(b, "\n");
	}
}

static int
cmp_count_desc(const void *pa, const void *pb)
{
	const struct agg_entry *a = *(const struct agg_entry *const *)pa;
	const struct agg_entry *b = *(const struct agg_entry *const *)pb;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return a->hash < b->hash ? -1 : a->hash > b->hash;
}

int
export_threads_text(const struct dump_info *di, const struct modsnap *ms,
		    int debug, char **text, size_t *len, char *err,
		    size_t errlen)
{
	struct exporter x;
	struct textbuf b = { 0 };
	struct agg *a = NULL;
	struct agg_entry **order = NULL;
	size_t i, j;

	if (exporter_init(&x, ms) < 0) {
		snprintf(err, errlen, "out of memory while building the dump");
		return -ENOMEM;
	}
	if (debug == 1) {
		/* Go's count profile text, with the memory map that lets
		 * go tool pprof load it (pprof-compat.md 4.1) */
		a = dump_stacks(di);
		order = a ? malloc((a->nlist ? a->nlist : 1) * sizeof(*order))
			  : NULL;
		if (!order) {
			b.oom = true;
			goto out;
		}
		memcpy(order, a->list, a->nlist * sizeof(*order));
		qsort(order, a->nlist, sizeof(*order), cmp_count_desc);
		textbuf_printf(&b, "%s profile: total %zu\n",
			       di->goroutine ? "goroutine" : "threads", di->n);
		if (di->header)
			textbuf_printf(&b, "%s\n", di->header);
		for (i = 0; i < a->nlist; i++) {
			const struct agg_entry *e = order[i];

			/* return addresses, as Go prints them: pprof takes 1
			 * off every address it reads here */
			textbuf_printf(&b, "%" PRId64 " @", e->count);
			for (j = 0; j < e->n; j++)
				if (e->pcs[j])
					textbuf_printf(&b, " %#" PRIx64,
						       e->pcs[j] + 1);
			textbuf_printf(&b, "\n");
			for (j = 0; j < e->n; j++)
				each_frame(&x, e->pcs[j], &b, frame_debug1, NULL);
			textbuf_printf(&b, "\n");
		}
		textbuf_printf(&b, "--- Memory map: ---\n");
		for (i = 0; i < ms->n; i++) {
			const struct modsnap_ent *e = &ms->v[i];

			textbuf_printf(&b,
				       "%" PRIx64 "-%" PRIx64 " r-xp %08" PRIx64
				       " 00:00 0 %s\n",
				       e->start, e->end, e->offset,
				       e->path[0] ? e->path : "");
		}
		goto out;
	}
	if (di->header)
		textbuf_printf(&b, "%s\n\n", di->header);
	if (di->goroutines) {
		goroutines_text(&x, di, &b);
		goto out;
	}
	if (di->unreadable)
		textbuf_printf(&b,
			       "# incomplete: %zu of %zu threads could not be "
			       "read (profd is out of file descriptors: raise "
			       "its limit); their state and stack may be stale "
			       "or missing\n\n",
			       di->unreadable, di->n);
	for (i = 0; i < di->n; i++) {
		const struct dump_thread *d = &di->threads[i];
		const char *sys = proc_syscall_name(d->syscall_nr);

		textbuf_printf(&b, "thread %d \"%s\" [%s", (int)d->tid, d->comm,
			       proc_state_word(d->state));
		if (d->state != 'R' && d->syscall_nr >= 0) {
			if (sys)
				textbuf_printf(&b, ", syscall %s(", sys);
			else
				textbuf_printf(&b, ", syscall %ld(", d->syscall_nr);
			textbuf_printf(&b, "%" PRIu64 ", ...)", d->syscall_arg0);
		}
		if (d->state != 'R' && d->idle_s >= 0)
			textbuf_printf(&b, ", %.1fs", d->idle_s);
		textbuf_printf(&b, "]:\n");
		for (j = 0; j < d->n; j++)
			each_frame(&x, d->pcs[j], &b, frame_debug2, NULL);
		textbuf_printf(&b, "\n");
	}
out:
	free(order);
	agg_free(a);
	exporter_done(&x);
	pprof_free(x.p);
	if (b.oom) {
		free(b.s);
		snprintf(err, errlen, "out of memory while building the dump");
		return -ENOMEM;
	}
	*text = b.s;
	*len = b.len;
	return 0;
}
