/* hex - hexadecimal digits and numbers, as /proc/PID/maps, perf maps and
 * pprof's /symbol requests write them.
 *
 * Pure functions: no allocation, any thread, never log.
 */
#ifndef PROFD_COMMON_HEX_H
#define PROFD_COMMON_HEX_H

#include <stdbool.h>
#include <stdint.h>

/* The value of one hex digit (either case), or -1. */
int hex_digit(char c);

/* Reads 1 to 16 hex digits at *pp (not past end), stopping at the first
 * other character: true with *out set and *pp moved past them; false
 * (nothing changed) when there is no digit or more than 16. */
bool hex_u64(const char **pp, const char *end, uint64_t *out);

#endif /* PROFD_COMMON_HEX_H */
