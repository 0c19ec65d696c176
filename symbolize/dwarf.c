/* dwarf.c - ELF virtual address -> frames, with libdw (symbolize()).
 *
 * Each image gets one Dwfl, created on first use, holding that one file
 * reported at bias 0, so Dwfl addresses are ELF virtual addresses and the
 * Dwfl is shared by every process that maps the file. Separate debug
 * files are found by find_debuginfo() (build-id directory, then
 * .gnu_debuglink, then debuginfod), inside the target's root, never by
 * libdwfl's own search.
 *
 * For an address: a per-CU index of function definitions (built on the
 * CU's first lookup) gives the function, and its inlined_subroutine DIEs
 * that hold the address give the inline chain, innermost first, as
 * eu-stack -i shows it (elfutils src/stack.c, print_inline_frames);
 * the line table gives the innermost file:line, and each inlined
 * subroutine's DW_AT_call_file/DW_AT_call_line the line of the frame
 * around it. Without DWARF, the ELF symbol table answers from an array
 * sorted once per image: dwfl_module_addrinfo() scans the whole table on
 * every call (elfutils libdwfl/dwfl_module_addrsym.c).
 *
 * Results are cached per (image, address), strings interned per image;
 * both live in an arena freed with the image, which is what lets
 * symbolize() hand out borrowed pointers. All of it runs under sym_lock:
 * libdw is not thread-safe, and several HTTP workers may symbolize at
 * once.
 */
#include "symbolize/symbolize.h"
#include "symbolize/symbolize_int.h"

#include <dwarf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <zlib.h>

#include "common/hash.h"
#include "common/path.h"
#include "common/sorted.h"

#define ARENA_CHUNK	(64 * 1024)

/* Symbols that may enclose an address although a later one starts
 * closer to it (a sized symbol inside a bigger one); how far back to
 * look. */
#define SYM_OVERLAP_LOOKBACK 8

/* How deep the function index and chains follow namespaces and blocks. */
#define SCOPE_DEPTH_MAX 64

enum {
	CF_DWARF = 1,
	CF_LINES = 2,
	CF_INLINES = 4,
};

struct chunk {
	struct chunk *next;
	size_t used, size;
	unsigned char mem[];	/* 8-aligned: follows three 8-byte fields */
};

/* A function symbol; name is libdw's and lives as long as the Dwfl. */
struct fsym {
	uint64_t start;
	uint64_t end;		/* start + st_size; for a symbol without a
				   size, its section's end (0: unknown) */
	const char *name;
	unsigned int rank;	/* among aliases at one address, lower wins */
	bool sized;
};

struct centry {
	uint64_t vaddr;
	uint64_t entry;		/* start of the owning function, or 0 */
	const struct sym_frame *frames;
	uint32_t n;
	uint8_t flags;
};

/* The functions of one CU by address, built on the CU's first lookup: a
 * CU can hold hundreds of thousands of type DIEs (every header's types,
 * again in every unit), and walking them per address cost milliseconds. */
struct cufn {
	Dwarf_Addr lo, hi;	/* CU addresses, [lo, hi) */
	Dwarf_Off die;		/* the DW_TAG_subprogram */
};

struct cuidx {
	Dwarf_Off cu;		/* CU DIE offset */
	struct cufn *fn;
	size_t n;
};

struct symcache {
	/* libdw state; symbolize_shutdown() drops it, use rebuilds it */
	Dwfl *dwfl;
	Dwfl_Module *mod;
	Dwarf_Addr bias;	/* Dwfl address - ELF vaddr; 0 in practice */
	int err;		/* cached failure to set up the Dwfl */
	Dwfl_Callbacks cb;
	char *debuginfo_path;	/* cb.debuginfo_path points here (NULL:
				   libdwfl's own search is never called) */
	char *debug_path;	/* separate debug file found, as the target
				   names it ("debuginfod": downloaded) */
	bool main_dwarf;	/* the file itself has DWARF */
	bool has_altlink;	/* its DWARF has a .gnu_debugaltlink */
	bool alt_found;		/* ... which find_debuginfo() found */
	bool no_dwarf;		/* not found: DWARF unused (see above) */
	char alt_bid[BUILDID_MAX * 2 + 1];
	struct fsym *syms;
	size_t nsyms;
	bool syms_loaded;
	struct cuidx *cus;	/* per-CU function indexes, by CU offset */
	size_t ncus, capcus;

	/* results: as long as the image. TODO: never evicted, so an image
	 * used for weeks keeps every distinct address it was asked about
	 * (tens of bytes each) until the last process mapping it is
	 * dropped; bound it per image once profd tracks memory. */
	struct centry *ents;	/* by id - 1 */
	size_t nents, capents;
	struct htab addrs;	/* hash_u64(vaddr) -> ents id */
	const char **strv;	/* interned strings, by id - 1 */
	size_t nstrs, capstrs;
	struct htab strs;	/* hash_bytes(string) -> strv id */
	struct chunk *arena;
};

static pthread_mutex_t sym_lock = PTHREAD_MUTEX_INITIALIZER;
/* Written under sym_lock, read without it (relaxed atomics): a /metrics
 * scrape does not wait for a symbol load in progress. */
static uint64_t cache_hits, cache_misses;

/* The image slot that holds each image's struct symcache. */
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;
static int cache_slot = -1;

static void symcache_free(void *data);

static void
slot_init(void)
{
	cache_slot = elfimg_slot_new(symcache_free);
}

/* img's cache, or NULL before its first symbolize(). */
static struct symcache *
img_cache(const struct elfimg *img)
{
	pthread_once(&slot_once, slot_init);
	return cache_slot >= 0 ? elfimg_slot(img, cache_slot) : NULL;
}

/* ---- arena, strings, results ----------------------------------------- */

static void *
arena_alloc(struct symcache *c, size_t n)
{
	struct chunk *ch = c->arena;
	size_t sz;
	void *p;

	n = (n + 7) & ~(size_t)7;
	if (!ch || ch->size - ch->used < n) {
		sz = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
		ch = malloc(sizeof(*ch) + sz);
		if (!ch)
			return NULL;
		ch->size = sz;
		ch->used = 0;
		if (c->arena && sz != ARENA_CHUNK) {
			/* A big one-off goes behind the current chunk,
			 * which keeps filling. */
			ch->next = c->arena->next;
			c->arena->next = ch;
		} else {
			ch->next = c->arena;
			c->arena = ch;
		}
	}
	p = ch->mem + ch->used;
	ch->used += n;
	return p;
}

/* Array v (n elements of sz bytes used, *cap allocated) with room for
 * one more: v itself, or v moved and doubled (from 256). NULL when out of
 * memory; v is then unchanged. */
static void *
grow(void *v, size_t n, size_t *cap, size_t sz)
{
	size_t nc = *cap ? *cap * 2 : 256;
	void *nv;

	if (n < *cap)
		return v;
	nv = realloc(v, nc * sz);
	if (nv)
		*cap = nc;
	return nv;
}

struct strkey {
	const char *s;
	size_t n;
};

/* htab callback: is interned string id the key's n bytes? */
static bool
str_eq(const void *ctx, uint64_t id, const void *key)
{
	const struct symcache *c = ctx;
	const struct strkey *k = key;
	const char *t = c->strv[id - 1];

	return strncmp(t, k->s, k->n) == 0 && t[k->n] == '\0';
}

/* The image's copy of s[0..n), or NULL when out of memory. */
static const char *
intern_n(struct symcache *c, const char *s, size_t n)
{
	struct strkey k = { s, n };
	uint64_t h = hash_bytes(s, n), id;
	const char **v;
	char *p;

	id = htab_find(&c->strs, h, str_eq, c, &k);
	if (id)
		return c->strv[id - 1];
	v = grow(c->strv, c->nstrs, &c->capstrs, sizeof(*v));
	if (!v)
		return NULL;
	c->strv = v;
	p = arena_alloc(c, n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	c->strv[c->nstrs] = p;
	if (htab_add(&c->strs, h, c->nstrs + 1) < 0)
		return NULL;
	c->nstrs++;
	return p;
}

static const char *
intern(struct symcache *c, const char *s)
{
	return intern_n(c, s ? s : "", s ? strlen(s) : 0);
}

static struct centry *
cache_find(struct symcache *c, uint64_t vaddr)
{
	uint64_t id = htab_find(&c->addrs, hash_u64(vaddr), NULL, NULL, NULL);

	return id ? &c->ents[id - 1] : NULL;
}

static struct centry *
cache_insert(struct symcache *c, const struct centry *e)
{
	struct centry *v = grow(c->ents, c->nents, &c->capents, sizeof(*v));

	if (!v)
		return NULL;
	c->ents = v;
	c->ents[c->nents] = *e;
	if (htab_add(&c->addrs, hash_u64(e->vaddr), c->nents + 1) < 0)
		return NULL;
	return &c->ents[c->nents++];
}

/* Release libdw and what points into it; results and strings stay. */
static void
drop_libdw(struct symcache *c)
{
	size_t i;

	for (i = 0; i < c->ncus; i++)
		free(c->cus[i].fn);
	free(c->cus);
	c->cus = NULL;
	c->ncus = c->capcus = 0;
	free(c->syms);
	c->syms = NULL;
	c->nsyms = 0;
	c->syms_loaded = false;
	if (c->dwfl)
		dwfl_end(c->dwfl);
	c->dwfl = NULL;
	c->mod = NULL;
	c->err = 0;
	free(c->debuginfo_path);
	c->debuginfo_path = NULL;
	free(c->debug_path);
	c->debug_path = NULL;
	c->main_dwarf = c->has_altlink = c->alt_found = c->no_dwarf = false;
	c->alt_bid[0] = '\0';
}

/* An image's cache, freed with the image (its slot's free function). */
static void
symcache_free(void *data)
{
	struct symcache *c = data;
	struct chunk *ch, *next;

	if (!c)
		return;
	pthread_mutex_lock(&sym_lock);
	drop_libdw(c);
	pthread_mutex_unlock(&sym_lock);
	for (ch = c->arena; ch; ch = next) {
		next = ch->next;
		free(ch);
	}
	htab_free(&c->strs);
	free(c->strv);
	htab_free(&c->addrs);
	free(c->ents);
	free(c);
}

/* ---- the Dwfl ---------------------------------------------------------- */

/* Only memory images (the vDSO) get here: file images are reported with
 * their fd. libdwfl takes the Elf handle; elf_end() leaves the buffer,
 * which the image owns, alone. */
static int
find_elf(Dwfl_Module *mod, void **userdata, const char *modname,
	 Dwarf_Addr base, char **file_name, Elf **elfp)
{
	struct elfimg *img = *userdata;
	const unsigned char *data;
	size_t len;

	(void)mod;
	(void)modname;
	(void)base;
	(void)file_name;
	if (img && elfimg_fd(img) < 0) {
		data = elfimg_bytes(img, &len);
		*elfp = elf_memory((char *)(uintptr_t)data, len);
	}
	return -1;
}

/* ---- separate debug files --------------------------------------------- */

/* Separate debug files are searched by profd, never by libdwfl: its
 * standard search opens paths under /proc/PID/root with open(2), which
 * follows a container's symlink out to the host and blocks forever on a
 * FIFO. Every candidate is opened with rootfile_open() (inside the
 * target's root; the host's own /usr/lib/debug by build-id) and must
 * prove it belongs: the same GNU build-id, or the .gnu_debuglink CRC. The
 * dwz alternate file (.gnu_debugaltlink) comes through the same callback
 * (libdwfl asks for it once the debug file is loaded); when it cannot be
 * found that way, the module's DWARF is not used at all, because libdw
 * would then go looking for it itself, with open(2). */

#define DEBUG_DIR "/usr/lib/debug"

/* Whether fd's ELF file has GNU build-id want (lowercase hex). */
static bool
fd_has_build_id(int fd, const char *want)
{
	char hex[BUILDID_MAX * 2 + 1];
	const void *bid;
	ssize_t n;
	Elf *elf;
	bool ok = false;

	/* ELF_C_READ: pread on demand, never a mapping that a truncation
	 * turns into SIGBUS */
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return false;
	n = dwelf_elf_gnu_build_id(elf, &bid);
	if (n > 0 && n <= BUILDID_MAX) {
		buildid_hex(bid, (size_t)n, hex);
		ok = strcmp(hex, want) == 0;
	}
	elf_end(elf);
	return ok;
}

/* CRC-32 of fd's whole contents (as .gnu_debuglink has it). */
static bool
fd_crc32(int fd, uint32_t *crc)
{
	static unsigned char buf[65536];	/* under sym_lock */
	uLong c = crc32(0L, Z_NULL, 0);
	off_t off = 0;
	ssize_t n;

	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		c = crc32(c, buf, (uInt)n);
		off += n;
	}
	*crc = (uint32_t)c;
	return n == 0;
}

/* Open path (inside pid's root, or the host's with pid 0) as a debug file
 * for img: build-id matches (want_bid non-empty) or the CRC does (crc,
 * when want_bid is NULL or empty). Returns an fd or -1. */
static int
try_debug(pid_t pid, const char *path, const char *want_bid, bool check_crc,
	  uint32_t crc)
{
	uint32_t got;
	int fd;

	fd = rootfile_open(pid, path, pid > 0 ? 0 : ROOTFILE_HOST,
			   SPACE_FILE_MAX_BYTES, NULL);
	if (fd < 0)
		return -1;
	if (want_bid && *want_bid ? fd_has_build_id(fd, want_bid)
				  : check_crc && fd_crc32(fd, &got) &&
					    got == crc)
		return fd;
	close(fd);
	return -1;
}

/* /usr/lib/debug/.build-id/xx/rest.debug for hex build-id bid. */
static bool
build_id_path(const char *bid, char *out, size_t len)
{
	size_t n = strlen(bid);

	if (n < 4)
		return false;
	return (size_t)snprintf(out, len, DEBUG_DIR "/.build-id/%.2s/%s.debug",
				bid, bid + 2) < len;
}

/* The debug file with build-id bid (hex): in the target's root, then in
 * the host's debug directory. The path found, as the target would name
 * it, goes to *where. */
static int
find_by_build_id(pid_t pid, const char *bid, char **where)
{
	char path[PATH_MAX];
	int fd;

	if (!build_id_path(bid, path, sizeof(path)))
		return -1;
	fd = pid > 0 ? try_debug(pid, path, bid, false, 0) : -1;
	if (fd < 0)
		fd = try_debug(0, path, bid, false, 0);
	if (fd >= 0)
		*where = strdup(path);
	return fd;
}

/* The debug file named link by .gnu_debuglink with CRC crc of a file at
 * path `main` (as the target names it): next to it, in its .debug/, and
 * under /usr/lib/debug with its directory, all inside the target's root. */
static int
find_by_debuglink(pid_t pid, const char *main, const char *link,
		  uint32_t crc, char **where)
{
	static const char *const sub[] = { "", "/.debug" };
	char dir[PATH_MAX], path[PATH_MAX];
	const char *slash;
	size_t i;
	int fd, n;

	if (!main || main[0] != '/' || strchr(link, '/'))
		return -1;
	slash = strrchr(main, '/');
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - main), main);
	/* DIR/LINK, DIR/.debug/LINK, /usr/lib/debug/DIR/LINK */
	for (i = 0; i < 3; i++) {
		if (i < 2)
			n = snprintf(path, sizeof(path), "%s%s/%s", dir,
				     sub[i], link);
		else
			n = snprintf(path, sizeof(path), DEBUG_DIR "%s/%s",
				     dir, link);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		if (strcmp(path, main) == 0)
			continue;	/* the file itself */
		fd = try_debug(pid, path, NULL, true, crc);
		if (fd >= 0) {
			*where = strdup(path);
			return fd;
		}
	}
	return -1;
}

/* The dwz file named by the debug file's .gnu_debugaltlink: by its
 * build-id, then by its name, relative to the debug file's directory
 * when it is not absolute. Returns an fd or -1. */
static int
find_altlink(pid_t pid, const struct symcache *c, const char *from,
	     const char *name, char **where)
{
	char path[PATH_MAX];
	const char *slash;
	int fd;

	if (!c->alt_bid[0])
		return -1;
	fd = find_by_build_id(pid, c->alt_bid, where);
	if (fd >= 0)
		return fd;
	if (name[0] == '/') {
		snprintf(path, sizeof(path), "%s", name);
	} else if (from && from[0] == '/' && (slash = strrchr(from, '/'))) {
		if ((size_t)snprintf(path, sizeof(path), "%.*s/%s",
				     (int)(slash - from), from, name) >=
		    sizeof(path))
			return -1;
	} else {
		return -1;
	}
	fd = pid > 0 ? try_debug(pid, path, c->alt_bid, false, 0) : -1;
	if (fd < 0)
		fd = try_debug(0, path, c->alt_bid, false, 0);
	if (fd >= 0)
		*where = strdup(path);
	return fd;
}

/* Remember the .gnu_debugaltlink build-id of the file in fd, so that the
 * alternate file can be checked when libdwfl asks for it. Returns whether
 * the file has DWARF. */
static bool
note_altlink(struct symcache *c, int fd)
{
	const void *bid;
	const char *name;
	ssize_t n = 0;
	Elf *elf;
	Dwarf *dw;

	c->alt_bid[0] = '\0';
	c->has_altlink = false;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return false;
	dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	if (dw) {
		n = dwelf_dwarf_gnu_debugaltlink(dw, &name, &bid);
		dwarf_end(dw);
	}
	/* else no DWARF at all: nothing can need an alternate file */
	elf_end(elf);
	if (n != 0)
		c->has_altlink = true;
	if (n > 0 && n <= BUILDID_MAX)
		buildid_hex(bid, (size_t)n, c->alt_bid);
	return dw != NULL;
}

static int
find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
	       Dwarf_Addr base, const char *file_name,
	       const char *debuglink_file, GElf_Word debuglink_crc,
	       char **debuginfo_file_name)
{
	struct elfimg *img = *userdata;
	struct symcache *c = img ? img_cache(img) : NULL;
	pid_t pid = img ? elfimg_pid(img) : 0;
	const char *bid = img ? elfimg_build_id(img) : "", *path;
	char *where = NULL, buf[PATH_MAX];
	int fd = -1;

	(void)mod;
	(void)modname;
	(void)base;
	(void)file_name;
	if (!c)
		return -1;
	if (c->debug_path || c->main_dwarf) {
		/* the DWARF is in: this is its .gnu_debugaltlink */
		if (debuglink_file) {
			path = c->debug_path;
			if (!path)
				path = rootfile_path_in_root(
					pid, elfimg_path(img), buf,
					sizeof(buf));
			fd = find_altlink(pid, c, path, debuglink_file,
					  &where);
		}
		if (fd < 0)
			return -1;
		c->alt_found = true;
		*debuginfo_file_name = where;
		return fd;
	}
	if (bid[0])
		fd = find_by_build_id(pid, bid, &where);
	if (fd < 0 && debuglink_file) {
		path = rootfile_path_in_root(pid, elfimg_path(img), buf,
					     sizeof(buf));
		fd = find_by_debuglink(pid, path, debuglink_file,
				       debuglink_crc, &where);
	}
	if (fd < 0 && bid[0]) {
		fd = sym_debuginfod_find(c->dwfl, bid);
		if (fd >= 0)
			where = strdup("debuginfod");
	}
	if (fd < 0) {
		errno = 0;	/* nothing found is not an error */
		return -1;
	}
	(void)note_altlink(c, fd);
	c->debug_path = where;
	*debuginfo_file_name = where ? strdup(where) : NULL;
	return fd;
}

static int
dw_open(struct elfimg *img, struct symcache *c)
{
	Dwfl_Module *mod = NULL;
	const struct elfseg *loads;
	size_t nloads;
	Dwarf_Addr b;
	void **ud;
	int fd;

	if (c->dwfl)
		return 0;
	if (c->err)
		return c->err;
	c->cb.find_elf = find_elf;
	c->cb.find_debuginfo = find_debuginfo;
	c->cb.section_address = dwfl_offline_section_address;
	c->cb.debuginfo_path = &c->debuginfo_path;
	c->dwfl = dwfl_begin(&c->cb);
	if (!c->dwfl) {
		c->err = -ENOMEM;
		return c->err;
	}
	sym_debuginfod_setup(c->dwfl);

	dwfl_report_begin(c->dwfl);
	loads = elfimg_loads(img, &nloads);
	if (elfimg_fd(img) >= 0) {
		/* The bytes come from our fd, which dwfl_report_elf consumes
		 * on success; the name is the path as the target sees it,
		 * which find_debuginfo() resolves .gnu_debuglink against.
		 * add_p_vaddr places even a prelinked DSO at its own p_vaddr,
		 * so the bias is 0 for every file type. */
		c->main_dwarf = note_altlink(c, elfimg_fd(img));
		fd = fcntl(elfimg_fd(img), F_DUPFD_CLOEXEC, 0);
		if (fd >= 0) {
			mod = dwfl_report_elf(c->dwfl, elfimg_path(img),
					      elfimg_path(img), fd, 0, true);
			if (!mod)
				close(fd);
		}
	} else if (nloads) {
		/* libdwfl's bias is low - (first p_vaddr & -p_align)
		 * (dwfl_module_getdwarf.c, __libdwfl_getelf). */
		uint64_t low = loads[0].vaddr, high = 0;
		size_t i;

		if (loads[0].align > 1)
			low &= ~(loads[0].align - 1);
		for (i = 0; i < nloads; i++)
			if (loads[i].vaddr + loads[i].memsz > high)
				high = loads[i].vaddr + loads[i].memsz;
		mod = dwfl_report_module(c->dwfl, elfimg_path(img), low,
					 high);
	}
	if (mod) {
		/* find_debuginfo() needs the image for every module */
		dwfl_module_info(mod, &ud, NULL, NULL, NULL, NULL, NULL,
				 NULL);
		*ud = img;
	}
	dwfl_report_end(c->dwfl, NULL, NULL);
	if (mod && !dwfl_module_getelf(mod, &c->bias))
		mod = NULL;
	if (!mod) {
		dwfl_end(c->dwfl);
		c->dwfl = NULL;
		c->err = -EIO;
		return c->err;
	}
	c->mod = mod;
	/* Find the DWARF now (debug file, dwz file), and use none when its
	 * alternate file could not be found safely: libdw would look for it
	 * itself at the first DIE that refers to it. */
	if (dwfl_module_getdwarf(mod, &b) && c->has_altlink && !c->alt_found)
		c->no_dwarf = true;
	return 0;
}

/* ---- ELF symbol table ------------------------------------------------ */

static unsigned int
sym_rank(const char *name, const GElf_Sym *sym)
{
	unsigned char bind = GELF_ST_BIND(sym->st_info);
	unsigned int u = 0;

	while (name[u] == '_' && u < 15)
		u++;
	/* What a person calls the function: a typed symbol over a label, a
	 * global or weak symbol over a local alias, fewer leading
	 * underscores (getpid over __getpid), then global over weak. */
	return (unsigned int)(GELF_ST_TYPE(sym->st_info) == STT_NOTYPE) << 9 |
	       (unsigned int)(bind == STB_LOCAL) << 8 | u << 1 |
	       (unsigned int)(bind == STB_WEAK);
}

static int
cmp_fsym(const void *a, const void *b)
{
	const struct fsym *x = a, *y = b;
	int r = cmp_u64(x->start, y->start);

	if (r == 0)
		r = cmp_u64(x->rank, y->rank);
	return r ? r : strcmp(x->name, y->name);
}

/* The allocated section shndx of elf: its end, as an ELF vaddr of the
 * image, and its flags. False when it is not one. */
static bool
section_info(struct symcache *c, Elf *elf, GElf_Word shndx, Dwarf_Addr bias,
	     uint64_t *end, uint64_t *flags)
{
	GElf_Shdr sh;
	Elf_Scn *scn;

	if (!elf || shndx >= SHN_LORESERVE)
		return false;
	scn = elf_getscn(elf, shndx);
	if (!scn || !gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC))
		return false;
	*end = sh.sh_addr + sh.sh_size + bias - c->bias;
	*flags = sh.sh_flags;
	return true;
}

/* Function symbols sorted by address, one per address. libdw picks the
 * table: .symtab of the file or of its debug file, else .dynsym, plus
 * the LZMA-compressed .gnu_debugdata mini symtab. */
static void
load_syms(struct symcache *c)
{
	int n, i;
	size_t k = 0, j;

	c->syms_loaded = true;
	n = dwfl_module_getsymtab(c->mod);
	if (n <= 1)
		return;
	c->syms = malloc((size_t)n * sizeof(*c->syms));
	if (!c->syms)
		return;		/* as if there were no symbols */
	for (i = 1; i < n; i++) {
		struct fsym *f = &c->syms[k];
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		Dwarf_Addr sbias;
		uint64_t send, sflags;
		const char *name;
		Elf *elf;
		int type;

		name = dwfl_module_getsym_info(c->mod, i, &sym, &addr, &shndx,
					       &elf, &sbias);
		if (!name || !name[0])
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if (shndx == SHN_UNDEF || shndx == SHN_ABS ||
		    shndx == (GElf_Word)-1)
			continue;
		if (!section_info(c, elf, shndx, sbias, &send, &sflags))
			send = sflags = 0;
		/* Untyped symbols count only as labels in code (ld.so's
		 * _dl_start_user); elsewhere they are data markers
		 * (_edata, __bss_start). */
		if (type != STT_FUNC && type != STT_GNU_IFUNC &&
		    (type != STT_NOTYPE || !(sflags & SHF_EXECINSTR)))
			continue;
		f->start = addr - c->bias;
		f->sized = sym.st_size != 0;
		/* Assembly often leaves sizes out (_init, _start): such a
		 * symbol runs to the next one, but never past its section
		 * (.init is followed by .plt, which has no symbols). */
		f->end = f->sized ? f->start + sym.st_size : send;
		f->name = name;
		f->rank = sym_rank(name, &sym);
		k++;
	}
	if (k)
		qsort(c->syms, k, sizeof(*c->syms), cmp_fsym);
	for (i = 0, j = 0; (size_t)i < k; i++)
		if (j == 0 || c->syms[i].start != c->syms[j - 1].start)
			c->syms[j++] = c->syms[i];
	c->nsyms = j;
}

static bool
same_segment(const struct elfimg *img, uint64_t a, uint64_t b)
{
	const struct elfseg *loads;
	size_t i, n;

	loads = elfimg_loads(img, &n);
	for (i = 0; i < n; i++) {
		const struct elfseg *s = &loads[i];

		if (a >= s->vaddr && a - s->vaddr < s->memsz)
			return b >= s->vaddr && b - s->vaddr < s->memsz;
	}
	return false;
}

static const struct fsym *
find_sym(struct symcache *c, const struct elfimg *img, uint64_t vaddr)
{
	const struct fsym *s;
	size_t lo, j;

	if (!c->syms_loaded)
		load_syms(c);
	lo = sorted_last_le(c->syms, c->nsyms, sizeof(*c->syms),
			    offsetof(struct fsym, start), vaddr);
	if (lo == c->nsyms)
		return NULL;
	/* The nearest sized symbol that contains vaddr: usually syms[lo];
	 * an earlier one when a smaller symbol or a label sits inside a
	 * bigger function. */
	for (j = lo + 1; j-- > 0 && lo - j < SYM_OVERLAP_LOOKBACK;) {
		s = &c->syms[j];
		if (s->sized && vaddr < s->end)
			return s;
	}
	/* A symbol without a size runs up to the next symbol (which starts
	 * above vaddr) and the end of its section, or of its segment when
	 * the section is unknown. */
	s = &c->syms[lo];
	if (!s->sized &&
	    (s->end ? vaddr < s->end : same_segment(img, s->start, vaddr)))
		return s;
	return NULL;
}

/* Name a frame after ELF symbol raw: "@VERSION" stripped, demangled. */
static int
sym_names(struct symcache *c, const char *raw, struct sym_frame *f)
{
	char *dem;

	f->system_name = intern_n(c, raw, strcspn(raw, "@"));
	if (!f->system_name)
		return -ENOMEM;
	dem = sym_demangle(f->system_name);
	f->name = dem ? intern(c, dem) : f->system_name;
	free(dem);
	return f->name ? 0 : -ENOMEM;
}

/* ---- DWARF ----------------------------------------------------------- */

static bool
is_func(int tag)
{
	return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
	       tag == DW_TAG_entry_point;
}

/* dwarf_attr_integrate follows DW_AT_abstract_origin (inlined and
 * out-of-line instances) and DW_AT_specification (C++ members defined
 * outside their class) to where names and declaration lines live. */
static const char *
attr_string(Dwarf_Die *d, unsigned int name)
{
	Dwarf_Attribute a;

	if (!dwarf_attr_integrate(d, name, &a))
		return NULL;
	return dwarf_formstring(&a);
}

static int
attr_int(Dwarf_Die *d, unsigned int name, bool integrate)
{
	Dwarf_Attribute a;
	Dwarf_Word w;

	if (!(integrate ? dwarf_attr_integrate(d, name, &a) :
			  dwarf_attr(d, name, &a)))
		return 0;
	if (dwarf_formudata(&a, &w) != 0 || w > INT_MAX)
		return 0;
	return (int)w;
}

/* Name and declaration line of function DIE d; *linkage tells whether a
 * linkage name was found. */
static int
die_names(struct symcache *c, Dwarf_Die *d, struct sym_frame *f,
	  bool *linkage)
{
	const char *lk, *nm;
	char *dem;

	lk = attr_string(d, DW_AT_linkage_name);
	if (!lk)
		lk = attr_string(d, DW_AT_MIPS_linkage_name);
	nm = attr_string(d, DW_AT_name);
	*linkage = lk != NULL;
	if (lk) {
		dem = sym_demangle(lk);
		f->system_name = intern(c, lk);
		f->name = dem ? intern(c, dem) : nm ? intern(c, nm) :
						      f->system_name;
		free(dem);
	} else {
		f->name = intern(c, nm);
		f->system_name = f->name;
	}
	f->start_line = attr_int(d, DW_AT_decl_line, true);
	return f->name && f->system_name ? 0 : -ENOMEM;
}

/*
 * Source file name file of CU cu as addr2line prints it, interned ("" for
 * NULL; NULL on ENOMEM). libdw joins a line table's file name to its
 * directory entry (dwarf_getsrclines), but that entry may itself be
 * relative to the CU's DW_AT_comp_dir: in DWARF 4 every include
 * directory is, in DWARF 5 all but directory 0 (DWARF 5 section 6.2.4),
 * and GCC puts the source's own directory there ("tests/targets"). So
 * what libdw gives is joined to DW_AT_comp_dir here, as binutils'
 * concat_filename does, and cleaned of "." and ".." by its text alone:
 * the directory is the build machine's, so it is never looked up on
 * ours, nor prefixed with the target's /proc/PID/root. Without a
 * comp_dir, or when the result would not fit in PATH_MAX, the name stays
 * as libdw gave it.
 */
static const char *
intern_file(struct symcache *c, Dwarf_Die *cu, const char *file)
{
	char buf[PATH_MAX];
	Dwarf_Attribute a;
	const char *dir = NULL;

	if (!file || !file[0])
		return intern(c, file);
	if (file[0] != '/' && cu && dwarf_attr(cu, DW_AT_comp_dir, &a))
		dir = dwarf_formstring(&a);
	if (path_join_clean(buf, sizeof(buf), dir, file) < 0)
		return intern(c, file);
	return intern(c, buf);
}

/* The file of the call that inlined subroutine inl stands for, interned
 * ("" when unknown; NULL on ENOMEM). */
static const char *
call_file(struct symcache *c, Dwarf_Die *inl)
{
	Dwarf_Attribute a;
	Dwarf_Word idx;
	Dwarf_Die cu;
	Dwarf_Files *files;
	size_t nfiles;

	if (!dwarf_attr(inl, DW_AT_call_file, &a) ||
	    dwarf_formudata(&a, &idx) != 0)
		return intern(c, NULL);
	if (!dwarf_diecu(inl, &cu, NULL, NULL) ||
	    dwarf_getsrcfiles(&cu, &files, &nfiles) != 0 || idx >= nfiles)
		return intern(c, NULL);
	return intern_file(c, &cu, dwarf_filesrc(files, idx, NULL, NULL));
}

static bool
is_cxx(Dwarf_Die *cu)
{
	int lang = dwarf_srclang(cu);

	return lang == DW_LANG_C_plus_plus || lang == DW_LANG_C_plus_plus_03 ||
	       lang == DW_LANG_C_plus_plus_11 ||
	       lang == DW_LANG_C_plus_plus_14;
}

/* DIEs with no address range of their own under which LLVM (Rust, and
 * clang's C++) nests function definitions. */
static bool
is_container(int tag)
{
	return tag == DW_TAG_namespace || tag == DW_TAG_module ||
	       tag == DW_TAG_structure_type || tag == DW_TAG_class_type ||
	       tag == DW_TAG_union_type || tag == DW_TAG_interface_type;
}

struct fnvec {
	struct cufn *v;
	size_t n, cap;
};

static void
fnvec_add(struct fnvec *fv, Dwarf_Addr lo, Dwarf_Addr hi, Dwarf_Off die)
{
	if (fv->n == fv->cap) {
		size_t nc = fv->cap ? fv->cap * 2 : 64;
		struct cufn *nv = realloc(fv->v, nc * sizeof(*nv));

		if (!nv)
			return;	/* an incomplete index only loses names */
		fv->v = nv;
		fv->cap = nc;
	}
	fv->v[fv->n].lo = lo;
	fv->v[fv->n].hi = hi;
	fv->v[fv->n].die = die;
	fv->n++;
}

/* Every function definition with code under parent, through namespaces
 * and classes (where GCC and LLVM may nest them), not into functions. */
static void
collect_fns(Dwarf_Die *parent, struct fnvec *fv, unsigned depth)
{
	Dwarf_Die child;

	if (depth > SCOPE_DEPTH_MAX || dwarf_child(parent, &child) != 0)
		return;
	do {
		int tag = dwarf_tag(&child);

		if (tag == DW_TAG_subprogram) {
			Dwarf_Addr base, lo, hi;
			ptrdiff_t off = 0;

			while ((off = dwarf_ranges(&child, off, &base, &lo,
						   &hi)) > 0)
				if (hi > lo)
					fnvec_add(fv, lo, hi,
						  dwarf_dieoffset(&child));
		} else if (is_container(tag)) {
			collect_fns(&child, fv, depth + 1);
		}
	} while (dwarf_siblingof(&child, &child) == 0);
}

static int
cmp_cufn(const void *a, const void *b)
{
	const struct cufn *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The index of cu, built on first use. NULL on ENOMEM. */
static struct cuidx *
cu_index(struct symcache *c, Dwarf_Die *cu)
{
	Dwarf_Off off = dwarf_dieoffset(cu);
	struct fnvec fv = { 0 };
	size_t lo = 0, hi = c->ncus;
	struct cuidx *x;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (c->cus[mid].cu == off)
			return &c->cus[mid];
		if (c->cus[mid].cu < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (c->ncus == c->capcus) {
		size_t nc = c->capcus ? c->capcus * 2 : 16;

		x = realloc(c->cus, nc * sizeof(*x));
		if (!x)
			return NULL;
		c->cus = x;
		c->capcus = nc;
	}
	collect_fns(cu, &fv, 0);
	if (fv.n)	/* a CU without functions: fv.v is NULL */
		qsort(fv.v, fv.n, sizeof(*fv.v), cmp_cufn);
	memmove(&c->cus[lo + 1], &c->cus[lo],
		(c->ncus - lo) * sizeof(*c->cus));
	c->ncus++;
	x = &c->cus[lo];
	x->cu = off;
	x->fn = fv.v;
	x->n = fv.n;
	return x;
}

/*
 * The chain of functions at addr, innermost first, from the CU's index:
 * the subprogram whose ranges hold addr, then down through the
 * inlined_subroutine (and lexical block) DIEs under it that hold addr.
 * dwarf_getscopes() walks the whole CU per address instead, and elfutils
 * 0.188's prunes namespaces, so it never reaches a function that LLVM put
 * inside one (eu-addr2line -i shows no inline frames for Rust). Returns
 * the count in malloc'd *out, 0 when no function covers addr.
 */
static int
fn_chain(struct symcache *c, Dwarf_Die *cu, Dwarf_Addr addr, Dwarf_Die **out)
{
	Dwarf_Die path[SCOPE_DEPTH_MAX], cur, child;
	struct cuidx *x = cu_index(c, cu);
	size_t lo = 0, hi, depth = 0, i;
	bool found;

	*out = NULL;
	if (!x || x->n == 0)
		return 0;
	/* the last function starting at or before addr that holds it;
	 * functions do not overlap, apart from a few inner ones */
	hi = x->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (x->fn[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i > 0; i--) {
		if (addr < x->fn[i - 1].hi)
			break;
		if (lo - i > 8)
			return 0;
	}
	if (i == 0 || !dwarf_offdie(dwarf_cu_getdwarf(cu->cu), x->fn[i - 1].die,
				    &cur))
		return 0;
	path[depth++] = cur;
	do {
		found = false;
		if (dwarf_child(&cur, &child) != 0)
			break;
		do {
			int tag = dwarf_tag(&child);

			if ((tag == DW_TAG_inlined_subroutine ||
			     tag == DW_TAG_lexical_block ||
			     tag == DW_TAG_try_block ||
			     tag == DW_TAG_catch_block) &&
			    dwarf_haspc(&child, addr) > 0) {
				if (tag == DW_TAG_inlined_subroutine &&
				    depth < SCOPE_DEPTH_MAX)
					path[depth++] = child;
				cur = child;
				found = true;
				break;
			}
		} while (dwarf_siblingof(&child, &child) == 0);
	} while (found);
	*out = malloc(depth * sizeof(**out));
	if (!*out)
		return 0;
	for (i = 0; i < depth; i++)
		(*out)[i] = path[depth - 1 - i];
	return (int)depth;
}

/* Frames from the DWARF scopes at addr, into *e. Leaves e->n 0 when no
 * function DIE covers addr. */
static int
dwarf_frames(struct elfimg *img, struct symcache *c, Dwarf_Die *cu,
	     Dwarf_Addr addr, Dwarf_Addr cubias, uint64_t vaddr,
	     const char *file, int line, struct centry *e)
{
	Dwarf_Die *chain = NULL, *inner = NULL;
	struct sym_frame *fr;
	const struct fsym *s;
	size_t n = 0, nf = 0;
	int nc = 0, i, rc = 0;
	bool linkage = false;

	/* The innermost inlined function at addr, out to the function that
	 * owns the code (fn_chain() says why not dwarf_getscopes()). */
	nc = fn_chain(c, cu, addr - cubias, &chain);
	for (i = 0; i < nc; i++) {
		int tag = dwarf_tag(&chain[i]);

		if (!is_func(tag))
			continue;
		nf++;
		if (tag != DW_TAG_inlined_subroutine)
			break;	/* the function that owns the code */
	}
	if (nf == 0)
		goto out;

	fr = arena_alloc(c, nf * sizeof(*fr));
	if (!fr) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nc && n < nf; i++) {
		Dwarf_Die *d = &chain[i];
		struct sym_frame *f;

		if (!is_func(dwarf_tag(d)))
			continue;
		f = &fr[n++];
		rc = die_names(c, d, f, &linkage);
		if (rc < 0)
			goto out;
		if (n == nf) {
			/* the function that owns the code: where it starts */
			Dwarf_Addr lo;

			if (dwarf_entrypc(d, &lo) == 0)
				e->entry = lo + cubias - c->bias;
		}
		if (!inner) {
			f->file = intern(c, file);
			f->line = line;
		} else {
			f->file = call_file(c, inner);
			f->line = attr_int(inner, DW_AT_call_line, false);
		}
		if (!f->file) {
			rc = -ENOMEM;
			goto out;
		}
		inner = d;
	}

	/* C++ DWARF may name the owning function without class or
	 * namespace when no linkage name is attached; its mangled ELF
	 * symbol says it all. Nameless DIEs take any symbol. */
	if (!linkage && (fr[n - 1].name[0] == '\0' || is_cxx(cu))) {
		s = find_sym(c, img, vaddr);
		if (s && (fr[n - 1].name[0] == '\0' ||
			  strncmp(s->name, "_Z", 2) == 0)) {
			rc = sym_names(c, s->name, &fr[n - 1]);
			if (rc < 0)
				goto out;
			if (!e->entry)
				e->entry = s->start;
		}
	}
	e->frames = fr;
	e->n = (uint32_t)n;
	e->flags |= CF_DWARF | CF_INLINES;
out:
	free(chain);
	return rc;
}

static int
resolve(struct elfimg *img, struct symcache *c, uint64_t vaddr,
	struct centry *e)
{
	Dwarf_Addr addr = vaddr + c->bias, cubias = 0;
	const char *file = NULL;
	const struct fsym *s;
	struct sym_frame *fr;
	Dwfl_Line *ln;
	Dwarf_Die *cu;
	int line = 0, rc;
	uint32_t i;

	/* The first call per image loads DWARF: the debug file search and,
	 * for the first address, a pass over every CU's ranges. */
	cu = c->no_dwarf ? NULL : dwfl_module_addrdie(c->mod, addr, &cubias);
	if (cu) {
		ln = dwfl_module_getsrc(c->mod, addr);
		if (ln)
			file = dwfl_lineinfo(ln, NULL, &line, NULL, NULL,
					     NULL);
		if (file) {
			/* absolute, as call_file() gives inline frames */
			file = intern_file(c, dwfl_linecu(ln), file);
			if (!file)
				return -ENOMEM;
		} else {
			line = 0;
		}
		rc = dwarf_frames(img, c, cu, addr, cubias, vaddr, file, line,
				  e);
		if (rc < 0)
			return rc;
	}

	/* ---- Go: .gopclntab (gopclntab.c) --------------------------------
	 * No function DIE: Go code in a binary built with -s -w, or with
	 * DWARF that libdw 0.188 cannot place (Go writes no .debug_aranges,
	 * and in a cgo binary the aranges of the C units alone make libdw
	 * answer with a C file's line). Go's own table has the names as Go
	 * prints them, file:line and the inline tree. */
	if (e->n == 0) {
		struct sym_frame gf[16];
		size_t gn = go_sym_frames(img, vaddr, gf, 16, &e->entry);

		if (gn > 0) {
			fr = arena_alloc(c, gn * sizeof(*fr));
			if (!fr)
				return -ENOMEM;
			memcpy(fr, gf, gn * sizeof(*fr));
			e->frames = fr;
			e->n = (uint32_t)gn;
			if (gn > 1)
				e->flags |= CF_INLINES;
		}
	}
	/* ---- end Go ------------------------------------------------------ */

	if (e->n == 0) {
		/* No function DIE here (no DWARF, or assembly with a line
		 * table only): the symbol table names it. */
		s = find_sym(c, img, vaddr);
		if (!s && !file)
			return 0;
		fr = arena_alloc(c, sizeof(*fr));
		if (!fr)
			return -ENOMEM;
		memset(fr, 0, sizeof(*fr));
		if (s) {
			rc = sym_names(c, s->name, fr);
			if (rc < 0)
				return rc;
			e->entry = s->start;
		} else {
			fr->name = fr->system_name = intern(c, "");
		}
		fr->file = intern(c, file);
		if (!fr->name || !fr->file)
			return -ENOMEM;
		fr->line = line;
		if (file)
			e->flags |= CF_DWARF;
		e->frames = fr;
		e->n = 1;
	}
	for (i = 0; i < e->n; i++)
		if (e->frames[i].line > 0 && e->frames[i].file[0])
			e->flags |= CF_LINES;
	return 0;
}

int
symbolize(struct elfimg *img, uint64_t vaddr, struct sym_info *out)
{
	struct symcache *c;
	struct centry *e, tmp;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!img)
		return -EINVAL;
	sym_init();
	pthread_mutex_lock(&sym_lock);
	c = img_cache(img);
	if (!c && cache_slot >= 0) {
		c = calloc(1, sizeof(*c));
		if (c)
			elfimg_slot_set(img, cache_slot, c);
	}
	if (!c) {
		rc = -ENOMEM;
		goto out;
	}
	e = cache_find(c, vaddr);
	if (e)
		__atomic_add_fetch(&cache_hits, 1, __ATOMIC_RELAXED);
	if (!e) {
		__atomic_add_fetch(&cache_misses, 1, __ATOMIC_RELAXED);
		rc = dw_open(img, c);
		if (rc < 0)
			goto out;
		memset(&tmp, 0, sizeof(tmp));
		tmp.vaddr = vaddr;
		rc = resolve(img, c, vaddr, &tmp);
		if (rc < 0)
			goto out;
		e = cache_insert(c, &tmp);
		if (!e) {
			rc = -ENOMEM;
			goto out;
		}
	}
	out->frames = e->frames;
	out->n = e->n;
	out->entry = e->entry;
	out->dwarf = e->flags & CF_DWARF;
	out->lines = e->flags & CF_LINES;
	out->inlines = e->flags & CF_INLINES;
out:
	pthread_mutex_unlock(&sym_lock);
	return rc;
}

void
symbolize_metrics(uint64_t *hits, uint64_t *misses)
{
	*hits = __atomic_load_n(&cache_hits, __ATOMIC_RELAXED);
	*misses = __atomic_load_n(&cache_misses, __ATOMIC_RELAXED);
}

static void
shutdown_one(struct elfimg *img, void *arg)
{
	struct symcache *c = img_cache(img);

	(void)arg;
	pthread_mutex_lock(&sym_lock);
	if (c)
		drop_libdw(c);
	pthread_mutex_unlock(&sym_lock);
}

void
symbolize_shutdown(void)
{
	/* Images still referenced keep their results (callers may hold the
	 * strings) but lose their libdw state; it is rebuilt if they are
	 * used again. Released images took everything with them. */
	elfimg_each(shutdown_one, NULL);
}
