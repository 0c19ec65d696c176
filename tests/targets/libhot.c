/* libhot - a shared library whose hot loop is a static (non-exported)
 * function, so its name can only come from .symtab or DWARF, not .dynsym.
 * Built with -O2 -fPIC -fomit-frame-pointer -shared.
 *
 * Expected stack, innermost first: lib_hot, lib_outer (then shlib.c's
 * run_work, main).
 */
#include "libhot.h"

#define NOINLINE __attribute__((noinline, noclone))

static NOINLINE unsigned long
lib_hot(unsigned long x)
{
	for (int i = 0; i < 1000000; i++)
		x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9UL;
	return x;
}

NOINLINE unsigned long
lib_outer(unsigned long x)
{
	return lib_hot(x) + 1;	/* "+ 1": not a tail call */
}
