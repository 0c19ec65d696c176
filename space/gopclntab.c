/* gopclntab.c - Go's own symbol table (.gopclntab): its structure
 * (functions, pc-value tables, inline trees) and the SP deltas that
 * unwinding needs, for Go binaries with or without DWARF. Names, files and
 * lines are read from it by symbolize/gosym.c through space.h.
 *
 * The Go runtime needs this table to print tracebacks and to scan stacks,
 * so it survives `go build -ldflags='-s -w'` and strip(1), which remove
 * .symtab and DWARF (reference/ptrace-sampling.md 6.5). It gives names as
 * Go prints them (main.crunch, hash/fnv.(*sum64a).Write), the source
 * position of every PC, inline frames, and the SP delta of every PC, which
 * is what unwinding through Go frames needs, since Go code has no
 * .eh_frame.
 *
 * The layout is the one of Go 1.18 and 1.19 (pcHeader magic 0xfffffff0),
 * as that release's runtime/symtab.go describes it (pcHeader, moduledata,
 * _func, inlinedCall, pcvalue, step; /usr/lib/go-1.19/src on Debian 12).
 * Go 1.20+ (magic 0xfffffff1) adds _func.startLine, moduledata.covctrs
 * and a shorter inlinedCall; those are handled too. Older tables (Go 1.2
 * to 1.17) are refused.
 *
 *   pcHeader     magic, nfunc, textStart, offsets of the tables below
 *   funcnametab  NUL-terminated names; _func.nameoff indexes it
 *   cutab        per compilation unit, uint32 offsets into filetab
 *   filetab      NUL-terminated file names
 *   pctab        pc-value tables: pcsp, pcfile, pcln, pcdata[]
 *   pclntab      functab[nfunc + 1] {entryoff, funcoff}, then the _funcs
 *
 * Inline trees are funcdata, stored as offsets from moduledata.gofunc,
 * which only the runtime's moduledata records; it is found by looking in
 * .noptrdata for the moduledata whose first word points at the pcHeader.
 *
 * An image's table is parsed once, on first use, by whichever thread gets
 * there first (the sampler unwinding, or an HTTP worker symbolizing), and
 * kept in a slot of the image; it is read-only afterwards, so lookups take
 * no lock.
 *
 * Why the table's structure is here and its names are not: unwinding
 * needs only go_func_at() (SP deltas and a few flags; the runtime
 * functions it must recognise are matched by name inside the parse), so
 * unwind/ never handles a name. symbolize/gosym.c turns the structure
 * (go_fn_find(), go_pcvalue(), go_fn_inline()) into frames, reading the
 * strings through go_funcname() and go_filename(). Everything here points
 * into the image's read-only mapping and lives as long as the image.
 */
#include "space/space.h"

#include <errno.h>
#include <gelf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define GO_MAGIC_118	0xfffffff0u	/* Go 1.18, 1.19 */
#define GO_MAGIC_120	0xfffffff1u	/* Go 1.20 and later */
#define GO_HDR_SIZE	72		/* pcHeader with 8-byte pointers */
#define GO_PCQUANTUM	1		/* amd64 */

/* runtime/symtab.go: _PCDATA_InlTreeIndex, _FUNCDATA_InlTree, funcFlag */
#define PCDATA_INLTREEINDEX	2
#define FUNCDATA_INLTREE	3
#define FUNCFLAG_TOPFRAME	0x1
#define FUNCFLAG_SPWRITE	0x2

/* _func: offsets common to both layouts */
#define F_ENTRYOFF	0
#define F_NAMEOFF	4
#define F_PCSP		16
#define F_PCFILE	20
#define F_PCLN		24
#define F_NPCDATA	28
#define F_CUOFFSET	32

/* moduledata (runtime/symtab.go): byte offsets of the fields used */
#define MD_PCHEADER	0
#define MD_FUNCNAMETAB	8
#define MD_TEXT		176
#define MD_GOFUNC_118	304
#define MD_GOFUNC_120	320	/* covctrs, ecovctrs came before it */

/* Functions the unwinder has to know by name: the runtime's funcID values
 * change between releases, the names do not. */
enum {
	SPECIAL_ASYNCPREEMPT,	/* injected call: caller's PC is exact */
	SPECIAL_SIGPANIC,	/* injected call: caller's PC is exact */
	SPECIAL_CGOCALLBACK,	/* SPWRITE, yet unwinds (runtime does) */
	SPECIAL_SIGRETURN,	/* its "caller" is a signal frame: stop */
	SPECIAL_SIGRETURN2,
	SPECIAL_N
};

static const char *const special_names[SPECIAL_N] = {
	[SPECIAL_ASYNCPREEMPT] = "runtime.asyncPreempt",
	[SPECIAL_SIGPANIC] = "runtime.sigpanic",
	[SPECIAL_CGOCALLBACK] = "runtime.cgocallback",
	[SPECIAL_SIGRETURN] = "runtime.sigreturn",
	[SPECIAL_SIGRETURN2] = "runtime.sigreturn__sigaction",
};

struct gopcln {
	uint32_t magic;
	uint64_t text;		/* ELF vaddr entry offsets count from */
	uint32_t nfunc;
	const unsigned char *funcname, *cutab, *filetab, *pctab, *pcln;
	size_t funcname_len, cutab_len, filetab_len, pctab_len, pcln_len;
	/* _func layout: where flag and nfuncdata are, and the size of the
	 * fixed part that pcdata[] and funcdata[] follow */
	unsigned f_flag, f_nfuncdata, f_fixed;
	/* inline trees */
	const unsigned char *gofunc;	/* NULL: no inline frames */
	size_t gofunc_len;
	unsigned inl_size;
	uint64_t special[SPECIAL_N];	/* entry vaddrs, 0 when absent */
	/* functab indices sorted by name, built by the first
	 * go_fn_by_name() under go_lock and read without it (atomic) */
	uint32_t *byname;
	uint32_t nbyname;
};

/* One lock for every image's one-time parse; lookups never take it. The
 * table lives in an image slot; an image that is not Go holds not_go. */
static pthread_mutex_t go_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;
static int go_slot = -1;
static char not_go;

/* ---- bounded reads ---------------------------------------------------- */

static uint32_t
get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* uint32 at byte off of a table of len bytes. */
static bool
tab32(const unsigned char *tab, size_t len, uint64_t off, uint32_t *v)
{
	if (off > len || len - off < 4)
		return false;
	*v = get32(tab + off);
	return true;
}

/* The NUL-terminated string at off of a table, or NULL when it does not
 * end inside the table. */
static const char *
tabstr(const unsigned char *tab, size_t len, uint64_t off)
{
	if (off >= len || !memchr(tab + off, '\0', len - off))
		return NULL;
	return (const char *)(tab + off);
}

/* ---- parsing ---------------------------------------------------------- */

struct secinfo {
	uint64_t addr, offset, size;
	bool found;
};

/* .gopclntab (.data.rel.ro.gopclntab in PIE), .noptrdata and .text, from
 * the section headers. A file without section headers has none of them,
 * and is then not treated as Go. */
static void
find_sections(const struct elfimg *img, struct secinfo *pcln,
	      struct secinfo *noptr, struct secinfo *text)
{
	const unsigned char *data;
	Elf *elf;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t shstrndx, len;
	const char *name;

	memset(pcln, 0, sizeof(*pcln));
	memset(noptr, 0, sizeof(*noptr));
	memset(text, 0, sizeof(*text));
	data = elfimg_bytes(img, &len);
	elf = elf_memory((char *)(uintptr_t)data, len);
	if (!elf)
		return;
	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		goto out;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		struct secinfo *si = NULL;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name)
			continue;
		if (strcmp(name, ".gopclntab") == 0 ||
		    strcmp(name, ".data.rel.ro.gopclntab") == 0)
			si = pcln;
		else if (strcmp(name, ".noptrdata") == 0)
			si = noptr;
		else if (strcmp(name, ".text") == 0)
			si = text;
		if (!si || si->found || sh.sh_type != SHT_PROGBITS)
			continue;
		si->addr = sh.sh_addr;
		si->offset = sh.sh_offset;
		si->size = sh.sh_size;
		si->found = true;
	}
out:
	elf_end(elf);
}

/* Set g->gofunc from the runtime's moduledata: the word-aligned place in
 * .noptrdata that points at the pcHeader and at funcnametab, and whose
 * text field is the header's textStart. Without it (a layout we do not
 * know), names and lines still work; only inline frames are missing. */
static void
find_gofunc(struct gopcln *g, const struct elfimg *img, uint64_t hdr_vaddr,
	    uint64_t funcname_vaddr, const struct secinfo *noptr)
{
	unsigned md_gofunc = g->magic == GO_MAGIC_118 ? MD_GOFUNC_118 :
							MD_GOFUNC_120;
	const unsigned char *d;
	uint64_t off, gofunc;
	size_t len, ilen;

	d = elfimg_bytes(img, &ilen);
	if (!noptr->found || noptr->offset > ilen ||
	    ilen - noptr->offset < noptr->size)
		return;
	d += noptr->offset;
	for (off = 0; off + md_gofunc + 8 <= noptr->size; off += 8) {
		if (get64(d + off + MD_PCHEADER) != hdr_vaddr ||
		    get64(d + off + MD_FUNCNAMETAB) != funcname_vaddr ||
		    get64(d + off + MD_TEXT) != g->text)
			continue;
		gofunc = get64(d + off + md_gofunc);
		len = SIZE_MAX;
		g->gofunc = elfimg_vaddr_bytes(img, gofunc, &len);
		g->gofunc_len = g->gofunc ? len : 0;
		return;
	}
}

static void
find_specials(struct gopcln *g)
{
	uint32_t i, funcoff, nameoff, entryoff;
	const char *name;
	int k;

	for (i = 0; i < g->nfunc; i++) {
		funcoff = get32(g->pcln + (uint64_t)i * 8 + 4);
		if (!tab32(g->pcln, g->pcln_len, (uint64_t)funcoff + F_NAMEOFF,
			   &nameoff) ||
		    !tab32(g->pcln, g->pcln_len, funcoff, &entryoff))
			continue;
		name = tabstr(g->funcname, g->funcname_len, nameoff);
		if (!name || strncmp(name, "runtime.", 8) != 0)
			continue;
		for (k = 0; k < SPECIAL_N; k++)
			if (strcmp(name, special_names[k]) == 0)
				g->special[k] = g->text + entryoff;
	}
}

/* Parse img's table; NULL when the image is not a Go binary we can read
 * (no .gopclntab, an older or unknown table version, inconsistent
 * offsets). */
static struct gopcln *
gopcln_parse(const struct elfimg *img)
{
	struct secinfo sec, noptr, text;
	const unsigned char *h;
	struct gopcln *g;
	uint64_t nfunc, o[5], end;
	uint32_t magic;
	size_t ilen;
	int i;

	find_sections(img, &sec, &noptr, &text);
	h = elfimg_bytes(img, &ilen);
	if (!sec.found || sec.size < GO_HDR_SIZE || sec.offset > ilen ||
	    ilen - sec.offset < sec.size)
		return NULL;
	h += sec.offset;
	magic = get32(h);
	/* pad1, pad2 zero; minLC 1 (x86); ptrSize 8 */
	if ((magic != GO_MAGIC_118 && magic != GO_MAGIC_120) || h[4] != 0 ||
	    h[5] != 0 || h[6] != GO_PCQUANTUM || h[7] != 8)
		return NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->magic = magic;
	nfunc = get64(h + 8);
	g->text = get64(h + 24);
	/* Go 1.26 stopped filling textStart: runtime.text is where .text
	 * starts in the binaries the Go linker lays out itself. */
	if (g->text == 0 && text.found)
		g->text = text.addr;
	/* funcnametab, cutab, filetab, pctab, pclntab: in this order, each
	 * ending where the next starts */
	for (i = 0; i < 5; i++)
		o[i] = get64(h + 32 + 8 * i);
	for (i = 0; i < 5; i++) {
		end = i < 4 ? o[i + 1] : sec.size;
		if (o[i] < GO_HDR_SIZE || o[i] > end || end > sec.size)
			goto bad;
	}
	g->funcname = h + o[0];
	g->funcname_len = o[1] - o[0];
	g->cutab = h + o[1];
	g->cutab_len = o[2] - o[1];
	g->filetab = h + o[2];
	g->filetab_len = o[3] - o[2];
	g->pctab = h + o[3];
	g->pctab_len = o[4] - o[3];
	g->pcln = h + o[4];
	g->pcln_len = sec.size - o[4];
	/* functab: nfunc + 1 entries of 8 bytes */
	if (g->pcln_len < 8 || nfunc == 0 || nfunc > (g->pcln_len - 8) / 8 ||
	    g->text == 0)
		goto bad;
	g->nfunc = (uint32_t)nfunc;
	if (magic == GO_MAGIC_118) {
		g->f_flag = 37;		/* funcID at 36 */
		g->f_nfuncdata = 39;
		g->f_fixed = 40;
		g->inl_size = 20;
	} else {
		/* startLine int32 at 36, funcID at 40 */
		g->f_flag = 41;
		g->f_nfuncdata = 43;
		g->f_fixed = 44;
		g->inl_size = 16;
	}
	find_gofunc(g, img, sec.addr, sec.addr + o[0], &noptr);
	find_specials(g);
	return g;
bad:
	free(g);
	return NULL;
}

static void
gopcln_free(void *data)
{
	struct gopcln *g = data;

	if (data == &not_go)
		return;
	free(g->byname);
	free(g);
}

static void
slot_init(void)
{
	go_slot = elfimg_slot_new(gopcln_free);
}

static struct gopcln *
gopcln_get(struct elfimg *img)
{
	void *p;

	pthread_once(&slot_once, slot_init);
	if (go_slot < 0)
		return NULL;
	p = elfimg_slot(img, go_slot);
	if (!p) {
		space_lib_init();
		pthread_mutex_lock(&go_lock);
		p = elfimg_slot(img, go_slot);
		if (!p) {
			p = gopcln_parse(img);
			if (!p)
				p = &not_go;
			elfimg_slot_set(img, go_slot, p);
		}
		pthread_mutex_unlock(&go_lock);
	}
	return p == &not_go ? NULL : p;
}

/* ---- lookups ---------------------------------------------------------- */

static bool
func_find(const struct gopcln *g, uint64_t vaddr, struct go_fn *fn)
{
	uint32_t lo = 0, hi = g->nfunc, mid, first, last, funcoff;
	uint64_t off;

	if (vaddr < g->text || vaddr - g->text > UINT32_MAX)
		return false;
	off = vaddr - g->text;
	first = get32(g->pcln);
	last = get32(g->pcln + (uint64_t)g->nfunc * 8);
	if (off < first || off >= last)
		return false;
	/* the last entry whose entryoff <= off */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (get32(g->pcln + (uint64_t)mid * 8) <= off)
			lo = mid;
		else
			hi = mid;
	}
	funcoff = get32(g->pcln + (uint64_t)lo * 8 + 4);
	if (funcoff > g->pcln_len || g->pcln_len - funcoff < g->f_fixed)
		return false;
	fn->f = g->pcln + funcoff;
	fn->flen = g->pcln_len - funcoff;
	/* the _func must agree with the functab about where it starts */
	if (get32(fn->f + F_ENTRYOFF) != get32(g->pcln + (uint64_t)lo * 8))
		return false;
	fn->entry = g->text + get32(g->pcln + (uint64_t)lo * 8);
	fn->end = g->text + get32(g->pcln + (uint64_t)(lo + 1) * 8);
	return fn->end > fn->entry;
}

static bool
varint(const unsigned char **p, const unsigned char *end, uint32_t *v)
{
	uint32_t r = 0;
	unsigned shift = 0;

	while (*p < end && shift < 35) {
		unsigned char b = *(*p)++;

		r |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return true;
		}
		shift += 7;
	}
	return false;
}

/* Decoder state of one pc-value table (runtime/symtab.go, step()): a
 * sequence of (value delta, pc delta) varint pairs; the value starts at -1
 * and the pc at the function's entry, a zero value delta after the first
 * pair ends the table, and each value holds from the previous pc up to
 * (not including) the new one. */
struct pcvalue_it {
	const unsigned char *p, *end;
	uint64_t pc;		/* end of the current range */
	uint64_t start;		/* start of the current range */
	uint32_t val;		/* int32 in two's complement */
	bool first;
};

static bool
pcvalue_start(const struct gopcln *g, uint32_t off, uint64_t entry,
	      struct pcvalue_it *it)
{
	if (off == 0 || off >= g->pctab_len)
		return false;
	it->p = g->pctab + off;
	it->end = g->pctab + g->pctab_len;
	it->pc = it->start = entry;
	it->val = (uint32_t)-1;
	it->first = true;
	return true;
}

/* Advance to the next range; false at the end of the table. */
static bool
pcvalue_next(struct pcvalue_it *it)
{
	uint32_t uv, pcd;

	if (it->p >= it->end || (*it->p == 0 && !it->first))
		return false;
	if (!varint(&it->p, it->end, &uv) || !varint(&it->p, it->end, &pcd))
		return false;
	it->first = false;
	/* zigzag: the low bit is the sign */
	it->val += (0u - (uv & 1)) ^ (uv >> 1);
	it->start = it->pc;
	it->pc += (uint64_t)pcd * GO_PCQUANTUM;
	return true;
}

/* The value of table off at pc, or false when the table does not cover
 * pc (or there is none: the runtime's -1). */
static bool
pcvalue(const struct gopcln *g, uint32_t off, const struct go_fn *fn,
	uint64_t pc, int32_t *val)
{
	struct pcvalue_it it;

	if (!pcvalue_start(g, off, fn->entry, &it))
		return false;
	while (pcvalue_next(&it)) {
		if (pc < it.pc) {
			*val = (int32_t)it.val;
			return true;
		}
	}
	return false;
}

/* Offset into pctab of the function's pcdata table i, or 0. */
static uint32_t
pcdata_off(const struct gopcln *g, const struct go_fn *fn, uint32_t i)
{
	uint32_t npcdata = get32(fn->f + F_NPCDATA), off = 0;

	if (i >= npcdata)
		return 0;
	if (!tab32(fn->f, fn->flen, g->f_fixed + 4 * (uint64_t)i, &off))
		return 0;
	return off;
}

bool
elfimg_is_go(struct elfimg *img)
{
	return img && gopcln_get(img) != NULL;
}

/* The instruction that stores the caller's BP in a Go 1.19 prologue, as
 * go tool objdump shows it: SUBQ $framesize, SP, then
 * MOVQ BP, framesize-8(SP), then LEAQ framesize-8(SP), BP. A prologue
 * that pushes it instead (PUSHQ BP; MOVQ SP, BP) is recognised by its
 * 0x55 byte where the delta becomes 8. */
static bool
is_bp_store(const unsigned char *c, size_t len, int32_t disp)
{
	int32_t d32;

	if (len >= 5 && c[0] == 0x48 && c[1] == 0x89 && c[2] == 0x6c &&
	    c[3] == 0x24)
		return (signed char)c[4] == disp;
	if (len >= 8 && c[0] == 0x48 && c[1] == 0x89 && c[2] == 0xac &&
	    c[3] == 0x24) {
		memcpy(&d32, c + 4, 4);
		return d32 == disp;
	}
	return false;
}

int
go_func_at(struct elfimg *img, uint64_t vaddr, struct go_func_info *out)
{
	const struct gopcln *g;
	struct pcvalue_it it;
	struct go_fn fn;
	uint64_t save_pc = 0;
	const unsigned char *c;
	bool found = false, saves_bp = false;
	unsigned flag;
	size_t len;
	int k;

	memset(out, 0, sizeof(*out));
	g = img ? gopcln_get(img) : NULL;
	if (!g || !func_find(g, vaddr, &fn))
		return -ENOENT;
	out->entry = fn.entry;
	out->end = fn.end;
	flag = fn.f[g->f_flag];
	out->top = flag & FUNCFLAG_TOPFRAME;
	out->spwrite = (flag & FUNCFLAG_SPWRITE) &&
		       fn.entry != g->special[SPECIAL_CGOCALLBACK];
	out->injected = fn.entry == g->special[SPECIAL_ASYNCPREEMPT] ||
			fn.entry == g->special[SPECIAL_SIGPANIC];
	for (k = SPECIAL_SIGRETURN; k <= SPECIAL_SIGRETURN2; k++)
		if (fn.entry == g->special[k])
			out->spwrite = true;

	/* One pass over pcsp: the delta at vaddr, and where the delta first
	 * becomes positive, which is where the prologue saves BP if the
	 * function has a frame pointer. */
	if (!pcvalue_start(g, get32(fn.f + F_PCSP), fn.entry, &it))
		return -ENOENT;	/* no SP table: not unwindable */
	while (pcvalue_next(&it)) {
		int32_t v = (int32_t)it.val;

		if (!save_pc && v > 0 && it.start < it.pc) {
			save_pc = it.start;
			len = 8;
			c = elfimg_vaddr_bytes(img, save_pc, &len);
			if (c && is_bp_store(c, len, v - 8)) {
				saves_bp = true;
			} else if (v == 8) {
				len = 1;
				c = elfimg_vaddr_bytes(img, save_pc - 1, &len);
				/* PUSHQ BP */
				saves_bp = c && c[0] == 0x55;
				save_pc = 0;	/* saved as it is pushed */
			}
		}
		/* The first positive range starts at or before vaddr's
		 * whenever vaddr's delta is positive, so it has been looked
		 * at by the time vaddr's range is found. */
		if (vaddr < it.pc) {
			found = true;
			out->spdelta = v;
			break;
		}
	}
	if (!found || out->spdelta < 0 || (out->spdelta & 7))
		return -EINVAL;
	/* Between SUBQ and the store, the slot still holds garbage. */
	out->bp_saved = saves_bp && out->spdelta >= 8 &&
			!(save_pc && vaddr == save_pc);
	return 0;
}

/* The function's inline tree and how many entries fit in what we have
 * mapped, or NULL. */
static const unsigned char *
inltree(const struct gopcln *g, const struct go_fn *fn, size_t *nent)
{
	uint32_t npcdata = get32(fn->f + F_NPCDATA), off;
	unsigned nfuncdata = fn->f[g->f_nfuncdata];

	if (!g->gofunc || FUNCDATA_INLTREE >= nfuncdata)
		return NULL;
	if (!tab32(fn->f, fn->flen,
		   g->f_fixed + 4 * ((uint64_t)npcdata + FUNCDATA_INLTREE),
		   &off) ||
	    off == UINT32_MAX || off >= g->gofunc_len)
		return NULL;
	*nent = (g->gofunc_len - off) / g->inl_size;
	return g->gofunc + off;
}

/* ---- functions by name ------------------------------------------------ */

/* The name of functab entry i, or NULL. */
static const char *
func_name_at(const struct gopcln *g, uint32_t i)
{
	uint32_t funcoff, nameoff;

	funcoff = get32(g->pcln + (uint64_t)i * 8 + 4);
	if (!tab32(g->pcln, g->pcln_len, (uint64_t)funcoff + F_NAMEOFF,
		   &nameoff))
		return NULL;
	return tabstr(g->funcname, g->funcname_len, nameoff);
}

static int
cmp_byname(const void *a, const void *b, void *arg)
{
	const struct gopcln *g = arg;

	return strcmp(func_name_at(g, *(const uint32_t *)a),
		      func_name_at(g, *(const uint32_t *)b));
}

/* g->byname, built once: every functab entry with a readable name. */
static const uint32_t *
byname_index(struct gopcln *g, uint32_t *n)
{
	uint32_t *v, i, k = 0;

	v = __atomic_load_n(&g->byname, __ATOMIC_ACQUIRE);
	if (v) {
		*n = g->nbyname;
		return v;
	}
	pthread_mutex_lock(&go_lock);
	v = g->byname;
	if (!v) {
		v = malloc((size_t)g->nfunc * sizeof(*v));
		if (v) {
			for (i = 0; i < g->nfunc; i++)
				if (func_name_at(g, i))
					v[k++] = i;
			qsort_r(v, k, sizeof(*v), cmp_byname, g);
			g->nbyname = k;
			__atomic_store_n(&g->byname, v, __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&go_lock);
	*n = g->nbyname;
	return v;
}

bool
go_fn_by_name(struct elfimg *img, const char *name, struct go_fn *fn)
{
	struct gopcln *g = img ? gopcln_get(img) : NULL;
	const uint32_t *v;
	const char *found;
	uint32_t n = 0, lo = 0, hi, mid;

	memset(fn, 0, sizeof(*fn));
	v = g ? byname_index(g, &n) : NULL;
	if (!v)
		return false;
	/* the first entry whose name is >= name */
	hi = n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(func_name_at(g, v[mid]), name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == n || strcmp(func_name_at(g, v[lo]), name) != 0)
		return false;
	/* two functions of that name: which one is meant is a guess */
	if (lo + 1 < n && strcmp(func_name_at(g, v[lo + 1]), name) == 0)
		return false;
	if (!go_fn_find(g, g->text + get32(g->pcln + (uint64_t)v[lo] * 8), fn))
		return false;
	found = go_funcname(g, fn->nameoff);
	return found && strcmp(found, name) == 0;
}

/* ---- the table's structure, for symbolize/ ---------------------------- */

const struct gopcln *
go_table(struct elfimg *img)
{
	return img ? gopcln_get(img) : NULL;
}

bool
go_fn_find(const struct gopcln *g, uint64_t vaddr, struct go_fn *fn)
{
	memset(fn, 0, sizeof(*fn));
	if (!g || !func_find(g, vaddr, fn))
		return false;
	fn->nameoff = get32(fn->f + F_NAMEOFF);
	fn->cuoffset = get32(fn->f + F_CUOFFSET);
	fn->pcfile = get32(fn->f + F_PCFILE);
	fn->pcln = get32(fn->f + F_PCLN);
	/* startLine int32 at 36 since Go 1.20 (f_fixed covers it) */
	if (g->magic != GO_MAGIC_118)
		memcpy(&fn->start_line, fn->f + 36, 4);
	if (fn->start_line < 0)
		fn->start_line = 0;
	return true;
}

bool
go_pcvalue(const struct gopcln *g, uint32_t off, const struct go_fn *fn,
	   uint64_t pc, int32_t *val)
{
	return pcvalue(g, off, fn, pc, val);
}

bool
go_fn_inline(const struct gopcln *g, const struct go_fn *fn, uint64_t pc,
	     struct go_inl *out)
{
	const unsigned char *tree, *ic;
	size_t ntree = 0;
	uint32_t inloff;
	int32_t ix;

	memset(out, 0, sizeof(*out));
	inloff = pcdata_off(g, fn, PCDATA_INLTREEINDEX);
	tree = inloff ? inltree(g, fn, &ntree) : NULL;
	if (!tree || !pcvalue(g, inloff, fn, pc, &ix) || ix < 0 ||
	    (size_t)ix >= ntree)
		return false;
	ic = tree + (size_t)ix * g->inl_size;
	if (g->magic == GO_MAGIC_118) {
		out->nameoff = get32(ic + 12);
		memcpy(&out->parent_pc, ic + 16, 4);
	} else {
		out->nameoff = get32(ic + 4);
		memcpy(&out->parent_pc, ic + 8, 4);
		memcpy(&out->start_line, ic + 12, 4);
	}
	if (out->start_line < 0)
		out->start_line = 0;
	return true;
}

const char *
go_funcname(const struct gopcln *g, uint32_t nameoff)
{
	return tabstr(g->funcname, g->funcname_len, nameoff);
}

const char *
go_filename(const struct gopcln *g, uint32_t cu, int32_t fileno)
{
	uint64_t at = 4 * ((uint64_t)cu + (uint32_t)fileno);
	uint32_t foff;

	if (fileno < 0 || !tab32(g->cutab, g->cutab_len, at, &foff) ||
	    foff == UINT32_MAX)
		return NULL;
	return tabstr(g->filetab, g->filetab_len, foff);
}
