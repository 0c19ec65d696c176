/* lateload - code that appears after profiling started: libhot.so is
 * dlopen()ed only once a trigger file exists, then the thread spins in it.
 * Built with -O1 -g and a $ORIGIN run path, without linking libhot.so, so
 * that nothing of the library is mapped before the trigger.
 *
 * Usage: lateload TRIGGER_FILE [ALARM_SECONDS]
 *
 * Prints "ready PID", spins in wait_loop (looking for TRIGGER_FILE about
 * every millisecond), then loads build/targets/libhot.so, prints "loaded",
 * and spins in the library for good.
 *
 * Expected stacks, innermost first:
 *   before the trigger: wait_loop, main
 *   after:              lib_hot, lib_outer (libhot.so), call_lib, main
 */
#include <dlfcn.h>

#include "target.h"

typedef unsigned long (*outer_fn)(unsigned long);

static volatile unsigned long sink = 1;

static NOINLINE void
wait_loop(const char *trigger)
{
	for (;;) {
		for (int i = 0; i < 200000; i++)
			sink = sink * 6364136223846793005UL + 1;
		if (access(trigger, F_OK) == 0)
			return;
	}
}

static NOINLINE void
call_lib(outer_fn outer)
{
	for (;;)
		sink = outer(sink);
}

int
main(int argc, char **argv)
{
	void *h;
	outer_fn outer;

	if (argc < 2) {
		fprintf(stderr, "usage: lateload TRIGGER_FILE [ALARM_SECONDS]\n");
		return 64;
	}
	target_init(argc > 2 ? argv[2] : NULL);
	target_ready();
	wait_loop(argv[1]);
	/* found through the executable's run path, $ORIGIN */
	h = dlopen("libhot.so", RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	*(void **)&outer = dlsym(h, "lib_outer");
	if (!outer) {
		fprintf(stderr, "dlsym lib_outer: %s\n", dlerror());
		return 1;
	}
	printf("loaded\n");
	fflush(stdout);
	call_lib(outer);
	return 0;
}
