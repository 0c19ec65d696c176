/* layout.c - where a Go executable keeps the runtime structures profd
 * reads: its Go version, the offset of every runtime field (GORT_FIELDS)
 * and the address of every runtime global (GORT_GLOBALS), computed once
 * per image and kept in an image slot (gort.h, struct gort_info).
 *
 * Sources, best first, never a guess:
 *   version  the build info blob the Go linker writes (.go.buildinfo, or
 *            found by its magic at the start of the data segment, as
 *            debug/buildinfo of Go 1.19 looks for it);
 *   fields   the binary's DWARF (Go 1.19 writes it SHF_COMPRESSED,
 *            earlier releases as .zdebug_*: libdw reads both), else the
 *            table of its Go release (table.c, generated from DWARF by
 *            tests/tools/gofields);
 *   globals  .symtab (the OBJECT symbol of that exact name), else decoded
 *            from the instructions of known runtime functions (decode.c).
 * What none of them gives stays GORT_NONE / 0, and `why` says the first
 * such thing in a line a user can act on.
 */
#include "gort/gort_int.h"
#include "space/space.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <pthread.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Bounds on what a hostile binary can make us walk. */
#define MAX_CUS		(1u << 16)	/* compilation units */
#define MAX_TOPDIES	(1u << 22)	/* top-level DIEs over all CUs */
#define MAX_MEMBERS	4096		/* members of one struct */
#define MAX_PATH_DEPTH	8		/* components of a field path */
#define MAX_TYPEDEFS	8		/* typedef/const/volatile peeled */
#define MAX_TYPES	16		/* distinct types in GORT_FIELDS */
#define MAX_OFFSET	(1u << 20)	/* no runtime struct is that big */
#define MAX_DEBUG_BYTES	(1ULL << 30)	/* DWARF, compressed or not */
#define BUILDINFO_SCAN	(64 * 1024)	/* as debug/buildinfo reads */
#define BUILDINFO_HDR	32
#define BUILDINFO_ALIGN	16

static const char buildinfo_magic[] = "\xff Go buildinf:";
#define BUILDINFO_MAGIC_LEN 14

/* ---- the slot ----------------------------------------------------------- */

/* One lock serialises the first computation for every image; later calls
 * read the slot without it. An image that is not Go holds &not_go. */
static pthread_mutex_t info_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;
static int info_slot = -1;
static char not_go;

static void
info_free(void *data)
{
	if (data != &not_go)
		free(data);
}

static void
slot_init(void)
{
	info_slot = elfimg_slot_new(info_free);
}

/* why, unless an earlier problem already filled it. */
static void __attribute__((format(printf, 3, 4)))
why_set(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/* ---- build info --------------------------------------------------------- */

/* encoding/binary.Uvarint, bounded by len. */
static bool
uvarint(const unsigned char *p, size_t len, size_t *pos, uint64_t *v)
{
	unsigned shift = 0;

	*v = 0;
	while (*pos < len && shift < 64) {
		unsigned char b = p[(*pos)++];

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
		shift += 7;
	}
	return false;
}

int
gort_buildinfo_parse(const void *data, size_t len, char *version,
		     size_t vlen, uint64_t *vers_addr)
{
	const unsigned char *p = data;
	size_t pos = BUILDINFO_HDR;
	uint64_t n;

	if (vlen)
		version[0] = '\0';
	*vers_addr = 0;
	if (len < BUILDINFO_HDR ||
	    memcmp(p, buildinfo_magic, BUILDINFO_MAGIC_LEN) != 0)
		return -EINVAL;
	if (!(p[15] & 2)) {
		/* pointers to Go strings, little-endian 64-bit only */
		if (p[14] != 8 || (p[15] & 1))
			return -EINVAL;
		memcpy(vers_addr, p + 16, 8);
		return *vers_addr ? 1 : -EINVAL;
	}
	if (!uvarint(p, len, &pos, &n) || n == 0 || n >= vlen ||
	    n > len - pos)
		return -EINVAL;
	memcpy(version, p + pos, n);
	version[n] = '\0';
	if (strlen(version) != n)
		return -EINVAL;		/* a NUL inside */
	return 0;
}

bool
gort_version_parse(const char *v, int *major, int *minor)
{
	char *end;
	unsigned long a, b;

	*major = *minor = 0;
	if (strncmp(v, "go", 2) != 0 || v[2] < '0' || v[2] > '9')
		return false;
	a = strtoul(v + 2, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return false;
	b = strtoul(end + 1, &end, 10);
	/* "go1.19", "go1.19.8", "go1.21rc2", "go1.19beta1", and a
	 * GOEXPERIMENT build's "go1.21 X:loopvar" */
	if (*end && *end != '.' && *end != ' ' &&
	    strncmp(end, "rc", 2) != 0 && strncmp(end, "beta", 4) != 0)
		return false;
	if (a == 0 || a > 99 || b > 999)
		return false;
	*major = (int)a;
	*minor = (int)b;
	return true;
}

/* The bytes of the build info blob: the .go.buildinfo section, else the
 * first 64 KiB of the first writable, non-executable PT_LOAD, searched
 * for the magic at a 16-byte boundary (debug/buildinfo, Go 1.19). */
static const unsigned char *
buildinfo_find(struct elfimg *img, Elf *elf, size_t *blen)
{
	const struct elfseg *loads;
	const unsigned char *d;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t shstrndx, n, i, off, len;
	const char *name;

	if (elf_getshdrstrndx(elf, &shstrndx) == 0)
		while ((scn = elf_nextscn(elf, scn)) != NULL) {
			if (!gelf_getshdr(scn, &sh) ||
			    sh.sh_type != SHT_PROGBITS)
				continue;
			name = elf_strptr(elf, shstrndx, sh.sh_name);
			if (!name || strcmp(name, ".go.buildinfo") != 0)
				continue;
			*blen = sh.sh_size;
			d = elfimg_at(img, sh.sh_offset, sh.sh_size);
			return d;
		}
	loads = elfimg_loads(img, &n);
	for (i = 0; i < n; i++) {
		if ((loads[i].flags & (PF_X | PF_W)) != PF_W)
			continue;
		len = BUILDINFO_SCAN;
		d = elfimg_vaddr_bytes(img, loads[i].vaddr, &len);
		if (!d)
			return NULL;
		for (off = 0; off + BUILDINFO_HDR <= len;
		     off += BUILDINFO_ALIGN)
			if (memcmp(d + off, buildinfo_magic,
				   BUILDINFO_MAGIC_LEN) == 0) {
				*blen = len - off;
				return d + off;
			}
		return NULL;
	}
	return NULL;
}

/* gi->version, major and minor from the build info; false when there is
 * none (then img is not taken for a Go executable). */
static bool
read_version(struct elfimg *img, Elf *elf, struct gort_info *gi)
{
	const unsigned char *d, *s;
	uint64_t addr, sptr, slen;
	size_t len = 0;
	int rc;

	d = buildinfo_find(img, elf, &len);
	if (!d)
		return false;
	rc = gort_buildinfo_parse(d, len, gi->version, sizeof(gi->version),
				  &addr);
	if (rc == 1) {
		/* runtime.buildVersion: a Go string header in the image */
		len = 16;
		s = elfimg_vaddr_bytes(img, addr, &len);
		if (!s || len < 16)
			return false;
		memcpy(&sptr, s, 8);
		memcpy(&slen, s + 8, 8);
		if (slen == 0 || slen >= sizeof(gi->version))
			return false;
		len = slen;
		s = elfimg_vaddr_bytes(img, sptr, &len);
		if (!s || len < slen || memchr(s, '\0', slen))
			return false;
		memcpy(gi->version, s, slen);
		gi->version[slen] = '\0';
	} else if (rc < 0) {
		return false;
	}
	gort_version_parse(gi->version, &gi->major, &gi->minor);
	return true;
}

/* ---- fields from DWARF -------------------------------------------------- */

/* The DIE behind die's DW_AT_type, with typedefs, const and volatile
 * peeled off; false when there is none. */
static bool
die_type(Dwarf_Die *die, Dwarf_Die *out)
{
	Dwarf_Attribute a;
	Dwarf_Die cur = *die;
	int i, tag;

	for (i = 0; i <= MAX_TYPEDEFS; i++) {
		if (!dwarf_attr(&cur, DW_AT_type, &a) ||
		    !dwarf_formref_die(&a, out))
			return false;
		tag = dwarf_tag(out);
		if (tag != DW_TAG_typedef && tag != DW_TAG_const_type &&
		    tag != DW_TAG_volatile_type)
			return true;
		cur = *out;
	}
	return false;
}

static bool
die_udata(Dwarf_Die *die, unsigned int name, uint64_t *v)
{
	Dwarf_Attribute a;
	Dwarf_Word w;

	if (!dwarf_attr(die, name, &a) || dwarf_formudata(&a, &w) != 0)
		return false;
	*v = w;
	return true;
}

/* The member of struct st named name (len bytes), into *out. */
static bool
find_member(Dwarf_Die *st, const char *name, size_t len, Dwarf_Die *out)
{
	const char *n;
	int i = 0;

	if (dwarf_child(st, out) != 0)
		return false;
	do {
		if (dwarf_tag(out) != DW_TAG_member)
			continue;
		n = dwarf_diename(out);
		if (n && strlen(n) == len && memcmp(n, name, len) == 0)
			return true;
	} while (++i < MAX_MEMBERS && dwarf_siblingof(out, out) == 0);
	return false;
}

/* The offset of path ("sched.sp"; "" for the size) in struct st, or
 * GORT_NONE. Each step must lie inside the struct that holds it. */
static uint32_t
field_offset(Dwarf_Die *st, const char *path)
{
	Dwarf_Die cur = *st, mem, next;
	uint64_t total = 0, size, loc;
	const char *p = path, *dot;
	int depth;

	if (!die_udata(st, DW_AT_byte_size, &size) || size >= MAX_OFFSET)
		return GORT_NONE;
	if (!*path)
		return (uint32_t)size;
	for (depth = 0; depth < MAX_PATH_DEPTH; depth++) {
		dot = strchr(p, '.');
		if (!find_member(&cur, p, dot ? (size_t)(dot - p) : strlen(p),
				 &mem) ||
		    !die_udata(&mem, DW_AT_data_member_location, &loc) ||
		    loc >= size)
			return GORT_NONE;
		total += loc;
		if (!dot)
			return total < MAX_OFFSET ? (uint32_t)total : GORT_NONE;
		if (!die_type(&mem, &next) ||
		    dwarf_tag(&next) != DW_TAG_structure_type ||
		    !die_udata(&next, DW_AT_byte_size, &size) ||
		    size >= MAX_OFFSET)
			return GORT_NONE;
		cur = next;
		p = dot + 1;
	}
	return GORT_NONE;
}

/* The distinct struct names of GORT_FIELDS, into types; their count. */
static size_t
field_types(const char **types)
{
	size_t n = 0, i, f;

	for (f = 0; f < GORT_NFIELDS; f++) {
		for (i = 0; i < n; i++)
			if (strcmp(types[i], gort_field_names[f].type) == 0)
				break;
		if (i == n && n < MAX_TYPES)
			types[n++] = gort_field_names[f].type;
	}
	return n;
}

/* The top-level DW_TAG_structure_type DIEs named types[i], into
 * found[i] (dies[i] set); how many were found. Go puts every type at the
 * top level of a compilation unit. */
static size_t
find_structs(Dwarf *dw, const char **types, size_t ntypes, Dwarf_Die *dies,
	     bool *found)
{
	Dwarf_Off off = 0, next;
	Dwarf_Die cu, die;
	size_t hsize, nfound = 0, i;
	unsigned ncu = 0, ndie = 0;
	const char *name;

	while (nfound < ntypes && ncu++ < MAX_CUS &&
	       dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		if (!dwarf_offdie(dw, off + hsize, &cu) ||
		    dwarf_child(&cu, &die) != 0) {
			off = next;
			continue;
		}
		do {
			if (dwarf_tag(&die) != DW_TAG_structure_type)
				continue;
			name = dwarf_diename(&die);
			if (!name || strncmp(name, "runtime.", 8) != 0)
				continue;
			for (i = 0; i < ntypes; i++)
				if (!found[i] && strcmp(name, types[i]) == 0) {
					dies[i] = die;
					found[i] = true;
					nfound++;
				}
		} while (++ndie < MAX_TOPDIES && nfound < ntypes &&
			 dwarf_siblingof(&die, &die) == 0);
		if (ndie >= MAX_TOPDIES)
			break;
		off = next;
	}
	return nfound;
}

/* The runtime's field offsets from the DWARF of elf (a private copy,
 * which libelf may write to). */
static int
dwarf_fields(Elf *elf, uint32_t off[GORT_NFIELDS], char *why, size_t wlen)
{
	const char *types[MAX_TYPES];
	Dwarf_Die dies[MAX_TYPES];
	bool found[MAX_TYPES] = { false };
	size_t ntypes, i, f;
	Dwarf *dw;
	int rc = 0;

	dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	if (!dw)
		return -ENOENT;
	ntypes = field_types(types);
	if (find_structs(dw, types, ntypes, dies, found) == 0) {
		dwarf_end(dw);
		return -ENOENT;
	}
	for (f = 0; f < GORT_NFIELDS; f++) {
		for (i = 0; i < ntypes; i++)
			if (strcmp(types[i], gort_field_names[f].type) == 0)
				break;
		if (i < ntypes && found[i])
			off[f] = field_offset(&dies[i],
					      gort_field_names[f].path);
		if (off[f] == GORT_NONE) {
			why_set(why, wlen, "%s%s%s not in the binary's DWARF",
				gort_field_names[f].type,
				gort_field_names[f].path[0] ? "." : "",
				gort_field_names[f].path);
			rc = -ESRCH;
		}
	}
	dwarf_end(dw);
	return rc;
}

/* An Elf over img's bytes, or NULL. The caller ends it. Read-only: libelf
 * must not be asked to decompress a section of it (elf_compress writes
 * the section header in place). */
static Elf *
img_elf(struct elfimg *img)
{
	const unsigned char *data;
	size_t len;

	space_lib_init();
	data = elfimg_bytes(img, &len);
	return elf_memory((char *)(uintptr_t)data, len);
}

/* The size a compressed DWARF section says it inflates to, or 0: the
 * Elf64_Chdr of SHF_COMPRESSED, or the "ZLIB" + big-endian size header of
 * the older .zdebug_* sections. */
static uint64_t
inflated_size(const unsigned char *p, uint64_t len, bool shf_compressed,
	      bool zdebug)
{
	uint64_t v = 0;
	int i;

	if (shf_compressed && len >= sizeof(Elf64_Chdr)) {
		memcpy(&v, p + offsetof(Elf64_Chdr, ch_size), 8);
		return v;
	}
	if (zdebug && len >= 12 && memcmp(p, "ZLIB", 4) == 0) {
		for (i = 0; i < 8; i++)
			v = v << 8 | p[4 + i];
		return v;
	}
	return 0;
}

/* Whether section name is one that libdw needs to read types: libelf
 * inflates every compressed DWARF section libdw is given when it opens
 * them, and line tables, location lists and ranges (most of a Go
 * binary's DWARF besides .debug_info) say nothing about types. */
static bool
types_section(const char *name)
{
	static const char *const keep[] = {
		"info", "abbrev", "str", "line_str", "str_offsets", "addr",
		"types",
	};
	size_t i;

	if (strncmp(name, ".debug_", 7) == 0)
		name += 7;
	else if (strncmp(name, ".zdebug_", 8) == 0)
		name += 8;
	else
		return false;
	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (strcmp(name, keep[i]) == 0)
			return true;
	return false;
}

/* A private copy of what libdw reads of img, laid out at the same file
 * offsets over zero pages: the ELF header, the section headers, their
 * names and the DWARF sections that describe types. libelf may write to
 * it (it decompresses sections in place of their headers), and it costs
 * those sections' size, not the file's. *len is the mapping's length,
 * for munmap; NULL when there is no DWARF, or more of it than
 * MAX_DEBUG_BYTES. */
static unsigned char *
dwarf_copy(struct elfimg *img, Elf *elf, size_t *len)
{
	const unsigned char *data;
	unsigned char *copy;
	Elf_Scn *scn = NULL;
	GElf_Ehdr eh;
	GElf_Shdr sh;
	size_t shstrndx, ilen, shnum;
	uint64_t total = 0, tab;
	const char *name;
	bool zdebug, any = false;

	data = elfimg_bytes(img, &ilen);
	if (!gelf_getehdr(elf, &eh) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    elf_getshdrstrndx(elf, &shstrndx) != 0 ||
	    elf_getshdrnum(elf, &shnum) != 0 ||
	    eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > ilen ||
	    (ilen - eh.e_shoff) / sizeof(Elf64_Shdr) < shnum)
		return NULL;
	copy = mmap(NULL, ilen, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (copy == MAP_FAILED)
		return NULL;
	memcpy(copy, data, sizeof(Elf64_Ehdr));
	tab = shnum * sizeof(Elf64_Shdr);
	memcpy(copy + eh.e_shoff, data + eh.e_shoff, tab);
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS ||
		    sh.sh_offset > ilen || ilen - sh.sh_offset < sh.sh_size)
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (elf_ndxscn(scn) != shstrndx) {
			if (!name || !types_section(name))
				continue;
			zdebug = name[1] == 'z';
			total += sh.sh_size;
			if (sh.sh_flags & SHF_COMPRESSED || zdebug)
				total += inflated_size(data + sh.sh_offset,
						       sh.sh_size,
						       sh.sh_flags &
							       SHF_COMPRESSED,
						       zdebug);
			if (total > MAX_DEBUG_BYTES)
				goto fail;
			any = true;
		}
		memcpy(copy + sh.sh_offset, data + sh.sh_offset, sh.sh_size);
	}
	if (!any)
		goto fail;
	*len = ilen;
	return copy;
fail:
	munmap(copy, ilen);
	return NULL;
}

/* Field offsets from img's DWARF, into off (all GORT_NONE first). */
static int
dwarf_fields_img(struct elfimg *img, Elf *elf, uint32_t off[GORT_NFIELDS],
		 char *why, size_t whylen)
{
	unsigned char *copy;
	size_t len = 0, f;
	Elf *priv;
	int rc = -ENOENT;

	for (f = 0; f < GORT_NFIELDS; f++)
		off[f] = GORT_NONE;
	copy = dwarf_copy(img, elf, &len);
	if (!copy)
		return -ENOENT;
	priv = elf_memory((char *)copy, len);
	if (priv) {
		rc = dwarf_fields(priv, off, why, whylen);
		elf_end(priv);
	}
	munmap(copy, len);
	return rc;
}

int
gort_dwarf_fields(struct elfimg *img, uint32_t off[GORT_NFIELDS], char *why,
		  size_t whylen)
{
	Elf *elf = img_elf(img);
	size_t f;
	int rc;

	if (whylen)
		why[0] = '\0';
	if (!elf) {
		for (f = 0; f < GORT_NFIELDS; f++)
			off[f] = GORT_NONE;
		return -ENOENT;
	}
	rc = dwarf_fields_img(img, elf, off, why, whylen);
	elf_end(elf);
	return rc;
}

/* ---- the table ----------------------------------------------------------- */

const struct gort_table *
gort_table_find(int major, int minor)
{
	char key[32];
	size_t i;

	snprintf(key, sizeof(key), "go%d.%d", major, minor);
	for (i = 0; i < gort_ntables; i++)
		if (strcmp(gort_tables[i].version, key) == 0)
			return &gort_tables[i];
	return NULL;
}

void
gort_table_versions(char *buf, size_t len)
{
	size_t i, used = 0;
	int n;

	if (len)
		buf[0] = '\0';
	for (i = 0; i < gort_ntables && used < len; i++) {
		n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
			     gort_tables[i].version);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	if (gort_ntables == 0 && len)
		snprintf(buf, len, "none");
}

/* Fields from the table of gi's release; why says so when there is
 * none. */
static void
table_fields(struct gort_info *gi)
{
	const struct gort_table *t = gort_table_find(gi->major, gi->minor);
	char known[128];
	size_t i;

	if (!t) {
		gort_table_versions(known, sizeof(known));
		why_set(gi->why, sizeof(gi->why),
			"%s without DWARF: profd knows the runtime layout of "
			"%s only; build without -ldflags=-w to let profd read "
			"it from DWARF",
			gi->version[0] ? gi->version : "unknown Go", known);
		return;
	}
	for (i = 0; i < t->nfields; i++)
		if ((size_t)t->fields[i].id < GORT_NFIELDS)
			gi->off[t->fields[i].id] = t->fields[i].off;
	for (i = 0; i < GORT_NFIELDS; i++)
		if (gi->off[i] == GORT_NONE)
			why_set(gi->why, sizeof(gi->why),
				"%s without DWARF: profd's table of %s lacks "
				"%s.%s; build without -ldflags=-w",
				gi->version, t->version,
				gort_field_names[i].type,
				gort_field_names[i].path);
}

/* ---- globals ------------------------------------------------------------ */

/* Globals from the OBJECT symbols of .symtab; false when there is no
 * .symtab. */
static bool
symtab_globals(Elf *elf, struct gort_info *gi)
{
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr sh;
	GElf_Sym sym;
	const char *name;
	size_t i, n, g;
	bool any = false;

	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB ||
		    sh.sh_entsize == 0)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		any = true;
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			if (!gelf_getsym(data, (int)i, &sym) ||
			    GELF_ST_TYPE(sym.st_info) != STT_OBJECT ||
			    sym.st_value == 0)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name || strncmp(name, "runtime.", 8) != 0)
				continue;
			for (g = 0; g < GORT_NGLOBALS; g++)
				if (strcmp(name, gort_global_names[g]) == 0)
					gi->global[g] = sym.st_value;
		}
	}
	return any;
}

int
gort_sections(struct elfimg *img, struct gort_secs *out)
{
	static const char *const names[GORT_NSECS] = {
		[GORT_SEC_DATA] = ".data",
		[GORT_SEC_BSS] = ".bss",
		[GORT_SEC_NOPTRDATA] = ".noptrdata",
		[GORT_SEC_NOPTRBSS] = ".noptrbss",
	};
	Elf *elf = img_elf(img);
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t shstrndx;
	const char *name;
	bool any = false;
	int s;

	memset(out, 0, sizeof(*out));
	if (!elf)
		return -ENOENT;
	if (elf_getshdrstrndx(elf, &shstrndx) == 0)
		while ((scn = elf_nextscn(elf, scn)) != NULL) {
			if (!gelf_getshdr(scn, &sh) ||
			    sh.sh_addr + sh.sh_size < sh.sh_addr)
				continue;
			name = elf_strptr(elf, shstrndx, sh.sh_name);
			for (s = 0; name && s < GORT_NSECS; s++)
				if (strcmp(name, names[s]) == 0 &&
				    out->hi[s] == 0) {
					out->lo[s] = sh.sh_addr;
					out->hi[s] = sh.sh_addr + sh.sh_size;
					any = true;
				}
		}
	elf_end(elf);
	return any ? 0 : -ENOENT;
}

/* Every global: from .symtab, else decoded (stripped binaries). */
static void
find_globals(struct elfimg *img, Elf *elf, struct gort_info *gi)
{
	char why[sizeof(gi->why)] = "";
	size_t g;

	if (symtab_globals(elf, gi)) {
		for (g = 0; g < GORT_NGLOBALS; g++)
			if (!gi->global[g])
				why_set(gi->why, sizeof(gi->why),
					"%s not in the binary's symbol table",
					gort_global_names[g]);
		return;
	}
	gi->stripped = true;
	if (gort_decode_globals(img, gi->major, gi->minor, gi->global, why,
				sizeof(why)) < 0)
		why_set(gi->why, sizeof(gi->why), "%s", why);
}

/* ---- gort_info ---------------------------------------------------------- */

/* Compute img's description into *out: 0, -ENOENT when img is not a Go
 * executable (*out NULL), -ENOMEM. */
static int
info_compute(struct elfimg *img, struct gort_info **out)
{
	struct gort_info *gi;
	char why[sizeof(gi->why)] = "";
	Elf *elf;
	size_t i;
	int rc;

	*out = NULL;
	if (!elfimg_is_go(img))
		return -ENOENT;
	elf = img_elf(img);
	if (!elf)
		return -ENOENT;
	gi = calloc(1, sizeof(*gi));
	if (!gi) {
		elf_end(elf);
		return -ENOMEM;
	}
	if (!read_version(img, elf, gi)) {
		free(gi);
		elf_end(elf);
		return -ENOENT;
	}
	rc = dwarf_fields_img(img, elf, gi->off, why, sizeof(why));
	if (rc == -ENOENT) {
		table_fields(gi);
	} else {
		gi->from_dwarf = true;
		if (rc < 0)
			why_set(gi->why, sizeof(gi->why), "%s", why);
	}
	find_globals(img, elf, gi);
	for (i = 0; i < GORT_NFIELDS && !gi->why[0]; i++)
		if (gi->off[i] == GORT_NONE)
			why_set(gi->why, sizeof(gi->why), "%s.%s not found",
				gort_field_names[i].type,
				gort_field_names[i].path);
	elf_end(elf);
	*out = gi;
	return 0;
}

const struct gort_info *
gort_info(struct elfimg *img)
{
	struct gort_info *gi;
	void *p;

	if (!img)
		return NULL;
	pthread_once(&slot_once, slot_init);
	if (info_slot < 0)
		return NULL;
	p = elfimg_slot(img, info_slot);
	if (!p) {
		pthread_mutex_lock(&info_lock);
		p = elfimg_slot(img, info_slot);
		/* out of memory: not kept, the next call tries again */
		if (!p && info_compute(img, &gi) != -ENOMEM) {
			p = gi ? (void *)gi : &not_go;
			elfimg_slot_set(img, info_slot, p);
		}
		pthread_mutex_unlock(&info_lock);
	}
	return p == &not_go ? NULL : p;
}
