/* demangle.c - C++ and Rust symbol names made readable, with libiberty.
 *
 * libiberty's cplus_demangle() with DMGL_AUTO tries Rust first (legacy
 * "_ZN...17h<hash>E" names overlap with the C++ ABI) and then C++; it
 * drops the legacy hash unless DMGL_VERBOSE is given, and understands
 * Rust v0 ("_R...") names, which __cxa_demangle does not
 * (reference/ptrace-sampling.md 7.4). This file is on its own because
 * <libiberty/libiberty.h> redefines basename().
 *
 * Names are demangled without parameter lists, as perf report and c++filt
 * -p print them ("geo::Accumulator<double>::run"): that is what a
 * profile's reader compares against, and what pprof itself does with
 * C++ names. Overloads stay distinct functions in the profile because
 * system_name keeps the mangled name.
 */
#include "symbolize/symbolize.h"

#include <stdlib.h>

#include <libiberty/demangle.h>

char *
sym_demangle(const char *name)
{
	if (!name || name[0] != '_' || (name[1] != 'Z' && name[1] != 'R'))
		return NULL;
	/* The result comes from malloc/realloc (cp-demangle.c,
	 * rust-demangle.c), so the caller's free() is right. */
	return cplus_demangle(name, DMGL_ANSI | DMGL_AUTO);
}
