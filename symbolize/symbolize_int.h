/* symbolize_int.h - what the files of symbolize/ share with each other and
 * with nobody else.
 *
 * Locks: reg_lock (elfimg.c) guards the image registry and every refs
 * field; sym_lock (dwarf.c) guards every image's cache and all libdw use.
 * When both are needed, reg_lock is taken first (symbolize_shutdown);
 * elfimg_put() drops reg_lock before it takes sym_lock.
 */
#ifndef PROFD_SYMBOLIZE_INT_H
#define PROFD_SYMBOLIZE_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "symbolize/symbolize.h"

/* GNU build-ids are 16 (md5/uuid) or 20 (sha1) bytes; allow up to 64. */
#define SYM_BUILDID_MAX 64

struct symcache;		/* dwarf.c: Dwfl, symbols, results, strings */
struct gopcln;			/* gopclntab.c: Go's symbol table */

/* One PT_LOAD program header. */
struct elfseg {
	uint64_t vaddr, memsz;
	uint64_t offset, filesz;
	uint64_t align;
	uint32_t flags;		/* PF_R | PF_W | PF_X */
};

struct elfimg {
	struct elfimg *prev, *next;	/* registry list; reg_lock */
	unsigned long refs;		/* reg_lock */

	char *path;		/* as in maps (or the memory image's name) */
	pid_t pid;		/* opener: its /proc/PID/root holds debug
				   files of containers; 0 for memory images */
	int fd;			/* -1 for memory images */
	unsigned char *data;	/* whole file (mmap) or the malloc'd copy */
	size_t len;
	bool mapped;		/* data came from mmap() */

	bool has_fid;		/* file identity below is valid */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;

	char build_id[SYM_BUILDID_MAX * 2 + 1];	/* lowercase hex or "" */
	unsigned int e_type;
	struct elfseg *loads;
	size_t nloads;
	bool has_eh_frame_hdr;
	uint64_t eh_frame_hdr_vaddr, eh_frame_hdr_size;
	/* a copy of the file's bytes [pin_off, pin_off + pin_len): the
	 * unwind tables, which no truncation can take away (elfimg.c,
	 * pin_unwind_tables); NULL when none */
	unsigned char *pin;
	uint64_t pin_off, pin_len;

	struct symcache *cache;	/* sym_lock; NULL until symbolize() */

	/* .gopclntab, parsed on first use (gopclntab.c); NULL when the file
	 * is not Go. Written once under go_lock, then go_done is set with
	 * release semantics; read-only after that. */
	struct gopcln *go;
	bool go_done;
};

/* One-time library set-up (libelf version, DEBUGINFOD_URLS, page size).
 * Every entry point that can reach libelf/libdw calls it first. */
void sym_init(void);

/* debuginfod.c: bound the downloads of dwfl's debuginfod client, when
 * symbolize_set_debuginfod() turned debuginfod on. Call right after
 * dwfl_begin(), under sym_lock. */
struct Dwfl;
void sym_debuginfod_setup(struct Dwfl *dwfl);

/* debuginfod.c: the debug file with GNU build-id build_id_hex from the
 * debuginfod servers, as an fd, or -1 (off, not found, timed out). Under
 * sym_lock. */
int sym_debuginfod_find(struct Dwfl *dwfl, const char *build_id_hex);

/* The page size the kernel maps files with. */
uint64_t sym_page_size(void);

/* Fill err (may be NULL) like snprintf; errno is preserved. */
void sym_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* rootfile.c: open a file a target controls (DESIGN.md 7: the one
 * function that does). path is resolved inside /proc/PID/root, no symlink
 * leading out of it, no magic link; with SYM_OPEN_HOST it is a path in
 * profd's own root (pid unused) that still gets every other check;
 * SYM_OPEN_NOFOLLOW refuses a symlink as the last component. Only a regular
 * file of at most max bytes (0: any size) is opened, O_RDONLY|O_NONBLOCK,
 * without side effects on anything else. Returns the fd (and its stat in
 * *st when st is not NULL) or -errno: -ESRCH when the process is gone,
 * -EFTYPE_PROFD not a regular file, -EFBIG over max, -ELOOP a refused
 * link, -EXDEV a path that would need ".." on a kernel without openat2.
 * Thread-safe; sym_open_strerror(rc) says it in words. */
#define SYM_OPEN_HOST		1u
#define SYM_OPEN_NOFOLLOW	2u
#define EFTYPE_PROFD		EMEDIUMTYPE
struct stat;
int sym_open_file(pid_t pid, const char *path, unsigned flags, uint64_t max,
		  struct stat *st);
const char *sym_open_strerror(int rc);

/* A maps path as the target itself names it: the kernel prints a chroot'ed
 * process's files from profd's root where it can (fs/d_path.c), e.g.
 * /srv/jail/usr/bin/app for the jail's /usr/bin/app; with the target's
 * root at /srv/jail, that prefix is taken off. Otherwise path itself. buf
 * (len bytes) is scratch; the result points into path. */
const char *sym_path_in_root(pid_t pid, const char *path, char *buf,
			     size_t len);

/* Largest ELF or debug file profd opens. */
#define SYM_FILE_MAX_BYTES	(8ULL << 30)

/* elfimg_bias() with a hint for segments that share a file page (lld
 * lays out r-- and r-x segments that way): among PT_LOADs covering
 * map_offset, prefer the one whose PF_X matches `exec`. */
int elfimg_bias_prot(const struct elfimg *img, uint64_t map_start,
		     uint64_t map_offset, bool exec, uint64_t *bias);

/* Call fn for every image in the registry, under reg_lock. */
void elfimg_each(void (*fn)(struct elfimg *img, void *arg), void *arg);

/* dwarf.c: free an image's cache (takes sym_lock). Accepts NULL. */
void symcache_free(struct symcache *c);

/* gopclntab.c: frames at ELF vaddr from img's .gopclntab, inline frames
 * first (innermost first), then the function that owns the code; at most
 * max (>= 1). Strings point into the image's mapping and live as long as
 * img. Returns the number of frames, 0 when vaddr is not Go code; *entry
 * is then the function's entry. */
size_t go_sym_frames(struct elfimg *img, uint64_t vaddr, struct sym_frame *fr,
		     size_t max, uint64_t *entry);

/* gopclntab.c: free what gopcln_parse() built. Accepts NULL. */
void gopcln_free(struct gopcln *g);

#endif /* PROFD_SYMBOLIZE_INT_H */
