/* libcrypto-compat.c - "libcrypto.so" for civetweb's dlopen, needing the
 * real libcrypto.so.3 (see libssl-compat.c). Without Debian's libssl-dev,
 * which only adds the unversioned symlinks, civetweb finds no libcrypto.so
 * at all; this one stands in for it. It defines nothing of its own. */
int profd_libcrypto_compat;
