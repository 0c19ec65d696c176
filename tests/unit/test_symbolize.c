/* test_symbolize - unit tests for symbolize/.
 *
 * The maps parser against tests/fixtures/maps/, demangling, and a live
 * self-test: this process is its own target, so every answer (module,
 * bias, bytes, names, lines) can be checked against what the running code
 * knows about itself. Built with the Makefile's -O2 -g (-O1 under
 * sanitizers); the functions below are laid out so that
 * symtest_inner() is inlined into symtest_outer(). Expected frames at the
 * call in symtest_inner, innermost first: symtest_inner, symtest_outer.
 */
#include "space/space.h"
#include "symbolize/symbolize.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <link.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define NOINLINE __attribute__((noinline, noclone))
#define ALWAYS_INLINE inline __attribute__((always_inline))

/* ---- functions to find ----------------------------------------------- */

static volatile unsigned long sink;
static volatile uintptr_t captured_pc;
static volatile int captured_inner_line, captured_outer_line;

static NOINLINE void
symtest_capture(int inner_line, int outer_line)
{
	captured_pc = (uintptr_t)__builtin_return_address(0);
	captured_inner_line = inner_line;
	captured_outer_line = outer_line;
	sink++;
}

static const int inner_decl_line = __LINE__ + 2;
static ALWAYS_INLINE void
symtest_inner(int outer_line)
{
	sink++;
	symtest_capture(__LINE__, outer_line);
	sink++;			/* no tail call: the return lands here */
}

static const int outer_decl_line = __LINE__ + 2;
static NOINLINE void
symtest_outer(void)
{
	sink++;
	symtest_inner(__LINE__);
	sink++;
}

/* ---- helpers --------------------------------------------------------- */

static char *
read_file(const char *path, size_t *len)
{
	char *buf = NULL;
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = '\0';
			*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* tests/fixtures/maps/NAME, from the top of the tree (where make runs
 * tests) or from two levels above this binary (build/tests/). */
static char *
fixture(const char *name, size_t *len)
{
	char path[PATH_MAX + 64], exe[PATH_MAX];
	ssize_t n;
	char *buf, *slash;

	snprintf(path, sizeof(path), "tests/fixtures/maps/%s", name);
	buf = read_file(path, len);
	if (buf)
		return buf;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	snprintf(path, sizeof(path), "%s/../../tests/fixtures/maps/%s", exe,
		 name);
	return read_file(path, len);
}

static int
parse_fixture(const char *name, struct pmaps *m)
{
	char err[SYM_ERRLEN] = "";
	size_t len = 0;
	char *text = fixture(name, &len);
	int rc;

	if (!text) {
		printf("# fixture %s not found\n", name);
		return -ENOENT;
	}
	rc = pmaps_parse(text, len, m, err, sizeof(err));
	if (rc < 0)
		printf("# %s: %s\n", name, err);
	free(text);
	return rc;
}

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static bool
is_lower_hex(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* ---- pmaps ----------------------------------------------------------- */

static void
test_pie_fixture(void)
{
	struct pmaps m = { 0 };
	const struct pmap *p;

	CHECK_EQ_INT(parse_fixture("pie.maps", &m), 0, "pie.maps parses");
	CHECK_EQ_INT(m.n, 26, "pie.maps: 26 mappings");
	if (m.n != 26)
		goto out;

	p = &m.v[1];
	CHECK(p->start == 0x55846ddf4000 && p->end == 0x55846ddf9000,
	      "pie: text range");
	CHECK(p->offset == 0x2000, "pie: text offset");
	CHECK(p->prot == (PROT_READ | PROT_EXEC) && !p->shared,
	      "pie: text r-xp");
	CHECK(p->dev_major == 0xfe && p->dev_minor == 0, "pie: device fe:00");
	CHECK(p->inode == 247134, "pie: inode");
	CHECK(!p->deleted, "pie: not deleted");
	CHECK_EQ_STR(p->path, "/home/dev/profd/build/targets/spin",
		     "pie: path");

	CHECK_EQ_STR(m.v[5].path, "[heap]", "pie: [heap] kept");
	CHECK(m.v[5].prot == (PROT_READ | PROT_WRITE), "pie: heap rw-p");
	CHECK_EQ_STR(m.v[6].path, "", "pie: anonymous line has empty path");
	CHECK(m.v[6].inode == 0, "pie: anonymous inode 0");
	CHECK(m.v[14].shared && m.v[14].prot == PROT_READ,
	      "pie: r--s is shared");
	CHECK_EQ_STR(m.v[18].path, "[vdso]", "pie: [vdso]");
	CHECK_EQ_STR(m.v[17].path, "[vvar_vclock]", "pie: [vvar_vclock]");
	p = &m.v[25];
	CHECK_EQ_STR(p->path, "[vsyscall]", "pie: [vsyscall]");
	CHECK(p->start == 0xffffffffff600000ULL && p->prot == PROT_EXEC,
	      "pie: vsyscall --xp at the top of the address space");

	/* pmaps_find: hits, misses, edges */
	p = pmaps_find(&m, 0x55846ddf4000);
	CHECK(p == &m.v[1], "find: first byte of a mapping");
	p = pmaps_find(&m, 0x55846ddf8fff);
	CHECK(p == &m.v[1], "find: last byte of a mapping");
	p = pmaps_find(&m, 0x55846ddf9000);
	CHECK(p == &m.v[2], "find: end belongs to the next mapping");
	CHECK(pmaps_find(&m, 0x55846ddf1fff) == NULL, "find: below the first");
	CHECK(pmaps_find(&m, 0) == NULL, "find: address 0");
	CHECK(pmaps_find(&m, 0x55847da05000) == NULL, "find: in a gap");
	CHECK(pmaps_find(&m, 0xffffffffff600fffULL) == &m.v[25],
	      "find: last byte of the last mapping");
	CHECK(pmaps_find(&m, UINT64_MAX) == NULL, "find: above the last");
out:
	pmaps_free(&m);
	CHECK(m.v == NULL && m.n == 0, "pmaps_free leaves it empty");
	pmaps_free(&m);
	pmaps_free(NULL);
	CHECK(pmaps_find(&m, 0x1000) == NULL, "find in empty maps");
}

static void
test_deleted_fixture(void)
{
	struct pmaps m = { 0 };

	CHECK_EQ_INT(parse_fixture("deleted.maps", &m), 0,
		     "deleted.maps parses");
	CHECK_EQ_INT(m.n, 9, "deleted.maps: 9 mappings");
	if (m.n != 9)
		goto out;
	CHECK_EQ_STR(m.v[1].path, "/opt/app/bin/server",
		     "deleted: suffix stripped");
	CHECK(m.v[1].deleted && m.v[1].prot == (PROT_READ | PROT_EXEC),
	      "deleted: flag set");
	CHECK(m.v[1].dev_major == 0xfd && m.v[1].dev_minor == 1,
	      "deleted: device fd:01");
	CHECK_EQ_STR(m.v[4].path, "/dev/zero", "deleted: shared anon memory");
	CHECK(m.v[4].shared && m.v[4].deleted, "deleted: rw-s");
	CHECK_EQ_STR(m.v[5].path, "/memfd:jit-code", "deleted: memfd");
	CHECK_EQ_STR(m.v[6].path, "/tmp/report (deleted)",
		     "deleted: only one suffix is the kernel's");
	CHECK(m.v[6].deleted, "deleted: double suffix is deleted");
	CHECK_EQ_STR(m.v[7].path, "/tmp/(deleted)",
		     "deleted: a name ending in (deleted) without the space");
	CHECK(!m.v[7].deleted, "deleted: ... is not deleted");
	CHECK(!m.v[8].deleted, "deleted: [stack] is not");
out:
	pmaps_free(&m);
}

static void
test_spaces_fixture(void)
{
	struct pmaps m = { 0 };

	CHECK_EQ_INT(parse_fixture("spaces.maps", &m), 0,
		     "spaces.maps parses");
	CHECK_EQ_INT(m.n, 6, "spaces.maps: 6 mappings");
	if (m.n != 6)
		goto out;
	CHECK_EQ_STR(m.v[1].path, "/opt/My App/lib/libfoo bar.so",
		     "spaces: path with spaces");
	CHECK(m.v[1].offset == 0x22000 && m.v[1].inode == 2234567,
	      "spaces: fields before the path");
	CHECK_EQ_STR(m.v[3].path, "/srv/data/two  spaces and a trailing one ",
		     "spaces: inner and trailing spaces kept");
	CHECK_EQ_STR(m.v[4].path, "/opt/My App/lib/libold version.so",
		     "spaces: deleted path with spaces");
	CHECK(m.v[4].deleted, "spaces: deleted");
	CHECK_EQ_STR(m.v[5].path, "[anon:libc_malloc]",
		     "spaces: named anonymous memory");
out:
	pmaps_free(&m);
}

static void
test_vdso_fixture(void)
{
	struct pmaps m = { 0 };

	CHECK_EQ_INT(parse_fixture("vdso.maps", &m), 0, "vdso.maps parses");
	CHECK_EQ_INT(m.n, 11, "vdso.maps: 11 mappings");
	if (m.n != 11)
		goto out;
	CHECK(m.v[1].start == 0x401000 && m.v[1].offset == 0x1000,
	      "vdso: non-PIE text at 0x401000");
	CHECK(m.v[1].dev_major == 0x103 && m.v[1].dev_minor == 5,
	      "vdso: three-digit major 103:05");
	CHECK_EQ_STR(m.v[4].path, "", "vdso: anonymous line, no padding");
	CHECK_EQ_STR(m.v[6].path, "[anon:JIT code]", "vdso: named JIT memory");
	CHECK(m.v[6].prot == (PROT_READ | PROT_WRITE | PROT_EXEC),
	      "vdso: rwxp");
	CHECK_EQ_STR(m.v[7].path, "[stack]", "vdso: executable stack");
	CHECK_EQ_STR(m.v[8].path, "[vvar]", "vdso: [vvar]");
	CHECK_EQ_STR(m.v[9].path, "[vdso]", "vdso: [vdso]");
	CHECK(m.v[9].prot == (PROT_READ | PROT_EXEC), "vdso: r-xp");
	CHECK_EQ_STR(m.v[10].path, "[vsyscall]", "vdso: [vsyscall]");
out:
	pmaps_free(&m);
}

static void
expect_einval(const char *text, const char *what, const char *errpart)
{
	struct pmaps m = { (struct pmap *)1, 42 };
	char err[SYM_ERRLEN] = "";
	int rc;

	rc = pmaps_parse(text, strlen(text), &m, err, sizeof(err));
	CHECK_EQ_INT(rc, -EINVAL, what);
	CHECK(m.v == (struct pmap *)1 && m.n == 42,
	      "failed parse leaves *out alone");
	if (errpart)
		CHECK(strstr(err, errpart) != NULL, "error names the line");
}

static void
test_parse_errors(void)
{
	struct pmaps m = { 0 };
	char err[SYM_ERRLEN] = "";
	const char *ok = "1000-2000 r-xp 00000000 08:01 12 /bin/x\n";
	const char *unsorted = "3000-4000 r--p 0 0:0 0\n"
			       "1000-2000 r--p 0 0:0 0\n";

	expect_einval("garbage\n", "rejects garbage", "line 1");
	expect_einval("1000-2000 r-xp 00000000 08:01\n", "rejects no inode",
		      NULL);
	expect_einval("2000-1000 r-xp 00000000 08:01 1 /x\n",
		      "rejects end below start", NULL);
	expect_einval("1000-2000 rwxq 00000000 08:01 1 /x\n",
		      "rejects bad permissions", NULL);
	expect_einval("1000-2000 r-x 00000000 08:01 1 /x\n",
		      "rejects short permissions", NULL);
	expect_einval("1000-2000 r-xp 00000000 0801 1 /x\n",
		      "rejects bad device", NULL);
	expect_einval("1000-2000 r-xp 00000000 08:01 12x /x\n",
		      "rejects bad inode", NULL);
	expect_einval("10000000000000000-20000000000000000 r-xp 0 0:0 0\n",
		      "rejects 17 hex digits", NULL);
	expect_einval("1000-2000 r-xp 0x0 08:01 1 /x\n", "rejects 0x prefix",
		      NULL);
	expect_einval("1000-2000 r-xp 00000000 08:01 1 /x\n"
		      "3000-4000 r-xp 00000000 08:01 1 /x\n"
		      "5000-6000 r-xp zz 08:01 1 /x\n",
		      "rejects a bad third line", "line 3");

	CHECK_EQ_INT(pmaps_parse(ok, strlen(ok) - 1, &m, err, sizeof(err)), 0,
		     "accepts a last line without newline");
	CHECK(m.n == 1 && strcmp(m.v[0].path, "/bin/x") == 0,
	      "... and parses it");
	pmaps_free(&m);
	CHECK_EQ_INT(pmaps_parse("", 0, &m, err, sizeof(err)), 0,
		     "accepts empty text");
	CHECK(m.n == 0 && m.v == NULL, "... as no mappings");
	CHECK_EQ_INT(pmaps_parse(unsorted, strlen(unsorted), &m, err,
				 sizeof(err)),
		     0, "accepts unsorted lines");
	CHECK(m.n == 2 && m.v[0].start == 0x1000 &&
	      pmaps_find(&m, 0x3800) == &m.v[1],
	      "... and sorts them for pmaps_find");
	pmaps_free(&m);
}

static void
test_read_gone(void)
{
	char err[SYM_ERRLEN] = "";
	struct pmaps m = { 0 };
	struct space *sp;
	siginfo_t si;
	pid_t pid;

	/* A pid above pid_max never exists. */
	CHECK_EQ_INT(pmaps_read(0x7ffffff0, &m, err, sizeof(err)), -ESRCH,
		     "pmaps_read of a missing pid: -ESRCH");
	CHECK(strstr(err, "/maps") != NULL, "... with the file in err");

	/* A zombie's maps file exists but is empty. WNOWAIT waits until
	 * the child has exited and leaves it a zombie. */
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(0);
	CHECK(pid > 0 && waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0,
	      "child is a zombie");
	CHECK_EQ_INT(pmaps_read(pid, &m, err, sizeof(err)), -ESRCH,
		     "pmaps_read of a zombie: -ESRCH");
	waitpid(pid, NULL, 0);

	sp = space_new(0x7ffffff0);
	CHECK(sp != NULL, "space_new");
	CHECK_EQ_INT(space_refresh(sp, err, sizeof(err)), -ESRCH,
		     "space_refresh of a missing pid: -ESRCH");
	space_free(sp);
	space_free(NULL);
}

/* ---- demangling -------------------------------------------------------- */

static void
check_demangle(const char *in, const char *want, const char *what)
{
	char *got = sym_demangle(in);

	if (want)
		CHECK_EQ_STR(got, want, what);
	else
		CHECK(got == NULL, what);
	free(got);
}

static void
test_demangle(void)
{
	check_demangle("_ZN3geo6MatrixIdE8multiplyERKS1_",
		       "geo::Matrix<double>::multiply",
		       "C++ template method, without parameters (as perf)");
	check_demangle("_ZN3geo5driveIdEET_RNS_11AccumulatorIS1_EEi",
		       "geo::drive<double>",
		       "C++ function template: no return type either");
	check_demangle("_ZN4core3fmt5write17h0123456789abcdefE",
		       "core::fmt::write", "Rust legacy: hash dropped");
	check_demangle("_RNvNtCs1234_7mycrate4util3foo", "mycrate::util::foo",
		       "Rust v0");
	check_demangle("_ZN67_$LT$hot..kernel..Mixer$LT$u64$GT$$u20$as$u20$"
		       "hot..kernel..Step$GT$4step17h72e6595523a8aa1dE",
		       "<hot::kernel::Mixer<u64> as hot::kernel::Step>::step",
		       "Rust legacy trait method of a generic type");
	check_demangle("_RNvXNtCs81nRMqtTsfS_3hot6kernelINtB2_5MixeryE"
		       "NtB2_4Step4step",
		       "<hot::kernel::Mixer<u64> as hot::kernel::Step>::step",
		       "Rust v0 trait method: no crate disambiguator");
	check_demangle("_RINvNtCs81nRMqtTsfS_3hot6kernel5drive"
		       "INtB2_5MixeryEEB4_",
		       "hot::kernel::drive::<hot::kernel::Mixer<u64>>",
		       "Rust v0 generic function: its type parameter");
	check_demangle("main", NULL, "C name: NULL");
	check_demangle("_Zgarbage", NULL, "bad mangling: NULL");
	check_demangle(NULL, NULL, "NULL: NULL");
}

/* ---- live self-test ------------------------------------------------------ */

static int
first_phdr(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	*(uint64_t *)arg = info->dlpi_addr;
	return 1;		/* the main program comes first */
}

/* st_value of dynamic symbol name in an ELF image. */
static uint64_t
dynsym_value(const unsigned char *bytes, size_t len, const char *name)
{
	char *copy = malloc(len);
	uint64_t val = 0;
	Elf_Scn *scn = NULL;
	Elf *elf;

	if (!copy)
		return 0;
	memcpy(copy, bytes, len);
	elf_version(EV_CURRENT);
	elf = elf_memory(copy, len);
	while (elf && (scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		Elf_Data *d;
		size_t i, nsyms;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM)
			continue;
		d = elf_getdata(scn, NULL);
		nsyms = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
		for (i = 0; d && i < nsyms; i++) {
			GElf_Sym sym;
			const char *n;

			if (!gelf_getsym(d, (int)i, &sym))
				continue;
			n = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (n && strcmp(n, name) == 0)
				val = sym.st_value;
		}
	}
	elf_end(elf);
	free(copy);
	return val;
}

static const struct module *
find_vdso(const struct space *sp)
{
	const struct module *mods;
	size_t n, i;

	mods = space_modules(sp, &n);
	for (i = 0; i < n; i++)
		if (mods[i].vdso)
			return &mods[i];
	return NULL;
}

/* file names this source file as the build saw it: DW_AT_comp_dir (the
 * directory make ran in) joined to __FILE__, with nothing to clean. The
 * test runs where it was built, so that file exists. */
static void
check_this_file(const char *file, const char *what)
{
	size_t n = strlen(file), k = strlen(__FILE__);
	struct stat st;
	bool ok = file[0] == '/' && n > k && file[n - k - 1] == '/' &&
		  strcmp(file + n - k, __FILE__) == 0 &&
		  !strstr(file, "/./") && !strstr(file, "//") &&
		  stat(file, &st) == 0;

	CHECK(ok, what);
	if (!ok)
		printf("#   got \"%s\"\n", file);
}

static void
test_self_symbols(const struct module *m)
{
	uintptr_t outer = (uintptr_t)symtest_outer;
	const struct sym_frame *f;
	struct sym_info si, si2;
	int rc;

	symtest_outer();

	rc = symbolize(m->img, outer - m->bias, &si);
	CHECK_EQ_INT(rc, 0, "symbolize symtest_outer's entry");
	CHECK(si.n >= 1, "... gives frames");
	if (si.n >= 1) {
		f = &si.frames[si.n - 1];
		CHECK_EQ_STR(f->name, "symtest_outer",
			     "... named symtest_outer");
		CHECK_EQ_STR(f->system_name, "symtest_outer",
			     "... system name = name for C");
		CHECK_EQ_STR(base_name(f->file), "test_symbolize.c",
			     "... in this file");
		check_this_file(f->file, "... named absolute, as addr2line "
				"does");
		CHECK(f->line >= outer_decl_line &&
		      f->line <= outer_decl_line + 4,
		      "... at a line of its opening");
		CHECK_EQ_INT(f->start_line, outer_decl_line,
			     "... start_line is the declaration");
		CHECK(si.dwarf && si.lines, "... from DWARF with lines");
	}

	rc = symbolize(m->img, captured_pc - 1 - m->bias, &si);
	CHECK_EQ_INT(rc, 0, "symbolize the call inside the inlined function");
	CHECK_EQ_INT(si.n, 2, "... two frames: inlined + owner");
	CHECK(si.inlines && si.dwarf, "... inline expansion from DWARF");
	if (si.n == 2) {
		CHECK_EQ_STR(si.frames[0].name, "symtest_inner",
			     "... innermost is symtest_inner");
		CHECK_EQ_INT(si.frames[0].line, captured_inner_line,
			     "... at the line of its call");
		CHECK_EQ_INT(si.frames[0].start_line, inner_decl_line,
			     "... its start_line through the abstract origin");
		CHECK_EQ_STR(base_name(si.frames[0].file), "test_symbolize.c",
			     "... in this file");
		check_this_file(si.frames[0].file, "... named absolute (line "
				"table)");
		CHECK_EQ_STR(si.frames[1].name, "symtest_outer",
			     "... owner is symtest_outer");
		CHECK_EQ_INT(si.frames[1].line, captured_outer_line,
			     "... at the line where it inlined symtest_inner");
		CHECK_EQ_STR(base_name(si.frames[1].file), "test_symbolize.c",
			     "... call file");
		check_this_file(si.frames[1].file, "... named absolute "
				"(DW_AT_call_file)");
	}
	rc = symbolize(m->img, captured_pc - 1 - m->bias, &si2);
	CHECK(rc == 0 && si2.frames == si.frames && si2.n == si.n,
	      "second lookup comes from the cache");

	rc = symbolize(m->img, 0x10, &si);
	CHECK(rc == 0 && si.n == 0, "an address in no function: n = 0");
}

static void
test_libc(const struct space *sp, const struct module *m)
{
	uintptr_t gp = (uintptr_t)getpid;
	const struct module *lm = space_module(sp, gp);
	struct sym_info si;
	int rc;

	CHECK(lm && lm->img && lm != m && !lm->anon,
	      "getpid lies in another module with an image");
	if (!lm || !lm->img)
		return;
	CHECK(strstr(elfimg_path(lm->img), "libc") != NULL, "... libc");
	rc = symbolize(lm->img, gp - lm->bias, &si);
	CHECK(rc == 0 && si.n >= 1, "symbolize getpid");
	if (si.n >= 1) {
		CHECK(strstr(si.frames[si.n - 1].name, "getpid") != NULL,
		      "... named *getpid*");
		printf("# libc getpid -> %s (%s:%d, dwarf %d)\n",
		       si.frames[si.n - 1].name, si.frames[0].file,
		       si.frames[0].line, si.dwarf);
	}
}

static void
test_vdso(const struct space *sp)
{
	uint64_t base = getauxval(AT_SYSINFO_EHDR), val;
	const struct module *vm = find_vdso(sp);
	char err[SYM_ERRLEN] = "", *copy;
	const unsigned char *bytes;
	unsigned char buf[64];
	struct sym_info si;
	struct elfimg *img;
	size_t len;

	CHECK(vm != NULL, "the vDSO is a module");
	if (!vm)
		return;
	CHECK(vm->start == base, "... at AT_SYSINFO_EHDR");
	CHECK(vm->img != NULL && !vm->anon, "... with an image of its copy");
	CHECK(space_read(sp, base, buf, sizeof(buf)) == sizeof(buf) &&
	      memcmp(buf, (const void *)(uintptr_t)base, sizeof(buf)) == 0,
	      "space_read of the vDSO matches memory");
	if (!vm->img)
		return;
	bytes = elfimg_bytes(vm->img, &len);
	val = dynsym_value(bytes, len, "__vdso_clock_gettime");
	CHECK(val != 0, "vDSO exports __vdso_clock_gettime");
	CHECK(symbolize(vm->img, val, &si) == 0 && si.n >= 1 &&
	      strstr(si.frames[si.n - 1].name, "clock_gettime") != NULL,
	      "symbolize in the vDSO: *clock_gettime*");
	CHECK(vm->bias == base, "vDSO bias: linked at 0, so its address");

	/* Another copy of the same bytes is the same image (build-id). */
	copy = malloc(len);
	if (copy) {
		memcpy(copy, bytes, len);
		img = elfimg_from_memory(copy, len, "[vdso]", err, sizeof(err));
		CHECK(img == vm->img, "elfimg_from_memory: shared by build-id");
		CHECK(elfimg_get(img) == img, "elfimg_get returns the image");
		elfimg_put(img);
		elfimg_put(img);
	}
	copy = strdup("not an ELF image, just some text");
	errno = 0;
	img = elfimg_from_memory(copy, strlen(copy), NULL, err, sizeof(err));
	CHECK(img == NULL && errno == ENOEXEC,
	      "elfimg_from_memory of text: ENOEXEC (and the buffer freed)");
	elfimg_put(NULL);
	CHECK(elfimg_get(NULL) == NULL, "elfimg_get(NULL)");
}

static void
test_reads(const struct space *sp, const struct module *m)
{
	uintptr_t outer = (uintptr_t)symtest_outer;
	unsigned char buf[64];
	const struct pmap *below;
	uint64_t base = m->start - m->offset;
	int local = 0;

	CHECK(space_read(sp, base, buf, 4) == 4 &&
	      memcmp(buf, "\177ELF", 4) == 0,
	      "space_read of the main module's first bytes: \\177ELF");
	CHECK(space_read(sp, outer, buf, sizeof(buf)) == sizeof(buf) &&
	      memcmp(buf, (const void *)outer, sizeof(buf)) == 0,
	      "space_read of code matches memory");
	below = pmaps_find(space_maps(sp), m->start - 1);
	if (below && below->end == m->start && below->path[0] == '/') {
		CHECK(space_read(sp, m->start - 8, buf, 16) == 16 &&
		      memcmp(buf, (const void *)(uintptr_t)(m->start - 8),
			     16) == 0,
		      "space_read across two mappings of one file");
	}
	CHECK(space_read(sp, (uintptr_t)&local, buf, 8) == 0,
	      "space_read of the stack: 0 bytes");
}

static void
test_anon(struct space *sp)
{
	char err[SYM_ERRLEN] = "";
	uint64_t gen = space_generation(sp);
	const struct module *am;
	unsigned char buf[4];
	void *p;

	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED, "mmap anonymous r-x");
	if (p == MAP_FAILED)
		return;
	CHECK_EQ_INT(space_refresh(sp, err, sizeof(err)), 1,
		     "refresh sees a new executable mapping");
	CHECK(space_generation(sp) == gen + 1, "... generation + 1");
	am = space_module(sp, (uintptr_t)p);
	CHECK(am && am->anon && !am->img && !am->vdso,
	      "... an anonymous module without image");
	CHECK(space_read(sp, (uintptr_t)p, buf, sizeof(buf)) == 0,
	      "... not readable from images");
	munmap(p, 4096);
	CHECK_EQ_INT(space_refresh(sp, err, sizeof(err)), 1,
		     "refresh sees it go");
	CHECK(space_module(sp, (uintptr_t)p) == NULL, "... and it is gone");
}

/* A temporary copy of some bytes, mapped read-only; its path in *path. */
static void *
map_temp(const void *data, size_t len, bool unlink_it, char *path,
	 size_t pathlen)
{
	const char *dir = getenv("TMPDIR");
	void *p = MAP_FAILED;
	int fd;

	snprintf(path, pathlen, "%s/profd-symtest-XXXXXX", dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return MAP_FAILED;
	if (write(fd, data, len) == (ssize_t)len)
		p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (unlink_it || p == MAP_FAILED)
		unlink(path);
	return p;
}

static void
test_open_files(const struct module *m)
{
	char err[SYM_ERRLEN] = "", path[PATH_MAX], real[PATH_MAX];
	char mf[128], text[8192];
	const unsigned char *bytes;
	struct pmaps maps = { 0 };
	const struct pmap *pm;
	struct elfimg *img;
	size_t len;
	bool map_files;
	void *p;
	int fd;

	snprintf(mf, sizeof(mf), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)m->start, (unsigned long)m->end);
	fd = open(mf, O_RDONLY);
	map_files = fd >= 0;
	if (fd >= 0)
		close(fd);

	/* not ELF */
	memset(text, 'x', sizeof(text));
	p = map_temp(text, sizeof(text), false, path, sizeof(path));
	CHECK(p != MAP_FAILED, "map a text file");
	if (p != MAP_FAILED &&
	    pmaps_read(getpid(), &maps, err, sizeof(err)) == 0) {
		pm = pmaps_find(&maps, (uintptr_t)p);
		CHECK(pm && realpath(path, real) &&
		      strcmp(pm->path, real) == 0, "... is in maps");
		errno = 0;
		img = pm ? elfimg_open(getpid(), pm, err, sizeof(err)) : NULL;
		CHECK(img == NULL && errno == ENOEXEC,
		      "elfimg_open of a text file: ENOEXEC");
		CHECK(strstr(err, "not an ELF") != NULL, "... err says so");
		pmaps_free(&maps);
	}
	if (p != MAP_FAILED) {
		munmap(p, sizeof(text));
		unlink(path);
	}

	/* A deleted copy of this test binary: same build-id, so the same
	 * image, when map_files can reach the deleted inode. */
	bytes = elfimg_bytes(m->img, &len);
	p = map_temp(bytes, len, true, path, sizeof(path));
	CHECK(p != MAP_FAILED, "map a deleted copy of the test binary");
	if (p == MAP_FAILED)
		return;
	if (pmaps_read(getpid(), &maps, err, sizeof(err)) == 0) {
		pm = pmaps_find(&maps, (uintptr_t)p);
		CHECK(pm && pm->deleted, "... maps says deleted");
		img = pm ? elfimg_open(getpid(), pm, err, sizeof(err)) : NULL;
		if (map_files) {
			CHECK(img == m->img,
			      "... opened through map_files: shared by "
			      "build-id");
		} else {
			CHECK(img == NULL, "... unreachable without map_files");
			printf("# no map_files access: %s\n", err);
		}
		elfimg_put(img);
		pmaps_free(&maps);
	}
	munmap(p, len);
}

/* An executable mapping of a file that is not ELF (a JIT's memfd, a
 * blob): listed as a module without image, and the refresh succeeds. */
static void
test_exec_text(struct space *sp)
{
	char err[SYM_ERRLEN] = "", path[PATH_MAX], text[4096];
	const struct module *tm;
	void *p;
	int fd, rc;

	memset(text, 0xcc, sizeof(text));
	p = map_temp(text, sizeof(text), false, path, sizeof(path));
	if (p == MAP_FAILED)
		return;
	munmap(p, sizeof(text));
	fd = open(path, O_RDONLY);
	p = fd < 0 ? MAP_FAILED :
		     mmap(NULL, sizeof(text), PROT_READ | PROT_EXEC,
			  MAP_PRIVATE, fd, 0);
	if (fd >= 0)
		close(fd);
	unlink(path);
	if (p == MAP_FAILED) {
		printf("# cannot map %s executable: skipped\n", path);
		return;
	}
	rc = space_refresh(sp, err, sizeof(err));
	CHECK_EQ_INT(rc, 1, "refresh with an executable non-ELF file");
	tm = space_module(sp, (uintptr_t)p);
	CHECK(tm && !tm->img && !tm->anon && tm->path[0] == '/',
	      "... listed as a file module without image");
	munmap(p, sizeof(text));
	CHECK_EQ_INT(space_refresh(sp, err, sizeof(err)), 1,
		     "... and gone again");
}

/* Without CAP_SYS_ADMIN/CAP_CHECKPOINT_RESTORE, map_files cannot be
 * opened and elfimg_open() must take /proc/PID/root/PATH, checked
 * against the device and inode in maps. Runs in a child that drops those
 * capabilities. Exit status: 0 ok, 77 skipped, else the failed step. */
static int
root_fallback_child(const char *want_build_id)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	char err[SYM_ERRLEN] = "", mf[128];
	struct pmaps maps = { 0 };
	const struct pmap *pm;
	struct pmap wrong;
	struct elfimg *img;
	int fd;

	if (syscall(SYS_capget, &h, d) == 0) {
		d[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &=
			~CAP_TO_MASK(CAP_SYS_ADMIN);
#ifdef CAP_CHECKPOINT_RESTORE
		d[CAP_TO_INDEX(CAP_CHECKPOINT_RESTORE)].effective &=
			~CAP_TO_MASK(CAP_CHECKPOINT_RESTORE);
#endif
		syscall(SYS_capset, &h, d);
	}
	if (pmaps_read(getpid(), &maps, err, sizeof(err)) < 0)
		return 1;
	pm = pmaps_find(&maps, (uintptr_t)getpid);
	if (!pm)
		return 2;
	snprintf(mf, sizeof(mf), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)pm->start, (unsigned long)pm->end);
	fd = open(mf, O_RDONLY);
	if (fd >= 0) {
		close(fd);
		return 77;
	}
	img = elfimg_open(getpid(), pm, err, sizeof(err));
	if (!img || strcmp(elfimg_build_id(img), want_build_id) != 0)
		return 3;
	elfimg_put(img);
	wrong = *pm;
	wrong.inode++;
	errno = 0;
	img = elfimg_open(getpid(), &wrong, err, sizeof(err));
	if (img || errno != ESTALE)
		return 4;
	pmaps_free(&maps);
	return 0;
}

static void
test_root_fallback(const struct module *libc)
{
	char want[160];
	int st = 0;
	pid_t pid;

	if (!libc || !libc->img)
		return;
	snprintf(want, sizeof(want), "%s", elfimg_build_id(libc->img));
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(root_fallback_child(want));
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st),
	      "root fallback child ran");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
		printf("# map_files still open without capabilities: "
		       "skipped\n");
		return;
	}
	CHECK_EQ_INT(WEXITSTATUS(st), 0,
		     "without map_files: /proc/PID/root/PATH, checked by "
		     "inode");
}

static void
test_live(void)
{
	char err[SYM_ERRLEN] = "", exe[PATH_MAX], real[PATH_MAX];
	const struct module *m, *m2, *lm, *lm2;
	struct space *sp, *sp2;
	uint64_t main_bias = 0, b = 0;
	uintptr_t outer = (uintptr_t)symtest_outer;
	const char *bid;
	int rc;

	sp = space_new(getpid());
	CHECK(sp != NULL, "space_new(self)");
	if (!sp)
		return;
	CHECK(space_pid(sp) == getpid(), "space_pid");
	rc = space_refresh(sp, err, sizeof(err));
	CHECK_EQ_INT(rc, 1, "first refresh: changed");
	if (rc < 0)
		printf("# %s\n", err);
	CHECK_EQ_INT(space_refresh(sp, err, sizeof(err)), 0,
		     "second refresh: unchanged");
	CHECK_EQ_INT(space_generation(sp), 1, "generation 1");
	CHECK(space_maps(sp)->n > 5, "space_maps");

	m = space_module(sp, outer);
	CHECK(m && m->img && !m->anon && !m->vdso,
	      "symtest_outer is in a file module with an image");
	if (!m || !m->img)
		goto out;
	bid = elfimg_build_id(m->img);
	CHECK(strlen(bid) == 40 && is_lower_hex(bid),
	      "build-id: 40 lowercase hex digits");
	CHECK(space_main_module(sp) == m, "it is the main module");
	CHECK(realpath("/proc/self/exe", exe) && realpath(m->path, real) &&
	      strcmp(exe, real) == 0,
	      "its path is /proc/self/exe's");
	CHECK_EQ_STR(elfimg_path(m->img), m->path, "elfimg_path: as in maps");

	dl_iterate_phdr(first_phdr, &main_bias);
	CHECK(m->bias == main_bias, "module bias = the loader's load bias");
	CHECK(elfimg_bias(m->img, m->start, m->offset, &b) == 0 &&
	      b == m->bias, "elfimg_bias agrees");
	CHECK(elfimg_bias(m->img, m->start, 1ULL << 40, &b) == -ENOENT,
	      "elfimg_bias: offset beyond the file: -ENOENT");
	{
		uint64_t off = 0, v = 0, sz = 0;

		CHECK(elfimg_vaddr_to_offset(m->img, outer - m->bias, &off) ==
			      0 &&
		      off == outer - m->start + m->offset,
		      "elfimg_vaddr_to_offset of code");
		CHECK(elfimg_vaddr_to_offset(m->img, 1ULL << 60, &off) ==
			      -ENOENT,
		      "elfimg_vaddr_to_offset outside: -ENOENT");
		CHECK(elfimg_eh_frame_hdr(m->img, &v, &sz) == 0 && sz > 0 &&
		      space_read(sp, v + m->bias, &b, 1) == 1,
		      "eh_frame_hdr found and readable");
	}

	test_self_symbols(m);
	test_reads(sp, m);
	lm = space_module(sp, (uintptr_t)getpid);
	test_libc(sp, m);
	test_vdso(sp);

	sp2 = space_new(getpid());
	CHECK(sp2 && space_refresh(sp2, err, sizeof(err)) == 1,
	      "second space for the same pid");
	if (sp2) {
		m2 = space_module(sp2, outer);
		lm2 = space_module(sp2, (uintptr_t)getpid);
		CHECK(m2 && m2->img == m->img, "main image shared");
		CHECK(lm && lm2 && lm2->img == lm->img, "libc image shared");
		CHECK(find_vdso(sp2) && find_vdso(sp) &&
		      find_vdso(sp2)->img == find_vdso(sp)->img,
		      "vDSO image shared");
		space_free(sp2);
	}

	test_open_files(m);
	test_root_fallback(lm);
	test_anon(sp);
	test_exec_text(sp);
out:
	space_free(sp);
}

int
main(void)
{
	test_pie_fixture();
	test_deleted_fixture();
	test_spaces_fixture();
	test_vdso_fixture();
	test_parse_errors();
	test_read_gone();
	test_demangle();
	test_live();
	symbolize_shutdown();
	return check_report();
}
