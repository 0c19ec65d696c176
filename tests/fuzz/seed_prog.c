/* seed_prog - a small program whose compiled forms (DWARF 4 and 5,
 * compressed debug sections, symbols only, an object file) seed
 * fuzz_elf; the Makefile builds them into build-fuzz/seeds/elf/. It has
 * what symbolize/dwarf.c looks for: inlined calls two deep, a static
 * function, a global one and a nested scope. */
#include <stdio.h>
#include <stdlib.h>

static volatile unsigned long sink;

static inline __attribute__((always_inline)) unsigned long
leaf(unsigned long x)
{
	return x * 2654435761UL + 1;
}

static inline __attribute__((always_inline)) unsigned long
mid(unsigned long x)
{
	unsigned long r = 0;

	for (unsigned long i = 0; i < x; i++)
		r ^= leaf(i + x);
	return r;
}

static __attribute__((noinline)) unsigned long
work(unsigned long n)
{
	{
		unsigned long t = mid(n);

		sink += t;
	}
	return sink;
}

unsigned long seed_entry(unsigned long n);

__attribute__((noinline)) unsigned long
seed_entry(unsigned long n)
{
	return work(n) + mid(n / 2);
}

int
main(int argc, char **argv)
{
	printf("%lu\n", seed_entry(argc > 1 ? strtoul(argv[1], NULL, 0) :
						 10));
	return 0;
}
