/* errmsg - the one way a module fills a caller's error buffer.
 *
 * Modules that never log (space/, symbolize/, unwind/) report a failure
 * as -errno and, where the caller passes one, a message in a buffer of the
 * caller's: "object: call: cause". Pure; any thread; never logs.
 */
#ifndef PROFD_COMMON_ERRMSG_H
#define PROFD_COMMON_ERRMSG_H

#include <stddef.h>

/* Format into err (errlen bytes; err may be NULL or errlen 0, then
 * nothing is written) like snprintf. errno is preserved. */
void errmsg(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* PROFD_COMMON_ERRMSG_H */
