/* gosym.c - names, files, lines and inline frames of Go code, from Go's
 * own symbol table (.gopclntab), for Go binaries with or without DWARF.
 *
 * space/gopclntab.c finds the table and decodes its structure; this file
 * reads what it says about a PC as frames: names as Go prints them
 * (main.crunch, hash/fnv.(*sum64a).Write), the source position of every
 * PC and the inline tree (runtime/symtab.go of Go 1.18 to 1.26). It is
 * what dwarf.c falls back to where no DWARF function covers an address.
 */
#include "symbolize/symbolize.h"
#include "symbolize/symbolize_int.h"

#include <string.h>

/* Inline expansion deeper than this is cut (Go's own limit is far lower
 * in practice: the inliner's budget keeps chains short). */
#define GO_MAX_INLINE	32

/* File and line of pc in fn; "" and 0 when unknown. */
static void
file_line(const struct gopcln *g, const struct go_fn *fn, uint64_t pc,
	  const char **file, int *line)
{
	int32_t fileno, ln;
	const char *s = NULL;

	*file = "";
	*line = 0;
	if (go_pcvalue(g, fn->pcfile, fn, pc, &fileno))
		s = go_filename(g, fn->cuoffset, fileno);
	if (s)
		*file = s;
	if (go_pcvalue(g, fn->pcln, fn, pc, &ln) && ln > 0)
		*line = ln;
}

size_t
go_sym_frames(struct elfimg *img, uint64_t vaddr, struct sym_frame *fr,
	      size_t max, uint64_t *entry)
{
	const struct gopcln *g;
	struct go_inl inl;
	struct go_fn fn;
	uint64_t pc = vaddr;
	size_t n = 0;
	const char *name;

	g = go_table(img);
	if (!g || max == 0 || !go_fn_find(g, vaddr, &fn))
		return 0;
	*entry = fn.entry;

	/* Inline frames, innermost first: the PC's own position belongs to
	 * the innermost inlined function; each tree entry names that
	 * function and gives parentPc, an instruction of the caller whose
	 * position is the call site and whose tree index is the caller's
	 * (runtime/symtab.go: runtime_expandFinalInlineFrame). */
	while (n < max - 1 && n < GO_MAX_INLINE &&
	       go_fn_inline(g, &fn, pc, &inl)) {
		name = go_funcname(g, inl.nameoff);
		if (!name || inl.parent_pc < 0 ||
		    (uint64_t)inl.parent_pc >= fn.end - fn.entry)
			break;
		memset(&fr[n], 0, sizeof(fr[n]));
		fr[n].name = fr[n].system_name = name;
		file_line(g, &fn, pc, &fr[n].file, &fr[n].line);
		fr[n].start_line = inl.start_line;
		n++;
		pc = fn.entry + (uint64_t)inl.parent_pc;
	}

	name = go_funcname(g, fn.nameoff);
	memset(&fr[n], 0, sizeof(fr[n]));
	fr[n].name = fr[n].system_name = name ? name : "";
	file_line(g, &fn, pc, &fr[n].file, &fr[n].line);
	fr[n].start_line = fn.start_line;
	return n + 1;
}
