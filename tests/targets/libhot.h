/* libhot.h - the shared library behind the shlib test target. */
#ifndef PROFD_LIBHOT_H
#define PROFD_LIBHOT_H

/* Run the library's hot loop once from x; returns the new state. */
unsigned long lib_outer(unsigned long x);

#endif /* PROFD_LIBHOT_H */
