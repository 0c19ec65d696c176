/* perfmap.c - names of JIT-compiled code from the process's perf map.
 *
 * JITs that support perf (V8 with --perf-basic-prof, the JVM with an
 * agent, LuaJIT, .NET with DOTNET_PerfMapEnabled) append one line per
 * piece of generated code to /tmp/perf-PID.map: "START SIZE name", START
 * and SIZE in hex without 0x (linux tools/perf/Documentation/
 * jit-interface.txt). The PID is the process's own, in its PID
 * namespace, and /tmp is the process's: the file is read through
 * /proc/PID/root and named after the last NSpid field of
 * /proc/PID/status (reference/ptrace-sampling.md 6.6, 7.5).
 *
 * "The ownership of the file has to match the process" (same document):
 * anybody can create a file in /tmp, and profd, typically root, must not
 * take names from another user's file nor follow a link to a file the
 * target's user cannot read. The file is opened without following a
 * final symlink and used only when it is a regular file owned by the
 * target's real or effective uid.
 *
 * The JIT only appends, so a lookup that misses reads what was added
 * since the last read; a file that shrank or was replaced (same PID
 * reused, JIT restarted) is read again from the start. When code is
 * moved or freed, a later line may cover addresses of an earlier one:
 * the later line wins.
 *
 * Lookups come from export threads, possibly several at once: one mutex
 * per perf map. The sampler thread only takes and drops references,
 * which are atomic, so it never waits for a read.
 */
#include "symbolize/symbolize.h"
#include "symbolize/symbolize_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/sorted.h"

/* Bounds on what a target can make profd hold: a JVM's map after days of
 * uptime is tens of MiB. */
#define PERFMAP_MAX_BYTES	(256UL << 20)
#define PERFMAP_MAX_ENTRIES	(4UL << 20)
#define PERFMAP_READ_CHUNK	(256 * 1024)
#define PERFMAP_NAME_MAX	1024	/* longer names are cut */

/* How many entries before the nearest start a lookup considers: an older,
 * larger entry may still cover the address. */
#define PERFMAP_LOOKBACK	16

struct pment {
	uint64_t start, end;
	uint64_t seq;		/* line number: later lines win */
	size_t name;		/* offset into names */
};

struct perfmap {
	unsigned long refs;	/* atomic: the sampler thread takes and drops
				   references, and must not wait for a read
				   that holds mu */
	pthread_mutex_t mu;	/* everything below */
	pid_t pid;

	bool have_ids;		/* nspid and uids read */
	pid_t nspid;
	uid_t ruid, euid;
	char path[96];		/* /proc/PID/root/tmp/perf-NSPID.map */

	/* the file as last read */
	bool have_file;
	dev_t dev;
	ino_t ino;
	off_t consumed;		/* bytes parsed (complete lines) */
	struct timespec mtime;
	off_t size;

	struct pment *v;	/* sorted by start, then seq */
	size_t n, cap;
	bool sorted;
	char *names;
	size_t nlen, ncap;
	uint64_t seq;
};

struct perfmap *
perfmap_new(pid_t pid)
{
	struct perfmap *pm;

	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return NULL;
	if (pthread_mutex_init(&pm->mu, NULL) != 0) {
		free(pm);
		errno = ENOMEM;
		return NULL;
	}
	pm->refs = 1;
	pm->pid = pid;
	pm->sorted = true;	/* no entries: read_more() must not qsort(NULL) */
	return pm;
}

/* space_attach()'s free function for the perf map a space keeps. */
static void
put_attached(void *data)
{
	perfmap_put(data);
}

struct perfmap *
space_perfmap(const struct space *sp)
{
	struct perfmap *pm = space_attachment(sp);

	if (!pm) {
		pm = perfmap_new(space_pid(sp));
		if (pm)
			space_attach(sp, pm, put_attached);
	}
	return pm;
}

struct perfmap *
perfmap_get(struct perfmap *pm)
{
	if (pm)
		__atomic_add_fetch(&pm->refs, 1, __ATOMIC_RELAXED);
	return pm;
}

static void
drop_entries(struct perfmap *pm)
{
	free(pm->v);
	free(pm->names);
	pm->v = NULL;
	pm->names = NULL;
	pm->n = pm->cap = pm->nlen = pm->ncap = 0;
	pm->sorted = true;
	pm->have_file = false;
	pm->consumed = 0;
}

void
perfmap_put(struct perfmap *pm)
{
	if (!pm || __atomic_sub_fetch(&pm->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	drop_entries(pm);
	pthread_mutex_destroy(&pm->mu);
	free(pm);
}

/* The numbers of the "Key:\tn1\tn2..." line of a status file, at most
 * max of them (the last one kept in vals[max - 1]). */
static bool
status_field(const char *text, const char *key, long *vals, int max, int *n)
{
	const char *p = strstr(text, key);
	char *end;
	long v;

	*n = 0;
	if (!p || (p != text && p[-1] != '\n'))
		return false;
	p += strlen(key);
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			break;
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno || end == p)
			break;
		if (*n < max)
			vals[(*n)++] = v;
		else
			vals[max - 1] = v;	/* keep the last */
		p = end;
	}
	return *n > 0;
}

/* The target's PID in its own namespace and its uids, from
 * /proc/PID/status; NSpid exists since Linux 4.1, without it the PID is
 * ours. */
static int
read_ids(struct perfmap *pm)
{
	char path[64], buf[4096];
	long v[8];
	ssize_t len;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pm->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -ESRCH;
	buf[len] = '\0';
	pm->nspid = pm->pid;
	if (status_field(buf, "NSpid:", v, 8, &n))
		pm->nspid = (pid_t)v[n - 1];
	if (!status_field(buf, "Uid:", v, 8, &n) || n < 2)
		return -EINVAL;
	pm->ruid = (uid_t)v[0];
	pm->euid = (uid_t)v[1];
	/* inside the target's root: rootfile_open() resolves it there */
	snprintf(pm->path, sizeof(pm->path), "/tmp/perf-%d.map",
		 (int)pm->nspid);
	pm->have_ids = true;
	return 0;
}

static int
cmp_pment(const void *a, const void *b)
{
	const struct pment *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A hex number, with an optional 0x: some JITs write it anyway. */
static bool
parse_hex(const char **pp, const char *end, uint64_t *out)
{
	const char *p = *pp;

	if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	if (!hex_u64(&p, end, out))
		return false;
	*pp = p;
	return true;
}

/* Add the line [p, end) (no newline). Malformed lines are skipped, as perf
 * does. -ENOMEM, -E2BIG. */
static int
add_line(struct perfmap *pm, const char *p, const char *end)
{
	uint64_t start, size;
	size_t len;
	struct pment *e;

	if (!parse_hex(&p, end, &start) || p == end || *p != ' ')
		return 0;
	p++;
	if (!parse_hex(&p, end, &size) || p == end || *p != ' ' || size == 0 ||
	    start + size < start)
		return 0;
	p++;
	len = (size_t)(end - p);
	if (len > PERFMAP_NAME_MAX)
		len = PERFMAP_NAME_MAX;
	if (len == 0)
		return 0;
	if (pm->n >= PERFMAP_MAX_ENTRIES)
		return -E2BIG;
	if (pm->n == pm->cap) {
		size_t nc = pm->cap ? pm->cap * 2 : 1024;
		struct pment *nv = realloc(pm->v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		pm->v = nv;
		pm->cap = nc;
	}
	if (pm->ncap - pm->nlen < len + 1) {
		size_t nc = pm->ncap ? pm->ncap * 2 : 64 * 1024;
		char *nn;

		while (nc - pm->nlen < len + 1)
			nc *= 2;
		nn = realloc(pm->names, nc);
		if (!nn)
			return -ENOMEM;
		pm->names = nn;
		pm->ncap = nc;
	}
	e = &pm->v[pm->n];
	e->start = start;
	e->end = start + size;
	e->seq = pm->seq++;
	e->name = pm->nlen;
	memcpy(pm->names + pm->nlen, p, len);
	pm->names[pm->nlen + len] = '\0';
	pm->nlen += len + 1;
	if (pm->n && cmp_pment(&pm->v[pm->n - 1], e) > 0)
		pm->sorted = false;
	pm->n++;
	return 0;
}

/* Parse complete lines from fd starting at pm->consumed. */
static int
read_more(struct perfmap *pm, int fd, off_t size)
{
	char *buf;
	size_t have = 0;
	off_t pos = pm->consumed;
	int rc = 0;

	buf = malloc(PERFMAP_READ_CHUNK);
	if (!buf)
		return -ENOMEM;
	while (pos + (off_t)have < size) {
		ssize_t n;
		char *p, *nl, *lim;

		n = pread(fd, buf + have, PERFMAP_READ_CHUNK - have,
			  pos + (off_t)have);
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		lim = buf + have;
		for (p = buf; (nl = memchr(p, '\n', (size_t)(lim - p)));
		     p = nl + 1) {
			rc = add_line(pm, p, nl);
			if (rc < 0)
				goto out;
		}
		/* keep the partial last line for the next read */
		if (p == buf && have == PERFMAP_READ_CHUNK) {
			/* a line longer than the buffer: skip it */
			pos += (off_t)have;
			have = 0;
			continue;
		}
		pos += p - buf;
		have = (size_t)(lim - p);
		memmove(buf, p, have);
	}
out:
	/* A partial last line is the JIT writing it now: next time. */
	pm->consumed = pos;
	free(buf);
	if (!pm->sorted) {
		qsort(pm->v, pm->n, sizeof(*pm->v), cmp_pment);
		pm->sorted = true;
	}
	return rc;
}

/* Bring the entries up to date with the file. 0, or -errno (-ENOENT:
 * no perf map, -EPERM: owned by someone else). */
static int
refresh(struct perfmap *pm)
{
	struct stat st;
	int fd, rc;

	if (!pm->have_ids) {
		rc = read_ids(pm);
		if (rc < 0)
			return rc;
	}
	/* Resolved inside the target's root; a symlink as the file itself is
	 * not its JIT's file (ROOTFILE_NOFOLLOW), nor is a FIFO or anything
	 * but a regular file, nor one over the cap. */
	fd = rootfile_open(pm->pid, pm->path, ROOTFILE_NOFOLLOW,
			   PERFMAP_MAX_BYTES, &st);
	if (fd < 0) {
		rc = fd;
		if (rc == -ELOOP || rc == -EFTYPE_PROFD)
			rc = -EPERM;
		else if (rc == -EFBIG)
			rc = -E2BIG;
		return rc;
	}
	if (st.st_uid != pm->ruid && st.st_uid != pm->euid) {
		rc = -EPERM;
		goto out;
	}
	if (st.st_size > (off_t)PERFMAP_MAX_BYTES) {
		rc = -E2BIG;
		goto out;
	}
	if (pm->have_file &&
	    (st.st_dev != pm->dev || st.st_ino != pm->ino ||
	     st.st_size < pm->consumed))
		drop_entries(pm);	/* replaced or truncated */
	if (pm->have_file && st.st_size == pm->size &&
	    st.st_mtim.tv_sec == pm->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == pm->mtime.tv_nsec) {
		rc = 0;			/* nothing new */
		goto out;
	}
	pm->have_file = true;
	pm->dev = st.st_dev;
	pm->ino = st.st_ino;
	pm->size = st.st_size;
	pm->mtime = st.st_mtim;
	rc = read_more(pm, fd, st.st_size);
out:
	close(fd);
	return rc;
}

/* The newest entry covering addr, or NULL. */
static const struct pment *
find(const struct perfmap *pm, uint64_t addr)
{
	const struct pment *best = NULL;
	size_t lo, j;

	lo = sorted_last_le(pm->v, pm->n, sizeof(*pm->v),
			    offsetof(struct pment, start), addr);
	if (lo == pm->n)
		return NULL;
	for (j = lo + 1; j-- > 0 && lo - j < PERFMAP_LOOKBACK;) {
		const struct pment *e = &pm->v[j];

		if (addr < e->end && (!best || e->seq > best->seq))
			best = e;
	}
	return best;
}

int
perfmap_lookup(struct perfmap *pm, uint64_t addr, char *name, size_t namelen,
	       uint64_t *start)
{
	const struct pment *e;
	int rc = 0;

	if (!pm || !name || namelen == 0)
		return -EINVAL;
	pthread_mutex_lock(&pm->mu);
	e = find(pm, addr);
	if (!e) {
		/* Code compiled since the last read, or never read yet. */
		rc = refresh(pm);
		e = find(pm, addr);
	}
	if (e) {
		snprintf(name, namelen, "%s", pm->names + e->name);
		if (start)
			*start = e->start;
		rc = 0;
	} else if (rc == 0) {
		rc = -ENOENT;
	}
	pthread_mutex_unlock(&pm->mu);
	return rc;
}
