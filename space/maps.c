/* maps.c - /proc/PID/maps parsed into an array of struct pmap.
 *
 * The kernel prints one mapping per line (fs/proc/task_mmu.c,
 * show_map_vma):
 *
 *   start-end perms offset major:minor inode<padding>path
 *
 * Addresses, offset and device numbers are hex without "0x", the inode is
 * decimal, and the path is padded to a column and printed by
 * seq_file_path(), which escapes only '\n' (as "\012"). Paths may contain
 * spaces, so the path is everything after the padding; unlinked files get
 * a " (deleted)" suffix. Anonymous mappings have no path; the kernel's own
 * are named [heap], [stack], [vdso], [vvar], [vsyscall], and named
 * anonymous memory is [anon:NAME].
 */
#include "space/space.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/errmsg.h"
#include "common/hex.h"
#include "common/sorted.h"

/* A JVM with a million mappings prints about 100 MiB; beyond 1 GiB
 * something is wrong. */
#define MAPS_MAX_BYTES	(1UL << 30)
#define MAPS_READ_CHUNK	(64 * 1024)

static const char deleted_suffix[] = " (deleted)";

static bool
parse_dec(const char **pp, const char *end, uint64_t *val)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (p == end || *p < '0' || *p > '9')
		return false;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		unsigned int d = (unsigned int)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*pp = p;
	*val = v;
	return true;
}

static bool
expect(const char **pp, const char *end, char c)
{
	if (*pp == end || **pp != c)
		return false;
	(*pp)++;
	return true;
}

/* Parse one line [p, end) (no newline) into *m; the path is copied to
 * strbuf, which has room for it. Returns NULL or what was wrong. */
static const char *
parse_line(const char *p, const char *end, struct pmap *m, char *strbuf)
{
	uint64_t v;
	const char *path;
	size_t plen;

	memset(m, 0, sizeof(*m));
	if (!hex_u64(&p, end, &m->start) || !expect(&p, end, '-') ||
	    !hex_u64(&p, end, &m->end) || !expect(&p, end, ' '))
		return "bad address range";
	if (m->end < m->start)
		return "end below start";

	if (end - p < 5)
		return "bad permissions";
	if (p[0] == 'r')
		m->prot |= PROT_READ;
	else if (p[0] != '-')
		return "bad permissions";
	if (p[1] == 'w')
		m->prot |= PROT_WRITE;
	else if (p[1] != '-')
		return "bad permissions";
	if (p[2] == 'x')
		m->prot |= PROT_EXEC;
	else if (p[2] != '-')
		return "bad permissions";
	if (p[3] == 's')
		m->shared = true;
	else if (p[3] != 'p')
		return "bad permissions";
	p += 4;
	if (!expect(&p, end, ' '))
		return "bad permissions";

	if (!hex_u64(&p, end, &m->offset) || !expect(&p, end, ' '))
		return "bad offset";

	if (!hex_u64(&p, end, &v) || v > UINT32_MAX)
		return "bad device";
	m->dev_major = (unsigned int)v;
	if (!expect(&p, end, ':') || !hex_u64(&p, end, &v) ||
	    v > UINT32_MAX)
		return "bad device";
	m->dev_minor = (unsigned int)v;

	if (!expect(&p, end, ' ') || !parse_dec(&p, end, &m->inode))
		return "bad inode";

	/* Anonymous mappings end right after the inode on some kernels and
	 * after the padding on others. */
	if (p != end && *p != ' ')
		return "bad inode";
	while (p != end && *p == ' ')
		p++;
	path = p;
	plen = (size_t)(end - p);

	if (plen > sizeof(deleted_suffix) - 1 &&
	    memcmp(end - (sizeof(deleted_suffix) - 1), deleted_suffix,
		   sizeof(deleted_suffix) - 1) == 0) {
		plen -= sizeof(deleted_suffix) - 1;
		m->deleted = true;
	}
	memcpy(strbuf, path, plen);
	strbuf[plen] = '\0';
	m->path = strbuf;
	return NULL;
}

static int
cmp_start(const void *a, const void *b)
{
	const struct pmap *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

int
pmaps_parse(const char *text, size_t len, struct pmaps *out, char *err,
	    size_t errlen)
{
	const char *p = text, *end = text + len;
	size_t nlines = 1, lineno = 0, n = 0, strused = 0;
	struct pmap *v;
	char *strs;
	bool sorted = true;

	if (!text && len)
		return -EINVAL;
	for (const char *q = text; q && q < end; q++)
		nlines += *q == '\n';

	/* One block: the array, then every path. Each path fits in its own
	 * line, and the line's newline (or the final extra byte) holds the
	 * path's NUL, so len + 1 bytes of strings always suffice. */
	if (nlines > (SIZE_MAX - len - 1) / sizeof(*v)) {
		errmsg(err, errlen, "maps: %zu lines: too many", nlines);
		return -E2BIG;
	}
	v = malloc(nlines * sizeof(*v) + len + 1);
	if (!v) {
		errmsg(err, errlen, "maps: malloc: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	strs = (char *)(v + nlines);

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *why;

		if (!eol)
			eol = end;
		lineno++;
		if (eol == p) {		/* blank line */
			p = eol + 1;
			continue;
		}
		why = parse_line(p, eol, &v[n], strs + strused);
		if (why) {
			errmsg(err, errlen, "maps: line %zu: %s: \"%.*s\"",
			       lineno, why, (int)(eol - p > 80 ? 80 : eol - p),
			       p);
			free(v);
			return -EINVAL;
		}
		strused += strlen(v[n].path) + 1;
		if (n > 0 && v[n].start < v[n - 1].start)
			sorted = false;
		n++;
		p = eol + 1;
	}

	/* The kernel prints mappings in address order; a list that is not
	 * (a hand-made fixture) is sorted so that pmaps_find() works. */
	if (!sorted)
		qsort(v, n, sizeof(*v), cmp_start);
	if (n == 0) {
		free(v);
		v = NULL;
	}
	out->v = v;
	out->n = n;
	return 0;
}

/* Double *buf, up to MAPS_MAX_BYTES. */
static int
grow(char **buf, size_t *cap)
{
	size_t ncap = *cap ? *cap * 2 : MAPS_READ_CHUNK;
	char *nbuf;

	if (ncap > MAPS_MAX_BYTES)
		return -E2BIG;
	nbuf = realloc(*buf, ncap);
	if (!nbuf)
		return -ENOMEM;
	*buf = nbuf;
	*cap = ncap;
	return 0;
}

int
pmaps_read(pid_t pid, struct pmaps *out, char *err, size_t errlen)
{
	char path[64];
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t r;
	int fd, rc;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = errno == ENOENT ? -ESRCH : -errno;
		errmsg(err, errlen, "pid %d: open %s: %s", (int)pid, path,
		       strerror(-rc));
		return rc;
	}

	/* seq_file returns whole lines, often less than asked; keep reading
	 * until EOF. The kernel resumes after the last address it printed,
	 * so the text stays in address order even while the target maps
	 * and unmaps. */
	for (;;) {
		if (cap - len < MAPS_READ_CHUNK / 2) {
			rc = grow(&buf, &cap);
			if (rc < 0) {
				errmsg(err, errlen, "pid %d: read %s: %s",
				       (int)pid, path,
				       rc == -E2BIG ? "larger than 1 GiB" :
						       strerror(-rc));
				goto out;
			}
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = errno == ENOENT ? -ESRCH : -errno;
			errmsg(err, errlen, "pid %d: read %s: %s", (int)pid,
			       path, strerror(-rc));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}

	/* A process that has exited (a zombie, or one whose mm went away
	 * between open and read) has an empty maps file. */
	if (len == 0) {
		errmsg(err, errlen, "pid %d: %s is empty: process exited",
		       (int)pid, path);
		rc = -ESRCH;
		goto out;
	}
	rc = pmaps_parse(buf, len, out, err, errlen);
out:
	free(buf);
	close(fd);
	return rc;
}

void
pmaps_free(struct pmaps *m)
{
	if (!m)
		return;
	free(m->v);		/* the paths live in the same block */
	m->v = NULL;
	m->n = 0;
}

const struct pmap *
pmaps_find(const struct pmaps *m, uint64_t addr)
{
	size_t i;

	if (!m)
		return NULL;
	/* The last mapping starting at or below addr. */
	i = sorted_last_le(m->v, m->n, sizeof(*m->v),
			   offsetof(struct pmap, start), addr);
	if (i < m->n && addr < m->v[i].end)
		return &m->v[i];
	return NULL;
}
