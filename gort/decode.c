/* decode.c - runtime globals of a stripped Go binary, decoded from the
 * instructions of runtime functions that use them. */
#include "gort/gort_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int
gort_decode_globals(struct elfimg *img, int major, int minor,
		    uint64_t global[GORT_NGLOBALS], char *why, size_t whylen)
{
	(void)img;
	memset(global, 0, sizeof(uint64_t) * GORT_NGLOBALS);
	snprintf(why, whylen,
		 "go%d.%d without a symbol table: profd cannot find the "
		 "runtime's globals yet; build without -ldflags=-s",
		 major, minor);
	return -ENOTSUP;
}
