/* errmsg.c - fill a caller's error buffer (see errmsg.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "common/errmsg.h"

void
errmsg(char *err, size_t errlen, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	errno = saved;
}
