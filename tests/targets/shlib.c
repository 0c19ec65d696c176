/* shlib - the hot loop is in a shared library, build/targets/libhot.so
 * (found through the executable's $ORIGIN run path).
 *
 * Usage: shlib [ALARM_SECONDS]
 *
 * Expected stack, innermost first:
 *   lib_hot (libhot.so), lib_outer (libhot.so), run_work, main
 */
#include "libhot.h"
#include "target.h"

static volatile unsigned long sink = 1;

static NOINLINE void
run_work(void)
{
	for (;;)
		sink = lib_outer(sink);
}

int
main(int argc, char **argv)
{
	target_init(argc > 1 ? argv[1] : NULL);
	target_ready();
	run_work();
	return 0;
}
