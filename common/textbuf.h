/* textbuf.h - the growing text buffer the text answers (/metrics,
 * /targets, thread dumps, SVG flame graphs) are printed into (textbuf.c).
 *
 * Ownership: the caller owns the struct and frees b.s with free().
 * Threads: one at a time. Errors: after an allocation failure the buffer
 * stays failed (oom) and later prints do nothing; the caller checks oom
 * once at the end and reports it. Never logs.
 */
#ifndef PROFD_COMMON_TEXTBUF_H
#define PROFD_COMMON_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>

/* Zero-initialize before the first print. s is malloc'd, NUL-terminated
 * once anything was printed. */
struct textbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

/* Append printf-formatted text. */
void textbuf_printf(struct textbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append s[0..n) as a JSON string, quoted and escaped. */
void textbuf_json(struct textbuf *b, const char *s, size_t n);

#endif /* PROFD_COMMON_TEXTBUF_H */
