/* path.c - lexical join and clean of file names (see path.h). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "common/path.h"

/* Append the components of s to buf[0..*n), cleaning as they come: buf
 * holds a clean path so far (no trailing '/' unless it is the root "/"),
 * and *keep is the length of its leading part that ".." may not remove
 * (the root, or a run of leading ".." of a relative path). Returns false
 * when buf is full. */
static bool
append_clean(char *buf, size_t len, size_t *n, size_t *keep, const char *s)
{
	while (*s) {
		size_t cl;

		while (*s == '/')
			s++;
		cl = strcspn(s, "/");
		if (cl == 0 || (cl == 1 && s[0] == '.')) {
			s += cl;
			continue;
		}
		if (cl == 2 && s[0] == '.' && s[1] == '.') {
			s += cl;
			if (*n > *keep) {
				/* drop the last component, and its '/' */
				while (*n > *keep && buf[*n - 1] != '/')
					(*n)--;
				if (*n > *keep)	/* not the root's '/' */
					(*n)--;
				continue;
			}
			if (*n > 0 && buf[0] == '/')
				continue;	/* "/.." is "/" */
			/* a relative path climbing out: keep the ".." */
			if (*n + (*n > 0) + 2 >= len)
				return false;
			if (*n > 0)
				buf[(*n)++] = '/';
			buf[(*n)++] = '.';
			buf[(*n)++] = '.';
			*keep = *n;
			continue;
		}
		if (*n + (*n > 0 && buf[*n - 1] != '/') + cl >= len)
			return false;
		if (*n > 0 && buf[*n - 1] != '/')
			buf[(*n)++] = '/';
		memcpy(buf + *n, s, cl);
		*n += cl;
		s += cl;
	}
	return true;
}

int
path_join_clean(char *buf, size_t len, const char *dir, const char *name)
{
	size_t n = 0, keep = 0;
	const char *first = name;

	if (!name)
		return -EINVAL;
	if (name[0] != '/' && dir && dir[0])
		first = dir;
	if (len < 2)
		goto toolong;
	if (first[0] == '/') {
		buf[n++] = '/';
		keep = 1;
	}
	if (first != name && !append_clean(buf, len, &n, &keep, first))
		goto toolong;
	if (!append_clean(buf, len, &n, &keep, name))
		goto toolong;
	if (n == 0)
		buf[n++] = '.';
	buf[n] = '\0';
	return (int)n;
toolong:
	if (len > 0)
		buf[0] = '\0';
	return -ENAMETOOLONG;
}
