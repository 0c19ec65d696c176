/* textbuf.c - see textbuf.h: the growing text buffer the text answers
 * (/metrics, /targets, thread dumps) are printed into. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/textbuf.h"

void
textbuf_printf(struct textbuf *b, const char *fmt, ...)
{
	va_list ap;
	size_t nc;
	char *ns;
	int n;

	while (!b->oom) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL,
			      b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if (b->s && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		nc = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
		ns = realloc(b->s, nc);
		if (!ns) {
			b->oom = true;
			return;
		}
		b->s = ns;
		b->cap = nc;
	}
}

void
textbuf_json(struct textbuf *b, const char *s, size_t n)
{
	size_t i;

	textbuf_printf(b, "\"");
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			textbuf_printf(b, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			textbuf_printf(b, "\\u%04x", ch);
		else
			textbuf_printf(b, "%c", ch);
	}
	textbuf_printf(b, "\"");
}
