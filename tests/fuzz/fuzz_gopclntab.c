/* fuzz_gopclntab - Go's .gopclntab reader (space/gopclntab.c, and the
 * names symbolize/gosym.c reads through it), the
 * table a Go target carries for its own tracebacks: the input is the
 * section (and the inline-tree bytes and some code), wrapped into an ELF
 * image by goelf.h, opened as a memory image. Then what the unwinder and
 * the symbolizer ask of it: go_func_at() and go_sym_frames() at the
 * functions the table lists (entry, entry + 1, last byte) and a few
 * addresses around the text start, and symbolize() at two of them.
 */
#include "tests/fuzz/fuzz.h"

#include "space/space.h"
#include "symbolize/symbolize.h"
#include "symbolize/symbolize_int.h"
#include "tests/fuzz/goelf.h"

#define MAX_ADDRS 32

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	symbolize_init();
	return 0;
}

static size_t
addrs_of(const struct goelf_parts *pt, uint64_t *a)
{
	uint64_t base, text = goelf_text(pt, &base);
	uint64_t nfunc = goelf_le(pt->pcln, pt->pcln_len, 8, 8);
	uint64_t tab = goelf_le(pt->pcln, pt->pcln_len, 64, 8), i;
	size_t n = 0;

	a[n++] = text;
	a[n++] = text + 1;
	a[n++] = text - 1;
	a[n++] = text + 0x40;
	for (i = 0; i < nfunc && i < 8 && tab < pt->pcln_len; i++) {
		uint64_t e = goelf_le(pt->pcln, pt->pcln_len, tab + 8 * i, 4);
		uint64_t next = goelf_le(pt->pcln, pt->pcln_len,
					 tab + 8 * (i + 1), 4);

		a[n++] = text + e;
		a[n++] = text + e + 1;
		a[n++] = text + next - 1;
	}
	return n;
}

static void
frames(struct elfimg *img, uint64_t vaddr, size_t max)
{
	struct sym_frame fr[16];
	uint64_t entry = 0;
	size_t n, i;

	n = go_sym_frames(img, vaddr, fr, max, &entry);
	FUZZ_ASSERT(n <= max, "%zu frames in %zu", n, max);
	for (i = 0; i < n; i++) {
		fuzz_touch(fr[i].name);
		fuzz_touch(fr[i].system_name);
		fuzz_touch(fr[i].file);
		FUZZ_ASSERT(fr[i].start_line >= 0, "start_line %d",
			    fr[i].start_line);
	}
}

static void
lookup(struct elfimg *img, uint64_t vaddr)
{
	struct go_func_info gi;

	if (go_func_at(img, vaddr, &gi) == 0) {
		FUZZ_ASSERT(gi.entry <= vaddr && vaddr < gi.end,
			    "%#llx outside [%#llx, %#llx)",
			    (unsigned long long)vaddr,
			    (unsigned long long)gi.entry,
			    (unsigned long long)gi.end);
		FUZZ_ASSERT(gi.spdelta >= 0 && gi.spdelta % 8 == 0,
			    "spdelta %d", (int)gi.spdelta);
	}
	frames(img, vaddr, 16);
	frames(img, vaddr, 2);
	frames(img, vaddr, 1);
}

static void
sym(struct elfimg *img, uint64_t vaddr)
{
	struct sym_info si;
	size_t i;

	if (symbolize(img, vaddr, &si) < 0)
		return;
	for (i = 0; i < si.n; i++) {
		fuzz_touch(si.frames[i].name);
		fuzz_touch(si.frames[i].system_name);
		fuzz_touch(si.frames[i].file);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct goelf_parts pt;
	uint64_t addrs[MAX_ADDRS];
	char err[SYM_ERRLEN];
	struct elfimg *img;
	uint8_t *elf;
	size_t len, n, i;

	goelf_split(data, size, &pt);
	elf = goelf_build(&pt, &len);
	FUZZ_ASSERT(elf != NULL, "out of memory");
	img = elfimg_from_memory(elf, len, "[fuzz-go]", err, sizeof(err));
	FUZZ_ASSERT(img != NULL, "the wrapper is not ELF: %s", err);
	if (elfimg_is_go(img)) {
		n = addrs_of(&pt, addrs);
		for (i = 0; i < n; i++)
			lookup(img, addrs[i]);
		sym(img, addrs[0]);
		if (n > 4)
			sym(img, addrs[4]);
	}
	elfimg_put(img);
	return 0;
}
