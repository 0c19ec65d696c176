/* tls_embed.c - the two compatibility libraries of http/tls/, built by the
 * Makefile and embedded in profd, loaded before civetweb starts TLS (see
 * http/tls/libssl-compat.c for why). */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http/embed.h"
#include "http/http.h"

EMBED(profd_libcrypto_so, PROFD_TLS_DIR "/libcrypto.so");
EMBED(profd_libssl_so, PROFD_TLS_DIR "/libssl.so");

extern const unsigned char profd_libcrypto_so[], profd_libcrypto_so_end[];
extern const unsigned char profd_libssl_so[], profd_libssl_so_end[];

/* Load one embedded library from an anonymous file. Its soname is what
 * civetweb's dlopen() then finds already loaded. The file stays open in
 * *fdp: the loader knows an object by its path too, and /proc/self/fd/N
 * of a closed N would name the next library the same. */
static int
load(const char *name, const unsigned char *b, const unsigned char *e,
     int *fdp, char *err, size_t errlen)
{
	char path[64];
	size_t len = (size_t)(e - b), off = 0;
	void *h;
	int fd;

	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "TLS: memfd_create: %s", strerror(errno));
		return -1;
	}
	while (off < len) {
		ssize_t n = write(fd, b + off, len - off);

		if (n <= 0) {
			snprintf(err, errlen, "TLS: writing %s: %s", name,
				 strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	*fdp = fd;
	if (!h) {
		snprintf(err, errlen,
			 "TLS needs OpenSSL 3 (Debian's libssl3): %s", dlerror());
		return -1;
	}
	return 0;	/* kept loaded for the life of the process */
}

int
http_tls_preload(char *err, size_t errlen)
{
	static int done;
	int fd1 = -1, fd2 = -1, r = -1;

	if (done)
		return 0;
	if (load("libcrypto.so", profd_libcrypto_so, profd_libcrypto_so_end,
		 &fd1, err, errlen) == 0 &&
	    load("libssl.so", profd_libssl_so, profd_libssl_so_end, &fd2, err,
		 errlen) == 0)
		r = 0;
	if (fd1 >= 0)
		close(fd1);
	if (fd2 >= 0)
		close(fd2);
	done = r == 0;
	return r;
}
