/* space - a target's address space as files: what both unwind/ and
 * symbolize/ read. Naming code (symbols, DWARF, demangling) is
 * symbolize/'s job, not this module's.
 *
 * Layers, each usable on its own:
 *   pmaps    /proc/PID/maps parsed into an array (pure parser + reader).
 *   rootfile the one way a file a target controls is opened: inside
 *            /proc/PID/root, no link out of it, regular files only.
 *   elfimg   one ELF file mapped read-only, shared by every process that maps
 *            it (keyed by GNU build-id, else by device/inode/size/mtime).
 *            Files are opened through /proc/PID/map_files or /proc/PID/root,
 *            never by the path as seen from profd's own mount namespace.
 *            Other modules keep per-image state in slots that the image
 *            frees with itself (symbolize/'s caches), so this layer never
 *            calls back into its users.
 *   space    one process: its maps, an elfimg per executable file mapping,
 *            the vDSO copied once, and reads of file-backed memory served
 *            from the images (what the unwinder needs besides the stack).
 *   Go       the structure of Go's .gopclntab: functions, pc-value tables,
 *            and the SP delta of every PC (what unwinding through Go code
 *            needs, since Go has no .eh_frame). Names, files and lines are
 *            read from these tables by symbolize/, not here.
 *
 * Errors: functions return -errno (or NULL with errno set) and, where they
 * take one, fill `err` (SPACE_ERRLEN bytes) with "object: call: cause".
 * This module never logs and never exits.
 *
 * Threads: pmaps and space objects belong to one thread at a time (the
 * caller serialises). elfimg reference counting, slots and the Go table
 * are safe to call from any thread.
 */
#ifndef PROFD_SPACE_H
#define PROFD_SPACE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SPACE_ERRLEN 256

/* GNU build-ids are 16 (md5/uuid) or 20 (sha1) bytes; allow up to 64. */
#define BUILDID_MAX 64
/* A Go build ID is four hashes joined by '/' (83 characters today). */
#define GO_BUILDID_MAX 128

/* Largest ELF or debug file profd opens. */
#define SPACE_FILE_MAX_BYTES	(8ULL << 30)

/* Lowercase hex of the n bytes at b into out (2n + 1 bytes), as build-ids
 * are written. Pure; any thread. */
void buildid_hex(const void *b, size_t n, char *out);

/* One-time library set-up (libelf version, page size). Every entry point
 * of this module calls it; any thread may. Cannot fail. */
void space_lib_init(void);

/* The page size the kernel maps files with. Any thread; cannot fail. */
uint64_t space_page_size(void);

/* ---- /proc/PID/maps ------------------------------------------------- */

struct pmap {
	uint64_t start, end;	/* [start, end) */
	uint64_t offset;	/* file offset mapped at start */
	uint64_t inode;
	unsigned int dev_major, dev_minor;
	unsigned int prot;	/* PROT_READ | PROT_WRITE | PROT_EXEC */
	bool shared;		/* 's' rather than 'p' */
	bool deleted;		/* " (deleted)" was stripped from path */
	char *path;		/* owned; "" when anonymous; "[vdso]" etc. kept */
};

struct pmaps {
	struct pmap *v;		/* sorted by start, as the kernel prints them */
	size_t n;
};

/* Parse the text of a maps file. Lines that do not parse make the whole
 * call fail with -EINVAL (err names the line number), -ENOMEM. On success
 * *out owns new memory, which the caller frees with pmaps_free(). Pure;
 * any thread. */
int pmaps_parse(const char *text, size_t len, struct pmaps *out, char *err,
		size_t errlen);

/* Read and parse /proc/PID/maps into *out, as pmaps_parse(). -ESRCH when
 * the process is gone, other -errno from open/read; err filled. Any
 * thread. */
int pmaps_read(pid_t pid, struct pmaps *out, char *err, size_t errlen);

/* Free the entries; *m is left empty and may be reused. Accepts empty
 * and NULL. The thread that owns m. */
void pmaps_free(struct pmaps *m);

/* The mapping containing addr, or NULL. Binary search. Borrowed from m;
 * any thread that may read m. */
const struct pmap *pmaps_find(const struct pmaps *m, uint64_t addr);

/* ---- files inside a target's root ------------------------------------ */

/* Open a file a target controls (DESIGN.md 7: the one function that
 * does). path is resolved inside /proc/PID/root, no symlink leading out of
 * it, no magic link; with ROOTFILE_HOST it is a path in profd's own root
 * (pid unused) that still gets every other check; ROOTFILE_NOFOLLOW
 * refuses a symlink as the last component. Only a regular file of at most
 * max bytes (0: any size) is opened, O_RDONLY|O_NONBLOCK, without side
 * effects on anything else. Returns the fd, which the caller owns (and its
 * stat in *st when st is not NULL), or -errno: -ESRCH when the process is
 * gone, -EFTYPE_PROFD not a regular file, -EFBIG over max, -ELOOP a
 * refused link, -EXDEV a path that would need ".." on a kernel without
 * openat2. Any thread; rootfile_strerror(rc) says it in words (static
 * string). */
#define ROOTFILE_HOST		1u
#define ROOTFILE_NOFOLLOW	2u
#define EFTYPE_PROFD		EMEDIUMTYPE
struct stat;
int rootfile_open(pid_t pid, const char *path, unsigned flags, uint64_t max,
		  struct stat *st);
const char *rootfile_strerror(int rc);

/* A maps path as the target itself names it: the kernel prints a chroot'ed
 * process's files from profd's root where it can (fs/d_path.c), e.g.
 * /srv/jail/usr/bin/app for the jail's /usr/bin/app; with the target's
 * root at /srv/jail, that prefix is taken off. Otherwise path itself. buf
 * (len bytes) is scratch; the result points into path. Any thread. */
const char *rootfile_path_in_root(pid_t pid, const char *path, char *buf,
				  size_t len);

/* ---- ELF images ------------------------------------------------------ */

struct elfimg;

/* One PT_LOAD program header. */
struct elfseg {
	uint64_t vaddr, memsz;
	uint64_t offset, filesz;
	uint64_t align;
	uint32_t flags;		/* PF_R | PF_W | PF_X */
};

/* The image behind file mapping `m` of process `pid`. Tries
 * /proc/PID/map_files/START-END (the exact inode, even when deleted or
 * replaced), then /proc/PID/root/PATH checked against m's device and inode.
 * Images are shared: the same file opened for two processes or two mappings
 * returns the same object with its reference count raised. Returns NULL
 * with errno set (ENOEXEC: not an ELF file) and err filled.
 * Caller releases with elfimg_put(). Any thread. */
struct elfimg *elfimg_open(pid_t pid, const struct pmap *m, char *err,
			   size_t errlen);

/* An image over `data` (len bytes, malloc'd; ownership passes to the
 * image, also on failure), e.g. a vDSO copied out of a process. `name` is
 * copied. Shared by build-id like elfimg_open(). NULL + errno, err
 * filled. Caller releases with elfimg_put(). Any thread. */
struct elfimg *elfimg_from_memory(void *data, size_t len, const char *name,
				  char *err, size_t errlen);

/* Take another reference; returns img. Accepts NULL. Any thread. */
struct elfimg *elfimg_get(struct elfimg *img);

/* Drop a reference; the last one frees the image's slots (their free
 * functions run on this thread, with no lock of this module held),
 * unmaps the file and frees the image. Accepts NULL. Any thread. */
void elfimg_put(struct elfimg *img);

/* Call fn for every image alive, under the registry lock: fn must not
 * take or drop image references. Any thread. */
void elfimg_each(void (*fn)(struct elfimg *img, void *arg), void *arg);

/* Accessors of an image the caller holds a reference to; any thread;
 * none fails. */

/* Lowercase hex of the NT_GNU_BUILD_ID note, "" when there is none.
 * Borrowed; valid while img is referenced. */
const char *elfimg_build_id(const struct elfimg *img);

/* The build ID a profile's mapping carries, as pprof tools and
 * continuous profilers read it: the GNU one when the file has it (Go with
 * -ldflags=-B, or linked externally), else the text of the Go
 * toolchain's build ID note (what `go tool buildid` prints), else "".
 * Never the key of the image (that is the GNU one alone). Borrowed, as
 * above. */
const char *elfimg_profile_build_id(const struct elfimg *img);

/* The path the image was opened by (for messages and debuglink lookups).
 * Borrowed, as above. */
const char *elfimg_path(const struct elfimg *img);

/* The process the image was first opened for: its /proc/PID/root holds
 * the debug files of a container. 0 for memory images. */
pid_t elfimg_pid(const struct elfimg *img);

/* The image's open file, or -1 for a memory image. Borrowed: dup it to
 * keep it. */
int elfimg_fd(const struct elfimg *img);

/* The whole file, mapped read-only. Borrowed, as above. */
const unsigned char *elfimg_bytes(const struct elfimg *img, size_t *len);

/* The PT_LOAD headers, in file order; *n of them. Borrowed, as above. */
const struct elfseg *elfimg_loads(const struct elfimg *img, size_t *n);

/* len bytes at file offset off, or NULL past the end of the file: from
 * profd's own copy of the unwind tables where it covers them (a read of
 * the mapping there could fault with SIGBUS inside libunwind, which runs
 * our accessors with signals blocked, if the target truncated the file),
 * else from the mapping. Borrowed; any thread. */
const unsigned char *elfimg_at(const struct elfimg *img, uint64_t off,
			       size_t len);

/* The mapped bytes at ELF virtual address vaddr: *len is cut to what the
 * file holds of the PT_LOAD that contains vaddr. NULL when no PT_LOAD's
 * file bytes hold vaddr. Borrowed; any thread. */
const unsigned char *elfimg_vaddr_bytes(const struct elfimg *img,
					uint64_t vaddr, size_t *len);

/* Load bias of a mapping of this image: runtime address = ELF virtual
 * address + *bias, for the mapping that starts at map_start and maps file
 * offset map_offset. -ENOENT when no PT_LOAD covers map_offset. */
int elfimg_bias(const struct elfimg *img, uint64_t map_start,
		uint64_t map_offset, uint64_t *bias);

/* elfimg_bias() with a hint for segments that share a file page (lld
 * lays out r-- and r-x segments that way): among PT_LOADs covering
 * map_offset, prefer the one whose PF_X matches `exec`. */
int elfimg_bias_prot(const struct elfimg *img, uint64_t map_start,
		     uint64_t map_offset, bool exec, uint64_t *bias);

/* ELF virtual address and size of .eh_frame_hdr (PT_GNU_EH_FRAME), or
 * -ENOENT when the file has none. */
int elfimg_eh_frame_hdr(const struct elfimg *img, uint64_t *vaddr,
			uint64_t *size);

/* File offset of ELF virtual address vaddr (through the PT_LOAD that
 * contains it), or -ENOENT. */
int elfimg_vaddr_to_offset(const struct elfimg *img, uint64_t vaddr,
			   uint64_t *offset);

/* Slots: state another module keeps per image (a symbol cache, a parsed
 * table), freed with the image. elfimg_slot_new() reserves a slot for
 * every image and returns its number (>= 0), or -ENOSPC when all
 * ELFIMG_SLOTS are taken; call it once per kind of state (pthread_once).
 * free_fn(data) runs from the last elfimg_put() for a slot that holds
 * data. elfimg_slot() reads a slot with acquire semantics, so a slot that
 * is set once and read-only afterwards may be read without a lock;
 * elfimg_slot_set() stores with release semantics and the caller
 * serialises its writers. A slot starts NULL. */
#define ELFIMG_SLOTS 4
int elfimg_slot_new(void (*free_fn)(void *data));
void *elfimg_slot(const struct elfimg *img, int slot);
void elfimg_slot_set(struct elfimg *img, int slot, void *data);

/* ---- one process's address space ------------------------------------- */

struct module {
	uint64_t start, end, offset;	/* the executable mapping */
	const char *path;		/* as in maps; borrowed from space */
	struct elfimg *img;		/* NULL: file not readable or not ELF */
	uint64_t bias;			/* runtime = vaddr + bias, when img */
	bool anon;			/* anonymous executable memory (JIT) */
	bool vdso;
};

struct space;

/* An empty space for pid; call space_refresh() before use. NULL + errno.
 * The caller owns it and frees it with space_free(). */
struct space *space_new(pid_t pid);

/* (Re)read /proc/PID/maps; open images for new executable file mappings,
 * copy the vDSO the first time it is seen, drop images of mappings that
 * went away. Returns 1 when the executable mappings changed, 0 when they
 * did not, -errno on failure (-ESRCH: process gone, -ENOMEM), with err
 * filled; the space keeps its previous state then. The thread that owns
 * sp. */
int space_refresh(struct space *sp, char *err, size_t errlen);

/* As space_refresh(), but when the new maps are another program's (the
 * process exec'd: another executable, or the same one mapped elsewhere, or
 * a new vDSO address) keeps the old ones and returns SPACE_EXECED. */
#define SPACE_EXECED 2
int space_refresh_unless_exec(struct space *sp, char *err, size_t errlen);

/* The functions below take a space the calling thread owns; none
 * fails. */

/* Increases every time space_refresh() sees a change. */
uint64_t space_generation(const struct space *sp);

/* The maps as last read. Borrowed; valid until the next refresh. */
const struct pmaps *space_maps(const struct space *sp);

/* Executable modules (file-backed, anonymous and vDSO), sorted by start.
 * Borrowed; valid until the next refresh or space_free(). */
const struct module *space_modules(const struct space *sp, size_t *n);

/* The executable module containing addr, or NULL. Borrowed, as above. */
const struct module *space_module(const struct space *sp, uint64_t addr);

/* The main executable's module (the mapping of /proc/PID/exe), or NULL.
 * Borrowed, as above. */
const struct module *space_main_module(const struct space *sp);

/* Copy len bytes at runtime address addr from the file image backing it
 * (any file-backed mapping of the process, any permission) or from the
 * vDSO copy. Never reads the live process. Returns the number of bytes
 * copied from the start of the range: len, or less where the range leaves
 * what the images cover, 0 when addr is not covered. */
size_t space_read(const struct space *sp, uint64_t addr, void *buf,
		  size_t len);

/* The process the space describes (as given to space_new()). */
pid_t space_pid(const struct space *sp);

/* One pointer another module may keep with a space (symbolize/'s JIT
 * perf map reader, made on first use), freed with free_fn(data) by
 * space_free(). The space never reads it, so it may be set through a
 * const space, by the thread that owns the space. NULL until set. */
void *space_attachment(const struct space *sp);
void space_attach(const struct space *sp, void *data,
		  void (*free_fn)(void *data));

/* Accepts NULL. Drops every image reference the space holds and frees
 * the attachment. */
void space_free(struct space *sp);

/* ---- Go (.gopclntab) -------------------------------------------------- */

/* What Go's own table says about the function at an address, for
 * unwinding through Go code, which has no .eh_frame. */
struct go_func_info {
	uint64_t entry, end;	/* [entry, end): the function, ELF vaddrs */
	int32_t spdelta;	/* bytes pushed at vaddr (pcsp): the
				   return address is at SP + spdelta, the
				   caller's SP 8 above it */
	bool bp_saved;		/* caller's RBP is at SP + spdelta - 8 */
	bool top;		/* outermost frame (runtime.goexit,
				   mstart, rt0_go): the stack ends here,
				   complete */
	bool spwrite;		/* switches stacks, or returns from a
				   signal: no unwinding past it */
	bool injected;		/* entered by a call the runtime injects
				   (asyncPreempt, sigpanic): the return
				   address is the exact PC where the
				   caller was stopped, not after a call */
};

/* Whether img has a Go symbol table this code can read (Go 1.18 and
 * later, found through the section headers). The table is parsed on the
 * first call; any thread may call. */
bool elfimg_is_go(struct elfimg *img);

/* The Go function at ELF virtual address vaddr of img, with its SP delta
 * at vaddr. -ENOENT when img is not Go or vaddr is in no Go function (C
 * code of a cgo binary), -EINVAL when the table is inconsistent at vaddr.
 * For a caller frame, pass return address - 1. Any thread may call; no
 * allocation, no lock once the table is parsed. */
int go_func_at(struct elfimg *img, uint64_t vaddr, struct go_func_info *out);

/* The table's structure, for symbolize/ to read names, files, lines and
 * inline trees from (runtime/symtab.go of Go 1.18 to 1.26). Everything
 * points into the image's mapping and lives as long as img; every read is
 * bounded by the table. Any thread; no lock once the table is parsed. */
struct gopcln;

/* One Go function and the fields of its _func record. */
struct go_fn {
	uint64_t entry, end;	/* [entry, end): ELF vaddrs */
	uint32_t nameoff;	/* into the function name table */
	uint32_t cuoffset;	/* its compilation unit in cutab */
	uint32_t pcfile, pcln;	/* pc-value tables: file number, line */
	int32_t start_line;	/* Go 1.20+; 0 before */
	const unsigned char *f;	/* the _func record, for the calls below */
	size_t flen;		/* bytes of pclntab from f on */
};

/* One entry of a function's inline tree. */
struct go_inl {
	uint32_t nameoff;	/* the inlined function's name */
	int32_t parent_pc;	/* offset from the entry of an instruction
				   of the caller at the call site */
	int32_t start_line;	/* Go 1.20+; 0 before */
};

/* img's table, parsed on first use; NULL when img is not Go (or NULL). */
const struct gopcln *go_table(struct elfimg *img);

/* The function that holds vaddr, into *fn; false when none does. */
bool go_fn_find(const struct gopcln *g, uint64_t vaddr, struct go_fn *fn);

/* The one function named name ("runtime.forEachG", as Go prints it),
 * into *fn; false when img is not Go, no function or more than one has
 * that name, or out of memory. The first call on an image sorts its
 * functions by name (once, under the table's lock); later calls are a
 * binary search without a lock. Any thread. */
bool go_fn_by_name(struct elfimg *img, const char *name, struct go_fn *fn);

/* The value at pc of fn's pc-value table at offset off (go_fn.pcfile,
 * go_fn.pcln); false when the table does not cover pc. */
bool go_pcvalue(const struct gopcln *g, uint32_t off, const struct go_fn *fn,
		uint64_t pc, int32_t *val);

/* The innermost call inlined at pc of fn, from fn's inline tree, into
 * *out; false when pc is fn's own code or fn has no inline tree. */
bool go_fn_inline(const struct gopcln *g, const struct go_fn *fn,
		  uint64_t pc, struct go_inl *out);

/* The NUL-terminated string at nameoff of the function name table, or
 * NULL when it does not end inside the table. */
const char *go_funcname(const struct gopcln *g, uint32_t nameoff);

/* File number fileno of compilation unit cu (go_fn.cuoffset), or NULL. */
const char *go_filename(const struct gopcln *g, uint32_t cu, int32_t fileno);

#endif /* PROFD_SPACE_H */
