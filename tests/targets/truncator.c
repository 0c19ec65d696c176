/* truncator - a hostile target: it runs in a shared library, then cuts the
 * library's file short under every process that maps it, profd included.
 *
 * Usage: truncator LIBRARY KEEP_BYTES TRIGGER_FILE [ALARM_SECONDS]
 *
 * dlopen()s LIBRARY (a copy of build/targets/libhot.so the test made),
 * prints "ready PID" and spins in it (lib_outer -> lib_hot). Once
 * TRIGGER_FILE exists, it truncates LIBRARY to KEEP_BYTES (the test passes
 * the end of the executable segment: the code the loop runs stays, the
 * unwind tables after it are gone, and a read of them through a mapping
 * faults with SIGBUS), prints "truncated", and keeps spinning in the
 * library for good.
 *
 * Expected stacks, innermost first: lib_hot, lib_outer (LIBRARY),
 * spin_lib, main.
 */
#include <dlfcn.h>

#include "target.h"

typedef unsigned long (*outer_fn)(unsigned long);

static NOINLINE unsigned long
spin_lib(outer_fn outer, unsigned long x, const char *trigger, int *cut,
	 const char *lib, off_t keep)
{
	for (;;) {
		x = outer(x);
		if (!*cut && access(trigger, F_OK) == 0) {
			if (truncate(lib, keep) != 0) {
				perror("truncate");
				exit(1);
			}
			*cut = 1;
			printf("truncated\n");
			fflush(stdout);
		}
	}
	return x;
}

int
main(int argc, char **argv)
{
	outer_fn outer;
	void *h;
	int cut = 0;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: truncator LIBRARY KEEP_BYTES "
				"TRIGGER_FILE [ALARM_SECONDS]\n");
		return 64;
	}
	target_init(argc > 4 ? argv[4] : NULL);
	h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	*(void **)&outer = dlsym(h, "lib_outer");
	if (!outer) {
		fprintf(stderr, "dlsym lib_outer: %s\n", dlerror());
		return 1;
	}
	target_ready();
	spin_lib(outer, 1, argv[3], &cut, argv[1],
		 (off_t)target_arg(argv[2], "bytes"));
	return 0;
}
