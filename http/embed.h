/* embed.h - a file of the source tree (or of the build) in profd's
 * read-only data, put there by the assembler at build time: EMBED(sym,
 * "path") defines sym[] and sym_end[]. The path is a string literal (the
 * Makefile passes the directory as a -D macro); the object file must
 * depend on the file in the Makefile, or a change to it rebuilds nothing.
 * Internal to http/. */
#ifndef PROFD_HTTP_EMBED_H
#define PROFD_HTTP_EMBED_H

#define EMBED(sym, file)                                                     \
	__asm__(".section .rodata\n"                                         \
		".balign 16\n"                                               \
		".global " #sym "\n"                                         \
		#sym ":\n"                                                   \
		".incbin \"" file "\"\n"                                     \
		".global " #sym "_end\n"                                     \
		#sym "_end:\n"                                               \
		".previous\n")

#endif /* PROFD_HTTP_EMBED_H */
