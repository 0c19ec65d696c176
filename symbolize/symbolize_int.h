/* symbolize_int.h - what the files of symbolize/ share with each other and
 * with nobody else.
 *
 * Files and who calls whom (no circle): dwarf.c (symbolize()) calls
 * gosym.c, debuginfod.c and demangle.c; perfmap.c stands alone; all of
 * them use space/, none is called by it.
 *
 * Locks: sym_lock (dwarf.c) guards every image's cache and all libdw use.
 * space/'s registry lock is taken before it: symbolize_shutdown() takes
 * sym_lock inside elfimg_each(), and the last elfimg_put() frees an
 * image's cache (taking sym_lock) after dropping the registry lock. So
 * nothing under sym_lock may open, take or drop an image.
 */
#ifndef PROFD_SYMBOLIZE_INT_H
#define PROFD_SYMBOLIZE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "symbolize/symbolize.h"

/* debuginfod.c: one-time set-up of symbolize/ (space/'s libelf set-up,
 * DEBUGINFOD_URLS unset). Every entry point that can reach libdw calls
 * it first. Any thread; see symbolize_init() about the environment. */
void sym_init(void);

/* debuginfod.c: bound the downloads of dwfl's debuginfod client, when
 * symbolize_set_debuginfod() turned debuginfod on. Call right after
 * dwfl_begin(), under sym_lock. */
struct Dwfl;
void sym_debuginfod_setup(struct Dwfl *dwfl);

/* debuginfod.c: the debug file with GNU build-id build_id_hex from the
 * debuginfod servers, as an fd the caller owns, or -1 (off, not found,
 * timed out). Under sym_lock. */
int sym_debuginfod_find(struct Dwfl *dwfl, const char *build_id_hex);

/* gosym.c: frames at ELF vaddr from img's .gopclntab, inline frames
 * first (innermost first), then the function that owns the code; at most
 * max (>= 1). Strings point into the image's mapping and live as long as
 * img. Returns the number of frames, 0 when vaddr is not Go code; *entry
 * is then the function's entry. Any thread; no lock. */
size_t go_sym_frames(struct elfimg *img, uint64_t vaddr, struct sym_frame *fr,
		     size_t max, uint64_t *entry);

#endif /* PROFD_SYMBOLIZE_INT_H */
