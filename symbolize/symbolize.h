/* symbolize - PC -> frames: names, lines, inline chains.
 *
 * The address space itself (maps, ELF images, build-ids, the process's
 * modules, Go's table) is space/'s (space/space.h); this module names
 * what is in it:
 *   symbolize() turns an ELF virtual address of an image into frames with
 *            libdw/libelf: inline chain innermost first, file:line,
 *            demangled names; Go's own table for Go code; ELF symbol
 *            tables where there is no DWARF. Results are cached per
 *            image (in an image slot), so each (build-id, address) is
 *            resolved once.
 *   perfmap  names of JIT-compiled code from the JIT's perf map.
 *   debuginfod, when the operator opts in, for debug files not found
 *            locally.
 *
 * Errors: functions return -errno (or NULL with errno set) and, where they
 * take one, fill `err` (SYM_ERRLEN bytes) with "object: call: cause". This
 * module never logs and never exits.
 *
 * Threads: symbolize() and perfmap lookups are safe to call from any
 * thread: symbolize/ holds one internal lock around libdw, each perf map
 * one of its own. space_perfmap() belongs to the space's thread.
 */
#ifndef PROFD_SYMBOLIZE_H
#define PROFD_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "space/space.h"

#define SYM_ERRLEN SPACE_ERRLEN

/* ---- symbolization --------------------------------------------------- */

/* One-time set-up (space/'s libelf set-up, DEBUGINFOD_URLS unset so
 * that libdw never blocks on the network unless asked to). Called by
 * every entry point anyway; call it from main() before starting threads,
 * because it changes the environment. Cannot fail. */
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
	const char *file;	 /* source file as the build named it:
				    absolute where DWARF's name is relative
				    to a known DW_AT_comp_dir (joined, "."
				    and ".." removed, never looked up);
				    "" when unknown */
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
 * nothing is known) or -errno on failure to load the image's debug data
 * (-EINVAL: img NULL). Any thread (one internal lock); may read files and,
 * with debuginfod on, wait for the network: not for the sampler thread. */
int symbolize(struct elfimg *img, uint64_t vaddr, struct sym_info *out);

/* Symbol cache hits and misses since start, for /metrics, into the
 * caller's variables. Any thread; cannot fail. */
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
 * Caller releases with perfmap_put(). Any thread. */
struct perfmap *perfmap_new(pid_t pid);

/* Take another reference; returns pm. Accepts NULL. Any thread, without
 * waiting for a lookup in progress. */
struct perfmap *perfmap_get(struct perfmap *pm);

/* Drop a reference; the last one frees. Accepts NULL. Any thread. */
void perfmap_put(struct perfmap *pm);

/* The name of the JIT symbol covering runtime address addr, copied into
 * name (cut to namelen - 1 bytes), and its start into *start (may be
 * NULL). A miss first reads what the JIT appended since the last read.
 * Returns 0; -ENOENT when no line covers addr or there is no perf map;
 * -EPERM when the file is not a regular file owned by the process's
 * user; -ESRCH when the process is gone; other -errno (-EINVAL: pm or
 * name NULL). Any thread; reads the file under pm's lock. */
int perfmap_lookup(struct perfmap *pm, uint64_t addr, char *name,
		   size_t namelen, uint64_t *start);

/* The perf map reader of the space's process, made on the first call and
 * kept with the space (space_attach()); NULL + errno only when out of
 * memory. Borrowed: valid until space_free(); take a reference with
 * perfmap_get() to keep it. Call from the thread that owns the space. */
struct perfmap *space_perfmap(const struct space *sp);

/* Demangle a C++ (_Z) or Rust (_R, legacy _ZN..17h<hash>E) name with
 * libiberty; NULL when name is not mangled or cannot be demangled (or
 * out of memory). Caller frees. Any thread. */
char *sym_demangle(const char *name);

/* Drop the libdw state of every image still alive (results and strings
 * stay for callers that hold them; released images took everything with
 * them). For clean shutdown, after the threads that symbolize have
 * stopped; any thread; cannot fail. */
void symbolize_shutdown(void);

#endif /* PROFD_SYMBOLIZE_H */
