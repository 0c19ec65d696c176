/* fuzz_elf - ELF files a target maps (space/elfimg.c), their DWARF and
 * symbol tables (symbolize/dwarf.c, through libdw/libdwfl) and, when they
 * have one, their .gopclntab (space/gopclntab.c).
 *
 * The input is written to a file in a private temporary directory
 * ($TMPDIR, else /dev/shm, else /tmp) and opened as profd opens a
 * target's file: elfimg_open() for this process with a mapping that names
 * the file (map_files has no such range, so the path under /proc/PID/root
 * is used, checked against the device and inode). Then the same bytes go
 * through elfimg_from_memory(), the vDSO's way in, which reaches libdwfl
 * by another route. Each image is asked for: header facts, biases,
 * symbolize() and go_func_at() at the entry, the start, middle and last
 * byte of the first PT_LOADs, seven more spread over the first executable
 * one, the .eh_frame_hdr, and four addresses taken from the input's last
 * 32 bytes. And gort/'s view of a Go binary: gort_info(), and the
 * DWARF walk and the instruction decoding on any image, Go or not.
 */
#include "tests/fuzz/fuzz.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "gort/gort.h"
#include "space/space.h"
#include "symbolize/symbolize.h"

#define MAX_ADDRS 32

static char dir[PATH_MAX - 16];
static char path[PATH_MAX];

static void
cleanup(void)
{
	if (path[0])
		unlink(path);
	if (dir[0])
		rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	symbolize_init();
	/* a file per run: memory is faster than a disk's journal */
	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz_elf.XXXXXX", tmp);
	FUZZ_ASSERT(mkdtemp(dir) != NULL, "mkdtemp %s: %s", dir,
		    strerror(errno));
	snprintf(path, sizeof(path), "%s/img", dir);
	atexit(cleanup);
	return 0;
}

static size_t
addrs_of(const struct elfimg *img, const uint8_t *data, size_t size,
	 uint64_t *a)
{
	const struct elfseg *loads;
	uint64_t v, sz;
	size_t n = 0, i, nloads;

	/* e_entry: at 24 in both classes, 8 or 4 bytes */
	if (size > 4)
		a[n++] = fuzz_le(data, size, 24, data[4] == ELFCLASS32 ? 4 : 8);
	loads = elfimg_loads(img, &nloads);
	for (i = 0; i < nloads && i < 4; i++) {
		a[n++] = loads[i].vaddr;
		a[n++] = loads[i].vaddr + loads[i].memsz / 2;
		a[n++] = loads[i].vaddr + loads[i].memsz - 1;
	}
	/* spread over the first executable segment: several functions */
	for (i = 0; i < nloads; i++) {
		const struct elfseg *s = &loads[i];

		if (s->flags & PF_X) {
			for (v = 1; v < 8; v++)
				a[n++] = s->vaddr + s->memsz / 8 * v + v;
			break;
		}
	}
	if (elfimg_eh_frame_hdr(img, &v, &sz) == 0)
		a[n++] = v;
	for (i = 0; i < 4 && size >= 32; i++)
		a[n++] = fuzz_le(data, size, size - 32 + 8 * i, 8);
	return n;
}

static void
sym(struct elfimg *img, uint64_t vaddr)
{
	struct sym_info si;
	size_t i;

	if (symbolize(img, vaddr, &si) < 0)
		return;
	FUZZ_ASSERT(si.n == 0 || si.frames != NULL, "%zu frames, no array",
		    si.n);
	for (i = 0; i < si.n; i++) {
		fuzz_touch(si.frames[i].name);
		fuzz_touch(si.frames[i].system_name);
		fuzz_touch(si.frames[i].file);
	}
}

/* What gort/ reads of a Go binary's runtime layout. */
static void
go_runtime(struct elfimg *img)
{
	const struct gort_info *gi = gort_info(img);
	uint32_t off[GORT_NFIELDS];
	uint64_t global[GORT_NGLOBALS];
	char why[256];
	size_t i;

	if (gi) {
		FUZZ_ASSERT(memchr(gi->version, '\0', sizeof(gi->version)) &&
			    memchr(gi->why, '\0', sizeof(gi->why)),
			    "unterminated version or why");
		fuzz_touch(gi->version);
		fuzz_touch(gi->why);
		FUZZ_ASSERT(gort_info(img) == gi, "computed twice");
	}
	if (gort_dwarf_fields(img, off, why, sizeof(why)) == 0)
		for (i = 0; i < GORT_NFIELDS; i++)
			FUZZ_ASSERT(off[i] != GORT_NONE, "field %zu", i);
	fuzz_touch(why);
	if (gort_decode_globals(img, 1, 19, global, why, sizeof(why)) == 0)
		for (i = 0; i < GORT_NGLOBALS; i++)
			FUZZ_ASSERT(global[i] != 0, "global %zu", i);
	fuzz_touch(why);
}

static void
exercise(struct elfimg *img, const uint8_t *data, size_t size)
{
	uint64_t addrs[MAX_ADDRS], v, sz, bias, off;
	struct go_func_info gi;
	size_t n, i, len;

	fuzz_touch(elfimg_build_id(img));
	fuzz_touch(elfimg_path(img));
	FUZZ_ASSERT(elfimg_bytes(img, &len) != NULL && len == size,
		    "image of %zu bytes for %zu", len, size);
	elfimg_eh_frame_hdr(img, &v, &sz);
	elfimg_bias(img, 0x7f0000001000, 0, &bias);
	elfimg_bias_prot(img, 0x7f0000001000, 0x1000, false, &bias);
	elfimg_is_go(img);
	n = addrs_of(img, data, size, addrs);
	for (i = 0; i < n; i++) {
		sym(img, addrs[i]);
		go_func_at(img, addrs[i], &gi);
		elfimg_vaddr_to_offset(img, addrs[i], &off);
	}
	/* again: answered from the cache */
	if (n)
		sym(img, addrs[0]);
	go_runtime(img);
}

static void
write_file(const uint8_t *data, size_t size, struct stat *st)
{
	size_t o = 0;
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FUZZ_ASSERT(fd >= 0, "open %s: %s", path, strerror(errno));
	while (o < size) {
		ssize_t k = write(fd, data + o, size - o);

		FUZZ_ASSERT(k > 0, "write %s: %s", path, strerror(errno));
		o += (size_t)k;
	}
	FUZZ_ASSERT(fstat(fd, st) == 0, "fstat: %s", strerror(errno));
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[SYM_ERRLEN];
	struct elfimg *img;
	struct pmap m;
	struct stat st;
	void *copy;

	/* As a file, the way every mapped file is opened. */
	write_file(data, size, &st);
	memset(&m, 0, sizeof(m));
	m.start = 0x10000;	/* no such mapping: not via map_files */
	m.end = 0x10000 + ((size + 4095) & ~(size_t)4095) + 4096;
	m.inode = st.st_ino;
	m.dev_major = major(st.st_dev);
	m.dev_minor = minor(st.st_dev);
	m.prot = PROT_READ | PROT_EXEC;
	m.path = path;
	img = elfimg_open(getpid(), &m, err, sizeof(err));
	if (img) {
		exercise(img, data, size);
		elfimg_put(img);
	} else {
		fuzz_touch(err);
	}
	unlink(path);

	/* As memory, the way the vDSO is opened. */
	copy = malloc(size ? size : 1);
	FUZZ_ASSERT(copy != NULL, "out of memory");
	if (size)
		memcpy(copy, data, size);
	img = elfimg_from_memory(copy, size, "[fuzz]", err, sizeof(err));
	if (img) {
		exercise(img, data, size);
		elfimg_put(img);
	} else {
		fuzz_touch(err);
	}
	return 0;
}
