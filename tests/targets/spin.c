/* spin - one thread, one known call chain, -O1.
 *
 * Usage: spin [ALARM_SECONDS]
 *
 * Expected stack, innermost first:
 *   spin_leaf, spin_mid, spin_root, main
 */
#include "target.h"

static volatile unsigned long sink;

static NOINLINE void
spin_leaf(void)
{
	for (;;)
		sink++;
}

static NOINLINE void
spin_mid(void)
{
	spin_leaf();
	sink++;		/* not a tail call: spin_mid stays on the stack */
}

static NOINLINE void
spin_root(void)
{
	spin_mid();
	sink++;
}

int
main(int argc, char **argv)
{
	target_init(argc > 1 ? argv[1] : NULL);
	target_ready();		/* the workload is this thread: it starts now */
	spin_root();
	return 0;
}
