/* space.c - one process's address space: its maps, the ELF images behind
 * its executable files, the vDSO copied once, and reads of file-backed
 * memory served from those images.
 *
 * Images are opened per file, not per mapping: a library's r--, r-x and
 * rw- mappings share one image, and so do all processes mapping it
 * (elfimg.c's registry). Non-executable mappings get the image of their
 * file only when the same file is also mapped executable: the unwinder
 * reads .eh_frame_hdr and .eh_frame from a library's r-- segment, but
 * data files (locale-archive, fonts, databases) are never opened.
 *
 * Only the sampler thread uses a space (space.h), so nothing here
 * locks.
 */
#include "space/space.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/errmsg.h"
#include "common/sorted.h"

/* vDSOs are a few pages; refuse to copy anything unreasonable. */
#define VDSO_MAX_BYTES (16UL << 20)

/* A file mapped executable somewhere in the process, and its image. */
struct fileid {
	unsigned int major, minor;
	uint64_t inode;
	const struct pmap *first;	/* an executable mapping of it */
	struct elfimg *img;		/* one reference, or NULL */
};

/* What space_attach() stores: a cell of its own, so that a const space
 * can take it. */
struct attachment {
	void *data;
	void (*free_fn)(void *data);
};

struct space {
	pid_t pid;
	uint64_t generation;
	struct pmaps maps;
	struct elfimg **pimg;	/* per maps.v entry; borrowed from ids */
	struct fileid *ids;	/* sorted by (inode, major, minor) */
	size_t nids;
	struct module *mods;
	size_t nmods;
	const struct module *main_mod;
	struct elfimg *vdso;	/* one reference */
	uint64_t vdso_start, vdso_end;
	struct attachment *att;	/* never NULL after space_new() */
	bool exe_known;		/* /proc/PID/exe at the last refresh */
	dev_t exe_dev;
	ino_t exe_ino;
};

static bool
is_file(const struct pmap *m)
{
	return m->path[0] == '/';
}

static int
cmp_fileid(const void *a, const void *b)
{
	const struct fileid *x = a, *y = b;
	int r = cmp_u64(x->inode, y->inode);

	if (r == 0)
		r = cmp_u64(x->major, y->major);
	return r ? r : cmp_u64(x->minor, y->minor);
}

static struct fileid *
find_id(struct fileid *ids, size_t n, const struct pmap *m)
{
	struct fileid key = {
		.major = m->dev_major,
		.minor = m->dev_minor,
		.inode = m->inode,
	};

	if (!n)
		return NULL;
	return bsearch(&key, ids, n, sizeof(*ids), cmp_fileid);
}

struct space *
space_new(pid_t pid)
{
	struct space *sp;

	space_lib_init();
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return NULL;
	sp->pid = pid;
	sp->att = calloc(1, sizeof(*sp->att));
	if (!sp->att) {
		free(sp);
		return NULL;
	}
	return sp;
}

/* The files mapped executable in m, sorted, each with an image: the one
 * the previous refresh had (same device and inode in the same process is
 * the same file) or a newly opened one. A file that cannot be opened
 * keeps img NULL. Returns NULL only when out of memory. */
static struct fileid *
collect_ids(const struct space *sp, const struct pmaps *m, size_t *nids)
{
	struct fileid *ids, *old;
	char ebuf[SPACE_ERRLEN];
	size_t i, n = 0, k;

	ids = calloc(m->n ? m->n : 1, sizeof(*ids));
	if (!ids)
		return NULL;
	for (i = 0; i < m->n; i++) {
		const struct pmap *pm = &m->v[i];

		if (!(pm->prot & PROT_EXEC) || !is_file(pm))
			continue;
		ids[n].major = pm->dev_major;
		ids[n].minor = pm->dev_minor;
		ids[n].inode = pm->inode;
		ids[n].first = pm;
		n++;
	}
	qsort(ids, n, sizeof(*ids), cmp_fileid);
	for (i = 0, k = 0; i < n; i++) {
		if (k && cmp_fileid(&ids[k - 1], &ids[i]) == 0) {
			if (ids[i].first->start < ids[k - 1].first->start)
				ids[k - 1].first = ids[i].first;
			continue;
		}
		ids[k++] = ids[i];
	}
	n = k;

	for (i = 0; i < n; i++) {
		old = find_id(sp->ids, sp->nids, ids[i].first);
		if (old && old->img)
			ids[i].img = elfimg_get(old->img);
		else
			/* A file we cannot read (permissions, not ELF) is
			 * listed without an image; the refresh goes on. */
			ids[i].img = elfimg_open(sp->pid, ids[i].first, ebuf,
						 sizeof(ebuf));
	}
	*nids = n;
	return ids;
}

static struct elfimg *
copy_vdso(pid_t pid, const struct pmap *pm)
{
	char ebuf[SPACE_ERRLEN];
	struct iovec local, remote;
	size_t len = pm->end - pm->start;
	void *buf;

	if (len == 0 || len > VDSO_MAX_BYTES)
		return NULL;
	buf = malloc(len);
	if (!buf)
		return NULL;
	/* The same bytes for every process on this kernel, so the image is
	 * shared by build-id. Reading needs ptrace access, as sampling
	 * does. */
	local.iov_base = buf;
	local.iov_len = len;
	remote.iov_base = (void *)(uintptr_t)pm->start;
	remote.iov_len = len;
	if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != (ssize_t)len) {
		free(buf);
		return NULL;
	}
	return elfimg_from_memory(buf, len, "[vdso]", ebuf, sizeof(ebuf));
}

static bool
same_modules(const struct module *a, size_t na, const struct module *b,
	     size_t nb)
{
	size_t i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (a[i].start != b[i].start || a[i].end != b[i].end ||
		    a[i].offset != b[i].offset || a[i].img != b[i].img ||
		    a[i].anon != b[i].anon || a[i].vdso != b[i].vdso ||
		    strcmp(a[i].path, b[i].path) != 0)
			return false;
	return true;
}

/* Overlayfs before Linux 6.x shows the lower file's device and inode in
 * maps but the overlay's through /proc/PID/exe; the path agrees. */
static const struct module *
main_by_path(pid_t pid, const struct module *mods, size_t n)
{
	static const char deleted[] = " (deleted)";
	char link[64], target[PATH_MAX];
	ssize_t len;
	size_t i;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	len = readlink(link, target, sizeof(target) - 1);
	if (len <= 0)
		return NULL;
	target[len] = '\0';
	if ((size_t)len > sizeof(deleted) - 1 &&
	    strcmp(target + len - (sizeof(deleted) - 1), deleted) == 0)
		target[len - (sizeof(deleted) - 1)] = '\0';
	for (i = 0; i < n; i++)
		if (!mods[i].anon && !mods[i].vdso &&
		    strcmp(mods[i].path, target) == 0)
			return &mods[i];
	return NULL;
}

static void
put_ids(struct fileid *ids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		elfimg_put(ids[i].img);
	free(ids);
}

/* Whether the new maps are another program's: the executable is another
 * file, or the same one mapped elsewhere, or the vDSO moved (each exec
 * gets a new address space, randomized; a binary replaced on disk is
 * still the file the process runs). */
static bool
execed(const struct space *sp, bool have_exe, const struct stat *est,
       const struct module *main_mod, uint64_t vdso_start)
{
	if (sp->exe_known && have_exe &&
	    (est->st_dev != sp->exe_dev || est->st_ino != sp->exe_ino))
		return true;
	if (sp->main_mod && main_mod && sp->main_mod->start != main_mod->start)
		return true;
	return sp->vdso && vdso_start && sp->vdso_start != vdso_start;
}

/* What one refresh builds; installed in the space as a whole, or freed. */
struct layout {
	struct pmaps maps;
	struct fileid *ids;
	size_t nids;
	struct elfimg **pimg;	/* per maps.v entry; borrowed from ids */
	struct module *mods;
	size_t nmods;
	const struct module *main_mod;
	struct elfimg *vdso;	/* one reference, or NULL */
	uint64_t vdso_start, vdso_end;
	bool have_exe;		/* est holds /proc/PID/exe's stat */
	struct stat est;
};

static void
layout_free(struct layout *l)
{
	if (l->ids)
		put_ids(l->ids, l->nids);
	elfimg_put(l->vdso);
	free(l->pimg);
	free(l->mods);
	pmaps_free(&l->maps);
}

/* Every mapping's image (the one of its file, when the file is mapped
 * executable somewhere), and the vDSO: the previous copy when it has not
 * moved, else a new one. */
static void
map_images(const struct space *sp, struct layout *l)
{
	size_t i;

	for (i = 0; i < l->maps.n; i++) {
		const struct pmap *pm = &l->maps.v[i];
		struct fileid *id;

		if (is_file(pm)) {
			id = find_id(l->ids, l->nids, pm);
			l->pimg[i] = id ? id->img : NULL;
		} else if (strcmp(pm->path, "[vdso]") == 0 && !l->vdso) {
			if (sp->vdso && sp->vdso_start == pm->start &&
			    sp->vdso_end == pm->end)
				l->vdso = elfimg_get(sp->vdso);
			else
				l->vdso = copy_vdso(sp->pid, pm);
			if (l->vdso) {
				l->vdso_start = pm->start;
				l->vdso_end = pm->end;
			}
		}
	}
}

/* m's image and its bias, or no image when no PT_LOAD maps m's offset. */
static void
set_image(struct module *md, struct elfimg *img, const struct pmap *pm)
{
	md->img = img;
	if (md->img && elfimg_bias_prot(md->img, pm->start, pm->offset, true,
					&md->bias) < 0)
		md->img = NULL;
}

/* A module per executable mapping, and which one is the main
 * executable's. */
static void
build_modules(const struct space *sp, struct layout *l)
{
	size_t i;

	for (i = 0; i < l->maps.n; i++) {
		const struct pmap *pm = &l->maps.v[i];
		struct module *md;

		if (!(pm->prot & PROT_EXEC) ||
		    strcmp(pm->path, "[vsyscall]") == 0)
			continue;	/* [vsyscall] cannot be read */
		md = &l->mods[l->nmods++];
		md->start = pm->start;
		md->end = pm->end;
		md->offset = pm->offset;
		md->path = pm->path;
		if (is_file(pm)) {
			set_image(md, l->pimg[i], pm);
			if (!l->main_mod && l->have_exe &&
			    l->est.st_ino == pm->inode &&
			    l->est.st_dev == makedev(pm->dev_major,
						     pm->dev_minor))
				l->main_mod = md;
		} else if (strcmp(pm->path, "[vdso]") == 0) {
			md->vdso = true;
			set_image(md, pm->start == l->vdso_start ? l->vdso :
								   NULL,
				  pm);
		} else {
			/* JIT code, [heap] or [stack] made executable,
			 * [anon:NAME] */
			md->anon = true;
		}
	}
	if (!l->main_mod)
		l->main_mod = main_by_path(sp->pid, l->mods, l->nmods);
}

/* Make l the space's state; what the space had is released and l is
 * left empty. */
static void
install(struct space *sp, struct layout *l)
{
	put_ids(sp->ids, sp->nids);
	elfimg_put(sp->vdso);
	free(sp->pimg);
	free(sp->mods);
	pmaps_free(&sp->maps);
	sp->maps = l->maps;
	sp->ids = l->ids;
	sp->nids = l->nids;
	sp->pimg = l->pimg;
	sp->mods = l->mods;
	sp->nmods = l->nmods;
	sp->main_mod = l->main_mod;
	sp->vdso = l->vdso;
	sp->vdso_start = l->vdso_start;
	sp->vdso_end = l->vdso_end;
	sp->exe_known = l->have_exe;
	if (l->have_exe) {
		sp->exe_dev = l->est.st_dev;
		sp->exe_ino = l->est.st_ino;
	}
	memset(l, 0, sizeof(*l));
}

static int
refresh(struct space *sp, bool stop_at_exec, char *err, size_t errlen)
{
	struct layout l = { 0 };
	char exe[64];
	int rc, changed;

	rc = pmaps_read(sp->pid, &l.maps, err, errlen);
	if (rc < 0)
		return rc;

	l.ids = collect_ids(sp, &l.maps, &l.nids);
	l.pimg = calloc(l.maps.n ? l.maps.n : 1, sizeof(*l.pimg));
	l.mods = calloc(l.maps.n ? l.maps.n : 1, sizeof(*l.mods));
	if (!l.ids || !l.pimg || !l.mods) {
		errmsg(err, errlen, "pid %d: refresh: %s", (int)sp->pid,
		       strerror(ENOMEM));
		layout_free(&l);
		return -ENOMEM;
	}
	map_images(sp, &l);
	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)sp->pid);
	l.have_exe = stat(exe, &l.est) == 0;
	build_modules(sp, &l);

	if (stop_at_exec &&
	    execed(sp, l.have_exe, &l.est, l.main_mod, l.vdso_start)) {
		layout_free(&l);
		return SPACE_EXECED;
	}
	changed = !same_modules(sp->mods, sp->nmods, l.mods, l.nmods);
	install(sp, &l);
	if (changed)
		sp->generation++;
	return changed;
}

int
space_refresh(struct space *sp, char *err, size_t errlen)
{
	return refresh(sp, false, err, errlen);
}

int
space_refresh_unless_exec(struct space *sp, char *err, size_t errlen)
{
	return refresh(sp, true, err, errlen);
}

uint64_t
space_generation(const struct space *sp)
{
	return sp->generation;
}

const struct pmaps *
space_maps(const struct space *sp)
{
	return &sp->maps;
}

const struct module *
space_modules(const struct space *sp, size_t *n)
{
	*n = sp->nmods;
	return sp->mods;
}

const struct module *
space_module(const struct space *sp, uint64_t addr)
{
	size_t lo = 0, hi = sp->nmods;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct module *m = &sp->mods[mid];

		if (addr < m->start)
			hi = mid;
		else if (addr >= m->end)
			lo = mid + 1;
		else
			return m;
	}
	return NULL;
}

const struct module *
space_main_module(const struct space *sp)
{
	return sp->main_mod;
}

size_t
space_read(const struct space *sp, uint64_t addr, void *buf, size_t len)
{
	unsigned char *dst = buf;
	size_t done = 0;

	/* A range may run from one mapping into the next (the r-- and r-x
	 * mappings of one file are adjacent), so go mapping by mapping. */
	while (done < len) {
		uint64_t a = addr + done, off;
		const struct pmap *pm = pmaps_find(&sp->maps, a);
		const struct elfimg *img;
		size_t n, ilen;

		if (!pm)
			break;
		if (sp->vdso && pm->start == sp->vdso_start &&
		    pm->end == sp->vdso_end) {
			img = sp->vdso;
			off = a - pm->start;
		} else {
			img = sp->pimg[pm - sp->maps.v];
			off = a - pm->start + pm->offset;
		}
		/* Past the end of a file the kernel maps zeroes or faults;
		 * neither is in the image. */
		if (!img)
			break;
		elfimg_bytes(img, &ilen);
		if (off >= ilen)
			break;
		n = len - done;
		if (n > pm->end - a)
			n = (size_t)(pm->end - a);
		if (n > ilen - off)
			n = (size_t)(ilen - off);
		memcpy(dst + done, elfimg_at(img, off, n), n);
		done += n;
	}
	return done;
}

void *
space_attachment(const struct space *sp)
{
	return sp->att->data;
}

void
space_attach(const struct space *sp, void *data, void (*free_fn)(void *data))
{
	sp->att->data = data;
	sp->att->free_fn = free_fn;
}

pid_t
space_pid(const struct space *sp)
{
	return sp->pid;
}

void
space_free(struct space *sp)
{
	if (!sp)
		return;
	put_ids(sp->ids, sp->nids);
	elfimg_put(sp->vdso);
	if (sp->att->data && sp->att->free_fn)
		sp->att->free_fn(sp->att->data);
	free(sp->att);
	free(sp->pimg);
	free(sp->mods);
	pmaps_free(&sp->maps);
	free(sp);
}
