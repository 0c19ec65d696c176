/* gort - the Go runtime of a target, read from outside.
 *
 * Layers:
 *   info     what one Go executable says about its runtime (layout.c):
 *            the Go version from its build info; the offset of every
 *            runtime field profd reads, from the binary's DWARF when it
 *            has it, else from a table per supported Go version (table.c,
 *            generated from DWARF by tools/gofields); the ELF address of
 *            every runtime global profd reads, from .symtab when it has
 *            one, else decoded from the instructions of the runtime
 *            functions that use it. Never a guess: what cannot be found
 *            stays unknown (GORT_NONE / 0), with a reason in `why`.
 *   reading  the live process's runtime, through process_vm_readv:
 *            goroutines (goroutines.c), the thread's M and the stack it
 *            switched away from (stacks), memory statistics and the heap
 *            profile (mem.c).
 *
 * Errors: -errno, with err filled ("object: call: cause") where taken.
 * This module never logs and never exits. Threads: gort_info() is safe
 * from any thread (computed once per image, kept in an image slot).
 */
#ifndef PROFD_GORT_H
#define PROFD_GORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct elfimg;

/* An offset or size not known for this binary. */
#define GORT_NONE UINT32_MAX

/*
 * Every runtime field profd reads: X(ID, Go type, field path). The path
 * names members through embedded structs with dots ("sched.sp"); an empty
 * path asks for the type's size. Offsets are from the start of the type.
 */
#define GORT_FIELDS(X)							\
	X(G_STACK_LO,	"runtime.g",	"stack.lo")			\
	X(G_STACK_HI,	"runtime.g",	"stack.hi")			\
	X(G_SCHED_SP,	"runtime.g",	"sched.sp")			\
	X(G_SCHED_PC,	"runtime.g",	"sched.pc")			\
	X(G_SCHED_BP,	"runtime.g",	"sched.bp")			\
	X(G_M,		"runtime.g",	"m")				\
	X(G_STATUS,	"runtime.g",	"atomicstatus")			\
	X(G_GOID,	"runtime.g",	"goid")				\
	X(G_WAITSINCE,	"runtime.g",	"waitsince")			\
	X(G_WAITREASON,	"runtime.g",	"waitreason")			\
	X(G_GOPC,	"runtime.g",	"gopc")				\
	X(G_STARTPC,	"runtime.g",	"startpc")			\
	X(G_LOCKEDM,	"runtime.g",	"lockedm")			\
	X(G_SYSCALLSP,	"runtime.g",	"syscallsp")			\
	X(G_SYSCALLPC,	"runtime.g",	"syscallpc")			\
	X(G_SIZE,	"runtime.g",	"")				\
	X(M_G0,		"runtime.m",	"g0")				\
	X(M_CURG,	"runtime.m",	"curg")				\
	X(M_GSIGNAL,	"runtime.m",	"gsignal")			\
	X(M_PROCID,	"runtime.m",	"procid")			\
	X(M_ALLLINK,	"runtime.m",	"alllink")			\
	X(M_VDSOSP,	"runtime.m",	"vdsoSP")			\
	X(M_VDSOPC,	"runtime.m",	"vdsoPC")			\
	X(M_SIZE,	"runtime.m",	"")				\
	GORT_MEM_FIELDS(X)

/* The fields mem.c reads (memory statistics, the heap profile). An
 * atomic.Int32/Int64/Uint64 holds its value in "value" (its noCopy and
 * align64 members take no space). */
#define GORT_MEM_FIELDS(X)						\
	X(MSTATS_STATS,	"runtime.mstats",	"heapStats.stats")	\
	X(MSTATS_GEN,	"runtime.mstats",	"heapStats.gen")	\
	X(MSTATS_NUMGC,	"runtime.mstats",	"numgc")		\
	X(MSTATS_SIZE,	"runtime.mstats",	"")			\
	X(HSD_INHEAP,	"runtime.heapStatsDelta", "inHeap")		\
	X(HSD_TINY,	"runtime.heapStatsDelta", "tinyAllocCount")	\
	X(HSD_LARGEALLOC, "runtime.heapStatsDelta", "largeAlloc")	\
	X(HSD_LARGEALLOCN, "runtime.heapStatsDelta", "largeAllocCount")	\
	X(HSD_SMALLALLOCN, "runtime.heapStatsDelta", "smallAllocCount")	\
	X(HSD_LARGEFREE, "runtime.heapStatsDelta", "largeFree")		\
	X(HSD_LARGEFREEN, "runtime.heapStatsDelta", "largeFreeCount")	\
	X(HSD_SMALLFREEN, "runtime.heapStatsDelta", "smallFreeCount")	\
	X(HSD_SIZE,	"runtime.heapStatsDelta", "")			\
	X(GCC_PERCENT,	"runtime.gcControllerState", "gcPercent.value")	\
	X(GCC_MEMLIMIT,	"runtime.gcControllerState", "memoryLimit.value") \
	X(GCC_PCTGOAL,	"runtime.gcControllerState",			\
	  "gcPercentHeapGoal.value")					\
	X(GCC_SWEEPDIST, "runtime.gcControllerState",			\
	  "sweepDistMinTrigger.value")					\
	X(GCC_TRIGGERED, "runtime.gcControllerState", "triggered")	\
	X(GCC_HEAPMARKED, "runtime.gcControllerState", "heapMarked")	\
	X(GCC_HEAPFREE,	"runtime.gcControllerState", "heapFree")	\
	X(GCC_MAPPED,	"runtime.gcControllerState", "mappedReady.value") \
	X(GCC_SIZE,	"runtime.gcControllerState", "")		\
	X(P_MCACHE,	"runtime.p",	"mcache")			\
	X(MCACHE_TINYN,	"runtime.mcache", "tinyAllocs")			\
	X(MCACHE_ALLOC,	"runtime.mcache", "alloc")			\
	X(MCACHE_STACKCACHE, "runtime.mcache", "stackcache")		\
	X(MCACHE_SIZE,	"runtime.mcache", "")				\
	X(SPAN_ALLOCN,	"runtime.mspan", "allocCount")			\
	X(SPAN_ALLOCN0,	"runtime.mspan", "allocCountBeforeCache")	\
	X(BUCKET_ALLNEXT, "runtime.bucket", "allnext")			\
	X(BUCKET_TYP,	"runtime.bucket", "typ")			\
	X(BUCKET_SIZEF,	"runtime.bucket", "size")			\
	X(BUCKET_NSTK,	"runtime.bucket", "nstk")			\
	X(BUCKET_SIZE,	"runtime.bucket", "")				\
	X(MEMREC_ACTIVE, "runtime.memRecord", "active")			\
	X(MEMREC_FUTURE, "runtime.memRecord", "future")			\
	X(MEMREC_SIZE,	"runtime.memRecord", "")			\
	X(MRC_ALLOCS,	"runtime.memRecordCycle", "allocs")		\
	X(MRC_FREES,	"runtime.memRecordCycle", "frees")		\
	X(MRC_ALLOCB,	"runtime.memRecordCycle", "alloc_bytes")	\
	X(MRC_FREEB,	"runtime.memRecordCycle", "free_bytes")		\
	X(MRC_SIZE,	"runtime.memRecordCycle", "")

/* Every runtime global profd reads: X(ID, symbol). */
#define GORT_GLOBALS(X)							\
	X(ALLGS,	"runtime.allgs")				\
	X(ALLGLEN,	"runtime.allglen")				\
	X(ALLM,		"runtime.allm")					\
	X(WAITREASONS,	"runtime.waitReasonStrings")			\
	GORT_MEM_GLOBALS(X)

/* The globals mem.c reads. */
#define GORT_MEM_GLOBALS(X)						\
	X(MEMSTATS,	"runtime.memstats")				\
	X(GCCONTROLLER,	"runtime.gcController")				\
	X(CLASS_TO_SIZE, "runtime.class_to_size")			\
	X(ALLP,		"runtime.allp")					\
	X(MBUCKETS,	"runtime.mbuckets")				\
	X(MPROFCYCLE,	"runtime.mProfCycle")				\
	X(MEMPROFRATE,	"runtime.MemProfileRate")

#define GORT_ENUM_FIELD(id, type, path)	GORT_F_##id,
#define GORT_ENUM_GLOBAL(id, sym)	GORT_G_##id,
enum gort_field { GORT_FIELDS(GORT_ENUM_FIELD) GORT_NFIELDS };
enum gort_global { GORT_GLOBALS(GORT_ENUM_GLOBAL) GORT_NGLOBALS };
#undef GORT_ENUM_FIELD
#undef GORT_ENUM_GLOBAL

/* The names behind the ids, for messages and tools/gofields: id is the
 * X-macro's first argument ("G_STACK_LO"). */
struct gort_field_name { const char *id, *type, *path; };
extern const struct gort_field_name gort_field_names[GORT_NFIELDS];
extern const char *const gort_global_names[GORT_NGLOBALS];

/* What one Go executable says about its runtime. */
struct gort_info {
	char version[32];	/* "go1.19.8", from the build info; "" */
	int major, minor;	/* 1, 19; 0, 0 when unknown */
	bool from_dwarf;	/* offsets came from the binary's DWARF */
	bool stripped;		/* globals were decoded, not looked up */
	uint32_t off[GORT_NFIELDS];	/* GORT_NONE where unknown */
	uint64_t global[GORT_NGLOBALS];	/* ELF vaddr; 0 where unknown */
	char why[256];		/* the first thing that could not be found,
				   as one line a user can act on; "" */
};

/* img's runtime description, computed on first call and kept with the
 * image (freed with it). NULL when img is not a Go executable (no
 * .gopclntab or no build info). Borrowed; valid while img is referenced.
 * Any thread. */
const struct gort_info *gort_info(struct elfimg *img);

/* Whether every field and global in the lists is known; when not, fills
 * err with what is missing and why (gort_info.why). */
bool gort_has(const struct gort_info *gi, const enum gort_field *f, size_t nf,
	      const enum gort_global *g, size_t ng, char *err, size_t errlen);

/* ---- the parts of gort_info(), for tools/gofields, tests and fuzzing ---- */

/* The Go version recorded in a build info blob: data (len bytes) starts
 * at its "\xff Go buildinf:" magic (runtime/debug and debug/buildinfo of
 * Go 1.19: a 32-byte header, then, when flags & 2, varint-length strings,
 * the version first). Go 1.18+ inline format: the version is copied into
 * version (vlen bytes, NUL-terminated) and 0 returned. The older pointer
 * format: *vers_addr is set to the ELF vaddr of the Go string header
 * (pointer, length) of runtime.buildVersion and 1 returned. -EINVAL when
 * data is no build info, is cut short, or the version is empty or does
 * not fit. Pure; any thread. */
int gort_buildinfo_parse(const void *data, size_t len, char *version,
			 size_t vlen, uint64_t *vers_addr);

/* major and minor of a release version ("go1.19.8", "go1.21rc2",
 * "go1.19"); false (and 0, 0) for anything else ("devel ..."). Pure. */
bool gort_version_parse(const char *version, int *major, int *minor);

/* The offset of every GORT_FIELDS entry from img's own DWARF alone, into
 * off (GORT_NONE where not found). 0 when every field was found;
 * -ENOENT when img has no DWARF or DWARF without the runtime's types,
 * -ESRCH when some fields are missing; why (whylen bytes) then names the
 * first. Bounded on hostile DWARF. Allocates only inside libdw; any
 * thread. */
int gort_dwarf_fields(struct elfimg *img, uint32_t off[GORT_NFIELDS],
		      char *why, size_t whylen);

/* The ELF vaddr of every GORT_GLOBALS entry decoded from the
 * instructions of the runtime functions that use it (the path of
 * stripped binaries), with the hints of Go major.minor, into global (0
 * where not found). 0 when every global was decoded; -ENOTSUP when profd
 * has no hints for that version, -ESRCH when a hint did not match; why
 * names the first. Exported so that tests can run it on a binary that
 * also has .symtab. Any thread. */
int gort_decode_globals(struct elfimg *img, int major, int minor,
			uint64_t global[GORT_NGLOBALS], char *why,
			size_t whylen);

/* The bytes from a struct's start that hold every field in f[0..n): the
 * largest offset + 8 (every field read is at most a word). Every field
 * must be known. */
uint32_t gort_fields_end(const struct gort_info *gi, const enum gort_field *f,
			 size_t n);

/* Copy len bytes at addr of process pid (process_vm_readv). 0, or
 * -EFAULT when not all of it could be read, -ESRCH when pid is gone. */
int gort_read(pid_t pid, uint64_t addr, void *buf, size_t len);

/* Little-endian loads from a copy, for the fields above. */
static inline uint64_t
gort_u64(const void *base, uint32_t off)
{
	uint64_t v;

	__builtin_memcpy(&v, (const unsigned char *)base + off, sizeof(v));
	return v;
}

static inline uint32_t
gort_u32(const void *base, uint32_t off)
{
	uint32_t v;

	__builtin_memcpy(&v, (const unsigned char *)base + off, sizeof(v));
	return v;
}

/* ---- goroutines (goroutines.c) -------------------------------------- */

/* runtime2.go's statuses (stable from Go 1.x to today) */
#define GORT_GIDLE	0
#define GORT_GRUNNABLE	1
#define GORT_GRUNNING	2
#define GORT_GSYSCALL	3
#define GORT_GWAITING	4
#define GORT_GDEAD	6
#define GORT_GCOPYSTACK	8
#define GORT_GPREEMPTED	9
#define GORT_GSCAN	0x1000

/* Goroutines read at most (runtime.allgs is capped there, with a note). */
#define GORT_MAX_GOROUTINES (1u << 21)

/* One goroutine, as the runtime's list (runtime.allgs) holds it. */
struct gort_g {
	uint64_t addr;		/* the runtime.g */
	int64_t goid;
	uint32_t status;	/* GORT_G*, scan bit removed */
	bool scan;		/* the GC is scanning its stack */
	uint8_t waitreason;
	int64_t waitsince;	/* runtime nanotime (CLOCK_MONOTONIC); 0 */
	uint64_t gopc;		/* return address of its go statement */
	uint64_t startpc;	/* its function's entry */
	uint64_t m;		/* its M while running, else 0 */
	bool locked;		/* locked to its thread (LockOSThread) */
	uint64_t pc, sp, bp;	/* where its stack resumes: g.sched, or
				   the system call's saved PC and SP */
	uint64_t stack_lo, stack_hi;
};

/* The fields and globals gort_goroutines() needs. */
bool gort_can_list(const struct gort_info *gi, char *err, size_t errlen);

/* Every goroutine of runtime.allgs that is not dead, into a malloc'd
 * array (*out, *n; the caller frees it); at most GORT_MAX_GOROUTINES
 * (*more set when there were more). Reads the live process without
 * stopping it, in batches of one process_vm_readv per 512 goroutines.
 * bias: runtime address = ELF vaddr + bias. 0, or -errno with err
 * filled (-ESRCH: gone; -EFAULT: the list could not be read). Any
 * thread. */
int gort_goroutines(pid_t pid, uint64_t bias, const struct gort_info *gi,
		    struct gort_g **out, size_t *n, bool *more, char *err,
		    size_t errlen);

/* Copy goroutine *g's stack, from g->sp up to g->stack_hi or cap bytes,
 * into buf (*len), then read the goroutine again: when it ran meanwhile
 * (status, saved registers or stack moved), *g is updated and -EAGAIN
 * returned, and the caller may try again. A running goroutine's stack is
 * its thread's (-EBUSY). 0 or -errno. Any thread. */
int gort_g_stack(pid_t pid, const struct gort_info *gi, struct gort_g *g,
		 unsigned char *buf, size_t cap, size_t *len);

/* Go's name for status ("running", "chan receive"...), from the wait
 * reason for a waiting goroutine (the binary's own table,
 * runtime.waitReasonStrings, read from img), as Go's traceback prints
 * it. Into buf (len bytes); returns buf. */
const char *gort_status_text(struct elfimg *img, const struct gort_info *gi,
			     const struct gort_g *g, char *buf, size_t len);

/* ---- memory (mem.c) ---------------------------------------------------- */

/* The runtime's heap figures, as runtime.ReadMemStats would give them
 * now (its mcache flush accounted for without it). */
struct gort_mem {
	uint64_t heap_alloc;	/* HeapAlloc: bytes of live + unswept objects */
	uint64_t heap_objects;	/* HeapObjects */
	uint64_t heap_inuse;	/* HeapInuse: bytes in in-use spans */
	uint64_t next_gc;	/* NextGC: the heap goal */
	uint32_t num_gc;	/* NumGC: completed cycles */
	int32_t gogc;		/* GOGC percent, -1: off */
	int64_t memory_limit;	/* GOMEMLIMIT bytes, INT64_MAX: none */
};

/* Read pid's runtime memory statistics into *out, without stopping it.
 * bias: runtime address = ELF vaddr + bias, of the main executable, whose
 * description gi is. The process keeps running, so each figure is of a
 * moment within the call and the figures may be a few allocations apart.
 * 0, or -ENOENT (gi lacks a field or global: err says which and why),
 * -EFAULT (memory unreadable, or what was read makes no sense: a pointer,
 * size or count out of bounds), -ESRCH (pid gone); err filled then. Any
 * thread (process_vm_readv only). */
int gort_memstats(pid_t pid, uint64_t bias, const struct gort_info *gi,
		  struct gort_mem *out, char *err, size_t errlen);

/* Caps of gort_heap_profile: buckets read, and frames kept per bucket
 * (Go keeps at most 32). */
#define GORT_HEAP_MAX_BUCKETS 100000
#define GORT_HEAP_MAX_STACK 64

/* One bucket of the memory profile, as runtime.MemProfileRecord. */
struct gort_heap_rec {
	int64_t alloc_objects, alloc_bytes, free_objects, free_bytes;
	const uint64_t *stk;	/* return PCs, leaf first; into pcs */
	size_t nstk;
};

/* The memory profile, as runtime.MemProfile(inuseZero=true) would report
 * it now. Owned by the caller; free with gort_heap_free(). */
struct gort_heap {
	int64_t rate;		/* runtime.MemProfileRate */
	struct gort_heap_rec *v;
	size_t n;
	uint64_t *pcs;		/* every record's stack */
	bool truncated;		/* more than GORT_HEAP_MAX_BUCKETS buckets */
};

/* Read pid's memory-profile buckets (runtime.mbuckets): each bucket's
 * published cycle plus the cycle MemProfile would flush (or every cycle
 * while none is published, as MemProfile does), without stopping it.
 * bias and gi as for gort_memstats. On success *out is filled (the caller
 * frees it with gort_heap_free). -ENOENT when the binary keeps no profile
 * (MemProfileRate 0) or gi lacks what is needed, -EFAULT, -ESRCH,
 * -ENOMEM; err filled then and *out empty. Any thread. */
int gort_heap_profile(pid_t pid, uint64_t bias, const struct gort_info *gi,
		      struct gort_heap *out, char *err, size_t errlen);

/* Free what h holds; h is empty afterwards. Accepts an empty h. */
void gort_heap_free(struct gort_heap *h);

#endif /* PROFD_GORT_H */
