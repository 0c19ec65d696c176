/* elfimg.c - ELF files mapped read-only, one object per file, shared by
 * every process and mapping that uses the file.
 *
 * An image is found again by its GNU build-id, or, before the file is even
 * parsed, by its identity (st_dev, st_ino, st_size, st_mtime): the libc
 * of a hundred processes is opened a hundred times (one open + fstat each)
 * but mapped and parsed once. Files are reached through the target's
 * /proc/PID/map_files or /proc/PID/root, never through a path as profd's
 * own mount namespace sees it (reference/ptrace-sampling.md 7.1, 7.5).
 *
 * libelf only reads the headers here (PT_LOADs, PT_GNU_EH_FRAME, the
 * build-id note); the Elf handle is closed again. DWARF and symbol tables
 * are symbolize/'s business: it keeps its caches in the image's slots,
 * which the image frees through the free function each slot registered,
 * so nothing here calls into a user of the images.
 */
#include "space/space.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <elfutils/libdwelf.h>

#include "common/errmsg.h"

/* One PT_LOAD program header list, the build-id and the unwind tables'
 * copy of one file; shared by every process that maps it. */
struct elfimg {
	struct elfimg *prev, *next;	/* registry list; reg_lock */
	unsigned long refs;		/* reg_lock */

	char *path;		/* as in maps (or the memory image's name) */
	pid_t pid;		/* opener: its /proc/PID/root holds debug
				   files of containers; 0 for memory images */
	int fd;			/* -1 for memory images */
	unsigned char *data;	/* whole file (mmap) or the malloc'd copy */
	size_t len;
	bool mapped;		/* data came from mmap() */

	bool has_fid;		/* file identity below is valid */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;

	char build_id[BUILDID_MAX * 2 + 1];	/* lowercase hex or "" */
	char go_build_id[GO_BUILDID_MAX + 1];	/* the Go note's text or "" */
	unsigned int e_type;
	struct elfseg *loads;
	size_t nloads;
	bool has_eh_frame_hdr;
	uint64_t eh_frame_hdr_vaddr, eh_frame_hdr_size;
	/* a copy of the file's bytes [pin_off, pin_off + pin_len): the
	 * unwind tables, which no truncation can take away
	 * (pin_unwind_tables); NULL when none */
	unsigned char *pin;
	uint64_t pin_off, pin_len;

	/* other modules' state (elfimg_slot_new); atomic pointers */
	void *slot[ELFIMG_SLOTS];
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static uint64_t page_size = 4096;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct elfimg *reg_head;

/* Slots registered so far and their free functions: free_fns[i] is
 * written before nslots counts it (release), under slot_lock. */
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*free_fns[ELFIMG_SLOTS])(void *data);
static int nslots;

static void
do_init(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	if (ps > 0)
		page_size = (uint64_t)ps;
	/* libelf fails every call until a version has been set. */
	elf_version(EV_CURRENT);
}

void
space_lib_init(void)
{
	pthread_once(&init_once, do_init);
}

uint64_t
space_page_size(void)
{
	return page_size;
}

void
buildid_hex(const void *b, size_t n, char *out)
{
	static const char x[] = "0123456789abcdef";
	const unsigned char *p = b;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = x[p[i] >> 4];
		out[2 * i + 1] = x[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- construction ---------------------------------------------------- */

static struct elfimg *
img_alloc(void)
{
	struct elfimg *img = calloc(1, sizeof(*img));

	if (img)
		img->fd = -1;
	return img;
}

static void
img_destroy(struct elfimg *img)
{
	int i, n;
	void *data;

	if (!img)
		return;
	n = __atomic_load_n(&nslots, __ATOMIC_ACQUIRE);
	for (i = 0; i < n; i++) {
		data = __atomic_load_n(&img->slot[i], __ATOMIC_ACQUIRE);
		if (data && free_fns[i])
			free_fns[i](data);
	}
	free(img->loads);
	free(img->pin);
	if (img->data) {
		if (img->mapped)
			munmap(img->data, img->len);
		else
			free(img->data);
	}
	if (img->fd >= 0)
		close(img->fd);
	free(img->path);
	free(img);
}

/* The Go toolchain's build ID: a note of owner "Go", type 4
 * (NT_GO_BUILDID, in .note.go.buildid), whose text is what `go tool
 * buildid` prints. Copied into out (GO_BUILDID_MAX + 1 bytes) only when
 * it is printable ASCII without quotes or backslashes; out is left ""
 * otherwise. */
#define NT_GO_BUILDID 4

static bool
go_note(Elf_Data *d, char *out)
{
	size_t off = 0, name_off, desc_off, k;
	GElf_Nhdr nh;

	while (d && off < d->d_size &&
	       (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		const char *name = (const char *)d->d_buf + name_off;
		const char *desc = (const char *)d->d_buf + desc_off;

		/* Go's linker writes the name padded: "Go\0\0", n_namesz 4 */
		if (nh.n_type != NT_GO_BUILDID ||
		    (nh.n_namesz != 3 && nh.n_namesz != 4) ||
		    memcmp(name, "Go", 3) != 0 || nh.n_descsz == 0 ||
		    nh.n_descsz > GO_BUILDID_MAX)
			continue;
		for (k = 0; k < nh.n_descsz; k++)
			if (desc[k] <= ' ' || desc[k] > '~' || desc[k] == '"' ||
			    desc[k] == '\\')
				return false;
		memcpy(out, desc, nh.n_descsz);
		out[nh.n_descsz] = '\0';
		return true;
	}
	return false;
}

/* Look for the Go build ID note in SHT_NOTE sections, then in PT_NOTE
 * segments (a file without section headers). */
static void
go_build_id(Elf *elf, size_t phnum, char *out)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Phdr ph;
	size_t i;

	while ((scn = elf_nextscn(elf, scn)) != NULL)
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE &&
		    go_note(elf_getdata(scn, NULL), out))
			return;
	for (i = 0; i < phnum; i++)
		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_NOTE &&
		    go_note(elf_getdata_rawchunk(elf, (int64_t)ph.p_offset,
						 ph.p_filesz, ELF_T_NHDR),
			    out))
			return;
}

/* Fill img's header fields from elf. Returns 0 or -errno. */
static int
img_parse(struct elfimg *img, Elf *elf, char *err, size_t errlen)
{
	GElf_Ehdr eh;
	GElf_Phdr ph;
	size_t phnum, i;
	const void *bid;
	ssize_t bidlen;

	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		errmsg(err, errlen, "%s: not an ELF file", img->path);
		return -ENOEXEC;
	}
	if (elf_getphdrnum(elf, &phnum) != 0) {
		errmsg(err, errlen, "%s: elf_getphdrnum: %s", img->path,
		       elf_errmsg(-1));
		return -ENOEXEC;
	}
	img->e_type = eh.e_type;
	img->loads = calloc(phnum ? phnum : 1, sizeof(*img->loads));
	if (!img->loads) {
		errmsg(err, errlen, "%s: calloc: %s", img->path,
		       strerror(ENOMEM));
		return -ENOMEM;
	}
	for (i = 0; i < phnum; i++) {
		if (!gelf_getphdr(elf, (int)i, &ph))
			continue;
		if (ph.p_type == PT_LOAD) {
			struct elfseg *s = &img->loads[img->nloads++];

			s->vaddr = ph.p_vaddr;
			s->memsz = ph.p_memsz;
			s->offset = ph.p_offset;
			s->filesz = ph.p_filesz;
			s->align = ph.p_align;
			s->flags = ph.p_flags;
		} else if (ph.p_type == PT_GNU_EH_FRAME) {
			img->has_eh_frame_hdr = true;
			img->eh_frame_hdr_vaddr = ph.p_vaddr;
			img->eh_frame_hdr_size = ph.p_memsz;
		}
	}

	/* The NT_GNU_BUILD_ID note, from SHT_NOTE sections or, in files
	 * without section headers, from PT_NOTE segments. */
	bidlen = dwelf_elf_gnu_build_id(elf, &bid);
	if (bidlen > 0 && bidlen <= BUILDID_MAX)
		buildid_hex(bid, (size_t)bidlen, img->build_id);
	else
		go_build_id(elf, phnum, img->go_build_id);
	return 0;
}

/*
 * The unwinder reads .eh_frame_hdr and .eh_frame inside libunwind, which
 * runs our accessors with every signal blocked: there a page of the
 * mapping that the target truncated away would kill profd with SIGBUS, as
 * the handler in daemon/faults.c cannot run (and a truncation takes even
 * a private mapping's copied pages). So the part of the segment that holds
 * them, from .eh_frame_hdr to the segment's end, is copied into profd's
 * own memory when the image is opened (at most PIN_MAX_BYTES; a few
 * hundred KiB typically), and elfimg_at() serves reads from the copy. A
 * truncation before the copy faults here, where the handler runs and the
 * pages read as zeros.
 */
#define PIN_MAX_BYTES (64UL << 20)

static void
pin_unwind_tables(struct elfimg *img)
{
	uint64_t lo = 0, hi = 0;
	size_t i;

	if (!img->has_eh_frame_hdr || !img->data)
		return;
	for (i = 0; i < img->nloads; i++) {
		const struct elfseg *s = &img->loads[i];

		if (img->eh_frame_hdr_vaddr >= s->vaddr &&
		    img->eh_frame_hdr_vaddr < s->vaddr + s->filesz) {
			lo = s->offset + (img->eh_frame_hdr_vaddr - s->vaddr);
			hi = s->offset + s->filesz;
			break;
		}
	}
	if (hi > img->len)
		hi = img->len;
	if (hi <= lo)
		return;
	if (hi - lo > PIN_MAX_BYTES)
		hi = lo + PIN_MAX_BYTES;
	img->pin = malloc(hi - lo);
	if (!img->pin)
		return;		/* the mapping will do */
	memcpy(img->pin, img->data + lo, hi - lo);
	img->pin_off = lo;
	img->pin_len = hi - lo;
}

static bool
same_fid(const struct elfimg *a, const struct elfimg *b)
{
	return a->has_fid && b->has_fid && a->dev == b->dev &&
	       a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Publish img, or return the image already published for the same
 * build-id or file (then img is destroyed). Two threads may open the same
 * file at once; whoever comes second takes the first one's image. */
static struct elfimg *
img_register(struct elfimg *img)
{
	struct elfimg *o;

	pthread_mutex_lock(&reg_lock);
	for (o = reg_head; o; o = o->next) {
		if ((img->build_id[0] &&
		     strcmp(o->build_id, img->build_id) == 0) ||
		    same_fid(o, img))
			break;
	}
	if (o) {
		o->refs++;
		pthread_mutex_unlock(&reg_lock);
		img_destroy(img);
		return o;
	}
	img->refs = 1;
	img->next = reg_head;
	if (reg_head)
		reg_head->prev = img;
	reg_head = img;
	pthread_mutex_unlock(&reg_lock);
	return img;
}

/* The published image of the file fd refers to, with a new reference. */
static struct elfimg *
find_by_fid(const struct stat *st)
{
	struct elfimg key = { 0 }, *o;

	key.has_fid = true;
	key.dev = st->st_dev;
	key.ino = st->st_ino;
	key.size = st->st_size;
	key.mtime = st->st_mtim;
	pthread_mutex_lock(&reg_lock);
	for (o = reg_head; o; o = o->next)
		if (same_fid(o, &key))
			break;
	if (o)
		o->refs++;
	pthread_mutex_unlock(&reg_lock);
	return o;
}

/* Build (or find) the image of regular file fd; fd is consumed. */
static struct elfimg *
img_from_fd(int fd, const struct stat *st, const char *path, pid_t pid,
	    char *err, size_t errlen)
{
	unsigned char magic[SELFMAG];
	struct elfimg *img;
	Elf *elf;
	int rc;

	img = find_by_fid(st);
	if (img) {
		close(fd);
		return img;
	}

	if ((uint64_t)st->st_size > SPACE_FILE_MAX_BYTES) {
		errmsg(err, errlen, "%s: %s", path, rootfile_strerror(-EFBIG));
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	if (st->st_size < (off_t)sizeof(Elf32_Ehdr) ||
	    pread(fd, magic, SELFMAG, 0) != SELFMAG ||
	    memcmp(magic, ELFMAG, SELFMAG) != 0) {
		errmsg(err, errlen, "%s: not an ELF file", path);
		close(fd);
		errno = ENOEXEC;
		return NULL;
	}

	img = img_alloc();
	if (!img || !(img->path = strdup(path))) {
		errmsg(err, errlen, "%s: malloc: %s", path, strerror(ENOMEM));
		close(fd);
		free(img);
		errno = ENOMEM;
		return NULL;
	}
	img->fd = fd;
	img->pid = pid;
	img->has_fid = true;
	img->dev = st->st_dev;
	img->ino = st->st_ino;
	img->size = st->st_size;
	img->mtime = st->st_mtim;
	img->len = (size_t)st->st_size;
	img->data = mmap(NULL, img->len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (img->data == MAP_FAILED) {
		rc = -errno;
		img->data = NULL;
		errmsg(err, errlen, "%s: mmap: %s", path, strerror(-rc));
		goto fail;
	}
	img->mapped = true;

	/* ELF_C_READ_MMAP maps the file read-only and promises libelf will
	 * not write to it; the handle lives only while the headers are
	 * read. */
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	rc = img_parse(img, elf, err, errlen);
	elf_end(elf);
	if (rc < 0)
		goto fail;
	pin_unwind_tables(img);
	return img_register(img);
fail:
	img_destroy(img);
	errno = -rc;
	return NULL;
}

static bool
same_inode(const struct stat *st, const struct pmap *m)
{
	return S_ISREG(st->st_mode) && st->st_ino == m->inode &&
	       st->st_dev == makedev(m->dev_major, m->dev_minor);
}

/* Open m's file at path (inside pid's root, or in ours with pid 0) if it
 * is m's mapped file; -errno (-ESTALE: another file is there now)
 * otherwise. rootfile_open() never follows a link out of the root and
 * opens nothing but a regular file. */
static int
open_checked(pid_t pid, const char *path, const struct pmap *m)
{
	struct stat st;
	int fd;

	fd = rootfile_open(pid, path, pid > 0 ? 0 : ROOTFILE_HOST,
			   SPACE_FILE_MAX_BYTES, &st);
	if (fd < 0)
		return fd;
	if (!same_inode(&st, m)) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/* Open m's file by its path, and make sure it is the mapped file: the
 * path may have been replaced since it was mapped (upgrades rename a new
 * file over the old one). The kernel prints maps paths relative to the
 * reader's root where it can (fs/d_path.c): a process in another mount
 * namespace shows paths of its own, reached inside /proc/PID/root, but a
 * chroot'ed process in ours shows paths from our root. Both are tried.
 * Returns an fd or -1 + errno. */
static int
open_root(pid_t pid, const struct pmap *m, char *err, size_t errlen)
{
	int fd, e;

	fd = open_checked(pid, m->path, m);
	if (fd >= 0)
		return fd;
	e = fd;
	fd = open_checked(0, m->path, m);
	if (fd >= 0)
		return fd;
	if (e == -ESTALE)
		errmsg(err, errlen,
		       "%s: the file at that path in /proc/%d/root is not "
		       "the mapped file (device/inode differ)",
		       m->path, (int)pid);
	else
		errmsg(err, errlen, "%s: open in /proc/%d/root: %s", m->path,
		       (int)pid, rootfile_strerror(e));
	errno = -e;
	return -1;
}

/* The main executable through /proc/PID/exe, when m maps it: like
 * map_files it reaches the mapped inode even after the file was deleted
 * or replaced, but needs only ptrace read access (proc(5)), not
 * CAP_SYS_ADMIN. Returns an fd, or -1 when m is not the executable. */
static int
open_exe(pid_t pid, const struct pmap *m)
{
	char path[64];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !same_inode(&st, m)) {
		close(fd);
		return -1;
	}
	return fd;
}

struct elfimg *
elfimg_open(pid_t pid, const struct pmap *m, char *err, size_t errlen)
{
	char mf[80];
	struct stat st;
	int fd, e;

	space_lib_init();
	if (!m || !m->path || m->path[0] != '/') {
		errmsg(err, errlen, "%s: not a file mapping",
		       m && m->path ? m->path : "(null)");
		errno = EINVAL;
		return NULL;
	}

	/* map_files names the mapped inode itself, even when it was deleted
	 * or replaced; opening it needs CAP_SYS_ADMIN (or
	 * CAP_CHECKPOINT_RESTORE since Linux 5.9) in the initial user
	 * namespace (fs/proc/base.c, proc_map_files_get_link). */
	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
		 (int)pid, m->start, m->end);
	fd = open(mf, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		e = errno;
		if (m->deleted) {
			fd = open_exe(pid, m);
			if (fd < 0) {
				errmsg(err, errlen,
				       "%s (deleted): open %s: %s", m->path,
				       mf, strerror(e));
				errno = e;
				return NULL;
			}
		} else {
			fd = open_root(pid, m, err, errlen);
			if (fd < 0) {
				/* replaced since it was mapped? */
				e = errno;
				fd = open_exe(pid, m);
				if (fd < 0) {
					errno = e;
					return NULL;
				}
			}
		}
	}
	if (fstat(fd, &st) < 0) {
		e = errno;
		errmsg(err, errlen, "%s: fstat: %s", m->path, strerror(e));
		close(fd);
		errno = e;
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		errmsg(err, errlen, "%s: not a regular file", m->path);
		close(fd);
		errno = ENOEXEC;
		return NULL;
	}
	return img_from_fd(fd, &st, m->path, pid, err, errlen);
}

struct elfimg *
elfimg_from_memory(void *data, size_t len, const char *name, char *err,
		   size_t errlen)
{
	struct elfimg *img;
	Elf *elf;
	int rc;

	space_lib_init();
	if (!name)
		name = "[memory]";
	if (!data || len < sizeof(Elf32_Ehdr) ||
	    memcmp(data, ELFMAG, SELFMAG) != 0) {
		errmsg(err, errlen, "%s: not an ELF image", name);
		free(data);
		errno = ENOEXEC;
		return NULL;
	}
	img = img_alloc();
	if (!img) {
		errmsg(err, errlen, "%s: malloc: %s", name, strerror(ENOMEM));
		free(data);
		errno = ENOMEM;
		return NULL;
	}
	img->data = data;
	img->len = len;
	img->path = strdup(name);
	if (!img->path) {
		errmsg(err, errlen, "%s: malloc: %s", name, strerror(ENOMEM));
		rc = -ENOMEM;
		goto fail;
	}
	elf = elf_memory(data, len);
	rc = img_parse(img, elf, err, errlen);
	elf_end(elf);
	if (rc < 0)
		goto fail;
	return img_register(img);
fail:
	img_destroy(img);
	errno = -rc;
	return NULL;
}

/* ---- references -------------------------------------------------------- */

struct elfimg *
elfimg_get(struct elfimg *img)
{
	if (!img)
		return NULL;
	pthread_mutex_lock(&reg_lock);
	img->refs++;
	pthread_mutex_unlock(&reg_lock);
	return img;
}

void
elfimg_put(struct elfimg *img)
{
	bool last;

	if (!img)
		return;
	/* Unpublish under the lock so that no elfimg_open() can find and
	 * revive an image that is being destroyed. */
	pthread_mutex_lock(&reg_lock);
	last = --img->refs == 0;
	if (last) {
		if (img->prev)
			img->prev->next = img->next;
		else
			reg_head = img->next;
		if (img->next)
			img->next->prev = img->prev;
	}
	pthread_mutex_unlock(&reg_lock);
	if (last)
		img_destroy(img);
}

void
elfimg_each(void (*fn)(struct elfimg *img, void *arg), void *arg)
{
	struct elfimg *o;

	pthread_mutex_lock(&reg_lock);
	for (o = reg_head; o; o = o->next)
		fn(o, arg);
	pthread_mutex_unlock(&reg_lock);
}

/* ---- slots ------------------------------------------------------------ */

int
elfimg_slot_new(void (*free_fn)(void *data))
{
	int n;

	pthread_mutex_lock(&slot_lock);
	n = nslots;
	if (n < ELFIMG_SLOTS) {
		free_fns[n] = free_fn;
		__atomic_store_n(&nslots, n + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&slot_lock);
	return n < ELFIMG_SLOTS ? n : -ENOSPC;
}

void *
elfimg_slot(const struct elfimg *img, int slot)
{
	return __atomic_load_n(&img->slot[slot], __ATOMIC_ACQUIRE);
}

void
elfimg_slot_set(struct elfimg *img, int slot, void *data)
{
	__atomic_store_n(&img->slot[slot], data, __ATOMIC_RELEASE);
}

/* ---- accessors ------------------------------------------------------- */

const char *
elfimg_build_id(const struct elfimg *img)
{
	return img->build_id;
}

const char *
elfimg_profile_build_id(const struct elfimg *img)
{
	return img->build_id[0] ? img->build_id : img->go_build_id;
}

const char *
elfimg_path(const struct elfimg *img)
{
	return img->path;
}

pid_t
elfimg_pid(const struct elfimg *img)
{
	return img->pid;
}

int
elfimg_fd(const struct elfimg *img)
{
	return img->fd;
}

const struct elfseg *
elfimg_loads(const struct elfimg *img, size_t *n)
{
	*n = img->nloads;
	return img->loads;
}

const unsigned char *
elfimg_at(const struct elfimg *img, uint64_t off, size_t len)
{
	if (off > img->len || img->len - off < len)
		return NULL;
	if (img->pin && off >= img->pin_off &&
	    off - img->pin_off <= img->pin_len &&
	    img->pin_len - (off - img->pin_off) >= len)
		return img->pin + (off - img->pin_off);
	return img->data + off;
}

const unsigned char *
elfimg_bytes(const struct elfimg *img, size_t *len)
{
	if (len)
		*len = img->len;
	return img->data;
}

const unsigned char *
elfimg_vaddr_bytes(const struct elfimg *img, uint64_t vaddr, size_t *len)
{
	size_t i;

	for (i = 0; i < img->nloads; i++) {
		const struct elfseg *s = &img->loads[i];
		uint64_t off;

		if (vaddr < s->vaddr || vaddr - s->vaddr >= s->filesz)
			continue;
		off = s->offset + (vaddr - s->vaddr);
		if (off >= img->len)
			return NULL;
		if (*len > s->filesz - (vaddr - s->vaddr))
			*len = s->filesz - (vaddr - s->vaddr);
		if (*len > img->len - off)
			*len = img->len - off;
		return img->data + off;
	}
	return NULL;
}

int
elfimg_bias_prot(const struct elfimg *img, uint64_t map_start,
		 uint64_t map_offset, bool exec, uint64_t *bias)
{
	const struct elfseg *best = NULL;
	uint64_t mask = space_page_size() - 1;
	size_t i;

	for (i = 0; i < img->nloads; i++) {
		const struct elfseg *s = &img->loads[i];

		/* The kernel maps a segment from its page-aligned offset
		 * (binfmt_elf.c, elf_map), so that is where a mapping of
		 * the segment starts in the file. */
		if (s->filesz == 0 || map_offset < (s->offset & ~mask) ||
		    map_offset >= s->offset + s->filesz)
			continue;
		if (!best || (((s->flags & PF_X) != 0) == exec &&
			      ((best->flags & PF_X) != 0) != exec))
			best = s;
	}
	if (!best)
		return -ENOENT;
	/* File offset o is at runtime map_start + (o - map_offset) and at
	 * ELF address p_vaddr + (o - p_offset); the difference does not
	 * depend on o. ET_EXEC: map_start and map_offset are p_vaddr and
	 * p_offset rounded down to the same page, so the bias is 0. */
	*bias = map_start - map_offset + best->offset - best->vaddr;
	return 0;
}

int
elfimg_bias(const struct elfimg *img, uint64_t map_start, uint64_t map_offset,
	    uint64_t *bias)
{
	/* Without the mapping's permissions, a page shared by two segments
	 * is resolved in favour of code: biases are wanted for PCs. */
	return elfimg_bias_prot(img, map_start, map_offset, true, bias);
}

int
elfimg_eh_frame_hdr(const struct elfimg *img, uint64_t *vaddr, uint64_t *size)
{
	if (!img->has_eh_frame_hdr)
		return -ENOENT;
	*vaddr = img->eh_frame_hdr_vaddr;
	*size = img->eh_frame_hdr_size;
	return 0;
}

int
elfimg_vaddr_to_offset(const struct elfimg *img, uint64_t vaddr,
		       uint64_t *offset)
{
	size_t i;

	for (i = 0; i < img->nloads; i++) {
		const struct elfseg *s = &img->loads[i];

		if (vaddr >= s->vaddr && vaddr - s->vaddr < s->filesz) {
			*offset = s->offset + (vaddr - s->vaddr);
			return 0;
		}
	}
	return -ENOENT;
}
