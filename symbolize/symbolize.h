/* symbolize - a target's address space as modules, and PC -> frames.
 *
 * Three layers, each usable on its own:
 *   pmaps    /proc/PID/maps parsed into an array (pure parser + reader).
 *   elfimg   one ELF file mapped read-only, shared by every process that maps
 *            it (keyed by GNU build-id, else by device/inode/size/mtime).
 *            Files are opened through /proc/PID/map_files or /proc/PID/root,
 *            never by the path as seen from profd's own mount namespace.
 *   space    one process: its maps, an elfimg per executable file mapping,
 *            the vDSO copied once, and reads of file-backed memory served
 *            from the images (what the unwinder needs besides the stack).
 *   symbolize() turns an ELF virtual address into frames with libdw/libelf:
 *            inline chain innermost first, file:line, demangled names; ELF
 *            symbol tables where there is no DWARF. Results are cached per
 *            image, so each (build-id, address) is resolved once.
 *
 * Errors: functions return -errno (or NULL with errno set) and, where they
 * take one, fill `err` (SYM_ERRLEN bytes) with "object: call: cause". This
 * module never logs and never exits.
 *
 * Threads: pmaps and space objects belong to one thread at a time (the
 * caller serialises). elfimg reference counting and symbolize() are safe to
 * call from any thread: symbolize/ holds one internal lock around libdw.
 */
#ifndef PROFD_SYMBOLIZE_H
#define PROFD_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SYM_ERRLEN 256

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
 * call fail with -EINVAL (err names the line number). On success *out owns
 * new memory; free it with pmaps_free(). */
int pmaps_parse(const char *text, size_t len, struct pmaps *out, char *err,
		size_t errlen);

/* Read and parse /proc/PID/maps. -ESRCH when the process is gone. */
int pmaps_read(pid_t pid, struct pmaps *out, char *err, size_t errlen);

/* Free the entries; *m is left empty and may be reused. Accepts empty. */
void pmaps_free(struct pmaps *m);

/* The mapping containing addr, or NULL. Binary search. Borrowed. */
const struct pmap *pmaps_find(const struct pmaps *m, uint64_t addr);

/* ---- ELF images ------------------------------------------------------ */

struct elfimg;

/* The image behind file mapping `m` of process `pid`. Tries
 * /proc/PID/map_files/START-END (the exact inode, even when deleted or
 * replaced), then /proc/PID/root/PATH checked against m's device and inode.
 * Images are shared: the same file opened for two processes or two mappings
 * returns the same object with its reference count raised. Returns NULL
 * with errno set (ENOEXEC: not an ELF file) and err filled.
 * Caller releases with elfimg_put(). */
struct elfimg *elfimg_open(pid_t pid, const struct pmap *m, char *err,
			   size_t errlen);

/* An image over `data` (len bytes, malloc'd; ownership passes to the
 * image, also on failure), e.g. a vDSO copied out of a process. `name` is
 * copied. Shared by build-id like elfimg_open(). */
struct elfimg *elfimg_from_memory(void *data, size_t len, const char *name,
				  char *err, size_t errlen);

/* Take another reference; returns img. */
struct elfimg *elfimg_get(struct elfimg *img);

/* Drop a reference; the last one unmaps the file and frees its caches.
 * Accepts NULL. */
void elfimg_put(struct elfimg *img);

/* Lowercase hex of the NT_GNU_BUILD_ID note, "" when there is none.
 * Borrowed; valid while img is referenced. */
const char *elfimg_build_id(const struct elfimg *img);

/* The path the image was opened by (for messages and debuglink lookups).
 * Borrowed. */
const char *elfimg_path(const struct elfimg *img);

/* The whole file, mapped read-only. Borrowed. */
const unsigned char *elfimg_bytes(const struct elfimg *img, size_t *len);

/* len bytes at file offset off, or NULL past the end of the file: from
 * profd's own copy of the unwind tables where it covers them (a read of
 * the mapping there could fault with SIGBUS inside libunwind, which runs
 * our accessors with signals blocked, if the target truncated the file),
 * else from the mapping. Borrowed; thread-safe. */
const unsigned char *elfimg_at(const struct elfimg *img, uint64_t off,
			       size_t len);

/* Load bias of a mapping of this image: runtime address = ELF virtual
 * address + *bias, for the mapping that starts at map_start and maps file
 * offset map_offset. -ENOENT when no PT_LOAD covers map_offset. */
int elfimg_bias(const struct elfimg *img, uint64_t map_start,
		uint64_t map_offset, uint64_t *bias);

/* ELF virtual address and size of .eh_frame_hdr (PT_GNU_EH_FRAME), or
 * -ENOENT when the file has none. */
int elfimg_eh_frame_hdr(const struct elfimg *img, uint64_t *vaddr,
			uint64_t *size);

/* File offset of ELF virtual address vaddr (through the PT_LOAD that
 * contains it), or -ENOENT. */
int elfimg_vaddr_to_offset(const struct elfimg *img, uint64_t vaddr,
			   uint64_t *offset);

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

/* An empty space for pid; call space_refresh() before use. NULL + errno. */
struct space *space_new(pid_t pid);

/* (Re)read /proc/PID/maps; open images for new executable file mappings,
 * copy the vDSO the first time it is seen, drop images of mappings that
 * went away. Returns 1 when the executable mappings changed, 0 when they
 * did not, -errno on failure (-ESRCH: process gone). */
int space_refresh(struct space *sp, char *err, size_t errlen);

/* As space_refresh(), but when the new maps are another program's (the
 * process exec'd: another executable, or the same one mapped elsewhere, or
 * a new vDSO address) keeps the old ones and returns SPACE_EXECED. */
#define SPACE_EXECED 2
int space_refresh_unless_exec(struct space *sp, char *err, size_t errlen);

/* Increases every time space_refresh() sees a change. */
uint64_t space_generation(const struct space *sp);

/* The maps as last read. Borrowed; valid until the next refresh. */
const struct pmaps *space_maps(const struct space *sp);

/* Executable modules (file-backed, anonymous and vDSO), sorted by start.
 * Borrowed; valid until the next refresh or space_free(). */
const struct module *space_modules(const struct space *sp, size_t *n);

/* The executable module containing addr, or NULL. Borrowed, as above. */
const struct module *space_module(const struct space *sp, uint64_t addr);

/* The main executable's module (the mapping of /proc/PID/exe), or NULL. */
const struct module *space_main_module(const struct space *sp);


/* The process's JIT perf map reader (never NULL after space_new()).
 * Borrowed; take a reference with perfmap_get() to keep it. */
struct perfmap *space_perfmap(const struct space *sp);

/* Copy len bytes at runtime address addr from the file image backing it
 * (any file-backed mapping of the process, any permission) or from the
 * vDSO copy. Never reads the live process. Returns the number of bytes
 * copied from the start of the range: len, or less where the range leaves
 * what the images cover, 0 when addr is not covered. */
size_t space_read(const struct space *sp, uint64_t addr, void *buf,
		  size_t len);

pid_t space_pid(const struct space *sp);

/* Accepts NULL. Drops every image reference the space holds. */
void space_free(struct space *sp);

/* ---- symbolization --------------------------------------------------- */

/* One-time set-up (libelf version, DEBUGINFOD_URLS unset so that libdw
 * never blocks on the network unless asked to). Called by every entry
 * point anyway; call it from main() before starting threads, because it
 * changes the environment. */
void symbolize_init(void);

/* Opt in to debuginfod (reference/ptrace-sampling.md 7.3): debug files
 * that are not found locally are asked for, by build-id, from `urls`
 * (space-separated http:// or https:// URLs, DEBUGINFOD_URLS syntax).
 * timeout_s bounds both the wait for a server's first byte and a whole
 * download; max_bytes the size of one download (0: no limit). Downloads
 * and failed lookups are cached by libdebuginfod in cache_dir, which is
 * created (mode 0700, with its parents) when missing. Lookups happen
 * inside symbolize(), so only on threads that symbolize, never on one
 * that samples. Sets the process environment (DEBUGINFOD_URLS,
 * DEBUGINFOD_TIMEOUT, DEBUGINFOD_MAXTIME, DEBUGINFOD_MAXSIZE,
 * DEBUGINFOD_CACHE_PATH): call it from main() before any thread starts.
 * Returns 0, -EINVAL (a bad URL) or -errno from mkdir, with err filled. */
int symbolize_set_debuginfod(const char *urls, unsigned int timeout_s,
			     uint64_t max_bytes, const char *cache_dir,
			     char *err, size_t errlen);

struct sym_frame {
	const char *name;	 /* demangled function name; "" when unknown */
	const char *system_name; /* linkage (mangled) name, or = name */
	const char *file;	 /* source file, "" when unknown */
	int line;		 /* 0 when unknown */
	int start_line;		 /* declaration line of the function, or 0 */
};

struct sym_info {
	const struct sym_frame *frames;	/* innermost first; last = the
					   function that owns the code */
	size_t n;			/* 0: nothing known at this address */
	uint64_t entry;			/* ELF vaddr where the owning function
					   starts, 0 when unknown */
	bool dwarf;			/* names/lines came from DWARF */
	bool lines;			/* at least one file:line is known */
	bool inlines;			/* inline expansion was done (DWARF) */
};

/* Frames for ELF virtual address `vaddr` of img (already adjusted: callers
 * pass return address - 1). Strings and frames are owned by img's cache and
 * stay valid while img is referenced. Returns 0 (out->n may be 0 when
 * nothing is known) or -errno on failure to load the image's debug data. */
int symbolize(struct elfimg *img, uint64_t vaddr, struct sym_info *out);

/* Symbol cache hits and misses since start, for /metrics. */
void symbolize_metrics(uint64_t *hits, uint64_t *misses);

/* ---- JIT perf maps ----------------------------------------------------- */

/* Names for JIT-compiled code (anonymous executable memory) from the perf
 * map the JIT writes for its process: /tmp/perf-PID.map, "START SIZE
 * name" per line (linux tools/perf/Documentation/jit-interface.txt),
 * read through /proc/PID/root and named with the PID the process has in
 * its own PID namespace. Used only when it is a regular file owned by
 * the process's user. Reference counted; lookups lock internally and may
 * come from any thread. */
struct perfmap;

/* A reader for process pid's perf map; nothing is read yet. NULL + errno.
 * Caller releases with perfmap_put(). */
struct perfmap *perfmap_new(pid_t pid);

/* Take another reference; returns pm. Accepts NULL. */
struct perfmap *perfmap_get(struct perfmap *pm);

/* Drop a reference; the last one frees. Accepts NULL. */
void perfmap_put(struct perfmap *pm);

/* The name of the JIT symbol covering runtime address addr, copied into
 * name (cut to namelen - 1 bytes), and its start into *start (may be
 * NULL). A miss first reads what the JIT appended since the last read.
 * Returns 0; -ENOENT when no line covers addr or there is no perf map;
 * -EPERM when the file is not a regular file owned by the process's
 * user; -ESRCH when the process is gone; other -errno. */
int perfmap_lookup(struct perfmap *pm, uint64_t addr, char *name,
		   size_t namelen, uint64_t *start);

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

/* Demangle a C++ (_Z) or Rust (_R, legacy _ZN..17h<hash>E) name with
 * libiberty; NULL when name is not mangled or cannot be demangled.
 * Caller frees. */
char *sym_demangle(const char *name);

/* Drop every image's symbol caches and libdw state that is not in use.
 * For clean shutdown; all images must have been released. */
void symbolize_shutdown(void);

#endif /* PROFD_SYMBOLIZE_H */
