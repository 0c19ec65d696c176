/* export.h - a finished window, or a thread dump, as a pprof profile or
 * as Go's text (export.c).
 *
 * Ownership: a modsnap owns copies of the module paths and references to
 * the images and the JIT map (modsnap_free drops them); what export_*
 * return belongs to the caller (pprof_free, free). The agg and dump
 * passed in stay the caller's. Threads: any one thread at a time per
 * modsnap (an HTTP worker, or a thread with a big stack for libdw); the
 * symbolize/ calls inside are thread-safe. Errors: -ENOMEM or NULL, with
 * err filled where taken. Never logs.
 */
#ifndef PROFD_EXPORT_H
#define PROFD_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct agg;
struct elfimg;
struct gort_heap;
struct perfmap;
struct pprof;
struct space;

/* The executable mappings a window's PCs are resolved against: copies of
 * the target's modules, holding image references. */
struct modsnap {
	struct modsnap_ent {
		uint64_t start, end, offset, bias;
		char *path;
		struct elfimg *img;	/* referenced, may be NULL */
		bool main, anon, vdso;
	} *v;
	size_t n;
	struct perfmap *jit;	/* names for anonymous code; referenced */
};

/* Copy sp's modules into ms (overwritten). The caller owns sp's thread
 * (the sampler). -ENOMEM, ms empty then (nothing to free). */
int modsnap_take(struct modsnap *ms, const struct space *sp);

/* Drop what ms holds; ms is empty afterwards. */
void modsnap_free(struct modsnap *ms);

struct export_info {
	const char *sample_type, *sample_unit;	/* "cpu", "nanoseconds" */
	int64_t period;
	int64_t time_nanos, duration_nanos;
	const char *comment;			/* NULL or a note */
	bool state_labels;			/* label samples with state */
};

/* Build the pprof profile of a window: symbolizes every distinct PC once
 * (symbolize/ caches per build-id). Caller frees with pprof_free(). NULL
 * with err filled when out of memory. */
struct pprof *export_pprof(const struct agg *a, const struct modsnap *ms,
			   const struct export_info *info, char *err,
			   size_t errlen);

/* A Go program's memory profile as runtime/pprof's WriteHeapProfile
 * writes it: alloc_objects, alloc_space, inuse_objects, inuse_space,
 * scaled for the sampling rate as Go scales them, the period the rate,
 * a "bytes" label with the object size, the runtime's leading frames
 * hidden; default_type (borrowed; NULL: none, so the last, inuse_space,
 * as Go's heap profile) is the sample type pprof shows first.
 * PCs are symbolized at return address - 1. Caller frees with
 * pprof_free(); NULL with err filled when out of memory. */
struct pprof *export_heap(const struct gort_heap *h, const struct modsnap *ms,
			  const char *default_type, int64_t time_nanos,
			  char *err, size_t errlen);

/* One thread of a thread dump. */
struct dump_thread {
	pid_t tid;
	char comm[16];
	char state;
	long syscall_nr;	/* -1: not in a system call */
	uint64_t syscall_arg0;
	double idle_s;		/* how long it has not run; < 0: unknown */
	int cpu;		/* CPU it last ran on, -1 unknown */
	double exec_start_ms;	/* when it last ran (scheduler clock of
				   that CPU), < 0 unknown */
	uint64_t *pcs;		/* leaf first, as from the unwinder */
	size_t n;
	bool partial;
	/* A goroutine (dump_info.goroutines): tid is its thread's while it
	 * runs, else 0 */
	int64_t goid;
	char status[48];	/* "chan receive", "running", ... */
	int64_t wait_minutes;	/* shown from 1 on, as Go does */
	bool locked;		/* locked to its thread */
	bool leaf_exact;	/* pcs[0] is where it runs, not a return
				   address */
	uint64_t created_pc;	/* return address of its go statement */
};

struct dump_info {
	pid_t pid;
	const struct dump_thread *threads;
	size_t n;
	bool goroutine;		/* /debug/pprof/goroutine names */
	int64_t time_nanos;
	size_t unreadable;	/* threads profd had no fd to read: their
				   state and stack may be stale */
	bool goroutines;	/* threads[] are goroutines (Go's formats) */
	const char *header;	/* NULL, or one line ("# go heap: ...")
				   that heads the text and, without its
				   "# ", is the profile's comment */
};

/* The dump as a pprof profile: threads/count (or goroutine/count), one
 * sample per distinct stack, value = number of threads. Caller frees with
 * pprof_free(); NULL with err filled when out of memory. */
struct pprof *export_threads_pprof(const struct dump_info *di,
				   const struct modsnap *ms, char *err,
				   size_t errlen);

/* The dump as Go's text: debug 1 (aggregated, with a memory map section
 * go tool pprof reads) or 2 (one block per thread). *text is malloc'd for
 * the caller. -ENOMEM with err filled. */
int export_threads_text(const struct dump_info *di, const struct modsnap *ms,
			int debug, char **text, size_t *len, char *err,
			size_t errlen);

/* The name a profile gives code no symbol covers, into out:
 * "[BASENAME+0xOFF]" (OFF: the offset in the file path maps; "anon"
 * without a path). Any thread. */
void export_unnamed(const char *path, uint64_t off, char *out, size_t len);

#endif /* PROFD_EXPORT_H */
