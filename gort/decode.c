/* decode.c - the runtime globals of a stripped Go binary, decoded from
 * the instructions of runtime functions that use them.
 *
 * `go build -ldflags='-s -w'` drops .symtab, but .gopclntab keeps every
 * function's name and extent (space/gopclntab.c, go_fn_by_name()), and
 * the runtime's own code is compiled the same way into every binary of a
 * Go release. So for each global a hint names a runtime function of that
 * release that loads or takes the address of the global RIP-relatively,
 * the exact first three bytes of that instruction (REX.W prefix, opcode,
 * ModRM with mod=00 rm=101: disp32(%rip)), how many times those bytes
 * occur in the function, which occurrence is the one, and the section
 * the global lives in. The hints were read off `objdump -d` of go1.19.8
 * binaries (pure Go and cgo) and are checked by tests/unit/test_gort.c
 * against .symtab.
 *
 * Never a guess: the function must exist once, the three bytes must occur
 * exactly `count` times in it (an instruction the release compiles
 * differently, or the bytes appearing inside another instruction, changes
 * the count and the hint is refused), and the address must lie in the
 * expected section with room for the global. Otherwise the global stays 0
 * and `why` says which hint failed.
 */
#include "gort/gort_int.h"
#include "space/space.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_FN_BYTES	(64 * 1024)	/* no hinted function is bigger */

/* The instruction forms hints may name: opcode, and the bytes of
 * immediate after the displacement (the RIP-relative address counts from
 * the end of the instruction, after any immediate). */
struct form {
	unsigned char op;
	unsigned char imm;
	const char *mnemonic;
};

static const struct form forms[] = {
	{ 0x8b, 0, "MOVQ disp(RIP), reg" },
	{ 0x8d, 0, "LEAQ disp(RIP), reg" },
	{ 0x89, 0, "MOVQ reg, disp(RIP)" },
	{ 0x3b, 0, "CMPQ disp(RIP), reg" },
	{ 0x83, 1, "op $imm8, disp(RIP)" },
	{ 0xc7, 4, "MOVQ $imm32, disp(RIP)" },
};

/* Keyed by the global's symbol, so that a release's hints may cover
 * globals GORT_GLOBALS does not list yet (test_gort checks them all). */
struct hint {
	const char *sym;	/* the global */
	const char *fn;		/* the runtime function */
	unsigned char insn[3];	/* REX.W, opcode, ModRM */
	unsigned count;		/* times insn occurs in fn */
	unsigned nth;		/* the one that refers to the global, 0.. */
	uint64_t addend;	/* the instruction refers to sym + addend */
	enum gort_sec sec;	/* where the global lives */
	uint64_t size;		/* bytes it spans at least */
};

struct hints {
	int major, minor;
	const struct hint *h;
	size_t n;
};

/* go1.19 (runtime/proc.go, runtime2.go, mstats.go, mgc.go, mprof.go), as
 * objdump shows them:
 *   forEachG:      lock(&allglock); for _, gp := range allgs
 *                  48 8b 0d  mov allgs(%rip), %rcx (the slice's array)
 *   forEachGRace:  ptr, n := atomicAllG(); n is allglen
 *                  48 8b 0d  mov allglen(%rip), %rcx
 *   mcommoninit:   mp.alllink = allm
 *                  48 8b 0d  mov allm(%rip), %rcx
 *   waitReason.String: return waitReasonStrings[w]
 *                  48 8d 15  lea waitReasonStrings(%rip), %rdx
 *   newBucket:     persistentalloc(..., &memstats.buckhash_sys)
 *                  48 8d 0d  lea memstats+0xdf0(%rip), %rcx
 *   traceHeapGoal: heapGoal := gcController.heapGoal()
 *                  48 8d 05  lea gcController(%rip), %rax
 *   getempty.func1: mheap_.spanalloc.alloc() under systemstack
 *                  48 8d 05  lea mheap_(%rip), %rax
 *   preemptall:    for _, pp := range allp
 *                  48 8b 0d  mov allp(%rip), %rcx
 *   mProf_FlushLocked: for b := mbuckets; b != nil; b = b.allnext
 *                  48 8b 0d  mov mbuckets(%rip), %rcx
 *   profilealloc:  if MemProfileRate != 1 (nextSample)
 *                  48 8b 05  mov MemProfileRate(%rip), %rax
 *   makeBucketArray: roundupsize(sz), inlined: class_to_size[...]
 *                  48 8d 0d  lea class_to_size(%rip), %rcx
 *   mProf_Flush:   mProfCycle.read() (its value, the first field)
 *                  48 8d 1d  lea mProfCycle(%rip), %rbx
 *   putfull:       work.full.push(&b.node)
 *                  48 8d 05  lea work(%rip), %rax */
static const struct hint hints_go1_19[] = {
	{ "runtime.allgs", "runtime.forEachG", { 0x48, 0x8b, 0x0d }, 1, 0, 0,
	  GORT_SEC_BSS, 24 },
	{ "runtime.allglen", "runtime.forEachGRace", { 0x48, 0x8b, 0x0d }, 1,
	  0, 0, GORT_SEC_NOPTRBSS, 8 },
	{ "runtime.allm", "runtime.mcommoninit", { 0x48, 0x8b, 0x0d }, 1, 0, 0,
	  GORT_SEC_BSS, 8 },
	{ "runtime.waitReasonStrings", "runtime.waitReason.String",
	  { 0x48, 0x8d, 0x15 }, 1, 0, 0, GORT_SEC_DATA, 16 },
	{ "runtime.memstats", "runtime.newBucket", { 0x48, 0x8d, 0x0d }, 1, 0,
	  0xdf0, GORT_SEC_NOPTRBSS, 0xdf8 },
	{ "runtime.gcController", "runtime.traceHeapGoal",
	  { 0x48, 0x8d, 0x05 }, 1, 0, 0, GORT_SEC_NOPTRBSS, 8 },
	{ "runtime.mheap_", "runtime.getempty.func1", { 0x48, 0x8d, 0x05 }, 1,
	  0, 0, GORT_SEC_BSS, 8 },
	{ "runtime.allp", "runtime.preemptall", { 0x48, 0x8b, 0x0d }, 1, 0, 0,
	  GORT_SEC_BSS, 24 },
	{ "runtime.mbuckets", "runtime.mProf_FlushLocked",
	  { 0x48, 0x8b, 0x0d }, 1, 0, 0, GORT_SEC_BSS, 8 },
	{ "runtime.MemProfileRate", "runtime.profilealloc",
	  { 0x48, 0x8b, 0x05 }, 1, 0, 0, GORT_SEC_NOPTRBSS, 8 },
	{ "runtime.class_to_size", "runtime.makeBucketArray",
	  { 0x48, 0x8d, 0x0d }, 1, 0, 0, GORT_SEC_NOPTRDATA, 136 },
	{ "runtime.mProfCycle", "runtime.mProf_Flush", { 0x48, 0x8d, 0x1d }, 1,
	  0, 0, GORT_SEC_NOPTRBSS, 4 },
	{ "runtime.work", "runtime.putfull", { 0x48, 0x8d, 0x05 }, 1, 0, 0,
	  GORT_SEC_BSS, 8 },
};

static const struct hints releases[] = {
	{ 1, 19, hints_go1_19, sizeof(hints_go1_19) / sizeof(hints_go1_19[0]) },
};

#define NRELEASES (sizeof(releases) / sizeof(releases[0]))

static const char *const sec_names[GORT_NSECS] = {
	[GORT_SEC_DATA] = ".data",
	[GORT_SEC_BSS] = ".bss",
	[GORT_SEC_NOPTRDATA] = ".noptrdata",
	[GORT_SEC_NOPTRBSS] = ".noptrbss",
};

/* The form of insn, or NULL when it is not one we decode: REX.W (and
 * maybe R), a known opcode, ModRM mod=00 rm=101. */
static const struct form *
insn_form(const unsigned char *insn)
{
	size_t i;

	if ((insn[0] & 0xf8) != 0x48 || (insn[2] & 0xc7) != 0x05)
		return NULL;
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		if (forms[i].op == insn[1])
			return &forms[i];
	return NULL;
}

/* The global h refers to, or 0 with why filled. */
static uint64_t
decode_one(struct elfimg *img, const struct hint *h,
	   const struct gort_secs *secs, char *why, size_t whylen)
{
	const struct form *f = insn_form(h->insn);
	const unsigned char *c;
	struct go_fn fn;
	uint64_t addr = 0, next;
	unsigned found = 0;
	size_t len, i, ilen;
	int32_t disp;

	if (!f) {
		snprintf(why, whylen, "bad hint for %s",
			 h->sym);
		return 0;
	}
	if (!go_fn_by_name(img, h->fn, &fn)) {
		snprintf(why, whylen, "%s: no single function %s",
			 h->sym, h->fn);
		return 0;
	}
	len = fn.end - fn.entry;
	if (len > MAX_FN_BYTES)
		len = MAX_FN_BYTES;
	c = elfimg_vaddr_bytes(img, fn.entry, &len);
	ilen = 3 + 4 + f->imm;
	for (i = 0; c && i + ilen <= len; i++) {
		if (memcmp(c + i, h->insn, 3) != 0)
			continue;
		if (found++ != h->nth)
			continue;
		memcpy(&disp, c + i + 3, 4);
		next = fn.entry + i + ilen;
		addr = next + (uint64_t)(int64_t)disp - h->addend;
	}
	if (found != h->count) {
		snprintf(why, whylen,
			 "%s: %u instructions %02x %02x %02x (%s) in %s, "
			 "where the release has %u", h->sym,
			 found, h->insn[0], h->insn[1], h->insn[2],
			 f->mnemonic, h->fn, h->count);
		return 0;
	}
	if (!gort_in_sec(secs, h->sec, addr, h->size)) {
		snprintf(why, whylen, "%s: %s refers to %#llx, not in %s",
			 h->sym, h->fn,
			 (unsigned long long)addr, sec_names[h->sec]);
		return 0;
	}
	return addr;
}

/* The hints of major.minor, or NULL with why filled. */
static const struct hints *
release_hints(int major, int minor, char *why, size_t whylen)
{
	char known[64];
	size_t i, used;

	for (i = 0; i < NRELEASES; i++)
		if (releases[i].major == major && releases[i].minor == minor)
			return &releases[i];
	known[0] = '\0';
	for (i = 0, used = 0; i < NRELEASES && used < sizeof(known); i++)
		used += (size_t)snprintf(known + used, sizeof(known) - used,
					 "%sgo%d.%d", i ? ", " : "",
					 releases[i].major, releases[i].minor);
	snprintf(why, whylen,
		 "go%d.%d without a symbol table: profd finds the runtime's "
		 "globals of stripped %s binaries only; build without "
		 "-ldflags=-s", major, minor, known);
	return NULL;
}

/* sym decoded with r's hint and secs, or 0 with one filled. */
static uint64_t
decode_sym(struct elfimg *img, const struct hints *r,
	   const struct gort_secs *secs, const char *sym, char *one,
	   size_t onelen)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->h[i].sym, sym) == 0)
			return decode_one(img, &r->h[i], secs, one, onelen);
	snprintf(one, onelen, "%s: no hint for go%d.%d", sym, r->major,
		 r->minor);
	return 0;
}

size_t
gort_hint_symbols(int major, int minor, const char **out, size_t max)
{
	const struct hints *r;
	char why[256];
	size_t i;

	r = release_hints(major, minor, why, sizeof(why));
	for (i = 0; r && i < r->n && i < max; i++)
		out[i] = r->h[i].sym;
	return r ? i : 0;
}

int
gort_decode_symbol(struct elfimg *img, int major, int minor, const char *sym,
		   uint64_t *addr, char *why, size_t whylen)
{
	const struct hints *r;
	struct gort_secs secs;

	*addr = 0;
	if (whylen)
		why[0] = '\0';
	r = release_hints(major, minor, why, whylen);
	if (!r)
		return -ENOTSUP;
	if (gort_sections(img, &secs) < 0) {
		snprintf(why, whylen, "no section headers");
		return -ESRCH;
	}
	*addr = decode_sym(img, r, &secs, sym, why, whylen);
	return *addr ? 0 : -ESRCH;
}

int
gort_decode_globals(struct elfimg *img, int major, int minor,
		    uint64_t global[GORT_NGLOBALS], char *why, size_t whylen)
{
	const struct hints *r;
	struct gort_secs secs;
	char one[256];
	size_t g;
	int rc = 0;

	if (whylen)
		why[0] = '\0';
	for (g = 0; g < GORT_NGLOBALS; g++)
		global[g] = 0;
	r = release_hints(major, minor, why, whylen);
	if (!r)
		return -ENOTSUP;
	if (gort_sections(img, &secs) < 0) {
		snprintf(why, whylen, "no section headers: cannot place the "
			 "runtime's globals; build without -ldflags=-s");
		return -ESRCH;
	}
	for (g = 0; g < GORT_NGLOBALS; g++) {
		one[0] = '\0';
		global[g] = decode_sym(img, r, &secs, gort_global_names[g],
				       one, sizeof(one));
		if (!global[g]) {
			if (rc == 0)
				snprintf(why, whylen,
					 "stripped go%d.%d binary: %s; build "
					 "without -ldflags=-s", major, minor,
					 one);
			rc = -ESRCH;
		}
	}
	return rc;
}
